"""The Slack Web API client: `slack_sdk.WebClient` with retries and a configurable base URL.

``SLACK_API_URL`` (via `Config.slack_api_url`) points the client at a Slack emulator or a test
fake. Retry policy (slack_sdk retry handlers, https://tools.slack.dev/python-slack-sdk/web#retryhandler):

- 429: retried after ``Retry-After`` for every method (a rate-limited call was not processed);
- 5xx, timeouts and connection errors: retried for idempotent methods only. A write that is
  not idempotent (`NON_IDEMPOTENT_METHODS`, e.g. chat.postMessage) may already have taken effect
  when the answer is lost, so a blind retry could post twice: those calls are retried by the
  caller, which first checks whether the first try landed (see `bot.posting.SlackPoster`).

`describe_error` turns Slack error codes into one clear line; no message here ever contains the
token (slack_sdk itself redacts the ``Authorization`` header in its debug log).
"""
from __future__ import annotations

import http.client
import socket
import ssl
from typing import Optional
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

DEFAULT_SLACK_API_URL = "https://slack.com/api/"

NON_IDEMPOTENT_METHODS = frozenset({
    "chat.postMessage", "chat.postEphemeral", "chat.scheduleMessage", "chat.meMessage",
    "files.upload", "files.completeUploadExternal", "conversations.create",
})
SERVER_ERROR_STATUSES = (500, 502, 503, 504)
# Transport failures (no HTTP answer). ssl.SSLError is an OSError but not a ConnectionError: a TLS
# connection that breaks while the answer is read (SSLEOFError, "EOF occurred in violation of
# protocol") reaches us raw, since urllib only wraps errors raised while sending in URLError.
CONNECTION_ERRORS = [URLError, ConnectionError, http.client.HTTPException, TimeoutError, socket.timeout,
                     ssl.SSLError]

# Errors that concern the token, not a channel: every other call would fail the same way.
TOKEN_ERRORS = frozenset({"invalid_auth", "not_authed", "token_revoked", "token_expired",
                          "account_inactive", "no_permission", "ekm_access_denied"})
_EXPLANATIONS = {
    "channel_not_found": "channel {channel} was not found (deleted, mistyped, or private and the bot "
                         "was never invited)",
    "not_in_channel": "the bot is not a member of channel {channel}: invite it with /invite @paperbot",
    "is_archived": "channel {channel} is archived",
    "invalid_auth": "Slack rejected SLACK_BOT_TOKEN (invalid_auth): check the token in the environment",
    "not_authed": "no Slack token was sent (not_authed): set SLACK_BOT_TOKEN",
    "token_revoked": "SLACK_BOT_TOKEN has been revoked (token_revoked): reinstall the app",
    "token_expired": "SLACK_BOT_TOKEN has expired (token_expired)",
    "account_inactive": "the bot's Slack account is inactive (account_inactive)",
    "missing_scope": "the bot token lacks a needed OAuth scope (missing_scope)",
    "ratelimited": "Slack kept rate-limiting the bot (ratelimited) after retries",
    "msg_too_long": "the message is too long for Slack (msg_too_long)",
    "invalid_blocks": "Slack refused the Block Kit payload (invalid_blocks)",
}


def api_method(url: str) -> str:
    """The Web API method name of a request URL (``…/api/chat.postMessage?x`` → ``chat.postMessage``)."""
    return url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


def describe_error(code: str, channel: str | None = None) -> str:
    """One clear line for a Slack error code (``channel_not_found`` → what happened and what to do);
    unknown codes are returned as ``Slack error <code>``."""
    template = _EXPLANATIONS.get(code)
    if template is None:
        return f"Slack error {code}" + (f" for channel {channel}" if channel else "")
    return template.format(channel=channel or "?")


def error_code(exc: SlackApiError) -> str | None:
    """Slack's error code of a failed Web API call (``channel_not_found``, ``ratelimited``, …,
    https://api.slack.com/web#errors), or None when the answer held none (an HTTP 5xx page)."""
    return exc.response.get("error") if exc.response is not None else None


def transport_reason(exc: BaseException) -> str:
    """The short cause of a network failure talking to Slack: a `URLError`'s ``reason``
    (``[Errno 111] Connection refused``), else the exception's text, else its type name."""
    reason = getattr(exc, "reason", None)
    return str(reason) if reason else (str(exc) or type(exc).__name__)


class IdempotentServerErrorRetryHandler(ServerErrorRetryHandler):
    """Retries HTTP 500/502/503/504 — except for `NON_IDEMPOTENT_METHODS`."""

    def _can_retry(self, *, state: RetryState, request: HttpRequest,
                   response: Optional[HttpResponse] = None, error: Optional[Exception] = None) -> bool:
        if api_method(request.url) in NON_IDEMPOTENT_METHODS:
            return False
        return response is not None and response.status_code in SERVER_ERROR_STATUSES


class IdempotentConnectionErrorRetryHandler(ConnectionErrorRetryHandler):
    """Retries connection errors and timeouts — except for `NON_IDEMPOTENT_METHODS`."""

    def __init__(self, max_retry_count: int = 3, **kw):
        super().__init__(max_retry_count=max_retry_count, error_types=list(CONNECTION_ERRORS), **kw)

    def _can_retry(self, *, state: RetryState, request: HttpRequest,
                   response: Optional[HttpResponse] = None, error: Optional[Exception] = None) -> bool:
        if api_method(request.url) in NON_IDEMPOTENT_METHODS:
            return False
        return super()._can_retry(state=state, request=request, response=response, error=error)


def make_client(token: str, base_url: str = DEFAULT_SLACK_API_URL, max_retries: int = 3,
                timeout: int = 15) -> WebClient:
    """A WebClient for `token` at `base_url` with the retry policy above (`max_retries` per
    handler; `timeout` seconds per HTTP request). The default handlers (which would retry a
    chat.postMessage on a connection reset) are replaced, not extended."""
    client = WebClient(token=token, base_url=base_url, timeout=timeout)
    client.retry_handlers = [
        RateLimitErrorRetryHandler(max_retry_count=max_retries),
        IdempotentServerErrorRetryHandler(max_retry_count=max_retries),
        IdempotentConnectionErrorRetryHandler(max_retry_count=max_retries),
    ]
    return client
