import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from recommender import evaluation as E
from recommender.ranker import paper_text

FIX = Path(__file__).parent / "fixtures" / "eval_tiny"
TASKS = FIX / "tasks.json"
CORPUS = FIX / "corpus.jsonl"


def _lines(path):
    return [json.loads(l) for l in Path(path).read_text().splitlines()]


@pytest.mark.parametrize("method", E.METHODS)
def test_run_eval_writes_full_rankings(tmp_path, method):
    out = tmp_path / "r.jsonl"
    summary = E.run_eval(str(TASKS), [str(CORPUS)], str(out), method=method, log=lambda *a: None)
    task = json.loads(TASKS.read_text())[0]
    lines = _lines(out)
    assert len(lines) == 1
    assert lines[0]["name"] == task["name"] and lines[0]["split"] == task["split"]
    assert sorted(lines[0]["ranking"]) == sorted(task["candidates"])  # a permutation
    assert "shown" not in lines[0]
    mean = summary["mean"]
    assert set(mean) == {"AP", "nDCG@20", "R@50", "P@10"}
    assert all(0.0 <= v <= 1.0 for v in mean.values())
    # 8 relevant among 32: a random ranking has AP ≈ 0.3; every method must beat it clearly
    assert mean["AP"] > 0.5
    assert summary["hits_with"] is None


def test_production_beats_centroid_on_tiny_task(tmp_path):
    p = E.run_eval(str(TASKS), [str(CORPUS)], str(tmp_path / "p.jsonl"), log=lambda *a: None)
    c = E.run_eval(str(TASKS), [str(CORPUS)], str(tmp_path / "c.jsonl"), method="tfidf-centroid", log=lambda *a: None)
    assert p["mean"]["AP"] >= c["mean"]["AP"]


def test_relevant_is_never_used_for_ranking(tmp_path):
    task = json.loads(TASKS.read_text())[0]
    fake = dict(task, relevant=[c for c in task["candidates"] if c not in set(task["relevant"])][:5])
    nolabel = {k: v for k, v in task.items() if k != "relevant"}
    rankings = []
    for i, t in enumerate((task, fake, nolabel)):
        tp = tmp_path / f"t{i}.json"
        tp.write_text(json.dumps([t]))
        out = tmp_path / f"o{i}.jsonl"
        s = E.run_eval(str(tp), [str(CORPUS)], str(out), log=lambda *a: None)
        rankings.append(_lines(out)[0]["ranking"])
    assert rankings[0] == rankings[1] == rankings[2]
    assert s["mean"] is None  # no labels, no metrics


def test_feedback_sim_shows_top5_per_day(tmp_path):
    out = tmp_path / "fb.jsonl"
    s = E.run_eval(str(TASKS), [str(CORPUS)], str(out), feedback_sim=True, log=lambda *a: None)
    task = json.loads(TASKS.read_text())[0]
    pub = {json.loads(l)["arxiv_id"]: json.loads(l)["published"] for l in CORPUS.read_text().splitlines()}
    shown = _lines(out)[0]["shown"]
    assert list(shown) == sorted(shown)
    seen = []
    for day, ids in shown.items():
        assert 1 <= len(ids) <= E.SHOWN_PER_DAY
        assert all(pub[i] == day for i in ids)
        seen += ids
    assert len(seen) == len(set(seen)) and set(seen) <= set(task["candidates"])
    # every day that has candidates shows min(5, #candidates of that day)
    per_day = {}
    for c in task["candidates"]:
        per_day[pub[c]] = per_day.get(pub[c], 0) + 1
    assert {d: min(n, 5) for d, n in per_day.items()} == {d: len(v) for d, v in shown.items()}
    hits = len(set(seen) & set(task["relevant"]))
    assert s["hits_with"] == hits
    assert 0 <= s["hits_without"] <= len(task["relevant"])


