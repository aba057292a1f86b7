"""Fault suite — the long-running bot: `paperbot serve`'s service and scheduler after a crash,
at a restart, across clock changes. The real bolt app and service run against the Slack fake
(tests/bot_harness.py); a crash is a digest intent left ``pending`` by a process that is gone."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone

import pytest

from bot.posting import digest_metadata
from bot.scheduler import slot_name
from paperbot.config import ChannelConfig
from paperbot.digests import channel_digest
from paperbot.recovery import digest_key
from tests.bot_harness import BotServer, make_config, seed_store, wait_for


@pytest.fixture
def seeded(store):
    seed_store(store)
    return store


def dead_owner() -> str:
    """The intent owner of a process that has exited (what a SIGKILLed `paperbot serve` leaves)."""
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return f"{socket.gethostname()}:{int(proc.stdout)}:0.000"


def crash_after_intent(store, service, channel: ChannelConfig, slot: str) -> list[str]:
    """Record the intent of `channel`'s digest for `slot` as a process killed before
    chat.postMessage leaves it; returns the arXiv ids it meant to post."""
    digest = channel_digest(channel, store, service.model(), date.today())
    store.claim_digest(digest_key(channel.id, slot), channel.id, slot,
                       [(r.paper.arxiv_id, r.score, r.why) for r in digest.items], owner=dead_owner())
    return [r.paper.arxiv_id for r in digest.items]


def shown(message: dict) -> list[str]:
    return [b["block_id"][len("paper:"):] for b in message["blocks"] if b.get("block_id", "").startswith("paper:")]


def test_papers_of_a_digest_interrupted_before_posting_are_in_the_next_digest(tmp_path, seeded, slack_fake,
                                                                               monkeypatch):
    """The pending intent is settled (not in the history → released) before the next digest is
    built: settled after, its papers were still counted as sent while ranking, so the next digest
    left them out and they waited one more digest — a weekly channel lost them to the window."""
    ch = ChannelConfig(id="C2", name="#rl", collections=["rlhf_code"], max_papers=5)
    with BotServer(make_config(tmp_path, [ch]), seeded, slack_fake, monkeypatch) as bot:
        intended = crash_after_intent(seeded, bot.service, ch, "2026-11-20T09:00+00:00")
        out = bot.service.run_channel_digest("C2", "2026-11-23T09:00+00:00")
    assert out.status == "posted"
    assert seeded.get_digest(digest_key("C2", "2026-11-20T09:00+00:00"))["status"] == "failed"
    (message,) = slack_fake.posted("C2")
    assert shown(message) == intended


def test_a_restart_catches_up_a_slot_whose_digest_was_interrupted_before_posting(tmp_path, seeded, slack_fake,
                                                                                  monkeypatch):
    """Killed between the intent and chat.postMessage, then restarted within the grace period:
    the slot was missed, so it is caught up (the intent settled, then posted once, its papers
    included) — a pending row used to count as delivered, so nothing went out until the next slot."""
    now = datetime.now(timezone.utc) - timedelta(minutes=5)
    ch = ChannelConfig(id="C2", name="#rl", collections=["rlhf_code"], max_papers=5,
                       schedule=f"{now.minute} {now.hour} * * *")
    slot = slot_name(now.replace(second=0, microsecond=0))
    with BotServer(make_config(tmp_path, [ch]), seeded, slack_fake, monkeypatch, grace_s=3600) as bot:
        intended = crash_after_intent(seeded, bot.service, ch, slot)
        assert bot.service.scheduler.start() == ["C2"]
        wait_for(lambda: seeded.get_digest(digest_key("C2", slot))["status"] == "posted", what="caught-up digest")
    (message,) = slack_fake.posted("C2")
    assert shown(message) == intended


def test_a_restart_records_a_digest_that_landed_before_the_crash_and_posts_nothing(tmp_path, seeded, slack_fake,
                                                                                    monkeypatch):
    now = datetime.now(timezone.utc) - timedelta(minutes=5)
    ch = ChannelConfig(id="C2", name="#rl", collections=["rlhf_code"], max_papers=5,
                       schedule=f"{now.minute} {now.hour} * * *")
    slot = slot_name(now.replace(second=0, microsecond=0))
    with BotServer(make_config(tmp_path, [ch]), seeded, slack_fake, monkeypatch, grace_s=3600) as bot:
        crash_after_intent(seeded, bot.service, ch, slot)
        landed = bot.service.poster.post_message("C2", "digest", [], metadata=digest_metadata(digest_key("C2", slot)))
        bot.service.scheduler.start()
        wait_for(lambda: seeded.get_digest(digest_key("C2", slot))["status"] == "posted", what="settled digest")
        bot.service.scheduler.run_now("C2")
        time.sleep(0.5)
    assert seeded.get_digest(digest_key("C2", slot))["message_ts"] == landed
    assert len(slack_fake.calls_to("chat.postMessage")) == 1


def test_a_restart_in_the_hour_after_clocks_go_back_does_not_post_the_slot_again():
    """02:30 Europe/Paris happens at 00:30 and again at 01:30 UTC on 2026-10-25; both are one slot.
    Restarted at 02:45 UTC, the catch-up looked back 2 hours first, found only the repeat and
    took it for a new slot, not delivered: the channel got a second digest that night."""
    from bot.scheduler import DigestScheduler, Target, cron_trigger, latest_slot
    trig = cron_trigger("30 2 * * *", "Europe/Paris")
    for minute in (0, 45, 90, 119, 150, 179, 200):
        now = datetime(2026, 10, 25, 0, 45, tzinfo=timezone.utc) + timedelta(minutes=minute)
        assert slot_name(latest_slot(trig, now)) == "2026-10-25T00:30+00:00", now
        assert slot_name(latest_slot(trig, now, timedelta(hours=6))) == "2026-10-25T00:30+00:00", now
    runs: list[str] = []
    delivered = {"2026-10-25T00:30+00:00"}
    sched = DigestScheduler(lambda: [Target("C1", "30 2 * * *", "Europe/Paris", runs.append, delivered.__contains__)],
                            clock=lambda: datetime(2026, 10, 25, 2, 45, tzinfo=timezone.utc))
    sched.sync()
    assert sched.catch_up() == []
    assert runs == []


def test_sigterm_returns_only_after_the_start_up_poll_and_the_digest_in_flight_finish(tmp_path, seeded, slack_fake,
                                                                                      monkeypatch):
    """`paperbot serve` closes the store as soon as `serve` returns. `serve` returned at SIGTERM
    while the start-up poll and a digest were still running on other threads, so the close hit
    connections in use: about one SIGTERM in fifteen during the start-up poll ended in a
    segmentation fault inside sqlite (exit -11 instead of 0)."""
    import os
    import signal
    import threading

    import paperbot.service
    from paperbot.serve import serve

    now = datetime.now(timezone.utc) - timedelta(minutes=5)
    ch = ChannelConfig(id="C2", name="#rl", collections=["rlhf_code"], schedule=f"{now.minute} {now.hour} * * *")
    cfg = make_config(tmp_path, [ch])
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test-token")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "test-signing-secret-0123456789")
    monkeypatch.setenv("SLACK_API_URL", slack_fake.url)
    polled = threading.Event()

    def slow_poll(config, store, **kw):  # still polling at SIGTERM; the catch-up digest waits for it
        time.sleep(4)
        store.record_feed_success("slow", "file:///slow", 0)
        polled.set()
        return []

    monkeypatch.setattr(paperbot.service, "poll_all", slow_poll)
    slack_fake.script("chat.postMessage", delay=1, passthrough=True)
    previous = signal.getsignal(signal.SIGTERM)
    previous_int = signal.getsignal(signal.SIGINT)
    timer = threading.Timer(2.5, os.kill, [os.getpid(), signal.SIGTERM])
    timer.start()
    try:
        serve(cfg, seeded, "127.0.0.1", 0)
        # serve puts the handlers back (it ignores further signals only while it stops)
        assert signal.getsignal(signal.SIGINT) is previous_int and signal.getsignal(signal.SIGTERM) is previous
    finally:
        timer.cancel()
        signal.signal(signal.SIGTERM, previous)
    assert polled.is_set()
    slot = slot_name(now.replace(second=0, microsecond=0))
    assert seeded.get_digest(digest_key("C2", slot))["status"] == "posted"


def test_sigterm_during_the_start_up_curated_import_is_a_clean_stop(tmp_path, seeded, slack_fake, monkeypatch,
                                                                     caplog):
    """SIGTERM while `serve` was still importing the curated files (a big awesome list takes a
    while) escaped `serve` as KeyboardInterrupt: `paperbot serve` ended with "Aborted!" and exit
    status 1, as if it had crashed, and never logged "paperbot stopped". Now it is a stop like
    any other: nothing more starts (no poll, no scheduler) and `serve` returns."""
    import logging
    import os
    import signal

    import paperbot.service
    from paperbot.serve import serve

    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test-token")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "test-signing-secret-0123456789")
    monkeypatch.setenv("SLACK_API_URL", slack_fake.url)
    started = []
    monkeypatch.setattr(paperbot.service.PaperbotService, "start_background_poll",
                        lambda self: started.append("poll"))

    def import_interrupted(self):  # the signal arrives while the curated files are being imported
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler interrupts this at once
        started.append("import finished")

    monkeypatch.setattr(paperbot.service.PaperbotService, "import_curated", import_interrupted)
    previous = signal.getsignal(signal.SIGTERM)
    caplog.set_level(logging.INFO, logger="paperbot.serve")
    t0 = time.monotonic()
    try:
        serve(make_config(tmp_path), seeded, "127.0.0.1", 0)
    except KeyboardInterrupt:
        pytest.fail("SIGTERM during the curated import escaped serve() as KeyboardInterrupt")
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert time.monotonic() - t0 < 4 and started == []
    assert caplog.messages[-1] == "paperbot stopped"


def test_a_like_during_a_poll_keeps_the_arxiv_api_pacing(tmp_path, store, monkeypatch):
    """README: every arXiv API request starts ≥ 3 s after the previous one, one at a time. The bot
    had two clients, each with its own pacer — `/papers like` for an unknown paper used the
    service's, and every poll built a new one — so a like during a poll's API query sent a
    second request at once, while the first was still being answered."""
    import threading

    import paperbot.poll
    from feeds.arxiv_api import ArxivAPIClient
    from paperbot.config import ArxivQueryConfig, HFDailyConfig
    from paperbot.service import PaperbotService, ServiceError
    from tests.conftest import fixture_path
    from tests.fault_server import FaultServer, Step

    body = fixture_path("arxiv_api", "q_testing_s0_m100_cfe7536492ca.xml").read_bytes()
    with FaultServer() as srv:
        srv.route("/api/query", Step(body=body, delay=0.5))
        url = srv.url("/api/query")
        # a client built anywhere else (the poll's own, before this fix) also talks to the fake
        monkeypatch.setattr(paperbot.poll, "ArxivAPIClient",
                            lambda fetcher=None: ArxivAPIClient(fetcher, url=url, min_interval=1.0))
        cfg = make_config(tmp_path)
        cfg.arxiv_queries = [ArxivQueryConfig(name="q", query="cat:cs.SE", max_results=100)]
        cfg.hf_daily = HFDailyConfig(enabled=False)
        service = PaperbotService(cfg, store, poster=None, arxiv=ArxivAPIClient(url=url, min_interval=1.0))
        poll = threading.Thread(target=service.poll)
        poll.start()
        time.sleep(0.1)  # the poll's API query is on the wire
        with pytest.raises(ServiceError):  # the fake's answer does not hold this id
            service.ensure_paper("1707.08567")
        poll.join()
        starts = [r["at"] for r in srv.requests_to("/api/query")]
    assert len(starts) == 2 and srv.max_in_flight == 1
    assert starts[1] - starts[0] >= 0.99


def test_a_like_waiting_for_its_arxiv_api_turn_at_shutdown_answers_at_once(tmp_path, store):
    """A `/papers like` of an unknown paper waits its turn behind the arXiv API's 3 s pacing; once
    `paperbot serve` begins to shut down it gives up at once with a clear answer instead of
    fetching, and `paperbot serve`'s own client (built by `paperbot.serve.build`) is stoppable."""
    import threading

    from feeds.arxiv_api import ArxivAPIClient
    from feeds.http import Fetcher, stoppable_sleep
    from paperbot.service import PaperbotService, ServiceError
    from tests.conftest import fixture_path
    from tests.fault_server import FaultServer, Step

    body = fixture_path("arxiv_api", "q_testing_s0_m100_cfe7536492ca.xml").read_bytes()
    stop = threading.Event()
    sleep = stoppable_sleep(stop)
    with FaultServer() as srv:
        srv.route("/api/query", Step(body=body))
        client = ArxivAPIClient(Fetcher(sleep=sleep), url=srv.url("/api/query"), min_interval=3.0, sleep=sleep)
        service = PaperbotService(make_config(tmp_path), store, poster=None, arxiv=client, stopping=stop)
        with pytest.raises(ServiceError, match="arXiv has no paper"):  # fetched: not in the fake's answer
            service.ensure_paper("1707.08567")
        service.begin_shutdown()
        with pytest.raises(ServiceError, match="shutting down"):  # its turn was 3 s away
            service.ensure_paper("1707.06347")
        assert len(srv.requests_to("/api/query")) == 1


