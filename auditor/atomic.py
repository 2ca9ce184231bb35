"""Write a file so that it appears whole or not at all, even across a crash or power loss.

Every file the tool writes for the user or for itself (reports, server records, job state,
checkpoints, Parquet outputs) goes through here: the content goes to a hidden temporary file in
the same directory, is flushed to disk, renamed over the target (`os.replace`, atomic on one
file system), and the directory is flushed so the rename itself survives. A reader sees the old
file or the new one, never half of one; a failure leaves no temporary file behind.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path


def temp_path(path: str | Path) -> Path:
    """A fresh hidden name beside `path`, for writing before `commit` (unique per call)."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.partial")


def commit(temp: str | Path, path: str | Path) -> Path:
    """Flush the finished file `temp` to disk and rename it over `path`; returns `path`."""
    with open(temp, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(temp, path)
    _fsync_directory(Path(path).parent)
    return Path(path)


def write_atomic(path: str | Path, data: str | bytes) -> Path:
    """Write `data` (text as UTF-8, or bytes) to `path` atomically; returns `path`.

    The directory must exist.
    """
    temp = temp_path(path)
    try:
        temp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        return commit(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # a platform that cannot open directories (Windows): the rename stands
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on a directory
    finally:
        os.close(fd)
