"""The `paperbot` command line: a thin layer over the Python API (pipeline, store, recommender)."""
from __future__ import annotations

import logging
import re
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import click

from feeds.curated import CuratedFormatError, where
from paperbot.config import Config, ConfigError, load_config, model_path_for
from store import Store, probe_database
from store.schema import SchemaTooNew

_DB_META = "paperbot.database"  # click context meta: the database file the command opened
CONFIG_HELP = "Config file (or PAPERBOT_CONFIG)."
DB_HELP = ("Database file to use instead of the config's [database] path; the TF-IDF model then "
           "lives next to it (lab.db → lab-model.joblib).")


def _count(n: int, noun: str, plural: str | None = None, grouped: bool = False) -> str:
    """`n` and `noun`, in the singular for exactly 1: ``1 paper``, ``0 papers``, ``2 entries``
    (`plural` when adding "s" is wrong); with `grouped`, thousands separators (``1,234 papers``)."""
    word = noun if n == 1 else plural or noun + "s"
    return f"{n:,} {word}" if grouped else f"{n} {word}"


def _setup_logging(verbose: bool) -> None:
    from paperbot import logsafe

    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logsafe.install()  # Slack tokens never reach the log, whoever logs them


def _config(path: str | None, required: bool = True) -> Config:
    try:
        return load_config(path)
    except ConfigError as exc:
        if not required and not path and "no config file" in str(exc):
            return Config()
        raise click.ClickException(str(exc)) from None


def _db_problem(path: str | None, exc: Exception) -> str:
    """One line for a database error: ``<db path>: <cause>`` (plus what to do, when known)."""
    cause = str(exc) or type(exc).__name__
    low = cause.lower()
    if isinstance(exc, SchemaTooNew):
        cause += "; upgrade paperbot to open it (downgrades are not supported)"
    elif "locked" in low:
        cause += " (another process kept it busy for over 30 s; try again when it is done)"
    elif "readonly" in low or "read-only" in low:
        cause += " (check the permissions of the file and of its folder)"
    elif "disk is full" in low or "disk i/o" in low:
        cause += " (free some space and run again; work already committed is kept)"
    elif "not a database" in low or "malformed" in low:
        cause += " (not an SQLite file, or a damaged one: restore it with `paperbot restore BACKUP`)"
    return f"{path or 'the database'}: {cause}"


