"""Curated databases: ``{section: [entry, …]}``, one curated collection per section.

An entry is either of (mixed freely, even within one section):

- a paper object, the seed format (``../shared/data/seeds/papers_database.sample.json``):
  ``{title, authors[], summary, arxiv_id (with version), published (YYYY-MM-DD), categories[],
  url, pdf_url}``;
- a bare arXiv id or link, as awesome-list style files keep their lists
  (``../shared/data/curated_lists/*.json``: ``{"section path": [arXiv ids in list order]}``):
  ``"2501.01234"``, ``"2501.01234v2"``, ``"arXiv:2501.01234"``,
  ``"https://arxiv.org/abs/2501.01234"`` (any form `feeds.records.split_arxiv_id` reads; an
  old-style id loses its subject class, ``math.GT/0309136`` → ``math/0309136``, the form the
  arXiv API answers with: `feeds.records.without_subject_class`). Only
  the id is in the file; the paper's metadata comes from the store or the arXiv API
  (`paperbot.curated_import.import_curated`).

Sections become collections named by `collection_name`.
"""
from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from feeds.records import InvalidArxivId, Paper, clean_text, iso_date, split_arxiv_id, without_subject_class

# how awesome-list files join the headings of a section path ("Papers > 2024")
SECTION_SEPARATOR = " > "
# the source of every paper a curated file brings, spelled out or looked up by its id: one of
# `store.store.BACKGROUND_SOURCES`, so an old paper imported today is not new in a digest
CURATED_SOURCE = "curated"


class CuratedFormatError(ValueError):
    """The file as a whole is unusable (not JSON, or not an object of lists)."""


@dataclass
class CuratedParse:
    """A parsed curated file, sections in file order.

    ``collections[section]`` holds the section's paper objects as `Paper` s (file order);
    ``ids[section]`` the arXiv id (without version) of every usable entry of the section, paper
    objects and bare ids alike, in file order; ``errors`` one ``(section, position, reason)`` per
    bad entry that was skipped (position ``None`` when the whole section was skipped; :func:`where`
    formats the pair for messages)."""

    collections: dict[str, list[Paper]] = field(default_factory=dict)
    ids: dict[str, list[str]] = field(default_factory=dict)
    errors: list[tuple[str, int | None, str]] = field(default_factory=list)

    def bare_ids(self) -> list[str]:
        """The ids the file gives only bare (no section holds a paper object for them), each
        once, in file order: the papers whose metadata must be found elsewhere."""
        spelled_out = {p.arxiv_id for papers in self.collections.values() for p in papers}
        return list(dict.fromkeys(a for ids in self.ids.values() for a in ids if a not in spelled_out))


def parse_curated(data: bytes | str | dict) -> CuratedParse:
    """Parse a curated file. Bad entries are reported with their position and skipped. A section
    written twice (the same key twice in the object, which JSON allows and `json.loads` would
    reduce to the last) is one section holding both lists' entries in file order (positions
    count on from the first list), so no entry is silently lost.

    Raises:
        CuratedFormatError: not UTF-8 text (bytes), not JSON, or the top level is not
            ``{section: [entries]}``.
    """
    if not isinstance(data, dict):
        try:
            data = json.loads(data, object_pairs_hook=_JSONObject)
        except json.JSONDecodeError as exc:
            raise CuratedFormatError(f"curated database is not valid JSON: {exc}") from None
        except UnicodeDecodeError as exc:  # e.g. a list saved as Latin-1: say so, not "codec can't decode"
            raise CuratedFormatError(f"curated database is not UTF-8 text ({exc.encoding} cannot read byte "
                                     f"0x{exc.object[exc.start]:02x} at offset {exc.start}); save it as UTF-8") from None
        except RecursionError:
            raise CuratedFormatError("curated database is not usable: JSON nested too deeply") from None
    if not isinstance(data, dict):
        raise CuratedFormatError("curated database must be a JSON object {category: [papers or arXiv ids]}, "
                                 f"not a {_json_type(data)}")
    out = CuratedParse()
    seen: dict[str, int] = {}  # section -> entries read so far (a section written twice counts on)
    for category, entries in (data.pairs if isinstance(data, _JSONObject) else data.items()):
        if not category.strip():  # a collection named "" could never be subscribed to or configured
            out.errors.append((category, None, "a category needs a name (it becomes the collection's name)"))
            continue
        if not isinstance(entries, list):
            out.errors.append((category, None, f"category {category!r} is not a list of papers or arXiv ids"))
            continue
        papers = out.collections.setdefault(category, [])
        ids = out.ids.setdefault(category, [])
        first = seen.get(category, 0)
        seen[category] = first + len(entries)
        for pos, entry in enumerate(entries, start=first):
            try:
                if isinstance(entry, str):
                    ids.append(without_subject_class(split_arxiv_id(entry)[0]))
                    continue
                paper = _entry(entry)
            except (InvalidArxivId, ValueError, TypeError, AttributeError) as exc:
                out.errors.append((category, pos, str(exc)))
                continue
            papers.append(paper)
            ids.append(paper.arxiv_id)
    return out


class _JSONObject(dict):
    """A JSON object that also keeps its ``(key, value)`` pairs in file order, a repeated key
    included (the dict keeps the last value, as `json.loads` does)."""

    def __init__(self, pairs: list[tuple[str, object]]):
        super().__init__(pairs)
        self.pairs = pairs


def collection_name(section: str) -> str:
    """The collection a section's papers go to.

    A section path, headings joined with ``" > "`` as awesome-list files write them
    (``"Awesome RLHF (RL with Human Feedback) > Papers > 2020 and before"``), becomes its
    headings, each lower-cased with every run of characters other than letters and digits made
    one ``-`` (trimmed), joined with ``/``
    (``awesome-rlhf-rl-with-human-feedback/papers/2020-and-before``). That is one word for
    `/papers subscribe` (which collapses spaces and reads commas as keyword separators), and
    the same name on every import. A heading with no letter or digit (only emoji) is left out
    of the path. A name without ``" > "`` (a seed-format category such as ``rlhf_code``) is
    kept as written, as it always was.
    """
    if SECTION_SEPARATOR not in section:
        return section
    parts = [_slug(p) for p in section.split(SECTION_SEPARATOR)]
    return "/".join(p for p in parts if p) or section.strip()


def _slug(heading: str) -> str:
    text = unicodedata.normalize("NFKC", heading).casefold()
    return re.sub(r"[\W_]+", "-", text).strip("-")


def where(category: str, position: int | None) -> str:
    """Where a skipped entry sat, for messages: ``rlhf_code[3]`` (0-based), or the category
    (quoted when it is blank: ``''``)."""
    name = category if category.strip() else repr(category)
    return name if position is None else f"{name}[{position}]"


def load_curated(path: str | Path) -> CuratedParse:
    """Read and parse a curated file. Raises CuratedFormatError or OSError."""
    return parse_curated(Path(path).read_bytes())


def _json_type(value) -> str:
    return {list: "list", str: "string", int: "number", float: "number", bool: "boolean",
            type(None): "null"}.get(type(value), type(value).__name__)


def _entry(entry) -> Paper:
    if not isinstance(entry, dict):
        raise TypeError(f"entry is a {_json_type(entry)}, not a paper object or an arXiv id")
    raw_id = entry.get("arxiv_id") or entry.get("url") or ""
    if not str(raw_id).strip():
        raise ValueError("no arxiv_id (or arXiv url)")
    arxiv_id, version = split_arxiv_id(str(raw_id))
    arxiv_id = without_subject_class(arxiv_id)
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
        sources=[CURATED_SOURCE],
    )
