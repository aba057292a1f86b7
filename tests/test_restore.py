"""`paperbot restore BACKUP`: the way back from `paperbot backup`.

Copying a backup over the live file is not a restore when a killed process left a ``-wal`` next
to it: SQLite replays that log over the copied file, and the changes made after the backup come
back. These tests leave such a log (a writer SIGKILLed with automatic checkpoints off), then
restore through the CLI.
"""
from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from feeds.records import Paper
from paperbot.cli import main
from recommender.matrix_cache import MatrixCache, cache_path_for, refresh
from store import Store
from tests.test_scale import synthetic_papers

ROOT = Path(__file__).resolve().parent.parent
EDIT = Paper("2601.00001", "Edited after the backup", abstract="quantum lattice gauge theory")

_KILLED_WRITER = """
import os, signal, sys
from feeds.records import Paper
from store import Store
s = Store(sys.argv[1])
s.db.conn.execute("PRAGMA wal_autocheckpoint = 0")  # the edit stays in the -wal
s.upsert_papers([Paper("2601.00001", "Edited after the backup", abstract="quantum lattice gauge theory")])
os.kill(os.getpid(), signal.SIGKILL)                 # no close, no checkpoint
"""


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def _run(*args: str):
    return CliRunner().invoke(main, list(args))


def _live_with_backup(tmp_path) -> tuple[Path, Path]:
    live, bk = tmp_path / "live.db", tmp_path / "bk.db"
    s = Store(live)
    s.upsert_papers(synthetic_papers(30))
    s.close()
    assert _run("backup", str(bk), "--db", str(live)).exit_code == 0
    return live, bk


def _ids(path: Path) -> set[str]:
    s = Store(path)
    try:
        return {p.arxiv_id for p in s.iter_papers()}
    finally:
        s.close()


def test_restore_undoes_changes_made_after_the_backup_despite_a_stale_wal(tmp_path):
    live, bk = _live_with_backup(tmp_path)
    proc = subprocess.run([sys.executable, "-c", _KILLED_WRITER, str(live)], env=_env())
    assert proc.returncode == -signal.SIGKILL
    wal = Path(str(live) + "-wal")
    assert wal.exists() and wal.stat().st_size > 0

    # the hazard: the backup copied over the live file, with that -wal beside it
    naive = tmp_path / "naive.db"
    shutil.copy(bk, naive)
    shutil.copy(wal, str(naive) + "-wal")
    assert EDIT.arxiv_id in _ids(naive)  # the edit came back

    res = _run("restore", str(bk), "--db", str(live))
    assert res.exit_code == 0, res.output
    assert f"restored {live} from {bk}: 30 papers (it held 31)" in res.output
    assert _ids(live) == _ids(bk) and EDIT.arxiv_id not in _ids(live)
    s = Store(live)  # and the restored database is a working one
    try:
        s.upsert_papers([Paper("2602.00002", "After the restore")])
        assert s.count_papers() == 31 and s.journal_mode() == "wal"
    finally:
        s.close()


def test_restore_refuses_what_is_not_a_paperbot_backup_and_changes_nothing(tmp_path):
    live, _ = _live_with_backup(tmp_path)
    before = _ids(live)
    foreign = tmp_path / "other.db"
    conn = sqlite3.connect(foreign)
    conn.execute("create table invoices (id integer primary key)")
    conn.commit()
    conn.close()
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    cases = [(tmp_path / "absent.db", "no backup at"), (foreign, "another application's database"),
             (junk, "not a paperbot backup"), (live, "is the live database itself")]
    for backup, says in cases:
        res = _run("restore", str(backup), "--db", str(live))
        assert res.exit_code == 1 and says in res.output, res.output
        assert "Traceback" not in res.output and len(res.output.strip().splitlines()) == 1
    assert _ids(live) == before


def test_restore_refuses_while_another_process_has_the_live_database_open(tmp_path):
    live, bk = _live_with_backup(tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from store import Store; s = Store(sys.argv[1]); "
         "s.count_papers(); print('open', flush=True); sys.stdin.read()", str(live)],
        env=_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        res = _run("restore", str(bk), "--db", str(live))
        assert res.exit_code == 1 and f"is open in process {holder.pid}" in res.output
        assert "stop it" in res.output
    finally:
        holder.stdin.close()
        holder.wait(30)
    assert _run("restore", str(bk), "--db", str(live)).exit_code == 0


def test_restore_removes_the_matrix_cache_next_to_the_model(tmp_path):
    live, bk = _live_with_backup(tmp_path)
    assert _run("search", "--db", str(live), "graph").exit_code == 0  # fits the model, writes the cache
    cache = cache_path_for(tmp_path / "live-model.joblib")
    assert cache.exists()
    res = _run("restore", str(bk), "--db", str(live))
    assert res.exit_code == 0 and f"removed the matrix cache {cache}" in res.output
    assert not cache.exists() and (tmp_path / "live-model.joblib").exists()


def test_a_matrix_cache_synced_past_a_restored_database_is_rebuilt(tmp_path):
    """A cache elsewhere (not removed by the restore) was synced to the live database's counter,
    which the restore moved back. Writes after the restore carry counter values at or below the
    cache's watermark, so an incremental sync skipped them (and kept rows of papers the restored
    database no longer holds). Must hold: the cache notices the counter went back and rebuilds."""
    live, bk = _live_with_backup(tmp_path)
    store = Store(live)
    model_path = tmp_path / "elsewhere" / "m.joblib"
    store.upsert_papers(synthetic_papers(5, seed=2, prefix="2402"))
    store.upsert_papers([EDIT])
    refresh(store, model_path)
    synced = MatrixCache.load(cache_path_for(model_path)).synced_seq
    store.restore_from(bk)
    assert store.change_seq() < synced
    late = Paper("2603.00003", "Written after the restore", abstract="quantum lattice gauge theory")
    store.upsert_papers([late])
    assert store.change_seq() <= synced  # invisible to an incremental sync
    model, cache = refresh(store, model_path)
    store_ids = {p.arxiv_id for p in store.iter_papers()}
    assert set(cache.ids) == store_ids and late.arxiv_id in cache and EDIT.arxiv_id not in cache
    assert cache.synced_seq == store.change_seq()
    store.close()
