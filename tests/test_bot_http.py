"""The real bolt app over HTTP (waitress on 127.0.0.1), signed requests, Web API fake: slash
commands, buttons, reactions, App Home, signatures, 429s and scheduled digests."""
from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bot.scheduler import latest_slot, slot_name
from feeds.arxiv_api import ArxivAPIClient
from feeds.http import Fetcher
from paperbot.config import ChannelConfig
from tests.bot_harness import BotServer, make_config, seed_store, wait_for
from tests.conftest import fixture_path


@pytest.fixture
def seeded(store):
    seed_store(store)
    return store


def _post_digest(bot, channel="C1"):
    """Subscribe `channel` to rlhf_code and run its scheduled job through the scheduler."""
    resp, rid = bot.command("subscribe rlhf_code", channel=channel)
    assert resp.status_code == 200
    assert "now follows collection `rlhf_code`" in bot.wait_response(rid)["text"]
    bot.service.scheduler.start(catch_up=False)
    bot.service.scheduler.run_now(channel)
    wait_for(lambda: bot.fake.calls_to("chat.postMessage"), what="digest post")
    wait_for(lambda: any(d for d in [bot.store.get_digest(f"{channel}:{_slot()}")] if d and d["status"] == "posted"),
             what="digest row posted")
    return bot.fake.messages[channel][0]


def _slot():
    from apscheduler.triggers.cron import CronTrigger
    return slot_name(latest_slot(CronTrigger.from_crontab("0 9 * * mon-fri", timezone="UTC"),
                                 datetime.now(timezone.utc)))


# ---- /papers search -------------------------------------------------------------------------
def test_search_returns_ranked_ephemeral_results_with_buttons(tmp_path, seeded, slack_fake, monkeypatch):
    with BotServer(make_config(tmp_path), seeded, slack_fake, monkeypatch) as bot:
        started = time.monotonic()
        resp, rid = bot.command("search reward model")
        assert resp.status_code == 200 and time.monotonic() - started < 3  # acked within 3 s
        out = bot.wait_response(rid)
    assert out["response_type"] == "ephemeral"
    blocks = out["blocks"]
    sections = [b for b in blocks if b.get("block_id", "").startswith("paper:")]
    assert 1 <= len(sections) <= 10 and len(blocks) <= 50
    assert "reward" in sections[0]["text"]["text"].lower()
    actions = [b for b in blocks if b["type"] == "actions"]
    ids = {e["action_id"] for e in actions[0]["elements"]}
    assert ids == {"feedback_up", "feedback_down", "more_like_this"}
    assert actions[0]["elements"][0]["value"] == sections[0]["block_id"][len("paper:"):]


@pytest.mark.parametrize("query", ["0804.0970", "arXiv:0804.0970v1", "&lt;https://arxiv.org/abs/0804.0970&gt;",
                                   "<https://arxiv.org/abs/0804.0970>", "https://arxiv.org/pdf/0804.0970v2",
                                   "<https://huggingface.co/papers/0804.0970|a paper>"])
def test_search_for_an_arxiv_id_or_url_shows_that_paper_first(tmp_path, seeded, slack_fake, monkeypatch, query):
    assert seeded.get_paper("0804.0970") is not None
    with BotServer(make_config(tmp_path), seeded, slack_fake, monkeypatch) as bot:
        _, rid = bot.command(f"search {query}")
        out = bot.wait_response(rid)
    sections = [b["block_id"] for b in out["blocks"] if b.get("block_id", "").startswith("paper:")]
    assert sections[0] == "paper:0804.0970" and len(sections) > 1 and "paper:0804.0970" not in sections[1:]


@pytest.mark.parametrize("query", ["2501.99999", "https://arxiv.org/abs/2501.99999v2"])
def test_search_for_the_id_of_a_paper_not_stored_says_so_and_points_to_like(tmp_path, seeded, slack_fake,
                                                                             monkeypatch, query):
    """It answered the generic "No stored paper matches these words; try other words", which
    sends the user rewording an id; `/papers like` is what fetches the paper."""
    with BotServer(make_config(tmp_path), seeded, slack_fake, monkeypatch) as bot:
        _, rid = bot.command(f"search {query}")  # a well-formed id the store does not have
        missing = bot.wait_response(rid)
    assert missing["response_type"] == "ephemeral" and "blocks" not in missing
    assert missing["text"] == ("2501.99999 is not stored, so there is nothing to show or compare it with. "
                               "`/papers like 2501.99999` fetches it from arXiv (and records your 👍); search for "
                               "it again after that.")


HOSTILE = ['C++', '"unbalanced quote', '*', 'NEAR(reward model, 3)', 'reward AND OR NOT', '🤖🎉 reward',
           "'; drop table papers; --", 'x' * 2000, 'a"b"c*', 'title:reward', '^reward', '(((', '\u0000\ufeff']


def test_search_hostile_input_never_breaks(tmp_path, seeded, slack_fake, monkeypatch):
    n = seeded.count_papers()
    with BotServer(make_config(tmp_path), seeded, slack_fake, monkeypatch) as bot:
        rids = []
        for text in HOSTILE:
            resp, rid = bot.command("search " + text)
            assert resp.status_code == 200, text
            rids.append(rid)
        for text, rid in zip(HOSTILE, rids):
            out = bot.wait_response(rid)
            body = json.dumps(out)
            assert "Traceback" not in body and "went wrong" not in body, (text, body[:300])
            assert out["response_type"] == "ephemeral" and "results for" in json.dumps(out["blocks"]), text
    assert seeded.count_papers() == n  # nothing dropped


@pytest.mark.parametrize("text,expect", [
    ("search since:2024-13-45 rl", "since: expects a date YYYY-MM-DD"),
    ("search source:myspace", "source: expects one of"),
    ("search author:", "author: needs a value"),
    ("frobnicate", "unknown command"),
    ("like not-an-id", "not an arXiv id"),
    ("digest sometimes", "usage: `/papers digest now`"),
])
def test_malformed_commands_get_usage_not_traces(tmp_path, seeded, slack_fake, monkeypatch, text, expect):
    with BotServer(make_config(tmp_path), seeded, slack_fake, monkeypatch) as bot:
        resp, rid = bot.command(text)
        assert resp.status_code == 200
        msg = resp.json()["text"] if resp.content else bot.wait_response(rid)["text"]
    assert expect in msg and "Traceback" not in msg


def _result_texts(out) -> list[str]:
    """The section texts of a search answer (paper sections and the no-match line)."""
    return [b["text"]["text"] for b in out.get("blocks", []) if b["type"] == "section"]


