"""Parsing the text of a ``/papers`` slash command into a `Command` — pure, no Slack, no store.

For ANY string `parse_command` returns a `Command` or raises `UsageError` (whose message is a
short, user-facing usage line); it never raises anything else.

Grammar (sub-command words are case-insensitive; empty text means ``help``)::

    search <query>                     subscribe <collection | keywords>  (a collection's name may
                                       be anything; each keyword needs a content word: not only
                                       stop words, emoji or mentions)
    subscribe keywords <words>         (the words as keywords, even when they look like a
                                       collection name)
    subscribe keywords                 (alone: the collection named ``keywords``, if there is one)
    unsubscribe <collection | keywords>
    unsubscribe keywords <words>       unsubscribe keywords  (alone: that collection)
    follow author <name>               unfollow author <name>
    like <arXiv id or URL>             profile
    digest now                         digest dm on|off   (your personal digest by DM)
    digest off|on                      (pause / resume this channel's scheduled digest; in a
                                       DM: your DM digest)
    digest                             (shows the digest settings)
    digest schedule <when>             digest size <1-50>
    digest timezone <Area/City>
    help

``subscribe <text>`` follows the collection `text` names — exactly, or up to case and
``-``/``_``/spaces (`match_collection`: ``RLHF-Code`` is ``rlhf_code``) — and otherwise takes
`text` as comma-separated keywords; the service refuses a near miss of a collection name
(``rlhf_cod``) and suggests the collection and the ``keywords`` form. ``unsubscribe`` reads a
collection name the same way. Only the service knows the collection names, so it, not
`parse_command`, checks the keywords of ``subscribe <text>`` (`check_keywords`), after the
names: a collection named ``C++``, ``🤖`` or ``the`` (``paperbot import`` names collections after
awesome-list headings) can be followed although none of them would do as a keyword.

``<when>`` is ``weekdays HH:MM``, ``daily HH:MM``, ``mon,thu HH:MM`` (days mon … sun, ranges
like ``mon-fri``) or a 5-field crontab such as ``30 8 * * mon-fri``.

The text is taken as Slack sends it: ``&``, ``<`` and ``>`` typed by the user arrive as
``&amp;``, ``&lt;``, ``&gt;``, while real ``<…>`` mark Slack's own links and mentions
(https://api.slack.com/reference/surfaces/formatting#escaping); `unescape_slack` turns it back
into what the user typed, so values (keywords, names, queries) are stored and searched as typed.
Replies that echo them must escape them again.
"""
from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

from feeds.records import NEW_ID_PATTERN, OLD_ID_PATTERN, without_subject_class

MAX_VALUE_CHARS = 200      # subscribe/follow values (a collection name, keywords, a person)
MAX_QUERY_CHARS = 4000     # search text (Slack sends at most a few thousand characters)
MAX_DIGEST_SIZE = 50       # papers per digest settable from Slack (Block Kit stays within limits)
# `match_collection`: how alike (difflib's ratio, 2·matches / total length) a typed value and a
# collection name must be for the value to count as a near miss of it. 0.85 takes one or two
# typos in a name like ``rlhf_code`` (``rlhf_cod`` 0.94, ``rhlf_code`` 0.89, ``rlhf_cd`` 0.88)
# but not a keyword that merely shares a word with it (``rlhf`` 0.62, ``code`` 0.62).
NEAR_MISS_CUTOFF = 0.85
# a value of more words than this is keywords, never a near miss of a collection name
NEAR_MISS_MAX_WORDS = 2
# a collection whose name (`collection_key`) is shorter than this is never nearly named: in a
# name of a few letters one letter more is another word, not a typo (``code`` / ``codex``,
# ``codec``; ``llm`` / ``mllm``), and the cutoff would refuse it
NEAR_MISS_MIN_CHARS = 5
# `subscribe keywords <words>`: the words as keywords, whatever they look like; `subscribe keywords`
# alone: the collection named so (``subscribe_collection``), which the explicit form would hide
KEYWORDS_WORD = "keywords"

