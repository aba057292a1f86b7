"""Running the real bolt app over HTTP (waitress on 127.0.0.1) for tests, and sending it requests
signed exactly as Slack signs them (https://api.slack.com/authentication/verifying-requests-from-slack:
``v0=`` + HMAC-SHA256 of ``v0:{timestamp}:{body}`` with the signing secret)."""
from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx

from bot.app import make_http_server
from feeds.arxiv_api import parse_response
from paperbot.config import ChannelConfig, Config, RecommenderConfig, SlackConfig
from paperbot.curated_import import import_curated
from paperbot.serve import build
from store import Store
from tests.conftest import fixture_path

SECRET = "test-signing-secret-0123456789"
TOKEN = "xoxb-test-token"
_ids = itertools.count(1)


def sign(body: str, secret: str = SECRET, timestamp: int | None = None) -> dict[str, str]:
    """Slack's request-signing headers for `body`."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    sig = "v0=" + hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig}


def seed_store(store: Store) -> None:
    """Curated collection ``rlhf_code`` (49 real papers) + 100 real arXiv API search results as
    new candidates."""
    import_curated(store, str(fixture_path("seeds", "papers_database.sample.json")))
    page = parse_response(fixture_path("arxiv_api", "q_testing_s0_m100_cfe7536492ca.xml").read_bytes())
    store.upsert_papers(page.result.papers)


def make_config(tmp_path: Path, channels: list[ChannelConfig] | None = None) -> Config:
    """A config with no feeds (the store is seeded directly), posts unpaced."""
    return Config(database=str(tmp_path / "bot.db"), channels=channels or [],
                  recommender=RecommenderConfig(model_path=str(tmp_path / "model.joblib")),
                  slack=SlackConfig(post_interval_s=0.0))


class BotServer:
    """``with BotServer(config, store, fake, monkeypatch) as bot:`` — the bolt app behind
    waitress on a free 127.0.0.1 port, Web API calls going to the fake."""

    def __init__(self, config: Config, store: Store, fake, monkeypatch, arxiv=None, grace_s: int | None = None):
        monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
        monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
        monkeypatch.setenv("SLACK_API_URL", fake.url)
        self.fake = fake
        self.store = store
        self.service, self.app = build(config, store, arxiv=arxiv, poll_max_age_s=None, grace_s=grace_s)
        self.server = make_http_server(self.app, SECRET, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.effective_port}/slack/events"
        self._thread = threading.Thread(target=self.server.run, daemon=True)
        self.http = httpx.Client(timeout=10)

    def __enter__(self) -> "BotServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.service.scheduler.shutdown(wait=True)
        self.http.close()
        self.server.stop()
        self._thread.join(5)

    # ---- requests -------------------------------------------------------------------------
    def post(self, body: str, content_type: str, headers: dict | None = None, signed: bool = True,
             timestamp: int | None = None) -> httpx.Response:
        h = {"Content-Type": content_type, **(sign(body, timestamp=timestamp) if signed else {}), **(headers or {})}
        return self.http.post(self.url, content=body.encode(), headers=h)

    def command(self, text: str, user: str = "U1", channel: str = "C1", channel_name: str = "general",
                **kw) -> tuple[httpx.Response, str]:
        """POST a ``/papers`` slash command; returns (response, its response_url path)."""
        rid = f"/response/{next(_ids)}"
        form = {"token": "x", "team_id": "T1", "channel_id": channel, "channel_name": channel_name,
                "user_id": user, "user_name": user.lower(), "command": "/papers", "text": text,
                "response_url": self.fake.base + rid, "trigger_id": f"trig{next(_ids)}"}
        return self.post(urlencode(form), "application/x-www-form-urlencoded", **kw), rid

    def action(self, action_id: str, value: str, user: str = "U1", channel: str = "C1",
               message: dict | None = None, ephemeral: bool = False, action_ts: str | None = None,
               **kw) -> tuple[httpx.Response, str]:
        """POST a block_actions payload for one button click."""
        rid = f"/response/{next(_ids)}"
        payload = {
            "type": "block_actions", "team": {"id": "T1"}, "user": {"id": user},
            "api_app_id": "A1", "trigger_id": f"trig{next(_ids)}", "response_url": self.fake.base + rid,
            "container": {"type": "message", "channel_id": channel, "is_ephemeral": ephemeral,
                          "message_ts": (message or {}).get("ts", "1.0")},
            "channel": {"id": channel},
            "actions": [{"type": "button", "action_id": action_id, "block_id": f"fb:{value}",
                         "value": value, "action_ts": action_ts or f"{time.time():.6f}"}],
        }
        if message is not None:
            payload["message"] = message
        if user and action_id.startswith("home_"):
            payload["container"] = {"type": "view", "view_id": "V1"}
            payload.pop("channel")
        return self.post(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded", **kw), rid

    def event(self, event: dict, event_id: str, retry: int | None = None, **kw) -> httpx.Response:
        """POST an Events API ``event_callback`` (optionally as Slack's retry `retry`)."""
        body = json.dumps({"token": "x", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
                           "event_id": event_id, "event_time": int(time.time()), "event": event})
        headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"} if retry else {}
        return self.post(body, "application/json", headers=headers, **kw)

    def open_home(self, user: str, event_id: str) -> str:
        """Open `user`'s App Home (an ``app_home_opened`` event) and return the view published for
        them (``views.publish``) as JSON text."""
        n = len(self.fake.calls_to("views.publish"))
        self.event({"type": "app_home_opened", "user": user, "tab": "home", "channel": "D" + user}, event_id)
        wait_for(lambda: len(self.fake.calls_to("views.publish")) > n, what="views.publish")
        call = self.fake.calls_to("views.publish")[n]["args"]
        assert call["user_id"] == user
        view = call["view"]
        return view if isinstance(view, str) else json.dumps(view, ensure_ascii=False)

    # ---- waiting on the asynchronous part (after the ack) --------------------------------
    def responses(self, path: str) -> list[dict]:
        """What the app posted to one response_url."""
        return [c["args"] for c in self.fake.calls_to("response_url") if c["args"].get("_path") == path]

    def wait_response(self, path: str, timeout: float = 15) -> dict:
        """The first post to `path`, waiting for it."""
        wait_for(lambda: self.responses(path), timeout, f"no response at {path}")
        return self.responses(path)[0]


def wait_for(pred, timeout: float = 30, what: str = "condition") -> None:
    """Poll `pred` every 20 ms until truthy; AssertionError after `timeout` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")
