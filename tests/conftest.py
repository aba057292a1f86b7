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
