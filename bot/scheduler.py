"""Scheduled digests: one APScheduler 3.x cron job per channel (and per DM digest user).

- Job ids are deterministic (``digest:<key>``) and added with ``replace_existing=True``, so a
  re-sync or a restart never duplicates a job.
- A run delivers the *slot* it belongs to: the most recent fire time of the job's cron trigger
  at or before now (`latest_slot`). The digest key is ``<key>:<slot>`` and the store's digest
  rows — not scheduler state — say whether a slot was delivered (`Target.done`), so a slot is
  posted at most once however many times its job runs.
- Catch-up: on `start`, each target whose latest slot lies within `grace_s` and has no digest
  row is run once (the process was down at 09:00), unless the slot came before the target's
  `Target.since` (its digest was paused then); a paused channel is no target at all.
  APScheduler's own ``misfire_grace_time`` and ``coalesce=True`` cover a busy/paused scheduler
  while the process is up
  (https://apscheduler.readthedocs.io/en/3.x/userguide.html#missed-job-executions-and-coalescing).
- Per-key locks make a catch-up run and a regular run of the same slot serialise.
- Crontabs mean what they mean to cron: APScheduler 3.x numbers days of the week from Monday
  = 0, standard cron from Sunday = 0 (or 7), so `cron_trigger` rewrites a numeric day-of-week
  field into day names before handing it to APScheduler.
- Retries: a run whose result says the failure was transient (``result.retryable``: Slack
  unreachable, 5xx or rate-limited after every attempt, or delivery uncertain) is tried again
  `RETRY_DELAYS` later (1, 5, 15, 30 minutes), as long as the retry comes before the target's
  next slot (which carries the papers anyway) and the scheduler is not shutting down; each
  retry checks `Target.done` first and the run itself settles a pending digest from the channel
  history before posting, so a retry never posts twice. A retry does nothing for a target gone
  since `sync` (paused, unsubscribed), for a slot before its `Target.since` (paused and
  resumed meanwhile), nor once a later slot of its current schedule has come (the schedule
  was changed after the retry was planned). A clear refusal (``channel_not_found``,
  ``invalid_auth`` …) or a crash is not retried: it would fail the same way.
- Daylight saving: a wall-clock time that happens twice when clocks go back (02:30 in
  Europe/Paris on the last Sunday of October) makes APScheduler fire twice; `latest_slot` maps
  the repeat onto the first occurrence, so both runs share one slot and one digest.
"""
from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

log = logging.getLogger(__name__)

DEFAULT_GRACE_S = 6 * 3600
MIN_DIGEST_INTERVAL = timedelta(hours=1)  # a schedule may fire at most once an hour
RETRY_DELAYS = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15), timedelta(minutes=30))
_LOOKBACKS = (timedelta(hours=2), timedelta(days=1), timedelta(days=8), timedelta(days=366))


@dataclass
class Target:
    """Something that gets a scheduled digest.

    Fields:
        key: channel id, or ``dm:<user id>`` for a personal digest.
        schedule: 5-field crontab (``0 9 * * mon-fri``), in `timezone` (IANA name).
        run: ``run(slot)`` builds and delivers the digest of `slot` (idempotent per slot).
        done: ``done(slot)`` is True when that slot needs no run: its digest is posted, or being
            posted by a live worker (`paperbot.service.PaperbotService.digest_done`).
        since: aware time before which no slot is caught up on start or retried (the target's
            scheduled digest was paused until then, e.g. ``/papers digest on``); None: no such limit.
    """

    key: str
    schedule: str
    timezone: str
    run: Callable[[str], Any]
    done: Callable[[str], bool]
    since: datetime | None = None

    def trigger(self) -> CronTrigger:
        """The cron trigger (raises ValueError for a bad expression or time zone)."""
        return cron_trigger(self.schedule, self.timezone)


_CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # cron's numbering: 0 (or 7) = Sunday


def _cron_day(token: str) -> int:
    """A day-of-week token in cron's numbering: ``0``-``7`` (0 and 7 are Sunday) or a name."""
    t = token.strip().lower()
    if t.isdigit() and int(t) <= 7:
        return int(t)
    if t[:3] in _CRON_DAYS and len(t) == 3:
        return _CRON_DAYS.index(t)
    raise ValueError(f"day of week {token!r} is not 0-7 or a day name (sun, mon, …)")


