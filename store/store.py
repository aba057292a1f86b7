"""`Store`: paperbot's SQLite data layer (through sqlite-utils).

One file holds papers (primary key = arXiv id without version), curated collections, feed
state, channels, digests and the papers each digest posted, users, follows and feedback.
The file runs in WAL mode; every thread gets its own connection (bolt runs listeners on a
thread pool, the scheduler on its own), with a busy timeout so concurrent writers wait rather
than fail. Writes happen in transactions.

Other packages use only this class's public methods: no module reaches into the tables.

``papers.first_seen`` is when paperbot first learnt that the paper was *announced*, and a
digest's candidates are the papers first seen within its window (`papers_first_seen_since`).
A paper stored only from files loaded in bulk — the corpus (``paperbot import-corpus``) and the
curated databases — or fetched by id for ``/papers like`` (``lookup``), i.e. a row whose every
source is in `BACKGROUND_SOURCES`, was not announced
to us: its ``first_seen`` is its own announcement day (``published`` at 00:00 UTC, never later
than now; the Unix epoch when the day is unknown), so years-old background papers never enter a
digest while a corpus of the last few days still does. The first time a feed (any other source:
``arxiv_rss``, ``arxiv_api``, ``hf_daily``, or a record naming no source) delivers such a row,
its ``first_seen`` moves forward to that moment: the feeds announcing it today make it new.
A row a feed stored first keeps its ``first_seen`` whatever is imported later.
"""
from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import sqlite_utils

from feeds.records import Paper, norm_author
from store.schema import SCHEMA_VERSION, SchemaTooNew, migrate

_JSON_LIST_FIELDS = ("authors", "categories", "sources", "ai_keywords")
# a paper fetched by id on a user's request (``/papers like`` of an unstored paper): not announced
LOOKUP_SOURCE = "lookup"
# sources that load papers from files in bulk or on request rather than announce them (see the
# module docstring)
BACKGROUND_SOURCES = frozenset({"corpus", "curated", LOOKUP_SOURCE})
_UNKNOWN_DAY_FIRST_SEEN = "1970-01-01T00:00:00+00:00"
BUSY_TIMEOUT_MS = 30_000
# How long a reaction removal that found nothing to undo is kept (`Store.remember_reaction_removal`):
# Slack retries a failed event delivery 3 times within about an hour
# (https://api.slack.com/apis/events-api#retries), so the late add it waits for comes within
# that; a week leaves a wide margin for an app that was down or slow to answer.
REACTION_REMOVALS_KEPT = timedelta(days=7)
# How long a claimed Slack event key is kept (`Store.claim_event`, table ``processed_events``): a
# key only has to outlive Slack's redeliveries of its event, 3 retries within about an hour
# (https://api.slack.com/apis/events-api#retries); a week leaves the same wide margin for an app
# that was down or slow to answer as `REACTION_REMOVALS_KEPT`.
PROCESSED_EVENTS_KEPT = timedelta(days=7)
# `Store.claim_event` prunes the keys older than `PROCESSED_EVENTS_KEPT` at most this often (per
# `Store`): a key may outlive the week by up to this much, and claims in between only insert.
PROCESSED_EVENTS_PRUNE_EVERY = timedelta(hours=1)


# papers first stored at or after a time, newest announcement first (one window, two projections).
# "+published" (the same value; unary + is a no-op in SQLite) keeps the planner from walking
# idx_papers_published to satisfy the ORDER BY, which visits every row (~80 ms at 47k papers);
# it searches idx_papers_first_seen (schema v5) and sorts the window's rows instead.
_FIRST_SEEN_SINCE = "from papers where first_seen >= ? order by +published desc, arxiv_id"


