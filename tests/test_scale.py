"""Product code behind the scale work (issue 6): bulk import, corpus reader, memory-bounded fit,
fast model pickling, the matrix cache and the batched scorer. Correctness only — speed is
measured by bench/run.py, never asserted here."""
import gzip
import json
import zlib

import numpy as np
import pytest
import scipy.sparse as sp

from feeds.corpus import CorpusFormatError, CorpusReader, parse_corpus_line
from feeds.records import Paper
from recommender.batch import ProfileRows, rank_many, score_matrix, top_k
from recommender.matrix_cache import MatrixCache, cache_path_for, model_fingerprint, refresh, sync
from recommender.scoring import rank
from recommender.tfidf import TfidfModel, paper_text
from store import Store
from tests.conftest import fixture_path

WORDS = ("reward model policy gradient preference alignment language vision transformer diffusion "
         "graph retrieval agent planning reasoning code synthesis benchmark robotics speech "
         "quantization pruning distillation tokenizer attention memory federated privacy").split()


def synthetic_papers(n, seed=0, prefix="2401"):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        topic = rng.choice(len(WORDS), size=6, replace=False)
        words = [WORDS[j] for j in rng.choice(topic, size=40)]
        out.append(Paper(arxiv_id=f"{prefix}.{i:05d}", title=" ".join(words[:6]), abstract=" ".join(words),
                         authors=[f"Author {i % 7}"], categories=["cs.LG"], published="2024-01-02",
                         sources=["corpus"]))
    return out


def all_rows(store):
    return {p.arxiv_id: p for p in store.iter_papers()}


def strip_times(rows):
    return {k: (p.to_dict()) for k, p in rows.items()}


# ---- bulk import ---------------------------------------------------------------------------
def mixed_inputs():
    base = synthetic_papers(30)
    v2 = Paper(arxiv_id=base[3].arxiv_id, version=2, title="A new title", abstract="New abstract",
               sources=["arxiv_api"])
    hf = Paper(arxiv_id=base[5].arxiv_id, title=base[5].title, sources=["hf_daily"], hf_upvotes=9,
               ai_keywords=["x"])
    same = Paper(**{**base[7].to_dict()})
    return base, [v2, hf, same, base[3], *synthetic_papers(5, seed=3, prefix="2402")]


@pytest.mark.parametrize("batch", [1, 4, 5000])
def test_bulk_upsert_gives_same_rows_and_counts_as_upsert(tmp_path, batch):
    base, second = mixed_inputs()
    a, b = Store(tmp_path / "a.db"), Store(tmp_path / "b.db")
    ca1 = a.upsert_papers(base)
    cb1 = b.bulk_upsert_papers(base, batch=batch, commit_every=7)
    assert ca1 == cb1 == {"inserted": 30, "updated": 0, "unchanged": 0}
    # second round: a newer version, an HF merge, an unchanged duplicate, the same paper
    # repeated within the input, and new papers
    ca2 = a.upsert_papers(second + second[:2])
    cb2 = b.bulk_upsert_papers(second + second[:2], batch=batch)
    assert ca2 == cb2
    assert strip_times(all_rows(a)) == strip_times(all_rows(b))
    assert b.get_paper(base[3].arxiv_id).title == "A new title"
    assert b.get_paper(base[5].arxiv_id).sources == ["corpus", "hf_daily"]
    # the FTS index follows the bulk path (insert and update triggers)
    hits = [r[0] for r in b.db.conn.execute(
        "select p.arxiv_id from papers_fts f join papers p on p.rowid = f.rowid "
        "where papers_fts match 'title:new'")]
    assert hits == [base[3].arxiv_id]
    fts_n = b.db.conn.execute("select count(*) from papers_fts").fetchone()[0]
    assert fts_n == b.count_papers() == 35


def test_bulk_upsert_rejects_bad_batch_and_rolls_back_on_error(store):
    with pytest.raises(ValueError):
        store.bulk_upsert_papers([], batch=0)
    good = synthetic_papers(3)
    bad = Paper(arxiv_id="2401.99999", title=None)  # NOT NULL title
    with pytest.raises(Exception):
        store.bulk_upsert_papers(good + [bad], batch=10)
    assert store.count_papers() == 0


