"""Transient failures while posting a digest: a TLS connection that breaks mid-answer, the
scheduler's retries of a slot whose digest failed for a reason that may pass, and the slot
``paperbot run --once`` keys a day's digest to (the one `paperbot serve` posts at).

Slack is the fake on 127.0.0.1 (tests/slack_fake.py) called by the real `slack_sdk.WebClient`.
"""
from __future__ import annotations

import ssl
import threading
import time
from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
import slack_sdk.web.base_client as slack_base_client

from bot.posting import SlackPoster
from bot.scheduler import (
    DigestScheduler,
    Target,
    cron_trigger,
    first_slot_on,
    latest_slot,
    next_retry,
    slot_name,
)
from bot.slack_client import make_client
from paperbot.channels import run_slot
from paperbot.config import ChannelConfig, load_config
from paperbot.pipeline import DeliveryOutcome, deliver, run_once
from paperbot.recovery import digest_key
from store import Store
from tests.bot_harness import BotServer, make_config, seed_store, wait_for
from tests.test_faults_slack import SLOT, TOKEN, make_digest, top_level
from tests.test_main_job import _write_config

# ---- a TLS connection broken while the answer is read -------------------------------------


def tls_eof_after(monkeypatch, method: str, times: int, process: bool) -> list[str]:
    """Make the next `times` calls of Web API `method` end in ``ssl.SSLEOFError`` as urllib raises
    it when a TLS connection closes while the answer is read (urllib wraps only errors raised
    while sending in URLError). With `process` the request reaches the fake first (the message
    lands: the ambiguous case), else it never does. Returns the methods that failed so."""
    real = slack_base_client.urlopen
    failed: list[str] = []

    def urlopen(req, *args, **kwargs):
        if req.full_url.rsplit("/", 1)[-1] == method and len(failed) < times:
            failed.append(method)
            if process:
                real(req, *args, **kwargs).read()
            raise ssl.SSLEOFError(8, "EOF occurred in violation of protocol (_ssl.c:2427)")
        return real(req, *args, **kwargs)

    monkeypatch.setattr(slack_base_client, "urlopen", urlopen)
    return failed


@pytest.fixture
def poster(slack_fake):
    return SlackPoster(make_client(TOKEN, slack_fake.url, max_retries=2, timeout=1), interval_s=0,
                       sleep=lambda s: None)


def test_a_tls_eof_after_the_message_landed_is_settled_from_the_history_not_posted_twice(
        store, slack_fake, poster, monkeypatch):
    """ssl.SSLError is an OSError but no ConnectionError: it escaped every handler, so `paperbot
    run --once` died mid-run with a traceback and the digest stayed pending."""
    failed = tls_eof_after(monkeypatch, "chat.postMessage", 1, process=True)
    out = deliver(store, ChannelConfig("C1"), make_digest("C1"), poster, SLOT)
    assert failed == ["chat.postMessage"]
    landed = top_level(slack_fake, "C1")
    assert out.status == "posted" and len(landed) == 1 and out.ts == landed[0]["ts"]
    assert len(slack_fake.calls_to("conversations.history")) == 1
    assert store.get_digest(digest_key("C1", SLOT))["message_ts"] == landed[0]["ts"]


def test_tls_eof_on_every_attempt_fails_the_digest_cleanly_and_it_is_retryable(store, slack_fake, poster,
                                                                                  monkeypatch):
    tls_eof_after(monkeypatch, "chat.postMessage", 3, process=False)
    out = deliver(store, ChannelConfig("C1"), make_digest("C1"), poster, SLOT)
    assert out.status == "failed" and out.error.startswith("cannot reach Slack:") and "EOF" in out.error
    assert out.retryable
    assert top_level(slack_fake, "C1") == [] and store.sent_paper_ids("C1") == set()  # to the next digest
    assert store.get_digest(digest_key("C1", SLOT))["status"] == "failed"


def test_a_tls_eof_in_one_channel_does_not_stop_run_once(tmp_path, slack_fake, monkeypatch):
    """The other channels are still posted; the broken one is reported failed with the reason."""
    cfg = load_config(two_channel_config(tmp_path))
    tls_eof_after(monkeypatch, "chat.postMessage", 3, process=False)  # every attempt of the first channel
    report = run_once(cfg, Store(cfg.database), poster=slack_poster(slack_fake), today=date(2026, 8, 24))
    first, second = report.deliveries
    assert first.channel_id == "C0RLCODE" and first.status == "failed" and "EOF" in first.error
    assert second.channel_id == "C1OTHER" and second.status == "posted"
    assert top_level(slack_fake, "C0RLCODE") == [] and len(top_level(slack_fake, "C1OTHER")) == 1


