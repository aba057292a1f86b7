"""Block Kit rendering within Slack's limits, and terminal text."""
import json
import re

from bot.blocks import (ACTION_DOWN, ACTION_UP, MAX_BLOCKS, digest_blocks, escape_mrkdwn, escape_within,
                        overflow_blocks, truncate_mrkdwn)
from bot.digest import Digest
from bot.home import HomeData, home_view
from bot.search_blocks import search_blocks
from bot.text import render_text
from feeds.records import Paper
from recommender.scoring import Recommendation
from recommender.search import SearchHit


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
    assert " 1. [1.000]" in out and "why: matches the profile on" in out and "https://arxiv.org/abs/2601.00002" in out


# ---- limits hold after escaping, and no cut splits an entity or a <…> sequence -----------------
def _mrkdwn_texts(blocks):
    """Every mrkdwn text in `blocks`."""
    out = []

    def walk(x):
        if isinstance(x, dict):
            if x.get("type") == "mrkdwn" and isinstance(x.get("text"), str):
                out.append(x["text"])
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
    walk(blocks)
    return out


def _well_formed(text: str) -> bool:
    """Every ``&`` starts a whole entity, and ``<``/``>`` pair up with nothing nested."""
    if "&" in re.sub(r"&(amp|lt|gt);", "", text):
        return False
    depth = 0
    for ch in text:
        depth += {"<": 1, ">": -1}.get(ch, 0)
        if depth not in (0, 1):
            return False
    return depth == 0


def _hostile_digest() -> Digest:
    items = []
    for i in range(3):
        p = Paper(f"2601.{i:05d}", "&" * 5000 if i == 0 else "<b>" * 2000, "abstract",
                  authors=["<" * 3000, ">&" * 2000], primary_category="cs.&&" * 100,
                  github_repo="https://github.com/a/b?x=" + "<" * 600)
        items.append(Recommendation(p, 0.5, terms=["&" * 400] * 3, nearest_id="2401.00001",
                                    nearest_title="&" * 90, nearest_sim=0.4))
    return Digest("C1", "Paper digest", "2026-01-05", items, n_candidates=10, follows=["&" * 200] * 15)


def test_texts_stay_within_limits_after_escaping_and_no_entity_is_cut():
    blocks, _ = digest_blocks(_hostile_digest())
    texts = _mrkdwn_texts(blocks)
    assert len(texts) == 4  # the context line and three paper sections
    assert all(len(t) <= 3000 for t in texts), [len(t) for t in texts]
    assert all(_well_formed(t) for t in texts), [t[-40:] for t in texts if not _well_formed(t)]
    context = blocks[1]["elements"][0]["text"]
    assert context.startswith("3 recommended of 10 new papers · following &amp;&amp;") and context.endswith("…")
    hits = [SearchHit(p.paper, 0.5, 0.5, 0.5) for p in _hostile_digest().items]
    for t in _mrkdwn_texts(search_blocks("&" * 3000, hits)):
        assert len(t) <= 3000 and _well_formed(t), t[-40:]
    home = home_view(HomeData("U1", follows={"keyword": ["&" * 3000]}, top_terms=["<" * 900] * 10,
                              liked=[("2601.00000", "&" * 3000, "https://arxiv.org/abs/2601.00000")]))
    for t in _mrkdwn_texts(home["blocks"]):
        assert len(t) <= 3000 and _well_formed(t), t[-40:]


def test_escape_within_and_truncate_mrkdwn_cut_between_entities():
    assert escape_within("a&b", 100) == "a&amp;b"
    assert escape_within("a&b", 5) == "a…" and escape_within("a&b", 7) == "a&amp;b"
    assert escape_within("&" * 10, 12) == "&amp;&amp;…"
    assert truncate_mrkdwn("x <https://a.b|t> &amp; y", 10) == "x …"
    assert truncate_mrkdwn("xy &amp;&amp;", 9) == "xy &amp;…"
    assert truncate_mrkdwn("short", 10) == "short"


# ---- action_ids are unique within each block (Slack: invalid_blocks otherwise) -------------------
def _assert_unique_action_ids(blocks):
    for b in blocks:
        ids = [e["action_id"] for e in b.get("elements", []) if "action_id" in e]
        assert len(ids) == len(set(ids)), (b.get("block_id"), ids)


def test_every_block_has_distinct_action_ids():
    view = home_view(HomeData("U1", collections=[f"c{i}" for i in range(8)]))
    follow = next(b for b in view["blocks"] if b.get("block_id") == "home_follow")
    assert [e["value"] for e in follow["elements"]] == ["c0", "c1", "c2", "c3", "c4"]
    assert all(e["action_id"].startswith("home_follow_collection") for e in follow["elements"])
    _assert_unique_action_ids(view["blocks"])
    _assert_unique_action_ids(digest_blocks(_digest(30))[0])
    hits = [SearchHit(r.paper, 0.5, 0.5, 0.5) for r in _digest(30).items]
    _assert_unique_action_ids(search_blocks("q", hits))
