"""The store's change sequence (schema v4) and the matrix cache that syncs on it.

The cache used to sync on ``last_seen`` (a wall-clock stamp taken when a write transaction
starts) with a watermark of "the sync's own clock minus 1 s": a write that was still open
while a sync ran committed rows stamped before the new watermark, and no later sync took them.
These tests hold a write transaction open on one connection while another syncs.
"""
import sqlite3
from datetime import datetime, timedelta, timezone

import numpy as np
import sqlite_utils

from feeds.records import Paper
from recommender.matrix_cache import CACHE_FORMAT, MatrixCache, cache_path_for, refresh
from recommender.tfidf import paper_text
from store import Store
from store.schema import MIGRATIONS, SCHEMA_VERSION
from tests.test_scale import synthetic_papers

NEW = Paper("2403.00001", "quantum lattice chromodynamics", abstract="quantum lattice gauge theory")
REVISED = Paper("2401.00004", "graph retrieval agent", abstract="entirely new words about quantum gauge",
                version=9)


def test_a_write_open_during_a_sync_reaches_the_cache_after_it_commits(tmp_path, monkeypatch):
    path = tmp_path / "r.db"
    reader, writer = Store(path), Store(path)  # two connections, as two processes would have
    writer.upsert_papers(synthetic_papers(80))
    model_path = tmp_path / "m.joblib"
    refresh(reader, model_path)
    writer.upsert_papers(synthetic_papers(2, seed=3, prefix="2402"))  # gives the next sync work
    # the write transaction below started 5 s ago (a long bulk upsert): its rows' stamps are old
    started = (datetime.now(timezone.utc) - timedelta(seconds=5)).isoformat(timespec="seconds")
    monkeypatch.setattr("store.store.utcnow", lambda: started)
    with writer.transaction():
        writer.upsert_papers([NEW, REVISED])
        _, during = refresh(reader, model_path)  # sees the committed 2402.* papers, not these
        assert "2402.00001" in during and NEW.arxiv_id not in during
    model, cache = refresh(reader, model_path)
    assert NEW.arxiv_id in cache and len(cache) == 83
    for p in (NEW, REVISED):
        _, row = cache.rows([p.arxiv_id])
        assert abs(row - model.transform([paper_text(p.title, p.abstract)])).max() < 1e-6
    # and from the file a fresh process loads
    loaded = MatrixCache.load(cache_path_for(model_path), model)
    assert NEW.arxiv_id in loaded and loaded.synced_seq == reader.change_seq()


def test_change_seq_follows_commit_order_and_only_real_changes(tmp_path):
    path = tmp_path / "s.db"
    reader, writer = Store(path), Store(path)
    assert reader.change_seq() == 1 and reader.paper_changes_since(0) == (1, [])
    writer.upsert_papers(synthetic_papers(3))
    high, ids = reader.paper_changes_since(0)
    assert ids == ["2401.00000", "2401.00001", "2401.00002"] and high == reader.change_seq() > 1
    with writer.transaction():
        writer.bulk_upsert_papers([NEW])
        seen, ids = reader.paper_changes_since(high)
        assert (seen, ids) == (high, [])  # the open write is invisible and did not move the watermark
    later, ids = reader.paper_changes_since(seen)
    assert ids == [NEW.arxiv_id] and later > seen
    # an unchanged re-upsert takes no value; a revision (upsert or bulk) does
    writer.upsert_papers(synthetic_papers(3))
    writer.bulk_upsert_papers(synthetic_papers(3))
    assert reader.paper_changes_since(later) == (later, [])
    writer.bulk_upsert_papers([Paper("2401.00001", "a new title", version=2)])
    writer.upsert_papers([Paper("2401.00002", "another title", version=2)])
    last, ids = reader.paper_changes_since(later)
    assert ids == ["2401.00001", "2401.00002"] and last == later + 2


def test_a_v3_database_and_a_format_1_cache_are_upgraded(tmp_path):
    path = tmp_path / "old.db"
    db = sqlite_utils.Database(sqlite3.connect(path))
    for step in MIGRATIONS[:3]:
        step(db)
    db.conn.execute("PRAGMA user_version = 3")
    for p in synthetic_papers(60):
        row = {k: v for k, v in p.to_dict().items() if k != "abstract_truncated"}  # a v6 column
        for f in ("authors", "categories", "sources", "ai_keywords"):
            row[f] = str(row[f] or []).replace("'", '"')
        db["papers"].insert({**row, "first_seen": "2026-01-01T00:00:00+00:00",
                             "last_seen": "2026-01-01T00:00:00+00:00"})
    db.conn.commit()
    db.conn.close()
    s = Store(path)
    assert s.db.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 4
    high, ids = s.paper_changes_since(0)
    assert high == 1 and len(ids) == 60
    model_path = tmp_path / "m.joblib"
    model, cache = refresh(s, model_path)
    # an earlier paperbot's cache file (format 1, a time watermark) is not trusted: rebuilt
    cpath = cache_path_for(model_path)
    m = cache.matrix
    np.savez(cpath, format=np.int64(1), ids=np.array(cache.ids[:10], dtype=str), data=m[:10].data,
             indices=m[:10].indices, indptr=m[:10].indptr, shape=np.array(m[:10].shape),
             fingerprint=np.array(cache.fingerprint), synced_at=np.array("2099-01-01T00:00:00+00:00"))
    assert CACHE_FORMAT != 1 and MatrixCache.load(cpath, model) is None
    s.upsert_papers([NEW])
    _, rebuilt = refresh(s, model_path)
    assert len(rebuilt) == 61 and MatrixCache.load(cpath, model).synced_seq == s.change_seq()
