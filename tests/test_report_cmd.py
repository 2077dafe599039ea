"""`nvr report` as a user runs it: a real process over a real state directory."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from openpyxl import load_workbook
from PIL import Image

from firmware.store import SqliteStatistics
from tests.test_store import hour_record

pytestmark = pytest.mark.slow   # the fast tier (-m 'not slow') leaves it out: see README, Tests

REPO = Path(__file__).resolve().parents[1]
KEYS = ["channel", "report_type", "model", "period", "grid", "visits", "dwell_seconds", "buckets", "totals", "details"]


@pytest.fixture(scope="module")
def state(tmp_path_factory):
    d = tmp_path_factory.mktemp("state")
    rng = np.random.default_rng(21)
    with SqliteStatistics(d) as store:
        store.set_channel_name(1, "Entrance")
        store.import_hours([hour_record(1, datetime(2026, 11, day, h), rng) for day in (23, 24) for h in range(9, 19)])
    return d


def nvr(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nvr", "report", *map(str, args)],
                          cwd=REPO, capture_output=True, text=True, timeout=60)


def test_json_to_stdout_has_exactly_the_documented_keys(state):
    r = nvr("--state-dir", state, "--channel", 1, "--type", "weekly", "--date", "2026-11-29", "--json", "-")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert list(doc) == KEYS
    assert doc["channel"] == 1 and doc["report_type"] == "weekly" and doc["model"] == "dwell"
    assert doc["period"] == {"start": "2026-11-23T00:00:00", "end": "2026-11-30T00:00:00"}
    assert [b["has_data"] for b in doc["buckets"]] == [True, True, False, False, False, False, False]
    assert set(doc["totals"]) >= {"visits", "dwell_seconds"}
    assert doc["details"]["channel_name"] == "Entrance"


def test_summary_xlsx_and_png_in_one_run(state, tmp_path):
    r = nvr("--state-dir", state, "--channel", 1, "--type", "daily", "--date", "2026-11-24", "--model", "people")
    assert r.returncode == 0, r.stderr
    assert "Entrance (channel 1): daily report 2026-11-24, model people" in r.stdout
    assert r.stdout.count("no data") == 14  # 00-09 and 19-24

    out = tmp_path / "out"
    out.mkdir()
    r = nvr("--state-dir", state, "--channel", 1, "--type", "monthly", "--date", "2026-11-02",
            "--xlsx", out / "m.xlsx", "--png", out / "m.png", "--json", out / "m.json")
    assert r.returncode == 0, r.stderr
    assert load_workbook(out / "m.xlsx").sheetnames == ["Summary", "Time heat map", "Space heat map"]
    width, height = Image.open(out / "m.png").size
    assert width == 640 and height > 360  # the 640x360 source's picture, the legend strip below
    assert list(json.loads((out / "m.json").read_text())) == KEYS
    assert sorted(p.name for p in out.iterdir()) == ["m.json", "m.png", "m.xlsx"]

    r = nvr("--state-dir", state, "--channel", 1, "--type", "annual", "--date", "2026-01-01", "--export", out)
    assert r.returncode == 0, r.stderr
    assert (out / "heatmap_ch01_annual_2026-01-01_dwell.xlsx").exists()
    assert (out / "heatmap_ch01_annual_2026-01-01_dwell.png").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--channel", 9, "--type", "daily", "--date", "2026-11-24"], "error: no channel 9 in the statistics (channels: 1)"),
        (["--channel", 1, "--type", "daily", "--date", "2026-12-24"],
         "error: channel 1 has no statistics for the daily report of 2026-12-24; pick a date between 2026-11-23 and 2026-11-24"),
        (["--channel", 1, "--type", "daily", "--date", "24/11/2026"], "error: --date: '24/11/2026' is not a date like 2026-11-24"),
        (["--channel", 1, "--type", "hourly", "--date", "2026-11-24"], "invalid choice: 'hourly'"),
        (["--channel", 1, "--type", "daily", "--date", "2026-11-24", "--export", "/nonexistent/usb"],
         "error: export device /nonexistent/usb is not present"),
        (["--channel", 1, "--type", "daily", "--date", "2026-11-24", "--xlsx", "/nonexistent/r.xlsx"],
         "error: directory /nonexistent is not present; create it first"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(state, args, message):
    r = nvr("--state-dir", state, *args)
    assert r.returncode == 2
    assert message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and r.stdout == ""


def test_a_state_dir_without_statistics_is_one_line_and_stays_empty(tmp_path):
    r = nvr("--state-dir", tmp_path, "--channel", 1, "--type", "daily", "--date", "2026-11-24")
    assert r.returncode == 2
    assert r.stderr.startswith("error: no statistics in ") and "check --state-dir" in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_report_reads_while_the_appliance_keeps_the_store_open_and_writing(tmp_path):
    rng = np.random.default_rng(22)
    with SqliteStatistics(tmp_path) as running:
        running.record(hour_record(4, datetime(2026, 11, 24, 9), rng))
        r = nvr("--state-dir", tmp_path, "--channel", 4, "--type", "daily", "--date", "2026-11-24", "--json", "-")
        first = json.loads(r.stdout)["totals"]["visits"]
        more = hour_record(4, datetime(2026, 11, 24, 9), rng)
        running.record(more)  # the next checkpoint of the same hour
        r = nvr("--state-dir", tmp_path, "--channel", 4, "--type", "daily", "--date", "2026-11-24", "--json", "-")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["totals"]["visits"] == first + more.visits_total
