"""Pure pieces of the Slack bot: command parser, search query parsing and FTS5 quoting, Block
Kit builders (search results, App Home), slot arithmetic, profiles."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger

from bot.blocks import MAX_BLOCKS
from bot.commands_parser import Command, UsageError, parse_arxiv_id, parse_command
from bot.home import MAX_HOME_BLOCKS, HomeData, home_view
from bot.scheduler import latest_slot, slot_name
from bot.search_blocks import feedback_button_ids, search_blocks, with_feedback_counts
from bot.tracked_posting import paper_ids_in_blocks
from feeds.records import Paper
from recommender.profiles import profile_for_user
from recommender.search import QueryError, SearchHit, fts_query, parse_query, search
from tests.bot_harness import seed_store


# ---- command parser ------------------------------------------------------------------------
@pytest.mark.parametrize("text,cmd", [
    ("", Command("help")),
    ("   ", Command("help")),
    ("HELP", Command("help")),
    ("search  reward   model ", Command("search", "reward model")),
    ("search C++ \"x\" *", Command("search", 'C++ "x" *')),
    ("subscribe rlhf_code", Command("subscribe", "rlhf_code")),
    ("unsubscribe reward model, PPO", Command("unsubscribe", "reward model, PPO")),
    ("follow author Yann  LeCun", Command("follow_author", "Yann LeCun")),
    ("unfollow AUTHOR Yann LeCun", Command("unfollow_author", "Yann LeCun")),
    ("like 2501.01234v3", Command("like", "2501.01234")),
    ("like arXiv:2501.01234", Command("like", "2501.01234")),
    ("like <https://arxiv.org/abs/2501.01234v2|arxiv.org/abs/2501.01234v2>", Command("like", "2501.01234")),
    ("like https://arxiv.org/pdf/2501.01234.pdf", Command("like", "2501.01234")),
    ("like hep-th/9901001", Command("like", "hep-th/9901001")),
    ("profile", Command("profile")),
    ("digest now", Command("digest_now")),
    ("digest DM On", Command("digest_dm", True)),
    ("digest dm off", Command("digest_dm", False)),
    ("digest", Command("digest_show")),
    ("digest settings", Command("digest_show")),
    ("digest schedule weekdays 09:00", Command("digest_schedule", "0 9 * * mon-fri")),
    ("digest schedule daily 8:30", Command("digest_schedule", "30 8 * * *")),
    ("digest schedule Mon,Thursday 10:05", Command("digest_schedule", "5 10 * * mon,thu")),
    ("digest schedule tue-thu at 7", Command("digest_schedule", "0 7 * * tue-thu")),
    ("digest schedule 30  8 * * mon-fri", Command("digest_schedule", "30 8 * * mon-fri")),
    ("digest size 5", Command("digest_size", 5)),
    ("digest timezone Europe/Paris", Command("digest_timezone", "Europe/Paris")),
    ("digest tz UTC", Command("digest_timezone", "UTC")),
])
def test_parse_command(text, cmd):
    assert parse_command(text) == cmd


@pytest.mark.parametrize("text,fragment", [
    ("frobnicate", "unknown command"),
    ("search", "usage: `/papers search"),
    ("subscribe   ", "usage: `/papers subscribe"),
    ("follow Yann", "usage: `/papers follow author"),
    ("follow author", "usage: `/papers follow author"),
    ("like", "usage: `/papers like"),
    ("like 2501.01234 2501.01235", "usage: `/papers like"),
    ("like https://example.com/abs/2501.01234", "not an arXiv id"),
    ("profile extra", "usage: `/papers profile`"),
    ("digest dm maybe", "usage: `/papers digest now`"),
    ("subscribe " + "k" * 300, "too long"),
    ("digest schedule", "usage: `/papers digest schedule"),
    ("digest schedule weekdays 24:00", "is not a time of day"),
    ("digest schedule someday 09:00", "usage: `/papers digest schedule"),
    ("digest schedule 61 9 * * *", "not a valid crontab"),
    ("digest schedule 0 9 * * funday", "not a valid crontab"),
    ("digest size 0", "usage: `/papers digest size"),
    ("digest size 51", "usage: `/papers digest size"),
    ("digest size many", "usage: `/papers digest size"),
    ("digest timezone Mars/Olympus", "unknown time zone"),
    ("digest timezone ../../etc/passwd", "usage: `/papers digest timezone"),
    ("digest timezone Europe Paris", "usage: `/papers digest timezone"),
])
def test_parse_command_usage_errors(text, fragment):
    with pytest.raises(UsageError) as exc:
        parse_command(text)
    assert fragment in str(exc.value)


def test_parse_command_takes_any_string():
    for text in ["\x00", "search \ud800", "🤖", "like \n", None, "digest", "  search\t\t*", "a" * 5000,
                 "search " + "b" * 5000]:
        try:
            assert isinstance(parse_command(text), Command)
        except UsageError:
            pass


def test_parse_arxiv_id():
    assert parse_arxiv_id("2401.00001") == "2401.00001"
    assert parse_arxiv_id("http://export.arxiv.org/abs/2401.00001v1") == "2401.00001"
    assert parse_arxiv_id("2401.0001x") is None and parse_arxiv_id("") is None
    # old-style ids keep arXiv's case whatever was typed: archive lower, subject class upper
    # the form arXiv and the store use: no subject class (/papers like math.GT/0309136 looked up
    # an id the store never holds, and fetched the paper again under math/0309136)
    assert parse_arxiv_id("<https://arxiv.org/abs/MATH.gt/0309136v1|paper>") == "math/0309136"
    assert parse_arxiv_id("hep-th/9901001v2") == "hep-th/9901001"
    assert parse_arxiv_id("arXiv:hep-th/9901001") == "hep-th/9901001"
    for typed in ("ARXIV:HEP-TH/9901001", "arXiv:HEP-TH/9901001v2", "HEP-TH/9901001"):
        assert parse_arxiv_id(typed) == "hep-th/9901001", typed
    assert parse_arxiv_id("ARXIV:2301.00001") == "2301.00001" and parse_arxiv_id("MATH.GT/0309136") == "math/0309136"
    assert parse_arxiv_id("ARXIV:HEP-TH/9913001") is None and parse_arxiv_id("HEP-TH 9901001") is None
    # a month that does not exist is a typo, not an id
    assert parse_arxiv_id("2513.01234") is None and parse_arxiv_id("hep-th/9913001") is None


# ---- search query and FTS5 quoting -----------------------------------------------------------
def test_parse_query_filters():
    q = parse_query('author:"Yann LeCun" cat:cs.LG since:2024-02-29 source:hf self-supervised "world model"')
    assert q.authors == ["Yann LeCun"] and q.categories == ["cs.LG"] and q.since == "2024-02-29"
    assert q.source == "hf_daily" and q.text == "self-supervised world model"
    assert parse_query("AUTHOR:Hinton").authors == ["Hinton"]
    assert parse_query("http://x.org:80/a").text == "http://x.org:80/a"  # not a filter


@pytest.mark.parametrize("text,fragment", [
    ("since:2024-02-30", "since: expects a date"), ("since:yesterday", "since: expects a date"),
    ("source:twitter", "source: expects one of"), ("cat:", "cat: needs a value"),
    ('author:""', "author: needs a value"), ("   ", "give some words"),
])
def test_parse_query_errors(text, fragment):
    with pytest.raises(QueryError) as exc:
        parse_query(text)
    assert fragment in str(exc.value)


def test_fts_query_quotes_every_token():
    assert fts_query('C++ "x" NEAR(a b) *') == '"c" OR "x" OR "near" OR "a" OR "b"'
    assert fts_query("***") is None and fts_query("") is None
    assert fts_query("🤖 émergence") == '"émergence"'
    assert len(fts_query(" ".join(f"w{i}" for i in range(500))).split(" OR ")) == 32


def test_search_on_store_is_safe_and_ranked(store):
    seed_store(store)
    for text in ['C++', 'NEAR(a, b)', '*', 'AND', '🤖', "x" * 2000, "'--", "a:b", '"a', 'a"b']:
        assert isinstance(search(store, None, text), list)
    with pytest.raises(QueryError):  # an empty phrase is no query at all: a clean usage error
        search(store, None, '""')
    hits = search(store, None, "reward model", limit=5)
    assert hits and hits == sorted(hits, key=lambda h: -h.score)
    assert "reward" in (hits[0].paper.title + hits[0].paper.abstract).lower()
    assert hits[0].bm25 == 1.0  # the best BM25 is the normalisation point


def test_store_search_filters_escape_like_wildcards(store):
    store.upsert_papers([
        Paper(arxiv_id="2401.00001", title="Alpha", abstract="x", authors=["Ann 100% Sure"], categories=["cs.LG"]),
        Paper(arxiv_id="2401.00002", title="Beta", abstract="x", authors=["Ann 1000 Sure"], categories=["cs.LGX"]),
    ])
    assert [p.arxiv_id for p, _ in store.search_papers(authors=["100%"])] == ["2401.00001"]
    assert [p.arxiv_id for p, _ in store.search_papers(authors=["_"])] == []
    assert [p.arxiv_id for p, _ in store.search_papers(categories=["cs.LG"])] == ["2401.00001"]


# ---- Block Kit --------------------------------------------------------------------------------
def _paper(i: int) -> Paper:
    return Paper(arxiv_id=f"2401.{i:05d}", title=f"Paper <{i}> & co" + "t" * 400, abstract="a",
                 authors=[f"A{j}" for j in range(9)], abs_url=f"https://arxiv.org/abs/2401.{i:05d}")


def test_search_blocks_within_limits_and_escaped():
    hits = [SearchHit(_paper(i), 0.5, 0.6, 0.4) for i in range(40)]
    blocks = search_blocks("q" * 3000, hits)
    assert len(blocks) <= MAX_BLOCKS
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks if b["type"] == "section")
    assert "&lt;0&gt; &amp; co" in blocks[1]["text"]["text"]
    assert paper_ids_in_blocks(blocks)[:2] == ["2401.00000", "2401.00001"]
    assert feedback_button_ids(blocks)[:2] == ["2401.00000", "2401.00001"] and len(feedback_button_ids(blocks)) == 24
    updated = with_feedback_counts(blocks, {"2401.00001": (3, 1), "2401.00002": (0, 2), "2401.00003": (0, 0)})
    fb = [b for b in updated if b.get("block_id") == "fb:2401.00001"][0]
    assert [e["text"]["text"] for e in fb["elements"]][:2] == ["👍 3", "👎 1"]
    fb2 = [b for b in updated if b.get("block_id") == "fb:2401.00002"][0]
    assert [e["text"]["text"] for e in fb2["elements"]][:2] == ["👍 0", "👎 2"]
    fb3 = [b for b in updated if b.get("block_id") == "fb:2401.00003"][0]
    assert [e["text"]["text"] for e in fb3["elements"]] == ["👍", "👎", "More like this"]
    assert fb["elements"][2]["action_id"] == "more_like_this"
    assert updated[0] == blocks[0] and blocks[4]["elements"][0]["text"]["text"] == "👍"  # input untouched


def test_home_view_limits_and_content():
    data = HomeData("U1", follows={"collection": ["rlhf_code"], "keyword": [f"k{i}" for i in range(200)],
                                   "author": ["Ann <Lee>"]},
                    top_terms=["reward", "ppo"], liked=[("2401.00001", "T & T", "https://arxiv.org/abs/2401.00001")],
                    dm_digest=True, collections=["rlhf_code", "vision"])
    view = home_view(data)
    assert view["type"] == "home" and len(view["blocks"]) <= MAX_HOME_BLOCKS
    text = str(view)
    assert "Turn off" in text and "`reward`" in text and "T &amp; T" in text and "Follow vision" in text
    assert "and more" in text
    empty = home_view(HomeData("U2"))
    assert "You follow nothing yet" in str(empty) and "Turn on" in str(empty)


def test_home_view_without_terms_advises_following_only_someone_who_has_no_profile():
    from bot.home import NO_TERMS_NO_PAPERS, NO_TERMS_NO_VOCABULARY
    advice = "none yet — follow a collection or 👍 a paper."
    liked = [("2401.00001", "T", "https://arxiv.org/abs/2401.00001")]
    assert advice in str(home_view(HomeData("U1", no_terms_reason=NO_TERMS_NO_PAPERS)))  # follows nothing
    only_liked = str(home_view(HomeData("U1", liked=liked, no_terms_reason=NO_TERMS_NO_VOCABULARY)))
    assert advice not in only_liked and "no words the recommender can index" in only_liked
    follows = str(home_view(HomeData("U1", follows={"author": ["Ann Lee"]}, no_terms_reason=NO_TERMS_NO_PAPERS)))
    assert advice not in follows and "no paper is stored yet" in follows


# ---- slots ------------------------------------------------------------------------------------
def test_latest_slot_in_time_zone_and_weekdays():
    trig = CronTrigger.from_crontab("0 9 * * mon-fri", timezone="Europe/London")
    sat = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)  # a Saturday
    assert slot_name(latest_slot(trig, sat)) == "2026-11-20T09:00+00:00"  # Friday 09:00 London
    summer = datetime(2026, 7, 1, 8, 30, tzinfo=timezone.utc)  # 09:30 BST
    assert slot_name(latest_slot(trig, summer)) == "2026-07-01T08:00+00:00"
    assert latest_slot(trig, sat, timedelta(hours=6)) is None  # outside the grace period
    ny = CronTrigger.from_crontab("30 7 * * *", timezone="America/New_York")
    got = latest_slot(ny, datetime(2026, 3, 9, 12, 0, tzinfo=timezone.utc))
    assert got.astimezone(ZoneInfo("America/New_York")).hour == 7 and got.minute == 30


def test_numeric_days_of_week_mean_what_they_mean_to_cron():
    """crontab(5): 0 and 7 are Sunday, 1-5 Monday to Friday. APScheduler's from_crontab counts
    Monday as 0, so `0 9 * * 1-5` used to fire Tuesday to Saturday."""
    from bot.commands_parser import parse_command
    from bot.scheduler import cron_day_of_week, cron_trigger
    assert cron_day_of_week("1-5") == "mon,tue,wed,thu,fri"
    assert cron_day_of_week("0") == cron_day_of_week("7") == cron_day_of_week("sun") == "sun"
    assert cron_day_of_week("*/2") == "sun,tue,thu,sat" and cron_day_of_week("sat-sun") == "sun,sat"
    assert cron_day_of_week("mon-fri") == "mon,tue,wed,thu,fri" and cron_day_of_week("*") == "*"
    for bad in ("8", "funday", "1-5/0"):
        with pytest.raises(ValueError):
            cron_day_of_week(bad)
    trig = cron_trigger(parse_command("digest schedule 0 9 * * 1-5").value, "UTC")
    t, fired = datetime(2026, 11, 22, tzinfo=timezone.utc), []  # a Sunday
    for _ in range(6):
        t = trig.get_next_fire_time(None, t + timedelta(seconds=1))
        fired.append(t.strftime("%a"))
    assert fired == ["Mon", "Tue", "Wed", "Thu", "Fri", "Mon"]
    with pytest.raises(ValueError, match="not both"):
        cron_trigger("0 9 1 * mon", "UTC")  # cron: the 1st OR Mondays; APScheduler: only Monday the 1st
    sunday = cron_trigger("0 9 * * 0", "UTC").get_next_fire_time(None, datetime(2026, 11, 23, tzinfo=timezone.utc))
    assert sunday.strftime("%a %d") == "Sun 29"


def test_a_wall_clock_time_repeated_when_clocks_go_back_is_one_slot():
    """02:30 happens twice in Europe/Paris on 2026-10-25 (CEST, then CET) and APScheduler fires
    at both; both runs must map to one slot, or the channel gets two digests. Stepping through a
    week that contains the repeat must also not loop."""
    from bot.scheduler import cron_trigger
    trig = cron_trigger("30 2 * * *", "Europe/Paris")
    first = latest_slot(trig, datetime(2026, 10, 25, 0, 45, tzinfo=timezone.utc))
    repeat = latest_slot(trig, datetime(2026, 10, 25, 1, 45, tzinfo=timezone.utc))
    assert slot_name(first) == slot_name(repeat) == "2026-10-25T00:30+00:00"
    assert slot_name(latest_slot(trig, datetime(2026, 10, 26, 1, 45, tzinfo=timezone.utc))) == "2026-10-26T01:30+00:00"
    weekly = cron_trigger("30 2 * * sun,tue", "Europe/Paris")
    assert slot_name(latest_slot(weekly, datetime(2026, 10, 28, 12, tzinfo=timezone.utc))) == "2026-10-27T01:30+00:00"


def test_user_profile_from_follows_and_feedback(store):
    seed_store(store)
    ids = store.collection_ids("rlhf_code")
    store.add_follow("U1", "keyword", "reward model")
    store.record_feedback("U1", ids[0], 1, "button", "k1")
    store.record_feedback("U1", ids[1], -1, "button", "k2")
    prof = profile_for_user(store, "U1")
    assert [p.arxiv_id for p in prof.positives] == ["keywords"]  # no followed collection
    assert [p.arxiv_id for p in prof.likes] == [ids[0]]  # 👍 enter the ranker through add_feedback
    assert [p.arxiv_id for p in prof.negatives] == [ids[1]]
    assert prof.follows == ['"reward model"']


def test_scheduler_sync_replaces_changed_and_removes_gone_jobs():
    from bot.scheduler import DigestScheduler, Target
    runs = []
    targets = {"C1": Target("C1", "0 9 * * mon-fri", "UTC", runs.append, lambda s: False),
               "C2": Target("C2", "30 8 * * *", "UTC", runs.append, lambda s: False)}
    sched = DigestScheduler(lambda: list(targets.values()))
    sched.start(catch_up=False)
    try:
        first = dict(sched.jobs())
        assert sorted(first) == ["digest:C1", "digest:C2"]
        targets["C1"] = Target("C1", "0 9 * * mon-fri", "Asia/Tokyo", runs.append, lambda s: False)
        del targets["C2"]
        sched.sync()
        sched.sync()
        now = dict(sched.jobs())
        assert sorted(now) == ["digest:C1"]
        assert now["digest:C1"] != first["digest:C1"]  # re-planned in Tokyo time
        assert now["digest:C1"].utcoffset().total_seconds() == 9 * 3600
    finally:
        sched.shutdown()
    assert runs == []


def test_a_digest_that_raises_is_logged_and_the_scheduler_goes_on(caplog):
    """A crash inside one target's digest (a bug, a full disk) must not stop the scheduler: the
    error is logged with the target and slot, a bad schedule is skipped, and the others still run."""
    import threading

    from bot.scheduler import DigestScheduler, Target
    done = threading.Event()

    def boom(slot):
        raise RuntimeError("disk full")

    targets = [Target("C1", "0 9 * * *", "UTC", boom, lambda s: False),
               Target("C2", "every day at nine", "UTC", done.set, lambda s: False),  # invalid crontab
               Target("C3", "0 9 * * *", "UTC", lambda slot: done.set(), lambda s: False)]
    sched = DigestScheduler(lambda: targets)
    sched.start(catch_up=False)
    try:
        assert sorted(dict(sched.jobs())) == ["digest:C1", "digest:C3"]
        sched.run_now("C1")
        sched.run_now("C3")
        assert done.wait(10)
        deadline = time.monotonic() + 10
        while "failed" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        sched.shutdown()
    assert "digest C1 slot" in caplog.text and "failed" in caplog.text and "disk full" in caplog.text
    assert "digest C2: bad schedule 'every day at nine'" in caplog.text


def test_tracked_poster_paces_per_channel_and_records_message_papers(store, slack_fake):
    from bot.slack_client import make_client
    from bot.tracked_posting import TrackedPoster
    sleeps, now = [], [100.0]
    poster = TrackedPoster(make_client("xoxb-t", slack_fake.url), store, interval_s=1.0,
                           sleep=lambda s: (sleeps.append(round(s, 3)), now.__setitem__(0, now[0] + s)),
                           clock=lambda: now[0])
    blocks = [{"type": "section", "block_id": "paper:2401.00001", "text": {"type": "mrkdwn", "text": "a"}},
              {"type": "section", "block_id": "paper:2401.00002", "text": {"type": "mrkdwn", "text": "b"}}]
    ts1 = poster.post_message("C1", "t", blocks)
    poster.post_message("C2", "t", blocks[:1])      # another channel: no wait
    poster.post_message("C1", "t", blocks[1:], thread_ts=ts1)  # same channel at once: waits 1 s
    dm = poster.post_message("U9", "t", blocks[:1])  # a DM lands in D9
    assert sleeps == [1.0]
    assert store.message_paper_ids("C1", ts1) == ["2401.00001", "2401.00002"]
    assert store.message_paper_ids("D9", dm) == ["2401.00001"]
    assert all(c["args"]["unfurl_links"] in (False, "0", "false", 0) for c in slack_fake.calls_to("chat.postMessage"))


def test_search_all_words_first_then_any_word(store):
    store.upsert_papers([
        Paper(arxiv_id="2401.00001", title="Graph neural networks", abstract="message passing on graphs"),
        Paper(arxiv_id="2401.00002", title="Neural networks", abstract="deep learning"),
        Paper(arxiv_id="2401.00003", title="Graph theory", abstract="cliques"),
    ])
    assert [h.paper.arxiv_id for h in search(store, None, "graph neural", limit=1)] == ["2401.00001"]
    both = [h.paper.arxiv_id for h in search(store, None, "graph neural", limit=3)]
    assert both[0] == "2401.00001" and sorted(both) == ["2401.00001", "2401.00002", "2401.00003"]
    assert fts_query("a b", op="AND") == '"a" AND "b"'
    with pytest.raises(ValueError):
        fts_query("a", op="NEAR")


def test_search_keeps_rare_word_papers_older_than_the_scan_window(store, monkeypatch):
    """Only the newest SCAN_LIMIT matches of a query form are scored; a rare word's older
    papers must not be lost behind a common word's newer ones."""
    import recommender.search as rs
    monkeypatch.setattr(rs, "SCAN_LIMIT", 5)
    store.upsert_papers(
        [Paper(arxiv_id="2301.00001", title="Reward model overoptimization", abstract="scaling laws"),
         Paper(arxiv_id="2301.00002", title="Overoptimization of proxies", abstract="goodhart")]
        + [Paper(arxiv_id=f"2402.{i:05d}", title=f"A reward model study {i}", abstract="reward model")
           for i in range(1, 13)])
    # the newest 5 "reward" OR "model" OR … matches are all 2402.*; the two 2023 papers are older
    pool = dict(store.search_pool(["reward", "model", "overoptimization"], limit=50, scan=5, mode="or"))
    assert {"2301.00001", "2301.00002"} <= pool.keys()
    exact = dict(store.search_pool(["overoptimization"], limit=50, scan=100, mode="or"))
    assert pool["2301.00002"] == pytest.approx(exact["2301.00002"])  # holds only the rare word
    # the paper holding every word (found by the AND form) stays in the OR fallback's pool, and
    # with the rare word's other paper it tops the list ("reward", "model" are in every paper)
    hits = [h.paper.arxiv_id for h in search(store, None, "reward model overoptimization", limit=3)]
    assert set(hits[:2]) == {"2301.00001", "2301.00002"}


