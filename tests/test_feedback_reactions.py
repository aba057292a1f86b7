"""Reactions on digest messages through the real bolt app (signed HTTP, Web API fake): a 👍/👎
counts for exactly the papers the reacted message shows, whichever way the digest was posted
(``paperbot run --once``, ``paperbot serve``, found in the history after an ambiguous failure);
removing it undoes exactly that; events arriving out of order change nothing for good."""
from __future__ import annotations

import time
from datetime import date, datetime, timedelta, timezone

import pytest

from bot.tracked_posting import paper_ids_in_blocks
from paperbot.config import ChannelConfig, HFDailyConfig
from paperbot.pipeline import run_once
from recommender import feedback
from tests.bot_harness import BotServer, make_config, seed_store, wait_for


@pytest.fixture
def seeded(store):
    seed_store(store)
    return store


def _reaction(user: str, channel: str, ts: str, kind: str = "reaction_added", reaction: str = "+1",
              event_ts: str = "1700000100.000100") -> dict:
    return {"type": kind, "user": user, "reaction": reaction, "event_ts": event_ts,
            "item": {"type": "message", "channel": channel, "ts": ts}}


def test_run_once_digest_reactions_count_only_the_papers_each_message_shows(tmp_path, seeded, slack_fake,
                                                                              monkeypatch):
    """`paperbot run --once` posted with a plain SlackPoster (no message → papers rows), and the
    fallback counted every paper of the digest for a reaction on the main message; a reaction on
    the second thread reply matched nothing (the digest row holds both reply ts comma-joined)."""
    cfg = make_config(tmp_path, [ChannelConfig(id="C7", name="#rl", collections=["rlhf_code"], max_papers=50)])
    cfg.hf_daily = HFDailyConfig(enabled=False)  # no feed to poll: the store is seeded
    with BotServer(cfg, seeded, slack_fake, monkeypatch) as bot:
        # what `paperbot run --once` does: the poster from the environment (token, SLACK_API_URL)
        report = run_once(cfg, seeded, today=date(2026, 11, 20))
        assert [d.status for d in report.deliveries] == ["posted"]
        messages = slack_fake.posted("C7")
        assert len(messages) == 3  # main message + two thread replies
        shown = [paper_ids_in_blocks(m["blocks"]) for m in messages]
        assert all(shown) and len({a for ids in shown for a in ids}) == sum(map(len, shown))
        for i, (user, msg) in enumerate(zip(("U5", "U6", "U7"), messages)):
            bot.event(_reaction(user, "C7", msg["ts"]), f"EvRun{i}")
        for user, ids in zip(("U5", "U6", "U7"), shown):
            wait_for(lambda: seeded.feedback_for(user_id=user) == {a: 1 for a in ids},
                     what=f"{user}'s reaction counted for the {len(ids)} papers of its message")
        assert seeded.feedback_count() == sum(map(len, shown))


def test_digest_by_message_finds_every_thread_reply(seeded):
    """The digest row keeps its reply ts comma-joined; ``thread_ts = ?`` matched only a lone reply."""
    digest_id, _ = seeded.begin_digest("C1:2026-11-20", "C1", "2026-11-20", [])
    seeded.finish_digest(digest_id, "100.000100", "101.000100,102.000100")
    for ts in ("100.000100", "101.000100", "102.000100"):
        assert seeded.digest_by_message("C1", ts)["id"] == digest_id
    assert seeded.digest_by_message("C1", "101.0001") is None
    assert seeded.digest_by_message("C1", "1.000100") is None
    assert seeded.digest_by_message("C2", "101.000100") is None


def _digest_now(bot, channel: str) -> dict:
    """Subscribe `channel` to rlhf_code, post its digest now; its (only) message."""
    _, rid = bot.command("subscribe rlhf_code", channel=channel)
    bot.wait_response(rid)
    _, rid = bot.command("digest now", channel=channel)
    assert "Digest posted" in bot.wait_response(rid, 60)["text"]
    (msg,) = bot.fake.posted(channel)
    return msg