def test_feedback_sim_goes_through_feedback_record_and_rebuilds_the_profile(tmp_path, monkeypatch):
    """Every simulated 👍/👎 goes through recommender.feedback.record into a store, and each day's
    profile is rebuilt from that store's feedback, as a digest rebuilds a channel's profile: the
    simulation called Profile.add_feedback directly, outside the product's feedback path."""
    from recommender import feedback as FB

    recorded, built = [], []
    real_record, real_build = FB.record, FB.profile_from_feedback

    def spy_record(store, user_id, arxiv_id, value, source, event_key=None, channel_id=None, message_ts=None):
        assert store.path == ":memory:"
        recorded.append((arxiv_id, value, source, channel_id))
        return real_record(store, user_id, arxiv_id, value, source, event_key=event_key, channel_id=channel_id,
                           message_ts=message_ts)

    def spy_build(X_positive, positive_authors=None, X_like=None, like_authors=None, X_dislike=None, *a, **k):
        built.append((0 if X_like is None else X_like.shape[0], 0 if X_dislike is None else X_dislike.shape[0]))
        return real_build(X_positive, positive_authors, X_like, like_authors, X_dislike, *a, **k)

    monkeypatch.setattr(FB, "record", spy_record)
    monkeypatch.setattr(FB, "profile_from_feedback", spy_build)
    s = E.run_eval(str(TASKS), [str(CORPUS)], str(tmp_path / "x.jsonl"), feedback_sim=True, log=lambda *a: None)
    shown = _lines(tmp_path / "x.jsonl")[0]["shown"]
    assert [v for _, v, _, _ in recorded].count(1) == s["hits_with"] > 0
    assert [a for a, *_ in recorded] == [pid for day in sorted(shown) for pid in shown[day]]
    assert {src for _, _, src, _ in recorded} == {"eval"} and len({c for *_, c in recorded}) == 1
    # the last day's profile (the largest: votes only accumulate; the walk without feedback
    # builds one empty-feedback profile) holds every vote of the days before it
    last = len(shown[max(shown)])
    ups = [v for _, v, _, _ in recorded][:-last]
    assert max(built) == (ups.count(1), ups.count(-1)) and (0, 0) in built
    # one profile for the written ranking, one a day with feedback, one for the walk without
    assert len(built) == 1 + len(shown) + 1


def test_main_cli_flags(tmp_path, capsys):
    out = tmp_path / "cli.jsonl"
    rc = E.main(["--tasks", str(TASKS), "--corpus", str(CORPUS), "--rankings", str(out),
                 "--method", "tfidf-centroid", "--feedback-sim"])
    assert rc == 0 and out.exists()
    text = capsys.readouterr().out
    assert "MAP" in text and "FEEDBACK-SIM" in text
    with pytest.raises(SystemExit):
        E.main(["--tasks", str(TASKS), "--corpus", str(CORPUS), "--rankings", str(out), "--method", "nope"])


def test_bad_inputs(tmp_path):
    with pytest.raises(ValueError):
        E.run_eval(str(TASKS), [str(CORPUS)], str(tmp_path / "o"), method="bm25", log=lambda *a: None)
    with pytest.raises(ValueError):
        E.run_eval(str(TASKS), [str(CORPUS)], str(tmp_path / "o"), method="asl-svm", feedback_sim=True,
                   log=lambda *a: None)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"name": "x"}]))
    with pytest.raises(ValueError):
        E.run_eval(str(bad), [str(CORPUS)], str(tmp_path / "o"), log=lambda *a: None)


def test_windowed_tfidf_matches_sklearn_fit():
    papers = E.load_corpus([str(CORPUS)])
    texts = [paper_text(p["title"], p["abstract"]) for p in papers]
    mask = np.array([p["published"] < "2023-09-20" for p in papers])
    assert 0 < mask.sum() < len(mask)
    W = E.WindowedTfidf(texts, prune_min_df=1)
    params = dict(ngram_range=(1, 2), stop_words="english", min_df=2, max_df=0.5, sublinear_tf=True)
    vec, X = W.fit(mask, **params)
    ref = TfidfVectorizer(**params).fit([t for t, m in zip(texts, mask) if m])
    assert vec.vocabulary_ == ref.vocabulary_
    assert np.allclose(vec.idf_, ref.idf_)
    assert np.allclose(X.toarray(), ref.transform(texts).toarray())
    # the returned vectorizer is a usable fitted sklearn object
    assert np.allclose(vec.transform(texts).toarray(), X.toarray())
    with pytest.raises(ValueError):
        W.fit(mask, **dict(params, ngram_range=(1, 1)))


