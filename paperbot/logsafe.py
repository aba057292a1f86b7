"""Defence in depth for secrets in logs: a logging filter that masks Slack tokens.

Secrets come only from the environment and no paperbot message includes them; this filter
guarantees it for third-party messages too. It masks Slack token shapes (``xoxb-…``, ``xoxp-…``,
``xoxa-…``, ``xoxr-…``, ``xoxe-…``, ``xapp-…``) and the exact values of the secret environment
variables (``SLACK_BOT_TOKEN``, ``SLACK_SIGNING_SECRET``, ``SLACK_APP_TOKEN``), in the message
and in formatted exception text.
"""
from __future__ import annotations

import logging
import os
import re

SECRET_ENV_VARS = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN")
_TOKEN_RE = re.compile(r"\b(xox[abpre]|xapp)-[A-Za-z0-9-]+")
MASK = "[redacted]"


def redact(text: str) -> str:
    """`text` with Slack tokens and the current secret env values replaced by ``[redacted]``."""
    text = _TOKEN_RE.sub(MASK, text)
    for var in SECRET_ENV_VARS:
        value = os.environ.get(var)
        if value and len(value) >= 6:
            text = text.replace(value, MASK)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites each record's message (args merged) and exception text through `redact`."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to the handler
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def install(logger: logging.Logger | None = None) -> None:
    """Attach a `RedactingFilter` to every handler of `logger` (the root logger by default)."""
    logger = logger or logging.getLogger()
    for handler in logger.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
