"""Fault suite — posting digests to a misbehaving Slack Web API (tests/slack_fake.py on 127.0.0.1).

The real `slack_sdk.WebClient` (built by `bot.slack_client.make_client`) and the real
`paperbot.pipeline.deliver`; the fake can rate-limit, fail with 5xx, time out, reset, or fail
*after* the message landed (the ambiguous case). Must hold throughout: every digest ends up in
its channel exactly once, its ``ts`` is recorded, and errors are reported clearly, once, without
the token.
"""
from __future__ import annotations

import logging
import os
import subprocess
import sys
from datetime import date

import pytest

from bot.digest import Digest
from bot.posting import SlackPoster, digest_metadata
from bot.slack_client import make_client
from feeds.records import Paper
from paperbot.config import ChannelConfig, load_config
from paperbot.pipeline import deliver, run_once
from paperbot.recovery import digest_key
from recommender.scoring import Recommendation
from store import Store
from tests.conftest import closed_loopback_port
from tests.test_main_job import _write_config

TOKEN = "xoxb-SECRET-123"
SLOT = "2026-08-24"
HTML_503 = b"<html><head><title>503 Service Temporarily Unavailable</title></head></html>"


def make_digest(channel: str, n: int = 3) -> Digest:
    items = [Recommendation(Paper(f"2608.1000{i}", f"Paper {i} on reward models", "An abstract."), 0.5 - i / 10,
                            ["reward"]) for i in range(n)]
    return Digest(channel_id=channel, title=f"Paper digest · {channel} · {SLOT}", date=SLOT, items=items,
                  n_candidates=n)


@pytest.fixture
def poster(slack_fake):
    return SlackPoster(make_client(TOKEN, slack_fake.url, max_retries=2, timeout=1), interval_s=0,
                       sleep=lambda s: None)


def top_level(slack_fake, channel):
    return [m for m in slack_fake.posted(channel) if not m.get("thread_ts")]


def test_429_is_retried_after_retry_after_and_posted_once(store, slack_fake, poster):
    slack_fake.script("chat.postMessage", 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "0"})
    out = deliver(store, ChannelConfig("C1"), make_digest("C1"), poster, SLOT)
    assert out.status == "posted"
    assert len(slack_fake.calls_to("chat.postMessage")) == 2 and len(top_level(slack_fake, "C1")) == 1
    assert store.get_digest(digest_key("C1", SLOT))["message_ts"] == top_level(slack_fake, "C1")[0]["ts"]


def test_503_before_processing_is_checked_in_history_then_posted_once(store, slack_fake, poster):
    slack_fake.script("chat.postMessage", 503, raw=HTML_503)
    out = deliver(store, ChannelConfig("C1"), make_digest("C1"), poster, SLOT)
    assert out.status == "posted"
    assert len(slack_fake.calls_to("conversations.history")) == 1  # checked before re-posting
    assert len(top_level(slack_fake, "C1")) == 1
    row = store.get_digest(digest_key("C1", SLOT))
    assert row["status"] == "posted" and row["message_ts"] == top_level(slack_fake, "C1")[0]["ts"]


def test_503_after_the_message_landed_does_not_post_a_second_time(store, slack_fake, poster):
    """The ambiguous case: Slack posted, but answered 503. A blind retry would duplicate."""
    slack_fake.script("chat.postMessage", 503, raw=HTML_503, process=True)
    out = deliver(store, ChannelConfig("C1"), make_digest("C1"), poster, SLOT)
    landed = top_level(slack_fake, "C1")
    assert len(landed) == 1 and len(slack_fake.calls_to("chat.postMessage")) == 1
    assert out.status == "posted" and out.ts == landed[0]["ts"]
    assert store.get_digest(digest_key("C1", SLOT))["message_ts"] == landed[0]["ts"]
    assert landed[0]["metadata"] == digest_metadata(digest_key("C1", SLOT))


def test_timeout_after_the_message_landed_does_not_post_a_second_time(store, slack_fake, poster):
    slack_fake.script("chat.postMessage", delay=1.6, process=True)  # client timeout is 1 s
    out = deliver(store, ChannelConfig("C1"), make_digest("C1"), poster, SLOT)
    assert out.status == "posted" and len(top_level(slack_fake, "C1")) == 1
    assert out.ts == top_level(slack_fake, "C1")[0]["ts"]


