"""Configuration: a TOML file (see ``config.example.toml``) plus secrets from the environment.

The file is named by ``--config`` or ``PAPERBOT_CONFIG``. Secrets are never read from files:
``SLACK_BOT_TOKEN``, ``SLACK_SIGNING_SECRET``, ``SLACK_APP_TOKEN``; ``SLACK_API_URL`` overrides
the Slack Web API base URL (tests, emulators), ``ARXIV_API_URL`` the arXiv API endpoint. A bad value raises `ConfigError` naming the key
(``channels[0].max_papers: expected an integer, got 'ten'``). Relative paths are resolved against
the config file's folder.
"""
from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bot.slack_client import DEFAULT_SLACK_API_URL
from feeds.arxiv_api import API_URL as DEFAULT_ARXIV_API_URL
from feeds.arxiv_rss import ANNOUNCE_TYPES, DEFAULT_ANNOUNCE_TYPES

DEFAULT_SCHEDULE = "0 9 * * mon-fri"  # arXiv announces nothing on weekends

# bounds of numeric settings (config.example.toml documents them)
MAX_DAYS = 3650  # recommender.candidate_days (1 …) and refit_days (0 … = refit every run): ten years
MAX_HF_DAYS_BACK = 30  # feeds.hf_daily.days_back: one HF request per day polled
# today and yesterday (UTC): HF adds papers to a day's list for hours after the day starts
# (captures show submittedOnDailyAt from 00:00 to 06:15 UTC), and a day polled only while it is
# "today" misses every paper added after that poll; conditional GET keeps the second request cheap
DEFAULT_HF_DAYS_BACK = 2
MAX_POST_INTERVAL_S = 60.0  # slack.post_interval_s: seconds between two messages to one channel


class ConfigError(ValueError):
    """A configuration problem, with the offending key in the message."""


@dataclass
class ArxivFeedConfig:
    """An arXiv announcement feed (rss.arxiv.org): categories joined with ``+``."""
    name: str
    categories: list[str]
    kind: str = "atom"
    announce_types: list[str] = field(default_factory=lambda: list(DEFAULT_ANNOUNCE_TYPES))
    url: str | None = None


@dataclass
class ArxivQueryConfig:
    """An arXiv API search query (``search_query`` syntax), or a fixed document via `url`."""
    name: str
    query: str = ""
    max_results: int = 100
    url: str | None = None


@dataclass
class HFDailyConfig:
    """Hugging Face daily papers: enabled, how many past days to poll, optional fixed `urls`."""
    enabled: bool = True
    days_back: int = DEFAULT_HF_DAYS_BACK
    urls: list[str] = field(default_factory=list)


# Accepted `min_score` values: a little beyond every score `recommender.ranker.Profile` can give
# with its default weights (RankerConfig). The text part x·q lies in [-(beta + gamma), 1] =
# [-1.55, 1]; each 👍 adds w_like_sim (2.0) × the cosine to the nearest liked paper, so similar
# papers reach 3; the priors add 0.05·log(1 + shared authors) + 0.01·log(1 + HF upvotes), a few
# tenths at most. Below -1.55 a threshold keeps every paper; above ~3.2 none. The old -1 … 1
# refused thresholds that papers close to a 👍 do pass.
MIN_SCORE_RANGE = (-2.0, 4.0)


@dataclass
class ChannelConfig:
    """A Slack channel's digest: which curated collections/keywords it follows and when."""
    id: str
    name: str = ""
    collections: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    schedule: str = DEFAULT_SCHEDULE
    timezone: str = "UTC"
    max_papers: int = 10
    min_score: float | None = None  # None: no threshold, always the top max_papers
    when_empty: str = "explain"  # explain | skip


@dataclass
class RecommenderConfig:
    """Recommender knobs (see recommender/)."""
    model_path: str = "paperbot-model.joblib"
    candidate_days: int = 7
    refit_days: int = 7


@dataclass
class SlackConfig:
    """Slack behaviour (secrets come from the environment, not from here)."""
    post_interval_s: float = 1.0
    thumbs_up: list[str] = field(default_factory=lambda: ["+1", "thumbsup"])
    thumbs_down: list[str] = field(default_factory=lambda: ["-1", "thumbsdown"])