# ---- corpus reader -------------------------------------------------------------------------
def test_corpus_reader_reads_real_lines_and_reports_bad_ones(tmp_path):
    real = [json.loads(line) for line in
            fixture_path("corpus_sample.jsonl").read_text().splitlines()]
    lines = [json.dumps(r) for r in real] + ["{not json", "[1, 2]", json.dumps({"arxiv_id": "nope", "title": "x"}),
                                             json.dumps({"arxiv_id": "2401.00001", "title": "  "}), ""]
    path = tmp_path / "c.jsonl.gz"
    with gzip.open(path, "wt") as f:
        f.write("\n".join(lines) + "\n")
    reader = CorpusReader(path)
    papers = list(reader)
    assert [p.arxiv_id for p in papers] == [r["arxiv_id"] for r in real]
    assert papers[0].title == real[0]["title"] and papers[0].authors == real[0]["authors"]
    assert papers[0].categories == real[0]["categories"] and papers[0].sources == ["corpus"]
    assert [n for n, _ in reader.skipped] == [len(real) + 1, len(real) + 2, len(real) + 3, len(real) + 4]
    assert "not JSON" in reader.skipped[0][1] and "empty title" in reader.skipped[3][1]
    assert reader.bytes_read == path.stat().st_size


def test_corpus_reader_numbers_the_lines_with_bytes_that_are_not_utf8(tmp_path):
    """Lines are decoded one by one, so a byte that is not UTF-8 (read as U+FFFD, as before) is
    reported with its line number (`undecodable`); lines still end at \\n, \\r\\n or a lone \\r,
    as text mode's universal newlines had them, so skipped lines keep their numbers."""
    one = json.dumps({"arxiv_id": "2401.00001", "title": "A"}).encode()
    two = b'{"arxiv_id": "2401.00002", "title": "B \xff"}'  # 0xff is never UTF-8
    path = tmp_path / "c.jsonl"
    path.write_bytes(one + b"\r" + two + b"\r\n{bad\n\n" + b"\xe9\n")
    reader = CorpusReader(path)
    papers = list(reader)
    assert [(p.arxiv_id, p.title) for p in papers] == [("2401.00001", "A"), ("2401.00002", "B \ufffd")]
    assert reader.undecodable == [2, 5]
    assert [n for n, _ in reader.skipped] == [3, 5]


def test_corpus_reader_corrupt_gzip_is_a_clear_error(tmp_path):
    path = tmp_path / "bad.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"arxiv_id": "2401.00001", "title": "t"}\n' * 50)[:-30])
    with pytest.raises(CorpusFormatError):
        list(CorpusReader(path))


def _real_corpus_gz(repeat: int = 40) -> bytes:
    """gzip of the real corpus sample lines, `repeat` times (valid lines only, no blank ones)."""
    return gzip.compress(fixture_path("corpus_sample.jsonl").read_bytes() * repeat)


def _read_until_error(path):
    """(papers read, the CorpusFormatError) of a reader that must fail."""
    got = []
    with pytest.raises(CorpusFormatError) as err:
        for p in CorpusReader(path):
            got.append(p)
    return got, str(err.value)


def test_corpus_reader_truncated_gzip_names_the_last_line_read(tmp_path):
    """A .gz cut short reports the line it stopped after (every line before it was read), not
    the number of skipped lines (it said "after line 0" whatever the position)."""
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(_real_corpus_gz()[:-2000])
    got, msg = _read_until_error(path)
    assert len(got) > 0
    assert f"unreadable after line {len(got)}:" in msg and "cut.jsonl.gz" in msg


