"""CLI input checks: bad option values are usage errors (exit 2) and a run that did nothing does
not report success."""
from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner

from paperbot.cli import main
from store import Store
from tests.conftest import fixture_path


def _invoke(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.mark.parametrize("batch", ["0", "-5"])
def test_import_corpus_batch_below_one_is_a_usage_error(tmp_path, batch):
    db = tmp_path / "pb.db"
    res = _invoke("import-corpus", str(fixture_path("corpus_sample.jsonl")), "--batch", batch,
                  "--no-progress", "--db", str(db))
    assert res.exit_code == 2 and "Invalid value for '--batch'" in res.output, res.output
    assert isinstance(res.exception, SystemExit)  # not a ValueError traceback
    assert not db.exists()


def test_import_corpus_of_a_file_with_no_paper_fails(tmp_path):
    f = tmp_path / "notes.jsonl"
    f.write_text("\n".join(["{broken"] + [json.dumps({"title": f"no id {i}"}) for i in range(13)]) + "\n")
    db = tmp_path / "pb.db"
    res = _invoke("import-corpus", str(f), "--no-progress", "--db", str(db))
    assert res.exit_code == 1, res.output
    assert "Error: no paper could be read from notes.jsonl (14 lines skipped)" in res.output
    assert "skipped notes.jsonl:1: not JSON" in res.output  # the reasons are still shown
    assert Store(db).count_papers() == 0


def test_import_corpus_with_one_good_file_among_bad_ones_succeeds(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{broken\n")
    res = _invoke("import-corpus", str(bad), str(fixture_path("corpus_sample.jsonl")), "--no-progress",
                  "--db", str(tmp_path / "pb.db"))
    assert res.exit_code == 0 and "6 new" in res.output, res.output


def _pending_digest(db) -> None:
    store = Store(db)
    store.claim_digest("C1:2026-08-24", "C1", "2026-08-24", [("2608.00001", 0.5, "why")], owner=None)
    store.close()


@pytest.mark.parametrize("flags", [["--up", "--down"], ["--down", "--up"]])
def test_feedback_up_and_down_together_is_refused_and_nothing_recorded(tmp_path, flags):
    db = tmp_path / "pb.db"
    Store(db).close()
    res = _invoke("feedback", "--user", "U1", "--paper", "2401.00001", *flags, "--db", str(db))
    assert res.exit_code == 2 and "give --up or --down, not both" in res.output, res.output
    assert Store(db).feedback_for(user_id="U1") == {}


@pytest.mark.parametrize("user", ["", "   "])
def test_feedback_with_an_empty_user_is_refused(tmp_path, user):
    db = tmp_path / "pb.db"
    Store(db).close()
    res = _invoke("feedback", "--user", user, "--paper", "2401.00001", "--up", "--db", str(db))
    assert res.exit_code == 2 and "--user: expected a Slack user id" in res.output, res.output
    assert Store(db).feedback_for(user_id=user) == {}


@pytest.mark.parametrize("flags", [["--posted", "--not-posted"], ["--not-posted", "--posted"]])
def test_resolve_posted_and_not_posted_together_is_refused_and_nothing_settled(tmp_path, flags):
    db = tmp_path / "pb.db"
    _pending_digest(db)
    res = _invoke("digests", "resolve", "C1:2026-08-24", *flags, "--db", str(db))
    assert res.exit_code == 2 and "give --posted or --not-posted, not both" in res.output, res.output
    assert Store(db).get_digest("C1:2026-08-24")["status"] == "pending"


def _commands(group, path=()):
    """(`paperbot …` words, click command) for every command and sub-command of `group`."""
    for name, cmd in group.commands.items():
        yield (*path, name), cmd
        if hasattr(cmd, "commands"):
            yield from _commands(cmd, (*path, name))


def test_every_cli_option_has_help_text():
    """`paperbot import --help` listed `--config FILE` and `--db FILE` with no word on what they
    do (import, import-corpus, status, backup, restore, feedback, digests …), and `digests list`
    its `--status` and `--limit`: every option of every command says what it is for."""
    bare = [f"paperbot {' '.join(words)} {opt}" for words, cmd in _commands(main)
            for p in cmd.params if isinstance(p, click.Option) and not (p.help or "").strip()
            for opt in p.opts[:1]]
    assert bare == []


def test_eval_help_describes_every_option():
    """`paperbot eval` is parsed by argparse (recommender.evaluation.main): its `--help` listed
    `--tasks TASKS`, `--corpus CORPUS …` and the rest with no description, and said nothing of
    PAPERBOT_CACHE_DIR, the environment variable it reads."""
    res = _invoke("eval", "--help")
    assert res.exit_code == 0, res.output
    options = res.output.split("options:", 1)[1]
    for flag, words in [("--tasks", "JSON"), ("--corpus", "JSONL"), ("--rankings", "JSONL"),
                        ("--method", "digests run"), ("--feedback-sim", "👍")]:
        line = next(ln for ln in options.splitlines() if ln.strip().startswith(flag))
        block = options.split(line, 1)[1].split("\n  -", 1)[0]
        assert words in " ".join((line + block).split()), f"{flag} has no description: {line!r}"
    assert "PAPERBOT_CACHE_DIR" in res.output


def test_import_corpus_and_backup_count_one_paper_in_the_singular(tmp_path):
    """The CLI said "1 papers" (and "1 lines skipped"): `import-corpus`'s summary and `backup`
    now use the singular for 1 (as `paperbot import`'s "1 paper added")."""
    one = tmp_path / "one.jsonl"
    one.write_text(fixture_path("corpus_sample.jsonl").read_text().splitlines()[0] + "\n{broken\n")
    db = tmp_path / "pb.db"
    res = _invoke("import-corpus", str(one), "--no-progress", "--db", str(db))
    assert res.exit_code == 0, res.output
    summary = res.output.splitlines()[-1]
    assert summary.startswith("1 paper in ") and ": 1 new, 0 updated, 0 unchanged, 1 line skipped · 1 paper in " in summary
    backup = _invoke("backup", str(tmp_path / "b.db"), "--db", str(db))
    assert backup.exit_code == 0 and backup.output.endswith("(1 paper)\n"), backup.output


def test_import_corpus_counts_the_lines_with_bytes_that_are_not_utf8(tmp_path):
    """Bytes that are not UTF-8 became U+FFFD silently (errors="replace"): the summary now
    counts the lines holding them and stderr numbers them; the papers are still imported."""
    good = fixture_path("corpus_sample.jsonl").read_bytes().splitlines()
    latin1 = good[1].replace(b'"title": "', b'"title": "Caf\xe9 ', 1)  # Latin-1 é, not UTF-8
    assert latin1 != good[1]
    f = tmp_path / "c.jsonl"
    f.write_bytes(b"\r\n".join([good[0], latin1, b"{broken \xff", *good[2:]]) + b"\r\n")
    db = tmp_path / "pb.db"
    res = _invoke("import-corpus", str(f), "--no-progress", "--db", str(db))
    assert res.exit_code == 0, res.output
    assert "c.jsonl: bytes that are not UTF-8 read as U+FFFD on 2 lines (2, 3)" in res.stderr
    assert "skipped c.jsonl:3: not JSON" in res.stderr
    assert ", 1 line skipped, 2 lines not UTF-8 (bad bytes read as U+FFFD) · 6 papers in " in res.stdout
    title = json.loads(good[1])["title"]
    assert Store(db).get_paper(json.loads(good[1])["arxiv_id"]).title == "Caf\ufffd " + title
    clean = _invoke("import-corpus", str(fixture_path("corpus_sample.jsonl")), "--no-progress", "--db", str(db))
    assert clean.exit_code == 0 and "not UTF-8" not in clean.output, clean.output