@pytest.mark.parametrize("max_features", [50, 100, 200, 300])
def test_windowed_tfidf_max_features_keeps_sklearns_terms_among_ties_at_the_cut(max_features):
    """The cut used a stable sort, sklearn's _limit_features numpy's default argsort: among
    terms tied in total count at the cut they kept different ones (2-29 terms on this corpus)."""
    from sklearn.feature_extraction.text import CountVectorizer
    papers = E.load_corpus([str(CORPUS)])
    texts = [paper_text(p["title"], p["abstract"]) for p in papers]
    window = [t for t, p in zip(texts, papers) if p["published"] < "2023-09-20"]
    mask = np.array([p["published"] < "2023-09-20" for p in papers])
    params = dict(ngram_range=(1, 2), stop_words="english", min_df=2, max_df=0.5, sublinear_tf=True,
                  max_features=max_features)
    counts = CountVectorizer(**{k: v for k, v in params.items() if k != "sublinear_tf"}, dtype=np.float64)
    counts.set_params(max_features=None).fit(window)
    tf = np.sort(np.asarray(counts.transform(window).sum(0)).ravel())[::-1]
    assert tf[max_features - 1] == tf[max_features]  # the data has ties at the cut
    vec, X = E.WindowedTfidf(texts, prune_min_df=1).fit(mask, **params)
    ref = TfidfVectorizer(**params).fit(window)
    assert vec.vocabulary_ == ref.vocabulary_
    assert np.allclose(vec.idf_, ref.idf_)
    assert np.allclose(X.toarray(), ref.transform(texts).toarray())


def test_load_corpus_merges_duplicates(tmp_path):
    f1 = tmp_path / "a.jsonl"
    f2 = tmp_path / "b.jsonl"
    f1.write_text(json.dumps({"arxiv_id": "1", "title": "T", "abstract": "A", "published": "2024-01-02"}) + "\n"
                  + "not json\n")
    f2.write_text(json.dumps({"arxiv_id": "1", "title": "T2", "abstract": "A2", "published": "2024-01-03",
                              "authors": ["X"], "hf_upvotes": 7}) + "\n")
    skipped = []
    papers = E.load_corpus([str(f1), str(f2)], skipped)
    assert len(papers) == 1
    assert skipped == [("a.jsonl", 2, "not JSON (Expecting value)")]
    p = papers[0]
    assert p["title"] == "T" and p["authors"] == ["X"] and p["hf_upvotes"] == 7


def test_disk_cache_roundtrip(tmp_path, monkeypatch):
    monkeypatch.setenv("PAPERBOT_CACHE_DIR", str(tmp_path / "cache"))
    E._CORPUS_CACHE.clear()
    msgs = []
    c1 = E.get_corpus([str(CORPUS)], log=msgs.append)
    assert len(list((tmp_path / "cache").glob("eval_corpus_*.joblib"))) == 1
    E._CORPUS_CACHE.clear()
    c2 = E.get_corpus([str(CORPUS)], log=msgs.append)
    assert any("cached corpus" in m for m in msgs)
    assert c2.ids == c1.ids and (c2.tfidf.counts != c1.tfidf.counts).nnz == 0
    E._CORPUS_CACHE.clear()


def test_disk_cache_written_by_module_run_loads_in_process(tmp_path, monkeypatch):
    # `python -m recommender.evaluation` runs the module as __main__; the cache it writes
    # must still load from an import (e.g. `paperbot eval`, tests, notebooks).
    import os
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[1]
    cache = tmp_path / "cache"
    env = dict(os.environ, PYTHONPATH=str(repo), PAPERBOT_CACHE_DIR=str(cache))
    subprocess.run([sys.executable, "-m", "recommender.evaluation", "--tasks", str(TASKS), "--corpus", str(CORPUS),
                    "--rankings", str(tmp_path / "r.jsonl")], env=env, check=True, capture_output=True, timeout=300)
    assert len(list(cache.glob("eval_corpus_*.joblib"))) == 1
    monkeypatch.setenv("PAPERBOT_CACHE_DIR", str(cache))
    E._CORPUS_CACHE.clear()
    msgs = []
    c = E.get_corpus([str(CORPUS)], log=msgs.append)
    E._CORPUS_CACHE.clear()
    assert any("loaded cached corpus" in m for m in msgs), msgs
    assert c.tfidf.counts.shape[0] == len(c.papers) == len(E.load_corpus([str(CORPUS)]))


