"""Polling every configured source into the store (feeds → store).

Each source is fetched (conditional GET with the validators stored last time), parsed, and its
papers upserted; the outcome goes to the source's feed state. A source that fails is recorded
as failed for this run and the others go on.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, timedelta

from feeds import arxiv_rss, hf_daily
from feeds.arxiv_api import ArxivAPIClient, ArxivAPIError, parse_response
from feeds.arxiv_rss import FeedParseError
from feeds.hf_daily import HFParseError
from feeds.http import FetchError, Fetcher
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


POLL_ERRORS = (FetchError, FeedParseError, HFParseError, ArxivAPIError)


def _store_result(store: Store, outcome: SourceOutcome, result: ParseResult) -> None:
    counts = store.bulk_upsert_papers(result.papers)  # same rows as upsert_papers, batched
    outcome.papers = len(result.papers)
    outcome.skipped = len(result.skipped)
    outcome.inserted = counts["inserted"]
    outcome.updated = counts["updated"]
    outcome.arxiv_ids = [p.arxiv_id for p in result.papers]


def _poll_document(store: Store, fetcher: Fetcher, source: str, url: str, parse) -> SourceOutcome:
    outcome = SourceOutcome(source, url)
    state = store.feed_state(source)
    same_url = state.get("url") == url
    try:
        res = fetcher.get(url, etag=state.get("etag") if same_url else None,
                          last_modified=state.get("last_modified") if same_url else None)
        if res.not_modified:
            outcome.not_modified = True
            store.record_feed_success(source, url, 0, 0, res.etag, res.last_modified)
            return outcome
        result = parse(res.body)
        _store_result(store, outcome, result)
        store.record_feed_success(source, url, outcome.papers, outcome.skipped, res.etag, res.last_modified)
    except POLL_ERRORS as exc:
        outcome.error = str(exc)
        log.error("source %s failed: %s", source, exc)
        store.record_feed_error(source, url, str(exc))
    return outcome


def poll_all(config: Config, store: Store, fetcher: Fetcher | None = None,
             today: date | None = None, api_client: ArxivAPIClient | None = None) -> list[SourceOutcome]:
    """Poll every source in `config` once; returns one `SourceOutcome` per source (never raises
    for a source's network or format failure)."""
    fetcher = fetcher or Fetcher()
    today = today or date.today()
    outcomes: list[SourceOutcome] = []
    for f in config.arxiv_feeds:
        url = f.url or arxiv_rss.feed_url(f.categories, f.kind)
        keep = tuple(f.announce_types)
        outcomes.append(_poll_document(store, fetcher, f.name, url,
                                       lambda body, keep=keep: arxiv_rss.parse_feed(body, keep=keep)))
    for q in config.arxiv_queries:
        if q.url:  # a fixed document (bundled capture)
            outcomes.append(_poll_document(store, fetcher, q.name, q.url,
                                           lambda body: parse_response(body).result))
            continue
        outcome = SourceOutcome(q.name, q.query)
        client = api_client or ArxivAPIClient(fetcher)
        try:
            result = ParseResult(papers=list(client.search(q.query, max_results=q.max_results)))
            _store_result(store, outcome, result)
            store.record_feed_success(q.name, q.query, outcome.papers)
        except POLL_ERRORS as exc:
            outcome.error = str(exc)
            log.error("source %s failed: %s", q.name, exc)
            store.record_feed_error(q.name, q.query, str(exc))
        outcomes.append(outcome)
    if config.hf_daily.enabled:
        urls = config.hf_daily.urls or [hf_daily.daily_url((today - timedelta(days=d)).isoformat())
                                        for d in range(config.hf_daily.days_back)]
        for url in urls:
            name = f"hf_daily:{url.rsplit('/', 1)[-1]}" if config.hf_daily.urls else "hf_daily"
            outcomes.append(_poll_document(store, fetcher, name, url, hf_daily.parse_daily_papers))
    return outcomes
