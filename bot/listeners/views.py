"""The App Home view: publishing it (views.publish) and its buttons (DM digest on/off,
unfollow, follow a collection, refresh), each of which republishes the view."""
from __future__ import annotations

import logging
import re

from bot.home import (ACTION_DM_TOGGLE, ACTION_FOLLOW_COLLECTION, ACTION_REFRESH, ACTION_UNFOLLOW,
                      home_view)
from bot.listeners.payload import text_value, user_id

log = logging.getLogger(__name__)


def _user(body: dict, action_name: str) -> str | None:
    """The clicking user's id, or None (logged) for a payload without one."""
    user = user_id(body)
    if user is None:
        log.warning("%s click without a user id: ignored", action_name)
    return user


def publish_home(client, services, user_id: str) -> None:
    """Build the user's Home tab from the store and publish it."""
    client.views_publish(user_id=user_id, view=home_view(services.home_data(user_id)))


def register(app, services) -> None:
    """Register the Home tab button listeners."""

    @app.action(ACTION_DM_TOGGLE)
    def dm_toggle(ack, body, action, client):
        ack()
        user, value = _user(body, ACTION_DM_TOGGLE), text_value(action)
        if user is None:
            return
        if value not in ("on", "off"):
            log.warning("%s click with value %r: ignored", ACTION_DM_TOGGLE, value[:40])
            return
        services.set_dm_digest(user, value == "on")
        publish_home(client, services, user)

    @app.action(ACTION_UNFOLLOW)
    def unfollow(ack, body, action, client):
        ack()
        user = _user(body, ACTION_UNFOLLOW)
        if user is None:
            return
        kind, _, value = text_value(action).partition(":")
        if kind not in ("collection", "keyword", "author") or not value:
            log.warning("%s click with value %r: ignored", ACTION_UNFOLLOW, text_value(action)[:40])
            return
        services.store.remove_follow(user, kind, value)
        publish_home(client, services, user)

    # home_follow_collection:<i> (one action_id per button), and the bare id of views published
    # before the buttons had their own ids
    @app.action(re.compile(f"^{re.escape(ACTION_FOLLOW_COLLECTION)}(:[0-9]+)?$"))
    def follow_collection(ack, body, action, client):
        ack()
        user = _user(body, ACTION_FOLLOW_COLLECTION)
        if user is None:
            return
        name = text_value(action)
        if not name:
            log.warning("%s click without a collection name: ignored", ACTION_FOLLOW_COLLECTION)
            return
        if name in services.store.collections():
            services.store.add_follow(user, "collection", name)
        publish_home(client, services, user)

    @app.action(ACTION_REFRESH)
    def refresh(ack, body, client):
        ack()
        user = _user(body, ACTION_REFRESH)
        if user is not None:
            publish_home(client, services, user)