def test_corrupt_disk_cache_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("PAPERBOT_CACHE_DIR", str(tmp_path / "cache"))
    E._CORPUS_CACHE.clear()
    c1 = E.get_corpus([str(CORPUS)], log=lambda *a: None)
    (cache_file,) = (tmp_path / "cache").glob("eval_corpus_*.joblib")
    cache_file.write_bytes(b"not a joblib file")
    E._CORPUS_CACHE.clear()
    msgs = []
    c2 = E.get_corpus([str(CORPUS)], log=msgs.append)
    assert any("ignoring unreadable corpus cache" in m for m in msgs)
    assert c2.ids == c1.ids and (c2.tfidf.counts != c1.tfidf.counts).nnz == 0
    E._CORPUS_CACHE.clear()
    msgs = []
    E.get_corpus([str(CORPUS)], log=msgs.append)  # the rebuilt cache is valid again
    assert any("loaded cached corpus" in m for m in msgs)
    E._CORPUS_CACHE.clear()


def test_bad_corpus_and_tasks_files_say_which_file_and_line(tmp_path):
    """A corpus whose lines are all unusable stops with a clear error instead of an empty
    vocabulary; skipped lines are logged with file and line; a tasks file that is not JSON,
    not a list, or holds a non-object names the file."""
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(json.dumps({"arxiv_id": "1"}) + "\ngarbage\n")
    logged = []
    with pytest.raises(ValueError, match=r"no usable paper.*2 lines skipped"):
        E.get_corpus([str(corpus)], log=logged.append)
    assert "skipped c.jsonl:1: not a JSON object with arxiv_id and published" in logged
    assert "skipped c.jsonl:2: not JSON (Expecting value)" in logged

    ok = tmp_path / "ok.jsonl"
    ok.write_text(CORPUS.read_text(encoding="utf-8") + "{broken\n")
    logged.clear()
    E.get_corpus([str(ok)], log=logged.append)
    n_lines = len(CORPUS.read_text(encoding="utf-8").splitlines())
    assert f"skipped ok.jsonl:{n_lines + 1}: not JSON (Expecting property name enclosed in double quotes)" in logged

    for text, message in (("not json", "not valid JSON"), ('{"tasks": []}', "must hold a JSON list"),
                          ('["x"]', "a task must be a JSON object")):
        bad = tmp_path / "t.json"
        bad.write_text(text)
        with pytest.raises(ValueError, match=message) as info:
            E.load_tasks(str(bad))
        assert str(bad) in str(info.value)


@pytest.mark.parametrize("feedback_sim", [False, True])
def test_repeated_candidates_are_ranked_and_shown_once(tmp_path, feedback_sim):
    task = json.loads(TASKS.read_text())[0]
    cands = task["candidates"]
    # three ids repeated (one of them twice) plus an id absent from the corpus listed twice
    dup = dict(task, candidates=cands + [cands[0], cands[3], cands[3], cands[7], "9999.99999", "9999.99999"])
    tp = tmp_path / "dup.json"
    tp.write_text(json.dumps([dup]))
    logged = []
    out = tmp_path / "dup.jsonl"
    s = E.run_eval(str(tp), [str(CORPUS)], str(out), feedback_sim=feedback_sim, log=logged.append)
    line = _lines(out)[0]
    assert len(line["ranking"]) == len(set(line["ranking"])) == len(cands) + 1
    assert set(line["ranking"]) == set(cands) | {"9999.99999"}
    assert s["tasks"][0]["n_candidates"] == len(cands) + 1
    assert any("more than once" in str(m) and cands[3] in str(m) and "9999.99999" in str(m) for m in logged)
    if feedback_sim:
        shown = [pid for day in line["shown"].values() for pid in day]
        assert len(shown) == len(set(shown))