def test_connection_reset_before_processing_is_retried(store, slack_fake, poster):
    slack_fake.script("chat.postMessage", reset=True)
    out = deliver(store, ChannelConfig("C1"), make_digest("C1"), poster, SLOT)
    assert out.status == "posted" and len(top_level(slack_fake, "C1")) == 1
    assert len(slack_fake.calls_to("chat.postMessage")) == 2


def test_5xx_every_time_fails_cleanly_and_releases_the_papers(store, slack_fake, poster):
    for _ in range(3):
        slack_fake.script("chat.postMessage", 500, {"ok": False, "error": "fatal_error"})
    out = deliver(store, ChannelConfig("C1"), make_digest("C1"), poster, SLOT)
    assert out.status == "failed" and out.error == "fatal_error"
    assert top_level(slack_fake, "C1") == []
    assert store.sent_paper_ids("C1") == set()  # they go into the next digest
    # the next run (the fault is gone) posts it
    again = deliver(store, ChannelConfig("C1"), make_digest("C1"), poster, SLOT)
    assert again.status == "posted" and len(top_level(slack_fake, "C1")) == 1


def test_a_refused_connection_fails_cleanly_and_releases_the_papers(store):
    """Nothing listens at the Web API URL: the request never left, so the digest is failed (not
    left pending for a history check that cannot succeed either) and its papers go to the next
    digest; the error says why."""
    url = f"http://127.0.0.1:{closed_loopback_port()}/api/"
    poster = SlackPoster(make_client(TOKEN, url, max_retries=1, timeout=1), interval_s=0, sleep=lambda s: None)
    out = deliver(store, ChannelConfig("C1"), make_digest("C1"), poster, SLOT)
    assert out.status == "failed" and out.error.startswith("cannot reach Slack:") and "refused" in out.error
    row = store.get_digest(digest_key("C1", SLOT))
    assert row["status"] == "failed" and row["error"] == out.error
    assert store.sent_paper_ids("C1") == set()


def test_history_5xx_is_retried_by_the_client(store, slack_fake, poster):
    """conversations.history is read-only, so the client retries its 5xx itself."""
    slack_fake.script("chat.postMessage", 503, raw=HTML_503)
    slack_fake.script("conversations.history", 503, raw=HTML_503)
    out = deliver(store, ChannelConfig("C1"), make_digest("C1"), poster, SLOT)
    assert out.status == "posted" and len(slack_fake.calls_to("conversations.history")) == 2
    assert len(top_level(slack_fake, "C1")) == 1


def test_unreadable_history_leaves_the_digest_pending_and_never_double_posts(store, slack_fake, poster):
    slack_fake.script("chat.postMessage", 503, raw=HTML_503, process=True)
    slack_fake.script("conversations.history", 200, {"ok": False, "error": "missing_scope"})
    out = deliver(store, ChannelConfig("C1"), make_digest("C1"), poster, SLOT)
    assert out.status == "uncertain" and "could not be read" in out.error and "missing_scope" in out.error
    assert store.get_digest(digest_key("C1", SLOT))["status"] == "pending"
    # next run: the history is readable again → the landed message is found and recorded
    again = deliver(store, ChannelConfig("C1"), make_digest("C1"), poster, SLOT)
    landed = top_level(slack_fake, "C1")
    assert again.status == "skipped-duplicate" and len(landed) == 1
    assert store.get_digest(digest_key("C1", SLOT))["message_ts"] == landed[0]["ts"]


def test_pending_intent_whose_message_never_went_out_is_posted(store, slack_fake, poster):
    """A crash after the intent and before chat.postMessage: nothing may be lost."""
    digest = make_digest("C1")
    store.begin_digest(digest_key("C1", SLOT), "C1", SLOT, [(r.paper.arxiv_id, r.score, r.why) for r in digest.items])
    out = deliver(store, ChannelConfig("C1"), digest, poster, SLOT)
    assert out.status == "posted" and len(top_level(slack_fake, "C1")) == 1
    row = store.get_digest(digest_key("C1", SLOT))
    assert row["status"] == "posted" and row["message_ts"] == out.ts


