"""The running bot's services: what Slack listeners and the scheduler call (orchestration layer).

`PaperbotService` joins config, store, feeds, recommender and the Slack poster:

- channels = config channels merged with channels created by ``/papers subscribe`` (their
  follows live in the store; schedule/time zone/max papers/min score come from the config, or
  the defaults for a channel created from Slack; ``/papers digest schedule|size|timezone``
  stores a channel's own values, which then take precedence over the config file — except a
  stored schedule firing more often than once an hour, which only an older paperbot accepted:
  the config's (or the default) schedule is used instead and each scheduler sync logs it;
  ``/papers digest off|on`` pauses / resumes a channel's scheduled digest, stored on its row:
  a paused channel has no scheduler job, while ``/papers digest now`` still posts);
- DM digests for users whose ``dm_digest`` setting is on, scored with their own profile, on
  their own schedule, size and time zone (user settings, weekdays 09:00 UTC by default);
- scheduled and on-demand digests (polling first when the last poll is older than
  `poll_max_age_s`), delivered once per slot through `paperbot.pipeline.deliver`;
- search, ``like`` (fetching unknown papers through the arXiv API client), the App Home data.
"""
from __future__ import annotations

import dataclasses
import logging
import threading
import time
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from bot.blocks import escape_mrkdwn, escape_within
from bot.commands_parser import USAGES, UsageError, check_keywords, match_collection, parse_arxiv_id
from bot.digest import Digest
from bot.home import NO_TERMS_NO_PAPERS, NO_TERMS_NO_VOCABULARY, NO_TERMS_UNKNOWN_WORDS, HomeData, no_terms_text
from bot.posting import SlackPoster
from bot.scheduler import DigestScheduler, Target, cron_trigger, describe_gap, schedule_gap
from feeds.arxiv_api import ArxivAPIClient, ArxivAPIError
from feeds.http import FetchError, Stopped
from feeds.records import Paper, norm_author
from paperbot.channels import posted_under_date_key, usable_schedule, with_stored_settings
from paperbot.config import DEFAULT_SCHEDULE, ChannelConfig, Config
from paperbot.digests import (NO_VOCABULARY, channel_digest, empty_channel_digest, load_or_fit_model,
                              profile_digest)
from paperbot.pipeline import DeliveryOutcome, deliver
from paperbot.curated_import import sync_configured_curated
from paperbot.poll import poll_all
from paperbot.recovery import digest_key, is_abandoned, recover_channel
from recommender import feedback
from recommender.profiles import profile_for_user, top_terms
from recommender.search import PaperNotStored, SearchHit, more_like, paper_and_similar, search
from recommender.tfidf import EmptyVocabulary, TfidfModel
from store import LOOKUP_SOURCE, Store, utcnow

log = logging.getLogger(__name__)

DM_PREFIX = "dm:"
DM_SETTING = "dm_digest"
DM_SINCE_SETTING = "dm_digest_since"  # when the DM digest was last turned on (UTC ISO-8601)
DM_SCHEDULE_SETTING = "digest_schedule"
DM_SIZE_SETTING = "digest_size"
TZ_SETTING = "timezone"
DIGEST_SETTINGS = ("schedule", "max_papers", "timezone")  # what /papers digest … may change
DM_MAX_PAPERS = 10
DM_MIN_SCORE = None  # personal digests: always the top papers
SHUTTING_DOWN = "paperbot is shutting down; try again once it is back"  # a look-up cut short by `begin_shutdown`
NO_PAPERS_STORED = "No papers stored yet (feeds not polled)."  # a digest's reason while the store is empty
NO_PAPERS_TO_SEARCH = ("No papers are stored yet, so there is nothing to search: the feeds have not been "
                       "polled (the first poll after `paperbot serve` starts takes a few minutes). Whoever runs "
                       "paperbot can fill the store with `paperbot run --once` or `paperbot import-corpus FILE`.")


def _shown(value: str) -> str:
    """A followed value (as the user typed it) for a mrkdwn reply: escaped, at most 200 characters
    (https://api.slack.com/reference/surfaces/formatting#escaping)."""
    return escape_within(value, 200)


def not_stored_reply(arxiv_id: str) -> str:
    """The answer to ``/papers search <arXiv id>`` when that paper is not stored (mrkdwn, the id
    escaped): say so and point to ``/papers like``, which fetches it from the arXiv API."""
    aid = _shown(arxiv_id)
    return (f"{aid} is not stored, so there is nothing to show or compare it with. `/papers like {aid}` "
            "fetches it from arXiv (and records your 👍); search for it again after that.")


class ServiceError(RuntimeError):
    """A user-facing failure (unknown paper, arXiv unreachable, …); the message is shown as is."""

    @property
    def user_message(self) -> str:
        """The text shown to the Slack user."""
        return str(self)


class ServiceRefusal(ServiceError):
    """A command understood but deliberately not carried out, for a reason the user can act on
    (a near miss of a collection name: did you mean …?; a search while no paper is stored).
    Nothing was changed; `user_reply` is the whole answer (mrkdwn, user values escaped), shown
    as is rather than as a failure."""

    @property
    def user_reply(self) -> str:
        """The text shown to the Slack user."""
        return str(self)


def _names_list(names) -> str:
    """``a``, ``a or b``, ``a, b or c`` of collection names, each as `` `name` ``."""
    shown = [f"`{_shown(n)}`" for n in names]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " or " + shown[-1]


