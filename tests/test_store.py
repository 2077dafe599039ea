"""Statistics store: additive hours, daily roll-up, layouts, migrations, kill -9, threads.

Also holds the small record builders the report, export and command tests share.
"""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from firmware.clock import to_clock
from firmware.migrations import DWELL_UNITS, MIGRATIONS, apply_migrations, decode_counts, encode_counts
from firmware.stats import HourRecord, Layout
from firmware.store import FILENAME, SqliteStatistics, StoreError

REPO = Path(__file__).resolve().parents[1]
AREAS = (((0.1, 0.1), (0.6, 0.1), (0.6, 0.9), (0.1, 0.9)), ((0.6, 0.2), (0.9, 0.2), (0.9, 0.8)))
LAYOUT = Layout(6, 8, AREAS, (50, 60, 40, 30), 640, 360, 320, 180)


def hour_record(channel, when, rng, layout=LAYOUT, analysed=3600.0, scale=1.0) -> HourRecord:
    """A plausible hour: Poisson visits per cell, dwell a few seconds per visit."""
    shape = (layout.grid_rows, layout.grid_columns)
    visits = rng.poisson(3.0 * scale, shape).astype(np.int32)
    dwell = visits * rng.gamma(2.0, 2.5, shape)
    n = len(layout.regions)
    area_visits = rng.poisson(20 * scale, n).astype(np.int64)
    area_dwell = area_visits * rng.gamma(2.0, 3.0, n)
    start = int(to_clock(when)) if not isinstance(when, int) else when
    return HourRecord(
        channel, start, layout, visits, dwell, area_visits, area_dwell,
        int(visits.sum()), float(dwell.sum()), analysed, int(rng.integers(0, 2)),
    )


def reference_days(records: list[HourRecord]) -> dict[tuple[int, int, Layout], dict]:
    """Slow twin of the daily roll-up: plain sums of the records per (channel, day, layout)."""
    out: dict = {}
    for r in records:
        key = (r.channel, r.hour_start - r.hour_start % 86400, r.layout)
        d = out.setdefault(key, {"visits": 0, "dwell_cs": 0, "visits_total": 0, "dwell_total": 0.0,
                                 "analysed": 0.0, "hours": set()})
        d["visits"] = d["visits"] + r.visits.astype(np.int64)
        d["dwell_cs"] = d["dwell_cs"] + np.rint(r.dwell * DWELL_UNITS).astype(np.int64)
        d["visits_total"] += r.visits_total
        d["dwell_total"] += r.dwell_total
        d["analysed"] += r.analysed_seconds
    # An hour counts once, for the layout it ended under: that of its last record with
    # analysed time, else of its last record.
    ended_under: dict[tuple[int, int], HourRecord] = {}
    for r in records:
        e = ended_under.get((r.channel, r.hour_start))
        if e is None or r.analysed_seconds > 0 or e.analysed_seconds <= 0:
            ended_under[(r.channel, r.hour_start)] = r
    for (channel, hour), r in ended_under.items():
        out[(channel, hour - hour % 86400, r.layout)]["hours"].add(hour)
    return out


def schema(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as c:
        return sorted(c.execute("SELECT name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"))


# --------------------------------------------------------------------------- blob format


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 2**63 - 1), max_size=300), st.sampled_from([255, 65535, 2**32 - 1, 2**63 - 1]))
def test_blob_round_trips_exactly_whatever_the_range(values, cap):
    a = np.array([v % (cap + 1) for v in values], np.int64)
    assert np.array_equal(decode_counts(encode_counts(a)), a)


def test_blob_of_an_idle_hour_is_tiny_and_negative_counts_are_refused():
    assert len(encode_counts(np.zeros((36, 64), np.int64))) < 40
    with pytest.raises(ValueError):
        encode_counts(np.array([1, -1]))


# --------------------------------------------------------------------------- recording