class _Main(click.Group):
    """The ``paperbot`` group: a database error in any command (a damaged or foreign file, a
    schema from a newer paperbot, a read-only file, a lock held over the busy timeout, a full
    disk) ends the command with one ``Error: <db path>: <cause>`` line and exit status 1
    instead of a traceback; so does a TF-IDF model that cannot be written
    (`recommender.matrix_cache.ModelFileError`). SQLite rolls back the transaction that failed;
    what earlier transactions committed stays."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (sqlite3.Error, SchemaTooNew) as exc:
            raise click.ClickException(_db_problem(ctx.meta.get(_DB_META), exc)) from None
        except OSError as exc:
            from recommender.matrix_cache import ModelFileError  # only on this path: numpy, scipy

            if isinstance(exc, ModelFileError):  # names the file and recommender.model_path
                raise click.ClickException(str(exc)) from None
            raise


def _no_db_hint(config: Config, db: str | None) -> str:
    return "" if db or config.path else " (give --db FILE, or --config FILE / PAPERBOT_CONFIG)"


def _check_database(path: str, must_exist: bool, hint: str = "") -> None:
    """Refuse, with one line, a file that is not paperbot's before `Store` would add its tables
    to it (`store.probe_database`): a folder, another application's SQLite file, or (with
    `must_exist`, for commands that only read or settle what is stored) a missing or empty file —
    those would otherwise create a database (and its folders) and report an empty one. A damaged
    file or a locked one raises `sqlite3.Error` (turned into one line by `_Main`); a newer schema
    is left to `Store`."""
    kind, tables = probe_database(path)
    if kind == "missing" and must_exist:
        raise click.ClickException(f"no database at {path}{hint}")
    if kind == "folder":
        raise click.ClickException(f"{path}: is a folder, not a database file")
    if kind == "empty" and must_exist:
        raise click.ClickException(f"no database at {path} (the file is empty){hint}")
    if kind == "foreign":
        shown = ", ".join(tables[:5]) + (", …" if len(tables) > 5 else "")
        raise click.ClickException(f"{path}: not a paperbot database (its tables: {shown or 'none'}); "
                                   "leaving it untouched")


def _open_store(config: Config, db: str | None, must_exist: bool = False) -> Store:
    """The store at `db` (``--db``) or the configured one: `_choose_database`, then
    `_create_store`. A ``--db`` override also moves the
    TF-IDF model next to that database (`paperbot.config.model_path_for`: ``lab.db`` →
    ``lab-model.joblib``): a model and its matrix cache describe one store's papers, and two
    stores sharing one would each be scored with the other's vocabulary and miss rows in the
    cache.

    `must_exist`: the command only reads (or settles) what is stored, so a missing database is
    an error (``no database at …``), not a new empty one. Another application's SQLite file is
    refused either way (`_check_database`).

    Raises:
        click.ClickException: one line (no such database, not paperbot's, cannot be created).
        sqlite3.Error / SchemaTooNew: turned into one line by `_Main`.
    """
    _choose_database(config, db, must_exist)
    return _create_store(config)


def _choose_database(config: Config, db: str | None, must_exist: bool = False) -> None:
    """Point `config` at the database `_open_store` opens (``--db`` moves the model next to it)
    and refuse, with one line, one it must not open (`_check_database`), creating nothing: for
    a command that opens the database only once it has something to write (`import-corpus`).

    Raises:
        click.UsageError: an empty ``--db``.
        click.ClickException / sqlite3.Error: as `_open_store`.
    """
    if db is not None and not db.strip():
        raise click.UsageError("--db: expected a file path, got an empty string")
    if db and Path(db).resolve() != Path(config.database).resolve():
        config.database = db
        config.recommender.model_path = model_path_for(db)
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.meta[_DB_META] = config.database
    _check_database(config.database, must_exist, _no_db_hint(config, db))


def _create_store(config: Config) -> Store:
    """`Store` at `config.database` (created, with its folders, when missing), after
    `_choose_database`.

    Raises:
        click.ClickException: the database or its folder cannot be created.
        sqlite3.Error / SchemaTooNew: turned into one line by `_Main`.
    """
    try:
        return Store(config.database)
    except OSError as exc:  # its folder cannot be created (permissions, a file in the way)
        where = f" ({exc.filename})" if exc.filename else ""
        raise click.ClickException(f"{config.database}: cannot create the database: "
                                   f"{exc.strerror or exc}{where}") from None


def _unreadable(path: str, exc: OSError) -> str:
    """One line for an input file that cannot be read: ``<path>: cannot read it: <cause>``
    (``Permission denied``, ``Is a directory``, …), without Python's ``[Errno 13]``."""
    return f"{path}: cannot read it: {exc.strerror or exc}"


def _check_readable(paths: list[str] | tuple[str, ...]) -> None:
    """Open each input file before any of them is imported, so one that cannot be read
    (permission denied; click has refused missing ones and folders) stops the command with one
    line before the database changes, rather than with a traceback half-way through.

    Raises:
        click.ClickException: ``<path>: cannot read it: <cause>``.
    """
    for path in paths:
        try:
            with open(path, "rb") as fh:
                fh.read(1)
        except OSError as exc:
            raise click.ClickException(_unreadable(path, exc)) from None


@click.group(cls=_Main)
@click.option("-v", "--verbose", is_flag=True, help="Log progress to stderr.")
@click.version_option(package_name="paperbot")
def main(verbose: bool) -> None:
    """paperbot: arXiv + Hugging Face daily papers → TF-IDF recommender → Slack digests."""
    _setup_logging(verbose)


def _print_sources(report) -> None:
    """One stderr line per configured curated file that could not be imported and per curated
    collection that lost papers, then per source."""
    for path, why in report.curated_errors:
        click.echo(f"  curated file {path}: FAILED ({why})", err=True)
    for name, n in report.curated_removed.items():
        click.echo(f"  curated collection {name}: {_count(n, 'paper')} removed (no configured file lists them)", err=True)
    for s in report.sources:
        if s.error:
            click.echo(f"  source {s.source}: FAILED ({s.error})", err=True)
        else:
            click.echo(f"  source {s.source}: {_count(s.papers, 'paper')} ({s.inserted} new, {s.updated} updated"
                       + (f", {s.skipped} skipped" if s.skipped else "") + ")", err=True)


def _say_refit(n_papers: int) -> None:
    """Tell the terminal why it waits: a TF-IDF refit is the one slow step (about 30 s at 47,000
    papers), after an import or when the model is older than `refit_days`."""
    click.echo(f"fitting the TF-IDF model on {_count(n_papers, 'paper', grouped=True)} (after an import or when the model is "
               "stale; later runs reuse it)…", err=True)


@main.command()
@click.option("--db", type=click.Path(dir_okay=False), help="Keep the demo database here (default: a temp dir).")
def demo(db: str | None) -> None:
    """Run the main job on bundled real captures and print the ranked digest (no network)."""
    from bot.posting import TerminalPoster
    from paperbot.demo import demo_config
    from paperbot.pipeline import run_once

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="paperbot-demo-") as tmp:
        cfg = demo_config(tmp, db)  # with --db, the model goes next to it (lab.db → lab-model.joblib)
        store = _open_store(cfg, None)
        try:
            click.echo("paperbot demo: polling bundled captures (arXiv RSS/Atom, arXiv API, HF daily papers)…",
                       err=True)
            report = run_once(cfg, store, poster=TerminalPoster(say_target=False))  # printed, token or not
        finally:  # before the temporary folder (which may hold the database) is removed
            store.close()
        _print_sources(report)
    click.echo(f"done in {time.perf_counter() - started:.1f}s · {_count(report.n_papers, 'paper')} in the store", err=True)


