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

    def post_message(self, channel: str, text: str, blocks: list[dict] | None = None,
                     thread_ts: str | None = None) -> str:
        """chat.postMessage (paced, ``unfurl_links=False``); records the papers it shows under
        the channel Slack answered with (a DM posted to a user id lands in a ``D…`` channel)."""
        self._pace(channel)
        resp = self.client.chat_postMessage(channel=channel, text=text, blocks=blocks, thread_ts=thread_ts,
                                            unfurl_links=False, unfurl_media=False)
        ids = paper_ids_in_blocks(blocks)
        if ids:
            self.store.add_message_papers(resp.get("channel") or channel, resp["ts"], ids)
            if resp.get("channel") and resp["channel"] != channel:
                self.store.add_message_papers(channel, resp["ts"], ids)
        return resp["ts"]
