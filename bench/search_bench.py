"""Benchmark `/papers search` (FTS5 BM25 top 200 + TF-IDF blend) at N papers — run by hand:

    PYTHONPATH=. python bench/search_bench.py [N=100000] [QUERIES=300]

Papers are synthesised from real arXiv abstracts (the bundled arXiv API listing of 2026-06-30):
each synthetic paper takes a real title and abstract with words of two other real abstracts
mixed in, so term statistics stay realistic. Prints insert time, fit time and search latency
percentiles (target: p95 ≤ 50 ms at 100k papers).
"""
from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from feeds.arxiv_api import parse_response
from paperbot.demo import data_path
from recommender.search import BM25_POOL, search
from recommender.tfidf import TfidfModel, paper_text
from store import Store


def main(n: int = 100_000, n_queries: int = 300) -> None:
    base = parse_response(data_path("arxiv_api_2026-06-30.xml").read_bytes()).result.papers
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.db")
        t0 = time.perf_counter()
        batch = []
        for i in range(n):
            p, a, b = rng.choice(base), rng.choice(base), rng.choice(base)
            words = (a.abstract.split()[:40] + b.abstract.split()[:40])
            rng.shuffle(words)
            batch.append(replace(p, arxiv_id=f"{2000 + i // 100000:04d}.{i % 100000:05d}",
                                 abstract=p.abstract + " " + " ".join(words)))
            if len(batch) == 5000:
                store.upsert_papers(batch)
                batch = []
        store.upsert_papers(batch)
        t1 = time.perf_counter()
        model = TfidfModel.fit([paper_text(p.title, p.abstract) for p in store.iter_papers()])
        t2 = time.perf_counter()
        titles = [p.title.split() for p in base if len(p.title.split()) >= 3]
        queries = [" ".join(rng.sample(rng.choice(titles), k=3)) for _ in range(n_queries)]
        queries += ['reward model cat:cs.LG', 'C++ "quoted" *', 'author:Smith learning', 'x' * 2000]
        print(f"papers: {store.count_papers()}  insert: {t1 - t0:.1f}s  TF-IDF fit: {t2 - t1:.1f}s "
              f"({len(model.terms)} terms)")
        for label, kw in ((f"TF-IDF re-rank of the BM25 top {BM25_POOL} (default)", {}),
                          ("TF-IDF re-rank of the BM25 top 50", {"rerank": 50}),
                          ("BM25 only (no model)", {"model": None})):
            lat = []
            for q in queries:
                s = time.perf_counter()
                search(store, kw.get("model", model), q, limit=10, rerank=kw.get("rerank", BM25_POOL))
                lat.append((time.perf_counter() - s) * 1000)
            lat.sort()
            p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
            print(f"search, {label}, {len(lat)} queries: p50 {p(0.5):.1f} ms · p95 {p(0.95):.1f} ms · "
                  f"max {lat[-1]:.1f} ms · mean {statistics.mean(lat):.1f} ms")
        store.close()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description="Benchmark /papers search (FTS5 BM25 + TF-IDF blend) on N synthetic "
                                             "papers built from real abstracts; prints latency percentiles.")
    ap.add_argument("n", nargs="?", type=int, default=100_000, metavar="N", help="papers in the store (default: 100000)")
    ap.add_argument("queries", nargs="?", type=int, default=300, metavar="QUERIES",
                    help="title-phrase queries timed, plus 4 hostile ones (default: 300)")
    args = ap.parse_args()
    main(args.n, args.queries)
