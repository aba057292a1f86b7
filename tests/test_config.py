"""Configuration: the example parses; bad settings give one message naming the key."""
from pathlib import Path

import pytest
from click.testing import CliRunner

from paperbot.cli import main
from paperbot.config import ConfigError, load_config, parse_config

ROOT = Path(__file__).resolve().parent.parent


def test_example_config_is_valid_and_documents_every_section():
    cfg = load_config(ROOT / "config.example.toml")
    assert cfg.arxiv_feeds[0].categories == ["cs.LG", "cs.CL", "cs.AI", "stat.ML"]
    assert cfg.arxiv_feeds[0].announce_types == ["new", "cross"]
    assert cfg.arxiv_queries[0].query.startswith("cat:cs.LG")
    assert cfg.hf_daily.enabled and cfg.hf_daily.days_back == 2 and cfg.channels[0].collections == ["rlhf_code"]
    assert cfg.channels[0].schedule == "0 9 * * mon-fri"
    assert Path(cfg.database).is_absolute()


@pytest.mark.parametrize("data,key", [
    ({"channels": [{"id": "C1", "max_papers": "ten"}]}, "channels[0].max_papers"),
    ({"channels": [{"name": "x"}]}, "channels[0].id"),
    ({"channels": [{"id": "C1", "schedule": "not cron"}]}, "channels[0].schedule"),
    ({"channels": [{"id": "C1", "timezone": "Mars/Olympus"}]}, "channels[0].timezone"),
    ({"channels": [{"id": "C1", "timezone": "localtime"}]}, "channels[0].timezone"),  # the server's zone file
    ({"channels": [{"id": "C1", "timezone": "Factory"}]}, "channels[0].timezone"),
    ({"feeds": {"arxiv_rss": [{"categories": ["cs.LG"], "announce_types": ["newish"]}]}}, "feeds.arxiv_rss[0].announce_types"),
    ({"feeds": {"arxiv_api": [{"query": "x", "max_results": 0}]}}, "feeds.arxiv_api[0].max_results"),
    ({"databse": {}}, "databse"),
    ({"slack": {"token": "xoxb-secret"}}, "slack.token"),
    ({"feeds": {"arxiv_rss": [{"categories": ["cs.LG"], "kind": "xml"}]}}, "feeds.arxiv_rss[0].kind"),
    ({"feeds": {"arxiv_rss": [{"categories": []}]}}, "feeds.arxiv_rss[0].categories"),
    ({"feeds": {"arxiv_rss": ["cs.LG"]}}, "feeds.arxiv_rss[0]"),
    ({"feeds": {"arxiv_api": [{"name": "no query"}]}}, "feeds.arxiv_api[0].query"),
    ({"feeds": {"hf_daily": "yes"}}, "feeds.hf_daily"),
    ({"channels": [{"id": "C1"}, {"id": "C1"}]}, "channels[1].id"),
    ({"channels": [{"id": ""}]}, "channels[0].id"),  # was accepted: a digest for channel "" every day
    ({"channels": [{"id": "C1"}, {"id": "  "}]}, "channels[1].id"),
    ({"channels": [{"id": "C1", "max_papers": 0}]}, "channels[0].max_papers"),
    ({"channels": [{"id": "C1", "when_empty": "maybe"}]}, "channels[0].when_empty"),
    ({"channels": [{"id": "C1", "keywords": ["ok", 3]}]}, "channels[0].keywords[1]"),
    ({"channels": ["C1"]}, "channels[0]"),
    ({"channels": [{"id": "C1", "schedule": "0 9 31 2 *"}]}, "channels[0].schedule"),  # never fires
    ({"channels": [{"id": "C1"}, {"id": "C2", "schedule": "0 9 31 4 *"}]}, "channels[1].schedule"),
    ({"channels": [{"id": "C1"}, {"id": "C2", "schedule": "* * * * *"}]}, "channels[1].schedule"),  # every minute
    ({"channels": [{"id": "C1", "schedule": "*/20 9 * * mon-fri"}]}, "channels[0].schedule"),
])
def test_bad_setting_names_the_key(data, key):
    with pytest.raises(ConfigError) as err:
        parse_config(data)
    assert str(err.value).startswith(key)


