"""The one feedback path: every 👍/👎 — Slack button, reaction, `/papers like`, the CLI, the
evaluation's simulation — goes through `record`, which stores it (deduplicated on `event_key`)
so that the next profile built from the store includes it.

Profiles are rebuilt from the stored feedback (see `recommender.profiles`), so recording is the
whole update: there is no second copy of a profile to keep in step. What a profile learns is read
back through `net`: each person's latest live vote on a paper counts once, and for a channel the
sign of its members' votes together decides (four 👍 and one 👎 make a 👍; a tie, nothing).
"""
from __future__ import annotations

from store import Store

UP = 1
DOWN = -1


def record(store: Store, user_id: str, arxiv_id: str, value: int, source: str,
           event_key: str | None = None, channel_id: str | None = None,
           message_ts: str | None = None) -> bool:
    """Record one 👍 (`UP`) or 👎 (`DOWN`) of `user_id` on `arxiv_id`.

    Args:
        source: where it came from: ``button``, ``reaction``, ``like``, ``cli``, ``eval``.
        event_key: a key unique to the delivery (Slack event id, action ts, …); a redelivery with
            the same key stores nothing.
        channel_id, message_ts: the digest message it refers to, when known (channel profiles
            learn from feedback on their own digests).

    Returns:
        True when stored, False for a duplicate.

    Raises:
        ValueError: `value` is not +1/−1.
    """
    store.ensure_user(user_id)
    return store.record_feedback(user_id, arxiv_id, value, source, event_key=event_key,
                                 channel_id=channel_id, message_ts=message_ts)


def undo(store: Store, user_id: str, arxiv_id: str, value: int, source: str | None = None,
         channel_id: str | None = None, message_ts: str | None = None) -> bool:
    """Undo the user's latest live feedback of `value` on the paper (a removed reaction); given
    `source` / `channel_id` / `message_ts`, only feedback from that source on that channel /
    message (the one a removed reaction made). Returns True when something was undone."""
    return store.undo_feedback(user_id, arxiv_id, value, source, channel_id=channel_id, message_ts=message_ts)


def net(store: Store, user_id: str | None = None, channel_id: str | None = None) -> dict[str, int]:
    """What a profile learns: ``{arxiv_id: UP|DOWN}`` from the live feedback of `user_id` (their
    latest vote on each paper), or of everyone on `channel_id`'s digests (each member's latest
    vote counts once; the sign of the sum decides; a tie gives no entry) — see
    `Store.feedback_for`."""
    return store.feedback_for(user_id=user_id, channel_id=channel_id)
