"""`TrackedPoster`: a `SlackPoster` that remembers which papers each posted message shows.

Every chat.postMessage of a digest (main message and thread replies) is recorded in the store as
(channel, ts) → arXiv ids, read from the message's paper block ids (``paper:<arXiv id>``, see
`bot.blocks.paper_section`), so a reaction on any digest message maps to its papers.
"""
from __future__ import annotations

from bot.posting import SlackPoster
from store import Store

PAPER_BLOCK_PREFIX = "paper:"


def paper_ids_in_blocks(blocks: list[dict] | None) -> list[str]:
    """arXiv ids of the paper sections in `blocks`, in order."""
    return [b["block_id"][len(PAPER_BLOCK_PREFIX):] for b in blocks or []
            if isinstance(b.get("block_id"), str) and b["block_id"].startswith(PAPER_BLOCK_PREFIX)]


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
