"""Scheduled digests: one APScheduler 3.x cron job per channel (and per DM digest user).

- Job ids are deterministic (``digest:<key>``) and added with ``replace_existing=True``, so a
  re-sync or a restart never duplicates a job.
- A run delivers the *slot* it belongs to: the most recent fire time of the job's cron trigger
  at or before now (`latest_slot`). The digest key is ``<key>:<slot>`` and the store's digest
  rows — not scheduler state — say whether a slot was delivered (`Target.done`), so a slot is
  posted at most once however many times its job runs.
- Catch-up: on `start`, each target whose latest slot lies within `grace_s` and has no digest
  row is run once (the process was down at 09:00). APScheduler's own ``misfire_grace_time`` and
  ``coalesce=True`` cover a busy/paused scheduler while the process is up
  (https://apscheduler.readthedocs.io/en/3.x/userguide.html#missed-job-executions-and-coalescing).
- Per-key locks make a catch-up run and a regular run of the same slot serialise.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

log = logging.getLogger(__name__)

DEFAULT_GRACE_S = 6 * 3600
_LOOKBACKS = (timedelta(hours=2), timedelta(days=1), timedelta(days=8), timedelta(days=366))


@dataclass
class Target:
    """Something that gets a scheduled digest.

    Fields:
        key: channel id, or ``dm:<user id>`` for a personal digest.
        schedule: 5-field crontab (``0 9 * * mon-fri``), in `timezone` (IANA name).
        run: ``run(slot)`` builds and delivers the digest of `slot` (idempotent per slot).
        done: ``done(slot)`` is True when the store already has a digest row for that slot.
    """

    key: str
    schedule: str
    timezone: str
    run: Callable[[str], Any]
    done: Callable[[str], bool]

    def trigger(self) -> CronTrigger:
        """The cron trigger (raises ValueError for a bad expression or time zone)."""
        return CronTrigger.from_crontab(self.schedule, timezone=self.timezone)


def job_id(key: str) -> str:
    """The scheduler job id of a target key."""
    return f"digest:{key}"


def slot_name(fire_time: datetime) -> str:
    """The slot string of a fire time: UTC ISO-8601 to the minute (``2026-11-23T09:00+00:00``)."""
    return fire_time.astimezone(timezone.utc).isoformat(timespec="minutes")


def latest_slot(trigger: CronTrigger, now: datetime, lookback: timedelta | None = None) -> datetime | None:
    """The most recent fire time of `trigger` at or before `now` (aware datetime), looking back
    at most `lookback` (default: up to a year); None when there is none in that window."""
    windows = [w for w in _LOOKBACKS if lookback is None or w < lookback] + ([lookback] if lookback else [])
    for window in windows:
        t = trigger.get_next_fire_time(None, now - window)
        last = None
        for _ in range(10_000):
            if t is None or t > now:
                break
            last = t
            t = trigger.get_next_fire_time(t, t + timedelta(seconds=1))
        if last is not None:
            return last
    return None


class DigestScheduler:
    """A `BackgroundScheduler` running each `Target`'s digest on its cron schedule.

    Args:
        targets: ``targets()`` returns the current list (config channels merged with stored
            subscriptions and DM users); `sync` re-reads it.
        grace_s: how late a missed slot may still be caught up on start (and the jobs'
            ``misfire_grace_time``).
        clock: ``clock()`` → aware now (tests may pin it).
    """

    def __init__(self, targets: Callable[[], list[Target]], grace_s: int = DEFAULT_GRACE_S,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        self._targets_fn = targets
        self.grace_s = grace_s
        self._clock = clock
        self._targets: dict[str, Target] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._sync_lock = threading.Lock()
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
        """Stop the scheduler (waiting for running digests when `wait`)."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=wait)

    def catch_up(self) -> list[str]:
        """For each target whose latest slot is within `grace_s` of now and not yet delivered,
        submit one run now. Returns those keys."""
        now = self._clock()
        caught = []
        for key, t in list(self._targets.items()):
            slot = latest_slot(t.trigger(), now, timedelta(seconds=self.grace_s))
            if slot is None or t.done(slot_name(slot)):
                continue
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

    def _run_slot(self, key: str, slot: str) -> None:
        t = self._targets.get(key)
        if t is None:
            return
        with self._lock(key):
            if t.done(slot):
                log.info("digest %s slot %s already delivered", key, slot)
                return
            try:
                t.run(slot)
            except Exception:  # one failing digest must not stop the scheduler or other channels
                log.exception("digest %s slot %s failed", key, slot)