@dataclass
class Config:
    """The whole configuration. `path` is the file it came from (None for built-in defaults)."""
    database: str = "paperbot.db"
    arxiv_feeds: list[ArxivFeedConfig] = field(default_factory=list)
    arxiv_queries: list[ArxivQueryConfig] = field(default_factory=list)
    hf_daily: HFDailyConfig = field(default_factory=HFDailyConfig)
    curated_files: list[str] = field(default_factory=list)
    channels: list[ChannelConfig] = field(default_factory=list)
    recommender: RecommenderConfig = field(default_factory=RecommenderConfig)
    slack: SlackConfig = field(default_factory=SlackConfig)
    path: str | None = None

    @property
    def slack_bot_token(self) -> str | None:
        """``SLACK_BOT_TOKEN`` from the environment (None when unset: print instead of post)."""
        return os.environ.get("SLACK_BOT_TOKEN") or None

    @property
    def slack_signing_secret(self) -> str | None:
        """``SLACK_SIGNING_SECRET`` from the environment."""
        return os.environ.get("SLACK_SIGNING_SECRET") or None

    @property
    def slack_app_token(self) -> str | None:
        """``SLACK_APP_TOKEN`` (Socket Mode) from the environment."""
        return os.environ.get("SLACK_APP_TOKEN") or None

    @property
    def slack_api_url(self) -> str:
        """Slack Web API base URL: ``SLACK_API_URL`` or Slack's, always ending in ``/``."""
        url = os.environ.get("SLACK_API_URL") or DEFAULT_SLACK_API_URL
        return url if url.endswith("/") else url + "/"

    @property
    def arxiv_api_url(self) -> str:
        """The arXiv API endpoint every arXiv API call goes to (search queries, ``/papers like``
        look-ups, ``paperbot import`` id look-ups): ``ARXIV_API_URL`` (a local fake in tests, a
        mirror) or ``https://export.arxiv.org/api/query``."""
        return os.environ.get("ARXIV_API_URL", "").strip() or DEFAULT_ARXIV_API_URL


def model_path_for(database: str | Path) -> str:
    """Where the TF-IDF model of the database file `database` lives when the database is chosen
    by hand (``--db``, the demo): next to it, named after it (``lab.db`` → ``lab-model.joblib``).
    A model and its matrix cache describe one store's papers; two stores sharing one would each
    be scored with the other's vocabulary and miss rows in the cache."""
    db = Path(database)
    return str(db.with_name(db.stem + "-model.joblib"))


# ---- validation helpers ------------------------------------------------------------------
def _get(table: dict, key: str, where: str, typ, default=None, required: bool = False):
    if key not in table:
        if required:
            raise ConfigError(f"{where}{key}: required setting is missing")
        return default
    value = table[key]
    name = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
            list: "a list"}[typ]
    if typ is float and isinstance(value, int) and not isinstance(value, bool):
        try:
            value = float(value)
        except OverflowError:  # TOML integers have no size limit here; floats stop near 1e308
            raise ConfigError(f"{where}{key}: expected {name}, got an integer too large for a number") from None
    if typ is int and isinstance(value, bool) or not isinstance(value, typ):
        raise ConfigError(f"{where}{key}: expected {name}, got {value!r}")
    return value


def _in_range(value, lo, hi, key: str, where: str, unit: str = "", hint: str = ""):
    """`value` when finite and ``lo <= value <= hi``; else a `ConfigError` naming the key
    (``slack.post_interval_s: must be between 0.0 and 60.0 seconds, got inf``). A bound keeps a
    typo (``99999999999`` days, ``inf`` seconds, ``nan``) from passing here and failing later
    mid-run (OverflowError) or silently (a NaN threshold keeps no paper)."""
    if isinstance(value, float) and not math.isfinite(value) or not lo <= value <= hi:
        raise ConfigError(f"{where}{key}: must be between {lo} and {hi}{unit}, got {value!r}{hint}")
    return value


