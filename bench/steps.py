"""One benchmark step per process: ``python -m bench.steps STEP ARGS_JSON``.

Each step prints ``BENCH_RESULT {json}`` as its last stdout line, including ``peak_rss_mb``: this
process's own high-water mark (``getrusage(RUSAGE_SELF).ru_maxrss``), so every figure is the
peak of exactly that step — interpreter and imports included. `bench/run.py` drives them.
"""
from __future__ import annotations

import json
import os
import resource
import shutil
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from bench import workload as W
from store import Store


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _corpus_reader_papers(path: Path):
    from feeds.corpus import CorpusReader
    return list(CorpusReader(path))


def _write_jsonl(papers, path: Path) -> None:
    with open(path, "w") as f:
        for p in papers:
            f.write(json.dumps({"arxiv_id": p.arxiv_id, "title": p.title, "abstract": p.abstract,
                                "categories": p.categories, "published": p.published,
                                "authors": p.authors, "hf_upvotes": p.hf_upvotes}) + "\n")


# ---- 1. import ------------------------------------------------------------------------------
def step_import(a: dict) -> dict:
    """`paperbot import-corpus` on every corpus file into a fresh database (progress bar on
    stderr)."""
    from paperbot.cli import main as cli
    db = Path(a["db"])
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    t0 = time.perf_counter()
    cli.main(["import-corpus", "--db", str(db), *a["files"]], standalone_mode=False)
    dt = time.perf_counter() - t0
    store = Store(db)
    n = store.count_papers()
    store.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    return {"papers": n, "seconds": dt, "papers_per_s": n / dt, "db_mb": db.stat().st_size / 1e6}


# ---- setup (not timed) ------------------------------------------------------------------------
def step_build(a: dict) -> dict:
    """Base database of size N − 2,000, the day's new papers and the search queries."""
    out = Path(a["dir"])
    out.mkdir(parents=True, exist_ok=True)
    papers = W.load_papers([Path(f) for f in a["files"]])
    older, new = W.split_new(papers)
    base = W.sample_base(older, a["size"] - W.N_NEW)
    db = out / "base.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    store = Store(db)
    store.bulk_upsert_papers(base)
    with store.transaction() as conn:  # the base was stored "yesterday"
        conn.execute("update papers set first_seen = '2026-01-01T00:00:00+00:00', "
                     "last_seen = '2026-01-01T00:00:00+00:00'")
    store.close()
    _write_jsonl(new, out / "new.jsonl")
    W.save_json(W.make_queries(base + new), out / "queries.json")
    return {"base": len(base), "new": len(new), "total": len(base) + len(new),
            "new_published": f"{new[0].published} … {new[-1].published}"}


# ---- 2. fit ---------------------------------------------------------------------------------
def step_fit(a: dict) -> dict:
    """Full (re)fit of the production TF-IDF model + matrix cache on the base database."""
    from recommender.matrix_cache import refresh
    store = Store(a["db"])
    t0 = time.perf_counter()
    model, cache = refresh(store, a["model"], force=True)
    dt = time.perf_counter() - t0
    return {"seconds": dt, "docs": len(cache), "terms": int(cache.matrix.shape[1]),
            "nnz": int(cache.matrix.nnz)}


def step_profiles(a: dict) -> dict:
    """Users' 👍/👎 and channel collections, stored through Store's public methods."""
    from recommender.matrix_cache import MatrixCache, cache_path_for
    from recommender.tfidf import TfidfModel
    store = Store(a["db"])
    model = TfidfModel.load(a["model"])
    cache = MatrixCache.load(cache_path_for(a["model"]), model)
    papers = store.get_papers(cache.ids)
    cats = [papers[i].primary_category for i in cache.ids]
    prof = W.make_profiles(cache.ids, cats, cache.matrix)
    with store.transaction():
        for u in prof["users"]:
            store.ensure_user(u["id"])
            for i, aid in enumerate(u["positives"]):
                store.record_feedback(u["id"], aid, 1, "bench", event_key=f"{u['id']}:+:{i}")
            for i, aid in enumerate(u["negatives"]):
                store.record_feedback(u["id"], aid, -1, "bench", event_key=f"{u['id']}:-:{i}")
        for c in prof["channels"]:
            store.add_to_collection(c["collection"], c["positives"])
            store.upsert_channel(c["id"], name=c["collection"], collections=[c["collection"]], max_papers=20)
    W.save_json(prof, Path(a["out"]))
    sizes = [len(u["positives"]) for u in prof["users"]]
    return {"users": len(prof["users"]), "channels": len(prof["channels"]),
            "user_positives_mean": float(np.mean(sizes)), "feedback_rows": store.feedback_count()}


