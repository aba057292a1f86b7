"""`paperbot import` of awesome-list style files: {section: [bare arXiv ids or links]}, also
mixed with seed-format paper objects. Ids are resolved from the store, then from the arXiv API
(a fake on 127.0.0.1 answering with real recorded exchanges, `tests.arxiv_api_fake`)."""
import json
import re

import pytest
from click.testing import CliRunner

from feeds.arxiv_api import ArxivAPIClient
from feeds.corpus import CorpusReader
from feeds.curated import collection_name, load_curated, parse_curated
from feeds.http import Fetcher
from feeds.records import Paper
from paperbot import digests
from paperbot.cli import main
from paperbot.curated_import import import_curated, sync_configured_curated
from store import Store
from tests.arxiv_api_fake import ArxivAPIFake
from tests.conftest import closed_loopback_port, fixture_path, write_config

CORPUS = fixture_path("corpus_sample.jsonl")  # 6 real papers, 2505.11480 … 2503.19186
CORPUS_IDS = [json.loads(line)["arxiv_id"] for line in CORPUS.read_text().splitlines()]
SEED = json.loads(fixture_path("seeds", "papers_database.sample.json").read_text())["rlhf_code"]
UNKNOWN = "0808.05394"  # arXiv's real answer for it: 0 results
KNOWN = {"1707.08567": "Proceedings of Workshop AEW10: Concepts in Information Theory and Communications",
         "1605.08386": "Heat-bath random walks with Markov bases"}


class FakeClock:
    """The pacer's clock: its sleep advances it and records the wait (no real waiting)."""

    def __init__(self):
        self.now, self.sleeps = 1000.0, []

    def __call__(self):
        return self.now

    def sleep(self, s):
        self.sleeps.append(round(s, 3))
        self.now += s


def _client(api, clock=None, **fetcher):
    clock = clock or FakeClock()
    return ArxivAPIClient(Fetcher(**fetcher), url=api.url if isinstance(api, ArxivAPIFake) else api,
                          clock=clock, sleep=clock.sleep)


def _write(path, data):
    path.write_text(json.dumps(data))
    return str(path)


def _window(store):
    return [p.arxiv_id for p in store.papers_first_seen_since(digests.candidate_window_start(7))]


# ---- the file format and collection names ---------------------------------------------------------
def test_section_paths_of_a_real_awesome_list_become_slash_command_friendly_collection_names():
    parsed = parse_curated(fixture_path("curated_lists", "awesome-RLHF.json").read_bytes())
    assert parsed.errors == [] and sum(len(v) for v in parsed.ids.values()) == 111
    assert [collection_name(s) for s in parsed.ids][:2] == ["awesome-rlhf-rl-with-human-feedback/papers/2025",
                                                           "awesome-rlhf-rl-with-human-feedback/papers/2024"]
    assert collection_name("Awesome RLHF (RL with Human Feedback) > Papers > 2020 and before") == \
        "awesome-rlhf-rl-with-human-feedback/papers/2020-and-before"
    for section in parsed.ids:  # one word /papers subscribe reads back unchanged, on every import
        name = collection_name(section)
        assert name == " ".join(name.split()) and " " not in name and "," not in name
        assert collection_name(section) == name
    assert collection_name("Open-source > Codebase 🚀 > 🚀") == "open-source/codebase"
    assert collection_name("rlhf_code") == "rlhf_code" and collection_name("RLHF Code") == "RLHF Code"


def test_bare_ids_links_and_objects_mix_with_bad_entries_reported_by_position():
    parsed = parse_curated(json.dumps({"A > B": [SEED[0], "arXiv:2505.11480v2", "https://arxiv.org/abs/1707.08567",
                                                 "not an id", 7, None, SEED[0]["arxiv_id"]]}))
    first = SEED[0]["arxiv_id"].split("v")[0]
    assert parsed.ids == {"A > B": [first, "2505.11480", "1707.08567", first]}
    assert [p.arxiv_id for p in parsed.collections["A > B"]] == [first]
    assert parsed.bare_ids() == ["2505.11480", "1707.08567"]  # the object's paper needs no look-up
    assert [(s, pos) for s, pos, _ in parsed.errors] == [("A > B", 3), ("A > B", 4), ("A > B", 5)]
    assert "not an arXiv id: 'not an id'" in parsed.errors[0][2]
    assert parsed.errors[1][2] == "entry is a number, not a paper object or an arXiv id"


