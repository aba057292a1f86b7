"""`paperbot serve` as a user runs it: a separate process (waitress + bolt + scheduler) with a
config file, polling real captures, talking to the Slack Web API fake through SLACK_API_URL."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from bot.scheduler import slot_name
from store import Store
from tests.bot_harness import SECRET, TOKEN, sign, wait_for
from tests.conftest import closed_loopback_port, fixture_path, write_config
from tests.socket_mode_fake import SocketModeFake

ROOT = Path(__file__).resolve().parent.parent


def _config(tmp_path: Path, cron: str) -> Path:
    return write_config(tmp_path, api=[("search", fixture_path('arxiv_api', 'q_testing_s0_m100_cfe7536492ca.xml').as_uri())],
                        hf=[fixture_path('hf_daily', '2026-08-21.json').as_uri()], curated=[fixture_path('seeds', 'papers_database.sample.json')],
                        channels=[dict(id="CRL", name="#rl", collections=["rlhf_code"], schedule=cron, timezone="UTC",
                                       max_papers=30)],
                        extra="[slack]\npost_interval_s = 0.0\n")


def _env(slack_api_url: str, app_token: str | None = None) -> dict:
    """The test process's environment without its SLACK_* variables, plus the bot token,
    `slack_api_url` and either the signing secret (HTTP mode) or `app_token` (Socket Mode)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env.update(SLACK_BOT_TOKEN=TOKEN, SLACK_API_URL=slack_api_url, PYTHONPATH=str(ROOT))
    if app_token:
        env["SLACK_APP_TOKEN"] = app_token
    else:
        env["SLACK_SIGNING_SECRET"] = SECRET
    return env