@main.command()
@click.option("--once", is_flag=True, help="Poll, score and deliver one round, then exit.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help=CONFIG_HELP)
@click.option("--db", type=click.Path(dir_okay=False), help=DB_HELP)
def run(once: bool, config_path: str | None, db: str | None) -> None:
    """Poll → store → score → post each channel's digest (prints it when SLACK_BOT_TOKEN is unset).

    \b
    Exit status (for cron / systemd timers):
      0  every source polled, every curated file imported, every digest delivered
      1  a digest failed or its outcome is uncertain (see `paperbot digests list`)
      3  every digest delivered, but a feed source failed (see `paperbot status`) or a
         curated file could not be imported (missing, unreadable, not a curated database,
         or no usable paper in it)
    """
    from paperbot.pipeline import run_once

    if not once:
        raise click.UsageError("use `paperbot run --once` for one round, or `paperbot serve` for the scheduled bot")
    cfg = _config(config_path)
    store = _open_store(cfg, db)
    try:
        report = run_once(cfg, store, on_refit=_say_refit)
    finally:
        store.close()
    _print_sources(report)
    for d in report.deliveries:
        click.echo(f"  channel {d.channel_id}: {d.status} ({_count(d.n_papers, 'paper')})"
                   + (f" ts={d.ts}" if d.ts else "") + (f" error={d.error}" if d.error else "")
                   + (f" ({d.detail})" if getattr(d, "detail", None) else ""), err=True)
    if any(d.status in ("failed", "uncertain") for d in report.deliveries):
        sys.exit(1)
    if any(s.error for s in report.sources) or report.curated_errors:
        # the digest went out without that source's papers (or scored without that curated
        # file's), and a feed such as rss.arxiv.org does not replay a missed day: a cron job
        # should notice, not read "success"
        sys.exit(3)


@main.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help=CONFIG_HELP)
@click.option("--db", type=click.Path(dir_okay=False), help=DB_HELP)
@click.option("--replace", is_flag=True,
              help="Make each collection hold exactly this file's papers of it (remove the others).")
@click.option("--collection", metavar="NAME",
              help="Put the papers of every section into this one collection (default: one collection per section).")
@click.option("--no-lookup", is_flag=True,
              help="Resolve bare arXiv ids from the database only (offline): no arXiv API look-ups.")
@click.option("--no-progress", is_flag=True, help="No progress line per arXiv API request (e.g. in cron logs).")
def import_cmd(file: str, config_path: str | None, db: str | None, replace: bool, collection: str | None,
               no_lookup: bool, no_progress: bool) -> None:
    """Import a curated database into collections: a JSON object {section: [entries]} whose
    entries are paper objects (the seed format: {arxiv_id or url, title, summary, authors, …})
    and/or bare arXiv ids or links ("2501.01234", "https://arxiv.org/abs/2501.01234"), as
    awesome-list files keep them.

    Each section becomes a collection: a section path "A > B > C" is named a/b/c (lower case,
    other characters as -), any other section name is kept as written; --collection NAME puts
    every section into NAME. A bare id takes its paper from the database (e.g. loaded with
    `paperbot import-corpus`), else from the arXiv API (100 ids a request, 3 s apart, a progress
    line on stderr after each unless --no-progress); ids that cannot be found are listed at the
    end ("unresolved: ID (why)") and the rest is imported.
    Imported papers are background: an old one never shows up in a digest as new.

    Papers are added; papers already in the collections stay. With --replace, each of the
    file's collections is made to hold exactly the file's papers of it (papers no longer in the
    file are removed; a section with an unreadable entry is only added to); other collections
    are not touched. (The `[curated] files` of the config are synced like this on every run, to
    the union of all the files; a run takes bare ids from the database only.) Bad entries are
    reported with their position and skipped. Exit status 1 when nothing at all could be
    imported (no entry is a paper, or no id could be resolved), or when FILE cannot be read
    (permission denied) or is not UTF-8 JSON."""
    from feeds.arxiv_api import ArxivAPIClient
    from feeds.curated import load_curated
    from feeds.http import Fetcher
    from paperbot.curated_import import LOOKUP_BATCH, import_curated

    if collection is not None:
        collection = " ".join(collection.split())  # as /papers subscribe reads the name
        if not collection:
            raise click.UsageError("--collection: expected a collection name, got an empty string")
    cfg = _config(config_path, required=False)

    def say_lookup(n: int) -> None:
        calls = -(-n // LOOKUP_BATCH)
        click.echo(f"looking up {_count(n, 'arXiv id')} on the arXiv API ({_count(calls, 'request')}"
                   + (", 3 s apart" if calls > 1 else "") + ")…", err=True)

    fetched_so_far = [0]

    def say_progress(done: int, n: int, fetched: int) -> None:
        fetched_so_far[0] = fetched
        if not no_progress:
            click.echo(f"  {done}/{_count(n, 'arXiv id')} looked up, {fetched} found", err=True)

    try:  # before the database is opened: a file that is no curated database creates none
        parsed = load_curated(file)
    except CuratedFormatError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:  # unreadable (permissions), or gone since click checked it exists
        raise click.ClickException(_unreadable(file, exc)) from None
    name = Path(file).name

    def no_paper_read(n_errors: int) -> str:
        return (f"no paper could be read from {name} ({_count(n_errors, 'entry', 'entries')} skipped): expected "
                "{section: [paper objects {arxiv_id or url, title, summary, authors, …} or arXiv ids]}")
    if parsed.errors and not any(parsed.ids.values()):  # every entry bad: no database to open either
        for cat, pos, reason in parsed.errors:
            click.echo(f"skipped {where(cat, pos)}: {reason}", err=True)
        raise click.ClickException(no_paper_read(len(parsed.errors)))
    store = _open_store(cfg, db)
    fetcher = None
    try:
        fetcher = None if no_lookup else Fetcher()
        arxiv = None if fetcher is None else ArxivAPIClient(fetcher, url=cfg.arxiv_api_url)
        report = import_curated(store, file, replace=replace, arxiv=arxiv, collection=collection,
                                on_lookup=say_lookup, on_progress=say_progress, parsed=parsed)
        in_total = store.collections()  # {collection: papers}, for the report below
    except KeyboardInterrupt:
        # each answer's papers are stored before the next request; the collections change only
        # after the look-ups, each in one transaction: nothing is half done, and the next run
        # asks arXiv only for what is still missing
        n = fetched_so_far[0]
        click.echo(f"interrupted: the {_count(n, 'paper')} fetched from the arXiv API so far "
                   f"{'is' if n == 1 else 'are'} stored; "
                   "run the same command again to finish (stored ids are not looked up again)", err=True)
        raise click.Abort() from None
    finally:
        if fetcher is not None:
            fetcher.close()
        store.close()
    for cat, pos, reason in report.errors:
        click.echo(f"skipped {where(cat, pos)}: {reason}", err=True)

    def say_unresolved() -> None:
        for aid, why in report.unresolved.items():
            click.echo(f"unresolved: {aid} ({why})", err=True)
        if report.unresolved and no_lookup:
            click.echo("run the import without --no-lookup to fetch them from the arXiv API", err=True)

    if report.papers == 0 and report.unresolved:  # nothing landed: not a success
        say_unresolved()
        raise click.ClickException(f"nothing imported from {name}: "
                                   + (f"none of its {len(report.unresolved)} arXiv ids could be resolved"
                                      if len(report.unresolved) != 1 else "its 1 arXiv id could not be resolved") + (f" and {_count(len(report.errors), 'entry', 'entries')} "
                                                          f"{'was' if len(report.errors) == 1 else 'were'} skipped"
                                                          if report.errors else ""))
    if report.errors and report.papers == 0:  # like import-corpus: a wrong file is not a success
        raise click.ClickException(no_paper_read(len(report.errors)))
    if not report.collections:
        click.echo(f"{name} holds no categories: nothing imported", err=True)
    for coll, n in report.collections.items():
        removed = f", {report.removed[coll]} removed" if coll in report.removed else ""
        click.echo(f"collection {coll}: {_count(n, 'paper')} added{removed} ({in_total.get(coll, 0)} in total)")
    for coll in report.not_synced:
        click.echo(f"collection {coll}: not replaced, only added to: an entry of it could not be read", err=True)
    if report.from_store or report.fetched or report.unresolved:
        click.echo(f"arXiv ids: {report.from_store} found in the database, {report.fetched} fetched from the "
                   f"arXiv API, {len(report.unresolved)} unresolved")
    say_unresolved()


@main.command("import-corpus")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help=CONFIG_HELP)
@click.option("--db", type=click.Path(dir_okay=False), help=DB_HELP)
@click.option("--batch", default=5000, show_default=True, type=click.IntRange(min=1),
              help="Papers per executemany batch.")