def test_search_of_words_no_stored_paper_holds_says_so(tmp_path, seeded, slack_fake, monkeypatch):
    """"or drop a filter" was suggested to a query without one; now only when it has one."""
    with BotServer(make_config(tmp_path), seeded, slack_fake, monkeypatch) as bot:
        answers = []
        for query in ("zzqxv wubbalubba", "zzqxv source:hf", "author:Nobody"):
            _, rid = bot.command(f"search {query}")  # zzqxv is in no paper: neither FTS5 nor the TF-IDF vocabulary
            answers.append(bot.wait_response(rid))
    assert {out["response_type"] for out in answers} == {"ephemeral"}
    assert [_result_texts(out) for out in answers] == [
        ["No stored paper matches these words; try other words."],
        ["No stored paper matches these words; try other words, or drop a filter."],
        ["No stored paper passes these filters; try other values, or drop a filter."]]


def test_search_of_an_empty_store_says_no_papers_are_stored_yet(tmp_path, store, slack_fake, monkeypatch):
    """With nothing stored (before the first poll) a search answered “0 results … No stored paper
    matches. Try fewer words”, which sends the user rewording a query that cannot match."""
    with BotServer(make_config(tmp_path), store, slack_fake, monkeypatch) as bot:
        answers = []
        for query in ("reward model", "2501.01234"):
            _, rid = bot.command(f"search {query}")
            answers.append(bot.wait_response(rid))
    for out in answers:
        assert out["response_type"] == "ephemeral" and "blocks" not in out
        assert out["text"].startswith("No papers are stored yet, so there is nothing to search")
        assert "`paperbot run --once`" in out["text"] and "Sorry" not in out["text"]


def test_search_when_the_stored_papers_give_tfidf_no_term_ranks_by_bm25(tmp_path, store, slack_fake, monkeypatch):
    """Papers made only of stop words cannot fit a TF-IDF model (scikit-learn: "empty
    vocabulary"); `/papers search` and "More like this" answered "Sorry, something went wrong"."""
    from feeds.records import Paper
    store.upsert_papers([Paper("2501.00001", "The", "", sources=["curated"]),
                         Paper("2501.00002", "Of the", "And then.", sources=["curated"])])
    with BotServer(make_config(tmp_path), store, slack_fake, monkeypatch) as bot:
        _, rid = bot.command("search the")
        found = bot.wait_response(rid)
        _, rid = bot.command("search reward")
        none = bot.wait_response(rid)
        _, rid = bot.action("more_like_this", "2501.00002", ephemeral=True)
        like = bot.wait_response(rid)
    assert [b["block_id"] for b in found["blocks"] if b.get("block_id", "").startswith("paper:")] == [
        "paper:2501.00001", "paper:2501.00002"]
    assert "TF-IDF 0.00" in _result_texts(found)[0]
    assert _result_texts(none) == ["No stored paper matches these words; try other words."]
    assert [b["block_id"] for b in like["blocks"] if b.get("block_id", "").startswith("paper:")] == [
        "paper:2501.00001"]


def test_search_filters_author_cat_since_source(tmp_path, seeded, slack_fake, monkeypatch):
    with BotServer(make_config(tmp_path), seeded, slack_fake, monkeypatch) as bot:
        hits = bot.service.search("learning cat:cs.CL since:2024-01-01", limit=50)
        assert hits and all("cs.CL" in h.paper.categories and h.paper.published >= "2024-01-01" for h in hits)
        some = seeded.get_paper(hits[0].paper.arxiv_id).authors[0]
        by = bot.service.search(f'author:"{some}"', limit=50)
        assert by and all(any(some.lower() in a.lower() for a in h.paper.authors) for h in by)
        assert bot.service.search("learning source:hf") == []  # no HF papers in this store


# ---- subscribe → scheduled digest -----------------------------------------------------------
def test_subscribe_then_scheduled_digest_posted_once(tmp_path, seeded, slack_fake, monkeypatch):
    with BotServer(make_config(tmp_path), seeded, slack_fake, monkeypatch) as bot:
        msg = _post_digest(bot)
        assert [j for j, _ in bot.service.scheduler.jobs()] == ["digest:C1"]
        post = slack_fake.calls_to("chat.postMessage")[0]["args"]
        assert post["channel"] == "C1" and post["unfurl_links"] in (False, "0", "false", 0)
        assert msg["blocks"][0]["type"] == "header" and len(msg["blocks"]) <= 50
        n_posts = len(slack_fake.calls_to("chat.postMessage"))
        bot.service.scheduler.run_now("C1")  # the same slot again: refused by the digest row
        time.sleep(0.3)
        assert len(slack_fake.calls_to("chat.postMessage")) == n_posts
        ids = seeded.message_paper_ids("C1", msg["ts"])
        assert ids and ids == [b["block_id"][6:] for b in msg["blocks"] if b.get("block_id", "").startswith("paper:")]


def test_digest_now_and_empty_digest_says_why(tmp_path, seeded, slack_fake, monkeypatch):
    cfg = make_config(tmp_path, [ChannelConfig(id="C9", name="#strict", collections=["rlhf_code"], min_score=0.99)])
    with BotServer(cfg, seeded, slack_fake, monkeypatch) as bot:
        resp, rid = bot.command("digest now", channel="C9")
        assert resp.status_code == 200
        assert bot.wait_response(rid)["text"] == "Digest posted: 0 papers."
        wait_for(lambda: slack_fake.calls_to("chat.postMessage"), what="digest post")
    text = json.dumps(slack_fake.calls_to("chat.postMessage")[0]["args"]["blocks"])
    assert "none scored above the threshold (0.99)" in text


