"""`nvr demo` from a terminal keeps the page up on the replayed day until Ctrl-C; without one it ends.

A short demo (the first 8 h 05 min of the day: the closed hours skipped, 5
minutes of opening analysed) keeps the run under a minute.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pexpect
import pytest
import requests

pytestmark = pytest.mark.slow   # the fast tier (-m 'not slow') leaves it out: see README, Tests

ROOT = Path(__file__).resolve().parents[1]
DURATION = "29100"   # appliance seconds: midnight to 08:05, the first 5 min of opening


def test_from_a_terminal_the_page_stays_up_until_ctrl_c(tmp_path):
    child = pexpect.spawn(sys.executable, ["-m", "nvr", "demo", "--out", str(tmp_path / "out"), "--duration",
                                           DURATION, "--date", "2026-11-24"], cwd=tmp_path, timeout=240,
                          encoding="utf-8", codec_errors="replace")
    try:
        child.expect(r"web: (http://127\.0\.0\.1:\d+/) ")
        url = child.match.group(1)
        child.expect("demo reports for 2026-11-24 are in")
        child.expect("The replayed day is on the web page")
        session = requests.get(url + "api/session", timeout=10).json()
        assert session["activated"] is False  # a fresh demo: the page offers activation
        ok = requests.post(url + "api/activate", json={"password": "Demo-2026!", "confirm": "Demo-2026!"}, timeout=10)
        assert ok.status_code == 200
        search = requests.get(url + "ISAPI/System/Video/inputs/channels/1/heatMap/export",
                              params={"reportType": "daily", "date": "2026-11-24", "statisticalModel": "duration"},
                              auth=requests.auth.HTTPDigestAuth("admin", "Demo-2026!"), timeout=30)
        assert search.status_code == 200 and search.content[:2] == b"PK"  # the replayed statistics
        child.sendintr()
        child.expect("shutdown complete")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    assert sorted(p.suffix for p in (tmp_path / "out" / "export").iterdir()).count(".xlsx") == 4


def test_without_a_terminal_the_demo_ends_by_itself(tmp_path):
    done = subprocess.run([sys.executable, "-m", "nvr", "demo", "--out", str(tmp_path / "out"), "--duration",
                           DURATION, "--date", "2026-11-24"], cwd=tmp_path, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "web: http://127.0.0.1:" in done.stdout and "demo reports for 2026-11-24 are in" in done.stdout
    assert "The replayed day is on the web page" not in done.stdout