USAGE = """*`/papers` commands*
• `/papers search <words> [author:NAME] [cat:cs.LG] [since:YYYY-MM-DD] [source:hf]` — search stored papers
• `/papers subscribe <collection | keywords>` — this channel's digest follows it (in a DM with the bot: your own); a collection name may differ in case, `-`, `_` or spaces
• `/papers subscribe keywords <words>` — follow the words as keywords, even when they look like a collection name
• `/papers unsubscribe <collection | keywords>` — stop following it (`/papers unsubscribe keywords <words>`: only keywords)
• `/papers follow author <name>` / `/papers unfollow author <name>` — papers by this person count for your profile
• `/papers like <arXiv id or URL>` — 👍 a paper (an arxiv.org or huggingface.co/papers link; fetched from arXiv if unknown)
• `/papers profile` — what your recommendations are based on
• `/papers digest now` — this channel's digest (your own in a DM), right away
• `/papers digest off` / `/papers digest on` — pause / resume this channel's scheduled digests (`digest now` still works; in a DM: your DM digest)
• `/papers digest dm on|off` — your personal digest by DM
• `/papers digest` — when and how many: `/papers digest schedule weekdays 09:00` (or `daily 08:30`, `mon,thu 10:00`, a crontab), `/papers digest size 5`, `/papers digest timezone Europe/Paris` (in a DM: your own digest)
• `/papers help` — this message"""

USAGES = {
    "search": "usage: `/papers search <words> [author:NAME] [cat:cs.LG] [since:YYYY-MM-DD] [source:hf]`",
    "subscribe": "usage: `/papers subscribe <collection | keywords>` or `/papers subscribe keywords <words>`",
    "unsubscribe": "usage: `/papers unsubscribe <collection | keywords>` or `/papers unsubscribe keywords <words>`",
    "follow": "usage: `/papers follow author <name>`",
    "unfollow": "usage: `/papers unfollow author <name>`",
    "like": "usage: `/papers like <arXiv id or URL>`, e.g. `/papers like 2501.01234`, "
            "`/papers like https://arxiv.org/abs/2501.01234` or `/papers like https://huggingface.co/papers/2501.01234`",
    "profile": "usage: `/papers profile`",
    "digest": "usage: `/papers digest now`, `/papers digest off|on`, `/papers digest dm on|off`, "
              "`/papers digest schedule <when>`, `/papers digest size <1-50>`, `/papers digest timezone <Area/City>`, "
              "or `/papers digest` for the current settings",
    "pause": "usage: `/papers digest off` (pause this channel's scheduled digests) or `/papers digest on` "
             "(resume them); your own digest by DM: `/papers digest dm on|off`",
    "schedule": "usage: `/papers digest schedule weekdays 09:00` (or `daily 08:30`, `mon,thu 10:00`, "
                "or a crontab like `30 8 * * mon-fri`)",
    "size": "usage: `/papers digest size <1-50>` (papers per digest)",
    "timezone": "usage: `/papers digest timezone <Area/City>`, e.g. `Europe/Paris` or `America/New_York`",
    "help": "usage: `/papers help`",
}

# arXiv identifiers (feeds.records: 2501.01234(v2) since 2007; archive(.SUBJ)/YYMMNNN before),
# here as the whole text, an arxiv.org URL or a Hugging Face daily papers URL
# (huggingface.co/papers/2501.01234, a source of paperbot's), also in Slack's <url|label> form.
_IDS = f"{NEW_ID_PATTERN}|{OLD_ID_PATTERN}"
_ID_RE = re.compile(rf"^(?:arxiv:)?({_IDS})(?:v\d+)?$", re.IGNORECASE)
_URL_RE = re.compile(rf"^<?(?:https?://)?(?:(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|html)/|"
                     rf"(?:www\.)?huggingface\.co/papers/)"
                     rf"({_IDS})(?:v\d+)?(?:\.pdf)?/?(?:[?#][^>|]*)?(?:\|[^>]*)?>?$",
                     re.IGNORECASE)


