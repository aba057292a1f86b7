"""The TF-IDF rows of every stored paper, persisted next to the model so a daily run does not
re-transform the corpus.

Transforming 100k abstracts takes ~20 s; a daily run only needs the rows of the day's new
papers plus the rows of the papers that define profiles and collections. `MatrixCache` keeps
``(arxiv ids, CSR float32 matrix)`` in one ``.npz`` file (written atomically) together with

* the fingerprint of the model that produced the rows (`model_fingerprint`): a refitted model
  has another vocabulary/IDF, so a cache of another model is discarded on load;
* `synced_seq`: the store's change watermark (`Store.change_seq`) the rows are current to.
  `sync` re-transforms exactly the papers the store inserted or changed after it
  (`Store.paper_changes_since`), so an updated abstract (a new arXiv version) gets a fresh row.
  The watermark is a counter taken inside each write transaction, not a clock: a write that
  commits after a sync always carries a larger value, however long it was open. (Format 1
  files kept a UTC time and missed papers whose write transaction committed after a sync had
  moved past the write's start time; they are no longer read, and the next `refresh`
  rebuilds them from the store.)

`refresh(store, model_path)` is the daily entry point: load the persisted model, refit it only
when `TfidfModel.needs_refit` says so (age or > 20 % corpus growth) with the memory-bounded
`TfidfModel.fit_sampled`, and return the model with an up-to-date cache.
"""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from recommender.atomic_file import write_atomically
from recommender.tfidf import TfidfModel, paper_text

log = logging.getLogger(__name__)
CACHE_FORMAT = 2  # 2: `synced_seq` (store change sequence) replaced format 1's `synced_at` time
TRANSFORM_CHUNK = 5000


def model_fingerprint(model: TfidfModel) -> str:
    """Identity of a fitted model: hash of its vocabulary size, IDF weights and fit time."""
    vec = model.vectorizer
    h = hashlib.blake2b(digest_size=12)
    h.update(f"{model.fitted_at}|{model.n_docs}|{len(vec.vocabulary_)}".encode())
    h.update(np.asarray(vec.idf_, dtype=np.float32).tobytes())
    return h.hexdigest()


def cache_path_for(model_path: str | Path) -> Path:
    """Where the matrix cache of the model at `model_path` lives (``<model>.matrix.npz``)."""
    p = Path(model_path)
    return p.with_name(p.name + ".matrix.npz")


@dataclass
class MatrixCache:
    """Rows of TF-IDF weights by arXiv id: ``matrix[i]`` is the row of ``ids[i]``.

    `matrix` has shape ``(len(ids), n_terms)``, CSR, float32, L2-normalised rows; the rows
    are current to the store's change watermark `synced_seq` (`Store.change_seq`, an int;
    0 = nothing synced).
    """

    ids: list[str]
    matrix: sp.csr_matrix
    fingerprint: str
    synced_seq: int
    _index: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.matrix.shape[0] != len(self.ids):
            raise ValueError(f"{len(self.ids)} ids for {self.matrix.shape[0]} rows")
        self._index = {a: i for i, a in enumerate(self.ids)}

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, arxiv_id: str) -> bool:
        return arxiv_id in self._index

    def positions(self, arxiv_ids: list[str]) -> np.ndarray:
        """Row numbers of the ids that are cached (unknown ids are left out, order kept)."""
        return np.fromiter((self._index[a] for a in arxiv_ids if a in self._index), dtype=np.int64)

    def rows(self, arxiv_ids: list[str]) -> tuple[list[str], sp.csr_matrix]:
        """``(found ids, their rows)`` for `arxiv_ids` in order; unknown ids are left out."""
        found = [a for a in arxiv_ids if a in self._index]
        return found, self.matrix[self.positions(found)]

    def upsert(self, arxiv_ids: list[str], rows: sp.csr_matrix) -> None:
        """Add rows for new ids and replace the rows of ids already cached."""
        if rows.shape[0] != len(arxiv_ids):
            raise ValueError(f"{len(arxiv_ids)} ids for {rows.shape[0]} rows")
        if not arxiv_ids:
            return
        incoming = dict.fromkeys(arxiv_ids)
        if any(a in self._index for a in incoming):  # drop the stale rows first
            keep = np.array([i for i, a in enumerate(self.ids) if a not in incoming], dtype=np.int64)
            self.ids = [self.ids[i] for i in keep]
            self.matrix = self.matrix[keep]
        self.ids = self.ids + list(arxiv_ids)
        self.matrix = sp.vstack([self.matrix, rows.astype(np.float32)], format="csr")
        self._index = {a: i for i, a in enumerate(self.ids)}

    # ---- persistence ---------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write to `path` (uncompressed ``.npz``: loading 100k rows takes ~0.1 s), atomically
        through a temp file of its own (`recommender.atomic_file.write_atomically`): concurrent
        savers of one path never rename each other's half-written file into place."""
        m = self.matrix
        write_atomically(path, lambda f: np.savez(
            f, format=np.int64(CACHE_FORMAT), ids=np.array(self.ids, dtype=str),
            data=m.data, indices=m.indices, indptr=m.indptr, shape=np.array(m.shape),
            fingerprint=np.array(self.fingerprint), synced_seq=np.int64(self.synced_seq)))

    @classmethod
    def load(cls, path: str | Path, model: TfidfModel | None = None) -> "MatrixCache | None":
        """The cache at `path`, or None when absent, unreadable, of another format (a format 1
        file of an earlier paperbot included: its time watermark cannot be trusted, so the
        caller rebuilds it), or (when `model` is given) produced by a different model."""
        try:
            with np.load(path, allow_pickle=False) as z:
                if int(z["format"]) != CACHE_FORMAT:
                    log.info("matrix cache %s has format %s, not %s: it will be rebuilt", path,
                             int(z["format"]), CACHE_FORMAT)
                    return None
                fp = str(z["fingerprint"])
                if model is not None and fp != model_fingerprint(model):
                    return None
                m = sp.csr_matrix((z["data"], z["indices"], z["indptr"]), shape=tuple(z["shape"]))
                return cls(ids=[str(a) for a in z["ids"]], matrix=m, fingerprint=fp,
                           synced_seq=int(z["synced_seq"]))
        except (OSError, KeyError, ValueError) as exc:
            if Path(path).exists():
                log.warning("ignoring unreadable matrix cache %s: %s", path, exc)
            return None


