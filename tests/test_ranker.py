import time

import numpy as np
import pytest
import scipy.sparse as sp

from recommender.ranker import (
    PRODUCTION_TFIDF_PARAMS,
    PaperMeta,
    Profile,
    RankerConfig,
    build_vectorizer,
    centroid_scores,
    paper_text,
)

DOCS = {
    # topic A: preference optimisation / RLHF
    "a1": paper_text("Direct preference optimization for language models",
                     "We align language models with human preference data using a reward model and reinforcement learning from human feedback."),
    "a2": paper_text("Reward model ensembles reduce overoptimization in RLHF",
                     "Reward model overoptimization hurts reinforcement learning from human feedback; ensembles of reward models help preference alignment."),
    "a3": paper_text("Preference data selection for alignment",
                     "Selecting preference pairs improves reward model accuracy and alignment of language models trained with human feedback."),
    "a4": paper_text("Code completion with transformers",
                     "Transformers complete programs after training on human written code and natural language."),
    # topic B: diffusion models for images
    "b1": paper_text("Latent diffusion for high resolution image synthesis",
                     "Diffusion models generate images by denoising; latent diffusion reduces the cost of image synthesis at high resolution."),
    "b2": paper_text("Faster sampling of image diffusion models",
                     "We accelerate diffusion sampling for image generation with a distilled denoising schedule and few sampling steps."),
    "b3": paper_text("Video diffusion models with temporal attention",
                     "Temporal attention extends image diffusion models to video generation with consistent denoising across frames."),
    # topic C: graph neural networks
    "c1": paper_text("Graph neural networks for molecule property prediction",
                     "Message passing graph neural networks predict molecule properties from atoms and bonds."),
    "c2": paper_text("Oversmoothing in deep graph neural networks",
                     "Deep message passing graph networks suffer oversmoothing; we propose residual graph layers."),
    "c3": paper_text("Graph transformers for molecules",
                     "Attention over graph nodes improves molecule property prediction compared with message passing networks."),
}
NAMES = list(DOCS)


@pytest.fixture(scope="module")
def vec_X():
    vec = build_vectorizer(DOCS.values(), min_df=1, max_df=1.0)
    X = vec.transform(DOCS.values())
    return vec, X


def rows(X, *names):
    return X[[NAMES.index(n) for n in names]]


def test_paper_text_and_vectorizer(vec_X):
    assert paper_text(" T ", None) == "T. "
    vec, X = vec_X
    assert X.shape == (len(DOCS), len(vec.vocabulary_))
    assert np.allclose(sp.linalg.norm(X, axis=1), 1.0)
    # production defaults are the documented ones
    assert vec.ngram_range == PRODUCTION_TFIDF_PARAMS["ngram_range"]
    assert "reward model" in vec.vocabulary_  # bigrams


def test_profile_ranks_topic_papers_first(vec_X):
    vec, X = vec_X
    prof = Profile(rows(X, "a1"), X_background=rows(X, "c1", "c2"), terms=vec.get_feature_names_out())
    cands = ["a2", "a3", "b1", "b2", "b3", "c3"]
    s = prof.score(rows(X, *cands))
    assert s.shape == (len(cands),)
    top2 = {cands[i] for i in np.argsort(-s)[:2]}
    assert top2 == {"a2", "a3"}
    # the centroid baseline agrees on this easy case
    c = centroid_scores(rows(X, "a1"), rows(X, *cands))
    assert {cands[i] for i in np.argsort(-c)[:2]} == {"a2", "a3"}


def test_thumbs_up_moves_neighbours_up(vec_X):
    _, X = vec_X
    prof = Profile(rows(X, "a1", "a2"))
    cands = rows(X, "a4", "b3", "c3")  # weakly related, diffusion, graph
    before = prof.score(cands)
    assert before[0] > before[1]  # the diffusion paper starts below the weak match
    prof.add_feedback(rows(X, "b1"), +1)  # 👍 an image-diffusion paper
    after = prof.score(cands)
    assert after[1] > before[1]  # its neighbour gains ...
    assert after[1] > after[0]  # ... and overtakes the weak match
    assert after[2] <= before[2] + 1e-12  # an unrelated paper does not gain
    assert prof.n_positive == 3


