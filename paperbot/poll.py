"""Polling every configured source into the store (feeds → store).

Each source is fetched (conditional GET with the validators stored last time), parsed, and its
papers upserted; the outcome goes to the source's feed state. A source that fails is recorded
as failed for this run and the others go on.
"""
from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial

from feeds import arxiv_rss, hf_daily
from feeds.arxiv_api import ArxivAPIClient, ArxivAPIError, parse_response
from feeds.arxiv_rss import FeedParseError
from feeds.hf_daily import HFParseError
from feeds.http import Fetcher, FetchError, Stopped, stoppable_sleep
from feeds.records import ParseResult
from paperbot.config import Config
from store import Store

log = logging.getLogger(__name__)


@dataclass
class SourceOutcome:
    """What one source did this run: papers parsed/skipped, store counts, or the error."""

    source: str
    url: str
    papers: int = 0
    skipped: int = 0
    inserted: int = 0
    updated: int = 0
    not_modified: bool = False
    error: str | None = None
    arxiv_ids: list[str] = field(default_factory=list)
    repaired: int = 0
    skipped_reasons: list[str] = field(default_factory=list)


POLL_ERRORS = (FetchError, FeedParseError, HFParseError, ArxivAPIError)


def _store_result(store: Store, outcome: SourceOutcome, result: ParseResult) -> None:
    counts = store.bulk_upsert_papers(result.papers)  # same rows as upsert_papers, batched
    outcome.papers = len(result.papers)
    outcome.skipped = len(result.skipped)
    outcome.repaired = len(result.repaired)
    outcome.skipped_reasons = [f"item {pos}: {reason}" for pos, reason in result.skipped]
    outcome.inserted = counts["inserted"]
    outcome.updated = counts["updated"]
    outcome.arxiv_ids = [p.arxiv_id for p in result.papers]


def _record_success(store: Store, outcome: SourceOutcome, etag=None, last_modified=None,
                    clear_validators: bool = False) -> None:
    store.record_feed_success(outcome.source, outcome.url, outcome.papers, outcome.skipped, etag,
                              last_modified, repaired=outcome.repaired,
                              skipped_reasons=outcome.skipped_reasons, not_modified=outcome.not_modified,
                              clear_validators=clear_validators)


def _record_failure(store: Store, outcome: SourceOutcome, exc: BaseException, expected: bool) -> None:
    outcome.error = str(exc) if expected else f"unexpected {type(exc).__name__}: {exc}"
    if expected:
        log.error("source %s failed: %s", outcome.source, outcome.error)
    else:  # a bug or a store problem: keep the traceback, but let the other sources go on
        log.exception("source %s failed: %s", outcome.source, outcome.error)
    try:
        store.record_feed_error(outcome.source, outcome.url, outcome.error)
    except Exception:  # the store itself is failing: the outcome still carries the error
        log.exception("could not record the failure of source %s", outcome.source)


def _poll_document(store: Store, fetcher: Fetcher, source: str, url: str, parse) -> SourceOutcome:
    outcome = SourceOutcome(source, url)
    state = store.feed_state(source)
    same_url = state.get("url") == url
    try:
        res = fetcher.get(url, etag=state.get("etag") if same_url else None,
                          last_modified=state.get("last_modified") if same_url else None)
        if res.not_modified:
            outcome.not_modified = True
            _record_success(store, outcome, res.etag, res.last_modified)
            return outcome
        result = parse(res.body)
        _store_result(store, outcome, result)
        if result.complete:
            _record_success(store, outcome, res.etag, res.last_modified)
        else:  # a cut document: forget its validators so the next poll fetches it whole again
            log.warning("source %s: document was truncated; it will be fetched in full next time", source)
            _record_success(store, outcome, clear_validators=True)
    except POLL_ERRORS as exc:
        _record_failure(store, outcome, exc, expected=True)
    except Stopped:  # shutting down: not a failure of the source (`poll_all`)
        raise
    except Exception as exc:  # noqa: BLE001 - one source's surprise must not stop the others
        _record_failure(store, outcome, exc, expected=False)
    return outcome


