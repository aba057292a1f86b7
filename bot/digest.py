"""The digest a channel (or a person) receives: what the recommender picked, ready to render."""
from __future__ import annotations

from dataclasses import dataclass, field

from recommender.scoring import Recommendation


@dataclass
class Digest:
    """One digest.

    Fields:
        channel_id: Slack channel (or user id for a DM digest).
        title: header line (``Paper digest · #rl · 2026-06-30``).
        date: the slot's date ``YYYY-MM-DD``.
        items: recommendations, best first (already cut to the channel's max papers).
        n_candidates: how many new papers the digest chose from (including `n_without_terms`).
        n_without_terms: how many of them were left out unscored because their text has no word
            the model knows (an empty TF-IDF row: non-English text, a title without abstract).
        follows: the collections/keywords the digest was scored against (for the header).
        empty_reason: when `items` is empty, one line saying why (weekend, nothing above threshold).
    """

    channel_id: str
    title: str
    date: str
    items: list[Recommendation] = field(default_factory=list)
    n_candidates: int = 0
    n_without_terms: int = 0
    follows: list[str] = field(default_factory=list)
    empty_reason: str | None = None

    @property
    def counts(self) -> str:
        """``10 recommended of 130 new papers``, plus ``(2 not ranked: no word the model knows)``
        when some candidates had no known term."""
        out = f"{len(self.items)} recommended of {self.n_candidates} new papers"
        if self.n_without_terms:
            out += f" ({self.n_without_terms} not ranked: no word the model knows)"
        return out

    @property
    def summary(self) -> str:
        """Plain one-line summary, unescaped (the notification text once `bot.blocks.fallback_text`
        has escaped and cut it)."""
        if not self.items:
            return f"{self.title}: {self.empty_reason or 'nothing new'}"
        return f"{self.title}: {self.counts}" + (f" for {', '.join(self.follows)}" if self.follows else "")