def test_a_restart_does_not_catch_up_a_slot_that_fell_before_the_channel_subscribed(tmp_path, seeded, slack_fake):
    """A channel created with `/papers subscribe` at 10:00 had no 09:00 digest to miss: a restart
    at 11:00 posted it anyway. A config-file channel on the same schedule is still caught up."""
    from paperbot.service import PaperbotService

    now = datetime.now(timezone.utc) - timedelta(minutes=5)
    schedule = f"{now.minute} {now.hour} * * *"
    ch = ChannelConfig(id="C2", name="#rl", collections=["rlhf_code"], schedule=schedule)
    service = PaperbotService(make_config(tmp_path, [ch]), seeded, poster=None, poll_max_age_s=None, grace_s=3600)
    service.subscribe("C9", "rlhf_code", is_channel=True, channel_name="new")  # now, after the slot
    seeded.upsert_channel("C9", schedule=schedule)  # as /papers digest schedule stores it
    assert sorted(t.key for t in service.targets()) == ["C2", "C9"]
    service.scheduler.sync()
    assert service.scheduler.catch_up() == ["C2"]


def test_a_restart_does_not_catch_up_a_slot_that_fell_before_a_channel_subscribed_again(tmp_path, seeded):
    """A channel created with `/papers subscribe` long ago that unsubscribed from everything had
    no digest at 09:00; subscribing again at 10:00 starts it anew. The catch-up limit was the
    row's first creation, so a restart at 11:00 posted the 09:00 digest it never had."""
    from paperbot.service import PaperbotService

    now = datetime.now(timezone.utc) - timedelta(minutes=5)
    schedule = f"{now.minute} {now.hour} * * *"
    long_ago = (now - timedelta(days=30)).isoformat(timespec="seconds")
    seeded.upsert_channel("C9", name="old", schedule=schedule, created_at=long_ago)
    service = PaperbotService(make_config(tmp_path), seeded, poster=None, poll_max_age_s=None, grace_s=3600)
    assert service.targets() == []  # it follows nothing: no digest at the slot
    service.subscribe("C9", "rlhf_code", True, "old")  # now, after the slot
    assert [t.key for t in service.targets()] == ["C9"]
    service.scheduler.sync()
    assert service.scheduler.catch_up() == []
    assert seeded.get_channel("C9")["created_at"] == long_ago  # the row itself is not re-created