# ---- feedback --------------------------------------------------------------------------------
def test_button_feedback_recorded_once_and_message_updated(tmp_path, seeded, slack_fake, monkeypatch):
    with BotServer(make_config(tmp_path), seeded, slack_fake, monkeypatch) as bot:
        msg = _post_digest(bot)
        aid = next(b["block_id"][6:] for b in msg["blocks"] if b.get("block_id", "").startswith("paper:"))
        for _ in range(3):  # the same click delivered three times
            resp, _ = bot.action("feedback_up", aid, user="U7", message=msg, action_ts="1700000001.000001")
            assert resp.status_code == 200
        wait_for(lambda: slack_fake.calls_to("chat.update"), what="chat.update")
        time.sleep(0.3)
        assert seeded.feedback_count() == 1
        assert seeded.feedback_for(user_id="U7") == {aid: 1}
        assert seeded.feedback_for(channel_id="C1") == {aid: 1}  # the channel profile learns it
        upd = slack_fake.calls_to("chat.update")
        assert len(upd) == 1 and upd[0]["args"]["ts"] == msg["ts"]
        fb = next(b for b in upd[0]["args"]["blocks"] if b.get("block_id") == f"fb:{aid}")
        assert [e["text"]["text"] for e in fb["elements"]] == ["👍 1", "👎 0"]
        # a different click (new action_ts) of 👎 by another user counts too
        bot.action("feedback_down", aid, user="U8", message=msg, action_ts="1700000002.000001")
        wait_for(lambda: len(slack_fake.calls_to("chat.update")) == 2, what="second update")
        fb = next(b for b in slack_fake.calls_to("chat.update")[1]["args"]["blocks"] if b.get("block_id") == f"fb:{aid}")
        assert [e["text"]["text"] for e in fb["elements"]] == ["👍 1", "👎 1"]


def test_clicks_on_two_papers_from_one_stale_message_keep_both_counts(tmp_path, seeded, slack_fake, monkeypatch):
    """Two people click 👍 on different papers of one digest at once: each payload carries the
    message as posted, before the other's chat.update. The last update must show both votes
    (it used to re-render only its own paper and put back the other's old buttons)."""
    with BotServer(make_config(tmp_path), seeded, slack_fake, monkeypatch) as bot:
        msg = _post_digest(bot)
        a, b = [blk["block_id"][6:] for blk in msg["blocks"] if blk.get("block_id", "").startswith("paper:")][:2]
        bot.action("feedback_up", a, user="U7", message=msg, action_ts="1700000001.000001")
        wait_for(lambda: len(slack_fake.calls_to("chat.update")) == 1, what="first update")
        bot.action("feedback_up", b, user="U8", message=msg, action_ts="1700000002.000001")  # the stale copy
        wait_for(lambda: len(slack_fake.calls_to("chat.update")) == 2, what="second update")
        last = slack_fake.calls_to("chat.update")[1]["args"]["blocks"]
        shown = {blk["block_id"][3:]: [e["text"]["text"] for e in blk["elements"]][:2]
                 for blk in last if blk.get("block_id", "").startswith("fb:")}
        assert shown[a] == ["👍 1", "👎 0"] and shown[b] == ["👍 1", "👎 0"]
        assert all(v == ["👍", "👎"] for k, v in shown.items() if k not in (a, b))  # no votes: as posted


def test_slow_commands_in_flight_do_not_starve_the_ack_of_others(tmp_path, seeded, slack_fake, monkeypatch):
    """A listener holds its pool thread after ack() while it works; with bolt's default 5-thread
    pool, five searches waiting on a TF-IDF refit left no thread to ack a click (bolt answers
    404 after 3 s and Slack shows the user an error)."""
    aid = next(iter(seeded.iter_papers())).arxiv_id
    with BotServer(make_config(tmp_path), seeded, slack_fake, monkeypatch) as bot:
        release, real, entered = threading.Event(), bot.service.search, []

        def stuck_search(*args, **kwargs):  # stands in for a search waiting on a model refit
            entered.append(1)
            release.wait(30)
            return real(*args, **kwargs)

        bot.service.search = stuck_search
        rids: list[str] = []
        slow = [threading.Thread(target=lambda: rids.append(bot.command("search reward")[1])) for _ in range(8)]
        for t in slow:
            t.start()
        try:
            wait_for(lambda: len(entered) == len(slow), what="slow searches in flight")
            click, _ = bot.action("feedback_up", aid, user="U5", ephemeral=True)
            helped, _ = bot.command("help")
            assert click.status_code == 200 and helped.status_code == 200
            assert "/papers search" in helped.json()["text"]
            wait_for(lambda: seeded.feedback_for(user_id="U5") == {aid: 1}, what="the click's 👍")
        finally:
            release.set()
            for t in slow:
                t.join()
        for rid in rids:  # the held searches still answer once released
            assert bot.wait_response(rid)["text"].endswith("results for your search")


def test_button_on_ephemeral_search_result_confirms_choice(tmp_path, seeded, slack_fake, monkeypatch):
    aid = next(iter(seeded.iter_papers())).arxiv_id
    with BotServer(make_config(tmp_path), seeded, slack_fake, monkeypatch) as bot:
        _, rid = bot.action("feedback_down", aid, user="U3", ephemeral=True)
        out = bot.wait_response(rid)
        assert out["text"].startswith("👎 recorded") and out["response_type"] == "ephemeral"
        _, rid = bot.action("more_like_this", aid, user="U3", ephemeral=True)
        more = bot.wait_response(rid)
    assert seeded.feedback_for(user_id="U3") == {aid: -1}
    assert seeded.feedback_for(channel_id="C1") == {}  # not a digest: the channel profile is untouched
    shown = [b["block_id"][6:] for b in more["blocks"] if b.get("block_id", "").startswith("paper:")]
    assert shown and aid not in shown


def test_reactions_map_to_message_papers_once_and_removal_undoes(tmp_path, seeded, slack_fake, monkeypatch):
    with BotServer(make_config(tmp_path), seeded, slack_fake, monkeypatch) as bot:
        msg = _post_digest(bot)
        papers = seeded.message_paper_ids("C1", msg["ts"])
        ev = {"type": "reaction_added", "user": "U5", "reaction": "+1", "event_ts": "1700000100.1",
              "item": {"type": "message", "channel": "C1", "ts": msg["ts"]}}
        for retry in (None, 1, 2):
            assert bot.event(ev, "Ev001", retry=retry).status_code == 200
        wait_for(lambda: seeded.feedback_count() == len(papers), what="reaction feedback")
        other = dict(ev, reaction="tada")  # not a feedback emoji
        bot.event(other, "Ev002")
        time.sleep(0.3)
        assert seeded.feedback_count() == len(papers)
        assert seeded.feedback_for(user_id="U5") == {a: 1 for a in papers}
        removed = dict(ev, type="reaction_removed")
        for retry in (None, 1):
            bot.event(removed, "Ev003", retry=retry)
        wait_for(lambda: seeded.feedback_for(user_id="U5") == {}, what="undo")
        bot.event(ev, "Ev004")  # react again: a new event counts again
        wait_for(lambda: seeded.feedback_for(user_id="U5") == {a: 1 for a in papers}, what="re-react")


