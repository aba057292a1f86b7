"""Fault suite — polling every source into the store while some sources misbehave.

Real `Fetcher` (fake sleep, so backoff costs nothing) against tests/fault_server.py; real
parsers; a real SQLite store. Each test states what must hold.
"""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from feeds.arxiv_api import ArxivAPIClient
from feeds.arxiv_rss import parse_feed
from feeds.http import Fetcher
from feeds.sanity import MAX_ABSTRACT_CHARS
from paperbot.cli import main
from paperbot.config import ArxivFeedConfig, ArxivQueryConfig, Config, HFDailyConfig
from paperbot.poll import poll_all
from tests.conftest import api_exchange, fixture_path
from tests.fault_server import FaultServer, Step

ATOM = fixture_path("arxiv_rss", "atom_cs.AI_2025-08-20.xml").read_bytes()
HF_DAY = fixture_path("hf_daily", "2026-08-21.json").read_bytes()
API_PAGE = api_exchange("q_testing_s0_m10_bc5a6c384fe9.json")["body"].encode()
EMPTY_ATOM = (b'<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
              b"<id>https://rss.arxiv.org/atom/cs.AI</id><title>cs.AI updates on arXiv.org</title>"
              b"<updated>2025-08-23T04:00:00Z</updated></feed>\n")


@pytest.fixture
def srv():
    with FaultServer() as s:
        yield s


def quick_fetcher() -> Fetcher:
    return Fetcher(timeout=1.0, attempts=3, backoff=0.5, sleep=lambda s: None)


def config(srv, rss=True, api=True, hf=True) -> Config:
    cfg = Config()
    if rss:
        cfg.arxiv_feeds = [ArxivFeedConfig("rss", ["cs.AI"], announce_types=["new", "cross", "replace"],
                                           url=srv.url("/rss"))]
    if api:
        cfg.arxiv_queries = [ArxivQueryConfig("api", url=srv.url("/api"))]
    cfg.hf_daily = HFDailyConfig(enabled=hf, urls=[srv.url("/hf/2026-08-21.json")] if hf else [])
    return cfg


def by_source(outcomes):
    return {o.source: o for o in outcomes}


def test_a_source_down_for_good_is_marked_failed_and_the_others_are_stored(srv, store):
    """Fault: the API answers 503 on every try. Must hold: RSS and HF papers stored; the API source
    failed (error text, failure counters); the run itself did not raise."""
    srv.route("/rss", Step(body=ATOM))
    srv.route("/api", Step(status=503))
    srv.route("/hf/2026-08-21.json", Step(body=HF_DAY, content_type="application/json"))
    out = by_source(poll_all(config(srv), store, quick_fetcher()))
    assert out["api"].error and "gave up after 3 attempts: HTTP 503" in out["api"].error
    assert len(srv.requests_to("/api")) == 3
    assert out["rss"].error is None and out["rss"].papers > 0
    assert out["hf_daily:2026-08-21.json"].papers == 17
    assert store.count_papers() == out["rss"].inserted + out["hf_daily:2026-08-21.json"].inserted
    api_state = store.feed_state("api")
    assert api_state["last_status"] == "failed" and "HTTP 503" in api_state["last_error"]
    assert api_state["consecutive_failures"] == 1 and api_state["failure_count"] == 1
    assert api_state["last_success"] is None
    assert store.feed_state("rss")["last_status"] == "ok"


def test_next_run_resumes_from_stored_feed_state_with_a_conditional_get(srv, store):
    """Run 1: the RSS feed fails (reset), HF works with an ETag. Run 2: RSS recovers, HF answers
    304 to the stored ETag. Must hold: failure counters reset, validators reused, nothing lost."""
    srv.route("/rss", Step(reset=True))
    srv.route("/hf/2026-08-21.json", Step(body=HF_DAY, etag='"hf-1"', content_type="application/json"))
    cfg = config(srv, api=False)
    first = by_source(poll_all(cfg, store, quick_fetcher()))
    assert first["rss"].error and store.feed_state("rss")["consecutive_failures"] == 1
    assert store.feed_state("hf_daily:2026-08-21.json")["etag"] == '"hf-1"'
    n_after_first = store.count_papers()

    srv.route("/rss", Step(body=ATOM, etag='"rss-1"'))
    second = by_source(poll_all(cfg, store, quick_fetcher()))
    assert second["rss"].error is None and second["rss"].inserted > 0
    assert second["hf_daily:2026-08-21.json"].not_modified
    hf_requests = srv.requests_to("/hf/2026-08-21.json")
    assert hf_requests[-1]["headers"].get("If-None-Match") == '"hf-1"'
    rss_state = store.feed_state("rss")
    assert rss_state["last_status"] == "ok" and rss_state["consecutive_failures"] == 0
    assert rss_state["failure_count"] == 1 and rss_state["last_error"]  # history kept for ops
    hf_state = store.feed_state("hf_daily:2026-08-21.json")
    assert hf_state["last_status"] == "not_modified" and hf_state["total_count"] == 17
    assert store.count_papers() == n_after_first + second["rss"].inserted


