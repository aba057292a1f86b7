"""`/papers search`: a query parser with filters and an FTS5 BM25 + TF-IDF cosine blend.

Query syntax: free words plus filters ``author:NAME`` (``author:"Yann LeCun"``), ``cat:cs.LG``,
``since:YYYY-MM-DD`` and ``source:hf`` (also ``arxiv_rss``, ``arxiv_api``, ``curated``). Any text
is accepted: words are quoted into a safe FTS5 expression (every token wrapped in double quotes,
internal quotes doubled, https://sqlite.org/fts5.html#fts5_strings), so ``C++``, ``*``, ``"``,
``NEAR`` or emoji never reach FTS5 as syntax.

Ranking: SQLite FTS5 ``bm25()`` picks the top `BM25_POOL` papers holding every query word (or,
when fewer than the requested number do, holding any of them); on those only, the score is
``BM25_WEIGHT · bm25_norm + (1 − BM25_WEIGHT) · cos(query, paper)`` where bm25_norm is the
match's BM25 divided by the best BM25 of the pool (so in [0, 1]) and cos is the TF-IDF cosine of
the query text with the paper's text (`recommender.tfidf`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from feeds.records import Paper
from recommender.tfidf import TfidfModel
from store import Store

BM25_POOL = 200
BM25_WEIGHT = 0.5
MAX_QUERY_TOKENS = 32
SOURCE_ALIASES = {"hf": "hf_daily", "huggingface": "hf_daily", "hf_daily": "hf_daily",
                  "rss": "arxiv_rss", "arxiv_rss": "arxiv_rss", "api": "arxiv_api",
                  "arxiv_api": "arxiv_api", "curated": "curated"}
FILTERS = ("author", "cat", "since", "source")
_TOKEN = re.compile(r'(\w+):"([^"]*)"?|"([^"]*)"?|(\S+)')
_WORD = re.compile(r"\w+", re.UNICODE)


class QueryError(ValueError):
    """A malformed filter (bad date, unknown source, empty query); the message is user-facing."""


@dataclass
class SearchQuery:
    """A parsed search: free `text` plus filters."""

    text: str = ""
    authors: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    since: str | None = None
    source: str | None = None

    @property
    def has_filters(self) -> bool:
        """True when any filter is set."""
        return bool(self.authors or self.categories or self.since or self.source)


@dataclass
class SearchHit:
    """One result: the paper, the blended `score` in [0, 1], and its two parts."""

    paper: Paper
    score: float
    bm25: float = 0.0     # normalised BM25 in [0, 1]
    cosine: float = 0.0   # TF-IDF cosine of query and paper


def parse_query(text: str) -> SearchQuery:
    """Split `text` into free words and ``author:``/``cat:``/``since:``/``source:`` filters.

    Raises:
        QueryError: ``since:`` is not a valid ``YYYY-MM-DD`` date, ``source:`` is unknown, a filter
            has no value, or there is neither text nor a filter.
    """
    q = SearchQuery()
    words: list[str] = []
    for m in _TOKEN.finditer(text or ""):
        key, quoted_val, phrase, bare = m.group(1), m.group(2), m.group(3), m.group(4)
        if key is None and bare is not None and ":" in bare:
            k, _, v = bare.partition(":")
            if k.lower() in FILTERS:
                key, quoted_val = k, v
        if key is not None and key.lower() in FILTERS:
            _add_filter(q, key.lower(), (quoted_val or "").strip())
        elif key is not None:  # word:"…" that is not a filter: keep as text
            words.append(f"{key} {quoted_val}")
        else:
            words.append(phrase if phrase is not None else bare)
    q.text = " ".join(w for w in words if w).strip()
    if not q.text and not q.has_filters:
        raise QueryError("give some words to search for, or a filter such as author:, cat:, since:, source:")
    return q


def _add_filter(q: SearchQuery, key: str, value: str) -> None:
    if not value:
        raise QueryError(f"{key}: needs a value, e.g. {_EXAMPLES[key]}")
    if key == "author":
        q.authors.append(value)
    elif key == "cat":
        q.categories.append(value)
    elif key == "since":
        try:
            q.since = date.fromisoformat(value).isoformat() if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) else None
        except ValueError:
            q.since = None
        if q.since is None:
            raise QueryError(f"since: expects a date YYYY-MM-DD, got {value[:40]!r}")
    elif key == "source":
        src = SOURCE_ALIASES.get(value.lower())
        if src is None:
            raise QueryError(f"source: expects one of hf, arxiv_rss, arxiv_api, curated; got {value[:40]!r}")
        q.source = src


_EXAMPLES = {"author": 'author:"Yann LeCun"', "cat": "cat:cs.LG", "since": "since:2025-01-31",
             "source": "source:hf"}


def fts_query(text: str, max_tokens: int = MAX_QUERY_TOKENS, op: str = "OR") -> str | None:
    """A safe FTS5 MATCH expression for arbitrary user text: its word runs, each wrapped in double
    quotes (internal quotes doubled), joined with `op` (``OR``: BM25 ranks papers matching more
    words higher; ``AND``: every word must occur). Returns None when the text holds no word
    characters (nothing to match).

    Raises:
        ValueError: `op` is not ``AND`` or ``OR``.
    """
    if op not in ("AND", "OR"):
        raise ValueError(f"op must be AND or OR, not {op!r}")
    tokens = list(dict.fromkeys(t.lower() for t in _WORD.findall(text or "")))[:max_tokens]
    if not tokens:
        return None
    return f" {op} ".join('"' + t.replace('"', '""') + '"' for t in tokens)


def search(store: Store, model: TfidfModel | None, query: str | SearchQuery, limit: int = 10,
           rerank: int = BM25_POOL) -> list[SearchHit]:
    """Search stored papers; best first, at most `limit` hits.

    Free text: FTS5 BM25 top `BM25_POOL`, of which the best `rerank` (at least `limit`) are
    re-scored by the blend in the module docstring (BM25 only when `model` is None). Transforming
    those papers' text is most of a search's time (see bench/search_bench.py), so a smaller
    `rerank` trades recall of the blend for speed. Filters only: the newest matching papers,
    score 0.

    Raises:
        QueryError: `query` is a string that `parse_query` rejects.
    """
    q = parse_query(query) if isinstance(query, str) else query
    match = fts_query(q.text)
    if match is None and not q.has_filters:
        return []  # words made of punctuation only (e.g. "***"): nothing can match
    rows = []
    strict = fts_query(q.text, op="AND")
    if strict is not None and strict != match:  # all words first: precise, and far fewer rows to score
        rows = store.search_papers(strict, q.authors, q.categories, q.since, q.source, limit=BM25_POOL)
    if len(rows) < limit:  # too few papers hold every word: any word
        rows = store.search_papers(match, q.authors, q.categories, q.since, q.source,
                                   limit=BM25_POOL if match else limit)
    if not rows:
        return []
    if match is None:
        return [SearchHit(p, 0.0) for p, _ in rows[:limit]]
    rows = rows[:max(rerank, limit)]
    papers = [p for p, _ in rows]
    raw = [-(b or 0.0) for _, b in rows]  # FTS5 bm25 is negative; larger magnitude = better
    top = max(raw) or 1.0
    bm = [max(r, 0.0) / top for r in raw]
    cos = [0.0] * len(papers)
    if model is not None:
        qv = model.transform([q.text])
        if qv.nnz:
            cos = (model.papers_matrix(papers) @ qv.T).toarray().ravel().tolist()
    hits = [SearchHit(p, BM25_WEIGHT * b + (1 - BM25_WEIGHT) * c, b, c) for p, b, c in zip(papers, bm, cos)]
    hits.sort(key=lambda h: (-h.score, h.paper.arxiv_id))
    return hits[:limit]


def more_like(store: Store, model: TfidfModel | None, arxiv_id: str, limit: int = 5) -> list[SearchHit]:
    """Papers most similar to a stored paper ("more like this"): a search with the paper's title
    as the query text, the paper itself left out. [] for an unknown paper."""
    paper = store.get_paper(arxiv_id)
    if paper is None:
        return []
    hits = search(store, model, SearchQuery(text=paper.title), limit=BM25_POOL)
    if model is not None and hits:  # re-score by similarity to the whole paper, not just its title
        pv = model.papers_matrix([paper])
        sims = (model.papers_matrix([h.paper for h in hits]) @ pv.T).toarray().ravel()
        for h, s in zip(hits, sims):
            h.cosine = float(s)
            h.score = BM25_WEIGHT * h.bm25 + (1 - BM25_WEIGHT) * float(s)
        hits.sort(key=lambda h: -h.score)
    return [h for h in hits if h.paper.arxiv_id != arxiv_id][:limit]

