"""The Slack Web API client: `slack_sdk.WebClient` with retries and a configurable base URL.

``SLACK_API_URL`` (via `Config.slack_api_url`) points the client at a Slack emulator or a test
fake; 429s are retried after ``Retry-After`` by slack_sdk's `RateLimitErrorRetryHandler`, and
connection errors by `ConnectionErrorRetryHandler`
(https://tools.slack.dev/python-slack-sdk/web#retryhandler).
"""
from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler


DEFAULT_SLACK_API_URL = "https://slack.com/api/"


def make_client(token: str, base_url: str = DEFAULT_SLACK_API_URL, max_retries: int = 3,
                timeout: int = 15) -> WebClient:
    """A WebClient for `token` at `base_url` that retries 429s and connection errors."""
    client = WebClient(token=token, base_url=base_url, timeout=timeout)
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=max_retries))
    client.retry_handlers.append(ConnectionErrorRetryHandler(max_retry_count=max_retries))
    return client
