"""Small real filesystems that fill up: a tmpfs mounted for one test, and a filler file.

Mounting needs root (CI and the development machine run as root). Elsewhere
the tests skip with the reason, unless NVR_REQUIRE_MOUNTS=1 (set by .ci/run):
then a missing mount is a failure, so CI can never pass by skipping them.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REQUIRED = os.environ.get("NVR_REQUIRE_MOUNTS") == "1"


def _unavailable(why: str):
    if REQUIRED:
        pytest.fail(f"full-disk tests need a tmpfs mount ({why}) and NVR_REQUIRE_MOUNTS=1 requires them")
    pytest.skip(f"full-disk tests need a tmpfs mount: {why}")


@contextlib.contextmanager
def tmpfs(mountpoint: Path, size: str):
    """A tmpfs of `size` (e.g. "2m") mounted at `mountpoint` for the block's duration."""
    if os.geteuid() != 0:
        _unavailable("not running as root")
    if shutil.which("mount") is None:
        _unavailable("no mount command")
    mountpoint.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(mountpoint)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        _unavailable(r.stderr.strip() or f"mount exited {r.returncode}")
    try:
        yield mountpoint
    finally:
        # Lazy: a child process still holding a file must not leave the mount behind.
        subprocess.run(["umount", "-l", str(mountpoint)], capture_output=True)


def fill(directory: Path, name: str = "filler") -> Path:
    """Write a file in `directory` until its filesystem is full; the file's path."""
    from firmware.bench.soak import fill as fill_filesystem

    return fill_filesystem(directory, name)


def free(filler: Path) -> None:
    filler.unlink()