def test_search_any_word_fallback_keeps_the_papers_holding_every_word(store, monkeypatch):
    import recommender.search as rs
    monkeypatch.setattr(rs, "SCAN_LIMIT", 5)
    store.upsert_papers(
        [Paper(arxiv_id="2301.00001", title="Reward model", abstract="both words")]
        + [Paper(arxiv_id=f"2402.{i:05d}", title=f"Reward shaping {i}", abstract="rl") for i in range(1, 7)]
        + [Paper(arxiv_id=f"2403.{i:05d}", title=f"Model merging {i}", abstract="llm") for i in range(1, 7)])
    # one paper holds both words (< limit): the any-word form, cut at its 5 newest matches,
    # must not push it out
    hits = [h.paper.arxiv_id for h in search(store, None, "reward model", limit=3)]
    assert hits[0] == "2301.00001" and len(hits) == 3


def test_rerank_depth_limits_the_blend_to_the_best_bm25_hits(store):
    from recommender.tfidf import TfidfModel, paper_text
    seed_store(store)
    model = TfidfModel.fit([paper_text(p.title, p.abstract) for p in store.iter_papers()])
    full = search(store, model, "reward model learning", limit=5)
    top = search(store, model, "reward model learning", limit=5, rerank=5)
    assert len(top) == 5 and all(h.cosine > 0 for h in full)
    bm25_first5 = {h.paper.arxiv_id for h in search(store, None, "reward model learning", limit=5)}
    assert {h.paper.arxiv_id for h in top} == bm25_first5  # only those were re-scored


def test_transport_reason_names_the_cause_of_a_network_failure():
    import urllib.error

    from bot.slack_client import transport_reason

    refused = urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))
    assert transport_reason(refused) == "[Errno 111] Connection refused"
    assert transport_reason(TimeoutError()) == "TimeoutError"  # no text: the type says what happened
    assert transport_reason(ConnectionResetError("reset by peer")) == "reset by peer"


def test_digest_setting_commands_name_a_setting_the_service_accepts():
    from paperbot.service import DIGEST_SETTINGS

    got = {t: parse_command(t).digest_setting for t in
           ("digest schedule daily 8:30", "digest size 5", "digest timezone Europe/Paris", "digest now", "search x")}
    assert got == {"digest schedule daily 8:30": "schedule", "digest size 5": "max_papers",
                   "digest timezone Europe/Paris": "timezone", "digest now": None, "search x": None}
    assert {v for v in got.values() if v} == set(DIGEST_SETTINGS)