def _start(tmp_path, cfg, fake, log_name):
    env = _env(fake.url)
    log = open(tmp_path / log_name, "w")
    proc = subprocess.Popen([sys.executable, "-m", "paperbot.cli", "serve", "--config", str(cfg),
                             "--host", "127.0.0.1", "--port", "0"], cwd=tmp_path, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    port = []

    def bound():
        m = re.search(r"serving on http://127\.0\.0\.1:(\d+)/slack/events", (tmp_path / log_name).read_text())
        if m:
            port.append(int(m.group(1)))
        return bool(m) or proc.poll() is not None
    wait_for(bound, 60, "paperbot serve to listen")
    assert proc.poll() is None, (tmp_path / log_name).read_text()
    return proc, f"http://127.0.0.1:{port[0]}"


def _stop(proc):
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0


def test_paperbot_serve_end_to_end(tmp_path, slack_fake):
    missed = datetime.now(timezone.utc) - timedelta(minutes=3)
    cfg = _config(tmp_path, f"{missed.minute} {missed.hour} * * *")
    proc, base = _start(tmp_path, cfg, slack_fake, "serve1.log")
    try:
        # the slot 3 minutes ago was missed (process down): caught up once on start
        wait_for(lambda: slack_fake.messages.get("CRL"), 60, "catch-up digest")
        assert httpx.get(base + "/healthz").text == "ok\n"
        form = urlencode({"command": "/papers", "text": "search reward model cat:cs.LG", "user_id": "U1",
                          "channel_id": "CRL", "channel_name": "rl", "team_id": "T1",
                          "response_url": slack_fake.base + "/response/e2e", "trigger_id": "t1"})
        r = httpx.post(base + "/slack/events", content=form,
                       headers={"Content-Type": "application/x-www-form-urlencoded", **sign(form)})
        assert r.status_code == 200
        wait_for(lambda: slack_fake.calls_to("response_url"), 30, "search response")
        out = slack_fake.calls_to("response_url")[0]["args"]
        assert any(b.get("block_id", "").startswith("paper:") for b in out["blocks"])
        forged = httpx.post(base + "/slack/events", content=form,
                            headers={"Content-Type": "application/x-www-form-urlencoded",
                                     **sign(form, secret="wrong")})
        assert forged.status_code == 401
    finally:
        _stop(proc)
    # start-up and stop are news, not trouble: they were logged as WARNING, which log monitors
    # (journald priorities, alerting on WARNING) took for a problem on every start
    log = (tmp_path / "serve1.log").read_text()
    assert "INFO paperbot.serve: paperbot serving on http://127.0.0.1:" in log, log
    assert "INFO paperbot.serve: scheduled digest:CRL next at " in log and "INFO paperbot.serve: paperbot stopped" in log
    assert "WARNING paperbot.serve" not in log, log
    main = slack_fake.messages["CRL"]
    assert main[0]["blocks"][0]["type"] == "header" and len(main[0]["blocks"]) <= 50
    assert any(m["thread_ts"] == main[0]["ts"] for m in main[1:])  # 30 papers: the rest in a thread
    posts_before = len(slack_fake.calls_to("chat.postMessage"))

    proc, base = _start(tmp_path, cfg, slack_fake, "serve2.log")  # restart: no duplicate
    try:
        time.sleep(1.5)
    finally:
        _stop(proc)
    assert len(slack_fake.calls_to("chat.postMessage")) == posts_before
    store = Store(tmp_path / "bot.db")
    row = store.get_digest(f"CRL:{slot_name(missed.replace(second=0, microsecond=0))}")
    assert row["status"] == "posted" and row["message_ts"] == main[0]["ts"]
    store.close()


def test_paperbot_serve_without_secrets_says_which(tmp_path):
    cfg = _config(tmp_path, "0 9 * * mon-fri")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env.update(PYTHONPATH=str(ROOT), SLACK_BOT_TOKEN=TOKEN)
    res = subprocess.run([sys.executable, "-m", "paperbot.cli", "serve", "--config", str(cfg)], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=60)
    assert res.returncode == 1 and "SLACK_SIGNING_SECRET is not set" in res.stderr
    assert TOKEN not in res.stderr + res.stdout


def test_manifest_declares_what_the_app_handles():
    text = (ROOT / "manifest.yml").read_text()
    events = re.search(r"bot_events:\n((?:\s+- \w+\n)+)", text).group(1).split()
    assert sorted(e for e in events if e != "-") == ["app_home_opened", "reaction_added", "reaction_removed"]
    assert "command: /papers" in text and "home_tab_enabled: true" in text
    assert re.search(r"interactivity:\n\s+is_enabled: true", text)
    for scope in ("commands", "chat:write", "reactions:read"):
        assert f"- {scope} " in text or f"- {scope}\n" in text
    assert text.count("/slack/events") == 3  # command, events and interactivity all reach bolt's path
    from bot.app import EVENTS_PATH
    assert EVENTS_PATH == "/slack/events"


def test_serve_imports_curated_and_polls_on_start_so_search_and_subscribe_work_at_once(tmp_path, slack_fake,
                                                                                       monkeypatch):
    """Before any digest: the curated collection exists and the feeds are polled in the background."""
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "secret")
    monkeypatch.setenv("SLACK_API_URL", slack_fake.url)
    from paperbot.config import load_config
    from paperbot.serve import build
    from store import Store

    cfg = load_config(_config(tmp_path, "0 9 * * mon-fri"))
    cfg.database = str(tmp_path / "warm.db")
    store = Store(cfg.database)
    service, _ = build(cfg, store, socket_mode=False)
    service.import_curated()
    assert store.collections().get("rlhf_code") == 49
    assert "collection" in service.subscribe("C7", "rlhf_code", is_channel=True)
    service.start_background_poll().join(timeout=120)
    assert store.count_papers() > 49 and service.search("reward model")
    store.close()


