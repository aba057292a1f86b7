"""Where the benchmarks that read the real data find it: the dev tasks and the corpus under
``../shared/data`` (see its SOURCES.md), and what they say when it is missing (they exit 0, as
a clone without ``../shared`` has none)."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS_FILES = ("corpus.jsonl", "corpus_supplement_hf_daily.jsonl.gz", "corpus_supplement_cnchatarxiv.jsonl.gz")


def add_data_argument(ap: argparse.ArgumentParser) -> None:
    """``--data DIR``: the shared data folder (default: ``PAPERBOT_DATA``, else ``../shared/data``
    next to this repository)."""
    ap.add_argument("--data", default=os.environ.get("PAPERBOT_DATA", str(ROOT.parent / "shared" / "data")),
                    help="the shared data folder (default: PAPERBOT_DATA, else ../shared/data next to this repository)")


def dev_inputs(data: str | Path, what: str) -> tuple[Path, list[Path]] | None:
    """``(dev_tasks.json, [corpus files])`` under `data`, or None after printing "`what` skipped:
    … are missing" and where to point ``--data`` when any of them is missing."""
    data = Path(data)
    tasks_file = data / "bench" / "dev_tasks.json"
    files = [data / "corpus" / f for f in CORPUS_FILES]
    if not tasks_file.exists() or not all(f.exists() for f in files):
        print(f"{what} skipped: {tasks_file} or the corpus files under {data / 'corpus'} are missing. "
              "Point --data (or PAPERBOT_DATA) at the shared data directory.")
        return None
    return tasks_file, files