def test_pending_intent_whose_message_is_in_the_channel_is_recorded_not_reposted(store, slack_fake, poster):
    """A crash after chat.postMessage and before the ts was recorded."""
    digest = make_digest("C1")
    key = digest_key("C1", SLOT)
    store.begin_digest(key, "C1", SLOT, [(r.paper.arxiv_id, r.score, r.why) for r in digest.items])
    ts = poster.post_message("C1", digest.summary, [], metadata=digest_metadata(key))
    poster.post_message("C1", "someone else's message")
    out = deliver(store, ChannelConfig("C1"), digest, poster, SLOT)
    assert out.status == "skipped-duplicate" and out.ts == ts
    assert len(slack_fake.calls_to("chat.postMessage")) == 2  # no third post
    assert store.get_digest(key)["message_ts"] == ts


def test_two_workers_racing_for_one_slot_post_once(store, slack_fake, poster):
    """E.g. a scheduled run and a catch-up run firing together (each on its own thread)."""
    import threading

    barrier = threading.Barrier(4)
    outcomes = []

    def work():
        barrier.wait()
        outcomes.append(deliver(store, ChannelConfig("C1"), make_digest("C1"), poster, SLOT).status)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(top_level(slack_fake, "C1")) == 1
    assert sorted(outcomes).count("posted") == 1 and len(outcomes) == 4


def test_pending_intents_of_earlier_slots_are_settled_by_the_next_delivery(store, slack_fake, poster):
    """The scheduler path calls deliver without a separate recovery step: a crash left yesterday's
    digest pending (posted) and the day before's pending (never posted)."""
    landed_key, lost_key = digest_key("C1", "2026-08-23"), digest_key("C1", "2026-08-22")
    store.begin_digest(lost_key, "C1", "2026-08-22", [("2608.20001", 0.4, "w")])
    store.begin_digest(landed_key, "C1", "2026-08-23", [("2608.20002", 0.4, "w")])
    ts = poster.post_message("C1", "yesterday", [], metadata=digest_metadata(landed_key))
    out = deliver(store, ChannelConfig("C1"), make_digest("C1"), poster, SLOT)
    assert out.status == "posted"
    assert store.get_digest(landed_key)["status"] == "posted" and store.get_digest(landed_key)["message_ts"] == ts
    assert store.get_digest(lost_key)["status"] == "failed"
    assert "2608.20001" not in store.sent_paper_ids("C1")  # released: offered again next time
    assert "2608.20002" in store.sent_paper_ids("C1")


def test_pending_dm_digest_is_found_in_the_dm_channel(store, slack_fake, poster):
    """A personal digest is posted to a user id and lands in a D… channel: the check must read
    the DM channel's history, not the user id's."""
    digest = make_digest("U7")
    key = digest_key("U7", SLOT)
    store.begin_digest(key, "U7", SLOT, [(r.paper.arxiv_id, r.score, r.why) for r in digest.items])
    ts = poster.post_message("U7", digest.summary, [], metadata=digest_metadata(key))
    out = deliver(store, ChannelConfig("U7"), digest, poster, SLOT)
    assert out.status == "skipped-duplicate" and out.ts == ts and len(slack_fake.posted("D7")) == 1
    assert slack_fake.calls_to("conversations.history")[0]["args"]["channel"] == "D7"


def test_a_thread_reply_failure_keeps_the_digest_posted(store, slack_fake, poster):
    """Overflow replies failing after the main message must not make the digest look unposted."""
    from bot.blocks import digest_blocks

    digest = make_digest("C1", n=40)
    assert digest_blocks(digest)[1], "needs overflow papers for this test"
    slack_fake.script("chat.postMessage")  # main message ok
    slack_fake.script("chat.postMessage", 200, {"ok": False, "error": "msg_too_long"})
    out = deliver(store, ChannelConfig("C1"), digest, poster, SLOT)
    assert out.status == "posted" and "thread reply failed" in out.error
    assert store.get_digest(digest_key("C1", SLOT))["status"] == "posted"
    assert deliver(store, ChannelConfig("C1"), digest, poster, SLOT).status == "skipped-duplicate"


