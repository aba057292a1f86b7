"""arXiv announcement feeds on real captures (rss.arxiv.org Atom, RSS 2.0 item strings, legacy RDF)."""
import json
from xml.sax.saxutils import escape

import pytest

from feeds.arxiv_rss import FeedParseError, feed_url, parse_description, parse_feed
from feeds.records import (
    InvalidArxivId,
    canonical_arxiv_id,
    iso_date,
    split_arxiv_id,
    without_subject_class,
)
from tests.conftest import fixture_path

ATOM = fixture_path("arxiv_rss", "atom_cs.AI_2025-08-20.xml").read_bytes()


def test_atom_capture_parses_every_entry_with_announce_type_and_abstract():
    res = parse_feed(ATOM, keep=None)
    assert len(res.papers) == 7 and res.skipped == []
    first = res.papers[0]
    assert first.arxiv_id == "2508.13426" and first.version == 1
    assert first.announce_type == "cross"
    assert first.title.startswith("ALIGN: Word Association Learning")
    assert first.abstract.startswith("As large language models (LLMs) increasingly")
    assert "Announce Type" not in first.abstract
    assert first.authors == ["Chunhua Liu", "Kabir Manandhar Shrestha", "Sukai Huang"]
    assert first.categories == ["cs.CL", "cs.AI"] and first.primary_category == "cs.CL"
    assert first.published == "2025-08-20"
    assert first.sources == ["arxiv_rss"]


def test_announce_type_filter_keeps_configured_types():
    assert len(parse_feed(ATOM).papers) == 7  # default new + cross
    new_only = parse_feed(ATOM, keep=["new"]).papers
    assert [p.arxiv_id for p in new_only] == ["2508.14001", "2508.14002"]
    assert parse_feed(ATOM, keep=["replace"]).papers == []


