"""Saving the TF-IDF model and its matrix cache while another saver writes the same path.

Two `paperbot run --once` on one database may refit and save at the same moment. With a fixed
temp name (``<model>.tmp``) the second saver renamed the first one's temp file away (the first
then failed with FileNotFoundError) or put a half-written file in place. These tests interleave
two savers deterministically: saver A has written its temp file and is held there (by events,
no sleeps) while saver B saves completely; then A finishes.
"""
import os
import threading

import numpy as np
import pytest
import scipy.sparse as sp

import recommender.atomic_file as atomic_file
import recommender.matrix_cache as matrix_cache
import recommender.tfidf as tfidf
from recommender.atomic_file import write_atomically
from recommender.matrix_cache import MatrixCache
from recommender.tfidf import TfidfModel

TEXTS = ["reward model for rlhf", "policy gradient with human feedback", "graph neural network",
         "protein folding with transformers", "reward hacking in language models"]


def _interleave(monkeypatch, module, name, save_a, save_b):
    """Run `save_a` in a thread, hold it right after its first `module.name` write, run
    `save_b` to the end, then release A. Returns A's exception (or None)."""
    real = getattr(module, name)
    a_wrote, b_done = threading.Event(), threading.Event()
    first = threading.Lock()
    holder = {"a": None}

    def writer(*args, **kwargs):
        out = real(*args, **kwargs)
        if holder["a"] is None and first.acquire(blocking=False):
            holder["a"] = threading.current_thread()
        if threading.current_thread() is holder["a"]:
            a_wrote.set()
            assert b_done.wait(30), "saver B never finished"
        return out

    monkeypatch.setattr(module, name, writer)
    errors = []

    def run_a():
        try:
            save_a()
        except BaseException as exc:  # noqa: BLE001 - reported to the test below
            errors.append(exc)
            a_wrote.set()

    t = threading.Thread(target=run_a)
    t.start()
    assert a_wrote.wait(30)
    try:
        save_b()
    finally:
        b_done.set()
        t.join(30)
    return errors[0] if errors else None


def test_two_interleaved_model_saves_both_succeed_and_leave_one_whole_model(tmp_path, monkeypatch):
    m1, m2 = TfidfModel.fit(TEXTS[:3]), TfidfModel.fit(TEXTS)
    path = tmp_path / "lab-model.joblib"
    error = _interleave(monkeypatch, tfidf.joblib, "dump", lambda: m1.save(path), lambda: m2.save(path))
    assert error is None
    loaded = TfidfModel.load(path)
    assert loaded is not None and loaded.n_docs == m1.n_docs  # the last one to finish wins
    assert os.listdir(tmp_path) == ["lab-model.joblib"]  # no temp file left behind


def _cache(n_rows: int, seq: int) -> MatrixCache:
    m = sp.csr_matrix(np.eye(n_rows, 4, dtype=np.float32))
    return MatrixCache(ids=[f"2401.{i:05d}" for i in range(n_rows)], matrix=m, fingerprint="fp",
                       synced_seq=seq)


def test_two_interleaved_matrix_cache_saves_both_succeed(tmp_path, monkeypatch):
    path = tmp_path / "lab-model.joblib.matrix.npz"
    a, b = _cache(2, seq=5), _cache(3, seq=9)
    error = _interleave(monkeypatch, matrix_cache.np, "savez", lambda: a.save(path), lambda: b.save(path))
    assert error is None
    loaded = MatrixCache.load(path)
    assert loaded is not None and loaded.ids == a.ids and loaded.synced_seq == 5
    assert os.listdir(tmp_path) == [path.name]


def test_a_leftover_fixed_temp_name_does_not_block_a_save(tmp_path):
    """An earlier paperbot's temp names, left by a crash (here as directories, which the old
    code could not write over), are not used any more."""
    path = tmp_path / "m.joblib"
    (tmp_path / "m.joblib.tmp").mkdir()
    (tmp_path / "m.joblib.matrix.npz.tmp.npz").mkdir()
    TfidfModel.fit(TEXTS).save(path)
    _cache(2, seq=1).save(tmp_path / "m.joblib.matrix.npz")
    assert TfidfModel.load(path) is not None
    assert MatrixCache.load(tmp_path / "m.joblib.matrix.npz") is not None


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"old")

    def failing(f):
        f.write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomically(path, failing)
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["f.bin"]
    write_atomically(path, lambda f: f.write(b"new"))
    assert path.read_bytes() == b"new"
    assert path.stat().st_mode & 0o777 == 0o666 & ~atomic_file._UMASK  # as open() would make it


def test_a_model_path_that_cannot_be_written_is_one_error_line_not_a_traceback(tmp_path, monkeypatch):
    """`recommender.model_path` in a folder that cannot be created (here: under a file) made
    `paperbot run --once` and `paperbot search` end in a FileNotFoundError / NotADirectoryError
    traceback from deep inside the model save; the README promises one `Error:` line."""
    from click.testing import CliRunner

    from paperbot.cli import main
    from tests.conftest import fixture_path

    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    (tmp_path / "afile").write_text("not a folder")
    cfg = tmp_path / "paperbot.toml"
    cfg.write_text(f'[database]\npath = "lab.db"\n[feeds.hf_daily]\nenabled = false\n'
                   f'[curated]\nfiles = ["{fixture_path("seeds", "papers_database.sample.json")}"]\n'
                   '[[channels]]\nid = "C1"\ncollections = ["rlhf_code"]\n'
                   '[recommender]\nmodel_path = "afile/model.joblib"\n')
    for args in (["run", "--once"], ["search", "reward"]):
        res = CliRunner().invoke(main, [*args, "--config", str(cfg)])
        assert res.exit_code == 1, res.output
        assert isinstance(res.exception, SystemExit), res.exception  # not an uncaught OSError
        last = res.output.strip().splitlines()[-1]
        assert last.startswith(f"Error: {tmp_path / 'afile' / 'model.joblib'}: cannot write the TF-IDF model"), last
        assert f"({tmp_path / 'afile'}: File exists)" in last and "recommender.model_path" in last