def test_thumbs_down_moves_neighbours_down(vec_X):
    _, X = vec_X
    prof = Profile(rows(X, "a1", "b1"), X_background=rows(X, "c1"))
    cands = rows(X, "a3", "b3")
    before = prof.score(cands)
    prof.add_feedback(rows(X, "b2"), -1)  # 👎 a diffusion paper
    after = prof.score(cands)
    assert after[1] < before[1]  # the diffusion neighbour drops
    assert (after[1] - before[1]) < (after[0] - before[0])  # more than the unrelated one
    assert prof.n_negative == 1


def test_add_feedback_validates(vec_X):
    _, X = vec_X
    prof = Profile(rows(X, "a1"))
    with pytest.raises(ValueError):
        prof.add_feedback(rows(X, "a2"), 0)
    with pytest.raises(ValueError):
        prof.add_feedback(rows(X, "a2", "a3"), 1)
    with pytest.raises(ValueError):
        prof.score(sp.csr_matrix((1, X.shape[1] + 1)))


def test_explain_names_terms_in_both_papers(vec_X):
    vec, X = vec_X
    terms = vec.get_feature_names_out()
    prof = Profile(rows(X, "a1"), terms=terms)
    x = rows(X, "a2")
    expl = prof.explain(x, k=5)
    assert 1 <= len(expl) <= 5
    in_pos = set(terms[rows(X, "a1").indices])
    in_cand = set(terms[x.indices])
    for term, w in expl:
        assert term in in_pos and term in in_cand
        assert w > 0
    weights = [w for _, w in expl]
    assert weights == sorted(weights, reverse=True)
    # weights are the actual contributions to the text score
    assert sum(weights) <= prof.text_scores(x)[0] + 1e-9
    assert "reward model" in {t for t, _ in expl} or "human feedback" in {t for t, _ in expl}


def test_most_similar_positive(vec_X):
    _, X = vec_X
    prof = Profile(rows(X, "c1", "a1", "b1"))
    idx, sim = prof.most_similar_positive(rows(X, "b2"))
    assert idx == 2 and 0 < sim <= 1
    prof.add_feedback(rows(X, "a2"), +1)
    assert prof.most_similar_positive(rows(X, "a2"))[0] == 3


def test_author_overlap_and_priors(vec_X):
    _, X = vec_X
    cfg = RankerConfig()
    prof = Profile(rows(X, "a1"), positive_authors=[["Ada Lovelace", "Alan Turing"]], config=cfg)
    x = rows(X, "a2", "a2", "a2")
    meta = PaperMeta.from_records([
        {"authors": ["alan  turing"]},  # same author, different spacing/case
        {"authors": ["Grace Hopper"]},
        {"authors": ["Grace Hopper"], "hf_upvotes": 30},
    ])
    s = prof.score(x, meta)
    assert s[0] > s[1]
    assert s[0] - s[1] == pytest.approx(cfg.w_author * np.log1p(1))
    assert s[2] - s[1] == pytest.approx(cfg.w_hf * np.log1p(30))
    # 👍 authors join the prior
    prof.add_feedback(rows(X, "b1"), +1, authors=["Grace Hopper"])
    s2 = prof.score(x, meta)
    assert s2[1] - s[1] > cfg.w_author * np.log1p(1) - 1.0  # moved by text + author prior
    assert prof.prior_scores(meta, 3)[1] > prof.prior_scores(None, 3)[1]
    with pytest.raises(ValueError):
        prof.score(x, meta.subset([0, 1]))


def test_profile_fit_is_cheap():
    rng = np.random.default_rng(0)
    V = 20000
    P = sp.random(300, V, density=0.01, random_state=1, format="csr")
    B = sp.random(2000, V, density=0.01, random_state=2, format="csr")
    C = sp.random(2000, V, density=0.01, random_state=3, format="csr")
    t0 = time.perf_counter()
    prof = Profile(P, X_background=B)
    prof.score(C)
    prof.add_feedback(C[0], +1)
    prof.add_feedback(C[1], -1)
    assert time.perf_counter() - t0 < 1.0  # typically ~20 ms
    assert rng is not None


