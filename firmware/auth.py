"""The device's admin account: strength rules, the password file, HTTP Digest, lock-out.

Like a real recorder the device ships without a password and must be
*activated*: the first console or web session (or `nvr passwd`) sets it.
``<state_dir>/admin.passwd`` (JSON, mode 0600, written atomically: a power
cut leaves the old password or the new one, never none) keeps a salted
scrypt hash for logins that type the password, and the two HTTP Digest
HA1 values (MD5 and SHA-256 of ``admin:realm:password``) that ISAPI
clients' Digest answers are checked against. An HA1 is not the password,
but it is enough to answer a Digest challenge of this realm: whoever reads
the file can log in over the API (not on the console or the page), which
is why the file is private; see docs/web.md, Security.

`Accounts` is the one way in for every front end: five wrong passwords in a
row, typed on the console, the page or sent by an API client, lock the
account for 60 s, and the lock is kept in ``<state_dir>/lockout.json`` so a
restart does not lift it.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import string
import threading
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Callable

from firmware.atomic import replace_file

log = logging.getLogger(__name__)

USER = "admin"
PASSWORD_FILE = "admin.passwd"
LOCKOUT_FILE = "lockout.json"
MIN_LENGTH = 8
MAX_FAILURES = 5          # wrong passwords in a row that lock the account...
LOCKOUT_SECONDS = 60.0    # ...for this long
DIGEST_REALM = "NVR"      # part of every stored HA1: changing it invalidates them
DIGEST_HASHES = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}
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
            "digest": _digest_record(password),
        }
        self._write(record)
        log.info("admin password set (%s)", self.path)

    def check(self, user: str, password: str) -> bool:
        """True when `user` is the admin and `password` matches the stored hash."""
        record = self._read()
        try:
            params = {k: int(record[k]) for k in SCRYPT}
            salt, expected = bytes.fromhex(record["salt"]), bytes.fromhex(record["hash"])
        except (ValueError, KeyError, TypeError) as e:
            raise self._unreadable(e) from None
        # Hash even for a wrong user name, so timing does not tell which was wrong.
        ok = hmac.compare_digest(_scrypt(password, salt, params), expected)
        ok = ok and hmac.compare_digest(user.encode(), USER.encode())
        if ok and record.get("digest", {}).get("realm") != DIGEST_REALM:
            # A file from before Digest (or another realm): the typed password
            # is at hand now, so API clients can log in from here on.
            record["digest"] = _digest_record(password)
            self._write(record)
        return ok

    def digest_ha1(self, algorithm: str) -> bytes | None:
        """The stored HA1 (hex, as bytes) for `algorithm` ("MD5" or "SHA-256"), None when
        the file predates Digest (a password login or `nvr passwd` adds it)."""
        digest = self._read().get("digest")
        if not isinstance(digest, dict) or digest.get("realm") != DIGEST_REALM:
            return None
        ha1 = digest.get(algorithm)
        return ha1.encode() if isinstance(ha1, str) else None

    def _read(self) -> dict:
        try:
            record = json.loads(self.path.read_text())
            if not isinstance(record, dict) or record.get("algorithm") != "scrypt":
                raise ValueError(f"unknown algorithm {record.get('algorithm') if isinstance(record, dict) else None!r}")
            return record
        except (OSError, ValueError) as e:
            raise self._unreadable(e) from None

    def _unreadable(self, e: Exception) -> PasswordError:
        return PasswordError(
            f"{self.path}: unreadable password file ({e}); set a new one with `nvr passwd --state-dir DIR`")

    def _write(self, record: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps(record, indent=1).encode()
        replace_file(self.path, lambda f: f.write(data), mode=0o600)  # never world-readable, even half-written


def _digest_record(password: str) -> dict[str, str]:
    secret = f"{USER}:{DIGEST_REALM}:{password}".encode("utf-8")
    return {"realm": DIGEST_REALM, **{name: h(secret).hexdigest() for name, h in DIGEST_HASHES.items()}}


def _scrypt(password: str, salt: bytes, p: dict[str, int]) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=p["n"], r=p["r"], p=p["p"], dklen=p["dklen"],
        maxmem=64 * 1024 * 1024,
    )


# --------------------------------------------------------------------------- Digest


@dataclass(frozen=True, slots=True)
class DigestAnswer:
    """The fields of an HTTP Digest ``Authorization`` header (RFC 7616) and the request's method.

    The front end checks the nonce (its own, not expired) before asking; this
    checks the response against the stored HA1.
    """

    username: str
    realm: str
    nonce: str
    uri: str
    response: str
    algorithm: str = "MD5"   # "MD5", "SHA-256", or either with "-sess"
    qop: str = "auth"
    nc: str = ""
    cnonce: str = ""
    method: str = "GET"


def digest_response(ha1: bytes, answer: DigestAnswer) -> str:
    """The response a client knowing `ha1` sends for `answer`'s challenge (RFC 7616 3.4.1, qop=auth)."""
    algorithm = answer.algorithm.upper()
    base = algorithm.removesuffix("-SESS")
    if base not in DIGEST_HASHES:
        raise ValueError(f"unsupported Digest algorithm {answer.algorithm!r}")
    h = DIGEST_HASHES[base]

    def hx(text: str | bytes) -> bytes:
        return h(text if isinstance(text, bytes) else text.encode("utf-8")).hexdigest().encode()

    if algorithm != base:  # -sess: the session key binds both nonces
        ha1 = hx(ha1 + f":{answer.nonce}:{answer.cnonce}".encode())
    ha2 = hx(f"{answer.method}:{answer.uri}")
    return hx(ha1 + f":{answer.nonce}:{answer.nc}:{answer.cnonce}:{answer.qop}:".encode() + ha2).decode()