def _code_value(value: str) -> str:
    """A typed value inside a suggested command's code span (escaped, no backticks)."""
    return _shown(value.replace("`", ""))


def _suggested(sub: str, names) -> str:
    """The command that (un)subscribes the one suggested collection, or the form to use with
    one of several: `` `/papers subscribe rlhf_code` ``, `` `/papers subscribe <name>` ``."""
    return f"`/papers {sub} {_code_value(names[0])}`" if len(names) == 1 else f"`/papers {sub} <name>` with one of them"


class PaperbotService:
    """Everything the Slack listeners and the scheduler need.

    Args:
        config: the loaded configuration.
        store: the open store.
        poster: what delivers digests (a `bot.posting.SlackPoster` in `paperbot serve`).
        arxiv: the arXiv API client used by ``/papers like`` for unknown papers and by the polls'
            arXiv API queries (one pacer for both).
        poll_max_age_s: a digest run polls the feeds first when the last poll is older
            (None: never poll from digest runs).
        grace_s: catch-up window for missed slots (see `bot.scheduler`).
        stopping: the shutdown event (`begin_shutdown` sets it); `arxiv` should sleep with
            `feeds.http.stoppable_sleep` of the same event, as ``paperbot serve`` builds it.
    """

    def __init__(self, config: Config, store: Store, poster, arxiv: ArxivAPIClient | None = None,
                 poll_max_age_s: float | None = 900, grace_s: int | None = None,
                 stopping: threading.Event | None = None):
        self.config = config
        self.stopping = stopping or threading.Event()
        self.store = store
        self.poster = poster
        self.arxiv = arxiv
        self.poll_max_age_s = poll_max_age_s
        self._model: TfidfModel | None = None
        self._model_lock = threading.Lock()
        self._no_vocabulary_seq: int | None = None  # Store.change_seq when a fit last found no term
        self._poll_lock = threading.Lock()
        self._last_poll: float | None = None
        self._failed_sources = 0
        kw = {"grace_s": grace_s} if grace_s is not None else {}
        self.scheduler = DigestScheduler(self.targets, stopping=self.stopping, **kw)

    # ---- model and polling ---------------------------------------------------------------
    def model(self) -> TfidfModel | None:
        """The TF-IDF model (loaded or fitted once, refitted after a poll); None with no papers.

        Raises:
            EmptyVocabulary: the stored papers give TF-IDF no term (only stop words, say). The
                failure is remembered with the store's `Store.change_seq`: until a paper is
                stored or changed, later calls raise at once instead of reading and fitting every
                paper again (each digest of a scheduler run, each App Home view and search would).
        """
        with self._model_lock:
            if self._model is None and self.store.count_papers():
                seq = self.store.change_seq()  # read before the fit reads the papers: a later write exceeds it
                if seq == self._no_vocabulary_seq:
                    raise EmptyVocabulary("the stored papers give TF-IDF no term (unchanged since the last fit)")
                try:
                    self._model = load_or_fit_model(self.config, self.store)
                except EmptyVocabulary as exc:
                    self._no_vocabulary_seq = seq
                    log.warning("%s: digests are empty and searches rank by BM25 alone until papers with other "
                                "words are stored", exc)
                    raise
            return self._model

    def _model_or_none(self) -> TfidfModel | None:
        """`model`, or None when the stored papers give TF-IDF no term (`EmptyVocabulary`):
        searches then rank by BM25 alone instead of failing (the App Home, `home_data`, tells
        this case apart to say why it shows no profile terms)."""
        try:
            return self.model()
        except EmptyVocabulary:
            return None

    def _digest_model(self) -> tuple[TfidfModel | None, str]:
        """``(model, "")``, or ``(None, why every digest is empty)``: `NO_PAPERS_STORED`, or
        `paperbot.digests.NO_VOCABULARY` when the stored papers give TF-IDF no term."""
        try:
            model = self.model()
        except EmptyVocabulary:
            return None, NO_VOCABULARY
        return model, "" if model is not None else NO_PAPERS_STORED

    def _invalidate_model(self) -> None:
        with self._model_lock:
            self._model = None
            self._matrix = None

    def _matrix_for(self, model: TfidfModel | None):
        """The matrix cache saved next to `model` (loaded once per model), or None."""
        if model is None:
            return None
        with self._model_lock:
            cached = getattr(self, "_matrix", None)
            if cached is None or cached[0] is not model:
                from recommender.matrix_cache import MatrixCache, cache_path_for
                self._matrix = (model, MatrixCache.load(cache_path_for(self.config.recommender.model_path), model))
            return self._matrix[1]

    def import_curated(self) -> None:
        """Import the configured curated files and sync their collections to them
        (`paperbot.curated_import.sync_configured_curated`: papers no file lists any more leave the
        collection); a bad file is logged, not raised."""
        try:
            problems, removed = sync_configured_curated(self.store, self.config.curated_files)
        except Exception as exc:  # a bad curated file (or a store hiccup) must not stop digests
            log.error("curated files: %s", exc)
            return
        for path, why in problems:
            log.error("curated file %s: %s", path, why)
        for name, n in removed.items():
            log.warning("curated collection %s: %d papers removed (no configured file lists them)", name, n)

    def start_background_poll(self) -> threading.Thread | None:
        """Poll every source once in a background thread (on start-up, so ``/papers search`` has
        papers before the first digest); None when polling is off."""
        if self.poll_max_age_s is None:
            return None
        thread = threading.Thread(target=self._maybe_poll, name="paperbot-initial-poll", daemon=True)
        thread.start()
        return thread

    def poll(self) -> int:
        """Import curated files and poll every source (one poll at a time); returns the number
        of failed sources."""
        with self._poll_lock:
            self._poll_locked()
        self._invalidate_model()
        return self._failed_sources

    def _poll_locked(self) -> None:
        self.import_curated()
        # the arXiv client of `/papers like`, so its pacer spaces the poll's API requests and the
        # look-ups alike (one request at a time, 3 s apart)
        outcomes = poll_all(self.config, self.store, api_client=self.arxiv, stop=self.stopping)
        self._last_poll = time.monotonic()
        self._failed_sources = sum(1 for o in outcomes if o.error)

    def begin_shutdown(self) -> None:
        """Start shutting down: a poll stops before its next source or wait between requests
        (`paperbot.poll.poll_all`; a digest under way then ranks what is stored), an arXiv
        look-up waiting its turn gives up (`ensure_paper`), and no failed slot is scheduled for a
        retry. The caller then stops the scheduler (``scheduler.shutdown``), which waits for the
        digests under way."""
        self.stopping.set()

    def _maybe_poll(self) -> None:
        """Poll when the last poll is older than `poll_max_age_s`; the age is checked under the
        poll lock, so a start-up poll and a catch-up digest do not both poll."""
        if self.poll_max_age_s is None:
            return
        with self._poll_lock:
            stale = self._last_poll is None or time.monotonic() - self._last_poll > self.poll_max_age_s
            if stale:
                self._poll_locked()
        if stale:
            self._invalidate_model()

    # ---- channels and targets ------------------------------------------------------------
    def channel_configs(self) -> list[ChannelConfig]:
        """Config channels (with any schedule / time zone / size set from Slack on their stored
        row taking precedence), then channels created by ``/papers subscribe`` that still follow
        a collection or keyword (defaults, or the settings stored on their row). A channel that
        unsubscribed from everything has no digest (its stored settings are kept for a later
        ``/papers subscribe``)."""
        rows = {r["channel_id"]: r for r in self.store.channels()}
        following = self.store.subjects_following()
        out = [with_stored_settings(c, rows.get(c.id)) for c in self.config.channels]
        known = {c.id for c in out}
        for row in rows.values():
            if row["channel_id"] in known or row["channel_id"] not in following:
                continue
            tz = row.get("timezone") or "UTC"
            out.append(ChannelConfig(
                id=row["channel_id"], name=row.get("name") or "",
                schedule=usable_schedule(row.get("schedule"), tz, DEFAULT_SCHEDULE), timezone=tz,
                max_papers=row.get("max_papers") or 10,
                min_score=row["min_score"] if row.get("min_score") is not None else None))
        return out

    def channel_config(self, channel_id: str) -> ChannelConfig | None:
        """The effective settings of one channel, or None if it gets no digest."""
        return next((c for c in self.channel_configs() if c.id == channel_id), None)

    def dm_users(self) -> list[str]:
        """Users with the personal DM digest on."""
        return self.store.users_with_setting(DM_SETTING, True)

    def digest_paused_since(self, channel_id: str) -> str | None:
        """When the channel's scheduled digest was paused (``/papers digest off``; UTC ISO-8601
        seconds, ``2026-11-22T10:00:00+00:00``), or None while it runs."""
        return self.store.digest_paused_since(channel_id)

    def targets(self) -> list[Target]:
        """What the scheduler runs: every channel whose scheduled digest is not paused (with
        catch-up limited to slots after it was last resumed and, for a channel created with
        ``/papers subscribe``, after it subscribed — again, when it had unsubscribed from
        everything: both stamp ``digest_resumed_at``), and a DM digest per opted-in
        user (on the user's ``digest_schedule`` in their ``timezone`` setting; weekdays 09:00
        UTC by default; catch-up limited to slots after the digest was turned on)."""
        rows = {r["channel_id"]: r for r in self.store.channels()}
        out = [Target(c.id, c.schedule, c.timezone,
                      run=lambda slot, cid=c.id: self.run_channel_digest(cid, slot),
                      done=lambda slot, cid=c.id: self.digest_done(cid, slot),
                      since=_parse_utc(rows.get(c.id, {}).get("digest_resumed_at")))
               for c in self.channel_configs() if not rows.get(c.id, {}).get("digest_paused_at")]
        for t in out:
            _warn_refused(t.key, rows[t.key].get("schedule") if t.key in rows else None, t.schedule, t.timezone)
        for uid in self.dm_users():
            schedule, tz, _ = self._digest_settings(uid, False)
            settings = self.store.user_settings(uid)
            _warn_refused(DM_PREFIX + uid, settings.get(DM_SCHEDULE_SETTING), schedule, tz)
            out.append(Target(DM_PREFIX + uid, schedule, tz,
                              run=lambda slot, u=uid: self.run_user_digest(u, slot),
                              done=lambda slot, u=uid: self.digest_done(u, slot),
                              since=_parse_utc(settings.get(DM_SINCE_SETTING))))
        return out

    def digest_done(self, target_id: str, slot: str) -> bool:
        """True when the store has a posted digest of `target_id` for `slot`, or a pending one
        that a live worker may still be posting. A pending intent its owner abandoned (the
        process was killed around chat.postMessage) is not done: the run settles it from the
        history first (found → recorded, not posted again; not found → posted now), so a
        restart catches up the slot instead of leaving it to the next one."""
        row = self.store.get_digest(digest_key(target_id, slot))
        if not row:
            return self._day_posted_by_date_key(target_id, slot)
        return row["status"] == "posted" or (row["status"] == "pending" and not is_abandoned(row))

    def _day_posted_by_date_key(self, channel_id: str, slot: str) -> bool:
        """True when the digest of a channel for the slot's day (in the channel's time zone) is
        posted under a date key (`paperbot.channels.posted_under_date_key`); False for a user's
        DM digest, which only the bot posts."""
        ch = self.channel_config(channel_id)
        return ch is not None and posted_under_date_key(self.store, channel_id,
                                                        self._slot_day(slot, ch.timezone)) is not None

    def _resync(self) -> None:
        if self.scheduler.scheduler.running:
            self.scheduler.sync()

    # ---- digests -------------------------------------------------------------------------
    @staticmethod
    def _slot_day(slot: str, tz: str) -> date:
        try:
            return datetime.fromisoformat(slot).astimezone(ZoneInfo(tz)).date()
        except ValueError:
            return datetime.now(ZoneInfo(tz)).date()

    def _settle_pending(self, target_id: str) -> None:
        """Settle the digests a crash left pending for `target_id` (`recover_channel`) before its
        next digest is built: a digest found not posted releases its papers, which must be
        candidates of the digest built now, not of the one after (by then they may have left the
        candidate window)."""
        if isinstance(self.poster, SlackPoster):
            recover_channel(self.store, self.poster, target_id)

    def run_channel_digest(self, channel_id: str, slot: str) -> DeliveryOutcome:
        """Build and deliver one channel's digest for `slot` (at most once per slot), after
        settling the channel's digests a crash left pending.

        Raises:
            ServiceError: the channel has no digest configured or subscribed.
        """
        ch = self.channel_config(channel_id)
        if ch is None:
            raise ServiceError("this channel has no digest yet: `/papers subscribe <collection | keywords>` first")
        self._maybe_poll()
        self._settle_pending(channel_id)
        model, no_model = self._digest_model()
        day = self._slot_day(slot, ch.timezone)
        if model is None:
            digest = empty_channel_digest(ch, day, no_model)
        else:
            digest = channel_digest(ch, self.store, model, day, self._failed_sources,
                                    self.config.recommender.candidate_days)
        return deliver(self.store, ch, digest, self.poster, slot, settle_pending=False)

    def run_user_digest(self, user_id: str, slot: str) -> DeliveryOutcome:
        """Build and deliver a personal digest by DM (posted to the user id), once per slot,
        after settling the user's DM digests a crash left pending."""
        settings = self.store.user_settings(user_id)
        tz = settings.get(TZ_SETTING) or "UTC"
        size = int(settings.get(DM_SIZE_SETTING) or DM_MAX_PAPERS)
        self._maybe_poll()
        self._settle_pending(user_id)
        model, no_model = self._digest_model()
        day = self._slot_day(slot, tz)
        title = f"Your paper digest · {day}"
        target = ChannelConfig(id=user_id, name="you", max_papers=size, min_score=DM_MIN_SCORE)
        if model is None:
            digest = Digest(channel_id=user_id, title=title, date=day.isoformat(), empty_reason=no_model)
        else:
            digest = profile_digest(user_id, title, profile_for_user(self.store, user_id), self.store, model,
                                    day, DM_MIN_SCORE, size, self._failed_sources,
                                    self.config.recommender.candidate_days,
                                    no_profile="Your profile is empty: `/papers follow author …`, "
                                               "`/papers subscribe …` in a DM with me, or 👍 some papers.",
                                    no_terms="None of your follows or 👍 papers has a word the model knows "
                                             "(e.g. a keyword in Chinese): follow a curated collection or an "
                                             "English keyword with `/papers subscribe …` in a DM with me.")
        return deliver(self.store, target, digest, self.poster, slot, settle_pending=False)

    # ---- follows -------------------------------------------------------------------------
    def _follow_values(self, value: str, keywords_only: bool = False,
                       collection_only: bool = False) -> tuple[str, list[str]]:
        """``("collection", [name])`` when `value` names a stored collection
        (`bot.commands_parser.match_collection`: exactly, or up to case and ``-``/``_``/spaces),
        else ``("keyword", [comma-separated parts])``; only the latter with `keywords_only`,
        only the former with `collection_only`. The names come first, so a collection named
        ``C++``, ``🤖`` or ``the`` is followed although it would be refused as keywords
        (`bot.commands_parser.check_keywords`).

        Raises:
            ServiceRefusal: `value` is a near miss of a collection name (or names several), or
                it is keywords one of which has no word to match papers on (only stop words,
                emoji or mentions; the parser's message, escaped), or with `collection_only` it
                names no collection (the reply ends with the ``subscribe`` usage line).
        """
        if collection_only:
            found = match_collection(value, self.store.collections())
            if found.name is None:
                raise ServiceRefusal(f"There is no collection “{_shown(value)}”. "
                                     + escape_mrkdwn(USAGES["subscribe"]))
            return "collection", [found.name]
        try:
            check_keywords(value)
            no_keywords = None
        except UsageError as exc:
            no_keywords = exc
        if not keywords_only:
            found = match_collection(value, self.store.collections())
            if found.name is not None:
                return "collection", [found.name]
            if found.close:
                instead = "" if no_keywords else (f"; to follow your words as keywords instead: "
                                                  f"`/papers subscribe keywords {_code_value(value)}`")
                raise ServiceRefusal(
                    f"There is no collection “{_shown(value)}”: did you mean {_names_list(found.close)}? "
                    f"{_suggested('subscribe', found.close)} follows it{instead}. Nothing was changed.")
        if no_keywords is not None:
            raise ServiceRefusal(escape_mrkdwn(str(no_keywords)))
        words = [w.strip() for w in value.split(",") if w.strip()]
        return "keyword", list(dict.fromkeys(words))

    def subscribe(self, subject_id: str, value: str, is_channel: bool, channel_name: str = "",
                  keywords_only: bool = False, collection_only: bool = False) -> str:
        """Follow a curated collection or keywords (comma-separated; only keywords with
        `keywords_only`, ``/papers subscribe keywords …``; only a collection with
        `collection_only`, ``/papers subscribe keywords`` alone) for a channel (creating its
        digest) or a user. A collection is named exactly or up to case and ``-``/``_``/spaces
        (``RLHF-Code`` follows ``rlhf_code``). Returns the reply text.

        Raises:
            ServiceRefusal: `value` nearly names a collection (``rlhf_cod``): nothing is followed,
                the reply suggests the collection and ``/papers subscribe keywords …``; or it names
                no collection and is no keywords either (one has no word to match papers on,
                ``the``, or there is none, ``, ,``): nothing is followed, the reply says which;
                or with `collection_only` it names no collection: the usage line.
        """
        kind, values = self._follow_values(value, keywords_only, collection_only)
        if is_channel and self.channel_config(subject_id) is None:
            # the channel's digest starts now (first subscription, or again after it followed
            # nothing): a restart must not catch up a slot that fell before (`targets`: `Target.since`)
            self.store.upsert_channel(subject_id, name=channel_name or "", digest_resumed_at=utcnow())
        added = [v for v in values if self.store.add_follow(subject_id, kind, v)]
        self._resync()
        who = "This channel" if is_channel else "You"
        what = f"collection `{_shown(values[0])}`" if kind == "collection" else \
            "keyword" + ("s " if len(values) > 1 else " ") + ", ".join(f"“{_shown(v)}”" for v in values)
        if not added:
            return f"{who} already follow{'s' if is_channel else ''} {what}."
        msg = f"{who} now follow{'s' if is_channel else ''} {what}."
        if is_channel:
            ch = self.channel_config(subject_id)
            msg += f" Digest schedule: `{ch.schedule}` ({ch.timezone})."
            if self.digest_paused_since(subject_id):
                msg += " " + PAUSED_HINT
        return msg

    def unsubscribe(self, subject_id: str, value: str, is_channel: bool, keywords_only: bool = False,
                    collection_only: bool = False) -> str:
        """Stop following a collection or keywords (only keywords with `keywords_only`,
        ``/papers unsubscribe keywords …``; only a collection with `collection_only`,
        ``/papers unsubscribe keywords`` alone). A followed collection may be named up to case and
        ``-``/``_``/spaces (`bot.commands_parser.match_collection`). A follow the channel's
        config file also has stays in effect (only the file can change it), so the reply says so
        instead of "Unfollowed" — also when a copy stored from Slack was just removed. A channel
        left following nothing (and not in the config file) loses its scheduled digest, and the
        reply says so. When nothing matched, a near miss of a followed collection is suggested.

        Raises:
            ServiceRefusal: with `collection_only`, nothing matched and no followed collection is
                nearly named: the ``unsubscribe`` usage line (the words may have been left out).
        """
        keywords = [] if collection_only else [w.strip() for w in value.split(",") if w.strip()]
        cfg = next((c for c in self.config.channels if c.id == subject_id), None) if is_channel else None
        followed = [*(cfg.collections if cfg else []), *self.store.follows(subject_id).get("collection", [])]
        found = match_collection(value, followed)
        collections = [] if keywords_only else list(dict.fromkeys([value, *([found.name] if found.name else [])]))
        removed = [v for kind, vals in (("collection", collections), ("keyword", keywords)) for v in vals
                   if self.store.remove_follow(subject_id, kind, v)]
        in_config = set(cfg.collections) | set(cfg.keywords) if cfg else set()
        still = [v for v in dict.fromkeys([*collections, *keywords]) if v in in_config]
        gone = [v for v in dict.fromkeys(removed) if v not in in_config]
        if removed:
            self._resync()
        parts = []
        if gone:
            parts.append("Unfollowed " + ", ".join(f"“{_shown(v)}”" for v in gone) + ".")
        if still:
            parts.append(", ".join(f"“{_shown(v)}”" for v in still) +
                         f" comes from the config file ({_shown(self.config.path or 'config')}), so this channel "
                         "still follows it; change it there.")
        if removed and is_channel and self.channel_config(subject_id) is None:
            parts.append("This channel follows nothing now, so it gets no scheduled digest; "
                         "`/papers subscribe <collection | keywords>` starts it again.")
        if parts:
            return " ".join(parts)
        if found.close and not keywords_only:
            return (f"Not following “{_shown(value)}”: did you mean {_names_list(found.close)}? "
                    f"{_suggested('unsubscribe', found.close)} stops it.")
        if collection_only:
            raise ServiceRefusal(f"Not following a collection “{_shown(value)}”. " + escape_mrkdwn(USAGES["unsubscribe"]))
        return f"Not following “{_shown(value)}”. `/papers profile` lists what you follow."

    def channel_follows_text(self, channel_id: str) -> str:
        """What a channel's digest follows (config file and ``/papers subscribe``) as one mrkdwn
        sentence, e.g. ``Follows collection `rlhf_code` (config file), keyword “PPO”.``"""
        ch = self.channel_config(channel_id)
        stored = self.store.follows(channel_id)
        cfg_cols, cfg_kws = (ch.collections, ch.keywords) if ch else ([], [])
        parts = [f"collection `{_shown(c)}`" + (" (config file)" if c in cfg_cols else "")
                 for c in dict.fromkeys([*cfg_cols, *stored.get("collection", [])])]
        parts += [f"keyword “{_shown(k)}”" + (" (config file)" if k in cfg_kws else "")
                  for k in dict.fromkeys([*cfg_kws, *stored.get("keyword", [])])]
        if not parts:
            return "Follows nothing yet: `/papers subscribe` a collection or keywords."
        return "Follows " + ", ".join(parts) + "."

    def follow_author(self, user_id: str, name: str, follow: bool = True) -> str:
        """Follow / unfollow an author (their stored papers count as positives).

        Names are compared as papers' authors are (`feeds.records.norm_author`: any case, dots
        and spacing), so ``MARIE-CLAUDE GAUDEL`` is the follow ``marie-claude gaudel`` already
        made, kept in the form first typed; unfollowing removes every stored spelling of it."""
        target = norm_author(name)
        same = [v for v in self.store.follows(user_id).get("author", []) if norm_author(v) == target]
        if follow:
            if same:
                return f"You already follow {_shown(same[0])}."
            new = self.store.add_follow(user_id, "author", name)
            n = len(self.store.author_paper_ids(name))  # the papers the follow counts (whole name)
            return (f"You now follow {_shown(name)} ({n} stored paper{'s' if n != 1 else ''})." if new
                    else f"You already follow {_shown(name)}.")
        removed = [v for v in same if self.store.remove_follow(user_id, "author", v)]
        return f"Unfollowed {_shown(removed[0])}." if removed else f"You do not follow {_shown(name)}."

    def set_dm_digest(self, user_id: str, on: bool) -> str:
        """Turn the personal DM digest on/off (and (un)schedule it); turning it on stores when
        (``dm_digest_since``), so a restart does not catch up a slot that fell before."""
        if on and not self.store.user_settings(user_id).get(DM_SETTING):
            # catch-up after a restart starts here: a slot before the digest was on had nothing to miss
            self.store.set_user_setting(user_id, DM_SINCE_SETTING, utcnow())
        self.store.set_user_setting(user_id, DM_SETTING, bool(on))
        self._resync()
        if not on:
            return "Personal digest by DM: *off*."
        return ("Personal digest by DM: *on*, ranked by your profile. " + self.digest_settings_text(user_id, False))

    # ---- digest settings (/papers digest schedule|size|timezone) -------------------------
    def _digest_settings(self, subject_id: str, is_channel: bool) -> tuple[str, str, int]:
        """(crontab, IANA time zone, papers per digest) in effect for a channel or a user's DM digest.

        Raises:
            ServiceError: the channel has no digest (nothing subscribed, not in the config).
        """
        if is_channel:
            ch = self.channel_config(subject_id)
            if ch is None:
                raise ServiceError("this channel has no digest yet: `/papers subscribe <collection | keywords>` first")
            return ch.schedule, ch.timezone, ch.max_papers
        st = self.store.user_settings(subject_id)
        tz = st.get(TZ_SETTING) or "UTC"
        return (usable_schedule(st.get(DM_SCHEDULE_SETTING), tz, DEFAULT_SCHEDULE), tz,
                int(st.get(DM_SIZE_SETTING) or DM_MAX_PAPERS))

    def _refused_schedule(self, subject_id: str, is_channel: bool) -> str | None:
        """The schedule stored for a channel or a user's DM digest when it is not the one in
        force (it fires more often than once an hour: `usable_schedule`), else None."""
        stored = ((self.store.get_channel(subject_id) or {}).get("schedule") if is_channel
                  else self.store.user_settings(subject_id).get(DM_SCHEDULE_SETTING))
        return stored if stored and stored != self._digest_settings(subject_id, is_channel)[0] else None

    def digest_schedule_summary(self, subject_id: str, is_channel: bool) -> str:
        """Schedule, time zone, size and the next run as mrkdwn, e.g.
        ``schedule `0 9 * * mon-fri` (Europe/Paris) · 10 papers · next: Mon 2026-11-23 09:00``.

        Raises:
            ServiceError: the channel has no digest yet.
        """
        cron, tz, size = self._digest_settings(subject_id, is_channel)
        paused = self.digest_paused_since(subject_id) if is_channel else None
        try:
            nxt = cron_trigger(cron, tz).get_next_fire_time(None, datetime.now(ZoneInfo(tz)))
            when = f" · next: {nxt:%a %Y-%m-%d %H:%M}" if nxt else ""
        except (ValueError, KeyError):
            when = " · (this schedule is invalid; set a new one)"
        if paused:
            when = " · *paused*" + (f" since {_shown_utc(paused)}" if _parse_utc(paused) else "")
        refused = self._refused_schedule(subject_id, is_channel)
        if refused:  # stored by an older paperbot; shown escaped, it is user text
            when += (f" (the stored schedule `{escape_within(refused, 100)}` fires more often than once an hour, "
                     "so this one is used; `/papers digest schedule …` sets a new one)")
        return f"schedule `{cron}` ({tz}) · {size} paper{'s' if size != 1 else ''}{when}"

    def digest_settings_text(self, subject_id: str, is_channel: bool) -> str:
        """`digest_schedule_summary` as a sentence, then what a channel follows
        (`channel_follows_text`), or a hint when a user's DM digest is off."""
        if is_channel:
            paused = " " + PAUSED_HINT if self.digest_paused_since(subject_id) else ""
            return (self.digest_schedule_summary(subject_id, True) + "." + paused + " "
                    + self.channel_follows_text(subject_id))
        dm_off = "" if self.store.user_settings(subject_id).get(DM_SETTING) else \
            " Your DM digest is off: `/papers digest dm on`."
        return self.digest_schedule_summary(subject_id, False) + "." + dm_off

    def set_digest_setting(self, subject_id: str, is_channel: bool, key: str, value) -> str:
        """Set a channel's or a user's DM digest ``schedule`` (5-field crontab, already parsed by
        `bot.commands_parser.parse_schedule`), ``max_papers`` (int) or ``timezone`` (IANA name),
        reschedule, and return the reply with the settings now in effect.

        A channel's values are stored on its row and override the config file's.

        Raises:
            ValueError: `key` is not one of `DIGEST_SETTINGS`.
            ServiceError: the channel has no digest yet.
        """
        if key not in DIGEST_SETTINGS:
            raise ValueError(f"unknown digest setting {key!r}")
        self._digest_settings(subject_id, is_channel)  # raises for a channel without a digest
        if is_channel:
            self.store.upsert_channel(subject_id, **{key: value})
        else:
            user_key = {"schedule": DM_SCHEDULE_SETTING, "max_papers": DM_SIZE_SETTING, "timezone": TZ_SETTING}[key]
            self.store.set_user_setting(subject_id, user_key, value)
        self._resync()
        who = "This channel's digest" if is_channel else "Your DM digest"
        return f"{who}: " + self.digest_settings_text(subject_id, is_channel)

    def set_digest_paused(self, channel_id: str, paused: bool) -> str:
        """``/papers digest off`` (`paused`) / ``on`` in a channel: pause or resume its scheduled
        digest (stored on the channel's row, `Store.set_digest_paused`, so it survives a
        restart; a config-file channel gets a row), remove or re-add its scheduler job at once,
        and return the reply. ``/papers digest now`` still works while paused.

        Raises:
            ServiceError: the channel has no digest (nothing subscribed, not in the config).
        """
        self._digest_settings(channel_id, True)  # raises for a channel without a digest
        changed = self.store.set_digest_paused(channel_id, paused)
        self._resync()
        if paused:
            return ("Scheduled digests of this channel are *paused*" + ("" if changed else " already") + ". "
                    "`/papers digest on` resumes them; `/papers digest now` still posts one right away. "
                    "(Your own digest by DM is `/papers digest dm on|off`.)")
        return (("Scheduled digests of this channel are *on* again: " if changed else
                 "Scheduled digests of this channel are on: ")
                + self.digest_schedule_summary(channel_id, True) + ".")

    # ---- papers, search, feedback --------------------------------------------------------
    def ensure_paper(self, arxiv_id: str) -> Paper:
        """The stored paper, or its metadata fetched through the arXiv API and stored.

        A fetched paper is stored with the source `LOOKUP_SOURCE` (``lookup``), one of
        `store.store.BACKGROUND_SOURCES`: a look-up is not an announcement, so a years-old paper
        someone likes does not enter every channel's next digest as new (its ``first_seen`` is its
        own v1 day, as for the corpus).

        Raises:
            ServiceError: not found, or the arXiv API failed/unconfigured.
        """
        paper = self.store.get_paper(arxiv_id)
        if paper is not None:
            return paper
        if self.arxiv is None:
            raise ServiceError(f"{arxiv_id} is not stored and the arXiv API is not available")
        try:
            found = [p for p in self.arxiv.by_ids([arxiv_id]) if p.arxiv_id == arxiv_id]
        except (ArxivAPIError, FetchError) as exc:
            raise ServiceError(f"could not fetch {arxiv_id} from the arXiv API ({str(exc)[:120]})") from None
        except Stopped:
            raise ServiceError(f"could not fetch {arxiv_id}: {SHUTTING_DOWN}") from None
        if not found:
            raise ServiceError(f"arXiv has no paper {arxiv_id}")
        found = [dataclasses.replace(p, sources=[LOOKUP_SOURCE]) for p in found]
        self.store.upsert_papers(found)
        self._invalidate_model()
        return found[0]

    def like(self, user_id: str, arxiv_id: str, event_key: str | None) -> tuple[Paper, bool]:
        """👍 a paper by id (fetching it if unknown) through `recommender.feedback.record`."""
        paper = self.ensure_paper(arxiv_id)
        stored = feedback.record(self.store, user_id, paper.arxiv_id, feedback.UP, "like", event_key=event_key)
        return paper, stored

    def search(self, text: str, limit: int = 10) -> list[SearchHit]:
        """`recommender.search.search` with the current model (BM25 alone when there is none, see
        `_model_or_none`; raises its `QueryError`). [] when no stored paper matches.

        A query that is only an arXiv id or an arxiv.org / huggingface.co paper URL
        (`bot.commands_parser.parse_arxiv_id`) finds that stored paper first, then the papers most
        like it (its words — ``https``, ``arxiv``, ``abs`` — would only match unrelated papers).

        Raises:
            ServiceRefusal: no paper is stored at all (`NO_PAPERS_TO_SEARCH`: "no match" would
                mislead), checked only when nothing was found; or the query is the id of a paper
                that is not stored (`not_stored_reply`: ``/papers like`` fetches it).
        """
        aid = parse_arxiv_id(text)
        model = self._model_or_none()
        if aid is not None:
            try:
                hits = paper_and_similar(self.store, model, aid, limit)
            except PaperNotStored:  # before anything is stored, that is the answer to give
                raise ServiceRefusal(not_stored_reply(aid) if self.store.count_papers()
                                     else NO_PAPERS_TO_SEARCH) from None
        else:
            hits = search(self.store, model, text, limit, matrix=self._matrix_for(model))
        if not hits and not self.store.count_papers():
            raise ServiceRefusal(NO_PAPERS_TO_SEARCH)
        return hits

    def more_like(self, arxiv_id: str, limit: int = 5) -> list[SearchHit]:
        """Papers similar to one stored paper (BM25 alone when there is no model, as `search`)."""
        return more_like(self.store, self._model_or_none(), arxiv_id, limit)

    @staticmethod
    def now_slot() -> str:
        """The slot of an on-demand digest (``/papers digest now``)."""
        return utc_slot_now()

    # ---- App Home ------------------------------------------------------------------------
    def home_data(self, user_id: str) -> HomeData:
        """What the user's Home tab shows; with no top terms, why (`HomeData.no_terms_reason`):
        no paper stored, stored papers without an indexable word (`EmptyVocabulary`), or follows
        without a word the model knows."""
        prof = profile_for_user(self.store, user_id)
        try:
            model = self.model()
            why = NO_TERMS_NO_PAPERS if model is None else NO_TERMS_UNKNOWN_WORDS
        except EmptyVocabulary:  # as `_model_or_none`, but the Home tab says so
            model, why = None, NO_TERMS_NO_VOCABULARY
        terms = top_terms(model, prof, 10)
        liked_ids = self.store.recent_feedback_ids(user_id, feedback.UP, 10)
        papers = self.store.get_papers(liked_ids)
        liked = [(a, papers[a].title, papers[a].abs_url)
                 for a in liked_ids if a in papers]
        return HomeData(user_id=user_id, follows=self.store.follows(user_id),
                        top_terms=terms, no_terms_reason="" if terms else why, liked=liked,
                        dm_digest=bool(self.store.user_settings(user_id).get(DM_SETTING)),
                        collections=sorted(self.store.collections()),
                        dm_schedule=self.digest_schedule_summary(user_id, False))

    def profile_text(self, user_id: str) -> str:
        """``/papers profile``: the Home tab's content as one mrkdwn message (every stored value
        escaped, https://api.slack.com/reference/surfaces/formatting#escaping); without top terms
        it says why, in the Home tab's words (`bot.home.no_terms_text`)."""
        d = self.home_data(user_id)
        lines = ["*Your paper profile*"]
        for kind, label in (("collection", "Collections"), ("keyword", "Keywords"), ("author", "Authors")):
            vals = d.follows.get(kind, [])
            lines.append(f"*{label}:* " + (", ".join(_shown(v) for v in vals) if vals else "none"))
        lines.append("*Top terms:* " + (", ".join(escape_within(t, 100) for t in d.top_terms) if d.top_terms
                                        else no_terms_text(d)))
        lines.append("*Recently 👍:* " + ("; ".join(f"<{u}|{escape_within(t, 160)}>" for _, t, u in d.liked[:5])
                                         or "none"))
        lines.append("*DM digest:* " + (f"on — {d.dm_schedule}" if d.dm_digest else "off"))
        return "\n".join(lines)