@click.option("--no-progress", is_flag=True, help="No progress bar (e.g. in cron logs).")
def import_corpus_cmd(files: tuple[str, ...], config_path: str | None, db: str | None, batch: int,
                      no_progress: bool) -> None:
    """Bulk-load arXiv corpus JSONL files (.jsonl or .jsonl.gz, one paper a line:
    {arxiv_id, title, abstract, categories, published, authors}) into the database and its
    full-text index. Bad lines are reported with their line number and skipped; bytes that are
    not UTF-8 are read as U+FFFD, and the lines holding them are counted in the summary (and
    numbered per file on stderr). When no line of any file is a paper, the command fails
    (exit 1) and creates no database (it is opened at the first paper read), as it does,
    before any file is imported, when a file cannot be read (permission denied). Imported
    papers are background, not new announcements: they count as first seen on their
    `published` day, so only those published within `candidate_days` can enter a digest,
    until a feed announces them."""
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    from itertools import chain

    from feeds.corpus import CorpusFormatError, CorpusReader

    cfg = _config(config_path, required=False)
    _check_readable(files)
    # a database it may not open is refused now, but one is created only at the first paper
    # read: a file of which no line is a paper leaves none behind (`paperbot status` then
    # says "no database", not "0 papers"); the files are streamed once, never read twice
    _choose_database(cfg, db)
    store: Store | None = None
    total_bytes = sum(Path(f).stat().st_size for f in files)
    totals = {"inserted": 0, "updated": 0, "unchanged": 0}
    n_papers = 0
    skipped: list[tuple[str, int, str]] = []
    undecodable: dict[str, list[int]] = {}  # file name: numbers of its lines with bytes not UTF-8
    started = time.perf_counter()
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[papers]:,} papers · {task.fields[rate]:,.0f}/s"),
                        TimeElapsedColumn(), TimeRemainingColumn(), disable=no_progress,
                        transient=False)
    try:
        with progress:
            task = progress.add_task("importing", total=total_bytes, papers=0, rate=0.0)
            done_bytes = 0
            for f in files:
                reader = CorpusReader(Path(f))
                progress.update(task, description=Path(f).name)

                def advance(n: int, reader: CorpusReader = reader, base: int = done_bytes) -> None:
                    nonlocal n_papers
                    n_papers += n
                    rate = n_papers / max(time.perf_counter() - started, 1e-9)
                    progress.update(task, completed=base + reader.bytes_read, papers=n_papers, rate=rate)

                before = store.count_papers() if store is not None else 0
                papers = iter(reader)
                try:
                    first = next(papers, None)  # reads up to the file's first paper
                    if first is None:  # not one line of it is a paper
                        counts = dict.fromkeys(totals, 0)
                    else:
                        if store is None:
                            store = _create_store(cfg)
                            before = store.count_papers()  # an existing database may hold papers
                        counts = store.bulk_upsert_papers(chain([first], papers), batch=batch, progress=advance)
                except CorpusFormatError as exc:
                    if store is None:
                        raise click.ClickException(f"{exc}; nothing was imported (no paper read before it)") from None
                    kept = store.count_papers() - before
                    raise click.ClickException(f"{exc}; {_count(kept, 'new paper')} of this file "
                                               f"{'was' if kept == 1 else 'were'} stored before it "
                                               "(committed batches), earlier files are complete") from None
                done_bytes += Path(f).stat().st_size
                progress.update(task, completed=done_bytes)
                for k in totals:
                    totals[k] += counts[k]
                skipped += [(Path(f).name, line, why) for line, why in reader.skipped]
                if reader.undecodable:
                    undecodable[Path(f).name] = reader.undecodable
        n_stored = store.count_papers() if store is not None else 0
    finally:
        if store is not None:
            store.close()
    elapsed = time.perf_counter() - started
    for name, line, why in skipped[:20]:
        click.echo(f"skipped {name}:{line}: {why}", err=True)
    if len(skipped) > 20:
        click.echo(f"… and {_count(len(skipped) - 20, 'more skipped line')}", err=True)
    for name, lines in undecodable.items():
        shown = ", ".join(map(str, lines[:10])) + (", …" if len(lines) > 10 else "")
        click.echo(f"{name}: bytes that are not UTF-8 read as U+FFFD on {_count(len(lines), 'line')} ({shown})",
                   err=True)
    n_undecodable = sum(len(lines) for lines in undecodable.values())
    if n_papers == 0:  # a wrong file (not corpus JSONL) must not read as a successful import
        raise click.ClickException(
            f"no paper could be read from {', '.join(Path(f).name for f in files)} "
            f"({_count(len(skipped), 'line')} skipped): "
            "expected arXiv corpus JSONL, one {arxiv_id, title, abstract, …} object a line")
    size_mb = Path(store.path).stat().st_size / 1e6 if store.path != ":memory:" else 0.0
    click.echo(f"{_count(n_papers, 'paper', grouped=True)} in {elapsed:.1f}s "
               f"({n_papers / max(elapsed, 1e-9):,.0f} papers/s): "
               f"{totals['inserted']:,} new, {totals['updated']:,} updated, {totals['unchanged']:,} unchanged, "
               f"{_count(len(skipped), 'line')} skipped"
               + (f", {_count(n_undecodable, 'line', grouped=True)} not UTF-8 (bad bytes read as U+FFFD)"
                  if n_undecodable else "")
               + f" · {_count(n_stored, 'paper', grouped=True)} in "
               f"{store.path} ({size_mb:,.0f} MB)")


