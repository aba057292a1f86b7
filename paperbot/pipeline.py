"""The main job: poll → store → TF-IDF score → digest → post (or print).

`run_once` is what ``paperbot run --once`` and ``paperbot demo`` execute. Delivery is
idempotent per digest key (channel + slot): the intent is stored before posting and the Slack
``ts`` after, so a second run for the same slot does not post again.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from slack_sdk.errors import SlackApiError

from bot.digest import Digest
from bot.posting import TRANSPORT_ERRORS, DeliveryUncertain, PostResult, SlackPoster, TerminalPoster
from bot.slack_client import TOKEN_ERRORS, describe_error, error_code, make_client, transport_reason
from feeds.http import Fetcher
from paperbot.channels import channel_today, posted_under_date_key, run_slot, with_stored_settings
from paperbot.config import ChannelConfig, Config
from paperbot.curated_import import sync_configured_curated
from paperbot.digests import NO_VOCABULARY, channel_digest, empty_channel_digest, empty_reason, load_or_fit_model
from paperbot.poll import SourceOutcome, poll_all
from paperbot.recovery import UNCERTAIN, digest_key, in_flight, is_abandoned, owner_id, recover_channel
from recommender.tfidf import EmptyVocabulary
from store import Store

log = logging.getLogger(__name__)

# Slack error codes that say "not now" rather than "never": the rate limit, and the server-side
# failures chat.postMessage documents (https://api.slack.com/methods/chat.postMessage#errors).
TRANSIENT_ERROR_CODES = frozenset({"ratelimited", "internal_error", "fatal_error", "service_unavailable",
                                   "request_timeout"})


@dataclass
class DeliveryOutcome:
    """What happened to one channel's digest."""

    channel_id: str
    status: str  # posted | printed | skipped-duplicate | skipped-empty | skipped-paused | failed | uncertain
    n_papers: int = 0  # papers that reached Slack (all of the digest's, unless a thread reply failed)
    ts: str | None = None
    error: str | None = None  # one clear line (for `failed`/`uncertain`)
    digest: Digest | None = None
    error_code: str | None = None  # Slack's error code when Slack refused (``channel_not_found``)
    detail: str | None = None  # the clear explanation of `error` (what happened, what to do)
    n_unposted: int = 0  # papers of a failed thread reply: not shown, left for the next digest

    @property
    def retryable(self) -> bool:
        """True when trying the same slot again later may succeed: the digest is ``uncertain``
        (the history could not be read), or ``failed`` without a clear refusal — Slack was
        unreachable, answered 5xx, or kept rate-limiting (`TRANSIENT_ERROR_CODES`). False for a
        refusal such as ``channel_not_found`` or ``invalid_auth``, which would fail the same way.
        `bot.scheduler.DigestScheduler` retries such slots."""
        if self.status == "uncertain":
            return True
        return self.status == "failed" and (self.error_code is None or self.error_code in TRANSIENT_ERROR_CODES)


@dataclass
class RunReport:
    """Everything one `run_once` did."""

    sources: list[SourceOutcome] = field(default_factory=list)
    deliveries: list[DeliveryOutcome] = field(default_factory=list)
    n_papers: int = 0
    curated_errors: list[tuple[str, str]] = field(default_factory=list)  # (configured file, why not imported)
    curated_removed: dict[str, int] = field(default_factory=dict)  # collection -> papers no file lists any more


def make_poster(config: Config) -> SlackPoster | TerminalPoster:
    """A Slack poster when ``SLACK_BOT_TOKEN`` is set, else a terminal printer."""
    token = config.slack_bot_token
    if not token:
        return TerminalPoster()
    return SlackPoster(make_client(token, config.slack_api_url), config.slack.post_interval_s)