def test_papers_of_a_failed_thread_reply_are_released_to_the_next_digest(store, slack_fake, poster):
    """Main message and first reply land, the second reply fails: exactly the papers of the failed
    reply and any later one leave the digest record (so the next digest offers them again); the
    papers Slack shows stay recorded (reactions and 👍 on them still map)."""
    from bot.blocks import digest_blocks, overflow_blocks

    digest = make_digest("C1", n=80)
    shown, overflow = digest_blocks(digest)
    replies = overflow_blocks(overflow, 1)
    assert len(replies) >= 3, "needs three thread replies for this test"
    in_first = sum(1 for b in replies[0] if b["type"] == "section")
    slack_fake.script("chat.postMessage", passthrough=True)  # main message
    slack_fake.script("chat.postMessage", passthrough=True)  # first reply
    slack_fake.script("chat.postMessage", 200, {"ok": False, "error": "msg_too_long"})  # second reply
    out = deliver(store, ChannelConfig("C1"), digest, poster, SLOT)
    assert out.status == "posted" and "thread reply failed" in out.error

    posted_ids = [r.paper.arxiv_id for r in digest.items[:len(digest.items) - len(overflow) + in_first]]
    released = [r.paper.arxiv_id for r in overflow[in_first:]]
    row = store.get_digest(digest_key("C1", SLOT))
    assert row["status"] == "posted" and row["paper_count"] == len(posted_ids)
    assert store.digest_paper_ids(row["id"]) == posted_ids
    sent = store.sent_paper_ids("C1")
    assert set(posted_ids) <= sent and not (set(released) & sent)
    # Slack really holds the main message and one reply, nothing of the released papers
    texts = " ".join(str(m.get("blocks")) for m in slack_fake.posted("C1"))
    assert all(pid in texts for pid in posted_ids) and not any(pid in texts for pid in released)


# ---- clear errors, once, and other channels go on ---------------------------------------------
def _three_channel_config(tmp_path):
    return load_config(_write_config(tmp_path, more_channels=[dict(id=cid, collections=["rlhf_code"], max_papers=3)
                                                               for cid in ("C0OUT", "C0OK")]))


def test_channel_errors_are_reported_once_and_other_channels_go_on(tmp_path, slack_fake, monkeypatch, caplog):
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_API_URL", slack_fake.url)
    cfg = _three_channel_config(tmp_path)
    slack_fake.script("chat.postMessage", 200, {"ok": False, "error": "channel_not_found"})
    slack_fake.script("chat.postMessage", 200, {"ok": False, "error": "not_in_channel"})
    store = Store(cfg.database)
    with caplog.at_level(logging.WARNING):
        report = run_once(cfg, store, today=date(2026, 8, 24))
    got = {d.channel_id: d for d in report.deliveries}
    assert got["C0RLCODE"].status == "failed" and got["C0RLCODE"].error == "channel_not_found"
    assert "was not found" in got["C0RLCODE"].detail
    assert got["C0OUT"].status == "failed" and "/invite @paperbot" in got["C0OUT"].detail
    assert got["C0OK"].status == "posted" and len(top_level(slack_fake, "C0OK")) == 1
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert sum("C0RLCODE" in m and "not found" in m for m in errors) == 1
    assert sum("C0OUT" in m and "/invite" in m for m in errors) == 1
    assert len(slack_fake.calls_to("chat.postMessage")) == 3  # refusals are not retried
    assert store.sent_paper_ids("C0RLCODE") == set()  # papers wait for the next digest


def test_invalid_auth_is_reported_once_and_stops_further_calls(tmp_path, slack_fake, monkeypatch, caplog):
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_API_URL", slack_fake.url)
    cfg = _three_channel_config(tmp_path)
    slack_fake.script("chat.postMessage", 200, {"ok": False, "error": "invalid_auth"})
    with caplog.at_level(logging.WARNING):
        report = run_once(cfg, Store(cfg.database), today=date(2026, 8, 24))
    assert [d.status for d in report.deliveries] == ["failed", "failed", "failed"]
    assert all(d.error == "invalid_auth" for d in report.deliveries)
    assert "check the token" in report.deliveries[0].detail
    assert report.deliveries[1].detail.startswith("not attempted: ")
    assert len(slack_fake.calls_to("chat.postMessage")) == 1
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR and "posting digest" in r.getMessage()]
    assert len(errors) == 1