def test_removing_a_reaction_undoes_only_the_vote_it_made(tmp_path, seeded, slack_fake, monkeypatch):
    """The removal undid the user's latest 👍 on each paper, whichever channel it was given in:
    removing the 👍 on C2's digest took back the 👍 on C1's (given later) and left C2's."""
    with BotServer(make_config(tmp_path), seeded, slack_fake, monkeypatch) as bot:
        m1, m2 = _digest_now(bot, "C1"), _digest_now(bot, "C2")
        shown1, shown2 = seeded.message_paper_ids("C1", m1["ts"]), seeded.message_paper_ids("C2", m2["ts"])
        common = sorted(set(shown1) & set(shown2))
        assert common
        bot.event(_reaction("U5", "C2", m2["ts"]), "EvX1")
        wait_for(lambda: seeded.feedback_for(channel_id="C2") == {a: 1 for a in shown2}, what="👍 on C2")
        bot.event(_reaction("U5", "C1", m1["ts"]), "EvX2")
        wait_for(lambda: seeded.feedback_for(channel_id="C1") == {a: 1 for a in shown1}, what="👍 on C1")
        bot.event(_reaction("U5", "C2", m2["ts"], "reaction_removed", event_ts="1700000101.000100"), "EvX3")
        wait_for(lambda: seeded.feedback_for(channel_id="C2") == {}, what="the C2 👍 undone")
        time.sleep(0.3)
        assert seeded.feedback_for(channel_id="C1") == {a: 1 for a in shown1}
        assert all(seeded.feedback_counts(a, channel_id="C1") == (1, 0) for a in common)
        assert all(seeded.feedback_counts(a, channel_id="C2") == (0, 0) for a in common)


def test_undo_feedback_matches_channel_and_message(seeded):
    aid = "2401.00001"
    feedback.record(seeded, "U1", aid, 1, "reaction", event_key="a", channel_id="C1", message_ts="1.1")
    feedback.record(seeded, "U1", aid, 1, "reaction", event_key="b", channel_id="C1", message_ts="2.2")
    feedback.record(seeded, "U1", aid, 1, "reaction", event_key="c", channel_id="C2", message_ts="3.3")
    assert not feedback.undo(seeded, "U1", aid, 1, "reaction", channel_id="C1", message_ts="9.9")
    assert feedback.undo(seeded, "U1", aid, 1, "reaction", channel_id="C1", message_ts="1.1")
    assert not feedback.undo(seeded, "U1", aid, 1, "reaction", channel_id="C1", message_ts="1.1")  # nothing left there
    assert seeded.feedback_counts(aid, channel_id="C1") == (1, 0)  # the 2.2 reaction stands
    assert seeded.feedback_counts(aid, channel_id="C2") == (1, 0)


def test_a_channel_learns_from_its_members_votes_together(seeded):
    """The channel profile kept the last vote given on its digests, by anyone: four 👍 and then
    one 👎 made the paper a negative."""
    from recommender.profiles import profile_for_channel, profile_for_user
    curated = seeded.curated_ids()
    liked, tied, flipped = [p.arxiv_id for p in seeded.iter_papers() if p.arxiv_id not in curated][:3]
    votes = [(u, liked, 1) for u in ("U1", "U2", "U3", "U4")] + [("U5", liked, -1)]
    votes += [("U1", tied, 1), ("U2", tied, -1)]
    votes += [("U1", flipped, 1), ("U2", flipped, -1), ("U2", flipped, 1), ("U3", flipped, -1), ("U3", flipped, -1)]
    for n, (user, aid, value) in enumerate(votes):
        feedback.record(seeded, user, aid, value, "button", event_key=f"k{n}", channel_id="C1", message_ts="1.1")
    prof = profile_for_channel(seeded, ChannelConfig(id="C1", collections=["rlhf_code"]))
    assert {p.arxiv_id for p in prof.likes} == {liked, flipped}
    assert not {liked, tied, flipped} & {p.arxiv_id for p in prof.negatives}
    assert feedback.net(seeded, channel_id="C1") == {liked: 1, flipped: 1}  # flipped: U1 👍, U2 👍 (latest), U3 👎
    assert seeded.feedback_counts(flipped, channel_id="C1") == (2, 1)  # what the buttons show agrees
    # one person: their latest vote, as before
    assert feedback.net(seeded, user_id="U2") == {liked: 1, tied: -1, flipped: 1}
    assert {p.arxiv_id for p in profile_for_user(seeded, "U5").negatives} == {liked}


def test_a_dm_digest_found_after_an_ambiguous_failure_takes_reactions(tmp_path, seeded, slack_fake, monkeypatch):
    """Slack posted the DM digest but answered 500 internal_error; the poster found it in the DM's
    history and returned its ts without recording the message's papers (and would have recorded
    them under the user id, while reactions name the ``D…`` channel)."""
    with BotServer(make_config(tmp_path), seeded, slack_fake, monkeypatch) as bot:
        dm = dict(user="U4", channel="D4", channel_name="directmessage")
        _, rid = bot.command("subscribe rlhf_code", **dm)
        bot.wait_response(rid)
        slack_fake.script("chat.postMessage", status=500, body={"ok": False, "error": "internal_error"}, process=True)
        _, rid = bot.command("digest now", **dm)
        assert "Digest posted" in bot.wait_response(rid, 60)["text"]
        (msg,) = slack_fake.posted("D4")
        shown = paper_ids_in_blocks(msg["blocks"])
        assert shown and seeded.message_paper_ids("D4", msg["ts"]) == shown
        bot.event(_reaction("U4", "D4", msg["ts"]), "EvDM1")
        wait_for(lambda: seeded.feedback_for(user_id="U4") == {a: 1 for a in shown}, what="👍 on the DM digest")


