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
import time

import numpy as np

from bench.shared_data import add_data_argument, dev_inputs
from recommender import evaluation as E
from recommender import ranker as R
from recommender.tfidf import TfidfModel, paper_text
from store.store import spread_positions



def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_argument(ap)
    args = ap.parse_args()
    inputs = dev_inputs(args.data, "digest vs eval")
    if inputs is None:
        return 0
    tasks_file, files = inputs
    tasks = E.load_tasks(str(tasks_file))
    papers = E.load_corpus([str(f) for f in files])
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