# ---- resolution: store first, then the arXiv API ------------------------------------------------------
def test_ids_already_stored_are_taken_from_the_store_without_asking_arxiv(store, tmp_path):
    store.bulk_upsert_papers(CorpusReader(CORPUS))
    path = _write(tmp_path / "list.json", {"Lists > Mine": [f"https://arxiv.org/abs/{CORPUS_IDS[2]}v1",
                                                            CORPUS_IDS[0], f"arXiv:{CORPUS_IDS[4]}"]})
    with ArxivAPIFake() as api:
        rep = import_curated(store, path, arxiv=_client(api))
    assert api.queries == []
    assert store.collection_ids("lists/mine") == [CORPUS_IDS[2], CORPUS_IDS[0], CORPUS_IDS[4]]
    assert (rep.from_store, rep.fetched, rep.unresolved, rep.papers) == (3, 0, {}, 3)
    assert store.get_paper(CORPUS_IDS[0]).sources == ["corpus"]  # the stored row is left as it was


def test_ids_not_stored_are_fetched_in_batches_paced_3_s_apart_and_unknown_ones_reported(store, tmp_path):
    store.bulk_upsert_papers(CorpusReader(CORPUS))
    path = _write(tmp_path / "list.json", {"Lists > Mine": [UNKNOWN, CORPUS_IDS[1], "1707.08567", "1605.08386v1"]})
    clock = FakeClock()
    with ArxivAPIFake() as api:
        rep = import_curated(store, path, arxiv=_client(api, clock), batch=2)
    # the stored paper is not asked for; the three others go 2 + 1, the second call 3 s after the first
    assert api.id_lists == [[UNKNOWN, "1707.08567"], ["1605.08386"]]
    assert clock.sleeps == [3.0]
    assert rep.unresolved == {UNKNOWN: "not on arXiv"} and (rep.from_store, rep.fetched) == (1, 2)
    assert store.collection_ids("lists/mine") == [CORPUS_IDS[1], "1707.08567", "1605.08386"]
    for aid, title in KNOWN.items():
        p = store.get_paper(aid)
        assert p.title == title and p.abstract and p.authors and p.sources == ["curated"]
    assert store.get_paper(UNKNOWN) is None


def test_a_429_is_retried_after_the_pacing_interval_and_the_paper_lands(store, tmp_path):
    path = _write(tmp_path / "list.json", {"Papers": ["1605.08386"]})
    clock = FakeClock()
    with ArxivAPIFake(fail_first=[429]) as api:
        rep = import_curated(store, path, arxiv=_client(api, clock))
    assert api.id_lists == [["1605.08386"], ["1605.08386"]]
    assert clock.sleeps == [3.0]  # Retry-After: 0, but arXiv's 3 s between calls holds for retries too
    assert rep.unresolved == {} and store.collection_ids("Papers") == ["1605.08386"]


def test_an_id_arxiv_refuses_is_found_by_splitting_the_batch_and_the_others_land(store, tmp_path):
    path = _write(tmp_path / "list.json", {"Papers": ["1707.08567", "2501.1234"]})
    with ArxivAPIFake(refuse={"2501.1234"}) as api:  # arXiv's real HTTP 400 error feed for that id
        rep = import_curated(store, path, arxiv=_client(api))
    assert api.id_lists == [["1707.08567", "2501.1234"], ["1707.08567"], ["2501.1234"]]
    assert rep.unresolved == {"2501.1234": "arXiv refused it: incorrect id format for abc"}
    assert store.collection_ids("Papers") == ["1707.08567"]


