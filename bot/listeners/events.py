"""Events: 👍/👎 reactions on digest messages, and App Home opened.

Reactions: the reacted message (channel, ts) is mapped to the papers it shows, as recorded when
it was posted (`paperbot.pipeline.deliver` records every digest message: main message and each
thread reply). A reaction counts as feedback on exactly the papers of that message, and
removing it undoes exactly that; a message with no record (not a digest, or posted by a
paperbot before messages were recorded) counts for nothing — never for papers it does not show.
Which emoji count as 👍/👎 is configurable (``[slack] thumbs_up/thumbs_down``). Redeliveries (same ``event_id``,
``X-Slack-Retry-Num``) change nothing. Slack does not order events and retries late, so a removal
may come before its add: a removal with nothing to undo is remembered, and an add of the same
reaction by the same user on the same message whose ``event_ts`` is not later is skipped
(`recommender.feedback.record_reaction` / `undo_reaction`).
"""
from __future__ import annotations

import logging

from bot.listeners.views import publish_home
from recommender import feedback

log = logging.getLogger(__name__)


def _value(reaction: str, services) -> int | None:
    base = (reaction or "").split("::")[0]  # skin tones: "+1::skin-tone-2"
    if base in services.config.slack.thumbs_up:
        return feedback.UP
    if base in services.config.slack.thumbs_down:
        return feedback.DOWN
    return None


def _papers_of(services, channel: str, ts: str) -> list[str]:
    return services.store.message_paper_ids(channel, ts) if channel and ts else []


def register(app, services) -> None:
    """Register reaction and App Home listeners."""

    @app.event("reaction_added")
    def reaction_added(body, event):
        value = _value(event.get("reaction"), services)
        item = event.get("item") or {}
        if value is None or item.get("type") != "message" or not event.get("user"):
            return
        channel, ts = item.get("channel"), item.get("ts")
        event_id = body.get("event_id") or f"{event.get('user')}:{event.get('event_ts')}"
        feedback.record_reaction(services.store, event["user"], _papers_of(services, channel, ts), value,
                                 event["reaction"], channel, ts, event_id, event.get("event_ts"))

    @app.event("reaction_removed")
    def reaction_removed(body, event):
        value = _value(event.get("reaction"), services)
        item = event.get("item") or {}
        if value is None or item.get("type") != "message" or not event.get("user"):
            return
        event_id = body.get("event_id") or f"{event.get('user')}:{event.get('event_ts')}"
        if not services.store.claim_event(f"event:{event_id}"):
            return  # redelivered removal: already undone
        channel, ts = item.get("channel"), item.get("ts")
        # exactly the votes this reaction made; none yet (its add comes late) → its add is skipped
        feedback.undo_reaction(services.store, event["user"], _papers_of(services, channel, ts), value,
                               event["reaction"], channel, ts, event.get("event_ts"))

    @app.event("app_home_opened")
    def app_home_opened(event, client):
        if event.get("tab", "home") != "home" or not event.get("user"):
            return
        publish_home(client, services, event["user"])
