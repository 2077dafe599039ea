"""A year of realistic hourly statistics for one channel, written straight into SQLite.

The shop is open 08:00-21:00; people follow three aisles, queue at the
checkout and pass the entrance; shelves and walls stay empty. Every hour of
the year is recorded (the camera runs around the clock), closed hours with
empty grids. Rows go in with executemany in the store's own blob format, so
generating the year takes about a second instead of 8760 `record()` calls.
"""
from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from firmware.clock import to_clock
from firmware.migrations import DWELL_UNITS, encode_counts
from firmware.stats import Layout
from firmware.store import FILENAME, SqliteStatistics, layout_to_json

ROWS, COLS = 36, 64
LAYOUT = Layout(
    ROWS, COLS,
    (((0.05, 0.1), (0.95, 0.1), (0.95, 0.95), (0.05, 0.95)), ((0.7, 0.6), (0.95, 0.6), (0.95, 0.95), (0.7, 0.95))),
    (50, 50, 50, 50), 1920, 1080, 640, 360,
)
YEAR = 2026


def floor_plan() -> tuple[np.ndarray, np.ndarray]:
    """(visits per cell per busy hour, mean seconds per visit) over the 36x64 grid."""
    y, x = np.mgrid[0:ROWS, 0:COLS]
    rate = np.zeros((ROWS, COLS))
    for aisle in (10, 26, 42):                       # three aisles between shelves
        rate += 6.0 * np.exp(-((x - aisle) / 2.5) ** 2) * (y > 4)
    rate += 12.0 * np.exp(-(((x - 54) / 5) ** 2 + ((y - 28) / 4) ** 2))  # checkout queue
    rate += 8.0 * np.exp(-(((x - 32) / 8) ** 2 + ((y - 34) / 2) ** 2))   # entrance
    rate[:3] = 0.0                                    # wall above the shelves
    dwell = 2.0 + 25.0 * np.exp(-(((x - 54) / 5) ** 2 + ((y - 28) / 4) ** 2))
    return rate, dwell


def generate_year(state_dir: Path, channel: int = 1, seed: int = 0) -> dict[str, np.ndarray]:
    """Write YEAR's hours and days for `channel`; returns the raw arrays for checking."""
    SqliteStatistics(state_dir).close()  # schema through the real migrations
    rng = np.random.default_rng(seed)
    rate, mean_dwell = floor_plan()
    t0 = int(to_clock(datetime(YEAR, 1, 1)))
    n_days = 365
    open_hours = np.arange(8, 21)
    # Closed hours are all zeros; only open hours are drawn (half the random numbers).
    traffic = 0.4 + np.sin((open_hours - 8) / 13 * np.pi)
    lam = rate[None, None] * traffic[None, :, None, None] * rng.uniform(0.6, 1.4, (n_days, 1, 1, 1))
    busy = rng.poisson(lam).astype(np.int64)                          # (days, 13, rows, cols)
    visits = np.zeros((n_days, 24, ROWS, COLS), np.int64)
    visits[:, open_hours] = busy
    dwell_cs = np.zeros_like(visits)
    dwell_cs[:, open_hours] = np.rint(busy * mean_dwell * rng.gamma(4.0, 25.0, busy.shape))
    area_visits = np.stack([visits[..., 4:34, 3:61].sum((-1, -2)), visits[..., 22:34, 45:61].sum((-1, -2))], -1)
    area_dwell = np.stack([dwell_cs[..., 4:34, 3:61].sum((-1, -2)), dwell_cs[..., 22:34, 45:61].sum((-1, -2))], -1)
    totals_v = visits.sum((-1, -2))
    totals_d = dwell_cs.sum((-1, -2)) / DWELL_UNITS

    zero_grid = encode_counts(np.zeros(ROWS * COLS, np.int64))
    zero_areas = encode_counts(np.zeros(2, np.int64))

    def enc(a: np.ndarray, zero: bytes) -> bytes:
        return zero if not a.any() else encode_counts(a)

    hours = []
    for d in range(n_days):
        for h in range(24):
            hours.append((
                channel, t0 + d * 86400 + h * 3600, 1,
                enc(visits[d, h], zero_grid), enc(dwell_cs[d, h], zero_grid),
                enc(area_visits[d, h], zero_areas), enc(area_dwell[d, h], zero_areas),
                int(totals_v[d, h]), float(totals_d[d, h]), 3600.0, 0,
            ))
    days = [
        (channel, t0 + d * 86400, 1, encode_counts(visits[d].sum(0)), encode_counts(dwell_cs[d].sum(0)),
         encode_counts(area_visits[d].sum(0)), encode_counts(area_dwell[d].sum(0)),
         int(totals_v[d].sum()), float(totals_d[d].sum()), 86400.0, 0, 24, 24)
        for d in range(n_days)
    ]
    with sqlite3.connect(state_dir / FILENAME) as conn:
        conn.execute("INSERT OR IGNORE INTO layouts (layout_id, spec) VALUES (1, ?)", (layout_to_json(LAYOUT),))
        conn.executemany("INSERT INTO hours (channel, hour_start, layout_id, visits, dwell_cs, area_visits,"
                         " area_dwell_cs, visits_total, dwell_total, analysed_seconds, scene_changes)"
                         " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", hours)
        conn.executemany("INSERT INTO days (channel, day_start, layout_id, visits, dwell_cs, area_visits,"
                         " area_dwell_cs, visits_total, dwell_total, analysed_seconds, scene_changes, hours,"
                         " hours_with_data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", days)
    with sqlite3.connect(state_dir / FILENAME) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return {"visits": visits, "dwell_cs": dwell_cs, "totals_v": totals_v}


@pytest.fixture(scope="session")
def year_store(tmp_path_factory):
    d = tmp_path_factory.mktemp("year")
    raw = generate_year(d)
    store = SqliteStatistics(d, create=False)
    yield store, raw
    store.close()


def pytest_collection_modifyitems(items):
    """Benchmarks are in the slow tier: `make test` runs them once each, `-m 'not slow'` skips them."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.slow)
