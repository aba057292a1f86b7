"""`paperbot restore BACKUP`: put a backup written by `paperbot backup` back into the live database.

Copying the backup file over the live one is not a restore: a ``-wal`` file left next to the
live database by a killed process is replayed over the copied file when it is next opened, and
the changes made after the backup come back. `restore_backup` instead opens the live database
(which reads any such log) and copies the backup into it with SQLite's backup API
(`Store.restore_from`), so the restored pages are the newest state the write-ahead log holds.

It refuses, changing nothing: a backup that is missing, not a paperbot database (or from a newer
paperbot), damaged, or the live file itself; a live file that is another application's; and a
live database that another process has open (a running `paperbot serve` or `run` would go on
with what it read before, and its next writes would mix both states): stop it first.

The matrix cache next to the model (TF-IDF rows synced to the live database's change counter)
is deleted, so the next run rebuilds it; a cache elsewhere notices that the database's counter
went back and rebuilds itself (`recommender.matrix_cache.sync`).
"""
from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import psutil

from recommender.matrix_cache import cache_path_for
from store import Store, probe_database


class RestoreError(RuntimeError):
    """A restore was refused or failed before the live database changed; the message is one line."""


@dataclass
class RestoreReport:
    """What `restore_backup` did: papers before and after, and the matrix cache it removed."""

    live: str
    backup: str
    papers_before: int
    papers_after: int
    digests_after: dict[str, int]
    removed_cache: str | None


def check_backup(backup: str | Path) -> None:
    """Refuse a `backup` that is not a readable paperbot database (missing, a folder, empty,
    another application's SQLite file, not SQLite at all).

    Raises:
        RestoreError: with the reason.
    """
    try:
        kind, tables = probe_database(backup)
    except sqlite3.DatabaseError as exc:
        raise RestoreError(f"{backup}: not a paperbot backup ({exc}); nothing restored") from None
    if kind == "missing":
        raise RestoreError(f"no backup at {backup}")
    if kind != "paperbot":
        what = {"folder": "a folder", "empty": "an empty database"}.get(
            kind, f"another application's database (its tables: {', '.join(tables[:5]) or 'none'})")
        raise RestoreError(f"{backup}: not a paperbot backup ({what}); nothing restored")


def processes_using(path: str | Path) -> list[str]:
    """Other processes (``"pid name"``) that have the database at `path` or its ``-wal`` /
    ``-shm`` file open, as far as this user may see (psutil; processes of other users are
    skipped)."""
    base = os.path.realpath(path)
    names = {base, base + "-wal", base + "-shm"}
    found = []
    for proc in psutil.process_iter(["pid", "name"]):
        if proc.pid == os.getpid():
            continue
        try:
            if any(os.path.realpath(f.path) in names for f in proc.open_files()):
                found.append(f"{proc.pid} {proc.info.get('name') or '?'}")
        except (psutil.Error, OSError):
            continue
    return found


def restore_backup(store: Store, backup: str | Path, model_path: str | Path | None) -> RestoreReport:
    """Replace the contents of `store` (the live database) with `backup`, then delete the
    matrix cache of the model at `model_path` (rebuilt on the next run). The caller has checked
    the backup (`check_backup`) and that no other process uses the live database
    (`processes_using`).

    Raises:
        RestoreError: `backup` is the live file itself.
        SchemaTooNew / sqlite3.Error: from `Store.restore_from` (nothing changed).
    """
    if Path(backup).resolve() == Path(store.path).resolve():
        raise RestoreError(f"{backup} is the live database itself; nothing restored")
    before = store.count_papers()
    after = store.restore_from(backup)
    removed = None
    if model_path is not None:
        cache = cache_path_for(model_path)
        if cache.exists():
            cache.unlink()
            removed = str(cache)
    return RestoreReport(live=store.path, backup=str(backup), papers_before=before, papers_after=after,
                         digests_after=store.digest_counts(), removed_cache=removed)
