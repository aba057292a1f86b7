"""Block Kit for digests and search results: small pure functions, testable without Slack.

Limits from Slack's Block Kit reference (https://api.slack.com/reference/block-kit/blocks):
≤ 50 blocks per message, section text ≤ 3,000 characters, header text ≤ 150, button text ≤ 75,
button value ≤ 2,000, block_id/action_id ≤ 255; a text object's text ≤ 3,000
(https://api.slack.com/reference/block-kit/composition-objects#text). mrkdwn needs ``&``, ``<``
and ``>`` escaped (https://api.slack.com/reference/surfaces/formatting#escaping).

Every limit is a limit on the text Slack receives, i.e. *after* escaping (one ``&`` is five
characters, ``&amp;``), so untrusted text goes through `escape_within` (escape, then cut between
escaped characters) and a composed mrkdwn string through `truncate_mrkdwn` (never cuts an entity
or a ``<…>`` link).
"""
from __future__ import annotations

from bot.digest import Digest
from recommender.scoring import Recommendation

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_BUTTON_TEXT = 75
MAX_CONTEXT_TEXT = 2000  # our own budget for a context line (Slack's text limit is 3,000)
MAX_TITLE_TEXT = 600     # escaped characters of a paper title in a section
MAX_AUTHORS_TEXT = 500   # escaped characters of an author line
MAX_WHY_TEXT = 1000      # escaped characters of a "why" explanation
MAX_LINK_URL = 500       # a longer badge URL (a code repository) is left out rather than cut
MAX_FALLBACK_TEXT = 300  # escaped characters of a message's `text` (notification / fallback line)
ACTION_UP = "feedback_up"
ACTION_DOWN = "feedback_down"
ACTION_MORE_LIKE = "more_like_this"
BLOCKS_PER_PAPER = 2  # section + actions
PAPER_BLOCK_PREFIX = "paper:"  # a paper section's block_id: paper:<arXiv id>