def test_thumbs_down_reaction_with_skin_tone_and_reactions_on_other_messages(tmp_path, seeded, slack_fake,
                                                                              monkeypatch):
    with BotServer(make_config(tmp_path), seeded, slack_fake, monkeypatch) as bot:
        msg = _post_digest(bot)
        papers = seeded.message_paper_ids("C1", msg["ts"])
        ev = {"type": "reaction_added", "user": "U6", "reaction": "-1::skin-tone-3", "event_ts": "1700000200.1",
              "item": {"type": "message", "channel": "C1", "ts": msg["ts"]}}
        bot.event(ev, "EvD1")
        wait_for(lambda: seeded.feedback_for(user_id="U6") == {a: -1 for a in papers}, what="👎 reaction")
        # a 👍 on a message that is no digest (someone's chat line) and on a file: nothing to rate
        bot.event(dict(ev, reaction="thumbsup", item={"type": "message", "channel": "C1", "ts": "1.000001"}), "EvD2")
        bot.event(dict(ev, reaction="+1", item={"type": "file", "file": "F1"}), "EvD3")
        time.sleep(0.3)
        assert seeded.feedback_count() == len(papers)


def test_forged_button_values_and_help_are_answered_without_harm(tmp_path, seeded, slack_fake, monkeypatch):
    with BotServer(make_config(tmp_path), seeded, slack_fake, monkeypatch) as bot:
        resp, _ = bot.action("feedback_up", "not-an-id'); drop table papers;--", user="U3", ephemeral=True)
        assert resp.status_code == 200  # acked: Slack shows no error, and nothing is stored
        _, rid = bot.action("more_like_this", "2501.99999", user="U3", ephemeral=True)  # well-formed, not stored
        assert bot.wait_response(rid)["text"] == "That paper is not stored any more."
        resp, _ = bot.command("help")
        assert resp.status_code == 200 and "/papers search" in resp.json()["text"]
    assert seeded.feedback_count() == 0 and seeded.count_papers() > 0


# ---- signatures ------------------------------------------------------------------------------
def test_forged_and_stale_signatures_get_401_and_store_nothing(tmp_path, seeded, slack_fake, monkeypatch):
    aid = next(iter(seeded.iter_papers())).arxiv_id
    with BotServer(make_config(tmp_path), seeded, slack_fake, monkeypatch) as bot:
        ev = {"type": "reaction_added", "user": "U5", "reaction": "+1",
              "item": {"type": "message", "channel": "C1", "ts": "1.0"}}
        body = json.dumps({"type": "event_callback", "event_id": "EvX", "event": ev})
        forged = bot.http.post(bot.url, content=body, headers={
            "Content-Type": "application/json", "X-Slack-Request-Timestamp": str(int(time.time())),
            "X-Slack-Signature": "v0=" + "0" * 64})
        assert forged.status_code == 401
        unsigned, _ = bot.command("subscribe rlhf_code", signed=False)
        assert unsigned.status_code == 401
        stale, _ = bot.command("subscribe rlhf_code", timestamp=int(time.time()) - 6 * 60)
        assert stale.status_code == 401
        stale_btn, _ = bot.action("feedback_up", aid, timestamp=int(time.time()) - 301)
        assert stale_btn.status_code == 401
        from tests.bot_harness import sign
        body2 = "payload=" + json.dumps({"type": "block_actions"})
        wrong_secret = bot.http.post(bot.url, content=body2, headers={
            "Content-Type": "application/x-www-form-urlencoded", **sign(body2, secret="not-the-secret")})
        assert wrong_secret.status_code == 401
        # Slack's SSL check of a slash-command URL may come unsigned: an empty 200, as bolt
        # answers it, and nothing run even when a forger adds a command to it
        for check in ("ssl_check=1&token=legacy", "ssl_check=1&command=%2Fpapers&text=subscribe+rlhf_code"
                                                  "&channel_id=C1&user_id=U1"):
            r = bot.http.post(bot.url, content=check, headers={"Content-Type": "application/x-www-form-urlencoded"})
            assert (r.status_code, r.text) == (200, "")
        time.sleep(0.3)
    assert seeded.feedback_count() == 0 and seeded.channels() == [] and seeded.follows("C1") == {}
    assert [c["method"] for c in slack_fake.calls if c["method"] != "auth.test"] == []


# ---- Web API rate limit -----------------------------------------------------------------------
def test_429_then_success_posts_the_digest_once(tmp_path, seeded, slack_fake, monkeypatch):
    slack_fake.script("chat.postMessage", status=429, body={"ok": False, "error": "ratelimited"},
                      headers={"Retry-After": "0"})
    with BotServer(make_config(tmp_path), seeded, slack_fake, monkeypatch) as bot:
        msg = _post_digest(bot)
    posts = slack_fake.calls_to("chat.postMessage")
    assert len(posts) == 2 and posts[0]["args"] == posts[1]["args"]  # retried once, then posted
    assert seeded.get_digest(f"C1:{_slot()}")["message_ts"] == msg["ts"]
    assert len(slack_fake.messages["C1"]) == 1


# ---- App Home, DM digest, like, profile -----------------------------------------------------
def test_app_home_published_and_buttons_change_settings(tmp_path, seeded, slack_fake, monkeypatch):
    with BotServer(make_config(tmp_path), seeded, slack_fake, monkeypatch) as bot:
        bot.service.scheduler.start(catch_up=False)
        bot.command("follow author Pieter Abbeel", user="U2")
        aid = seeded.collection_ids("rlhf_code")[0]
        bot.action("feedback_up", aid, user="U2", ephemeral=True)
        wait_for(lambda: seeded.follows("U2") and seeded.feedback_for(user_id="U2"), what="follow+like")
        bot.event({"type": "app_home_opened", "user": "U2", "tab": "home", "channel": "D2"}, "EvH1")
        wait_for(lambda: slack_fake.calls_to("views.publish"), what="views.publish")
        view = slack_fake.calls_to("views.publish")[0]["args"]
        assert view["user_id"] == "U2"
        v = view["view"] if isinstance(view["view"], dict) else json.loads(view["view"])
        text = json.dumps(v, ensure_ascii=False)
        assert v["type"] == "home" and "Pieter Abbeel" in text and "Personal digest by DM:* off" in text
        assert seeded.get_paper(aid).title[:40] in text and "Top profile terms:* `" in text
        bot.action("home_dm_toggle", "on", user="U2")
        wait_for(lambda: len(slack_fake.calls_to("views.publish")) == 2, what="republish")
        assert seeded.user_settings("U2").get("dm_digest") is True
        assert "digest:dm:U2" in [j for j, _ in bot.service.scheduler.jobs()]
        v2 = slack_fake.calls_to("views.publish")[1]["args"]["view"]
        assert "Personal digest by DM:* on" in json.dumps(v2, ensure_ascii=False)
        bot.action("home_unfollow", "author:Pieter Abbeel", user="U2")
        wait_for(lambda: seeded.follows("U2") == {}, what="unfollow")
        # the unfollow's own republish lands after the store changes: count it before the next
        # click, or it and the next click's republish can arrive between two polls below
        wait_for(lambda: len(slack_fake.calls_to("views.publish")) == 3, what="republish after unfollow")
        # a forged collection name is ignored (the home is only republished); a real one is followed
        n = len(slack_fake.calls_to("views.publish"))
        bot.action("home_follow_collection", "no-such-collection", user="U2")
        wait_for(lambda: len(slack_fake.calls_to("views.publish")) == n + 1, what="republish")
        assert seeded.follows("U2") == {}
        bot.action("home_follow_collection", "rlhf_code", user="U2")
        wait_for(lambda: seeded.follows("U2") == {"collection": ["rlhf_code"]}, what="follow collection")
        wait_for(lambda: len(slack_fake.calls_to("views.publish")) == n + 2, what="republish")
        v3 = json.dumps(slack_fake.calls_to("views.publish")[-1]["args"]["view"], ensure_ascii=False)
        assert "rlhf_code" in v3 and "Follow rlhf_code" not in v3  # followed: no longer offered
        bot.action("home_refresh", "refresh", user="U2")
        wait_for(lambda: len(slack_fake.calls_to("views.publish")) == n + 3, what="refresh")