def two_channel_config(tmp_path):
    return _write_config(tmp_path, more_channels=[dict(id="C1OTHER", collections=["rlhf_code"], max_papers=3)])


def slack_poster(slack_fake) -> SlackPoster:
    return SlackPoster(make_client(TOKEN, slack_fake.url, max_retries=1, timeout=5), interval_s=0,
                       sleep=lambda s: None)


# ---- retries of a transiently failed slot -------------------------------------------------

def outcome(status: str, code: str | None = None) -> DeliveryOutcome:
    return DeliveryOutcome("C1", status, error="why", error_code=code)


def test_which_outcomes_are_retryable():
    assert outcome("failed").retryable  # unreachable Slack, an HTTP 5xx page
    assert outcome("failed", "ratelimited").retryable and outcome("failed", "internal_error").retryable
    assert outcome("uncertain").retryable  # the history could not be read: check again later
    assert not outcome("failed", "channel_not_found").retryable
    assert not outcome("failed", "invalid_auth").retryable
    assert not outcome("posted").retryable and not outcome("skipped-duplicate").retryable


def run_target(results: list, done: set[str], schedule: str = "0 9 * * *") -> tuple[Target, list[str]]:
    """A target whose n-th run returns results[n] (the last one from then on) and records its slot."""
    runs: list[str] = []

    def run(slot: str):
        runs.append(slot)
        return results[min(len(runs), len(results)) - 1]

    return Target("C1", schedule, "UTC", run, done.__contains__), runs


def drive(targets: list[Target], retry_delays: tuple[timedelta, ...], settle: float = 1.0) -> None:
    """Start a scheduler of `targets`, run C1's job now, wait until no retry job is left, stop."""
    sched = DigestScheduler(lambda: targets, retry_delays=retry_delays)
    sched.start(catch_up=False)
    try:
        sched.run_now("C1")
        deadline = time.monotonic() + 15
        time.sleep(0.2)
        while time.monotonic() < deadline:
            if not any(j.id.startswith("retry:") for j in sched.scheduler.get_jobs()):
                time.sleep(settle)  # a retry in flight may still add the next one
                if not any(j.id.startswith("retry:") for j in sched.scheduler.get_jobs()):
                    return
            time.sleep(0.05)
        raise AssertionError("retries did not settle")
    finally:
        sched.shutdown()


FAST = (timedelta(seconds=0.05),) * 4  # the scheduler tests below run on the real clock


def latest(schedule: str) -> str:
    return slot_name(latest_slot(cron_trigger(schedule, "UTC"), datetime.now(timezone.utc)))


def test_next_retry_follows_the_delays_and_stops_before_the_next_slot():
    daily = cron_trigger("0 9 * * *", "UTC")
    failed_at = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)
    assert [next_retry(daily, failed_at, n) for n in range(5)] == [
        failed_at + timedelta(minutes=m) for m in (1, 5, 15, 30)] + [None]
    hourly = cron_trigger("0 * * * *", "UTC")  # failed at 10:59:30: the 11:00 slot comes first
    assert next_retry(hourly, failed_at.replace(minute=59, second=30), 0) is None
    at_1040 = failed_at.replace(minute=40)
    assert next_retry(hourly, at_1040, 2) == failed_at.replace(minute=55)
    assert next_retry(hourly, at_1040, 3) is None  # 11:10 comes after the 11:00 slot


def test_a_transient_failure_is_retried_until_the_digest_is_posted(caplog):
    ok = SimpleNamespace(retryable=False)
    target, runs = run_target([outcome("failed"), outcome("uncertain"), ok], set())
    drive([target], retry_delays=FAST)
    assert runs == [latest("0 9 * * *")] * 3
    assert "failed (why); retry 1/4 at" in caplog.text and "retry 2/4 at" in caplog.text
    assert "retry 3/4" not in caplog.text


def test_retries_stop_after_the_last_delay_and_say_so(caplog):
    target, runs = run_target([outcome("failed")], set())
    drive([target], retry_delays=FAST)
    assert len(runs) == 5  # the run and four retries
    assert "still failing after 4 retries (why); its papers go to the next digest" in caplog.text


