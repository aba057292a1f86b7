"""Events: 👍/👎 reactions on digest messages, and App Home opened.

Reactions: the reacted message (channel, ts) is mapped to the papers it shows (recorded when
posted, `bot.tracked_posting`; else the digest whose ts it is). A reaction counts as feedback on
every paper of that message — one paper for a search result or a one-paper thread reply, the
papers shown for a digest message — and removing it undoes exactly that. Which emoji count as
👍/👎 is configurable (``[slack] thumbs_up/thumbs_down``). Redeliveries (same ``event_id``,
``X-Slack-Retry-Num``) change nothing.
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
    ids = services.store.message_paper_ids(channel, ts)
    if ids:
        return ids
    digest = services.store.digest_by_message(channel, ts)
    return services.store.digest_paper_ids(digest["id"]) if digest else []


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
        for aid in _papers_of(services, channel, ts):
            feedback.record(services.store, event["user"], aid, value, "reaction",
                            event_key=f"event:{event_id}:{aid}", channel_id=channel, message_ts=ts)

    @app.event("reaction_removed")
    def reaction_removed(body, event):
        value = _value(event.get("reaction"), services)
        item = event.get("item") or {}
        if value is None or item.get("type") != "message" or not event.get("user"):
            return
        event_id = body.get("event_id") or f"{event.get('user')}:{event.get('event_ts')}"
        if not services.store.claim_event(f"event:{event_id}"):
            return  # redelivered removal: already undone
        for aid in _papers_of(services, item.get("channel"), item.get("ts")):
            feedback.undo(services.store, event["user"], aid, value, source="reaction")

    @app.event("app_home_opened")
    def app_home_opened(event, client):
        if event.get("tab", "home") != "home" or not event.get("user"):
            return
        publish_home(client, services, event["user"])