_SLACK_SEQUENCE = re.compile(r"<[^<>]*>")  # <@U123|ann>, <#C123|general>, <https://…|label>
_ENTITY = re.compile(r"&(amp|lt|gt);")
_ENTITY_CHAR = {"amp": "&", "lt": "<", "gt": ">"}


def unescape_slack(text: str) -> str:
    """Slash-command `text` as Slack sends it → as the user typed it: ``&amp;`` ``&lt;`` ``&gt;``
    outside Slack's own ``<…>`` sequences become ``&`` ``<`` ``>`` (one pass, so a typed
    ``&lt;`` — sent as ``&amp;lt;`` — stays ``&lt;``); the sequences are kept whole, e.g.
    ``"a &amp; <@U1|b>"`` → ``"a & <@U1|b>"``."""
    def decode(part: str) -> str:
        return _ENTITY.sub(lambda m: _ENTITY_CHAR[m.group(1)], part)
    out, pos = [], 0
    for m in _SLACK_SEQUENCE.finditer(text):
        out += [decode(text[pos:m.start()]), m.group(0)]
        pos = m.end()
    out.append(decode(text[pos:]))
    return "".join(out)


_EMOJI_CODE = re.compile(r":[a-z0-9_+'-]+:(?::skin-tone-[2-6]:)?", re.IGNORECASE)  # :tada:, :+1::skin-tone-2:
_WORD = re.compile(r"[^\W_]{2,}")  # letters/digits, 2+ long: what the TF-IDF tokenizer keeps (\b\w\w+\b)


