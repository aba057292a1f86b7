"""`bot.commands_parser` on text as Slack sends it: any string gives a `Command` or a
`UsageError`, never another exception."""
from __future__ import annotations

import sys

import pytest

from bot.commands_parser import Command, UsageError, parse_command

UNICODE_DIGITS = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isdigit() and not chr(c).isascii()]


@pytest.mark.parametrize("template", [
    "digest size {d}", "digest size 1{d}", "digest schedule daily {d}:00", "digest schedule weekdays 9:{d}{d}",
    "digest schedule {d} 9 * * *", "digest schedule 0 {d} * * mon-fri",
])
def test_unicode_digits_get_the_usage_line_not_a_crash(template):
    assert "²" in UNICODE_DIGITS and "٣" in UNICODE_DIGITS and len(UNICODE_DIGITS) > 100
    for d in UNICODE_DIGITS:
        with pytest.raises(UsageError) as exc:
            parse_command(template.format(d=d))
        assert "usage: `/papers digest" in str(exc.value), (template, d)


def test_ascii_digits_still_parse():
    assert parse_command("digest size 12") == Command("digest_size", 12)
    assert parse_command("digest schedule daily 07:05") == Command("digest_schedule", "5 7 * * *")


# ---- text arrives escaped by Slack (&amp; &lt; &gt;); values come out as typed ---------------------
@pytest.mark.parametrize("sent,cmd", [
    ("subscribe reward &amp; safety", Command("subscribe", "reward & safety")),
    ("unsubscribe reward &amp; safety", Command("unsubscribe", "reward & safety")),
    ('search author:"Smith &amp; Wesson" x &lt;y&gt;', Command("search", 'author:"Smith & Wesson" x <y>')),
    ("follow author O&amp;Neil", Command("follow_author", "O&Neil")),
    ("subscribe a &amp;lt; b", Command("subscribe", "a &lt; b")),  # the user typed the entity itself
    ("like <https://arxiv.org/abs/2501.01234?a=1&amp;b=2|arxiv.org/abs/2501.01234>", Command("like", "2501.01234")),
    ("subscribe <@U123|ann> &amp; ppo", Command("subscribe", "<@U123|ann> & ppo")),
])
def test_slack_escaping_is_undone_outside_slack_sequences(sent, cmd):
    assert parse_command(sent) == cmd


def test_unescape_slack_keeps_slack_sequences_whole():
    from bot.commands_parser import unescape_slack
    assert unescape_slack("a &amp; <@U1|b &amp; c> &gt; d") == "a & <@U1|b &amp; c> > d"
    assert unescape_slack("&amp;amp; &lt;&gt;") == "&amp; <>"


def test_parse_arxiv_id_of_a_non_string_is_none():
    from bot.commands_parser import parse_arxiv_id
    assert parse_arxiv_id({"x": 1}) is None and parse_arxiv_id(None) is None and parse_arxiv_id(2501.01234) is None


# ---- a subscription must have something to match on -----------------------------------------------
@pytest.mark.parametrize("sent", [
    "subscribe the and of", "subscribe 🤖🎉", "subscribe :tada: :+1::skin-tone-2:", "subscribe <@U123>",
    "subscribe <@U123|ann> &amp; <#C1|general>", "subscribe ... ???", "subscribe reward model, the",
    "subscribe , ,", "subscribe a b c", "subscribe <https://example.com|example>",
])
def test_subscribe_refuses_keywords_without_a_content_word(sent):
    """`check_keywords` refuses them; `parse_command` hands `subscribe <text>` on, as the text may
    name a collection (`C++`, `the`) that only the service knows: it checks after the names."""
    from bot.commands_parser import check_keywords
    cmd = parse_command(sent)
    assert cmd.name == "subscribe"
    with pytest.raises(UsageError) as exc:
        check_keywords(cmd.value)
    assert "usage: `/papers subscribe" in str(exc.value)
    with pytest.raises(UsageError):  # the explicit keywords form: refused by the parser
        parse_command(sent.replace("subscribe", "subscribe keywords", 1))


@pytest.mark.parametrize("sent,value", [
    ("subscribe rlhf_code", "rlhf_code"), ("subscribe the reward model", "the reward model"),
    ("subscribe PPO, RLHF", "PPO, RLHF"), ("subscribe <@U123> diffusion", "<@U123> diffusion"),
    ("subscribe 3D", "3D"), ("subscribe émergence", "émergence"),
])
def test_subscribe_accepts_keywords_with_a_content_word(sent, value):
    assert parse_command(sent) == Command("subscribe", value)


def test_unsubscribe_can_remove_any_stored_keyword():
    assert parse_command("unsubscribe the and of") == Command("unsubscribe", "the and of")


