"""`paperbot import`: the seed format into collections; bad entries reported and skipped."""
import json
from pathlib import Path

from click.testing import CliRunner

from paperbot.cli import main
from paperbot.curated_import import import_curated
from tests.conftest import fixture_path


def _seed_with_one_bad_entry(tmp_path):
    data = json.loads(fixture_path("seeds", "papers_database.sample.json").read_text())
    entries = data["rlhf_code"]
    entries.insert(3, {"title": "Broken entry", "arxiv_id": "not-an-id", "authors": []})
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(data))
    return path, len(entries) - 1


def test_import_reports_bad_entry_position_and_imports_the_rest(store, tmp_path):
    path, n_good = _seed_with_one_bad_entry(tmp_path)
    report = import_curated(store, str(path))
    assert report.errors and report.errors[0][:2] == ("rlhf_code", 3)
    assert "not-an-id" in report.errors[0][2]
    assert report.collections == {"rlhf_code": n_good}
    assert store.collections() == {"rlhf_code": n_good}
    ids = store.collection_ids("rlhf_code")
    first = json.loads(fixture_path("seeds", "papers_database.sample.json").read_text())["rlhf_code"][0]
    assert ids[0] == first["arxiv_id"].split("v")[0]
    p = store.get_paper(ids[0])
    assert p.title == first["title"] and p.sources == ["curated"] and p.abstract


def test_import_is_idempotent(store):
    path = str(fixture_path("seeds", "papers_database.sample.json"))
    import_curated(store, path)
    again = import_curated(store, path)
    assert again.collections == {"rlhf_code": 0}
    assert store.collections() == {"rlhf_code": 49}


def test_cli_import(tmp_path):
    path, n_good = _seed_with_one_bad_entry(tmp_path)
    db = tmp_path / "cli.db"
    res = CliRunner().invoke(main, ["import", str(path), "--db", str(db)])
    assert res.exit_code == 0, res.output
    assert f"collection rlhf_code: {n_good} papers added" in res.output
    assert "skipped rlhf_code[3]" in res.output


def test_cli_import_of_non_json_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    res = CliRunner().invoke(main, ["import", str(bad), "--db", str(tmp_path / "x.db")])
    assert res.exit_code == 1
    assert "not valid JSON" in res.output and "Traceback" not in res.output


def test_cli_import_of_an_unusable_file_creates_no_database(tmp_path):
    """The file was read only after the database was opened, so `paperbot import notes.txt`
    left an empty database behind (./paperbot.db without a config), and `paperbot status` then
    reported 0 papers instead of "no database"."""
    for name, text in (("bad.json", "{not json"), ("list.json", "[1, 2]"), ("binary.json", "\udcff")):
        bad = tmp_path / name
        bad.write_bytes(text.encode("utf-8", "surrogateescape"))
        res = CliRunner().invoke(main, ["import", str(bad), "--db", str(tmp_path / "x.db")])
        assert res.exit_code == 1 and res.output.startswith("Error: "), res.output
        assert not (tmp_path / "x.db").exists(), name


def test_cli_import_names_a_whole_skipped_category_and_an_entry_without_id(tmp_path):
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"notes": "not a list", "rl": [{"title": "No id at all"}]}))
    res = CliRunner().invoke(main, ["import", str(seed), "--db", str(tmp_path / "x.db")])
    assert "skipped notes: category 'notes' is not a list of papers" in res.output
    assert "skipped rl[0]: no arxiv_id (or arXiv url)" in res.output
    # no entry of the file was a paper: a wrong file must not read as a successful import
    assert res.exit_code == 1, res.output
    assert "no paper could be read from seed.json (2 entries skipped)" in res.output


def test_cli_import_of_a_file_with_one_good_entry_among_bad_ones_succeeds(tmp_path):
    good = json.loads(fixture_path("seeds", "papers_database.sample.json").read_text())["rlhf_code"][0]
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"notes": "not a list", "rl": [{"title": "No id at all"}, good]}))
    res = CliRunner().invoke(main, ["import", str(seed), "--db", str(tmp_path / "x.db")])
    assert res.exit_code == 0, res.output
    assert "collection rl: 1 paper added (1 in total)" in res.output


