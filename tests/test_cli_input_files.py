"""An input file the CLI cannot use — missing, a folder, unreadable (permission denied), not
UTF-8, not JSON — is one ``Error:`` line and a non-zero exit, never a traceback, and changes
nothing in the database.

paperbot runs as root in these tests, so chmod cannot make a file unreadable: permission
denied is simulated by making the read itself raise PermissionError, as the kernel's EACCES
would."""
import builtins
import json
import pathlib

import pytest
from click.testing import CliRunner

from paperbot.cli import main
from store import Store
from tests.conftest import fixture_path

CORPUS = fixture_path("corpus_sample.jsonl")


def _invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _one_error_line(res, *needles):
    """The command failed with one ``Error:`` line holding every needle and no traceback."""
    assert res.exit_code not in (0, None), res.output
    assert "Traceback" not in res.output and not (res.exception and not isinstance(res.exception, SystemExit)), \
        repr(res.exception)
    errors = [line for line in res.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, res.output
    for needle in needles:
        assert needle in errors[0], res.output


def _papers(db):
    if not pathlib.Path(db).exists():
        return 0
    store = Store(db)
    try:
        return store.count_papers()
    finally:
        store.close()


@pytest.fixture
def deny(monkeypatch):
    """``deny(path)``: reading that file raises PermissionError (EACCES), through `open` and
    `Path.read_bytes` / `Path.read_text` alike."""
    denied: set[str] = set()
    real_open, real_bytes, real_text = builtins.open, pathlib.Path.read_bytes, pathlib.Path.read_text

    def check(path):
        if str(path) in denied:
            raise PermissionError(13, "Permission denied", str(path))

    def fake_open(file, *args, **kwargs):
        check(file)
        return real_open(file, *args, **kwargs)

    def fake_bytes(self):
        check(self)
        return real_bytes(self)

    def fake_text(self, *args, **kwargs):
        check(self)
        return real_text(self, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", fake_open)
    monkeypatch.setattr(pathlib.Path, "read_bytes", fake_bytes)
    monkeypatch.setattr(pathlib.Path, "read_text", fake_text)
    return lambda path: denied.add(str(path)) or path


# ---- paperbot import ------------------------------------------------------------------------------
def test_import_of_a_file_it_may_not_read_is_one_error_line(tmp_path, deny):
    path = tmp_path / "list.json"
    path.write_text(json.dumps({"Mine": ["2301.00001"]}))
    res = _invoke("import", deny(path), "--no-lookup", "--db", tmp_path / "x.db")
    _one_error_line(res, str(path), "cannot read it: Permission denied")
    assert _papers(tmp_path / "x.db") == 0


@pytest.mark.parametrize("command, name, flag", [("import", "list.json", "--no-lookup"),
                                                ("import-corpus", "c.jsonl", "--no-progress")])
@pytest.mark.parametrize("make, needle", [
    (lambda p: p, "does not exist"),
    (lambda p: p.mkdir() or p, "is a directory"),
])
def test_import_of_a_missing_file_or_a_folder_is_one_error_line(tmp_path, command, name, flag, make, needle):
    res = _invoke(command, make(tmp_path / name), flag, "--db", tmp_path / "x.db")
    _one_error_line(res, needle)


@pytest.mark.parametrize("body, needle", [
    (b"not json at all", "curated database is not valid JSON"),
    # Latin-1: it said "not valid JSON: 'utf-8' codec can't decode byte 0xe9 in position 11: …"
    (b'{"Mine": ["caf\xe9 2301.00001"]}',
     "curated database is not UTF-8 text (utf-8 cannot read byte 0xe9 at offset 14); save it as UTF-8"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "curated database is not"),  # a picture
])
def test_import_of_a_file_that_is_not_utf8_json_is_one_error_line(tmp_path, body, needle):
    path = tmp_path / "list.json"
    path.write_bytes(body)
    res = _invoke("import", path, "--no-lookup", "--db", tmp_path / "x.db")
    _one_error_line(res, needle)
    assert _papers(tmp_path / "x.db") == 0


# ---- paperbot import-corpus -----------------------------------------------------------------------
def test_import_corpus_of_a_file_it_may_not_read_is_one_error_line_and_imports_nothing(tmp_path, deny):
    denied = tmp_path / "denied.jsonl"
    denied.write_bytes(CORPUS.read_bytes())
    # the readable file comes first: nothing of it is stored either, as the files are checked first
    res = _invoke("import-corpus", CORPUS, deny(denied), "--no-progress", "--db", tmp_path / "x.db")
    _one_error_line(res, str(denied), "cannot read it: Permission denied")
    assert _papers(tmp_path / "x.db") == 0


@pytest.mark.parametrize("body", [b"not json\n", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe\n"])
def test_import_corpus_of_a_file_that_is_not_corpus_jsonl_is_one_error_line(tmp_path, body):
    path = tmp_path / "c.jsonl"
    path.write_bytes(body)
    res = _invoke("import-corpus", path, "--no-progress", "--db", tmp_path / "x.db")
    _one_error_line(res, "no paper could be read from c.jsonl")
    assert _papers(tmp_path / "x.db") == 0


# ---- paperbot eval ---------------------------------------------------------------------------------
TINY = fixture_path("eval_tiny")


def _eval(tmp_path, tasks, corpus):
    return _invoke("eval", "--tasks", tasks, "--corpus", corpus, "--rankings", tmp_path / "r.jsonl")


def test_eval_names_the_input_file_that_is_not_utf8(tmp_path):
    # it said "'utf-8' codec can't decode byte 0xe9 in position 11: …", naming neither file
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes((TINY / "corpus.jsonl").read_bytes() + b'{"arxiv_id": "2301.00001", "title": "caf\xe9"}\n')
    _one_error_line(_eval(tmp_path, TINY / "tasks.json", latin), f"{latin}: not UTF-8 text after line",
                    "save it as UTF-8")
    tasks = tmp_path / "tasks.json"
    tasks.write_bytes(b'[{"name": "caf\xe9"}]')
    _one_error_line(_eval(tmp_path, tasks, TINY / "corpus.jsonl"), f"{tasks}: not UTF-8 text", "save it as UTF-8")
    assert not (tmp_path / "r.jsonl").exists() or not (tmp_path / "r.jsonl").read_text()


def test_eval_of_an_input_file_it_cannot_read_is_one_error_line(tmp_path, deny):
    tasks = tmp_path / "tasks.json"
    tasks.write_bytes((TINY / "tasks.json").read_bytes())
    _one_error_line(_eval(tmp_path, deny(tasks), TINY / "corpus.jsonl"), str(tasks), "Permission denied")
    _one_error_line(_eval(tmp_path, TINY / "tasks.json", tmp_path), str(tmp_path), "Is a directory")
    _one_error_line(_eval(tmp_path, tmp_path / "nope.json", TINY / "corpus.jsonl"), "nope.json",
                    "No such file or directory")


@pytest.mark.parametrize("name, body", [
    ("notes.jsonl", b"not json\n{\"title\": \"no id\"}\n"),  # no line is a paper
    ("c.jsonl.gz", b"\x1f\x8b\x08\x00not really gzip"),  # unreadable from its first byte (CorpusFormatError)
])
def test_import_corpus_of_a_file_with_no_paper_creates_no_database(tmp_path, monkeypatch, name, body):
    """The database was opened before the file was read, so `paperbot import-corpus notes.jsonl`
    without a config left an empty ./paperbot.db behind, and `paperbot status` then reported 0
    papers instead of "no database" (as `paperbot import` did until it read its file first)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PAPERBOT_CONFIG", raising=False)
    bad = tmp_path / name
    bad.write_bytes(body)
    res = _invoke("import-corpus", bad, "--no-progress")
    _one_error_line(res, name)
    assert not (tmp_path / "paperbot.db").exists(), res.output
    status = _invoke("status")
    assert status.exit_code == 1 and "Error: no database at paperbot.db" in status.output, status.output


def test_import_corpus_opens_the_database_at_the_first_paper_of_any_file(tmp_path):
    """A first file with no paper, then a good one: the good one is imported; a database that
    import-corpus must not touch is still refused before any file is read."""
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{broken\n")
    res = _invoke("import-corpus", bad, CORPUS, "--no-progress", "--db", tmp_path / "x.db")
    assert res.exit_code == 0 and "6 new" in res.output and "1 line skipped" in res.output, res.output
    assert _papers(tmp_path / "x.db") == 6
    import sqlite3
    foreign = tmp_path / "other.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
    conn.close()
    _one_error_line(_invoke("import-corpus", CORPUS, "--no-progress", "--db", foreign),
                    "not a paperbot database (its tables: notes)")


def test_eval_names_a_gz_corpus_file_that_is_not_gzip_or_is_cut_short(tmp_path):
    """A corpus ``.gz`` cut short (a download that stopped) ended `paperbot eval` with a bare
    "Aborted!" — click takes gzip's EOFError for Ctrl-D — and one that is not gzip at all with
    "Error: Not a gzipped file (b'{\"')", naming no file among the several --corpus ones."""
    import gzip

    whole = gzip.compress((TINY / "corpus.jsonl").read_bytes() * 20)
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    plain = tmp_path / "plain.jsonl.gz"
    plain.write_bytes((TINY / "corpus.jsonl").read_bytes())
    for bad, why in ((cut, "end-of-stream"), (plain, "Not a gzipped file")):
        res = _invoke("eval", "--tasks", TINY / "tasks.json", "--corpus", TINY / "corpus.jsonl", bad,
                      "--rankings", tmp_path / "r.jsonl")
        assert "Aborted!" not in res.output, res.output
        _one_error_line(res, f"{bad}: unreadable after line", why)
