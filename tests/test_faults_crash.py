"""Fault suite — the process is SIGKILLed mid-digest and restarted.

The real CLI (`paperbot run --once`) runs in a subprocess against the Slack fake; a test-only
hook (tests/crash_hook.py) kills it with SIGKILL at the worst moments. Must hold after the restart:
the digest is in the channel exactly once, its ``ts`` is recorded, and no paper is lost.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.scheduler import slot_name
from store import Store
from tests.test_main_job import _write_config

ROOT = Path(__file__).resolve().parent.parent
WRAPPER = "import tests.crash_hook as h; h.install(); from paperbot.cli import main; main()"
TOKEN = "xoxb-crash-test-token"


def run_cli(cfg: Path, fake_url: str, crash: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PAPERBOT_"))}
    env.update({"PYTHONPATH": str(ROOT), "SLACK_BOT_TOKEN": TOKEN, "SLACK_API_URL": fake_url})
    if crash:
        env["PAPERBOT_TEST_CRASH"] = crash
    return subprocess.run([sys.executable, "-c", WRAPPER, "run", "--once", "--config", str(cfg)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)


def only_digest(store: Store) -> dict:
    rows = [r for r in store.db.query("select * from digests where channel_id = 'C0RLCODE'")]
    assert len(rows) == 1, rows
    return rows[0]


def test_killed_between_post_and_record_does_not_post_again_after_restart(tmp_path, slack_fake):
    cfg = _write_config(tmp_path)
    first = run_cli(cfg, slack_fake.url, crash="after_post")
    assert first.returncode == -signal.SIGKILL, first.stderr
    landed = slack_fake.posted("C0RLCODE")
    assert len(landed) == 1
    store = Store(tmp_path / "bot.db")
    assert only_digest(store)["status"] == "pending" and only_digest(store)["message_ts"] is None
    store.close()

    second = run_cli(cfg, slack_fake.url, crash=None)
    assert second.returncode == 3, second.stderr  # 3: the config's 'gone' source fails
    assert "channel C0RLCODE: skipped-duplicate" in second.stderr
    assert len(slack_fake.calls_to("chat.postMessage")) == 1  # no second post
    store = Store(tmp_path / "bot.db")
    row = only_digest(store)
    assert row["status"] == "posted" and row["message_ts"] == landed[0]["ts"]


def test_killed_between_intent_and_post_posts_exactly_once_after_restart(tmp_path, slack_fake):
    cfg = _write_config(tmp_path)
    first = run_cli(cfg, slack_fake.url, crash="after_intent")
    assert first.returncode == -signal.SIGKILL, first.stderr
    assert slack_fake.calls_to("chat.postMessage") == []
    store = Store(tmp_path / "bot.db")
    intent = only_digest(store)
    intended_papers = store.digest_paper_ids(intent["id"])
    assert intent["status"] == "pending" and len(intended_papers) == 5
    store.close()

    second = run_cli(cfg, slack_fake.url, crash=None)
    assert second.returncode == 3, second.stderr  # 3: the config's 'gone' source fails
    assert "channel C0RLCODE: posted (5 papers)" in second.stderr
    landed = slack_fake.posted("C0RLCODE")
    assert len(landed) == 1
    store = Store(tmp_path / "bot.db")
    row = only_digest(store)
    assert row["status"] == "posted" and row["message_ts"] == landed[0]["ts"]
    # nothing lost: the papers the interrupted digest meant to send are the ones sent now
    posted_ids = [e["value"] for b in landed[0]["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert set(posted_ids) >= set(intended_papers)
    assert sorted(store.digest_paper_ids(row["id"])) == sorted(intended_papers)


def _serve(tmp_path: Path, cfg: Path, fake_url: str, crash: str | None, log_name: str) -> subprocess.Popen:
    from tests.test_serve_cli import _env
    env = _env(fake_url)
    if crash:
        env["PAPERBOT_TEST_CRASH"] = crash
    return subprocess.Popen([sys.executable, "-c", WRAPPER, "serve", "--config", str(cfg), "--host", "127.0.0.1",
                             "--port", "0"], cwd=tmp_path, env=env, stdout=open(tmp_path / log_name, "w"),
                            stderr=subprocess.STDOUT)


@pytest.mark.parametrize("crash", ["after_intent", "after_post"])
def test_serve_killed_mid_catch_up_settles_and_delivers_the_slot_once_on_restart(tmp_path, slack_fake, crash):
    """`paperbot serve` SIGKILLed while it catches up a missed slot (before or after
    chat.postMessage), then started again within the grace period: the slot's digest is in the
    channel exactly once and recorded as posted with its ts. The restart used to take the
    pending intent for a delivered slot and do nothing until the next slot."""
    from tests.bot_harness import wait_for
    from tests.test_serve_cli import _config
    missed = datetime.now(timezone.utc) - timedelta(minutes=3)
    cfg = _config(tmp_path, f"{missed.minute} {missed.hour} * * *")
    key = f"CRL:{slot_name(missed.replace(second=0, microsecond=0))}"
    first = _serve(tmp_path, cfg, slack_fake.url, crash, "serve1.log")
    assert first.wait(120) == -signal.SIGKILL, (tmp_path / "serve1.log").read_text()
    assert len(slack_fake.posted("CRL")) == (1 if crash == "after_post" else 0)

    second = _serve(tmp_path, cfg, slack_fake.url, None, "serve2.log")
    try:
        store = Store(tmp_path / "bot.db")
        wait_for(lambda: store.get_digest(key)["status"] == "posted", 120, "the slot settled and posted")
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(30) == 0, (tmp_path / "serve2.log").read_text()
    top = [m for m in slack_fake.posted("CRL") if not m.get("thread_ts")]
    assert len(top) == 1
    assert store.get_digest(key)["message_ts"] == top[0]["ts"]
    store.close()