def test_corpus_reader_corrupt_gzip_data_is_a_format_error_with_the_line(tmp_path):
    """Damaged deflate data in the middle of a .gz makes zlib raise ``zlib.error`` (not an
    OSError): it is a CorpusFormatError too, naming the last line read, so `import-corpus`
    prints one error line instead of a traceback."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw deflate, to be wrapped in a gzip member
    body = deflate.compress(fixture_path("corpus_sample.jsonl").read_bytes() * 40) + deflate.flush(zlib.Z_SYNC_FLUSH)
    # a sync flush ends on a byte boundary; 0x07 then starts a block of the reserved type 11 (RFC 1951)
    path = tmp_path / "bad.jsonl.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + body + b"\x07" + b"\x00" * 64)
    with pytest.raises(zlib.error):  # what zlib itself raises for it
        gzip.decompress(path.read_bytes())
    got, msg = _read_until_error(path)
    assert len(got) > 0
    assert f"bad.jsonl.gz: unreadable after line {len(got)}:" in msg


def test_parse_corpus_line_versioned_id_and_upvotes():
    p, why = parse_corpus_line(json.dumps({"arxiv_id": "2401.00001v3", "title": "T", "hf_upvotes": 4,
                                           "published": "2024-01-02T00:00:00Z"}))
    assert why == "" and (p.arxiv_id, p.version, p.hf_upvotes, p.published) == ("2401.00001", 3, 4, "2024-01-02")


# ---- model fit and persistence -------------------------------------------------------------
def test_fit_sampled_equals_fit_when_sample_covers_corpus_and_is_bounded_otherwise():
    texts = [paper_text(p.title, p.abstract) for p in synthetic_papers(120)]
    full = TfidfModel.fit(texts)
    sampled, X = TfidfModel.fit_sampled(texts, sample_size=1000)
    assert list(full.terms) == list(sampled.terms)
    assert abs(full.transform(texts) - X).max() < 1e-6
    small, X2 = TfidfModel.fit_sampled(texts, sample_size=60)
    assert X2.shape == (120, len(small.terms)) and X2.dtype == np.float32
    assert np.allclose(sp.linalg.norm(X2, axis=1)[X2.getnnz(axis=1) > 0], 1, atol=1e-5)


def test_min_df_and_max_df_follow_the_documented_corpus_sizes():
    """TfidfModel.fit's docstring said min_df is 2 from 50 documents; the code uses 5 from 1,000."""
    for n, min_df, max_df in ((49, 1, 1.0), (50, 2, 0.5), (999, 2, 0.5), (1000, 5, 0.5)):
        model = TfidfModel.fit([paper_text(p.title, p.abstract) for p in synthetic_papers(n, seed=n)])
        assert (model.vectorizer.min_df, model.vectorizer.max_df) == (min_df, max_df), n
    doc = " ".join(TfidfModel.fit.__doc__.split())
    assert "is 5, the evaluated setting, from 1,000 documents, 2 from 50 and 1 below" in doc
    assert "max_df` 0.5 (from 50 documents, 1.0 below)" in doc


def test_model_pickle_round_trip_keeps_vocabulary_and_output(tmp_path):
    texts = [paper_text(p.title, p.abstract) for p in synthetic_papers(80)]
    for model in (TfidfModel.fit(texts), TfidfModel.fit_sampled(texts, sample_size=40)[0]):
        model.save(tmp_path / "m.joblib")
        loaded = TfidfModel.load(tmp_path / "m.joblib")
        assert loaded.vectorizer.vocabulary_ == model.vectorizer.vocabulary_
        assert abs(loaded.transform(texts) - model.transform(texts)).max() == 0
        assert loaded.fitted_at == model.fitted_at and loaded.n_docs == model.n_docs


# ---- matrix cache --------------------------------------------------------------------------
def test_refresh_fits_then_transforms_only_new_and_changed_papers(tmp_path, monkeypatch):
    store = Store(tmp_path / "p.db")
    store.upsert_papers(synthetic_papers(100))
    model_path = tmp_path / "model.joblib"
    model, cache = refresh(store, model_path, sample_size=50)
    assert len(cache) == 100 and cache_path_for(model_path).exists()
    fp = model_fingerprint(model)
    transformed = []
    real_transform = TfidfModel.transform
    monkeypatch.setattr(TfidfModel, "transform", lambda self, t: transformed.append(len(t)) or real_transform(self, t))
    _, c2 = refresh(store, model_path)
    assert transformed == [] and len(c2) == 100
    new = synthetic_papers(5, seed=9, prefix="2405")
    changed = Paper(arxiv_id="2401.00002", version=5, title="entirely different words here",
                    abstract="quantum chromodynamics lattice")
    store.upsert_papers(new + [changed])
    m3, c3 = refresh(store, model_path)
    assert model_fingerprint(m3) == fp  # no refit for a small daily growth
    assert sum(transformed) == 6 and len(c3) == 105
    _, row = c3.rows(["2401.00002"])
    expected = m3.transform([paper_text(changed.title, changed.abstract)])
    assert abs(row - expected).max() < 1e-6
    ids, rows = c3.rows(["2405.00003", "unknown", "2401.00000"])
    assert ids == ["2405.00003", "2401.00000"] and rows.shape[0] == 2


