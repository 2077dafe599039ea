"""The admin password: strength rules, the file on disk, lock-out, and `nvr passwd`."""
from __future__ import annotations

import json
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from firmware.auth import LoginGuard, PasswordError, PasswordStore, strength_problem

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("weak", ["", "Ab1!", "abcdefgh", "ABCDEFGHIJ", "12345678", "!!!!!!!!!"])
def test_weak_passwords_are_refused_with_the_rule(weak):
    assert strength_problem(weak)


@pytest.mark.parametrize("good", ["abcdefg1", "Abcdefgh", "abcd-efgh", "12345678!", "Secret-2024"])
def test_passwords_with_two_kinds_of_characters_pass(good):
    assert strength_problem(good) is None


def test_store_keeps_only_a_salted_hash_in_a_private_file(tmp_path):
    store = PasswordStore(tmp_path)
    assert not store.is_set()
    store.set("Secret-2024")
    text = store.path.read_text()
    assert "Secret-2024" not in text
    record = json.loads(text)
    assert record["algorithm"] == "scrypt" and len(bytes.fromhex(record["salt"])) == 16
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert store.check("admin", "Secret-2024")
    assert not store.check("admin", "Secret-2025")
    assert not store.check("root", "Secret-2024")
    # Same password again: a fresh salt, so a different hash.
    store.set("Secret-2024")
    assert json.loads(store.path.read_text())["hash"] != record["hash"]
    assert [p.name for p in tmp_path.iterdir()] == ["admin.passwd"]  # no temporary left


def test_weak_password_leaves_the_old_one(tmp_path):
    store = PasswordStore(tmp_path)
    store.set("Secret-2024")
    with pytest.raises(PasswordError, match="at least 8"):
        store.set("short")
    assert store.check("admin", "Secret-2024")


def test_corrupt_password_file_names_the_fix(tmp_path):
    store = PasswordStore(tmp_path)
    store.path.write_text("{not json")
    with pytest.raises(PasswordError, match="nvr passwd"):
        store.check("admin", "whatever1")


def test_five_failures_lock_for_the_lockout_time():
    assert LoginGuard().lockout_seconds == 60.0  # the device default
    guard = LoginGuard(lockout_seconds=0.3)
    assert [guard.failed() for _ in range(5)] == [False, False, False, False, True]
    assert 0.2 < guard.locked_for() <= 0.3
    time.sleep(0.35)
    assert guard.locked_for() == 0
    # A success resets the count: four more failures do not lock.
    guard.failed()
    guard.succeeded()
    assert not any(guard.failed() for _ in range(4))


def nvr_passwd(state: Path, stdin: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nvr", "passwd", "--state-dir", str(state)],
                          input=stdin, capture_output=True, text=True, cwd=ROOT, timeout=60)


def test_nvr_passwd_sets_the_password_from_the_first_line(tmp_path):
    state = tmp_path / "state"
    done = nvr_passwd(state, "Secret-2024\nignored second line\n")
    assert done.returncode == 0, done.stderr
    assert PasswordStore(state).check("admin", "Secret-2024")


def test_nvr_passwd_refuses_a_weak_password_in_one_line(tmp_path):
    done = nvr_passwd(tmp_path, "password\n")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: ")
    assert "two kinds" in done.stderr
    assert not PasswordStore(tmp_path).is_set()