def _fresh_copy(src_dir: Path, run_dir: Path) -> None:
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    for name in ("base.db", "model.joblib", "model.joblib.matrix.npz"):
        shutil.copy2(src_dir / name, run_dir / name)


# ---- 3. daily run ---------------------------------------------------------------------------
def step_daily(a: dict) -> dict:
    """The daily run without network: store the day's 2,000 papers, refresh the model's matrix
    (transform only new papers), build 1,000 user + 20 channel profiles from the store, score,
    top-k, render Block Kit digests (not posted)."""
    from bot.blocks import digest_blocks, overflow_blocks
    from paperbot.batch_digests import Subject, build_digests
    from recommender.matrix_cache import refresh
    src, run = Path(a["dir"]), Path(a["run_dir"])
    _fresh_copy(src, run)
    new = _corpus_reader_papers(src / "new.jsonl")  # what the pollers would hand over
    prof = W.load_json(src / "profiles.json")
    for p in new:
        p.sources = ["arxiv_rss"]
    t = {}
    t0 = time.perf_counter()
    started = (datetime.now(timezone.utc) - timedelta(seconds=1)).isoformat(timespec="seconds")
    store = Store(run / "base.db")
    store.bulk_upsert_papers(new)  # what paperbot.poll stores a source's papers with
    t["store"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    model, cache = refresh(store, run / "model.joblib", refit_days=3650)
    t["refresh"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    curated = store.curated_ids()
    candidates = [p for p in store.papers_first_seen_since(started) if p.arxiv_id not in curated]
    subjects = []
    for u in prof["users"]:
        fb = store.feedback_for(user_id=u["id"])
        subjects.append(Subject(u["id"], f"Your papers · {date.today()}", [], [x for x, v in fb.items() if v < 0],
                                max_papers=10, like_ids=[x for x, v in fb.items() if v > 0]))
    for c in prof["channels"]:
        ch = store.get_channel(c["id"])
        pos = [x for name in ch["collections"] for x in store.collection_ids(name)]
        fb = store.feedback_for(channel_id=c["id"])
        subjects.append(Subject(c["id"], f"Paper digest · {ch['name']}", pos, [x for x, v in fb.items() if v < 0],
                                max_papers=ch["max_papers"] or 20, follows=ch["collections"],
                                like_ids=[x for x, v in fb.items() if v > 0]))
    t["profiles_read"] = time.perf_counter() - t2
    t3 = time.perf_counter()
    digests = build_digests(store, cache, model.terms, subjects, candidates, date.today(), scorer=a["scorer"])
    t["score"] = time.perf_counter() - t3
    t4 = time.perf_counter()
    n_blocks = 0
    for d in digests:
        blocks, overflow = digest_blocks(d)
        n_blocks += len(blocks) + sum(len(m) for m in overflow_blocks(overflow, len(d.items) - len(overflow) + 1))
    t["render"] = time.perf_counter() - t4
    total = time.perf_counter() - t0
    store.close()
    return {"seconds": total, "parts": t, "candidates": len(candidates), "digests": len(digests),
            "nonempty": sum(1 for d in digests if d.items), "blocks": n_blocks,
            "example": [(r.paper.arxiv_id, round(r.score, 3), r.why[:100]) for r in digests[0].items[:2]]}


# ---- 4. search --------------------------------------------------------------------------------
def step_search(a: dict) -> dict:
    """1,000 queries through `recommender.search.search` (the `/papers search` code path)."""
    from recommender.search import QueryError, search
    from recommender.tfidf import TfidfModel
    store = Store(Path(a["run_dir"]) / "base.db")
    model = TfidfModel.load(Path(a["run_dir"]) / "model.joblib")
    queries = W.load_json(Path(a["dir"]) / "queries.json")
    kwargs = {}
    if a.get("with_cache", True):
        import inspect
        if "matrix" in inspect.signature(search).parameters:
            from recommender.matrix_cache import MatrixCache, cache_path_for
            kwargs["matrix"] = MatrixCache.load(cache_path_for(Path(a["run_dir"]) / "model.joblib"), model)
    for q in queries[:10]:  # warm-up (page cache, first-call imports), not counted
        try:
            search(store, model, q["q"], limit=10, **kwargs)
        except QueryError:
            pass
    lat, by_kind, errors, hits = [], {}, 0, 0
    for q in queries:
        t0 = time.perf_counter()
        try:
            hits += len(search(store, model, q["q"], limit=10, **kwargs))
        except QueryError:
            errors += 1
        dt = (time.perf_counter() - t0) * 1000
        lat.append(dt)
        by_kind.setdefault(q["kind"], []).append(dt)
    lat = np.array(lat)
    worst = sorted(zip(lat.tolist(), [q["q"][:60] for q in queries]), reverse=True)[:3]
    return {"queries": len(queries), "p50_ms": float(np.percentile(lat, 50)),
            "p95_ms": float(np.percentile(lat, 95)), "p99_ms": float(np.percentile(lat, 99)),
            "max_ms": float(lat.max()), "query_errors": errors, "hits": hits,
            "p95_by_kind": {k: float(np.percentile(v, 95)) for k, v in by_kind.items()},
            "slowest": worst, "cache_used": bool(kwargs)}


# ---- 5. arxiv-sanity-lite side by side ----------------------------------------------------------
ASL_TFIDF = dict(ngram_range=(1, 2), max_features=20000, min_df=5, max_df=0.1, sublinear_tf=True,
                 stop_words="english")


def step_asl_fit(a: dict) -> dict:
    """ASL's TF-IDF features of the stored papers (its compute.py job; not part of the daily
    timing, as our refit is not)."""
    import joblib
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import TfidfVectorizer
    from recommender.tfidf import paper_text
    store = Store(a["db"])
    ids, texts = [], []
    for p in store.iter_papers():
        ids.append(p.arxiv_id)
        texts.append(paper_text(p.title, p.abstract))
    t0 = time.perf_counter()
    vec = TfidfVectorizer(**ASL_TFIDF, dtype=np.float32)
    X = vec.fit_transform(texts).tocsr()
    dt = time.perf_counter() - t0
    vec.stop_words_ = None
    joblib.dump(vec, Path(a["out"]) / "asl_vec.joblib")
    sp.save_npz(Path(a["out"]) / "asl_X.npz", X, compressed=False)
    W.save_json(ids, Path(a["out"]) / "asl_ids.json")
    return {"seconds": dt, "docs": len(ids), "terms": X.shape[1]}


def step_asl_daily(a: dict) -> dict:
    """ASL's method on the same day: per profile a LinearSVC(C=0.01, class_weight="balanced")
    trained on every stored paper (its 👍/curated papers = 1, all others = 0, as its serve.py
    does), decision_function on the day's papers, top-k. Timed on a random sample of profiles
    and extrapolated linearly to all of them (each profile is an independent, equal-size fit)."""
    import joblib
    import scipy.sparse as sp
    from sklearn.svm import LinearSVC
    from recommender.tfidf import paper_text
    src = Path(a["dir"])
    vec = joblib.load(src / "asl_vec.joblib")
    X = sp.load_npz(src / "asl_X.npz").tocsr()
    ids = W.load_json(src / "asl_ids.json")
    index = {x: i for i, x in enumerate(ids)}
    prof = W.load_json(src / "profiles.json")
    subjects = [(u["positives"], u["negatives"]) for u in prof["users"]] + \
               [(c["positives"], []) for c in prof["channels"]]
    new = _corpus_reader_papers(src / "new.jsonl")
    t0 = time.perf_counter()
    X_new = vec.transform([paper_text(p.title, p.abstract) for p in new])
    t_transform = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    sample = rng.choice(len(subjects), size=min(a["sample"], len(subjects)), replace=False)
    per = []
    for j in sample:
        pos, _ = subjects[j]
        t1 = time.perf_counter()
        y = np.zeros(X.shape[0], dtype=int)
        y[[index[x] for x in pos if x in index]] = 1
        clf = LinearSVC(C=0.01, class_weight="balanced", tol=1e-6, max_iter=10000)
        clf.fit(X, y)
        s = clf.decision_function(X_new)
        np.argsort(-s)[:10]
        per.append(time.perf_counter() - t1)
    mean = float(np.mean(per))
    return {"transform_s": t_transform, "sampled": len(per), "per_profile_s": mean,
            "per_profile_p95_s": float(np.percentile(per, 95)),
            "score_all_s": t_transform + mean * len(subjects), "subjects": len(subjects)}


STEPS = {"import": step_import, "build": step_build, "fit": step_fit, "profiles": step_profiles,
         "daily": step_daily, "search": step_search, "asl-fit": step_asl_fit, "asl-daily": step_asl_daily}


def main(argv: list[str]) -> int:
    """Run one step; its figures (plus peak RSS and load average) go to stdout as JSON."""
    step, args = argv[0], json.loads(argv[1]) if len(argv) > 1 else {}
    load_before = os.getloadavg()[0]
    out = STEPS[step](args)
    out["peak_rss_mb"] = _rss_mb()
    out["load_avg"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    print("BENCH_RESULT " + json.dumps(out, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
