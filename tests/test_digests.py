"""paperbot.digests: one digest per subject, sharing the background and candidate rows."""
from datetime import date

import numpy as np

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


def test_the_candidate_set_is_read_once_and_follows_changed_rows(store, monkeypatch):
    """Digests of one hour share one decoded candidate set; a changed row (new HF upvotes) is
    re-read alone, even when its last_seen stamp did not move."""
    from datetime import datetime, timedelta, timezone

    import store.store as store_module

    now = datetime.now(timezone.utc)
    stamp = lambda hours: (now - timedelta(hours=hours)).isoformat(timespec="seconds")  # noqa: E731
    monkeypatch.setattr(store_module, "utcnow", lambda: stamp(3))
    model, curated, feed = _world(store)
    reads: list[str] = []
    real_get_papers = store.get_papers

    def counting_get_papers(ids):
        ids = list(ids)
        reads.extend(ids)
        return real_get_papers(ids)

    monkeypatch.setattr(store, "get_papers", counting_get_papers)
    profile = Profile(positives=curated, follows=["rlhf_code"])
    day = date(2026, 11, 20)
    first = digests.profile_digest("U1", "t", profile, store, model, day, None, 5)
    # every recent paper, decoded once (curated papers are not announcements: not in the window)
    assert sorted(reads) == sorted({p.arxiv_id for p in feed})
    reads.clear()
    second = digests.profile_digest("U2", "t", profile, store, model, day, None, 5)
    assert reads == [] and [r.paper.arxiv_id for r in second.items] == [r.paper.arxiv_id for r in first.items]

    target = first.items[0].paper
    monkeypatch.setattr(store_module, "utcnow", lambda: stamp(2))
    store.upsert_papers([Paper(target.arxiv_id, target.title, target.abstract, hf_upvotes=250)])
    third = digests.profile_digest("U3", "t", profile, store, model, day, None, 5)
    assert reads == [target.arxiv_id]  # only the changed row is read again
    assert next(r for r in third.items if r.paper.arxiv_id == target.arxiv_id).paper.hf_upvotes == 250

    # two revisions stamped with the same last_seen (the clock stands still, or a write
    # transaction took its stamp before a read and committed after it): each is seen, because
    # the memo keys on the store's change_seq, which follows commit order
    reads.clear()
    monkeypatch.setattr(store_module, "utcnow", lambda: stamp(1))
    store.upsert_papers([Paper(target.arxiv_id, target.title, target.abstract, hf_upvotes=300)])
    fourth = digests.profile_digest("U4", "t", profile, store, model, day, None, 5)
    store.upsert_papers([Paper(target.arxiv_id, target.title, target.abstract, hf_upvotes=400)])
    fifth = digests.profile_digest("U5", "t", profile, store, model, day, None, 5)
    assert reads == [target.arxiv_id, target.arxiv_id]
    assert next(r for r in fourth.items if r.paper.arxiv_id == target.arxiv_id).paper.hf_upvotes == 300
    assert next(r for r in fifth.items if r.paper.arxiv_id == target.arxiv_id).paper.hf_upvotes == 400
    # and with nothing changed, the next digest reads nothing
    reads.clear()
    digests.profile_digest("U6", "t", profile, store, model, day, None, 5)
    assert reads == []


def test_a_new_version_of_a_candidate_is_scored_on_its_new_text(store):
    model, curated, feed = _world(store)
    profile = Profile(positives=curated, follows=["rlhf_code"])
    day = date(2026, 11, 20)
    first = digests.profile_digest("U1", "t", profile, store, model, day, None, 5)
    top = first.items[0].paper
    store.upsert_papers([Paper(top.arxiv_id, "Galaxy photometry", "Stellar mass functions of galaxies from deep "
                               "imaging surveys.", version=(top.version or 1) + 1)])
    second = digests.profile_digest("U2", "t", profile, store, model, day, None, 200)
    # reference: the same background vector, every candidate read and transformed afresh
    from recommender.scoring import rank_profile

    cands = [p for p in store.papers_first_seen_since(digests.candidate_window_start(7))
             if p.arxiv_id not in store.curated_ids()]
    bg = digests._MEMO.background(store, model, store.curated_ids(), digests.candidate_window_start(7))
    fresh = rank_profile(model, profile.positives, cands, profile.negatives, profile.likes, bg)
    got = {r.paper.arxiv_id: (r.paper.title, round(r.score, 9)) for r in second.items}
    assert got == {r.paper.arxiv_id: (r.paper.title, round(r.score, 9)) for r in fresh}
    assert got[top.arxiv_id][0] == "Galaxy photometry" and got[top.arxiv_id][1] != round(first.items[0].score, 9)