def test_too_frequent_schedule_message_names_the_key_and_the_rule():
    with pytest.raises(ConfigError) as err:
        parse_config({"channels": [{"id": "C1", "schedule": "*/15 * * * *"}]})
    assert str(err.value) == ("channels[0].schedule: '*/15 * * * *' has runs only 15 minutes apart; a digest can "
                              "come at most once an hour")
    assert parse_config({"channels": [{"id": "C1", "schedule": "0 * * * *"}]}).channels[0].schedule == "0 * * * *"


@pytest.mark.parametrize("schedule", ["30 2 * * *", "0 * * * *", "0 */2 * * *"])
def test_a_schedule_crossing_the_hour_clocks_go_back_over_is_not_too_frequent(monkeypatch, schedule):
    """In the week before 2026-10-25 a daily 02:30 Europe/Paris digest fires at 02:30 CEST and,
    an hour later, at 02:30 CET: the gap was measured on the wall clock (0 minutes), so the
    config was refused ("runs only 1 minute apart") and `paperbot serve` would not start."""
    import datetime as dt

    import paperbot.config

    class Frozen(dt.datetime):
        @classmethod
        def now(cls, tz=None):
            return dt.datetime(2026, 10, 21, 12, tzinfo=dt.timezone.utc).astimezone(tz)

    monkeypatch.setattr(paperbot.config, "datetime", Frozen)
    cfg = parse_config({"channels": [{"id": "C1", "schedule": schedule, "timezone": "Europe/Paris"}]})
    assert cfg.channels[0].schedule == schedule
    with pytest.raises(ConfigError, match="30 minutes apart"):
        parse_config({"channels": [{"id": "C1", "schedule": "*/30 * * * *", "timezone": "Europe/Paris"}]})


def test_schedule_on_a_date_that_exists_only_in_leap_years_is_accepted():
    assert parse_config({"channels": [{"id": "C1", "schedule": "0 9 29 2 *"}]}).channels[0].schedule == "0 9 29 2 *"


