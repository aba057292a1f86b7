"""Readable terminal rendering of a digest (what `paperbot demo` and token-less runs print) and
of search results (`paperbot search`)."""
from __future__ import annotations

import textwrap

from bot.blocks import format_authors
from bot.digest import Digest
from bot.search_blocks import NO_MATCH, results_heading
from recommender.search import SearchHit


def render_text(digest: Digest, width: int = 100) -> str:
    """The digest as plain text: a header, then per paper rank, score, title, authors, badges,
    link and the explanation."""
    lines = [f"=== {digest.title} ===", digest.summary]
    if not digest.items:
        return "\n".join(lines) + "\n"
    for i, rec in enumerate(digest.items, 1):
        p = rec.paper
        extra = []
        if p.hf_upvotes is not None:
            extra.append(f"HF {p.hf_upvotes} upvotes")
        if p.primary_category:
            extra.append(p.primary_category)
        if p.announce_type:
            extra.append(p.announce_type)
        lines.append("")
        lines.append(f"{i:>2}. [{rec.score:.3f}] {p.title}")
        lines.append(f"    {format_authors(p.authors)} · {p.abs_url}" + (f" · {' · '.join(extra)}" if extra else ""))
        lines.extend(textwrap.wrap("why: " + rec.why, width=width, initial_indent="    ", subsequent_indent="         "))
    return "\n".join(lines) + "\n"


def render_search_text(query: str, hits: list[SearchHit], width: int = 100, no_match: str = NO_MATCH) -> str:
    """Search results as plain text, the terminal twin of `bot.search_blocks.search_blocks`: a
    header line, then per hit rank, title, authors, date, category, HF upvotes, link and the
    blended score with its BM25 and TF-IDF cosine parts (`recommender.search.search`); with no
    hit, the line `no_match` instead."""
    lines = [results_heading(len(hits), " ".join(query.split()))]
    if not hits:
        lines.append(no_match)
    for i, hit in enumerate(hits, 1):
        p = hit.paper
        meta = [format_authors(p.authors)] if p.authors else []
        meta += [x for x in (p.published[:10] if p.published else None, p.primary_category) if x]
        if p.hf_upvotes is not None:
            meta.append(f"HF {p.hf_upvotes} upvotes")
        lines.append("")
        lines.extend(textwrap.wrap(f"{i:>2}. {p.title}", width=width, subsequent_indent="    "))
        lines.append("    " + " · ".join(meta + [p.abs_url]))
        lines.append(f"    score {hit.score:.2f} (BM25 {hit.bm25:.2f}, TF-IDF {hit.cosine:.2f})")
    return "\n".join(lines) + "\n"
