"""`/papers digest off|on`: pausing and resuming a channel's scheduled digest, through the real
bolt app over HTTP (tests/bot_harness.py), the scheduler and the store, across restarts."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from bot.commands_parser import Command, UsageError, parse_command
from paperbot.cli import main
from paperbot.config import ChannelConfig
from store import Store
from tests.bot_harness import BotServer, make_config, seed_store


@pytest.fixture
def seeded(store):
    seed_store(store)
    return store


def _jobs(bot) -> list[str]:
    return [j for j, _ in bot.service.scheduler.jobs()]


def _say(bot, text: str, timeout: float = 15, **kw) -> dict:
    _, rid = bot.command(text, **kw)
    return bot.wait_response(rid, timeout)


def test_a_subscribed_channel_pauses_and_resumes_its_scheduled_digest(tmp_path, seeded, slack_fake, monkeypatch):
    cfg = make_config(tmp_path)
    with BotServer(cfg, seeded, slack_fake, monkeypatch) as bot:
        assert "no digest yet" in _say(bot, "digest off")["text"]
        _say(bot, "subscribe rlhf_code")
        bot.service.scheduler.start(catch_up=False)
        assert _jobs(bot) == ["digest:C1"]
        off = _say(bot, "digest off")
        assert off["response_type"] == "in_channel"
        assert off["text"].startswith("Scheduled digests of this channel are *paused*. ")
        assert "`/papers digest dm on|off`" in off["text"]  # the personal digest is another command
        assert _jobs(bot) == []  # removed at once
        assert "are *paused* already" in _say(bot, "digest off")["text"]
        shown = _say(bot, "digest")["text"]
        assert "(UTC) · 10 papers · *paused* since " in shown and "next:" not in shown
        assert "Scheduled digests are paused here" in shown
        now = _say(bot, "digest now", 60)["text"]
        assert now.startswith("Digest posted: ") and now.endswith("`/papers digest on` resumes them.)")
        assert len(slack_fake.messages["C1"]) == 1
    assert seeded.get_channel("C1")["digest_paused_at"]
    with BotServer(cfg, seeded, slack_fake, monkeypatch) as bot:  # a restart: still paused
        assert bot.service.scheduler.start() == [] and _jobs(bot) == []
        assert "*paused* since " in _say(bot, "digest")["text"]
        on = _say(bot, "digest on")
        assert on["response_type"] == "in_channel"
        assert on["text"].startswith("Scheduled digests of this channel are *on* again: schedule `0 9 * * mon-fri`")
        assert " · next: " in on["text"]
        assert _jobs(bot) == ["digest:C1"]  # re-added at once
        assert "paused" not in _say(bot, "digest")["text"]
        assert _say(bot, "digest on")["text"].startswith("Scheduled digests of this channel are on: ")
    assert seeded.get_channel("C1")["digest_paused_at"] is None and seeded.get_channel("C1")["digest_resumed_at"]


def test_a_config_channel_paused_from_slack_gets_no_catch_up_of_a_slot_missed_while_paused(tmp_path, seeded,
                                                                                           slack_fake, monkeypatch):
    missed = datetime.now(timezone.utc) - timedelta(minutes=5)
    cron = f"{missed.minute} {missed.hour} * * *"  # today's slot was 5 minutes ago (caught up if it ran)
    cfg = make_config(tmp_path, [ChannelConfig(id="C2", name="#rl", collections=["rlhf_code"], schedule=cron)])
    with BotServer(cfg, seeded, slack_fake, monkeypatch, grace_s=3600) as bot:
        assert "*paused*" in _say(bot, "digest off", channel="C2")["text"]
        assert bot.service.scheduler.start() == [] and _jobs(bot) == []
    with BotServer(cfg, seeded, slack_fake, monkeypatch, grace_s=3600) as bot:  # restart: still paused
        assert bot.service.scheduler.start() == [] and _jobs(bot) == []
        assert "*on* again" in _say(bot, "digest on", channel="C2")["text"]
        assert _jobs(bot) == ["digest:C2"]
    with BotServer(cfg, seeded, slack_fake, monkeypatch, grace_s=3600) as bot:
        # running again, but the missed slot fell while it was paused: not posted on start
        assert bot.service.scheduler.start() == [] and _jobs(bot) == ["digest:C2"]
    assert slack_fake.calls_to("chat.postMessage") == []
    assert bot.service.channel_config("C2").schedule == cron  # the config file's settings are untouched


def test_digest_dm_on_off_stays_the_personal_digest_and_digest_off_in_a_dm_is_it_too(tmp_path, seeded, slack_fake,
                                                                                   monkeypatch):
    dm = dict(user="U4", channel="D4", channel_name="directmessage")
    with BotServer(make_config(tmp_path), seeded, slack_fake, monkeypatch) as bot:
        _say(bot, "subscribe rlhf_code")
        bot.service.scheduler.start(catch_up=False)
        assert "Personal digest by DM: *on*" in _say(bot, "digest dm on", user="U4")["text"]
        assert _jobs(bot) == ["digest:C1", "digest:dm:U4"]
        assert _say(bot, "digest dm off", user="U4")["text"] == "Personal digest by DM: *off*."
        assert _jobs(bot) == ["digest:C1"]  # the channel's digest is not paused by it
        assert "Personal digest by DM: *on*" in _say(bot, "digest on", **dm)["text"]
        assert _jobs(bot) == ["digest:C1", "digest:dm:U4"]
        off = _say(bot, "digest off", **dm)
        assert (off["response_type"], off["text"]) == ("ephemeral", "Personal digest by DM: *off*.")
        assert _jobs(bot) == ["digest:C1"]
    assert seeded.get_channel("C1")["digest_paused_at"] is None


@pytest.mark.parametrize("text,expect", [
    ("digest off now", "usage: `/papers digest off` (pause this channel's scheduled digests)"),
    ("digest on please", "usage: `/papers digest off`"),
    ("digest of", "usage: `/papers digest now`, `/papers digest off|on`"),
    ("digest dm of", "usage: `/papers digest now`, `/papers digest off|on`, `/papers digest dm on|off`"),
])
def test_garbled_pause_commands_get_one_usage_line_and_change_nothing(tmp_path, seeded, slack_fake, monkeypatch,
                                                                      text, expect):
    with BotServer(make_config(tmp_path), seeded, slack_fake, monkeypatch) as bot:
        _say(bot, "subscribe rlhf_code")
        resp, _ = bot.command(text)
        msg = resp.json()["text"]
    assert msg.startswith(expect) and "\n" not in msg
    assert seeded.get_channel("C1")["digest_paused_at"] is None and seeded.user_settings("U1") == {}


@pytest.mark.parametrize("text,cmd", [
    ("digest off", Command("digest_pause", True)), ("DIGEST On", Command("digest_pause", False)),
    ("digest dm off", Command("digest_dm", False)), ("digest dm ON", Command("digest_dm", True)),
])
def test_parser_tells_pausing_the_digest_from_the_dm_digest(text, cmd):
    assert parse_command(text) == cmd


@pytest.mark.parametrize("text", ["digest off now", "digest on on", "digest dm", "digest dm off now", "digest dm pause"])
def test_parser_refuses_extra_words_around_off_on(text):
    with pytest.raises(UsageError):
        parse_command(text)


def test_store_pause_state_and_paperbot_status_lists_paused_channels(tmp_path):
    db = tmp_path / "p.db"
    store = Store(db)
    try:
        assert store.set_digest_paused("C5", True) is True
        assert store.set_digest_paused("C5", True) is False  # already paused: nothing written
        store.set_digest_paused("C6", True)
        assert store.set_digest_paused("C6", False) is True
        since = store.get_channel("C5")["digest_paused_at"]
    finally:
        store.close()
    out = CliRunner().invoke(main, ["status", "--db", str(db)])
    assert out.exit_code == 0, out.output
    assert f"scheduled digests paused: C5 (since {since})\n" in out.output
