"""`paperbot search`: the `/papers search` engine from the terminal, a thin layer over
`recommender.search.search`."""
import json

from click.testing import CliRunner

from bot.text import render_search_text
from feeds.records import Paper
from paperbot.cli import main
from recommender.matrix_cache import refresh
from recommender.search import SearchHit, search
from store import Store
from tests.conftest import fixture_path


def _lab_db(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PAPERBOT_CONFIG", raising=False)
    db = tmp_path / "lab.db"
    seed = fixture_path("seeds", "papers_database.sample.json")
    assert CliRunner().invoke(main, ["import", str(seed), "--db", str(db)]).exit_code == 0
    return db


def test_search_prints_the_same_hits_as_the_slack_search(tmp_path, monkeypatch):
    db = _lab_db(tmp_path, monkeypatch)
    res = CliRunner().invoke(main, ["search", "reward", "model", "--db", str(db), "--limit", "4"])
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith("4 results for “reward model”")
    store = Store(db)
    model, matrix = refresh(store, tmp_path / "lab-model.joblib")
    expected = search(store, model, "reward model", 4, matrix=matrix)
    titles = [line[4:] for line in res.stdout.splitlines() if line[:3].strip().rstrip(".").isdigit()]
    assert titles == [h.paper.title for h in expected]
    assert all("reward" in (h.paper.title + h.paper.abstract).lower() for h in expected)
    assert res.stdout.count("score ") == 4 and "(BM25 " in res.stdout


def test_search_json_lines_with_filters(tmp_path, monkeypatch):
    db = _lab_db(tmp_path, monkeypatch)
    res = CliRunner().invoke(main, ["search", "--db", str(db), "--json", "preference", "since:2025-01-01"])
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert rows and all(r["published"] >= "2025-01-01" for r in rows)
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)
    assert all(r["url"].startswith("https://arxiv.org/abs/") for r in rows)


def test_first_search_says_it_is_fitting_the_model_and_later_ones_do_not(tmp_path, monkeypatch):
    db = _lab_db(tmp_path, monkeypatch)
    first = CliRunner().invoke(main, ["search", "--db", str(db), "reward"])
    second = CliRunner().invoke(main, ["search", "--db", str(db), "reward"])
    assert first.exit_code == second.exit_code == 0
    assert "fitting the TF-IDF model on 49 papers" in first.stderr
    assert "fitting" not in second.stderr and second.stdout == first.stdout


def test_search_bad_query_or_missing_database_is_one_clear_line(tmp_path, monkeypatch):
    db = _lab_db(tmp_path, monkeypatch)
    bad = CliRunner().invoke(main, ["search", "--db", str(db), "since:yesterday"])
    assert bad.exit_code == 2 and "since: expects a date YYYY-MM-DD" in bad.output
    missing = CliRunner().invoke(main, ["search", "--db", str(tmp_path / "nope.db"), "rlhf"])
    assert missing.exit_code == 1 and "no database at" in missing.output
    assert not (tmp_path / "nope.db").exists()  # a search leaves nothing behind
    assert "Traceback" not in bad.output + missing.output


def test_db_override_keeps_its_own_model_next_to_it(tmp_path, monkeypatch):
    db = _lab_db(tmp_path, monkeypatch)
    other = tmp_path / "other" / "b.db"
    other.parent.mkdir()
    Store(other).upsert_papers([Paper(arxiv_id="2501.00001", title="Graph neural networks for molecules",
                                      abstract="Message passing on molecular graphs.", sources=["curated"])])
    for d in (db, other):
        assert CliRunner().invoke(main, ["search", "--db", str(d), "graph"]).exit_code == 0
    assert (tmp_path / "lab-model.joblib").exists() and (tmp_path / "other" / "b-model.joblib").exists()
    assert not (tmp_path / "paperbot-model.joblib").exists()  # no model shared between stores


def test_render_search_text_shows_metadata_and_the_empty_case():
    hit = SearchHit(Paper(arxiv_id="2502.00002", title="A paper", abstract="", authors=[],
                          published="2025-02-03", categories=["cs.CL"], primary_category="cs.CL",
                          hf_upvotes=12), 0.5, 0.75, 0.25)
    text = render_search_text("  a   paper ", [hit])
    assert text.splitlines()[0] == "1 result for “a paper”"
    assert "    2025-02-03 · cs.CL · HF 12 upvotes · https://arxiv.org/abs/2502.00002" in text
    assert "score 0.50 (BM25 0.75, TF-IDF 0.25)" in text
    assert "No stored paper matches" in render_search_text("zzz", [])


def test_source_corpus_finds_the_papers_of_import_corpus(tmp_path, monkeypatch):
    """`import-corpus` stores papers with source "corpus"; `source:corpus` was refused as an
    unknown source, so they could not be searched apart from the curated ones."""
    db = _lab_db(tmp_path, monkeypatch)
    lines = tmp_path / "c.jsonl"
    lines.write_text(json.dumps({"arxiv_id": "2401.09999", "title": "Reward shaping for code agents",
                                 "abstract": "A reward model trained on unit tests.", "categories": ["cs.LG"],
                                 "published": "2024-01-15", "authors": ["A. Person"]}) + "\n")
    assert CliRunner().invoke(main, ["import-corpus", str(lines), "--db", str(db), "--no-progress"]).exit_code == 0
    res = CliRunner().invoke(main, ["search", "--db", str(db), "--json", "source:corpus", "reward"])
    assert res.exit_code == 0, res.output
    assert [json.loads(line)["arxiv_id"] for line in res.stdout.splitlines()] == ["2401.09999"]
    bad = CliRunner().invoke(main, ["search", "--db", str(db), "source:twitter", "reward"])
    assert bad.exit_code == 2 and "curated, corpus" in bad.output


