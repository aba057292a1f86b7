"""arXiv API (``export.arxiv.org/api/query``): search queries and id look-ups.

Format and rules: arXiv API User's Manual (https://info.arxiv.org/help/api/user-manual.html).
Responses are Atom 1.0 with ``opensearch:totalResults``/``startIndex``/``itemsPerPage``; each
entry has ``<id>http://arxiv.org/abs/IDvN</id>``, ``<arxiv:primary_category term=…>``,
``<category term=…>``, ``<author><name>``, pdf link ``rel="related" title="pdf"``.
Errors come back as HTTP 400 with a one-entry feed whose ``<id>`` is
``https://arxiv.org/api/errors#…`` and whose ``<summary>`` says what was wrong.
Politeness: at most one request every 3 seconds, one connection; ``max_results`` ≤ 2,000 a call,
30,000 in total.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import feedparser

from feeds.http import Fetcher, Pacer
from feeds.records import InvalidArxivId, Paper, ParseResult, clean_text, iso_date, split_arxiv_id
from feeds.sanity import looks_truncated, xml_feed_problem

log = logging.getLogger(__name__)

API_URL = "https://export.arxiv.org/api/query"
MIN_INTERVAL_S = 3.0
MAX_PAGE = 2000
MAX_TOTAL = 30000
# ids per id_list call (`ArxivAPIClient.lookup`): the API takes up to 2,000 results a call, but a
# long id_list makes a long URL
MAX_IDS_PER_CALL = 100


class ArxivAPIError(RuntimeError):
    """The arXiv API answered with its error feed (e.g. ``incorrect id format for abc``), or with
    something that is not an answer (not Atom, truncated, an error status)."""


class ArxivAPIRejected(ArxivAPIError):
    """The API's own error feed: it refused the request as asked (e.g. ``incorrect id format
    for abc``), so the same request gets the same answer; a look-up of several ids can be split
    to find the one it refuses."""


@dataclass
class APIPage:
    """One parsed API response: papers plus the opensearch paging numbers."""

    result: ParseResult
    total_results: int
    start_index: int
    items_per_page: int


def parse_response(body: bytes | str, status: int = 200) -> APIPage:
    """Parse one arXiv API Atom response.

    Args:
        body: the response bytes.
        status: the HTTP status; 400 with an error feed raises `ArxivAPIError`.

    Raises:
        ArxivAPIError: the error feed (any status), or a non-Atom body (HTML page, JSON, empty,
            truncated with no entries) — never another exception. Bad entries are skipped with a
            reason; absurd values are handled per `feeds.sanity`.
    """
    problem = xml_feed_problem(body)
    if problem:
        raise ArxivAPIError(f"arXiv API answered HTTP {status} with a body that is not Atom: {problem}")
    try:
        parsed = feedparser.parse(body)
    except Exception as exc:  # feedparser is third-party: any crash on bad bytes is a bad answer
        raise ArxivAPIError(f"arXiv API answered HTTP {status} with an unreadable body "
                            f"({type(exc).__name__}: {str(exc)[:200]})") from None
    entries = list(parsed.entries)
    for entry in entries:
        entry_id = entry.get("id")
        if isinstance(entry_id, str) and "/api/errors" in entry_id:
            summary = entry.get("summary")
            raise ArxivAPIRejected(f"arXiv API error: {clean_text(summary if isinstance(summary, str) else '') or 'unknown error'}")
    if not parsed.get("version"):
        raise ArxivAPIError(f"arXiv API answered HTTP {status} with a body that is not Atom")
    if status >= 400:
        raise ArxivAPIError(f"arXiv API answered HTTP {status}")
    truncated = looks_truncated(body)
    if truncated and len(entries) <= 1:  # nothing complete in it
        raise ArxivAPIError("arXiv API answer is truncated (no closing </feed> tag)")
    feed = parsed.feed
    result = ParseResult(complete=not truncated)
    last = len(entries) - 1 if truncated else None
    for pos, entry in enumerate(entries):
        if pos == last:
            result.skip(pos, "answer is truncated after this entry began; entry may be incomplete",
                        "arXiv API", log)
            continue
        try:
            paper = _entry_to_paper(entry)
        except (InvalidArxivId, ValueError, TypeError, AttributeError, KeyError) as exc:
            result.skip(pos, str(exc) or type(exc).__name__, "arXiv API", log)
            continue
        result.add(pos, paper, "arXiv API", log)
    return APIPage(
        result=result,
        total_results=_int(feed.get("opensearch_totalresults"), len(entries)),
        start_index=_int(feed.get("opensearch_startindex"), 0),
        items_per_page=_int(feed.get("opensearch_itemsperpage"), len(entries)),
    )


def _int(value, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _entry_to_paper(entry) -> Paper:
    arxiv_id, version = split_arxiv_id(entry.get("id") or "")
    title = clean_text(entry.get("title"))
    if not title:
        raise ValueError(f"entry {arxiv_id} has no title")
    categories = [t.get("term") for t in entry.get("tags", []) if t.get("term")]
    primary = (entry.get("arxiv_primary_category") or {}).get("term")
    if primary and primary in categories:
        categories.remove(primary)
    if primary:
        categories.insert(0, primary)
    pdf_url = None
    for link in entry.get("links", []):
        if link.get("title") == "pdf" or link.get("type") == "application/pdf":
            pdf_url = link.get("href")
    return Paper(
        arxiv_id=arxiv_id,
        version=version,
        title=title,
        abstract=clean_text(entry.get("summary")),
        authors=[clean_text(a["name"]) for a in entry.get("authors", []) if clean_text(a.get("name"))],
        categories=categories,
        primary_category=primary,
        published=iso_date(entry.get("published")),
        updated=iso_date(entry.get("updated")),
        abs_url=f"https://arxiv.org/abs/{arxiv_id}",
        pdf_url=pdf_url or f"https://arxiv.org/pdf/{arxiv_id}",
        sources=["arxiv_api"],
    )


class ArxivAPIClient:
    """A polite arXiv API client: ≥ 3 s between requests (retries included), one request at a
    time, paging, id look-ups.

    Args:
        fetcher: the `Fetcher` used for HTTP (retries/timeouts live there).
        url: API endpoint (override for tests).
        min_interval: seconds between the starts of two calls (arXiv asks for 3).
        clock, sleep: injectable for tests.
    """

    def __init__(self, fetcher: Fetcher | None = None, url: str = API_URL,
                 min_interval: float = MIN_INTERVAL_S, clock=time.monotonic, sleep=time.sleep):
        self.fetcher = fetcher or Fetcher()
        self.url = url
        self.min_interval = min_interval
        self._pacer = Pacer(min_interval, clock=clock, sleep=sleep)

    def _call(self, params: dict) -> APIPage:
        # One request at a time (the pacer's lock is held for the whole call, retries included),
        # and every attempt, retries included, starts >= min_interval after the previous one.
        with self._pacer.lock:
            self._pacer.wait()
            res = self.fetcher.get(self.url, params=params, accept_error_body=True, pacer=self._pacer)
        return parse_response(res.body, res.status)

    def search(self, query: str, max_results: int = 100, page_size: int = 100,
               sort_by: str = "submittedDate", sort_order: str = "descending") -> Iterator[Paper]:
        """Yield papers for an API ``search_query`` (e.g. ``cat:cs.LG AND abs:RLHF``), paging with
        ``start``/``max_results`` until `max_results` papers or the end of results.

        Raises:
            ArxivAPIError: the API's error feed; FetchError: network failure after retries.
        """
        for page in self._pages(query, max_results, page_size, sort_by, sort_order):
            yield from page.result.papers

    def search_result(self, query: str, max_results: int = 100, page_size: int = 100,
                      sort_by: str = "submittedDate", sort_order: str = "descending") -> ParseResult:
        """Like `search`, but returns one `ParseResult` with the skipped and repaired items of
        every page too (positions are offsets in the whole result list). Same errors."""
        out = ParseResult()
        for page in self._pages(query, max_results, page_size, sort_by, sort_order):
            base = page.start_index
            out.papers.extend(page.result.papers)
            out.skipped.extend((base + i, r) for i, r in page.result.skipped)
            out.repaired.extend((base + i, r) for i, r in page.result.repaired)
            out.complete = out.complete and page.result.complete
        return out

    def _pages(self, query: str, max_results: int, page_size: int, sort_by: str,
               sort_order: str) -> Iterator[APIPage]:
        max_results = min(max_results, MAX_TOTAL)
        page_size = max(1, min(page_size, MAX_PAGE))
        start = 0
        while start < max_results:
            n = min(page_size, max_results - start)
            page = self._call({"search_query": query, "start": start, "max_results": n,
                               "sortBy": sort_by, "sortOrder": sort_order})
            yield page
            got = len(page.result.papers) + len(page.result.skipped)
            start += got
            if got == 0 or start >= page.total_results:
                break

    def lookup(self, ids: Iterable[str]) -> ParseResult:
        """Look up at most 100 papers by arXiv id in one call; the result's `complete` is False
        when the answer is cut short or holds fewer entries than its ``opensearch:totalResults``
        counts (arXiv counts the ids it found: 0 for an id it does not know), as when arXiv
        answers with an empty page now and then: an id missing from such an answer may
        exist. Bad entries are skipped with a reason (`parse_response`).

        Raises:
            ValueError: more than 100 ids; ArxivAPIError: e.g. for a malformed id
            (`ArxivAPIRejected`); FetchError on network failure.
        """
        ids = list(ids)
        if len(ids) > MAX_IDS_PER_CALL:
            raise ValueError(f"lookup takes at most {MAX_IDS_PER_CALL} ids a call, got {len(ids)}")
        page = self._call({"id_list": ",".join(ids), "start": 0, "max_results": len(ids)})
        result = page.result
        if len(result.papers) + len(result.skipped) < min(page.total_results, len(ids)):
            result.complete = False
        return result

    def by_ids(self, ids: Iterable[str]) -> list[Paper]:
        """Look up papers by arXiv id (with or without version), in batches of 100.

        Raises:
            ArxivAPIError: e.g. for a malformed id; FetchError on network failure.
        """
        ids = list(ids)
        papers: list[Paper] = []
        for i in range(0, len(ids), MAX_IDS_PER_CALL):
            papers.extend(self.lookup(ids[i:i + MAX_IDS_PER_CALL]).papers)
        return papers
