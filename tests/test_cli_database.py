"""The CLI and its database file: a database error is one `Error: <db>: <cause>` line (exit 1),
commands that only read never create a database, and another application's SQLite file is left
untouched."""
from __future__ import annotations

import os
import sqlite3

import pytest
from click.testing import CliRunner

import store.store as store_module
from paperbot.cli import main
from store import Store
from tests.conftest import fixture_path

CORPUS = str(fixture_path("corpus_sample.jsonl"))


def _invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def _one_error_line(res, text: str) -> None:
    assert res.exit_code == 1, res.output
    assert isinstance(res.exception, SystemExit), repr(res.exception)  # not an uncaught exception
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and text in lines[0], res.output


def _commands(db: str) -> list[list[str]]:
    """Every command that opens the database, pointed at `db`."""
    return [["status", "--db", db], ["digests", "list", "--db", db],
            ["digests", "resolve", "C1:2026-08-24", "--not-posted", "--db", db],
            ["search", "rlhf", "--db", db], ["feedback", "--user", "U1", "--paper", "2501.00001", "--up", "--db", db],
            ["import-corpus", CORPUS, "--no-progress", "--db", db],
            ["import", str(fixture_path("seeds", "papers_database.sample.json")), "--db", db],
            ["backup", db + ".bak", "--db", db]]


@pytest.mark.parametrize("i", range(8))
def test_a_file_that_is_not_a_database_is_one_line_and_left_as_it_was(tmp_path, i):
    db = tmp_path / "corrupt.db"
    junk = os.urandom(4096)
    junk = b"\x00junk" + junk[5:]  # never the SQLite header by chance
    db.write_bytes(junk)
    res = _invoke(*_commands(str(db))[i])
    _one_error_line(res, f"{db}: file is not a database")
    assert db.read_bytes() == junk


@pytest.mark.parametrize("args", [["status"], ["import-corpus", CORPUS, "--no-progress"], ["digests", "list"]])
def test_a_schema_from_a_newer_paperbot_is_one_line(tmp_path, args):
    db = tmp_path / "new.db"
    Store(db).close()
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA user_version = 999")
    res = _invoke(*args, "--db", str(db))
    _one_error_line(res, f"{db}: database schema v999 is newer than this paperbot")


def test_a_lock_held_past_the_busy_timeout_is_one_line_and_nothing_is_half_written(tmp_path, monkeypatch):
    db = tmp_path / "pb.db"
    Store(db).close()
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_MS", 200)  # instead of waiting 30 s
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process writing
    try:
        res = _invoke("feedback", "--user", "U1", "--paper", "2501.00001", "--up", "--db", str(db))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    _one_error_line(res, f"{db}: database is locked (another process")
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM feedback").fetchone()[0] == 0


@pytest.mark.parametrize("message,hint", [
    ("attempt to write a readonly database", "permissions"),
    ("database or disk is full", "free some space"),
])
def test_write_errors_midway_are_one_line_with_what_to_do(tmp_path, monkeypatch, message, hint):
    # a read-only file (root ignores file modes, so the error is raised where SQLite raises it)
    # and a disk that fills up during an import
    db = tmp_path / "pb.db"

    def fail(self, *a, **k):
        raise sqlite3.OperationalError(message)

    monkeypatch.setattr(Store, "bulk_upsert_papers", fail)
    res = _invoke("import-corpus", CORPUS, "--no-progress", "--db", str(db))
    _one_error_line(res, f"{db}: {message} (")
    assert hint in res.output


@pytest.mark.parametrize("args", [
    ["status"], ["digests", "list"], ["digests", "resolve", "C1:2026-08-24", "--posted"],
    ["search", "rlhf"], ["backup", "copy.db"]])
def test_read_only_commands_never_create_a_database(tmp_path, args):
    db = tmp_path / "typo" / "pb.db"
    res = _invoke(*args, "--db", str(db))
    _one_error_line(res, f"no database at {db}")
    assert not (tmp_path / "typo").exists()


def test_digests_check_does_not_create_a_database(tmp_path, monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_API_URL", "http://127.0.0.1:9/api/")
    db = tmp_path / "typo" / "pb.db"
    _one_error_line(_invoke("digests", "check", "--db", str(db)), f"no database at {db}")
    assert not (tmp_path / "typo").exists()


@pytest.mark.parametrize("args", [["status"], ["search", "rlhf"], ["digests", "list"]])
def test_without_config_or_db_nothing_is_created_in_the_working_directory(tmp_path, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    res = _invoke(*args)
    _one_error_line(res, "no database at paperbot.db (give --db FILE, or --config FILE")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args", [["status"], ["digests", "list"], ["import-corpus", CORPUS, "--no-progress"],
                                  ["feedback", "--user", "U1", "--paper", "2501.00001", "--down"]])
def test_another_applications_sqlite_file_is_left_untouched(tmp_path, args):
    db = tmp_path / "crm.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    before = db.read_bytes()
    res = _invoke(*args, "--db", str(db))
    _one_error_line(res, f"{db}: not a paperbot database (its tables: customers)")
    assert db.read_bytes() == before


def test_a_new_or_empty_file_still_becomes_a_database_for_commands_that_write(tmp_path):
    fresh, empty = tmp_path / "sub" / "fresh.db", tmp_path / "empty.db"
    empty.touch()
    for db in (fresh, empty):
        res = _invoke("import-corpus", CORPUS, "--no-progress", "--db", str(db))
        assert res.exit_code == 0, res.output
        assert "6 new" in res.output
    assert _invoke("status", "--db", str(empty)).exit_code == 0


def test_empty_db_option_is_a_usage_error(tmp_path):
    res = _invoke("status", "--db", "")
    assert res.exit_code == 2 and "--db: expected a file path" in res.output