def test_a_refusal_is_not_retried_and_a_done_slot_is_not_run_again():
    target, runs = run_target([outcome("failed", "channel_not_found")], set())
    drive([target], retry_delays=FAST)
    assert runs == [latest("0 9 * * *")]

    done: set[str] = set()
    runs = []

    def run_then_land(slot):  # failed as far as this run knows, but the slot is settled meanwhile
        runs.append(slot)
        done.add(slot)
        return outcome("uncertain")

    drive([Target("C1", "0 9 * * *", "UTC", run_then_land, done.__contains__)], retry_delays=FAST)
    assert runs == [latest("0 9 * * *")]  # the retry checked `done` first


def test_no_retry_when_the_next_slot_comes_first(caplog):
    target, runs = run_target([outcome("failed")], set(), schedule="* * * * *")
    drive([target], retry_delays=(timedelta(minutes=2),))
    assert len(runs) == 1
    assert "not retried: the next slot (" in caplog.text and ") comes first" in caplog.text


def test_no_retry_is_scheduled_once_shutdown_has_begun():
    """A digest that fails while `paperbot serve` shuts down (SIGTERM) schedules no retry, and
    the shutdown, which waits for the digest in flight, returns."""
    entered, release = threading.Event(), threading.Event()
    runs: list[str] = []

    def run(slot):
        runs.append(slot)
        entered.set()
        release.wait(10)
        return outcome("failed")

    sched = DigestScheduler(lambda: [Target("C1", "0 9 * * *", "UTC", run, lambda s: False)], retry_delays=FAST)
    sched.start(catch_up=False)
    sched.run_now("C1")
    assert entered.wait(10)
    stopper = threading.Thread(target=sched.shutdown)
    stopper.start()
    time.sleep(0.3)  # shutdown has begun and waits for the digest in flight
    release.set()
    stopper.join(15)
    assert not stopper.is_alive()
    time.sleep(0.3)  # a retry (0.05 s) would have run by now
    assert len(runs) == 1
    assert not [j for j in sched.scheduler.get_jobs() if j.id.startswith("retry:")]


def test_no_retry_is_scheduled_once_the_shared_stopping_event_is_set_before_the_scheduler_stops():
    """`paperbot serve` begins its shutdown (`PaperbotService.begin_shutdown`: polls stop) before
    it stops the scheduler; a digest failing in between must schedule no retry, so the scheduler
    reads the same event."""
    stopping = threading.Event()
    runs: list[str] = []

    def run(slot):
        runs.append(slot)
        stopping.set()  # the service begins to shut down while this digest fails
        return outcome("failed")

    sched = DigestScheduler(lambda: [Target("C1", "0 9 * * *", "UTC", run, lambda s: False)], retry_delays=FAST,
                            stopping=stopping)
    sched.start(catch_up=False)
    try:
        sched.run_now("C1")
        wait_for(lambda: runs, timeout=10, what="the digest run")
        time.sleep(0.3)  # a retry (0.05 s) would have been scheduled and run by now
        assert len(runs) == 1
        assert not [j for j in sched.scheduler.get_jobs() if j.id.startswith("retry:")]
    finally:
        sched.shutdown()


def fail_once_then_change_targets(change, schedule: str = "0 9 * * *") -> list[str]:
    """Run target C1's latest slot (failing transiently, retried 1 s later), call
    ``change(targets, slot)`` — it may replace the list the scheduler syncs from — and sync, as
    `/papers digest off|on|schedule` does; returns the slots run once the retry had its time."""
    runs: list[str] = []

    def run(slot):
        runs.append(slot)
        return outcome("failed")

    targets = [Target("C1", schedule, "UTC", run, lambda s: False)]
    sched = DigestScheduler(lambda: list(targets), retry_delays=(timedelta(seconds=1),))
    sched.start(catch_up=False)
    try:
        sched.run_now("C1")
        wait_for(lambda: any(j.id == "retry:C1" for j in sched.scheduler.get_jobs()), timeout=10,
                 what="the retry job")
        change(targets, run, runs[0])
        sched.sync()
        time.sleep(1.8)  # the retry (1 s) has come by now
    finally:
        sched.shutdown()
    return runs


def test_a_retry_does_not_post_a_slot_that_fell_before_the_digest_was_resumed():
    """`/papers digest off` after the failure, `/papers digest on` before the retry: the retry
    posted the slot anyway, although a slot that fell before a resume is not caught up."""
    def pause_then_resume(targets, run, slot):
        targets.clear()  # off: the target is gone
        targets.append(Target("C1", "0 9 * * *", "UTC", run, lambda s: False,
                              since=datetime.now(timezone.utc)))  # on again

    assert fail_once_then_change_targets(pause_then_resume) == [latest("0 9 * * *")]


