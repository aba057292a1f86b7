"""Schedules an older paperbot stored from Slack before ``/papers digest schedule`` refused ones
firing more often than once an hour: the scheduler must not run them (the config's or the
default schedule is used, with a warning naming the digest), and ``/papers digest`` shows the
schedule in force. Through the real bolt app over HTTP (tests/bot_harness.py)."""
from __future__ import annotations

import logging

import pytest

from paperbot.config import ChannelConfig
from paperbot.channels import usable_schedule
from tests.bot_harness import TOKEN, BotServer, make_config, seed_store


WEEKDAYS = "mon,tue,wed,thu,fri"  # `mon-fri` as the trigger holds it (bot.scheduler.cron_day_of_week)


@pytest.fixture
def seeded(store):
    seed_store(store)
    return store


def _fields(bot, key: str) -> tuple[str, str, str]:
    job = bot.service.scheduler.scheduler.get_job(f"digest:{key}")
    assert job is not None, key
    f = {f.name: str(f) for f in job.trigger.fields}
    return f["minute"], f["hour"], f["day_of_week"]


def _say(bot, text: str, **kw) -> str:
    _, rid = bot.command(text, **kw)
    return bot.wait_response(rid)["text"]


def test_stored_schedules_firing_more_often_than_hourly_fall_back_with_a_warning(tmp_path, seeded, slack_fake,
                                                                                monkeypatch, caplog):
    cfg = make_config(tmp_path, [ChannelConfig(id="C9", name="#cfg", collections=["rlhf_code"],
                                               schedule="0 6 * * mon")])
    with BotServer(cfg, seeded, slack_fake, monkeypatch) as bot:
        _say(bot, "subscribe rlhf_code")  # C1, a channel created from Slack
        # what an older paperbot stored from `/papers digest schedule` before it refused these
        seeded.upsert_channel("C1", schedule="* * * * *")
        seeded.upsert_channel("C9", schedule="*/30 9 * * *")
        seeded.set_user_setting("U4", "digest_schedule", "*/5 * * * *")
        seeded.set_user_setting("U4", "dm_digest", True)
        caplog.set_level(logging.WARNING, logger="paperbot.service")
        bot.service.scheduler.start(catch_up=False)
        assert _fields(bot, "C1") == ("0", "9", WEEKDAYS)  # the default
        assert _fields(bot, "C9") == ("0", "6", "mon")  # the config file's
        assert _fields(bot, "dm:U4") == ("0", "9", WEEKDAYS)
        shown = _say(bot, "digest")
        shown_cfg = _say(bot, "digest", channel="C9")
        shown_dm = _say(bot, "digest", user="U4", channel="D4", channel_name="directmessage")
        fixed = _say(bot, "digest schedule daily 07:00")
        assert _fields(bot, "C1") == ("0", "7", "*")
    assert shown.startswith("This channel's digest: schedule `0 9 * * mon-fri` (UTC) · 10 papers · next: ")
    assert "(the stored schedule `* * * * *` fires more often than once an hour, so this one is used;" in shown
    assert shown_cfg.startswith("This channel's digest: schedule `0 6 * * mon` (UTC)")
    assert "the stored schedule `*/30 9 * * *`" in shown_cfg
    assert shown_dm.startswith("Your DM digest: schedule `0 9 * * mon-fri` (UTC)") and "`*/5 * * * *`" in shown_dm
    assert "schedule `0 7 * * *` (UTC)" in fixed and "stored schedule" not in fixed
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name == "paperbot.service"]
    for key, stored, gap, used in (("C1", "* * * * *", "1 minute", "0 9 * * mon-fri"),
                                   ("C9", "*/30 9 * * *", "30 minutes", "0 6 * * mon"),
                                   ("dm:U4", "*/5 * * * *", "5 minutes", "0 9 * * mon-fri")):
        assert any(m.startswith(f"digest {key}: the stored schedule {stored!r} fires every {gap}")
                   and f"using {used!r} instead" in m for m in warned), (key, warned)
    assert TOKEN not in caplog.text


@pytest.mark.parametrize("stored,expect", [
    (None, "0 6 * * mon"), ("", "0 6 * * mon"), ("* * * * *", "0 6 * * mon"), ("0,30 9 * * *", "0 6 * * mon"),
    ("0 * * * *", "0 * * * *"), ("30 8 * * mon,thu", "30 8 * * mon,thu"),
    ("61 9 * * *", "61 9 * * *"),  # no crontab at all: kept, so the scheduler logs it and /papers digest says so
])
def test_usable_schedule_keeps_hourly_or_rarer_and_invalid_ones(stored, expect):
    assert usable_schedule(stored, "Europe/Paris", "0 6 * * mon") == expect