@pytest.mark.parametrize("name,step,expected", [
    ("html page with 200", Step(body=b"<!doctype html><html><head><title>Just a moment...</title></head></html>",
                                content_type="text/html"), "an HTML page, not a feed (title: 'Just a moment...')"),
    ("json instead of a feed", Step(body=b'{"error": "rate limited"}', content_type="application/json"),
     "not XML"),
    ("empty body", Step(body=b""), "empty body"),
    ("malformed xml", Step(body=b"<?xml version='1.0'?><feed><entry><title>x</ti"), "feed"),
    ("truncated document with no entry", Step(body=ATOM[:300]), "feed"),
])
def test_a_source_serving_garbage_fails_alone_with_a_clear_reason(srv, store, name, step, expected):
    srv.route("/rss", step)
    srv.route("/hf/2026-08-21.json", Step(body=HF_DAY, content_type="application/json"))
    out = by_source(poll_all(config(srv, api=False), store, quick_fetcher()))
    assert out["rss"].error and expected in out["rss"].error, out["rss"].error
    assert expected in store.feed_state("rss")["last_error"]
    assert out["hf_daily:2026-08-21.json"].papers == 17 and store.count_papers() == 17


def test_hf_returning_an_html_error_page_fails_cleanly(srv, store):
    srv.route("/hf/2026-08-21.json", Step(status=200, body=b"<html><title>502 Bad Gateway</title></html>",
                                          content_type="text/html"))
    out = by_source(poll_all(config(srv, rss=False, api=False), store, quick_fetcher()))
    assert "not JSON but an HTML page" in out["hf_daily:2026-08-21.json"].error


def test_empty_weekend_feed_is_a_success_with_zero_papers(srv, store):
    srv.route("/rss", Step(body=EMPTY_ATOM))
    out = by_source(poll_all(config(srv, api=False, hf=False), store, quick_fetcher()))
    assert out["rss"].error is None and out["rss"].papers == 0
    assert store.feed_state("rss")["last_status"] == "ok"


def test_truncated_feed_keeps_every_complete_entry_and_skips_the_cut_one(srv, store):
    """Fault: the document stops in the middle of its 4th entry (Content-Length matches, so the
    transport cannot tell). Must hold: the 3 complete entries stored, the cut one skipped."""
    cut = ATOM.index(b"<entry>", ATOM.index(b"<entry>", ATOM.index(b"<entry>", ATOM.index(b"<entry>") + 1) + 1) + 1) + 200
    srv.route("/rss", Step(body=ATOM[:cut], etag='"cut"'))
    cfg = config(srv, api=False, hf=False)
    out = by_source(poll_all(cfg, store, quick_fetcher()))
    assert out["rss"].error is None
    assert out["rss"].papers == 3 and out["rss"].skipped == 1
    state = store.feed_state("rss")
    assert state["skipped_count"] == 1 and "truncated" in json.loads(state["last_skipped"])[0]
    # the cut document's ETag is not kept: the next poll fetches it whole (no 304), nothing lost
    assert state["etag"] is None
    srv.route("/rss", Step(body=ATOM, etag='"cut"'))
    again = by_source(poll_all(cfg, store, quick_fetcher()))
    assert "If-None-Match" not in srv.requests_to("/rss")[-1]["headers"]
    assert again["rss"].papers == len(parse_feed(ATOM, keep=("new", "cross", "replace")).papers) > 3


