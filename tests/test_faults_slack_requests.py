"""Fault suite — hostile or forged requests reaching the Slack app.

Uses `bot.app.build_app`, `paperbot.service.PaperbotService`, `bot.commands_parser.parse_command`
/ `UsageError` and `recommender.search.search` / `QueryError`, imported plainly: a module that
fails to import fails these tests instead of skipping them.

Must hold:
- a request with a bad or missing signature, or a correctly signed one whose timestamp is older
  than 5 minutes, gets 401 and changes nothing (no feedback row);
- the slash-command parser returns a command or its usage error for any text;
- any user text reaching SQL / FTS5 through search is data: a result or `QueryError`, never an
  sqlite error, and the tables stay intact.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_bolt.request import BoltRequest

import bot.app as bot_app
import paperbot.service as service_mod
import recommender.search as search_mod
from bot import commands_parser
from bot.posting import SlackPoster
from bot.slack_client import make_client
from feeds.records import Paper
from paperbot.config import Config, RecommenderConfig, SlackConfig

SECRET = "faults-signing-secret-42"
TOKEN = "xoxb-faults-token"
FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                         HealthCheck.function_scoped_fixture])


def signed_headers(body: str, secret: str = SECRET, timestamp: int | None = None) -> dict[str, str]:
    """Slack's signing scheme: ``v0=`` + HMAC-SHA256(secret, ``v0:{ts}:{body}``)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    sig = "v0=" + hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"x-slack-request-timestamp": ts, "x-slack-signature": sig}


def click_body(arxiv_id: str = "2401.00001") -> str:
    payload = {"type": "block_actions", "team": {"id": "T1"}, "user": {"id": "U1"}, "api_app_id": "A1",
               "trigger_id": "trig1", "response_url": "http://127.0.0.1:9/response/1",
               "container": {"type": "message", "channel_id": "C1", "message_ts": "1.0"},
               "channel": {"id": "C1"},
               "actions": [{"type": "button", "action_id": "feedback_up", "block_id": f"fb:{arxiv_id}",
                            "value": arxiv_id, "action_ts": f"{time.time():.6f}"}]}
    return urlencode({"payload": json.dumps(payload)})


@pytest.fixture
def app(tmp_path, store, slack_fake):
    store.upsert_papers([Paper("2401.00001", "Reward models for code", "An abstract about RLHF.")])
    cfg = Config(database=str(tmp_path / "paperbot.db"),
                 recommender=RecommenderConfig(model_path=str(tmp_path / "model.joblib")),
                 slack=SlackConfig(post_interval_s=0.0))
    client = make_client(TOKEN, slack_fake.url)
    service = service_mod.PaperbotService(cfg, store, SlackPoster(client, 0.0), poll_max_age_s=None)
    application = bot_app.build_app(service, client, SECRET)
    yield application
    scheduler = getattr(service, "scheduler", None)
    if scheduler is not None and hasattr(scheduler, "shutdown"):
        scheduler.shutdown(wait=True)


def dispatch(app, body: str, headers: dict[str, str]):
    headers = {"content-type": "application/x-www-form-urlencoded", **headers}
    return app.dispatch(BoltRequest(body=body, headers=headers))


def test_correctly_signed_click_is_accepted_and_recorded(app, store):
    """Control for the 401 tests below: the same request, properly signed, does change the store."""
    body = click_body()
    assert dispatch(app, body, signed_headers(body)).status == 200
    deadline = time.monotonic() + 10
    while store.feedback_count() == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert store.feedback_count() == 1


@pytest.mark.parametrize("case", ["wrong secret", "tampered body", "missing signature", "missing timestamp",
                                  "timestamp 6 minutes old", "garbage signature"])
def test_forged_or_stale_requests_get_401_and_change_nothing(app, store, case):
    body = click_body()
    headers = signed_headers(body)
    if case == "wrong secret":
        headers = signed_headers(body, secret="not-the-secret")
    elif case == "tampered body":
        body = click_body("2401.99999")
    elif case == "missing signature":
        headers.pop("x-slack-signature")
    elif case == "missing timestamp":
        headers.pop("x-slack-request-timestamp")
    elif case == "timestamp 6 minutes old":
        headers = signed_headers(body, timestamp=int(time.time()) - 6 * 60)
    elif case == "garbage signature":
        headers["x-slack-signature"] = "v0=" + "0" * 64
    assert dispatch(app, body, headers).status == 401
    time.sleep(0.2)  # anything wrongly dispatched to the thread pool would have run by now
    assert store.feedback_count() == 0