def _str_list(table: dict, key: str, where: str, default=None) -> list[str]:
    value = _get(table, key, where, list, default if default is not None else [])
    for i, v in enumerate(value):
        if not isinstance(v, str):
            raise ConfigError(f"{where}{key}[{i}]: expected a string, got {v!r}")
    return list(value)


def _known(table: dict, where: str, allowed: set[str]) -> None:
    extra = sorted(set(table) - allowed)
    if extra:
        raise ConfigError(f"{where}{extra[0]}: unknown setting (allowed: {', '.join(sorted(allowed))})")


def _table(parent: dict, key: str, where: str) -> dict:
    value = parent.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{where}{key}: expected a table")
    return value


def _path(table: dict, key: str, where: str, default: str) -> str:
    """A file path setting: a non-empty string (an empty one would resolve to the config file's
    folder, and SQLite opens ``""`` as a throw-away temporary database)."""
    value = _get(table, key, where, str, default)
    if not value.strip():
        raise ConfigError(f"{where}{key}: expected a file path, got an empty string")
    return value


def _resolve(base: Path | None, p: str) -> str:
    if base is None or "://" in p or Path(p).is_absolute():
        return p
    return str((base / p).resolve())


def _check_source_names(cfg: Config, feeds: dict) -> None:
    """Refuse two sources with one name: each source has one feed-state row, keyed by its name
    (ETag / Last-Modified for conditional GET, last error, failure counters), so two feeds named
    alike overwrote each other's validators (conditional GET never matched), merged in
    `paperbot status`, and one's failure was hidden by the other's success. Hugging Face days
    own the names ``hf_daily`` and ``hf_daily:…``."""
    seen: dict[str, str] = {}
    sources = [(f"feeds.arxiv_rss[{i}].name", f.name, "name" in feeds["arxiv_rss"][i])
               for i, f in enumerate(cfg.arxiv_feeds)]
    sources += [(f"feeds.arxiv_api[{i}].name", q.name, "name" in feeds["arxiv_api"][i])
                for i, q in enumerate(cfg.arxiv_queries)]
    for key, name, given in sources:
        how = "" if given else " (a default name: give the feed a `name`)"
        if name == "hf_daily" or name.startswith("hf_daily:"):
            raise ConfigError(f"{key}: {name!r} is reserved for Hugging Face daily papers "
                              f"(hf_daily:YYYY-MM-DD){how}; choose another name")
        if name in seen:
            raise ConfigError(f"{key}: source name {name!r} is already used by {seen[name]}{how}; "
                              "each source needs its own name (its feed state is kept under it)")
        seen[name] = key.removesuffix(".name")
    if cfg.hf_daily.enabled and cfg.hf_daily.urls:
        hf_seen: dict[str, int] = {}
        for i, url in enumerate(cfg.hf_daily.urls):
            name = url.rsplit("/", 1)[-1]  # paperbot.poll names a fixed HF document hf_daily:<file name>
            if name in hf_seen:
                raise ConfigError(f"feeds.hf_daily.urls[{i}]: the file name {name!r} is already used by "
                                  f"feeds.hf_daily.urls[{hf_seen[name]}] (both would be source "
                                  f"hf_daily:{name}); give the files different names")
            hf_seen[name] = i