def _rss_document(items: list[dict], channel_dates: str = "<pubDate>Mon, 16 Jun 2025 00:00:00 -0400</pubDate>") -> bytes:
    """An RSS 2.0 document in rss.arxiv.org's shape around real item strings (an item's
    optional ``pubDate`` key becomes its ``<pubDate>``; `channel_dates` is the channel's date XML)."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<rss xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns:dc="http://purl.org/dc/elements/1.1/" version="2.0">',
           "<channel><title>cs.LG updates on arXiv.org</title><link>http://rss.arxiv.org/rss/cs.LG</link>",
           "<description>cs.LG updates</description>" + channel_dates]
    for it in items:
        pub = f"<pubDate>{escape(it['pubDate'])}</pubDate>" if it.get("pubDate") else ""
        out.append(f"<item><title>{escape(it['rss_title'])}</title><link>{escape(it['rss_link'])}</link>"
                   f"<description>{escape(it['rss_description_first1000'])}</description>"
                   f"<guid isPermaLink=\"false\">oai:arXiv.org:{it['arxiv_id']}</guid>{pub}</item>")
    out.append("</channel></rss>")
    return "\n".join(out).encode()


def test_rss2_items_real_descriptions_all_announce_types():
    items = [json.loads(line) for line in fixture_path("arxiv_rss", "rss_items_new_format_sample.jsonl").open()]
    res = parse_feed(_rss_document(items), keep=None)
    assert len(res.papers) == len(items) and res.skipped == []
    by_id = {p.arxiv_id: p for p in res.papers}
    for it in items:
        p = by_id[it["arxiv_id"]]
        assert p.announce_type in {"new", "cross", "replace", "replace-cross"}
        assert p.abstract and not p.abstract.startswith("arXiv:")
    kept = parse_feed(_rss_document(items)).papers  # default new + cross
    assert {p.announce_type for p in kept} <= {"new", "cross"}
    assert len(kept) < len(items)


def test_description_with_double_space_before_abstract():
    aid, ver, kind, abstract = parse_description(
        "arXiv:2506.00244v2 Announce Type: replace  Abstract: We study things.")
    assert (aid, ver, kind, abstract) == ("2506.00244", 2, "replace", "We study things.")


def test_legacy_rdf_titles_give_id_version_and_clean_title():
    items = [json.loads(line) for line in fixture_path("arxiv_rss", "rss_items_old_format_sample.jsonl").open()]
    res = parse_feed(_rss_document(items), keep=None)
    assert len(res.papers) == len(items)
    p = {x.arxiv_id: x for x in res.papers}["2306.16270"]
    assert p.title == "S2SNet: A Pretrained Neural Network for Superconductivity Discovery"
    assert p.version == 1


@pytest.mark.parametrize("raw,expected", [
    ("2508.13426v1", ("2508.13426", 1)),
    ("oai:arXiv.org:2508.13426v12", ("2508.13426", 12)),
    ("https://arxiv.org/abs/2401.00001", ("2401.00001", None)),
    ("arXiv:hep-th/9901001v2", ("hep-th/9901001", 2)),
    ("https://arxiv.org/pdf/math.GT/0309136v1", ("math.GT/0309136", 1)),
    ("1204.5678", ("1204.5678", None)),  # 4-digit numbers until 1412
    ("10.48550/arXiv.2508.13426", ("2508.13426", None)),  # the DOI arXiv assigns
    # an archive written in capitals (as some reference lists do) is arXiv's lower-case one
    ("ARXIV:HEP-TH/9901001", ("hep-th/9901001", None)),
    ("arXiv:HEP-TH/9901001v2", ("hep-th/9901001", 2)),
    ("HEP-TH/9901001", ("hep-th/9901001", None)),
    ("ARXIV:2301.00001V3", ("2301.00001", 3)),
    ("MATH.gt/0309136", ("math.GT/0309136", None)),
    ("https://arxiv.org/abs/Hep-Th/9901001", ("hep-th/9901001", None)),
])
def test_split_arxiv_id_forms(raw, expected):
    assert split_arxiv_id(raw) == expected


@pytest.mark.parametrize("raw", [
    "not an id",
    "2513.01234",  # month 13: a typo
    "hep-th/9913001",
    "10.1109/ICSTW55395.2022.00035",  # a DOI's digits (month 95, 22) are not an arXiv id
    "12508.13426",  # digits glued in front
    "HEP-TH/9913001",  # month 13, in capitals
    "ARXIV:HEP-TH/990100",  # a number too short
])
def test_split_arxiv_id_rejects_garbage(raw):
    with pytest.raises(InvalidArxivId):
        split_arxiv_id(raw)


def test_html_error_page_is_a_clear_error():
    with pytest.raises(FeedParseError, match="not an RSS/Atom feed|malformed"):
        parse_feed(b"<html><body><h1>503 Service Unavailable</h1></body></html>")


def test_empty_weekend_feed_gives_no_papers():
    empty = b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>cs.AI updates</title></feed>'
    assert parse_feed(empty).papers == []


def test_feed_url_joins_categories():
    assert feed_url(["cs.LG", "cs.CL"], "rss") == "https://rss.arxiv.org/rss/cs.LG+cs.CL"
    with pytest.raises(ValueError):
        feed_url([])


def test_entries_without_a_description_header_fall_back_and_unreadable_ones_are_skipped():
    """An item whose description lacks the "arXiv:ID Announce Type:" header takes its id from the
    guid (or the link), its version too; an item with no id anywhere, or with no title, is skipped
    with a reason and its neighbours are kept."""
    items = [
        {"rss_title": "Plain item", "rss_link": "https://arxiv.org/abs/2506.00001",
         "rss_description_first1000": "Just an abstract.", "arxiv_id": "2506.00001v3"},
        {"rss_title": "Link only", "rss_link": "https://arxiv.org/abs/2506.00002v2",
         "rss_description_first1000": "Another abstract.", "arxiv_id": "not-an-id"},
        {"rss_title": "Nowhere", "rss_link": "https://example.org/paper",
         "rss_description_first1000": "No id anywhere.", "arxiv_id": "none"},
        {"rss_title": "", "rss_link": "https://arxiv.org/abs/2506.00004",
         "rss_description_first1000": "arXiv:2506.00004v1 Announce Type: new Abstract: Untitled.",
         "arxiv_id": "2506.00004v1"},
    ]
    res = parse_feed(_rss_document(items), keep=None)
    got = {p.arxiv_id: p for p in res.papers}
    assert set(got) == {"2506.00001", "2506.00002"}
    assert got["2506.00001"].version == 3 and got["2506.00001"].abstract == "Just an abstract."
    assert got["2506.00002"].version == 2  # the guid is no id; the link is
    skipped = dict(res.skipped)  # {position: reason}
    assert set(skipped) == {2, 3}
    assert "no arXiv id in entry 'Nowhere'" in skipped[2]
    assert "2506.00004 has no title" in skipped[3]


def test_legacy_rdf_cross_listed_titles_give_id_version_and_cross():
    """The legacy feed flags a cross-list with two words, ``(arXiv:2304.00485v1 [cs.CR] CROSS
    LISTED)``: every such real item (13 of 3,000 captured) gets its clean title, its version and
    announce type ``cross`` (the flagless items are ``new``, ``UPDATED`` ones ``replace``)."""
    items = [json.loads(line) for line in
             fixture_path("arxiv_rss", "rss_items_old_format_cross_listed.jsonl").open()]
    assert len(items) == 13 and all(it["rss_title"].endswith("CROSS LISTED)") for it in items)
    res = parse_feed(_rss_document(items), keep=None)
    assert res.skipped == [] and len(res.papers) == 13
    for it, p in zip(items, res.papers):
        assert p.arxiv_id == it["arxiv_id"]
        assert "arXiv:" not in p.title and not p.title.endswith(".")
        assert p.version is not None
        assert p.announce_type == "cross"
    first = res.papers[0]
    assert (first.title, first.version) == ("Graph Mining for Cybersecurity: A Survey", 1)
    assert {p.arxiv_id: p.version for p in res.papers}["2209.13974"] == 2
    assert len(parse_feed(_rss_document(items)).papers) == 13  # kept by the default new + cross


def test_legacy_rdf_flags_map_to_announce_types():
    items = [{"rss_title": f"A title. (arXiv:2306.0000{i}v{i} [cs.CL]{flag})", "arxiv_id": f"2306.0000{i}",
              "rss_link": f"http://arxiv.org/abs/2306.0000{i}", "rss_description_first1000": "Abstract."}
             for i, flag in enumerate(["", " UPDATED", " CROSS LISTED", " SOMETHING ELSE"], 1)]
    got = {p.arxiv_id: p for p in parse_feed(_rss_document(items), keep=None).papers}
    assert [got[f"2306.0000{i}"].announce_type for i in (1, 2, 3, 4)] == ["new", "replace", "cross", None]
    assert {p.title for p in got.values()} == {"A title"}
    assert [got[f"2306.0000{i}"].version for i in (1, 2, 3, 4)] == [1, 2, 3, 4]


def test_rss2_pubdate_rfc822_gives_published_in_its_own_offset():
    """RSS 2.0 dates are RFC 822 (``<pubDate>Mon, 16 Jun 2025 00:00:00 -0400</pubDate>``, midnight
    US Eastern, on rss.arxiv.org's items and channel): an item's own pubDate gives `published`,
    an item without one takes the channel's pubDate (and `updated` the channel's lastBuildDate)."""
    items = [json.loads(line) for line in fixture_path("arxiv_rss", "rss_items_new_format_sample.jsonl").open()][:3]
    items[0]["pubDate"] = "Fri, 13 Jun 2025 00:00:00 -0400"
    items[1]["pubDate"] = "Fri, 13 Jun 2025 23:30:00 -0400"  # 03:30 on the 14th in UTC: not converted
    res = parse_feed(_rss_document(items, "<lastBuildDate>Tue, 17 Jun 2025 04:00:33 +0000</lastBuildDate>"
                                          "<pubDate>Mon, 16 Jun 2025 00:00:00 -0400</pubDate>"), keep=None)
    got = {p.arxiv_id: p for p in res.papers}
    assert [got[it["arxiv_id"]].published for it in items] == ["2025-06-13", "2025-06-13", "2025-06-16"]
    assert got[items[2]["arxiv_id"]].updated == "2025-06-17"
    assert res.repaired == []


@pytest.mark.parametrize("value,expected", [
    ("Mon, 16 Jun 2025 00:00:00 -0400", "2025-06-16"),  # rss.arxiv.org <pubDate>
    ("Mon, 16 Jun 2025 23:59:59 -0400", "2025-06-16"),  # the string's own day, not UTC's
    ("Tue, 17 Jun 2025 01:00:00 +0200", "2025-06-17"),
    ("16 Jun 2025 00:00:00 GMT", "2025-06-16"),  # weekday optional, named zone
    ("Mon, 16 Jun 25 00:00:00 EDT", "2025-06-16"),  # RFC 822's two-digit year
    ("2025-08-20T00:00:00-04:00", "2025-08-20"),  # ISO 8601 as before (Atom, arXiv API, HF)
    ("2025-08-20", "2025-08-20"),
    ("Mon, 31 Feb 2025 00:00:00 -0400", None),  # no such day
    ("June 16, 2025", None),
    ("", None),
    (None, None),
])
def test_iso_date_reads_iso_8601_and_rfc_822(value, expected):
    assert iso_date(value) == expected


def test_author_names_have_their_inner_whitespace_collapsed():
    """A no-break space, tab or line break inside a dc:creator name is stored as one space:
    kept verbatim it showed in Slack and, JSON-escaped in the store's full-text index
    (``Sukai\\tHuang``), glued to the next word, so an author search or follow missed it."""
    creator = "<dc:creator>Chunhua Liu, Kabir Manandhar Shrestha, Sukai Huang</dc:creator>"
    assert creator.encode() in ATOM
    wrapped = ATOM.replace(creator.encode(), "<dc:creator>Chunhua\u00a0Liu, Kabir  Manandhar\n   Shrestha,"
                                             "\tSukai\tHuang</dc:creator>".encode())
    first = parse_feed(wrapped).papers[0]
    assert first.authors == ["Chunhua Liu", "Kabir Manandhar Shrestha", "Sukai Huang"]


def test_without_subject_class_gives_arxivs_lower_case_archive():
    assert without_subject_class("MATH.GT/0309136") == "math/0309136"
    assert without_subject_class("HEP-TH/9901001") == "hep-th/9901001"
    assert without_subject_class("2301.00001") == "2301.00001"
    assert canonical_arxiv_id("MATH.gt/0309136") == "math.GT/0309136"