def cron_day_of_week(field: str) -> str:
    """Rewrite a standard crontab day-of-week field (crontab(5): ``0``-``7`` with 0 and 7 =
    Sunday, names, ``a-b`` ranges, ``/step``, lists) as APScheduler day names: ``1-5`` →
    ``mon,tue,wed,thu,fri``, ``0,6`` → ``sun,sat``, ``*/2`` → ``sun,tue,thu,sat``; ``*`` stays.
    A range whose end comes before its start wraps through Sunday (``sat-sun`` → ``sun,sat``).

    Raises:
        ValueError: a token that is not a day, or a step below 1.
    """
    if field.strip() in ("*", "?"):
        return "*"
    days: set[int] = set()
    for part in field.split(","):
        span, slash, step_text = part.partition("/")
        step = int(step_text) if step_text.isdigit() else 0 if slash else 1
        if step < 1:
            raise ValueError(f"bad step in day of week {part!r}")
        if span == "*":
            lo, hi = 0, 6
        elif "-" in span:
            a, b = span.split("-", 1)
            lo, hi = _cron_day(a), _cron_day(b)
            if lo > hi:  # wraps through Sunday: sat-sun, fri-mon
                hi += 7
        else:
            lo = _cron_day(span)
            hi = 6 if slash else lo
        days.update(d % 7 for d in range(lo, hi + 1, step))
    return ",".join(_CRON_DAYS[d] for d in sorted(days))


def cron_trigger(expr: str, timezone: str) -> CronTrigger:
    """APScheduler's `CronTrigger` for a 5-field crontab ``minute hour day month day-of-week``
    read with cron's meaning (crontab(5)): the day-of-week field goes through
    `cron_day_of_week` first, because `CronTrigger.from_crontab` counts Monday as 0
    (https://apscheduler.readthedocs.io/en/3.x/modules/triggers/cron.html).

    Cron fires when *either* a restricted day of month or a restricted day of week matches,
    APScheduler only when both do, so a crontab restricting both (``0 9 1 * mon``) is refused
    rather than run with a meaning its author did not intend.

    Raises:
        ValueError: not 5 fields, a bad field, both day fields restricted, or an unknown time zone.
    """
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"wrong number of fields; got {len(fields)}, expected 5")
    if fields[2] not in ("*", "?") and fields[4] not in ("*", "?"):
        raise ValueError("restrict the day of month or the day of week, not both (cron would fire on "
                         "either, paperbot's scheduler only when both match)")
    fields[4] = cron_day_of_week(fields[4])
    try:
        return CronTrigger.from_crontab(" ".join(fields), timezone=timezone)
    except (KeyError, IndexError, TypeError) as exc:
        raise ValueError(str(exc)) from None


_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})  # files in the zone database, not time zones


def is_iana_zone(name: str) -> bool:
    """True for an IANA time zone name of the zone database (``Europe/Paris``, ``UTC``), as listed
    by `zoneinfo.available_timezones`, without the files some systems list there that are no
    zone a schedule should name: ``localtime`` (the server's own zone), ``posixrules``,
    ``Factory``, and the ``posix/…`` and ``right/…`` copies (``right/`` counts leap seconds)."""
    if name == "UTC":
        return True
    if name in _NOT_ZONES or name.startswith(("posix/", "right/")):
        return False
    return name in _available_zones()


@functools.lru_cache(maxsize=1)
def _available_zones() -> frozenset[str]:
    import zoneinfo
    return frozenset(zoneinfo.available_timezones())


def too_frequent(trigger: CronTrigger, start: datetime, min_interval: timedelta = MIN_DIGEST_INTERVAL,
                 window: timedelta = timedelta(days=7)) -> timedelta | None:
    """The first gap shorter than `min_interval` between consecutive fire times of `trigger`,
    looking at the `window` after its first fire time at or after `start` (a week covers every
    hour and weekday pattern; a day-of-month schedule is looked at on its first day), or None
    when it never fires that often: ``* * * * *`` → 1 minute, ``0 * * * *`` → None. Gaps are
    real elapsed time (taken in UTC): the wall-clock hour that clocks go back over is repeated
    one hour later, not 0 minutes later."""
    prev = trigger.get_next_fire_time(None, start)
    if prev is None:
        return None
    prev = prev.astimezone(timezone.utc)  # aware times of one zone subtract and compare by wall clock
    end = prev + window
    while True:
        nxt = trigger.get_next_fire_time(prev, prev + timedelta(seconds=1))
        if nxt is None:
            return None
        nxt = nxt.astimezone(timezone.utc)
        if nxt > end:
            return None
        if nxt - prev < min_interval:
            return nxt - prev
        prev = nxt


