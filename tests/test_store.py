"""The SQLite store: merging sources, versions, WAL, schema version, digests, feedback."""
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest
import sqlite_utils

from feeds.arxiv_rss import parse_feed
from feeds.hf_daily import parse_daily_papers
from feeds.records import Paper
from store import Store
from store.schema import MIGRATIONS, SCHEMA_VERSION, SchemaTooNew
from tests.conftest import fixture_path


def test_wal_and_schema_version(store):
    assert store.journal_mode() == "wal"
    assert store.db.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_reopening_keeps_data_and_newer_schema_refuses(tmp_path):
    s = Store(tmp_path / "a.db")
    s.upsert_papers([Paper("2401.00001", "A title")])
    s.close()
    s2 = Store(tmp_path / "a.db")
    assert s2.get_paper("2401.00001").title == "A title"
    s2.db.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    s2.close()
    opened = []
    real_connect = sqlite3.connect

    def connect(*args, **kwargs):
        opened.append(real_connect(*args, **kwargs))
        return opened[-1]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sqlite3, "connect", connect)
        with pytest.raises(SchemaTooNew):
            Store(tmp_path / "a.db")
    assert opened  # and the refused store closed what it opened (it stayed open, unreachable)
    for conn in opened:
        with pytest.raises(sqlite3.ProgrammingError, match="closed"):
            conn.execute("select 1")


def test_same_paper_from_rss_and_hf_is_merged(store):
    rss = parse_feed(fixture_path("arxiv_rss", "atom_cs.AI_2025-08-20.xml").read_bytes()).papers[0]
    hf = Paper(arxiv_id=rss.arxiv_id, title=rss.title, abstract="", authors=[], sources=["hf_daily"],
               hf_upvotes=12, ai_keywords=["culture"], github_repo="https://github.com/x/y")
    assert store.upsert_papers([rss]) == {"inserted": 1, "updated": 0, "unchanged": 0}
    assert store.upsert_papers([hf])["updated"] == 1
    p = store.get_paper(rss.arxiv_id)
    assert p.sources == ["arxiv_rss", "hf_daily"]
    assert p.hf_upvotes == 12 and p.ai_keywords == ["culture"]
    assert p.abstract == rss.abstract and p.authors == rss.authors  # HF's empty fields did not erase
    assert p.announce_type == "cross" and p.categories == ["cs.CL", "cs.AI"]
    assert store.count_papers() == 1


def test_newer_version_updates_the_row_older_does_not(store):
    store.upsert_papers([Paper("2401.00001", "Old title", "old abstract", version=1, published="2024-01-01")])
    store.upsert_papers([Paper("2401.00001", "New title", "new abstract", version=2, published="2024-02-01")])
    p = store.get_paper("2401.00001")
    assert (p.title, p.version, p.abstract) == ("New title", 2, "new abstract")
    assert p.published == "2024-01-01"  # first announcement date kept
    store.upsert_papers([Paper("2401.00001", "Stale title", version=1)])
    assert store.get_paper("2401.00001").title == "New title"


def test_real_hf_day_round_trips(store):
    papers = parse_daily_papers(fixture_path("hf_daily", "2026-08-21.json").read_bytes()).papers
    store.upsert_papers(papers)
    got = store.get_papers([p.arxiv_id for p in papers])
    assert len(got) == len(papers)
    assert got[papers[0].arxiv_id].to_dict() == papers[0].to_dict()


def test_digest_intent_is_recorded_once_per_key(store):
    store.upsert_papers([Paper("2401.00001", "T")])
    d1, row = store.begin_digest("C1:2026-01-05", "C1", "2026-01-05", [("2401.00001", 0.5, "why")])
    d2, row2 = store.begin_digest("C1:2026-01-05", "C1", "2026-01-05", [("2401.00001", 0.5, "why")])
    assert d1 == d2 and row2["status"] == "pending"
    store.finish_digest(d1, "123.456")
    assert store.get_digest("C1:2026-01-05")["status"] == "posted"
    assert store.sent_paper_ids("C1") == {"2401.00001"}
    assert store.digest_by_message("C1", "123.456")["id"] == d1


