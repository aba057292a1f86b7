"""TF-IDF scoring against a curated collection, with truthful explanations."""
import json

from feeds.arxiv_api import parse_response
from feeds.curated import load_curated
from feeds.records import Paper
from recommender.scoring import Recommendation, rank
from recommender.tfidf import TfidfModel, paper_text
from tests.conftest import api_exchange, fixture_path


def _corpus_sample() -> dict[str, Paper]:
    """Real corpus papers (tests/fixtures/corpus_sample.jsonl): 3 RL-for-code, 3 unrelated."""
    out = {}
    for line in fixture_path("corpus_sample.jsonl").open():
        d = json.loads(line)
        out[d["arxiv_id"]] = Paper(d["arxiv_id"], d["title"], d["abstract"], d["authors"], categories=d["categories"])
    return out


def _setup():
    curated = load_curated(fixture_path("seeds", "papers_database.sample.json")).collections["rlhf_code"]
    background = parse_response(api_exchange("q_testing_s0_m100_cfe7536492ca.json")["body"].encode()).result.papers
    sample = _corpus_sample()
    rl = sample["2505.11480"]  # Improving Assembly Code Performance with LLMs via Reinforcement Learning
    unrelated = sample["2503.18578"]  # Galaxy Walker: geometry-aware VLMs for galaxy-scale understanding
    model = TfidfModel.fit([paper_text(p.title, p.abstract) for p in curated + background + list(sample.values())])
    return model, curated, rl, unrelated


def test_rl_paper_ranks_above_unrelated_for_rlhf_code():
    model, curated, rl, unrelated = _setup()
    ranked = rank(model, curated, [unrelated, rl])
    assert [r.paper.arxiv_id for r in ranked] == [rl.arxiv_id, unrelated.arxiv_id]
    assert ranked[0].score > ranked[1].score + 0.05


def test_all_rl_for_code_papers_outrank_all_unrelated_ones():
    model, curated, _, _ = _setup()
    sample = _corpus_sample()
    ranked = [r.paper.arxiv_id for r in rank(model, curated, list(sample.values()))]
    assert set(ranked[:3]) == {"2505.11480", "2505.16400", "2505.21668"}


def _model_terms(model, paper) -> set[str]:
    """The vocabulary terms the model finds in `paper` (its TF-IDF row's columns)."""
    return {str(model.terms[j]) for j in model.papers_matrix([paper]).indices}


def _check_truthful(model, curated, recs):
    """Every named term is where the explanation says it is: the "sharing" terms occur in both the
    paper and its closest curated paper, the profile terms in the paper and in some curated paper."""
    by_id = {p.arxiv_id: p for p in curated}
    in_curated = set().union(*(_model_terms(model, p) for p in curated))
    for r in recs:
        mine = _model_terms(model, r.paper)
        assert r.terms and set(r.terms) <= mine & in_curated
        nearest = by_id[r.nearest_id]
        assert r.nearest_terms and set(r.nearest_terms) <= mine & _model_terms(model, nearest)
        why = r.why
        assert why.startswith("matches the profile on ") and nearest.title[:80] in why
        shared_part = why.split(", sharing ", 1)[1]
        assert shared_part == ", ".join(f'"{t}"' for t in r.nearest_terms)


def test_explanation_terms_are_in_both_the_paper_and_the_nearest_curated_paper():
    model, curated, rl, _ = _setup()
    (top,) = rank(model, curated, [rl])
    assert top.nearest_sim > 0
    _check_truthful(model, curated, [top])


def test_production_explanations_name_shared_terms_that_occur_in_both_papers():
    """The "Why:" line used to read `shares X · closest: Y` with X taken from the profile's query,
    so a third of the named terms were not in Y; now the query terms are labelled as matching the
    profile and only terms in both papers are named next to Y."""
    from recommender.scoring import rank_profile
    model, curated, background, sample = _production_setup()
    ranked = rank_profile(model, curated, list(sample.values()), background=background)
    _check_truthful(model, curated, ranked[:3])


def test_negative_feedback_lowers_similar_papers():
    model, curated, rl, unrelated = _setup()
    before = rank(model, curated, [rl])[0].score
    twin = Paper("0000.00002", rl.title, rl.abstract)
    after = rank(model, curated, [rl], negatives=[twin])[0].score
    assert after < before


def _production_setup():
    from feeds.arxiv_api import parse_response as _pr
    curated = load_curated(fixture_path("seeds", "papers_database.sample.json")).collections["rlhf_code"]
    background = _pr(api_exchange("q_testing_s0_m100_cfe7536492ca.json")["body"].encode()).result.papers
    sample = _corpus_sample()
    model = TfidfModel.fit([paper_text(p.title, p.abstract) for p in curated + background + list(sample.values())])
    return model, curated, background, sample


def test_production_ranker_ranks_rl_for_code_first_and_explains_truthfully():
    from recommender.scoring import rank_profile
    model, curated, background, sample = _production_setup()
    ranked = rank_profile(model, curated, list(sample.values()), background=background)
    assert {r.paper.arxiv_id for r in ranked[:3]} == {"2505.11480", "2505.16400", "2505.21668"}
    top = ranked[0]
    text = paper_text(top.paper.title, top.paper.abstract).lower()
    assert top.terms and all(all(w in text for w in t.split()) for t in top.terms)
    assert top.nearest_id in {p.arxiv_id for p in curated}