def test_eval_tokenises_as_the_production_model(tmp_path):
    """The evaluation's TF-IDF of a window is the digests' TfidfModel (LaTeX `$…$` stripped by
    recommender.tfidf.preprocess): it kept LaTeX tokens the product never sees."""
    from recommender import tfidf as T
    from recommender.ranker import PRODUCTION_TFIDF_PARAMS

    papers = E.load_corpus([str(CORPUS)])
    papers[0] = dict(papers[0], abstract=papers[0]["abstract"] + " $\\mathcal{O}(n \\log n)$ zzlatexonly")
    papers[1] = dict(papers[1], abstract=papers[1]["abstract"] + " $\\mathcal{O}(n)$ zzlatexonly")
    corpus = E.EvalCorpus(papers, log=lambda *a: None)
    end = "2099-01-01"
    params = dict(PRODUCTION_TFIDF_PARAMS, min_df=T._min_df(len(papers)), max_df=0.5)
    vec, X = corpus.window(end, params)
    model = T.TfidfModel.fit([T.paper_text(p["title"], p["abstract"]) for p in papers])
    assert vec.vocabulary_ == model.vectorizer.vocabulary_
    assert "mathcal" not in vec.vocabulary_ and "zzlatexonly" in vec.vocabulary_
    assert np.allclose(X.toarray(), model.transform([T.paper_text(p["title"], p["abstract"]) for p in papers]).toarray(),
                       atol=1e-6)


def test_background_is_earlier_papers_without_the_curated_ones():
    corpus = E.get_corpus([str(CORPUS)], log=lambda *a: None)
    task = json.loads(TASKS.read_text())[0]
    setup = E._setup(task, corpus)
    bg = E.background_rows(corpus, task["split"], size=10, exclude=setup.cur_rows)
    pool = [r for r in range(len(corpus.papers)) if corpus.published[r] < task["split"]
            and r not in set(setup.cur_rows.tolist())]
    assert len(pool) > 10
    assert bg.tolist() == [pool[i * len(pool) // 10] for i in range(10)]  # Store.sample_papers' spread
    assert E.background_rows(corpus, task["split"], size=10**6, exclude=setup.cur_rows).tolist() == pool


def test_asl_svm_is_arxiv_sanity_lites_vectorizer_and_svm(tmp_path):
    """asl-svm = karpathy/arxiv-sanity-lite compute.py's TfidfVectorizer (strip_accents='unicode',
    token_pattern r'(?u)\\b[a-zA-Z_][a-zA-Z0-9_]+\\b', text = title + summary + author names; the
    issue's max_features / min_df / max_df) + serve.py's LinearSVC: it used paperbot's own text
    (no authors) and sklearn's default token pattern."""
    from sklearn.svm import LinearSVC

    papers = E.load_corpus([str(CORPUS)])
    task = json.loads(TASKS.read_text())[0]
    end = E.window_end(task)
    texts = [" ".join([p["title"], p["abstract"], " ".join(p["authors"])]) for p in papers]
    window = [i for i, p in enumerate(papers) if p["published"] < end]
    ref = TfidfVectorizer(input="content", encoding="utf-8", decode_error="replace", strip_accents="unicode",
                          lowercase=True, analyzer="word", stop_words="english",
                          token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b", ngram_range=(1, 2),
                          max_features=20000, norm="l2", use_idf=True, smooth_idf=True, sublinear_tf=True,
                          max_df=0.1, min_df=5).fit([texts[i] for i in window])
    corpus = E.get_corpus([str(CORPUS)], log=lambda *a: None, tokenisation="asl")
    vec, X = corpus.window(end, E.ASL_TFIDF_PARAMS)
    assert vec.vocabulary_ == ref.vocabulary_
    assert np.allclose(X.toarray(), ref.transform(texts).toarray())
    # the ranking paperbot eval writes is the reference SVM's
    ids = [p["arxiv_id"] for p in papers]
    Xr = ref.transform(texts)
    y = np.isin([ids[i] for i in window], task["curated"]).astype(int)
    clf = LinearSVC(C=0.01, class_weight="balanced", tol=1e-6, max_iter=10000).fit(Xr[window], y)
    cand = [c for c in task["candidates"] if c in set(ids)]
    expected = E.rank_ids(cand, clf.decision_function(Xr[[ids.index(c) for c in cand]]))
    E.run_eval(str(TASKS), [str(CORPUS)], str(tmp_path / "a.jsonl"), method="asl-svm", log=lambda *a: None)
    assert _lines(tmp_path / "a.jsonl")[0]["ranking"][:len(expected)] == expected
