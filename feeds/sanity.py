"""Sanity rules every parser applies to what a feed hands it: is the body a feed at all, and
are an item's values plausible?

Document level (`xml_feed_problem`): arXiv's RSS/Atom and API answers are XML; a body that,
after a byte-order mark and whitespace, does not start with ``<`` (JSON, plain text, an empty
body) or that is an HTML page (an error or captcha page served with status 200) is refused with
a reason, because feedparser is lenient enough to "parse" almost anything. A document whose root element
(``<feed>``, ``<rss>``, ``<rdf:RDF>``) is not closed was cut short (`looks_truncated`); after the
closing tag XML allows only comments, processing instructions and whitespace (``Misc*`` in
https://www.w3.org/TR/xml/#sec-documents), so a cache's ``<!-- served by … -->`` line there is
no truncation.

Item level (`sanitize`), decided once for every source:
- an abstract longer than `MAX_ABSTRACT_CHARS` is **kept, cut** to that length and flagged
  `Paper.abstract_truncated` (the paper is still worth recommending; a real arXiv abstract is at
  most 1,920 characters);
- a title longer than `MAX_TITLE_CHARS` makes the item **skipped** (no real title is that long:
  the item is garbage);
- an author list longer than `MAX_AUTHORS` is cut (real collaborations reach ~3,000 names);
- a date more than `MAX_FUTURE_DAYS` days in the future, before arXiv existed (1991) or not a
  real calendar date is **dropped** (set to None) — the paper is kept.
Every repair returns a note ("abstract of 5,000,000 characters cut to 20,000") that the parser
logs and lists in `ParseResult.repaired`.
"""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

from feeds.records import Paper

MAX_ABSTRACT_CHARS = 20_000
MAX_TITLE_CHARS = 1_000
MAX_AUTHORS = 5_000
MAX_FUTURE_DAYS = 2
EARLIEST_DATE = date(1991, 1, 1)  # arXiv opened in August 1991

_BOMS = (b"\xef\xbb\xbf",)
_HTML_RE = re.compile(rb"^<(!doctype\s+html|html[\s>])", re.IGNORECASE)
_TITLE_RE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.S)
_ROOT_END_RE = re.compile(r"</(?:[\w.-]+:)?(?:feed|rss|RDF)\s*>$")
_TAIL_CHARS = 4_000  # how much of the end is read: the root's closing tag plus trailing Misc


def _head_bytes(body: bytes | str) -> bytes:
    if isinstance(body, str):
        return body.lstrip("\ufeff \t\r\n").encode("utf-8", "replace")
    data = body
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 with a BOM
        try:
            return data.decode("utf-16").lstrip("\ufeff \t\r\n").encode("utf-8", "replace")
        except UnicodeDecodeError:
            return data
    for bom in _BOMS:
        if data.startswith(bom):
            data = data[len(bom):]
    return data.lstrip(b" \t\r\n")


def xml_feed_problem(body: bytes | str) -> str | None:
    """Why `body` cannot be an XML feed (None when it may be one).

    Reasons: ``empty body``; ``an HTML page, not a feed (title: 'Service Unavailable')``;
    ``not XML: starts with '{"error": …'``.
    """
    head = _head_bytes(body)
    if not head:
        return "empty body"
    if _HTML_RE.match(head[:200]):
        m = _TITLE_RE.search(head[:20_000])
        title = m.group(1).decode("utf-8", "replace").strip()[:80] if m else ""
        return "an HTML page, not a feed" + (f" (title: {title!r})" if title else "")
    if not head.startswith(b"<"):
        return f"not XML: starts with {head[:40].decode('utf-8', 'replace')!r}"
    return None


def looks_truncated(body: bytes | str) -> bool:
    """True when the document does not end with the closing tag of a feed root element
    (``</feed>``, ``</rss>``, ``</rdf:RDF>``) followed only by what XML allows after the root
    element — whitespace, comments ``<!-- … -->`` and processing instructions ``<? … ?>``
    (``Misc*``, https://www.w3.org/TR/xml/#sec-documents): the body was cut short. A comment or
    processing instruction left unclosed at the end counts as truncation. Only the last
    `_TAIL_CHARS` characters are read, so trailing Misc longer than that reads as truncation."""
    if isinstance(body, bytes):
        tail = body[-_TAIL_CHARS:].decode("utf-8", "replace")
        if body.startswith((b"\xff\xfe", b"\xfe\xff")):
            try:
                tail = body.decode("utf-16")[-_TAIL_CHARS:]
            except UnicodeDecodeError:
                pass
    else:
        tail = body[-_TAIL_CHARS:]
    return not _ROOT_END_RE.search(_strip_trailing_misc(tail))


def _strip_trailing_misc(text: str) -> str:
    """`text` without the whitespace, comments and processing instructions at its end."""
    while True:
        text = text.rstrip(" \t\r\n")
        if text.endswith("-->"):
            start = text.rfind("<!--", 0, len(text) - 3)
        elif text.endswith("?>"):
            start = text.rfind("<?", 0, len(text) - 2)
        else:
            return text
        if start < 0:
            return text
        text = text[:start]


def _check_date(value: str | None, name: str, today: date) -> tuple[str | None, str | None]:
    if value is None:
        return None, None
    try:
        d = date.fromisoformat(value)
    except ValueError:
        return None, f"{name} date {value!r} is not a calendar date; dropped"
    if d > today + timedelta(days=MAX_FUTURE_DAYS):
        return None, f"{name} date {value} is in the future; dropped"
    if d < EARLIEST_DATE:
        return None, f"{name} date {value} is before arXiv existed; dropped"
    return value, None


def sanitize(paper: Paper, today: date | None = None) -> list[str]:
    """Apply the item rules above to `paper` in place; return one note per repair.

    Raises:
        ValueError: the item is unusable (absurdly long title) and must be skipped.
    """
    today = today or datetime.now(timezone.utc).date()
    notes: list[str] = []
    if len(paper.title) > MAX_TITLE_CHARS:
        raise ValueError(f"{paper.arxiv_id}: title of {len(paper.title):,} characters is not a title")
    if len(paper.abstract) > MAX_ABSTRACT_CHARS:
        notes.append(f"abstract of {len(paper.abstract):,} characters cut to {MAX_ABSTRACT_CHARS:,}")
        paper.abstract = paper.abstract[:MAX_ABSTRACT_CHARS]
        paper.abstract_truncated = True
    if len(paper.authors) > MAX_AUTHORS:
        notes.append(f"{len(paper.authors):,} authors cut to {MAX_AUTHORS:,}")
        paper.authors = paper.authors[:MAX_AUTHORS]
    for name in ("published", "updated"):
        value, note = _check_date(getattr(paper, name), name, today)
        if note:
            setattr(paper, name, value)
            notes.append(note)
    return [f"{paper.arxiv_id}: {n}" for n in notes]