def test_app_home_without_profile_terms_says_why_to_someone_who_follows_things(tmp_path, store, slack_fake,
                                                                               monkeypatch):
    """"none yet — follow a collection or 👍 a paper" was shown to people who follow things but
    have no profile terms yet: before any paper is stored, and when their follows hold no word
    the stored papers use. Each case now says why."""
    dm = {"channel_name": "directmessage"}
    with BotServer(make_config(tmp_path), store, slack_fake, monkeypatch) as bot:
        _, rid = bot.command("subscribe reward model", user="U5", channel="DU5", **dm)
        bot.wait_response(rid)
        empty_store = bot.open_home("U5", "EvH1")
        seed_store(store)
        stored = bot.open_home("U5", "EvH2")
        _, rid = bot.command("subscribe 强化学习", user="U6", channel="DU6", **dm)
        bot.wait_response(rid)
        unknown = bot.open_home("U6", "EvH3")
        nothing = bot.open_home("U7", "EvH4")
    assert "Top profile terms:* none yet — no paper is stored yet (the feeds have not been polled)" in empty_store
    assert "Top profile terms:* `" in stored
    assert "Top profile terms:* none — what you follow and 👍 has no word the stored papers use" in unknown
    assert "Top profile terms:* none yet — follow a collection or 👍 a paper." in nothing
    for text in (empty_store, unknown):
        assert "follow a collection or 👍 a paper" not in text


def test_papers_profile_without_profile_terms_says_why_as_the_app_home_does(tmp_path, store, slack_fake,
                                                                             monkeypatch):
    """`/papers profile` said "*Top terms:* none yet" with no reason, while the App Home said why:
    no paper stored yet, or follows with no word the stored papers use. It now says the Home
    tab's reason (the advice to follow something only to someone who follows nothing)."""
    dm = {"channel_name": "directmessage"}
    with BotServer(make_config(tmp_path), store, slack_fake, monkeypatch) as bot:
        def profile(user: str) -> str:
            _, rid = bot.command("profile", user=user, channel=f"D{user}", **dm)
            return bot.wait_response(rid)["text"]

        _, rid = bot.command("subscribe reward model", user="U5", channel="DU5", **dm)
        bot.wait_response(rid)
        empty_store = profile("U5")
        seed_store(store)
        stored = profile("U5")
        _, rid = bot.command("subscribe 强化学习", user="U6", channel="DU6", **dm)
        bot.wait_response(rid)
        unknown = profile("U6")
        nothing = profile("U7")
    assert "*Top terms:* none yet — no paper is stored yet (the feeds have not been polled)" in empty_store
    assert "*Top terms:* none" not in stored and "reward" in stored.split("*Top terms:* ")[1]
    assert "*Top terms:* none — what you follow and 👍 has no word the stored papers use" in unknown
    assert "*Top terms:* none yet — follow a collection or 👍 a paper." in nothing
    for text in (empty_store, unknown):
        assert "follow a collection or 👍 a paper" not in text


def test_dm_digest_on_schedules_and_posts_personal_digest(tmp_path, seeded, slack_fake, monkeypatch):
    with BotServer(make_config(tmp_path), seeded, slack_fake, monkeypatch) as bot:
        bot.service.scheduler.start(catch_up=False)
        _, rid = bot.command("digest dm on", user="U4", channel="D4", channel_name="directmessage")
        assert "on" in bot.wait_response(rid)["text"]
        _, rid = bot.command("subscribe rlhf_code", user="U4", channel="D4", channel_name="directmessage")
        assert "You now follow collection" in bot.wait_response(rid)["text"]
        assert "digest:dm:U4" in [j for j, _ in bot.service.scheduler.jobs()]
        bot.service.scheduler.run_now("dm:U4")
        wait_for(lambda: slack_fake.messages.get("D4"), what="DM digest")
        dm = slack_fake.messages["D4"][0]
        assert "Your paper digest" in dm["text"]
        # reactions in the DM map to its papers (recorded once Slack has answered the post)
        wait_for(lambda: seeded.message_paper_ids("D4", dm["ts"]), what="DM message papers recorded")
        assert seeded.follows("C1") == {} and seeded.channels() == []  # a DM subscribe is personal


