"""The main job end to end: `paperbot demo`, and `run --once` posting to a Slack Web API fake."""
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

from click.testing import CliRunner

from paperbot.cli import main
from paperbot.config import load_config
from paperbot.pipeline import run_once
from store import Store
from tests.conftest import fixture_path, write_config


def test_demo_end_to_end_in_a_temp_dir(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    res = subprocess.run([sys.executable, "-m", "paperbot.cli", "demo"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "=== Paper digest · #rl-for-code" in out
    assert " 1. [" in out and "10. [" in out
    assert out.count("why: matches the profile on") == 10
    assert "https://arxiv.org/abs/" in out
    assert "source arxiv_api:listing-2026-06-30: 674 papers" in res.stderr
    assert "FAILED" not in res.stderr
    assert list(tmp_path.iterdir()) == []  # nothing left behind in the working directory



def test_demo_with_a_slack_token_set_prints_and_says_nothing_of_a_missing_token(tmp_path, slack_fake, monkeypatch):
    """The demo always prints (README: no Slack token needed) and never posts, token or not; its
    digest began with "(no SLACK_BOT_TOKEN: would post to #rl-for-code)", untrue with a token
    set, and a line the README's sample of the demo's output does not have."""
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test-token")
    monkeypatch.setenv("SLACK_API_URL", slack_fake.url)
    res = CliRunner().invoke(main, ["demo", "--db", str(tmp_path / "demo.db")])
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith("=== Paper digest · #rl-for-code · "), res.stdout[:200]
    assert "SLACK_BOT_TOKEN" not in res.stdout + res.stderr
    assert slack_fake.calls == []  # printed, never posted

SEED = fixture_path("seeds", "papers_database.sample.json")


def _write_config(tmp_path: Path, broken_source: bool = True, curated=(SEED,), more_channels=()) -> Path:
    """The main job's test config: a real Atom day, a real arXiv API page, two real HF days, the
    seed curated file and channel C0RLCODE (5 papers); with `broken_source` also an RSS source
    whose file is missing; `more_channels` (dicts) after C0RLCODE."""
    gone = [("gone", ["cs.LG"], (tmp_path / "missing.xml").as_uri())] if broken_source else []
    return write_config(
        tmp_path,
        rss=[("cs.AI", ["cs.AI"], fixture_path("arxiv_rss", "atom_cs.AI_2025-08-20.xml").as_uri())] + gone,
        api=[("search", fixture_path("arxiv_api", "q_testing_s0_m100_cfe7536492ca.xml").as_uri())],
        hf=[fixture_path("hf_daily", name).as_uri() for name in ("2026-08-21.json", "2025-01-10_wrapped.json")],
        curated=curated,
        channels=[dict(id="C0RLCODE", name="#rl-code", collections=["rlhf_code"], max_papers=5), *more_channels])


def test_run_once_posts_to_slack_fake_and_never_twice(tmp_path, slack_fake, monkeypatch):
    cfg_path = _write_config(tmp_path)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test-token")
    monkeypatch.setenv("SLACK_API_URL", slack_fake.url)
    res = CliRunner().invoke(main, ["run", "--once", "--config", str(cfg_path)])
    # a source that cannot be read fails alone; the others are stored
    assert "source gone: FAILED" in res.output and "source search: 100 papers" in res.output
    assert "channel C0RLCODE: posted (5 papers)" in res.output, res.output
    assert res.exit_code == 3  # delivered, but a source failed: cron must not read "success"
    posts = slack_fake.calls_to("chat.postMessage")
    assert len(posts) == 1
    args = posts[0]["args"]
    assert args["channel"] == "C0RLCODE" and args["unfurl_links"] in (False, "false", "0", 0)
    assert posts[0]["headers"]["Authorization"] == "Bearer xoxb-test-token"
    values = [e["value"] for b in args["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert len(set(values)) == 5
    # same slot again: nothing new is posted
    res2 = CliRunner().invoke(main, ["run", "--once", "--config", str(cfg_path)])
    assert "skipped-duplicate" in res2.output and res2.exit_code == 3
    assert len(slack_fake.calls_to("chat.postMessage")) == 1


def test_next_digest_never_repeats_a_paper_the_channel_got(tmp_path, slack_fake, monkeypatch):
    cfg = load_config(_write_config(tmp_path))
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test-token")
    monkeypatch.setenv("SLACK_API_URL", slack_fake.url)
    store = Store(cfg.database)
    first = run_once(cfg, store, today=date(2026, 8, 24)).deliveries[0]
    second = run_once(cfg, store, today=date(2026, 8, 25)).deliveries[0]
    got1 = {r.paper.arxiv_id for r in first.digest.items}
    got2 = {r.paper.arxiv_id for r in second.digest.items}
    assert len(got1) == 5 and got2 and not (got1 & got2)
    assert len(slack_fake.calls_to("chat.postMessage")) == 2


def test_run_once_without_token_prints_and_records_nothing(tmp_path, slack_fake):
    cfg = load_config(_write_config(tmp_path))
    store = Store(cfg.database)
    report = run_once(cfg, store, today=date(2026, 8, 24))
    assert report.deliveries[0].status == "printed"
    assert slack_fake.calls == []
    assert store.sent_paper_ids("C0RLCODE") == set()


def test_slack_error_is_reported_and_does_not_stop_other_channels(tmp_path, slack_fake, monkeypatch):
    cfg_path = _write_config(tmp_path, more_channels=[dict(id="C0SECOND", collections=["rlhf_code"])])
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test-token")
    monkeypatch.setenv("SLACK_API_URL", slack_fake.url)
    slack_fake.script("chat.postMessage", body={"ok": False, "error": "channel_not_found"})
    report = run_once(load_config(cfg_path), Store(tmp_path / "bot.db"), today=date(2026, 8, 24))
    statuses = {d.channel_id: (d.status, d.error) for d in report.deliveries}
    assert statuses["C0RLCODE"] == ("failed", "channel_not_found")
    assert statuses["C0SECOND"][0] == "posted"
    assert "xoxb-test-token" not in str(statuses)


def test_run_once_exits_0_only_when_every_source_and_digest_succeeded(tmp_path, slack_fake, monkeypatch):
    cfg_path = _write_config(tmp_path, broken_source=False)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test-token")
    monkeypatch.setenv("SLACK_API_URL", slack_fake.url)
    ok = CliRunner().invoke(main, ["run", "--once", "--config", str(cfg_path)])
    assert "FAILED" not in ok.output and "posted (5 papers)" in ok.output, ok.output
    assert ok.exit_code == 0
    # Slack refusing the post outranks everything else: exit 1
    slack_fake.script("chat.postMessage", body={"ok": False, "error": "channel_not_found"})
    refused = CliRunner().invoke(main, ["run", "--once", "--config", str(cfg_path),
                                        "--db", str(tmp_path / "fresh.db")])  # a new slot's digest
    assert "failed" in refused.output and refused.exit_code == 1


def test_demo_db_keeps_its_model_next_to_it_named_after_it(tmp_path):
    """README: `--db FILE` keeps the TF-IDF model next to that file (lab.db → lab-model.joblib);
    the demo wrote paperbot-demo-model.joblib, shared by every demo database of the folder."""
    res = CliRunner().invoke(main, ["demo", "--db", str(tmp_path / "lab.db")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "lab-model.joblib").exists()
    assert not (tmp_path / "paperbot-demo-model.joblib").exists()


def test_bad_curated_files_are_one_line_each_and_the_run_goes_on(tmp_path, slack_fake, monkeypatch):
    """A missing or non-seed curated file used to stop run --once with a traceback before any
    source was polled (and rss.arxiv.org does not replay the day)."""
    cfg_path = _write_config(tmp_path, broken_source=False, curated=["nope.json", "list.json", "notes.json", SEED])
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "notes.json").write_text("not json")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test-token")
    monkeypatch.setenv("SLACK_API_URL", slack_fake.url)
    res = CliRunner().invoke(main, ["run", "--once", "--config", str(cfg_path)])
    assert isinstance(res.exception, SystemExit), res.exception  # no traceback
    lines = res.output.splitlines()
    assert f"  curated file {tmp_path / 'nope.json'}: FAILED (no such file; point [curated] files at" \
           " your group's curated database, in the format of paperbot/data/papers_database.sample.json)" in lines
    assert any(ln.startswith(f"  curated file {tmp_path / 'list.json'}: FAILED (curated database must be a JSON object")
               for ln in lines)
    assert any(ln.startswith(f"  curated file {tmp_path / 'notes.json'}: FAILED (curated database is not valid JSON")
               for ln in lines)
    assert sum("curated file" in ln for ln in lines) == 3  # the good file is not reported
    assert "source search: 100 papers" in res.output  # polling went on
    assert "channel C0RLCODE: posted (5 papers)" in res.output  # and the good file's collection was used
    assert res.exit_code == 3  # delivered, but an input failed: cron must not read "success"


def test_the_example_configs_curated_file_gets_a_clear_message(tmp_path):
    """config.example.toml names papers_database.json, which does not ship beside it."""
    from paperbot.curated_import import import_configured_curated

    cfg = load_config(Path(__file__).resolve().parent.parent / "config.example.toml")
    assert not Path(cfg.curated_files[0]).exists()
    store = Store(tmp_path / "pb.db")
    why, report = import_configured_curated(store, cfg.curated_files[0])
    assert report is None
    assert why.startswith("no such file; point [curated] files at your group's curated database")
    assert "papers_database.sample.json" in why


def _empty_store_config(tmp_path: Path, when_empty: str = "explain", source_exists: bool = True) -> Path:
    """One HF source whose every item is skipped (or a missing one), no curated file: after the
    poll the store holds no paper at all."""
    hf = tmp_path / "hf.json"
    if source_exists:
        hf.write_text(json.dumps([{"paper": {"title": "no id here"}}, {"paper": {"id": "", "title": "empty id"}}]))
    cfg = tmp_path / "paperbot.toml"
    cfg.write_text(f"""
[database]
path = "bot.db"
[feeds.hf_daily]
urls = ["{hf.as_uri()}"]
[[channels]]
id = "C0EMPTY"
name = "#empty"
collections = ["rlhf_code"]
when_empty = "{when_empty}"
""")
    return cfg


def test_an_empty_store_still_gives_each_channel_its_why_empty_line(tmp_path, slack_fake, monkeypatch):
    """run_once returned before the channel loop when the store held no paper: the channel got
    nothing and the exit status said success."""
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test-token")
    monkeypatch.setenv("SLACK_API_URL", slack_fake.url)
    cfg = load_config(_empty_store_config(tmp_path))
    report = run_once(cfg, Store(cfg.database), today=date(2026, 8, 24))  # a Monday
    assert report.n_papers == 0 and report.sources[0].skipped == 2
    (d,) = report.deliveries
    assert (d.channel_id, d.status, d.n_papers) == ("C0EMPTY", "posted", 0)
    assert d.digest.empty_reason == "No new papers since the last digest (a holiday, or the feeds were quiet)."
    (msg,) = slack_fake.posted("C0EMPTY")
    assert "No new papers since the last digest" in json.dumps(msg)
    # the CLI: the channel's line, and exit 0 (no source failed, the digest went out)
    res = CliRunner().invoke(main, ["run", "--once", "--config", str(cfg.path), "--db", str(tmp_path / "b.db")])
    assert "channel C0EMPTY: posted (0 papers)" in res.output and res.exit_code == 0, res.output


def test_an_empty_store_because_the_only_source_failed_says_so_and_exits_3(tmp_path):
    cfg = _empty_store_config(tmp_path, source_exists=False)
    res = CliRunner().invoke(main, ["run", "--once", "--config", str(cfg)])
    assert "source(s) failed this run" in res.output and "channel C0EMPTY: printed (0 papers)" in res.output
    assert res.exit_code == 3, res.output


def test_an_empty_store_with_when_empty_skip_stays_silent(tmp_path, slack_fake, monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test-token")
    monkeypatch.setenv("SLACK_API_URL", slack_fake.url)
    cfg = load_config(_empty_store_config(tmp_path, when_empty="skip"))
    (d,) = run_once(cfg, Store(cfg.database), today=date(2026, 8, 24)).deliveries
    assert d.status == "skipped-empty" and slack_fake.calls_to("chat.postMessage") == []


def test_a_channel_paused_from_slack_gets_no_digest_from_run_once_until_resumed(tmp_path, slack_fake,
                                                                                monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test-token")
    monkeypatch.setenv("SLACK_API_URL", slack_fake.url)
    cfg = load_config(_empty_store_config(tmp_path))
    store = Store(cfg.database)
    assert store.set_digest_paused("C0EMPTY", True)  # what `/papers digest off` stores
    (d,) = run_once(cfg, store, today=date(2026, 8, 24)).deliveries
    assert (d.status, d.n_papers) == ("skipped-paused", 0) and "/papers digest on" in d.detail
    assert slack_fake.calls_to("chat.postMessage") == []
    res = CliRunner().invoke(main, ["run", "--once", "--config", str(cfg.path)])
    assert "channel C0EMPTY: skipped-paused (0 papers)" in res.output and res.exit_code == 0, res.output
    assert slack_fake.calls_to("chat.postMessage") == []
    assert store.set_digest_paused("C0EMPTY", False)  # `/papers digest on`
    (d,) = run_once(cfg, store, today=date(2026, 8, 24)).deliveries
    assert d.status == "posted" and len(slack_fake.posted("C0EMPTY")) == 1
