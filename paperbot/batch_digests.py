"""Digests for many subjects (users and channels) in one pass: store → matrix cache → batched
scorer → `Digest` objects ready for `bot.blocks.digest_blocks`.

This is the daily run's scoring stage at a lab's scale (hundreds of profiles, thousands of new
papers). Every TF-IDF row comes from the `recommender.matrix_cache.MatrixCache` (refreshed
first, so only new papers are transformed); profiles are scored together by
`recommender.batch` instead of one `rank` call per subject. Two scorers:

* ``"profile"`` — `recommender.ranker.Profile`'s scoring (Rocchio with background contrast
  and priors) for all subjects at once through `recommender.batch.rank_rocchio` (tested equal
  to ``Profile.score``/``explain``), one shared background sample whose mean row is computed
  once (a Profile only uses the sample's normalised mean);
* ``"rank"`` — the `recommender.scoring.rank` formula (centroid + nearest positive − ¼·nearest
  negative) via `recommender.batch.rank_many`.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import scipy.sparse as sp

from bot.digest import Digest
from feeds.records import Paper
from recommender.batch import ProfileRows, rank_many, rank_rocchio
from recommender.matrix_cache import MatrixCache
from store import Store

SCORERS = ("profile", "rank")
BACKGROUND_SIZE = 2000
PROFILE_BLOCK = 256  # subjects scored per pass (bounds the m × block score arrays and row copies)


@dataclass
class Subject:
    """Whom a digest is for and what it is scored against.

    `key` is the Slack channel or user id; `positive_ids` are curated papers (followed
    collections), `like_ids` the 👍 (weighted and "more like this" in `ranker.Profile`, as
    `Profile.add_feedback` does), `negative_ids` the 👎; ids not in the cache are ignored.
    """

    key: str
    title: str
    positive_ids: list[str]
    negative_ids: list[str] = field(default_factory=list)
    max_papers: int = 10
    follows: list[str] = field(default_factory=list)
    like_ids: list[str] = field(default_factory=list)


def background_row(cache: MatrixCache, exclude: set[str], size: int = BACKGROUND_SIZE,
                   seed: int = 0) -> sp.csr_matrix:
    """Mean TF-IDF row ``(1, V)`` of a fixed-seed sample of `size` cached papers not in `exclude`."""
    pool = np.array([i for i, a in enumerate(cache.ids) if a not in exclude], dtype=np.int64)
    if len(pool) > size:
        pool = np.sort(np.random.default_rng(seed).choice(pool, size, replace=False))
    if len(pool) == 0:
        return sp.csr_matrix((1, cache.matrix.shape[1]), dtype=np.float32)
    return sp.csr_matrix(cache.matrix[pool].mean(axis=0), dtype=np.float32)


def build_digests(store: Store, cache: MatrixCache, terms: np.ndarray, subjects: Sequence[Subject],
                  candidates: Sequence[Paper], day: date, scorer: str = "profile") -> list[Digest]:
    """One `Digest` per subject (same order) with its best `max_papers` candidates.

    `candidates` must be in the cache (refresh it first); `terms` is `TfidfModel.terms`.
    A subject with no cached positive gets an empty digest saying so.

    Raises:
        ValueError: unknown `scorer` (see `SCORERS`).
    """
    if scorer not in SCORERS:
        raise ValueError(f"unknown scorer {scorer!r}; choose from {SCORERS}")
    cand_ids, C = cache.rows([p.arxiv_id for p in candidates])
    by_id = {p.arxiv_id: p for p in candidates}
    cands = [by_id[a] for a in cand_ids]
    all_pos = list(dict.fromkeys(a for s in subjects for a in [*s.positive_ids, *s.like_ids]))
    pos_papers = store.get_papers(all_pos)
    k = max((s.max_papers for s in subjects), default=0)
    results: list[list] = []
    meta = None
    bg = None
    if scorer == "profile":
        from recommender.ranker import PaperMeta
        meta = PaperMeta.from_records([{"authors": p.authors, "hf_upvotes": p.hf_upvotes} for p in cands])
        bg = background_row(cache, set(cand_ids))
    for start in range(0, len(subjects), PROFILE_BLOCK):
        block = subjects[start:start + PROFILE_BLOCK]
        rows, papers_of, like_rows, like_papers = [], [], [], []
        for s in block:
            likes = [a for a in dict.fromkeys(s.like_ids) if a in pos_papers]
            cur = [a for a in dict.fromkeys(s.positive_ids) if a in pos_papers]
            if scorer == "rank":  # the rank() formula has no notion of a 👍 weight
                cur, likes = cur + likes, []
            ids, P = cache.rows(cur)
            lids, L = cache.rows(likes)
            _, N = cache.rows(list(dict.fromkeys(s.negative_ids)))
            rows.append((P, N))
            papers_of.append([pos_papers[a] for a in ids])
            like_rows.append(L if L.shape[0] else None)
            like_papers.append([pos_papers[a] for a in lids])
        if scorer == "rank":
            profs = [ProfileRows(P, pp, N if N.shape[0] else None) for (P, N), pp in zip(rows, papers_of)]
            results += rank_many(C, cands, profs, k, terms)
        else:
            results += rank_rocchio(C, cands, [P for P, _ in rows], papers_of,
                                    [N if N.shape[0] else None for _, N in rows], bg, k, terms, meta=meta,
                                    likes=like_rows, like_papers=like_papers)
    digests = []
    for s, recs in zip(subjects, results):
        d = Digest(channel_id=s.key, title=s.title, date=day.isoformat(), n_candidates=len(cands),
                   follows=list(s.follows), items=list(recs[:s.max_papers]))
        if not d.items:
            d.empty_reason = ("Nothing to compare against yet: no curated paper or 👍."
                              if not any(a in pos_papers for a in [*s.positive_ids, *s.like_ids])
                              else f"{len(cands)} new papers, none to recommend.")
        digests.append(d)
    return digests
