"""Curated files are the truth for their collections: the configured files are synced on every
run (a paper deleted from a file leaves its collection); `paperbot import` adds, `--replace` syncs."""
import json

from click.testing import CliRunner

from bot.posting import TerminalPoster
from paperbot.cli import main
from paperbot.config import Config, HFDailyConfig, RecommenderConfig
from paperbot.pipeline import run_once
from paperbot.curated_import import import_curated, sync_configured_curated
from tests.conftest import fixture_path

SEED = json.loads(fixture_path("seeds", "papers_database.sample.json").read_text())
ALL = [e["arxiv_id"].split("v")[0] for e in SEED["rlhf_code"]]


def _write(path, entries, category="rlhf_code"):
    path.write_text(json.dumps({category: entries}))
    return str(path)


def test_a_paper_deleted_from_a_configured_file_leaves_its_collection(store, tmp_path):
    a = _write(tmp_path / "a.json", SEED["rlhf_code"])
    store.add_to_collection("mine", ALL[:2])  # not in any configured file: never touched
    assert sync_configured_curated(store, [a]) == ([], {})
    assert store.collection_ids("rlhf_code") == ALL
    _write(tmp_path / "a.json", SEED["rlhf_code"][3:])  # the group deletes its first three papers
    problems, removed = sync_configured_curated(store, [a])
    assert problems == [] and removed == {"rlhf_code": 3}
    assert store.collection_ids("rlhf_code") == ALL[3:] and store.collection_ids("mine") == ALL[:2]
    assert store.get_paper(ALL[0]) is not None  # the paper stays stored, only its membership goes


def test_the_collection_is_the_union_of_the_category_over_all_configured_files(store, tmp_path):
    a = _write(tmp_path / "a.json", SEED["rlhf_code"][:30])
    b = _write(tmp_path / "b.json", SEED["rlhf_code"][20:])
    assert sync_configured_curated(store, [a, b]) == ([], {})
    assert sorted(store.collection_ids("rlhf_code")) == sorted(ALL)
    _write(tmp_path / "b.json", SEED["rlhf_code"][25:])  # 20-24 are still in a.json
    assert sync_configured_curated(store, [a, b]) == ([], {})
    _write(tmp_path / "a.json", SEED["rlhf_code"][:20])
    assert sync_configured_curated(store, [a, b]) == ([], {"rlhf_code": 5})
    assert sorted(store.collection_ids("rlhf_code")) == sorted(ALL[:20] + ALL[25:])


def test_nothing_is_removed_while_a_configured_file_cannot_be_read_or_an_entry_is_bad(store, tmp_path):
    a = _write(tmp_path / "a.json", SEED["rlhf_code"])
    sync_configured_curated(store, [a])
    _write(tmp_path / "a.json", SEED["rlhf_code"][10:])
    problems, removed = sync_configured_curated(store, [a, str(tmp_path / "missing.json")])
    assert len(problems) == 1 and problems[0][0].endswith("missing.json") and removed == {}
    assert store.collection_ids("rlhf_code") == ALL
    _write(tmp_path / "a.json", SEED["rlhf_code"][10:] + [{"title": "typo", "arxiv_id": "2501.x"}])
    assert sync_configured_curated(store, [a]) == ([], {})  # the bad entry may be one of the ten
    assert store.collection_ids("rlhf_code") == ALL


def test_run_once_syncs_the_configured_files_and_reports_the_removal(store, tmp_path):
    cfg = Config(database=store.path, hf_daily=HFDailyConfig(enabled=False),
                 recommender=RecommenderConfig(model_path=str(tmp_path / "m.joblib")),
                 curated_files=[_write(tmp_path / "a.json", SEED["rlhf_code"])])
    assert run_once(cfg, store, poster=TerminalPoster()).curated_removed == {}
    _write(tmp_path / "a.json", SEED["rlhf_code"][:-4])
    report = run_once(cfg, store, poster=TerminalPoster())
    assert report.curated_removed == {"rlhf_code": 4} and store.collection_ids("rlhf_code") == ALL[:-4]


def test_cli_import_adds_by_default_and_replace_syncs_the_file_categories(tmp_path):
    db = str(tmp_path / "cli.db")
    full = _write(tmp_path / "full.json", SEED["rlhf_code"])
    fewer = tmp_path / "fewer.json"
    fewer.write_text(json.dumps({"rlhf_code": SEED["rlhf_code"][5:], "other": SEED["rlhf_code"][:1]}))
    assert CliRunner().invoke(main, ["import", full, "--db", db]).exit_code == 0
    CliRunner().invoke(main, ["import", _write(tmp_path / "x.json", SEED["rlhf_code"][:2], "extra"), "--db", db])
    res = CliRunner().invoke(main, ["import", str(fewer), "--db", db])
    assert res.exit_code == 0 and "collection rlhf_code: 0 papers added (49 in total)" in res.output
    res = CliRunner().invoke(main, ["import", str(fewer), "--replace", "--db", db])
    assert res.exit_code == 0, res.output
    assert "collection rlhf_code: 0 papers added, 5 removed (44 in total)" in res.output
    assert "collection other: 0 papers added, 0 removed (1 in total)" in res.output
    assert "collection extra" not in res.output  # not in the file: untouched
    from store import Store
    s = Store(db)
    assert s.collection_ids("rlhf_code") == ALL[5:] and s.collections()["extra"] == 2


def test_import_replace_leaves_a_category_with_a_bad_entry_unpruned(store, tmp_path):
    import_curated(store, _write(tmp_path / "a.json", SEED["rlhf_code"]))
    rep = import_curated(store, _write(tmp_path / "b.json", SEED["rlhf_code"][9:] + [{"title": "no id"}]),
                         replace=True)
    assert rep.not_synced == ["rlhf_code"] and rep.removed == {} and store.collection_ids("rlhf_code") == ALL