def _transform(model: TfidfModel, store, arxiv_ids: list[str]) -> sp.csr_matrix:
    blocks = []
    for i in range(0, len(arxiv_ids), TRANSFORM_CHUNK):
        chunk = arxiv_ids[i:i + TRANSFORM_CHUNK]
        papers = store.get_papers(chunk)
        blocks.append(model.transform([paper_text(papers[a].title, papers[a].abstract) for a in chunk]))
    if not blocks:
        return sp.csr_matrix((0, len(model.vectorizer.vocabulary_)), dtype=np.float32)
    return sp.vstack(blocks, format="csr")


def sync(store, model: TfidfModel, cache: MatrixCache | None) -> tuple[MatrixCache, int]:
    """Bring `cache` up to date with the store for `model`; return ``(cache, rows transformed)``.

    A missing cache, one of another model, or one synced past the store's `change_seq` (the
    database was restored from an older backup) is rebuilt from every stored paper; otherwise only
    papers inserted or changed after ``cache.synced_seq`` are (re-)transformed, and
    ``synced_seq`` moves to the store's watermark read with them (`Store.paper_changes_since`).
    A write still open during the sync commits with a larger value and is picked up by the next
    sync. Rows are transformed from the papers as read afterwards, so a row may already be newer
    than the watermark; the next sync then transforms it once more.
    """
    fp = model_fingerprint(model)
    if cache is not None and cache.fingerprint == fp and store.change_seq() < cache.synced_seq:
        # the store's counter went back: the database was restored from a backup (`paperbot
        # restore`) or replaced by an older copy, so rows synced past its counter may describe
        # papers it no longer holds or holds in another version
        log.warning("matrix cache synced to change %d but the database is at %d (restored from a "
                    "backup?): rebuilding it", cache.synced_seq, store.change_seq())
        cache = None
    if cache is None or cache.fingerprint != fp:
        high, ids = store.paper_changes_since(0)
        X = _transform(model, store, ids)
        return MatrixCache(ids=ids, matrix=X, fingerprint=fp, synced_seq=high), len(ids)
    high, ids = store.paper_changes_since(cache.synced_seq)
    if ids:
        cache.upsert(ids, _transform(model, store, ids))
    cache.synced_seq = high
    return cache, len(ids)


class ModelFileError(OSError):
    """The TF-IDF model or its matrix cache could not be written (`recommender.model_path` in a
    folder that cannot be created or written); the message names the file and the setting."""


def _save(what: str, path: str | Path, save: Callable[[str | Path], None]) -> None:
    try:
        save(path)
    except OSError as exc:
        cause = exc.strerror or str(exc)
        if exc.filename and str(exc.filename) != str(path):  # its folder: "…/afile: File exists"
            cause = f"{exc.filename}: {cause}"
        raise ModelFileError(f"{path}: cannot write the TF-IDF {what} ({cause}); check "
                             "recommender.model_path and its folder") from exc


def refresh(store, model_path: str | Path, refit_days: int = 7, force: bool = False,
            sample_size: int = 40_000,
            on_refit: Callable[[int], None] | None = None) -> tuple[TfidfModel, MatrixCache]:
    """The persisted model and an up-to-date matrix cache for the store's papers.

    Refits (memory-bounded, `TfidfModel.fit_sampled`) when the model is missing, unreadable,
    `needs_refit(n_papers, refit_days)` or `force`; otherwise transforms only the new/changed
    papers. Both files are saved. `on_refit(n_papers)` is called just before a refit starts
    (a refit takes about 30 s at 47,000 papers; a CLI uses it to say why it is waiting).
    Raises ValueError when the store holds no papers, `ModelFileError` when the model or the
    cache cannot be written.
    """
    cpath = cache_path_for(model_path)
    n = store.count_papers()
    model = None if force else TfidfModel.load(model_path)
    if model is None or model.needs_refit(n, refit_days):
        if on_refit is not None:
            on_refit(n)
        high = store.change_seq()  # read before the papers: later writes exceed it
        ids, texts = [], []
        for p in store.iter_papers():
            ids.append(p.arxiv_id)
            texts.append(paper_text(p.title, p.abstract))
        model, X = TfidfModel.fit_sampled(texts, sample_size=sample_size)
        del texts
        _save("model", model_path, model.save)
        cache = MatrixCache(ids=ids, matrix=X, fingerprint=model_fingerprint(model),
                            synced_seq=high)
        log.info("fitted TF-IDF on %d papers (%d terms)", len(ids), X.shape[1])
    else:
        loaded = MatrixCache.load(cpath, model)
        cache, n_new = sync(store, model, loaded)
        log.info("matrix cache: %d rows (re)transformed, %d cached", n_new, len(cache))
        if loaded is not None and n_new == 0:
            return model, cache  # nothing new: the file on disk is current (its synced_seq may lag, which only costs a re-check)
    _save("matrix cache", cpath, cache.save)
    return model, cache
