"""Fetching feed documents over HTTP: timeouts, retries with backoff, conditional GET.

- Conditional GET (RFC 9110 §13): the caller passes the validators it stored from the last
  fetch (``ETag`` → ``If-None-Match``, ``Last-Modified`` → ``If-Modified-Since``); a 304 comes
  back as ``FetchResult(not_modified=True)``.
- Retries (tenacity): timeouts, connection errors, 429 and 5xx are retried with exponential
  backoff, honouring ``Retry-After`` (seconds or HTTP date) up to `max_wait` seconds, within a
  bounded budget of `attempts`. What still fails raises `FetchError`.
- ``file://`` URLs and plain paths read local files (bundled captures for the demo and tests).
"""
from __future__ import annotations

import email.utils
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import httpx
import tenacity

log = logging.getLogger(__name__)

USER_AGENT = "paperbot/0.1 (+https://github.com/paperbot; research-group paper alerts)"
RETRY_STATUSES = {429, 500, 502, 503, 504}


class FetchError(RuntimeError):
    """A fetch failed for good (after retries): carries the URL, status (if any) and reason."""

    def __init__(self, url: str, reason: str, status: int | None = None):
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason
        self.status = status


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after: float | None = None, status: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.status = status


@dataclass
class FetchResult:
    """One fetched document.

    `body` is the raw bytes (empty when `not_modified`); `etag` / `last_modified` are the
    validators to store for the next conditional GET; `status` is the HTTP status (200 for files).
    """

    url: str
    status: int
    body: bytes = b""
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date), else None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class Fetcher:
    """GETs documents with timeouts, bounded retries and conditional requests.

    Args:
        timeout: seconds for connect/read (httpx timeout).
        attempts: total tries per fetch (1 = no retry).
        backoff: base of the exponential backoff in seconds (backoff, 2*backoff, 4*backoff, …).
        max_wait: cap in seconds on any single wait, including a server's Retry-After.
        client: an httpx.Client to use (tests); one is created otherwise.
        sleep: the sleep function (tests pass a fake to avoid real waiting).
    """

    def __init__(self, timeout: float = 20.0, attempts: int = 4, backoff: float = 2.0,
                 max_wait: float = 60.0, client: httpx.Client | None = None, sleep=time.sleep):
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.max_wait = max_wait
        self.sleep = sleep
        self._client = client or httpx.Client(
            timeout=timeout, follow_redirects=True, headers={"User-Agent": USER_AGENT}
        )

    def close(self) -> None:
        """Close the underlying HTTP connection pool."""
        self._client.close()

    def get(self, url: str, etag: str | None = None, last_modified: str | None = None,
            params: dict | None = None, accept_error_body: bool = False) -> FetchResult:
        """GET `url` (http(s), file:// or a local path) and return a `FetchResult`.

        `accept_error_body=True` returns 4xx responses (other than 429) instead of raising, for
        APIs such as arXiv's that explain errors in the body.

        Raises:
            FetchError: on a non-retryable status, or when the retry budget is spent.
        """
        parsed = urlparse(url)
        if parsed.scheme in ("", "file"):
            return self._read_file(url, parsed)
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified

        def wait(retry_state: tenacity.RetryCallState) -> float:
            exc = retry_state.outcome.exception() if retry_state.outcome else None
            base = self.backoff * (2 ** (retry_state.attempt_number - 1))
            if isinstance(exc, _Retryable) and exc.retry_after is not None:
                base = exc.retry_after
            return min(base, self.max_wait)

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.attempts),
            wait=wait,
            retry=tenacity.retry_if_exception_type(_Retryable),
            sleep=self.sleep,
            reraise=True,
            before_sleep=lambda rs: log.warning(
                "fetch %s failed (%s); retry %d/%d", url,
                rs.outcome.exception(), rs.attempt_number, self.attempts - 1),
        )
        try:
            return retrying(self._once, url, headers, params, accept_error_body)
        except _Retryable as exc:
            raise FetchError(url, f"gave up after {self.attempts} attempts: {exc.reason}", exc.status) from None

    def _once(self, url: str, headers: dict, params: dict | None, accept_error_body: bool) -> FetchResult:
        try:
            resp = self._client.get(url, headers=headers, params=params)
        except httpx.TimeoutException as exc:
            raise _Retryable(f"timeout ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise _Retryable(f"connection error ({type(exc).__name__}: {exc})") from None
        if resp.status_code in RETRY_STATUSES:
            raise _Retryable(f"HTTP {resp.status_code}", parse_retry_after(resp.headers.get("Retry-After")),
                             resp.status_code)
        if resp.status_code == 304:
            return FetchResult(url, 304, b"", etag=resp.headers.get("ETag") or headers.get("If-None-Match"),
                               last_modified=resp.headers.get("Last-Modified") or headers.get("If-Modified-Since"),
                               not_modified=True)
        if resp.status_code >= 400 and not accept_error_body:
            raise FetchError(url, f"HTTP {resp.status_code}", resp.status_code)
        return FetchResult(url, resp.status_code, resp.content, etag=resp.headers.get("ETag"),
                           last_modified=resp.headers.get("Last-Modified"))

    @staticmethod
    def _read_file(url: str, parsed) -> FetchResult:
        path = Path(unquote(parsed.path)) if parsed.scheme == "file" else Path(url)
        try:
            body = path.read_bytes()
        except OSError as exc:
            raise FetchError(url, f"cannot read file: {exc.strerror or exc}") from None
        return FetchResult(url, 200, body)