def test_a_retry_does_not_post_once_a_later_slot_of_a_changed_schedule_has_come():
    """The schedule changed between a failure and its retry (`/papers digest schedule`) and the
    new schedule's slot has come meanwhile (and carries the papers): the retry still posted the
    old slot, a second digest minutes after that one, because "before the next slot" was
    reckoned with the old schedule when the retry was planned."""
    now = datetime.now(timezone.utc)
    old, new = (f"{t.minute} {t.hour} * * *" for t in (now - timedelta(minutes=10), now - timedelta(minutes=5)))

    def reschedule(targets, run, slot):
        targets[:] = [Target("C1", new, "UTC", run, lambda s: False)]

    assert fail_once_then_change_targets(reschedule, schedule=old) == [latest(old)]


def serve_one_failing_slot(tmp_path, store, slack_fake, monkeypatch, error: str, until: str) -> None:
    """Run a channel's latest slot through the real service and scheduler (retries 0.2 s apart),
    chat.postMessage answering ``{"ok": false, "error": error}`` the first time; return once
    the slot's digest has status `until` and a retry would have come."""
    seed_store(store)
    now = datetime.now(timezone.utc) - timedelta(minutes=5)
    ch = ChannelConfig(id="C2", name="#rl", collections=["rlhf_code"], max_papers=5,
                       schedule=f"{now.minute} {now.hour} * * *")
    slack_fake.script("chat.postMessage", 200, {"ok": False, "error": error})
    slot = slot_name(now.replace(second=0, microsecond=0))
    with BotServer(make_config(tmp_path, [ch]), store, slack_fake, monkeypatch) as bot:
        bot.service.scheduler = DigestScheduler(bot.service.targets, retry_delays=(timedelta(seconds=0.2),) * 4)
        bot.service.scheduler.start(catch_up=False)
        bot.service.scheduler.run_now("C2")
        wait_for(lambda: (store.get_digest(digest_key("C2", slot)) or {}).get("status") == until,
                 what=f"digest {until}")
        time.sleep(1.0)  # a retry (0.2 s) would have come by now


def test_serve_retries_a_rate_limited_digest_and_posts_it_once(tmp_path, store, slack_fake, monkeypatch):
    """End to end through the real service: Slack answers ``ratelimited`` (after the client's
    own 429 retries) the first time; the retry posts the digest, once."""
    serve_one_failing_slot(tmp_path, store, slack_fake, monkeypatch, "ratelimited", until="posted")
    assert len(top_level(slack_fake, "C2")) == 1
    assert len(slack_fake.calls_to("chat.postMessage")) == 2


def test_serve_does_not_retry_a_refused_channel(tmp_path, store, slack_fake, monkeypatch):
    serve_one_failing_slot(tmp_path, store, slack_fake, monkeypatch, "channel_not_found", until="failed")
    assert len(slack_fake.calls_to("chat.postMessage")) == 1


# ---- the slot run --once keys a day's digest to ---------------------------------------------

def test_run_slot_is_the_days_first_scheduled_slot_in_the_channels_zone():
    weekdays = ChannelConfig("C1", schedule="30 8 * * mon-fri", timezone="Europe/Paris")
    assert run_slot(weekdays, date(2026, 11, 23)) == "2026-11-23T07:30+00:00"  # Monday 08:30 CET
    assert run_slot(weekdays, date(2026, 11, 22)) == "2026-11-22"  # Sunday: no slot, the date
    twice = ChannelConfig("C1", schedule="0 9,17 * * *", timezone="UTC")
    assert run_slot(twice, date(2026, 11, 22)) == "2026-11-22T09:00+00:00"
    assert first_slot_on(cron_trigger("0 9 * * *", "Asia/Tokyo"), date(2026, 11, 23), "Asia/Tokyo") \
        == datetime(2026, 11, 23, 0, 0, tzinfo=timezone.utc)
    # 2026-09-06 in Santiago has no midnight (00:00 → 01:00): serve does not fire a 00:00 schedule
    # that day, so the day has no slot (the run keys it by date) instead of a time that never was
    midnight = cron_trigger("0 0 * * *", "America/Santiago")
    assert latest_slot(midnight, datetime(2026, 9, 6, 12, 0, tzinfo=timezone.utc)).day == 5
    assert first_slot_on(midnight, date(2026, 9, 6), "America/Santiago") is None
    assert slot_name(first_slot_on(midnight, date(2026, 9, 7), "America/Santiago")) == "2026-09-07T03:00+00:00"


