"""Readable terminal rendering of a digest (what `paperbot demo` and token-less runs print)."""
from __future__ import annotations

import textwrap

from bot.blocks import format_authors
from bot.digest import Digest


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