def test_bad_hf_items_are_skipped_with_reasons_and_every_good_item_is_stored(srv, store):
    """Items that are not objects, missing fields, a 5 MB abstract, a future date."""
    good = json.loads(HF_DAY)[:3]
    items = good + [
        "Paper(id='2501.00001', title='a Python repr, not an object')",
        42,
        {"paper": {"title": "no id at all"}},
        {"paper": {"id": "2608.20001"}},                              # no title
        {"paper": {"id": "not-an-arxiv-id", "title": "bad id"}},
        {"paper": {"id": "2608.20002", "title": "Huge abstract", "summary": "word " * 1_000_000}},
        {"paper": {"id": "2608.20003", "title": "From the future", "publishedAt": "2999-01-01T00:00:00.000Z"}},
        {"paper": {"id": "2608.20004", "title": "Bad numbers", "upvotes": 1e308 * 10, "authors": [None, {"name": 5}]}},
    ]
    body = json.dumps({"status": "ok", "data": items}).encode()  # wrapped list, as HF once did
    srv.route("/hf/2026-08-21.json", Step(body=body, content_type="application/json"))
    out = by_source(poll_all(config(srv, rss=False, api=False), store, quick_fetcher()))
    hf = out["hf_daily:2026-08-21.json"]
    assert hf.error is None
    assert hf.papers == 6 and hf.skipped == 5 and hf.repaired == 2
    for p in good:
        assert store.get_paper(p["paper"]["id"]) is not None
    huge = store.get_paper("2608.20002")
    assert len(huge.abstract) == MAX_ABSTRACT_CHARS
    assert store.get_paper("2608.20003").published is None
    odd = store.get_paper("2608.20004")
    assert odd.hf_upvotes is None and odd.authors == []
    state = store.feed_state("hf_daily:2026-08-21.json")
    assert state["skipped_count"] == 5 and state["repaired_count"] == 2
    reasons = json.loads(state["last_skipped"])
    assert reasons[0].startswith("item 3: item is a str, not an object")
    assert any("no paper.id" in r for r in reasons) and any("has no title" in r for r in reasons)


def test_an_unexpected_exception_in_one_source_does_not_stop_the_others(srv, store, monkeypatch):
    """Fault: a bug (KeyError) inside one parser. Must hold: recorded as that source's error."""
    import feeds.arxiv_rss

    def boom(body, keep=None):
        raise KeyError("surprise")

    monkeypatch.setattr(feeds.arxiv_rss, "parse_feed", boom)
    srv.route("/rss", Step(body=ATOM))
    srv.route("/hf/2026-08-21.json", Step(body=HF_DAY, content_type="application/json"))
    out = by_source(poll_all(config(srv, api=False), store, quick_fetcher()))
    assert out["rss"].error == "unexpected KeyError: 'surprise'"
    assert store.feed_state("rss")["last_status"] == "failed"
    assert out["hf_daily:2026-08-21.json"].papers == 17


def test_api_query_source_failing_after_retries_is_recorded(srv, store):
    """An arXiv API search (not a fixed document) through the polite client."""
    srv.route("/api/query", Step(status=503), Step(status=503), Step(status=503))
    cfg = Config(arxiv_queries=[ArxivQueryConfig("rl", query="all:rl", max_results=10)],
                 hf_daily=HFDailyConfig(enabled=False))
    api = ArxivAPIClient(quick_fetcher(), url=srv.url("/api/query"), min_interval=0.0)
    out = by_source(poll_all(cfg, store, quick_fetcher(), api_client=api))
    assert "HTTP 503" in out["rl"].error and store.feed_state("rl")["last_status"] == "failed"
    srv.route("/api/query", Step(body=API_PAGE))
    out = by_source(poll_all(cfg, store, quick_fetcher(), api_client=api))
    assert out["rl"].error is None and out["rl"].papers == 10
    assert store.feed_state("rl")["consecutive_failures"] == 0


def test_status_command_shows_each_source_health(srv, tmp_path):
    from store import Store

    db = tmp_path / "s.db"
    s = Store(db)
    srv.route("/rss", Step(body=ATOM))
    srv.route("/api", Step(status=503))
    srv.route("/hf/2026-08-21.json", Step(body=json.dumps(json.loads(HF_DAY)[:2] + [7]).encode(),
                                          content_type="application/json"))
    poll_all(config(srv), s, quick_fetcher())
    s.close()
    res = CliRunner().invoke(main, ["status", "--db", str(db)])
    assert res.exit_code == 0, res.output
    lines = {line.split(":", 1)[0]: line for line in res.output.splitlines()}
    assert "FAILED" in lines["api"] and "HTTP 503" in lines["api"] and "1 consecutive failure" in lines["api"]
    assert "last success never" in lines["api"]
    assert "ok" in lines["rss"] and "last success 20" in lines["rss"]
    hf = lines["hf_daily"]
    assert "2 papers" in hf and "1 skipped" in hf and "item 2: item is a int, not an object" in res.output


