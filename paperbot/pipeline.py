"""The main job: poll → store → TF-IDF score → digest → post (or print).

`run_once` is what ``paperbot run --once`` and ``paperbot demo`` execute. Delivery is
idempotent per digest key (channel + slot): the intent is stored before posting and the Slack
``ts`` after, so a second run for the same slot does not post again.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date

from slack_sdk.errors import SlackApiError

from bot.digest import Digest
from bot.posting import PostResult, SlackPoster, TerminalPoster
from bot.slack_client import make_client
from feeds.curated import load_curated
from feeds.http import Fetcher
from paperbot.config import ChannelConfig, Config
from paperbot.digests import channel_digest, load_or_fit_model
from paperbot.poll import SourceOutcome, poll_all
from store import Store

log = logging.getLogger(__name__)


@dataclass
class ImportReport:
    """Result of importing a curated database file."""

    collections: dict[str, int] = field(default_factory=dict)  # name -> papers added
    errors: list[tuple[str, int, str]] = field(default_factory=list)  # (category, position, reason)


def import_curated(store: Store, path: str) -> ImportReport:
    """Import a seed-format curated database into collections named after its categories.

    Bad entries are reported (category, position, reason) and skipped; the rest is imported.

    Raises:
        feeds.curated.CuratedFormatError / OSError: the file as a whole is unusable.
    """
    parsed = load_curated(path)
    report = ImportReport(errors=parsed.errors)
    for name, papers in parsed.collections.items():
        store.upsert_papers(papers)
        report.collections[name] = store.add_to_collection(name, [p.arxiv_id for p in papers])
    return report


@dataclass
class DeliveryOutcome:
    """What happened to one channel's digest."""

    channel_id: str
    status: str  # posted | printed | skipped-duplicate | skipped-empty | failed
    n_papers: int = 0
    ts: str | None = None
    error: str | None = None
    digest: Digest | None = None


@dataclass
class RunReport:
    """Everything one `run_once` did."""

    sources: list[SourceOutcome] = field(default_factory=list)
    deliveries: list[DeliveryOutcome] = field(default_factory=list)
    n_papers: int = 0


def make_poster(config: Config) -> SlackPoster | TerminalPoster:
    """A Slack poster when ``SLACK_BOT_TOKEN`` is set, else a terminal printer."""
    token = config.slack_bot_token
    if not token:
        return TerminalPoster()
    return SlackPoster(make_client(token, config.slack_api_url), config.slack.post_interval_s)


def deliver(store: Store, channel: ChannelConfig, digest: Digest, poster, slot: str) -> DeliveryOutcome:
    """Post (or print) one digest exactly once for its key ``channel:slot``.

    Slack errors (``channel_not_found``, ``not_in_channel``, ``invalid_auth``, …) are recorded
    as a failed digest and returned, not raised, so other channels go on.
    """
    key = f"{channel.id}:{slot}"
    out = DeliveryOutcome(channel.id, "posted", len(digest.items), digest=digest)
    if not digest.items and channel.when_empty == "skip":
        out.status = "skipped-empty"
        return out
    if isinstance(poster, TerminalPoster):  # a dry run records nothing
        poster.post_digest(digest)
        out.status = "printed"
        return out
    existing = store.get_digest(key)
    if existing and existing["status"] in ("posted", "pending"):
        out.status = "skipped-duplicate"
        out.ts = existing["message_ts"]
        log.warning("digest %s already %s; not posting again", key, existing["status"])
        return out
    digest_id, _ = store.begin_digest(key, channel.id, slot,
                                      [(r.paper.arxiv_id, r.score, r.why) for r in digest.items])
    try:
        res: PostResult = poster.post_digest(digest)
    except SlackApiError as exc:
        err = exc.response.get("error") if exc.response is not None else str(exc)
        store.finish_digest(digest_id, None, status="failed", error=str(err))
        log.error("posting digest to %s failed: %s", channel.id, err)
        out.status, out.error = "failed", str(err)
        return out
    store.finish_digest(digest_id, res.ts, ",".join(res.thread_ts) or None)
    out.ts = res.ts
    return out


def run_once(config: Config, store: Store, poster=None, fetcher: Fetcher | None = None,
             today: date | None = None) -> RunReport:
    """Poll every source, refresh the model, build and deliver each channel's digest once.

    Curated files named in the config are imported first (idempotent).
    """
    today = today or date.today()
    for path in config.curated_files:
        rep = import_curated(store, path)
        for cat, pos, reason in rep.errors:
            log.warning("curated %s[%s] #%d skipped: %s", path, cat, pos, reason)
    report = RunReport()
    report.sources = poll_all(config, store, fetcher, today=today)
    report.n_papers = store.count_papers()
    failed = sum(1 for s in report.sources if s.error)
    if report.n_papers == 0:
        return report
    model = load_or_fit_model(config, store)
    poster = poster or make_poster(config)
    for channel in config.channels:
        digest = channel_digest(channel, store, model, today, failed, config.recommender.candidate_days)
        report.deliveries.append(deliver(store, channel, digest, poster, today.isoformat()))
    return report