def utcnow() -> str:
    """Current UTC time as ISO-8601 seconds (``2026-11-21T09:00:00+00:00``)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _enable_wal(conn: sqlite3.Connection) -> None:
    """Switch `conn`'s file to WAL. The switch needs an exclusive lock and SQLite answers
    "database is locked" at once, without the busy handler, while another process is creating
    or migrating the same new file; retry for up to `BUSY_TIMEOUT_MS`."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def probe_database(path: str | Path) -> tuple[str, list[str]]:
    """What is at `path`, read without writing anything: ``(kind, table names)`` with kind
    ``"missing"``, ``"folder"``, ``"empty"`` (a 0-byte file or an SQLite file with no tables:
    `Store` makes it a paperbot database), ``"paperbot"`` (schema ≥ v1 with a ``papers`` table,
    or a newer schema, which `Store` refuses with `SchemaTooNew`) or ``"foreign"`` (another
    application's SQLite file, which `Store` would alter).

    Raises:
        sqlite3.DatabaseError: not an SQLite file or a damaged one; sqlite3.OperationalError: locked
            for longer than `BUSY_TIMEOUT_MS`.
    """
    p = Path(path)
    if not p.exists():
        return "missing", []
    if p.is_dir():
        return "folder", []
    if p.stat().st_size == 0:
        return "empty", []
    conn = sqlite3.connect(p.resolve().as_uri() + "?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = sorted(r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))
    finally:
        conn.close()
    if version > SCHEMA_VERSION or (version >= 1 and "papers" in tables):
        return "paperbot", tables
    if not tables and version == 0:
        return "empty", []
    return "foreign", tables


class Store:
    """Open (creating and migrating as needed) the paperbot database at `path`.

    `path` may be ``":memory:"`` only for single-threaded use (each thread would get its own
    empty in-memory database).
    """

    def __init__(self, path: str | Path):
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._events_pruned_at: datetime | None = None  # `claim_event`'s last prune, by `utcnow`
        try:
            migrate(self.db)
        except BaseException:  # a refused database (SchemaTooNew, not SQLite): no connection left open
            self.close()
            raise

    # ---- connections -------------------------------------------------------------------
    @property
    def db(self) -> sqlite_utils.Database:
        """This thread's `sqlite_utils.Database` (created on first use)."""
        db = getattr(self._local, "db", None)
        if db is None:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if self.path != ":memory:":
                _enable_wal(conn)
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            db = sqlite_utils.Database(conn)
            self._local.db = db
            with self._conns_lock:
                self._conns.append(conn)
        return db

    @contextmanager
    def transaction(self) -> Iterator[sqlite_utils.Database]:
        """``with store.transaction() as db:`` — one write transaction (BEGIN IMMEDIATE), committed
        on success and rolled back on error."""
        db = self.db
        conn = db.conn
        if conn.in_transaction:
            yield db
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    def close(self) -> None:
        """Close every thread's connection."""
        with self._conns_lock:
            for conn in self._conns:
                try:
                    conn.close()
                except sqlite3.Error:
                    pass
            self._conns.clear()
        self._local = threading.local()

    def journal_mode(self) -> str:
        """The SQLite journal mode in force (``wal`` for file databases)."""
        return self.db.conn.execute("PRAGMA journal_mode").fetchone()[0]

    # ---- papers ------------------------------------------------------------------------
    def upsert_papers(self, papers: Iterable[Paper]) -> dict[str, int]:
        """Insert or merge papers; return ``{"inserted": n, "updated": n, "unchanged": n}``.

        Merge rule for a paper already stored: sources are unioned; a newer arXiv version (or a
        row whose version is unknown) takes the incoming title/abstract/authors/categories/dates;
        otherwise incoming values only fill empty fields; HF fields (upvotes, ai_keywords,
        githubRepo) take the latest non-empty value. The abstract has one more rule, whatever
        the versions and the order of arrival (`_merge_abstract`): a complete abstract replaces
        one flagged `Paper.abstract_truncated` and is never replaced by one, and of two texts
        one of which starts with the other the longer is kept (a cut copy imported before the
        flag existed is still repaired).

        ``first_seen`` follows the rule of the module docstring: now for a paper a feed delivers
        first, its ``published`` day for one only `BACKGROUND_SOURCES` delivered, moved to now
        when a feed first delivers a row that only those had.

        Every inserted or changed row gets this transaction's `change_seq` value.
        """
        counts = {"inserted": 0, "updated": 0, "unchanged": 0}
        now = utcnow()
        with self.transaction() as db:
            table = db["papers"]
            seq: int | None = None  # taken on the first write, so a no-op upsert writes nothing
            for paper in papers:
                incoming = _paper_row(paper)
                existing = self._get_row(paper.arxiv_id)
                if existing is None:
                    seq = seq or self._next_change_seq(db)
                    incoming["first_seen"] = _first_seen(None, incoming, now)
                    incoming["last_seen"] = now
                    incoming["change_seq"] = seq
                    table.insert(incoming)
                    counts["inserted"] += 1
                    continue
                merged = _merge_rows(existing, incoming)
                merged["first_seen"] = _first_seen(existing, incoming, now)
                merged["last_seen"] = now
                changed = {k: v for k, v in merged.items() if existing.get(k) != v and k != "last_seen"}
                if changed:
                    seq = seq or self._next_change_seq(db)
                    table.update(paper.arxiv_id, {**changed, "last_seen": now, "change_seq": seq})
                    counts["updated"] += 1
                else:
                    counts["unchanged"] += 1
        return counts

    def bulk_upsert_papers(self, papers: Iterable[Paper], batch: int = 5000,
                           progress: Callable[[int], None] | None = None,
                           commit_every: int = 25_000) -> dict[str, int]:
        """`upsert_papers` for large imports: same merge rules, same resulting rows and counts.

        Papers are taken `batch` at a time: one query per 500 ids looks up the batch's existing
        rows, merging happens in memory (a paper repeated within the input is merged in input
        order, as `upsert_papers` would) and writes use ``executemany`` (new rows inserted,
        changed rows updated). A transaction is committed every `commit_every` papers: FTS5
        flushes a new index segment at each commit, so large transactions (with a 64 MB page
        cache on this connection) build far fewer segments than one commit per small batch —
        on the 99k-paper corpus 25 s instead of 38 s. The FTS5 index `papers_fts` stays current
        through the table's triggers. `progress(n)` is called after each batch with the number
        of input papers handled. Each batch's inserted and changed rows get that batch's
        `change_seq` value. Returns ``{"inserted": n, "updated": n, "unchanged": n}``.

        Raises:
            ValueError: `batch` or `commit_every` < 1.
        """
        counts = {"inserted": 0, "updated": 0, "unchanged": 0}
        if batch < 1 or commit_every < 1:
            raise ValueError(f"batch and commit_every must be >= 1, not {batch}, {commit_every}")
        it = iter(papers)
        conn = self.db.conn
        cache_before = conn.execute("PRAGMA cache_size").fetchone()[0]
        conn.execute("PRAGMA cache_size = -65536")
        try:
            while True:
                with self.transaction():
                    n = self._bulk_batches(it, batch, max(1, commit_every // batch), counts, progress)
                if n == 0:
                    break
        finally:
            conn.execute(f"PRAGMA cache_size = {int(cache_before)}")
        return counts

    def _bulk_batches(self, it: Iterator[Paper], batch: int, n_batches: int, counts: dict[str, int],
                      progress: Callable[[int], None] | None) -> int:
        """Merge and write up to `n_batches` batches of `it` in the current transaction; return
        the number of papers taken (0 when `it` is exhausted)."""
        taken = 0
        cols: list[str] | None = None
        for _ in range(n_batches):
            chunk = list(islice(it, batch))
            if not chunk:
                break
            taken += len(chunk)
            now = utcnow()
            with self.transaction() as db:
                ids = list(dict.fromkeys(p.arxiv_id for p in chunk))
                current: dict[str, dict[str, Any]] = {}
                for i in range(0, len(ids), 500):
                    part = ids[i:i + 500]
                    marks = ",".join("?" * len(part))
                    for row in db.query(f"select * from papers where arxiv_id in ({marks})", part):
                        current[row["arxiv_id"]] = row
                new_ids: list[str] = []
                dirty: dict[str, None] = {}
                for paper in chunk:
                    incoming = _paper_row(paper)
                    aid = paper.arxiv_id
                    existing = current.get(aid)
                    if existing is None:
                        incoming["first_seen"] = _first_seen(None, incoming, now)
                        incoming["last_seen"] = now
                        current[aid] = incoming
                        new_ids.append(aid)
                        counts["inserted"] += 1
                        continue
                    merged = _merge_rows(existing, incoming)
                    merged["first_seen"] = _first_seen(existing, incoming, now)
                    if any(existing.get(k) != v for k, v in merged.items() if k != "last_seen"):
                        merged["last_seen"] = now
                        current[aid] = merged
                        dirty[aid] = None
                        counts["updated"] += 1
                    else:
                        counts["unchanged"] += 1
                if cols is None:
                    cols = [c.name for c in db["papers"].columns]
                if new_ids or dirty:
                    seq = self._next_change_seq(db)
                    for a in (*new_ids, *dirty):
                        current[a]["change_seq"] = seq
                if new_ids:
                    db.conn.executemany(
                        f"insert into papers ({', '.join(cols)}) values ({', '.join('?' * len(cols))})",
                        [[current[a].get(c) for c in cols] for a in new_ids])
                fresh = set(new_ids)
                upd = [a for a in dirty if a not in fresh]
                if upd:
                    set_cols = [c for c in cols if c != "arxiv_id"]
                    db.conn.executemany(
                        f"update papers set {', '.join(c + ' = ?' for c in set_cols)} where arxiv_id = ?",
                        [[current[a].get(c) for c in set_cols] + [a] for a in upd])
            if progress is not None:
                progress(len(chunk))
        return taken

    def _next_change_seq(self, db: sqlite_utils.Database) -> int:
        """Take the next value of the papers' change sequence (schema v4, ``change_counter``) for
        the rows the current write transaction inserts or changes.

        Raises:
            RuntimeError: called outside a write transaction (the value would not be ordered
                with other writers' values).
        """
        if not db.conn.in_transaction:
            raise RuntimeError("change_seq values are taken inside a write transaction")
        db.execute("update change_counter set seq = seq + 1 where id = 0")
        return db.execute("select seq from change_counter where id = 0").fetchone()[0]

    def _get_row(self, arxiv_id: str) -> dict | None:
        rows = list(self.db.query("select * from papers where arxiv_id = ?", [arxiv_id]))
        return rows[0] if rows else None

    def get_paper(self, arxiv_id: str) -> Paper | None:
        """The stored paper with this arXiv id (no version), or None."""
        row = self._get_row(arxiv_id)
        return _row_to_paper(row) if row else None

    def get_papers(self, arxiv_ids: Iterable[str]) -> dict[str, Paper]:
        """``{arxiv_id: Paper}`` for the ids that are stored (missing ids are left out)."""
        ids = list(dict.fromkeys(arxiv_ids))
        out: dict[str, Paper] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            marks = ",".join("?" * len(chunk))
            for row in self.db.query(f"select * from papers where arxiv_id in ({marks})", chunk):
                out[row["arxiv_id"]] = _row_to_paper(row)
        return out

    def iter_papers(self, since: str | None = None) -> Iterator[Paper]:
        """Every stored paper (optionally with ``published >= since``), ordered by arXiv id."""
        if since:
            rows = self.db.query("select * from papers where published >= ? order by arxiv_id", [since])
        else:
            rows = self.db.query("select * from papers order by arxiv_id")
        for row in rows:
            yield _row_to_paper(row)

    def change_seq(self) -> int:
        """The papers' change watermark: an int ≥ 1 that every committed row's ``change_seq`` is
        at most, and that every later committed insert or change of a paper exceeds.

        Each write transaction that inserts or changes papers takes the next value of a counter
        while it holds SQLite's single write lock (`_next_change_seq`), so values follow commit
        order; a row committed after this call can never carry a value ≤ the one returned. (A
        wall-clock stamp such as ``last_seen`` is taken when a write starts and may commit
        seconds later, behind a reader that has already moved past it.)
        """
        return self.db.execute("select seq from change_counter where id = 0").fetchone()[0]

    def paper_changes_since(self, seq: int) -> tuple[int, list[str]]:
        """``(watermark, arxiv_ids)``: the current `change_seq` and the ids of the papers inserted
        or changed after `seq` and at or before that watermark, ordered by arXiv id.

        Pass the returned watermark as `seq` next time to get exactly the later changes: the
        watermark is read first, so a write committing meanwhile carries a larger value and is
        left for the next call, never skipped. ``seq = 0`` lists every stored paper.
        """
        high = self.change_seq()
        ids = [r[0] for r in self.db.execute(
            "select arxiv_id from papers where change_seq > ? and change_seq <= ? order by arxiv_id",
            [int(seq), high])]
        return high, ids

    def papers_first_seen_since(self, iso_time: str) -> list[Paper]:
        """Papers first stored at or after `iso_time` (UTC ISO), newest announcement first."""
        return [_row_to_paper(r) for r in self.db.query(f"select * {_FIRST_SEEN_SINCE}", [iso_time])]

    def paper_change_seqs_first_seen_since(self, iso_time: str) -> list[tuple[str, int]]:
        """``[(arxiv_id, change_seq), …]`` of the papers `papers_first_seen_since` returns, in the
        same order, without decoding them. A row's ``change_seq`` (schema v4) grows with every
        committed insert or change of it, in commit order (`change_seq`), so a caller can tell
        which papers it already holds are still current: an equal value means the same content."""
        return [(r["arxiv_id"], r["change_seq"]) for r in self.db.query(
            f"select arxiv_id, change_seq {_FIRST_SEEN_SINCE}", [iso_time])]

    def sample_papers(self, n: int, exclude: set[str] | None = None,
                      first_seen_before: str | None = None) -> list[Paper]:
        """`n` stored papers spread evenly over the table (every paper when fewer are stored),
        minus `exclude`: the ranker's background sample.

        With `first_seen_before` (UTC ISO seconds) only papers first stored before that time are
        sampled: a digest passes the start of its candidate window, so the background is the
        feed the channel has already seen, never the candidates it is about to rank (as
        `paperbot eval` measures it; see `paperbot.digests._ModelMemo.background`).

        The papers in storage (rowid) order are taken at positions ``⌊i · total / n⌋`` for
        i = 0 … n-1 (`spread_positions`), so the first and the latest stored papers are both in
        it, each stretch of the table gives its share, and the same database gives the same
        sample. `exclude` (arXiv ids) is removed afterwards, so up to ``len(exclude)`` fewer
        papers come back. Returned in storage order; [] when `n` ≤ 0 or nothing qualifies.
        """
        if n <= 0:
            return []
        conn = self.db.conn
        if first_seen_before is None:
            rowids = [r[0] for r in conn.execute("select rowid from papers order by rowid")]
        else:
            rowids = [r[0] for r in conn.execute(
                "select rowid from papers where first_seen < ? order by rowid", [first_seen_before])]
        rowids = [rowids[i] for i in spread_positions(len(rowids), n)]
        exclude = exclude or set()
        out: list[Paper] = []
        for i in range(0, len(rowids), 900):
            part = rowids[i:i + 900]
            for row in self.db.query(f"select * from papers where rowid in ({','.join('?' * len(part))}) "
                                     "order by rowid", part):
                if row["arxiv_id"] not in exclude:
                    out.append(_row_to_paper(row))
        return out

    def count_papers(self, first_seen_before: str | None = None) -> int:
        """Number of stored papers; with `first_seen_before` (UTC ISO seconds), of those first
        stored before that time."""
        if first_seen_before is None:
            return self.db["papers"].count
        return self.db.execute("select count(*) from papers where first_seen < ?",
                               [first_seen_before]).fetchone()[0]

    def author_paper_ids(self, name: str, limit: int | None = None) -> list[str]:
        """arXiv ids of the stored papers that list `name` as one of their authors, newest first
        (``published`` descending, then arXiv id), at most `limit` (all when None).

        A whole-name match after `feeds.records.norm_author` (case, dots and spacing do not
        matter; ``"wei  li"`` finds ``"Wei Li"``), unlike the substring `authors` filter of
        `search_papers`: following ``Wei Li`` must not bring in Wei Liu, Zhiwei Li or Junwei Liao.
        This is what an author follow counts (`recommender.profiles.profile_for_user`).

        Cost: the candidates are narrowed through the FTS5 ``authors`` column on the name's
        ASCII words (30 ms for a common name such as ``Wei Li``, 1 ms for a rarer one, on the
        46,708-paper corpus), then checked exactly. That column holds the JSON text of the list,
        where a non-ASCII character is a ``\\uXXXX`` escape glued to its neighbours, so a word
        next to one is not used for FTS5; a name with no usable word (0.25 % of the corpus's
        names, e.g. ``Doğukan Bağcı``) is narrowed by a substring scan of its ASCII letters
        (~0.1 s), and one with no ASCII letter at all (``李伟``) is checked on every row (~0.5 s).
        Whitespace inside stored names must be plain spaces (the feeds collapse it).
        Returns [] for an empty name.
        """
        target = norm_author(name)
        if not target:
            return []
        conn = self.db.conn
        fts_words, ascii_words = _author_words(target)
        if fts_words:
            expr = " AND ".join('authors : "' + w + '"' for w in fts_words)
            rows = conn.execute("select arxiv_id, published, authors from papers where rowid in "
                                "(select rowid from papers_fts where papers_fts match ?)", [expr])
        elif ascii_words:
            rows = conn.execute("select arxiv_id, published, authors from papers where "
                                + " and ".join("authors like ? escape '\\'" for _ in ascii_words),
                                ["%" + _like_escape(w) + "%" for w in ascii_words])
        else:
            rows = conn.execute("select arxiv_id, published, authors from papers")
        hits = [(aid, published) for aid, published, authors in rows
                if any(norm_author(a) == target for a in json.loads(authors or "[]"))]
        hits.sort(key=lambda t: (-_date_key(t[1]), t[0]))
        return [a for a, _ in (hits if limit is None else hits[:max(0, limit)])]

    # ---- curated collections -----------------------------------------------------------
    def add_to_collection(self, name: str, arxiv_ids: Iterable[str], description: str | None = None) -> int:
        """Create collection `name` if needed and add papers (already stored) to it, keeping order.

        Returns the number of papers newly added.
        """
        now = utcnow()
        added = 0
        with self.transaction() as db:
            db["collections"].insert({"name": name, "description": description, "created_at": now},
                                     ignore=True)
            start = db.execute("select coalesce(max(position), -1) + 1 from collection_papers where collection = ?",
                               [name]).fetchone()[0]
            for i, aid in enumerate(arxiv_ids):
                cur = db.execute(
                    "insert or ignore into collection_papers (collection, arxiv_id, position, added_at) "
                    "values (?, ?, ?, ?)", [name, aid, start + i, now])
                added += cur.rowcount
        return added

    def sync_collection(self, name: str, arxiv_ids: Iterable[str],
                        description: str | None = None) -> tuple[int, int]:
        """Make collection `name` hold exactly `arxiv_ids` (papers already stored): papers not in
        the list are removed, missing ones added after the others in list order (as
        `add_to_collection` adds them), in one transaction. Creates the collection if needed.

        Returns ``(added, removed)``, the numbers of papers added and removed.
        """
        ids = list(dict.fromkeys(arxiv_ids))
        with self.transaction() as db:
            removed = db.execute(
                "delete from collection_papers where collection = ? and arxiv_id not in "
                "(select value from json_each(?))", [name, json.dumps(ids)]).rowcount
            added = self.add_to_collection(name, ids, description)
        return added, removed

    def collections(self) -> dict[str, int]:
        """``{collection name: number of papers}`` for every collection."""
        return {r["name"]: r["n"] for r in self.db.query(
            "select c.name, count(cp.arxiv_id) as n from collections c left join collection_papers cp "
            "on cp.collection = c.name group by c.name order by c.name")}

    def collection_ids(self, name: str) -> list[str]:
        """arXiv ids of a collection in list order ([] for an unknown collection)."""
        return [r["arxiv_id"] for r in self.db.query(
            "select arxiv_id from collection_papers where collection = ? order by position", [name])]

    def curated_ids(self) -> set[str]:
        """Every arXiv id that belongs to any curated collection."""
        return {r["arxiv_id"] for r in self.db.query("select distinct arxiv_id from collection_papers")}

    # ---- feed state --------------------------------------------------------------------
    def feed_state(self, source: str) -> dict[str, Any]:
        """Stored state for a feed source (validators, last success/error, counts); {} if none."""
        rows = list(self.db.query("select * from feed_state where source = ?", [source]))
        return rows[0] if rows else {}

    def all_feed_states(self) -> list[dict[str, Any]]:
        """Every feed source's stored state, ordered by name."""
        return list(self.db.query("select * from feed_state order by source"))

    def feed_health(self) -> list[dict[str, Any]]:
        """Every source's health for `paperbot status`, the App Home and ops, ordered by name:
        the feed-state row with ``last_skipped`` decoded to a list of reasons and ``failing``
        (True when the last poll failed)."""
        out = []
        for row in self.all_feed_states():
            row = dict(row)
            row["last_skipped"] = json.loads(row.get("last_skipped") or "[]")
            row["failing"] = row.get("last_status") == "failed"
            out.append(row)
        return out

    def forget_feed_states(self, sources: Iterable[str]) -> int:
        """Delete the feed-state rows of `sources` (names; unknown ones are ignored) and return
        how many were deleted: a source that no longer exists, such as a past HF day."""
        names = list(sources)
        if not names:
            return 0
        with self.transaction() as db:
            cur = db.execute(f"delete from feed_state where source in ({','.join('?' * len(names))})", names)
            return cur.rowcount

    def record_feed_success(self, source: str, url: str, count: int, skipped: int = 0,
                            etag: str | None = None, last_modified: str | None = None,
                            repaired: int = 0, skipped_reasons: list[str] | None = None,
                            not_modified: bool = False, clear_validators: bool = False) -> None:
        """Record a successful poll of `source`: validators for the next conditional GET, counts
        (`count` papers stored, `skipped` bad items with up to 20 `skipped_reasons`, `repaired`
        items kept with cut/dropped values), and reset the consecutive-failure counter.
        `clear_validators` forgets the stored ETag/Last-Modified (the document was incomplete, so
        the next poll must not get a 304 for it)."""
        now = utcnow()
        with self.transaction() as db:
            prev = self.feed_state(source)
            db["feed_state"].upsert({
                "source": source, "url": url,
                "etag": None if clear_validators else etag or prev.get("etag"),
                "last_modified": None if clear_validators else last_modified or prev.get("last_modified"),
                "last_attempt": now, "last_success": now, "last_count": count,
                "skipped_count": skipped, "total_count": (prev.get("total_count") or 0) + count,
                "last_status": "not_modified" if not_modified else "ok", "consecutive_failures": 0,
                "skipped_total": (prev.get("skipped_total") or 0) + skipped,
                "repaired_count": (prev.get("repaired_count") or 0) + repaired,
                "last_skipped": json.dumps(list(skipped_reasons or [])[:20]),
            }, pk="source")

    def record_feed_error(self, source: str, url: str, error: str) -> None:
        """Record a failed poll of `source` (earlier validators and counts are kept; the failure
        counters go up)."""
        now = utcnow()
        with self.transaction() as db:
            prev = self.feed_state(source)
            db["feed_state"].upsert({"source": source, "url": url, "last_attempt": now,
                                     "last_error": error[:500], "last_error_at": now,
                                     "last_status": "failed",
                                     "consecutive_failures": (prev.get("consecutive_failures") or 0) + 1,
                                     "failure_count": (prev.get("failure_count") or 0) + 1}, pk="source")

    # ---- backup ------------------------------------------------------------------------
    def restore_from(self, source: str | Path, pages: int = 256) -> int:
        """Replace everything in this database with the paperbot database at `source` (a file
        written by `backup`), through SQLite's backup API with this database as the destination
        (https://www.sqlite.org/backup.html). The pages are written through this connection, so
        they go through this database's own WAL: a write-ahead log left by a killed process has
        been read when the database was opened, and cannot be replayed over the restored pages
        later (copying the backup file over the live one would let it). Then the schema is
        migrated forward, as opening the file would (a backup of an older paperbot).

        Returns the number of papers now stored.

        Raises:
            SchemaTooNew: `source` was written by a newer paperbot; nothing is changed.
            sqlite3.DatabaseError: `source` is damaged or fails its integrity check; nothing is
                changed. sqlite3.Error on other failures (SQLite rolls the copy back).
        """
        src = sqlite3.connect(Path(source).resolve().as_uri() + "?mode=ro", uri=True,
                              timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            version = src.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise SchemaTooNew(f"{source} has schema version {version}; this paperbot knows up to "
                                   f"{SCHEMA_VERSION}")
            check = src.execute("PRAGMA integrity_check").fetchone()[0]
            if check != "ok":
                raise sqlite3.DatabaseError(f"{source} failed its integrity check: {check}")
            conn = self.db.conn
            if conn.in_transaction:
                raise sqlite3.OperationalError("restore_from inside an open transaction")
            src.backup(conn, pages=pages)
        finally:
            src.close()
        migrate(self.db)
        return self.count_papers()

    def backup(self, dest: str | Path, pages: int = 256) -> int:
        """Write a consistent copy of the live database to `dest` with SQLite's online backup API
        (https://www.sqlite.org/backup.html via `sqlite3.Connection.backup`), copying `pages`
        pages per step so writers on other threads/processes are not blocked for long.

        Returns the number of papers in the copy (read back from it as a check).

        Raises:
            FileExistsError: `dest` exists (a backup never overwrites); sqlite3.Error on failure.
        """
        dest = Path(dest)
        if dest.exists():
            raise FileExistsError(f"backup target {dest} already exists")
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".partial")
        target = sqlite3.connect(str(tmp))
        try:
            self.db.conn.backup(target, pages=pages)
            target.execute("PRAGMA journal_mode = DELETE")  # a self-contained single file
            n = target.execute("select count(*) from papers").fetchone()[0]
            check = target.execute("PRAGMA integrity_check").fetchone()[0]
            if check != "ok":
                raise sqlite3.DatabaseError(f"backup failed its integrity check: {check}")
        except BaseException:
            target.close()
            tmp.unlink(missing_ok=True)
            raise
        target.close()
        tmp.replace(dest)
        return n

    # ---- channels ----------------------------------------------------------------------
    def upsert_channel(self, channel_id: str, **fields: Any) -> None:
        """Create or update a channel's digest settings. List fields (collections, keywords,
        authors) are stored as JSON."""
        row = {"channel_id": channel_id}
        for k, v in fields.items():
            row[k] = json.dumps(v) if isinstance(v, (list, tuple)) else v
        with self.transaction() as db:
            if not db["channels"].exists() or not list(db.query(
                    "select 1 from channels where channel_id = ?", [channel_id])):
                row.setdefault("created_at", utcnow())
            db["channels"].upsert(row, pk="channel_id")

    def get_channel(self, channel_id: str) -> dict[str, Any] | None:
        """A channel's settings with list fields decoded, or None."""
        rows = list(self.db.query("select * from channels where channel_id = ?", [channel_id]))
        return _decode_channel(rows[0]) if rows else None

    def channels(self) -> list[dict[str, Any]]:
        """Every channel's settings, list fields decoded."""
        return [_decode_channel(r) for r in self.db.query("select * from channels order by channel_id")]

    def digest_paused_since(self, channel_id: str) -> str | None:
        """When the channel's scheduled digest was paused (`set_digest_paused`; UTC ISO-8601
        seconds, ``2026-11-22T10:00:00+00:00``), or None while it runs (or has no row)."""
        rows = list(self.db.query("select digest_paused_at from channels where channel_id = ?", [channel_id]))
        return (rows[0]["digest_paused_at"] or None) if rows else None

    def set_digest_paused(self, channel_id: str, paused: bool) -> bool:
        """Pause (`paused`) or resume a channel's scheduled digest, creating its row if needed
        (a channel of the config file has none until a setting is stored from Slack). Pausing
        stamps ``digest_paused_at``; resuming clears it and stamps ``digest_resumed_at`` (UTC
        ISO-8601 seconds, `utcnow`). Returns False when the channel already was in that state
        (nothing written)."""
        with self.transaction():  # read and write under one write lock
            was_paused = self.digest_paused_since(channel_id) is not None
            if was_paused == bool(paused):
                return False
            now = utcnow()
            self.upsert_channel(channel_id, **({"digest_paused_at": now} if paused else
                                               {"digest_paused_at": None, "digest_resumed_at": now}))
            return True

    # ---- digests -----------------------------------------------------------------------
    def begin_digest(self, digest_key: str, channel_id: str, slot: str,
                     papers: list[tuple[str, float, str]]) -> tuple[int, dict[str, Any]]:
        """Record the intent to post a digest before posting it.

        `papers` is ``[(arxiv_id, score, why), …]`` in rank order. If a digest with this key
        already exists, nothing is written and its row is returned, so a caller can tell a
        digest that was already posted (status ``posted``) from one whose post is uncertain
        (``pending``). Returns ``(digest_id, row)``. See `claim_digest` to also learn whether
        this call created the intent.
        """
        digest_id, row, _ = self.claim_digest(digest_key, channel_id, slot, papers)
        return digest_id, row

    def claim_digest(self, digest_key: str, channel_id: str, slot: str,
                     papers: list[tuple[str, float, str]],
                     owner: str | None = None) -> tuple[int, dict[str, Any], bool]:
        """Like `begin_digest`, plus ``created``: True only when this call wrote the intent (in one
        ``BEGIN IMMEDIATE`` transaction), so of two workers racing for one key exactly one gets
        True and may post. A ``failed`` row is replaced (a new attempt). `owner` names the
        process writing it (see `paperbot.recovery`). Returns ``(digest_id, row, created)``."""
        with self.transaction() as db:
            rows = list(db.query("select * from digests where digest_key = ?", [digest_key]))
            if rows and rows[0]["status"] != "failed":
                return rows[0]["id"], rows[0], False
            if rows:  # a failed attempt is replaced by this one
                db.execute("delete from digest_papers where digest_id = ?", [rows[0]["id"]])
                db.execute("delete from digests where id = ?", [rows[0]["id"]])
            digest_id = db["digests"].insert({
                "digest_key": digest_key, "channel_id": channel_id, "slot": slot,
                "status": "pending", "created_at": utcnow(), "paper_count": len(papers),
                "owner": owner,
            }).last_pk
            db["digest_papers"].insert_all(
                [{"digest_id": digest_id, "channel_id": channel_id, "arxiv_id": aid, "rank": i,
                  "score": float(score), "why": why} for i, (aid, score, why) in enumerate(papers)])
            row = list(db.query("select * from digests where id = ?", [digest_id]))[0]
        return digest_id, row, True

    def finish_digest(self, digest_id: int, message_ts: str | None, thread_ts: str | None = None,
                      status: str = "posted", error: str | None = None) -> None:
        """Record the outcome of posting a digest: Slack message ``ts`` (``posted``), or the error
        (``failed``). A dry run (terminal output, no token) records no digest."""
        with self.transaction() as db:
            db["digests"].update(digest_id, {"status": status, "message_ts": message_ts,
                                             "thread_ts": thread_ts, "posted_at": utcnow(),
                                             "error": error})

    def release_digest_papers(self, digest_id: int, arxiv_ids: list[str]) -> int:
        """Take papers that never reached Slack (e.g. a failed thread reply) out of a digest, so
        `sent_paper_ids` no longer counts them and the channel's next digest offers them again.
        ``paper_count`` drops accordingly. Returns how many were released."""
        if not arxiv_ids:
            return 0
        with self.transaction() as db:
            marks = ",".join("?" * len(arxiv_ids))
            n = db.execute(f"delete from digest_papers where digest_id = ? and arxiv_id in ({marks})",
                           [digest_id, *arxiv_ids]).rowcount
            db.execute("update digests set paper_count = paper_count - ? where id = ?", [n, digest_id])
        return n

    def restore_digest_papers(self, digest_id: int, channel_id: str,
                              papers: list[tuple[str, int, float, str]]) -> int:
        """Put released papers back into a digest once they did reach Slack (a thread reply posted
        after `release_digest_papers` set them aside): `papers` is ``[(arxiv_id, rank, score,
        why)]``; rows already there are left alone. ``paper_count`` rises accordingly. Returns
        how many were added."""
        if not papers:
            return 0
        with self.transaction() as db:
            before = db.execute("select count(*) from digest_papers where digest_id = ?", [digest_id]).fetchone()[0]
            db["digest_papers"].insert_all(
                [{"digest_id": digest_id, "channel_id": channel_id, "arxiv_id": aid, "rank": rank,
                  "score": float(score), "why": why} for aid, rank, score, why in papers], ignore=True)
            n = db.execute("select count(*) from digest_papers where digest_id = ?", [digest_id]).fetchone()[0] - before
            db.execute("update digests set paper_count = paper_count + ? where id = ?", [n, digest_id])
        return n

    def get_digest(self, digest_key: str) -> dict[str, Any] | None:
        """The digest row with this key, or None."""
        rows = list(self.db.query("select * from digests where digest_key = ?", [digest_key]))
        return rows[0] if rows else None

    def pending_digests(self, channel_id: str | None = None) -> list[dict[str, Any]]:
        """Digest rows still ``pending`` (intent recorded, outcome unknown: the process may have
        died around chat.postMessage), oldest first; optionally for one channel."""
        sql = "select * from digests where status = 'pending'"
        args: list[Any] = []
        if channel_id is not None:
            sql += " and channel_id = ?"
            args.append(channel_id)
        return list(self.db.query(sql + " order by id", args))

    def digests(self, status: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        """The newest `limit` digest rows (all of them, or those with `status`), newest first."""
        sql, args = "select * from digests", []
        if status is not None:
            sql += " where status = ?"
            args.append(status)
        return list(self.db.query(sql + " order by id desc limit ?", [*args, limit]))

    def digest_counts(self) -> dict[str, int]:
        """``{status: number of digests}`` (posted, pending, failed, …) for status/ops."""
        return {r["status"]: r["n"] for r in self.db.query(
            "select status, count(*) as n from digests group by status order by status")}

    def digest_paper_ids(self, digest_id: int) -> list[str]:
        """arXiv ids a digest holds, in rank order."""
        return [r["arxiv_id"] for r in self.db.query(
            "select arxiv_id from digest_papers where digest_id = ? order by rank", [digest_id])]

    def digest_by_message(self, channel_id: str, message_ts: str) -> dict[str, Any] | None:
        """The digest whose main message or one of whose thread replies is the Slack message
        (channel, ts), or None. ``thread_ts`` holds the replies' ts comma-joined, so each is
        matched whole (``instr`` on ``,a,b,`` — a ts is digits and one dot)."""
        rows = list(self.db.query(
            "select * from digests where channel_id = ? and (message_ts = ? or "
            "instr(',' || coalesce(thread_ts, '') || ',', ',' || ? || ',') > 0) order by id limit 1",
            [channel_id, message_ts, message_ts]))
        return rows[0] if rows else None

    def sent_paper_ids(self, channel_id: str) -> set[str]:
        """arXiv ids a channel already got in a digest that was posted or is pending."""
        return {r["arxiv_id"] for r in self.db.query(
            "select dp.arxiv_id from digest_papers dp join digests d on d.id = dp.digest_id "
            "where dp.channel_id = ? and d.status in ('posted', 'pending')", [channel_id])}

    # ---- users, follows and feedback ---------------------------------------------------
    def ensure_user(self, user_id: str, name: str | None = None) -> None:
        """Create the user row if it does not exist."""
        with self.transaction() as db:
            db["users"].insert({"user_id": user_id, "name": name, "settings": "{}",
                                "created_at": utcnow()}, ignore=True)

    def user_settings(self, user_id: str) -> dict[str, Any]:
        """A user's settings dict ({} for an unknown user)."""
        rows = list(self.db.query("select settings from users where user_id = ?", [user_id]))
        return json.loads(rows[0]["settings"] or "{}") if rows else {}

    def set_user_setting(self, user_id: str, key: str, value: Any) -> None:
        """Set one user setting (creating the user if needed)."""
        self.ensure_user(user_id)
        with self.transaction() as db:
            settings = self.user_settings(user_id)
            settings[key] = value
            db["users"].update(user_id, {"settings": json.dumps(settings)})

    def users_with_setting(self, key: str, value: Any) -> list[str]:
        """User ids whose setting `key` equals `value`."""
        return [r["user_id"] for r in self.db.query("select user_id, settings from users")
                if json.loads(r["settings"] or "{}").get(key) == value]

    def add_follow(self, subject_id: str, kind: str, value: str) -> bool:
        """Make `subject_id` (user or channel) follow a collection/keyword/author; True if new."""
        with self.transaction() as db:
            cur = db.execute("insert or ignore into follows (subject_id, kind, value, created_at) "
                             "values (?, ?, ?, ?)", [subject_id, kind, value, utcnow()])
            return cur.rowcount > 0

    def remove_follow(self, subject_id: str, kind: str, value: str) -> bool:
        """Stop following; True if something was removed."""
        with self.transaction() as db:
            cur = db.execute("delete from follows where subject_id = ? and kind = ? and value = ?",
                             [subject_id, kind, value])
            return cur.rowcount > 0

    def follows(self, subject_id: str) -> dict[str, list[str]]:
        """``{kind: [values]}`` a user or channel follows."""
        out: dict[str, list[str]] = {}
        for r in self.db.query("select kind, value from follows where subject_id = ? order by created_at, value",
                               [subject_id]):
            out.setdefault(r["kind"], []).append(r["value"])
        return out

    def subjects_following(self, kinds: tuple[str, ...] = ("collection", "keyword")) -> set[str]:
        """The user and channel ids that follow at least one value of `kinds`."""
        marks = ", ".join("?" for _ in kinds)
        return {r["subject_id"] for r in self.db.query(
            f"select distinct subject_id from follows where kind in ({marks})", list(kinds))}

    def record_feedback(self, user_id: str, arxiv_id: str, value: int, source: str,
                        event_key: str | None = None, channel_id: str | None = None,
                        message_ts: str | None = None) -> bool:
        """Store one 👍 (+1) / 👎 (-1). `event_key` deduplicates redeliveries (Slack retries):
        a second call with the same key stores nothing. Returns True if stored.

        Raises:
            ValueError: `value` is not +1 or -1.
        """
        if value not in (1, -1):
            raise ValueError(f"feedback value must be +1 or -1, not {value!r}")
        with self.transaction() as db:
            cur = db.execute(
                "insert or ignore into feedback (user_id, arxiv_id, value, source, channel_id, "
                "message_ts, event_key, created_at) values (?, ?, ?, ?, ?, ?, ?, ?)",
                [user_id, arxiv_id, value, source, channel_id, message_ts, event_key, utcnow()])
            return cur.rowcount > 0

    def undo_feedback(self, user_id: str, arxiv_id: str, value: int, source: str | None = None,
                      channel_id: str | None = None, message_ts: str | None = None) -> bool:
        """Mark the user's latest live feedback of this value on this paper as undone (a removed
        reaction); with `source`, `channel_id`, `message_ts` only feedback of that source given
        on that channel / Slack message counts (a removed reaction undoes the one it made, not
        a vote on another channel's digest). Returns True if one was undone."""
        with self.transaction() as db:
            sql = ("select id from feedback where user_id = ? and arxiv_id = ? and value = ? "
                   "and undone_at is null")
            args: list[Any] = [user_id, arxiv_id, value]
            for column, wanted in (("source", source), ("channel_id", channel_id), ("message_ts", message_ts)):
                if wanted:
                    sql += f" and {column} = ?"
                    args.append(wanted)
            rows = list(db.query(sql + " order by id desc limit 1", args))
            if not rows:
                return False
            db["feedback"].update(rows[0]["id"], {"undone_at": utcnow()})
            return True

    def feedback_for(self, user_id: str | None = None, channel_id: str | None = None) -> dict[str, int]:
        """Net live feedback ``{arxiv_id: +1|-1}`` of a user, or of a channel's members on its
        digests: each user's latest live vote on a paper counts once (as in `feedback_counts`),
        the sign of their sum decides, and a tie leaves the paper out. For one user this is
        simply their latest vote."""
        totals: dict[str, int] = {}
        for (_, aid), value in self._latest_votes(user_id=user_id, channel_id=channel_id).items():
            totals[aid] = totals.get(aid, 0) + value
        return {a: 1 if t > 0 else -1 for a, t in totals.items() if t}

    def _latest_votes(self, user_id: str | None = None, channel_id: str | None = None,
                      arxiv_ids: list[str] | None = None) -> dict[tuple[str, str], int]:
        """``{(user_id, arxiv_id): value}``: each user's latest live (not undone) vote per paper,
        optionally of one user, on one channel, on some papers."""
        sql = "select user_id, arxiv_id, value from feedback where undone_at is null"
        args: list[Any] = []
        if arxiv_ids is not None:
            sql += f" and arxiv_id in ({','.join('?' * len(arxiv_ids))})"
            args += arxiv_ids
        if user_id is not None:
            sql += " and user_id = ?"
            args.append(user_id)
        if channel_id is not None:
            sql += " and channel_id = ?"
            args.append(channel_id)
        latest: dict[tuple[str, str], int] = {}
        for r in self.db.query(sql + " order by id", args):
            latest[(r["user_id"], r["arxiv_id"])] = r["value"]
        return latest

    def feedback_count(self) -> int:
        """Number of feedback rows (live or undone)."""
        return self.db["feedback"].count


    # ---- Slack bot: search, event dedupe, message → papers -----------------------------
    def search_papers(self, match: str | None = None, authors: Iterable[str] = (),
                      categories: Iterable[str] = (), since: str | None = None,
                      source: str | None = None, limit: int = 200) -> list[tuple[Paper, float | None]]:
        """Full-text search over papers (FTS5 on title, abstract, authors) with filters.

        Args:
            match: an FTS5 MATCH expression that the caller has already made safe (see
                `recommender.search.fts_query`); None lists papers by the filters alone.
            authors: each must occur (substring, case-insensitive for ASCII) in one author name:
                a search is a query, so ``author:Hinton`` or ``author:"Wei Li"`` (which also
                finds Wei Liu and Zhiwei Li) cast a wide net. Author *follows* feed a profile
                and match whole names instead: `author_paper_ids`.
            categories: each must be one of the paper's arXiv categories (exact, e.g. ``cs.LG``).
            since: ``YYYY-MM-DD``: papers published on or after that day.
            source: a feed name the paper came from (``hf_daily``, ``arxiv_rss``, ``arxiv_api``).
            limit: maximum rows.

        Returns:
            ``[(paper, bm25)]``: with `match`, best first, bm25 being SQLite FTS5's ``bm25()``
            (lower is better; title weighted 3×, https://sqlite.org/fts5.html#the_bm25_function);
            without it, newest first and bm25 None. Every user value is a bound parameter.

        Raises:
            sqlite3.OperationalError: `match` is not a valid FTS5 expression.
        """
        rows = self._search_rows("p.*", match, authors, categories, since, source, limit)
        return [(_row_to_paper(r), r["_bm25"]) for r in rows]

    def search_paper_ids(self, match: str | None = None, authors: Iterable[str] = (),
                         categories: Iterable[str] = (), since: str | None = None,
                         source: str | None = None, limit: int = 200) -> list[tuple[str, float | None]]:
        """`search_papers` returning only ``[(arxiv_id, bm25)]`` — same matching, filters and order,
        without reading and decoding whole rows (a search re-ranks a pool of ~200 ids and needs
        full papers only for the few it shows: `get_papers`).

        Raises:
            sqlite3.OperationalError: `match` is not a valid FTS5 expression.
        """
        return [(r["arxiv_id"], r["_bm25"]) for r in
                self._search_rows("p.arxiv_id", match, authors, categories, since, source, limit)]

    def search_pool(self, tokens: list[str], authors: Iterable[str] = (), categories: Iterable[str] = (),
                    since: str | None = None, source: str | None = None, limit: int = 200,
                    scan: int = 3000, mode: str = "both") -> list[tuple[str, float | None]]:
        """The candidate pool of a search with bounded cost: ``[(arxiv_id, bm25)]``.

        With `tokens` (plain words; each is quoted here, so any text is safe): FTS5 visits the
        matches of ``t1 AND t2 …`` and/or (`mode` ``"and"``, ``"or"``, ``"both"``) of
        ``t1 OR t2 …`` newest first (rowid order, FTS5's
        native order, so it stops early), at most `scan` of each, scoring only those with
        ``bm25(papers_fts, 3.0, 1.0, 1.0)`` (title weighted 3×; the same per-paper value in
        both queries, since FTS5's bm25 sums over the query's phrases,
        https://sqlite.org/fts5.html#the_bm25_function); the filters are applied to that
        union and the `limit` best by BM25 are returned, best first. When a query has at most
        `scan` matches this is exactly ``search_paper_ids``; beyond that, papers holding every
        word are still found among the newest `scan` of them, and partial matches among the
        newest `scan` partial matches plus every match of a word that has fewer than `scan`
        matches in all (`_add_rare_word_matches`: a rare word is not lost behind a common
        one) — ranking ``model`` over 40k matches costs ~80 ms, this ~10 ms at 100k papers.

        Without tokens: the newest papers matching the filters (bm25 None); author filters
        are narrowed through the FTS5 ``authors`` column (token-prefix match of each ASCII word
        that no non-ASCII character touches: the column holds JSON text, ``La\\u00ebtitia``)
        before the exact substring check, instead of scanning every row's JSON.

        Filters as in `search_papers`. Returns [] when nothing matches.
        """
        conn = self.db.conn
        authors, categories = list(authors), list(categories)
        has_filters = bool(authors or categories or since or source)
        quoted = ['"' + t.replace('"', '""') + '"' for t in dict.fromkeys(tokens) if t]
        if not quoted:
            narrowed = None
            for a in authors:
                words = _author_words(a.lower())[0]  # not a word a JSON \uXXXX escape is glued to
                words = [w for w in words if len(w) > 1] or words  # initials ("T.") match everyone
                if not words or all(len(w) < 2 for w in words):
                    continue
                expr = " AND ".join('authors : "' + w.replace('"', '""') + '"*' for w in words)
                found = {r[0] for r in conn.execute(
                    "select rowid from papers_fts where papers_fts match ?", [expr])}
                narrowed = found if narrowed is None else narrowed & found
            if narrowed is None:
                return [(r["arxiv_id"], None) for r in
                        self._search_rows("p.arxiv_id", None, authors, categories, since, source, limit)]
            where, args = _filter_sql(authors, categories, since, source)
            out: list[tuple[str, str | None]] = []
            rowids = sorted(narrowed)
            for i in range(0, len(rowids), 900):
                part = rowids[i:i + 900]
                sql = (f"select p.arxiv_id, p.published from papers p where p.rowid in ({','.join('?' * len(part))})"
                       + "".join(" and " + w for w in where))
                out += [(r[0], r[1]) for r in conn.execute(sql, [*part, *args])]
            out.sort(key=lambda t: (-_date_key(t[1]), t[0]))
            return [(a, None) for a, _ in out[:limit]]
        sql = ("select rowid, bm25(papers_fts, 3.0, 1.0, 1.0) from papers_fts where papers_fts match ? "
               "order by rowid desc limit ?")
        pool: dict[int, float] = {}
        if mode not in ("and", "or", "both"):
            raise ValueError(f"mode must be and, or or both, not {mode!r}")
        exprs = [" AND ".join(quoted)] if mode == "and" else [" OR ".join(quoted)] if mode == "or" \
            else [" AND ".join(quoted), " OR ".join(quoted)]
        if len(quoted) == 1:
            exprs = exprs[:1]
        for expr in exprs:
            rows = conn.execute(sql, [expr, int(scan)]).fetchall()
            pool.update(rows)
        if mode != "and" and len(quoted) > 1 and len(rows) >= scan:  # rows: the OR form's, cut
            self._add_rare_word_matches(pool, quoted, int(scan))
        if not pool:
            return []
        ranked = sorted(pool, key=lambda r: (pool[r], r))
        where, args = _filter_sql(authors, categories, since, source) if has_filters else ([], [])
        if not has_filters:  # only the winners need their arXiv id
            ranked = ranked[:limit]
        sql2 = ("select p.rowid, p.arxiv_id from papers p where p.rowid in (select value from json_each(?))"
                + "".join(" and " + w for w in where))
        ids = dict(conn.execute(sql2, [json.dumps(ranked), *args]).fetchall())
        best = [r for r in ranked if r in ids][:limit]
        return [(ids[r], pool[r]) for r in best]

    def _add_rare_word_matches(self, pool: dict[int, float], quoted: list[str], scan: int) -> None:
        """Complete an OR pool cut at the newest `scan` matches: every match of a word with fewer
        than `scan` matches in all joins `pool`, so a rare word next to a common one
        (``reward model overoptimization``) still finds its older papers. A joining paper's
        bm25 is the sum of its rare words' bm25 values, since FTS5's bm25 sums over the query's
        phrases (https://sqlite.org/fts5.html#the_bm25_function); the common words are left
        out (scoring their matches is what the scan bounds), so the value can only understate
        its score. Counting a word's matches reads rowids only (~0.3 ms for a common word)."""
        conn = self.db.conn
        count = "select count(*) from (select rowid from papers_fts where papers_fts match ? limit ?)"
        rare = [q for q in quoted if conn.execute(count, [q, scan]).fetchone()[0] < scan]
        sql = "select rowid, bm25(papers_fts, 3.0, 1.0, 1.0) from papers_fts where papers_fts match ?"
        per_word = [dict(conn.execute(sql, [q]).fetchall()) for q in rare]
        for rowid in {r for m in per_word for r in m} - pool.keys():
            pool[rowid] = sum(m.get(rowid, 0.0) for m in per_word)

    def _search_rows(self, cols: str, match: str | None, authors: Iterable[str], categories: Iterable[str],
                     since: str | None, source: str | None, limit: int):
        """The SQL of `search_papers` selecting `cols` of ``papers p`` plus ``_bm25``."""
        where, args = _filter_sql(authors, categories, since, source)
        if match:
            if where:  # filters must apply before the limit
                sql = ("select " + cols + ", bm25(papers_fts, 3.0, 1.0, 1.0) as _bm25 from papers_fts "
                       "join papers p on p.rowid = papers_fts.rowid where papers_fts match ?"
                       + "".join(" and " + w for w in where) + " order by _bm25 limit ?")
            else:  # rank inside FTS5 first, then read only the `limit` winning rows
                sql = ("select " + cols + ", top._bm25 from (select rowid, bm25(papers_fts, 3.0, 1.0, 1.0) as _bm25 "
                       "from papers_fts where papers_fts match ? order by _bm25 limit ?) top "
                       "join papers p on p.rowid = top.rowid order by top._bm25")
            rows = self.db.query(sql, [match, *args, int(limit)])
        else:
            sql = ("select " + cols + ", null as _bm25 from papers p"
                   + (" where " + " and ".join(where) if where else "")
                   + " order by p.published desc, p.arxiv_id limit ?")
            rows = self.db.query(sql, [*args, int(limit)])
        return rows

    def claim_event(self, event_key: str) -> bool:
        """Mark a delivered event/action as processed; True the first time, False for a redelivery
        (Slack retries with ``X-Slack-Retry-Num``) while the key is kept.

        Keys are kept `PROCESSED_EVENTS_KEPT` (a week; Slack stops retrying within about an
        hour): at most once per `PROCESSED_EVENTS_PRUNE_EVERY` (by `utcnow`, the clock that
        stamps ``created_at``; a clock set back also prunes) a claim deletes the older ones in
        its own transaction (`prune_processed_events`), so the table holds about a week of
        events instead of every event ever delivered."""
        now = utcnow()
        with self.transaction() as db:
            cur = db.execute("insert or ignore into processed_events (event_key, created_at) values (?, ?)",
                             [event_key, now])
            claimed = cur.rowcount > 0
            at = datetime.fromisoformat(now)
            last = self._events_pruned_at
            if last is None or not last <= at < last + PROCESSED_EVENTS_PRUNE_EVERY:
                self.prune_processed_events(now=at)
                self._events_pruned_at = at
        return claimed

    def prune_processed_events(self, kept: timedelta = PROCESSED_EVENTS_KEPT, now: datetime | None = None) -> int:
        """Delete the claimed event keys (`claim_event`) stored (``created_at``, `utcnow`) more
        than `kept` before `now` (aware; default: `utcnow`); one search of
        ``idx_processed_events_created_at`` (schema v9). Returns how many were deleted."""
        return self._prune_older("processed_events", kept, now)

    def _prune_older(self, table: str, kept: timedelta, now: datetime | None) -> int:
        """Delete the rows of `table` whose ``created_at`` (`utcnow`) is more than `kept` before
        `now` (aware; default: `utcnow`, the clock ``created_at`` was read from); their count."""
        now = now or datetime.fromisoformat(utcnow())
        cutoff = (now - kept).astimezone(timezone.utc).isoformat(timespec="seconds")
        with self.transaction() as db:
            return db.execute(f"delete from {table} where created_at < ?", [cutoff]).rowcount

    def remember_reaction_removal(self, user_id: str, reaction: str, channel_id: str, message_ts: str,
                                  event_ts: str) -> None:
        """Remember that `user_id` removed `reaction` from message (channel, ts) at Slack's
        `event_ts` while no vote of it was there to undo (its add has not arrived yet). Removals
        remembered more than `REACTION_REMOVALS_KEPT` ago are dropped in the same transaction
        (`prune_reaction_removals`): their late adds can no longer come."""
        with self.transaction() as db:
            db.execute("insert or ignore into reaction_removals (user_id, reaction, channel_id, message_ts, "
                       "event_ts, created_at) values (?, ?, ?, ?, ?, ?)",
                       [user_id, reaction, channel_id, message_ts, event_ts, utcnow()])
            self.prune_reaction_removals()

    def prune_reaction_removals(self, kept: timedelta = REACTION_REMOVALS_KEPT, now: datetime | None = None) -> int:
        """Delete the remembered reaction removals stored (``created_at``, `utcnow`) more than
        `kept` before `now` (aware; default: `utcnow`, the clock ``created_at`` was read from).
        Returns how many were deleted."""
        return self._prune_older("reaction_removals", kept, now)

    def reaction_removed_since(self, user_id: str, reaction: str, channel_id: str, message_ts: str,
                               event_ts: str) -> bool:
        """True when a remembered removal (`remember_reaction_removal`) of this user's `reaction`
        on this message has an ``event_ts`` not earlier than `event_ts` (Slack event times,
        ``"1700000100.000100"``, compared as numbers): an add with `event_ts` was already taken
        back. False for an `event_ts` that is no number."""
        when = _event_time(event_ts)
        if when is None:
            return False
        rows = self.db.query("select event_ts from reaction_removals where user_id = ? and reaction = ? "
                             "and channel_id = ? and message_ts = ?", [user_id, reaction, channel_id, message_ts])
        return any((t := _event_time(r["event_ts"])) is not None and t >= when for r in rows)

    def add_message_papers(self, channel_id: str, ts: str, arxiv_ids: Iterable[str]) -> None:
        """Remember which papers the Slack message (channel, ts) shows, in order."""
        with self.transaction() as db:
            for i, aid in enumerate(arxiv_ids):
                db.execute("insert or ignore into message_papers (channel_id, ts, arxiv_id, rank) "
                           "values (?, ?, ?, ?)", [channel_id, ts, aid, i])

    def message_paper_ids(self, channel_id: str, ts: str) -> list[str]:
        """arXiv ids shown in the Slack message (channel, ts), in order ([] if unknown)."""
        return [r["arxiv_id"] for r in self.db.query(
            "select arxiv_id from message_papers where channel_id = ? and ts = ? order by rank",
            [channel_id, ts])]

    def feedback_counts(self, arxiv_id: str, channel_id: str | None = None) -> tuple[int, int]:
        """``(ups, downs)``: users whose latest live feedback on the paper is 👍 / 👎 (optionally
        only feedback given in `channel_id`)."""
        return self.feedback_counts_many([arxiv_id], channel_id)[arxiv_id]

    def feedback_counts_many(self, arxiv_ids: Iterable[str],
                             channel_id: str | None = None) -> dict[str, tuple[int, int]]:
        """``{arxiv_id: (ups, downs)}`` for each of `arxiv_ids` (``(0, 0)`` when none), counted
        as in `feedback_counts`, in one read: a message's buttons all show one moment."""
        ids = list(dict.fromkeys(arxiv_ids))
        counts = {a: [0, 0] for a in ids}
        for i in range(0, len(ids), 500):
            for (_, aid), value in self._latest_votes(channel_id=channel_id, arxiv_ids=ids[i:i + 500]).items():
                counts[aid][0 if value > 0 else 1] += 1
        return {a: (up, down) for a, (up, down) in counts.items()}

    def recent_feedback_ids(self, user_id: str, value: int, limit: int = 5) -> list[str]:
        """arXiv ids the user's live feedback currently rates `value`, most recent first."""
        net = self.feedback_for(user_id=user_id)
        order = [r["arxiv_id"] for r in self.db.query(
            "select arxiv_id from feedback where user_id = ? and undone_at is null order by id desc",
            [user_id])]
        return [a for a in dict.fromkeys(order) if net.get(a) == value][:limit]


def _event_time(event_ts: Any) -> Decimal | None:
    """A Slack event ts (``"1700000100.000100"``) as an exact number, or None."""
    try:
        value = Decimal(str(event_ts))
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def spread_positions(total: int, n: int) -> list[int]:
    """``n`` positions spread evenly over ``range(total)``: ``⌊i · total / n⌋`` for i = 0 … n-1,
    or every position when ``total <= n`` ([] when ``n <= 0``). The sampling rule of
    `Store.sample_papers`, shared with `recommender.evaluation.background_rows`."""
    if n <= 0:
        return []
    if total <= n:
        return list(range(total))
    return [i * total // n for i in range(n)]


def _author_words(target: str) -> tuple[list[str], list[str]]:
    """Of a lower-cased (e.g. `norm_author`) name: ``(words for an FTS5 match, ASCII words for
    a LIKE match)``.

    Both are runs of ASCII letters and digits. FTS5 words are only those whose neighbours are
    ASCII (or the name's ends): in the stored JSON a non-ASCII character becomes ``\\uXXXX``,
    which the tokenizer reads as part of the next word (``"O’Brien"`` is indexed as ``o``,
    ``u2019brien``), so ``brien`` would miss it; a substring match still finds it."""
    # "İ".lower() is "i" + U+0307: that "i" was not ASCII in the stored name (the only other
    # non-ASCII character lowering to ASCII is U+212A KELVIN SIGN, not met in names)
    text = target.replace("i\u0307", "\u0130")
    fts, like = [], []
    for m in re.finditer(r"[a-z0-9]+", text):
        like.append(m.group())
        before = text[m.start() - 1] if m.start() else " "
        after = text[m.end()] if m.end() < len(text) else " "
        if before.isascii() and after.isascii():
            fts.append(m.group())
    return list(dict.fromkeys(fts)), list(dict.fromkeys(like))


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _paper_row(p: Paper) -> dict[str, Any]:
    row = p.to_dict()
    for f in _JSON_LIST_FIELDS:
        row[f] = json.dumps(row.get(f) or [])
    row["abstract_truncated"] = int(bool(row.get("abstract_truncated")))
    return row


def _row_to_paper(row: dict[str, Any]) -> Paper:
    data = {k: row.get(k) for k in Paper.__dataclass_fields__}
    for f in _JSON_LIST_FIELDS:
        data[f] = json.loads(data.get(f) or "[]")
    data["abstract_truncated"] = bool(data.get("abstract_truncated"))
    return Paper(**data)


_TEXT_FIELDS = ("title", "abstract", "authors", "categories", "primary_category", "published",
                "updated", "abs_url", "pdf_url", "announce_type")


def _background_only(sources: str | None) -> bool:
    """True when the JSON list `sources` names sources and all are in `BACKGROUND_SOURCES`."""
    names = json.loads(sources or "[]")
    return bool(names) and all(s in BACKGROUND_SOURCES for s in names)


def _first_seen(old: dict[str, Any] | None, new: dict[str, Any], now: str) -> str:
    """The ``first_seen`` of a row after `new` is stored over `old` (None: a new row) at `now`
    (UTC ISO seconds), per the module docstring's rule."""
    if old is not None:
        if _background_only(old.get("sources")) and not _background_only(new.get("sources")):
            return max(old.get("first_seen") or now, now)  # the first feed sighting: new today
        return old.get("first_seen") or now
    if not _background_only(new.get("sources")):
        return now
    day = new.get("published") or ""
    try:
        stamp = datetime.fromisoformat(day[:10]).strftime("%Y-%m-%dT00:00:00+00:00")
    except ValueError:
        stamp = _UNKNOWN_DAY_FIRST_SEEN
    return min(stamp, now)


def _merge_rows(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    merged = dict(old)
    newer = new.get("version") is not None and (old.get("version") is None or new["version"] > old["version"])
    for k in _TEXT_FIELDS:
        if k == "abstract":
            merged["abstract"], merged["abstract_truncated"] = _merge_abstract(old, new, newer)
            continue
        nv = new.get(k)
        empty_old = old.get(k) in (None, "", "[]")
        if nv in (None, "", "[]"):
            continue
        if k == "published" and old.get(k):
            continue  # first announcement date is kept
        if newer or empty_old:
            merged[k] = nv
    if newer:
        merged["version"] = new["version"]
    sources = list(dict.fromkeys(json.loads(old.get("sources") or "[]") + json.loads(new.get("sources") or "[]")))
    merged["sources"] = json.dumps(sources)
    for k in ("hf_upvotes", "github_repo"):
        if new.get(k) not in (None, ""):
            merged[k] = new[k]
    if new.get("ai_keywords") not in (None, "[]"):
        merged["ai_keywords"] = new["ai_keywords"]
    return merged


def _merge_abstract(old: dict[str, Any], new: dict[str, Any], newer: bool) -> tuple[str, int]:
    """``(abstract, abstract_truncated)`` of a stored row `old` merged with an incoming row `new`
    (`newer`: the incoming row is a newer arXiv version). In order:

    1. an empty text never replaces one, and an empty stored text takes the incoming one;
    2. a complete abstract beats one flagged ``abstract_truncated``, whichever is stored and
       whatever the versions (the cut copy is the same text, only shorter or worse);
    3. when one text starts with the other, the longer is kept (a cut copy with no flag, e.g.
       imported before schema v6; the same text twice keeps the stored row);
    4. otherwise a newer version's text replaces the stored one, an older or unknown one does not.
    """
    ov, nv = old.get("abstract") or "", new.get("abstract") or ""
    ot, nt = int(bool(old.get("abstract_truncated"))), int(bool(new.get("abstract_truncated")))
    if not nv:
        return ov, ot
    if not ov:
        return nv, nt
    if nv == ov:
        return ov, ot & nt  # one source vouching for it complete
    if ot != nt:
        return (ov, ot) if nt else (nv, nt)
    if nv.startswith(ov):
        return nv, nt
    if ov.startswith(nv):
        return ov, ot
    return (nv, nt) if newer else (ov, ot)


def _decode_channel(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for f in ("collections", "keywords", "authors"):
        out[f] = json.loads(out.get(f) or "[]")
    return out


def _filter_sql(authors: Iterable[str], categories: Iterable[str], since: str | None,
                source: str | None) -> tuple[list[str], list[Any]]:
    """WHERE terms (on ``papers p``) and their bound values for the search filters."""
    where, args = [], []
    for a in authors:
        where.append("exists (select 1 from json_each(p.authors) where value like ? escape '\\')")
        args.append("%" + _like_escape(a) + "%")
    for c in categories:
        where.append("exists (select 1 from json_each(p.categories) where value = ?)")
        args.append(c)
    if since:
        where.append("p.published >= ?")
        args.append(since)
    if source:
        where.append("exists (select 1 from json_each(p.sources) where value = ?)")
        args.append(source)
    return where, args


def _date_key(published: str | None) -> int:
    """``YYYY-MM-DD`` as an int for newest-first sorting (0 when unknown)."""
    try:
        return int((published or "").replace("-", "")[:8] or 0)
    except ValueError:
        return 0