# ---- a schedule must fire some day -------------------------------------------------------------
@pytest.mark.parametrize("cron", ["0 9 31 2 *", "0 9 30 2 *", "30 8 31 4,6,9,11 *"])
def test_a_crontab_that_never_fires_is_refused(cron):
    with pytest.raises(UsageError) as exc:
        parse_command(f"digest schedule {cron}")
    assert "never fires" in str(exc.value) and "usage: `/papers digest schedule" in str(exc.value)


def test_a_crontab_restricting_both_day_fields_is_refused():
    """cron fires when either day field matches (the 31st of February never, but every weekday of
    February), APScheduler only when both do: refused rather than run with another meaning."""
    with pytest.raises(UsageError) as exc:
        parse_command("digest schedule 0 9 31 2 mon-fri")
    assert "not both" in str(exc.value) and "usage: `/papers digest schedule" in str(exc.value)


def test_a_crontab_that_fires_rarely_is_accepted():
    assert parse_command("digest schedule 0 9 29 2 *") == Command("digest_schedule", "0 9 29 2 *")


# ---- a schedule may fire at most once an hour ---------------------------------------------------
@pytest.mark.parametrize("cron,gap", [("* * * * *", "1 minute"), ("*/30 9 * * mon-fri", "30 minutes"),
                                      ("*/5 9 1 * *", "5 minutes"), ("0,59 0,23 * * *", "59 minutes")])
def test_a_crontab_firing_more_often_than_hourly_is_refused(cron, gap):
    with pytest.raises(UsageError) as exc:
        parse_command(f"digest schedule {cron}")
    msg = str(exc.value)
    assert f"runs only {gap} apart" in msg and "at most once an hour" in msg
    assert "usage: `/papers digest schedule" in msg


@pytest.mark.parametrize("cron", ["0 * * * *", "0 */2 * * *", "0 9,10 * * mon-fri", "30 8 * * mon-fri"])
def test_an_hourly_or_rarer_crontab_is_accepted(cron):
    assert parse_command(f"digest schedule {cron}") == Command("digest_schedule", cron)


# ---- like: a Slack link whose label has spaces is one argument -----------------------------------
@pytest.mark.parametrize("text", [
    "like <https://arxiv.org/abs/2501.00001|Some Paper Title>",
    "like  <https://arxiv.org/pdf/2501.00001v2|Some Paper: A Title With   Spaces>  ",
])
def test_like_takes_a_slack_link_with_a_spaced_label_as_one_token(text):
    assert parse_command(text) == Command("like", "2501.00001")


@pytest.mark.parametrize("text", ["like 2501.00001 2501.00002", "like <https://arxiv.org/abs/2501.00001|x> more",
                                  "like <@U123|ann>"])
def test_like_with_more_than_one_thing_or_a_mention_is_refused(text):
    with pytest.raises(UsageError) as exc:
        parse_command(text)
    assert "usage: `/papers like" in str(exc.value)


# ---- like: Hugging Face paper URLs (a source of paperbot's) -----------------------------------------
@pytest.mark.parametrize("text", [
    "like https://huggingface.co/papers/2501.00001",
    "like <https://huggingface.co/papers/2501.00001v2>",
    "like <https://huggingface.co/papers/2501.00001|Some HF Paper>",
    "like huggingface.co/papers/2501.00001",
])
def test_like_accepts_hugging_face_paper_urls(text):
    assert parse_command(text) == Command("like", "2501.00001")


def test_like_refuses_a_papers_path_on_another_host():
    with pytest.raises(UsageError):
        parse_command("like https://huggingface.co.evil.example/papers/2501.00001")
    with pytest.raises(UsageError):
        parse_command("like https://evil.example/papers/2501.00001")


# ---- digest timezone: IANA zone names only ------------------------------------------------------
@pytest.mark.parametrize("name", ["localtime", "posixrules", "Factory", "posix/Europe/Paris", "right/UTC"])
def test_zone_database_files_that_are_no_iana_zone_are_refused(name):
    with pytest.raises(UsageError) as exc:
        parse_command(f"digest timezone {name}")
    assert f"unknown time zone '{name}'" in str(exc.value) and "usage: `/papers digest timezone" in str(exc.value)


@pytest.mark.parametrize("name", ["UTC", "Europe/Paris", "America/New_York", "Etc/GMT+5"])
def test_iana_zone_names_are_accepted(name):
    assert parse_command(f"digest timezone {name}") == Command("digest_timezone", name)


