"""Delivering a digest: to Slack (chat.postMessage) or, without a token, to the terminal.

Slack posting: the main message holds the header and the top papers (≤ 50 blocks); papers that
do not fit go to thread replies. ``unfurl_links=False`` keeps arXiv previews from flooding the
channel. Posts are paced to about one message per second per channel (Slack's chat.postMessage
rate limit, https://api.slack.com/methods/chat.postMessage#rate_limiting).
"""
from __future__ import annotations

import logging
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.blocks import digest_blocks, fallback_text, overflow_blocks, paper_ids_in_blocks
from bot.digest import Digest
from bot.slack_client import CONNECTION_ERRORS
from bot.text import render_text
from feeds.http import Pacer

log = logging.getLogger(__name__)

DIGEST_EVENT_TYPE = "paperbot_digest"
# Transport-level failures of a Web API call (no HTTP answer): the call may or may not have taken
# effect (timeouts, resets, a TLS connection broken mid-answer — ssl.SSLError — …).
TRANSPORT_ERRORS = tuple(CONNECTION_ERRORS)


# Slack error codes after which a post may nevertheless have landed: chat.postMessage's docs say of
# internal_error and fatal_error "It's possible some aspect of the operation succeeded before the
# error was raised" (https://api.slack.com/methods/chat.postMessage#errors); service_unavailable
# is a 503 under another name. These are checked in the history like a timeout, never re-posted blind.
AMBIGUOUS_ERROR_CODES = frozenset({"internal_error", "fatal_error", "service_unavailable"})


class HistoryIncomplete(RuntimeError):
    """conversations.history (or .replies) still had more messages after every page `find_message`
    may read: a keyed message not found so far may still be there, so "not posted" cannot be
    concluded (callers treat it like an unreadable history)."""


class DeliveryUncertain(RuntimeError):
    """chat.postMessage failed ambiguously (timeout, reset, 5xx) and the channel history could not
    be read to tell whether the message landed: the caller must neither record success nor post
    again blindly (the digest stays pending and is checked on the next run)."""


def digest_metadata(digest_key: str) -> dict:
    """Slack message metadata that marks a digest message with its idempotency key
    (https://api.slack.com/metadata/using): ``{"event_type": "paperbot_digest",
    "event_payload": {"digest_key": key}}``."""
    return {"event_type": DIGEST_EVENT_TYPE, "event_payload": {"digest_key": digest_key}}


def _never_sent(exc: BaseException) -> bool:
    """True when a transport error happened before any byte of the request left: the connection
    was refused, the host name did not resolve, or the server's TLS certificate was refused in
    the handshake (``urllib`` wraps all three in `URLError`)."""
    reason = exc.reason if isinstance(exc, URLError) else exc
    return isinstance(reason, (ConnectionRefusedError, socket.gaierror, ssl.SSLCertVerificationError))


def _is_ambiguous(exc: BaseException) -> bool:
    """True when a failed chat.postMessage may nevertheless have posted (no clear answer): an
    HTTP 5xx, an `AMBIGUOUS_ERROR_CODES` answer, a timeout, a reset — but not a refused
    connection or an unresolvable host, which cannot have reached Slack."""
    if isinstance(exc, SlackApiError):
        if exc.response is None:
            return False
        data = exc.response.data if isinstance(exc.response.data, dict) else {}
        return getattr(exc.response, "status_code", 200) >= 500 or data.get("error") in AMBIGUOUS_ERROR_CODES
    return isinstance(exc, TRANSPORT_ERRORS) and not _never_sent(exc)


def reply_key(digest_key: str, n: int) -> str:
    """The idempotency key of a digest's `n`-th thread reply (1-based): ``<digest key>#<n>``."""
    return f"{digest_key}#{n}"


@dataclass
class PostResult:
    """Where a digest went: Slack message ``ts`` (None for terminal output) and the thread replies."""

    ts: str | None
    thread_ts: list[str]
    target: str  # "slack" | "terminal"
    error: str | None = None  # a thread reply that failed after the main message was posted
    unposted: list[str] = field(default_factory=list)  # arXiv ids of the papers that never reached Slack