def parse_config(data: dict[str, Any], base_dir: Path | None = None) -> Config:
    """Validate a parsed TOML document into a `Config`.

    Raises:
        ConfigError: naming the first bad key.
    """
    _known(data, "", {"database", "feeds", "curated", "channels", "recommender", "slack"})
    cfg = Config()
    db = _table(data, "database", "")
    _known(db, "database.", {"path"})
    cfg.database = _resolve(base_dir, _path(db, "path", "database.", cfg.database))

    feeds = _table(data, "feeds", "")
    _known(feeds, "feeds.", {"arxiv_rss", "arxiv_api", "hf_daily"})
    for i, f in enumerate(_get(feeds, "arxiv_rss", "feeds.", list, [])):
        where = f"feeds.arxiv_rss[{i}]."
        if not isinstance(f, dict):
            raise ConfigError(f"feeds.arxiv_rss[{i}]: expected a table")
        _known(f, where, {"name", "categories", "kind", "announce_types", "url"})
        kind = _get(f, "kind", where, str, "atom")
        if kind not in ("rss", "atom"):
            raise ConfigError(f"{where}kind: expected 'rss' or 'atom', got {kind!r}")
        types = _str_list(f, "announce_types", where, list(DEFAULT_ANNOUNCE_TYPES))
        for t in types:
            if t not in ANNOUNCE_TYPES:
                raise ConfigError(f"{where}announce_types: unknown announce type {t!r} "
                                  f"(one of {', '.join(ANNOUNCE_TYPES)})")
        url = _get(f, "url", where, str)
        cats = _str_list(f, "categories", where, [])
        if not cats and not url:
            raise ConfigError(f"{where}categories: give at least one arXiv category (or a url)")
        cfg.arxiv_feeds.append(ArxivFeedConfig(
            name=_get(f, "name", where, str, f"arxiv_rss:{'+'.join(cats) or i}"), categories=cats,
            kind=kind, announce_types=types, url=_resolve(base_dir, url) if url else None))
    for i, q in enumerate(_get(feeds, "arxiv_api", "feeds.", list, [])):
        where = f"feeds.arxiv_api[{i}]."
        if not isinstance(q, dict):
            raise ConfigError(f"feeds.arxiv_api[{i}]: expected a table")
        _known(q, where, {"name", "query", "max_results", "url"})
        url = _get(q, "url", where, str)
        query = _get(q, "query", where, str, "")
        if not query and not url:
            raise ConfigError(f"{where}query: an arXiv API search_query is required")
        n = _in_range(_get(q, "max_results", where, int, 100), 1, 30000, "max_results", where)
        cfg.arxiv_queries.append(ArxivQueryConfig(
            name=_get(q, "name", where, str, f"arxiv_api:{i}"), query=query, max_results=n,
            url=_resolve(base_dir, url) if url else None))
    hf = _table(feeds, "hf_daily", "feeds.")
    _known(hf, "feeds.hf_daily.", {"enabled", "days_back", "urls"})
    cfg.hf_daily = HFDailyConfig(
        enabled=_get(hf, "enabled", "feeds.hf_daily.", bool, True),
        days_back=_in_range(_get(hf, "days_back", "feeds.hf_daily.", int, DEFAULT_HF_DAYS_BACK), 1, MAX_HF_DAYS_BACK,
                            "days_back", "feeds.hf_daily.", hint=" (set enabled = false to poll no day)"),
        urls=[_resolve(base_dir, u) for u in _str_list(hf, "urls", "feeds.hf_daily.")])

    _check_source_names(cfg, feeds)

    cur = _table(data, "curated", "")
    _known(cur, "curated.", {"files"})
    cfg.curated_files = [_resolve(base_dir, p) for p in _str_list(cur, "files", "curated.")]

    seen: set[str] = set()
    for i, c in enumerate(_get(data, "channels", "", list, [])):
        where = f"channels[{i}]."
        if not isinstance(c, dict):
            raise ConfigError(f"channels[{i}]: expected a table")
        _known(c, where, {"id", "name", "collections", "keywords", "schedule", "timezone",
                          "max_papers", "min_score", "when_empty"})
        ch = ChannelConfig(
            id=_get(c, "id", where, str, required=True), name=_get(c, "name", where, str, ""),
            collections=_str_list(c, "collections", where), keywords=_str_list(c, "keywords", where),
            schedule=_get(c, "schedule", where, str, DEFAULT_SCHEDULE),
            timezone=_get(c, "timezone", where, str, "UTC"),
            max_papers=_get(c, "max_papers", where, int, 10),
            min_score=_get(c, "min_score", where, float, None),
            when_empty=_get(c, "when_empty", where, str, "explain"))
        if not ch.id.strip():  # chat.postMessage to "" fails with channel_not_found on every run
            raise ConfigError(f"{where}id: expected a Slack channel id (e.g. 'C0123456789'), got {ch.id!r}")
        if ch.id in seen:
            raise ConfigError(f"{where}id: channel {ch.id!r} is configured twice")
        seen.add(ch.id)
        _in_range(ch.max_papers, 1, 100, "max_papers", where)
        if ch.when_empty not in ("explain", "skip"):
            raise ConfigError(f"{where}when_empty: expected 'explain' or 'skip', got {ch.when_empty!r}")
        if ch.min_score is not None:
            _in_range(ch.min_score, *MIN_SCORE_RANGE, "min_score", where,
                      hint=" (production ranker scores lie within about -1.55 … 3.2; see config.example.toml)")
        _check_schedule(ch.schedule, ch.timezone, where)
        cfg.channels.append(ch)

    rec = _table(data, "recommender", "")
    _known(rec, "recommender.", {"model_path", "candidate_days", "refit_days"})
    cfg.recommender = RecommenderConfig(
        model_path=_resolve(base_dir, _path(rec, "model_path", "recommender.", "paperbot-model.joblib")),
        candidate_days=_in_range(_get(rec, "candidate_days", "recommender.", int, 7), 1, MAX_DAYS,
                                 "candidate_days", "recommender."),
        refit_days=_in_range(_get(rec, "refit_days", "recommender.", int, 7), 0, MAX_DAYS,
                             "refit_days", "recommender."))

    sl = _table(data, "slack", "")
    _known(sl, "slack.", {"post_interval_s", "thumbs_up", "thumbs_down"})
    cfg.slack = SlackConfig(
        post_interval_s=_in_range(_get(sl, "post_interval_s", "slack.", float, 1.0), 0.0, MAX_POST_INTERVAL_S,
                                  "post_interval_s", "slack.", " seconds"),
        thumbs_up=_str_list(sl, "thumbs_up", "slack.", ["+1", "thumbsup"]),
        thumbs_down=_str_list(sl, "thumbs_down", "slack.", ["-1", "thumbsdown"]))
    return cfg


