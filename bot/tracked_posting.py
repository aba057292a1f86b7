"""`TrackedPoster`: a `SlackPoster` that records which papers each message it posts shows.

Digests need no tracked poster: `paperbot.pipeline.deliver` records every digest message (main
message and thread replies, posted or found in the history) through
`SlackPoster.post_digest(on_message=…)`, whatever poster it is given. `TrackedPoster` is for
messages posted with `post_message` outside a digest: each is recorded in the store as
(channel, ts) → arXiv ids, read from the message's paper block ids (``paper:<arXiv id>``, see
`bot.blocks.paper_ids_in_blocks`), so a reaction on it maps to its papers.
"""
from __future__ import annotations

from bot.blocks import PAPER_BLOCK_PREFIX, paper_ids_in_blocks
from bot.posting import SlackPoster
from store import Store

__all__ = ["PAPER_BLOCK_PREFIX", "TrackedPoster", "paper_ids_in_blocks"]


class TrackedPoster(SlackPoster):
    """`SlackPoster` + `Store.add_message_papers` for each message posted."""

    def __init__(self, client, store: Store, interval_s: float = 1.0, **kw):
        super().__init__(client, interval_s, **kw)
        self.store = store

    def after_post(self, channel: str, blocks: list[dict] | None, response) -> None:
        """Record the papers a posted message shows under the channel Slack answered with (a DM
        posted to a user id lands in a ``D…`` channel), and under the id it was posted to."""
        ids = paper_ids_in_blocks(blocks)
        if ids:
            answered = response.get("channel") or channel
            self.store.add_message_papers(answered, response["ts"], ids)
            if answered != channel:
                self.store.add_message_papers(channel, response["ts"], ids)