def deliver(store: Store, channel: ChannelConfig, digest: Digest, poster, slot: str,
            settle_pending: bool = True) -> DeliveryOutcome:
    """Post (or print) one digest exactly once for its key ``channel:slot``.

    Protocol: the intent is recorded (`Store.begin_digest`, status ``pending``) before
    chat.postMessage, and the message ``ts`` as soon as Slack returns it (`Store.finish_digest`).
    Every ``pending`` row a crash left for the channel is settled from the channel history first
    (`paperbot.recovery.recover_channel`; skipped with ``settle_pending=False`` when the caller
    already did it before building the digest): posted → recorded, not posted → released (this
    digest is posted), unknown → left pending and this slot reported ``uncertain``, never posted
    twice. Each message of the digest in Slack (the main message, every thread reply) is
    recorded with the papers it shows (`Store.add_message_papers`, under the channel Slack put
    it in), whatever poster posts it, so a reaction counts for exactly those papers. Papers
    bound for thread replies count as sent only once their reply is posted (a
    crash or a failed reply hands them to the next digest; a crash in the instant between a
    reply landing and its record may show those few papers twice, never lose them).

    Slack errors (``channel_not_found``, ``not_in_channel``, ``invalid_auth``, …) are recorded
    as a failed digest (its papers return to the next digest) and returned with a clear message,
    not raised, so other channels go on.
    """
    key = digest_key(channel.id, slot)
    out = DeliveryOutcome(channel.id, "posted", len(digest.items), digest=digest)
    if not digest.items and channel.when_empty == "skip":
        out.status = "skipped-empty"
        return out
    if isinstance(poster, TerminalPoster):  # a dry run records nothing
        poster.post_digest(digest)
        out.status = "printed"
        return out
    uncertain: list[str] = []
    if isinstance(poster, SlackPoster) and settle_pending:
        uncertain = [d for o, d in recover_channel(store, poster, channel.id) if o == UNCERTAIN and d]
    existing = store.get_digest(key)
    if existing and existing["status"] == "pending" and not is_abandoned(existing):
        out.status, out.ts = "skipped-duplicate", None
        log.warning("digest %s is being posted by another worker; not posting it here", key)
        return out
    if existing and existing["status"] == "pending" and isinstance(poster, SlackPoster):
        out.status = "uncertain"
        out.error = uncertain[-1] if uncertain else (
            f"digest {key} is still pending: whether it was posted could not be confirmed from the "
            "channel history; not posting it again (checked again next run)")
        return out
    if existing and existing["status"] in ("posted", "pending"):
        out.status = "skipped-duplicate"
        out.ts = existing["message_ts"]
        log.warning("digest %s already %s; not posting again", key, existing["status"])
        return out
    with in_flight(key):  # recovery elsewhere must not take our pending row for a crash
        digest_id, row, created = store.claim_digest(key, channel.id, slot,
                                                     [(r.paper.arxiv_id, r.score, r.why) for r in digest.items],
                                                     owner=owner_id())
        if not created:  # another worker claimed this slot between our check and our claim
            out.status, out.ts = "skipped-duplicate", row.get("message_ts")
            return out

        rows = {r.paper.arxiv_id: (r.paper.arxiv_id, i, r.score, r.why) for i, r in enumerate(digest.items)}

        def on_posted(ts: str, overflow_ids: list[str]) -> None:
            # record the ts the moment Slack returns it; papers bound for the thread count as
            # shown only once their reply is posted, so a crash before then hands them to the
            # next digest instead of leaving them marked sent but never shown
            with store.transaction():
                store.finish_digest(digest_id, ts)
                store.release_digest_papers(digest_id, overflow_ids)

        def on_reply(ids: list[str]) -> None:
            store.restore_digest_papers(digest_id, channel.id, [rows[a] for a in ids])

        def on_message(where: str, ts: str, ids: list[str]) -> None:
            # which papers this very message shows: a reaction on it counts for exactly those
            store.add_message_papers(where, ts, ids)

        try:
            if isinstance(poster, SlackPoster):
                res: PostResult = poster.post_digest(digest, key=key, on_posted=on_posted, on_reply=on_reply,
                                                       on_message=on_message)
            else:
                res = poster.post_digest(digest)
        except DeliveryUncertain as exc:
            log.error("digest %s: %s", key, exc)
            out.status, out.error = "uncertain", str(exc)
            return out
        except SlackApiError as exc:
            code = error_code(exc)
            status = getattr(exc.response, "status_code", None) if exc.response is not None else None
            err = describe_error(code, channel.id) if code else f"Slack answered HTTP {status}"
            store.finish_digest(digest_id, None, status="failed", error=code or err)
            log.error("posting digest %s failed: %s", key, err)
            out.status, out.error, out.error_code, out.detail = "failed", code or err, code, err
            return out
        except TRANSPORT_ERRORS as exc:  # not posted (checked in the history) after every attempt
            err = f"cannot reach Slack: {transport_reason(exc)}"[:300]
            store.finish_digest(digest_id, None, status="failed", error=err)
            log.error("posting digest %s failed: %s", key, err)
            out.status, out.error = "failed", err
            return out
        store.finish_digest(digest_id, res.ts, ",".join(res.thread_ts) or None, error=res.error)
        if res.unposted:  # a thread reply failed: those papers were never restored, so they go to the next digest
            log.warning("digest %s: %d papers of a failed thread reply released to the next digest",
                        key, len(res.unposted))
            out.n_unposted = len(res.unposted)
            out.n_papers = len(digest.items) - out.n_unposted
    out.ts = res.ts
    if res.error:
        out.error = res.error
    return out