def _warn_refused(key: str, stored: str | None, used: str, tz: str) -> None:
    """Log (warning) that digest `key`'s stored schedule is not the one `used`, naming the key
    (a channel id or ``dm:<user id>``) and both schedules; nothing when they agree."""
    if not stored or stored == used:
        return
    try:
        gap = schedule_gap(stored, tz)
    except ValueError:
        return
    if gap is not None:
        log.warning("digest %s: the stored schedule %r fires every %s, more often than once an hour; "
                    "using %r instead (set a new one with /papers digest schedule)",
                    key, stored, describe_gap(gap), used)


PAUSED_HINT = ("Scheduled digests are paused here (`/papers digest now` still posts one); "
               "`/papers digest on` resumes them.")


def _parse_utc(text: str | None) -> datetime | None:
    """A stored UTC ISO-8601 time (``2026-11-22T10:00:00+00:00``) as an aware datetime, or None
    (also for an unreadable or naive value)."""
    try:
        value = datetime.fromisoformat(text) if text else None
    except ValueError:
        return None
    return value if value is not None and value.tzinfo is not None else None


def _shown_utc(text: str) -> str:
    """A stored UTC time for a reply: ``2026-11-22 10:00 UTC``."""
    return f"{_parse_utc(text).astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC"


def utc_slot_now() -> str:
    """A slot name for an on-demand digest (``now:<UTC time>``), unique per second."""
    return "now:" + datetime.now(timezone.utc).isoformat(timespec="seconds")