class SlackPoster:
    """Posts digests with a `WebClient`; `interval_s` paces messages per channel.

    A digest posted with a key (`post_digest(digest, key=…)`) carries the key in its message
    metadata (and each thread reply ``reply_key(key, n)`` in its own). When chat.postMessage fails
    ambiguously (timeout, connection reset, HTTP 5xx, `AMBIGUOUS_ERROR_CODES`: the message may or
    may not have landed) the poster reads the channel's recent history — or the thread, for a
    reply — (`find_message`) and only posts again when the keyed message is not there — up to `attempts`
    tries with exponential backoff (`backoff`, 2·`backoff` … seconds). Clear refusals
    (``channel_not_found``, ``not_in_channel``, ``invalid_auth`` …) are raised at once.
    """

    def __init__(self, client: WebClient, interval_s: float = 1.0, sleep=time.sleep, clock=time.monotonic,
                 attempts: int = 3, backoff: float = 2.0, wall_clock=time.time):
        self.client = client
        self.interval_s = interval_s
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self._wall = wall_clock
        self._sleep = sleep
        self._clock = clock
        self._pacers: dict[str, Pacer] = {}
        self._lock = threading.Lock()
        self._where: dict[str, str] = {}  # posted-to id -> the channel Slack put the messages in

    def message_channel(self, channel: str) -> str:
        """The channel id messages posted to `channel` are in, as Slack reported it
        (chat.postMessage's ``channel``, or conversations.open for a user id): a user id's DM
        channel (``U…`` → ``D…``), `channel` itself until Slack has said otherwise."""
        return self._where.get(channel, channel)

    def _pace(self, channel: str) -> None:
        """Wait until `interval_s` has passed since this channel's previous post (one
        `feeds.http.Pacer` per channel, so channels do not wait on each other)."""
        with self._lock:
            pacer = self._pacers.get(channel)
            if pacer is None:
                pacer = self._pacers[channel] = Pacer(self.interval_s, clock=self._clock, sleep=self._sleep)
        pacer.wait()

    def post_message(self, channel: str, text: str, blocks: list[dict] | None = None,
                     thread_ts: str | None = None, metadata: dict | None = None) -> str:
        """chat.postMessage, paced; returns the message ``ts``.

        Raises:
            slack_sdk.errors.SlackApiError: Slack answered ``ok: false`` or an HTTP error (after the
                client's retry handlers); transport errors (timeouts, resets) as raised by slack_sdk.
        """
        self._pace(channel)
        kwargs = {"metadata": metadata} if metadata else {}
        resp = self.client.chat_postMessage(channel=channel, text=text, blocks=blocks, thread_ts=thread_ts,
                                            unfurl_links=False, unfurl_media=False, **kwargs)
        if isinstance(resp.get("channel"), str) and resp["channel"]:
            self._where[channel] = resp["channel"]
        self.after_post(channel, blocks, resp)
        return resp["ts"]

    def after_post(self, channel: str, blocks: list[dict] | None, response) -> None:
        """Hook called after every successful post (subclasses record things) with Slack's answer
        (``ts``, ``channel``) — also for a keyed post that failed ambiguously but was found in the
        history, with ``{"ts": …, "channel": <the channel it is in>}``: a message that landed is
        a posted message, however we learnt of it."""

    def find_message(self, channel: str, digest_key: str, oldest: float, max_pages: int = 20,
                     thread_ts: str | None = None) -> dict | None:
        """The message in `channel` (posted after `oldest`, epoch seconds) whose metadata carries
        `digest_key`, as Slack returns it (``ts``, ``blocks``, ``metadata`` …), or None.

        Reads conversations.history — or, with `thread_ts`, conversations.replies of that thread —
        with ``include_all_metadata`` (needs the channels:history / groups:history scope), up to
        `max_pages` × 200 messages (https://api.slack.com/methods/conversations.history). A user
        id (a DM digest) is first turned into its DM channel with conversations.open (idempotent;
        im:write), which `message_channel` then answers for it.

        Raises:
            SlackApiError: the history cannot be read (e.g. ``missing_scope``, ``not_in_channel``).
            HistoryIncomplete: every page was read and Slack still reports more messages.
        """
        if channel[:1] in ("U", "W"):  # a DM digest posted to a user id: read the DM channel
            opened = self.client.conversations_open(users=channel)
            dm = (opened.get("channel") or {}).get("id")
            if isinstance(dm, str) and dm:
                self._where[channel] = dm
                channel = dm
        cursor = None
        for _ in range(max_pages):
            kwargs = {"cursor": cursor} if cursor else {}
            if thread_ts:
                resp = self.client.conversations_replies(channel=channel, ts=thread_ts, oldest=f"{oldest:.6f}",
                                                         limit=200, include_all_metadata=True, **kwargs)
            else:
                resp = self.client.conversations_history(channel=channel, oldest=f"{oldest:.6f}", limit=200,
                                                         include_all_metadata=True, **kwargs)
            for msg in resp.get("messages") or []:
                meta = msg.get("metadata") or {}
                payload = meta.get("event_payload") or {}
                if meta.get("event_type") == DIGEST_EVENT_TYPE and payload.get("digest_key") == digest_key:
                    return msg
            cursor = (resp.get("response_metadata") or {}).get("next_cursor")
            if not resp.get("has_more") or not cursor:
                return None
        raise HistoryIncomplete(f"{channel} has more than {max_pages * 200} messages since the digest was "
                                "started; could not read them all")

    def _post_keyed(self, channel: str, text: str, blocks: list[dict], key: str,
                    thread_ts: str | None = None) -> str:
        started = self._wall() - 120  # margin for clock skew between us and Slack
        last: BaseException | None = None
        for attempt in range(1, self.attempts + 1):
            try:
                return self.post_message(channel, text, blocks, thread_ts=thread_ts, metadata=digest_metadata(key))
            except (SlackApiError, *TRANSPORT_ERRORS) as exc:
                if not _is_ambiguous(exc):
                    raise
                last = exc
            reason = _short(last)
            try:
                found = self.find_message(channel, key, started, thread_ts=thread_ts)
                ts = found.get("ts") if found else None
            except (SlackApiError, HistoryIncomplete, *TRANSPORT_ERRORS) as exc:
                raise DeliveryUncertain(
                    f"chat.postMessage to {channel} failed ambiguously ({reason}) and the channel "
                    f"history could not be read ({_short(exc)}); not posting again") from None
            if ts:
                log.warning("digest %s: chat.postMessage failed (%s) but the message is in %s (ts %s)",
                            key, reason, channel, ts)
                self.after_post(channel, blocks, {"ts": ts, "channel": self.message_channel(channel)})
                return ts
            if attempt < self.attempts:
                delay = self.backoff * (2 ** (attempt - 1))
                log.warning("digest %s: chat.postMessage failed (%s), not in the channel; retry %d/%d in %.1f s",
                            key, reason, attempt, self.attempts - 1, delay)
                self._sleep(delay)
        assert last is not None
        raise last

    def post_digest(self, digest: Digest, key: str | None = None,
                    on_posted: Callable[[str, list[str]], None] | None = None,
                    on_reply: Callable[[list[str]], None] | None = None,
                    on_message: Callable[[str, str, list[str]], None] | None = None) -> PostResult:
        """Post the main message, then overflow papers as thread replies.

        Args:
            key: the digest's idempotency key; when given it goes into the metadata of the main
                message (and ``reply_key(key, n)`` into the n-th reply's), and ambiguous failures
                are resolved through the channel history or the thread (see the class doc).
            on_posted: ``on_posted(ts, overflow_ids)`` as soon as the main message is posted,
                before any reply: its ``ts`` and the arXiv ids that still have to go to the
                thread (the caller records the ts and treats those as not shown yet).
            on_reply: ``on_reply(ids)`` after each thread reply is posted, with the ids it shows.
            on_message: ``on_message(channel, ts, ids)`` for every message of the digest that is
                in Slack — posted, or found in the history after an ambiguous failure — before
                `on_posted` / `on_reply`: the channel it is in (`message_channel`: a DM's ``D…``),
                its ``ts`` and the arXiv ids it shows (its paper sections, in order), so a
                reaction on it can be mapped to exactly those papers.

        A reply that fails, for whatever reason, stops the thread: the ids of that reply and of
        every later one are returned in `PostResult.unposted` (the main message is posted, so the
        digest is not re-posted).

        Raises:
            SlackApiError: the main message was clearly refused, or failed after every attempt;
                `DeliveryUncertain`.
        """
        blocks, overflow = digest_blocks(digest)
        summary = fallback_text(digest.summary)
        if key:
            ts = self._post_keyed(digest.channel_id, summary, blocks, key)
        else:
            ts = self.post_message(digest.channel_id, summary, blocks)
        if on_message is not None:
            on_message(self.message_channel(digest.channel_id), ts, paper_ids_in_blocks(blocks))
        if on_posted is not None:
            on_posted(ts, [r.paper.arxiv_id for r in overflow])
        replies: list[str] = []
        shown = len(digest.items) - len(overflow)
        done = 0  # overflow papers posted so far
        text = fallback_text(f"More papers from {digest.title}")
        for n, msg in enumerate(overflow_blocks(overflow, shown + 1), 1):
            ids = [r.paper.arxiv_id for r in overflow[done:done + sum(1 for b in msg if b.get("type") == "section")]]
            try:
                if key:
                    replies.append(self._post_keyed(digest.channel_id, text, msg, reply_key(key, n), thread_ts=ts))
                else:
                    replies.append(self.post_message(digest.channel_id, text, msg, thread_ts=ts))
            except Exception as exc:  # noqa: BLE001 — whatever broke, the main message is out: stop and report
                # the papers of this and every later reply go back to the caller, never to limbo
                unposted = [r.paper.arxiv_id for r in overflow[done:]]
                error = f"thread reply failed: {_short(exc)}; {len(unposted)} papers not posted"
                log.error("digest in %s (ts %s): %s", digest.channel_id, ts, error,
                          exc_info=not isinstance(exc, (SlackApiError, DeliveryUncertain, *TRANSPORT_ERRORS)))
                return PostResult(ts, replies, "slack", error=error, unposted=unposted)
            done += len(ids)
            if on_message is not None:
                on_message(self.message_channel(digest.channel_id), replies[-1], paper_ids_in_blocks(msg))
            if on_reply is not None:
                on_reply(ids)
        return PostResult(ts, replies, "slack")


def _short(exc: BaseException | None) -> str:
    if isinstance(exc, SlackApiError) and exc.response is not None:
        status = getattr(exc.response, "status_code", None)
        data = exc.response.data if isinstance(exc.response.data, dict) else {}
        return f"HTTP {status}" + (f" {data.get('error')}" if data.get("error") else "")
    return f"{type(exc).__name__}: {exc}"[:200]


class TerminalPoster:
    """Prints what would be posted (no Slack token).

    `say_target`: start each digest with ``(no SLACK_BOT_TOKEN: would post to <channel>)``, the
    reason it is printed (``run --once`` without a token); ``paperbot demo`` always prints,
    token or not, and leaves that line out."""

    def __init__(self, stream: TextIO | None = None, say_target: bool = True):
        self.stream = stream or sys.stdout
        self.say_target = say_target

    def post_digest(self, digest: Digest) -> PostResult:
        """Write the digest as readable text."""
        target = f"(no SLACK_BOT_TOKEN: would post to {digest.channel_id})\n" if self.say_target else ""
        self.stream.write(target + render_text(digest) + "\n")
        self.stream.flush()
        return PostResult(None, [], "terminal")