def test_cli_import_of_an_empty_object_says_nothing_was_imported(tmp_path):
    seed = tmp_path / "seed.json"
    seed.write_text("{}")
    res = CliRunner().invoke(main, ["import", str(seed), "--db", str(tmp_path / "x.db")])
    assert res.exit_code == 0, res.output
    assert "seed.json holds no categories: nothing imported" in res.output


def test_an_entry_field_of_the_wrong_type_is_skipped_with_a_message_naming_the_field(tmp_path):
    """A non-string title or summary was reported with Python's own words ("expected string or
    bytes-like object, got 'int'"), naming neither the paper nor the field; a non-string url or
    pdf_url was stored as it was (a number or an object as the paper's link)."""
    seed = tmp_path / "seed.json"
    good = {"arxiv_id": "2301.13816", "title": "A title"}
    seed.write_text(json.dumps({"rl": [{**good, "title": 5}, {**good, "summary": ["a"]},
                                       {**good, "url": 7}, {**good, "pdf_url": {"a": 1}}]}))
    res = CliRunner().invoke(main, ["import", str(seed), "--db", str(tmp_path / "x.db")])
    assert "skipped rl[0]: 2301.13816: title must be a string, got 5" in res.output
    assert "skipped rl[1]: 2301.13816: summary must be a string, got ['a']" in res.output
    assert "skipped rl[2]: 2301.13816: url must be a string, got 7" in res.output
    assert "skipped rl[3]: 2301.13816: pdf_url must be a string, got {'a': 1}" in res.output
    assert "bytes-like" not in res.output
    assert res.exit_code == 1 and "no paper could be read" in res.output


def test_a_category_with_an_empty_name_is_skipped_not_made_a_nameless_collection(tmp_path):
    """{"": [...]} became a collection named "" ("collection : 1 papers added"), which no
    `/papers subscribe` and no channel's `collections` can name."""
    good = json.loads(fixture_path("seeds", "papers_database.sample.json").read_text())["rlhf_code"][0]
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"": [good], "  ": [good], "rl": [good]}))
    db = tmp_path / "x.db"
    res = CliRunner().invoke(main, ["import", str(seed), "--db", str(db)])
    assert res.exit_code == 0, res.output
    assert "skipped '': a category needs a name (it becomes the collection's name)" in res.output
    assert "skipped '  ': a category needs a name" in res.output
    assert "collection rl: 1 paper added" in res.output and "collection :" not in res.output
    from store import Store
    assert Store(db).collections() == {"rl": 1}


def test_cli_import_of_an_unreadable_file_is_one_error_line(tmp_path, monkeypatch):
    """An OSError reading the file (permissions; tests run as root, who reads everything, so the
    read is made to fail) went through as a traceback."""
    import feeds.curated

    seed = tmp_path / "seed.json"
    seed.write_text("{}")

    class Unreadable(type(Path())):
        def read_bytes(self):
            raise PermissionError(13, "Permission denied", str(self))
    monkeypatch.setattr(feeds.curated, "Path", Unreadable)  # what feeds.curated.load_curated reads with
    res = CliRunner().invoke(main, ["import", str(seed), "--db", str(tmp_path / "x.db")])
    assert isinstance(res.exception, SystemExit) and res.exit_code == 1, res.exception
    assert f"Error: {seed}: cannot read it: Permission denied" in res.output
    assert not (tmp_path / "x.db").exists()


def test_cli_import_of_a_file_without_a_usable_entry_creates_no_database(tmp_path):
    """A JSON object of lists none of whose entries is a paper or an arXiv id was refused (exit 1,
    "no paper could be read") only after the database had been opened, so it left an empty
    ./paperbot.db behind, as a file that is not JSON did: `paperbot status` then reported 0
    papers instead of "no database". The skipped entries are still listed."""
    bad = tmp_path / "notes.json"
    bad.write_text(json.dumps({"reading": [123, {"title": "no id"}], "misc": "not a list"}))
    res = CliRunner().invoke(main, ["import", str(bad), "--db", str(tmp_path / "x.db")])
    assert res.exit_code == 1, res.output
    assert "skipped reading[0]: entry is a number" in res.output and "skipped reading[1]: no arxiv_id" in res.output
    assert "Error: no paper could be read from notes.json (3 entries skipped)" in res.output
    assert not (tmp_path / "x.db").exists()