class _DayFetcher:
    """Serves the real HF capture for every ``?date=`` except the days in `down` (HTTP 503 for
    good); records the dates asked for."""

    def __init__(self, down=()):
        self.down, self.asked = set(down), []

    def get(self, url, etag=None, last_modified=None, **_):
        from feeds.http import FetchError, FetchResult
        day = url.rsplit("date=", 1)[-1]
        self.asked.append(day)
        if day in self.down:
            raise FetchError(url, "HTTP 503 after 3 attempts", 503)
        return FetchResult(url, 200, HF_DAY, etag=f'"{day}"')


def test_each_hf_day_has_its_own_state_so_a_failed_day_is_not_hidden_by_a_later_one(store):
    """Fault: with days_back = 3 the middle day answers 503. Must hold: that day is FAILED in
    the feed state while the others are ok (one shared row used to show only the last day's
    success); days out of the window are forgotten, a failed one only a week later; the row of
    the single-row era goes."""
    from datetime import date

    from paperbot.poll import HF_KEEP_FAILED_DAYS

    store.record_feed_success("hf_daily", "https://huggingface.co/api/daily_papers?date=x", 3)  # older paperbot
    cfg = Config()
    cfg.hf_daily = HFDailyConfig(enabled=True, days_back=3)
    fetcher = _DayFetcher(down={"2026-11-20"})
    out = by_source(poll_all(cfg, store, fetcher, today=date(2026, 11, 21)))
    assert fetcher.asked == ["2026-11-21", "2026-11-20", "2026-11-19"]
    assert out["hf_daily:2026-11-20"].error and not out["hf_daily:2026-11-21"].error
    health = {r["source"]: r for r in store.feed_health()}
    assert set(health) == {"hf_daily:2026-11-21", "hf_daily:2026-11-20", "hf_daily:2026-11-19"}
    assert health["hf_daily:2026-11-20"]["failing"] and "503" in health["hf_daily:2026-11-20"]["last_error"]
    assert not health["hf_daily:2026-11-19"]["failing"] and health["hf_daily:2026-11-19"]["last_count"] > 0

    # two days later: the ok day 19 leaves the window and is forgotten; the failed day 20 left
    # it too but stays visible; paperbot status names it
    poll_all(cfg, store, _DayFetcher(), today=date(2026, 11, 23))
    health = {r["source"]: r for r in store.feed_health()}
    assert set(health) == {"hf_daily:2026-11-23", "hf_daily:2026-11-22", "hf_daily:2026-11-21",
                           "hf_daily:2026-11-20"}
    res = CliRunner().invoke(main, ["status", "--db", str(store.path)])
    assert "hf_daily:2026-11-20: FAILED" in res.output and "HTTP 503" in res.output
    # … until a week after its window
    poll_all(cfg, store, _DayFetcher(), today=date(2026, 11, 22 + HF_KEEP_FAILED_DAYS + 1))
    assert "hf_daily:2026-11-20" not in {r["source"] for r in store.feed_health()}


