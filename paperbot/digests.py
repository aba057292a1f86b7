"""Building digests (store → recommender → Digest): pick, score and cut each channel's papers.

A channel's or a person's positives/negatives come from `recommender.profiles` (collections,
keywords as a pseudo-document, followed authors, 👍/👎).
Candidates are papers first seen within `recommender.candidate_days` (counted from the start
of the current UTC hour, so every digest built within an hour sees the same window) that are not
curated and that the channel has not already been sent. "First seen" is the store's
``first_seen``: when a feed first announced the paper; a paper only loaded in bulk
(``paperbot import-corpus``, curated files) counts from its own announcement day, so a corpus
of old papers adds none, and it becomes new when a feed announces it (see `store.store`).
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import numpy as np
import scipy.sparse as sp

from bot.digest import Digest
from feeds.records import Paper
from paperbot.config import ChannelConfig, Config
from recommender.profiles import Profile, profile_for_channel
from recommender.ranker import PaperMeta, rows_with_terms
from recommender.scoring import NoKnownTerms, candidate_meta_of, rank_profile
from recommender.tfidf import TfidfModel
from store import Store

log = logging.getLogger(__name__)

NO_TERMS = ("Nothing to rank against: none of the followed keywords or papers has a word the model knows "
            "(e.g. a keyword in Chinese, or only stop words); follow a curated collection or an English keyword.")
# the reason of every digest while the stored papers give TF-IDF no term (`EmptyVocabulary`): no
# model can be fitted, so nothing can be ranked, whatever the channel follows
NO_VOCABULARY = ("Nothing to rank yet: the stored papers have no words the recommender can index (only "
                 "stop words, formulas or punctuation); digests start once papers with real titles or "
                 "abstracts are stored.")
BACKGROUND_SIZE = 2000  # papers in the ranker's background sample (as in the evaluation)
# fewest papers stored before the candidate window for the background to be drawn from them alone;
# below it (a new install) the whole store is sampled, candidates included
BACKGROUND_MIN_HISTORY = 500
ROW_MEMO_MAX = 50_000  # candidate TF-IDF rows kept between digests of one model


@dataclass
class CandidateSet:
    """Every paper first stored since a time, ready to score: the papers (newest announcement
    first), their TF-IDF rows ``(n, V)`` and their `PaperMeta` (author incidence built)."""

    papers: list[Paper]
    matrix: sp.csr_matrix
    meta: PaperMeta

    def without(self, exclude: set[str]) -> tuple[list[Paper], sp.csr_matrix, PaperMeta]:
        """(papers, rows, meta) of the papers whose arXiv id is not in `exclude`, same order."""
        keep = [i for i, p in enumerate(self.papers) if p.arxiv_id not in exclude]
        return [self.papers[i] for i in keep], self.matrix[keep], self.meta.subset(keep)


class _ModelMemo:
    """What every digest scored with one model shares: the background vector, the TF-IDF rows
    of recent candidates and the candidate set itself (papers decoded once, author metadata
    built once). A run of hundreds of DM digests then reads, transforms and indexes each new
    paper and the 2,000-paper background once instead of once per digest. Thread-safe; a new
    model (refit or refresh) starts a fresh memo.

    The candidate set is reused only while the store reports the same ``(arXiv id, change_seq)``
    list for the window (`Store.paper_change_seqs_first_seen_since`): a new paper or any changed
    row (a new version, new upvotes) makes a new set, re-reading only the papers that changed.
    ``change_seq`` values follow commit order, so a write that committed after a read always
    shows a new value (a ``last_seen`` wall-clock stamp, taken before the write lock, could
    equal the one already read). TF-IDF rows are keyed on the same values. The background vector
    is recomputed when the paper or curated count changes, not when a sampled paper's text does
    (a revised abstract among 2,000 background papers moves the mean by a rounding error; the
    next poll's new papers refresh it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._model: TfidfModel | None = None
        self._bg_key: tuple | None = None
        self._bg: np.ndarray | None = None
        self._rows: dict[str, tuple[int, sp.csr_matrix]] = {}  # arXiv id → (change_seq, TF-IDF row)
        self._cand_key: tuple | None = None
        self._cand: CandidateSet | None = None
        self._papers_path: str | None = None
        self._papers: dict[str, tuple[int, Paper]] = {}  # arXiv id → (change_seq, Paper) of one store

    def _for(self, model: TfidfModel) -> None:
        if self._model is not model:
            self._model, self._bg_key, self._bg, self._rows = model, None, None, {}
            self._cand_key, self._cand = None, None

    def candidate_set(self, store: Store, model: TfidfModel, since: str) -> CandidateSet:
        """The `CandidateSet` of papers first stored at or after `since` (UTC ISO seconds)."""
        seqs = store.paper_change_seqs_first_seen_since(since)
        key = (str(store.path), since, tuple(seqs))
        with self._lock:
            self._for(model)
            if self._cand_key == key and self._cand is not None:
                return self._cand
            if self._papers_path != str(store.path):
                self._papers_path, self._papers = str(store.path), {}
            known = {a: self._papers[a] for a, _ in seqs if a in self._papers}
        need = [a for a, seq in seqs if known.get(a, (None,))[0] != seq]
        # read after `seqs`: a row may have changed in between, and then it holds content newer
        # than its listed value, so it is filed under the older value and re-read next time (a
        # wasted read, never a stale paper)
        fetched = store.get_papers(need)
        held = [(a, seq) for a, seq in seqs if a in fetched or a in known]
        papers = [fetched[a] if a in fetched else known[a][1] for a, _ in held]
        cs = CandidateSet(papers, self.rows(model, papers, [seq for _, seq in held]),
                          candidate_meta_of(papers).prepare())
        with self._lock:
            self._for(model)
            if self._papers_path == str(store.path):
                if len(self._papers) + len(fetched) > ROW_MEMO_MAX:
                    self._papers = {}
                self._papers.update({a: (seq, fetched[a]) for a, seq in seqs if a in fetched})
            self._cand_key, self._cand = key, cs
        return cs

    def background(self, store: Store, model: TfidfModel, curated: set[str],
                   since: str | None = None) -> np.ndarray:
        """unit(mean TF-IDF row) of the background sample, shape (V,): `store.sample_papers`
        (`BACKGROUND_SIZE` papers spread evenly over the store, curated papers removed) taken
        among the papers first stored before `since`, the start of the candidate window — the
        feed the subject has already seen, as `paperbot eval` measures it (its background is
        2,000 papers announced before the task window; README's third research pass measured
        the window's own candidates as background at MAP 0.186 against 0.202-0.203 for
        earlier papers). When fewer than `BACKGROUND_MIN_HISTORY` papers besides the curated
        ones predate the window (a new install whose first poll stored everything inside it), or
        `since` is None, the whole store is sampled instead.

        Recomputed when the model, the store, `since`, the number of papers (all, and before
        `since`) or of curated papers change; not when a sampled paper's text does."""
        from recommender.ranker import background_vector
        n_before = store.count_papers(first_seen_before=since) if since is not None else 0
        # curated papers are left out of the sample, and (bulk-loaded) they mostly predate the
        # window: count only what is surely left, so a new install with a curated file falls back
        before = since if n_before - len(curated) >= BACKGROUND_MIN_HISTORY else None
        key = (store.path, before, n_before, store.count_papers(), len(curated))
        with self._lock:
            self._for(model)
            if self._bg_key == key and self._bg is not None:
                return self._bg
        sample = store.sample_papers(BACKGROUND_SIZE, exclude=curated, first_seen_before=before)
        V = len(model.vectorizer.vocabulary_)
        bg = background_vector(model.papers_matrix(sample)) if sample else np.zeros(V)
        with self._lock:
            self._for(model)
            self._bg_key, self._bg = key, bg
        return bg

    def rows(self, model: TfidfModel, papers: list[Paper], seqs: list[int]) -> sp.csr_matrix:
        """TF-IDF rows of `papers` (n, V), transforming only those not seen with this model at the
        same ``change_seq`` (`seqs`, one per paper, as in `candidate_set`)."""
        if not papers:
            return sp.csr_matrix((0, len(model.vectorizer.vocabulary_)))
        with self._lock:
            self._for(model)
            found = {p.arxiv_id: self._rows[p.arxiv_id][1] for p, seq in zip(papers, seqs)
                     if self._rows.get(p.arxiv_id, (None,))[0] == seq}
        missing = [(p, seq) for p, seq in zip(papers, seqs) if p.arxiv_id not in found]
        if missing:
            X = model.papers_matrix([p for p, _ in missing])
            fresh = {p.arxiv_id: (seq, X[i]) for i, (p, seq) in enumerate(missing)}
            found.update({a: row for a, (_, row) in fresh.items()})
            with self._lock:
                self._for(model)
                if len(self._rows) + len(fresh) > ROW_MEMO_MAX:
                    self._rows = {}
                self._rows.update(fresh)
        return sp.vstack([found[p.arxiv_id] for p in papers], format="csr")


_MEMO = _ModelMemo()


def candidate_window_start(candidate_days: int, now: datetime | None = None) -> str:
    """Start of the candidate window: `candidate_days` before the start of the current UTC hour
    (UTC ISO seconds)."""
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return (now.replace(minute=0, second=0, microsecond=0) - timedelta(days=candidate_days)).isoformat(
        timespec="seconds")


def load_or_fit_model(config: Config, store: Store, force: bool = False,
                      on_refit: Callable[[int], None] | None = None) -> TfidfModel:
    """The persisted TF-IDF model, refitted on every stored paper when missing, stale
    (`TfidfModel.needs_refit`) or when `force` is set; its matrix cache is brought up to date
    on the way (`recommender.matrix_cache.refresh`, which calls `on_refit(n_papers)` before a
    refit).

    Raises:
        ValueError: the store holds no papers.
        recommender.tfidf.EmptyVocabulary: (a ValueError) the stored papers give TF-IDF no term
            (only stop words, say); nothing is saved. A digest then says `NO_VOCABULARY`.
    """
    from recommender.matrix_cache import refresh
    # memory-bounded refit (vocabulary on a sample above 40k papers) only when needed; the
    # TF-IDF rows of stored papers are kept next to the model and synced (new papers only)
    model, cache = refresh(store, config.recommender.model_path, config.recommender.refit_days, force=force,
                           on_refit=on_refit)
    log.info("TF-IDF model: %d terms, %d papers in its matrix cache", len(model.terms), len(cache))
    return model


def empty_reason(day: date, n_candidates: int, min_score: float | None, n_failed_sources: int = 0,
                 n_without_terms: int = 0) -> str:
    """One line saying why a digest is empty. Failed sources come first: they are the cause a
    reader can act on, even on a weekend (arXiv announces nothing on Saturdays and Sundays).
    `n_without_terms` of the `n_candidates` had no word the model knows and were not ranked."""
    if n_candidates == 0:
        if n_failed_sources:
            weekend = " (and arXiv announces nothing at weekends)" if day.weekday() >= 5 else ""
            return (f"No new papers: {n_failed_sources} source(s) failed this run{weekend}; "
                    "see `paperbot status`.")
        if day.weekday() >= 5:
            return "No new papers: arXiv announces nothing on Saturdays and Sundays."
        return "No new papers since the last digest (a holiday, or the feeds were quiet)."
    if n_without_terms >= n_candidates:
        return (f"{n_candidates} new papers, none with a word the model knows "
                "(non-English text, or a title without an abstract).")
    if min_score is None:
        return f"{n_candidates} new papers, none to recommend."
    return f"{n_candidates} new papers, none scored above the threshold ({min_score:.2f})."


_NO_CHANNEL_NAMES = ("privategroup", "directmessage")  # what Slack sends as channel_name when it gives none


def channel_title(channel: ChannelConfig, day: date) -> str:
    """A channel digest's title: ``Paper digest · #rl-for-code · 2026-11-21``. The name gets its
    ``#`` whether it was written with one (the config file's ``"#rl-for-code"``) or not (Slack's
    ``channel_name``, ``general``); a channel without a real name is shown by its id."""
    name = (channel.name or "").strip()
    if not name.lstrip("#") or name in _NO_CHANNEL_NAMES:
        label = channel.id
    else:
        label = name if name.startswith("#") else f"#{name}"
    return f"Paper digest · {label} · {day.isoformat()}"


def empty_channel_digest(channel: ChannelConfig, day: date, reason: str) -> Digest:
    """A channel's digest with no paper and the one-line `reason`: what a channel gets when the
    store holds nothing to score (no model can be fitted)."""
    return Digest(channel_id=channel.id, title=channel_title(channel, day), date=day.isoformat(),
                  empty_reason=reason)


def channel_digest(channel: ChannelConfig, store: Store, model: TfidfModel, day: date,
                   n_failed_sources: int = 0, candidate_days: int = 7) -> Digest:
    """Score the channel's candidates and return its `Digest` (possibly empty, with a reason).

    The profile is `recommender.profiles.profile_for_channel` (config follows plus the ones
    stored by ``/papers subscribe``, and feedback on the channel's digests)."""
    profile = profile_for_channel(store, channel)
    return profile_digest(channel.id, channel_title(channel, day), profile, store, model, day, channel.min_score,
                          channel.max_papers, n_failed_sources, candidate_days,
                          no_profile="This channel follows no curated collection or keyword yet.",
                          no_terms="None of this channel's follows has a word the model knows (e.g. a "
                                   "keyword in Chinese, or only stop words): follow a curated collection "
                                   "or an English keyword with `/papers subscribe`.")


def profile_digest(target_id: str, title: str, profile: Profile, store: Store, model: TfidfModel,
                   day: date, min_score: float | None, max_papers: int, n_failed_sources: int = 0,
                   candidate_days: int = 7, no_profile: str = "Nothing to rank against yet.",
                   no_terms: str = NO_TERMS) -> Digest:
    """Rank the candidates `target_id` (a channel, or a user for a DM digest) has not been sent
    against `profile`; keep those scoring ≥ `min_score`, at most `max_papers`.

    The digest is empty with the reason `no_profile` when the profile has no paper at all, and
    with `no_terms` when none of its papers or keywords has a word the model knows (its query
    would be only the negated background: `recommender.scoring.NoKnownTerms`).

    A candidate with no word the model knows (an empty TF-IDF row,
    `recommender.ranker.rows_with_terms`) has no text evidence and is never recommended: its
    text score of exactly 0 would outrank most on-topic papers, whose scores are mostly below 0.
    It still counts in ``n_candidates`` and is reported in ``n_without_terms``."""
    curated = store.curated_ids()
    exclude = curated | store.sent_paper_ids(target_id)
    since = candidate_window_start(candidate_days)
    pool = _MEMO.candidate_set(store, model, since)
    candidates, cand_rows, cand_meta = pool.without(exclude)
    n_new = len(candidates)
    has_terms = rows_with_terms(cand_rows)
    if not has_terms.all():
        keep = np.flatnonzero(has_terms)
        candidates, cand_rows, cand_meta = [candidates[i] for i in keep], cand_rows[keep], cand_meta.subset(keep)
    digest = Digest(channel_id=target_id, title=title, date=day.isoformat(), n_candidates=n_new,
                    n_without_terms=n_new - len(candidates), follows=profile.follows)
    if not profile.all_positives:
        digest.empty_reason = no_profile
        return digest
    # the background is the feed stored before the candidate window (curated papers kept out),
    # shared by every digest of the hour
    background = _MEMO.background(store, model, curated, since)
    try:
        ranked = rank_profile(model, profile.positives, candidates, profile.negatives, profile.likes, background,
                              explain_top=max_papers, candidate_matrix=cand_rows, candidate_meta=cand_meta)
    except NoKnownTerms:
        digest.empty_reason = no_terms
        return digest
    digest.items = [r for r in ranked if min_score is None or r.score >= min_score][:max_papers]
    if not digest.items:
        digest.empty_reason = empty_reason(day, n_new, min_score, n_failed_sources, digest.n_without_terms)
    return digest
