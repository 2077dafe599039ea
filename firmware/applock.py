"""The running appliance's claim on its state directory: which channels' statistics it writes, from when.

A booting appliance takes `claim(state_dir, channels, since)` and holds it
until it stops: an exclusive `flock` on ``<state-dir>/appliance.lock``, whose
content names its process, its channels and the appliance time its clock
started at (it writes those channels' hours from that hour on). The kernel
drops the lock when the process ends, however it ends (kill -9 included), so
a file left behind never blocks anything.

Another program asks `holder(state_dir)`: None when no appliance runs there,
else its `Claim`. Archive re-analysis refuses the hours a running appliance
is writing (`Claim.covers`). A second appliance on the same state directory
is refused at boot.
"""
from __future__ import annotations

import fcntl
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from firmware.clock import format_clock, hour_start
from firmware.config import ConfigError

LOCK_NAME = "appliance.lock"
CLAIM_WAIT = 1.0   # seconds boot retries the lock: a reader's probe holds it for microseconds


class LockError(ConfigError):
    """The state directory is in use by a running appliance; one line for the user."""


@dataclass(frozen=True, slots=True)
class Claim:
    pid: int
    channels: tuple[int, ...] | None   # None: not known yet (the appliance is booting): all
    since: float                       # appliance time its clock started at

    def covers(self, channel: int, begin: float, end: float) -> bool:
        """Whether the appliance may write statistics of `channel` in [begin, end)."""
        in_use = self.channels is None or channel in self.channels
        return in_use and end > hour_start(self.since)

    def describe(self) -> str:
        return (f"a running appliance (pid {self.pid}) writes the statistics of channel(s) "
                f"{', '.join(map(str, self.channels or ())) or 'all'} from {format_clock(hour_start(self.since))[:16]} on")


class ApplianceLock:
    """Held by the running appliance; `release()` at shutdown (also released when collected)."""

    def __init__(self, file, claim: Claim):
        self._file = file
        self.claim = claim

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the descriptor drops the flock
            self._file = None


def claim(state_dir: str | os.PathLike, channels: list[int], since: float) -> ApplianceLock:
    """Take the state directory for a booting appliance; LockError if another one holds it."""
    path = Path(state_dir) / LOCK_NAME
    f = open(path, "a+b")
    deadline = time.monotonic() + CLAIM_WAIT
    while True:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                other = _read(f)
                f.close()
                pid = f"pid {other.pid}" if other else "another process"
                raise LockError(f"--state-dir {state_dir}: an appliance ({pid}) is already running on it; "
                                "stop it first or use another state directory") from None
            time.sleep(0.02)
    mine = Claim(os.getpid(), tuple(sorted(channels)), float(since))
    try:  # unbuffered: nothing is left to flush (and fail) when the lock is released
        os.ftruncate(f.fileno(), 0)
        os.write(f.fileno(), json.dumps({"pid": mine.pid, "channels": list(mine.channels),
                                         "since": mine.since}).encode())
    except OSError:
        # A full disk: the lock alone holds the directory; a reader that finds no claim
        # in it takes the appliance to write every channel at every hour (`holder`).
        pass
    return ApplianceLock(f, mine)


def holder(state_dir: str | os.PathLike) -> Claim | None:
    """The claim of the appliance running on `state_dir`, or None if none runs there."""
    path = Path(state_dir) / LOCK_NAME
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        return None
    with f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            for _ in range(25):  # it may be between taking the lock and writing its claim
                found = _read(f)
                if found is not None:
                    return found
                time.sleep(0.02)
            return Claim(0, None, float("-inf"))
        fcntl.flock(f.fileno(), fcntl.LOCK_UN)
        return None


def _read(f) -> Claim | None:
    try:
        f.seek(0)
        d = json.loads(f.read().decode() or "null")
        return None if d is None else Claim(int(d["pid"]), tuple(d["channels"]), float(d["since"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None

