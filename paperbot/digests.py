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
from recommender.scoring import rank
from recommender.tfidf import TfidfModel, paper_text
from store import Store

log = logging.getLogger(__name__)


def load_or_fit_model(config: Config, store: Store, force: bool = False) -> TfidfModel:
    """The persisted TF-IDF model, refitted on every stored paper when missing, stale
    (`TfidfModel.needs_refit`) or when `force` is set.

    Raises:
        ValueError: the store holds no papers.
    """
    n = store.count_papers()
    model = None if force else TfidfModel.load(config.recommender.model_path)
    if model is None or model.needs_refit(n, config.recommender.refit_days):
        texts = [paper_text(p.title, p.abstract) for p in store.iter_papers()]
        model = TfidfModel.fit(texts)
        model.save(config.recommender.model_path)
        log.info("fitted TF-IDF on %d papers (%d terms)", len(texts), len(model.terms))
    return model


def empty_reason(day: date, n_candidates: int, min_score: float, n_failed_sources: int = 0) -> str:
    """One line saying why a digest is empty."""
    if n_candidates == 0:
        if day.weekday() >= 5:
            return "No new papers: arXiv announces nothing on Saturdays and Sundays."
        if n_failed_sources:
            return f"No new papers: {n_failed_sources} source(s) failed this run (see `paperbot status`)."
        return "No new papers since the last digest (a holiday, or the feeds were quiet)."
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
                   day: date, min_score: float, max_papers: int, n_failed_sources: int = 0,
                   candidate_days: int = 7, no_profile: str = "Nothing to rank against yet.") -> Digest:
    """Rank the candidates `target_id` (a channel, or a user for a DM digest) has not been sent
    against `profile`; keep those scoring ≥ `min_score`, at most `max_papers`."""
    since = (datetime.now(timezone.utc) - timedelta(days=candidate_days)).isoformat(timespec="seconds")
    exclude = store.curated_ids() | store.sent_paper_ids(target_id)
    candidates = [p for p in store.papers_first_seen_since(since) if p.arxiv_id not in exclude]
    digest = Digest(channel_id=target_id, title=title, date=day.isoformat(),
                    n_candidates=len(candidates), follows=profile.follows)
    if not profile.positives:
        digest.empty_reason = no_profile
        return digest
    ranked = rank(model, profile.positives, candidates, profile.negatives)
    digest.items = [r for r in ranked if r.score >= min_score][:max_papers]
    if not digest.items:
        digest.empty_reason = empty_reason(day, len(candidates), min_score, n_failed_sources)
    return digest
