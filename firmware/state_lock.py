"""One appliance per state directory: an exclusive lock on ``<state_dir>/.lock`` for the appliance's life.

Two appliances writing one store would interleave their hours, and `nvr store
repair` must not move a store aside under a running appliance. The lock is
`flock` on an open file, so the kernel releases it when the process ends,
however it ends (even by SIGKILL): a stale lock cannot outlive its holder.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

LOCK_FILE = ".lock"


class StateLocked(OSError):
    """Another process holds the state directory; one line for the user."""


class StateLock:
    def __init__(self, state_dir: str | os.PathLike):
        self.path = Path(state_dir) / LOCK_FILE
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(self._fd, 32).decode("ascii", "replace").strip() or "?"
            os.close(self._fd)
            raise StateLocked(f"{self.path.parent}: another appliance (pid {holder}) is running on this "
                              "state directory") from None
        try:  # who holds it, for the message above; on a full disk the lock alone will do
            os.ftruncate(self._fd, 0)
            os.write(self._fd, f"{os.getpid()}\n".encode())
        except OSError:
            pass

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing drops the lock
            self._fd = -1


@contextlib.contextmanager
def lock_state_dir(state_dir: str | os.PathLike):
    lock = StateLock(state_dir)
    try:
        yield lock
    finally:
        lock.release()
