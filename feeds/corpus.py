"""Reader for the normalised arXiv corpus format (JSONL, optionally gzip-compressed).

One paper per line: ``{arxiv_id (no version), title, abstract, categories[], published
(YYYY-MM-DD), authors[]}`` plus optional extras (``hf_upvotes``, ``abstract_truncated``,
``source_format``…) — the format of ``shared/data/corpus/*.jsonl[.gz]`` (see its SOURCES.md).
Lines that are not a JSON object, lack a usable arXiv id or a title are reported by line number
and skipped; the rest is read. Bytes that are not UTF-8 are read as U+FFFD (the line is kept)
and the line numbers holding them are reported too.
"""
from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from feeds.records import InvalidArxivId, Paper, clean_text, iso_date, split_arxiv_id

SOURCE = "corpus"


class CorpusFormatError(ValueError):
    """The file as a whole cannot be read as corpus JSONL (e.g. a corrupt gzip stream)."""


@dataclass
class CorpusReader:
    """Iterate over the papers of one corpus file; `skipped` collects ``(line_no, reason)``.

    Use: ``reader = CorpusReader(path); for paper in reader: …; reader.skipped``.
    `bytes_read` (compressed bytes consumed so far) lets a caller draw a progress bar against
    the file size. `undecodable` lists the numbers of the lines holding bytes that are not
    UTF-8: each such byte is read as U+FFFD (errors="replace") and the line is parsed as
    usual, so the paper is kept (or the line skipped for its own reason) with that character
    in place of the bad bytes. Lines end at ``\n``, ``\r\n`` or a lone ``\r`` (Python's
    universal newlines), numbered from 1.

    Raises (while iterating):
        CorpusFormatError: the rest of the file cannot be read (a truncated or damaged gzip
            stream, a bad gzip header or CRC); the
            message names the last line read (``bad.jsonl.gz: unreadable after line 41234: …``),
            and every paper up to that line has been yielded.
    """

    path: Path
    skipped: list[tuple[int, str]] = field(default_factory=list)
    bytes_read: int = 0
    undecodable: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.path = Path(self.path)

    def __iter__(self) -> Iterator[Paper]:
        raw = open(self.path, "rb")
        try:
            gz = self.path.suffix == ".gz"
            stream = gzip.GzipFile(fileobj=raw) if gz else raw
            line_no = 0  # the last line read, for the error message
            try:
                for line_no, data in enumerate(_lines(stream), 1):
                    self.bytes_read = raw.tell()
                    try:
                        line = data.decode("utf-8")
                    except UnicodeDecodeError:  # decoded line by line, so the line is known
                        line = data.decode("utf-8", errors="replace")
                        self.undecodable.append(line_no)
                    if not line.strip():
                        continue
                    paper, reason = parse_corpus_line(line)
                    if paper is None:
                        self.skipped.append((line_no, reason))
                        continue
                    yield paper
            except (OSError, EOFError, zlib.error) as exc:  # bad header/CRC: gzip.BadGzipFile (an OSError)
                raise CorpusFormatError(f"{self.path.name}: unreadable after line {line_no}: {exc}") from exc
            self.bytes_read = raw.tell()
        finally:
            raw.close()


def _lines(stream) -> Iterator[bytes]:
    """The lines of the binary `stream`, split where text mode's universal newlines split them
    (``\n``, ``\r\n``, a lone ``\r``), without their line ends."""
    for data in stream:
        if b"\r" in data:
            yield from data.splitlines()
        else:
            yield data.rstrip(b"\n")


def parse_corpus_line(line: str) -> tuple[Paper | None, str]:
    """One corpus line → ``(Paper, "")`` or ``(None, reason)``.

    The paper's `sources` is ``["corpus"]``; `published` is kept as the first-announcement date;
    HF upvotes are carried over when present; ``"abstract_truncated": true`` (the
    cn-chat-arxiv supplement's abstracts cut at 1,000 characters of the RSS description) becomes
    `Paper.abstract_truncated`, so the store replaces that text with a complete abstract from any
    other source, whichever arrives first.
    """
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        return None, f"not JSON ({exc.msg})"
    if not isinstance(obj, dict):
        return None, "not a JSON object"
    raw_id = obj.get("arxiv_id")
    try:
        arxiv_id, version = split_arxiv_id(raw_id) if isinstance(raw_id, str) else split_arxiv_id("")
    except InvalidArxivId:
        return None, f"no valid arxiv_id ({str(raw_id)[:40]!r})"
    title = clean_text(obj.get("title") if isinstance(obj.get("title"), str) else "")
    if not title:
        return None, f"{arxiv_id}: empty title"
    authors = obj.get("authors") or []
    cats = obj.get("categories") or []
    if not isinstance(authors, list) or not isinstance(cats, list):
        return None, f"{arxiv_id}: authors/categories must be lists"
    upvotes = obj.get("hf_upvotes")
    abstract = clean_text(obj.get("abstract") if isinstance(obj.get("abstract"), str) else "")
    return Paper(
        arxiv_id=arxiv_id, version=version, title=title,
        abstract=abstract, abstract_truncated=bool(abstract) and obj.get("abstract_truncated") is True,
        authors=[clean_text(str(a)) for a in authors if a],
        categories=[str(c) for c in cats if c],
        published=iso_date(obj.get("published")),
        sources=[SOURCE],
        hf_upvotes=upvotes if isinstance(upvotes, int) else None,
    ), ""
