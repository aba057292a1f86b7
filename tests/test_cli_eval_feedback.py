"""`paperbot eval` and `paperbot feedback`: the issue's public commands, end to end."""
import json

from click.testing import CliRunner

from feeds.curated import load_curated
from paperbot.cli import main
from recommender.profiles import profile_for_user
from store import Store
from tests.conftest import fixture_path

TINY = fixture_path("eval_tiny")


def test_paperbot_eval_writes_rankings_and_prints_metrics(tmp_path):
    out = tmp_path / "rankings.jsonl"
    tasks = json.loads((TINY / "tasks.json").read_text())
    res = CliRunner().invoke(main, ["eval", "--tasks", str(TINY / "tasks.json"), "--corpus", str(TINY / "corpus.jsonl"),
                                    "--rankings", str(out), "--feedback-sim"])
    assert res.exit_code == 0, res.output
    assert "MEAN (production" in res.output and "MAP" in res.output and "nDCG@20" in res.output
    assert "FEEDBACK-SIM hits with feedback" in res.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["name"] for line in lines] == [t["name"] for t in tasks]
    for line, task in zip(lines, tasks):
        assert sorted(line["ranking"]) == sorted(task["candidates"])  # every candidate, once
        assert isinstance(line["shown"], dict) and all(len(v) <= 5 for v in line["shown"].values())


def test_paperbot_eval_reference_method_and_bad_input(tmp_path):
    out = tmp_path / "r.jsonl"
    res = CliRunner().invoke(main, ["eval", "--tasks", str(TINY / "tasks.json"), "--corpus", str(TINY / "corpus.jsonl"),
                                    "--rankings", str(out), "--method", "tfidf-centroid"])
    assert res.exit_code == 0 and "MEAN (tfidf-centroid" in res.output
    missing = CliRunner().invoke(main, ["eval", "--tasks", str(tmp_path / "nope.json"), "--corpus",
                                        str(TINY / "corpus.jsonl"), "--rankings", str(out)])
    assert missing.exit_code != 0 and "Traceback" not in missing.output


def _store_with_curated_papers(tmp_path):
    """``(db path, papers)``: a database holding the sample seed's rlhf_code papers (closed)."""
    db = tmp_path / "fb.db"
    store = Store(db)
    papers = load_curated(fixture_path("seeds", "papers_database.sample.json")).collections["rlhf_code"]
    store.upsert_papers(papers)
    store.close()
    return db, papers


def test_paperbot_feedback_goes_through_the_single_path(tmp_path):
    db, papers = _store_with_curated_papers(tmp_path)
    runner = CliRunner()
    up = runner.invoke(main, ["feedback", "--user", "U1", "--paper", f"https://arxiv.org/abs/{papers[0].arxiv_id}v2",
                              "--up", "--db", str(db)])
    down = runner.invoke(main, ["feedback", "--user", "U1", "--paper", papers[1].arxiv_id, "--down", "--db", str(db)])
    assert up.exit_code == 0 and f"recorded 👍 from U1 on {papers[0].arxiv_id}" in up.output
    assert down.exit_code == 0
    store = Store(db)
    prof = profile_for_user(store, "U1")
    assert [p.arxiv_id for p in prof.likes] == [papers[0].arxiv_id]
    assert [p.arxiv_id for p in prof.negatives] == [papers[1].arxiv_id]
    assert store.feedback_for(user_id="U1") == {papers[0].arxiv_id: 1, papers[1].arxiv_id: -1}


def test_paperbot_feedback_rejects_garbage(tmp_path):
    runner = CliRunner()
    res = runner.invoke(main, ["feedback", "--user", "U1", "--paper", "not-a-paper", "--up", "--db", str(tmp_path / "x.db")])
    assert res.exit_code == 2 and "not an arXiv id" in res.output
    res = runner.invoke(main, ["feedback", "--user", "U1", "--paper", "2401.00001", "--db", str(tmp_path / "x.db")])
    assert res.exit_code == 2 and "--up or --down" in res.output


def test_paperbot_feedback_with_channel_reaches_the_channel_profile(tmp_path):
    """`paperbot feedback` stored no channel, so a CLI 👍/👎 could never shape a channel's profile."""
    from paperbot.config import ChannelConfig
    from recommender.profiles import profile_for_channel

    db, papers = _store_with_curated_papers(tmp_path)
    runner = CliRunner()
    up = runner.invoke(main, ["feedback", "--user", "U1", "--paper", papers[0].arxiv_id, "--up",
                              "--channel", "C123", "--db", str(db)])
    down = runner.invoke(main, ["feedback", "--user", "U1", "--paper", papers[1].arxiv_id, "--down",
                                "--channel", "C123", "--db", str(db)])
    other = runner.invoke(main, ["feedback", "--user", "U1", "--paper", papers[2].arxiv_id, "--up", "--db", str(db)])
    assert up.exit_code == down.exit_code == other.exit_code == 0, up.output
    assert "for channel C123" in up.output
    store = Store(db)
    prof = profile_for_channel(store, ChannelConfig(id="C123", collections=[], keywords=[]))
    assert [p.arxiv_id for p in prof.likes] == [papers[0].arxiv_id]
    assert [p.arxiv_id for p in prof.negatives] == [papers[1].arxiv_id]
    assert profile_for_user(store, "U1").likes[-1].arxiv_id == papers[2].arxiv_id  # the user's own too
    store.close()
    empty = runner.invoke(main, ["feedback", "--user", "U1", "--paper", papers[0].arxiv_id, "--up",
                                 "--channel", " ", "--db", str(db)])
    assert empty.exit_code == 2 and "--channel" in empty.output