def poll_all(config: Config, store: Store, fetcher: Fetcher | None = None,
             today: date | None = None, api_client: ArxivAPIClient | None = None,
             stop: threading.Event | None = None) -> list[SourceOutcome]:
    """Poll every source in `config` once; returns one `SourceOutcome` per source.

    Never raises for one source's failure: network errors after the fetcher's retry budget,
    unreadable documents and even unexpected exceptions are recorded as that source's error
    (outcome + ``feed_state.last_error``) while the other sources go on. Bad items inside a good
    document are skipped with reasons (counted in feed state), the good ones stored. The next
    run resumes from the stored validators (ETag / Last-Modified → conditional GET → 304).

    Hugging Face daily papers are polled for the `hf_daily.days_back` days ending on `today`
    (default: the current UTC date), each day a source of its own (`hf_day_source`).

    `stop` (``paperbot serve``'s shutdown event): once it is set no further source is polled, and
    a source waiting between attempts (retry backoff, arXiv pacing) stops at once when `fetcher`
    and `api_client` sleep with `feeds.http.stoppable_sleep` of the same event (the default
    fetcher does). The sources not polled are logged and get no outcome and no feed-state
    change: they did not fail, and the next poll fetches them as usual.
    """
    if fetcher is None:
        fetcher = Fetcher(sleep=stoppable_sleep(stop)) if stop is not None else Fetcher()
    today = today or datetime.now(UTC).date()  # HF daily-papers pages are UTC dates
    if api_client is None and config.arxiv_queries:
        api_client = ArxivAPIClient(fetcher, url=config.arxiv_api_url)  # one client → one pacer for every query
    sources = []  # (name, poll it → SourceOutcome), in polling order

    def document(name: str, url: str, parse) -> None:
        sources.append((name, partial(_poll_document, store, fetcher, name, url, parse)))

    for f in config.arxiv_feeds:
        document(f.name, f.url or arxiv_rss.feed_url(f.categories, f.kind),
                 partial(arxiv_rss.parse_feed, keep=tuple(f.announce_types)))
    for q in config.arxiv_queries:
        if q.url:  # a fixed document (bundled capture)
            document(q.name, q.url, _api_document)
        else:
            sources.append((q.name, partial(_poll_query, store, api_client, q.name, q.query, q.max_results)))
    days = []
    if config.hf_daily.enabled and config.hf_daily.urls:  # fixed documents (bundled captures)
        for url in config.hf_daily.urls:
            document(f"hf_daily:{url.rsplit('/', 1)[-1]}", url, hf_daily.parse_daily_papers)
    elif config.hf_daily.enabled:
        days = [today - timedelta(days=d) for d in range(config.hf_daily.days_back)]
        for day in days:
            document(hf_day_source(day), hf_daily.daily_url(day.isoformat()), hf_daily.parse_daily_papers)
    outcomes: list[SourceOutcome] = []
    for i, (name, poll_source) in enumerate(sources):
        try:
            if stop is not None and stop.is_set():
                raise Stopped("shutting down")
            outcomes.append(poll_source())
        except Stopped:
            left = [n for n, _ in sources[i:]]
            log.warning("shutting down: poll stopped; %d of %d sources not polled this time (%s)",
                        len(left), len(sources), ", ".join(left))
            return outcomes
    if days:
        _forget_old_hf_days(store, days[-1])
    return outcomes


def _api_document(body: bytes) -> ParseResult:
    """The papers of a fixed arXiv API response document (a bundled capture)."""
    return parse_response(body).result


def _poll_query(store: Store, client: ArxivAPIClient, source: str, query: str, max_results: int) -> SourceOutcome:
    """One arXiv API search query (paged by `client`) into the store."""
    outcome = SourceOutcome(source, query)
    try:
        result = client.search_result(query, max_results=max_results)
        _store_result(store, outcome, result)
        _record_success(store, outcome)
    except POLL_ERRORS as exc:
        _record_failure(store, outcome, exc, expected=True)
    except Stopped:
        raise
    except Exception as exc:  # noqa: BLE001 - one source's surprise must not stop the others
        _record_failure(store, outcome, exc, expected=False)
    return outcome


HF_KEEP_FAILED_DAYS = 7  # a failed HF day stays in `paperbot status` this long after its window
_HF_DAY_SOURCE = re.compile(r"hf_daily:(\d{4}-\d{2}-\d{2})")


def hf_day_source(day: date) -> str:
    """Feed-state name of one Hugging Face daily-papers day: ``hf_daily:YYYY-MM-DD``. Each day
    has its own row, so a failed day is not hidden by a later day's success."""
    return f"hf_daily:{day.isoformat()}"


def _forget_old_hf_days(store: Store, oldest: date) -> None:
    """Drop the feed-state rows of HF days older than `oldest` (the window's first day): a day
    that succeeded at once, a failed one `HF_KEEP_FAILED_DAYS` later (until then `paperbot
    status` shows the missed day, which no later poll fetches again). Also drops the single
    ``hf_daily`` row that paperbot kept for every day before day rows existed."""
    stale = []
    for row in store.feed_health():
        m = _HF_DAY_SOURCE.fullmatch(row["source"])
        if row["source"] == "hf_daily":
            stale.append(row["source"])
        elif m:
            day = date.fromisoformat(m.group(1))
            if day < oldest and (not row["failing"] or day < oldest - timedelta(days=HF_KEEP_FAILED_DAYS)):
                stale.append(row["source"])
    if stale:
        store.forget_feed_states(stale)
