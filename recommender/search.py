"""`/papers search`: a query parser with filters and an FTS5 BM25 + TF-IDF cosine blend.

Query syntax: free words plus filters ``author:NAME`` (``author:"Yann LeCun"``), ``cat:cs.LG``,
``since:YYYY-MM-DD`` and ``source:hf`` (also ``arxiv_rss``, ``arxiv_api``, ``curated``,
``corpus`` for papers loaded with ``paperbot import-corpus`` and ``lookup`` for papers fetched by
id for ``/papers like``). Any text is accepted: words are
quoted into a safe FTS5 expression (every token wrapped in double quotes, internal quotes doubled,
https://sqlite.org/fts5.html#fts5_strings), so ``C++``, ``*``, ``"``, ``NEAR`` or emoji never
reach FTS5 as syntax.

Ranking: SQLite FTS5 ``bm25()`` picks the top `BM25_POOL` papers holding every query word (or,
when fewer than the requested number do, those plus the papers holding any of them, where every
match of a word with fewer than `SCAN_LIMIT` matches takes part even when newer matches of a
common word fill the scan; see `Store.search_pool`); on those only, the score is
``BM25_WEIGHT · bm25_norm + (1 − BM25_WEIGHT) · cos(query, paper)`` where bm25_norm is the
match's BM25 divided by the best BM25 of the pool (so in [0, 1]) and cos is the TF-IDF cosine of
the query text with the paper's text (`recommender.tfidf`).
"""
from __future__ import annotations

import re
import weakref
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

import numpy as np

from feeds.records import Paper
from recommender.tfidf import TfidfModel
from store import Store

if TYPE_CHECKING:
    from recommender.matrix_cache import MatrixCache

BM25_POOL = 200
SCAN_LIMIT = 2000  # newest FTS5 matches scored per query form (AND, OR); see Store.search_pool
BM25_WEIGHT = 0.5
MAX_QUERY_TOKENS = 32
SOURCE_ALIASES = {"hf": "hf_daily", "huggingface": "hf_daily", "hf_daily": "hf_daily",
                  "rss": "arxiv_rss", "arxiv_rss": "arxiv_rss", "api": "arxiv_api",
                  "arxiv_api": "arxiv_api", "curated": "curated",
                  "corpus": "corpus",  # papers loaded with `paperbot import-corpus` (feeds.corpus.SOURCE)
                  "lookup": "lookup"}  # fetched by id for `/papers like` (store.LOOKUP_SOURCE)
FILTERS = ("author", "cat", "since", "source")
_TOKEN = re.compile(r'(\w+):"([^"]*)"?|"([^"]*)"?|(\S+)')
_WORD = re.compile(r"\w+", re.UNICODE)


class QueryError(ValueError):
    """A malformed filter (bad date, unknown source, empty query); the message is user-facing."""


class PaperNotStored(LookupError):
    """`paper_and_similar` of a paper the store does not hold (`arxiv_id`): a front end says so
    and points to what fetches it (``/papers like <id>``), since "no stored paper matches these
    words" would send the user rewording an id."""

    def __init__(self, arxiv_id: str):
        super().__init__(f"{arxiv_id} is not stored")
        self.arxiv_id = arxiv_id


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
            raise QueryError(f"source: expects one of hf, arxiv_rss, arxiv_api, curated, corpus, lookup; got {value[:40]!r}")
        q.source = src


_EXAMPLES = {"author": 'author:"Yann LeCun"', "cat": "cat:cs.LG", "since": "since:2025-01-31",
             "source": "source:hf"}


