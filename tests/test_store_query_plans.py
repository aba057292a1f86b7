"""The hot store queries use an index (schema v4, v5 and v9), checked on the SQL each public method
really runs (captured with ``set_trace_callback``, parameters expanded) through SQLite's
``EXPLAIN QUERY PLAN``. Timings are in bench/store_indexes.py, not here."""
from feeds.records import Paper
from recommender import feedback


def plans_of(store, call):
    """``{sql: [plan detail, …]}`` of every SELECT that `call()` runs on this thread's connection."""
    conn = store.db.conn
    seen: list[str] = []
    conn.set_trace_callback(seen.append)
    try:
        call()
    finally:
        conn.set_trace_callback(None)
    return {sql: [r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql)]
            for sql in seen if sql.lstrip().lower().startswith("select")}


def uses(plans, index_prefix):
    """Every SELECT of `plans` SEARCHes an index (none SCANs a table), and one searches
    papers/feedback through an index whose name starts with `index_prefix`."""
    assert plans, "the method ran no SELECT"
    for sql, plan in plans.items():
        assert all(step.startswith(("SEARCH", "USE TEMP B-TREE")) for step in plan), (sql, plan)
    assert any(f"USING INDEX {index_prefix}" in step for plan in plans.values() for step in plan), plans


def test_candidate_window_searches_the_first_seen_index_and_keeps_its_order(store):
    store.upsert_papers([Paper(f"2401.0000{i}", f"t{i}", published=f"2024-01-0{1 + i % 3}") for i in range(6)])
    uses(plans_of(store, lambda: store.paper_change_seqs_first_seen_since("2020-01-01")), "idx_papers_first_seen")
    uses(plans_of(store, lambda: store.papers_first_seen_since("2020-01-01")), "idx_papers_first_seen")
    got = [p.arxiv_id for p in store.papers_first_seen_since("2020-01-01")]
    assert got == ["2401.00002", "2401.00005", "2401.00001", "2401.00004", "2401.00000", "2401.00003"]
    assert [a for a, _ in store.paper_change_seqs_first_seen_since("2020-01-01")] == got
    assert store.papers_first_seen_since("2999-01-01") == []


def test_matrix_cache_changes_search_the_change_seq_index(store):
    store.upsert_papers([Paper("2401.00001", "t")])
    uses(plans_of(store, lambda: store.paper_changes_since(0)), "idx_papers_change_seq")


def test_feedback_by_paper_and_by_channel_search_their_indexes(store):
    store.upsert_papers([Paper("2401.00001", "t")])
    feedback.record(store, "U1", "2401.00001", 1, "button", event_key="e1", channel_id="C1")
    uses(plans_of(store, lambda: store.feedback_counts("2401.00001")), "idx_feedback_arxiv_id")
    uses(plans_of(store, lambda: store.feedback_counts("2401.00001", "C1")), "idx_feedback_")
    uses(plans_of(store, lambda: store.feedback_for(channel_id="C1")), "idx_feedback_channel_id")
    assert store.feedback_counts("2401.00001", "C1") == (1, 0) and store.feedback_for(channel_id="C1") == {
        "2401.00001": 1}


def test_pruning_claimed_event_keys_searches_the_created_at_index(store):
    """`Store.claim_event` deletes the keys older than a week; without the v9 index that DELETE
    scans every key ever claimed."""
    store.claim_event("event:Ev1")
    conn = store.db.conn
    seen: list[str] = []
    conn.set_trace_callback(seen.append)
    try:
        store.prune_processed_events()
    finally:
        conn.set_trace_callback(None)
    deletes = [sql for sql in seen if sql.lstrip().lower().startswith("delete")]
    assert len(deletes) == 1
    plan = [r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + deletes[0])]
    assert plan and all(step.startswith("SEARCH") for step in plan), plan
    assert any("idx_processed_events_created_at" in step for step in plan), plan
