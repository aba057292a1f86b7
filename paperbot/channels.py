"""A channel's digest settings in force, and the slot a day's digest is keyed to.

The config file gives each channel a schedule, time zone and size; ``/papers digest
schedule|timezone|size`` stores a channel's own values on its row in the store, which then take
precedence (`with_stored_settings`). `paperbot serve` and ``paperbot run --once`` both read them
here, and key a day's digest to the same slot (`run_slot`), so running both never posts a day's
digest twice.
"""
from __future__ import annotations

import dataclasses
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from bot.scheduler import cron_trigger, first_slot_on, schedule_gap, slot_name
from paperbot.config import ChannelConfig
from paperbot.recovery import digest_key
from store import Store


def usable_schedule(stored: str | None, tz: str, fallback: str) -> str:
    """The schedule in force for a channel or DM digest: `stored` (a 5-field crontab set from
    Slack, read in the IANA zone `tz`) unless it is empty or fires more often than once an hour
    (`bot.scheduler.schedule_gap`; ``/papers digest schedule`` refuses such schedules, an older
    paperbot stored them), then `fallback` (the config file's schedule or `DEFAULT_SCHEDULE`).
    A stored value that is no valid crontab is returned as is: the scheduler logs it and leaves
    the digest unscheduled, and ``/papers digest`` says it is invalid."""
    if not stored:
        return fallback
    try:
        return fallback if schedule_gap(stored, tz) is not None else stored
    except ValueError:
        return stored


def with_stored_settings(channel: ChannelConfig, row: dict | None) -> ChannelConfig:
    """`channel` (from the config file) with the schedule, time zone and size stored on its row
    (`Store.get_channel`: ``schedule``, ``timezone``, ``max_papers``) taking precedence; the
    channel itself when it has no row."""
    if row is None:
        return channel
    tz = row.get("timezone") or channel.timezone
    return dataclasses.replace(channel, schedule=usable_schedule(row.get("schedule"), tz, channel.schedule),
                               timezone=tz, max_papers=row.get("max_papers") or channel.max_papers)


def run_slot(channel: ChannelConfig, day: date) -> str:
    """The slot ``paperbot run --once`` keys `channel`'s digest of `day` to: the day's first fire
    time of the channel's schedule in its time zone, as `bot.scheduler.slot_name` writes it
    (``2026-11-23T09:00+00:00``) — the slot `paperbot serve` posts that digest at — or the date
    (``2026-11-22``) on a day the schedule does not fire (a Sunday for ``mon-fri``) or when the
    schedule cannot be read (the digest key is then ``<channel>:<date>``, once a day)."""
    try:
        fire = first_slot_on(cron_trigger(channel.schedule, channel.timezone), day, channel.timezone)
    except (ValueError, LookupError):  # bad crontab; unknown zone (ZoneInfoNotFoundError is a KeyError)
        fire = None
    return slot_name(fire) if fire is not None else day.isoformat()


def posted_under_date_key(store: Store, channel_id: str, day: date) -> dict | None:
    """The digest row of `channel_id` for `day` posted under a date key (``C1:2026-11-23``), or
    None: ``paperbot run --once`` keyed digests by date before it keyed them by slot, and still
    does on a day the schedule does not fire (`run_slot`), so that day counts as delivered for
    the run and for `paperbot serve` alike."""
    row = store.get_digest(digest_key(channel_id, day.isoformat()))
    return row if row and row["status"] == "posted" else None


def channel_today(channel: ChannelConfig, now: datetime | None = None) -> date:
    """The date it is in `channel`'s time zone at `now` (aware; default: the current time): the
    day ``paperbot run --once`` builds and keys that channel's digest for, so a channel in Tokyo
    run from a server in UTC at 20:00 gets the Tokyo morning's digest, the one `serve` posts.
    An unknown zone counts as UTC."""
    now = now or datetime.now(timezone.utc)
    try:
        return now.astimezone(ZoneInfo(channel.timezone)).date()
    except (ValueError, LookupError):
        return now.astimezone(timezone.utc).date()