def test_background_vector_is_equivalent_and_contrasts(vec_X):
    from recommender.ranker import background_vector

    _, X = vec_X
    bg = rows(X, "c1", "c2", "b1")
    p1 = Profile(rows(X, "a1", "c3"), X_background=bg)
    p2 = Profile(rows(X, "a1", "c3"), X_background=background_vector(bg))
    cands = rows(X, "a2", "c1", "b2")
    assert np.allclose(p1.score(cands), p2.score(cands))
    # the background pushes down papers that look like the ordinary feed
    p0 = Profile(rows(X, "a1", "c3"))
    drop = p0.score(cands) - p1.score(cands)
    assert drop[1] > drop[0]
    with pytest.raises(ValueError):
        Profile(rows(X, "a1"), X_background=np.zeros(X.shape[1] + 3))


@pytest.mark.skipif(not __import__("os").environ.get("PAPERBOT_BENCH"),
                    reason="opt-in benchmark on the real corpus: PAPERBOT_BENCH=1 (needs /work/shared/data)")
def test_benchmark_1000_profiles_2000_papers():
    """Product budget: 2,000 new papers x 1,000 profiles < 10 s, >= 5x faster than a
    LinearSVC per profile (same positives vs the same 2,000-paper background)."""
    import os

    from sklearn.svm import LinearSVC

    from recommender.evaluation import load_corpus
    from recommender.ranker import background_vector

    path = os.environ.get("PAPERBOT_BENCH_CORPUS", "/work/shared/data/corpus/corpus.jsonl")
    papers = sorted(load_corpus([path]), key=lambda p: p["published"])
    old, new = papers[:-2000], papers[-2000:]
    vec = build_vectorizer([paper_text(p["title"], p["abstract"]) for p in old[-20000:]])
    X_old = vec.transform([paper_text(p["title"], p["abstract"]) for p in old])
    X_new = vec.transform([paper_text(p["title"], p["abstract"]) for p in new])
    meta = PaperMeta.from_records(new)
    rng = np.random.default_rng(0)
    bg = X_old[rng.choice(X_old.shape[0], 2000, replace=False)]
    sets = [rng.choice(X_old.shape[0], rng.integers(5, 80), replace=False) for _ in range(1000)]
    terms = vec.get_feature_names_out()
    t0 = time.perf_counter()
    bgv = background_vector(bg)
    for ix in sets:
        Profile(X_old[ix], X_background=bgv, positive_authors=[old[i]["authors"] for i in ix],
                terms=terms).score(X_new, meta)
    ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    for ix in sets[:20]:
        Xt = sp.vstack([X_old[ix], bg])
        y = np.r_[np.ones(len(ix)), np.zeros(bg.shape[0])]
        LinearSVC(C=0.01, class_weight="balanced").fit(Xt, y).decision_function(X_new)
    svm = (time.perf_counter() - t0) / 20 * 1000
    print(f"production {ours:.2f}s for 1000 profiles; LinearSVC ~{svm:.1f}s; {svm / ours:.1f}x")
    assert ours < 10.0
    assert svm / ours >= 5.0


def test_a_subset_of_prepared_meta_matches_a_fresh_one():
    meta = PaperMeta.from_records([{"authors": ["A. Smith", "B. Jones"]}, {"authors": ["C. Wu"]},
                                   {"authors": ["B. Jones"], "hf_upvotes": 7}]).prepare()
    sliced, fresh = meta.subset([2, 0]), PaperMeta.from_records([{"authors": ["B. Jones"], "hf_upvotes": 7},
                                                                 {"authors": ["A. Smith", "B. Jones"]}])
    weights = {"b jones": 1.0, "a smith": 0.5, "c wu": 2.0}
    assert sliced.author_overlap(weights).tolist() == fresh.author_overlap(weights).tolist() == [1.0, 1.5]
    assert sliced.hf_upvotes.tolist() == [7.0, 0.0]


def test_the_module_docstring_states_ranker_configs_defaults():
    """The docstring said W_NAUTH 0.04 while RankerConfig.w_nauth is 0.0."""
    import re

    import recommender.ranker as R
    doc = " ".join(R.__doc__.split())
    stated = doc.split("Defaults (:class:`RankerConfig`):", 1)[1].split("This is Rocchio", 1)[0]
    pairs = re.findall(r"\b([A-Z][A-Z_]+) ([0-9]+(?:\.[0-9]+)?)", stated)
    defaults = RankerConfig()
    assert {name.lower() for name, _ in pairs} >= {"beta", "gamma", "feedback_weight", "w_like_sim",
                                                   "w_author", "w_nauth", "w_hf"}
    for name, value in pairs:
        assert getattr(defaults, name.lower()) == float(value), name


