"""The database schema and its forward migrations.

The schema version lives in SQLite's ``PRAGMA user_version``. `MIGRATIONS[i]` moves a database
from version ``i`` to ``i + 1``; `migrate` applies the missing ones in order, in one transaction, so a
database created by any earlier paperbot opens with the current code.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Callable

import sqlite_utils


class SchemaTooNew(RuntimeError):
    """The database was written by a newer paperbot than this one (downgrades are not supported)."""


def _v1(db: sqlite_utils.Database) -> None:
    db["papers"].create({
        "arxiv_id": str, "version": int, "title": str, "abstract": str, "authors": str,
        "categories": str, "primary_category": str, "announce_type": str, "published": str,
        "updated": str, "abs_url": str, "pdf_url": str, "sources": str, "hf_upvotes": int,
        "ai_keywords": str, "github_repo": str, "first_seen": str, "last_seen": str,
    }, pk="arxiv_id", not_null={"title"})
    db["papers"].create_index(["published"])
    db["papers"].enable_fts(["title", "abstract", "authors"], create_triggers=True,
                            tokenize="porter")
    db["collections"].create({"name": str, "description": str, "created_at": str}, pk="name")
    db["collection_papers"].create({"collection": str, "arxiv_id": str, "position": int,
                                    "added_at": str}, pk=("collection", "arxiv_id"))
    db["feed_state"].create({
        "source": str, "url": str, "etag": str, "last_modified": str, "last_attempt": str,
        "last_success": str, "last_error": str, "last_error_at": str, "last_count": int,
        "total_count": int, "skipped_count": int,
    }, pk="source")
    db["channels"].create({
        "channel_id": str, "name": str, "collections": str, "keywords": str, "authors": str,
        "schedule": str, "timezone": str, "max_papers": int, "min_score": float,
        "created_at": str,
    }, pk="channel_id")
    db["digests"].create({
        "id": int, "digest_key": str, "channel_id": str, "slot": str, "status": str,
        "created_at": str, "posted_at": str, "message_ts": str, "thread_ts": str,
        "paper_count": int, "error": str,
    }, pk="id")
    db["digests"].create_index(["digest_key"], unique=True)
    db["digest_papers"].create({
        "digest_id": int, "channel_id": str, "arxiv_id": str, "rank": int, "score": float,
        "why": str,
    }, pk=("digest_id", "arxiv_id"), foreign_keys=[("digest_id", "digests", "id")])
    db["digest_papers"].create_index(["channel_id", "arxiv_id"])
    db["users"].create({"user_id": str, "name": str, "settings": str, "created_at": str},
                       pk="user_id")
    db["follows"].create({"subject_id": str, "kind": str, "value": str, "created_at": str},
                         pk=("subject_id", "kind", "value"))
    db["feedback"].create({
        "id": int, "user_id": str, "arxiv_id": str, "value": int, "source": str,
        "channel_id": str, "message_ts": str, "event_key": str, "created_at": str,
        "undone_at": str,
    }, pk="id")
    db["feedback"].create_index(["event_key"], unique=True)
    db["feedback"].create_index(["user_id"])


def _v2(db: sqlite_utils.Database) -> None:
    """Slack bot tables: delivered event keys (redelivery dedupe for actions that are not a plain
    feedback insert, e.g. a removed reaction) and which papers each posted Slack message holds
    (so a reaction on a digest message or thread reply maps to its papers)."""
    db["processed_events"].create({"event_key": str, "created_at": str}, pk="event_key")
    db["message_papers"].create({"channel_id": str, "ts": str, "arxiv_id": str, "rank": int},
                                pk=("channel_id", "ts", "arxiv_id"))


def _v3(db: sqlite_utils.Database) -> None:
    """Feed health for `paperbot status` and ops: the last outcome, failure counters, repaired
    and skipped items (with the last run's reasons, JSON list); the owner of a digest intent
    (so a crash's leftovers can be told from a post in flight)."""
    table = db["feed_state"]
    for name, typ in (("last_status", str), ("consecutive_failures", int), ("failure_count", int),
                      ("skipped_total", int), ("repaired_count", int), ("last_skipped", str)):
        table.add_column(name, typ)
    db["digests"].add_column("owner", str)  # which process wrote a pending intent (host:pid:start)
    db["digests"].create_index(["channel_id", "status"])


def _v4(db: sqlite_utils.Database) -> None:
    """A change sequence on papers: the matrix cache's sync watermark (`Store.change_seq`).

    ``papers.change_seq`` is the value of the one-row ``change_counter`` table that the write
    transaction inserting or changing the row took (`Store._next_change_seq`). A transaction
    holds SQLite's single write lock while it takes a value and until it commits, so values
    grow in commit order and a transaction that commits after a reader read the counter always
    carries a larger value; ``last_seen`` (stamped when a write starts, committed maybe seconds
    later) gives no such guarantee.

    Rows already stored get 1 through the column default and the counter starts at 1, so a
    reader that has synced nothing (watermark 0) finds every row. A default rather than an
    ``UPDATE``: an update of every row fires the FTS5 trigger on each and re-indexes the whole
    table (10.7 s at 47k papers, against 0.5 ms for the ``ALTER TABLE``). The Store always
    writes the column; the index serves ``change_seq > ?``.
    """
    db.execute("create table change_counter (id integer primary key check (id = 0), "
               "seq integer not null)")
    db.execute("insert into change_counter (id, seq) values (0, 1)")
    db.execute("alter table papers add column change_seq integer not null default 1")
    db["papers"].create_index(["change_seq"])


def _v5(db: sqlite_utils.Database) -> None:
    """Indexes for the queries that scanned whole tables.

    * ``papers(first_seen)``: a digest's candidate window (`Store.paper_change_seqs_first_seen_since`,
      `Store.papers_first_seen_since`: ``first_seen >= ?``) scanned all papers, ~80 ms at 47k
      papers (``bench/store_indexes.py``); the queries order by ``+published`` so the planner
      takes this index instead of walking ``idx_papers_published`` for the ORDER BY.
    * ``feedback(arxiv_id)`` and ``feedback(channel_id)``: a paper's 👍/👎 counts
      (`Store.feedback_counts`, `Store.undo_feedback`) and a channel's feedback
      (`Store.feedback_for`).

    ``last_seen`` gets none: no query filters on it since the matrix cache syncs on
    ``change_seq`` (indexed in `_v4`).
    """
    db["papers"].create_index(["first_seen"])
    db["feedback"].create_index(["arxiv_id"])
    db["feedback"].create_index(["channel_id"])


def _v6(db: sqlite_utils.Database) -> None:
    """``papers.abstract_truncated`` (0/1): the stored abstract is known to be cut short
    (`feeds.records.Paper.abstract_truncated`), so a complete one from any later source replaces
    it (`store.store._merge_abstract`). Rows already stored get 0 through the column default (no
    ``UPDATE``, which would re-index every row through the FTS5 trigger); a cut abstract among
    them is still replaced by a text it is a prefix of."""
    db.execute("alter table papers add column abstract_truncated integer not null default 0")


def _v7(db: sqlite_utils.Database) -> None:
    """Reaction removals that found no vote to undo (`Store.remember_reaction_removal`): Slack
    does not order events and redelivers late, so a removal can arrive before its add; the late
    add is then recognised (`Store.reaction_removed_since`) and not recorded."""
    db["reaction_removals"].create({
        "user_id": str, "reaction": str, "channel_id": str, "message_ts": str, "event_ts": str,
        "created_at": str,
    }, pk=("user_id", "reaction", "channel_id", "message_ts", "event_ts"))


def _v8(db: sqlite_utils.Database) -> None:
    """A channel's scheduled digest can be paused from Slack (``/papers digest off|on``,
    `Store.set_digest_paused`): ``channels.digest_paused_at`` is when it was paused (NULL: it
    runs) and ``digest_resumed_at`` when it was last resumed, so catch-up on start never posts a
    slot that fell while it was paused. Existing rows get NULL in both: not paused."""
    db["channels"].add_column("digest_paused_at", str)
    db["channels"].add_column("digest_resumed_at", str)


def _v9(db: sqlite_utils.Database) -> None:
    """``processed_events(created_at)``: `Store.claim_event` prunes the keys older than
    `store.store.PROCESSED_EVENTS_KEPT` (``created_at < ?``), which without an index scans the
    whole table, one row per event ever claimed. Rows already stored keep their
    ``created_at`` and are pruned by the first claim after the upgrade."""
    db["processed_events"].create_index(["created_at"])


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_v1, _v2, _v3, _v4, _v5, _v6, _v7, _v8, _v9]
SCHEMA_VERSION = len(MIGRATIONS)


def current_version(conn: sqlite3.Connection) -> int:
    """The database's schema version (``PRAGMA user_version``)."""
    return conn.execute("PRAGMA user_version").fetchone()[0]


def migrate(db: sqlite_utils.Database) -> int:
    """Apply every missing migration in order; return the resulting version.

    All missing steps and the ``user_version`` bump run in one ``BEGIN IMMEDIATE`` transaction:
    a crash part-way leaves the file at its old version with none of the step applied (SQLite
    DDL and ``PRAGMA user_version`` are transactional), and when two processes open a new file
    at once the second waits for the first's write lock, re-reads the version and finds
    nothing left to do.

    Raises:
        SchemaTooNew: the file's version is above `SCHEMA_VERSION`.
    """
    conn = db.conn
    version = current_version(conn)
    if version < SCHEMA_VERSION:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = current_version(conn)  # another process may have migrated while we waited
            while version < SCHEMA_VERSION:
                MIGRATIONS[version](db)
                version += 1
                conn.execute(f"PRAGMA user_version = {version}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    if version > SCHEMA_VERSION:
        raise SchemaTooNew(f"database schema v{version} is newer than this paperbot (v{SCHEMA_VERSION})")
    return version