# ---- the token never appears ------------------------------------------------------------------
def test_token_never_appears_in_logs_errors_or_output(tmp_path, slack_fake, monkeypatch, caplog):
    """Faults that make libraries talk (429, 5xx, resets, refusals) with DEBUG logging on for every
    logger: the token must not show in any log record, exception text or outcome."""
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_API_URL", slack_fake.url)
    cfg = _three_channel_config(tmp_path)
    slack_fake.script("chat.postMessage", 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "0"})
    slack_fake.script("chat.postMessage", 503, raw=HTML_503)
    slack_fake.script("chat.postMessage", reset=True)
    slack_fake.script("chat.postMessage", 200, {"ok": False, "error": "not_in_channel"})
    with caplog.at_level(logging.DEBUG):
        poster = SlackPoster(make_client(TOKEN, slack_fake.url, max_retries=2, timeout=1), 0, sleep=lambda s: None)
        report = run_once(cfg, Store(cfg.database), poster=poster, today=date(2026, 8, 24))
    assert slack_fake.calls_to("chat.postMessage")[0]["headers"]["Authorization"] == f"Bearer {TOKEN}"
    # 429 → retried; 503 and reset → history checked, retried; then a refusal: channel 1 failed
    assert [(d.status, d.error) for d in report.deliveries] == [("failed", "not_in_channel"), ("posted", None),
                                                                ("posted", None)]
    texts = [caplog.text] + [repr(d) for d in report.deliveries]
    texts += [r.exc_text or "" for r in caplog.records]
    assert any("slack_sdk" in r.name for r in caplog.records)  # the library did log at DEBUG
    for text in texts:
        assert TOKEN not in text and "SECRET-123" not in text


def test_cli_log_lines_are_redacted_even_when_a_library_logs_the_token(tmp_path):
    """The CLI's log handler masks Slack tokens whoever logs them (defence in depth)."""
    code = ("import logging, sys\n"
            "from paperbot.cli import _setup_logging\n"
            "_setup_logging(True)\n"
            "logging.getLogger('some.library').warning('auth header Bearer %s', 'xoxb-SECRET-123')\n"
            "try:\n    raise RuntimeError('token xapp-1-SECRET-9 rejected')\n"
            "except RuntimeError:\n    logging.getLogger('x').exception('failed')\n")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("SLACK_")},
           "PYTHONPATH": os.path.dirname(os.path.dirname(os.path.abspath(__file__)))}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert "auth header Bearer [redacted]" in res.stderr and "token [redacted] rejected" in res.stderr
    assert "SECRET" not in res.stderr


def test_only_abandoned_intents_are_settled():
    """A pending row is a crash's leftover only when no live worker can still be posting it."""
    import subprocess as sp

    import psutil

    from paperbot.recovery import LEASE_S, in_flight, is_abandoned, owner_id

    now = "2026-08-24T09:00:00+00:00"
    live = sp.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        host = owner_id().split(":")[0]
        live_owner = f"{host}:{live.pid}:{psutil.Process(live.pid).create_time():.3f}"
        assert not is_abandoned({"owner": live_owner, "digest_key": "k", "created_at": now})
        assert is_abandoned({"owner": f"{host}:{live.pid}:1.000", "digest_key": "k", "created_at": now})  # pid reused
    finally:
        live.kill()
        live.wait()
    assert is_abandoned({"owner": live_owner, "digest_key": "k", "created_at": now})  # owner died
    assert is_abandoned({"owner": None, "digest_key": "k", "created_at": now})
    me = {"owner": owner_id(), "digest_key": "C1:x", "created_at": now}
    assert is_abandoned(me)
    with in_flight("C1:x"):
        assert not is_abandoned(me)
    other_host = {"owner": "elsewhere:1:1.0", "digest_key": "k", "created_at": now}
    created = 1787562000.0  # 2026-08-24T09:00:00Z
    assert not is_abandoned(other_host, now=created + 60)
    assert is_abandoned(other_host, now=created + LEASE_S + 1)


