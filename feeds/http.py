"""Fetching feed documents over HTTP: timeouts, retries with backoff, conditional GET.

- Conditional GET (RFC 9110 §13): the caller passes the validators it stored from the last
  fetch (``ETag`` → ``If-None-Match``, ``Last-Modified`` → ``If-Modified-Since``); a 304 comes
  back as ``FetchResult(not_modified=True)``.
- Retries (tenacity): timeouts, connection errors (refused, reset, truncated bodies), bodies that
  do not decode as their ``Content-Encoding`` says, 429 and 5xx are retried with exponential
  backoff, honouring ``Retry-After`` (seconds or HTTP date), within a bounded budget of
  `attempts` tries and `budget` seconds. A redirect loop or a redirect to a scheme other than
  http(s) (``ftp://``, ``file://``) fails at once. What still fails raises `FetchError`, never
  an httpx exception.
- `Pacer` spaces request starts (arXiv API politeness, retries included).
- ``file://`` URLs and plain paths read local files (bundled captures for the demo and tests).
"""
from __future__ import annotations

import email.utils
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import httpx
import tenacity

log = logging.getLogger(__name__)

USER_AGENT = "paperbot/0.1 (+https://github.com/paperbot; research-group paper alerts)"
RETRY_STATUSES = {429, 500, 502, 503, 504}


class Stopped(Exception):
    """A wait between requests (arXiv pacing, retry backoff) was cut short because the process
    is shutting down (`stoppable_sleep`): nothing more is fetched. Not a `FetchError`: the
    source did not fail, so a poll records nothing for it (`paperbot.poll.poll_all`)."""


def stoppable_sleep(stop: threading.Event):
    """A ``time.sleep(seconds)`` for `Fetcher`, `Pacer` and `feeds.arxiv_api.ArxivAPIClient`
    that `stop` can cut short: it returns after `seconds` as ``time.sleep`` would, but raises
    `Stopped` as soon as `stop` is set (at once when it already is). ``paperbot serve`` uses it
    so that SIGINT/SIGTERM does not wait out retry backoffs (2 to 60 s each) and 3-second arXiv
    pacing across every remaining source."""

    def sleep(seconds: float) -> None:
        if stop.wait(max(0.0, seconds)):
            raise Stopped("shutting down")
    return sleep


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


def _request_url(exc: Exception) -> str | None:
    """The URL of the request an httpx error belongs to (the redirect target, for redirects)."""
    try:
        return str(exc.request.url)
    except (AttributeError, RuntimeError):  # httpx raises RuntimeError when no request is set
        return None


class Pacer:
    """Spaces the *starts* of requests at least `min_interval` seconds apart (thread-safe).

    Used for the arXiv API, which asks for one request every 3 seconds on one connection
    (https://info.arxiv.org/help/api/tou.html): the `Fetcher` calls `wait()` before every
    attempt, retries included, so backoff can never make the client less polite.

    Args:
        min_interval: seconds between the starts of two requests.
        clock, sleep: injectable (tests use a fake clock whose sleep advances it).
    """

    def __init__(self, min_interval: float, clock=time.monotonic, sleep=time.sleep):
        self.min_interval = min_interval
        self._clock = clock
        self._sleep = sleep
        self._last: float | None = None
        self.lock = threading.RLock()

    def wait(self) -> None:
        """Sleep until `min_interval` has passed since the previous start, then mark a new start."""
        with self.lock:
            if self._last is not None:
                delay = self.min_interval - (self._clock() - self._last)
                if delay > 0:
                    self._sleep(delay)
            self._last = self._clock()