# ---- subscribe: a collection name up to case and -/_/spaces; a near miss is not keywords -------------
def test_subscribe_keywords_is_the_explicit_keywords_form():
    assert parse_command("subscribe keywords rlhf_cod") == Command("subscribe_keywords", "rlhf_cod")
    assert parse_command("Subscribe KEYWORDS reward  model, PPO") == Command("subscribe_keywords", "reward model, PPO")
    assert parse_command("unsubscribe keywords rlhf_cod") == Command("unsubscribe_keywords", "rlhf_cod")
    # unsubscribe removes whatever is stored, stop words and all
    assert parse_command("unsubscribe keywords the and of") == Command("unsubscribe_keywords", "the and of")
    assert parse_command("subscribe keywordsmith") == Command("subscribe", "keywordsmith")  # only the word itself
    assert parse_command("subscribe rlhf_cod") == Command("subscribe", "rlhf_cod")  # the service matches names


def test_the_keywords_word_alone_names_a_collection():
    """`subscribe keywords` with no words after it answered the usage line, so a collection
    named `keywords` was out of reach of the explicit form: now it names that collection."""
    assert parse_command("subscribe keywords") == Command("subscribe_collection", "keywords")
    assert parse_command("Unsubscribe KEYWORDS  ") == Command("unsubscribe_collection", "KEYWORDS")
    assert parse_command("subscribe keywords keywords") == Command("subscribe_keywords", "keywords")


@pytest.mark.parametrize("sent,fragment", [
    ("subscribe keywords the and of", "has no word to match papers on"),
    ("subscribe keywords , ,", "usage: `/papers subscribe"),
])
def test_subscribe_keywords_needs_words_with_content(sent, fragment):
    with pytest.raises(UsageError) as exc:
        parse_command(sent)
    assert fragment in str(exc.value)


def test_the_usage_text_and_lines_name_the_keywords_form():
    from bot.commands_parser import USAGE, USAGES
    assert "`/papers subscribe keywords <words>`" in USAGE and "`/papers subscribe keywords <words>`" in USAGES["subscribe"]
    assert "`/papers unsubscribe keywords <words>`" in USAGES["unsubscribe"]


NAMES = ["rlhf_code", "awesome-RLHF", "Awesome-LLM-Reasoning"]


@pytest.mark.parametrize("text,name", [
    ("rlhf_code", "rlhf_code"), (" RLHF-Code ", "rlhf_code"), ("rlhf code", "rlhf_code"), ("Rlhf__CODE", "rlhf_code"),
    ("`rlhf_code`", "rlhf_code"),  # copied from a reply, which shows names in backticks
    ("awesome rlhf", "awesome-RLHF"), ("awesome_llm_reasoning", "Awesome-LLM-Reasoning"),
])
def test_match_collection_ignores_case_dashes_underscores_and_spaces(text, name):
    from bot.commands_parser import CollectionMatch, match_collection
    assert match_collection(text, NAMES) == CollectionMatch(name)


@pytest.mark.parametrize("text,close", [
    ("rlhf_cod", ("rlhf_code",)), ("rhlf_code", ("rlhf_code",)), ("rlhf_cd", ("rlhf_code",)),
    ("RLHF cod", ("rlhf_code",)), ("awesome-rlfh", ("awesome-RLHF",)),
    ("awesome-llm-reasonin", ("Awesome-LLM-Reasoning",)),
])
def test_match_collection_finds_near_misses(text, close):
    from bot.commands_parser import CollectionMatch, match_collection
    assert match_collection(text, NAMES) == CollectionMatch(None, close)


@pytest.mark.parametrize("text", [
    "rlhf", "code", "RLHF code generation", "rlhf_cod, PPO", "reward model", "PPO", "reasoning", "-_-", "",
])
def test_match_collection_leaves_keywords_alone(text):
    """Words that share a word with a name, several keywords or more than two words are keywords."""
    from bot.commands_parser import CollectionMatch, match_collection
    assert match_collection(text, NAMES) == CollectionMatch()


@pytest.mark.parametrize("text,name", [("codex", "code"), ("Codec", "code"), ("MLLM", "llm")])
def test_a_keyword_one_letter_off_a_short_collection_name_is_a_keyword(text, name):
    """In a name of four letters or fewer one letter more is another word, not a typo: with a
    collection `code` (`paperbot import --collection code`), `/papers subscribe codex` — a
    keyword of 57 papers of the real corpus (and an `ai_keywords` entry of the HF daily papers)
    — was refused as "did you mean `code`?"."""
    from bot.commands_parser import CollectionMatch, match_collection
    assert match_collection(text, [name, *NAMES]) == CollectionMatch()


def test_match_collection_names_differing_only_in_case_are_both_suggested():
    from bot.commands_parser import CollectionMatch, collection_key, match_collection
    assert match_collection("Rlhf", ["RLHF", "rlhf", "x"]) == CollectionMatch(None, ("RLHF", "rlhf"))
    assert match_collection("rlhf", ["RLHF", "rlhf"]) == CollectionMatch("rlhf")  # an exact name wins
    assert collection_key(" “RLHF - code” ") == "rlhf_code"