class _ArxivAPIServer:
    """Serves a recorded arXiv API response on 127.0.0.1 and records the queries."""

    def __init__(self, body: bytes, status: int = 200):
        self.queries = []
        outer = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                outer.queries.append(self.path)
                self.send_response(status)
                self.send_header("Content-Type", "application/atom+xml")
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/query"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_like_unknown_paper_fetches_it_through_the_arxiv_api(tmp_path, seeded, slack_fake, monkeypatch):
    api = _ArxivAPIServer(fixture_path("arxiv_api", "search_au_del_maestro.xml").read_bytes())
    from feeds.arxiv_api import parse_response
    target = parse_response(fixture_path("arxiv_api", "search_au_del_maestro.xml").read_bytes()).result.papers[0]
    assert seeded.get_paper(target.arxiv_id) is None
    client = ArxivAPIClient(Fetcher(attempts=1), url=api.url, min_interval=0)
    with BotServer(make_config(tmp_path), seeded, slack_fake, monkeypatch, arxiv=client) as bot:
        _, rid = bot.command(f"like https://arxiv.org/abs/{target.arxiv_id}v2", user="U6")
        out = bot.wait_response(rid)
        _, rid2 = bot.command("profile", user="U6")
        prof = bot.wait_response(rid2)["text"]
    api.server.shutdown()
    assert out["text"].startswith("👍 recorded")
    assert "id_list=" + target.arxiv_id in api.queries[0]
    assert seeded.get_paper(target.arxiv_id).title == target.title
    assert seeded.feedback_for(user_id="U6") == {target.arxiv_id: 1}
    assert target.title[:30] in prof
    # a look-up is not an announcement: the years-old paper is stored as seen on its own v1 day,
    # so it does not reach the next digests as a new paper
    assert seeded.get_paper(target.arxiv_id).sources == ["lookup"]
    assert target.published < "2026-01-01"
    since = (datetime.now(timezone.utc) - timedelta(days=30)).isoformat(timespec="seconds")
    assert target.arxiv_id not in {p.arxiv_id for p in seeded.papers_first_seen_since(since)}


def test_like_of_a_paper_arxiv_does_not_have_or_while_the_api_is_down_says_so(tmp_path, seeded, slack_fake,
                                                                             monkeypatch):
    empty = json.loads(fixture_path("arxiv_api", "id_0000.0000_s0_m100_8b51d9633a68.json").read_text())["body"]
    missing = _ArxivAPIServer(empty.encode())  # arXiv's real answer for an id it does not have (0 results)
    down = _ArxivAPIServer(b"<html>503 Service Unavailable</html>", status=503)
    try:
        for api, expect in ((missing, "arXiv has no paper 2501.99999"),
                            (down, "could not fetch 2501.99999 from the arXiv API")):
            client = ArxivAPIClient(Fetcher(attempts=1), url=api.url, min_interval=0)
            with BotServer(make_config(tmp_path), seeded, slack_fake, monkeypatch, arxiv=client) as bot:
                _, rid = bot.command("like arXiv:2501.99999", user="U6")
                text = bot.wait_response(rid)["text"]
            assert expect in text and "Traceback" not in text
            assert api.queries and "id_list=2501.99999" in api.queries[0]
    finally:
        missing.server.shutdown()
        down.server.shutdown()
    assert seeded.feedback_for(user_id="U6") == {} and seeded.get_paper("2501.99999") is None


# ---- restarts ------------------------------------------------------------------------------------
def test_restart_catches_up_a_missed_slot_once_and_never_duplicates(tmp_path, seeded, slack_fake, monkeypatch):
    now = datetime.now(timezone.utc) - timedelta(minutes=5)
    cron = f"{now.minute} {now.hour} * * *"  # today's slot was 5 minutes ago: "missed" while down
    cfg = make_config(tmp_path, [ChannelConfig(id="C2", name="#rl", collections=["rlhf_code"], schedule=cron)])
    with BotServer(cfg, seeded, slack_fake, monkeypatch, grace_s=3600) as bot:
        assert bot.service.scheduler.start() == ["C2"]  # caught up on start
        wait_for(lambda: slack_fake.messages.get("C2"), what="catch-up post")
        bot.service.scheduler.sync()
        bot.service.scheduler.sync()
        assert [j for j, _ in bot.service.scheduler.jobs()] == ["digest:C2"]
    slot = slot_name(now.replace(second=0, microsecond=0))
    assert seeded.get_digest(f"C2:{slot}")["status"] == "posted"
    for _ in range(2):  # two restarts on the same database
        with BotServer(cfg, seeded, slack_fake, monkeypatch, grace_s=3600) as bot:
            assert bot.service.scheduler.start() == []
            assert [j for j, _ in bot.service.scheduler.jobs()] == ["digest:C2"]
            bot.service.scheduler.run_now("C2")  # the job itself also refuses the delivered slot
            time.sleep(0.3)
    assert len(slack_fake.messages["C2"]) == 1


def test_restart_outside_grace_period_does_not_post_old_slot(tmp_path, seeded, slack_fake, monkeypatch):
    old = datetime.now(timezone.utc) - timedelta(hours=3)
    cfg = make_config(tmp_path, [ChannelConfig(id="C3", collections=["rlhf_code"],
                                               schedule=f"{old.minute} {old.hour} * * *")])
    with BotServer(cfg, seeded, slack_fake, monkeypatch, grace_s=3600) as bot:
        assert bot.service.scheduler.start() == []
    assert slack_fake.calls_to("chat.postMessage") == []


def test_subscribe_keywords_unsubscribe_and_config_follows(tmp_path, seeded, slack_fake, monkeypatch):
    cfg = make_config(tmp_path, [ChannelConfig(id="C5", name="#cfg", collections=["rlhf_code"])])
    with BotServer(cfg, seeded, slack_fake, monkeypatch) as bot:
        _, rid = bot.command("subscribe reward model, PPO", channel="C6", channel_name="ml")
        out = bot.wait_response(rid)
        assert out["response_type"] == "in_channel" and "keywords “reward model”, “PPO”" in out["text"]
        assert sorted(seeded.follows("C6")["keyword"]) == ["PPO", "reward model"]
        assert bot.service.channel_config("C6").schedule == "0 9 * * mon-fri"
        _, rid = bot.command("unsubscribe PPO", channel="C6")
        assert "Unfollowed “PPO”" in bot.wait_response(rid)["text"]
        assert seeded.follows("C6") == {"keyword": ["reward model"]}
        _, rid = bot.command("unsubscribe rlhf_code", channel="C5")
        assert "comes from the config file" in bot.wait_response(rid)["text"]
        _, rid = bot.command("digest now", channel="C7")
        assert "no digest yet" in bot.wait_response(rid)["text"]
    assert [c.id for c in bot.service.channel_configs()] == ["C5", "C6"]