def test_a_query_that_is_only_an_arxiv_id_or_link_shows_that_paper_first(tmp_path, monkeypatch):
    """`paperbot search` is documented as `/papers search` from the terminal, and `/papers search
    2301.13816` shows that stored paper first, then the papers most like it. The CLI searched the
    id's digits as words instead and printed "0 results" for a paper it held."""
    db = _lab_db(tmp_path, monkeypatch)
    for query in ("2301.13816", "https://arxiv.org/abs/2301.13816v4", "arXiv:2301.13816"):
        res = CliRunner().invoke(main, ["search", "--db", str(db), "--json", "--limit", "3", query])
        assert res.exit_code == 0, res.output
        rows = [json.loads(line) for line in res.stdout.splitlines()]
        assert [r["arxiv_id"] for r in rows][:1] == ["2301.13816"], query
        assert len(rows) == 3 and len({r["arxiv_id"] for r in rows}) == 3
    text = CliRunner().invoke(main, ["search", "--db", str(db), "2301.13816"])
    assert text.stdout.splitlines()[2].endswith("Execution-based Code Generation using Deep Reinforcement Learning")



def test_a_query_that_is_the_id_of_a_paper_not_stored_says_so_and_what_fetches_it(tmp_path, monkeypatch):
    """It printed the generic "No stored paper matches these words; try other words", which
    sends the user rewording an id."""
    db = _lab_db(tmp_path, monkeypatch)
    hint = ("2501.99999 is not stored: `/papers like 2501.99999` in Slack fetches it from arXiv (and records a 👍), "
            "as does `paperbot import` of a curated file listing it; search for it again after that.")
    unknown = CliRunner().invoke(main, ["search", "--db", str(db), "arXiv:2501.99999v3"])  # well-formed, not stored
    assert unknown.exit_code == 0, unknown.output
    assert unknown.stdout == f"0 results for “arXiv:2501.99999v3”\n{hint}\n"
    as_json = CliRunner().invoke(main, ["search", "--db", str(db), "--json", "2501.99999"])
    assert as_json.exit_code == 0 and as_json.stdout == "" and as_json.stderr == hint + "\n"


def test_search_of_words_no_stored_paper_holds_says_so(tmp_path, monkeypatch):
    """The no-match line suggested "or drop a filter" to a query without one; it does so only
    when the query has an author:/cat:/since:/source: filter."""
    db = _lab_db(tmp_path, monkeypatch)
    res = CliRunner().invoke(main, ["search", "--db", str(db), "zzqxv", "wubbalubba"])
    assert res.exit_code == 0, res.output
    assert res.stdout == "0 results for “zzqxv wubbalubba”\nNo stored paper matches these words; try other words.\n"
    filtered = CliRunner().invoke(main, ["search", "--db", str(db), "zzqxv", "author:Nobody"])
    assert filtered.exit_code == 0, filtered.output
    assert filtered.stdout.endswith("\nNo stored paper matches these words; try other words, or drop a filter.\n")
    only = CliRunner().invoke(main, ["search", "--db", str(db), "cat:zz.QQ", "since:2001-01-01"])
    assert only.exit_code == 0, only.output
    assert only.stdout.endswith("\nNo stored paper passes these filters; try other values, or drop a filter.\n")


def test_search_of_an_empty_database_says_how_to_fill_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "empty.db"
    Store(db).close()
    res = CliRunner().invoke(main, ["search", "--db", str(db), "reward"])
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert res.output == (f"Error: no papers in {db}: run `paperbot run --once` or `paperbot import-corpus FILE` "
                          "first\n")


def test_search_when_the_stored_papers_give_tfidf_no_term_ranks_by_bm25(tmp_path, monkeypatch):
    """Papers made only of stop words cannot fit a TF-IDF model (scikit-learn: "empty
    vocabulary"); `paperbot search` died with that ValueError's traceback."""
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "stop.db"
    Store(db).upsert_papers([Paper("2501.00001", "The", "", sources=["curated"]),
                             Paper("2501.00002", "Of the", "And then.", sources=["curated"])])
    found = CliRunner().invoke(main, ["search", "--db", str(db), "--json", "the"])
    assert found.exit_code == 0, found.output
    rows = [json.loads(line) for line in found.stdout.splitlines()]
    assert [r["arxiv_id"] for r in rows] == ["2501.00001", "2501.00002"] and {r["cosine"] for r in rows} == {0.0}
    assert "ranked by BM25 alone" in found.stderr
    none = CliRunner().invoke(main, ["search", "--db", str(db), "reward"])
    assert none.exit_code == 0 and none.stdout.endswith("No stored paper matches these words; try other words.\n")