def content_words(keyword: str) -> list[str]:
    """The words of `keyword` a paper could be matched on: runs of ≥ 2 letters/digits that are
    not English stop words (scikit-learn's ``ENGLISH_STOP_WORDS``, the list the TF-IDF model
    drops), once Slack's ``<…>`` sequences (mentions, channels, links) and ``:emoji:`` codes are
    taken out. ``content_words("the and of") == []``, ``content_words("RLHF, the basics")
    == ["RLHF", "basics"]``."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    text = _EMOJI_CODE.sub(" ", _SLACK_SEQUENCE.sub(" ", keyword))
    return [w for w in _WORD.findall(text) if w.lower() not in ENGLISH_STOP_WORDS]


def check_keywords(value: str) -> None:
    """Refuse a subscription any of whose comma-separated keywords has no `content_words`: it
    would match nothing, and the digest would be the least-bad unrelated papers. Only for text
    taken as keywords: ``subscribe keywords <words>`` here, ``subscribe <text>`` in the service
    once `text` names no collection (a collection may be named ``C++``).

    Raises:
        UsageError: no keyword, or a keyword without a content word (the message names it and
            ends with the ``subscribe`` usage line).
    """
    keywords = [k.strip() for k in value.split(",") if k.strip()]
    if not keywords:
        raise UsageError(USAGES["subscribe"])
    for k in keywords:
        if not content_words(k):
            raise UsageError(f"“{k[:60]}” has no word to match papers on (only common words, punctuation, "
                             "emoji or mentions). " + USAGES["subscribe"])


class UsageError(ValueError):
    """Malformed command text; ``str(exc)`` is the short message to show the user."""


_NAME_SEPARATORS = re.compile(r"[\s_-]+")


def collection_key(text: str) -> str:
    """`text` as collection names are compared with what people type: without surrounding
    backticks or quotes (replies show names as `` `rlhf_code` ``), lower-cased, every run of
    ``-``, ``_`` and white space one ``_``, none at either end: ``" RLHF-Code "``,
    ``"rlhf code"`` and ``"`rlhf_code`"`` all give ``"rlhf_code"``."""
    t = text.strip().strip("`'\"“”‘’").lower()
    return _NAME_SEPARATORS.sub("_", t).strip("_")


@dataclass(frozen=True)
class CollectionMatch:
    """What `match_collection` found: `name`, the one collection the text names (None when it
    names none or several), and `close`, the collections it nearly names (sorted; empty when
    `name` is set). ``name is None and not close``: the text is keywords."""

    name: str | None = None
    close: tuple[str, ...] = ()


def match_collection(text: str, names: Iterable[str]) -> CollectionMatch:
    """Which of the collection `names` the subscribe/unsubscribe `text` (as typed) means.

    1. a name equal to `text` (after trimming): that one;
    2. names whose `collection_key` equals the text's (case, ``-``, ``_`` and spaces aside):
       that one, or all of them as `close` when several do (``RLHF`` and ``rlhf``);
    3. for a text without commas of at most `NEAR_MISS_MAX_WORDS` words: the names whose key
       (of at least `NEAR_MISS_MIN_CHARS` characters) is at least `NEAR_MISS_CUTOFF` alike
       (`difflib.get_close_matches`), as `close` (``rlhf_cod`` → ``("rlhf_code",)``; ``codex``
       is no near miss of ``code``);
    otherwise nothing: the text is keywords (``reward model, PPO``, ``rlhf``).
    """
    names = list(dict.fromkeys(n for n in names if isinstance(n, str) and n))
    value = text.strip()
    if value in names:
        return CollectionMatch(value)
    key = collection_key(value)
    if not key:
        return CollectionMatch()
    same = sorted(n for n in names if collection_key(n) == key)
    if len(same) == 1:
        return CollectionMatch(same[0])
    if same:
        return CollectionMatch(close=tuple(same))
    if "," in value or len(value.split()) > NEAR_MISS_MAX_WORDS:
        return CollectionMatch()
    by_key: dict[str, list[str]] = {}
    for n in names:
        if len(collection_key(n)) >= NEAR_MISS_MIN_CHARS:
            by_key.setdefault(collection_key(n), []).append(n)
    close_keys = difflib.get_close_matches(key, list(by_key), n=3, cutoff=NEAR_MISS_CUTOFF)
    return CollectionMatch(close=tuple(sorted(n for k in close_keys for n in by_key[k])))


@dataclass(frozen=True)
class Command:
    """A parsed command: `name` (``search``, ``subscribe``, ``unsubscribe``,
    ``subscribe_keywords``, ``unsubscribe_keywords``, ``subscribe_collection``,
    ``unsubscribe_collection``, ``follow_author``, ``unfollow_author``, ``like``, ``profile``,
    ``digest_now``, ``digest_dm``, ``digest_pause``, ``digest_show``, ``digest_schedule``,
    ``digest_size``, ``digest_timezone``, ``help``) and its `value` (query text,
    collection/keywords, keywords only, a collection name only (``keywords`` as typed), author
    name, arXiv id without version, the DM
    on/off flag, True to pause / False to resume scheduled digests (``digest off`` / ``on``), a
    5-field crontab, a paper count, or an IANA time zone name)."""

    name: str
    value: str | bool | int | None = None

    @property
    def digest_setting(self) -> str | None:
        """The digest setting a ``digest_schedule`` / ``digest_size`` / ``digest_timezone``
        command changes (``schedule``, ``max_papers``, ``timezone``: the keys of
        `paperbot.service.DIGEST_SETTINGS`), else None."""
        return _DIGEST_SETTING_OF.get(self.name)


_DIGEST_SETTING_OF = {"digest_schedule": "schedule", "digest_size": "max_papers", "digest_timezone": "timezone"}


_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_NAMES = {d: d for d in _DAYS} | {"monday": "mon", "tuesday": "tue", "wednesday": "wed", "thursday": "thu",
                                       "friday": "fri", "saturday": "sat", "sunday": "sun"}
_TIME_RE = re.compile(r"^([0-9]{1,2})(?::([0-9]{2}))?$")  # ASCII digits only: int() refuses '²'
_SIZE_RE = re.compile(r"^[0-9]{1,3}$")


def _days_field(text: str) -> str | None:
    """``mon,thu`` / ``mon-fri`` / ``weekdays`` / ``daily`` → crontab day-of-week field, or None."""
    t = text.lower()
    if t in ("weekdays", "workdays"):
        return "mon-fri"
    if t in ("daily", "everyday", "every-day"):
        return "*"
    out = []
    for part in t.split(","):
        ends = part.split("-")
        if len(ends) > 2 or not all(e in _DAY_NAMES for e in ends):
            return None
        out.append("-".join(_DAY_NAMES[e] for e in ends))
    return ",".join(out) if out else None


def parse_schedule(text: str) -> str:
    """A digest schedule → 5-field crontab (minute hour day month day-of-week).

    Accepts ``weekdays 09:00``, ``daily 8:30``, ``mon,thu 10:00``, ``mon-fri 9`` (24-hour time)
    or a crontab read as cron reads it (day of week 0 or 7 = Sunday; validated with
    `bot.scheduler.cron_trigger`, the trigger the scheduler uses, which must have a next fire
    time: ``0 9 31 2 *`` never fires) that fires at most once an hour (`bot.scheduler.too_frequent`:
    ``* * * * *`` and ``*/30 9 * * *`` are refused). Raises `UsageError` for anything else.
    """
    from bot.scheduler import cron_trigger, describe_gap, too_frequent

    words = " ".join((text or "").split()).split(" ")
    if len(words) == 5:
        cron = " ".join(words)
        if not cron.isascii():  # APScheduler reads any Unicode digit ('٩'); cron and our replies do not
            raise UsageError(USAGES["schedule"])
        try:
            trigger = cron_trigger(cron, "UTC")
        except ValueError as exc:
            raise UsageError(f"not a valid crontab ({str(exc)[:80]}). " + USAGES["schedule"]) from None
        now = datetime.now(timezone.utc)
        if trigger.get_next_fire_time(None, now) is None:  # e.g. 0 9 31 2 *
            raise UsageError(f"`{cron}` never fires (no such date). " + USAGES["schedule"])
        gap = too_frequent(trigger, now)
        if gap is not None:  # `* * * * *` would post 1,440 digests a day
            raise UsageError(f"`{cron}` has runs only {describe_gap(gap)} apart; a digest can come at most once an "
                             "hour. " + USAGES["schedule"])
        return cron
    if len(words) == 2:
        days, at = words[0], words[1]
    elif len(words) == 3 and words[1].lower() == "at":
        days, at = words[0], words[2]
    else:
        raise UsageError(USAGES["schedule"])
    dow = _days_field(days)
    m = _TIME_RE.match(at)
    if dow is None or m is None:
        raise UsageError(USAGES["schedule"])
    hour, minute = int(m.group(1)), int(m.group(2) or 0)
    if hour > 23 or minute > 59:
        raise UsageError(f"{at!r} is not a time of day (00:00-23:59). " + USAGES["schedule"])
    return f"{minute} {hour} * * {dow}"


def parse_timezone(text: str) -> str:
    """An IANA time zone name (``Europe/Paris``, ``UTC``), checked against the zone database
    (`bot.scheduler.is_iana_zone`: ``localtime``, ``posixrules`` or ``Factory`` are refused).
    Raises `UsageError` for an unknown or malformed name."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from bot.scheduler import is_iana_zone

    name = (text or "").strip()
    if not name or len(name) > 64 or " " in name or name.startswith(("/", ".")) or ".." in name:
        raise UsageError(USAGES["timezone"])
    try:
        if not is_iana_zone(name):
            raise ZoneInfoNotFoundError(name)
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise UsageError(f"unknown time zone {name[:64]!r}. " + USAGES["timezone"]) from None
    return name