_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def escape_mrkdwn(text: str) -> str:
    """Escape the three control characters of Slack mrkdwn (&, <, >)."""
    return (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(text: str, limit: int) -> str:
    """Cut `text` to at most `limit` characters, ending with an ellipsis when cut. For plain
    text (``plain_text`` objects, button labels); mrkdwn goes through `escape_within` or
    `truncate_mrkdwn`."""
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def escape_within(text: str, limit: int) -> str:
    """`text` escaped for mrkdwn and at most `limit` (≥ 1) characters long *after* escaping.

    When it does not fit, whole characters are kept (an ``&`` as all of ``&amp;`` or not at
    all) and an ellipsis ends it: ``escape_within("a&b", 5) == "a…"``.
    """
    escaped = escape_mrkdwn(text)
    if len(escaped) <= limit:
        return escaped
    out, used, budget = [], 0, max(0, limit - 1)
    for ch in text:
        piece = _ESCAPES.get(ch, ch)
        if used + len(piece) > budget:
            break
        out.append(piece)
        used += len(piece)
    return "".join(out) + "…"


def truncate_mrkdwn(text: str, limit: int) -> str:
    """Cut already-escaped mrkdwn to at most `limit` characters (ellipsis when cut) without
    leaving half of an entity (``&am``) or of a ``<url|label>`` / ``<@U…>`` sequence: the cut
    moves back to before it. In escaped text every ``&`` starts an entity and every ``<`` a
    Slack sequence, so this is all the structure there is to keep whole."""
    if len(text) <= limit:
        return text
    cut = text[: max(0, limit - 1)]
    lt = cut.rfind("<")
    if lt > cut.rfind(">"):
        cut = cut[:lt]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"


def format_authors(authors: list[str], max_names: int = 4) -> str:
    """``A, B, C et al.`` style author line."""
    if not authors:
        return "unknown authors"
    if len(authors) <= max_names:
        return ", ".join(authors)
    return ", ".join(authors[:max_names]) + " et al."


def badges(rec: Recommendation) -> list[str]:
    """Source badges: HF upvotes, code repository, primary category, announce type."""
    p = rec.paper
    out = []
    if p.hf_upvotes is not None:
        out.append(f"🤗 {p.hf_upvotes} upvotes")
    if p.github_repo and len(p.github_repo) <= MAX_LINK_URL and not any(c in p.github_repo for c in "<>|"):
        out.append(f"<{p.github_repo}|code>")
    if p.primary_category:
        out.append(escape_within(p.primary_category, 100))
    if p.announce_type:
        out.append(escape_within(p.announce_type, 50))
    return out


def paper_section(rec: Recommendation, rank: int | None = None) -> dict:
    """A section block for one paper: linked title, authors, score, badges and the why line.

    Shape: ``{"type": "section", "block_id": "paper:<arXiv id>", "text": {"type": "mrkdwn",
    "text": "*1. <url|title>*\\nauthors · score · badges\\n_Why:_ …"}}``; each part is escaped
    within its own budget, so the text stays ≤ `MAX_SECTION_TEXT` after escaping."""
    p = rec.paper
    prefix = f"{rank}. " if rank is not None else ""
    title = f"*{prefix}<{p.abs_url}|{escape_within(p.title, MAX_TITLE_TEXT)}>*"
    meta = " · ".join([escape_within(format_authors(p.authors), MAX_AUTHORS_TEXT), f"score {rec.score:.2f}",
                       *badges(rec)])
    why = f"_Why:_ {escape_within(rec.why, MAX_WHY_TEXT)}"
    text = truncate_mrkdwn(f"{title}\n{meta}\n{why}", MAX_SECTION_TEXT)
    return {"type": "section", "block_id": f"{PAPER_BLOCK_PREFIX}{p.arxiv_id}"[:255], "text": {"type": "mrkdwn", "text": text}}


def paper_ids_in_blocks(blocks: list[dict] | None) -> list[str]:
    """arXiv ids of the paper sections (`paper_section`, ``block_id`` ``paper:<arXiv id>``) in
    `blocks`, in order: the papers a message shows."""
    return [b["block_id"][len(PAPER_BLOCK_PREFIX):] for b in blocks or []
            if isinstance(b, dict) and isinstance(b.get("block_id"), str)
            and b["block_id"].startswith(PAPER_BLOCK_PREFIX)]


def feedback_actions(arxiv_id: str, more_like: bool = False, chosen: int | None = None,
                     counts: tuple[int, int] | None = None) -> dict:
    """An actions block with 👍 / 👎 (and optionally "more like this") buttons whose `value` is
    the arXiv id. `chosen` (+1/−1) styles the user's choice; `counts` shows (ups, downs)."""
    up_text = "👍" + (f" {counts[0]}" if counts else "")
    down_text = "👎" + (f" {counts[1]}" if counts else "")
    up = {"type": "button", "action_id": ACTION_UP, "value": arxiv_id,
          "text": {"type": "plain_text", "text": up_text[:MAX_BUTTON_TEXT], "emoji": True}}
    down = {"type": "button", "action_id": ACTION_DOWN, "value": arxiv_id,
            "text": {"type": "plain_text", "text": down_text[:MAX_BUTTON_TEXT], "emoji": True}}
    if chosen == 1:
        up["style"] = "primary"
    elif chosen == -1:
        down["style"] = "danger"
    elements = [up, down]
    if more_like:
        elements.append({"type": "button", "action_id": ACTION_MORE_LIKE, "value": arxiv_id,
                         "text": {"type": "plain_text", "text": "More like this", "emoji": True}})
    return {"type": "actions", "block_id": f"fb:{arxiv_id}"[:255], "elements": elements}


def header_blocks(digest: Digest) -> list[dict]:
    """Header plus a context line with counts and what the digest follows:
    ``[{"type": "header", …plain_text ≤ 150}, {"type": "context", "elements": [{"type": "mrkdwn",
    "text": ≤ MAX_CONTEXT_TEXT after escaping}]}]``."""
    ctx = digest.counts
    if digest.follows:
        ctx += " · following " + ", ".join(digest.follows)
    return [
        {"type": "header", "text": {"type": "plain_text", "text": truncate(digest.title, MAX_HEADER_TEXT), "emoji": True}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": escape_within(ctx, MAX_CONTEXT_TEXT)}]},
    ]


def fallback_text(text: str) -> str:
    """A message's top-level `text` (the notification and fallback line Slack shows where blocks
    are not rendered): `text` escaped for mrkdwn and cut to `MAX_FALLBACK_TEXT`, so what users
    typed (keywords such as ``<!channel>`` or ``<https://x|label>``) shows as typed, never as a
    mention or a disguised link, and 300 follows make one line, not 60,000 characters."""
    return escape_within(text, MAX_FALLBACK_TEXT)


def digest_blocks(digest: Digest, max_blocks: int = MAX_BLOCKS) -> tuple[list[dict], list[Recommendation]]:
    """Blocks for the digest's main message and the papers that did not fit (for a thread reply).

    Returns ``(blocks, overflow)``; ``len(blocks) <= max_blocks`` always.
    """
    blocks = header_blocks(digest)
    if not digest.items:
        blocks.append({"type": "section", "text": {"type": "mrkdwn",
                       "text": escape_within(digest.empty_reason or "Nothing new today.",
                                                            MAX_SECTION_TEXT)}})
        return blocks, []
    room = (max_blocks - len(blocks)) // BLOCKS_PER_PAPER
    shown, overflow = digest.items[:room], digest.items[room:]
    for i, rec in enumerate(shown, 1):
        blocks.append(paper_section(rec, i))
        blocks.append(feedback_actions(rec.paper.arxiv_id))
    return blocks, overflow


def overflow_blocks(items: list[Recommendation], start_rank: int, max_blocks: int = MAX_BLOCKS) -> list[list[dict]]:
    """Thread-reply messages for papers that did not fit in the main message, each ≤ `max_blocks`."""
    messages, current = [], []
    for i, rec in enumerate(items, start_rank):
        if len(current) + BLOCKS_PER_PAPER > max_blocks:
            messages.append(current)
            current = []
        current += [paper_section(rec, i), feedback_actions(rec.paper.arxiv_id)]
    if current:
        messages.append(current)
    return messages
