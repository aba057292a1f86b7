"""Fault suite — the store under concurrency, online backup, migrations and hostile text.

Must hold: concurrent feedback from many threads loses nothing and never raises "database is
locked"; a backup taken while writers run is a consistent, complete SQLite file; an older
database migrates forward keeping its rows; user text never changes the SQL.
"""
from __future__ import annotations

import sqlite3
import threading

import pytest
import sqlite_utils
from click.testing import CliRunner

from feeds.records import Paper
from paperbot.cli import main
from recommender import feedback
from store import Store
from store.schema import MIGRATIONS, SCHEMA_VERSION


def run_threads(n: int, target) -> list[BaseException]:
    """Start `n` threads on `target(i)` released together by a barrier; return their exceptions."""
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def body(i: int) -> None:
        try:
            barrier.wait()
            target(i)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted on
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return errors


def test_50_concurrent_clicks_from_10_threads_lose_nothing(store):
    store.upsert_papers([Paper(f"2608.{i:05d}", f"Paper {i}") for i in range(5)])

    def clicks(t: int) -> None:
        for k in range(5):
            assert feedback.record(store, f"U{t}", f"2608.{k:05d}", 1 if (t + k) % 2 else -1, "button",
                                   event_key=f"action-{t}-{k}", channel_id="C1", message_ts="1.0")

    errors = run_threads(10, clicks)
    assert errors == []
    assert store.feedback_count() == 50
    assert sorted(store.users_with_setting("missing", None)) == sorted(f"U{t}" for t in range(10))  # each user created once
    for t in range(10):
        assert len(store.feedback_for(user_id=f"U{t}")) == 5


def test_redelivered_clicks_racing_each_other_are_stored_once(store):
    """Slack retries an action while the first delivery is still being handled: 10 threads send
    the same 5 event keys. Must hold: 5 rows, exactly one thread wins each key."""
    wins: list[bool] = []
    lock = threading.Lock()

    def click(t: int) -> None:
        for k in range(5):
            stored = feedback.record(store, "U1", f"2608.{k:05d}", 1, "button", event_key=f"evt-{k}")
            with lock:
                wins.append(stored)

    assert run_threads(10, click) == []
    assert store.feedback_count() == 5 and wins.count(True) == 5


def test_feedback_while_the_scheduler_thread_polls_and_records(store):
    """The scheduler's thread upserts papers and feed state while listener threads record clicks."""
    def work(i: int) -> None:
        if i == 0:
            for batch in range(10):
                store.upsert_papers([Paper(f"2609.{batch:02d}{j:03d}", f"P {batch}-{j}", "text " * 50)
                                     for j in range(50)])
                store.record_feed_success("rss", "u", 50, etag=f'"{batch}"')
        else:
            for k in range(10):
                feedback.record(store, f"U{i}", f"2609.00{k:03d}", 1, "reaction", event_key=f"r-{i}-{k}")

    errors = run_threads(6, work)
    assert errors == [], errors
    assert store.count_papers() == 500 and store.feedback_count() == 50
    assert store.feed_state("rss")["total_count"] == 500


def test_every_thread_has_its_own_connection(store):
    conns = {}
    errors = run_threads(4, lambda i: conns.__setitem__(i, id(store.db.conn)))
    assert errors == [] and len(set(conns.values())) == 4
    assert store.journal_mode() == "wal"


def test_backup_while_writers_run_is_consistent_and_complete(tmp_path, store):
    store.upsert_papers([Paper(f"2601.{i:05d}", f"Seed {i}") for i in range(200)])
    stop = threading.Event()
    written: list[int] = []

    def writer() -> None:
        i = 0
        while not stop.is_set():
            store.upsert_papers([Paper(f"2602.{i:05d}", f"Live {i}")])
            feedback.record(store, "U1", f"2602.{i:05d}", 1, "button", event_key=f"b-{i}")
            written.append(i)
            i += 1

    t = threading.Thread(target=writer)
    t.start()
    try:
        while len(written) < 20:
            pass
        n = store.backup(tmp_path / "copy.db", pages=1)  # one page per step: writers interleave
    finally:
        stop.set()
        t.join()
    copy = sqlite3.connect(tmp_path / "copy.db")
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert copy.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    papers = copy.execute("select count(*) from papers").fetchone()[0]
    assert papers == n and 220 <= papers <= 200 + len(written)
    # each feedback row in the copy points at a paper that is in the copy (a consistent snapshot)
    orphans = copy.execute("select count(*) from feedback f left join papers p on p.arxiv_id = f.arxiv_id "
                           "where p.arxiv_id is null").fetchone()[0]
    assert orphans == 0
    assert copy.execute("select count(*) from papers_fts where papers_fts match 'Seed'").fetchone()[0] == 200


