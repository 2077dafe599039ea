"""Atomic file replacement: a reader, a crash or a kill sees the old file or the new one, never a torn one.

The data goes to a temporary file in the same directory (same filesystem, so
the rename is atomic), is fsynced, gets its final mode, and is renamed over
the target; then the directory is fsynced so the rename survives a power cut.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable


def replace_file(path: str | os.PathLike, write: Callable[[BinaryIO], None], *, mode: int = 0o644,
                 suffix: str = ".tmp") -> Path:
    """Call `write(file)` on a temporary file beside `path`, then rename it to `path`.

    `mode` is set before any data is written (a 0600 secret is never readable
    by others, not even half-written). On any failure the temporary file is
    removed and the exception propagates; the old file is untouched.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return path
