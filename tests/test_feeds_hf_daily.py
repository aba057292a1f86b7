"""Hugging Face daily papers on real responses, including the archive's quirks."""
import pytest

from feeds.hf_daily import HFParseError, parse_daily_papers
from tests.conftest import fixture_path


def test_real_day_with_upvotes_keywords_repo():
    res = parse_daily_papers(fixture_path("hf_daily", "2026-08-21.json").read_bytes())
    assert len(res.papers) == 17 and res.skipped == []
    p = res.papers[0]
    assert p.arxiv_id == "2608.19880" and p.title.startswith("EnvHarness")
    assert p.hf_upvotes == 163 and "LLM agents" in p.ai_keywords
    assert p.github_repo == "https://github.com/google-research/envharness"
    assert p.authors[0] == "Chengsong Huang" and p.sources == ["hf_daily"]
    assert p.published == "2026-08-20"


def test_wrapped_list_is_unwrapped_and_repr_strings_skipped_with_reason():
    res = parse_daily_papers(fixture_path("hf_daily", "2025-01-10_wrapped.json").read_bytes())
    assert res.papers == []
    assert len(res.skipped) == 9
    assert all("not an object" in reason for _, reason in res.skipped)
    assert [pos for pos, _ in res.skipped] == list(range(9))


def test_repr_string_items_are_skipped_not_fatal():
    res = parse_daily_papers(fixture_path("hf_daily", "2024-12-12_repr_strings.json").read_bytes())
    assert res.papers == [] and len(res.skipped) == 18


def test_mixed_good_and_bad_items_keep_the_good():
    good = fixture_path("hf_daily", "2025-03-20.json").read_text()
    body = good.rstrip()[:-1] + ', "garbage", 42, {"paper": {"title": "no id"}}]'
    res = parse_daily_papers(body)
    assert len(res.papers) == 13
    assert len(res.skipped) == 3


@pytest.mark.parametrize("body", [b"<html>502 Bad Gateway</html>", b'{"error": "rate limited"}', b"42"])
def test_not_a_daily_papers_document(body):
    with pytest.raises(HFParseError):
        parse_daily_papers(body)


def _day_with_authors(value):
    import json
    items = json.loads(fixture_path("hf_daily", "2026-08-21.json").read_bytes())[:2]
    items[0]["paper"]["authors"] = value
    return parse_daily_papers(json.dumps(items).encode())


@pytest.mark.parametrize("value,names", [
    ("Alice, Bob", ["Alice", "Bob"]),  # not nine one-letter "authors"
    ("Alice Smith, Bob Jones and Carol Wu", ["Alice Smith", "Bob Jones", "Carol Wu"]),
    ("Alice Smith and Bob Jones", ["Alice Smith", "Bob Jones"]),
    ("Alexandra Anderson", ["Alexandra Anderson"]),  # "and" inside a name is no separator
    ([{"name": "Alice"}, "Bob", None, {"name": None}], ["Alice", "Bob"]),  # the documented list form
])
def test_authors_given_as_a_string_are_split_into_names(value, names):
    res = _day_with_authors(value)
    assert res.papers[0].authors == names and res.skipped == [] and res.repaired == []


@pytest.mark.parametrize("value", [{"name": "Alice", "affiliation": "X"}, 7, True])
def test_authors_neither_list_nor_string_are_dropped_with_a_repair_note(value):
    res = _day_with_authors(value)
    assert len(res.papers) == 2 and res.skipped == []  # the paper is kept
    assert res.papers[0].authors == [] and res.papers[1].authors  # not the dict's keys
    assert res.repaired == [(0, f"2608.19880: authors given as {type(value).__name__}, not a list; dropped")]
