"""Resolving digests whose posting outcome is unknown (crash-safe, exactly-once delivery).

`paperbot.pipeline.deliver` writes the intent (``digests`` row, status ``pending``) before
chat.postMessage and the message ``ts`` right after. If the process dies in between, the row
stays ``pending`` and nobody knows whether the message went out. `resolve_pending` settles it
from the only authority, the channel itself: every digest message carries its key
(``channel:slot``) in Slack message metadata, so conversations.history (from just before the
intent was recorded) tells whether it landed.

- found → the row becomes ``posted`` with the message's ``ts`` (no second post) and the message
  is recorded with the papers it shows, under the channel it is in (a DM's ``D…``), exactly as
  `paperbot.pipeline.deliver` records a message it posted, so reactions on it count; the papers
  meant for its thread replies, which come after the main message is recorded and so were never
  posted, are released to the next digest;
- not found → the row becomes ``failed`` ("interrupted before posting"), which releases its papers
  so the next digest for the channel includes them again (nothing lost);
- history unreadable (missing scope, network, more messages since than it may page through) →
  the row stays ``pending`` and the digest is not
  posted this run (a duplicate is worse than a delay); the reason is reported and the check is
  repeated next run (or now: ``paperbot digests check``). When the history can never be read, an
  operator settles it with ``paperbot digests resolve KEY --posted|--not-posted``
  (`settle_manually`).

Only *abandoned* intents are settled: a ``pending`` row may also be a post in flight on another
thread or process (a scheduled run and a catch-up run at once), and settling it would release it
for a second post. Each intent records its owner (``host:pid:process start time``); a row is
abandoned when its owner process is gone (same host, checked with psutil), when it is this process
but no thread of ours is posting that key (`in_flight`), or — for another host — when it is older
than `LEASE_S`. Rows without an owner (written before schema v2) count as abandoned.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone

import psutil

from slack_sdk.errors import SlackApiError

from bot.posting import TRANSPORT_ERRORS, HistoryIncomplete, SlackPoster
from bot.blocks import paper_ids_in_blocks
from bot.slack_client import describe_error, error_code
from store import Store

log = logging.getLogger(__name__)

POSTED, RELEASED, UNCERTAIN, IN_FLIGHT = "posted", "released", "uncertain", "in-flight"
HISTORY_MARGIN_S = 300  # look back this far before the intent (clock skew with Slack)
LEASE_S = 15 * 60  # an intent of another host older than this is abandoned (posting takes seconds)

_in_flight: Counter[str] = Counter()
_in_flight_lock = threading.Lock()


def owner_id() -> str:
    """This process as an intent owner: ``host:pid:start time`` (a reused pid has another start)."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{psutil.Process(pid).create_time():.3f}"


@contextmanager
def in_flight(key: str) -> Iterator[None]:
    """Mark digest `key` as being posted by a thread of this process for the duration."""
    with _in_flight_lock:
        _in_flight[key] += 1
    try:
        yield
    finally:
        with _in_flight_lock:
            _in_flight[key] -= 1
            if _in_flight[key] <= 0:
                del _in_flight[key]


def is_abandoned(row: dict, now: float | None = None) -> bool:
    """True when nobody can still be posting this ``pending`` digest (see the module doc)."""
    owner = row.get("owner")
    if not owner:
        return True
    host, _, rest = owner.partition(":")
    pid_text, _, started = rest.partition(":")
    if host != socket.gethostname():
        created = datetime.fromisoformat(row["created_at"]).timestamp()
        now = now if now is not None else datetime.now(timezone.utc).timestamp()
        return now - created > LEASE_S
    if owner == owner_id():
        with _in_flight_lock:
            return row["digest_key"] not in _in_flight
    try:
        proc = psutil.Process(int(pid_text))
        return f"{proc.create_time():.3f}" != started
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return True


def digest_key(channel_id: str, slot: str) -> str:
    """The idempotency key of a channel's digest for one schedule slot: ``channel:slot``."""
    return f"{channel_id}:{slot}"


