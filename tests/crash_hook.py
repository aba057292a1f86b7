"""Test-only fault injection for the crash tests: SIGKILL this process at a chosen point.

Not imported by product code. The crash test starts the real CLI through a ``-c`` wrapper that
calls `install()` first:

    python -c "import tests.crash_hook as h; h.install(); from paperbot.cli import main; main()" run --once …

``PAPERBOT_TEST_CRASH`` selects the point:
- ``after_post``: right after chat.postMessage returned the digest's ``ts`` and before anything
  records it (the window where a naive bot would post twice after restart);
- ``after_intent``: right after the intent was recorded and before chat.postMessage (the window
  where a naive bot would lose the digest).
"""
from __future__ import annotations

import os
import signal


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def install() -> None:
    """Patch the crash point named by ``PAPERBOT_TEST_CRASH`` (no-op when unset)."""
    point = os.environ.get("PAPERBOT_TEST_CRASH")
    if point == "after_post":
        from bot.posting import SlackPoster

        original = SlackPoster.post_message

        def post_message(self, channel, text, blocks=None, thread_ts=None, metadata=None):
            ts = original(self, channel, text, blocks, thread_ts, metadata)
            if metadata:  # the digest's main message (thread replies carry none)
                _die()
            return ts

        SlackPoster.post_message = post_message
    elif point == "after_intent":
        from store.store import Store

        original_claim = Store.claim_digest  # begin_digest goes through it too

        def claim_digest(self, *args, **kwargs):
            result = original_claim(self, *args, **kwargs)
            if result[2]:  # this call wrote the intent
                _die()
            return result

        Store.claim_digest = claim_digest
    elif point:
        raise ValueError(f"unknown PAPERBOT_TEST_CRASH point {point!r}")