def test_a_thread_reply_found_after_an_ambiguous_failure_takes_reactions(tmp_path, seeded, slack_fake, monkeypatch):
    with BotServer(make_config(tmp_path), seeded, slack_fake, monkeypatch) as bot:
        for text in ("subscribe rlhf_code", "digest size 50"):
            _, rid = bot.command(text)
            bot.wait_response(rid)
        slack_fake.script("chat.postMessage", passthrough=True)  # the main message
        slack_fake.script("chat.postMessage", status=500, body={"ok": False, "error": "internal_error"}, process=True)
        _, rid = bot.command("digest now")
        assert "Digest posted" in bot.wait_response(rid, 60)["text"]
        messages = slack_fake.posted("C1")
        assert len(messages) == 3
        for msg in messages:
            assert seeded.message_paper_ids("C1", msg["ts"]) == paper_ids_in_blocks(msg["blocks"])
        bot.event(_reaction("U5", "C1", messages[1]["ts"]), "EvT1")
        wait_for(lambda: seeded.feedback_for(user_id="U5") == {a: 1 for a in paper_ids_in_blocks(messages[1]["blocks"])},
                 what="👍 on the first thread reply")


def test_a_digest_settled_from_the_history_records_its_papers(seeded, slack_fake):
    """A process died right after chat.postMessage (DM digest, posted to the user id): the next
    run's check found the message and recorded its ts, but not which papers it shows."""
    from bot.blocks import digest_blocks
    from bot.digest import Digest
    from bot.posting import SlackPoster, digest_metadata
    from bot.slack_client import make_client
    from paperbot.recovery import POSTED, resolve_pending
    from recommender.scoring import Recommendation

    papers = [p for p in seeded.iter_papers()][:3]
    digest = Digest(channel_id="U7", title="Your paper digest", date="2026-11-20",
                    items=[Recommendation(p, 0.5, ["x"]) for p in papers], n_candidates=3)
    key = "U7:2026-11-20"
    seeded.begin_digest(key, "U7", "2026-11-20", [(p.arxiv_id, 0.5, "x") for p in papers])
    blocks, _ = digest_blocks(digest)
    dead = SlackPoster(make_client("xoxb-t", slack_fake.url), interval_s=0)
    ts = dead.post_message("U7", digest.summary, blocks, metadata=digest_metadata(key))  # …and the process dies
    restarted = SlackPoster(make_client("xoxb-t", slack_fake.url), interval_s=0)
    assert resolve_pending(seeded, restarted, seeded.get_digest(key)) == (POSTED, ts)
    assert seeded.message_paper_ids("D7", ts) == [p.arxiv_id for p in papers]


def test_a_removal_that_arrives_before_its_add_leaves_no_vote(tmp_path, seeded, slack_fake, monkeypatch):
    """Slack does not order events and retries late: the removal found nothing to undo, then the
    add (a retry of its first, timed-out delivery) was recorded — a 👍 the user took back."""
    with BotServer(make_config(tmp_path), seeded, slack_fake, monkeypatch) as bot:
        msg = _digest_now(bot, "C1")
        shown = seeded.message_paper_ids("C1", msg["ts"])
        add = _reaction("U5", "C1", msg["ts"], event_ts="1700000100.000100")
        removal = _reaction("U5", "C1", msg["ts"], "reaction_removed", event_ts="1700000101.000100")
        bot.event(removal, "EvRm")
        time.sleep(0.5)  # let the removal be handled first, as in the bug (the outcome must not depend on it)
        for retry in (1, 2):  # the add's retries, both late
            bot.event(add, "EvAdd", retry=retry)
        # another user's reaction in the meantime is recorded: it shows the events were handled
        bot.event(_reaction("U6", "C1", msg["ts"], event_ts="1700000102.000100"), "EvOther")
        wait_for(lambda: seeded.feedback_for(user_id="U6") == {a: 1 for a in shown}, what="U6's 👍")
        time.sleep(0.3)
        assert seeded.feedback_for(user_id="U5") == {}
        assert seeded.reaction_removed_since("U5", "+1", "C1", msg["ts"], "1700000100.000100")
        # reacting again later is a new reaction: it counts
        bot.event(_reaction("U5", "C1", msg["ts"], event_ts="1700000200.000100"), "EvAgain")
        wait_for(lambda: seeded.feedback_for(user_id="U5") == {a: 1 for a in shown}, what="the new 👍")
        assert seeded.feedback_counts(shown[0], channel_id="C1") == (2, 0)