def test_serve_stops_with_one_clear_line_when_slack_refuses_the_token(tmp_path, slack_fake):
    """auth.test answering ``invalid_auth`` (a revoked or mistyped token): no traceback, the
    error code and the Web API URL, and never the token itself."""
    slack_fake.script("auth.test", body={"ok": False, "error": "invalid_auth"})
    done = subprocess.run([sys.executable, "-m", "paperbot.cli", "serve", "--config",
                           str(_config(tmp_path, "0 9 * * *")), "--port", "0"],
                          cwd=tmp_path, env=_env(slack_fake.url), capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert f"Error: Slack refused SLACK_BOT_TOKEN (auth.test at {slack_fake.url}): invalid_auth" in done.stderr
    assert "Traceback" not in done.stderr and "will be unused" not in done.stderr
    assert TOKEN not in done.stderr + done.stdout


def test_serve_stops_with_one_clear_line_when_slack_is_unreachable(tmp_path):
    """Nothing listens at SLACK_API_URL: after the client's connection retries, one line naming
    the URL and the reason."""
    url = f"http://127.0.0.1:{closed_loopback_port()}/api/"
    done = subprocess.run([sys.executable, "-m", "paperbot.cli", "serve", "--config",
                           str(_config(tmp_path, "0 9 * * *")), "--port", "0"],
                          cwd=tmp_path, env=_env(url), capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert f"Error: cannot reach the Slack Web API at {url} to check SLACK_BOT_TOKEN (auth.test)" in done.stderr
    assert "Connection refused" in done.stderr.splitlines()[-1]
    assert "Traceback" not in done.stderr
    assert TOKEN not in done.stderr + done.stdout


def test_paperbot_serve_over_socket_mode(tmp_path, slack_fake):
    """Socket Mode as Slack runs it (tests/socket_mode_fake.py): SLACK_APP_TOKEN alone selects it;
    apps.connections.open with the app token → WebSocket → hello; the missed slot's digest goes
    out through the Web API; a ``/papers help`` envelope is acked with the usage as its response
    payload, a ``/papers search`` envelope is acked and answered at its response_url; when Slack
    refreshes the connection (a ``disconnect`` message, sent every few hours) the app opens a new
    one and keeps answering, as it does after the connection drops; SIGTERM stops the process cleanly, and neither token reaches the log."""
    app_token = "xapp-1-A1-socket-test"
    missed = datetime.now(timezone.utc) - timedelta(minutes=3)
    cfg = _config(tmp_path, f"{missed.minute} {missed.hour} * * *")
    with SocketModeFake() as ws:
        for _ in range(3):  # the client asks again if it ever reconnects
            slack_fake.script("apps.connections.open", body={"ok": True, "url": ws.url})
        env = _env(slack_fake.url, app_token=app_token)
        log_path = tmp_path / "socket.log"
        with open(log_path, "w") as log:
            proc = subprocess.Popen([sys.executable, "-m", "paperbot.cli", "serve", "--config", str(cfg)],
                                    cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: "serving over Socket Mode" in log_path.read_text() or proc.poll() is not None,
                     60, "paperbot serve to connect")
            assert proc.poll() is None, log_path.read_text()
            assert ws.connected()
            opened = slack_fake.calls_to("apps.connections.open")[0]
            assert {k.lower(): v for k, v in opened["headers"].items()}["authorization"] == f"Bearer {app_token}"
            wait_for(lambda: slack_fake.messages.get("CRL"), 60, "catch-up digest")

            command = {"token": "x", "team_id": "T1", "channel_id": "CRL", "channel_name": "rl", "user_id": "U1",
                       "user_name": "u1", "command": "/papers", "trigger_id": "t1"}
            ws.send({"envelope_id": "env-help", "type": "slash_commands", "accepts_response_payload": True,
                     "payload": {**command, "text": "help", "response_url": slack_fake.base + "/response/help"}})
            assert "/papers search" in ws.wait_ack("env-help")["payload"]["text"]

            ws.send({"envelope_id": "env-search", "type": "slash_commands", "accepts_response_payload": True,
                     "payload": {**command, "text": "search reward model",
                                 "response_url": slack_fake.base + "/response/search"}})
            ws.wait_ack("env-search")
            def answers():
                return [c["args"] for c in slack_fake.calls_to("response_url") if c["args"].get("_path") == "/response/search"]
            wait_for(answers, 30, "search response")
            assert any(b.get("block_id", "").startswith("paper:") for b in answers()[0]["blocks"])

            # https://api.slack.com/apis/socket-mode#disconnect: Slack asks for a new connection
            ws.send({"type": "disconnect", "reason": "refresh_requested",
                     "debug_info": {"host": "fake-applink"}})
            wait_for(lambda: ws.connections == 2, 30, "a second Socket Mode connection")
            assert len(slack_fake.calls_to("apps.connections.open")) == 2
            ws.send({"envelope_id": "env-after-refresh", "type": "slash_commands", "accepts_response_payload": True,
                     "payload": {**command, "text": "help", "response_url": slack_fake.base + "/response/help2"}})
            assert "/papers search" in ws.wait_ack("env-after-refresh")["payload"]["text"]

            ws.drop()  # the connection dies without a word: the client notices and reconnects
            wait_for(lambda: ws.connections == 3, 60, "a Socket Mode connection after a dropped one")
            ws.send({"envelope_id": "env-after-drop", "type": "slash_commands", "accepts_response_payload": True,
                     "payload": {**command, "text": "help", "response_url": slack_fake.base + "/response/help3"}})
            assert "/papers search" in ws.wait_ack("env-after-drop")["payload"]["text"]
        finally:
            _stop(proc)
    text = log_path.read_text()
    assert "paperbot stopped" in text
    assert app_token not in text and TOKEN not in text


def test_serve_stops_before_any_digest_when_slack_refuses_the_app_token(tmp_path, slack_fake):
    """apps.connections.open answering ``invalid_auth``: one line, no traceback, no token — and
    the missed slot's digest is not posted by a process that is about to exit."""
    missed = datetime.now(timezone.utc) - timedelta(minutes=3)
    slack_fake.script("apps.connections.open", body={"ok": False, "error": "invalid_auth"})
    env = _env(slack_fake.url, app_token="xapp-1-A1-revoked")
    done = subprocess.run([sys.executable, "-m", "paperbot.cli", "serve", "--config",
                           str(_config(tmp_path, f"{missed.minute} {missed.hour} * * *"))],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert (f"Error: Slack refused SLACK_APP_TOKEN (apps.connections.open at {slack_fake.url}): invalid_auth"
            in done.stderr)
    assert "Traceback" not in done.stderr
    assert "xapp-1-A1-revoked" not in done.stderr + done.stdout and TOKEN not in done.stderr + done.stdout
    assert slack_fake.calls_to("chat.postMessage") == []


def test_serve_stops_with_one_clear_line_when_the_port_is_taken(tmp_path, slack_fake):
    import socket

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "paperbot.cli", "serve", "--config",
                               str(_config(tmp_path, "0 9 * * *")), "--host", "127.0.0.1", "--port", str(port)],
                              cwd=tmp_path, env=_env(slack_fake.url), capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert f"Error: cannot listen on 127.0.0.1:{port}: Address already in use" in done.stderr
    assert "Traceback" not in done.stderr


def test_serve_stops_when_the_socket_mode_websocket_does_not_connect(tmp_path, slack_fake):
    """apps.connections.open succeeds but nothing answers at the WebSocket URL it gave: the SDK
    only logs that; serve must stop with a clear line rather than claim to be serving."""
    port = closed_loopback_port()
    slack_fake.script("apps.connections.open", body={"ok": True, "url": f"ws://127.0.0.1:{port}/link/?ticket=t"})
    env = _env(slack_fake.url, app_token="xapp-1-A1-test")
    done = subprocess.run([sys.executable, "-m", "paperbot.cli", "serve", "--config",
                           str(_config(tmp_path, "0 9 * * *"))],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert f"Error: Slack gave a Socket Mode URL but its WebSocket (127.0.0.1:{port}) did not connect" in done.stderr
    assert "serving over Socket Mode" not in done.stderr and "Traceback" not in done.stderr


def test_serve_stops_with_one_clear_line_when_the_host_is_no_address(tmp_path, slack_fake):
    """`--host` that names no address (a typo; waitress raises ValueError("Invalid host/port
    specified.") when it cannot resolve it) ended `paperbot serve` with a traceback."""
    done = subprocess.run([sys.executable, "-m", "paperbot.cli", "serve", "--config",
                           str(_config(tmp_path, "0 9 * * *")), "--host", "no-such-host.invalid", "--port", "0"],
                          cwd=tmp_path, env=_env(slack_fake.url), capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr, done.stderr
    assert "Error: cannot listen on no-such-host.invalid:0: " in done.stderr and "--host" in done.stderr
    assert slack_fake.calls_to("chat.postMessage") == []


@pytest.mark.parametrize("stop_in", ["rss", "api"])
def test_sigterm_during_the_start_up_poll_stops_at_once_instead_of_waiting_out_every_retry(tmp_path, slack_fake,
                                                                                         monkeypatch, stop_in):
    """With arXiv unreachable, SIGTERM during the start-up poll waited for every remaining source
    and each of its retries (2 + 4 + 8 s a source: 37 s for three; minutes with the default
    feeds), after logging "paperbot stopped". Now the poll stops at its current wait — an RSS
    fetch's backoff, or the arXiv API client's (the one `serve` shares with `/papers like`) —
    the sources it did not finish are not recorded as failed, and "stopped" is the last line."""
    port = closed_loopback_port()
    monkeypatch.setenv("ARXIV_API_URL", f"http://127.0.0.1:{port}/api/query")
    queries = "".join(f'[[feeds.arxiv_api]]\nname = "q-{c}"\nquery = "cat:cs.{c.upper()}"\n' for c in ("lg", "cl"))
    cfg = write_config(tmp_path, rss=[("rss", ["cs.LG"], f"http://127.0.0.1:{port}/rss/cs.LG")] if stop_in == "rss" else [],
                       curated=[fixture_path('seeds', 'papers_database.sample.json')],
                       channels=[dict(id="CRL", name="#rl", collections=["rlhf_code"], schedule="0 9 * * *",
                                      timezone="UTC")], extra=queries)
    proc, _ = _start(tmp_path, cfg, slack_fake, "serve.log")
    log_path = tmp_path / "serve.log"
    try:
        wait_for(lambda: "retry 1/3" in log_path.read_text(), 60, "the poll's first retry wait")
    finally:
        _stop(proc)  # SIGTERM, then exit code 0 within 20 s
    text = log_path.read_text()
    left = "3 of 3 sources not polled this time (rss, q-lg, q-cl)" if stop_in == "rss" else \
        "2 of 2 sources not polled this time (q-lg, q-cl)"
    assert "poll stopped; " + left in text
    assert "failed" not in text.split("paperbot stopping")[1]  # no source recorded as failed after the signal
    assert text.rstrip().endswith("paperbot stopped")
    store = Store(tmp_path / "bot.db")
    try:
        assert store.all_feed_states() == []
    finally:
        store.close()


def test_a_second_signal_while_stopping_waits_for_the_digest_being_posted(tmp_path, slack_fake):
    """A second Ctrl-C/SIGTERM while `paperbot serve` waited for a digest being posted raised
    KeyboardInterrupt inside its clean-up: the CLI closed the store under the digest's thread
    (the crash the clean-up exists to prevent) and exited 1 with "Aborted!". Now it is logged
    and the stop goes on: the digest lands and is recorded, exit 0."""
    missed = datetime.now(timezone.utc) - timedelta(minutes=3)
    cfg = _config(tmp_path, f"{missed.minute} {missed.hour} * * *")
    slack_fake.script("chat.postMessage", delay=4, passthrough=True)  # the catch-up digest is slow to land
    proc, _ = _start(tmp_path, cfg, slack_fake, "serve.log")
    log_path = tmp_path / "serve.log"
    wait_for(lambda: slack_fake.calls_to("chat.postMessage"), 60, "the catch-up digest on the wire")
    proc.send_signal(signal.SIGTERM)
    wait_for(lambda: "paperbot stopping" in log_path.read_text(), 20, "the stop to begin")
    proc.send_signal(signal.SIGINT)
    assert proc.wait(30) == 0, log_path.read_text()
    text = log_path.read_text()
    assert "already stopping" in text and "Aborted" not in text and "Traceback" not in text
    assert text.rstrip().endswith("paperbot stopped")
    assert slack_fake.messages.get("CRL")
    store = Store(tmp_path / "bot.db")
    try:
        assert [d["status"] for d in store.digests()] == ["posted"]
    finally:
        store.close()