def test_backup_never_overwrites(tmp_path, store):
    (tmp_path / "exists.db").write_bytes(b"keep me")
    with pytest.raises(FileExistsError):
        store.backup(tmp_path / "exists.db")
    assert (tmp_path / "exists.db").read_bytes() == b"keep me"


def test_backup_command(tmp_path):
    db = tmp_path / "live.db"
    s = Store(db)
    s.upsert_papers([Paper("2401.00001", "A"), Paper("2401.00002", "B")])
    s.close()
    res = CliRunner().invoke(main, ["backup", str(tmp_path / "b" / "copy.db"), "--db", str(db)])
    assert res.exit_code == 0, res.output
    assert "(2 papers)" in res.output
    assert Store(tmp_path / "b" / "copy.db").count_papers() == 2
    again = CliRunner().invoke(main, ["backup", str(tmp_path / "b" / "copy.db"), "--db", str(db)])
    assert again.exit_code == 1 and "already exists" in again.output
    missing = CliRunner().invoke(main, ["backup", str(tmp_path / "x.db"), "--db", str(tmp_path / "nope.db")])
    assert missing.exit_code == 1 and "no database at" in missing.output


def test_a_v1_database_migrates_forward_keeping_its_rows(tmp_path):
    path = tmp_path / "old.db"
    db = sqlite_utils.Database(sqlite3.connect(path))
    MIGRATIONS[0](db)
    db.conn.execute("PRAGMA user_version = 1")
    db["feed_state"].insert({"source": "rss", "url": "u", "etag": '"e1"', "total_count": 7})
    db.conn.commit()
    db.conn.close()
    s = Store(path)
    assert s.db.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 2
    state = s.feed_state("rss")
    assert state["etag"] == '"e1"' and state["total_count"] == 7 and state["consecutive_failures"] is None
    s.record_feed_error("rss", "u", "HTTP 503")
    assert s.feed_state("rss")["consecutive_failures"] == 1 and s.feed_state("rss")["etag"] == '"e1"'


def test_hostile_user_text_is_data_not_sql(store):
    hostile = ["x'); DROP TABLE papers; --", 'a" OR 1=1 --', "NEAR(x y) AND * ^", "\x00nul", "😀 ' \\"]
    store.upsert_papers([Paper("2401.00001", "T")])
    for i, text in enumerate(hostile):
        store.set_user_setting(text, "digest", text)
        assert store.user_settings(text) == {"digest": text}
        assert feedback.record(store, text, "2401.00001", 1, text, event_key=text, channel_id=text)
        store.record_feed_error(text, text, text)
        assert store.feed_state(text)["last_error"] == text
    assert store.count_papers() == 1 and store.feedback_count() == len(hostile)


def test_a_migration_that_crashes_part_way_leaves_the_file_openable(tmp_path):
    """Every missing step runs in one transaction: a crash after the first statement of a step
    rolls the whole upgrade back (no half-added columns), and the next open completes it."""
    path = tmp_path / "m.db"
    real = MIGRATIONS[2]

    def crashing_v3(db):
        db["feed_state"].add_column("last_status", str)
        raise RuntimeError("crash mid-migration")

    MIGRATIONS[2] = crashing_v3
    try:
        with pytest.raises(RuntimeError, match="crash mid-migration"):
            Store(path)
    finally:
        MIGRATIONS[2] = real
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == 0
    assert raw.execute("SELECT count(*) FROM sqlite_master WHERE name = 'papers'").fetchone()[0] == 0
    raw.close()
    s = Store(path)
    assert s.db.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    s.record_feed_error("rss", "u", "HTTP 503")
    assert s.feed_state("rss")["last_status"] == "failed"


def _open_store(path: str, start_at: float) -> str:
    import time
    while time.time() < start_at:
        pass
    try:
        Store(path).count_papers()
        return "ok"
    except Exception as exc:  # reported to the parent, which asserts on it
        return f"{type(exc).__name__}: {exc}"


def test_two_processes_creating_the_same_new_database_both_succeed(tmp_path):
    """`serve` and a cron `run --once` may open a new file at the same moment: the second waits
    for the first's migration and finds nothing left to do (it used to fail with 'table papers
    already exists' about one time in three)."""
    import multiprocessing
    import time
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        for i in range(6):
            start = time.time() + 0.8
            results = pool.starmap(_open_store, [(str(tmp_path / f"{i}.db"), start)] * 2)
            assert results == ["ok", "ok"], results
