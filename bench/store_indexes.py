"""Time the store's hot queries without and with schema v5's indexes — run by hand:

    PYTHONPATH=. python bench/store_indexes.py DB [RUNS=20]

`DB` is a paperbot database (e.g. one built by ``paperbot import-corpus``); it is copied to a
temporary directory and never modified. On the copy:

* ``first_seen`` is set to each paper's announcement day, as a store polling for years would
  hold, so a digest's 7-day candidate window is a realistic slice (an import stamps every row
  within a few seconds). The FTS5 update trigger is dropped on the copy first: the update does
  not touch indexed text, and re-indexing every row would only cost time;
* 30,000 synthetic feedback rows are added (1,000 users, 20 channels, random papers, seed 0).

"before" drops v5's indexes and runs the queries as paperbot ran them up to schema v4 (order by
``published`` without the ``+``); "after" recreates the indexes with ``MIGRATIONS[4]`` and runs
the SQL the Store's methods run now (rows fetched, not decoded into `Paper`s, in both). Prints
the median wall time of `RUNS` warm runs per query and each query's ``EXPLAIN QUERY PLAN``
(tests/test_store_query_plans.py asserts the plans; timings are only printed).
"""
from __future__ import annotations

import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from store import Store
from store.schema import MIGRATIONS

V5_INDEXES = ("idx_papers_first_seen", "idx_feedback_arxiv_id", "idx_feedback_channel_id")
OLD_WINDOW = "select arxiv_id, last_seen from papers where first_seen >= ? order by published desc, arxiv_id"
OLD_WINDOW_ROWS = "select * from papers where first_seen >= ? order by published desc, arxiv_id"
OLD_COUNTS = "select user_id, value from feedback where arxiv_id = ? and undone_at is null order by id"
OLD_CHANNEL = "select arxiv_id, value from feedback where undone_at is null and channel_id = ? order by id"


def median_ms(fn, runs: int) -> float:
    fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def plan(conn, sql: str, args: list) -> str:
    return " · ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, args))


def main(src: str, runs: int = 20) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        shutil.copy(src, path)
        store = Store(path)  # migrates the copy to the current schema
        db, conn = store.db, store.db.conn
        with store.transaction():
            conn.execute('drop trigger if exists "papers_au"')
            conn.execute("update papers set first_seen = substr(published, 1, 10) || 'T00:00:00+00:00' "
                         "where published is not null")
        last = conn.execute("select max(substr(published, 1, 10)) from papers").fetchone()[0]
        since = (date.fromisoformat(last) - timedelta(days=7)).isoformat() + "T00:00:00+00:00"
        ids = [r[0] for r in conn.execute("select arxiv_id from papers")]
        rng = random.Random(0)
        with store.transaction():
            conn.executemany(
                "insert into feedback (user_id, arxiv_id, value, source, channel_id, event_key, created_at) "
                "values (?, ?, ?, 'bench', ?, ?, '2026-01-01T00:00:00+00:00')",
                [(f"U{rng.randrange(1000)}", rng.choice(ids), rng.choice((1, -1)), f"C{rng.randrange(20)}",
                  f"bench-{i}") for i in range(30_000)])
        paper = conn.execute("select arxiv_id from feedback order by id limit 1").fetchone()[0]
        n_window = conn.execute("select count(*) from papers where first_seen >= ?", [since]).fetchone()[0]
        print(f"{len(ids):,} papers, window since {since}: {n_window:,} papers; 30,000 feedback rows; "
              f"median of {runs} warm runs")

        for name in V5_INDEXES:
            conn.execute(f"drop index {name}")
        before = {
            "paper_stamps_first_seen_since": (OLD_WINDOW, [since]),
            "papers_first_seen_since": (OLD_WINDOW_ROWS, [since]),
            "feedback_counts(paper)": (OLD_COUNTS, [paper]),
            "feedback_for(channel)": (OLD_CHANNEL, ["C3"]),
        }
        b_ms = {k: median_ms(lambda s=sql, a=args: conn.execute(s, a).fetchall(), runs) for k, (sql, args) in before.items()}
        b_plan = {k: plan(conn, sql, args) for k, (sql, args) in before.items()}

        with store.transaction():
            MIGRATIONS[4](db)
        from store.store import _FIRST_SEEN_SINCE  # the window SQL the Store's methods run
        after = {
            "paper_stamps_first_seen_since": (f"select arxiv_id, last_seen {_FIRST_SEEN_SINCE}", [since]),
            "papers_first_seen_since": (f"select * {_FIRST_SEEN_SINCE}", [since]),
            "feedback_counts(paper)": (OLD_COUNTS, [paper]),
            "feedback_for(channel)": (OLD_CHANNEL, ["C3"]),
        }
        a_plan = {k: plan(conn, sql, args) for k, (sql, args) in after.items()}
        a_ms = {k: median_ms(lambda s=sql, a=args: conn.execute(s, a).fetchall(), runs) for k, (sql, args) in after.items()}
        for k in before:
            print(f"{k:32s} before {b_ms[k]:8.3f} ms  after {a_ms[k]:8.3f} ms")
            print(f"{'':32s}   before: {b_plan[k]}\n{'':32s}   after:  {a_plan[k]}")
        store.close()


if __name__ == "__main__":
    main(sys.argv[1], *(int(a) for a in sys.argv[2:3]))
