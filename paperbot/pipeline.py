"""The main job: poll → store → TF-IDF score → digest → post (or print).

`run_once` is what ``paperbot run --once`` and ``paperbot demo`` execute. Delivery is
idempotent per digest key (channel + slot): the intent is stored before posting and the Slack
``ts`` after, so a second run for the same slot does not post again.
"""
from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from slack_sdk.errors import SlackApiError

from bot.digest import Digest
from bot.posting import TRANSPORT_ERRORS, DeliveryUncertain, PostResult, SlackPoster, TerminalPoster
from bot.slack_client import TOKEN_ERRORS, describe_error, error_code, make_client, transport_reason
from feeds.arxiv_api import ArxivAPIClient, ArxivAPIError, ArxivAPIRejected
from feeds.curated import CURATED_SOURCE, CuratedFormatError, collection_name, load_curated, where
from feeds.http import Fetcher, FetchError
from paperbot.channels import run_slot, with_stored_settings
from paperbot.config import ChannelConfig, Config
from paperbot.digests import channel_digest, empty_channel_digest, empty_reason, load_or_fit_model
from paperbot.poll import SourceOutcome, poll_all
from paperbot.recovery import UNCERTAIN, digest_key, in_flight, is_abandoned, owner_id, recover_channel
from store import Store

log = logging.getLogger(__name__)

# Slack error codes that say "not now" rather than "never": the rate limit, and the server-side
# failures chat.postMessage documents (https://api.slack.com/methods/chat.postMessage#errors).
TRANSIENT_ERROR_CODES = frozenset({"ratelimited", "internal_error", "fatal_error", "service_unavailable",
                                   "request_timeout"})


# ids per arXiv API look-up: the API takes up to 2,000 results a call, but a long id_list makes a
# long URL; 100 is what `ArxivAPIClient.by_ids` sends too
LOOKUP_BATCH = 100
NOT_ON_ARXIV = "not on arXiv"


@dataclass
class ImportReport:
    """Result of importing a curated database file."""

    collections: dict[str, int] = field(default_factory=dict)  # name -> papers added
    errors: list[tuple[str, int, str]] = field(default_factory=list)  # (section, position, reason)
    papers: int = 0  # usable entries whose paper is stored (imported now or already there)
    removed: dict[str, int] = field(default_factory=dict)  # name -> papers removed (replace=True)
    not_synced: list[str] = field(default_factory=list)  # collections only added to (a bad entry)
    ids: dict[str, list[str]] = field(default_factory=dict)  # name -> the file's stored arXiv ids, in order
    unresolved: dict[str, str] = field(default_factory=dict)  # bare arXiv id -> why no paper was found
    from_store: int = 0  # bare ids found in the store
    fetched: int = 0  # bare ids fetched from the arXiv API (and stored)


@dataclass
class Resolution:
    """What `resolve_ids` found: `fetched` the ids fetched from the arXiv API and stored now,
    `from_store` those already stored, `unresolved` ``{id: why}`` for the rest."""

    from_store: list[str] = field(default_factory=list)
    fetched: list[str] = field(default_factory=list)
    unresolved: dict[str, str] = field(default_factory=dict)