def test_records_add_up_in_the_hour_and_the_day_roll_up_matches_a_plain_sum(tmp_path):
    rng = np.random.default_rng(1)
    from datetime import datetime
    records = []
    # Checkpoints of the same hour (additive), several hours, two days, a second layout.
    other = Layout(4, 4, (), (50, 50, 50, 50), 640, 360, 320, 180)
    for h in (8, 8, 8, 9, 23):
        records.append(hour_record(1, datetime(2026, 11, 24, h), rng))
    records.append(hour_record(1, datetime(2026, 11, 24, 9), rng, layout=other))
    records.append(hour_record(1, datetime(2026, 11, 25, 0), rng))
    with SqliteStatistics(tmp_path) as store:
        for r in records:
            store.record(r)
        t0 = int(to_clock(datetime(2026, 11, 24)))
        hours = store.rows(1, t0, t0 + 2 * 86400, "hour")
        days = store.rows(1, t0, t0 + 2 * 86400, "day")
        want = reference_days(records)
        # 8h, 9h (two layouts), 23h, next day 0h: the three 8h checkpoints became one row.
        assert [(h.start - t0) // 3600 for h in hours] == [8, 9, 9, 23, 24]
        assert len(days) == len(want) == 3
        for d in days:
            ref = want[(1, d.start, store.layout(d.layout_id))]
            assert np.array_equal(d.visits(), ref["visits"].ravel())
            assert np.array_equal(d.dwell_cs(), ref["dwell_cs"].ravel())
            assert d.visits_total == ref["visits_total"]
            assert d.dwell_total == pytest.approx(ref["dwell_total"])
            assert d.analysed_seconds == pytest.approx(ref["analysed"])
            assert d.hours == len(ref["hours"])
        assert store.data_span(1) == (t0 + 8 * 3600, t0 + 25 * 3600)
        assert store.channel_names() == {1: "Camera 01"}


def test_channel_names_and_background_snapshot_survive_reopening(tmp_path):
    img = (np.arange(90 * 160) % 251).astype(np.uint8).reshape(90, 160)
    with SqliteStatistics(tmp_path) as store:
        store.set_channel_name(3, "Entrance")
        store.set_channel_name(3, "Front door")
        store.save_background(3, 1000.0, img)
        store.save_background(3, 2000.0, img[::-1].copy())
    with SqliteStatistics(tmp_path, create=False) as store:
        assert store.channel_names() == {3: "Front door"}
        wall, got = store.background(3)
        assert wall == 2000.0 and np.array_equal(got, img[::-1])
        assert store.background(4) is None


def test_wrong_shapes_and_off_hour_starts_are_refused_before_touching_the_store(tmp_path):
    rng = np.random.default_rng(2)
    good = hour_record(1, 7200, rng)
    with SqliteStatistics(tmp_path) as store:
        with pytest.raises(ValueError, match="hour boundary"):
            store.record(HourRecord(**{**_fields(good), "hour_start": 7201}))
        with pytest.raises(ValueError, match="do not match"):
            store.record(HourRecord(**{**_fields(good), "visits": np.zeros((3, 3), np.int32)}))
        assert store.rows(1, 0, 10**9, "hour") == []


def _fields(rec: HourRecord) -> dict:
    return {k: getattr(rec, k) for k in HourRecord.__slots__}


def test_channels_recording_from_threads_lose_nothing(tmp_path):
    rng = np.random.default_rng(3)
    per_thread = [[hour_record(ch, 3600 * (i % 30), rng) for i in range(40)] for ch in (1, 2, 3, 4)]
    with SqliteStatistics(tmp_path) as store:
        threads = [threading.Thread(target=lambda rs=rs: [store.record(r) for r in rs]) for rs in per_thread]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for ch, rs in zip((1, 2, 3, 4), per_thread):
            days = store.rows(ch, 0, 10**9, "day")
            assert sum(d.visits_total for d in days) == sum(r.visits_total for r in rs)
            assert np.array_equal(sum(d.visits() for d in days), sum(r.visits.astype(np.int64) for r in rs).ravel())


def test_a_missing_or_broken_store_is_one_clear_error(tmp_path):
    with pytest.raises(StoreError, match="no statistics in .*check --state-dir"):
        SqliteStatistics(tmp_path / "nowhere", create=False)
    assert not (tmp_path / "nowhere").exists()
    (tmp_path / FILENAME).write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="cannot open the statistics store"):
        SqliteStatistics(tmp_path)


# --------------------------------------------------------------------------- migrations


def test_fresh_store_equals_one_upgraded_from_the_first_migration(tmp_path):
    rng = np.random.default_rng(4)
    records = [hour_record(1, 86400 * 400 + 3600 * h, rng) for h in (5, 6, 30)]
    old = tmp_path / "old"
    old.mkdir()
    # The first firmware: only m001, rows written the way it wrote them.
    conn = sqlite3.connect(old / FILENAME, isolation_level=None)
    assert apply_migrations(conn, upto="m001_hourly_statistics") == ["m001_hourly_statistics"]
    from firmware.store import layout_to_json
    conn.execute("INSERT INTO layouts (spec) VALUES (?)", (layout_to_json(LAYOUT),))
    for r in records:
        conn.execute(
            "INSERT INTO hours (channel, hour_start, layout_id, visits, dwell_cs, area_visits, area_dwell_cs,"
            " visits_total, dwell_total, analysed_seconds, scene_changes) VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?)",
            (r.channel, r.hour_start, encode_counts(r.visits), encode_counts(np.rint(r.dwell * DWELL_UNITS)),
             encode_counts(r.area_visits), encode_counts(np.rint(r.area_dwell * DWELL_UNITS)),
             r.visits_total, r.dwell_total, r.analysed_seconds, r.scene_changes),
        )
    conn.close()

    with SqliteStatistics(old) as upgraded:
        days = upgraded.rows(1, 0, 10**9, "day")
    with SqliteStatistics(tmp_path / "fresh") as fresh:
        for r in records:
            fresh.record(r)
        fresh_days = fresh.rows(1, 0, 10**9, "day")

    assert schema(old / FILENAME) == schema(tmp_path / "fresh" / FILENAME)
    names = [m.__name__ for m in MIGRATIONS]
    for d in (old, tmp_path / "fresh"):
        with sqlite3.connect(d / FILENAME) as c:
            assert [n for (n,) in c.execute("SELECT name FROM _migrations ORDER BY name")] == names
    # The backfill produced the same roll-up the live path keeps.
    assert [(d.start, d.visits_total, d.hours) for d in days] == [(d.start, d.visits_total, d.hours) for d in fresh_days]
    for a, b in zip(days, fresh_days):
        assert np.array_equal(a.visits(), b.visits()) and np.array_equal(a.dwell_cs(), b.dwell_cs())


