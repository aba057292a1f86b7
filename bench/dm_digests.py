"""Scheduled digests one subject at a time, as `paperbot serve` runs them — by hand, prints figures.

    PYTHONPATH=. python bench/dm_digests.py [N]

Builds the demo store (bundled real captures, `paperbot demo`'s sources, no network) in a temp
directory, then times N personal digests (`paperbot.digests.profile_digest`, default N=100),
each with a different profile of 10 papers drawn (fixed seed) from the curated collection.
Every digest after the first reuses the background vector and the candidate set (decoded papers,
TF-IDF rows, author index) built with the same model.
"""
from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import date

from bot.posting import TerminalPoster
from paperbot import digests, pipeline
from paperbot.demo import demo_config
from recommender.profiles import Profile
from store import Store


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description="Time N personal digests on the demo store, one subject at a time, "
                                             "as `paperbot serve` builds them.")
    ap.add_argument("n", nargs="?", type=int, default=100, metavar="N", help="DM digests to build (default: 100)")
    n = ap.parse_args(argv).n
    with tempfile.TemporaryDirectory() as tmp:
        cfg = demo_config(tmp)
        store = Store(cfg.database)
        # prints the demo digest; never Slack's poster, even with SLACK_BOT_TOKEN set
        pipeline.run_once(cfg, store, poster=TerminalPoster(say_target=False))
        model = digests.load_or_fit_model(cfg, store)
        curated = list(store.get_papers(store.collection_ids("rlhf_code")).values())
        rng = random.Random(0)
        t0 = time.perf_counter()
        first = None
        for u in range(n):
            prof = Profile(positives=rng.sample(curated, 10), follows=["rlhf_code"])
            d = digests.profile_digest(f"U{u}", "bench", prof, store, model, date.today(), None, 10)
            first = first or time.perf_counter() - t0
        total = time.perf_counter() - t0
        print(f"\n{n} DM digests: {total:.1f} s (first {first:.2f} s, then {(total - first) / max(n - 1, 1) * 1000:.0f} ms "
              f"each) · {store.count_papers()} papers stored · {d.n_candidates} candidates per digest")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
