"""The App Home view: publishing it (views.publish) and its buttons (DM digest on/off,
unfollow, follow a collection, refresh), each of which republishes the view."""
from __future__ import annotations

import logging
import re

from bot.home import (ACTION_DM_TOGGLE, ACTION_FOLLOW_COLLECTION, ACTION_REFRESH, ACTION_UNFOLLOW,
                      home_view)

log = logging.getLogger(__name__)


def publish_home(client, services, user_id: str) -> None:
    """Build the user's Home tab from the store and publish it."""
    client.views_publish(user_id=user_id, view=home_view(services.home_data(user_id)))


def register(app, services) -> None:
    """Register the Home tab button listeners."""

    @app.action(ACTION_DM_TOGGLE)
    def dm_toggle(ack, body, action, client):
        ack()
        user = body["user"]["id"]
        services.set_dm_digest(user, action.get("value") == "on")
        publish_home(client, services, user)

    @app.action(ACTION_UNFOLLOW)
    def unfollow(ack, body, action, client):
        ack()
        user = body["user"]["id"]
        kind, _, value = (action.get("value") or "").partition(":")
        if kind in ("collection", "keyword", "author") and value:
            services.store.remove_follow(user, kind, value)
        publish_home(client, services, user)

    # home_follow_collection:<i> (one action_id per button), and the bare id of views published
    # before the buttons had their own ids
    @app.action(re.compile(f"^{re.escape(ACTION_FOLLOW_COLLECTION)}(:[0-9]+)?$"))
    def follow_collection(ack, body, action, client):
        ack()
        user = body["user"]["id"]
        name = action.get("value") or ""
        if name in services.store.collections():
            services.store.add_follow(user, "collection", name)
        publish_home(client, services, user)

    @app.action(ACTION_REFRESH)
    def refresh(ack, body, client):
        ack()
        publish_home(client, services, body["user"]["id"])