def test_upgrade_counts_an_hour_with_redrawn_areas_once(tmp_path):
    # A store written up to m002, whose roll-up gave each layout of a redrawn hour the whole hour.
    rng = np.random.default_rng(6)
    other = Layout(4, 4, (), (50, 50, 50, 50), 640, 360, 320, 180)
    conn = sqlite3.connect(tmp_path / FILENAME, isolation_level=None)
    apply_migrations(conn, upto="m002_daily_rollup")
    from firmware.store import layout_to_json
    for layout in (LAYOUT, other):
        conn.execute("INSERT INTO layouts (spec) VALUES (?)", (layout_to_json(layout),))
    for layout_id, layout in ((1, LAYOUT), (2, other)):
        r = hour_record(1, 86400 * 400 + 3600 * 9, rng, layout=layout, analysed=1800.0)
        blobs = (encode_counts(r.visits), encode_counts(np.rint(r.dwell * DWELL_UNITS)),
                 encode_counts(r.area_visits), encode_counts(np.rint(r.area_dwell * DWELL_UNITS)))
        conn.execute("INSERT INTO hours VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     (1, r.hour_start, layout_id, *blobs, r.visits_total, r.dwell_total, 1800.0, 0))
        conn.execute("INSERT INTO days VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 1)",
                     (1, 86400 * 400, layout_id, *blobs, r.visits_total, r.dwell_total, 1800.0, 0))
    conn.close()
    with SqliteStatistics(tmp_path) as store:
        days = {store.layout(d.layout_id): (d.hours, d.hours_with_data) for d in store.rows(1, 0, 10**9, "day")}
    assert days == {LAYOUT: (0, 0), other: (1, 1)}


def test_a_store_from_a_newer_firmware_is_refused(tmp_path):
    SqliteStatistics(tmp_path).close()
    with sqlite3.connect(tmp_path / FILENAME) as c:
        c.execute("INSERT INTO _migrations VALUES ('m999_future', 'x')")
    with pytest.raises(StoreError, match="m999_future unknown to this firmware; upgrade the firmware"):
        SqliteStatistics(tmp_path)


# --------------------------------------------------------------------------- kill -9

WRITER = r"""
import sys
import numpy as np
from firmware.stats import HourRecord, Layout
from firmware.store import SqliteStatistics
lay = Layout(6, 8, (), (50, 50, 50, 50), 640, 360, 320, 180)
store = SqliteStatistics(sys.argv[1])
one = np.ones((6, 8), np.int32)
n = 0
while True:
    # Every record is one firmware checkpoint of one visit; the hour moves on
    # every 25 so new rows and new days are being created when the kill lands.
    hour = 3600 * (n // 25 + 20)
    store.record(HourRecord(1, hour, lay, one, one * 0.5, np.zeros(0, np.int64), np.zeros(0),
                            1, 0.5, 60.0, 0))
    n += 1
    if n % 7 == 0:
        store.checkpoint()
    print(n, flush=True)
"""


@pytest.mark.parametrize("kill_after", [3, 60, 140])
def test_kill_9_while_recording_loses_at_most_the_last_checkpoint(tmp_path, kill_after):
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path)], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        for line in child.stdout:
            if int(line) >= kill_after:
                break
        os.kill(child.pid, signal.SIGKILL)
        printed = [int(x) for x in child.stdout.read().split()] or [int(line)]
    finally:
        child.wait(10)
    last_acknowledged = printed[-1]

    with sqlite3.connect(tmp_path / FILENAME) as c:
        assert c.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    with SqliteStatistics(tmp_path) as store:
        hours = store.rows(1, 0, 10**9, "hour")
        days = store.rows(1, 0, 10**9, "day")
        stored = sum(h.visits_total for h in hours)
        # Acknowledged records are all there; at most the one in flight was committed unprinted.
        assert last_acknowledged <= stored <= last_acknowledged + 1
        assert sum(d.visits_total for d in days) == stored
        assert np.array_equal(sum(d.visits() for d in days), np.full(48, stored))
        # The next boot carries on adding to the same hour.
        last = hours[-1]
        store.record(HourRecord(1, last.start, store.layout(last.layout_id), np.ones((6, 8), np.int32),
                                np.zeros((6, 8)), np.zeros(0, np.int64), np.zeros(0), 1, 0.0, 1.0, 0))
        assert sum(h.visits_total for h in store.rows(1, 0, 10**9, "hour")) == stored + 1