def test_released_digest_papers_leave_the_sent_set_and_the_count(store):
    ids = ["2401.00001", "2401.00002", "2401.00003"]
    store.upsert_papers([Paper(i, "T") for i in ids])
    d, _ = store.begin_digest("C1:2026-01-05", "C1", "2026-01-05", [(i, 0.5, "why") for i in ids])
    store.finish_digest(d, "123.456")
    assert store.release_digest_papers(d, ["2401.00003", "2499.99999"]) == 1  # unknown ids are ignored
    assert store.release_digest_papers(d, []) == 0
    assert store.sent_paper_ids("C1") == {"2401.00001", "2401.00002"}
    assert store.digest_paper_ids(d) == ["2401.00001", "2401.00002"]
    assert store.get_digest("C1:2026-01-05")["paper_count"] == 2


def test_feedback_dedupes_on_event_key_and_undo(store):
    assert store.record_feedback("U1", "2401.00001", 1, "button", event_key="a1")
    assert not store.record_feedback("U1", "2401.00001", 1, "button", event_key="a1")
    assert store.feedback_count() == 1
    assert store.feedback_for(user_id="U1") == {"2401.00001": 1}
    assert store.undo_feedback("U1", "2401.00001", 1)
    assert store.feedback_for(user_id="U1") == {}
    with pytest.raises(ValueError):
        store.record_feedback("U1", "2401.00001", 5, "cli")


def test_user_text_is_parameterised(store):
    hostile = "x'); DROP TABLE papers; --"
    store.add_follow(hostile, "keyword", hostile)
    assert store.follows(hostile) == {"keyword": [hostile]}
    assert store.count_papers() == 0  # table still there


def test_failed_transaction_rolls_back(store):
    with pytest.raises(sqlite3.IntegrityError):
        with store.transaction() as db:
            db["papers"].insert({"arxiv_id": "2401.1", "title": "ok"})
            db["papers"].insert({"arxiv_id": "2401.1", "title": "duplicate pk"})
    assert store.count_papers() == 0