def test_a_restart_does_not_catch_up_a_dm_slot_from_before_the_dm_digest_was_turned_on(tmp_path, seeded,
                                                                                       slack_fake):
    """`/papers digest dm on` at 10:00, a restart at 11:00: the 09:00 DM slot had nothing to miss."""
    from paperbot.service import PaperbotService

    now = datetime.now(timezone.utc) - timedelta(minutes=5)
    service = PaperbotService(make_config(tmp_path, []), seeded, poster=None, poll_max_age_s=None, grace_s=3600)
    for user in ("U1", "U2"):
        seeded.set_user_setting(user, "digest_schedule", f"{now.minute} {now.hour} * * *")
    seeded.set_user_setting("U1", "dm_digest", True)  # on before this change: no time stored, caught up
    service.set_dm_digest("U2", True)  # on now, after the slot
    service.set_dm_digest("U2", True)  # again: the time it was first turned on stays
    since = seeded.user_settings("U2")["dm_digest_since"]
    service.set_dm_digest("U2", True)
    assert seeded.user_settings("U2")["dm_digest_since"] == since
    service.scheduler.sync()
    assert service.scheduler.catch_up() == ["dm:U1"]


def test_serve_does_not_post_a_day_run_once_posted_under_a_date_key(tmp_path, seeded, slack_fake):
    """An older `paperbot run --once` (or one on a day its schedule did not fire) keyed the day's
    digest `C2:<date>`; the bot's slot of that day is then delivered, not posted again."""
    from paperbot.service import PaperbotService

    now = datetime.now(timezone.utc) - timedelta(minutes=5)
    ch = ChannelConfig(id="C2", name="#rl", collections=["rlhf_code"], schedule=f"{now.minute} {now.hour} * * *")
    service = PaperbotService(make_config(tmp_path, [ch]), seeded, poster=None, poll_max_age_s=None, grace_s=3600)
    slot = slot_name(now.replace(second=0, microsecond=0))
    assert not service.digest_done("C2", slot)
    day = now.date().isoformat()
    digest_id, _, _ = seeded.claim_digest(digest_key("C2", day), "C2", day, [("2608.00001", 0.5, "w")], owner="x")
    assert not service.digest_done("C2", slot)  # pending under the date key: not known to be posted
    seeded.finish_digest(digest_id, "1700000000.000100")
    assert service.digest_done("C2", slot)
    service.scheduler.sync()
    assert service.scheduler.catch_up() == []
