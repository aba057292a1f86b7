"""Does `paperbot eval --method production` measure the ranker the digests run? Run by hand, prints figures.

    PYTHONPATH=. python bench/digest_vs_eval.py [--data DIR]   (default: PAPERBOT_DATA, else ../shared/data)

Per dev task it rebuilds what a digest would compute on a store holding every paper announced up to
the end of the task window (after a reviewer's reproduction of the digest pipeline): the TF-IDF model
as `recommender.matrix_cache.refresh` fits it (`TfidfModel.fit_sampled`: vocabulary on a 40,000-paper
sample when the store is larger), the background as `paperbot.digests._ModelMemo.background` samples it
(`Store.sample_papers`' even spread, `store.store.spread_positions`, over the papers stored before the
candidate window — announced before the split here — curated papers left out), and the curated papers'
`recommender.ranker.Profile`; it ranks the candidates and prints the same metrics as `paperbot eval`.
The two should agree up to the sampled vocabulary. Reads ``relevant`` only for the metrics.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from recommender import evaluation as E
from recommender import ranker as R
from recommender.tfidf import TfidfModel, paper_text
from store.store import spread_positions

CORPUS_FILES = ("corpus.jsonl", "corpus_supplement_hf_daily.jsonl.gz", "corpus_supplement_cnchatarxiv.jsonl.gz")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.environ.get("PAPERBOT_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data")),
                    help="the shared data folder (default: PAPERBOT_DATA, else ../shared/data next to this repository)")
    args = ap.parse_args()
    data = Path(args.data)
    tasks_file = data / "bench" / "dev_tasks.json"
    if not tasks_file.exists() or not all((data / "corpus" / f).exists() for f in CORPUS_FILES):
        print(f"digest vs eval skipped: {tasks_file} or the corpus files under {data / 'corpus'} are missing. "
              "Point --data (or PAPERBOT_DATA) at the shared data directory.")
        return 0
    tasks = E.load_tasks(str(tasks_file))
    papers = E.load_corpus([str(data / "corpus" / f) for f in CORPUS_FILES])
    pub = np.array([p["published"] for p in papers])
    rowof = {p["arxiv_id"]: i for i, p in enumerate(papers)}
    res = []
    for t in tasks:
        t0 = time.time()
        rows = np.flatnonzero(pub < E.window_end(t))  # the store on the window's last day
        local = {r: i for i, r in enumerate(rows)}
        model, X = TfidfModel.fit_sampled([paper_text(papers[r]["title"], papers[r]["abstract"]) for r in rows])
        cur = [rowof[c] for c in t["curated"] if c in rowof]
        cand = [rowof[c] for c in E.unique_candidates(t)[0] if c in rowof]
        cur_set = set(t["curated"])
        pool = [r for r in rows if pub[r] < t["split"] and papers[r]["arxiv_id"] not in cur_set]
        bg = [pool[i] for i in spread_positions(len(pool), E.BACKGROUND_SIZE)]
        prof = R.Profile(X[[local[r] for r in cur]], X_background=R.background_vector(X[[local[r] for r in bg]]),
                         positive_authors=[papers[r]["authors"] for r in cur], terms=model.terms)
        meta = R.PaperMeta.from_records([{"authors": papers[r]["authors"], "hf_upvotes": papers[r]["hf_upvotes"]}
                                         for r in cand])
        ranking = E.rank_ids([papers[r]["arxiv_id"] for r in cand], prof.score(X[[local[r] for r in cand]], meta))
        m = E.task_metrics(ranking, t["relevant"])
        res.append(m)
        print(t["name"][:24], t["split"], {k: round(v, 3) for k, v in m.items()}, f"{time.time() - t0:.0f}s",
              flush=True)
    print("MEAN (digest pipeline)", json.dumps({k: round(float(np.mean([r[k] for r in res])), 3) for k in res[0]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
