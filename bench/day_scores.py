"""How high the production ranker's scores run on a day — the scale a channel's `min_score` is
read on. Run by hand (prints figures, never a unit test):

    python bench/day_scores.py [--data DIR]   (default: PAPERBOT_DATA, else ../shared/data)

For every dev task (`bench/dev_tasks.json`), the production profile is built from the curated
papers exactly as ``paperbot eval`` builds it (`recommender.evaluation.make_profile`: per-window
TF-IDF, same background sample, no feedback), every candidate is scored with
`recommender.ranker.Profile.score`, and the scores are grouped by announcement day (days with
≥ 20 candidates, as a daily digest sees them). Prints the number of days, the median and
quartiles of each day's best score, and on how many days the best paper scores below 0 and
below 0.02 (i.e. on how many days a digest with ``min_score = 0.02`` would be empty). Takes
about 60 s and 1.6 GB peak on the shared 2-core machine (mostly loading the ~99k-paper corpus).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.shared_data import add_data_argument, dev_inputs  # noqa: E402
from recommender import evaluation as E  # noqa: E402

MIN_DAY_SIZE = 20


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_argument(ap)
    args = ap.parse_args(argv)
    inputs = dev_inputs(args.data, "day scores")
    if inputs is None:
        return 0
    tasks_file, files = inputs
    tasks = E.load_tasks(str(tasks_file))
    corpus = E.get_corpus([str(f) for f in files], log=lambda *a: None)
    best = []
    for task in tasks:
        setup = E._setup(task, corpus)
        prof, X = E.make_profile(setup, corpus)
        s = prof.score(X[setup.cand_rows], corpus.meta.subset(setup.cand_rows))
        pub = corpus.published[setup.cand_rows]
        best += [s[pub == day].max() for day in np.unique(pub) if (pub == day).sum() >= MIN_DAY_SIZE]
    best = np.array(best)
    q1, med, q3 = np.percentile(best, [25, 50, 75])
    print(f"{len(best)} announcement days (>= {MIN_DAY_SIZE} candidates) over {len(tasks)} dev tasks")
    print(f"best score of the day: median {med:.3f}, quartiles {q1:.3f} / {q3:.3f}, "
          f"min {best.min():.3f}, max {best.max():.3f}")
    print(f"days whose best paper scores < 0: {int((best < 0).sum())}; < 0.02: {int((best < 0.02).sum())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