def run_once(config: Config, store: Store, poster=None, fetcher: Fetcher | None = None,
             today: date | None = None, on_refit: Callable[[int], None] | None = None) -> RunReport:
    """Poll every source, refresh the model, build and deliver each config channel's digest once.

    Curated files named in the config are imported first and each of their categories' collection
    synced to them (`sync_configured_curated`: papers no file lists any more are removed, counted
    in `RunReport.curated_removed`); a file that cannot be imported is reported in
    `RunReport.curated_errors` and the run goes on (polling, digests).
    When the store holds no paper at all, or only papers that give TF-IDF no term (only stop
    words: `EmptyVocabulary`, so no model can be fitted; `paperbot.digests.NO_VOCABULARY`), each
    channel gets an empty digest with its one-line reason (or nothing, with ``when_empty =
    "skip"``). `on_refit(n_papers)` is called before the TF-IDF model is refitted (see
    `load_or_fit_model`). Channels added from Slack
    (`/papers subscribe`) and DM digests are posted by `paperbot serve`'s scheduler, not here.
    A channel paused from Slack (``/papers digest off``) gets nothing, its outcome
    ``skipped-paused``, until ``/papers digest on``. Schedule, time zone and size set from Slack
    take precedence over the config file's (`paperbot.channels.with_stored_settings`), and each
    digest is keyed to the day's first scheduled slot (`paperbot.channels.run_slot`, the slot
    `paperbot serve` posts at; the date on a day the schedule does not fire), so a run and the
    bot never post the same day's digest twice, and a second run that day posts nothing. Without
    `today`, each channel's day is the date in its own time zone (`paperbot.channels.channel_today`).
    """
    given, today = today, today or date.today()
    report = RunReport()
    report.curated_errors, report.curated_removed = sync_configured_curated(store, config.curated_files)
    report.sources = poll_all(config, store, fetcher, today=today)
    report.n_papers = store.count_papers()
    failed = sum(1 for s in report.sources if s.error)
    # no paper at all, or no word to fit a model on: every channel still hears why it is empty
    model, no_model = None, None
    if report.n_papers:
        try:
            model = load_or_fit_model(config, store, on_refit=on_refit)
        except EmptyVocabulary as exc:
            log.warning("every digest is empty: %s", exc)
            no_model = NO_VOCABULARY
    poster = poster or make_poster(config)
    token_error: DeliveryOutcome | None = None
    for configured in config.channels:
        # the schedule / time zone / size set from Slack apply here as in `paperbot serve`
        channel = with_stored_settings(configured, store.get_channel(configured.id))
        if token_error is not None:  # the token is refused: every call would fail the same way
            report.deliveries.append(DeliveryOutcome(channel.id, "failed", error=token_error.error,
                                                     error_code=token_error.error_code,
                                                     detail=f"not attempted: {token_error.detail}"))
            continue
        paused_at = store.digest_paused_since(channel.id)
        if paused_at:
            report.deliveries.append(DeliveryOutcome(
                channel.id, "skipped-paused",
                detail=f"paused with /papers digest off since {paused_at}; /papers digest on resumes it"))
            continue
        if isinstance(poster, SlackPoster):
            # settle digests a crash left pending first, so released papers are candidates again
            recover_channel(store, poster, channel.id)
        day = given or channel_today(channel)  # the channel's own date: the day serve posts for
        slot = run_slot(channel, day)
        legacy = posted_under_date_key(store, channel.id, day) if slot != day.isoformat() else None
        if legacy:  # the day is delivered already: no digest to build
            report.deliveries.append(DeliveryOutcome(channel.id, "skipped-duplicate", ts=legacy["message_ts"]))
            continue
        if model is None:
            digest = empty_channel_digest(channel, day,
                                          no_model or empty_reason(day, 0, channel.min_score, failed))
        else:
            digest = channel_digest(channel, store, model, day, failed, config.recommender.candidate_days)
        outcome = deliver(store, channel, digest, poster, slot, settle_pending=False)
        report.deliveries.append(outcome)
        if outcome.error_code in TOKEN_ERRORS:
            token_error = outcome
            log.error("not posting to the other channels: %s", outcome.error)
    return report