def _check_schedule(expr: str, tz: str, where: str) -> None:
    """Raise `ConfigError` for an unknown time zone, an invalid crontab, one that never fires or
    one that fires more often than once an hour."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from bot.scheduler import cron_trigger, describe_gap, is_iana_zone, too_frequent
    try:
        if not is_iana_zone(tz):  # "localtime" or "Factory" open, but are no IANA zone
            raise ZoneInfoNotFoundError(tz)
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{where}timezone: unknown time zone {tz!r} (use an IANA name such as "
                          "'Europe/London')") from None
    try:
        trigger = cron_trigger(expr, tz)
    except ValueError as exc:
        raise ConfigError(f"{where}schedule: invalid cron expression {expr!r} ({exc})") from None
    # a valid expression may name no real date ("0 9 31 2 *", 31 February): the job would be
    # scheduled and never run, and the channel would wait for a digest that never comes
    now = datetime.now(timezone.utc)
    if trigger.get_next_fire_time(None, now) is None:
        raise ConfigError(f"{where}schedule: {expr!r} never fires (no such date in any year)")
    gap = too_frequent(trigger, now)
    if gap is not None:  # as from Slack (bot.commands_parser.parse_schedule): at most hourly
        raise ConfigError(f"{where}schedule: {expr!r} has runs only {describe_gap(gap)} apart; a digest can come at most "
                          "once an hour")


def load_config(path: str | Path | None = None) -> Config:
    """Load and validate the config file at `path` (or ``$PAPERBOT_CONFIG``).

    Raises:
        ConfigError: no file given, unreadable, not UTF-8, invalid TOML (with line), or a bad
            setting (unknown key, wrong type, out of its documented range, a schedule that never
            fires).
    """
    path = path or os.environ.get("PAPERBOT_CONFIG")
    if not path:
        raise ConfigError("no config file: pass --config FILE or set PAPERBOT_CONFIG "
                          "(see config.example.toml), or try `paperbot demo`")
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {p}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:  # TOML is UTF-8 (a Latin-1 "é" or a binary file lands here)
        raise ConfigError(f"{p}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); "
                          "save the config file as UTF-8") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: invalid TOML: {exc}") from None
    cfg = parse_config(data, p.resolve().parent)
    cfg.path = str(p)
    return cfg