def test_paperbot_eval_refuses_a_rankings_path_it_cannot_write_before_ranking(tmp_path, monkeypatch):
    """--rankings was opened only after every task had been ranked (a minute and 1.6 GB on the
    dev corpus), so a path that could not be written threw that work away and ended with a bare
    "[Errno 2] No such file or directory" that did not say it was the output. It is now checked
    first, and the error names the option."""
    import recommender.evaluation as E

    def no_corpus(*a, **k):
        raise AssertionError("the corpus was loaded before --rankings was checked")

    monkeypatch.setattr(E, "get_corpus", no_corpus)
    (tmp_path / "afile").write_text("x")
    for out in (tmp_path / "afile" / "r.jsonl", tmp_path):  # under a file; a folder
        res = CliRunner().invoke(main, ["eval", "--tasks", str(TINY / "tasks.json"), "--corpus",
                                        str(TINY / "corpus.jsonl"), "--rankings", str(out)])
        assert res.exit_code == 1, res.output
        assert res.output.startswith(f"Error: --rankings {out}: cannot write it ("), res.output
    assert (tmp_path / "afile").read_text() == "x"


def test_paperbot_eval_missing_input_file_is_named_without_python_errno(tmp_path):
    """A missing --tasks or --corpus file printed Python's repr-style
    "Error: [Errno 2] No such file or directory: 'nope.json'"; every other command says
    "FILE: cause"."""
    for tasks, corpus in ((tmp_path / "nope.json", TINY / "corpus.jsonl"), (TINY / "tasks.json", tmp_path / "no.jsonl")):
        res = CliRunner().invoke(main, ["eval", "--tasks", str(tasks), "--corpus", str(corpus),
                                        "--rankings", str(tmp_path / "r.jsonl")])
        missing = tasks if not tasks.exists() else corpus
        assert res.exit_code == 1
        assert res.output == f"Error: {missing}: No such file or directory\n", res.output


def test_paperbot_feedback_user_id_is_stored_without_surrounding_spaces(tmp_path):
    """--user was checked with strip() but stored as given, so `--user " U1"` (or an id pasted
    with a trailing newline) recorded a vote for a user " U1" whose profile Slack's U1 never
    reads; --channel was already stripped."""
    db, papers = _store_with_curated_papers(tmp_path)
    res = CliRunner().invoke(main, ["feedback", "--user", " U1\n", "--paper", papers[0].arxiv_id, "--up",
                                    "--db", str(db)])
    assert res.exit_code == 0 and f"recorded 👍 from U1 on {papers[0].arxiv_id}" in res.output
    store = Store(db)
    assert [p.arxiv_id for p in profile_for_user(store, "U1").likes] == [papers[0].arxiv_id]
    store.close()


def test_paperbot_feedback_records_an_id_written_in_capitals_under_arxivs_spelling(tmp_path):
    """`paperbot feedback --paper HEP-TH/9901001` was refused as "not an arXiv id", and
    `--paper math.GT/0309136` recorded the vote under an id the store never holds (arXiv answers
    old-style papers without their subject class: math/0309136, as `/papers like` reads it)."""
    db = tmp_path / "fb.db"
    runner = CliRunner()
    for typed in ("ARXIV:HEP-TH/9901001", "MATH.GT/0309136", "ARXIV:2301.00001V2"):
        res = runner.invoke(main, ["feedback", "--user", "U1", "--paper", typed, "--up", "--db", str(db)])
        assert res.exit_code == 0, res.output
    assert "recorded 👍 from U1 on hep-th/9901001" in runner.invoke(
        main, ["feedback", "--user", "U1", "--paper", "hep-th/9901001v2", "--up", "--db", str(db)]).output
    store = Store(db)
    assert store.feedback_for(user_id="U1") == {"hep-th/9901001": 1, "math/0309136": 1, "2301.00001": 1}
    store.close()
    bad = runner.invoke(main, ["feedback", "--user", "U1", "--paper", "HEP-TH/9913001", "--up", "--db", str(db)])
    assert bad.exit_code == 2 and "not an arXiv id" in bad.output and "Traceback" not in bad.output
