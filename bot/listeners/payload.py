"""Reading interaction payloads defensively: a signed request can still carry a malformed
payload (a button without ``user``, a ``value`` that is an object, no ``response_url``), and a
listener that raises after ``ack()`` makes bolt answer 404 and log a traceback. These helpers
return a usable value or a falsy one, so listeners log one line and return instead.

Shapes from https://api.slack.com/reference/interaction-payloads/block-actions-payload:
``{"user": {"id": "U…"}, "actions": [{"action_id": …, "value": "…"}], "response_url": …}``.
"""
from __future__ import annotations


def obj(x) -> dict:
    """`x` if it is a JSON object (dict), else ``{}``."""
    return x if isinstance(x, dict) else {}


def user_id(body: dict) -> str | None:
    """``body.user.id`` when it is a non-empty string, else None."""
    uid = obj(obj(body).get("user")).get("id")
    return uid if isinstance(uid, str) and uid else None


def text_value(action: dict) -> str:
    """A button's ``value`` when it is a string, else ``""``."""
    value = obj(action).get("value")
    return value if isinstance(value, str) else ""


def can_respond(body: dict) -> bool:
    """True when the payload has a ``response_url`` (bolt's ``respond`` raises without one)."""
    url = obj(body).get("response_url")
    return isinstance(url, str) and bool(url)
