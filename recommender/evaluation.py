"""Offline ranking evaluation harness (backs ``paperbot eval``).

Usage::

    python -m recommender.evaluation --tasks dev_tasks.json \
        --corpus corpus.jsonl sup1.jsonl.gz sup2.jsonl.gz \
        --rankings out.jsonl [--method production|tfidf-centroid|asl-svm] [--feedback-sim]

Protocol (per task ``{name, split, window_days, curated, candidates, relevant}``):

* TF-IDF corpus rule (identical for every method): the vectorizer of a task is fitted on
  the text of every corpus paper announced before the END of the task window
  (``published < split + window_days``).  This is what the product could have fitted on
  the last day of the window; it uses no labels at all (``relevant`` is never read before
  metrics are computed) and no text announced after the window.  Tokenisation is shared:
  the whole corpus is tokenised once into a uni+bigram count matrix and each task's
  vectorizer (document frequencies, ``min_df``/``max_df``/``max_features`` selection, IDF)
  is computed exactly from the rows of its own papers — numerically the same as calling
  ``TfidfVectorizer.fit`` on those texts, down to which of the terms tied at the
  ``max_features`` cut are kept (see :class:`WindowedTfidf`), only faster.  The text and
  its tokenisation are production's own: ``recommender.tfidf.paper_text`` and
  ``recommender.tfidf.TOKEN_PARAMS`` (inline LaTeX ``$…$`` stripped by
  ``recommender.tfidf.preprocess``), the objects the digests' ``TfidfModel`` uses
  (:data:`TOKENISATIONS`).  ``tfidf-centroid`` uses the same tokenisation; ``asl-svm``
  uses arxiv-sanity-lite compute.py's own (title + abstract + author names, accents
  stripped, tokens of 2+ characters starting with a letter or ``_``: ``ASL_TOKEN_PARAMS``).
* Rankings are built from ``curated`` only (plus simulated feedback with
  ``--feedback-sim``).  ``relevant`` is read only to print metrics and to play the user in
  the feedback simulation (the user clicks 👍 on relevant papers she is shown — that is the
  information the product would receive).
* Metrics: AP (mean = MAP), nDCG@20, Recall@50, P@10 from :mod:`recommender.metrics`.
* Feedback simulation (``--feedback-sim``): for each day of the window (candidate
  ``published`` dates) the day's candidates are ranked by the current profile, the top 5
  are "shown", shown relevant papers get 👍 and the other shown ones 👎 through the product's
  feedback path (``recommender.feedback.record`` into an in-memory store), and the profile is
  rebuilt from the stored feedback before the next day (:func:`simulate_feedback`);
  hits = relevant papers shown.  The same walk without feedback
  gives the reference.  The written ``ranking`` stays the curated-only ranking.
* Production background sample: 2,000 papers announced before the split, the task's curated
  papers left out, at evenly spread positions (:func:`background_rows`) — what a digest
  samples from the papers stored before its candidate window.  Remaining difference from a
  digest: a store of more than 40,000 papers chooses its vocabulary on a 40,000-paper sample
  (``TfidfModel.fit_sampled``); the evaluation chooses it on every paper of the window.

Dev results (bench/dev_tasks.json, 3 corpus files, 99,297 papers, 2-core box shared with other
jobs, load average ~3, so wall times are upper bounds; re-measured 2026-11-22 after the eval was
given production's tokenisation and background and asl-svm compute.py's vectorizer)::

    cd ../shared/data && /usr/bin/time -v paperbot eval --tasks bench/dev_tasks.json
        --corpus corpus/corpus.jsonl corpus/corpus_supplement_hf_daily.jsonl.gz
        corpus/corpus_supplement_cnchatarxiv.jsonl.gz --rankings out.jsonl --method M [--feedback-sim]
    (one command line)

    method           MAP    nDCG@20  R@50   P@10   wall    peak RSS
    production       0.202  0.283    0.482  0.250  61 s*   1.6 GB   (*with --feedback-sim)
    asl-svm          0.190  0.266    0.462  0.190  132 s   1.7 GB   (69 s of it tokenising)
    tfidf-centroid   0.164  0.245    0.437  0.170  64 s*   1.6 GB
    feedback sim hits (top 5/day, summed): production 93 with vs 86 without (1.08x);
    tfidf-centroid 87 vs 85.

The targets MAP 0.25 / nDCG@20 0.33 / R@50 0.55 / feedback ratio 1.3x are not reached;
see the ranker module docstring for what was tried in the second round.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import gzip
import json
import os
import sys
import time
import zlib
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.preprocessing import normalize

from recommender import metrics as M
from recommender import ranker as R
from recommender import feedback as FB
from recommender import tfidf as T
from store import Store
from store.store import spread_positions

METHODS = ("production", "tfidf-centroid", "asl-svm")

# arxiv-sanity-lite's reference (karpathy/arxiv-sanity-lite): compute.py's TfidfVectorizer
# (strip_accents='unicode', lowercase, English stop words, token_pattern
# r'(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b', ngram_range (1, 2), sublinear_tf, l2, smooth idf) over
# ' '.join([title, summary, author names]) — ASL_TOKENISATION — with the max_features
# 20000, min_df 5, max_df 0.1 (compute.py's command-line defaults are 10000 / 5 / 0.5), and
# serve.py's LinearSVC(C=0.01, class_weight='balanced').
ASL_TOKEN_PARAMS = dict(ngram_range=(1, 2), stop_words="english", strip_accents="unicode",
                        token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b")
ASL_TFIDF_PARAMS = dict(
    ngram_range=(1, 2), max_features=20000, min_df=5, max_df=0.1, sublinear_tf=True, stop_words="english"
)
ASL_SVM_C = 0.01


# --------------------------------------------------------------------------------------
# corpus
# --------------------------------------------------------------------------------------
def _open(path: str):
    return gzip.open(path, "rt", encoding="utf-8") if str(path).endswith(".gz") else open(path, encoding="utf-8")


def _numbered_lines(fh, path: str):
    """``(line number, line)`` of an open text file, 1-based. A byte that is not UTF-8, or a
    ``.gz`` file that is not gzip, cut short or damaged, raises ValueError naming the file and
    the last line read, not a bare UnicodeDecodeError, ``BadGzipFile``, EOFError or
    ``zlib.error`` that names neither (click turns a stray EOFError into a bare "Aborted!")."""
    line_no = 0
    try:
        for line_no, line in enumerate(fh, 1):
            yield line_no, line
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text after line {line_no} ({exc.reason}); "
                         "save it as UTF-8") from None
    except (OSError, EOFError, zlib.error) as exc:  # gzip: not gzip, truncated, corrupt
        raise ValueError(f"{path}: unreadable after line {line_no}: {exc}") from None


def load_corpus(paths: Sequence[str], skipped: list | None = None) -> list[dict]:
    """Read JSONL corpus files (``.gz`` allowed) into a list of paper dicts.

    A paper present in several files is kept once (first file wins for text); missing
    ``authors``/``categories`` and ``hf_upvotes`` are filled from later occurrences.
    Lines that are not valid JSON objects with an ``arxiv_id`` and ``published`` are skipped;
    when `skipped` is given, ``(file name, line number, reason)`` is appended to it for each.

    Returns:
        list of dicts with keys arxiv_id, title, abstract, categories, authors, published
        (str YYYY-MM-DD), hf_upvotes (int or None).
    Raises:
        FileNotFoundError if a path does not exist (OSError when it cannot be opened).
        ValueError: a file is not UTF-8 text, or a ``.gz`` one is not gzip, cut short or damaged
            (the message names it).
    """
    by_id: dict[str, dict] = {}
    for path in paths:
        name = os.path.basename(path)
        with _open(path) as fh:
            for line_no, line in _numbered_lines(fh, path):
                line = line.strip()
                if not line:
                    continue
                try:
                    p = json.loads(line)
                except json.JSONDecodeError as exc:
                    if skipped is not None:
                        skipped.append((name, line_no, f"not JSON ({exc.msg})"))
                    continue
                if not isinstance(p, dict) or not p.get("arxiv_id") or not p.get("published"):
                    if skipped is not None:
                        skipped.append((name, line_no, "not a JSON object with arxiv_id and published"))
                    continue
                pid = str(p["arxiv_id"])
                old = by_id.get(pid)
                if old is None:
                    by_id[pid] = {
                        "arxiv_id": pid,
                        "title": p.get("title") or "",
                        "abstract": p.get("abstract") or "",
                        "categories": list(p.get("categories") or []),
                        "authors": list(p.get("authors") or []),
                        "published": str(p["published"])[:10],
                        "hf_upvotes": p.get("hf_upvotes"),
                    }
                else:
                    if not old["authors"] and p.get("authors"):
                        old["authors"] = list(p["authors"])
                    if not old["categories"] and p.get("categories"):
                        old["categories"] = list(p["categories"])
                    if p.get("hf_upvotes") is not None:
                        old["hf_upvotes"] = max(old["hf_upvotes"] or 0, p["hf_upvotes"])
    return list(by_id.values())


class WindowedTfidf:
    """Tokenise a corpus once; produce per-window TF-IDF vectorizers exactly and quickly.

    ``fit(mask, **params)`` returns ``(vectorizer, X)`` where ``vectorizer`` is a fitted
    :class:`~sklearn.feature_extraction.text.TfidfVectorizer` equivalent to
    ``TfidfVectorizer(**params).fit(texts[mask])`` (same vocabulary, same idf) and ``X`` is
    its transform of ALL corpus texts (shape ``(n_docs, n_features)``, csr, l2 rows).
    The ``max_features`` cut repeats scikit-learn's ``CountVectorizer._limit_features``
    (``(-tfs[mask]).argsort()[:limit]`` over the alphabetically sorted terms, numpy's default
    unstable sort, tfs in the vectorizer's dtype), so terms tied in total count at the cut are
    kept or dropped exactly as ``fit`` would (a stable sort kept others: 18 of 3,000 terms
    differed on 4,000 corpus papers).

    Supported params: the tokenisation given at construction (``ngram_range``,
    ``stop_words``, ``lowercase`` and any of ``preprocessor``, ``strip_accents``,
    ``token_pattern``) may be repeated but not changed; ``min_df``, ``max_df``,
    ``max_features``, ``sublinear_tf``, ``smooth_idf``, ``norm`` may vary per call.  ``min_df``
    must be an int ≥ ``prune_min_df`` (terms rarer than that in the whole corpus were
    dropped).  Raises ValueError otherwise.
    """

    def __init__(self, texts: Sequence[str], ngram_range=(1, 2), stop_words="english", prune_min_df: int = 2,
                 **token_params):
        self.token_params = dict(ngram_range=tuple(ngram_range), stop_words=stop_words, lowercase=True,
                                 **token_params)
        self.prune_min_df = prune_min_df
        cv = CountVectorizer(min_df=prune_min_df, dtype=np.int32, **self.token_params)
        self.counts = cv.fit_transform(texts).tocsr()
        self.terms = cv.get_feature_names_out()
        self.counts.sort_indices()

    def to_state(self) -> dict:
        """Plain-data state (dict of numpy/scipy/builtin values) for an on-disk cache."""
        return {"counts": self.counts, "terms": self.terms, "prune_min_df": self.prune_min_df,
                "token_params": dict(self.token_params, ngram_range=list(self.token_params["ngram_range"]))}

    @classmethod
    def from_state(cls, state: Mapping) -> "WindowedTfidf":
        """Inverse of :meth:`to_state` (no re-tokenisation).  Raises KeyError/TypeError on
        a malformed state."""
        self = cls.__new__(cls)
        tp = dict(state["token_params"])
        self.token_params = dict(tp, ngram_range=tuple(tp["ngram_range"]))
        self.prune_min_df = int(state["prune_min_df"])
        self.counts = sp.csr_matrix(state["counts"])
        self.terms = np.asarray(state["terms"])
        if self.counts.shape[1] != len(self.terms):
            raise ValueError("cached token counts and terms disagree")
        return self

    def fit(self, mask: np.ndarray, **params):
        p = dict(R.DEFAULT_TFIDF_PARAMS)
        p.update(params)
        for key, val in self.token_params.items():
            got = p.get(key, val)
            if (tuple(got) if isinstance(got, list) else got) != val:
                raise ValueError(f"{key}={got!r} differs from the shared tokenisation {val!r}")
        min_df, max_df, max_features = p.get("min_df", 1), p.get("max_df", 1.0), p.get("max_features")
        if not isinstance(min_df, int) or min_df < self.prune_min_df:
            raise ValueError(f"min_df must be an int >= {self.prune_min_df}")
        rows = np.flatnonzero(mask)
        n = len(rows)
        sub = self.counts[rows]
        df = np.bincount(sub.indices, minlength=sub.shape[1])
        # sklearn: max_doc_count = max_df if int else max_df * n_doc; keep df <= max_doc_count
        max_doc_f = max_df if isinstance(max_df, int) else max_df * n
        keep = (df >= min_df) & (df <= max_doc_f)
        idx = np.flatnonzero(keep)
        if max_features is not None and len(idx) > max_features:
            # sklearn's CountVectorizer._limit_features, step for step: total counts in the
            # vectorizer's dtype (float64 unless `dtype` is given; exact for counts < 2**53),
            # over the kept terms in alphabetical order (self.terms is sorted as sklearn's
            # _sort_features sorts), then the same (-tfs[mask]).argsort()[:limit] call:
            # numpy's default (unstable) quicksort, so ties at the cut fall where sklearn's do
            tfs = np.asarray(sub.sum(axis=0)).ravel().astype(p.get("dtype", np.float64))
            mask_inds = (-tfs[keep]).argsort()[:max_features]
            idx = np.sort(idx[mask_inds])
        p.update(self.token_params)  # the returned vectorizer tokenises as the counts were
        vec = TfidfVectorizer(**p)
        vec.vocabulary_ = {str(t): i for i, t in enumerate(self.terms[idx])}
        smooth = p.get("smooth_idf", True)
        idf = np.log((n + smooth) / (df[idx] + smooth)) + 1.0
        vec.idf_ = idf
        X = self.counts[:, idx].astype(np.float64)
        if p.get("sublinear_tf", False):
            np.log(X.data, X.data)
            X.data += 1.0
        X = X @ sp.diags(idf)
        norm = p.get("norm", "l2")
        if norm:
            X = normalize(X, norm=norm, copy=False)
        return vec, X.tocsr()


# --------------------------------------------------------------------------------------
# tasks
# --------------------------------------------------------------------------------------
PUBLIC_TASK_KEYS = ("name", "split", "window_days", "curated", "candidates")


def load_tasks(path: str) -> list[dict]:
    """Read a tasks JSON file (list of task dicts).

    Raises:
        OSError: the file cannot be read.
        ValueError: it is not UTF-8 text, not JSON, not a list, or a task misses a key of
            ``PUBLIC_TASK_KEYS`` (the message names the file).
    """
    with open(path, encoding="utf-8") as fh:
        try:
            tasks = json.load(fh)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON ({exc})") from None
        except UnicodeDecodeError as exc:
            raise ValueError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); "
                             "save it as UTF-8") from None
    if not isinstance(tasks, list):
        raise ValueError(f"{path}: a tasks file must hold a JSON list of tasks")
    for t in tasks:
        if not isinstance(t, dict):
            raise ValueError(f"{path}: a task must be a JSON object, got {str(t)[:200]}")
        for key in PUBLIC_TASK_KEYS:
            if key not in t:
                raise ValueError(f"{path}: task misses {key!r}: {str(t)[:200]}")
    return tasks


def window_end(task: Mapping) -> str:
    """First day after the task window, 'YYYY-MM-DD' (split + window_days)."""
    d = _dt.date.fromisoformat(task["split"]) + _dt.timedelta(days=int(task["window_days"]))
    return d.isoformat()


# --------------------------------------------------------------------------------------
# evaluation corpus: loaded and tokenised once per process (and optionally on disk)
# --------------------------------------------------------------------------------------
def _production_text(p: Mapping) -> str:
    return T.paper_text(p["title"], p["abstract"])


# name → (paper dict → text, tokenisation params of WindowedTfidf).  "production" is what the
# digests' TfidfModel sees: `recommender.tfidf.paper_text` and `recommender.tfidf.TOKEN_PARAMS`
# (inline LaTeX stripped by `recommender.tfidf.preprocess`), the same objects, not a copy.
def _asl_text(p: Mapping) -> str:
    """compute.py's document: ``' '.join([title, summary, ' '.join(author names)])``."""
    return " ".join([p["title"], p["abstract"], " ".join(p["authors"])])


TOKENISATIONS: dict[str, tuple[Callable[[Mapping], str], dict]] = {
    "production": (_production_text, dict(T.TOKEN_PARAMS)),
    "asl": (_asl_text, dict(ASL_TOKEN_PARAMS)),
}
# the tokenisation each method ranks with
METHOD_TOKENISATION = {"production": "production", "tfidf-centroid": "production", "asl-svm": "asl"}


def _token_params(tokenisation: str) -> dict:
    """The ``WindowedTfidf.token_params`` a tokenisation name stands for (KeyError if unknown)."""
    params = dict(TOKENISATIONS[tokenisation][1])
    return dict(params, ngram_range=tuple(params.get("ngram_range", DEFAULT_NGRAMS)),
                stop_words=params.get("stop_words", "english"), lowercase=True)


class EvalCorpus:
    """Papers + shared tokenisation.  ``rows[id]`` → row; ``published`` (n,) str array.

    ``tokenisation`` names an entry of :data:`TOKENISATIONS` (the text of a paper and how it is
    split into terms); ValueError if a given ``tfidf`` was tokenised otherwise."""

    def __init__(self, papers: list[dict], log: Callable = print, tfidf: "WindowedTfidf | None" = None,
                 tokenisation: str = "production"):
        self.tokenisation = tokenisation
        wanted = _token_params(tokenisation)
        self.papers = papers
        self.ids = [p["arxiv_id"] for p in papers]
        self.rows = {pid: i for i, pid in enumerate(self.ids)}
        self.published = np.array([p["published"] for p in papers])
        if tfidf is not None:
            if tfidf.counts.shape[0] != len(papers):
                raise ValueError(f"token counts have {tfidf.counts.shape[0]} rows for {len(papers)} papers")
            if tfidf.token_params != wanted:
                raise ValueError(f"token counts were not made with the {tokenisation!r} tokenisation")
            self.tfidf = tfidf
        else:
            t0 = time.time()
            text_of = TOKENISATIONS[tokenisation][0]
            rest = {k: v for k, v in wanted.items() if k not in ("ngram_range", "stop_words", "lowercase")}
            self.tfidf = WindowedTfidf(
                [text_of(p) for p in papers],
                ngram_range=wanted["ngram_range"],
                stop_words=wanted["stop_words"],
                prune_min_df=5 if len(papers) >= 1000 else 1,
                **rest,
            )
            log(f"tokenised {len(papers)} papers in {time.time() - t0:.1f}s ({self.tfidf.counts.shape[1]} terms)")
        self._meta: R.PaperMeta | None = None
        self._fits: dict = {}

    @property
    def meta(self) -> R.PaperMeta:
        if self._meta is None:
            self._meta = R.PaperMeta.from_records(self.papers)
        return self._meta

    def window(self, end: str, params: Mapping):
        """(vectorizer, X over all papers) for papers announced before ``end``; memoised."""
        key = (end, tuple(sorted((k, str(v)) for k, v in params.items())))
        if key not in self._fits:
            self._fits.clear()  # one window at a time keeps memory flat
            p = dict(params)
            p["min_df"] = max(int(p.get("min_df", 1)), self.tfidf.prune_min_df)
            self._fits[key] = self.tfidf.fit(self.published < end, **p)
        return self._fits[key]


DEFAULT_NGRAMS = (1, 2)
_CORPUS_CACHE: dict = {}


def get_corpus(paths: Sequence[str], log: Callable = print, tokenisation: str = "production") -> EvalCorpus:
    """Load + tokenise the corpus once per process for a given list of files (memoised on
    the paths' names, sizes and mtimes and the ``tokenisation``, a key of
    :data:`TOKENISATIONS`).

    If the environment variable ``PAPERBOT_CACHE_DIR`` is set, the loaded papers and the
    token-count matrix are also cached there (joblib, one file per corpus key), which
    turns the ~30-80 s tokenisation of the dev corpus into a ~3 s load on later runs.
    The cache holds plain data (papers + token counts), so a file written by
    ``python -m recommender.evaluation`` loads from any entry point; an unreadable,
    stale or foreign cache file is logged, ignored and rewritten.
    """
    key = tuple((os.path.abspath(p), os.path.getsize(p), os.path.getmtime(p)) for p in paths)
    key = key + (("tokenisation", tokenisation),)
    if key in _CORPUS_CACHE:
        return _CORPUS_CACHE[key]
    cache_dir = os.environ.get("PAPERBOT_CACHE_DIR")
    cache_file = None
    if cache_dir:
        import hashlib

        digest = hashlib.sha1(repr(key).encode()).hexdigest()[:16]
        cache_file = os.path.join(cache_dir, f"eval_corpus_{digest}.joblib")
    _CORPUS_CACHE.clear()
    corpus = None
    if cache_file and os.path.exists(cache_file):
        import joblib

        t0 = time.time()
        try:
            # plain data only (dict of lists/arrays): a pickled EvalCorpus object would
            # name its class "__main__.EvalCorpus" when written by `python -m
            # recommender.evaluation` and could not be loaded from any other entry point.
            state = joblib.load(cache_file)
            corpus = EvalCorpus(state["papers"], log=log, tfidf=WindowedTfidf.from_state(state["tfidf"]),
                                tokenisation=tokenisation)
            log(f"loaded cached corpus ({len(corpus.papers)} papers) from {cache_file} in {time.time() - t0:.1f}s")
        except Exception as exc:  # stale/foreign/corrupt cache: rebuild it, never fail on it
            log(f"ignoring unreadable corpus cache {cache_file} ({type(exc).__name__}); rebuilding it")
            corpus = None
    if corpus is None:
        t0 = time.time()
        skipped: list[tuple[str, int, str]] = []
        papers = load_corpus(paths, skipped)
        log(f"loaded {len(papers)} papers from {len(paths)} file(s) in {time.time() - t0:.1f}s")
        for name, line_no, why in skipped[:5]:
            log(f"skipped {name}:{line_no}: {why}")
        if len(skipped) > 5:
            log(f"… and {len(skipped) - 5} more skipped lines")
        if not papers:
            raise ValueError(f"no usable paper in the corpus file(s) {', '.join(paths)}: each line must be a JSON "
                             f"object with arxiv_id and published ({len(skipped)} lines skipped)")
        corpus = EvalCorpus(papers, log=log, tokenisation=tokenisation)
        if cache_file:
            import joblib

            os.makedirs(cache_dir, exist_ok=True)
            tmp = f"{cache_file}.{os.getpid()}.tmp"
            joblib.dump({"papers": corpus.papers, "tfidf": corpus.tfidf.to_state()}, tmp)
            os.replace(tmp, cache_file)  # atomic: a crash never leaves a half-written cache
    _CORPUS_CACHE[key] = corpus
    return corpus


# --------------------------------------------------------------------------------------
# methods: each maps (public task, corpus) -> scorer over the candidates
# --------------------------------------------------------------------------------------
BACKGROUND_SIZE = 2000


@dataclass
class TaskSetup:
    """What a method sees of a task: never ``relevant``."""

    task: dict  # public keys only
    cand_rows: np.ndarray  # corpus rows of the candidates found in the corpus
    cand_ids: list  # their ids (same order)
    missing: list  # candidate ids absent from the corpus (ranked last)
    cur_rows: np.ndarray  # corpus rows of curated papers found in the corpus


def unique_candidates(task: Mapping) -> tuple[list[str], list[str]]:
    """``(candidates, repeated)``: the task's candidate ids, each once in its first position, and
    the ids listed more than once (each once).  A ranking must hold every candidate exactly once
    (a repeated id would be scored, shown and counted twice), so a task file that repeats a
    candidate is de-duplicated with a warning rather than refused: the repeat carries no
    information, and the rest of the task is usable."""
    seen: set[str] = set()
    out, repeated = [], []
    for pid in task["candidates"]:
        if pid in seen:
            if pid not in repeated:
                repeated.append(pid)
            continue
        seen.add(pid)
        out.append(pid)
    return out, repeated


def _setup(task: Mapping, corpus: EvalCorpus) -> TaskSetup:
    public = {k: task[k] for k in PUBLIC_TASK_KEYS}
    public["candidates"], _ = unique_candidates(public)
    cand_ids, cand_rows, missing = [], [], []
    for pid in public["candidates"]:
        r = corpus.rows.get(pid)
        if r is None:
            missing.append(pid)
        else:
            cand_ids.append(pid)
            cand_rows.append(r)
    cur_rows = np.array([corpus.rows[p] for p in public["curated"] if p in corpus.rows], dtype=np.int64)
    return TaskSetup(public, np.array(cand_rows, dtype=np.int64), cand_ids, missing, cur_rows)


def background_rows(corpus: EvalCorpus, split: str, size: int = BACKGROUND_SIZE, exclude=()) -> np.ndarray:
    """Corpus rows (sorted int64 array, at most ``size``) of the background sample: papers
    announced before ``split`` minus the rows in ``exclude`` (the task's curated papers),
    ``size`` of them taken at evenly spread positions (`store.store.spread_positions`, the rule
    of `Store.sample_papers`).  This is what a digest samples (`paperbot.digests._ModelMemo
    .background`: papers first stored before the candidate window, curated ones left out), with
    ``published`` standing for ``first_seen`` and corpus order for storage order."""
    pool = np.flatnonzero(corpus.published < split)
    pool = pool[~np.isin(pool, np.asarray(exclude, dtype=np.int64))]
    return pool[np.asarray(spread_positions(len(pool), size), dtype=np.int64)]


def make_profile(setup: TaskSetup, corpus: EvalCorpus, config: R.RankerConfig | None = None):
    """Production profile of a task: curated papers as positives, background sample before
    the split.  Returns (profile, X over all corpus rows)."""
    builder, X = _profile_builder("production", setup, corpus, config)
    return builder(), X


def _profile_builder(method: str, setup: TaskSetup, corpus: EvalCorpus, config: R.RankerConfig | None = None):
    """``(build, X)``: ``build(like_rows=(), dislike_rows=())`` returns the method's profile of
    the task with those corpus rows as 👍 / 👎, made by
    :func:`recommender.feedback.profile_from_feedback` as a digest makes it; X is the TF-IDF
    matrix over all corpus rows.  The background vector is computed once per task (a digest
    shares one too).  ValueError for a method without a profile (asl-svm)."""
    if method == "production":
        vec, X = corpus.window(window_end(setup.task), R.PRODUCTION_TFIDF_PARAMS)
        bg = R.background_vector(X[background_rows(corpus, setup.task["split"], exclude=setup.cur_rows)])
        terms = vec.get_feature_names_out()
    elif method == "tfidf-centroid":
        _, X = corpus.window(window_end(setup.task), ASL_TFIDF_PARAMS)
        bg, terms, config = None, None, CENTROID_CONFIG
    else:
        raise ValueError(f"--feedback-sim supports production and tfidf-centroid, not {method!r}")
    P = X[setup.cur_rows]
    authors = [corpus.papers[r]["authors"] for r in setup.cur_rows]

    def build(like_rows: Sequence[int] = (), dislike_rows: Sequence[int] = ()) -> R.Profile:
        likes, dislikes = list(like_rows), list(dislike_rows)
        return FB.profile_from_feedback(
            P, authors, X[likes] if likes else None, [corpus.papers[r]["authors"] for r in likes],
            X[dislikes] if dislikes else None, bg, terms, config)

    return build, X


CENTROID_CONFIG = R.RankerConfig(beta=0.0, w_author=0.0, w_nauth=0.0, w_hf=0.0)


def static_scores(method: str, setup: TaskSetup, corpus: EvalCorpus) -> np.ndarray:
    """Scores (len(setup.cand_rows),) of a method from curated papers only."""
    if len(setup.cur_rows) == 0:
        return np.zeros(len(setup.cand_rows))
    end = window_end(setup.task)
    if method == "production":
        prof, X = make_profile(setup, corpus)
        return prof.score(X[setup.cand_rows], corpus.meta.subset(setup.cand_rows))
    if method == "tfidf-centroid":
        _, X = corpus.window(end, ASL_TFIDF_PARAMS)
        return R.centroid_scores(X[setup.cur_rows], X[setup.cand_rows])
    if method == "asl-svm":
        from sklearn.svm import LinearSVC

        _, X = corpus.window(end, ASL_TFIDF_PARAMS)
        rows = np.flatnonzero(corpus.published < end)
        y = np.isin(rows, setup.cur_rows).astype(int)
        clf = LinearSVC(C=ASL_SVM_C, class_weight="balanced", tol=1e-6, max_iter=10000)
        clf.fit(X[rows], y)
        return clf.decision_function(X[setup.cand_rows])
    raise ValueError(f"unknown method {method!r}; choose from {METHODS}")


def rank_ids(ids: Sequence[str], scores: np.ndarray) -> list[str]:
    """ids sorted by decreasing score; ties keep input order."""
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    return [ids[i] for i in order]


# --------------------------------------------------------------------------------------
# feedback simulation
# --------------------------------------------------------------------------------------
SHOWN_PER_DAY = 5


def simulate_feedback(setup: TaskSetup, corpus: EvalCorpus, relevant: set, method: str = "production",
                      per_day: int = SHOWN_PER_DAY, use_feedback: bool = True) -> tuple[int, dict]:
    """Walk the window day by day, show the top ``per_day`` of each day's candidates.

    With ``use_feedback`` the simulated user clicks 👍 on shown relevant papers and 👎 on
    the other shown ones.  Each vote goes through the product's one feedback path,
    :func:`recommender.feedback.record`, into an in-memory store (``Store(":memory:")``, one
    per task, the votes filed under the task's channel); before the next day the profile is
    rebuilt from that store's feedback (``Store.feedback_for(channel_id=…)``: latest vote
    per paper, 👍 → ``Profile.add_feedback``, 👎 → negatives) by
    :func:`recommender.feedback.profile_from_feedback`, as every digest rebuilds its
    channel's profile (`recommender.profiles.profile_for_channel`, `rank_profile`).
    ``relevant`` is used only as this user's judgement of what she was shown.

    Returns:
        (hits = number of relevant papers shown, {day: [shown ids]}).
    Raises:
        ValueError: ``method`` is not production or tfidf-centroid.
    """
    build, X = _profile_builder(method, setup, corpus)
    meta = corpus.meta
    days: dict[str, list[int]] = {}
    for pos, r in enumerate(setup.cand_rows):
        days.setdefault(corpus.published[r], []).append(pos)
    row_of = {pid: r for pid, r in zip(setup.cand_ids, setup.cand_rows)}
    channel = f"eval:{setup.task['name']}:{setup.task['split']}"
    store = Store(":memory:") if use_feedback else None
    prof = build() if store is None else None  # with feedback: built from the store each day
    hits, shown = 0, {}
    try:
        for day in sorted(days):
            if store is not None:
                votes = store.feedback_for(channel_id=channel)
                prof = build([row_of[a] for a, v in votes.items() if v > 0],
                             [row_of[a] for a, v in votes.items() if v < 0])
            pos = np.array(days[day])
            rows = setup.cand_rows[pos]
            s = prof.score(X[rows], meta.subset(rows))
            top = np.argsort(-s, kind="stable")[:per_day]
            shown[day] = [setup.cand_ids[pos[i]] for i in top]
            for i in top:
                pid = setup.cand_ids[pos[i]]
                liked = pid in relevant
                hits += liked
                if store is not None:
                    FB.record(store, SIM_USER, pid, FB.UP if liked else FB.DOWN, source="eval",
                              event_key=f"{channel}:{day}:{pid}", channel_id=channel)
    finally:
        if store is not None:
            store.close()
    return hits, shown


SIM_USER = "eval-user"


# --------------------------------------------------------------------------------------
# driver
# --------------------------------------------------------------------------------------
METRIC_NAMES = ("AP", "nDCG@20", "R@50", "P@10")


def task_metrics(ranking: Sequence[str], relevant: Iterable[str]) -> dict:
    rel = set(relevant)
    return {
        "AP": M.average_precision(ranking, rel),
        "nDCG@20": M.ndcg_at_k(ranking, rel, 20),
        "R@50": M.recall_at_k(ranking, rel, 50),
        "P@10": M.precision_at_k(ranking, rel, 10),
    }


def run_eval(tasks_path: str, corpus_paths: Sequence[str], rankings_out: str, method: str = "production",
             feedback_sim: bool = False, log: Callable = print) -> dict:
    """Rank every task's candidates, write rankings, print and return metrics.

    Args:
        tasks_path: JSON list of tasks ``{name, split, window_days, curated, candidates,
            relevant?}``.  ``relevant`` is optional (no metrics without it).
        corpus_paths: JSONL(.gz) corpus files (see :func:`load_corpus`).
        rankings_out: output JSONL path, one line per task ``{"name", "split",
            "ranking": [every candidate id, best first]}`` (+ ``"shown": {day: [ids]}``
            with ``feedback_sim``).  Candidates missing from the corpus are ranked last; a
            candidate listed twice in the task is ranked once (warning logged,
            :func:`unique_candidates`).
        method: one of :data:`METHODS`.
        feedback_sim: also run the day-by-day feedback simulation (production,
            tfidf-centroid); ``ranking`` stays the curated-only ranking.
        log: print-like callable.
    Returns:
        {"method", "n_tasks", "tasks": [{name, split, n_candidates, n_relevant, AP, ...,
        hits_with, hits_without}], "mean": {AP, nDCG@20, R@50, P@10},
        "hits_with", "hits_without" (sums; None without feedback_sim), "wall_s"}.
    Raises:
        ValueError for an unknown method, a malformed tasks file or a `rankings_out` that cannot
        be written (checked before any ranking work).
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {METHODS}")
    if feedback_sim and method == "asl-svm":
        raise ValueError("--feedback-sim is not supported for asl-svm (one SVM refit per day is too slow)")
    t0 = time.time()
    _check_writable(rankings_out)
    tasks = load_tasks(tasks_path)
    corpus = get_corpus(corpus_paths, log=log, tokenisation=METHOD_TOKENISATION[method])
    rows_out, per_task = [], []
    for task in tasks:
        setup = _setup(task, corpus)
        _, repeated = unique_candidates(task)
        if repeated:
            log(f"  warning: {task['name']} {task['split']} lists {len(repeated)} candidate id(s) more than "
                f"once ({', '.join(repeated[:5])}{', …' if len(repeated) > 5 else ''}); each is ranked once")
        if setup.missing:
            log(f"  warning: {len(setup.missing)} candidate(s) of {task['name']} {task['split']} not in corpus")
        scores = static_scores(method, setup, corpus)
        ranking = rank_ids(setup.cand_ids, scores) + list(setup.missing)
        line = {"name": task["name"], "split": task["split"], "ranking": ranking}
        rec = {"name": task["name"], "split": task["split"], "n_candidates": len(ranking)}
        relevant = task.get("relevant")
        if relevant is not None:
            rec["n_relevant"] = len(relevant)
            rec.update(task_metrics(ranking, relevant))
        if feedback_sim:
            if relevant is None:
                raise ValueError("--feedback-sim needs 'relevant' in every task (the simulated user)")
            rel = set(relevant)
            rec["hits_with"], shown = simulate_feedback(setup, corpus, rel, method, use_feedback=True)
            rec["hits_without"], _ = simulate_feedback(setup, corpus, rel, method, use_feedback=False)
            line["shown"] = shown
        rows_out.append(line)
        per_task.append(rec)
        log(_fmt_task(rec))
    os.makedirs(os.path.dirname(os.path.abspath(rankings_out)), exist_ok=True)
    with open(rankings_out, "w", encoding="utf-8") as fh:
        for line in rows_out:
            fh.write(json.dumps(line) + "\n")
    summary = {"method": method, "n_tasks": len(per_task), "tasks": per_task, "mean": None,
               "hits_with": None, "hits_without": None}
    scored = [r for r in per_task if "AP" in r]
    if scored:
        summary["mean"] = {m: float(np.mean([r[m] for r in scored])) for m in METRIC_NAMES}
    if feedback_sim:
        summary["hits_with"] = int(sum(r["hits_with"] for r in per_task))
        summary["hits_without"] = int(sum(r["hits_without"] for r in per_task))
    summary["wall_s"] = time.time() - t0
    if summary["mean"]:
        mean = summary["mean"]
        log(f"MEAN ({method}, {len(scored)} tasks)  MAP {mean['AP']:.3f}  nDCG@20 {mean['nDCG@20']:.3f}  "
            f"R@50 {mean['R@50']:.3f}  P@10 {mean['P@10']:.3f}")
    if feedback_sim:
        w, wo = summary["hits_with"], summary["hits_without"]
        ratio = f"{w / wo:.2f}x" if wo else "n/a"
        log(f"FEEDBACK-SIM hits with feedback {w}  without {wo}  ({ratio}), top {SHOWN_PER_DAY}/day")
    log(f"wall {summary['wall_s']:.1f}s; rankings -> {rankings_out}")
    return summary


def _check_writable(path: str) -> None:
    """Raise ValueError (naming ``--rankings``) when `path` cannot be written, before the
    ranking work it would otherwise throw away at the end; leaves no file behind."""
    existed = os.path.lexists(path)
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        open(path, "a", encoding="utf-8").close()
    except OSError as exc:
        raise ValueError(f"--rankings {path}: cannot write it ({exc.strerror or exc})") from None
    if not existed:
        os.unlink(path)


def _fmt_task(rec: dict) -> str:
    s = f"{rec['name'][:28]:28s} {rec['split']}  n={rec['n_candidates']:6d}"
    if "AP" in rec:
        s += f"  rel={rec['n_relevant']:3d}  AP {rec['AP']:.3f}  nDCG@20 {rec['nDCG@20']:.3f}  " \
             f"R@50 {rec['R@50']:.3f}  P@10 {rec['P@10']:.3f}"
    if "hits_with" in rec:
        s += f"  hits fb {rec['hits_with']} / no-fb {rec['hits_without']}"
    return s


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m recommender.evaluation --tasks F --corpus F [F ...] --rankings OUT
    [--method NAME] [--feedback-sim]``; returns the process exit code."""
    ap = argparse.ArgumentParser(
        prog="paperbot eval",
        description="Offline ranking evaluation: ranks every task's candidates from its curated papers "
                    "and prints AP (MAP), nDCG@20, Recall@50 and P@10 per task and their mean.",
        epilog="Environment: PAPERBOT_CACHE_DIR=DIR caches the loaded and tokenised corpus in DIR "
               "(one file per set of corpus files and tokenisation), so later runs skip the tokenising.")
    ap.add_argument("--tasks", required=True, metavar="FILE",
                    help="JSON list of tasks {name, split, window_days, curated, candidates, relevant}")
    ap.add_argument("--corpus", required=True, nargs="+", metavar="FILE",
                    help="arXiv corpus JSONL files (.jsonl or .jsonl.gz, one paper a line), as for import-corpus")
    ap.add_argument("--rankings", required=True, metavar="OUT.jsonl",
                    help="where to write the rankings: JSONL, one line a task {name, split, ranking}")
    ap.add_argument("--method", default="production", choices=METHODS,
                    help="the ranker: production (recommender.ranker.Profile, what the digests run), "
                         "tfidf-centroid, or asl-svm (arxiv-sanity-lite's TF-IDF + LinearSVC); "
                         "default: %(default)s")
    ap.add_argument("--feedback-sim", action="store_true",
                    help="also play a user who gives 👍 to the shown relevant papers and 👎 to the other "
                         "shown ones (top 5 a day) and count the relevant papers shown with and without "
                         "that feedback (not with asl-svm)")
    args = ap.parse_args(argv)
    run_eval(args.tasks, args.corpus, args.rankings, method=args.method, feedback_sim=args.feedback_sim)
    return 0


if __name__ == "__main__":
    sys.exit(main())
