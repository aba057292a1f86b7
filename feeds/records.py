"""The normalised paper record every poller produces, and arXiv id handling.

A `Paper` is what flows from `feeds/` into `store/`. Ids follow arXiv's identifier scheme
(https://info.arxiv.org/help/arxiv_identifier.html): new style ``YYMM.NNNNN`` (4 or 5 digit
number) and old style ``archive[.subject]/YYMMNNN`` (e.g. ``hep-th/9901001``), either with an
optional ``vN`` version suffix. ``MM`` must be a month (01-12), so a typo such as ``2513.01234``
or the digits of a DOI (``…55395.2022.00035``) are not taken for an id.
"""
from __future__ import annotations

import email.utils
import re
from dataclasses import asdict, dataclass, field
from typing import Any

_MONTH = r"(?:0[1-9]|1[0-2])"
# Regular-expression sources (no anchors, no groups) of the two identifier schemes, for any
# module that recognises ids in its own context (e.g. `bot.commands_parser` in Slack text).
NEW_ID_PATTERN = rf"\d{{2}}{_MONTH}\.\d{{4,5}}"  # YYMM.NNNN (to 1412) or YYMM.NNNNN (from 1501)
# arXiv spells the archive in lower case and the subject class in upper case (hep-th/9901001,
# math.GT/0309136), but people write them in either case (HEP-TH/9901001, as in some reference
# lists): both are read, in ASCII letters only, and `canonical_arxiv_id` gives arXiv's spelling
OLD_ID_PATTERN = rf"[a-zA-Z][a-zA-Z\-]*(?:\.[a-zA-Z]{{2}})?/\d{{2}}{_MONTH}\d{{3}}"  # archive(.SC)/YYMMNNN
_ID_RE = re.compile(rf"(?<!\d)(?P<id>{NEW_ID_PATTERN}|{OLD_ID_PATTERN})(?:[vV](?P<version>\d+))?(?![\d])")


class InvalidArxivId(ValueError):
    """Raised when a string holds no recognisable arXiv identifier."""


def split_arxiv_id(raw: str) -> tuple[str, int | None]:
    """Split any arXiv id form into ``(id_without_version, version_or_None)``.

    Accepts bare ids (``2508.13426v1``, ``hep-th/9901001``), ``arXiv:`` prefixes, OAI ids
    (``oai:arXiv.org:2508.13426v1``) and abs/pdf URLs (``https://arxiv.org/abs/2508.13426v2``).
    The id comes as arXiv spells it (`canonical_arxiv_id`): ``ARXIV:HEP-TH/9901001V2`` gives
    ``("hep-th/9901001", 2)``; an old-style id keeps its subject class (``math.GT/0309136``:
    `without_subject_class` drops it).

    Raises:
        InvalidArxivId: when no identifier is found.
    """
    if not isinstance(raw, str):
        raise InvalidArxivId(f"not an arXiv id: {raw!r}")
    text = raw.strip()
    m = _ID_RE.search(text)
    if not m:
        raise InvalidArxivId(f"not an arXiv id: {raw[:80]!r}")
    version = m.group("version")
    return canonical_arxiv_id(m.group("id")), int(version) if version else None


def canonical_arxiv_id(arxiv_id: str) -> str:
    """An id (without version, as `split_arxiv_id` finds it) in arXiv's spelling: an old-style
    id's archive in lower case and its subject class in upper case (``HEP-TH/9901001`` →
    ``hep-th/9901001``, ``MATH.gt/0309136`` → ``math.GT/0309136``); a new-style id as it is.
    The archive is one name whatever its case, so a reference list that writes it in capitals
    means the paper arXiv and the store hold in lower case."""
    archive, slash, number = arxiv_id.partition("/")
    if not slash:
        return arxiv_id
    name, dot, subject = archive.partition(".")
    return f"{name.lower()}{dot}{subject.upper()}/{number}"


def without_subject_class(arxiv_id: str) -> str:
    """An old-style id without its subject class: ``math.GT/0309136`` → ``math/0309136``; any
    other id as it is. The subject class is not part of the identifier: arXiv's preferred
    external form drops it (https://info.arxiv.org/help/arxiv_identifier_for_services.html:
    ``math.CA/0611800v2`` is ``arXiv:math/0611800v2``), and the arXiv API answers with that
    form (``<id>http://arxiv.org/abs/cs/0503050v1</id>`` for a cs.SE paper), so an id written
    with its subject class must drop it to find the paper the API stored. The archive comes in
    lower case, as arXiv spells it (`canonical_arxiv_id`): ``MATH.GT/0309136`` → ``math/0309136``."""
    archive, slash, number = arxiv_id.partition("/")
    return f"{archive.partition('.')[0].lower()}/{number}" if slash else arxiv_id


def is_arxiv_id(raw: str) -> bool:
    """True when `raw` contains a recognisable arXiv identifier (see `split_arxiv_id`)."""
    try:
        split_arxiv_id(raw)
        return True
    except InvalidArxivId:
        return False