def test_cache_of_another_model_or_corrupt_file_is_discarded(tmp_path):
    store = Store(tmp_path / "p.db")
    store.upsert_papers(synthetic_papers(60))
    model_path = tmp_path / "model.joblib"
    m1, _ = refresh(store, model_path)
    store.upsert_papers(synthetic_papers(10, seed=5, prefix="2403"))
    m2, _ = refresh(store, model_path, force=True)
    assert model_fingerprint(m1) != model_fingerprint(m2)
    cpath = cache_path_for(model_path)
    assert MatrixCache.load(cpath, m1) is None and MatrixCache.load(cpath, m2) is not None
    cache, n = sync(store, m1, MatrixCache.load(cpath, m2))
    assert n == 70 and cache.fingerprint == model_fingerprint(m1)
    cpath.write_bytes(b"garbage")
    assert MatrixCache.load(cpath, m2) is None
    _, c = refresh(store, model_path)  # rebuilt from the store
    assert len(c) == 70


# ---- batched scorer ------------------------------------------------------------------------
def test_batch_scorer_gives_the_same_top_k_as_rank():
    papers = synthetic_papers(260, seed=1)
    model = TfidfModel.fit([paper_text(p.title, p.abstract) for p in papers])
    pool, candidates = papers[:200], papers[200:]
    rng = np.random.default_rng(4)
    profiles, specs = [], []
    for j in range(12):
        pos = [pool[i] for i in rng.choice(200, size=int(rng.integers(1, 9)), replace=False)]
        neg = [pool[i] for i in rng.choice(200, size=int(rng.integers(0, 3)), replace=False)]
        specs.append((pos, neg))
        profiles.append(ProfileRows(model.papers_matrix(pos), pos, model.papers_matrix(neg) if neg else None))
    profiles.append(ProfileRows(sp.csr_matrix((0, len(model.terms)), dtype=np.float32), []))
    C = model.papers_matrix(candidates)
    batch = rank_many(C, candidates, profiles, k=10, terms=model.terms)
    assert batch[-1] == []
    for (pos, neg), got in zip(specs, batch):
        want = rank(model, pos, candidates, neg or None)[:10]
        assert [r.paper.arxiv_id for r in got] == [r.paper.arxiv_id for r in want]
        assert np.allclose([r.score for r in got], [r.score for r in want], atol=1e-5)
        assert [r.nearest_id for r in got] == [r.nearest_id for r in want]
        assert [set(r.terms) for r in got] == [set(r.terms) for r in want]


def test_score_matrix_blocks_across_column_chunks(monkeypatch):
    import recommender.batch as batch
    papers = synthetic_papers(90, seed=2)
    model = TfidfModel.fit([paper_text(p.title, p.abstract) for p in papers])
    X = model.papers_matrix(papers)
    profiles = [ProfileRows(X[i:i + 7], papers[i:i + 7]) for i in range(0, 60, 7)]
    C = X[60:]
    s_big, _ = score_matrix(C, profiles)
    monkeypatch.setattr(batch, "COLUMN_BLOCK", 5)  # forces one block per profile, some over-size
    s_small, _ = score_matrix(C, profiles)
    assert np.allclose(s_big, s_small)


def test_top_k_orders_best_first_and_breaks_ties_by_row():
    scores = np.array([[0.1, 0.5], [0.9, 0.5], [0.5, 0.5], [0.9, -np.inf]], dtype=np.float32)
    got = top_k(scores, 3)
    assert got[0].tolist() == [1, 3, 2] and got[1].tolist() == [0, 1, 2]
    assert top_k(np.full((3, 1), -np.inf, dtype=np.float32), 2)[0].tolist() == []


