"""paperbot.digests: one digest per subject, sharing the background and candidate rows."""
from datetime import date

from feeds.arxiv_api import parse_response
from feeds.curated import load_curated
from feeds.records import Paper
from paperbot import digests
from recommender.profiles import Profile
from recommender.tfidf import TfidfModel, paper_text
from tests.conftest import api_exchange, fixture_path


class CountingModel(TfidfModel):
    """The real model, counting how many papers it transforms."""

    transformed = 0

    def papers_matrix(self, papers):
        type(self).transformed += len(papers)
        return super().papers_matrix(papers)


def _world(store):
    curated = load_curated(fixture_path("seeds", "papers_database.sample.json")).collections["rlhf_code"]
    feed = parse_response(api_exchange("q_testing_s0_m100_cfe7536492ca.json")["body"].encode()).result.papers
    store.upsert_papers(curated)
    store.add_to_collection("rlhf_code", [p.arxiv_id for p in curated])
    store.upsert_papers(feed)
    fitted = TfidfModel.fit([paper_text(p.title, p.abstract) for p in curated + feed])
    model = CountingModel.__new__(CountingModel)
    model.__dict__.update(fitted.__dict__)
    CountingModel.transformed = 0
    return model, curated, feed


def test_digests_of_one_run_share_the_background_and_candidate_rows(store):
    model, curated, feed = _world(store)
    profile = Profile(positives=curated, follows=["rlhf_code"])
    day = date(2026, 11, 20)
    first = digests.profile_digest("U1", "t", profile, store, model, day, None, 5)
    after_first = CountingModel.transformed
    second = digests.profile_digest("U2", "t", profile, store, model, day, None, 5)
    # the second subject transforms only its own positives: no background, no candidates
    assert CountingModel.transformed - after_first == len(curated)
    assert [r.paper.arxiv_id for r in second.items] == [r.paper.arxiv_id for r in first.items]
    assert len(first.items) == 5 and all(r.terms for r in first.items)


def test_new_papers_in_the_store_refresh_the_shared_background(store):
    model, curated, feed = _world(store)
    profile = Profile(positives=curated, follows=["rlhf_code"])
    day = date(2026, 11, 20)
    digests.profile_digest("U1", "t", profile, store, model, day, None, 5)
    bg_before = digests._MEMO.background(store, model, store.curated_ids()).copy()
    extra = [Paper(f"2611.{i:05d}", f"Galaxy survey photometry {i}", "Stellar mass functions of galaxies from deep "
                   "imaging surveys and photometric redshifts.") for i in range(60)]
    store.upsert_papers(extra)
    bg_after = digests._MEMO.background(store, model, store.curated_ids())
    assert not (bg_before == bg_after).all()
    # a new model object (a refit) starts from scratch as well
    other = CountingModel.__new__(CountingModel)
    other.__dict__.update(model.__dict__)
    CountingModel.transformed = 0
    digests.profile_digest("U1", "t", profile, store, other, day, None, 5)
    assert CountingModel.transformed >= len(feed)