def test_run_once_and_serve_share_the_slot_so_the_day_is_posted_once(tmp_path, slack_fake, monkeypatch):
    """`paperbot run --once` from cron in the morning, `paperbot serve` at the channel's time:
    the run keyed its digest to the date and serve to the fire time, so the channel got the day
    twice. The schedule and time zone set from Slack count for both."""
    from paperbot.service import PaperbotService

    cfg = load_config(_write_config(tmp_path))
    store = Store(cfg.database)
    store.upsert_channel("C0RLCODE", schedule="30 8 * * mon-fri", timezone="Europe/Paris")  # /papers digest …
    day = date(2026, 8, 24)  # a Monday; 08:30 CEST is 06:30 UTC
    (d,) = run_once(cfg, store, poster=slack_poster(slack_fake), today=day).deliveries
    assert d.status == "posted"
    assert store.get_digest(digest_key("C0RLCODE", "2026-08-24T06:30+00:00"))["status"] == "posted"
    service = PaperbotService(cfg, store, slack_poster(slack_fake), poll_max_age_s=None)
    (target,) = service.targets()
    serve_slot = slot_name(latest_slot(target.trigger(), datetime(2026, 8, 24, 9, 0, tzinfo=timezone.utc)))
    assert serve_slot == "2026-08-24T06:30+00:00" and target.done(serve_slot)  # serve will not post it again
    again = run_once(cfg, store, poster=slack_poster(slack_fake), today=day).deliveries[0]
    assert again.status == "skipped-duplicate" and len(top_level(slack_fake, "C0RLCODE")) == 1


def test_run_once_does_not_repost_a_day_an_older_paperbot_posted_under_the_date_key(tmp_path, slack_fake):
    """Before slots, run --once keyed a day's digest ``<channel>:<date>``: the upgrade day must
    not get a second digest under the new slot key."""
    cfg = load_config(_write_config(tmp_path))
    store = Store(cfg.database)
    day = date(2026, 8, 24)
    legacy = digest_key("C0RLCODE", day.isoformat())
    digest_id, _, _ = store.claim_digest(legacy, "C0RLCODE", day.isoformat(), [("2608.00001", 0.5, "w")], owner="x")
    store.finish_digest(digest_id, "1700000000.000100")
    (d,) = run_once(cfg, store, poster=slack_poster(slack_fake), today=day).deliveries
    assert d.status == "skipped-duplicate" and d.ts == "1700000000.000100"
    assert slack_fake.calls_to("chat.postMessage") == []


def test_run_once_keys_each_channel_to_its_own_date(tmp_path, slack_fake):
    """A server in UTC at 20:00 is already at tomorrow 05:00 in Tokyo: the run built and keyed
    the Tokyo channel's digest for the server's date, a slot that had passed there, so on the
    first day it posted what `serve` then posted again for the Tokyo morning."""
    from paperbot.channels import channel_today

    evening = datetime(2026, 11, 22, 20, 0, tzinfo=timezone.utc)
    assert channel_today(ChannelConfig("C1", timezone="Asia/Tokyo"), evening) == date(2026, 11, 23)
    assert channel_today(ChannelConfig("C1", timezone="America/New_York"), evening) == date(2026, 11, 22)
    assert channel_today(ChannelConfig("C1", timezone="Not/AZone"), evening) == date(2026, 11, 22)

    cfg = load_config(_write_config(tmp_path))
    store = Store(cfg.database)
    # a zone whose date is not the UTC date right now: UTC+14 from 10:00 UTC on, else UTC-12
    zone = "Pacific/Kiritimati" if datetime.now(timezone.utc).hour >= 10 else "Etc/GMT+12"
    store.upsert_channel("C0RLCODE", schedule="0 9 * * *", timezone=zone)
    (d,) = run_once(cfg, store, poster=slack_poster(slack_fake)).deliveries  # no `today`: each channel's own
    assert d.status == "posted"
    ch = ChannelConfig("C0RLCODE", schedule="0 9 * * *", timezone=zone)
    assert channel_today(ch) != datetime.now(timezone.utc).date()
    assert store.get_digest(digest_key("C0RLCODE", run_slot(ch, channel_today(ch))))["status"] == "posted"
