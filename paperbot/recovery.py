"""Resolving digests whose posting outcome is unknown (crash-safe, exactly-once delivery).

`paperbot.pipeline.deliver` writes the intent (``digests`` row, status ``pending``) before
chat.postMessage and the message ``ts`` right after. If the process dies in between, the row
stays ``pending`` and nobody knows whether the message went out. `resolve_pending` settles it
from the only authority, the channel itself: every digest message carries its key
(``channel:slot``) in Slack message metadata, so conversations.history (from just before the
intent was recorded) tells whether it landed.

- found → the row becomes ``posted`` with the message's ``ts`` (no second post);
- not found → the row becomes ``failed`` ("interrupted before posting"), which releases its papers
  so the next digest for the channel includes them again (nothing lost);
- history unreadable (missing scope, network) → the row stays ``pending`` and the digest is not
  posted this run (a duplicate is worse than a delay); the reason is reported and the check is
  repeated next run.
"""
from __future__ import annotations

import logging
from datetime import datetime

from slack_sdk.errors import SlackApiError

from bot.posting import SlackPoster, _TRANSPORT_ERRORS
from bot.slack_client import describe_error
from store import Store

log = logging.getLogger(__name__)

POSTED, RELEASED, UNCERTAIN = "posted", "released", "uncertain"
HISTORY_MARGIN_S = 300  # look back this far before the intent (clock skew with Slack)


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
        ts = poster.find_digest(row["channel_id"], row["digest_key"], created - HISTORY_MARGIN_S)
    except SlackApiError as exc:
        code = exc.response.get("error") if exc.response is not None else None
        reason = (f"cannot read the history of {row['channel_id']} to check whether digest "
                  f"{row['digest_key']} was posted: {describe_error(code, row['channel_id']) if code else exc}")
        log.error("%s; leaving it pending (not posting again)", reason)
        return UNCERTAIN, reason
    except _TRANSPORT_ERRORS as exc:
        reason = (f"cannot reach Slack to check whether digest {row['digest_key']} was posted: "
                  f"{type(exc).__name__}")
        log.error("%s; leaving it pending (not posting again)", reason)
        return UNCERTAIN, reason
    if ts:
        store.finish_digest(row["id"], ts)
        log.warning("digest %s was posted (ts %s) before an interruption; recorded it", row["digest_key"], ts)
        return POSTED, ts
    store.finish_digest(row["id"], None, status="failed",
                        error="interrupted before posting (not in the channel history); papers released")
    log.warning("digest %s was never posted (interrupted); its papers go to the next digest", row["digest_key"])
    return RELEASED, None


def recover_channel(store: Store, poster: SlackPoster, channel_id: str) -> list[tuple[str, str | None]]:
    """Settle every pending digest of one channel, oldest first; returns their outcomes."""
    return [resolve_pending(store, poster, row) for row in store.pending_digests(channel_id)]
