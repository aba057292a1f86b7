"""`paperbot digests list|check|resolve`: seeing and settling digests whose posting outcome is
unknown (status ``pending``), end to end through the CLI, the store and the Slack fake."""
from __future__ import annotations

import os
import socket

import psutil
from click.testing import CliRunner

from bot.posting import SlackPoster, digest_metadata
from bot.slack_client import make_client
from feeds.records import Paper
from paperbot.cli import main
from store import Store

TOKEN = "xoxb-SECRET-123"


def _pending(db, key: str, ids: list[str], owner: str | None = None) -> None:
    store = Store(db)
    try:
        store.upsert_papers([Paper(i, f"Title {i}") for i in ids])
        channel, slot = key.split(":")
        store.claim_digest(key, channel, slot, [(i, 0.5, "why") for i in ids], owner=owner)
    finally:
        store.close()


def _run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_list_shows_pending_digests_and_resolve_not_posted_releases_their_papers(tmp_path):
    db = str(tmp_path / "p.db")
    _pending(db, "C1:2026-08-24", ["2608.00001", "2608.00002"])
    listed = _run("digests", "list", "--db", db)
    assert listed.exit_code == 0 and "C1:2026-08-24  pending  2 papers" in listed.output

    res = _run("digests", "resolve", "C1:2026-08-24", "--not-posted", "--db", db)
    assert res.exit_code == 0, res.output
    assert "failed" in res.output and "2 papers go to the channel's next digest" in res.output
    store = Store(db)
    try:
        assert store.get_digest("C1:2026-08-24")["status"] == "failed"
        assert store.sent_paper_ids("C1") == set()  # released: the next digest offers them again
        assert store.pending_digests() == []
    finally:
        store.close()
    assert "no pending digests" in _run("digests", "list", "--db", db).output
    assert "C1:2026-08-24  failed" in _run("digests", "list", "--status", "failed", "--db", db).output


def test_resolve_posted_keeps_the_papers_sent_and_records_the_ts(tmp_path):
    db = str(tmp_path / "p.db")
    _pending(db, "C1:2026-08-24", ["2608.00001"])
    res = _run("digests", "resolve", "C1:2026-08-24", "--posted", "--ts", "1724486400.000100", "--db", db)
    assert res.exit_code == 0, res.output
    store = Store(db)
    try:
        row = store.get_digest("C1:2026-08-24")
        assert row["status"] == "posted" and row["message_ts"] == "1724486400.000100"
        assert store.sent_paper_ids("C1") == {"2608.00001"}
    finally:
        store.close()


def test_resolve_refuses_bad_input_and_changes_nothing(tmp_path):
    db = str(tmp_path / "p.db")
    _pending(db, "C1:2026-08-24", ["2608.00001"])
    # an owner process that is alive (our parent): the post may be in flight
    parent = psutil.Process(os.getppid())
    _pending(db, "C2:2026-08-24", ["2608.00002"],
             owner=f"{socket.gethostname()}:{parent.pid}:{parent.create_time():.3f}")

    no_flag = _run("digests", "resolve", "C1:2026-08-24", "--db", db)
    assert no_flag.exit_code == 2 and "give --posted or --not-posted" in no_flag.output
    ts_without_posted = _run("digests", "resolve", "C1:2026-08-24", "--not-posted", "--ts", "1.2", "--db", db)
    assert ts_without_posted.exit_code == 2 and "--ts goes with --posted" in ts_without_posted.output
    unknown = _run("digests", "resolve", "C9:2026-01-01", "--posted", "--db", db)
    assert unknown.exit_code == 1 and "no digest with key 'C9:2026-01-01'" in unknown.output
    live = _run("digests", "resolve", "C2:2026-08-24", "--not-posted", "--db", db)
    assert live.exit_code == 1 and "may still be being posted" in live.output
    assert _run("digests", "resolve", "C1:2026-08-24", "--posted", "--db", db).exit_code == 0
    again = _run("digests", "resolve", "C1:2026-08-24", "--not-posted", "--db", db)
    assert again.exit_code == 1 and "is posted, not pending" in again.output
    for res in (no_flag, ts_without_posted, unknown, live, again):
        assert "Traceback" not in res.output
    store = Store(db)
    try:
        assert store.get_digest("C1:2026-08-24")["status"] == "posted"
        assert store.get_digest("C2:2026-08-24")["status"] == "pending"
        assert store.sent_paper_ids("C1") == {"2608.00001"}
    finally:
        store.close()


