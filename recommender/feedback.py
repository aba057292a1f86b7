"""The one feedback path: every 👍/👎 — Slack button, reaction, `/papers like`, the CLI
(`paperbot feedback`), the evaluation's simulation (`paperbot eval --feedback-sim`, into an
in-memory store) — goes through `record`, which stores it (deduplicated on `event_key`) so that
the next profile built from the store includes it.

Profiles are rebuilt from the stored feedback (see `recommender.profiles`), so recording is the
whole update: there is no second copy of a profile to keep in step. What a profile learns is read
back through `net`: each person's latest live vote on a paper counts once, and for a channel the
sign of its members' votes together decides (four 👍 and one 👎 make a 👍; a tie, nothing).
The stored 👍/👎 become the ranker's profile in `profile_from_feedback`, which both a digest
(`recommender.scoring.rank_profile`) and the evaluation's simulation call.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

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


def record_reaction(store: Store, user_id: str, arxiv_ids: list[str], value: int, reaction: str,
                    channel_id: str, message_ts: str, event_id: str, event_ts: str | None) -> int:
    """A 👍/👎 `reaction` added by `user_id` on message (channel, ts) that shows `arxiv_ids`: one
    `record` per paper (source ``reaction``, keyed ``event:<event_id>:<arxiv_id>``) — unless a
    removal of this reaction by this user on this message at `event_ts` or later has already
    been seen with nothing to undo (`undo_reaction`): Slack does not order events and retries
    late, so this add was taken back before it arrived, and it is skipped. In one transaction
    with that check, so a removal handled at the same moment cannot slip between. Returns how
    many votes were stored (0 for a redelivery or a skipped add)."""
    with store.transaction():
        if event_ts and store.reaction_removed_since(user_id, reaction, channel_id, message_ts, event_ts):
            return 0
        return sum(record(store, user_id, aid, value, "reaction", event_key=f"event:{event_id}:{aid}",
                          channel_id=channel_id, message_ts=message_ts) for aid in arxiv_ids)


def undo_reaction(store: Store, user_id: str, arxiv_ids: list[str], value: int, reaction: str,
                  channel_id: str, message_ts: str, event_ts: str | None) -> int:
    """A `reaction` removed by `user_id` from message (channel, ts) showing `arxiv_ids`: undo the
    votes that reaction made there (`undo`). When there is none to undo — its add has not
    arrived yet — the removal is remembered (`Store.remember_reaction_removal`) so the late add
    is skipped (`record_reaction`). Returns how many votes were undone."""
    with store.transaction():
        n = sum(undo(store, user_id, aid, value, source="reaction", channel_id=channel_id, message_ts=message_ts)
                for aid in arxiv_ids)
        if not n and arxiv_ids and event_ts:
            store.remember_reaction_removal(user_id, reaction, channel_id, message_ts, event_ts)
        return n


def net(store: Store, user_id: str | None = None, channel_id: str | None = None) -> dict[str, int]:
    """What a profile learns: ``{arxiv_id: UP|DOWN}`` from the live feedback of `user_id` (their
    latest vote on each paper), or of everyone on `channel_id`'s digests (each member's latest
    vote counts once; the sign of the sum decides; a tie gives no entry) — see
    `Store.feedback_for`."""
    return store.feedback_for(user_id=user_id, channel_id=channel_id)


def profile_from_feedback(X_positive, positive_authors: Sequence[Sequence[str]] | None = None,
                          X_like=None, like_authors: Sequence[Sequence[str]] | None = None,
                          X_dislike=None, background=None, terms=None, config=None):
    """The production ranker's profile (`recommender.ranker.Profile`) of positives plus stored
    feedback: the 👎 rows are its negatives and each 👍 row enters through
    `Profile.add_feedback` (the 👍 weight, its authors joining the author prior), in the order
    given — the order `Store.feedback_for` lists them.

    Args:
        X_positive: (n_pos, V) TF-IDF rows of the curated / followed papers.
        positive_authors: n_pos author lists, or None.
        X_like: (n_like, V) rows of the 👍 papers, or None.
        like_authors: n_like author lists, or None.
        X_dislike: (n_dislike, V) rows of the 👎 papers, or None.
        background: (V,) `recommender.ranker.background_vector`, (n_bg, V) rows, or None.
        terms: the V feature names (for explanations), or None.
        config: a `recommender.ranker.RankerConfig`, or None for the default.
    Returns:
        the `recommender.ranker.Profile`.
    Raises:
        ValueError: the matrices disagree on V, or the author lists on the row counts.
    """
    from recommender.ranker import Profile

    N = X_dislike if X_dislike is not None and X_dislike.shape[0] else None
    prof = Profile(X_positive, X_negative=N, X_background=background, positive_authors=positive_authors,
                   terms=terms, config=config)
    if X_like is not None and X_like.shape[0]:
        L = sp.csr_matrix(X_like, dtype=np.float64)
        if like_authors is not None and len(like_authors) != L.shape[0]:
            raise ValueError("like_authors must have one entry per 👍 row")
        for i in range(L.shape[0]):
            prof.add_feedback(L[i], +1, authors=like_authors[i] if like_authors is not None else None)
    return prof
