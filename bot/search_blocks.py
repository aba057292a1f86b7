"""Block Kit for `/papers search` results and for updating feedback buttons: pure functions.

Limits as in `bot.blocks` (≤ 50 blocks per message, section text ≤ 3,000 characters after
escaping, https://api.slack.com/reference/block-kit/blocks).
"""
from __future__ import annotations

from bot.blocks import (MAX_AUTHORS_TEXT, MAX_BLOCKS, MAX_CONTEXT_TEXT, MAX_SECTION_TEXT, MAX_TITLE_TEXT,
                        escape_within, feedback_actions, format_authors, truncate, truncate_mrkdwn)
from recommender.search import QueryError, SearchHit, parse_query

RESULTS_LIMIT = (MAX_BLOCKS - 1) // 2  # header context + (section, actions) per hit
# no stored paper holds any of the query's words (the search takes papers holding any word when
# too few hold all, so fewer words would find nothing more) or passes its filters; which line
# fits the query: `no_match_text`
NO_MATCH = "No stored paper matches these words; try other words."
NO_MATCH_FILTERED = "No stored paper matches these words; try other words, or drop a filter."
NO_MATCH_FILTERS_ONLY = "No stored paper passes these filters; try other values, or drop a filter."


def no_match_text(query: str) -> str:
    """The line a search with no hit answers for the raw `query` (as typed after ``search``):
    `NO_MATCH` for words alone, `NO_MATCH_FILTERED` for words and an ``author:`` / ``cat:`` /
    ``since:`` / ``source:`` filter, `NO_MATCH_FILTERS_ONLY` for filters alone — dropping a
    filter is suggested only when there is one. A query `recommender.search.parse_query`
    refuses reads as words alone."""
    try:
        parsed = parse_query(query)
    except QueryError:
        return NO_MATCH
    if not parsed.has_filters:
        return NO_MATCH
    return NO_MATCH_FILTERED if parsed.text else NO_MATCH_FILTERS_ONLY


def results_heading(n: int, query_text: str) -> str:
    """``3 results for “reward model”`` (shared by Slack and terminal renderings)."""
    return f"{n} result{'s' if n != 1 else ''} for “{query_text}”"


def hit_section(hit: SearchHit, rank: int) -> dict:
    """One result: linked title, authors, date, categories, the blended score and its parts, as
    ``{"type": "section", "block_id": "paper:<arXiv id>", "text": {"type": "mrkdwn", …}}`` whose
    text is ≤ `MAX_SECTION_TEXT` after escaping."""
    p = hit.paper
    title = f"*{rank}. <{p.abs_url}|{escape_within(p.title, MAX_TITLE_TEXT)}>*"
    meta = [escape_within(format_authors(p.authors), MAX_AUTHORS_TEXT)]
    if p.published:
        meta.append(escape_within(p.published[:10], 10))
    if p.primary_category:
        meta.append(escape_within(p.primary_category, 100))
    if p.hf_upvotes is not None:
        meta.append(f"🤗 {p.hf_upvotes} upvotes")
    meta.append(f"score {hit.score:.2f} (BM25 {hit.bm25:.2f}, TF-IDF {hit.cosine:.2f})")
    text = truncate_mrkdwn(f"{title}\n{' · '.join(meta)}", MAX_SECTION_TEXT)
    return {"type": "section", "block_id": f"paper:{p.arxiv_id}"[:255], "text": {"type": "mrkdwn", "text": text}}


def search_blocks(query: str, hits: list[SearchHit], heading: str | None = None,
                  no_match: str = NO_MATCH) -> list[dict]:
    """Blocks for an ephemeral result list: a context line, then per hit a section and 👍 / 👎 /
    "More like this" buttons (value = arXiv id), or with no hit the mrkdwn line `no_match` (for
    a typed search, `no_match_text` of it). At most `RESULTS_LIMIT` hits are shown."""
    shown = hits[:RESULTS_LIMIT]
    head = heading or results_heading(len(shown), truncate(" ".join(query.split()), 200))
    blocks: list[dict] = [{"type": "context", "elements": [{"type": "mrkdwn", "text": escape_within(head, MAX_CONTEXT_TEXT)}]}]
    if not shown:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": no_match}})
    for i, hit in enumerate(shown, 1):
        blocks.append(hit_section(hit, i))
        blocks.append(feedback_actions(hit.paper.arxiv_id, more_like=True))
    return blocks


def feedback_button_ids(blocks: list[dict]) -> list[str]:
    """arXiv ids of the papers whose 👍 / 👎 buttons are in a message's `blocks` (actions blocks
    with block id ``fb:<arXiv id>``, see `bot.blocks.feedback_actions`), in message order."""
    return [b["block_id"][3:] for b in blocks
            if isinstance(b, dict) and b.get("type") == "actions" and str(b.get("block_id", "")).startswith("fb:")]


def with_feedback_counts(blocks: list[dict], counts: dict[str, tuple[int, int]]) -> list[dict]:
    """A copy of a message's `blocks` whose feedback buttons show ``counts[arxiv_id] = (ups,
    downs)`` for every paper in `counts` (plain 👍 / 👎 for ``(0, 0)``, as posted); other blocks
    are unchanged (a "More like this" button is kept). Buttons are recognised by their block id
    ``fb:<arXiv id>``."""
    out = []
    for b in blocks:
        aid = b.get("block_id", "")[3:] if b.get("type") == "actions" and str(b.get("block_id", "")).startswith("fb:") else None
        if aid in counts:
            more = any(e.get("action_id") == "more_like_this" for e in b.get("elements", []))
            out.append(feedback_actions(aid, more_like=more, counts=counts[aid] if any(counts[aid]) else None))
        else:
            out.append(b)
    return out
