"""`paperbot demo`: the main job on an embedded default, with no network.

Uses real captures bundled in ``paperbot/data`` (see tools/make_demo_data.py): the
rss.arxiv.org Atom document of cs.AI for 2025-08-20, six real arXiv listing days (2025-03 …
2026-06, 2,546 entries) in arXiv API form, two Hugging Face daily-papers days, and the curated
sample (49 ``rlhf_code`` papers). One channel follows ``rlhf_code``.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

from paperbot.config import (ArxivFeedConfig, ArxivQueryConfig, ChannelConfig, Config, HFDailyConfig,
                             RecommenderConfig, model_path_for)


LISTING_DAYS = ("2025-03-20", "2025-06-10", "2025-09-16", "2025-12-10", "2026-03-18", "2026-06-30")


def data_path(name: str) -> Path:
    """Path of a bundled capture in paperbot/data."""
    return Path(str(resources.files("paperbot").joinpath("data", name)))


def demo_config(workdir: str | Path, database: str | Path | None = None) -> Config:
    """The embedded default: bundled sources, the database `database` (default
    ``workdir/paperbot-demo.db``) and its TF-IDF model next to it, named after it as ``--db``
    does everywhere (`paperbot.config.model_path_for`: ``lab.db`` → ``lab-model.joblib``), so
    two demo databases in one folder never share a model."""
    database = str(database) if database else str(Path(workdir) / "paperbot-demo.db")
    return Config(
        database=database,
        arxiv_feeds=[ArxivFeedConfig(name="arxiv_rss:cs.AI", categories=["cs.AI"],
                                     announce_types=["new", "cross"],
                                     url=data_path("atom_cs.AI_2025-08-20.xml").as_uri())],
        arxiv_queries=[ArxivQueryConfig(name=f"arxiv_api:listing-{day}",
                                        url=data_path(f"arxiv_api_{day}.xml").as_uri())
                       for day in LISTING_DAYS],
        hf_daily=HFDailyConfig(enabled=True, urls=[data_path(f"hf_daily_{d}.json").as_uri()
                                                   for d in ("2026-02-18", "2026-08-21")]),
        curated_files=[str(data_path("papers_database.sample.json"))],
        channels=[ChannelConfig(id="#rl-for-code", name="#rl-for-code", collections=["rlhf_code"],
                                max_papers=10)],
        recommender=RecommenderConfig(model_path=model_path_for(database)),
    )
