"""The device's admin password: strength rules, salted scrypt hash on disk, lock-out.

Like a real recorder the device ships without a password and must be
*activated*: the first console session (or `nvr passwd`) sets it. Only a
salted slow hash is stored, as JSON in ``<state_dir>/admin.passwd`` with mode
0600, written atomically (temporary file, fsync, rename) so a power cut
leaves the old password or the new one, never none.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import string
import time
from pathlib import Path
from typing import Callable

from firmware.atomic import replace_file

log = logging.getLogger(__name__)

USER = "admin"
PASSWORD_FILE = "admin.passwd"
MIN_LENGTH = 8
# scrypt at N=2**14, r=8 costs ~16 MiB and ~50 ms: slow for a guesser, fine at a login.
SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


class PasswordError(ValueError):
    """A password the device refuses, or an unreadable password file; one line for the user."""


def strength_problem(password: str) -> str | None:
    """Why `password` is too weak for the admin account, or None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return f"the password needs at least {MIN_LENGTH} characters, got {len(password)}"
    classes = [
        any(c in string.digits for c in password),
        any(c.islower() for c in password),
        any(c.isupper() for c in password),
        any(not c.isalnum() for c in password),
    ]
    if sum(classes) < 2:
        return "the password needs at least two kinds of: digits, lower case, upper case, symbols"
    return None


class PasswordStore:
    """The admin password of the device whose state lives in `state_dir`."""

    def __init__(self, state_dir: str | os.PathLike) -> None:
        self.path = Path(state_dir) / PASSWORD_FILE

    def is_set(self) -> bool:
        return self.path.exists()

    def set(self, password: str) -> None:
        """Hash and store `password`; raises PasswordError naming the rule when it is weak."""
        problem = strength_problem(password)
        if problem:
            raise PasswordError(problem)
        salt = secrets.token_bytes(16)
        record = {
            "algorithm": "scrypt",
            **SCRYPT,
            "salt": salt.hex(),
            "hash": _scrypt(password, salt, SCRYPT).hex(),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps(record, indent=1).encode()
        replace_file(self.path, lambda f: f.write(data), mode=0o600)  # never world-readable, even half-written
        log.info("admin password set (%s)", self.path)

    def check(self, user: str, password: str) -> bool:
        """True when `user` is the admin and `password` matches the stored hash."""
        try:
            record = json.loads(self.path.read_text())
            if record.get("algorithm") != "scrypt":
                raise ValueError(f"unknown algorithm {record.get('algorithm')!r}")
            params = {k: int(record[k]) for k in SCRYPT}
            salt, expected = bytes.fromhex(record["salt"]), bytes.fromhex(record["hash"])
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise PasswordError(
                f"{self.path}: unreadable password file ({e}); set a new one with `nvr passwd --state-dir DIR`"
            ) from None
        # Hash even for a wrong user name, so timing does not tell which was wrong.
        ok = hmac.compare_digest(_scrypt(password, salt, params), expected)
        return ok and hmac.compare_digest(user.encode(), USER.encode())


def _scrypt(password: str, salt: bytes, p: dict[str, int]) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=p["n"], r=p["r"], p=p["p"], dklen=p["dklen"],
        maxmem=64 * 1024 * 1024,
    )


class LoginGuard:
    """Counts failed logins; after `max_failures` in a row the console locks for `lockout_seconds`.

    One guard lives for the whole console, across sessions, so hanging up
    and reconnecting does not reset the count or end a lock-out.
    """

    def __init__(
        self,
        max_failures: int = 5,
        lockout_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.lockout_seconds = lockout_seconds
        self._clock = clock
        self._failures = 0
        self._locked_until = 0.0

    def locked_for(self) -> float:
        """Seconds left in the current lock-out (0 when logins are allowed)."""
        return max(0.0, self._locked_until - self._clock())

    def failed(self) -> bool:
        """Record a failure; True when it starts a lock-out."""
        self._failures += 1
        if self._failures < self.max_failures:
            return False
        self._failures = 0
        self._locked_until = self._clock() + self.lockout_seconds
        log.warning(
            "console locked for %g s after %d failed logins", self.lockout_seconds, self.max_failures
        )
        return True

    def succeeded(self) -> None:
        self._failures = 0