# --------------------------------------------------------------------------- the account


class LoginOutcome(StrEnum):
    OK = "ok"
    WRONG = "wrong"                  # wrong user name or password (counted)
    LOCKED = "locked"                # refused unchecked: the account is locked
    NOT_ACTIVATED = "not_activated"  # no password yet: activate first


@dataclass(frozen=True, slots=True)
class LoginResult:
    outcome: LoginOutcome
    locked_for: float = 0.0   # seconds left of the lock-out (LOCKED, or WRONG that started one)

    @property
    def ok(self) -> bool:
        return self.outcome is LoginOutcome.OK


class LoginGuard:
    """Counts failed logins; after `max_failures` in a row the account locks for `lockout_seconds`.

    With `path`, the count and the lock are kept in that file (atomically),
    so a restart neither resets the count nor lifts a lock. Thread-safe: the
    console, the page and the API share one guard.
    """

    def __init__(self, max_failures: int = MAX_FAILURES, lockout_seconds: float = LOCKOUT_SECONDS,
                 clock: Callable[[], float] = time.time, path: Path | None = None) -> None:
        self.max_failures = max_failures
        self.lockout_seconds = lockout_seconds
        self._clock = clock
        self._path = path
        self._lock = threading.Lock()
        self._failures = 0
        self._locked_until = 0.0
        self._load()

    def locked_for(self) -> float:
        """Seconds left in the current lock-out (0 when logins are allowed)."""
        # Capped: a wall clock set back must not stretch a lock-out.
        return min(self.lockout_seconds, max(0.0, self._locked_until - self._clock()))

    def failed(self) -> bool:
        """Record a failure; True when it starts a lock-out."""
        with self._lock:
            self._failures += 1
            locked = self._failures >= self.max_failures
            if locked:
                self._failures = 0
                self._locked_until = self._clock() + self.lockout_seconds
            self._save()
        if locked:
            log.warning("admin account locked for %g s after %d failed logins", self.lockout_seconds,
                        self.max_failures)
        return locked

    def succeeded(self) -> None:
        with self._lock:
            if self._failures:
                self._failures = 0
                self._save()

    def _load(self) -> None:
        if self._path is None or not self._path.exists():
            return
        try:
            d = json.loads(self._path.read_text())
            self._failures = max(0, int(d["failures"]))
            self._locked_until = float(d["locked_until"])
        except (OSError, ValueError, KeyError, TypeError) as e:
            # Unreadable: lock as a precaution rather than forget a lock-out.
            log.warning("%s: unreadable (%s); the account is locked for %g s", self._path, e, self.lockout_seconds)
            self._failures, self._locked_until = 0, self._clock() + self.lockout_seconds

    def _save(self) -> None:
        if self._path is None:
            return
        data = json.dumps({"failures": self._failures, "locked_until": self._locked_until}).encode()
        try:
            replace_file(self._path, lambda f: f.write(data), mode=0o600)
        except OSError as e:  # a full disk must not open the door: the count stays in memory
            log.warning("%s: cannot save the login count: %s", self._path, e.strerror)


class Accounts:
    """The admin account as every front end uses it: activation, logins, the shared lock-out."""

    def __init__(self, state_dir: str | os.PathLike, *, lockout_seconds: float = LOCKOUT_SECONDS) -> None:
        self.passwords = PasswordStore(state_dir)
        self.guard = LoginGuard(lockout_seconds=lockout_seconds, path=Path(state_dir) / LOCKOUT_FILE)

    def activated(self) -> bool:
        return self.passwords.is_set()

    def activate(self, password: str) -> None:
        """Set the first admin password; PasswordError when weak or already activated."""
        if self.passwords.is_set():
            raise PasswordError("the device is already activated")
        self.passwords.set(password)

    def login(self, user: str, password: str) -> LoginResult:
        """Check a typed user name and password (console, page)."""
        return self._attempt(lambda: self.passwords.check(user, password))

    def login_digest(self, answer: DigestAnswer) -> LoginResult:
        """Check an HTTP Digest answer (ISAPI clients)."""
        def check() -> bool:
            base = answer.algorithm.upper().removesuffix("-SESS")
            ha1 = self.passwords.digest_ha1(base) if base in DIGEST_HASHES else None
            if ha1 is None or answer.realm != DIGEST_REALM:
                return False
            expected = digest_response(ha1, answer)
            return hmac.compare_digest(expected.encode(), answer.response.lower().encode()) and \
                hmac.compare_digest(answer.username.encode(), USER.encode())
        return self._attempt(check)

    def _attempt(self, check: Callable[[], bool]) -> LoginResult:
        if not self.passwords.is_set():
            return LoginResult(LoginOutcome.NOT_ACTIVATED)
        wait = self.guard.locked_for()
        if wait > 0:
            return LoginResult(LoginOutcome.LOCKED, wait)
        if check():
            self.guard.succeeded()
            return LoginResult(LoginOutcome.OK)
        if self.guard.failed():
            return LoginResult(LoginOutcome.WRONG, self.guard.locked_for())
        return LoginResult(LoginOutcome.WRONG)
