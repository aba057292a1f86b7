"""Reactions on digest messages through the real bolt app (signed HTTP, Web API fake): a 👍/👎
counts for exactly the papers the reacted message shows, whichever way the digest was posted
(``paperbot run --once``, ``paperbot serve``, found in the history after an ambiguous failure);
removing it undoes exactly that; events arriving out of order change nothing for good."""
from __future__ import annotations

import time
from datetime import date

import pytest

from bot.tracked_posting import paper_ids_in_blocks
from paperbot.config import ChannelConfig, HFDailyConfig
from paperbot.pipeline import run_once
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