@main.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help=CONFIG_HELP)
@click.option("--db", type=click.Path(dir_okay=False), help=DB_HELP)
def status(config_path: str | None, db: str | None) -> None:
    """Per source: last outcome, last success, last error and counts; digests; channels whose
    scheduled digest is paused; store totals."""
    cfg = _config(config_path, required=False)
    store = _open_store(cfg, db, must_exist=True)  # reporting on a database must not create one
    try:
        states = store.feed_health()
        if not states:
            click.echo("no source has been polled yet")
        for s in states:
            state = {"ok": "ok", "not_modified": "ok (not modified)", "failed": "FAILED"}.get(
                s.get("last_status") or "", "ok" if s.get("last_success") else "never polled")
            parts = [f"{s['source']}: {state}", f"last success {s.get('last_success') or 'never'}",
                     f"last run {_count(s.get('last_count') or 0, 'paper')}, {s.get('skipped_count') or 0} skipped",
                     # summed over every poll: a document fetched again counts its papers again, so
                     # these are parsed items, not distinct papers
                     f"in all polls {_count(s.get('total_count') or 0, 'item')} parsed, {s.get('skipped_total') or 0} skipped, "
                     f"{s.get('repaired_count') or 0} repaired"]
            if s.get("consecutive_failures"):
                parts.append(_count(s["consecutive_failures"], "consecutive failure"))
            if s.get("failure_count"):
                parts.append(f"{_count(s['failure_count'], 'failure')} in all")
            if s.get("last_error"):
                parts.append(f"last error at {s['last_error_at']}: {s['last_error']}")
            click.echo(" · ".join(parts))
            for reason in s["last_skipped"][:3]:
                click.echo(f"    skipped {reason}")
        digests = store.digest_counts()
        if digests:
            click.echo("digests: " + ", ".join(f"{n} {k}" for k, n in digests.items()))
            for d in store.digests("failed", 3):
                click.echo(f"    failed {d['digest_key']}: {d.get('error') or '?'}")
            if digests.get("pending"):
                click.echo("    pending digests are checked against the channel history on the next run "
                           "(now: `paperbot digests check`; by hand: `paperbot digests resolve KEY`)")
        names = {c.id: c.name for c in cfg.channels}
        paused = [(c["channel_id"], c.get("name") or names.get(c["channel_id"]) or "", c["digest_paused_at"])
                  for c in store.channels() if c.get("digest_paused_at")]
        if paused:  # /papers digest off: no scheduled digest until /papers digest on
            click.echo("scheduled digests paused: " + ", ".join(
                f"{cid}{' ' + name if name else ''} (since {since})" for cid, name, since in paused))
        collections = store.collections()
        click.echo(f"papers: {store.count_papers()} · collections: {len(collections)}")
        for name, n in collections.items():  # one a line: the name as `/papers subscribe` takes it
            click.echo(f"    {name}: {_count(n, 'paper')}")
    finally:
        store.close()