def test_a_network_failure_is_reported_per_id_stops_the_look_ups_and_the_rest_still_lands(store, tmp_path):
    store.bulk_upsert_papers(CorpusReader(CORPUS))
    path = _write(tmp_path / "list.json", {"A": ["2601.00001", CORPUS_IDS[0], "2601.00002", "2601.00003"],
                                           "B": [SEED[1]]})
    url = f"http://127.0.0.1:{closed_loopback_port()}/api/query"  # nothing listens: connection refused
    rep = import_curated(store, path, arxiv=_client(url, attempts=1), batch=2)
    assert list(rep.unresolved) == ["2601.00001", "2601.00002", "2601.00003"]
    assert rep.unresolved["2601.00001"].startswith("arXiv API failed: gave up after 1 attempts: connection error")
    assert rep.unresolved["2601.00003"].startswith("not looked up after the arXiv API failed (")
    assert store.collection_ids("A") == [CORPUS_IDS[0]] and store.collections()["B"] == 1


# ---- imported papers are background, never "new" in a digest ------------------------------------------
def test_papers_fetched_for_a_list_are_not_new_even_once_they_leave_the_collection(store, tmp_path):
    path = _write(tmp_path / "list.json", {"Papers": [UNKNOWN, "1707.08567"]})
    with ArxivAPIFake() as api:
        import_curated(store, path, arxiv=_client(api))
        # the group drops it from its list: it is no longer curated, so only first_seen keeps it
        # out of the digests' candidates
        rep = import_curated(store, _write(tmp_path / "list.json", {"Papers": ["1605.08386"]}),
                             arxiv=_client(api), replace=True)
    assert rep.removed == {"Papers": 1} and store.collection_ids("Papers") == ["1605.08386"]
    assert _window(store) == []
    row = next(store.db.query("select first_seen from papers where arxiv_id = '1707.08567'"))
    assert row["first_seen"] == "2017-07-27T00:00:00+00:00"  # its own v1 day, as for the corpus


