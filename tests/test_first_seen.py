"""Which papers are "new" for a digest: papers loaded in bulk (corpus, curated files) are not
announcements and never flood a digest; a feed announcing one of them makes it new."""
import json
import re
from datetime import datetime, timedelta, timezone

from click.testing import CliRunner

from feeds.arxiv_rss import parse_feed
from feeds.corpus import CorpusReader
from paperbot import digests
from paperbot.cli import main
from tests.conftest import fixture_path, write_config

ATOM = fixture_path("arxiv_rss", "atom_cs.AI_2025-08-20.xml")
CORPUS = fixture_path("corpus_sample.jsonl")  # 6 real papers announced 2025-03 … 2025-05


def _window(store):
    return [p.arxiv_id for p in store.papers_first_seen_since(digests.candidate_window_start(7))]


def test_bulk_imported_corpus_papers_are_first_seen_on_their_announcement_day(store):
    papers = list(CorpusReader(CORPUS))
    store.bulk_upsert_papers(papers)
    assert _window(store) == []
    for p in papers:
        row = next(store.db.query("select first_seen from papers where arxiv_id = ?", [p.arxiv_id]))
        assert row["first_seen"] == f"{p.published}T00:00:00+00:00"


def test_a_corpus_paper_the_feed_then_announces_becomes_a_candidate(store, tmp_path):
    feed = parse_feed(ATOM.read_bytes(), keep=None).papers
    announced = feed[0]  # a paper the corpus already holds (e.g. its line written before today's feed)
    line = {"arxiv_id": announced.arxiv_id, "title": announced.title, "abstract": announced.abstract,
            "categories": announced.categories, "published": "2025-08-20", "authors": announced.authors}
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(CORPUS.read_text() + json.dumps(line) + "\n")
    store.bulk_upsert_papers(CorpusReader(corpus))
    assert _window(store) == []
    before = datetime.now(timezone.utc) - timedelta(seconds=1)
    counts = store.bulk_upsert_papers(feed)  # what paperbot.poll does with today's feed
    assert counts["updated"] == 1
    assert sorted(_window(store)) == sorted(p.arxiv_id for p in feed)  # the corpus ones stay out
    stamp = next(store.db.query("select first_seen from papers where arxiv_id = ?", [announced.arxiv_id]))
    assert datetime.fromisoformat(stamp["first_seen"]) >= before.replace(microsecond=0)
    # a second sighting, or the corpus re-imported, leaves it where the first sighting put it
    store.upsert_papers(feed)
    store.bulk_upsert_papers(CorpusReader(corpus))
    again = next(store.db.query("select first_seen from papers where arxiv_id = ?", [announced.arxiv_id]))
    assert again == stamp


def test_a_feed_paper_keeps_its_first_seen_when_the_corpus_holds_it_too(store, tmp_path):
    feed = parse_feed(ATOM.read_bytes(), keep=None).papers
    store.upsert_papers(feed)
    first = _window(store)
    p = feed[1]
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(json.dumps({"arxiv_id": p.arxiv_id, "title": p.title, "abstract": p.abstract,
                                  "published": "2025-08-20"}) + "\n")
    store.bulk_upsert_papers(CorpusReader(corpus))
    assert _window(store) == first and p.arxiv_id in first


def test_a_recent_corpus_paper_is_still_new_and_an_undated_one_is_not(store, tmp_path):
    today = datetime.now(timezone.utc).date()
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(json.dumps({"arxiv_id": "2601.00001", "title": "Announced yesterday",
                                  "published": (today - timedelta(days=1)).isoformat()}) + "\n"
                      + json.dumps({"arxiv_id": "2601.00002", "title": "No date"}) + "\n")
    store.bulk_upsert_papers(CorpusReader(corpus))
    assert _window(store) == ["2601.00001"]


def test_import_corpus_then_run_once_recommends_only_what_the_feed_announced(tmp_path):
    cfg = write_config(tmp_path, rss=[("cs.AI", ["cs.AI"], ATOM.as_uri())], curated=[fixture_path('seeds', 'papers_database.sample.json')],
                       channels=[dict(id="C0RLCODE", name="#rl-code", collections=["rlhf_code"], max_papers=10)])
    db = str(tmp_path / "bot.db")
    imp = CliRunner().invoke(main, ["import-corpus", "--db", db, "--no-progress", str(CORPUS),
                                    str(fixture_path("corpus_author_wei_li.jsonl"))])
    assert imp.exit_code == 0, imp.output
    res = CliRunner().invoke(main, ["run", "--once", "--config", str(cfg), "--db", db])
    assert res.exit_code == 0, res.output
    n_feed = len(parse_feed(ATOM.read_bytes(), keep=["new", "cross"]).papers)
    m = re.search(r"recommended of (\d+) new papers", res.output)
    assert m and int(m.group(1)) == n_feed, res.output  # not the 26 imported papers too


def test_curated_papers_are_not_announcements_either(store):
    from paperbot.curated_import import import_curated
    import_curated(store, str(fixture_path("seeds", "papers_database.sample.json")))
    assert store.count_papers() == 49 and _window(store) == []