@dataclass
class Paper:
    """One paper as normalised from any source.

    Fields:
        arxiv_id: identifier without version (primary key everywhere).
        version: arXiv version number when the source gives one, else None.
        title, abstract: plain text, whitespace collapsed.
        authors: author names in order.
        categories: arXiv category terms; `primary_category` is the first/primary one.
        announce_type: arXiv announcement type (new, cross, replace, replace-cross) or None.
        published, updated: ISO dates ``YYYY-MM-DD`` (announcement/first version; last update),
            the day as the source wrote it (see `iso_date`).
        abs_url, pdf_url: links.
        sources: names of the feeds that delivered it (``arxiv_rss``, ``arxiv_api``, ``hf_daily``,
            ``curated``).
        hf_upvotes, ai_keywords, github_repo: Hugging Face daily-papers extras when present.
        abstract_truncated: True when `abstract` is known to be cut short (a corpus line's
            ``abstract_truncated``, or `feeds.sanity` cutting an absurdly long one); the store
            lets a complete abstract replace such a one (`store.Store.upsert_papers`).
    """

    arxiv_id: str
    title: str
    abstract: str = ""
    authors: list[str] = field(default_factory=list)
    version: int | None = None
    categories: list[str] = field(default_factory=list)
    primary_category: str | None = None
    announce_type: str | None = None
    published: str | None = None
    updated: str | None = None
    abs_url: str | None = None
    pdf_url: str | None = None
    sources: list[str] = field(default_factory=list)
    hf_upvotes: int | None = None
    ai_keywords: list[str] = field(default_factory=list)
    github_repo: str | None = None
    abstract_truncated: bool = False

    def __post_init__(self) -> None:
        if not self.abs_url:
            self.abs_url = f"https://arxiv.org/abs/{self.arxiv_id}"
        if not self.primary_category and self.categories:
            self.primary_category = self.categories[0]

    def to_dict(self) -> dict[str, Any]:
        """A plain dict of every field (JSON-serialisable)."""
        return asdict(self)


def clean_text(text: str | None) -> str:
    """Collapse runs of whitespace (feeds wrap abstracts at ~80 columns) and strip."""
    return re.sub(r"\s+", " ", text or "").strip()


def norm_author(name: str) -> str:
    """An author name in the form names are compared in: lower case, dots read as spaces, runs of
    whitespace as one space, trimmed (``"Wei  LI"`` → ``"wei li"``, ``"J. Smith"`` → ``"j smith"``).

    Two spellings are the same person only when they normalise equal, so ``"Wei Li"`` is not
    ``"Wei Liu"``, ``"Zhiwei Li"`` nor ``"Li, Wei"``. Used for the ranker's author prior
    (`recommender.ranker`) and author follows (`store.Store.author_paper_ids`). Anything that is
    not a str is read as ``str(name)``.
    """
    return " ".join(str(name).lower().replace(".", " ").split())


def iso_date(value: str | None) -> str | None:
    """The calendar day ``YYYY-MM-DD`` of a timestamp, as written in the timestamp's own offset.

    Two forms are read:

    - ISO 8601 (Atom ``<published>``, the arXiv API, Hugging Face, curated files and the corpus):
      ``2025-08-20T00:00:00-04:00`` → ``2025-08-20`` (its first ``YYYY-MM-DD``, unchecked:
      `feeds.sanity` drops a day that does not exist and says so).
    - RFC 822 / RFC 2822 date-time, which RSS 2.0 prescribes for ``<pubDate>`` and
      ``<lastBuildDate>`` (https://www.rssboard.org/rss-specification): rss.arxiv.org writes
      ``Mon, 16 Jun 2025 00:00:00 -0400`` → ``2025-06-16``. Parsed with
      `email.utils.parsedate_to_datetime` (weekday optional, two-digit years, named zones such
      as ``GMT``/``EDT``); a string that it cannot read, or a day that does not exist, gives None.

    The day is never converted to UTC: arXiv announces at midnight US Eastern, and that day is
    the announcement day whatever the offset (``23:30:00 -0400`` is still that day, not the next).

    Returns None when `value` is empty or in neither form.
    """
    if not value:
        return None
    text = str(value)
    m = re.match(r"\s*(\d{4}-\d{2}-\d{2})", text)
    if m:
        return m.group(1)
    try:
        when = email.utils.parsedate_to_datetime(text.strip())
    except (ValueError, TypeError, OverflowError, IndexError):
        return None
    return when.date().isoformat()  # the string's own offset (a naive datetime for "-0000")


@dataclass
class ParseResult:
    """What a parser returns: the good papers and, for every skipped item, a reason.

    `skipped` holds ``(position, reason)`` pairs; position is the item's 0-based index in the
    document so a user can find it. `repaired` holds ``(position, note)`` for kept items whose
    absurd values were cut or dropped (see `feeds.sanity`). `complete` is False when the
    document was truncated: the caller should not keep its HTTP validators, so the next poll
    fetches the whole document again instead of getting a 304.
    """

    papers: list[Paper] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)
    repaired: list[tuple[int, str]] = field(default_factory=list)
    complete: bool = True  # False when the document was cut short (refetch it in full next time)

    def add(self, pos: int, paper: Paper, source: str, log=None) -> None:
        """Apply `feeds.sanity.sanitize` to `paper` and keep it (noting repairs), or skip it with
        the reason when it is unusable. `source` names the feed in log lines."""
        from feeds.sanity import sanitize

        try:
            notes = sanitize(paper)
        except ValueError as exc:
            self.skip(pos, str(exc), source, log)
            return
        for note in notes:
            self.repaired.append((pos, note))
            if log is not None:
                log.warning("%s: item %d repaired: %s", source, pos, note)
        self.papers.append(paper)

    def skip(self, pos: int, reason: str, source: str, log=None) -> None:
        """Record item `pos` as skipped with `reason` (and log it)."""
        self.skipped.append((pos, reason))
        if log is not None:
            log.warning("%s: skipped item %d: %s", source, pos, reason)