def test_the_candidate_window_starts_at_the_hour():
    from datetime import datetime, timezone

    at = datetime(2026, 11, 21, 9, 41, 17, tzinfo=timezone.utc)
    assert digests.candidate_window_start(7, at) == "2026-11-14T09:00:00+00:00"


def test_an_empty_digest_names_failed_sources_first_even_at_the_weekend():
    saturday, monday = date(2026, 11, 21), date(2026, 11, 23)
    assert digests.empty_reason(saturday, 0, None, n_failed_sources=3) == (
        "No new papers: 3 source(s) failed this run (and arXiv announces nothing at weekends); "
        "see `paperbot status`.")
    assert digests.empty_reason(monday, 0, None, n_failed_sources=1) == (
        "No new papers: 1 source(s) failed this run; see `paperbot status`.")
    assert digests.empty_reason(saturday, 0, None) == "No new papers: arXiv announces nothing on Saturdays and Sundays."
    assert digests.empty_reason(monday, 0, None).startswith("No new papers since the last digest")
    assert digests.empty_reason(monday, 12, None) == "12 new papers, none to recommend."
    assert digests.empty_reason(monday, 12, 0.05) == "12 new papers, none scored above the threshold (0.05)."


def test_channel_title_has_the_hash_whichever_way_the_channel_was_created():
    from paperbot.config import ChannelConfig
    day = date(2026, 11, 20)
    assert digests.channel_title(ChannelConfig(id="C5", name="#rl-for-code"), day) == \
        "Paper digest · #rl-for-code · 2026-11-20"  # config file
    assert digests.channel_title(ChannelConfig(id="C1", name="general"), day) == \
        "Paper digest · #general · 2026-11-20"  # created by /papers subscribe (Slack's channel_name)
    for unnamed in ("", "privategroup", "#"):
        assert digests.channel_title(ChannelConfig(id="G123", name=unnamed), day) == "Paper digest · G123 · 2026-11-20"


def test_a_paper_with_no_known_word_is_never_recommended_and_is_counted(store):
    """A candidate whose TF-IDF row is empty (Chinese-only text; a bare "Erratum" title) scores
    exactly 0, above most on-topic papers (the query subtracts 1.5 × the background): it used to
    head the digest with the first curated paper as its "closest" at similarity 0.00."""
    model, curated, feed = _world(store)
    odd = [Paper("2611.99901", "基于人类反馈的强化学习", "本文研究了大型语言模型的对齐问题，提出了一种新的奖励模型训练方法。"),
           Paper("2611.99902", "Erratum", "")]
    store.upsert_papers(odd)
    assert model.papers_matrix(odd).nnz == 0
    profile = Profile(positives=curated, follows=["rlhf_code"])
    day = date(2026, 11, 20)
    digest = digests.profile_digest("U1", "t", profile, store, model, day, None, 200)
    shown = [r.paper.arxiv_id for r in digest.items]
    assert shown and not {"2611.99901", "2611.99902"} & set(shown)
    assert digest.n_without_terms == 2 and digest.n_candidates == len(feed) + 2 == len(shown) + 2
    assert "(2 not ranked: no word the model knows)" in digest.summary
    assert all(r.nearest_sim > 0 for r in digest.items if r.nearest_title)


def test_an_empty_digest_says_when_no_new_paper_has_a_known_word():
    monday = date(2026, 11, 23)
    assert digests.empty_reason(monday, 3, None, n_without_terms=3) == (
        "3 new papers, none with a word the model knows (non-English text, or a title without an abstract).")
    assert digests.empty_reason(monday, 3, None, n_without_terms=1) == "3 new papers, none to recommend."