def test_record_reaction_checks_the_removal_per_user_reaction_and_message(seeded):
    seeded.remember_reaction_removal("U1", "+1", "C1", "1.1", "1700000101.5")
    args = dict(value=1, reaction="+1", channel_id="C1", message_ts="1.1", event_id="E1")
    assert feedback.record_reaction(seeded, "U1", ["2401.00001"], event_ts="1700000101.5", **args) == 0
    assert feedback.record_reaction(seeded, "U1", ["2401.00001"], event_ts="1700000100.9", **args) == 0
    assert feedback.record_reaction(seeded, "U2", ["2401.00001"], event_ts="1700000100.9", **args) == 1
    assert feedback.record_reaction(seeded, "U1", ["2401.00001"], event_ts="1700000100.9",
                                    **{**args, "message_ts": "2.2", "event_id": "E2"}) == 1
    assert feedback.record_reaction(seeded, "U1", ["2401.00001"], event_ts="1700000102",
                                    **{**args, "event_id": "E3"}) == 1
    # a removal that did undo a vote is not remembered: only one with nothing to undo is
    assert feedback.undo_reaction(seeded, "U2", ["2401.00001"], 1, "+1", "C1", "1.1", "1700000103") == 1
    assert not seeded.reaction_removed_since("U2", "+1", "C1", "1.1", "1700000100")


def test_unmatched_removals_older_than_a_week_are_pruned_and_newer_ones_still_skip_a_late_add(
        tmp_path, seeded, slack_fake, monkeypatch):
    """`reaction_removals` kept every removal that found nothing to undo, forever; Slack retries an
    event for about an hour, so storing a new one drops those older than a week."""
    import store.store as store_module
    real_utcnow, now = store_module.utcnow, datetime.now(timezone.utc)
    with BotServer(make_config(tmp_path), seeded, slack_fake, monkeypatch) as bot:
        msg = _digest_now(bot, "C1")
        shown = seeded.message_paper_ids("C1", msg["ts"])
        for user, age in (("U8", timedelta(days=8)), ("U9", timedelta(days=6))):  # remembered back then
            monkeypatch.setattr(store_module, "utcnow", lambda t=now - age: t.isoformat(timespec="seconds"))
            seeded.remember_reaction_removal(user, "+1", "C1", msg["ts"], "1700000101.000100")
        monkeypatch.setattr(store_module, "utcnow", real_utcnow)
        removed = dict(reaction="+1", channel_id="C1", message_ts=msg["ts"], event_ts="1700000100.000100")
        assert seeded.reaction_removed_since("U8", **removed)  # nothing stored since: still there
        # U5 removes a 👍 whose add has not arrived: remembered, and the old rows go
        bot.event(_reaction("U5", "C1", msg["ts"], "reaction_removed", event_ts="1700000101.000100"), "EvRmU5")
        wait_for(lambda: seeded.reaction_removed_since("U5", **removed), what="U5's removal remembered")
        assert not seeded.reaction_removed_since("U8", **removed)  # 8 days old: pruned
        assert seeded.reaction_removed_since("U9", **removed)  # 6 days old: kept
        for user in ("U5", "U9"):  # their late adds (retries), within the week: skipped
            bot.event(_reaction(user, "C1", msg["ts"], event_ts="1700000100.000100"), f"EvAdd{user}", retry=1)
        bot.event(_reaction("U7", "C1", msg["ts"], event_ts="1700000102.000100"), "EvAddU7")  # a fresh 👍 counts
        wait_for(lambda: seeded.feedback_for(user_id="U7") == {a: 1 for a in shown}, what="U7's 👍")
        time.sleep(0.3)
        assert seeded.feedback_for(user_id="U5") == {} and seeded.feedback_for(user_id="U9") == {}


def test_prune_reaction_removals_keeps_the_horizon(seeded):
    seeded.remember_reaction_removal("U1", "+1", "C1", "1.1", "1700000101.5")
    later = datetime.now(timezone.utc) + timedelta(days=6, hours=23)
    assert seeded.prune_reaction_removals(now=later) == 0
    assert seeded.reaction_removed_since("U1", "+1", "C1", "1.1", "1700000100")
    assert seeded.prune_reaction_removals(now=later + timedelta(hours=2)) == 1
    assert not seeded.reaction_removed_since("U1", "+1", "C1", "1.1", "1700000100")