def resolve_ids(store: Store, ids: list[str], arxiv: ArxivAPIClient | None = None,
                batch: int = LOOKUP_BATCH, on_lookup: Callable[[int], None] | None = None) -> Resolution:
    """Make sure the papers of `ids` (arXiv ids without version) are stored: first from the
    store, then, with `arxiv`, through the arXiv API ``id_list`` look-up, `batch` ids a call
    (≤ 100) on that client, so its pacing (≥ 3 s between calls, retries included), retries and
    429/5xx handling (`feeds.http.Fetcher`) apply. A fetched paper is stored at once, with the
    source ``curated`` (a background source: an old paper does not become new in a digest).

    Never raises for the API: an id the API answers without (``not on arXiv``) is unresolved; an
    id list the API refuses with its error feed (a malformed id) is split in halves until the
    refused id is alone; a network failure (after the fetcher's retries) or an answer that is
    not Atom leaves that batch unresolved and stops the look-ups (the rest are reported
    ``not looked up``), so a down or throttling arXiv is not asked again and again. Without
    `arxiv`, ids not stored are unresolved (``not in the database``). `on_lookup(n)` is called
    before the first API call with the number of ids to look up. Database errors are raised.
    """
    ids = list(dict.fromkeys(ids))
    stored = store.get_papers(ids)
    out = Resolution(from_store=[a for a in ids if a in stored])
    missing = [a for a in ids if a not in stored]
    if not missing:
        return out
    if arxiv is None:
        out.unresolved = {a: "not in the database; not looked up on arXiv" for a in missing}
        return out
    if on_lookup is not None:
        on_lookup(len(missing))
    batch = max(1, min(batch, LOOKUP_BATCH))
    queue = [missing[i:i + batch] for i in range(0, len(missing), batch)]
    failure: str | None = None
    while queue:
        chunk = queue.pop(0)
        if failure is not None:
            out.unresolved.update({a: f"not looked up after the arXiv API failed ({failure})" for a in chunk})
            continue
        try:
            papers = arxiv.by_ids(chunk)
        except ArxivAPIRejected as exc:
            if len(chunk) > 1:  # one id of the list is refused: find it, look the others up
                half = len(chunk) // 2
                queue[:0] = [chunk[:half], chunk[half:]]
                continue
            out.unresolved[chunk[0]] = f"arXiv refused it: {_api_reason(exc)}"
            continue
        except (ArxivAPIError, FetchError) as exc:
            failure = _api_reason(exc)
            log.warning("arXiv API look-up failed; %d ids left unresolved: %s",
                        len(chunk) + sum(len(c) for c in queue), failure)
            out.unresolved.update({a: f"arXiv API failed: {failure}" for a in chunk})
            continue
        wanted = set(chunk)
        found = {p.arxiv_id: dataclasses.replace(p, sources=[CURATED_SOURCE])
                 for p in papers if p.arxiv_id in wanted}
        if found:
            store.upsert_papers(found.values())
        out.fetched += [a for a in chunk if a in found]
        out.unresolved.update({a: NOT_ON_ARXIV for a in chunk if a not in found})
    return out


def _api_reason(exc: Exception) -> str:
    """One short line for an arXiv API failure (a `FetchError` without its URL)."""
    text = exc.reason if isinstance(exc, FetchError) else str(exc)
    return text.removeprefix("arXiv API error: ")[:200]


def import_curated(store: Store, path: str, replace: bool = False, arxiv: ArxivAPIClient | None = None,
                   collection: str | None = None, batch: int = LOOKUP_BATCH,
                   on_lookup: Callable[[int], None] | None = None) -> ImportReport:
    """Import a curated database file (`feeds.curated`: paper objects and/or bare arXiv ids per
    section) into collections: one per section, named by `feeds.curated.collection_name`, or
    all into `collection` when it is given.

    Paper objects are stored as they are; bare ids are resolved by `resolve_ids` (the store,
    then the arXiv API when `arxiv` is given; `batch` ids a call, `on_lookup` as there). An id
    that cannot be resolved is reported in `ImportReport.unresolved` and left out; the rest
    lands. Bad entries are reported (section, position, reason) and skipped.

    By default papers are only added. With `replace`, each collection is made to hold exactly
    the file's stored papers of it (`Store.sync_collection`; counts in `ImportReport.removed`),
    except one with a bad entry, whose paper cannot be told (added to only, listed in
    `ImportReport.not_synced`); an unresolved id does not hold the sync back (its paper is not
    stored, so it is in no collection). Collections the file does not name are left alone.

    Raises:
        feeds.curated.CuratedFormatError / OSError: the file as a whole is unusable.
    """
    parsed = load_curated(path)
    report = ImportReport(errors=parsed.errors)
    objects = [p for papers in parsed.collections.values() for p in papers]
    if objects:
        store.upsert_papers(objects)
    found = resolve_ids(store, parsed.bare_ids(), arxiv, batch, on_lookup)
    report.from_store, report.fetched, report.unresolved = len(found.from_store), len(found.fetched), found.unresolved
    name_of = (lambda section: collection) if collection else collection_name
    targets: dict[str, list[str]] = {}
    for section, ids in parsed.ids.items():
        kept = [a for a in ids if a not in found.unresolved]
        report.papers += len(kept)
        targets.setdefault(name_of(section), []).extend(kept)
    bad = {name_of(section) for section, _, _ in parsed.errors}
    for name, ids in targets.items():
        ids = report.ids[name] = list(dict.fromkeys(ids))
        if replace and name not in bad:
            report.collections[name], report.removed[name] = store.sync_collection(name, ids)
        else:
            report.collections[name] = store.add_to_collection(name, ids)
            if replace:
                report.not_synced.append(name)
    return report


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