# ---- the slash-command parser on arbitrary text ---------------------------------------------
# the names `bot.listeners.commands` dispatches on, and the value each carries
_VALUE_CHECKS = {
    "search": lambda v: isinstance(v, str) and v.strip() != "",
    "subscribe": lambda v: isinstance(v, str) and v.strip() != "",
    "unsubscribe": lambda v: isinstance(v, str) and v.strip() != "",
    "follow_author": lambda v: isinstance(v, str) and v.strip() != "",
    "unfollow_author": lambda v: isinstance(v, str) and v.strip() != "",
    "like": lambda v: isinstance(v, str) and re.fullmatch(r"\d{4}\.\d{4,5}|[a-z][a-z\-]*(\.[A-Z]{2})?/\d{7}", v),
    "digest_dm": lambda v: isinstance(v, bool),
    "digest_size": lambda v: isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 50,
    "digest_schedule": lambda v: isinstance(v, str) and len(v.split()) == 5,
    "digest_timezone": lambda v: isinstance(v, str) and v != "",
    "profile": lambda v: v is None, "digest_now": lambda v: v is None,
    "digest_show": lambda v: v is None, "help": lambda v: v is None,
}


def _check_command(cmd) -> None:
    """A parsed command is one the listener dispatches on, with a value of the expected shape."""
    assert isinstance(cmd, commands_parser.Command)
    assert cmd.name in _VALUE_CHECKS, cmd
    assert _VALUE_CHECKS[cmd.name](cmd.value), cmd

@FAST
@given(st.text(max_size=300) | st.none())
def test_parse_command_returns_a_command_or_a_usage_error(text):
    try:
        _check_command(commands_parser.parse_command(text))
    except commands_parser.UsageError as exc:
        assert str(exc)  # a usage message for the user, never empty


@FAST
@given(st.lists(st.sampled_from(["subscribe", "unsubscribe", "like", "search", "follow", "digest", "help",
                                 "settings", "author:", "cat:", "\"", "'", ";", "--", "2401.00001", "arXiv:",
                                 "#chan", "<#C1|x>", "*", "NEAR(", ")", "\x00", "😀"]), max_size=8))
def test_parse_command_on_command_like_word_salad(words):
    try:
        _check_command(commands_parser.parse_command(" ".join(words)))
    except commands_parser.UsageError as exc:
        assert str(exc)


@FAST
@given(st.lists(st.sampled_from(["schedule", "size", "timezone", "tz", "at", "weekdays", "daily", "mon", "mon-fri",
                                 "sun,sat", "fri-mon", "9", "09:00", "23:59", "24:00", "7:6", "*", "*/5", "0",
                                 "99", "-1", "1-50", "Europe/Paris", "UTC", "..", "/", "\x00", "😀", "٩"]),
                max_size=7))
def test_parse_digest_settings_on_word_salad(words):
    """Whatever follows ``digest``: a valid setting (a crontab APScheduler accepts, a size in
    1..50, a known zone) or a usage message — never another exception."""
    from bot.scheduler import cron_trigger
    try:
        cmd = commands_parser.parse_command("digest " + " ".join(words))
    except commands_parser.UsageError as exc:
        assert str(exc)
        return
    if cmd.name == "digest_schedule":
        cron_trigger(cmd.value, "UTC")
    elif cmd.name == "digest_size":
        assert 1 <= cmd.value <= commands_parser.MAX_DIGEST_SIZE


# ---- user text reaching SQL / FTS5 through search -----------------------------------------------
@FAST
@given(st.text(max_size=200))
def test_search_with_arbitrary_text_returns_hits_or_a_query_error(store, text):
    store.upsert_papers([Paper("2401.00001", "Reward models for code", "An abstract about RLHF.")])
    try:
        hits = search_mod.search(store, None, text)
    except search_mod.QueryError:
        hits = []
    assert isinstance(hits, list)
    assert store.count_papers() == 1  # nothing dropped or changed


@pytest.mark.parametrize("text", ['"', "reward\" OR 1=1 --", "x'); DROP TABLE papers; --", "NEAR(reward code)",
                                  "reward AND NOT code", "title:reward", "*", "^reward", "reward*", "{title}: x"])
def test_fts5_syntax_in_user_text_is_quoted(store, text):
    store.upsert_papers([Paper("2401.00001", "Reward models for code", "An abstract about RLHF.")])
    try:
        search_mod.search(store, None, text)
    except search_mod.QueryError:
        pass
    assert store.count_papers() == 1 and store.get_paper("2401.00001").title == "Reward models for code"