def test_a_typo_of_a_collection_name_is_not_subscribed_as_keywords(tmp_path, seeded, slack_fake, monkeypatch):
    """`/papers subscribe rlhf_cod` followed the keyword “rlhf_cod” in silence: a digest of
    whatever matched a typo. Now a near miss is refused with the collection suggested, the
    name is matched up to case, `-`, `_` and spaces, and `subscribe keywords …` takes the words."""
    with BotServer(make_config(tmp_path), seeded, slack_fake, monkeypatch) as bot:
        bot.service.scheduler.start(catch_up=False)
        _, rid = bot.command("subscribe rlhf_cod")
        refused = bot.wait_response(rid)
        assert refused["response_type"] == "ephemeral"
        assert refused["text"].startswith("There is no collection “rlhf_cod”: did you mean `rlhf_code`? "
                                          "`/papers subscribe rlhf_code` follows it")
        assert "`/papers subscribe keywords rlhf_cod`" in refused["text"] and "Sorry" not in refused["text"]
        assert seeded.follows("C1") == {} and seeded.channels() == []  # nothing followed, no digest created
        assert "digest:C1" not in [j for j, _ in bot.service.scheduler.jobs()]
        _, rid = bot.command("subscribe RLHF-Code")
        out = bot.wait_response(rid)
        assert out["response_type"] == "in_channel" and "now follows collection `rlhf_code`" in out["text"]
        assert seeded.follows("C1") == {"collection": ["rlhf_code"]}
        _, rid = bot.command("subscribe keywords rlhf_cod")
        assert "now follows keyword “rlhf_cod”" in bot.wait_response(rid)["text"]
        assert seeded.follows("C1") == {"collection": ["rlhf_code"], "keyword": ["rlhf_cod"]}
        # in a DM: the same refusal, nothing followed for the user
        _, rid = bot.command("subscribe Rlhf_Cdoe", user="U4", channel="D4", channel_name="directmessage")
        assert "did you mean `rlhf_code`?" in bot.wait_response(rid)["text"] and seeded.follows("U4") == {}


def test_subscribe_keywords_alone_names_a_collection_called_keywords(tmp_path, seeded, slack_fake, monkeypatch):
    """The explicit form `subscribe keywords <words>` hid a collection named `keywords` (an
    awesome-list section "Keywords"): `/papers subscribe keywords` alone answered the usage line.
    Alone, the word now names that collection; without one, the answer is the usage line still."""
    usage = "usage: `/papers {0} &lt;collection | keywords&gt;` or `/papers {0} keywords &lt;words&gt;`"
    dm = dict(user="U4", channel="D4", channel_name="directmessage")
    with BotServer(make_config(tmp_path), seeded, slack_fake, monkeypatch) as bot:
        _, rid = bot.command("subscribe keywords")  # no such collection yet
        refused = bot.wait_response(rid)
        assert refused["response_type"] == "ephemeral"
        assert refused["text"] == "There is no collection “keywords”. " + usage.format("subscribe")
        _, rid = bot.command("unsubscribe keywords")
        refused = bot.wait_response(rid)
        assert refused["response_type"] == "ephemeral"
        assert refused["text"] == "Not following a collection “keywords”. " + usage.format("unsubscribe")
        assert seeded.follows("C1") == {} and seeded.channels() == []

        seeded.add_to_collection("Keywords", seeded.collection_ids("rlhf_code")[:3])
        _, rid = bot.command("subscribe keywords")
        out = bot.wait_response(rid)
        assert out["response_type"] == "in_channel" and "now follows collection `Keywords`" in out["text"]
        _, rid = bot.command('subscribe "keywords"')  # quoted: the name, as any collection name
        assert bot.wait_response(rid)["text"] == "This channel already follows collection `Keywords`."
        _, rid = bot.command("subscribe keywords keywords")  # the explicit form keeps its meaning
        assert "now follows keyword “keywords”" in bot.wait_response(rid)["text"]
        assert seeded.follows("C1") == {"collection": ["Keywords"], "keyword": ["keywords"]}
        _, rid = bot.command("unsubscribe Keywords", **dm)  # the word alone, in any case: the collection
        assert bot.wait_response(rid)["text"].startswith("Not following a collection “Keywords”. usage: ")
        _, rid = bot.command("subscribe KEYWORDS", **dm)
        assert bot.wait_response(rid)["text"] == "You now follow collection `Keywords`."
        assert seeded.follows("U4") == {"collection": ["Keywords"]}
        _, rid = bot.command("unsubscribe keywords")  # the collection only: the keyword stays
        assert bot.wait_response(rid)["text"] == "Unfollowed “Keywords”."
        assert seeded.follows("C1") == {"keyword": ["keywords"]}
        _, rid = bot.command("unsubscribe keywords", **dm)
        assert bot.wait_response(rid)["text"] == "Unfollowed “Keywords”."
        assert seeded.follows("U4") == {}


def test_unsubscribe_reads_collection_names_as_subscribe_does(tmp_path, seeded, slack_fake, monkeypatch):
    with BotServer(make_config(tmp_path), seeded, slack_fake, monkeypatch) as bot:
        seeded.add_follow("C1", "keyword", "rlhf_cod")  # what a typo subscribed to before
        _, rid = bot.command("subscribe rlhf_code")
        bot.wait_response(rid)
        _, rid = bot.command("unsubscribe rlhf_cde")  # followed neither: the followed collection is suggested
        assert bot.wait_response(rid)["text"] == ("Not following “rlhf_cde”: did you mean `rlhf_code`? "
                                                  "`/papers unsubscribe rlhf_code` stops it.")
        _, rid = bot.command("unsubscribe keywords rlhf_code")  # keywords only: the collection stays
        assert bot.wait_response(rid)["text"].startswith("Not following “rlhf_code”. `/papers profile`")
        _, rid = bot.command("unsubscribe rlhf_cod")  # the stored keyword itself is removed, no suggestion
        assert bot.wait_response(rid)["text"] == "Unfollowed “rlhf_cod”."
        assert seeded.follows("C1") == {"collection": ["rlhf_code"]}
        _, rid = bot.command("unsubscribe Rlhf Code")
        assert bot.wait_response(rid)["text"].startswith("Unfollowed “rlhf_code”.")
        assert seeded.follows("C1") == {}


def test_unsubscribing_everything_stops_the_channel_digest_and_subscribing_restarts_it(tmp_path, seeded, slack_fake,
                                                                                      monkeypatch):
    with BotServer(make_config(tmp_path), seeded, slack_fake, monkeypatch) as bot:
        _, rid = bot.command("subscribe rlhf_code")
        bot.wait_response(rid)
        _, rid = bot.command("digest schedule mon,thu 08:30")
        bot.wait_response(rid)
        bot.service.scheduler.start(catch_up=False)
        assert "digest:C1" in [j for j, _ in bot.service.scheduler.jobs()]
        _, rid = bot.command("unsubscribe rlhf_code")
        reply = bot.wait_response(rid)["text"]
        assert "Unfollowed “rlhf_code”" in reply and "gets no scheduled digest" in reply
        assert "digest:C1" not in [j for j, _ in bot.service.scheduler.jobs()]
        assert bot.service.channel_config("C1") is None
        _, rid = bot.command("digest")
        assert "no digest yet" in bot.wait_response(rid)["text"]
        _, rid = bot.command("subscribe PPO")  # back again, with the schedule it had
        assert "`30 8 * * mon,thu`" in bot.wait_response(rid)["text"]
        assert "digest:C1" in [j for j, _ in bot.service.scheduler.jobs()]
    assert not slack_fake.calls_to("chat.postMessage")


