"""Profiles: the positive and negative papers a channel's or a person's digest is scored against.

Built from the store every time (so recorded feedback is the whole update, see
`recommender.feedback`):

- channel: papers of the curated collections it follows (config + ``/papers subscribe``), its
  keywords as one pseudo-paper (Rocchio-style query expansion), and its members' votes on its
  digests taken together (`recommender.feedback.net`: each member's latest vote counts once, more
  👍 than 👎 makes a positive, more 👎 a negative, a tie nothing).
- user: papers of followed collections, keywords as a pseudo-paper, stored papers by followed
  authors (the newest `AUTHOR_PAPERS` of each; the whole name must match one author of the
  paper after `feeds.records.norm_author`, so following "Wei Li" does not bring in Wei Liu or
  Zhiwei Li: `Store.author_paper_ids`), every paper the user 👍 (buttons, reactions, ``/papers
  like``); the user's 👎 are negatives.

The production scorer (`recommender.scoring.rank_profile`, i.e. `recommender.ranker.Profile`) takes
``profile.positives`` (weight 1), ``profile.likes`` (each through `Profile.add_feedback`, the 👍
weight) and ``profile.negatives``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from feeds.records import Paper
from recommender import feedback
from recommender.tfidf import TfidfModel
from store import Store

log = logging.getLogger(__name__)

AUTHOR_PAPERS = 20
KEYWORDS_ID = "keywords"


class ChannelLike(Protocol):
    """Anything with a channel `id`, `collections` and `keywords` (e.g. `ChannelConfig`)."""

    id: str
    collections: list[str]
    keywords: list[str]


@dataclass
class Profile:
    """Positives/negatives to score against, and `follows` (human-readable, for headers)."""

    positives: list[Paper] = field(default_factory=list)
    negatives: list[Paper] = field(default_factory=list)
    follows: list[str] = field(default_factory=list)
    likes: list[Paper] = field(default_factory=list)

    @property
    def all_positives(self) -> list[Paper]:
        """Curated/followed positives, then the 👍 papers."""
        return self.positives + self.likes


def keyword_paper(keywords: list[str]) -> Paper:
    """The pseudo-paper standing for a list of keywords (title and abstract = the keywords).

    A keyword with no word the TF-IDF model knows (Chinese, only stop words) gives an all-zero
    row: it adds nothing to the profile, and a profile made only of such rows cannot be ranked
    against (`recommender.scoring.NoKnownTerms`; its digest is empty and says why)."""
    text = " ".join(keywords)
    return Paper(arxiv_id=KEYWORDS_ID, title=text, abstract=text)


def _collect(store: Store, collections: list[str], keywords: list[str], votes: dict[str, int],
             extra_ids: list[str] = ()) -> Profile:
    positive_ids: list[str] = []
    for name in collections:
        ids = store.collection_ids(name)
        if not ids:
            log.warning("profile follows unknown or empty collection %r", name)
        positive_ids += ids
    positive_ids += list(extra_ids)
    like_ids = [a for a, v in votes.items() if v > 0]
    negative_ids = {a for a, v in votes.items() if v < 0}
    positive_ids = [a for a in dict.fromkeys(positive_ids) if a not in negative_ids and a not in like_ids]
    papers = store.get_papers(positive_ids + like_ids)
    positives = [papers[a] for a in positive_ids if a in papers]
    if keywords:
        positives.append(keyword_paper(keywords))
    likes = [papers[a] for a in like_ids if a in papers]
    negatives = list(store.get_papers(sorted(negative_ids)).values())
    follows = list(collections) + [f'"{k}"' for k in keywords]
    return Profile(positives, negatives, follows, likes)


def profile_for_channel(store: Store, channel: ChannelLike) -> Profile:
    """The channel's profile: its collections and keywords (config merged with stored follows by
    the caller, or stored follows added here) and feedback given on its digests."""
    stored = store.follows(channel.id)
    collections = list(dict.fromkeys([*channel.collections, *stored.get("collection", [])]))
    keywords = list(dict.fromkeys([*channel.keywords, *stored.get("keyword", [])]))
    return _collect(store, collections, keywords, feedback.net(store, channel_id=channel.id))


def profile_for_user(store: Store, user_id: str) -> Profile:
    """A person's profile from their follows (collections, keywords, authors) and all their 👍/👎."""
    f = store.follows(user_id)
    author_ids: list[str] = []
    for name in f.get("author", []):
        author_ids += store.author_paper_ids(name, limit=AUTHOR_PAPERS)  # whole name, not a substring
    prof = _collect(store, f.get("collection", []), f.get("keyword", []),
                    feedback.net(store, user_id=user_id), author_ids)
    prof.follows += [f"author {a}" for a in f.get("author", [])]
    return prof


def top_terms(model: TfidfModel | None, profile: Profile, n: int = 10) -> list[str]:
    """The `n` heaviest TF-IDF terms of the profile's positive centroid ([] without a model or
    positives)."""
    if model is None or not profile.all_positives:
        return []
    centroid = np.asarray(model.papers_matrix(profile.all_positives).mean(axis=0)).ravel()
    order = np.argsort(-centroid)[:n]
    terms = model.terms
    return [str(terms[i]) for i in order if centroid[i] > 0]