def test_production_ranker_thumbs_up_moves_neighbours_up_and_down_moves_them_down():
    from recommender.scoring import rank_profile
    model, curated, background, sample = _production_setup()
    cands = list(sample.values())
    protein = sample["2503.19186"]  # Protein structure–function (unrelated to the collection)
    twin = Paper("0000.00003", protein.title, protein.abstract)  # a 👍/👎 on a near-duplicate

    def score_of(**kw):
        return {r.paper.arxiv_id: r.score for r in rank_profile(model, curated, cands, background=background, **kw)}
    base = score_of()
    liked = score_of(likes=[twin])
    disliked = score_of(negatives=[Paper("0000.00004", sample["2505.16400"].title, sample["2505.16400"].abstract)])
    assert liked["2503.19186"] > base["2503.19186"]
    assert disliked["2505.16400"] < base["2505.16400"]


def test_production_ranker_shortcuts_keep_scores_and_order():
    """A shared background vector, precomputed candidate rows and explain_top change the cost,
    not the result: same order and scores; only the best explain_top papers carry an explanation."""
    import numpy as np

    from recommender.ranker import background_vector
    from recommender.scoring import rank_profile
    model, curated, background, sample = _production_setup()
    cands = list(sample.values())
    full = rank_profile(model, curated, cands, background=background)
    fast = rank_profile(model, curated, cands, background=background_vector(model.papers_matrix(background)),
                        explain_top=2, candidate_matrix=model.papers_matrix(cands))
    assert [r.paper.arxiv_id for r in fast] == [r.paper.arxiv_id for r in full]
    assert np.allclose([r.score for r in fast], [r.score for r in full])
    assert [r.terms for r in fast[:2]] == [r.terms for r in full[:2]] and all(r.terms for r in fast[:2])
    assert [r.nearest_id for r in fast[:2]] == [r.nearest_id for r in full[:2]]
    assert all(not r.terms and r.nearest_id is None for r in fast[2:])


def test_production_ranker_rejects_a_candidate_matrix_of_the_wrong_height():
    import pytest

    from recommender.scoring import rank_profile
    model, curated, background, sample = _production_setup()
    cands = list(sample.values())
    with pytest.raises(ValueError, match="rows for"):
        rank_profile(model, curated, cands, candidate_matrix=model.papers_matrix(cands[:-1]))


def test_why_cuts_a_long_nearest_title_with_an_ellipsis_and_keeps_a_short_one_whole():
    paper = Paper("2501.00001", "t", "a")
    long_title = "Fly, Fail, Fix: Iterative Game Repair with Reinforcement Learning and Large Multimodal Models"
    assert len(long_title) > 90
    why = Recommendation(paper, 0.1, nearest_title=long_title, nearest_sim=0.16).why
    shown = why.removeprefix("closest: ").removesuffix(" (0.16)")
    assert shown.endswith("…") and len(shown) == 90 and long_title.startswith(shown[:-1])
    assert Recommendation(paper, 0.1, nearest_title="PPOCoder", nearest_sim=0.41).why == "closest: PPOCoder (0.41)"
    assert Recommendation(paper, 0.1, terms=["ppo", "reward model"], nearest_title="PPOCoder", nearest_sim=0.41,
                          nearest_terms=["ppo"]).why == (
        'matches the profile on "ppo", "reward model" · closest: PPOCoder (0.41), sharing "ppo"')


def test_a_paper_sharing_no_term_with_any_positive_names_no_closest_paper():
    """argmax of all-zero cosines is index 0: the first curated paper used to be named
    "closest (0.00)" for a paper with no known word."""
    from recommender.scoring import rank_profile
    model, curated, background, sample = _production_setup()
    empty = Paper("2611.99902", "Erratum", "")
    rl = sample["2505.11480"]
    assert model.papers_matrix([empty]).nnz == 0
    for ranked in (rank_profile(model, curated, [empty, rl], background=background), rank(model, curated, [empty, rl])):
        by_id = {r.paper.arxiv_id: r for r in ranked}
        assert by_id[empty.arxiv_id].nearest_id is None and by_id[empty.arxiv_id].nearest_title is None
        assert "closest" not in by_id[empty.arxiv_id].why
        assert by_id[rl.arxiv_id].nearest_sim > 0 and "closest" in by_id[rl.arxiv_id].why
    assert "closest" not in Recommendation(empty, 0.0, nearest_title="PPOCoder", nearest_sim=0.0).why


def test_production_ranker_refuses_a_profile_with_no_known_word():
    import pytest

    from recommender.scoring import NoKnownTerms, rank_profile
    model, curated, background, sample = _production_setup()
    keyword_only = [Paper("keywords", "强化学习", "强化学习")]
    with pytest.raises(NoKnownTerms):
        rank_profile(model, keyword_only, list(sample.values()), background=background)
    assert rank_profile(model, keyword_only + curated[:1], list(sample.values()), background=background)