@functools.lru_cache(maxsize=1024)
def schedule_gap(expr: str, tz: str) -> timedelta | None:
    """`too_frequent` of the 5-field crontab `expr` in the IANA zone `tz`, looked at from
    now: the first gap under `MIN_DIGEST_INTERVAL` (``* * * * *`` → 1 minute), or None for a
    schedule that fires at most once an hour or never. Cached per (expr, tz): a week covers
    every hour and weekday pattern, so the answer hardly depends on the day it is asked, and a
    sync or a ``/papers digest`` reply asks it for every stored schedule (~7 ms for an hourly one).

    Raises:
        ValueError: not a valid crontab or time zone (`cron_trigger`).
    """
    return too_frequent(cron_trigger(expr, tz), datetime.now(timezone.utc))


def describe_gap(gap: timedelta) -> str:
    """``1 minute``, ``30 minutes``: a gap found by `too_frequent`, for a reply or an error."""
    minutes = max(1, int(gap.total_seconds() // 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def job_id(key: str) -> str:
    """The scheduler job id of a target key."""
    return f"digest:{key}"


def slot_name(fire_time: datetime) -> str:
    """The slot string of a fire time: UTC ISO-8601 to the minute (``2026-11-23T09:00+00:00``)."""
    return fire_time.astimezone(timezone.utc).isoformat(timespec="minutes")


def latest_slot(trigger: CronTrigger, now: datetime, lookback: timedelta | None = None) -> datetime | None:
    """The most recent fire time of `trigger` at or before `now` (aware datetime), looking back
    at most `lookback` (default: up to a year); None when there is none in that window.

    A fire time that repeats the previous one's local wall-clock time (the hour clocks go back,
    when APScheduler fires a 02:30 job at 02:30 CEST and again at 02:30 CET) is not a new slot:
    the first occurrence is returned for both, also when the first lies before the window
    searched (a restart an hour after the repeat). Steps are taken in UTC, because adding a
    second to an aware local time is wall-clock arithmetic that drops the repeat and loops.
    """
    windows = [w for w in _LOOKBACKS if lookback is None or w < lookback] + ([lookback] if lookback else [])
    for window in windows:
        t = trigger.get_next_fire_time(None, now - window)
        last = None
        for _ in range(10_000):
            if t is None or t > now:
                break
            if last is None or t.replace(tzinfo=None) != last.replace(tzinfo=None):
                last = t
            t = trigger.get_next_fire_time(t, t.astimezone(timezone.utc) + timedelta(seconds=1))
        if last is not None:
            return _first_occurrence(trigger, last)
    return None


def first_slot_on(trigger: CronTrigger, day: date, tz: str) -> datetime | None:
    """The first fire time of `trigger` on the local date `day` in the IANA zone `tz` (an aware
    datetime), or None when the schedule does not fire that day (a weekend for ``mon-fri``).
    ``paperbot run --once`` keys a day's digest to it, the slot `paperbot serve` posts at, so
    the two never post the same day's digest twice.

    Raises:
        zoneinfo.ZoneInfoNotFoundError: `tz` is no time zone.
    """
    zone = ZoneInfo(tz)
    # through UTC and back: on a day whose midnight does not exist (clocks jump from 00:00 to
    # 01:00, as in America/Santiago), start at the first real instant, 01:00 — a schedule at
    # 00:00 does not fire that day under APScheduler, so it has no slot then either
    start = datetime.combine(day, time.min, tzinfo=zone).astimezone(timezone.utc).astimezone(zone)
    fire = trigger.get_next_fire_time(None, start)
    return fire if fire is not None and fire.astimezone(zone).date() == day else None


def next_retry(trigger: CronTrigger, now: datetime, attempt: int,
               delays: tuple[timedelta, ...] = RETRY_DELAYS) -> datetime | None:
    """When retry number `attempt` + 1 (0-based `attempt`) of a slot that failed at `now` (aware)
    is due: ``now + delays[attempt]`` — or None when the retries are used up or the trigger's
    next fire time comes first (that slot's digest carries the papers anyway)."""
    if attempt >= len(delays):
        return None
    when = now + delays[attempt]
    upcoming = trigger.get_next_fire_time(None, now + timedelta(seconds=1))
    return None if upcoming is not None and when >= upcoming else when


def _stale_retry(t: Target, slot: str, now: datetime) -> str | None:
    """Why a retry of `slot` (a `slot_name`) must not run at `now` (aware) for the target as it
    is now — the slot fell before `Target.since` (the digest was paused and resumed meanwhile:
    such a slot is not caught up either), or a later slot of the target's current schedule has
    come (`latest_slot`; the schedule was changed after the retry was planned, and that slot's
    digest carries the papers) — or None when it may run."""
    try:
        when = datetime.fromisoformat(slot)
    except ValueError:
        return None
    if t.since is not None and when < t.since:
        return "the slot fell before the digest was resumed"
    try:
        latest = latest_slot(t.trigger(), now)
    except ValueError:
        return None
    if latest is not None and latest > when:
        return f"a later slot ({slot_name(latest)}) has come"
    return None


_MAX_CLOCK_SHIFT = timedelta(hours=3)  # more than any daylight-saving shift (1 h; 30 min or 2 h in a few zones)


def _first_occurrence(trigger: CronTrigger, fire: datetime) -> datetime:
    """The earliest fire time of `trigger` with the same local wall-clock time as `fire` in the
    `_MAX_CLOCK_SHIFT` before it: `fire` itself, unless it is the repeat of a time clocks went
    back over."""
    fire_utc = fire.astimezone(timezone.utc)  # aware times of one zone compare by wall clock: compare in UTC
    t = trigger.get_next_fire_time(None, fire_utc - _MAX_CLOCK_SHIFT)
    for _ in range(10_000):
        if t is None or t.astimezone(timezone.utc) >= fire_utc:
            break
        if t.replace(tzinfo=None) == fire.replace(tzinfo=None):
            return t
        t = trigger.get_next_fire_time(t, t.astimezone(timezone.utc) + timedelta(seconds=1))
    return fire


class DigestScheduler:
    """A `BackgroundScheduler` running each `Target`'s digest on its cron schedule.

    Args:
        targets: ``targets()`` returns the current list (config channels merged with stored
            subscriptions and DM users); `sync` re-reads it.
        grace_s: how late a missed slot may still be caught up on start (and the jobs'
            ``misfire_grace_time``).
        clock: ``clock()`` → aware now (tests may pin it).
        retry_delays: how long after each transient failure of a slot it is tried again (see
            the module doc); ``()`` turns retries off.
        stopping: the event `shutdown` sets (shared with whoever starts the shutdown before
            calling it, so a digest failing in between schedules no retry); a new one if None.
    """

    def __init__(self, targets: Callable[[], list[Target]], grace_s: int = DEFAULT_GRACE_S,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                 retry_delays: tuple[timedelta, ...] = RETRY_DELAYS, stopping: threading.Event | None = None):
        self._targets_fn = targets
        self.retry_delays = tuple(retry_delays)
        self.grace_s = grace_s
        self._clock = clock
        self._targets: dict[str, Target] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._sync_lock = threading.Lock()
        self._stopping = stopping or threading.Event()
        self.scheduler = BackgroundScheduler(job_defaults={
            "coalesce": True, "max_instances": 1, "misfire_grace_time": grace_s}, timezone="UTC")

    # ---- jobs -----------------------------------------------------------------------------
    def sync(self) -> list[str]:
        """Add/replace a job per current target, remove jobs of targets that are gone; returns
        the job ids now scheduled. Targets with an invalid schedule are logged and skipped."""
        with self._sync_lock:
            wanted: dict[str, Target] = {}
            for t in self._targets_fn():
                try:
                    trig = t.trigger()
                except ValueError as exc:
                    log.error("digest %s: bad schedule %r (%s); not scheduled", t.key, t.schedule, exc)
                    continue
                wanted[t.key] = t
                existing = self.scheduler.get_job(job_id(t.key))
                if existing is not None and repr(existing.trigger) == repr(trig):
                    self._targets[t.key] = t
                    continue  # unchanged: keep its next run time
                self.scheduler.add_job(self._fire, trig, args=[t.key], id=job_id(t.key),
                                       name=f"digest {t.key}", replace_existing=True)
            for job in self.scheduler.get_jobs():
                if job.id.startswith("digest:") and job.id[len("digest:"):] not in wanted:
                    job.remove()
            self._targets = wanted
            return sorted(job_id(k) for k in wanted)

    def start(self, catch_up: bool = True) -> list[str]:
        """Sync jobs, start the scheduler thread and (optionally) catch up missed slots.
        Returns the keys whose missed slot is being caught up."""
        self.sync()
        self.scheduler.start()
        return self.catch_up() if catch_up else []

    def shutdown(self, wait: bool = True) -> None:
        """Stop the scheduler (waiting for running digests when `wait`); no retry is scheduled
        from then on."""
        self._stopping.set()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=wait)

    def catch_up(self) -> list[str]:
        """For each target whose latest slot is within `grace_s` of now, not before the
        target's `Target.since` and not yet delivered, submit one run now. Returns those keys."""
        now = self._clock()
        caught = []
        for key, t in list(self._targets.items()):
            slot = latest_slot(t.trigger(), now, timedelta(seconds=self.grace_s))
            if slot is None or (t.since is not None and slot < t.since) or t.done(slot_name(slot)):
                continue  # none, fell while the digest was paused, or delivered
            log.info("catching up missed digest %s for slot %s", key, slot_name(slot))
            self.scheduler.add_job(self._run_slot, args=[key, slot_name(slot)], id=f"catchup:{key}",
                                   replace_existing=True, misfire_grace_time=None)
            caught.append(key)
        return caught

    def jobs(self) -> list[tuple[str, datetime | None]]:
        """``[(job id, next run time)]`` of the digest jobs."""
        return [(j.id, j.next_run_time) for j in self.scheduler.get_jobs() if j.id.startswith("digest:")]

    def run_now(self, key: str) -> None:
        """Make the job of `key` run right away through the scheduler (it delivers its latest
        slot if that slot has not been delivered)."""
        self.scheduler.modify_job(job_id(key), next_run_time=self._clock())

    # ---- running --------------------------------------------------------------------------
    def _lock(self, key: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(key, threading.Lock())

    def _fire(self, key: str) -> None:
        t = self._targets.get(key)
        if t is None:
            return
        slot = latest_slot(t.trigger(), self._clock())
        if slot is None:
            log.warning("digest %s fired with no slot at or before now", key)
            return
        self._run_slot(key, slot_name(slot))

    def _run_slot(self, key: str, slot: str, attempt: int = 0) -> None:
        """Deliver `slot` of target `key` unless it is done; `attempt` counts the retries so far."""
        t = self._targets.get(key)
        if t is None:
            return
        with self._lock(key):
            if t.done(slot):
                log.info("digest %s slot %s already delivered", key, slot)
                return
            stale = _stale_retry(t, slot, self._clock()) if attempt else None
            if stale:
                log.info("digest %s slot %s: retry %d dropped: %s", key, slot, attempt, stale)
                return
            try:
                result = t.run(slot)
            except Exception:  # one failing digest must not stop the scheduler or other channels
                log.exception("digest %s slot %s failed", key, slot)
                return
        if getattr(result, "retryable", False):
            self._retry_later(t, slot, attempt, getattr(result, "error", None))

    def _retry_later(self, t: Target, slot: str, attempt: int, error: str | None) -> None:
        """Schedule retry number `attempt` + 1 of `slot` (`next_retry`), unless the retries are
        used up, the retry would not come before the target's next slot, or the scheduler is
        shutting down."""
        why = f" ({error})" if error else ""
        if attempt >= len(self.retry_delays):
            log.error("digest %s slot %s still failing after %d retries%s; its papers go to the next digest",
                      t.key, slot, attempt, why)
            return
        if self._stopping.is_set():
            return
        try:
            trigger = t.trigger()
        except ValueError:
            return
        now = self._clock()
        when = next_retry(trigger, now, attempt, self.retry_delays)
        if when is None:
            upcoming = trigger.get_next_fire_time(None, now + timedelta(seconds=1))
            log.warning("digest %s slot %s failed%s; not retried: the next slot (%s) comes first",
                        t.key, slot, why, slot_name(upcoming))
            return
        log.warning("digest %s slot %s failed%s; retry %d/%d at %s", t.key, slot, why, attempt + 1,
                    len(self.retry_delays), when.astimezone(timezone.utc).isoformat(timespec="seconds"))
        self.scheduler.add_job(self._run_slot, "date", run_date=when, args=[t.key, slot, attempt + 1],
                               id=f"retry:{t.key}", replace_existing=True, misfire_grace_time=None)
