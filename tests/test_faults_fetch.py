"""Fault suite — feed fetching against a misbehaving server on 127.0.0.1 (tests/fault_server.py).

Each test names the fault and what must hold. Waits are injected (a fake clock whose sleep
advances it) so backoff and Retry-After are asserted exactly without real waiting; client
timeouts use real (sub-second) time because they are the server's doing.
"""
from __future__ import annotations

import threading

import httpx
import pytest

from feeds.arxiv_api import ArxivAPIClient
from feeds.arxiv_rss import FeedParseError, parse_feed
from feeds.http import Fetcher, FetchError
from tests.conftest import api_exchange, fixture_path
from tests.fault_server import FaultServer, Step

ATOM = fixture_path("arxiv_rss", "atom_cs.AI_2025-08-20.xml").read_bytes()


class FakeClock:
    """Monotonic fake time; `sleep` advances it and records each wait."""

    def __init__(self, start: float = 1000.0):
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def srv():
    with FaultServer() as s:
        yield s


def fetcher(clock: FakeClock | None = None, **kw) -> Fetcher:
    clock = clock or FakeClock()
    kw.setdefault("timeout", 0.5)
    kw.setdefault("backoff", 1.0)
    return Fetcher(sleep=clock.sleep, clock=clock, **kw)


def test_timeout_is_retried_then_the_document_arrives(srv):
    """Fault: the server answers after the client's read timeout. Must hold: retried, body intact."""
    srv.route("/f", Step(delay=0.8, body=ATOM), Step(body=ATOM))
    clock = FakeClock()
    res = fetcher(clock, timeout=0.3).get(srv.url("/f"))
    assert res.body == ATOM and len(srv.requests_to("/f")) == 2
    assert clock.sleeps == [1.0]


def test_connection_reset_is_retried(srv):
    """Fault: TCP reset with no answer. Must hold: retried, then the document."""
    srv.route("/f", Step(reset=True), Step(reset=True), Step(body=ATOM))
    clock = FakeClock()
    res = fetcher(clock).get(srv.url("/f"))
    assert res.body == ATOM
    assert clock.sleeps == [1.0, 2.0]  # exponential backoff


def test_503_then_success_backs_off_exponentially(srv):
    srv.route("/f", Step(status=503), Step(status=502), Step(status=500), Step(body=ATOM))
    clock = FakeClock()
    res = fetcher(clock, attempts=4).get(srv.url("/f"))
    assert res.status == 200 and clock.sleeps == [1.0, 2.0, 4.0]


def test_429_with_retry_after_waits_exactly_that_long(srv):
    srv.route("/f", Step(status=429, headers={"Retry-After": "7"}), Step(body=ATOM))
    clock = FakeClock()
    assert fetcher(clock).get(srv.url("/f")).body == ATOM
    assert clock.sleeps == [7.0]


def test_429_without_retry_after_uses_backoff(srv):
    srv.route("/f", Step(status=429), Step(status=429), Step(body=ATOM))
    clock = FakeClock()
    assert fetcher(clock).get(srv.url("/f")).body == ATOM
    assert clock.sleeps == [1.0, 2.0]


def test_503_with_retry_after_http_date_is_honoured(srv):
    srv.route("/f", Step(status=503, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}), Step(body=ATOM))
    clock = FakeClock()
    assert fetcher(clock).get(srv.url("/f")).body == ATOM
    assert clock.sleeps == [0.0]  # a date in the past means "now"


def test_retry_after_beyond_max_wait_fails_at_once_with_the_reason(srv):
    """Must hold: we never retry earlier than a server asked; the error says why."""
    srv.route("/f", Step(status=429, headers={"Retry-After": "3600"}))
    clock = FakeClock()
    with pytest.raises(FetchError) as err:
        fetcher(clock, max_wait=60).get(srv.url("/f"))
    assert "retry after 3600 s" in str(err.value) and err.value.status == 429
    assert clock.sleeps == [] and len(srv.requests_to("/f")) == 1


def test_attempt_budget_is_bounded_and_the_error_names_the_last_failure(srv):
    srv.route("/f", Step(status=503))
    clock = FakeClock()
    with pytest.raises(FetchError) as err:
        fetcher(clock, attempts=3).get(srv.url("/f"))
    assert len(srv.requests_to("/f")) == 3
    assert "gave up after 3 attempts: HTTP 503" in str(err.value) and err.value.status == 503


