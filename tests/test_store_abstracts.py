"""A corpus abstract cut short (``abstract_truncated``) is repaired by a complete one, whatever
the order the two arrive in, through either write path."""
import json

import pytest

from feeds.corpus import CorpusReader, parse_corpus_line
from feeds.hf_daily import parse_daily_papers
from feeds.records import Paper, clean_text
from tests.conftest import fixture_path

CUT = fixture_path("corpus_cnchatarxiv_truncated.jsonl")
FULL = fixture_path("corpus_hf_daily_full.jsonl")


def _full_abstracts():
    return {o["arxiv_id"]: clean_text(o["abstract"])
            for o in map(json.loads, FULL.read_text().splitlines())}


def test_the_corpus_reader_flags_truncated_abstracts():
    cut = list(CorpusReader(CUT))
    assert [p.arxiv_id for p in cut] == ["2509.24900", "2608.11215"]
    assert all(p.abstract_truncated and p.abstract for p in cut)
    assert not any(p.abstract_truncated for p in CorpusReader(FULL))


@pytest.mark.parametrize("bulk", [False, True])
@pytest.mark.parametrize("order", ["cut first", "full first"])
def test_a_complete_abstract_replaces_a_truncated_one_in_either_order(store, order, bulk):
    files = [CUT, FULL] if order == "cut first" else [FULL, CUT]
    for f in files:  # as `paperbot import-corpus` of the two supplements does
        papers = list(CorpusReader(f))
        (store.bulk_upsert_papers if bulk else store.upsert_papers)(papers)
    full = _full_abstracts()
    for aid in ("2509.24900", "2608.11215"):  # a prefix of the full text, and one that is not
        p = store.get_paper(aid)
        assert p.abstract == full[aid] and not p.abstract_truncated
        assert sorted(p.sources) == ["corpus"]


def test_an_hf_daily_poll_repairs_a_truncated_corpus_abstract(store):
    store.upsert_papers(CorpusReader(CUT))
    full = json.loads(FULL.read_text().splitlines()[1])  # 2608.11215: LaTeX in the cut copy, no prefix
    day = [{"paper": {"id": full["arxiv_id"], "title": full["title"], "summary": full["abstract"],
                      "authors": [{"name": a} for a in full["authors"]], "publishedAt": "2026-08-12T00:00:00Z"}}]
    counts = store.upsert_papers(parse_daily_papers(json.dumps(day)).papers)
    p = store.get_paper("2608.11215")
    assert counts["updated"] == 1 and p.abstract == clean_text(full["abstract"]) and not p.abstract_truncated


def test_an_unflagged_cut_copy_is_repaired_by_the_text_it_starts_and_never_wins():
    # rows stored before the flag existed: a text that starts another is the shorter copy of it
    from store.store import _merge_abstract
    whole = "We study reward models. They overfit. We fix that."
    assert _merge_abstract({"abstract": whole[:20]}, {"abstract": whole}, newer=False) == (whole, 0)
    assert _merge_abstract({"abstract": whole}, {"abstract": whole[:20]}, newer=True) == (whole, 0)
    # a flagged cut copy never replaces a complete text, not even as a newer version
    assert _merge_abstract({"abstract": "Another text."}, {"abstract": "A", "abstract_truncated": 1},
                           newer=True) == ("Another text.", 0)
    # two unrelated complete texts: the newer version wins, as for the other fields
    assert _merge_abstract({"abstract": "Old."}, {"abstract": "New."}, newer=True) == ("New.", 0)
    assert _merge_abstract({"abstract": "Old."}, {"abstract": "New."}, newer=False) == ("Old.", 0)


def test_truncated_flag_round_trips_and_a_missing_abstract_is_not_truncated(store):
    paper, _ = parse_corpus_line(json.dumps({"arxiv_id": "2501.00001", "title": "T", "abstract": "",
                                             "abstract_truncated": True}))
    assert not paper.abstract_truncated
    store.upsert_papers([Paper("2501.00002", "T", "Cut ab", abstract_truncated=True)])
    assert store.get_paper("2501.00002").abstract_truncated is True