def test_run_once_after_importing_a_list_counts_only_the_feed_as_new(tmp_path, monkeypatch):
    atom = fixture_path("arxiv_rss", "atom_cs.AI_2025-08-20.xml")
    cfg = write_config(tmp_path, rss=[("cs.AI", ["cs.AI"], atom.as_uri())],
                       channels=[dict(id="C0LIST", collections=["lists/mine"])])
    with ArxivAPIFake() as api:
        monkeypatch.setenv("ARXIV_API_URL", api.url)
        first = CliRunner().invoke(main, ["import", _write(tmp_path / "l.json", {"Lists > Mine": [UNKNOWN, "1707.08567"]}),
                                          "--config", str(cfg)])
        again = CliRunner().invoke(main, ["import", _write(tmp_path / "l.json", {"Lists > Mine": ["1605.08386"]}),
                                          "--config", str(cfg), "--replace"])
    assert first.exit_code == 0 and again.exit_code == 0, first.output + again.output
    assert "collection lists/mine: 1 paper added, 1 removed (1 in total)" in again.output
    res = CliRunner().invoke(main, ["run", "--once", "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    from feeds.arxiv_rss import parse_feed
    n_feed = len(parse_feed(atom.read_bytes(), keep=["new", "cross"]).papers)
    m = re.search(r"recommended of (\d+) new papers", res.output)
    assert m and int(m.group(1)) == n_feed, res.output  # 1707.08567, fetched today, is not one of them


# ---- the command ----------------------------------------------------------------------------------
@pytest.fixture
def api(monkeypatch):
    with ArxivAPIFake() as fake:
        monkeypatch.setenv("ARXIV_API_URL", fake.url)
        yield fake


def test_cli_reports_the_unknown_id_at_the_end_and_imports_the_rest(tmp_path, api):
    path = _write(tmp_path / "list.json", {"Lists > Mine": [UNKNOWN, "https://arxiv.org/abs/1707.08567v1"]})
    res = CliRunner().invoke(main, ["import", path, "--db", str(tmp_path / "x.db")])
    assert res.exit_code == 0, res.output
    assert api.id_lists == [[UNKNOWN, "1707.08567"]]
    lines = res.output.splitlines()
    assert "collection lists/mine: 1 paper added (1 in total)" in lines
    assert "arXiv ids: 0 found in the database, 1 fetched from the arXiv API, 1 unresolved" in lines
    assert lines[-1] == f"unresolved: {UNKNOWN} (not on arXiv)"
    # `paperbot status` lists the collections one a line, as `/papers subscribe` takes the names
    # (it printed the Python dict: {'lists/mine': 1})
    status = CliRunner().invoke(main, ["status", "--db", str(tmp_path / "x.db")])
    assert status.exit_code == 0, status.output
    assert status.output.splitlines()[-2:] == ["papers: 1 · collections: 1", "    lists/mine: 1 paper"]


def test_cli_fails_only_when_nothing_at_all_could_be_imported(tmp_path, api):
    res = CliRunner().invoke(main, ["import", _write(tmp_path / "list.json", {"Papers": [UNKNOWN]}),
                                    "--db", str(tmp_path / "x.db")])
    assert res.exit_code == 1
    assert f"unresolved: {UNKNOWN} (not on arXiv)" in res.output
    assert "Error: nothing imported from list.json: its 1 arXiv id could not be resolved" in res.output


def test_cli_no_lookup_resolves_from_the_database_only(tmp_path, api):
    db = str(tmp_path / "x.db")
    assert CliRunner().invoke(main, ["import-corpus", "--db", db, "--no-progress", str(CORPUS)]).exit_code == 0
    path = _write(tmp_path / "list.json", {"Lists > Mine": [CORPUS_IDS[3], "1707.08567", CORPUS_IDS[0]]})
    res = CliRunner().invoke(main, ["import", path, "--db", db, "--no-lookup"])
    assert res.exit_code == 0, res.output
    assert api.queries == []
    assert "unresolved: 1707.08567 (not in the database; not looked up on arXiv)" in res.output
    assert "run the import without --no-lookup to fetch them from the arXiv API" in res.output
    assert Store(db).collection_ids("lists/mine") == [CORPUS_IDS[3], CORPUS_IDS[0]]
    nothing = CliRunner().invoke(main, ["import", _write(tmp_path / "l2.json", {"P": ["1707.08567"]}),
                                        "--db", db, "--no-lookup"])
    assert nothing.exit_code == 1 and "nothing imported from l2.json" in nothing.output and api.queries == []


def test_cli_collection_puts_every_section_into_one_collection(tmp_path, api):
    db = str(tmp_path / "x.db")
    path = _write(tmp_path / "list.json", {"Papers > 2017": ["1707.08567"], "Papers > 2016": [SEED[2]],
                                           "rlhf_code": [SEED[0], SEED[2]]})
    res = CliRunner().invoke(main, ["import", path, "--db", db, "--collection", "  lab  reading "])
    assert res.exit_code == 0, res.output
    s = Store(db)
    ids = [e["arxiv_id"].split("v")[0] for e in (SEED[2], SEED[0])]
    assert s.collections() == {"lab reading": 3}  # no per-section collection either
    assert s.collection_ids("lab reading") == ["1707.08567", *ids]
    assert "collection lab reading: 3 papers added (3 in total)" in res.output
    empty = CliRunner().invoke(main, ["import", path, "--db", db, "--collection", " "])
    assert empty.exit_code == 2 and "--collection: expected a collection name" in empty.output


def test_cli_mixed_file_of_objects_ids_and_bad_entries_with_replace(tmp_path, api):
    db = str(tmp_path / "x.db")
    assert CliRunner().invoke(main, ["import-corpus", "--db", db, "--no-progress", str(CORPUS)]).exit_code == 0
    seed_ids = [e["arxiv_id"].split("v")[0] for e in SEED]
    # an object, ids in three spellings (one of a paper another section spells out), an unknown id
    data = {"Lab > RL code": [SEED[0], UNKNOWN, "1707.08567", CORPUS_IDS[0], SEED[1]["url"]],
            "rlhf_code": SEED[:3]}
    res = CliRunner().invoke(main, ["import", _write(tmp_path / "m.json", data), "--db", db])
    assert res.exit_code == 0, res.output
    assert api.id_lists == [[UNKNOWN, "1707.08567"]]  # the corpus paper and the spelled-out one are not asked for
    s = Store(db)
    assert s.collection_ids("lab/rl-code") == [seed_ids[0], "1707.08567", CORPUS_IDS[0], seed_ids[1]]
    assert s.collection_ids("rlhf_code") == seed_ids[:3]
    assert "arXiv ids: 1 found in the database, 1 fetched from the arXiv API, 1 unresolved" in res.output
    # --replace: the file drops two papers and gains a bad entry in rlhf_code: lab/rl-code is
    # synced (the unresolved id is in no collection), rlhf_code only added to
    data = {"Lab > RL code": ["1707.08567", SEED[0], UNKNOWN], "rlhf_code": [SEED[0], "2501.x"]}
    again = CliRunner().invoke(main, ["import", _write(tmp_path / "m.json", data), "--db", db, "--replace"])
    assert again.exit_code == 0, again.output
    assert s.collection_ids("lab/rl-code") == [seed_ids[0], "1707.08567"]
    assert s.collection_ids("rlhf_code") == seed_ids[:3]
    assert "collection lab/rl-code: 0 papers added, 2 removed (2 in total)" in again.output
    assert "skipped rlhf_code[1]: not an arXiv id: '2501.x'" in again.output
    assert "collection rlhf_code: not replaced, only added to" in again.output
    assert f"unresolved: {UNKNOWN} (not on arXiv)" in again.output


@pytest.mark.parametrize("body,message", [
    ('{"Papers > 2024": ["2404.18922", "2410.08', "curated database is not valid JSON"),  # cut short
    ('["2404.18922", "2410.08067"]', "must be a JSON object {category: [papers or arXiv ids]}, not a list"),
    ('{"Papers": ["see the README", 2404.18922, {"title": "no id"}]}', "no paper could be read from g.json (3 entries skipped)"),
])
def test_cli_garbled_file_is_one_clear_error_and_exit_1(tmp_path, api, body, message):
    bad = tmp_path / "g.json"
    bad.write_text(body)
    db = tmp_path / "x.db"
    res = CliRunner().invoke(main, ["import", str(bad), "--db", str(db)])
    assert res.exit_code == 1, res.output
    assert message in res.output and "Traceback" not in res.output
    assert api.queries == [] and Store(db).count_papers() == 0


# ---- the config's [curated] files: ids from the store only --------------------------------------------
def test_a_configured_id_list_is_synced_from_the_store_without_arxiv_look_ups(store, tmp_path, api, caplog):
    store.bulk_upsert_papers(CorpusReader(CORPUS))
    path = _write(tmp_path / "list.json", {"Lists > Mine": [CORPUS_IDS[0], "1707.08567", CORPUS_IDS[1]]})
    assert sync_configured_curated(store, [path]) == ([], {})
    assert api.queries == []
    assert store.collection_ids("lists/mine") == [CORPUS_IDS[0], CORPUS_IDS[1]]
    assert "1 arXiv ids are not in the store and left out (1707.08567)" in caplog.text
    _write(tmp_path / "list.json", {"Lists > Mine": [CORPUS_IDS[1]]})
    assert sync_configured_curated(store, [path]) == ([], {"lists/mine": 1})
    _write(tmp_path / "list.json", {"Lists > Mine": ["1707.08567"]})
    problems, _ = sync_configured_curated(store, [path])
    assert problems and "1 arXiv ids not in the store (`paperbot import FILE` fetches them from arXiv)" in problems[0][1]


# ---- messy real lists ---------------------------------------------------------------------------------
def test_old_style_ids_with_a_subject_class_find_the_paper_the_arxiv_api_stored_without_it(store, tmp_path):
    # the arXiv API answers an old-style paper as archive/YYMMNNN (`cs/0503050v1` for a cs.SE
    # paper): a list that writes math.GT/0309136 means that paper, not a different one
    store.upsert_papers([Paper(arxiv_id="math/0309136", title="A stored old paper", sources=["arxiv_api"])])
    parsed = parse_curated(json.dumps({"Old": ["https://arxiv.org/abs/math.GT/0309136v2", "hep-th/9901001",
                                               "cs/0112017v2", {"arxiv_id": "math.GT/0309136v1", "title": "T"}]}))
    assert parsed.ids == {"Old": ["math/0309136", "hep-th/9901001", "cs/0112017", "math/0309136"]}
    path = _write(tmp_path / "list.json", {"Old": ["arXiv:math.GT/0309136"]})
    rep = import_curated(store, path)
    assert (rep.from_store, rep.unresolved) == (1, {}) and store.collection_ids("Old") == ["math/0309136"]


def test_ids_written_in_capitals_are_read_in_arxivs_spelling(tmp_path, monkeypatch):
    # some reference lists write old-style archives in capitals (HEP-TH/9901001); arXiv, its API
    # and the store spell them in lower case: `paperbot import` refused them as "not an arXiv id"
    db = str(tmp_path / "x.db")
    path = _write(tmp_path / "list.json", {"Old": ["ARXIV:ASTRO-PH/0601001", "arXiv:ASTRO-PH/0601001v1",
                                                   "ARXIV:1707.08567", "MATH.GT/0309136", "ARXIV:NOT-AN/ID"]})
    with ArxivAPIFake(compose=True) as api:
        monkeypatch.setenv("ARXIV_API_URL", api.url)
        res = CliRunner().invoke(main, ["import", path, "--db", db])
    assert res.exit_code == 0, res.output
    assert api.id_lists == [["astro-ph/0601001", "1707.08567", "math/0309136"]]
    assert "skipped Old[4]: not an arXiv id: 'ARXIV:NOT-AN/ID'" in res.output  # garbage is still refused
    store = Store(db)
    assert store.collection_ids("Old") == ["astro-ph/0601001", "1707.08567"]
    store.close()


def test_an_id_missing_from_an_incomplete_answer_is_not_reported_as_not_on_arxiv(store, tmp_path):
    # arXiv now and then answers with an empty page: totalResults counts the paper it found
    # (1 of 0808.05394, 1707.08567), but no <entry> came
    def empty_page(body):
        return re.sub(rb"<entry>.*</entry>", b"", body, flags=re.S)

    path = _write(tmp_path / "list.json", {"Papers": [UNKNOWN, "1707.08567"]})
    with ArxivAPIFake(rewrite=empty_page) as api:
        rep = import_curated(store, path, arxiv=_client(api))
    why = "not in arXiv's answer, which was incomplete; run the import again to look it up"
    assert rep.unresolved == {UNKNOWN: why, "1707.08567": why}
    assert api.id_lists == [[UNKNOWN, "1707.08567"]] * 2  # asked once more, not again and again
    with ArxivAPIFake() as api:  # the next run finds it
        rep = import_curated(store, path, arxiv=_client(api))
    assert rep.unresolved == {UNKNOWN: "not on arXiv"} and store.collection_ids("Papers") == ["1707.08567"]


def test_the_ids_missing_from_an_incomplete_answer_are_asked_for_once_more_3_s_later(store, tmp_path):
    # the import reported them ("run the import again") after one empty page, though arXiv
    # most often answers the same request in full a moment later
    calls = []

    def first_page_empty(body):
        calls.append(1)
        return re.sub(rb"<entry>.*</entry>", b"", body, flags=re.DOTALL) if len(calls) == 1 else body

    path = _write(tmp_path / "list.json", {"Papers": [UNKNOWN, "1707.08567", "1605.08386"]})
    clock, progress = FakeClock(), []
    with ArxivAPIFake(rewrite=first_page_empty, compose=True) as api:
        rep = import_curated(store, path, arxiv=_client(api, clock),
                             on_progress=lambda *a: progress.append(a))
    assert api.id_lists == [[UNKNOWN, "1707.08567", "1605.08386"]] * 2
    assert clock.sleeps == [3.0]  # the retry keeps the client's pacing
    assert rep.unresolved == {UNKNOWN: "not on arXiv"} and rep.fetched == 2
    assert store.collection_ids("Papers") == ["1707.08567", "1605.08386"]
    assert progress == [(3, 3, 2)]  # the ids count as looked up once the retry settled them


def test_only_the_ids_missing_from_an_incomplete_answer_are_asked_for_again(store, tmp_path):
    calls = []

    def first_cut_short(body):  # the first answer ends inside its second entry, which is skipped
        calls.append(1)
        return body[:body.rindex(b"<entry>") + 200] if len(calls) == 1 else body

    path = _write(tmp_path / "list.json", {"Papers": ["1707.08567", "1605.08386"]})
    with ArxivAPIFake(rewrite=first_cut_short, compose=True) as api:
        rep = import_curated(store, path, arxiv=_client(api))
    assert api.id_lists == [["1707.08567", "1605.08386"], ["1605.08386"]]
    assert rep.fetched == 2 and rep.unresolved == {}
    assert store.collection_ids("Papers") == ["1707.08567", "1605.08386"]


def test_a_list_of_1000_ids_goes_in_batches_of_100_3_s_apart_with_progress_after_each(store, tmp_path):
    store.bulk_upsert_papers(CorpusReader(CORPUS))
    unknown = [f"2601.{i:05d}" for i in range(1, 993)]
    ids = CORPUS_IDS + unknown[:500] + ["1707.08567"] + unknown[500:] + ["https://arxiv.org/pdf/1605.08386v1.pdf"]
    assert len(ids) == 1000
    path = _write(tmp_path / "list.json", {"Big > List": ids})
    clock, progress, lookups = FakeClock(), [], []
    with ArxivAPIFake(compose=True) as api:
        rep = import_curated(store, path, arxiv=_client(api, clock), on_lookup=lookups.append,
                             on_progress=lambda *a: progress.append(a))
    assert lookups == [994]  # the 6 stored papers are not asked for
    assert [len(x) for x in api.id_lists] == [100] * 9 + [94]
    assert sum(api.id_lists, []) == unknown[:500] + ["1707.08567"] + unknown[500:] + ["1605.08386"]
    assert clock.sleeps == [3.0] * 9
    assert progress == [(100 * k, 994, 0) for k in range(1, 6)] + [(100 * k, 994, 1) for k in range(6, 10)] + [(994, 994, 2)]
    assert (rep.from_store, rep.fetched, len(rep.unresolved)) == (6, 2, 992)
    assert set(rep.unresolved.values()) == {"not on arXiv"}
    assert store.collection_ids("big/list") == CORPUS_IDS + ["1707.08567", "1605.08386"]


def test_cli_prints_a_progress_line_after_each_arxiv_request_unless_no_progress(tmp_path, monkeypatch):
    import feeds.arxiv_api

    clock = FakeClock()
    real = feeds.arxiv_api.ArxivAPIClient
    monkeypatch.setattr(feeds.arxiv_api, "ArxivAPIClient",  # the command's client, on a fake clock
                        lambda fetcher, url: real(fetcher, url=url, clock=clock, sleep=clock.sleep))
    ids = ["1707.08567"] + [f"2601.{i:05d}" for i in range(1, 149)] + ["1605.08386"]
    path = _write(tmp_path / "list.json", {"Papers": ids})
    with ArxivAPIFake(compose=True) as api:
        monkeypatch.setenv("ARXIV_API_URL", api.url)
        res = CliRunner().invoke(main, ["import", path, "--db", str(tmp_path / "x.db")])
        quiet = CliRunner().invoke(main, ["import", path, "--db", str(tmp_path / "y.db"), "--no-progress"])
    assert res.exit_code == 0 and quiet.exit_code == 0, res.output + quiet.output
    assert clock.sleeps == [3.0, 3.0]  # each run: 2 requests 3 s apart
    lines = res.output.splitlines()
    start = lines.index("looking up 150 arXiv ids on the arXiv API (2 requests, 3 s apart)…")
    assert lines[start + 1:start + 3] == ["  100/150 arXiv ids looked up, 1 found", "  150/150 arXiv ids looked up, 2 found"]
    assert "looking up 150 arXiv ids" in quiet.output and "arXiv ids looked up" not in quiet.output
    assert "arXiv ids: 0 found in the database, 2 fetched from the arXiv API, 148 unresolved" in quiet.output


def test_a_section_written_twice_keeps_the_entries_of_both_and_replace_removes_none_of_them(store, tmp_path):
    # JSON allows a key twice (a hand-kept list that gained a second "Papers > 2017" block);
    # json.loads keeps only the last, which lost the first block and with --replace removed
    # its papers from the collection
    store.bulk_upsert_papers(CorpusReader(CORPUS))
    path = tmp_path / "list.json"
    path.write_text(f'{{"Papers > 2025": ["{CORPUS_IDS[0]}", "{CORPUS_IDS[1]}"], "Other": ["{CORPUS_IDS[2]}"], '
                    f'"Papers > 2025": ["{CORPUS_IDS[3]}", "see above", "{CORPUS_IDS[0]}"]}}')
    parsed = load_curated(path)
    assert parsed.ids == {"Papers > 2025": [CORPUS_IDS[0], CORPUS_IDS[1], CORPUS_IDS[3], CORPUS_IDS[0]],
                          "Other": [CORPUS_IDS[2]]}
    assert [(s, pos) for s, pos, _ in parsed.errors] == [("Papers > 2025", 3)]  # 2nd of the second list
    store.add_to_collection("papers/2025", [CORPUS_IDS[1]])
    rep = import_curated(store, str(path), replace=True)
    assert store.collection_ids("papers/2025") == [CORPUS_IDS[1], CORPUS_IDS[0], CORPUS_IDS[3]]
    assert rep.not_synced == ["papers/2025"]  # "see above" is a bad entry: only added to
    path.write_text(path.read_text().replace('"see above", ', ""))
    rep = import_curated(store, str(path), replace=True)
    assert rep.removed == {"papers/2025": 0, "Other": 0}


def test_interrupting_the_look_ups_keeps_what_was_fetched_and_a_second_run_finishes_the_job(tmp_path, monkeypatch):
    import feeds.arxiv_api

    class Interrupted(FakeClock):
        def sleep(self, s):  # Ctrl-C while waiting the 3 s before the second request
            raise KeyboardInterrupt

    clocks = [Interrupted(), FakeClock()]
    real = feeds.arxiv_api.ArxivAPIClient
    monkeypatch.setattr(feeds.arxiv_api, "ArxivAPIClient",
                        lambda fetcher, url: real(fetcher, url=url, clock=clocks[0], sleep=clocks[0].sleep))
    db = str(tmp_path / "x.db")
    ids = ["1707.08567"] + [f"2601.{i:05d}" for i in range(1, 149)] + ["1605.08386"]
    with ArxivAPIFake(compose=True) as api:
        monkeypatch.setenv("ARXIV_API_URL", api.url)
        assert CliRunner().invoke(main, ["import", _write(tmp_path / "l.json", {"A": ["1605.08386"]}),
                                         "--db", db, "--no-progress"]).exit_code == 0
        path = _write(tmp_path / "l.json", {"A": ids})
        res = CliRunner().invoke(main, ["import", path, "--db", db, "--replace"])
        assert res.exit_code == 1 and "Traceback" not in res.output
        assert ("interrupted: the 1 paper fetched from the arXiv API so far is stored; run the same command "
                "again to finish (stored ids are not looked up again)") in res.output
        s = Store(db)
        assert s.get_paper("1707.08567").sources == ["curated"]  # the first answer's paper is stored
        assert s.collection_ids("A") == ["1605.08386"]  # and the collection is as it was, not half synced
        clocks.pop(0)
        again = CliRunner().invoke(main, ["import", path, "--db", db, "--replace", "--no-progress"])
    assert again.exit_code == 0, again.output
    assert api.id_lists[-1] == ids[101:149]  # only what is still missing is asked for
    assert s.collection_ids("A") == ["1605.08386", "1707.08567"]