def test_settling_a_pending_digest_when_the_history_cannot_be_read_leaves_it_pending(store, slack_fake, poster):
    """`paperbot digests check` / a run's recovery: a refused history read (missing scope) or an
    unreachable Slack gives "uncertain" with the reason; the digest stays pending and its papers
    stay reserved, so nothing is posted twice."""
    from paperbot.recovery import UNCERTAIN, resolve_pending

    key = digest_key("C1", "2026-08-21")
    store.begin_digest(key, "C1", "2026-08-21", [("2608.30001", 0.4, "w")])
    slack_fake.script("conversations.history", 200, {"ok": False, "error": "missing_scope"})
    outcome, reason = resolve_pending(store, poster, store.get_digest(key))
    assert outcome == UNCERTAIN and "cannot read the history of C1" in reason and "scope" in reason
    down = SlackPoster(make_client(TOKEN, f"http://127.0.0.1:{closed_loopback_port()}/api/", max_retries=0,
                                   timeout=1), interval_s=0, sleep=lambda s: None)
    outcome, reason = resolve_pending(store, down, store.get_digest(key))
    assert outcome == UNCERTAIN and reason.startswith(f"cannot reach Slack to check whether digest {key}")
    assert store.get_digest(key)["status"] == "pending"
    assert "2608.30001" in store.sent_paper_ids("C1")  # still reserved: not offered again yet
    # the history is readable again and holds no such message → released to the next digest
    outcome, _ = resolve_pending(store, poster, store.get_digest(key))
    assert outcome == "released" and store.get_digest(key)["status"] == "failed"
    assert "2608.30001" not in store.sent_paper_ids("C1")


# ---- answers after which the post may have landed; crashes between a digest's messages --------
def _fail_thread_replies(poster, exc: BaseException) -> None:
    """Make `poster` raise `exc` for every thread reply; main messages post normally."""
    real = poster.post_message

    def post_message(channel, text, blocks=None, thread_ts=None, metadata=None):
        if thread_ts:
            raise exc
        return real(channel, text, blocks, thread_ts, metadata)

    poster.post_message = post_message


def _shown_ids(slack_fake, channel):
    return [b["block_id"][6:] for m in slack_fake.posted(channel) for b in (m.get("blocks") or [])
            if str(b.get("block_id", "")).startswith("paper:")]


@pytest.mark.parametrize("code", ["internal_error", "fatal_error"])
def test_an_error_answer_after_which_the_message_landed_is_not_posted_twice(store, slack_fake, poster, code):
    """chat.postMessage's docs on internal_error / fatal_error: "It's possible some aspect of the
    operation succeeded". Read as a clear refusal, the digest was marked failed and the next
    run posted it a second time."""
    slack_fake.script("chat.postMessage", 200, {"ok": False, "error": code}, process=True)
    out = deliver(store, ChannelConfig("C1"), make_digest("C1"), poster, SLOT)
    assert out.status == "posted" and len(top_level(slack_fake, "C1")) == 1
    assert store.get_digest(digest_key("C1", SLOT))["message_ts"] == top_level(slack_fake, "C1")[0]["ts"]
    again = deliver(store, ChannelConfig("C1"), make_digest("C1"), poster, SLOT)
    assert again.status == "skipped-duplicate" and len(top_level(slack_fake, "C1")) == 1


def test_an_error_answer_before_the_message_landed_is_checked_then_posted_once(store, slack_fake, poster):
    slack_fake.script("chat.postMessage", 200, {"ok": False, "error": "internal_error"})
    out = deliver(store, ChannelConfig("C1"), make_digest("C1"), poster, SLOT)
    assert out.status == "posted" and len(top_level(slack_fake, "C1")) == 1
    assert len(slack_fake.calls_to("conversations.history")) == 1


def test_a_history_longer_than_the_pages_read_leaves_the_digest_pending(store, slack_fake, poster):
    """The keyed message may sit beyond the last page read: "not found" must not be concluded (it
    used to release the digest, and the next delivery posted it a second time)."""
    from paperbot.recovery import UNCERTAIN, recover_channel
    key = digest_key("C1", SLOT)
    store.claim_digest(key, "C1", SLOT, [("2608.10000", 0.5, "w")], owner=None)  # a crashed run's intent
    import time
    slack_fake.messages["C1"] = [{"ts": f"{time.time():.6f}", "text": "d", "metadata": digest_metadata(key)}]
    for i in range(20):  # a busy channel: every page says there is more
        slack_fake.script("conversations.history", 200, {
            "ok": True, "has_more": True, "messages": [{"ts": f"{99 - i}.0", "text": "chatter"}],
            "response_metadata": {"next_cursor": f"c{i}"}})
    [(outcome, reason)] = recover_channel(store, poster, "C1")
    assert outcome == UNCERTAIN and "4000 messages" in reason
    assert store.get_digest(key)["status"] == "pending" and store.sent_paper_ids("C1") == {"2608.10000"}
    out = deliver(store, ChannelConfig("C1"), make_digest("C1"), poster, SLOT)  # history readable again
    assert out.status == "skipped-duplicate" and len(top_level(slack_fake, "C1")) == 1


