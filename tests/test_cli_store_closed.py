"""Every CLI command closes the database it opened (`Store.close`, in a ``finally``), whether it
succeeds or fails: `paperbot import`, `import-corpus`, `run --once` and `status` never closed it,
and `demo` not when the run failed, leaving its connections open until the process exited."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

import paperbot.cli as cli
from store import Store
from tests.conftest import fixture_path

SEED = str(fixture_path("seeds", "papers_database.sample.json"))
CORPUS = str(fixture_path("corpus_sample.jsonl"))


@pytest.fixture
def opened(monkeypatch) -> list[Store]:
    """Every `Store` the CLI opens, each with ``closed`` set once its `close` ran."""
    stores: list[Store] = []

    class Tracked(Store):
        def __init__(self, path):
            self.closed = False
            stores.append(self)
            super().__init__(path)

        def close(self) -> None:
            self.closed = True
            super().close()

    monkeypatch.setattr(cli, "Store", Tracked)
    return stores


def _run_config(tmp_path) -> str:
    """A config with no source that reaches the network and no channel."""
    cfg = tmp_path / "paperbot.toml"
    cfg.write_text('[database]\npath = "run.db"\n[feeds.hf_daily]\nenabled = false\n'
                   '[recommender]\nmodel_path = "model.joblib"\n')
    return str(cfg)


def _not_json(tmp_path) -> str:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json\n")
    return str(bad)


CASES = {  # name: (args given tmp_path and the database path, expected exit code, stores opened)
    "import": (lambda t, db: ["import", SEED, "--db", db], 0, 1),
    # the file is read first: a bad one never opens the database
    "import of a bad file": (lambda t, db: ["import", _not_json(t), "--db", db], 1, 0),
    "import-corpus": (lambda t, db: ["import-corpus", CORPUS, "--no-progress", "--db", db], 0, 1),
    "import-corpus of a bad file": (lambda t, db: ["import-corpus", _not_json(t), "--no-progress", "--db", db], 1, 0),
    "run --once": (lambda t, db: ["run", "--once", "--config", _run_config(t)], 0, 1),
    "status": (lambda t, db: ["status", "--db", db], 0, 1),
}


@pytest.mark.parametrize("name", CASES)
def test_each_command_closes_its_database(tmp_path, monkeypatch, opened, name):
    monkeypatch.chdir(tmp_path)
    db = str(tmp_path / "lab.db")
    Store(db).close()  # the real class: not counted
    args, code, n_opened = CASES[name]
    res = CliRunner().invoke(cli.main, args(tmp_path, db))
    assert res.exit_code == code, res.output
    assert len(opened) == n_opened and all(s.closed for s in opened)


def test_demo_closes_its_database_when_the_run_fails(tmp_path, monkeypatch, opened):
    def failing_run(*args, **kwargs):
        raise RuntimeError("poll failed")

    monkeypatch.setattr("paperbot.pipeline.run_once", failing_run)
    res = CliRunner().invoke(cli.main, ["demo", "--db", str(tmp_path / "demo.db")])
    assert isinstance(res.exception, RuntimeError)
    assert len(opened) == 1 and opened[0].closed