@main.command()
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help=CONFIG_HELP)
@click.option("--db", type=click.Path(dir_okay=False), help="The live database (default: from the config).")
def backup(path: str, config_path: str | None, db: str | None) -> None:
    """Write a consistent copy of the live database to PATH (SQLite online backup; safe while the
    bot runs). PATH must not exist."""
    store = _open_store(_config(config_path, required=False), db, must_exist=True)
    source = store.path
    try:
        n = store.backup(path)
    except FileExistsError as exc:
        raise click.ClickException(f"{exc}; choose a new file") from None
    except (sqlite3.Error, OSError) as exc:
        raise click.ClickException(f"backup to {path} failed: {exc}") from None
    finally:
        store.close()
    click.echo(f"backed up {source} to {path} ({_count(n, 'paper')})")


@main.command()
@click.argument("backup_path", metavar="BACKUP", type=click.Path(dir_okay=False))
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help=CONFIG_HELP)
@click.option("--db", type=click.Path(dir_okay=False), help="The live database (default: from the config).")
def restore(backup_path: str, config_path: str | None, db: str | None) -> None:
    """Replace the live database's contents with BACKUP (a file written by `paperbot backup`),
    through SQLite's backup API, so a -wal file left by a killed process cannot bring later
    changes back (copying BACKUP over the live file would). Refused, changing nothing, when
    BACKUP is not a paperbot database or another process has the live database open (stop
    `paperbot serve` first). The matrix cache next to the model is deleted and rebuilt on the
    next run."""
    from paperbot.restore import RestoreError, check_backup, processes_using, restore_backup

    cfg = _config(config_path, required=False)
    try:
        check_backup(backup_path)
    except RestoreError as exc:
        raise click.ClickException(str(exc)) from None
    live = db if db else cfg.database
    if live and Path(live).exists():
        users = processes_using(live)
        if users:
            raise click.ClickException(f"{live} is open in process {', '.join(users)}: stop it "
                                       "(paperbot serve / run) before restoring; nothing restored")
    store = _open_store(cfg, db)  # a missing live database is created; another application's is refused
    try:
        report = restore_backup(store, backup_path, cfg.recommender.model_path)
    except RestoreError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        store.close()
    digests = ", ".join(f"{n} {k}" for k, n in report.digests_after.items()) or "none"
    click.echo(f"restored {report.live} from {report.backup}: {_count(report.papers_after, 'paper')} "
               f"(it held {report.papers_before}), digests: {digests}")
    if report.removed_cache:
        click.echo(f"removed the matrix cache {report.removed_cache}: the next run rebuilds it")


@main.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help=CONFIG_HELP)
@click.option("--db", type=click.Path(dir_okay=False), help=DB_HELP)
@click.option("--host", default="0.0.0.0", show_default=True, help="HTTP mode: interface to listen on.")
@click.option("--port", default=3000, show_default=True, type=click.IntRange(0, 65535),
              help="HTTP mode: port (Slack posts to /slack/events).")
@click.option("--socket-mode", is_flag=True, help="Use Socket Mode (also chosen when SLACK_APP_TOKEN is set).")
def serve(config_path: str | None, db: str | None, host: str, port: int, socket_mode: bool) -> None:
    """Run the Slack bot: /papers, buttons, reactions, App Home, and the scheduled digests.

    Needs SLACK_BOT_TOKEN, and SLACK_SIGNING_SECRET (HTTP mode) or SLACK_APP_TOKEN (Socket Mode).
    """
    from paperbot.serve import ServeError
    from paperbot.serve import log as serve_log
    from paperbot.serve import serve as run_serve

    # what it schedules, where it listens and that it stopped: shown without -v, as INFO (not
    # WARNING: nothing is wrong, and log monitors alert on WARNING)
    if serve_log.getEffectiveLevel() > logging.INFO:
        serve_log.setLevel(logging.INFO)
    cfg = _config(config_path)
    store = _open_store(cfg, db)
    try:
        run_serve(cfg, store, host, port, socket_mode)
    except ServeError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        store.close()


@main.command("eval", context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
              add_help_option=False)
@click.pass_context
def eval_cmd(ctx: click.Context) -> None:
    """Offline ranking evaluation: paperbot eval --tasks FILE --corpus FILE [FILE …]
    --rankings OUT.jsonl [--method production|tfidf-centroid|asl-svm] [--feedback-sim]

    Prints AP (MAP), nDCG@20, Recall@50, P@10 per task and the mean (see recommender/evaluation.py).
    """
    from recommender.evaluation import main as eval_main

    try:
        code = eval_main(list(ctx.args))
    except OSError as exc:  # "nope.json: No such file or directory", not "[Errno 2] …"
        raise click.ClickException(f"{exc.filename}: {exc.strerror}" if exc.filename and exc.strerror
                                   else str(exc)) from None
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    sys.exit(code)


@main.group()
def digests() -> None:
    """Inspect digests and settle the ones whose posting outcome is unknown (status pending)."""


