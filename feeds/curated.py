"""The curated database seed format: ``{category: [paper, …]}``.

Each paper is ``{title, authors[], summary, arxiv_id (with version), published (YYYY-MM-DD),
categories[], url, pdf_url}`` (see ``../shared/data/seeds/papers_database.sample.json``).
Categories become curated collections of the same name.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from feeds.records import InvalidArxivId, Paper, clean_text, iso_date, split_arxiv_id


class CuratedFormatError(ValueError):
    """The file as a whole is unusable (not JSON, or not an object of lists)."""


@dataclass
class CuratedParse:
    """Parsed seed file: ``collections[name] = [Paper, …]`` in file order, and one
    ``(category, position, reason)`` per bad entry that was skipped (position ``None`` when the
    whole category was skipped; :func:`where` formats the pair for messages)."""

    collections: dict[str, list[Paper]] = field(default_factory=dict)
    errors: list[tuple[str, int | None, str]] = field(default_factory=list)


def parse_curated(data: bytes | str | dict) -> CuratedParse:
    """Parse the seed format. Bad entries are reported with their position and skipped.

    Raises:
        CuratedFormatError: not JSON, or the top level is not ``{category: [entries]}``.
    """
    if not isinstance(data, dict):
        try:
            data = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise CuratedFormatError(f"curated database is not valid JSON: {exc}") from None
        except RecursionError:
            raise CuratedFormatError("curated database is not usable: JSON nested too deeply") from None
    if not isinstance(data, dict):
        raise CuratedFormatError("curated database must be a JSON object {category: [papers]}")
    out = CuratedParse()
    for category, entries in data.items():
        if not category.strip():  # a collection named "" could never be subscribed to or configured
            out.errors.append((category, None, "a category needs a name (it becomes the collection's name)"))
            continue
        if not isinstance(entries, list):
            out.errors.append((category, None, f"category {category!r} is not a list of papers"))
            continue
        papers = out.collections.setdefault(category, [])
        for pos, entry in enumerate(entries):
            try:
                papers.append(_entry(entry))
            except (InvalidArxivId, ValueError, TypeError, AttributeError) as exc:
                out.errors.append((category, pos, str(exc)))
    return out


def where(category: str, position: int | None) -> str:
    """Where a skipped entry sat, for messages: ``rlhf_code[3]`` (0-based), or the category
    (quoted when it is blank: ``''``)."""
    name = category if category.strip() else repr(category)
    return name if position is None else f"{name}[{position}]"


def load_curated(path: str | Path) -> CuratedParse:
    """Read and parse a seed file. Raises CuratedFormatError or OSError."""
    return parse_curated(Path(path).read_bytes())


def _entry(entry) -> Paper:
    if not isinstance(entry, dict):
        raise TypeError(f"entry is a {type(entry).__name__}, not an object")
    raw_id = entry.get("arxiv_id") or entry.get("url") or ""
    if not str(raw_id).strip():
        raise ValueError("no arxiv_id (or arXiv url)")
    arxiv_id, version = split_arxiv_id(str(raw_id))
    for key in ("title", "summary", "url", "pdf_url"):
        value = entry.get(key)
        if value is not None and not isinstance(value, str):
            raise TypeError(f"{arxiv_id}: {key} must be a string, got {str(value)[:60]}")
    title = clean_text(entry.get("title"))
    if not title:
        raise ValueError(f"{arxiv_id}: missing title")
    authors = entry.get("authors") or []
    if not isinstance(authors, list):
        raise TypeError(f"{arxiv_id}: authors must be a list")
    cats = entry.get("categories") or []
    return Paper(
        arxiv_id=arxiv_id, version=version, title=title,
        abstract=clean_text(entry.get("summary")),
        authors=[clean_text(str(a)) for a in authors],
        categories=[str(c) for c in cats] if isinstance(cats, list) else [],
        published=iso_date(entry.get("published")),
        abs_url=entry.get("url") or None, pdf_url=entry.get("pdf_url") or None,
        sources=["curated"],
    )
