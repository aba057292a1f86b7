"""Parsing the text of a ``/papers`` slash command into a `Command` — pure, no Slack, no store.

For ANY string `parse_command` returns a `Command` or raises `UsageError` (whose message is a
short, user-facing usage line); it never raises anything else.

Grammar (sub-command words are case-insensitive; empty text means ``help``)::

    search <query>                     subscribe <collection | keywords>
    unsubscribe <collection | keywords>
    follow author <name>               unfollow author <name>
    like <arXiv id or URL>             profile
    digest now                         digest dm on|off
    help
"""
from __future__ import annotations

import re
from dataclasses import dataclass

MAX_VALUE_CHARS = 200      # subscribe/follow values (a collection name, keywords, a person)
MAX_QUERY_CHARS = 4000     # search text (Slack sends at most a few thousand characters)

USAGE = """*`/papers` commands*
• `/papers search <words> [author:NAME] [cat:cs.LG] [since:YYYY-MM-DD] [source:hf]` — search stored papers
• `/papers subscribe <collection | keywords>` — this channel's digest follows it (in a DM with the bot: your own)
• `/papers unsubscribe <collection | keywords>` — stop following it
• `/papers follow author <name>` / `/papers unfollow author <name>` — papers by this person count for your profile
• `/papers like <arXiv id or URL>` — 👍 a paper (fetched from arXiv if unknown)
• `/papers profile` — what your recommendations are based on
• `/papers digest now` — this channel's digest (your own in a DM), right away
• `/papers digest dm on|off` — your personal digest by DM
• `/papers help` — this message"""

USAGES = {
    "search": "usage: `/papers search <words> [author:NAME] [cat:cs.LG] [since:YYYY-MM-DD] [source:hf]`",
    "subscribe": "usage: `/papers subscribe <collection | keywords>`",
    "unsubscribe": "usage: `/papers unsubscribe <collection | keywords>`",
    "follow": "usage: `/papers follow author <name>`",
    "unfollow": "usage: `/papers unfollow author <name>`",
    "like": "usage: `/papers like <arXiv id or URL>`, e.g. `/papers like 2501.01234` or "
            "`/papers like https://arxiv.org/abs/2501.01234`",
    "profile": "usage: `/papers profile`",
    "digest": "usage: `/papers digest now` or `/papers digest dm on|off`",
    "help": "usage: `/papers help`",
}

# arXiv identifiers (https://info.arxiv.org/help/arxiv_identifier.html): 2501.01234(v2) since
# 2007; archive(.SUBJ)/YYMMNNN before.
_NEW_ID = r"\d{4}\.\d{4,5}"
_OLD_ID = r"[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7}"
_ID_RE = re.compile(rf"^(?:arxiv:)?({_NEW_ID}|{_OLD_ID})(?:v\d+)?$", re.IGNORECASE)
_URL_RE = re.compile(rf"^<?(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|html)/"
                     rf"({_NEW_ID}|{_OLD_ID})(?:v\d+)?(?:\.pdf)?/?(?:[?#][^>|]*)?(?:\|[^>]*)?>?$",
                     re.IGNORECASE)


class UsageError(ValueError):
    """Malformed command text; ``str(exc)`` is the short message to show the user."""


@dataclass(frozen=True)
class Command:
    """A parsed command: `name` (``search``, ``subscribe``, ``unsubscribe``, ``follow_author``,
    ``unfollow_author``, ``like``, ``profile``, ``digest_now``, ``digest_dm``, ``help``) and its
    `value` (query text, collection/keywords, author name, arXiv id without version, or the DM
    on/off flag)."""

    name: str
    value: str | bool | None = None


def parse_arxiv_id(text: str) -> str | None:
    """The arXiv id (without version) in `text` — a bare id, ``arXiv:…``, or an arxiv.org abs/pdf
    URL (also Slack's ``<url|label>`` form) — or None."""
    t = (text or "").strip()
    m = _ID_RE.match(t) or _URL_RE.match(t)
    if not m:
        return None
    aid = m.group(1)
    return aid if "/" not in aid else aid.split("/")[0].lower() + "/" + aid.split("/")[1]


def _value(rest: str, sub: str, limit: int = MAX_VALUE_CHARS) -> str:
    value = " ".join(rest.split())
    if not value:
        raise UsageError(USAGES[sub])
    if len(value) > limit:
        raise UsageError(f"that is too long ({len(value)} characters, at most {limit}). " + USAGES[sub])
    return value


def parse_command(text: str | None) -> Command:
    """Parse the text after ``/papers``.

    Raises:
        UsageError: unknown sub-command or malformed arguments (message = usage line).
    """
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    stripped = text.strip()
    if not stripped:
        return Command("help")
    parts = stripped.split(None, 1)
    sub = parts[0].lower()
    rest = parts[1] if len(parts) > 1 else ""
    words = rest.split()
    if sub in ("help", "-h", "--help", "?"):
        return Command("help")
    if sub in ("search", "find", "s"):
        if len(rest) > MAX_QUERY_CHARS:
            raise UsageError(f"search text is too long (at most {MAX_QUERY_CHARS} characters)")
        return Command("search", _value(rest, "search", MAX_QUERY_CHARS))
    if sub in ("subscribe", "unsubscribe"):
        return Command(sub, _value(rest, sub))
    if sub in ("follow", "unfollow"):
        if not words or words[0].lower() != "author":
            raise UsageError(USAGES[sub])
        return Command(f"{sub}_author", _value(rest.split(None, 1)[1] if len(words) > 1 else "", sub))
    if sub == "like":
        if len(words) != 1:
            raise UsageError(USAGES["like"])
        aid = parse_arxiv_id(words[0])
        if aid is None:
            raise UsageError(f"not an arXiv id or URL: {words[0][:60]!r}. " + USAGES["like"])
        return Command("like", aid)
    if sub == "profile":
        if words:
            raise UsageError(USAGES["profile"])
        return Command("profile")
    if sub == "digest":
        low = [w.lower() for w in words]
        if low == ["now"]:
            return Command("digest_now")
        if len(low) == 2 and low[0] == "dm" and low[1] in ("on", "off"):
            return Command("digest_dm", low[1] == "on")
        raise UsageError(USAGES["digest"])
    raise UsageError(f"unknown command {parts[0][:40]!r}. Try `/papers help`.")