def resolve_pending(store: Store, poster: SlackPoster, row: dict) -> tuple[str, str | None]:
    """Settle one ``pending`` digest row (see the module doc).

    Returns ``(outcome, detail)``: ``("posted", ts)``, ``("released", None)`` or
    ``("uncertain", reason)``. Never raises for Slack or network errors.
    """
    created = datetime.fromisoformat(row["created_at"]).timestamp()
    try:
        msg = poster.find_message(row["channel_id"], row["digest_key"], created - HISTORY_MARGIN_S)
    except HistoryIncomplete as exc:
        reason = f"cannot tell whether digest {row['digest_key']} was posted: {exc}"
        log.error("%s; leaving it pending (not posting again)", reason)
        return UNCERTAIN, reason
    except SlackApiError as exc:
        code = error_code(exc)
        reason = (f"cannot read the history of {row['channel_id']} to check whether digest "
                  f"{row['digest_key']} was posted: {describe_error(code, row['channel_id']) if code else exc}")
        log.error("%s; leaving it pending (not posting again)", reason)
        return UNCERTAIN, reason
    except TRANSPORT_ERRORS as exc:
        reason = (f"cannot reach Slack to check whether digest {row['digest_key']} was posted: "
                  f"{type(exc).__name__}")
        log.error("%s; leaving it pending (not posting again)", reason)
        return UNCERTAIN, reason
    if msg:
        ts = msg.get("ts")
        # the process died right after the main message: its thread replies were never posted,
        # so only the papers the message itself shows count as sent
        shown_ids = paper_ids_in_blocks(msg.get("blocks"))
        shown = set(shown_ids)
        unshown = [a for a in store.digest_paper_ids(row["id"]) if a not in shown] if shown else []
        with store.transaction():
            store.add_message_papers(poster.message_channel(row["channel_id"]), ts, shown_ids)
            store.finish_digest(row["id"], ts)
            store.release_digest_papers(row["id"], unshown)
        log.warning("digest %s was posted (ts %s) before an interruption; recorded it%s", row["digest_key"], ts,
                    f" ({len(unshown)} papers meant for its thread go to the next digest)" if unshown else "")
        return POSTED, ts
    store.finish_digest(row["id"], None, status="failed",
                        error="interrupted before posting (not in the channel history); papers released")
    log.warning("digest %s was never posted (interrupted); its papers go to the next digest", row["digest_key"])
    return RELEASED, None


class SettleError(ValueError):
    """A digest cannot be settled by hand: unknown key, not pending, or still being posted."""


def settle_manually(store: Store, key: str, posted: bool, ts: str | None = None) -> dict:
    """Settle a ``pending`` digest by an operator's word, for when the channel history cannot be
    read (missing ``channels:history`` scope, a channel the bot left) and the check would stay
    uncertain forever.

    ``posted=True`` records it as posted (with the message `ts` when known); ``posted=False``
    marks it ``failed`` and releases its papers to the channel's next digest (as `resolve_pending`
    does when the history shows no such message). Returns the updated row.

    Raises:
        SettleError: no digest with this key, it is not ``pending``, or its owner process is still
            alive (a post may be in flight: settling it could cause a second post).
    """
    row = store.get_digest(key)
    if row is None:
        raise SettleError(f"no digest with key {key!r} (keys look like CHANNEL:SLOT, e.g. C0123:2026-08-24)")
    if row["status"] != "pending":
        raise SettleError(f"digest {key} is {row['status']}, not pending: nothing to settle")
    if not is_abandoned(row):
        raise SettleError(f"digest {key} may still be being posted by process {row.get('owner')}; "
                          "stop it or wait for it to finish")
    if posted:
        store.finish_digest(row["id"], ts)
        log.warning("digest %s marked posted by hand (ts %s)", key, ts or "unknown")
    else:
        store.finish_digest(row["id"], None, status="failed",
                            error="marked not posted by hand; papers released")
        log.warning("digest %s marked not posted by hand; its papers go to the next digest", key)
    return store.get_digest(key)


def recover_channel(store: Store, poster: SlackPoster, channel_id: str) -> list[tuple[str, str | None]]:
    """Settle every abandoned pending digest of one channel, oldest first; returns their outcomes
    (``("in-flight", key)`` for a digest another worker is posting right now, left alone)."""
    out: list[tuple[str, str | None]] = []
    for row in store.pending_digests(channel_id):
        if is_abandoned(row):
            out.append(resolve_pending(store, poster, row))
        else:
            out.append((IN_FLIGHT, row["digest_key"]))
    return out
