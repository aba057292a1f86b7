"""The App Home tab: a pure builder of the ``views.publish`` view for one user's profile.

Home tab views hold at most 100 blocks (https://api.slack.com/reference/block-kit/blocks).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from bot.blocks import MAX_SECTION_TEXT, escape_within, truncate, truncate_mrkdwn

MAX_HOME_BLOCKS = 100
ACTION_DM_TOGGLE = "home_dm_toggle"
ACTION_UNFOLLOW = "home_unfollow"
ACTION_FOLLOW_COLLECTION = "home_follow_collection"  # + ":<i>" per button, see `follow_collection_action_id`
ACTION_REFRESH = "home_refresh"
FOLLOW_KINDS = {"collection": "Collections", "keyword": "Keywords", "author": "Authors"}
# why a profile that follows something (or 👍 a paper) has no top terms: `HomeData.no_terms_reason`
NO_TERMS_NO_PAPERS = "no_papers"            # no paper is stored yet, so there is no TF-IDF model
NO_TERMS_NO_VOCABULARY = "no_vocabulary"    # the stored papers give TF-IDF no term (`EmptyVocabulary`)
NO_TERMS_UNKNOWN_WORDS = "unknown_words"    # the follows and 👍 papers hold no word the model knows
_NO_TERMS_TEXT = {
    NO_TERMS_NO_PAPERS: "none yet — no paper is stored yet (the feeds have not been polled); they appear "
                        "once papers are stored.",
    NO_TERMS_NO_VOCABULARY: "none yet — the stored papers have no words the recommender can index (only stop "
                            "words, formulas or punctuation); they appear once papers with real titles or "
                            "abstracts are stored.",
    NO_TERMS_UNKNOWN_WORDS: "none — what you follow and 👍 has no word the stored papers use (a keyword in "
                            "another language, say, or a collection or author with no paper stored yet).",
}


@dataclass
class HomeData:
    """What the Home tab shows: `follows` ``{kind: [values]}``, the profile's top TF-IDF terms
    (and, when there are none, `no_terms_reason`: one of the ``NO_TERMS_*`` values, or "" when
    the user follows nothing), recent 👍 papers ``[(arxiv_id, title, url)]``, the DM digest
    setting and the collections the user could follow."""

    user_id: str
    follows: dict[str, list[str]] = field(default_factory=dict)
    top_terms: list[str] = field(default_factory=list)
    liked: list[tuple[str, str, str]] = field(default_factory=list)
    dm_digest: bool = False
    collections: list[str] = field(default_factory=list)
    dm_schedule: str = "weekdays 09:00 UTC"  # mrkdwn summary of the user's DM digest settings
    no_terms_reason: str = ""


def no_terms_text(data: HomeData) -> str:
    """Why `data` has no top profile terms, as mrkdwn to follow "Top profile terms:" (the Home tab
    and ``/papers profile`` both say it): the advice "follow a collection or 👍 a paper" only to
    someone who has done neither; to someone who has, the reason `data.no_terms_reason` names
    (no paper stored, no indexable word, or follows/👍 without a word the stored papers use; an
    unknown or empty reason reads as the last)."""
    if any(data.follows.values()) or data.liked:  # not "follow something": they do; say why instead
        return _NO_TERMS_TEXT.get(data.no_terms_reason, _NO_TERMS_TEXT[NO_TERMS_UNKNOWN_WORDS])
    return "none yet — follow a collection or 👍 a paper."


def _section(text: str, button: dict | None = None) -> dict:
    """``{"type": "section", "text": {"type": "mrkdwn", "text": …}, "accessory": button?}`` for
    already-escaped mrkdwn `text`, cut to `MAX_SECTION_TEXT` without splitting an entity."""
    block = {"type": "section", "text": {"type": "mrkdwn", "text": truncate_mrkdwn(text, MAX_SECTION_TEXT)}}
    if button:
        block["accessory"] = button
    return block


def _button(text: str, action_id: str, value: str, style: str | None = None) -> dict:
    b = {"type": "button", "action_id": action_id, "value": value[:2000],
         "text": {"type": "plain_text", "text": truncate(text, 75), "emoji": True}}
    if style:
        b["style"] = style
    return b


def follow_collection_action_id(i: int) -> str:
    """The action_id of the `i`-th "Follow <collection>" button: ``home_follow_collection:<i>``.
    Slack refuses an actions block whose elements share an action_id (``invalid_blocks``; "should
    be unique among all other action_ids in the containing block",
    https://api.slack.com/reference/block-kit/block-elements#button), so each button gets its
    own; the listener matches the prefix and reads the collection from the button's value."""
    return f"{ACTION_FOLLOW_COLLECTION}:{i}"


def home_view(data: HomeData) -> dict:
    """The ``{"type": "home", "blocks": […]}`` view (≤ `MAX_HOME_BLOCKS` blocks).

    Buttons: DM digest on/off (`ACTION_DM_TOGGLE`, value ``on``/``off`` = the new setting),
    unfollow per followed item (`ACTION_UNFOLLOW`, value ``kind:value``), follow a collection
    (`follow_collection_action_id`, value = name), refresh (`ACTION_REFRESH`)."""
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Your paper profile", "emoji": True}},
        _section("*Personal digest by DM:* " + (f"on — {data.dm_schedule}" if data.dm_digest else "off"),
                 _button("Turn off" if data.dm_digest else "Turn on", ACTION_DM_TOGGLE,
                         "off" if data.dm_digest else "on", None if data.dm_digest else "primary")),
        {"type": "divider"},
    ]
    tail: list[dict] = []
    if data.top_terms:
        tail.append(_section("*Top profile terms:* " + ", ".join(f"`{escape_within(t, 100)}`" for t in data.top_terms)))
    else:
        tail.append(_section("*Top profile terms:* " + no_terms_text(data)))
    tail.append({"type": "divider"})
    tail.append(_section("*Recently 👍*" if data.liked else "*Recently 👍:* nothing yet."))
    for aid, title, url in data.liked[:10]:
        tail.append(_section(f"• <{url}|{escape_within(title, 400)}> ({aid})"))
    candidates = [c for c in data.collections if c not in data.follows.get("collection", [])][:10]
    if candidates:
        tail.append({"type": "divider"})
        tail.append(_section("*Curated collections you could follow*"))
        tail.append({"type": "actions", "block_id": "home_follow",
                     "elements": [_button(f"Follow {c}", follow_collection_action_id(i), c)
                                  for i, c in enumerate(candidates[:5])]})
    tail.append({"type": "actions", "block_id": "home_misc",
                 "elements": [_button("Refresh", ACTION_REFRESH, "refresh")]})
    tail.append({"type": "context", "elements": [{"type": "mrkdwn", "text":
                 "Change more with `/papers subscribe …`, `/papers follow author …`, `/papers like …`."}]})
    room = MAX_HOME_BLOCKS - len(blocks) - len(tail)
    follow_blocks: list[dict] = []
    any_follow = False
    for kind, label in FOLLOW_KINDS.items():
        values = data.follows.get(kind, [])
        if not values:
            continue
        any_follow = True
        follow_blocks.append(_section(f"*{label}*"))
        for v in values:
            follow_blocks.append(_section(f"• {escape_within(v, 400)}",
                                          _button("Unfollow", ACTION_UNFOLLOW, f"{kind}:{v}")))
    if not any_follow:
        follow_blocks.append(_section("*You follow nothing yet.* Follow a collection below, or "
                                      "`/papers follow author <name>`."))
    if len(follow_blocks) > room:
        follow_blocks = follow_blocks[: room - 1] + [_section(f"… and more ({len(follow_blocks) - room + 1} not shown)")]
    return {"type": "home", "blocks": blocks + follow_blocks + tail}
