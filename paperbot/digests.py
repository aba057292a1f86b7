"""Building digests (store → recommender → Digest): pick, score and cut each channel's papers.

A channel's or a person's positives/negatives come from `recommender.profiles` (collections,
keywords as a pseudo-document, followed authors, 👍/👎).
Candidates are papers first stored within `recommender.candidate_days` that are not curated and
that the channel has not already been sent.
"""
from __future__ import annotations

import logging
from datetime import date, datetime, timedelta, timezone

from bot.digest import Digest
from paperbot.config import ChannelConfig, Config
from recommender.profiles import Profile, profile_for_channel
from recommender.scoring import rank_profile
from recommender.tfidf import TfidfModel
from store import Store

log = logging.getLogger(__name__)

BACKGROUND_SIZE = 2000  # papers in the ranker's background sample (as in the evaluation)


def load_or_fit_model(config: Config, store: Store, force: bool = False) -> TfidfModel:
    """The persisted TF-IDF model, refitted on every stored paper when missing, stale
    (`TfidfModel.needs_refit`) or when `force` is set; its matrix cache is brought up to date
    on the way (`recommender.matrix_cache.refresh`).

    Raises:
        ValueError: the store holds no papers.
    """
    from recommender.matrix_cache import refresh
    # memory-bounded refit (vocabulary on a sample above 40k papers) only when needed; the
    # TF-IDF rows of stored papers are kept next to the model and synced (new papers only)
    model, cache = refresh(store, config.recommender.model_path, config.recommender.refit_days, force=force)
    log.info("TF-IDF model: %d terms, %d papers in its matrix cache", len(model.terms), len(cache))
    return model


def empty_reason(day: date, n_candidates: int, min_score: float | None, n_failed_sources: int = 0) -> str:
    """One line saying why a digest is empty."""
    if n_candidates == 0:
        if day.weekday() >= 5:
            return "No new papers: arXiv announces nothing on Saturdays and Sundays."
        if n_failed_sources:
            return f"No new papers: {n_failed_sources} source(s) failed this run (see `paperbot status`)."
        return "No new papers since the last digest (a holiday, or the feeds were quiet)."
    if min_score is None:
        return f"{n_candidates} new papers, none to recommend."
    return f"{n_candidates} new papers, none scored above the threshold ({min_score:.2f})."


def channel_digest(channel: ChannelConfig, store: Store, model: TfidfModel, day: date,
                   n_failed_sources: int = 0, candidate_days: int = 7) -> Digest:
    """Score the channel's candidates and return its `Digest` (possibly empty, with a reason).

    The profile is `recommender.profiles.profile_for_channel` (config follows plus the ones
    stored by ``/papers subscribe``, and feedback on the channel's digests)."""
    title = f"Paper digest · {channel.name or channel.id} · {day.isoformat()}"
    profile = profile_for_channel(store, channel)
    return profile_digest(channel.id, title, profile, store, model, day, channel.min_score,
                          channel.max_papers, n_failed_sources, candidate_days,
                          no_profile="This channel follows no curated collection or keyword yet.")


def profile_digest(target_id: str, title: str, profile: Profile, store: Store, model: TfidfModel,
                   day: date, min_score: float | None, max_papers: int, n_failed_sources: int = 0,
                   candidate_days: int = 7, no_profile: str = "Nothing to rank against yet.") -> Digest:
    """Rank the candidates `target_id` (a channel, or a user for a DM digest) has not been sent
    against `profile`; keep those scoring ≥ `min_score`, at most `max_papers`."""
    since = (datetime.now(timezone.utc) - timedelta(days=candidate_days)).isoformat(timespec="seconds")
    curated = store.curated_ids()
    exclude = curated | store.sent_paper_ids(target_id)
    candidates = [p for p in store.papers_first_seen_since(since) if p.arxiv_id not in exclude]
    digest = Digest(channel_id=target_id, title=title, date=day.isoformat(),
                    n_candidates=len(candidates), follows=profile.follows)
    if not profile.all_positives:
        digest.empty_reason = no_profile
        return digest
    # the background is the feed at large: curated and profile papers are kept out of it
    background = store.sample_papers(BACKGROUND_SIZE, exclude=curated | {p.arxiv_id for p in profile.all_positives})
    ranked = rank_profile(model, profile.positives, candidates, profile.negatives, profile.likes, background)
    digest.items = [r for r in ranked if min_score is None or r.score >= min_score][:max_papers]
    if not digest.items:
        digest.empty_reason = empty_reason(day, len(candidates), min_score, n_failed_sources)
    return digest