def test_hf_days_count_back_from_the_utc_date(store, monkeypatch):
    """HF daily-papers pages are UTC dates: at 23:30 on 1 March in UTC-8 it is already the 2nd."""
    from datetime import datetime, timezone

    import paperbot.poll as poll_module

    class Clock(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime(2031, 3, 2, 7, 30, tzinfo=timezone.utc).astimezone(tz)

    monkeypatch.setattr(poll_module, "datetime", Clock)
    cfg = Config()
    cfg.hf_daily = HFDailyConfig(enabled=True, days_back=1)
    fetcher = _DayFetcher()
    poll_all(cfg, store, fetcher)
    assert fetcher.asked == ["2031-03-02"]


def test_by_default_papers_added_to_yesterdays_hf_list_after_a_run_are_fetched(store):
    """Fault: HF adds papers to a day's list for hours after the day starts (real captures:
    submittedOnDailyAt 00:00-06:15 UTC). At the run on 21 August the list holds 5 papers, later
    17. Must hold: with the default settings the next day's run reads 21 August again and stores
    all 17 (with days_back = 1 the date was never asked for again: 5 of 17 stored)."""
    from datetime import date

    from feeds.http import FetchResult
    from paperbot.config import parse_config

    items = json.loads(HF_DAY)
    served = {"2026-08-21": items[:5]}

    class GrowingDay:
        asked = []

        def get(self, url, **_):
            day = url.rsplit("date=", 1)[-1]
            self.asked.append(day)
            return FetchResult(url, 200, json.dumps(served.get(day, [])).encode())

    cfg = parse_config({})
    assert cfg.hf_daily.days_back == Config().hf_daily.days_back == 2
    cfg.arxiv_feeds, cfg.arxiv_queries = [], []
    fetcher = GrowingDay()
    poll_all(cfg, store, fetcher, today=date(2026, 8, 21))
    assert store.count_papers() == 5
    served["2026-08-21"] = items
    poll_all(cfg, store, fetcher, today=date(2026, 8, 22))
    assert "2026-08-21" in fetcher.asked[2:]
    assert store.count_papers() == len(items) == 17


def test_status_does_not_call_items_parsed_over_every_poll_distinct_papers(tmp_path):
    """A document with no validators (a file, or a server without ETag) is parsed whole on every
    poll, so the summed count grows although no new paper arrives. Must hold: status calls that
    sum what it is, items parsed in all polls, not "total N papers" (the demo showed 438 for a
    document of 211 distinct ids)."""
    from store import Store

    db = tmp_path / "s.db"
    s = Store(db)
    cfg = Config(arxiv_feeds=[ArxivFeedConfig("rss", ["cs.AI"], url=fixture_path(
        "arxiv_rss", "atom_cs.AI_2025-08-20.xml").as_uri())], hf_daily=HFDailyConfig(enabled=False))
    [first] = poll_all(cfg, s, quick_fetcher())
    poll_all(cfg, s, quick_fetcher())
    n_papers = s.count_papers()
    s.close()
    assert first.papers == n_papers > 0
    res = CliRunner().invoke(main, ["status", "--db", str(db)])
    assert res.exit_code == 0, res.output
    assert f"last run {n_papers} papers" in res.output
    assert f"in all polls {2 * n_papers} items parsed" in res.output
    assert f"total {2 * n_papers} papers" not in res.output


def test_a_poll_stopped_during_a_retry_wait_polls_no_further_source_and_records_no_failure(srv, store):
    """`paperbot serve` at SIGINT/SIGTERM waited for its poll to finish: every remaining source,
    each with its full retry backoff (2, 4, 8 s… up to 60 s a wait) while arXiv was down — 37 s
    for three unreachable sources, minutes with the default feeds — and logged "paperbot stopped"
    before that wait. Now the shutdown event cuts the wait short, the other sources are not
    polled, and the interrupted source is not recorded as failed (it did not fail)."""
    import threading

    from feeds.http import stoppable_sleep

    srv.route("/rss", Step(status=503))
    srv.route("/api", Step(body=API_PAGE))
    srv.route("/hf/2026-08-21.json", Step(body=HF_DAY, content_type="application/json"))
    stop = threading.Event()
    wait = stoppable_sleep(stop)

    def shutdown_during_first_backoff(seconds):
        stop.set()  # SIGTERM arrives while the fetcher waits to retry /rss
        wait(seconds)

    fetcher = Fetcher(timeout=1.0, attempts=3, backoff=30.0, sleep=shutdown_during_first_backoff)
    outcomes = poll_all(config(srv), store, fetcher, stop=stop)
    assert outcomes == []
    assert [r["path"] for r in srv.requests] == ["/rss"]  # one attempt; no retry, no other source
    assert store.feed_state("rss") == {} and store.feed_state("api") == {}  # nothing recorded: not failed
    assert store.count_papers() == 0


def test_a_poll_whose_stop_is_already_set_fetches_nothing_and_the_next_poll_fetches_all(srv, store):
    import threading

    srv.route("/rss", Step(body=ATOM))
    srv.route("/api", Step(body=API_PAGE))
    srv.route("/hf/2026-08-21.json", Step(body=HF_DAY, content_type="application/json"))
    stop = threading.Event()
    stop.set()
    assert poll_all(config(srv), store, quick_fetcher(), stop=stop) == []
    assert srv.requests == []
    out = by_source(poll_all(config(srv), store, quick_fetcher(), stop=threading.Event()))
    assert set(out) == {"rss", "api", "hf_daily:2026-08-21.json"} and not any(o.error for o in out.values())
    assert store.count_papers() > 0


def test_stoppable_sleep_waits_like_sleep_until_its_event_is_set():
    import threading

    from feeds.http import Stopped, stoppable_sleep

    stop = threading.Event()
    sleep = stoppable_sleep(stop)
    sleep(0.01)  # not set: an ordinary (short) sleep
    sleep(-1.0)  # a negative wait is no wait, as a pacer may compute
    stop.set()
    with pytest.raises(Stopped):
        sleep(3600.0)  # set: raises at once instead of waiting an hour
    with pytest.raises(Stopped):
        sleep(0.0)