@digests.command("list")
@click.option("--status", "status_", default="pending", show_default=True,
              type=click.Choice(["pending", "failed", "posted", "all"]),
              help="Which digests: pending (outcome unknown: a crash or an ambiguous Slack error), failed, "
                   "posted, or all.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000),
              help="How many of the newest to show.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help=CONFIG_HELP)
@click.option("--db", type=click.Path(dir_okay=False), help=DB_HELP)
def digests_list(status_: str, limit: int, config_path: str | None, db: str | None) -> None:
    """Newest digests with a status: key, papers, when, Slack ts or error."""
    store = _open_store(_config(config_path, required=False), db, must_exist=True)
    try:
        rows = store.digests(None if status_ == "all" else status_, limit)
    finally:
        store.close()
    if not rows:
        click.echo(f"no {'' if status_ == 'all' else status_ + ' '}digests")
    for r in rows:
        detail = r.get("error") or (f"ts {r['message_ts']}" if r.get("message_ts") else "")
        click.echo(f"{r['digest_key']}  {r['status']}  {_count(r.get('paper_count') or 0, 'paper')}  "
                   f"created {r['created_at']}" + (f"  {detail}" if detail else ""))


@digests.command("check")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help=CONFIG_HELP)
@click.option("--db", type=click.Path(dir_okay=False), help=DB_HELP)
def digests_check(config_path: str | None, db: str | None) -> None:
    """Settle pending digests now from each channel's history (needs SLACK_BOT_TOKEN when a
    digest is pending).

    \b
    Exit status (for cron):
      0  no digest was pending, or every pending digest was settled (or is being posted right
         now by its own process)
      1  a digest stays uncertain: its channel history could not be read (settle it by hand
         with `paperbot digests resolve KEY --posted|--not-posted`)
    """
    from paperbot.pipeline import make_poster
    from paperbot.recovery import UNCERTAIN, recover_channel
    from bot.posting import SlackPoster

    cfg = _config(config_path, required=False)
    store = _open_store(cfg, db, must_exist=True)  # a missing database: the usual one-line error
    try:
        channels = sorted({r["channel_id"] for r in store.pending_digests()})
        if not channels:  # nothing to settle: no Slack token needed, and nothing for cron to flag
            click.echo("no pending digests")
            return
        poster = make_poster(cfg)
        if not isinstance(poster, SlackPoster):
            raise click.ClickException("no SLACK_BOT_TOKEN: the channel history cannot be read; "
                                       "settle by hand with `paperbot digests resolve KEY --posted|--not-posted`")
        uncertain = 0
        for channel in channels:
            for outcome, detail in recover_channel(store, poster, channel):
                click.echo(f"{channel}: {outcome}" + (f" ({detail})" if detail else ""))
                uncertain += outcome == UNCERTAIN
    finally:
        store.close()
    if uncertain:  # left pending: a cron job must notice, not read "success"
        click.echo(f"{_count(uncertain, 'digest')} still pending: settle by hand with "
                   "`paperbot digests resolve KEY --posted|--not-posted`", err=True)
        sys.exit(1)


@digests.command("resolve")
@click.argument("key")
@click.option("--posted", "posted", is_flag=True,
              help="It is in the channel: record it as posted (its papers stay sent).")
@click.option("--not-posted", "not_posted", is_flag=True,
              help="It is not in the channel: mark it failed and release its papers to the next digest.")
