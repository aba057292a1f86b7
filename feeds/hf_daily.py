"""Hugging Face daily papers: ``huggingface.co/api/daily_papers?date=YYYY-MM-DD``.

The response is a JSON list; each item is ``{paper: {id (arXiv id), title, summary,
authors: [{name}], publishedAt, upvotes, ai_keywords?, githubRepo?, …}, publishedAt, title,
summary, numComments, …}``. Real quirks seen in archived responses (see
``../shared/data/SOURCES.md``): items that are Python-repr strings rather than objects (skipped
with a reason), and a list wrapped as ``{status, date, count, data: [...]}`` (unwrapped).
"""
from __future__ import annotations

import json
import logging
import math
import re

from feeds.records import InvalidArxivId, Paper, ParseResult, clean_text, iso_date, split_arxiv_id
from feeds.sanity import xml_feed_problem

log = logging.getLogger(__name__)

API_URL = "https://huggingface.co/api/daily_papers"


class HFParseError(ValueError):
    """The body is not a daily-papers JSON document (not JSON, or neither a list nor {data: [...]})."""


def daily_url(date: str) -> str:
    """URL of one day's daily papers; `date` is ``YYYY-MM-DD``."""
    return f"{API_URL}?date={date}"


def parse_daily_papers(body: bytes | str) -> ParseResult:
    """Parse one daily-papers response into `Paper` records (source ``hf_daily``).

    Items that are not objects, lack an arXiv id or a title are skipped with a reason; absurd
    values are handled per `feeds.sanity` (long abstracts are cut, impossible dates dropped) and
    an ``authors`` field that is neither a list nor a string is dropped; each repair is a note in
    `ParseResult.repaired`.

    Raises:
        HFParseError: when the body is not JSON (an HTML error page, XML, garbage) or has no list
            of items — never another exception.
    """
    head = body[:200].lstrip() if isinstance(body, (bytes, str)) else body
    if isinstance(head, (bytes, str)) and head[:1] in (b"<", "<"):
        problem = xml_feed_problem(body) or "an XML/HTML document"
        raise HFParseError(f"HF daily papers: body is not JSON but {problem}")
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HFParseError(f"HF daily papers: body is not JSON ({exc})") from None
    except RecursionError:
        raise HFParseError("HF daily papers: JSON nested too deeply") from None
    if isinstance(data, dict):
        if isinstance(data.get("data"), list):
            log.info("HF daily papers: unwrapped a list wrapped in {data: …}")
            data = data["data"]
        else:
            raise HFParseError("HF daily papers: expected a JSON list or {data: [...]}, got an object "
                               f"with keys {sorted(data)[:8]}")
    if not isinstance(data, list):
        raise HFParseError(f"HF daily papers: expected a JSON list, got {type(data).__name__}")
    result = ParseResult()
    for pos, item in enumerate(data):
        notes: list[str] = []
        try:
            paper = _item_to_paper(item, notes)
        except (InvalidArxivId, ValueError, TypeError, AttributeError, OverflowError) as exc:
            result.skip(pos, str(exc) or type(exc).__name__, "HF daily papers", log)
            continue
        kept = len(result.papers)
        result.add(pos, paper, "HF daily papers", log)
        if len(result.papers) > kept:  # kept, not skipped by the sanity rules
            for note in notes:
                result.repaired.append((pos, note))
                log.warning("HF daily papers: item %d repaired: %s", pos, note)
    return result


_AUTHOR_SPLIT_RE = re.compile(r"\s*,\s*|\s+and\s+|\s*;\s*")


def _author_names(value, arxiv_id: str, notes: list[str]) -> list[str]:
    """Author names of a ``paper.authors`` value: a list of ``{name}`` objects or strings (the
    documented form), one string of names joined by commas, semicolons or " and " (split), or
    anything else (dropped, with a note appended to `notes`)."""
    if value is None:
        return []
    if isinstance(value, str):
        items = [n for n in _AUTHOR_SPLIT_RE.split(value) if n.strip()]
    elif isinstance(value, list):
        items = value
    else:
        notes.append(f"{arxiv_id}: authors given as {type(value).__name__}, not a list; dropped")
        return []
    names = []
    for a in items:
        name = a.get("name") if isinstance(a, dict) else a if isinstance(a, str) else None
        if isinstance(name, str) and name.strip():
            names.append(clean_text(name))
    return names


def _item_to_paper(item, notes: list[str] | None = None) -> Paper:
    """One daily-papers item → `Paper`; repairs of odd field values are appended to `notes`.

    Raises:
        TypeError / ValueError / InvalidArxivId: the item is unusable (not an object, no id or title).
    """
    notes = [] if notes is None else notes
    if not isinstance(item, dict):
        raise TypeError(f"item is a {type(item).__name__}, not an object")
    paper = item.get("paper") if isinstance(item.get("paper"), dict) else item
    raw_id = paper.get("id")
    if not isinstance(raw_id, str):
        raise ValueError("item has no paper.id (arXiv id)")
    arxiv_id, version = split_arxiv_id(raw_id)
    title = clean_text(paper.get("title") or item.get("title"))
    if not title:
        raise ValueError(f"paper {arxiv_id} has no title")
    abstract = clean_text(paper.get("summary") or item.get("summary"))
    authors = _author_names(paper.get("authors"), arxiv_id, notes)
    upvotes = paper.get("upvotes")
    keywords = paper.get("ai_keywords") or []
    repo = paper.get("githubRepo")
    return Paper(
        arxiv_id=arxiv_id,
        version=version,
        title=title,
        abstract=abstract,
        authors=authors,
        published=iso_date(paper.get("publishedAt") or item.get("publishedAt")),
        updated=iso_date(paper.get("submittedOnDailyAt")),
        abs_url=f"https://arxiv.org/abs/{arxiv_id}",
        pdf_url=f"https://arxiv.org/pdf/{arxiv_id}",
        sources=["hf_daily"],
        hf_upvotes=int(upvotes) if isinstance(upvotes, (int, float)) and not isinstance(upvotes, bool)
        and math.isfinite(upvotes) and 0 <= upvotes < 2**53 else None,
        ai_keywords=[str(k) for k in keywords if isinstance(k, str)][:30] if isinstance(keywords, list) else [],
        github_repo=repo if isinstance(repo, str) and repo.startswith("http") else None,
    )
