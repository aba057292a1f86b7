"""Fault suite — parsers on bad and arbitrary input.

Must hold for every parser: it returns a result or raises its one documented error, never
anything else (property-based with hypothesis), and inside a readable document each bad item is
skipped with a reason while every good item is kept.
"""
from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feeds.arxiv_api import ArxivAPIError, parse_response
from feeds.arxiv_rss import FeedParseError, parse_feed
from feeds.curated import CuratedFormatError, parse_curated
from feeds.hf_daily import HFParseError, parse_daily_papers
from feeds.records import InvalidArxivId, ParseResult, split_arxiv_id
from feeds.sanity import MAX_ABSTRACT_CHARS, looks_truncated, xml_feed_problem
from tests.conftest import api_exchange, fixture_path

ATOM = fixture_path("arxiv_rss", "atom_cs.AI_2025-08-20.xml").read_bytes()
API = api_exchange("q_testing_s0_m10_bc5a6c384fe9.json")["body"].encode()
HF = fixture_path("hf_daily", "2026-08-21.json").read_bytes()
SEED = fixture_path("seeds", "papers_database.sample.json").read_bytes()

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(
        st.sampled_from(["paper", "id", "title", "summary", "authors", "name", "publishedAt", "upvotes",
                         "ai_keywords", "githubRepo", "data", "submittedOnDailyAt", "x"]), children, max_size=6),
    max_leaves=25)


# ---- documents that are not feeds --------------------------------------------------------------
@pytest.mark.parametrize("body,reason", [
    (b"", "empty body"),
    (b"   \n\t ", "empty body"),
    (b"\xef\xbb\xbf", "empty body"),
    (b'{"feed": "<feed xmlns=\\"http://www.w3.org/2005/Atom\\"><entry/></feed>"}', "not XML"),
    (b"<!DOCTYPE html><html><head><title>Error 503</title></head></html>", "an HTML page, not a feed (title: 'Error 503')"),
    (b"<html><body>Rate exceeded.</body></html>", "an HTML page, not a feed"),
    (b"Service Unavailable", "not XML"),
])
def test_non_feed_documents_are_refused_with_a_reason(body, reason):
    assert reason in (xml_feed_problem(body) or "")
    with pytest.raises(FeedParseError) as err:
        parse_feed(body)
    assert reason in str(err.value)
    with pytest.raises(ArxivAPIError) as err:
        parse_response(body)
    assert reason in str(err.value)


def test_a_bom_and_whitespace_before_real_xml_are_fine():
    assert xml_feed_problem(b"\xef\xbb\xbf\n  " + ATOM) is None
    assert len(parse_feed(b"\xef\xbb\xbf\n  " + ATOM, keep=None).papers) == len(parse_feed(ATOM, keep=None).papers)


