"""Delivering a digest: to Slack (chat.postMessage) or, without a token, to the terminal.

Slack posting: the main message holds the header and the top papers (≤ 50 blocks); papers that
do not fit go to thread replies. ``unfurl_links=False`` keeps arXiv previews from flooding the
channel. Posts are paced to about one message per second per channel (Slack's chat.postMessage
rate limit, https://api.slack.com/methods/chat.postMessage#rate_limiting).
"""
from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass
from typing import TextIO

from slack_sdk import WebClient

from bot.blocks import digest_blocks, overflow_blocks
from bot.digest import Digest
from bot.text import render_text


@dataclass
class PostResult:
    """Where a digest went: Slack message ``ts`` (None for terminal output) and the thread replies."""

    ts: str | None
    thread_ts: list[str]
    target: str  # "slack" | "terminal"


class SlackPoster:
    """Posts digests with a `WebClient`; `interval_s` paces messages per channel."""

    def __init__(self, client: WebClient, interval_s: float = 1.0, sleep=time.sleep, clock=time.monotonic):
        self.client = client
        self.interval_s = interval_s
        self._sleep = sleep
        self._clock = clock
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def _pace(self, channel: str) -> None:
        with self._lock:
            last = self._last.get(channel)
            if last is not None:
                wait = self.interval_s - (self._clock() - last)
                if wait > 0:
                    self._sleep(wait)
            self._last[channel] = self._clock()

    def post_message(self, channel: str, text: str, blocks: list[dict] | None = None,
                     thread_ts: str | None = None) -> str:
        """chat.postMessage, paced; returns the message ``ts``.

        Raises:
            slack_sdk.errors.SlackApiError: Slack answered ``ok: false`` (after built-in retries).
        """
        self._pace(channel)
        resp = self.client.chat_postMessage(channel=channel, text=text, blocks=blocks, thread_ts=thread_ts,
                                            unfurl_links=False, unfurl_media=False)
        return resp["ts"]

    def post_digest(self, digest: Digest) -> PostResult:
        """Post the main message, then overflow papers as thread replies."""
        blocks, overflow = digest_blocks(digest)
        ts = self.post_message(digest.channel_id, digest.summary, blocks)
        replies = []
        shown = len(digest.items) - len(overflow)
        for msg in overflow_blocks(overflow, shown + 1):
            replies.append(self.post_message(digest.channel_id, f"More papers from {digest.title}", msg, thread_ts=ts))
        return PostResult(ts, replies, "slack")


class TerminalPoster:
    """Prints what would be posted (no Slack token)."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stdout

    def post_digest(self, digest: Digest) -> PostResult:
        """Write the digest as readable text."""
        target = f"(no SLACK_BOT_TOKEN: would post to {digest.channel_id})"
        self.stream.write(target + "\n" + render_text(digest) + "\n")
        self.stream.flush()
        return PostResult(None, [], "terminal")