def test_never_firing_schedule_message_says_so(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[[channels]]\nid = "C1"\nschedule = "0 9 31 2 *"\n')
    res = CliRunner().invoke(main, ["run", "--once", "--config", str(cfg)])
    assert res.exit_code == 1
    assert res.output.strip() == "Error: channels[0].schedule: '0 9 31 2 *' never fires (no such date in any year)"


def test_cli_bad_config_is_one_clear_line_not_a_traceback(tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[[channels]]\nid = "C1"\nmax_papers = "ten"\n')
    res = CliRunner().invoke(main, ["run", "--once", "--config", str(cfg)])
    assert res.exit_code == 1
    assert "channels[0].max_papers: expected an integer" in res.output
    assert "Traceback" not in res.output


def test_invalid_toml_reports_line(tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[database\npath = 1\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(cfg)


def test_secrets_come_from_environment(monkeypatch):
    cfg = parse_config({})
    assert cfg.slack_bot_token is None
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-from-env")
    monkeypatch.setenv("SLACK_API_URL", "http://127.0.0.1:9/api")
    assert cfg.slack_bot_token == "xoxb-from-env"
    assert cfg.slack_api_url == "http://127.0.0.1:9/api/"


def test_arxiv_api_url_from_the_environment_is_where_arxiv_api_queries_go(monkeypatch, store):
    """ARXIV_API_URL points the arXiv API clients at another endpoint (here a fake on 127.0.0.1
    answering with a real recording); there was no way to, short of code."""
    from feeds.arxiv_api import API_URL
    from paperbot.poll import poll_all
    from tests.arxiv_api_fake import ArxivAPIFake

    cfg = parse_config({"feeds": {"arxiv_api": [{"name": "q", "query": "testing", "max_results": 10}],
                                  "hf_daily": {"enabled": False}}})
    assert cfg.arxiv_api_url == API_URL == "https://export.arxiv.org/api/query"
    with ArxivAPIFake() as api:
        monkeypatch.setenv("ARXIV_API_URL", api.url)
        assert cfg.arxiv_api_url == api.url
        (outcome,) = poll_all(cfg, store)
    assert outcome.error is None and outcome.papers == 10
    assert [q["search_query"] for q in api.queries] == ["testing"]


@pytest.mark.parametrize("data,key", [
    ({"slack": {"post_interval_s": float("inf")}}, "slack.post_interval_s"),  # OverflowError mid-digest
    ({"slack": {"post_interval_s": float("nan")}}, "slack.post_interval_s"),
    ({"slack": {"post_interval_s": -1}}, "slack.post_interval_s"),
    ({"slack": {"post_interval_s": 10 ** 400}}, "slack.post_interval_s"),  # too big for a float
    ({"recommender": {"candidate_days": 99999999999}}, "recommender.candidate_days"),  # OverflowError
    ({"recommender": {"candidate_days": 0}}, "recommender.candidate_days"),
    ({"recommender": {"refit_days": -1}}, "recommender.refit_days"),
    ({"feeds": {"hf_daily": {"days_back": 99999999999}}}, "feeds.hf_daily.days_back"),  # OverflowError
    ({"feeds": {"hf_daily": {"days_back": -3}}}, "feeds.hf_daily.days_back"),  # silently polled nothing
    ({"feeds": {"hf_daily": {"days_back": 0}}}, "feeds.hf_daily.days_back"),
    ({"channels": [{"id": "C1", "min_score": float("nan")}]}, "channels[0].min_score"),  # emptied every digest
    ({"channels": [{"id": "C1", "min_score": float("-inf")}]}, "channels[0].min_score"),
    ({"channels": [{"id": "C1", "min_score": 5}]}, "channels[0].min_score"),
    ({"database": {"path": ""}}, "database.path"),  # "" resolved to the config's folder
    ({"recommender": {"model_path": " "}}, "recommender.model_path"),
])
def test_out_of_range_setting_names_the_key(data, key):
    with pytest.raises(ConfigError) as err:
        parse_config(data)
    assert str(err.value).startswith(key + ": ")
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("data", [
    {"slack": {"post_interval_s": 0}, "recommender": {"candidate_days": 1, "refit_days": 0},
     "feeds": {"hf_daily": {"days_back": 30}}, "channels": [{"id": "C1", "min_score": -0.05}]},
    {"slack": {"post_interval_s": 60.0}, "recommender": {"candidate_days": 3650, "refit_days": 3650}},
    # a 👍 adds up to 2 × cosine: papers like a liked one score 1-3, so such thresholds are real
    {"channels": [{"id": "C1", "min_score": 2.5}, {"id": "C2", "min_score": -2.0}, {"id": "C3", "min_score": 4.0}]},
])
def test_settings_at_their_documented_bounds_are_accepted(data):
    parse_config(data)


def test_config_file_that_is_not_utf8_is_one_clear_line(tmp_path):
    cfg = tmp_path / "latin1.toml"
    cfg.write_bytes('[[channels]]\nid = "C1"\nname = "#équipe"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match=r"latin1\.toml: not UTF-8 text \(byte 0xe9"):
        load_config(cfg)
    res = CliRunner().invoke(main, ["run", "--once", "--config", str(cfg)])
    assert res.exit_code == 1 and "not UTF-8" in res.output and "Traceback" not in res.output


def _allowed_keys(data: dict) -> set[str]:
    """The keys config.py accepts where `data` puts the unknown key ``zzz``, read from its error."""
    with pytest.raises(ConfigError, match=r"unknown setting \(allowed: ") as err:
        parse_config(data)
    return set(str(err.value).split("(allowed: ")[1].rstrip(")").split(", "))


def test_example_config_shows_every_setting_config_accepts():
    """README: "every setting is documented there" — commented-out optional ones included."""
    import re
    import tomllib

    text = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    doc = tomllib.loads(re.sub(r"(?m)^# (\w+ = )", r"\1", text))  # un-comment optional settings
    sections = {
        "database": ({"database": {"zzz": 1}}, doc["database"]),
        "feeds.arxiv_rss": ({"feeds": {"arxiv_rss": [{"categories": ["cs.LG"], "zzz": 1}]}},
                            doc["feeds"]["arxiv_rss"][0]),
        "feeds.arxiv_api": ({"feeds": {"arxiv_api": [{"query": "x", "zzz": 1}]}}, doc["feeds"]["arxiv_api"][0]),
        "feeds.hf_daily": ({"feeds": {"hf_daily": {"zzz": 1}}}, doc["feeds"]["hf_daily"]),
        "curated": ({"curated": {"zzz": 1}}, doc["curated"]),
        "channels": ({"channels": [{"id": "C1", "zzz": 1}]}, doc["channels"][0]),
        "recommender": ({"recommender": {"zzz": 1}}, doc["recommender"]),
        "slack": ({"slack": {"zzz": 1}}, doc["slack"]),
    }
    for name, (probe, shown) in sections.items():
        assert _allowed_keys(probe) - set(shown) == set(), f"[{name}] settings missing from config.example.toml"


@pytest.mark.parametrize("feeds,key,says", [
    ({"arxiv_rss": [{"name": "arxiv", "categories": ["cs.AI"]}, {"name": "arxiv", "categories": ["cs.CL"]}]},
     "feeds.arxiv_rss[1].name", "'arxiv' is already used by feeds.arxiv_rss[0]"),
    ({"arxiv_rss": [{"name": "lab", "categories": ["cs.AI"]}], "arxiv_api": [{"name": "lab", "query": "x"}]},
     "feeds.arxiv_api[0].name", "'lab' is already used by feeds.arxiv_rss[0]"),
    ({"arxiv_rss": [{"categories": ["cs.LG"]}, {"categories": ["cs.LG"], "kind": "rss"}]},
     "feeds.arxiv_rss[1].name", "a default name"),
    ({"arxiv_api": [{"name": "hf_daily", "query": "x"}]}, "feeds.arxiv_api[0].name", "reserved"),
    ({"arxiv_rss": [{"name": "hf_daily:2026-08-21", "categories": ["cs.AI"]}]}, "feeds.arxiv_rss[0].name", "reserved"),
    ({"hf_daily": {"urls": ["file:///a/2026-08-21.json", "file:///b/2026-08-21.json"]}},
     "feeds.hf_daily.urls[1]", "hf_daily:2026-08-21.json"),
])
def test_two_sources_with_one_name_are_refused(feeds, key, says):
    """Each source keeps its feed state (validators, errors, counters) under its name: two feeds
    named alike shared one row, so conditional GET never matched and one's failure was hidden."""
    with pytest.raises(ConfigError) as err:
        parse_config({"feeds": feeds})
    assert str(err.value).startswith(key + ": ") and says in str(err.value)
    assert "\n" not in str(err.value)


def test_sources_with_distinct_names_are_accepted():
    cfg = parse_config({"feeds": {"arxiv_rss": [{"categories": ["cs.LG"]}, {"categories": ["cs.CL"]}],
                                  "arxiv_api": [{"query": "a"}, {"query": "b"}],
                                  "hf_daily": {"urls": ["file:///a/1.json", "file:///a/2.json"]}}})
    names = [f.name for f in cfg.arxiv_feeds] + [q.name for q in cfg.arxiv_queries]
    assert names == ["arxiv_rss:cs.LG", "arxiv_rss:cs.CL", "arxiv_api:0", "arxiv_api:1"]


def test_duplicate_feed_names_stop_the_cli_with_one_line(tmp_path):
    cfg = tmp_path / "dup.toml"
    cfg.write_text('[[feeds.arxiv_rss]]\nname = "arxiv"\ncategories = ["cs.AI"]\n'
                   '[[feeds.arxiv_rss]]\nname = "arxiv"\ncategories = ["cs.CL"]\n')
    res = CliRunner().invoke(main, ["run", "--once", "--config", str(cfg)])
    assert res.exit_code == 1 and "Error: feeds.arxiv_rss[1].name: source name 'arxiv'" in res.output
    assert "Traceback" not in res.output and not (tmp_path / "paperbot.db").exists()
