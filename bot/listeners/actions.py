"""Button clicks on papers (digests, search results): 👍 / 👎 and "More like this".

Each click is recorded once through `recommender.feedback.record`, keyed on the click's
``action_ts`` (a redelivered payload stores nothing new). On a channel digest message the
message's buttons are updated with chat.update to show the (👍, 👎) counts of every paper in
it, read from the store under a per-message lock, so concurrent clicks on different papers of
one message cannot put back each other's old counts (each click's payload carries the message
as it was before the other click's update); on an ephemeral
search result (which Slack does not let a bot edit by ts) the user gets a one-line ephemeral
confirmation of their choice.
"""
from __future__ import annotations

import logging
import threading
import weakref

from bot.blocks import ACTION_DOWN, ACTION_MORE_LIKE, ACTION_UP, escape_within
from bot.commands_parser import parse_arxiv_id
from bot.listeners.payload import can_respond, obj, text_value, user_id
from bot.search_blocks import feedback_button_ids, search_blocks, with_feedback_counts
from recommender import feedback

log = logging.getLogger(__name__)


def register(app, services) -> None:
    """Register the paper button listeners."""
    locks: weakref.WeakValueDictionary[tuple[str, str], threading.Lock] = weakref.WeakValueDictionary()
    locks_guard = threading.Lock()

    def message_lock(channel: str, ts: str) -> threading.Lock:
        with locks_guard:
            lock = locks.get((channel, ts))
            if lock is None:
                lock = locks[(channel, ts)] = threading.Lock()
            return lock

    def on_feedback(ack, body, action, client, respond, value: int):
        ack()
        aid = parse_arxiv_id(text_value(action))
        user = user_id(body)
        if aid is None or not user:
            log.warning("feedback button with bad value %r or no user: ignored", str(action.get("value"))[:60])
            return
        container = obj(body.get("container"))
        ephemeral = bool(container.get("is_ephemeral"))
        channel = container.get("channel_id") or obj(body.get("channel")).get("id")
        message = obj(body.get("message"))
        ts = container.get("message_ts") or message.get("ts")
        if not isinstance(channel, str) or not isinstance(ts, str):
            channel = ts = None
        can_update = bool(not ephemeral and isinstance(message.get("blocks"), list) and channel and ts)
        if not can_update and not can_respond(body):
            log.warning("feedback click with neither a message to update nor a response_url: ignored")
            return
        is_digest = (not ephemeral and channel and ts and
                     (services.store.message_paper_ids(channel, ts) or services.store.digest_by_message(channel, ts)))
        stored = feedback.record(services.store, user, aid, value, "button",
                                 event_key=f"action:{user}:{action.get('action_ts')}",
                                 channel_id=channel if is_digest else None,
                                 message_ts=ts if is_digest else None)
        if not stored:
            return  # a redelivery: already recorded and shown
        if can_update:
            ids = feedback_button_ids(message["blocks"]) or [aid]
            with message_lock(channel, ts):  # read and update in turn: the last update shows every vote
                counts = services.store.feedback_counts_many(ids, channel_id=channel if is_digest else None)
                client.chat_update(channel=channel, ts=ts, text=message.get("text") or "Paper digest",
                                   blocks=with_feedback_counts(message["blocks"], counts))
        else:
            paper = services.store.get_paper(aid)
            title = escape_within(paper.title, 300) if paper else aid
            respond(response_type="ephemeral", replace_original=False,
                    text=f"{'👍' if value > 0 else '👎'} recorded for “{title}”: "
                         f"{'more' if value > 0 else 'fewer'} papers like it in your digests.")

    @app.action(ACTION_UP)
    def feedback_up(ack, body, action, client, respond):
        on_feedback(ack, body, action, client, respond, feedback.UP)

    @app.action(ACTION_DOWN)
    def feedback_down(ack, body, action, client, respond):
        on_feedback(ack, body, action, client, respond, feedback.DOWN)

    @app.action(ACTION_MORE_LIKE)
    def more_like_this(ack, body, action, respond):
        ack()
        if not can_respond(body):
            log.warning("%s click without a response_url: ignored", ACTION_MORE_LIKE)
            return
        aid = parse_arxiv_id(text_value(action))
        if aid is None:
            log.warning("%s button with bad value %r: ignored", ACTION_MORE_LIKE, str(action.get("value"))[:60])
            return
        paper = services.store.get_paper(aid)
        if paper is None:
            respond(response_type="ephemeral", replace_original=False, text="That paper is not stored any more.")
            return
        hits = services.more_like(aid)
        respond(response_type="ephemeral", replace_original=False, text=f"{len(hits)} papers like {aid}",
                blocks=search_blocks(paper.title, hits, heading=f"More like “{paper.title[:150]}”"))