def test_top_k_keeps_the_lowest_rows_among_ties_at_the_cut():
    """argpartition alone picked arbitrary rows among those tied at the k-th value ([51 60 61]
    for 50 rows tied at 0.5), so rank_many/rank_profiles disagreed with rank's stable sort."""
    tied = np.zeros((100, 1), dtype=np.float32)
    tied[50:] = 0.5
    assert top_k(tied, 3)[0].tolist() == [50, 51, 52]
    rng = np.random.default_rng(0)
    scores = rng.choice(np.array([0.1, 0.25, 0.5, 0.7], dtype=np.float32), size=(300, 40))
    scores[:, 7] = -np.inf
    for k in (1, 3, 10, 77, 299, 300, 400):
        got = top_k(scores, k)
        for j in range(scores.shape[1]):
            want = [] if j == 7 else np.argsort(-scores[:, j], kind="stable")[:k].tolist()
            assert got[j].tolist() == want, (k, j)


def test_profile_batch_scores_equal_profile_score_and_top_k():
    from recommender.batch import profile_scores, rank_profiles
    from recommender.ranker import PaperMeta, Profile, RankerConfig
    papers = synthetic_papers(260, seed=6)
    for i, p in enumerate(papers):
        p.authors = [f"Author {i % 11}", f"Other {i % 5}"]
        p.hf_upvotes = i % 4
    model = TfidfModel.fit([paper_text(p.title, p.abstract) for p in papers])
    X = model.papers_matrix(papers)
    pool, candidates, C = papers[:200], papers[200:], X[200:]
    meta = PaperMeta.from_records([p.to_dict() for p in candidates])
    rng = np.random.default_rng(2)
    profiles, pos_lists = [], []
    for j in range(9):
        idx = rng.choice(200, size=int(rng.integers(1, 8)), replace=False)
        cfg = RankerConfig(w_like_sim=0.2) if j == 3 else None
        prof = Profile(X[idx], X_negative=X[rng.choice(200, 2)], X_background=X[rng.choice(200, 30)],
                       positive_authors=[pool[i].authors for i in idx], terms=model.terms, config=cfg)
        if j == 3:
            prof.add_feedback(X[idx[0]], 1, pool[idx[0]].authors)
        profiles.append(prof)
        pos_lists.append([pool[i] for i in idx] + ([pool[idx[0]]] if j == 3 else []))
    got = profile_scores(C, profiles, meta, chunk=4)
    for j, prof in enumerate(profiles):
        assert np.allclose(got[:, j], prof.score(C, meta), atol=1e-5)
    ranked = rank_profiles(C, candidates, profiles, k=5, meta=meta, positive_papers=pos_lists)
    rows_of = [sp.vstack([X[pool.index(p) if p in pool else 0] for p in pl], format="csr") for pl in pos_lists]
    ranked_rows = rank_profiles(C, candidates, profiles, k=5, meta=meta, positive_papers=pos_lists,
                                positive_rows=rows_of)
    for a, b in zip(ranked, ranked_rows):
        assert [(r.paper.arxiv_id, r.terms, r.nearest_id) for r in a] == [(r.paper.arxiv_id, r.terms, r.nearest_id) for r in b]
        assert np.allclose([r.nearest_sim for r in a], [r.nearest_sim for r in b], atol=1e-5)
    for j, prof in enumerate(profiles):
        want = np.argsort(-prof.score(C, meta), kind="stable")[:5]
        assert [r.paper.arxiv_id for r in ranked[j]] == [candidates[i].arxiv_id for i in want]
        top = ranked[j][0]
        assert top.terms == [t for t, _ in prof.explain(C[want[0]], 4)]
        assert top.nearest_id == pos_lists[j][prof.most_similar_positive(C[want[0]])[0]].arxiv_id


def test_search_with_matrix_cache_gives_the_same_hits(tmp_path):
    from recommender.search import search
    store = Store(tmp_path / "s.db")
    papers = synthetic_papers(150, seed=8)
    store.bulk_upsert_papers(papers)
    model, cache = refresh(store, tmp_path / "m.joblib")
    extra = synthetic_papers(3, seed=11, prefix="2409")  # stored after the cache: transformed on the fly
    store.upsert_papers(extra)
    for q in ["reward model", "graph retrieval agent", 'author:"Author 3" memory', "cat:cs.LG pruning", "***"]:
        plain = search(store, model, q, limit=10)
        cached = search(store, model, q, limit=10, matrix=cache)
        assert [(h.paper.arxiv_id, round(h.score, 5)) for h in plain] == \
               [(h.paper.arxiv_id, round(h.score, 5)) for h in cached]
    other, _ = refresh(store, tmp_path / "m2.joblib", force=True)  # a cache of another model is not used
    assert [h.paper.arxiv_id for h in search(store, other, "reward model", matrix=cache)] == \
           [h.paper.arxiv_id for h in search(store, other, "reward model")]