def test_truncation_is_detected_from_the_missing_root_end_tag():
    assert not looks_truncated(ATOM) and not looks_truncated(API)
    assert looks_truncated(ATOM[:-20]) and looks_truncated(API[: len(API) // 2])


def test_truncated_api_answer_keeps_complete_entries_and_marks_itself_incomplete():
    cut = API.index(b"<entry>", API.index(b"<entry>", API.index(b"<entry>") + 1) + 1) + 50
    page = parse_response(API[:cut])
    assert len(page.result.papers) == 2 and len(page.result.skipped) == 1
    assert not page.result.complete and parse_response(API).result.complete


def test_a_5mb_abstract_in_a_feed_entry_is_cut_with_a_note():
    huge = b"Abstract: " + b"very long " * 600_000
    first_entry = ATOM.index(b"<entry>")
    summary_end = ATOM.index(b"</summary>", first_entry)
    doc = ATOM[:summary_end] + huge + ATOM[summary_end:]
    res = parse_feed(doc, keep=None)
    assert len(res.papers) == len(parse_feed(ATOM, keep=None).papers)
    assert len(res.papers[0].abstract) == MAX_ABSTRACT_CHARS
    assert any("cut to 20,000" in note for _, note in res.repaired)


def test_future_and_impossible_dates_are_dropped_and_the_paper_kept():
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    items = [
        {"paper": {"id": "2608.00001", "title": "Far future", "publishedAt": "2999-01-01T00:00:00Z"}},
        {"paper": {"id": "2608.00002", "title": "Tomorrow is fine", "publishedAt": f"{tomorrow}T00:00:00Z"}},
        {"paper": {"id": "2608.00003", "title": "Not a date", "publishedAt": "2024-13-45T00:00:00Z"}},
        {"paper": {"id": "2608.00004", "title": "Before arXiv", "publishedAt": "1700-01-01T00:00:00Z"}},
    ]
    res = parse_daily_papers(json.dumps(items))
    published = {p.arxiv_id: p.published for p in res.papers}
    assert published == {"2608.00001": None, "2608.00002": tomorrow, "2608.00003": None, "2608.00004": None}
    assert [pos for pos, _ in res.repaired] == [0, 2, 3]
    assert "is in the future; dropped" in res.repaired[0][1]


def test_an_absurdly_long_title_makes_the_item_skipped():
    items = [{"paper": {"id": "2608.00001", "title": "x" * 50_000}}, {"paper": {"id": "2608.00002", "title": "ok"}}]
    res = parse_daily_papers(json.dumps(items))
    assert [p.arxiv_id for p in res.papers] == ["2608.00002"]
    assert res.skipped[0][0] == 0 and "is not a title" in res.skipped[0][1]


@pytest.mark.parametrize("body,msg", [
    (b"<html><title>x</title></html>", "not JSON but an HTML page"),
    (b"not json", "not JSON"),
    (b'{"error": "x"}', "expected a JSON list or {data: [...]}"),
    (b"42", "expected a JSON list, got int"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
])
def test_hf_documents_that_are_not_lists_fail_cleanly(body, msg):
    with pytest.raises(HFParseError) as err:
        parse_daily_papers(body)
    assert msg in str(err.value)


def test_hf_wrapped_list_and_repr_string_items_real_capture():
    res = parse_daily_papers(fixture_path("hf_daily", "2025-01-10_wrapped.json").read_bytes())
    assert res.skipped and all("not an object" in r for _, r in res.skipped)


# ---- property-based: never an unhandled exception ---------------------------------------------
def _check(result):
    assert isinstance(result, ParseResult)
    for p in result.papers:
        assert p.arxiv_id and p.title and len(p.abstract) <= MAX_ABSTRACT_CHARS


@FAST
@given(st.binary(max_size=2000) | st.text(max_size=2000))
def test_parse_feed_on_arbitrary_input_returns_or_raises_feed_parse_error(body):
    try:
        _check(parse_feed(body))
    except FeedParseError:
        pass


@FAST
@given(st.integers(min_value=0, max_value=len(ATOM)), st.binary(max_size=40))
def test_parse_feed_on_cut_and_corrupted_real_feed(cut, junk):
    try:
        _check(parse_feed(ATOM[:cut] + junk, keep=None))
    except FeedParseError:
        pass


@FAST
@given(st.text(alphabet=st.sampled_from(list("<>/&;=\"' abcdefentryidtlsumryAZ:0123456789.v\n")), max_size=600))
def test_parse_feed_on_xmlish_text(text):
    try:
        _check(parse_feed("<feed xmlns='http://www.w3.org/2005/Atom'>" + text))
    except FeedParseError:
        pass


@FAST
@given(st.binary(max_size=2000) | st.text(max_size=2000), st.sampled_from([200, 400, 500]))
def test_parse_response_on_arbitrary_input_returns_or_raises_api_error(body, status):
    try:
        page = parse_response(body, status)
        _check(page.result)
    except ArxivAPIError:
        pass


@FAST
@given(st.integers(min_value=0, max_value=len(API)))
def test_parse_response_on_cut_real_answer(cut):
    try:
        _check(parse_response(API[:cut]).result)
    except ArxivAPIError:
        pass


@FAST
@given(json_values)
def test_parse_daily_papers_on_arbitrary_json_returns_or_raises_hf_error(value):
    try:
        body = json.dumps(value)
    except ValueError:
        return
    try:
        _check(parse_daily_papers(body))
    except HFParseError:
        pass


@FAST
@given(st.lists(json_values, max_size=6))
def test_parse_daily_papers_items_of_any_shape_never_crash_the_document(items):
    res = parse_daily_papers(json.dumps(items))
    _check(res)
    assert len(res.papers) + len(res.skipped) == len(items)


@FAST
@given(st.binary(max_size=500) | st.text(max_size=500))
def test_parse_daily_papers_on_arbitrary_bytes(body):
    try:
        _check(parse_daily_papers(body))
    except HFParseError:
        pass


@FAST
@given(json_values | st.dictionaries(st.text(max_size=10), st.lists(json_values, max_size=4), max_size=4))
def test_parse_curated_on_arbitrary_json(value):
    try:
        out = parse_curated(json.dumps(value))
    except CuratedFormatError:
        return
    for papers in out.collections.values():
        for p in papers:
            assert p.arxiv_id and p.title


@FAST
@given(st.binary(max_size=300))
def test_parse_curated_on_arbitrary_bytes(body):
    try:
        parse_curated(body)
    except CuratedFormatError:
        pass


@FAST
@given(st.text(max_size=200) | st.integers() | st.none() | st.binary(max_size=50))
def test_split_arxiv_id_returns_an_id_or_raises_invalid_arxiv_id(raw):
    try:
        arxiv_id, version = split_arxiv_id(raw)
    except InvalidArxivId:
        return
    # the id is found in `raw`, in arXiv's case (HEP-TH/9901001 is hep-th/9901001)
    assert isinstance(arxiv_id, str) and arxiv_id.lower() in raw.lower() and (version is None or version >= 0)


# ---- content after the root element -------------------------------------------------------------
@pytest.mark.parametrize("after", [
    b"\n<!-- served by cache-7 in 12ms -->\n",  # what a caching proxy appends
    b"<?cache hit?>\n<!-- a -->  <!-- b -->\r\n\t",  # Misc*: PIs, comments, whitespace in any mix
    b"\n<!-- " + b"x" * 2000 + b" -->\n",
])
def test_comments_and_processing_instructions_after_the_root_are_no_truncation(after):
    # XML allows Misc* after the root element (https://www.w3.org/TR/xml/#sec-documents)
    whole = parse_feed(ATOM, keep=None)
    for doc in (ATOM + after, API + after):
        assert not looks_truncated(doc)
    res = parse_feed(ATOM + after, keep=None)
    assert res.complete and not res.skipped
    assert [p.arxiv_id for p in res.papers] == [p.arxiv_id for p in whole.papers] and len(res.papers) == 7
    page = parse_response(API + after)
    assert page.result.complete and len(page.result.papers) == len(parse_response(API).result.papers)


@pytest.mark.parametrize("cut", [
    lambda d: d[:-20],  # inside the last entry
    lambda d: d[:d.rindex(b"</entry>") + 8] + b"\n<!-- served by cache-7 -->\n",  # a comment, but no root end
    lambda d: d + b"\n<!-- served by cac",  # cut inside the trailing comment
    lambda d: d + b"\n<?cache ",  # cut inside a trailing processing instruction
])
def test_real_truncation_is_still_detected_around_trailing_comments(cut):
    assert looks_truncated(cut(ATOM))
