"""Author follows match whole author names; `/papers search author:` stays a substring filter.

`tests/fixtures/corpus_author_wei_li.jsonl` holds the 20 real corpus papers that following
"Wei Li" used to bring in (the newest 20 with "wei li" inside an author name): 4 are by Wei Li,
16 by Wei Liu, Zhiwei Li, Junwei Liao and 12 other people.
"""
import json

import pytest

from feeds.corpus import CorpusReader
from feeds.records import Paper, norm_author
from paperbot.service import PaperbotService
from recommender.profiles import profile_for_user
from recommender.search import search
from store import Store
from tests.bot_harness import make_config
from tests.conftest import fixture_path

WEI_LI = fixture_path("corpus_author_wei_li.jsonl")


@pytest.fixture
def wei_li_store(store: Store) -> Store:
    store.bulk_upsert_papers(CorpusReader(WEI_LI))
    return store


def _by(name: str) -> list[str]:
    """Fixture papers with `name` exactly among their authors, newest first (as stored)."""
    rows = [json.loads(line) for line in WEI_LI.open()]
    rows = [r for r in rows if name in r["authors"]]
    return [r["arxiv_id"] for r in sorted(rows, key=lambda r: (-int(r["published"].replace("-", "")), r["arxiv_id"]))]


def test_following_an_author_counts_only_that_persons_papers(wei_li_store):
    assert len(_by("Wei Li")) == 4
    wei_li_store.add_follow("U1", "author", "Wei Li")
    prof = profile_for_user(wei_li_store, "U1")
    assert [p.arxiv_id for p in prof.positives] == _by("Wei Li")
    assert all("Wei Li" in p.authors for p in prof.positives)
    assert prof.follows == ["author Wei Li"]
    wei_li_store.add_follow("U2", "author", "Wei Liu")
    assert [p.arxiv_id for p in profile_for_user(wei_li_store, "U2").positives] == _by("Wei Liu")


def test_follow_reply_counts_the_papers_the_follow_brings(wei_li_store, tmp_path):
    service = PaperbotService(make_config(tmp_path), wei_li_store, poster=None, poll_max_age_s=None)
    assert service.follow_author("U1", "Wei Li") == "You now follow Wei Li (4 stored papers)."
    assert service.follow_author("U1", "Meimingwei Li") == "You now follow Meimingwei Li (1 stored paper)."


def test_author_follows_ignore_case_and_spacing_and_keep_the_first_spelling(wei_li_store, tmp_path):
    service = PaperbotService(make_config(tmp_path), wei_li_store, poster=None, poll_max_age_s=None)
    assert service.follow_author("U1", "wei li") == "You now follow wei li (4 stored papers)."
    assert service.follow_author("U1", "WEI  LI") == "You already follow wei li."
    assert service.follow_author("U1", "Wei Liu").startswith("You now follow Wei Liu")  # another person
    assert sorted(wei_li_store.follows("U1")["author"]) == ["Wei Liu", "wei li"]
    assert service.follow_author("U1", "Wei Li", follow=False) == "Unfollowed wei li."
    assert wei_li_store.follows("U1")["author"] == ["Wei Liu"]
    assert service.follow_author("U1", "Wei Li", follow=False) == "You do not follow Wei Li."


def test_search_author_filter_stays_a_substring_match(wei_li_store):
    """A search is a query: ``author:"Wei Li"`` casts the wide net it always did (Wei Liu
    included), and ``author:Liao`` finds a surname alone, which a whole-name match would not."""
    found = {h.paper.arxiv_id for h in search(wei_li_store, None, 'author:"Wei Li"', limit=50)}
    assert set(_by("Wei Li")) | set(_by("Wei Liu")) <= found
    assert len(found) > len(_by("Wei Li")) + len(_by("Wei Liu"))
    liao = search(wei_li_store, None, "author:Liao", limit=50)
    assert {a for n in ("Junwei Liao", "Yiwei Liao") for a in _by(n)} <= {h.paper.arxiv_id for h in liao}
    assert all(any("liao" in a.lower() for a in h.paper.authors) for h in liao)
    assert wei_li_store.author_paper_ids("Liao") == []  # a follow wants the whole name


