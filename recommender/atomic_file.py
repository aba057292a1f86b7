"""Replace a file atomically, safe against other processes saving the same path at once.

Two `paperbot run --once` on one database may both refit the TF-IDF model and save it (and its
matrix cache) to the same path at the same moment. A fixed temp name (``model.joblib.tmp``)
let the second saver rename the first one's temp file away (the first then failed with
FileNotFoundError) or rename a half-written file into place. Each save here writes to its own
temp file (`tempfile.mkstemp`) in the target's directory, so the final `os.replace` is a rename
within one file system: readers see the old file or a complete new one, and the last saver wins.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()  # read once at import: os.umask is process-wide, not thread-safe


def write_atomically(path: str | Path, write: Callable[[BinaryIO], None]) -> None:
    """Write `path` through `write(file)` and put it in place atomically.

    `write` receives a binary file open on a temp file of a unique name next to `path`; once it
    returns, the file is flushed to disk, given the permissions a plain `open` would have given
    it, and renamed over `path` (`os.replace`). If `write` or any later step fails, the temp
    file is removed, `path` is left as it was and the exception propagates.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