class Fetcher:
    """GETs documents with timeouts, bounded retries and conditional requests.

    Retry policy: timeouts, connection errors (refused, reset, a body cut short of its
    ``Content-Length``, a body that does not decode as its ``Content-Encoding`` says), 429 and
    5xx are retried with exponential backoff (``backoff``,
    ``2·backoff``, ``4·backoff`` … seconds, each capped at `max_wait`); a ``Retry-After`` header
    (seconds or HTTP date, RFC 9110 §10.2.3) replaces the backoff. Two bounds hold together: at most
    `attempts` tries, and at most `budget` seconds from the first try until the last one ends
    (waits included). A server asking to wait longer than `max_wait` or than the remaining budget
    is not retried early: the fetch fails at once with the server's request in the reason.

    Args:
        timeout: seconds for connect and for each read (httpx timeout); a whole attempt is also
            cut off when the budget runs out while the body trickles in.
        attempts: total tries per fetch (1 = no retry).
        backoff: base of the exponential backoff in seconds.
        max_wait: cap in seconds on any single wait.
        budget: total seconds one `get` may take, waits and attempts included.
        max_bytes: largest body accepted (bytes); bigger bodies fail without retry.
        client: an httpx.Client to use (tests); one is created otherwise.
        sleep, clock: injectable for tests (a fake clock whose sleep advances it).
    """

    def __init__(self, timeout: float = 20.0, attempts: int = 4, backoff: float = 2.0,
                 max_wait: float = 60.0, client: httpx.Client | None = None, sleep=time.sleep,
                 budget: float = 180.0, max_bytes: int = 50_000_000, clock=time.monotonic):
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.max_wait = max_wait
        self.budget = budget
        self.max_bytes = max_bytes
        self.sleep = sleep
        self.clock = clock
        self._client = client or httpx.Client(
            timeout=timeout, follow_redirects=True, headers={"User-Agent": USER_AGENT}
        )

    def close(self) -> None:
        """Close the underlying HTTP connection pool."""
        self._client.close()

    def get(self, url: str, etag: str | None = None, last_modified: str | None = None,
            params: dict | None = None, accept_error_body: bool = False,
            pacer: Pacer | None = None) -> FetchResult:
        """GET `url` (http(s), file:// or a local path) and return a `FetchResult`.

        `accept_error_body=True` returns 4xx responses (other than 429) instead of raising, for
        APIs such as arXiv's that explain errors in the body. `pacer.wait()` runs before every
        retry, so retries keep the pacer's spacing (the caller paces the first attempt).

        Raises:
            FetchError: on a non-retryable status, an oversized body, a redirect loop, a redirect
                to a non-http(s) URL, or when the retry budget (attempts or seconds) is spent;
                the reason names the last failure.
        """
        parsed = urlparse(url)
        if parsed.scheme in ("", "file"):
            return self._read_file(url, parsed)
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        deadline = self.clock() + self.budget

        def delay_for(exc: _Retryable, attempt: int) -> float:
            if exc.retry_after is not None:
                return exc.retry_after
            return min(self.backoff * (2 ** (attempt - 1)), self.max_wait)

        def give_up_reason(rs: tenacity.RetryCallState) -> str | None:
            exc, n = rs.outcome.exception(), rs.attempt_number
            if n >= self.attempts:
                return f"gave up after {n} attempts: {exc.reason}"
            if exc.retry_after is not None and exc.retry_after > self.max_wait:
                return (f"{exc.reason}: server asked to retry after {exc.retry_after:.0f} s, "
                        f"more than the {self.max_wait:.0f} s this fetcher waits")
            if delay_for(exc, n) >= deadline - self.clock():
                return f"gave up after {n} attempts: {exc.reason} (retry budget of {self.budget:.0f} s spent)"
            return None

        def fail(rs: tenacity.RetryCallState):
            exc = rs.outcome.exception()
            raise FetchError(url, give_up_reason(rs) or exc.reason, exc.status)

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_Retryable),
            stop=lambda rs: give_up_reason(rs) is not None,
            wait=lambda rs: delay_for(rs.outcome.exception(), rs.attempt_number),
            before=lambda rs: pacer.wait() if pacer is not None and rs.attempt_number > 1 else None,
            before_sleep=lambda rs: log.warning(
                "fetch %s failed (%s); retry %d/%d in %.1f s", url, rs.outcome.exception().reason,
                rs.attempt_number, self.attempts - 1, rs.upcoming_sleep),
            retry_error_callback=fail,
            sleep=self.sleep,
        )
        return retrying(self._once, url, headers, params, accept_error_body, deadline)

    def _once(self, url: str, headers: dict, params: dict | None, accept_error_body: bool,
              deadline: float) -> FetchResult:
        try:
            with self._client.stream("GET", url, headers=headers, params=params) as resp:
                if resp.status_code in RETRY_STATUSES:
                    raise _Retryable(f"HTTP {resp.status_code}",
                                     parse_retry_after(resp.headers.get("Retry-After")), resp.status_code)
                if resp.status_code == 304:
                    return FetchResult(url, 304, b"",
                                       etag=resp.headers.get("ETag") or headers.get("If-None-Match"),
                                       last_modified=resp.headers.get("Last-Modified")
                                       or headers.get("If-Modified-Since"),
                                       not_modified=True)
                if resp.status_code >= 400 and not accept_error_body:
                    raise FetchError(url, f"HTTP {resp.status_code}", resp.status_code)
                declared = resp.headers.get("Content-Length")
                if declared and declared.isdigit() and int(declared) > self.max_bytes:
                    raise FetchError(url, f"body of {int(declared)} bytes exceeds the {self.max_bytes}-byte limit")
                chunks: list[bytes] = []
                size = 0
                for chunk in resp.iter_bytes():
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise FetchError(url, f"body exceeds the {self.max_bytes}-byte limit")
                    if self.clock() > deadline:
                        raise _Retryable("body still arriving when the retry budget ran out (slow server)")
                    chunks.append(chunk)
                body = b"".join(chunks)
                return FetchResult(url, resp.status_code, body, etag=resp.headers.get("ETag"),
                                   last_modified=resp.headers.get("Last-Modified"))
        except httpx.TimeoutException as exc:
            raise _Retryable(f"timeout ({type(exc).__name__})") from None
        except httpx.RemoteProtocolError as exc:
            # the server closed the connection early: no response at all (reset) or a body
            # shorter than its Content-Length (truncated)
            raise _Retryable(f"connection closed early ({exc})") from None
        except httpx.UnsupportedProtocol as exc:
            # a redirect to ftp://, file:// …: asking again gets the same redirect
            target = _request_url(exc)
            where = "" if target in (None, url) else f"redirected to {target}, "
            raise FetchError(url, f"{where}a URL scheme this fetcher does not read (only http and https)") from None
        except httpx.TransportError as exc:
            raise _Retryable(f"connection error ({type(exc).__name__}: {exc})") from None
        except httpx.TooManyRedirects as exc:
            # a redirect loop: asking again loops again
            raise FetchError(url, f"too many redirects (more than {self._client.max_redirects}, "
                                  f"the last to {_request_url(exc)})") from None
        except httpx.DecodingError as exc:
            # a body that does not match its Content-Encoding (gzip header over plain bytes, a
            # gzip stream cut short): a damaged transfer, retried like a truncated body
            raise _Retryable(f"body could not be decoded ({exc})") from None
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
            # anything else httpx raises: a clear failure, not a traceback
            raise FetchError(url, f"{type(exc).__name__}: {exc}") from None

    @staticmethod
    def _read_file(url: str, parsed) -> FetchResult:
        path = Path(unquote(parsed.path)) if parsed.scheme == "file" else Path(url)
        try:
            body = path.read_bytes()
        except OSError as exc:
            raise FetchError(url, f"cannot read file: {exc.strerror or exc}") from None
        return FetchResult(url, 200, body)
