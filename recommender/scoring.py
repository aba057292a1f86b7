"""Scoring new papers against a set of positive papers (a curated collection, a profile).

Two scorers, both on L2-normalised TF-IDF rows:

* `rank_profile` — the production ranker, `recommender.ranker.Profile`: a Rocchio query (Rocchio
  1971, "Relevance feedback in information retrieval") of the positives with the feed's
  background mean and the 👎 papers subtracted, plus author / HF-upvote priors; 👍 enter through
  `Profile.add_feedback`. Its score is relative to the feed's average paper, so most papers score
  below 0: without feedback the day's best paper scored median 0.054 (quartiles 0.009 / 0.108)
  over the 380 dev-task days, below 0 on 89 of them (`bench/day_scores.py`); a 👍 adds up to 2 ×
  the cosine to the liked paper, so papers like it score 1-3 (range: `Profile.score`).
* `rank` — the simpler formula the batched scale benchmark also computes
  (`recommender.batch`): score(c) = ½·cos(c, centroid(P)) + ½·max_{p∈P} cos(c, p), minus
  ¼·max_{n∈N} cos(c, n) for 👎 papers N; in [−0.25, 1].

Every score comes with its explanation, computed from the same vectors: the terms with the
largest contribution to the score's dot product (``x_t·q_t``, or ``x_t·centroid_t`` for `rank`),
which match the profile as a whole, and the positive paper with the highest cosine together with
the terms that paper and the candidate both contain (largest ``x_t·p_t``). The score-driving
terms need not occur in that closest paper, so the explanation labels them separately.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from feeds.records import Paper
from recommender.tfidf import TfidfModel


class NoKnownTerms(ValueError):
    """A profile whose positives (curated papers, keyword pseudo-paper, 👍) hold no word the TF-IDF
    model knows: its query would be only the negated background, so it cannot rank by interest."""


@dataclass
class Recommendation:
    """One scored paper. `score` is the scorer's (see the module docstring: `rank_profile`'s may
    be negative, `rank`'s is in [−0.25, 1]).

    `terms` drove the score: the paper's terms with the largest contribution to the dot product
    with the *profile* (``x_t·q_t``: the Rocchio query, or the centroid for `rank`), so each
    occurs in the paper and in at least one positive, not necessarily the closest one.
    `nearest_id`/`nearest_title`/`nearest_sim` name the most similar positive paper, only when
    that cosine is above 0 (a paper sharing no term with any positive has no closest paper);
    `nearest_terms` are terms occurring in both the paper and that closest paper, largest
    contribution to their cosine (``x_t·p_t``) first ([] when not computed, e.g. by the batch
    scorers)."""

    paper: Paper
    score: float
    terms: list[str] = field(default_factory=list)
    nearest_id: str | None = None
    nearest_title: str | None = None
    nearest_sim: float = 0.0
    nearest_terms: list[str] = field(default_factory=list)

    @property
    def why(self) -> str:
        """One-line explanation, e.g. ``matches the profile on "reward model", "ppo" · closest:
        PPOCoder (0.41), sharing "ppo", "code"``: the profile terms behind the score, then the
        closest positive with the terms the paper really has in common with it."""
        parts = []
        if self.terms:
            parts.append("matches the profile on " + _quoted(self.terms))
        if self.nearest_title and self.nearest_sim > 0:
            title = self.nearest_title if len(self.nearest_title) <= 90 else self.nearest_title[:89] + "…"
            closest = f"closest: {title} ({self.nearest_sim:.2f})"
            if self.nearest_terms:
                closest += ", sharing " + _quoted(self.nearest_terms)
            parts.append(closest)
        return " · ".join(parts) or "no strong match"


def _quoted(terms: list[str]) -> str:
    return ", ".join(f'"{t}"' for t in terms)


def shared_terms(terms: np.ndarray, x_row: sp.csr_matrix, p_row: sp.csr_matrix, n: int = 3) -> list[str]:
    """The `n` terms present in both TF-IDF rows, largest ``x_t·p_t`` first (the products sum to
    the two rows' cosine when both are l2-normalised); overlapping phrases are skipped as in
    `explanation_terms`. `x_row`, `p_row`: ``(1, V)`` CSR rows without duplicate columns;
    `terms`: the vocabulary ``(V,)``. [] when the rows share no term."""
    x, p = sp.csr_matrix(x_row), sp.csr_matrix(p_row)
    both, xi, pi = np.intersect1d(x.indices, p.indices, assume_unique=True, return_indices=True)
    return _top_terms(terms, both, x.data[xi] * p.data[pi], n)


def _normalise(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v)
    return v / n if n > 0 else v


def _top_terms(terms: np.ndarray, indices: np.ndarray, contrib: np.ndarray, n: int) -> list[str]:
    """The `n` terms with the largest positive contribution, skipping a term already covered by a
    chosen phrase ("learning" after "reinforcement learning") so the explanation is not repetitive."""
    chosen: list[str] = []
    for k in np.argsort(-contrib):
        if contrib[k] <= 0 or len(chosen) == n:
            break
        term = str(terms[indices[k]])
        words = set(term.split())
        if any(words <= set(c.split()) or set(c.split()) <= words for c in chosen):
            continue
        chosen.append(term)
    return chosen


def explanation_terms(terms: np.ndarray, indices: np.ndarray, contrib: np.ndarray, n: int = 4) -> list[str]:
    """Public form of the explanation-term choice `rank` uses: the `n` terms (``terms[indices[k]]``)
    with the largest positive contribution `contrib[k]`, overlapping phrases skipped."""
    return _top_terms(terms, indices, contrib, n)


def rank(model: TfidfModel, positives: list[Paper], candidates: list[Paper],
         negatives: list[Paper] | None = None, n_terms: int = 4) -> list[Recommendation]:
    """Score `candidates` against `positives` (and `negatives`), best first.

    Returns every candidate as a `Recommendation`; an empty list when there are no candidates.

    Raises:
        ValueError: `positives` is empty (nothing to compare against).
    """
    if not candidates:
        return []
    if not positives:
        raise ValueError("no positive papers to score against")
    P = model.papers_matrix(positives)
    C = model.papers_matrix(candidates)
    centroid = _normalise(np.asarray(P.mean(axis=0)).ravel())
    sims = (C @ P.T).toarray()                      # (n_cand, n_pos) cosines
    cen = C @ centroid                               # (n_cand,)
    score = 0.5 * np.asarray(cen).ravel() + 0.5 * sims.max(axis=1)
    if negatives:
        N = model.papers_matrix(negatives)
        score -= 0.25 * (C @ N.T).toarray().max(axis=1)
    terms = model.terms
    nearest = sims.argmax(axis=1)
    out = []
    for i, paper in enumerate(candidates):
        row = C.getrow(i)
        contrib = row.data * centroid[row.indices]
        top_terms = _top_terms(terms, row.indices, contrib, n_terms)
        j = int(nearest[i])
        # argmax of all-zero cosines is 0: a paper sharing no term with any positive has no closest
        ref = positives[j] if sims[i, j] > 0 else None
        out.append(Recommendation(paper=paper, score=float(score[i]), terms=top_terms,
                                  nearest_id=ref.arxiv_id if ref else None, nearest_title=ref.title if ref else None,
                                  nearest_sim=float(sims[i, j]) if ref else 0.0,
                                  nearest_terms=shared_terms(terms, row, P.getrow(j)) if ref else []))
    out.sort(key=lambda r: -r.score)
    return out


def candidate_meta_of(candidates: list[Paper]):
    """`recommender.ranker.PaperMeta` of `candidates` (authors, HF upvotes) as `rank_profile`
    scores them; build it once to share among many profiles."""
    from recommender.ranker import PaperMeta

    return PaperMeta.from_records([{"authors": p.authors, "hf_upvotes": p.hf_upvotes} for p in candidates])


def rank_profile(model: TfidfModel, positives: list[Paper], candidates: list[Paper],
                 negatives: list[Paper] | None = None, likes: list[Paper] | None = None,
                 background: list[Paper] | np.ndarray | None = None, n_terms: int = 4,
                 explain_top: int | None = None,
                 candidate_matrix: sp.csr_matrix | None = None,
                 candidate_meta=None) -> list[Recommendation]:
    """Score `candidates` with the production ranker (`recommender.ranker.Profile`), best first.

    The profile is built from `positives` (curated papers, followed authors' papers, the keyword
    pseudo-paper; weight 1 each), `negatives` (👎) and the mean of `background` (a sample of the
    feed, contrasted away — Rocchio 1971 with a background term, see `recommender.ranker`); each
    paper in `likes` (👍) enters through `Profile.add_feedback`: the profile is built by
    `recommender.feedback.profile_from_feedback`, as in the evaluation's feedback simulation.
    Scores add the ranker's author / HF-upvote priors. Explanations are the profile's own: the
    terms with the largest ``x_j · q_j`` (`Recommendation.terms`, shown as matching the profile),
    the most similar positive, and the terms the paper shares with that positive
    (`Recommendation.nearest_terms`, largest ``x_j · p_j``).

    `background` may also be the ``(V,)`` vector of `recommender.ranker.background_vector`,
    computed once and shared by every profile of a run; `candidate_matrix`
    may hold the candidates' ``(n, V)`` TF-IDF rows (e.g. from the matrix cache) to skip the
    transform, and `candidate_meta` their `recommender.ranker.PaperMeta` (authors, HF upvotes;
    built from `candidates` when omitted). Explanations cost a cosine against every positive per paper, so with
    `explain_top` only the best `explain_top` papers get them (the others have empty `terms` and
    no nearest paper); the scores and the order are the same either way.

    Returns every candidate as a `Recommendation` ([] when there are no candidates), best first.
    A candidate whose TF-IDF row is empty (no known term: `recommender.ranker.rows_with_terms`)
    is returned too, scored by its priors alone (0 text score, which outranks most papers), and
    with no closest paper; recommenders must leave such candidates out (`paperbot.digests` does).

    Raises:
        NoKnownTerms (a ValueError): `positives` and `likes` hold papers but none has a word the
            model knows (e.g. a channel following only the keyword "强化学习"); without it the
            ranking would be the papers least like the feed, explained by a 0.00 "closest".
        ValueError: neither `positives` nor `likes` holds a paper; `candidate_matrix` or
            `candidate_meta` does not have one row per candidate.
    """
    from recommender.feedback import profile_from_feedback

    likes = likes or []
    if not candidates:
        return []
    if not positives and not likes:
        raise ValueError("no positive papers to score against")
    terms = model.terms
    V = len(terms)
    P = model.papers_matrix(positives) if positives else sp.csr_matrix((0, V), dtype=np.float32)
    N = model.papers_matrix(negatives) if negatives else None
    if isinstance(background, np.ndarray):
        B = background
    else:
        B = model.papers_matrix(background) if background else None
    L = model.papers_matrix(likes) if likes else None
    prof = profile_from_feedback(P, [p.authors for p in positives], L, [p.authors for p in likes], N, B, terms)
    if not prof.has_positive_terms:
        raise NoKnownTerms("none of the profile's papers or keywords has a word the model knows")
    if candidate_matrix is not None:
        C = sp.csr_matrix(candidate_matrix)
        if C.shape[0] != len(candidates):
            raise ValueError(f"candidate_matrix has {C.shape[0]} rows for {len(candidates)} candidates")
    else:
        C = model.papers_matrix(candidates)
    if candidate_meta is not None:
        if len(candidate_meta) != len(candidates):
            raise ValueError(f"candidate_meta has {len(candidate_meta)} rows for {len(candidates)} candidates")
        meta = candidate_meta
    else:
        meta = candidate_meta_of(candidates)
    scores = prof.score(C, meta)
    refs = positives + likes
    order = np.argsort(-scores, kind="stable")
    n_explain = len(order) if explain_top is None else max(int(explain_top), 0)
    out = []
    for rank_i, i in enumerate(order):
        paper = candidates[i]
        if rank_i >= n_explain:
            out.append(Recommendation(paper=paper, score=float(scores[i])))
            continue
        row = C.getrow(i)
        contrib = row.data * prof.query[row.indices]
        j, sim = prof.most_similar_positive(row)
        # a cosine of 0 names no paper (argmax of all-zero similarities is just the first one)
        ref = refs[j] if 0 <= j < len(refs) and sim > 0 else None
        out.append(Recommendation(paper=paper, score=float(scores[i]),
                                  terms=explanation_terms(terms, row.indices, contrib, n_terms),
                                  nearest_id=ref.arxiv_id if ref else None,
                                  nearest_title=ref.title if ref else None, nearest_sim=sim if ref else 0.0,
                                  nearest_terms=shared_terms(terms, row, prof.positive_row(j)) if ref else []))
    return out
