"""The TF-IDF model: a scikit-learn `TfidfVectorizer` over title + abstract, fitted and saved.

TF-IDF with sublinear tf and L2-normalised rows (scikit-learn user guide, "Tf–idf term
weighting"; Salton & Buckley 1988), unigrams + bigrams, English stop words. The fitted model is
persisted with joblib so a daily run reuses it instead of refitting (see `needs_refit`).
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import joblib
import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from feeds.records import Paper
from recommender.atomic_file import write_atomically

MODEL_FORMAT = 1


class EmptyVocabulary(ValueError):
    """The texts give the model no term: they hold only English stop words, LaTeX or
    punctuation, or `min_df`/`max_df` prune every term (scikit-learn's "empty vocabulary" and
    "After pruning, no terms remain" errors). Nothing can be fitted; a search can still rank by
    BM25 alone (`recommender.search.search` with no model)."""


def paper_text(title: str, abstract: str) -> str:
    """The text a paper is represented by: ``"<title>. <abstract>"`` — the representation the
    production ranker was evaluated with (`recommender.ranker.paper_text`)."""
    from recommender.ranker import paper_text as ranker_text
    return ranker_text(title, abstract)


def preprocess(text: str) -> str:
    """Lower-case and drop inline LaTeX (``$…$``), which only adds noise tokens."""
    return re.sub(r"\$[^$]*\$", " ", text).lower()


# How production turns a paper's text into terms: `preprocess`, English stop words, uni+bigrams
# (sklearn's default token pattern). `paperbot eval` tokenises its corpus with these very settings
# (`recommender.evaluation.TOKENISATIONS["production"]`), so it measures the vocabulary that ships.
TOKEN_PARAMS = dict(preprocessor=preprocess, stop_words="english", ngram_range=(1, 2))


MAX_FEATURES = 20_000  # the evaluated production setting (recommender.ranker.PRODUCTION_TFIDF_PARAMS)


def _min_df(n_docs: int) -> int:
    """5 (the evaluated setting) on real corpora; relaxed for tiny stores so a fresh install
    with a few hundred papers still has a vocabulary."""
    return 5 if n_docs >= 1000 else 2 if n_docs >= 50 else 1


def _vectorizer(n_docs: int, max_features: int, vocabulary: dict | None = None) -> TfidfVectorizer:
    """The production TF-IDF settings: those of `recommender.ranker.PRODUCTION_TFIDF_PARAMS`
    (uni+bigrams, English stop words, sublinear tf, max_df 0.5, 20,000 features, min_df 5 — the
    ones `paperbot eval` measures), plus LaTeX stripping; with `vocabulary` the terms are fixed
    (document-frequency limits then do not apply, sklearn ignores them)."""
    return TfidfVectorizer(
        **TOKEN_PARAMS, sublinear_tf=True, min_df=_min_df(n_docs),
        max_df=0.5 if n_docs >= 50 else 1.0, max_features=max_features, vocabulary=vocabulary,
        dtype=np.float32)


def _fit(vec: TfidfVectorizer, texts: list[str], transform: bool = False):
    """``vec.fit(texts)`` (``vec.fit_transform(texts)`` with `transform`: its matrix).

    Raises:
        EmptyVocabulary: no term is left to fit (scikit-learn raises a bare ValueError; the
            settings of `_vectorizer` are always valid, so that is its only cause here).
    """
    try:
        return vec.fit_transform(texts) if transform else vec.fit(texts)
    except ValueError as exc:
        raise EmptyVocabulary(f"no term to fit TF-IDF on ({exc})") from None


@dataclass
class TfidfModel:
    """A fitted vectorizer plus when/on how many documents it was fitted."""

    vectorizer: TfidfVectorizer
    n_docs: int
    fitted_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))

    @classmethod
    def fit(cls, texts: list[str], max_features: int = MAX_FEATURES) -> "TfidfModel":
        """Fit on `texts` (one per paper). `min_df` (`_min_df`) is 5, the evaluated setting, from
        1,000 documents, 2 from 50 and 1 below, so one-off typos stay out of the vocabulary
        while a tiny store still gets one; `max_df` 0.5 (from 50 documents, 1.0 below) drops
        corpus-wide boilerplate.

        Raises:
            ValueError: `texts` is empty; `EmptyVocabulary` (a ValueError): it holds no usable word.
        """
        if not texts:
            raise ValueError("cannot fit TF-IDF on zero documents")
        vec = _vectorizer(len(texts), max_features)
        _fit(vec, texts)
        return cls(vec, len(texts))

    @classmethod
    def fit_sampled(cls, texts: list[str], sample_size: int = 40_000, max_features: int = MAX_FEATURES,
                    seed: int = 0) -> "tuple[TfidfModel, sp.csr_matrix]":
        """Fit for large corpora with bounded memory; return ``(model, matrix of all texts)``.

        The vocabulary (same settings as `fit`) is chosen on a random sample of at most
        `sample_size` texts — counting every unigram and bigram of 100k abstracts needs
        ~1.7 GB, of 40k under 1 GB — then IDF weights are fitted on *all* texts with that fixed
        vocabulary, which also yields their TF-IDF rows (shape ``(len(texts), n_terms)``,
        float32, L2-normalised) so a caller can cache them without a second transform. With
        ``len(texts) <= sample_size`` the vocabulary is exactly `fit`'s.

        Raises:
            ValueError: `texts` is empty; `EmptyVocabulary` (a ValueError): it holds no usable word.
        """
        if not texts:
            raise ValueError("cannot fit TF-IDF on zero documents")
        if len(texts) <= sample_size:  # the sample is everything: one pass gives both
            vec = _vectorizer(len(texts), max_features)
            X = _fit(vec, texts, transform=True).tocsr()
            vec.vocabulary_ = {t: int(i) for t, i in vec.vocabulary_.items()}
            if hasattr(vec, "stop_words_"):
                del vec.stop_words_
            return cls(vec, len(texts)), X
        rng = np.random.default_rng(seed)
        pick = np.sort(rng.choice(len(texts), size=sample_size, replace=False))
        sample = [texts[i] for i in pick]
        vocab_vec = _vectorizer(len(sample), max_features)
        _fit(vocab_vec, sample)
        # plain ints: a dict of 200k numpy scalars takes seconds to unpickle, plain ints ~0.5 s
        vocabulary = {t: int(i) for t, i in vocab_vec.vocabulary_.items()}
        del vocab_vec, sample
        vec = _vectorizer(len(texts), max_features, vocabulary=vocabulary)
        X = vec.fit_transform(texts).tocsr()
        return cls(vec, len(texts)), X

    def transform(self, texts: list[str]) -> sp.csr_matrix:
        """Rows of L2-normalised TF-IDF weights, shape ``(len(texts), n_terms)``."""
        return self.vectorizer.transform(texts).tocsr()

    def papers_matrix(self, papers: list[Paper]) -> sp.csr_matrix:
        """`transform` of each paper's `paper_text`."""
        return self.transform([paper_text(p.title, p.abstract) for p in papers])

    @property
    def terms(self) -> np.ndarray:
        """The vocabulary as an array indexed by column."""
        return self.vectorizer.get_feature_names_out()

    def __getstate__(self) -> dict:
        """Pickle state with the vocabulary as one newline-joined string of terms (ordered by
        column) instead of a 200k-entry dict: joblib unpickles dicts in pure Python (~6 s at
        200k terms), one string in milliseconds. sklearn's `stop_words_` (every pruned n-gram, only for
        introspection per its docs) is dropped."""
        state = dict(self.__dict__)
        vec = self.vectorizer
        vocab = getattr(vec, "vocabulary_", None)
        if isinstance(vocab, dict):
            vec = copy.copy(vec)
            terms = np.empty(len(vocab), dtype=object)
            for t, i in vocab.items():
                terms[i] = t
            state["_terms"] = "\n".join(terms.tolist())  # terms never hold a newline
            state["_fixed_param"] = vec.vocabulary is not None
            vec.vocabulary_ = None
            vec.vocabulary = None
        if hasattr(vec, "stop_words_"):
            vec = copy.copy(vec) if vec is self.vectorizer else vec
            del vec.stop_words_
        state["vectorizer"] = vec
        return state

    def __setstate__(self, state: dict) -> None:
        terms = state.pop("_terms", None)
        fixed = state.pop("_fixed_param", False)
        self.__dict__.update(state)
        if terms is not None:
            vocab = {t: i for i, t in enumerate(terms.split("\n"))} if terms else {}
            self.vectorizer.vocabulary_ = vocab
            if fixed:
                self.vectorizer.vocabulary = vocab

    def save(self, path: str | Path) -> None:
        """Persist with joblib, atomically: written to a temp file of its own, then renamed
        (`recommender.atomic_file.write_atomically`), so two processes saving the same path at
        once both succeed and the file is always one complete model."""
        write_atomically(path, lambda f: joblib.dump({"format": MODEL_FORMAT, "model": self}, f))

    @classmethod
    def load(cls, path: str | Path) -> "TfidfModel | None":
        """Load a saved model, or None if absent, unreadable or of another format."""
        try:
            data = joblib.load(path)
        except Exception:  # missing, truncated, or pickled by an incompatible version
            return None
        if not isinstance(data, dict) or data.get("format") != MODEL_FORMAT:
            return None
        return data["model"]

    def needs_refit(self, n_docs_now: int, max_age_days: int) -> bool:
        """True when the model is older than `max_age_days` or the corpus grew by > 20 %."""
        age = datetime.now(timezone.utc) - datetime.fromisoformat(self.fitted_at)
        return age.days >= max_age_days or n_docs_now > 1.2 * max(self.n_docs, 1)