def test_a_crash_between_the_main_message_and_its_thread_replies_loses_no_paper(store, slack_fake, poster):
    """The process dies after the main message, before any reply: the papers meant for the thread
    were never shown, so they must not stay counted as sent (they were excluded from every later
    digest)."""
    digest = make_digest("C1", 30)
    _fail_thread_replies(poster, SystemExit("killed"))
    with pytest.raises(SystemExit):
        deliver(store, ChannelConfig("C1", max_papers=30), digest, poster, SLOT)
    shown = _shown_ids(slack_fake, "C1")
    assert 0 < len(shown) < 30
    assert store.sent_paper_ids("C1") == set(shown)
    assert store.get_digest(digest_key("C1", SLOT))["status"] == "posted"


def test_a_crash_before_the_main_message_was_recorded_releases_the_thread_papers(store, slack_fake, poster):
    """The main message landed but the process died before recording it (row still pending):
    recovery finds it in the history, records it, and releases the papers only the thread would
    have shown."""
    from paperbot.recovery import POSTED, recover_channel
    digest = make_digest("C1", 30)
    key = digest_key("C1", SLOT)
    store.claim_digest(key, "C1", SLOT, [(r.paper.arxiv_id, r.score, "w") for r in digest.items], owner=None)
    poster.post_message("C1", digest.summary, __import__("bot.blocks").blocks.digest_blocks(digest)[0],
                        metadata=digest_metadata(key))
    [(outcome, ts)] = recover_channel(store, poster, "C1")
    assert outcome == POSTED and ts == top_level(slack_fake, "C1")[0]["ts"]
    shown = _shown_ids(slack_fake, "C1")
    assert 0 < len(shown) < 30 and store.sent_paper_ids("C1") == set(shown)
    assert store.get_digest(key)["paper_count"] == len(shown)


def test_a_thread_reply_that_landed_but_timed_out_is_found_in_the_thread(store, slack_fake):
    """The reply reached Slack but the client timed out: it is looked up in the thread (replies
    carry their own key) instead of being counted as unposted and repeated in the next digest."""
    poster = SlackPoster(make_client(TOKEN, slack_fake.url, max_retries=0, timeout=1), interval_s=0,
                         sleep=lambda s: None)
    slack_fake.script("chat.postMessage", passthrough=True)  # main message
    slack_fake.script("chat.postMessage", delay=2, process=True)  # the reply lands; the client times out
    out = deliver(store, ChannelConfig("C1", max_papers=30), make_digest("C1", 30), poster, SLOT)
    assert out.status == "posted" and out.error is None
    shown = _shown_ids(slack_fake, "C1")
    assert len(shown) == 30 and store.sent_paper_ids("C1") == set(shown)
    assert len(slack_fake.calls_to("conversations.replies")) == 1
    assert len(slack_fake.posted("C1")) == 2  # the reply was not posted again


def test_any_exception_in_a_thread_reply_hands_its_papers_to_the_next_digest(store, slack_fake, poster):
    """Not only Slack errors: a bug or a bad setting (an OverflowError from an infinite pacing
    interval) after the main message used to leave the thread's papers marked sent."""
    digest = make_digest("C1", 30)
    _fail_thread_replies(poster, OverflowError("timestamp out of range for platform time_t"))
    out = deliver(store, ChannelConfig("C1", max_papers=30), digest, poster, SLOT)
    assert out.status == "posted" and "OverflowError" in out.error
    shown = _shown_ids(slack_fake, "C1")
    assert store.sent_paper_ids("C1") == set(shown) and len(shown) < 30
