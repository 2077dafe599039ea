"""A damaged statistics store: boot stops with one line, `nvr store check` says what is wrong,
`nvr store repair` moves it aside (never deleting) and starts a fresh store with what is readable.

The damaged files are real: a garbage header, random bytes, a directory in the
store's place, a file cut in half, a page of a real store overwritten.
"""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import yaml

from firmware.clock import to_clock
from firmware.store import FILENAME, SqliteStatistics
from tests.test_store import hour_record

pytestmark = pytest.mark.slow   # the fast tier (-m 'not slow') leaves it out: see README, Tests

REPO = Path(__file__).resolve().parents[1]
DAY0 = int(to_clock(datetime(2026, 11, 24)))


def nvr(*args: str, timeout: float = 120, stdin=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nvr", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=timeout, stdin=stdin)


def good_store(state: Path, hours: int = 48, channels: int = 2) -> dict[int, int]:
    """A real store with `hours` hours per channel; the visits per channel."""
    rng = np.random.default_rng(5)
    visits = {}
    with SqliteStatistics(state) as store:
        for ch in range(1, channels + 1):
            store.set_channel_name(ch, f"Cam {ch}")
            recs = [hour_record(ch, DAY0 + 3600 * h, rng, scale=30.0) for h in range(hours)]
            store.import_hours(recs)
            visits[ch] = sum(r.visits_total for r in recs)
    return visits


def garbage_header(path: Path) -> None:
    good_store(path.parent)
    with open(path, "r+b") as f:
        f.write(b"NOT SQLITE AT ALL")


def random_bytes(path: Path) -> None:
    path.write_bytes(np.random.default_rng(1).integers(0, 256, 200_000, dtype=np.uint8).tobytes())


def a_directory(path: Path) -> None:
    path.mkdir(parents=True)
    (path / "something").write_text("x")


def cut_in_half(path: Path) -> None:
    good_store(path.parent)
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.truncate(size // 2)


def page_overwritten(path: Path) -> None:
    """A real store with one b-tree page of the hours table overwritten by zeros and junk."""
    good_store(path.parent, hours=400)
    with sqlite3.connect(path) as c:
        page_size = c.execute("PRAGMA page_size").fetchone()[0]
        root = c.execute("SELECT rootpage FROM sqlite_master WHERE name = 'hours'").fetchone()[0]
    with open(path, "r+b") as f:
        f.seek((root - 1) * page_size + 100)  # the root's cell pointers: the table's index into its rows
        f.write(b"\xff\x00" * 200)


DAMAGE = {
    "garbage-header": garbage_header,
    "random-bytes": random_bytes,
    "directory": a_directory,
    "cut-in-half": cut_in_half,
    "page-overwritten": page_overwritten,
}


@pytest.fixture
def clip(tmp_path):
    from tests.clips import make_clip, moving_square_frames

    return make_clip(tmp_path / "clip.mp4", moving_square_frames(25, size=(160, 120)), fps=25)


def config(tmp_path: Path, clip: Path) -> Path:
    path = tmp_path / "nvr.yaml"
    path.write_text(yaml.safe_dump({"channels": [{"id": 1, "source": str(clip), "heat_map": {"enabled": True}}]}))
    return path


def one_error_line(r: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in r.stderr + r.stdout, r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, r.stderr
    return errors[0]


@pytest.mark.parametrize("damage", DAMAGE)
def test_boot_on_a_damaged_store_stops_with_one_line_naming_the_file_and_the_way_out(tmp_path, clip, damage):
    state = tmp_path / "state"
    state.mkdir()
    DAMAGE[damage](state / FILENAME)
    r = nvr("run", "--config", str(config(tmp_path, clip)), "--state-dir", str(state), "--speed", "max",
            "--duration", "1")
    assert r.returncode == 2, r.stdout + r.stderr
    line = one_error_line(r)
    assert str(state / FILENAME) in line
    assert f"nvr store repair --state-dir {state}" in line


@pytest.mark.parametrize("damage", DAMAGE)
def test_store_check_says_damaged_and_repair_moves_it_aside_and_starts_fresh(tmp_path, clip, damage):
    state = tmp_path / "state"
    state.mkdir()
    path = state / FILENAME
    DAMAGE[damage](path)
    original = _contents(path)

    r = nvr("store", "check", "--state-dir", str(state))
    assert r.returncode == 2, r.stdout + r.stderr
    assert "nvr store repair" in one_error_line(r)

    r = nvr("store", "repair", "--state-dir", str(state))
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    aside = [p for p in state.iterdir() if p.name.startswith("statistics.damaged-")]
    assert aside, list(state.iterdir())
    main = next(p for p in aside if p.name.endswith(".sqlite3"))
    assert _contents(main) == original  # moved, byte for byte: nothing deleted
    assert f"moved aside  {main}" in r.stdout

    r = nvr("store", "check", "--state-dir", str(state), "--json")
    assert r.returncode == 0, r.stderr
    health = json.loads(r.stdout)
    assert health["integrity"] == ["ok"] and not health["damaged"]
    # And the appliance boots on it.
    r = nvr("run", "--config", str(config(tmp_path, clip)), "--state-dir", str(state), "--speed", "max",
            "--duration", "1")
    assert r.returncode == 0, r.stderr


def _contents(path: Path):
    if path.is_dir():
        return {p.name: p.read_bytes() for p in path.iterdir()}
    return path.read_bytes()


def test_repair_recovers_the_hours_still_readable(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    page_overwritten(state / FILENAME)
    r = nvr("store", "repair", "--state-dir", str(state))
    assert r.returncode == 0, r.stderr
    assert "recovered" in r.stdout
    r = nvr("store", "check", "--state-dir", str(state), "--json")
    health = json.loads(r.stdout)
    hours = {c["channel"]: c["hours_with_data"] for c in health["channels"]}
    assert health["integrity"] == ["ok"]
    assert all(c["days_match"] for c in health["channels"])
    # One overwritten page of 800 hours loses at most what that page pointed at.
    assert sum(hours.values()) > 0, r.stdout


def test_store_check_on_an_intact_store_lists_hours_per_channel(tmp_path):
    state = tmp_path / "state"
    visits = good_store(state, hours=30)
    r = nvr("store", "check", "--state-dir", str(state))
    assert r.returncode == 0, r.stderr
    assert "integrity  ok" in r.stdout and "orphans    none" in r.stdout
    assert "channel 1   Cam 1: 30 hours with data, 2026-11-24 00h to 2026-11-25 05h" in r.stdout
    health = json.loads(nvr("store", "check", "--state-dir", str(state), "--json").stdout)
    assert {c["channel"]: c["visits"] for c in health["channels"]} == visits
    # An intact store is left alone by repair.
    r = nvr("store", "repair", "--state-dir", str(state))
    assert r.returncode == 2 and "intact; nothing to repair" in one_error_line(r)
    assert sorted(p.name for p in state.iterdir() if "statistics" in p.name) == [FILENAME]


def test_store_check_names_rows_whose_layout_is_missing(tmp_path):
    state = tmp_path / "state"
    good_store(state, hours=3, channels=1)
    with sqlite3.connect(state / FILENAME) as c:  # as firmware before the fix could leave it
        c.execute("UPDATE hours SET layout_id = 9 WHERE hour_start = ?", (DAY0 + 3600,))
    r = nvr("store", "check", "--state-dir", str(state))
    assert r.returncode == 0, r.stderr
    assert "orphans    1 hour rows refer to a layout an older firmware lost" in r.stdout


def test_repair_refuses_while_an_appliance_runs_on_the_state_dir(tmp_path, clip):
    import signal
    import time

    state = tmp_path / "state"
    cfg = config(tmp_path, clip)
    p = subprocess.Popen([sys.executable, "-m", "nvr", "run", "--config", str(cfg), "--state-dir", str(state)],
                         cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for line in p.stdout:
            if "boot complete" in line:
                break
        r = nvr("store", "repair", "--state-dir", str(state))
        assert r.returncode == 2
        line = one_error_line(r)
        assert f"an appliance (pid {p.pid}) is already running on it" in line and "repair would move" in line
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(30)
    assert os.path.exists(state / FILENAME)
    time.sleep(0)


def test_a_store_from_a_newer_firmware_is_refused_in_one_line(tmp_path, clip):
    state = tmp_path / "state"
    good_store(state, hours=1, channels=1)
    with sqlite3.connect(state / FILENAME) as c:
        c.execute("INSERT INTO _migrations VALUES ('m999_future', '2030-01-01')")
    r = nvr("run", "--config", str(config(tmp_path, clip)), "--state-dir", str(state), "--duration", "1")
    assert r.returncode == 2
    assert "upgrade the firmware" in one_error_line(r)