def query_tokens(text: str, max_tokens: int = MAX_QUERY_TOKENS) -> list[str]:
    """The distinct lower-cased word runs of `text` (at most `max_tokens`), as `fts_query` uses."""
    return list(dict.fromkeys(t.lower() for t in _WORD.findall(text or "")))[:max_tokens]


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
           rerank: int = BM25_POOL, matrix: "MatrixCache | None" = None) -> list[SearchHit]:
    """Search stored papers; best first, at most `limit` hits.

    Free text: the FTS5 BM25 top `BM25_POOL` of the papers holding every query word (or, when
    fewer than `limit` do, holding any of them), of which the best `rerank` (at least `limit`)
    are re-scored by the blend in the module docstring (BM25 only when `model` is None). The
    pool is ids only (`Store.search_pool`: at most `SCAN_LIMIT` newest matches are scored, so
    a word matching 40k papers costs ~10 ms instead of ~80 ms at 100k papers; exact below
    that); whole papers are read for the `limit` shown. The pool's TF-IDF rows come from
    `matrix` (the model's `recommender.matrix_cache.MatrixCache`) when given and made by the
    same model — a lookup instead of transforming up to 200 abstracts per query (~40 ms);
    papers it lacks are transformed, as all are without it. Filters only: the newest
    matching papers, score 0.

    Raises:
        QueryError: `query` is a string that `parse_query` rejects.
    """
    q = parse_query(query) if isinstance(query, str) else query
    tokens = query_tokens(q.text)
    if not tokens and not q.has_filters:
        return []  # words made of punctuation only (e.g. "***"): nothing can match
    if not tokens:
        found = store.search_pool([], q.authors, q.categories, q.since, q.source, limit=limit)
        papers = store.get_papers([a for a, _ in found])
        return [SearchHit(papers[a], 0.0) for a, _ in found if a in papers]
    filters = (q.authors, q.categories, q.since, q.source)
    pool = []
    if len(tokens) > 1:  # all words first: precise, and far fewer rows to score
        pool = store.search_pool(tokens, *filters, limit=BM25_POOL, scan=SCAN_LIMIT, mode="and")
    if len(pool) < limit:  # too few papers hold every word: any word, those few first
        # (bm25 of the same paper is the same in both query forms; see Store.search_pool)
        found = dict(pool)
        for a, b in store.search_pool(tokens, *filters, limit=BM25_POOL, scan=SCAN_LIMIT, mode="or"):
            found.setdefault(a, b)
        pool = sorted(found.items(), key=lambda t: (t[1], t[0]))
    if not pool:
        return []
    pool = pool[:max(rerank, limit)]
    ids = [a for a, _ in pool]
    raw = [-(b or 0.0) for _, b in pool]  # FTS5 bm25 is negative; larger magnitude = better
    top = max(raw) or 1.0
    bm = [max(r, 0.0) / top for r in raw]
    cos = np.zeros(len(ids))
    papers: dict[str, Paper] = {}
    if model is not None:
        qv = model.transform([q.text])
        if qv.nnz:
            cos = _pool_cosines(store, model, matrix, ids, qv, papers)
    scored = sorted(zip(ids, bm, cos.tolist()), key=lambda t: (-(BM25_WEIGHT * t[1] + (1 - BM25_WEIGHT) * t[2]), t[0]))
    shown = scored[:limit]
    missing = [a for a, _, _ in shown if a not in papers]
    if missing:
        papers.update(store.get_papers(missing))
    return [SearchHit(papers[a], BM25_WEIGHT * b + (1 - BM25_WEIGHT) * c, b, c)
            for a, b, c in shown if a in papers]


def _pool_cosines(store: Store, model: TfidfModel, matrix, ids: list[str], qv, papers: dict) -> np.ndarray:
    """TF-IDF cosine of the query row `qv` with each pool paper (cached rows when possible);
    papers read from the store on the way are left in `papers`."""
    cos = np.zeros(len(ids))
    todo = list(range(len(ids)))
    if matrix is not None and matrix.fingerprint == _fingerprint(model):
        pos = {a: i for i, a in enumerate(ids)}
        found, rows = matrix.rows(ids)
        if found:
            cos[[pos[a] for a in found]] = (rows @ qv.T).toarray().ravel()
        have = set(found)
        todo = [i for i, a in enumerate(ids) if a not in have]
    if todo:
        papers.update(store.get_papers([ids[i] for i in todo]))
        known = [i for i in todo if ids[i] in papers]
        if known:
            X = model.papers_matrix([papers[ids[i]] for i in known])
            cos[known] = (X @ qv.T).toarray().ravel()
    return cos


# id(model) → (weak reference to it, its `model_fingerprint`): kept here, not on the model
# object, so the model carries no state of this module; an entry leaves with its model
_FINGERPRINTS: dict[int, tuple[weakref.ref, str]] = {}


def _fingerprint(model: TfidfModel) -> str:
    """`recommender.matrix_cache.model_fingerprint(model)` (~0.2 ms at 20,000 terms), computed
    once per model object: a fitted model is never changed in place (a refit or a load makes a
    new object), so its fingerprint cannot change while it lives."""
    key = id(model)
    hit = _FINGERPRINTS.get(key)
    if hit is not None and hit[0]() is model:
        return hit[1]
    from recommender.matrix_cache import model_fingerprint
    fp = model_fingerprint(model)
    _FINGERPRINTS[key] = (weakref.ref(model, lambda _ref, k=key: _FINGERPRINTS.pop(k, None)), fp)
    return fp


def paper_and_similar(store: Store, model: TfidfModel | None, arxiv_id: str,
                      limit: int = 10) -> list[SearchHit]:
    """The answer to a query that is only an arXiv id or paper link: the stored paper first
    (score 1.0), then the `limit` − 1 papers `more_like` it.

    Raises:
        PaperNotStored: the store does not hold the paper (no words are searched instead: the
            link's — ``https``, ``arxiv``, ``abs`` — would only match unrelated papers).
    """
    paper = store.get_paper(arxiv_id)
    if paper is None:
        raise PaperNotStored(arxiv_id)
    return [SearchHit(paper, 1.0)] + (more_like(store, model, arxiv_id, limit - 1) if limit > 1 else [])


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