def import_configured_curated(store: Store, path: str) -> tuple[str | None, ImportReport | None]:
    """Import one curated file named in the config's ``[curated] files`` (adding papers only).

    Returns ``(problem, report)``: problem is None when the file went in, else one line saying
    why not (missing, unreadable, not a curated database, no usable paper); report is the
    `ImportReport` whenever the file could be read. Bad entries of a usable file are logged
    (warning) and skipped. Bare arXiv ids are resolved from the store only (a run makes no
    arXiv API look-ups: `paperbot import` does); those not stored are logged and left out.
    Never raises for the file itself, so one bad file cannot cost the run
    its polls (rss.arxiv.org does not replay a missed day); database errors are raised as usual.
    `sync_configured_curated` builds on it to also remove what the files no longer list."""
    try:
        rep = import_curated(store, path)
    except FileNotFoundError:
        return ("no such file; point [curated] files at your group's curated database, in the "
                "format of paperbot/data/papers_database.sample.json"), None
    except IsADirectoryError:
        return "is a folder, not a curated database file", None
    except OSError as exc:
        return f"cannot read it: {exc.strerror or exc}", None
    except CuratedFormatError as exc:
        return str(exc), None
    for cat, pos, reason in rep.errors:
        log.warning("curated %s: skipped %s: %s", path, where(cat, pos), reason)
    if rep.unresolved:
        shown = ", ".join(list(rep.unresolved)[:10]) + (", …" if len(rep.unresolved) > 10 else "")
        log.warning("curated %s: %d arXiv ids are not in the store and left out (%s); a run looks ids "
                    "up only there: `paperbot import %s` fetches them from the arXiv API",
                    path, len(rep.unresolved), shown, path)
    if rep.papers == 0:
        skipped = f", {len(rep.errors)} entries or categories skipped" if rep.errors else ""
        missing = (f", {len(rep.unresolved)} arXiv ids not in the store (`paperbot import FILE` "
                   "fetches them from arXiv)" if rep.unresolved else "")
        return (f"no usable paper in it{skipped}{missing}; the format is "
                "{category: [papers or arXiv ids]}"), rep
    return None, rep


