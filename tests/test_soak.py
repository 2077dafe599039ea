"""The soak's short mode, as CI runs it: `nvr bench soak` for a minute on a tmpfs it fills twice.

The full run is `make soak` (an hour); docs/reliability.md has its figures.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fullfs import tmpfs

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_soak_short_mode(tmp_path):
    with tmpfs(tmp_path / "fs", "16m") as fs:
        r = subprocess.run([sys.executable, "-m", "nvr", "bench", "soak", "--state-dir", str(fs / "state"),
                            "--seconds", "60", "--sample-every", "3", "--json"], cwd=REPO, capture_output=True,
                           text=True, timeout=600)
    assert r.stdout, r.stderr
    result = json.loads(r.stdout)
    assert result["passed"], (result["problems"], r.stderr[-3000:])
    assert r.returncode == 0
    # What the verdict stands on, spelled out.
    assert result["fill_cycles"] == 2 and result["store_failing_lines"] >= 1
    assert result["store_recovered_lines"] == result["store_failing_lines"]
    assert result["integrity"] == "ok" and result["reports_readable"] == result["reports_total"] > 0
    assert result["counted_visits"] > 0 and result["lost_visits"] == 0
    assert result["tracebacks"] == 0
    assert result["video_losses"] > 0 and result["restores"] > 0  # the bad sources did flap and stall
    assert result["fds"]["last"] - result["fds"]["first"] <= 8


def test_the_soak_refuses_a_large_filesystem(tmp_path):
    r = subprocess.run([sys.executable, "-m", "nvr", "bench", "soak", "--state-dir", "/", "--seconds", "30"],
                       cwd=REPO, capture_output=True, text=True, timeout=60)
    if r.returncode == 2 and "not empty" in r.stderr:
        pytest.fail("the size check must come first")
    assert r.returncode == 2 and "the soak fills it, so give a small one of its own" in r.stderr, r.stderr