def parse_arxiv_id(text: str) -> str | None:
    """The arXiv id (without version) in `text` — a bare id, ``arXiv:…``, an arxiv.org abs/pdf
    URL or a Hugging Face paper URL (``https://huggingface.co/papers/2501.01234``), also in Slack's
    ``<url|label>`` form — or None (also for anything that is not a string). An old-style id
    comes without its subject class, as the arXiv API answers with it: ``math.GT/0309136`` →
    ``math/0309136``."""
    if not isinstance(text, str):
        return None
    t = text.strip()
    m = _ID_RE.match(t) or _URL_RE.match(t)
    if not m:
        return None
    # an old-style id as arXiv and the store spell it: archive in lower case, no subject class
    # (MATH.GT/0309136 is math/0309136: `feeds.records.without_subject_class`)
    return without_subject_class(m.group(1))


def _value(rest: str, sub: str, limit: int = MAX_VALUE_CHARS) -> str:
    value = " ".join(rest.split())
    if not value:
        raise UsageError(USAGES[sub])
    if len(value) > limit:
        raise UsageError(f"that is too long ({len(value)} characters, at most {limit}). " + USAGES[sub])
    return value


def parse_command(text: str | None) -> Command:
    """Parse the text after ``/papers``, as Slack sends it (escaped; see `unescape_slack`).

    Raises:
        UsageError: unknown sub-command or malformed arguments (message = usage line).
    """
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    stripped = unescape_slack(text).strip()
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
        explicit = bool(words) and words[0].lower() == KEYWORDS_WORD
        if explicit and len(words) == 1:  # no words to take as keywords: a collection named `keywords`
            return Command(f"{sub}_collection", words[0])
        if explicit:  # `subscribe keywords <words>`: the words after it, as keywords
            rest = rest.split(None, 1)[1] if len(words) > 1 else ""
        value = _value(rest, sub)
        # only keywords for sure here: `subscribe <text>` may name a collection (`C++`), which only
        # the service knows, so it checks the keywords there; unsubscribe removes whatever was stored
        if sub == "subscribe" and explicit:
            check_keywords(value)
        return Command(f"{sub}_keywords" if explicit else sub, value)
    if sub in ("follow", "unfollow"):
        if not words or words[0].lower() != "author":
            raise UsageError(USAGES[sub])
        return Command(f"{sub}_author", _value(rest.split(None, 1)[1] if len(words) > 1 else "", sub))
    if sub == "like":
        arg = rest.strip()
        if not _SLACK_SEQUENCE.fullmatch(arg):  # a link Slack sends as <url|label>: one token, spaces and all
            if len(words) != 1:
                raise UsageError(USAGES["like"])
            arg = words[0]
        aid = parse_arxiv_id(arg)
        if aid is None:
            raise UsageError(f"not an arXiv id or URL: {arg[:60]!r}. " + USAGES["like"])
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
        if low and low[0] in ("off", "on"):
            if len(low) != 1:  # `digest off now`: not a pause, not a digest now
                raise UsageError(USAGES["pause"])
            return Command("digest_pause", low[0] == "off")
        if not low or low in (["settings"], ["show"]):
            return Command("digest_show")
        arg = rest.split(None, 1)[1] if len(words) > 1 else ""
        if low[0] in ("schedule", "at", "when"):
            return Command("digest_schedule", parse_schedule(arg))
        if low[0] in ("size", "max", "papers"):
            # not str.isdigit(): it is True for '²' or '٣', which int() refuses or reads
            if len(words) != 2 or not _SIZE_RE.match(words[1]) or not 1 <= int(words[1]) <= MAX_DIGEST_SIZE:
                raise UsageError(USAGES["size"])
            return Command("digest_size", int(words[1]))
        if low[0] in ("timezone", "tz"):
            if len(words) != 2:
                raise UsageError(USAGES["timezone"])
            return Command("digest_timezone", parse_timezone(words[1]))
        raise UsageError(USAGES["digest"])
    raise UsageError(f"unknown command {parts[0][:40]!r}. Try `/papers help`.")