@pytest.mark.parametrize("total", [2000, 2500, 3999, 4100])
def test_sample_papers_spreads_over_the_whole_table(store, total):
    """The background sample covers the whole table, not its oldest rows: with 2,000 ≤ total <
    4,000 the stride was 1 and LIMIT n took exactly the first n papers stored."""
    ids = [f"2401.{i:05d}" for i in range(total)]  # stored in this order
    store.bulk_upsert_papers(Paper(arxiv_id=a, title=f"paper {a}") for a in ids)
    sample = [p.arxiv_id for p in store.sample_papers(2000)]
    assert len(sample) == len(set(sample)) == 2000
    position = {a: i for i, a in enumerate(ids)}
    where = sorted(position[a] for a in sample)
    for q in range(4):  # each quarter of the table gives a quarter of the sample
        in_quarter = sum(q * total // 4 <= w < (q + 1) * total // 4 for w in where)
        assert abs(in_quarter - 500) <= 1, (q, in_quarter)
    assert where[0] == 0 and where[-1] >= total - total // 2000 - 1  # from the first to the last
    assert [p.arxiv_id for p in store.sample_papers(2000)] == sample  # deterministic
    assert [p.arxiv_id for p in store.sample_papers(2000, exclude={sample[0], sample[5]})] == \
        sample[1:5] + sample[6:]


def test_sample_papers_small_tables_and_sizes(store):
    assert store.sample_papers(10) == []
    store.upsert_papers([Paper(arxiv_id=f"2401.{i:05d}", title="t") for i in range(5)])
    assert [p.arxiv_id for p in store.sample_papers(10)] == [f"2401.{i:05d}" for i in range(5)]
    assert [p.arxiv_id for p in store.sample_papers(2)] == ["2401.00000", "2401.00002"]
    assert store.sample_papers(0) == [] and store.sample_papers(-1) == []


def test_sample_papers_first_seen_before_samples_only_earlier_papers(store, monkeypatch):
    """The digest's background must be the feed seen before the candidate window, never the
    window's own candidates (they were 35.6 % of the sample on the first dev task)."""
    import store.store as store_mod

    monkeypatch.setattr(store_mod, "utcnow", lambda: "2026-01-01T00:00:00+00:00")
    store.upsert_papers([Paper(arxiv_id=f"2401.{i:05d}", title="old") for i in range(30)])
    monkeypatch.setattr(store_mod, "utcnow", lambda: "2026-02-01T00:00:00+00:00")
    store.upsert_papers([Paper(arxiv_id=f"2402.{i:05d}", title="new") for i in range(30)])
    since = "2026-01-15T00:00:00+00:00"
    assert store.count_papers(first_seen_before=since) == 30 and store.count_papers() == 60
    got = [p.arxiv_id for p in store.sample_papers(10, first_seen_before=since)]
    assert got == [f"2401.{i:05d}" for i in range(0, 30, 3)]  # spread evenly over the earlier 30 only
    assert [p.arxiv_id for p in store.sample_papers(10, exclude={"2401.00000"}, first_seen_before=since)] == got[1:]
    assert any(a.startswith("2402.") for a in (p.arxiv_id for p in store.sample_papers(10)))  # whole table
    assert store.sample_papers(10, first_seen_before="2025-01-01T00:00:00+00:00") == []


# ---- processed_events: claimed Slack event keys are kept a week --------------------------------
def _event_keys(store):
    return sorted(r["event_key"] for r in store.db.query("select event_key from processed_events"))


def _clock_at(monkeypatch, when):
    """`store.store.utcnow` (the clock that stamps and prunes event keys) reads `when`."""
    import store.store as store_module
    monkeypatch.setattr(store_module, "utcnow", lambda: when.isoformat(timespec="seconds"))


def test_claimed_event_keys_older_than_a_week_are_pruned_and_a_recent_redelivery_is_still_refused(
        store, monkeypatch):
    """processed_events kept every claimed key for the life of the database although Slack
    retries an event for only about an hour; a claim now drops the keys older than a week."""
    now = datetime.now(timezone.utc)
    _clock_at(monkeypatch, now - timedelta(days=8))
    assert store.claim_event("event:Ev8")
    _clock_at(monkeypatch, now - timedelta(days=6))
    assert store.claim_event("event:Ev6")
    assert _event_keys(store) == ["event:Ev6", "event:Ev8"]  # nothing was a week old when they came
    _clock_at(monkeypatch, now)
    assert store.claim_event("event:Ev0")
    assert _event_keys(store) == ["event:Ev0", "event:Ev6"]  # 8 days old: pruned
    assert not store.claim_event("event:Ev6")  # a redelivery within the week: still refused
    assert not store.claim_event("event:Ev0")
    assert store.claim_event("event:Ev8")  # forgotten: Slack stopped retrying it a week ago


def test_claim_event_prunes_at_most_once_an_hour(store, monkeypatch):
    now = datetime.now(timezone.utc)
    statements: list[str] = []
    pruned = []
    store.db.conn.set_trace_callback(statements.append)
    try:
        for minutes, key in ((0, "a"), (30, "b"), (59, "c"), (61, "d"), (62, "e"), (-60 * 24, "f")):
            _clock_at(monkeypatch, now + timedelta(minutes=minutes))
            statements.clear()
            assert store.claim_event(f"event:{key}")
            pruned.append(any(sql.lower().startswith("delete from processed_events") for sql in statements))
    finally:
        store.db.conn.set_trace_callback(None)
    # the first claim, the first one an hour after it, and one after the clock was set back
    assert pruned == [True, False, False, True, False, True]


def test_prune_processed_events_keeps_the_horizon(store):
    assert store.claim_event("event:Ev1")
    later = datetime.now(timezone.utc) + timedelta(days=6, hours=23)
    assert store.prune_processed_events(now=later) == 0
    assert store.prune_processed_events(now=later + timedelta(hours=2)) == 1
    assert _event_keys(store) == []


def test_a_v8_database_gets_the_created_at_index_and_its_old_keys_are_pruned(tmp_path):
    path = tmp_path / "v8.db"
    db = sqlite_utils.Database(sqlite3.connect(path))
    for step in MIGRATIONS[:8]:
        step(db)
    db.conn.execute("PRAGMA user_version = 8")
    now = datetime.now(timezone.utc)
    for key, age in (("event:old", timedelta(days=30)), ("event:recent", timedelta(hours=1))):
        db["processed_events"].insert({"event_key": key,
                                       "created_at": (now - age).isoformat(timespec="seconds")})
    db.conn.commit()
    db.conn.close()
    s = Store(path)
    assert s.db.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 9
    assert [["created_at"]] == [i.columns for i in s.db["processed_events"].indexes if not i.unique]
    assert not s.claim_event("event:recent")  # kept through the upgrade: a redelivery is refused
    assert _event_keys(s) == ["event:recent"]  # and that claim pruned the month-old key
    s.close()
