"""Scoring many profiles at once: the `recommender.scoring.rank` formula as a few matrix products.

For P profiles with positive rows P_i (and optional negative rows N_i) and m candidate rows C
(all L2-normalised TF-IDF), `rank` computes per profile

    score(c) = ½·cos(c, centroid(P_i)) + ½·max_{p∈P_i} cos(c, p) − ¼·max_{n∈N_i} cos(c, n)

(Rocchio 1971; see `recommender.scoring`). Here every profile's centroid is one row of a sparse
matrix, so the centroid term for all profiles is one product ``C @ Centroids.T``; the max terms
come from ``C @ [P_1; P_2; …].T`` computed in column blocks of whole profiles and reduced with
``np.maximum.reduceat`` over each profile's columns. Only the top-k per profile are then
explained (shared terms, nearest positive), exactly as `rank` explains them, so results equal
`rank(...)[:k]` at a fraction of the cost for hundreds of profiles.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from feeds.records import Paper
from recommender.scoring import Recommendation, explanation_terms

COLUMN_BLOCK = 4096  # positive rows per product block: m × 4096 float32 = 32 MB at m = 2,000


@dataclass
class ProfileRows:
    """One profile's TF-IDF rows: `positives` (k × V CSR) with their papers (for explanations),
    and optional `negatives` (CSR, may have 0 rows)."""

    positives: sp.csr_matrix
    positive_papers: Sequence[Paper]
    negatives: sp.csr_matrix | None = None


def _row_normalise(M: sp.csr_matrix) -> sp.csr_matrix:
    norms = np.sqrt(np.asarray(M.multiply(M).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.diags((1.0 / norms).astype(np.float32)) @ M


def _segment_max(C: sp.csr_matrix, blocks: list[sp.csr_matrix], fill: float) -> np.ndarray:
    """``out[:, i] = max over rows r of blocks[i] of (C @ r)``; `fill` for empty blocks.
    Shape ``(m, len(blocks))``, float32."""
    m = C.shape[0]
    out = np.full((m, len(blocks)), fill, dtype=np.float32)
    CT_free = C.tocsr()
    i = 0
    while i < len(blocks):
        j, cols = i, 0
        while j < len(blocks) and (cols == 0 or cols + blocks[j].shape[0] <= COLUMN_BLOCK):
            cols += blocks[j].shape[0]
            j += 1
        group = [b for b in blocks[i:j] if b.shape[0]]
        if group:
            sizes = np.array([b.shape[0] for b in blocks[i:j]])
            nonempty = np.flatnonzero(sizes)
            S = (CT_free @ sp.vstack(group, format="csr").T).toarray()
            starts = np.concatenate([[0], np.cumsum(sizes[nonempty])[:-1]])
            out[:, i + nonempty] = np.maximum.reduceat(S, starts, axis=1)
        i = j
    return out


def score_matrix(C: sp.csr_matrix, profiles: Sequence[ProfileRows]) -> tuple[np.ndarray, sp.csr_matrix]:
    """Scores of every candidate for every profile.

    Returns ``(scores, centroids)``: `scores` shape ``(m, n_profiles)`` float32 (−inf for a
    profile without positives); `centroids` ``(n_profiles, V)`` CSR, the re-normalised means.
    """
    C = C.tocsr().astype(np.float32)
    n = len(profiles)
    sizes = np.array([p.positives.shape[0] for p in profiles])
    if n == 0:
        return np.zeros((C.shape[0], 0), np.float32), sp.csr_matrix((0, C.shape[1]), dtype=np.float32)
    P_all = sp.vstack([p.positives.astype(np.float32) for p in profiles], format="csr")
    owner = np.repeat(np.arange(n), sizes)
    weights = (1.0 / np.maximum(sizes, 1))[owner].astype(np.float32)
    G = sp.csr_matrix((weights, (owner, np.arange(len(owner)))), shape=(n, P_all.shape[0]))
    centroids = _row_normalise((G @ P_all).tocsr())
    cen = (C @ centroids.T).toarray()
    pos_max = _segment_max(C, [p.positives for p in profiles], 0.0)
    scores = 0.5 * cen + 0.5 * pos_max
    negs = [p.negatives if p.negatives is not None else sp.csr_matrix((0, C.shape[1]), dtype=np.float32)
            for p in profiles]
    if any(b.shape[0] for b in negs):
        scores -= 0.25 * _segment_max(C, negs, 0.0)
    scores[:, sizes == 0] = -np.inf
    return scores.astype(np.float32), centroids


def top_k(scores: np.ndarray, k: int) -> list[np.ndarray]:
    """Per profile (column), candidate row numbers of the `k` best scores, best first, ties
    broken by row number — the first `k` of ``np.argsort(-scores[:, j], kind="stable")``, the
    order `recommender.scoring.rank` and `rank_profile` give.

    `scores` has shape ``(n_candidates, n_profiles)``; returns `n_profiles` int64 arrays of
    length ``min(k, n_candidates)``. A column whose best `k` scores are all −inf (a profile
    without positives) gives [].

    `np.argpartition` finds each column's k-th best value; every row scoring at least that
    value is kept (all rows tied at the cut, not an arbitrary subset of them, which is what
    argpartition alone returns) and sorted by (−score, row).
    """
    m, n = scores.shape
    k = min(k, m)
    if k == 0:
        return [np.zeros(0, dtype=np.int64) for _ in range(n)]
    if k < m:
        part = np.argpartition(-scores, k - 1, axis=0)[k - 1]  # (n,) row of each column's k-th best
        kth = scores[part, np.arange(n)]
    else:
        kth = scores.min(axis=0)
    out = []
    for j in range(n):
        col = scores[:, j]
        rows = np.flatnonzero(col >= kth[j])
        top = col[rows]
        if not np.isfinite(top).any():
            out.append(np.zeros(0, dtype=np.int64))
            continue
        order = np.lexsort((rows, -top))[:k]
        out.append(rows[order].astype(np.int64))
    return out


def rank_many(C: sp.csr_matrix, candidates: Sequence[Paper], profiles: Sequence[ProfileRows],
              k: int, terms: np.ndarray, n_terms: int = 4) -> list[list[Recommendation]]:
    """For each profile, its `k` best candidates as `Recommendation`s (score, shared terms,
    nearest positive), best first — the same as ``rank(model, positives, candidates,
    negatives)[:k]`` per profile.

    `C` holds the candidates' rows (shape ``(len(candidates), V)``), `terms` the vocabulary
    indexed by column (`TfidfModel.terms`). A profile without positives gets [].
    """
    scores, centroids = score_matrix(C, profiles)
    C = C.tocsr()
    results: list[list[Recommendation]] = []
    for j, rows in enumerate(top_k(scores, k)):
        prof = profiles[j]
        if len(rows) == 0:
            results.append([])
            continue
        sub = C[rows]
        sims = (sub @ prof.positives.T).toarray()
        nearest = sims.argmax(axis=1)
        cen = centroids.getrow(j).toarray().ravel()
        recs = []
        for r_i, row_no in enumerate(rows):
            row = sub.getrow(r_i)
            contrib = row.data * cen[row.indices]
            top_terms = explanation_terms(terms, row.indices, contrib, n_terms)
            near = int(nearest[r_i])
            pp = prof.positive_papers[near]
            recs.append(Recommendation(paper=candidates[row_no], score=float(scores[row_no, j]),
                                       terms=top_terms, nearest_id=pp.arxiv_id,
                                       nearest_title=pp.title, nearest_sim=float(sims[r_i, near])))
        results.append(recs)
    return results


# ---- learned profiles (recommender.ranker.Profile) ---------------------------------------------
PROFILE_CHUNK = 128  # profiles per dense query block: 128 × V float32 (V = 200k → 100 MB)


def profile_scores(C: sp.csr_matrix, profiles: Sequence, meta=None, chunk: int = PROFILE_CHUNK) -> np.ndarray:
    """``Profile.score`` of every candidate for every `recommender.ranker.Profile`, batched.

    The text term ``x · q`` of all profiles is one sparse × dense product per block of `chunk`
    profiles (their query vectors stacked as a float32 ``(chunk, V)`` array) instead of one
    mat-vec per profile; the metadata priors come from each profile's own `prior_scores`
    (they are O(m)), and a profile whose config enables the optional like/dislike max-sim
    terms is scored with its own `text_scores`, so the result equals ``profile.score(C, meta)``.

    Args:
        C: ``(m, V)`` CSR candidate rows. meta: `PaperMeta` of the candidates (or None).
    Returns:
        float32 array ``(m, len(profiles))``.
    """
    C = sp.csr_matrix(C)
    m = C.shape[0]
    if meta is not None and not hasattr(meta, "author_overlap"):
        from recommender.ranker import PaperMeta
        meta = PaperMeta.from_records(meta)
    out = np.empty((m, len(profiles)), dtype=np.float32)
    C32 = C.astype(np.float32)
    for start in range(0, len(profiles), chunk):
        block = profiles[start:start + chunk]
        Q = np.empty((len(block), C.shape[1]), dtype=np.float32)
        for i, p in enumerate(block):
            Q[i] = p.query
        out[:, start:start + len(block)] = np.asarray(C32 @ Q.T)
        for i, p in enumerate(block):
            col = start + i
            if p.config.w_like_sim or p.config.w_dislike_sim:
                out[:, col] = p.text_scores(C)
            out[:, col] += p.prior_scores(meta, m)
    return out


def rank_profiles(C: sp.csr_matrix, candidates: Sequence[Paper], profiles: Sequence, k: int,
                  meta=None, positive_papers: Sequence[Sequence[Paper]] | None = None,
                  positive_rows: Sequence[sp.csr_matrix] | None = None,
                  n_terms: int = 4) -> list[list[Recommendation]]:
    """For each `Profile`, its `k` best candidates as `Recommendation`s, best first.

    Scores are `profile_scores`; each recommendation is explained by the profile itself
    (`Profile.explain` terms, `Profile.most_similar_positive`), computed for the top-k only.
    `positive_papers[j]` (the papers behind profile j's positive rows, in row order) names the
    nearest positive; without it only the terms are given. `positive_rows[j]` (those rows)
    lets the nearest positive of all k papers come from one product per profile instead of k
    `most_similar_positive` calls. BLAS is limited to one thread meanwhile: OpenBLAS's threads
    cost ~0.5 ms per small vector operation on 2 cores (and ~10 ms on a loaded machine), and
    building a `Profile` runs several of them.
    """
    with threadpool_limits(1, user_api="blas"):
        scores = profile_scores(C, profiles, meta)
        C = sp.csr_matrix(C)
        results: list[list[Recommendation]] = []
        for j, rows in enumerate(top_k(scores, k)):
            prof = profiles[j]
            pos = positive_papers[j] if positive_papers is not None else None
            sub = C[rows]
            # Profile.explain / most_similar_positive for all k rows at once
            contrib = sub.data * prof.query[sub.indices]
            P = positive_rows[j] if positive_rows is not None else None
            sims = (sp.csr_matrix(P) @ sub.T).toarray() if P is not None and P.shape[0] else None
            recs = []
            for r_i, row_no in enumerate(rows):
                lo, hi = sub.indptr[r_i], sub.indptr[r_i + 1]
                c = contrib[lo:hi]
                order = np.argsort(-c)[:n_terms]
                terms = [_term(prof, sub.indices[lo + o]) for o in order if c[o] > 0]
                if sims is not None:
                    near = int(np.argmax(sims[:, r_i]))
                    sim = float(sims[near, r_i])
                else:
                    near, sim = prof.most_similar_positive(sub[r_i])
                pp = pos[near] if pos is not None and 0 <= near < len(pos) else None
                recs.append(Recommendation(paper=candidates[row_no], score=float(scores[row_no, j]),
                                           terms=terms, nearest_id=pp.arxiv_id if pp else None,
                                           nearest_title=pp.title if pp else None,
                                           nearest_sim=sim if pp else 0.0))
            results.append(recs)
    return results


def _term(prof, j: int) -> str:
    return str(prof.terms[j]) if prof.terms is not None else str(j)


# ---- ranker.Profile math for many profiles, sparse ---------------------------------------------
def _unit_rows(M: sp.csr_matrix) -> sp.csr_matrix:
    return _row_normalise(sp.csr_matrix(M, dtype=np.float32))


def _sum_rows(blocks: Sequence[sp.csr_matrix], V: int) -> sp.csr_matrix:
    """``(len(blocks), V)``: row j is the sum of block j's rows (an empty block gives a zero row)."""
    sizes = np.array([b.shape[0] for b in blocks])
    if sizes.sum() == 0:
        return sp.csr_matrix((len(blocks), V), dtype=np.float32)
    A = sp.vstack([sp.csr_matrix(b, dtype=np.float32) for b in blocks if b.shape[0]], format="csr")
    owner = np.repeat(np.arange(len(blocks)), sizes)
    G = sp.csr_matrix((np.ones(len(owner), np.float32), (owner, np.arange(len(owner)))),
                      shape=(len(blocks), A.shape[0]))
    return (G @ A).tocsr()


def _gather(M: sp.csr_matrix, j: int, idx: np.ndarray) -> np.ndarray:
    """``M[j, idx]`` as a dense float array for a CSR `M` with sorted indices (no dense row)."""
    lo, hi = M.indptr[j], M.indptr[j + 1]
    cols, vals = M.indices[lo:hi], M.data[lo:hi]
    if len(cols) == 0:
        return np.zeros(len(idx), dtype=np.float32)
    pos = np.minimum(np.searchsorted(cols, idx), len(cols) - 1)
    return np.where(cols[pos] == idx, vals[pos], 0.0).astype(np.float32)


def rank_rocchio(C: sp.csr_matrix, candidates: Sequence[Paper], positives: Sequence[sp.csr_matrix],
                 positive_papers: Sequence[Sequence[Paper]], negatives: Sequence[sp.csr_matrix | None],
                 background: sp.csr_matrix | None, k: int, terms: np.ndarray, meta=None, config=None,
                 likes: Sequence[sp.csr_matrix | None] | None = None,
                 like_papers: Sequence[Sequence[Paper]] | None = None,
                 n_terms: int = 4) -> list[list[Recommendation]]:
    """`recommender.ranker.Profile` scoring for many profiles without building one dense
    V-length query per profile; equal to building, per profile j,
    ``Profile(positives[j], negatives[j], background, authors, terms, config)`` then
    ``add_feedback(row, +1, authors)`` for each of ``likes[j]`` (👍), and calling its `score`,
    `explain` and `most_similar_positive` for the top-k.

    With Profile's formula ``q_j = unit(ΣP_j + w_fb·ΣL_j) − β·unit(mean B) − γ·unit(ΣN_j)``
    the text scores of all profiles are ``C @ Q⁺.T − β·(C @ unit(mean B)) − γ·C @ Q⁻.T`` —
    sparse products, no dense ``(n_profiles, V)`` array (at V = 200k terms, 1,000 Profiles
    hold 3.2 GB of dense float64 vectors) — plus ``w_like·max_{l∈L_j} x·l`` (and
    ``−w_dislike·max_{n∈N_j} x·n`` when enabled) from block products reduced per profile.
    Metadata priors come from ``Profile.prior_scores`` of a feature-less Profile holding the
    same authors.

    Args:
        C: ``(m, V)`` candidate rows; `candidates` their papers.
        positives / positive_papers: per profile, curated rows (CSR, may have 0 rows) and
            their papers; likes / like_papers: 👍 rows and papers (or None);
            negatives: 👎 rows or None.
        background: ``(n_bg, V)`` rows of the background sample (its mean is used) or None.
    Returns:
        per profile, up to `k` `Recommendation`s best first; [] for a profile with neither
        positives nor likes.
    """
    from recommender.ranker import PaperMeta, Profile, RankerConfig
    cfg = config or RankerConfig()
    C = sp.csr_matrix(C, dtype=np.float32)
    m, V = C.shape
    n = len(positives)
    empty_block = sp.csr_matrix((0, V), dtype=np.float32)
    likes = [b if b is not None else empty_block for b in (likes or [None] * n)]
    like_papers = like_papers or [[] for _ in range(n)]
    if meta is not None and not isinstance(meta, PaperMeta):
        meta = PaperMeta.from_records(meta)
    Pc = _unit_rows(_sum_rows(positives, V) + cfg.feedback_weight * _sum_rows(likes, V)).tocsr()
    Pc.sort_indices()
    negs = [b if b is not None else empty_block for b in negatives]
    Nc = _unit_rows(_sum_rows(negs, V)).tocsr()
    Nc.sort_indices()
    if background is not None and background.shape[0]:
        bg = np.asarray(sp.csr_matrix(background, dtype=np.float64).mean(axis=0)).ravel()
        norm = np.linalg.norm(bg)
        bg = (bg / norm if norm > 0 else bg).astype(np.float32)
    else:
        bg = np.zeros(V, dtype=np.float32)
    with threadpool_limits(1, user_api="blas"):
        text = (C @ Pc.T).toarray() - cfg.gamma * (C @ Nc.T).toarray()
        text -= cfg.beta * np.asarray(C @ bg).reshape(-1, 1)
        if cfg.w_like_sim and any(b.shape[0] for b in likes):
            text += cfg.w_like_sim * _segment_max(C, likes, 0.0)
        if cfg.w_dislike_sim and any(b.shape[0] for b in negs):
            text -= cfg.w_dislike_sim * _segment_max(C, negs, 0.0)
        scores = text.astype(np.float32)
        for j in range(n):
            authors = [p.authors for p in positive_papers[j]] + [p.authors for p in like_papers[j]]
            meta_prof = Profile(sp.csr_matrix((len(authors), 1)), positive_authors=authors, config=cfg)
            scores[:, j] += meta_prof.prior_scores(meta, m)
        empty = np.array([positives[j].shape[0] + likes[j].shape[0] == 0 for j in range(n)])
        scores[:, empty] = -np.inf
        results: list[list[Recommendation]] = []
        for j, rows in enumerate(top_k(scores, k)):
            if len(rows) == 0:
                results.append([])
                continue
            sub = C[rows]
            idx = sub.indices
            q_at = _gather(Pc, j, idx) - cfg.gamma * _gather(Nc, j, idx) - cfg.beta * bg[idx]
            contrib = sub.data * q_at
            P_all = sp.vstack([sp.csr_matrix(positives[j], dtype=np.float32), likes[j]], format="csr")
            pp_all = list(positive_papers[j]) + list(like_papers[j])
            sims = (P_all @ sub.T).toarray()
            recs = []
            for r_i, row_no in enumerate(rows):
                lo, hi = sub.indptr[r_i], sub.indptr[r_i + 1]
                c = contrib[lo:hi]
                order = np.argsort(-c)[:n_terms]
                near = int(np.argmax(sims[:, r_i]))
                pp = pp_all[near]
                recs.append(Recommendation(
                    paper=candidates[row_no], score=float(scores[row_no, j]),
                    terms=[str(terms[sub.indices[lo + o]]) for o in order if c[o] > 0],
                    nearest_id=pp.arxiv_id, nearest_title=pp.title, nearest_sim=float(sims[near, r_i])))
            results.append(recs)
    return results