@click.option("--ts", help="The Slack message ts, when known (with --posted).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help=CONFIG_HELP)
@click.option("--db", type=click.Path(dir_okay=False), help=DB_HELP)
def digests_resolve(key: str, posted: bool, not_posted: bool, ts: str | None, config_path: str | None,
                    db: str | None) -> None:
    """Settle a pending digest KEY (CHANNEL:SLOT) by hand, when its history cannot be read:
    exactly one of --posted / --not-posted."""
    from paperbot.recovery import SettleError, settle_manually

    if posted and not_posted:  # opposite answers: refuse rather than let the last one win
        raise click.UsageError("give --posted or --not-posted, not both")
    if not posted and not not_posted:
        raise click.UsageError("give --posted or --not-posted")
    if ts is not None and not posted:
        raise click.UsageError("--ts goes with --posted")
    if ts is not None:
        ts = ts.strip()
        if not re.fullmatch(r"\d+\.\d+", ts):  # what conversations.history and reactions key on
            raise click.UsageError(f"--ts: expected a Slack message ts such as 1724486400.000100, got {ts!r} "
                                   "(a message link's p1724486400000100 is ts 1724486400.000100)")
    store = _open_store(_config(config_path, required=False), db, must_exist=True)
    try:
        row = settle_manually(store, key, posted, ts)
    except SettleError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        store.close()
    n = row.get("paper_count") or 0
    click.echo(f"digest {key}: {row['status']}" + ("" if posted else
               f" ({_count(n, 'paper')} {'goes' if n == 1 else 'go'} to the channel's next digest)"))


@main.command()
@click.argument("query", nargs=-1, required=True)
@click.option("--limit", type=click.IntRange(1, 100), default=10, show_default=True, help="Hits to show.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object a hit instead of text.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help=CONFIG_HELP)
@click.option("--db", type=click.Path(dir_okay=False), help=DB_HELP)
def search(query: tuple[str, ...], limit: int, as_json: bool, config_path: str | None, db: str | None) -> None:
    """Search the stored papers as `/papers search` does: words, "quoted phrases" and the filters
    author:NAME, cat:cs.LG, since:YYYY-MM-DD, source:hf|arxiv_rss|arxiv_api|curated|corpus|lookup;
    a query that is only an arXiv id or an arxiv.org / huggingface.co paper link shows that
    stored paper first, then the papers most like it (for a paper not stored: a line saying so and
    what fetches it, `/papers like ID`)."""
    import json

    from bot.commands_parser import parse_arxiv_id
    from bot.search_blocks import no_match_text
    from bot.text import render_search_text
    from recommender.matrix_cache import refresh
    from recommender.search import PaperNotStored, QueryError, paper_and_similar, parse_query
    from recommender.search import search as run_search
    from recommender.tfidf import EmptyVocabulary

    text = " ".join(query)
    try:
        parsed = parse_query(text)
    except QueryError as exc:
        raise click.UsageError(str(exc)) from None
    cfg = _config(config_path, required=False)
    store = _open_store(cfg, db, must_exist=True)  # a search must not leave an empty database behind
    try:
        if not store.count_papers():
            raise click.ClickException(f"no papers in {store.path}: run `paperbot run --once` or "
                                       "`paperbot import-corpus FILE` first")
        try:
            model, matrix = refresh(store, cfg.recommender.model_path, cfg.recommender.refit_days,
                                    on_refit=_say_refit)
        except EmptyVocabulary:  # as `/papers search` answers (PaperbotService._model_or_none)
            model, matrix = None, None
            click.echo("note: the stored papers hold no word TF-IDF keeps (only stop words?); "
                       "results are ranked by BM25 alone", err=True)
        aid = parse_arxiv_id(text)
        not_stored = None
        if aid is not None:  # as `paperbot.service.PaperbotService.search` answers `/papers search <id>`
            try:
                hits = paper_and_similar(store, model, aid, limit)
            except PaperNotStored:
                hits = []
                not_stored = (f"{aid} is not stored: `/papers like {aid}` in Slack fetches it from arXiv (and "
                              "records a 👍), as does `paperbot import` of a curated file listing it; search "
                              "for it again after that.")
        else:
            hits = run_search(store, model, parsed, limit, matrix=matrix)
    finally:
        store.close()
    if as_json:
        if not_stored:
            click.echo(not_stored, err=True)
        for h in hits:
            p = h.paper
            click.echo(json.dumps({"arxiv_id": p.arxiv_id, "title": p.title, "authors": p.authors,
                                   "published": p.published, "categories": p.categories,
                                   "url": p.abs_url,
                                   "hf_upvotes": p.hf_upvotes, "score": round(h.score, 4),
                                   "bm25": round(h.bm25, 4), "cosine": round(h.cosine, 4)},
                                  ensure_ascii=False))
    else:
        click.echo(render_search_text(text, hits, no_match=not_stored or no_match_text(text)), nl=False)


@main.command()
@click.option("--user", "user_id", required=True, help="Slack user id (e.g. U012ABC).")
@click.option("--paper", "paper", required=True,
              help="arXiv id (2501.01234; math.GT/0309136 is the paper math/0309136, as arXiv names it), "
                   "or an arxiv.org abs/pdf or huggingface.co/papers link.")
@click.option("--up", "up", is_flag=True, help="👍: more like this.")
@click.option("--down", "down", is_flag=True, help="👎: less like this.")
@click.option("--channel", "channel_id", default=None,
              help="Slack channel id (e.g. C012ABC) whose digest the vote is about: it then also shapes "
                   "that channel's profile, as a button or reaction on the channel's digest does.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help=CONFIG_HELP)
@click.option("--db", type=click.Path(dir_okay=False), help=DB_HELP)
def feedback(user_id: str, paper: str, up: bool, down: bool, channel_id: str | None, config_path: str | None,
             db: str | None) -> None:
    """Record a 👍/👎 for a user through the same path as Slack buttons and reactions: exactly
    one of --up / --down, and a non-empty --user. Without --channel it shapes only the user's
    own profile; with it, also the channel's (`recommender.profiles.profile_for_channel` reads
    the feedback stored with that channel id)."""
    from feeds.records import InvalidArxivId, split_arxiv_id, without_subject_class
    from recommender import feedback as fb

    if up and down:  # opposite votes: refuse rather than let the last one win
        raise click.UsageError("give --up or --down, not both")
    if not up and not down:
        raise click.UsageError("give --up or --down")
    user_id = user_id.strip()  # as --channel: " U1" would be a user no Slack vote or profile reaches
    if not user_id:
        raise click.UsageError("--user: expected a Slack user id (e.g. U012ABC), got an empty string")
    if channel_id is not None:
        channel_id = channel_id.strip()
        if not channel_id:
            raise click.UsageError("--channel: expected a Slack channel id (e.g. C012ABC), got an empty string")
    value = 1 if up else -1
    try:
        # the id as arXiv and the store spell it: math.GT/0309136 is the paper math/0309136
        arxiv_id = without_subject_class(split_arxiv_id(paper)[0])
    except InvalidArxivId as exc:
        raise click.UsageError(str(exc)) from None
    cfg = _config(config_path, required=False)
    store = _open_store(cfg, db)
    try:
        fb.record(store, user_id, arxiv_id, value, source="cli", channel_id=channel_id)
        known = store.get_paper(arxiv_id) is not None
    finally:
        store.close()
    click.echo(f"recorded {'👍' if value > 0 else '👎'} from {user_id} on {arxiv_id}"
               + (f" for channel {channel_id}" if channel_id else "")
               + ("" if known else " (paper not in the store yet: it counts once it is polled or liked)"))


if __name__ == "__main__":
    main()