def test_internal_error_answers_one_line_without_trace(tmp_path, seeded, slack_fake, monkeypatch):
    with BotServer(make_config(tmp_path), seeded, slack_fake, monkeypatch) as bot:
        def boom(*a, **k):
            raise RuntimeError("database is locked /secret/path")
        monkeypatch.setattr(bot.service, "search", boom)
        _, rid = bot.command("search anything")
        out = bot.wait_response(rid)
    assert out["text"] == "Sorry, something went wrong; the error was logged. Try again later."


# ---- /papers digest schedule | size | timezone ------------------------------------------------
def _trigger(bot, key):
    job = bot.service.scheduler.scheduler.get_job(f"digest:{key}")
    assert job is not None, key
    return {f.name: str(f) for f in job.trigger.fields}, str(job.trigger.timezone)


def test_channel_digest_schedule_size_and_timezone_from_slack(tmp_path, seeded, slack_fake, monkeypatch):
    with BotServer(make_config(tmp_path), seeded, slack_fake, monkeypatch) as bot:
        _, rid = bot.command("digest size 3")  # no digest in this channel yet
        assert "no digest yet" in bot.wait_response(rid)["text"]
        _, rid = bot.command("subscribe rlhf_code")
        bot.wait_response(rid)
        bot.service.scheduler.start(catch_up=False)
        assert _trigger(bot, "C1")[0]["hour"] == "9"
        _, rid = bot.command("digest schedule mon,thu 08:30")
        out = bot.wait_response(rid)
        assert out["response_type"] == "in_channel" and "schedule `30 8 * * mon,thu` (UTC)" in out["text"]
        fields, tz = _trigger(bot, "C1")  # rescheduled at once
        assert (fields["minute"], fields["hour"], fields["day_of_week"], tz) == ("30", "8", "mon,thu", "UTC")
        _, rid = bot.command("digest timezone Europe/Paris")
        assert "(Europe/Paris)" in bot.wait_response(rid)["text"]
        assert _trigger(bot, "C1")[1] == "Europe/Paris"
        _, rid = bot.command("digest size 3")
        assert "3 papers" in bot.wait_response(rid)["text"]
        _, rid = bot.command("digest")
        shown = bot.wait_response(rid)["text"]
        assert "`30 8 * * mon,thu` (Europe/Paris) · 3 papers · next: " in shown
        _, rid = bot.command("digest now")
        assert bot.wait_response(rid)["text"] == "Digest posted: 3 papers."
        msg = slack_fake.messages["C1"][0]
    assert len(seeded.message_paper_ids("C1", msg["ts"])) == 3
    assert seeded.get_channel("C1")["schedule"] == "30 8 * * mon,thu"  # survives a restart


def test_slack_settings_override_a_config_channel(tmp_path, seeded, slack_fake, monkeypatch):
    cfg = make_config(tmp_path, [ChannelConfig(id="C9", name="#cfg", collections=["rlhf_code"],
                                               schedule="0 6 * * mon", max_papers=7)])
    with BotServer(cfg, seeded, slack_fake, monkeypatch) as bot:
        _, rid = bot.command("digest", channel="C9")
        assert "`0 6 * * mon` (UTC) · 7 papers" in bot.wait_response(rid)["text"]
        _, rid = bot.command("digest schedule daily 07:00", channel="C9")
        bot.wait_response(rid)
        ch = bot.service.channel_config("C9")
    assert (ch.schedule, ch.max_papers, ch.collections) == ("0 7 * * *", 7, ["rlhf_code"])


def test_dm_digest_schedule_and_size_are_personal(tmp_path, seeded, slack_fake, monkeypatch):
    dm = dict(user="U4", channel="D4", channel_name="directmessage")
    with BotServer(make_config(tmp_path), seeded, slack_fake, monkeypatch) as bot:
        bot.service.scheduler.start(catch_up=False)
        _, rid = bot.command("digest schedule daily 07:15", **dm)
        assert "Your DM digest is off" in bot.wait_response(rid)["text"]
        _, rid = bot.command("digest dm on", **dm)
        assert "`15 7 * * *` (UTC)" in bot.wait_response(rid)["text"]
        _, rid = bot.command("subscribe rlhf_code", **dm)
        bot.wait_response(rid)
        _, rid = bot.command("digest size 2", **dm)
        assert bot.wait_response(rid)["response_type"] == "ephemeral"
        fields, _ = _trigger(bot, "dm:U4")
        assert (fields["minute"], fields["hour"], fields["day_of_week"]) == ("15", "7", "*")
        bot.service.scheduler.run_now("dm:U4")
        wait_for(lambda: slack_fake.messages.get("D4"), what="DM digest")
        msg = slack_fake.messages["D4"][0]
        wait_for(lambda: seeded.message_paper_ids("D4", msg["ts"]), what="DM message papers recorded")
        assert len(seeded.message_paper_ids("D4", msg["ts"])) == 2
        assert seeded.channels() == []  # personal settings never touch channel rows
        assert "`15 7 * * *`" in bot.service.profile_text("U4")


@pytest.mark.parametrize("text,expect", [
    ("digest schedule weekdays 25:00", "is not a time of day"),
    ("digest timezone Mars/Olympus", "unknown time zone"),
    ("digest size 500", "usage: `/papers digest size"),
    ("digest schedule * * * * *", "at most once an hour"),
])
def test_bad_digest_settings_get_usage_and_change_nothing(tmp_path, seeded, slack_fake, monkeypatch, text, expect):
    with BotServer(make_config(tmp_path), seeded, slack_fake, monkeypatch) as bot:
        _, rid = bot.command("subscribe rlhf_code")
        bot.wait_response(rid)
        before = seeded.get_channel("C1")
        resp, rid = bot.command(text)
        msg = resp.json()["text"] if resp.content else bot.wait_response(rid)["text"]
        assert expect in msg
    assert seeded.get_channel("C1") == before
