"""Shared fixtures: paths to real captures, a fresh store, the Slack Web API fake."""
from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from store import Store
from tests.slack_fake import SlackFake

FIXTURES = Path(__file__).parent / "fixtures"


def fixture_path(*parts: str) -> Path:
    """Path of a file under tests/fixtures."""
    return FIXTURES.joinpath(*parts)


def closed_loopback_port() -> int:
    """A 127.0.0.1 TCP port that was free a moment ago and has nothing listening now (connecting
    to it is refused): for "Slack / the endpoint is unreachable" tests."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(tmp_path: Path, *, rss=(), api=(), hf: list[str] | None = None, curated=(), channels=(),
                 extra: str = "") -> Path:
    """Write ``tmp_path/paperbot.toml`` for a test and return its path: database ``bot.db`` and
    model ``model.joblib`` beside it; arXiv RSS feeds `rss` (``(name, [categories], url)``
    each), arXiv API feeds `api` (``(name, url)``), Hugging Face daily papers from `hf` (URLs;
    None: that source is off, so nothing leaves the machine), the `curated` files, `channels`
    (one dict of ``[[channels]]`` keys each) and `extra` TOML appended as is. Values are written
    with `json.dumps`, which TOML reads the same for strings, numbers, booleans and arrays."""
    lines = ["[database]", 'path = "bot.db"']
    for name, categories, url in rss:
        lines += ["[[feeds.arxiv_rss]]", f"name = {json.dumps(name)}", f"categories = {json.dumps(categories)}",
                  f"url = {json.dumps(str(url))}"]
    for name, url in api:
        lines += ["[[feeds.arxiv_api]]", f"name = {json.dumps(name)}", f"url = {json.dumps(str(url))}"]
    lines += ["[feeds.hf_daily]", "enabled = false" if hf is None else f"urls = {json.dumps([str(u) for u in hf])}"]
    if curated:
        lines += ["[curated]", f"files = {json.dumps([str(f) for f in curated])}"]
    lines += ["[recommender]", 'model_path = "model.joblib"']
    for channel in channels:
        lines += ["[[channels]]"] + [f"{key} = {json.dumps(value)}" for key, value in channel.items()]
    path = tmp_path / "paperbot.toml"
    path.write_text("\n".join(lines) + "\n" + extra)
    return path


def api_exchange(name: str) -> dict:
    """A recorded arXiv API exchange {url, status_code, body} from tests/fixtures/arxiv_api."""
    return json.loads(fixture_path("arxiv_api", name).read_text())


@pytest.fixture
def store(tmp_path) -> Store:
    s = Store(tmp_path / "paperbot.db")
    yield s
    s.close()


@pytest.fixture
def slack_fake():
    with SlackFake() as fake:
        yield fake


@pytest.fixture(autouse=True)
def _no_slack_env(monkeypatch):
    """Tests never inherit real Slack secrets, or an arXiv API endpoint, from the environment."""
    for var in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SLACK_API_URL", "PAPERBOT_CONFIG",
                "ARXIV_API_URL"):
        monkeypatch.delenv(var, raising=False)
