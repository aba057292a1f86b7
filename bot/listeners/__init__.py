"""Bolt listeners, split by kind (slack-samples bolt starter layout): each module has
``register(app, services)``. `services` is a `paperbot.service.PaperbotService` (duck-typed: the
bot package does not import the orchestration layer)."""
from __future__ import annotations

from bot.listeners import actions, commands, events, views


def register_listeners(app, services) -> None:
    """Register every listener on `app`."""
    commands.register(app, services)
    actions.register(app, services)
    events.register(app, services)
    views.register(app, services)
