"""Report speed and store size over a year of 64x36 hourly data (targets: annual < 200 ms, < 50 MB)."""
from __future__ import annotations

import sqlite3
import time
from datetime import date

import numpy as np
import pytest

from benchmarks.conftest import LAYOUT, YEAR
from firmware.migrations import rebuild_day
from firmware.reports import build_report
from firmware.stats import HourRecord
from firmware.store import SqliteStatistics

MB = 1024 * 1024


def test_annual_report(benchmark, year_store):
    store, raw = year_store
    rep = benchmark(build_report, store, 1, "annual", date(YEAR, 6, 1), "dwell")
    assert np.array_equal(rep.visits, raw["visits"].sum((0, 1)))
    assert rep.visits_total == int(raw["totals_v"].sum())
    # Plain timing too, so the budget is checked even with --benchmark-disable.
    t = time.perf_counter()
    build_report(store, 1, "annual", date(YEAR, 6, 1), "people")
    assert time.perf_counter() - t < 0.2


def test_monthly_report(benchmark, year_store):
    store, _ = year_store
    benchmark(build_report, store, 1, "monthly", date(YEAR, 12, 24), "dwell")


def test_daily_report(benchmark, year_store):
    store, raw = year_store
    rep = benchmark(build_report, store, 1, "daily", date(YEAR, 3, 2), "people")
    assert np.array_equal(rep.visits, raw["visits"][31 + 28 + 1].sum(0))


def test_channel_year_fits_the_size_budget_and_matches_the_stores_roll_up(year_store, tmp_path):
    store, _ = year_store
    size = store.path.stat().st_size
    print(f"\none channel-year of 64x36 hourly grids: {size / MB:.1f} MB")
    assert size < 50 * MB
    # The generator writes days itself; they must equal what the store would roll up.
    with sqlite3.connect(store.path, isolation_level=None) as c:
        day = c.execute("SELECT MIN(day_start) + 86400 * 40 FROM days").fetchone()[0]
        (before,) = c.execute("SELECT * FROM days WHERE day_start = ?", (day,)).fetchall()
        c.execute("BEGIN")
        rebuild_day(c, 1, day)
        (after,) = c.execute("SELECT * FROM days WHERE day_start = ?", (day,)).fetchall()
        c.execute("ROLLBACK")
    dwell_total = 8  # a float summed in another order
    assert before[:dwell_total] == after[:dwell_total] and before[dwell_total + 1:] == after[dwell_total + 1:]
    assert before[dwell_total] == pytest.approx(after[dwell_total])


def test_checkpoint_record_of_a_running_hour(benchmark, tmp_path):
    """What each channel pays once a minute: add one hour's increment and rebuild its day."""
    rng = np.random.default_rng(0)
    store = SqliteStatistics(tmp_path)
    shape = (LAYOUT.grid_rows, LAYOUT.grid_columns)
    visits = rng.poisson(1.0, shape).astype(np.int32)
    rec = HourRecord(1, 3600 * 24 * 400 + 12 * 3600, LAYOUT, visits, visits * 3.3, np.array([5, 1]),
                     np.array([20.0, 3.0]), int(visits.sum()), float(visits.sum() * 3.3), 60.0, 0)
    for h in range(12):  # a day half full, as at noon
        store.record(HourRecord(**{**{k: getattr(rec, k) for k in HourRecord.__slots__},
                                   "hour_start": rec.hour_start - 3600 * (h + 1)}))
    benchmark(store.record, rec)
    store.close()