def test_store_search_paper_ids_matches_search_papers(store):
    store.bulk_upsert_papers(synthetic_papers(80, seed=12))
    for args in [('"reward" OR "model"',), ('"graph"', ["Author 2"]), (None, [], ["cs.LG"], "2024-01-01")]:
        full = store.search_papers(*args, limit=20)
        ids = store.search_paper_ids(*args, limit=20)
        assert [(p.arxiv_id, b) for p, b in full] == ids


@pytest.mark.parametrize("cfg_kw", [{}, {"w_dislike_sim": 0.3, "gamma": 0.25}])
def test_rank_rocchio_equals_ranker_profile(cfg_kw):
    from recommender.batch import rank_rocchio
    from recommender.ranker import PaperMeta, Profile, RankerConfig
    cfg = RankerConfig(**cfg_kw)
    papers = synthetic_papers(300, seed=13)
    for i, p in enumerate(papers):
        p.authors = [f"Author {i % 13}", f"Other {i % 7}"]
        p.hf_upvotes = i % 5
    model = TfidfModel.fit([paper_text(p.title, p.abstract) for p in papers])
    X = model.papers_matrix(papers)
    pool, candidates, C = papers[:220], papers[220:], X[220:]
    meta = PaperMeta.from_records([p.to_dict() for p in candidates])
    bg_rows = X[np.arange(0, 220, 3)]
    rng = np.random.default_rng(3)
    P_list, N_list, pp_list, L_list, lp_list, want_profiles = [], [], [], [], [], []
    for j in range(12):
        idx = rng.choice(220, size=int(rng.integers(0 if j % 3 == 0 else 1, 9)), replace=False)
        lidx = rng.choice(220, size=int(rng.integers(1 if j % 3 == 0 else 0, 6)), replace=False)
        nidx = rng.choice(220, size=int(rng.integers(0, 3)), replace=False)
        P, N = X[idx], (X[nidx] if len(nidx) else None)
        P_list.append(P), N_list.append(N), pp_list.append([pool[i] for i in idx])
        L_list.append(X[lidx] if len(lidx) else None), lp_list.append([pool[i] for i in lidx])
        prof = Profile(P, X_negative=N, X_background=bg_rows,
                       positive_authors=[pool[i].authors for i in idx], terms=model.terms, config=cfg)
        for i in lidx:
            prof.add_feedback(X[i], 1, pool[i].authors)
        want_profiles.append(prof)
    P_list.append(sp.csr_matrix((0, X.shape[1]), dtype=np.float32)), N_list.append(None), pp_list.append([])
    L_list.append(None), lp_list.append([])
    got = rank_rocchio(C, candidates, P_list, pp_list, N_list, bg_rows, 6, model.terms, meta=meta, config=cfg,
                       likes=L_list, like_papers=lp_list)
    assert got[-1] == []
    for prof, recs, pp, lp in zip(want_profiles, got, pp_list, lp_list):
        s = prof.score(C, meta)
        order = np.argsort(-s, kind="stable")[:6]
        assert [r.paper.arxiv_id for r in recs] == [candidates[i].arxiv_id for i in order]
        assert np.allclose([r.score for r in recs], s[order], atol=1e-5)
        for r, i in zip(recs, order):
            # same terms up to ties: their contributions equal explain's top-4 (float32 vs 64)
            weight = dict(prof.explain(C[i], 10_000))
            assert np.allclose([weight[t] for t in r.terms], [w for _, w in prof.explain(C[i], 4)], atol=1e-6)
            near, sim = prof.most_similar_positive(C[i])
            assert r.nearest_id == (pp + lp)[near].arxiv_id and abs(r.nearest_sim - sim) < 1e-5