def sync_configured_curated(store: Store, paths: list[str]) -> tuple[list[tuple[str, str]], dict[str, int]]:
    """Import the config's ``[curated] files`` and make each category's collection (named by
    `feeds.curated.collection_name`) hold exactly the union of that category's stored papers
    over all the files (in file order): a paper the group
    deleted from its file leaves the collection, so it stops shaping the channels' profiles.

    Returns ``(problems, removed)``: one ``(path, why)`` per file that could not be imported (as
    `import_configured_curated` says it) and ``{collection: papers removed}`` for collections
    that lost papers. Removal is held back where the files cannot say what a collection should
    hold: when any file could not be imported (its categories are unknown) nothing is removed,
    and a category with a bad entry in any file is only added to (the entry's paper is
    unknown). Collections of categories no file holds (e.g. from ``paperbot import``) are left
    alone. Never raises for a file; database errors are raised as usual.
    """
    problems: list[tuple[str, str]] = []
    union: dict[str, list[str]] = {}
    bad: set[str] = set()
    for path in paths:
        problem, rep = import_configured_curated(store, path)
        if problem:
            problems.append((path, problem))
            continue
        for name, ids in rep.ids.items():
            union.setdefault(name, []).extend(ids)
        bad |= {collection_name(cat) for cat, _, _ in rep.errors}
    removed: dict[str, int] = {}
    if problems:
        if union:
            log.warning("curated: %d configured file(s) could not be imported; no paper is removed "
                        "from a collection this run", len(problems))
        return problems, removed
    for name, ids in union.items():
        if name in bad:
            log.warning("curated: collection %s keeps papers its files no longer list, because an "
                        "entry of it could not be read", name)
            continue
        _, n = store.sync_collection(name, ids)
        if n:
            log.info("curated: %d papers removed from collection %s (no configured file lists them)", n, name)
            removed[name] = n
    return problems, removed


def run_once(config: Config, store: Store, poster=None, fetcher: Fetcher | None = None,
             today: date | None = None, on_refit: Callable[[int], None] | None = None) -> RunReport:
    """Poll every source, refresh the model, build and deliver each config channel's digest once.

    Curated files named in the config are imported first and each of their categories' collection
    synced to them (`sync_configured_curated`: papers no file lists any more are removed, counted
    in `RunReport.curated_removed`); a file that cannot be imported is reported in
    `RunReport.curated_errors` and the run goes on (polling, digests).
    When the store holds no paper at all, each channel gets an empty digest with its one-line
    reason (or nothing, with ``when_empty = "skip"``). `on_refit(n_papers)` is called before the
    TF-IDF model is refitted (see `load_or_fit_model`). Channels added from Slack
    (`/papers subscribe`) and DM digests are posted by `paperbot serve`'s scheduler, not here.
    A channel paused from Slack (``/papers digest off``) gets nothing, its outcome
    ``skipped-paused``, until ``/papers digest on``. Schedule, time zone and size set from Slack
    take precedence over the config file's (`paperbot.channels.with_stored_settings`), and each
    digest is keyed to the day's first scheduled slot (`paperbot.channels.run_slot`, the slot
    `paperbot serve` posts at; the date on a day the schedule does not fire), so a run and the
    bot never post the same day's digest twice, and a second run that day posts nothing.
    """
    today = today or date.today()
    report = RunReport()
    report.curated_errors, report.curated_removed = sync_configured_curated(store, config.curated_files)
    report.sources = poll_all(config, store, fetcher, today=today)
    report.n_papers = store.count_papers()
    failed = sum(1 for s in report.sources if s.error)
    # no paper at all: nothing to fit a model on, but every channel still hears why it is empty
    model = load_or_fit_model(config, store, on_refit=on_refit) if report.n_papers else None
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
        if model is None:
            digest = empty_channel_digest(channel, today, empty_reason(today, 0, channel.min_score, failed))
        else:
            digest = channel_digest(channel, store, model, today, failed, config.recommender.candidate_days)
        slot = run_slot(channel, today)
        legacy = store.get_digest(digest_key(channel.id, today.isoformat())) if slot != today.isoformat() else None
        if legacy and legacy["status"] == "posted":  # posted today by a paperbot that keyed run --once by date
            report.deliveries.append(DeliveryOutcome(channel.id, "skipped-duplicate", ts=legacy["message_ts"]))
            continue
        outcome = deliver(store, channel, digest, poster, slot, settle_pending=False)
        report.deliveries.append(outcome)
        if outcome.error_code in TOKEN_ERRORS:
            token_error = outcome
            log.error("not posting to the other channels: %s", outcome.error)
    return report