def test_author_paper_ids_whole_name_after_normalisation(store):
    papers = [
        Paper(arxiv_id="2501.00001", title="a", authors=["Wei Li", "Bo Chen"], published="2025-01-01"),
        Paper(arxiv_id="2501.00002", title="b", authors=["Wei Liu"], published="2025-01-02"),
        Paper(arxiv_id="2501.00003", title="c", authors=["Zhiwei Li", "Li Wei"], published="2025-01-03"),
        Paper(arxiv_id="2501.00004", title="d", authors=["X. Y.", "WEI LI"], published="2025-01-04"),
        Paper(arxiv_id="2501.00005", title="e", authors=["Zhang Wei", "Li Bo"], published="2025-01-05"),
        Paper(arxiv_id="2501.00006", title="f", authors=["Laëtitia Matignon", "J. Smith"], published="2025-01-06"),
        Paper(arxiv_id="2501.00007", title="g", authors=["Doğukan Bağcı", "Kağan ÇETİN"], published="2025-01-07"),
        Paper(arxiv_id="2501.00008", title="h", authors=["Conor O’Brien", "李伟"], published="2025-01-08"),
        Paper(arxiv_id="2501.00009", title="i", authors=["Wei Li"], published=None),
    ]
    store.upsert_papers(papers)
    ids = store.author_paper_ids
    assert ids("Wei Li") == ["2501.00004", "2501.00001", "2501.00009"]  # newest first, undated last
    assert ids("  wei   LI ") == ids("Wei Li") and ids("Wei Li", limit=2) == ["2501.00004", "2501.00001"]
    assert ids("Li Wei") == ["2501.00003"] and ids("Wei Liu") == ["2501.00002"]
    assert ids("Li") == [] and ids("Wei") == [] and ids("") == [] and ids("...") == []
    assert ids("J Smith") == ids("j. smith") == ["2501.00006"]
    # non-ASCII names: JSON-escaped in the full-text index, still found
    assert ids("laëtitia matignon") == ["2501.00006"] and ids("Laetitia Matignon") == []
    assert ids("Doğukan Bağcı") == ["2501.00007"] and ids("Kağan ÇETİN") == ["2501.00007"]
    assert ids("Conor O’Brien") == ["2501.00008"] and ids("李伟") == ["2501.00008"]
    assert ids("Conor O'Brien") == []  # another spelling is another name


def test_norm_author():
    assert norm_author("  Wei   LI ") == "wei li"
    assert norm_author("J.-P. Smith") == "j -p smith"
    assert norm_author("Wei Li") != norm_author("Wei Liu")


def test_search_author_filter_finds_non_ascii_names(store):
    """The filter-only search narrows through the FTS5 authors column, which holds JSON text
    (``La\\u00ebtitia``): a word with a non-ASCII letter is not looked up there, so
    ``author:"Laëtitia Matignon"`` finds the paper instead of nothing."""
    store.upsert_papers([
        Paper(arxiv_id="2606.29980", title="Exploration and Online Transfer with Behavioral Foundation Models",
              authors=["Louis Bagot", "Mathieu Lefort", "Laëtitia Matignon"], published="2026-06-30"),
        Paper(arxiv_id="2501.00002", title="b", authors=["Jürgen Schmidhuber"], published="2025-01-02"),
        Paper(arxiv_id="2501.00003", title="c", authors=["Łukasz Kaiser"], published="2025-01-03"),
    ])
    for query, expected in [('author:"Laëtitia Matignon"', ["2606.29980"]), ("author:Laëtitia", ["2606.29980"]),
                            ("author:Matignon", ["2606.29980"]), ("author:Jürgen", ["2501.00002"]),
                            ('author:"Jürgen Schmidhuber"', ["2501.00002"]), ("author:Łukasz", ["2501.00003"]),
                            ('author:"Łukasz Kaiser"', ["2501.00003"])]:
        assert [h.paper.arxiv_id for h in search(store, None, query)] == expected, query