def test_a_channel_whose_follows_have_no_known_word_gets_an_empty_digest_saying_why(store):
    """A channel following only "强化学习" (or "the and of") has a zero positive centroid: its query
    was −1.5·background and its digest listed ten papers least like the feed, each explained as
    `closest: 强化学习 (0.00)`, with no empty_reason."""
    from paperbot.config import ChannelConfig
    model, curated, feed = _world(store)
    day = date(2026, 11, 20)
    for i, kw in enumerate(["强化学习", "the and of"]):
        ch = ChannelConfig(id=f"C{i}", name="x", collections=[], keywords=[kw])
        d = digests.channel_digest(ch, store, model, day)
        assert d.items == [] and d.n_candidates == len(feed)
        assert d.empty_reason.startswith("None of this channel's follows has a word the model knows")
        assert "English keyword" in d.empty_reason
    # the same keyword next to a collection is harmless: the collection's words drive the digest
    ch = ChannelConfig(id="C9", name="x", collections=["rlhf_code"], keywords=["强化学习"])
    d = digests.channel_digest(ch, store, model, day)
    assert len(d.items) == 10 and d.empty_reason is None


def test_a_person_whose_likes_have_no_known_word_gets_an_empty_dm_digest_saying_why(store):
    model, curated, feed = _world(store)
    unknown = Paper("2611.99903", "基于人类反馈的强化学习", "本文研究了大型语言模型的对齐问题。")
    d = digests.profile_digest("U1", "t", Profile(likes=[unknown]), store, model, date(2026, 11, 20), None, 5,
                               no_terms="nothing known")
    assert d.items == [] and d.empty_reason == "nothing known"


def _history(store, monkeypatch, n):
    """`n` papers on an unrelated topic first stored a month before the candidate window."""
    import store.store as store_mod

    old = [Paper(f"2510.{i:05d}", f"Galaxy survey photometry {i}", "Stellar mass functions of galaxies from deep "
                 "imaging surveys and photometric redshifts.") for i in range(n)]
    real = store_mod.utcnow
    monkeypatch.setattr(store_mod, "utcnow", lambda: "2000-01-01T00:00:00+00:00")
    store.upsert_papers(old)
    monkeypatch.setattr(store_mod, "utcnow", real)
    return old


def test_background_is_sampled_before_the_candidate_window(store, monkeypatch):
    """The background is the papers stored before the window (as `paperbot eval` measures it):
    it sampled the whole store, whose latest papers are the candidates being ranked."""
    from recommender.ranker import background_vector

    model, curated, feed = _world(store)
    old = _history(store, monkeypatch, digests.BACKGROUND_MIN_HISTORY)
    since = digests.candidate_window_start(7)
    bg = digests._MEMO.background(store, model, store.curated_ids(), since)
    assert np.allclose(bg, background_vector(model.papers_matrix(old)))
    whole = digests._MEMO.background(store, model, store.curated_ids())  # no window: the whole store
    assert not np.allclose(whole, bg)
    # and a digest uses the pre-window background
    day = date(2026, 11, 20)
    profile = Profile(positives=curated, follows=["rlhf_code"])
    seen = []
    real = digests._MEMO.background
    monkeypatch.setattr(digests._MEMO, "background", lambda *a: seen.append(a[-1]) or real(*a))
    digests.profile_digest("U1", "t", profile, store, model, day, None, 5)
    assert seen == [since]


def test_background_falls_back_to_the_whole_store_on_a_new_install(store, monkeypatch):
    from recommender.ranker import background_vector

    model, curated, feed = _world(store)
    _history(store, monkeypatch, digests.BACKGROUND_MIN_HISTORY - 1)
    since = digests.candidate_window_start(7)
    bg = digests._MEMO.background(store, model, store.curated_ids(), since)
    sample = store.sample_papers(digests.BACKGROUND_SIZE, exclude=store.curated_ids())
    assert len(sample) > digests.BACKGROUND_MIN_HISTORY  # the window's papers are in it
    assert np.allclose(bg, background_vector(model.papers_matrix(sample)))