def test_time_budget_in_seconds_bounds_the_whole_fetch(srv):
    """Fault: a server that is down for good. Must hold: total time (waits included) stays within
    the budget even though more attempts were allowed."""
    srv.route("/f", Step(status=503))
    clock = FakeClock()
    start = clock()
    with pytest.raises(FetchError) as err:
        fetcher(clock, attempts=50, backoff=2.0, max_wait=1000, budget=30).get(srv.url("/f"))
    assert clock() - start <= 30
    assert clock.sleeps == [2.0, 4.0, 8.0]  # a 16 s wait would pass the 30 s budget
    assert "budget of 30 s spent" in str(err.value)


def test_truncated_body_is_detected_and_retried(srv):
    """Fault: Content-Length promises more than is sent, then the connection closes."""
    srv.route("/f", Step(body=ATOM, truncate=len(ATOM) // 2), Step(body=ATOM))
    clock = FakeClock()
    res = fetcher(clock).get(srv.url("/f"))
    assert res.body == ATOM and len(srv.requests_to("/f")) == 2


def test_truncated_body_every_time_fails_cleanly(srv):
    srv.route("/f", Step(body=ATOM, truncate=100))
    with pytest.raises(FetchError) as err:
        fetcher(attempts=2).get(srv.url("/f"))
    assert "connection closed early" in str(err.value)


def test_slow_drip_body_is_cut_off_by_the_time_budget(srv):
    """Fault: the body trickles in forever (each read within the timeout). Must hold: the fetch
    ends within its budget instead of hanging."""
    srv.route("/f", Step(body=ATOM[:2000], drip=0.05))
    f = Fetcher(timeout=1.0, attempts=3, backoff=0.1, budget=0.4)
    with pytest.raises(FetchError) as err:
        f.get(srv.url("/f"))
    assert "slow server" in str(err.value) or "budget" in str(err.value)


def test_oversized_body_is_refused_without_retry(srv):
    srv.route("/f", Step(body=b"<" + b"x" * 5000))
    with pytest.raises(FetchError) as err:
        fetcher(max_bytes=1000).get(srv.url("/f"))
    assert "exceeds the 1000-byte limit" in str(err.value)
    assert len(srv.requests_to("/f")) == 1


def test_404_is_not_retried(srv):
    srv.route("/f", Step(status=404))
    with pytest.raises(FetchError) as err:
        fetcher().get(srv.url("/f"))
    assert err.value.status == 404 and len(srv.requests_to("/f")) == 1


def test_html_error_page_served_with_200_is_a_clear_feed_parse_error(srv):
    page = b"<!DOCTYPE html><html><head><title>503 Service Unavailable</title></head><body>busy</body></html>"
    srv.route("/f", Step(body=page, content_type="text/html"))
    res = fetcher().get(srv.url("/f"))
    with pytest.raises(FeedParseError) as err:
        parse_feed(res.body)
    assert "an HTML page, not a feed" in str(err.value) and "503 Service Unavailable" in str(err.value)


def test_conditional_get_sends_validators_and_gets_304(srv):
    srv.route("/f", Step(body=ATOM, etag='"v1"', headers={"Last-Modified": "Wed, 20 Aug 2025 04:00:00 GMT"}))
    f = fetcher()
    first = f.get(srv.url("/f"))
    assert first.etag == '"v1"' and first.body == ATOM
    second = f.get(srv.url("/f"), etag=first.etag, last_modified=first.last_modified)
    assert second.not_modified and second.status == 304 and second.body == b""
    assert srv.requests_to("/f")[1]["headers"]["If-None-Match"] == '"v1"'


# ---- arXiv API politeness under retries ---------------------------------------------------
def _api_body(name: str) -> bytes:
    return api_exchange(name)["body"].encode()


def test_arxiv_api_keeps_3s_between_every_request_including_retries(srv):
    """Fault: 503 and 429 (Retry-After 1) mid-paging. Must hold: every request, retries
    included, starts ≥ 3 s (fake clock) after the previous one; the results are complete."""
    clock = FakeClock()
    starts: list[float] = []
    client = httpx.Client(event_hooks={"request": [lambda req: starts.append(clock())]}, timeout=5)
    f = Fetcher(client=client, sleep=clock.sleep, clock=clock, backoff=0.5, attempts=4)
    srv.route("/api/query", Step(status=503), Step(body=_api_body("q_testing_s0_m10_bc5a6c384fe9.json")),
              Step(status=429, headers={"Retry-After": "1"}), Step(status=503),
              Step(body=_api_body("q_testing_s10_m10_34e56e15aaac.json")))
    api = ArxivAPIClient(f, url=srv.url("/api/query"), clock=clock, sleep=clock.sleep)
    papers = list(api.search("all:testing", max_results=20, page_size=10))
    assert len(papers) == 20
    assert len(starts) == 5
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert all(g >= 3.0 for g in gaps), gaps
    assert [r["query"]["start"] for r in srv.requests_to("/api/query")] == [["0"], ["0"], ["10"], ["10"], ["10"]]


def test_arxiv_api_one_request_at_a_time_across_threads(srv):
    """Must hold: two threads searching at once never have two requests in flight."""
    srv.route("/api/query", Step(delay=0.05, body=_api_body("q_testing_s0_m10_bc5a6c384fe9.json")))
    api = ArxivAPIClient(Fetcher(timeout=5), url=srv.url("/api/query"), min_interval=0.02)
    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(len(list(api.search("all:testing", 10, 10)))))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [10, 10, 10, 10]
    assert srv.max_in_flight == 1 and len(srv.requests_to("/api/query")) == 4


def test_redirect_loop_is_a_fetch_error_without_retries(srv):
    """Fault: /f redirects to itself forever. Must hold: FetchError naming the loop (it was a raw
    httpx.TooManyRedirects that escaped the poller's error handling), and no retry of the loop."""
    srv.route("/f", Step(status=302, headers={"Location": srv.url("/f")}))
    clock = FakeClock()
    with pytest.raises(FetchError) as err:
        fetcher(clock).get(srv.url("/f"))
    assert "too many redirects" in err.value.reason and srv.url("/f") in err.value.reason
    assert clock.sleeps == [] and len(srv.requests_to("/f")) == 21  # one attempt: 1 + 20 redirects


def test_redirect_to_ftp_fails_at_once_with_a_clear_reason(srv):
    """Fault: a 301 to ftp://. Must hold: one request, a FetchError naming the target and the
    reason (it was retried 4 times as a "connection error (UnsupportedProtocol …)")."""
    srv.route("/f", Step(status=301, headers={"Location": "ftp://127.0.0.1/x"}))
    clock = FakeClock()
    with pytest.raises(FetchError) as err:
        fetcher(clock).get(srv.url("/f"))
    assert "redirected to ftp://127.0.0.1/x" in err.value.reason and "only http and https" in err.value.reason
    assert clock.sleeps == [] and len(srv.requests_to("/f")) == 1


def test_body_not_matching_its_content_encoding_is_retried_then_arrives(srv):
    """Fault: ``Content-Encoding: gzip`` over a plain body (a damaged transfer). Must hold:
    retried like a truncated body (it was a raw httpx.DecodingError); a good answer is used."""
    srv.route("/f", Step(body=b"not gzip at all", headers={"Content-Encoding": "gzip"}), Step(body=ATOM))
    clock = FakeClock()
    res = fetcher(clock).get(srv.url("/f"))
    assert res.body == ATOM and clock.sleeps == [1.0] and len(srv.requests_to("/f")) == 2


def test_body_never_matching_its_content_encoding_fails_cleanly(srv):
    srv.route("/f", Step(body=b"not gzip at all", headers={"Content-Encoding": "gzip"}))
    with pytest.raises(FetchError) as err:
        fetcher(attempts=2).get(srv.url("/f"))
    assert "gave up after 2 attempts: body could not be decoded" in err.value.reason


def test_poll_records_a_redirect_loop_as_that_sources_failure(srv, tmp_path):
    """Must hold end to end: the poller records the failure (no traceback-logged surprise)."""
    from paperbot.config import ArxivFeedConfig, Config, HFDailyConfig
    from paperbot.poll import poll_all
    from store import Store

    srv.route("/f", Step(status=302, headers={"Location": srv.url("/f")}))
    cfg = Config(arxiv_feeds=[ArxivFeedConfig(name="loop", categories=["cs.AI"], url=srv.url("/f"))],
                 hf_daily=HFDailyConfig(enabled=False))
    store = Store(tmp_path / "p.db")
    [out] = poll_all(cfg, store, fetcher())
    assert out.error and "too many redirects" in out.error and not out.error.startswith("unexpected")
    assert "too many redirects" in store.feed_state("loop")["last_error"]
    store.close()