def test_check_settles_pending_digests_from_the_channel_history(tmp_path, slack_fake, monkeypatch):
    db = str(tmp_path / "p.db")
    _pending(db, "C1:2026-08-24", ["2608.00001"])  # landed before a crash
    _pending(db, "C1:2026-08-25", ["2608.00002"])  # never reached Slack
    ts = SlackPoster(make_client(TOKEN, slack_fake.url), interval_s=0).post_message(
        "C1", "digest", [], metadata=digest_metadata("C1:2026-08-24"))

    no_token = _run("digests", "check", "--db", db)
    assert no_token.exit_code == 1 and "no SLACK_BOT_TOKEN" in no_token.output

    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_API_URL", slack_fake.url)
    res = _run("digests", "check", "--db", db)
    assert res.exit_code == 0, res.output
    assert f"C1: posted ({ts})" in res.output and "C1: released" in res.output
    assert TOKEN not in res.output
    store = Store(db)
    try:
        assert store.get_digest("C1:2026-08-24")["message_ts"] == ts
        assert store.get_digest("C1:2026-08-25")["status"] == "failed"
        assert store.sent_paper_ids("C1") == {"2608.00001"}
    finally:
        store.close()
    assert len(slack_fake.posted("C1")) == 1  # checking never posts
    assert "no pending digests" in _run("digests", "check", "--db", db).output


def test_status_counts_digests_names_failures_and_says_how_to_settle_pending_ones(tmp_path):
    db = str(tmp_path / "p.db")
    _pending(db, "C1:2026-08-24", ["2608.00001"])
    assert _run("digests", "resolve", "C1:2026-08-24", "--not-posted", "--db", db).exit_code == 0
    _pending(db, "C2:2026-08-25", ["2608.00002"])
    res = _run("status", "--db", db)
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert "digests: 1 failed, 1 pending" in lines or "digests: 1 pending, 1 failed" in lines
    assert any(line.strip().startswith("failed C1:2026-08-24: ") for line in lines)
    assert "paperbot digests check" in res.output and "paperbot digests resolve KEY" in res.output
    assert lines[-1].startswith("papers: 2 ")


def test_check_exits_1_when_a_digest_stays_uncertain(tmp_path, slack_fake, monkeypatch):
    db = str(tmp_path / "p.db")
    _pending(db, "C1:2026-08-24", ["2608.00001"])
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_API_URL", slack_fake.url)
    slack_fake.script("conversations.history", body={"ok": False, "error": "missing_scope"})
    res = _run("digests", "check", "--db", db)
    assert "C1: uncertain (cannot read the history of C1" in res.output, res.output
    assert res.exit_code == 1  # cron notices: the digest is still pending
    assert "1 digest still pending: settle by hand with `paperbot digests resolve KEY" in res.output
    assert Store(db).get_digest("C1:2026-08-24")["status"] == "pending"
    assert slack_fake.posted("C1") == []


def test_check_with_nothing_pending_needs_no_token_and_exits_0(tmp_path):
    """A cron `paperbot digests check` on a machine without SLACK_BOT_TOKEN (the conftest unsets
    it) used to exit 1 even when nothing was pending: the token was checked first."""
    db = str(tmp_path / "p.db")
    Store(db).close()
    res = _run("digests", "check", "--db", db)
    assert res.exit_code == 0 and res.output.strip() == "no pending digests"


def test_check_on_a_missing_database_is_the_usual_one_line_error(tmp_path):
    db = tmp_path / "absent.db"
    res = _run("digests", "check", "--db", str(db))
    assert res.exit_code == 1 and f"Error: no database at {db}" in res.output
    assert "SLACK_BOT_TOKEN" not in res.output and len(res.output.strip().splitlines()) == 1
    assert not db.exists()


def test_resolve_refuses_a_ts_that_is_no_slack_message_ts(tmp_path):
    """--ts was stored whatever it held (a pasted message link, "yesterday"): the digest then
    pointed at a message that does not exist, so reactions on the real one counted for nothing."""
    db = str(tmp_path / "p.db")
    _pending(db, "C1:2026-08-24", ["2608.00001"])
    for bad in ("p1724486400000100", "https://x.slack.com/archives/C1/p1724486400000100", "yesterday", ""):
        res = _run("digests", "resolve", "C1:2026-08-24", "--posted", "--ts", bad, "--db", db)
        assert res.exit_code == 2, (bad, res.output)
        assert "--ts: expected a Slack message ts such as 1724486400.000100" in res.output
    store = Store(db)
    try:
        assert store.get_digest("C1:2026-08-24")["status"] == "pending"  # nothing changed
    finally:
        store.close()
    ok = _run("digests", "resolve", "C1:2026-08-24", "--posted", "--ts", " 1724486400.000100 ", "--db", db)
    assert ok.exit_code == 0, ok.output
    store = Store(db)
    try:
        assert store.get_digest("C1:2026-08-24")["message_ts"] == "1724486400.000100"
    finally:
        store.close()
