"""arXiv announcement feeds: ``rss.arxiv.org/rss/<cats>`` (RSS 2.0) and ``/atom/<cats>`` (Atom).

Format reference: arXiv help/rss (https://info.arxiv.org/help/rss.html). Each item's
description/summary starts ``arXiv:2508.13426v1 Announce Type: cross`` then ``Abstract: …``;
the Atom form also carries ``<arxiv:announce_type>`` and ``<dc:creator>`` (comma-joined authors).
Feeds are rebuilt daily at midnight US Eastern and are empty on Saturday and Sunday. Categories
are joined with ``+`` (``cs.LG+cs.CL``). The legacy RDF feed (before Feb 2024) put the id in the
title: ``Title. (arXiv:2306.16270v1 [cs.CL] UPDATED)``, flagged nothing (a new submission), ``UPDATED``
(a replacement) or ``CROSS LISTED`` (a cross-list): announce types ``new``, ``replace``, ``cross``.

Dates: Atom's ``<published>`` is ISO 8601 (``2025-08-20T00:00:00-04:00``), RSS 2.0's ``<pubDate>`` is
RFC 822 (``Mon, 16 Jun 2025 00:00:00 -0400``); both give the announcement day as written, in US
Eastern time (`feeds.records.iso_date`); an entry without a date takes its channel's (``pubDate``
for `published`, ``lastBuildDate`` / Atom ``<updated>`` for `updated`).

Parsing (`parse_feed`) is separate from fetching (`feeds.http`), so tests feed real bytes.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Iterable

import feedparser

from feeds.records import InvalidArxivId, Paper, ParseResult, clean_text, iso_date, split_arxiv_id
from feeds.sanity import looks_truncated, xml_feed_problem

log = logging.getLogger(__name__)

BASE_URL = "https://rss.arxiv.org"
ANNOUNCE_TYPES = ("new", "cross", "replace", "replace-cross")
DEFAULT_ANNOUNCE_TYPES = ("new", "cross")

_HEADER_RE = re.compile(
    r"^\s*arXiv:(?P<rawid>\S+)\s+Announce Type:\s*(?P<type>[a-z\-]+)\s*(?:Abstract:\s*)?",
    re.IGNORECASE,
)
# Legacy RDF title suffix: "(arXiv:ID [cat])", "(arXiv:ID [cat] UPDATED)", "(arXiv:ID [cat] CROSS LISTED)".
# The flag is one or more upper-case words (13 of 3,000 captured legacy items say CROSS LISTED).
_OLD_TITLE_RE = re.compile(
    r"^(?P<title>.*?)\.?\s*\(arXiv:(?P<rawid>\S+)\s*\[(?P<cat>[^\]]+)\]\s*(?P<flag>[A-Z]+(?:\s+[A-Z]+)*)?\s*\)\s*$",
    re.S)
# legacy flag → announce type of the current feed (help/rss): no flag = a new submission,
# UPDATED = a replacement, CROSS LISTED = a cross-list; an unknown flag gives no announce type.
_OLD_FLAG_TYPES = {"": "new", "UPDATED": "replace", "CROSS LISTED": "cross"}


class FeedParseError(ValueError):
    """The document is not a readable RSS/Atom feed (HTML error page, truncated XML, …)."""


def feed_url(categories: Iterable[str], kind: str = "atom") -> str:
    """URL of the announcement feed for `categories` (joined with ``+``); `kind` is rss|atom."""
    if kind not in ("rss", "atom"):
        raise ValueError(f"feed kind must be 'rss' or 'atom', not {kind!r}")
    cats = "+".join(c.strip() for c in categories if c.strip())
    if not cats:
        raise ValueError("at least one arXiv category is needed")
    return f"{BASE_URL}/{kind}/{cats}"


def parse_description(text: str) -> tuple[str | None, int | None, str | None, str]:
    """Split an item description into ``(arxiv_id, version, announce_type, abstract)``.

    ``"arXiv:2506.00244v2 Announce Type: replace  Abstract: We …"`` →
    ``("2506.00244", 2, "replace", "We …")``. A description without the header (legacy feed)
    returns ``(None, None, None, text)``.
    """
    text = text or ""
    m = _HEADER_RE.match(text)
    if not m:
        return None, None, None, clean_text(_strip_html(text))
    try:
        arxiv_id, version = split_arxiv_id(m.group("rawid"))
    except InvalidArxivId:
        arxiv_id, version = None, None
    return arxiv_id, version, m.group("type").lower(), clean_text(_strip_html(text[m.end():]))


def _strip_html(text: str) -> str:
    return re.sub(r"<[^>]+>", " ", text)


def parse_feed(body: bytes | str, keep: Iterable[str] | None = DEFAULT_ANNOUNCE_TYPES) -> ParseResult:
    """Parse an arXiv RSS/Atom announcement document into `Paper` records.

    Args:
        body: the raw document bytes (as fetched).
        keep: announce types to keep (default new + cross); None keeps all.

    Returns:
        ParseResult; entries of other announce types are dropped silently, unreadable entries
        are listed in `skipped` with a reason.

    Raises:
        FeedParseError: the document is not a feed at all (HTML page, JSON, empty body, garbage,
            truncated XML with no readable entries) — never another exception. An empty but
            valid feed (weekends) returns no papers. In a truncated document the last, possibly
            incomplete entry is skipped with a reason; absurd values are handled per
            `feeds.sanity`.
    """
    problem = xml_feed_problem(body)
    if problem:
        raise FeedParseError(f"not an RSS/Atom feed: {problem}")
    try:
        parsed = feedparser.parse(body)
    except Exception as exc:  # feedparser is third-party: any crash on bad bytes is a bad document
        raise FeedParseError(f"not an RSS/Atom feed: parser failed ({type(exc).__name__}: {str(exc)[:200]})") from None
    version = parsed.get("version") or ""
    if not version:
        reason = str(parsed.get("bozo_exception") or "no RSS/Atom root element")
        raise FeedParseError(f"not an RSS/Atom feed: {reason[:200]}")
    entries = list(parsed.entries)
    truncated = looks_truncated(body)
    if parsed.get("bozo") and not entries:
        exc = parsed.get("bozo_exception")
        if exc is not None and not isinstance(exc, feedparser.CharacterEncodingOverride):
            raise FeedParseError(f"malformed feed: {str(exc)[:200]}")
    if truncated and len(entries) <= 1:  # nothing complete in it
        raise FeedParseError("truncated feed: the document ends before its closing </feed> or </rss> tag")
    keep_set = {k.lower() for k in keep} if keep is not None else None
    result = ParseResult(complete=not truncated)
    try:  # channel dates, for entries without their own (RSS 2.0: pubDate, lastBuildDate)
        feed_published = iso_date(parsed.feed.get("published")) or iso_date(parsed.feed.get("updated"))
        feed_updated = iso_date(parsed.feed.get("updated")) or feed_published
    except (TypeError, AttributeError):
        feed_published = feed_updated = None
    for pos, entry in enumerate(entries):
        if truncated and pos == len(entries) - 1:
            # the document was cut inside (or right after) this entry: it may be incomplete
            result.skip(pos, "document is truncated after this entry began; entry may be incomplete",
                        "arXiv feed", log)
            continue
        try:
            paper = _entry_to_paper(entry, feed_published, feed_updated)
        except (InvalidArxivId, ValueError, TypeError, AttributeError, KeyError) as exc:
            result.skip(pos, str(exc) or type(exc).__name__, "arXiv feed", log)
            continue
        if keep_set is not None and paper.announce_type and paper.announce_type not in keep_set:
            continue
        result.add(pos, paper, "arXiv feed", log)
    return result


def _entry_to_paper(entry, feed_published: str | None, feed_updated: str | None) -> Paper:
    description = entry.get("summary") or entry.get("description") or ""
    arxiv_id, version, announce_type, abstract = parse_description(description)
    title = clean_text(entry.get("title"))
    if announce_type is None and entry.get("arxiv_announce_type"):
        announce_type = entry["arxiv_announce_type"].strip().lower()
    if arxiv_id is None:
        m = _OLD_TITLE_RE.match(title)
        if m:  # legacy RDF feed: "Title. (arXiv:2306.16270v1 [cs.CL] UPDATED)"
            arxiv_id, version = split_arxiv_id(m.group("rawid"))
            title = clean_text(m.group("title"))
            flag = " ".join((m.group("flag") or "").split())
            announce_type = announce_type or _OLD_FLAG_TYPES.get(flag)
        else:
            for candidate in (entry.get("id"), entry.get("link")):
                if candidate:
                    try:
                        arxiv_id, version = split_arxiv_id(candidate)
                        break
                    except InvalidArxivId:
                        pass
    if arxiv_id is None:
        raise InvalidArxivId(f"no arXiv id in entry {title[:60]!r}")
    if version is None and entry.get("id"):
        try:
            version = split_arxiv_id(entry["id"])[1]
        except InvalidArxivId:
            pass
    if not title:
        raise ValueError(f"entry {arxiv_id} has no title")
    authors = _authors(entry)
    categories = [t.get("term") for t in entry.get("tags", []) if t.get("term")]
    return Paper(
        arxiv_id=arxiv_id,
        version=version,
        title=title,
        abstract=abstract,
        authors=authors,
        categories=categories,
        announce_type=announce_type,
        published=iso_date(entry.get("published")) or feed_published,  # Atom ISO 8601 / RSS 2.0 RFC 822
        updated=iso_date(entry.get("updated")) or feed_updated,
        abs_url=f"https://arxiv.org/abs/{arxiv_id}",
        pdf_url=f"https://arxiv.org/pdf/{arxiv_id}",
        sources=["arxiv_rss"],
    )


def _authors(entry) -> list[str]:
    """Author names of an entry (``dc:creator`` is one comma-joined string), each with its inner
    whitespace collapsed to single spaces (`clean_text`)."""
    names: list[str] = []
    for a in entry.get("authors") or []:
        name = a.get("name") if isinstance(a, dict) else None
        if name:
            names.extend(clean_text(n) for n in name.split(",") if n.strip())
    if not names and entry.get("author"):
        names = [clean_text(n) for n in entry["author"].split(",") if n.strip()]
    return names