def test_text_scores_stay_in_the_documented_range_and_a_like_lifts_them_past_1(vec_X):
    """Profile.score's docstring: x · q in [-(beta + gamma), 1], plus w_like_sim × a cosine
    (so up to 1 + w_like_sim) once there is a 👍 — not "≈ [-1.5, 1]"."""
    _, X = vec_X
    cfg = RankerConfig()
    prof = Profile(rows(X, "a1", "a2"), X_negative=rows(X, "b1"), X_background=rows(X, "c1"))
    s = prof.text_scores(X)
    assert s.min() >= -(cfg.beta + cfg.gamma) - 1e-9 and s.max() <= 1 + 1e-9
    assert s[NAMES.index("c1")] < -1.0  # the background paper itself sits near the bottom
    prof.add_feedback(rows(X, "a3"), 1)
    s = prof.text_scores(X)
    assert 1 < s.max() <= 1 + cfg.w_like_sim + 1e-9 and s.min() >= -(cfg.beta + cfg.gamma) - 1e-9


def test_rows_with_terms_flags_empty_rows_which_score_exactly_zero(vec_X):
    """An all-zero TF-IDF row gets text score 0 — above a typical paper once the background is
    subtracted — which is why recommenders must drop it (`rows_with_terms`)."""
    vec, X = vec_X
    empty = vec.transform(["基于人类反馈的强化学习", "Erratum."])
    assert empty.nnz == 0
    from recommender.ranker import rows_with_terms
    rows = sp.vstack([X[:3], empty], format="csr")
    assert rows_with_terms(rows).tolist() == [True, True, True, False, False]
    prof = Profile(X[:5], X_background=X)
    assert prof.text_scores(empty).tolist() == [0.0, 0.0]


def test_a_profile_without_known_terms_says_so(vec_X):
    """Its query is only −β·background: scores would rank papers by unlikeness to the feed."""
    vec, X = vec_X
    empty = vec.transform(["强化学习"])
    blank = Profile(empty, X_background=X)
    assert not blank.has_positive_terms
    assert np.allclose(blank.query, -blank.config.beta * blank._bg)
    assert not Profile(sp.csr_matrix((0, X.shape[1])), X_background=X).has_positive_terms
    assert Profile(sp.vstack([empty, rows(X, "a1")]), X_background=X).has_positive_terms
    assert blank.add_feedback(rows(X, "a2"), +1).has_positive_terms


def test_positive_row_returns_the_stored_row_and_checks_its_index(vec_X):
    vec, X = vec_X
    prof = Profile(rows(X, "a1", "a2"))
    prof.add_feedback(rows(X, "b1"), +1)
    assert (prof.positive_row(2) != rows(X, "b1")).nnz == 0
    with pytest.raises(IndexError):
        prof.positive_row(3)


def test_the_module_docstring_cites_no_stale_baseline_as_current():
    """The docstring compared rounds against "0.210 / 0.304 / 0.488" as if that were the current
    production figure (README's table: 0.203 / 0.289 / 0.476). Every MAP / nDCG@20 / R@50 baseline
    it quotes must be the README's current one or be marked as that round's, and it must point
    to the README table for the current figures."""
    import re
    from pathlib import Path

    import recommender.ranker as R
    doc = " ".join(R.__doc__.split())
    readme = Path(R.__file__).resolve().parents[1].joinpath("README.md").read_text()
    row = next(line for line in readme.splitlines() if line.startswith("| **production**"))
    current = tuple(re.findall(r"\*\*([0-9.]+)\*\*", row)[:3])
    assert 'README.md ("Evaluation")' in doc
    for m in re.finditer(r"vs (that round's baseline )?([0-9.]+) / ([0-9.]+) / ([0-9.]+)", doc):
        assert m.group(1) or m.group(2, 3, 4) == current, m.group(0)