@pytest.mark.parametrize("scorer", ["profile", "rank"])
def test_build_digests_for_users_and_channels(tmp_path, scorer):
    from datetime import date
    from bot.blocks import digest_blocks
    from paperbot.batch_digests import Subject, background_row, build_digests
    from recommender.ranker import PaperMeta, Profile
    store = Store(tmp_path / "d.db")
    old, new = synthetic_papers(150, seed=21), synthetic_papers(40, seed=22, prefix="2408")
    store.bulk_upsert_papers(old + new)
    model, cache = refresh(store, tmp_path / "m.joblib")
    likes = [p.arxiv_id for p in old[:6]]
    subjects = [Subject("U1", "Your papers", [], [old[7].arxiv_id], max_papers=5, like_ids=likes),
                Subject("C1", "Channel", [p.arxiv_id for p in old[10:20]], max_papers=8),
                Subject("U2", "Nobody", [], [], like_ids=["9999.99999"])]
    digests = build_digests(store, cache, model.terms, subjects, new, date(2026, 11, 21), scorer=scorer)
    assert [len(d.items) for d in digests] == [5, 8, 0] and "Nothing to compare" in digests[2].empty_reason
    assert all(len(digest_blocks(d)[0]) <= 50 for d in digests)
    if scorer == "profile":
        _, C = cache.rows([p.arxiv_id for p in new])
        _, L = cache.rows(likes)
        prof = Profile(sp.csr_matrix((0, C.shape[1])), X_negative=cache.rows([old[7].arxiv_id])[1],
                       X_background=background_row(cache, {p.arxiv_id for p in new}), terms=model.terms)
        for i, a in enumerate(likes):
            prof.add_feedback(L[i], 1, store.get_paper(a).authors)
        s = prof.score(C, PaperMeta.from_records([p.to_dict() for p in new]))
        want = [new[i].arxiv_id for i in np.argsort(-s, kind="stable")[:5]]
        assert [r.paper.arxiv_id for r in digests[0].items] == want
    with pytest.raises(ValueError):
        build_digests(store, cache, model.terms, subjects, new, date(2026, 11, 21), scorer="svm")


def test_import_corpus_command_reports_bad_lines_and_keeps_good_ones(tmp_path):
    from click.testing import CliRunner
    from paperbot.cli import main
    good = fixture_path("corpus_sample.jsonl").read_text().splitlines()
    f = tmp_path / "c.jsonl"
    f.write_text("\n".join(good[:3] + ["{broken", json.dumps({"title": "no id"})] + good[3:]) + "\n")
    db = tmp_path / "p.db"
    res = CliRunner().invoke(main, ["import-corpus", "--db", str(db), "--no-progress", str(f)])
    assert res.exit_code == 0, res.output
    assert "skipped c.jsonl:4: not JSON" in res.output and "skipped c.jsonl:5: no valid arxiv_id" in res.output
    assert Store(db).count_papers() == len(good)
    bad = tmp_path / "bad.jsonl.gz"
    bad.write_bytes(gzip.compress(("\n".join(good) + "\n").encode())[:-40])
    res = CliRunner().invoke(main, ["import-corpus", "--db", str(tmp_path / "q.db"), "--no-progress", str(bad)])
    assert res.exit_code == 1 and "unreadable" in res.output


def test_search_keeps_its_fingerprint_memo_off_the_model(tmp_path):
    """search.py stored a private _search_fingerprint on TfidfModel, which tfidf.py had to know
    to leave out of the pickle; the memo now lives in recommender.search, keyed weakly."""
    import gc

    from recommender import search as S
    store = Store(tmp_path / "s.db")
    store.bulk_upsert_papers(synthetic_papers(120, seed=8))
    model, cache = refresh(store, tmp_path / "m.joblib")
    other, _ = refresh(store, tmp_path / "m2.joblib", force=True)
    before = dict(vars(model))
    for m in (model, other, model):
        S.search(store, m, "reward model", limit=5, matrix=cache)
        assert S._fingerprint(m) == model_fingerprint(m)
    assert vars(model).keys() == before.keys() and "_search_fingerprint" not in vars(other)
    n = len(S._FINGERPRINTS)
    del other
    gc.collect()
    assert len(S._FINGERPRINTS) == n - 1
