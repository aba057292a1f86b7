"""Block Kit rendering within Slack's limits, and terminal text."""
import json

from bot.blocks import ACTION_DOWN, ACTION_UP, MAX_BLOCKS, digest_blocks, escape_mrkdwn, overflow_blocks
from bot.digest import Digest
from bot.text import render_text
from feeds.records import Paper
from recommender.scoring import Recommendation


def _digest(n: int, long: bool = False) -> Digest:
    items = []
    for i in range(n):
        title = ("A <very> long & hostile *title* " * (40 if long else 1)).strip()
        p = Paper(f"2601.{i:05d}", title, "abstract", authors=[f"Author {j}" for j in range(30)],
                  hf_upvotes=i, primary_category="cs.LG")
        items.append(Recommendation(p, 1 - i / 1000, terms=["reward model"] * 3, nearest_id="2401.00001",
                                    nearest_title="x" * 5000, nearest_sim=0.4))
    return Digest("C1", "Paper digest · #rl · 2026-01-05", "2026-01-05", items, n_candidates=2000,
                  follows=["rlhf_code"])


def _texts(block):
    if isinstance(block, dict):
        for k, v in block.items():
            if k == "text" and isinstance(v, str):
                yield v
            else:
                yield from _texts(v)
    elif isinstance(block, list):
        for b in block:
            yield from _texts(b)


def test_100_paper_digest_respects_block_kit_limits():
    d = _digest(100, long=True)
    blocks, overflow = digest_blocks(d)
    assert len(blocks) <= MAX_BLOCKS
    assert all(len(t) <= 3000 for t in _texts(blocks))
    assert blocks[0]["type"] == "header" and len(blocks[0]["text"]["text"]) <= 150
    shown = sum(1 for b in blocks if b["type"] == "section")
    assert shown + len(overflow) == 100
    replies = overflow_blocks(overflow, shown + 1)
    assert all(len(m) <= MAX_BLOCKS for m in replies)
    assert sum(1 for m in replies for b in m if b["type"] == "section") == len(overflow)
    json.dumps(blocks)  # serialisable


def test_buttons_carry_the_arxiv_id_and_titles_are_escaped():
    blocks, _ = digest_blocks(_digest(2))
    actions = [b for b in blocks if b["type"] == "actions"]
    assert [e["action_id"] for e in actions[0]["elements"]] == [ACTION_UP, ACTION_DOWN]
    assert {e["value"] for e in actions[1]["elements"]} == {"2601.00001"}
    section = next(b for b in blocks if b["type"] == "section")
    assert "&lt;very&gt;" in section["text"]["text"] and "&amp;" in section["text"]["text"]
    assert "<https://arxiv.org/abs/2601.00000|" in section["text"]["text"]
    assert "🤗 0 upvotes" in section["text"]["text"]


def test_empty_digest_says_why():
    d = Digest("C1", "Paper digest", "2026-01-03", [], 0, empty_reason="No new papers: weekend.")
    blocks, overflow = digest_blocks(d)
    assert overflow == [] and "weekend" in blocks[-1]["text"]["text"]
    assert "weekend" in render_text(d)


def test_escape_mrkdwn():
    assert escape_mrkdwn("a<b>&c") == "a&lt;b&gt;&amp;c"


def test_terminal_text_lists_rank_score_title_and_why():
    out = render_text(_digest(3))
    assert " 1. [1.000]" in out and "why: shares" in out and "https://arxiv.org/abs/2601.00002" in out
