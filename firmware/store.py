"""The statistics store: hourly heat-map statistics per channel in SQLite.

File: ``<state_dir>/statistics.sqlite3`` (standard-library `sqlite3`).

What is kept
    One row per (channel, hour of appliance time, layout) in ``hours``: the visits
    grid, the dwell grid (integer centiseconds), per-area visits and dwell, and the
    totals (visits, dwell seconds, seconds analysed, scene changes). ``days`` holds
    the same sums per (channel, day, layout), recomputed from that day's hours in
    the same transaction whenever one of them changes, so weekly..annual reports
    read at most 366 rows. The latest background snapshot (uint8 luma, people-free)
    of each channel is kept for pictures, and channel names for reports.

Size
    Grids are zlib-compressed narrowed integers (see `firmware.migrations`).
    Measured per channel-year of a 64x36 grid, daily roll-up included: a busy
    shop (open 13 h a day, aisles, checkout, entrance) 20 MB; the worst case,
    every cell visited every hour around the clock, 49 MB; the budget is 50 MB.
    Hours with nobody cost a few dozen bytes.

Layouts
    A row is keyed by its `Layout` (grid size, areas, parameters, frame sizes),
    so grids of different geometry are never added together. When an installer
    changes the grid or an area, new hours get a new layout; a report's space
    heat map uses the layout in force at the end of the period (the latest hour
    of the period with statistics) and leaves out the grids of hours recorded
    under any other layout, saying how many hours it left out. Those hours still
    count in the time heat map and the totals, whose meaning does not depend on
    the grid.

Durability
    Every `record()` is one transaction (read the hour, add, write it back,
    rebuild the day). WAL journal with ``synchronous=NORMAL``: a committed
    transaction survives a kill of the process at any moment (it is in the WAL,
    which the OS holds), and SQLite never leaves a torn database; only a power
    cut can roll back recent commits. `checkpoint()` (the firmware calls it at
    least every 60 s) runs a WAL checkpoint, which fsyncs the WAL and the
    database, so a power cut loses at most one checkpoint interval while the
    flash sees one sync per interval instead of one per record (FULL would sync
    on every record of every channel). The next boot simply continues adding.

Threads
    One connection guarded by a lock; channels record from their own threads.

Failures
    Every statistics row and the layout it refers to are written in one
    transaction: the layout id is looked up or inserted inside the
    transaction that writes the row, and remembered only once that commits,
    so no failure (a full disk rolls the transaction back) can leave a row
    pointing at a layout that is not there. Stores written by older firmware
    may hold such rows; migration m004 reserves their ids as *lost* layouts,
    which reports leave out of the space heat map (`LayoutLost`).
    Writes raise `StoreUnwritable` (disk full, I/O error: may pass) or
    `StoreDamaged` (not a database, malformed: needs `nvr store repair`);
    `firmware.storage` holds the hours in memory meanwhile.
"""
from __future__ import annotations

import json
import sqlite3
import threading
import time
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from firmware.migrations import (DAY, DWELL_UNITS, ENDED_UNDER, HOUR, LOST_LAYOUT, MigrationError,
                                 apply_migrations, decode_counts, encode_counts, rebuild_day)
from firmware.stats import HourRecord, Layout

FILENAME = "statistics.sqlite3"


class StoreError(Exception):
    """The statistics store cannot be opened or used; one line for the user."""


class StoreUnwritable(StoreError):
    """A write failed for a reason that may pass: the disk is full, an I/O error, read-only."""


class StoreDamaged(StoreError):
    """The file is not a usable statistics store (not a database, malformed, a directory)."""


class LayoutLost(StoreError):
    """Rows refer to a layout whose row an older firmware failed to write (see migration m004)."""


# SQLite result codes (sqlite3.Error.sqlite_errorname) by what they mean for us.
_DAMAGED = {"SQLITE_NOTADB", "SQLITE_CORRUPT", "SQLITE_CORRUPT_INDEX", "SQLITE_CORRUPT_SEQUENCE",
            "SQLITE_CORRUPT_VTAB", "SQLITE_FORMAT"}


def _is_damage(e: sqlite3.Error) -> bool:
    name = getattr(e, "sqlite_errorname", "") or ""
    return name in _DAMAGED or "malformed" in str(e) or "not a database" in str(e)


def repair_hint(state_dir: Path) -> str:
    return (f"run `nvr store repair --state-dir {state_dir}` to move it aside and start a new one "
            "(nothing is deleted)")


@dataclass(slots=True)
class StoredRow:
    """Sums for one channel over one hour or one day under one layout, grids still encoded."""

    start: int                  # appliance clock seconds
    layout_id: int
    visits_total: int
    dwell_total: float
    analysed_seconds: float
    scene_changes: int
    hours: int                  # hours summed, each counted once, on the row of the layout it
                                # ended under (an hourly row: 1, or 0 for an earlier layout's part)
    hours_with_data: int        # of which analysed_seconds > 0
    _visits: bytes
    _dwell_cs: bytes
    _area_visits: bytes
    _area_dwell_cs: bytes

    def visits(self) -> np.ndarray:
        """int64, flat; reshape to (layout.grid_rows, layout.grid_columns)."""
        return decode_counts(self._visits)

    def dwell_cs(self) -> np.ndarray:
        """int64 centiseconds (DWELL_UNITS per second), flat."""
        return decode_counts(self._dwell_cs)

    def area_visits(self) -> np.ndarray:
        return decode_counts(self._area_visits)

    def area_dwell_cs(self) -> np.ndarray:
        return decode_counts(self._area_dwell_cs)


def layout_to_json(layout: Layout) -> str:
    return json.dumps(asdict(layout), sort_keys=True, separators=(",", ":"))


def layout_from_json(text: str) -> Layout:
    d = json.loads(text)
    d["regions"] = tuple(tuple(tuple(p) for p in r) for r in d["regions"])
    d["params"] = tuple(d["params"])
    return Layout(**d)


class SqliteStatistics:
    """`StatisticsSink` persisting to ``state_dir/statistics.sqlite3``, plus the reads reports need."""

    def __init__(self, state_dir: str | Path, *, create: bool = True, check_seconds: float = 0.0) -> None:
        """Open (or create) the store. `check_seconds` > 0: first run SQLite's quick_check
        for at most that long (boot does), raising StoreDamaged if it finds damage;
        `self.checked` then says whether it covered the whole file."""
        state_dir = Path(state_dir)
        self.path = state_dir / FILENAME
        self.state_dir = state_dir
        if not create and not self.path.exists():
            raise StoreError(f"no statistics in {state_dir} (expected {FILENAME}); check --state-dir")
        if self.path.exists() and not self.path.is_file():
            raise StoreDamaged(f"{self.path}: cannot open the statistics store: it is not a file; "
                               f"{repair_hint(state_dir)}")
        try:
            if create:
                state_dir.mkdir(parents=True, exist_ok=True)
            # Autocommit mode: transactions are explicit (BEGIN IMMEDIATE ... COMMIT).
            self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=10.0)
        except sqlite3.Error as e:
            raise self._error("cannot open the statistics store", e) from None
        except OSError as e:
            raise StoreUnwritable(f"{self.path}: cannot open the statistics store: {e.strerror or e}") from None
        try:
            # Read the schema first: a file that is not a database says so here,
            # before any pragma tries to write to it.
            self._conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            self.checked = self._quick_check(check_seconds) if check_seconds > 0 else False
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            apply_migrations(self._conn)
        except sqlite3.Error as e:
            self._conn.close()
            raise self._error("cannot open the statistics store", e) from None
        except MigrationError as e:
            self._conn.close()
            raise StoreError(f"{self.path}: cannot open the statistics store: {e}") from None
        except StoreError:
            self._conn.close()
            raise
        self._lock = threading.Lock()
        self._layout_ids: dict[Layout, int] = {}   # committed layouts only
        self._layouts: dict[int, Layout] = {}

    def _quick_check(self, budget: float) -> bool:
        """SQLite's quick_check for at most `budget` seconds: True when it covered the whole
        file (and found it intact), False when it ran out of time; StoreDamaged otherwise."""
        deadline = time.monotonic() + budget
        self._conn.set_progress_handler(lambda: time.monotonic() > deadline, 50_000)
        try:
            found = [r[0] for r in self._conn.execute("PRAGMA quick_check(3)")]
        except sqlite3.OperationalError as e:
            if "interrupt" in str(e):
                return False
            raise
        finally:
            self._conn.set_progress_handler(None, 0)
        if found != ["ok"]:
            lines = [x for f in found for x in f.splitlines() if x.strip() and not x.startswith("***")]
            first = (lines or ["quick_check failed"])[0][:120]
            raise StoreDamaged(f"{self.path}: cannot open the statistics store: it is damaged "
                               f"({first}); {repair_hint(self.state_dir)}")
        return True

    def _error(self, what: str, e: sqlite3.Error) -> StoreError:
        """The one-line StoreError subclass for an SQLite failure."""
        if _is_damage(e):
            return StoreDamaged(f"{self.path}: {what}: it is damaged ({e}); {repair_hint(self.state_dir)}")
        return StoreUnwritable(f"{self.path}: {what}: {e}")

    # ----------------------------------------------------------------------- writing

    def set_channel_name(self, channel: int, name: str) -> None:
        with self._lock:
            try:
                self._conn.execute(
                    "INSERT INTO channels (channel, name) VALUES (?, ?)"
                    " ON CONFLICT (channel) DO UPDATE SET name = excluded.name",
                    (channel, name),
                )
            except sqlite3.Error as e:
                raise self._error("cannot write", e) from None

    def record(self, rec: HourRecord) -> None:
        """Add one increment to its (channel, hour, layout) row and rebuild that day, atomically."""
        self.import_hours([rec])

    def import_hours(self, records: list[HourRecord], *, replacing: list[tuple[int, int]] = ()) -> None:
        """Add many increments in one transaction (bulk loads, tests); each day rebuilt once.

        replacing: (channel, hour_start) pairs whose stored rows, every layout's,
        are dropped first in the same transaction (`replace_hour`)."""
        prepared = [self._prepare(r) for r in records]
        with self._lock:
            # Layouts looked up or inserted by this transaction: remembered only once
            # it commits, since a rolled-back insert leaves an id that is not there.
            new_layouts: dict[Layout, int] = {}
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                days = set()
                for channel, hour in replacing:
                    self._conn.execute("DELETE FROM hours WHERE channel = ? AND hour_start = ?", (channel, hour))
                    days.add((channel, hour - hour % DAY))
                for rec, grids in prepared:
                    self._add_hour(rec, grids, new_layouts)
                    days.add((rec.channel, rec.hour_start - rec.hour_start % DAY))
                for channel, day_start in sorted(days):
                    rebuild_day(self._conn, channel, day_start)
                self._conn.execute("COMMIT")
            except BaseException as e:
                # SQLite may already have rolled back (it does on a full disk).
                if self._conn.in_transaction:
                    try:
                        self._conn.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass
                if isinstance(e, sqlite3.Error):
                    raise self._error("cannot write", e) from None
                raise
            self._layout_ids.update(new_layouts)

    def replace_hour(self, channel: int, hour_start: int, records: list[HourRecord]) -> None:
        """Make `records` all that is stored for the channel in that hour, in one
        transaction: the rows it had (under any layout) go, the records are added
        in order as `record` adds them, the day is rolled up again. No records
        leave the hour without data. Archive re-analysis writes hours this way,
        so a re-run, or a run resumed after a kill, never adds to an hour twice."""
        if hour_start % HOUR:
            raise ValueError(f"hour_start {hour_start} is not on an hour boundary")
        if any((r.channel, r.hour_start) != (channel, hour_start) for r in records):
            raise ValueError(f"records for another channel or hour than channel {channel} at {hour_start}")
        self.import_hours(records, replacing=[(channel, hour_start)])

    def save_background(self, channel: int, wall: float, image: np.ndarray) -> None:
        """Keep `image` (uint8 H×W luma) as the channel's latest background snapshot."""
        if image.dtype != np.uint8 or image.ndim != 2:
            raise ValueError(f"background must be uint8 H×W luma, got {image.dtype} {image.shape}")
        h, w = image.shape
        blob = zlib.compress(np.ascontiguousarray(image).tobytes(), 6)
        with self._lock:
            try:
                self._conn.execute(
                    "INSERT INTO backgrounds (channel, wall, height, width, image) VALUES (?, ?, ?, ?, ?)"
                    " ON CONFLICT (channel) DO UPDATE SET wall = excluded.wall, height = excluded.height,"
                    " width = excluded.width, image = excluded.image",
                    (channel, float(wall), h, w, blob),
                )
            except sqlite3.Error as e:
                raise self._error("cannot write", e) from None

    def checkpoint(self) -> None:
        """Sync what is committed to the database file (bounds the loss on a power cut)."""
        with self._lock:
            try:
                self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            except sqlite3.Error as e:
                raise self._error("cannot write", e) from None

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                finally:
                    self._conn.close()
                    self._conn = None  # type: ignore[assignment]

    def __enter__(self) -> SqliteStatistics:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ----------------------------------------------------------------------- reading

    def channel_names(self) -> dict[int, str]:
        """Every channel with a name or with statistics; unnamed ones as 'Camera NN'."""
        with self._lock:
            named = dict(self._conn.execute("SELECT channel, name FROM channels"))
            seen = [r[0] for r in self._conn.execute("SELECT DISTINCT channel FROM days")]
        for ch in seen:
            named.setdefault(ch, f"Camera {ch:02d}")
        return dict(sorted(named.items()))

    def data_span(self, channel: int) -> tuple[int, int] | None:
        """(first hour start, end of last hour) with analysed time, or None."""
        with self._lock:
            lo, hi = self._conn.execute(
                "SELECT MIN(hour_start), MAX(hour_start) FROM hours WHERE channel = ? AND analysed_seconds > 0",
                (channel,),
            ).fetchone()
        return None if lo is None else (lo, hi + HOUR)

    def stored_until(self, channel: int) -> float | None:
        """Where the channel's stored time ends, on the appliance clock, or None without any.

        The start of its last hour with analysed time plus the seconds analysed in
        that hour (summed over layouts). The statistics do not record the second a
        run stopped; this is a lower bound of it (the analysed seconds of an hour
        never exceed the time it ran), so a run continuing from where the last one
        stopped is never taken for one going back.
        """
        with self._lock:
            row = self._conn.execute(
                "SELECT hour_start, SUM(analysed_seconds) FROM hours WHERE channel = ? AND hour_start ="
                " (SELECT MAX(hour_start) FROM hours WHERE channel = ? AND analysed_seconds > 0)",
                (channel, channel),
            ).fetchone()
        if row is None or row[0] is None:
            return None
        return float(row[0]) + min(float(row[1]), float(HOUR))

    def rows(self, channel: int, start: int, end: int, unit: str) -> list[StoredRow]:
        """Rows of `unit` "hour" or "day" starting in [start, end), ordered by start."""
        with self._lock:
            return self._rows(channel, start, end, unit)

    def _rows(self, channel: int, start: int, end: int, unit: str) -> list[StoredRow]:
        if unit == "hour":
            # The hour counts once, on the row of the layout it ended under: the
            # rule of the daily roll-up (`rebuild_day`) and of `latest_layout`.
            sql = (
                "SELECT hour_start, layout_id, visits_total, dwell_total, analysed_seconds, scene_changes,"
                f" {ENDED_UNDER}, {ENDED_UNDER} AND analysed_seconds > 0,"
                " visits, dwell_cs, area_visits, area_dwell_cs"
                " FROM hours WHERE channel = ? AND hour_start >= ? AND hour_start < ?"
                " WINDOW h AS (PARTITION BY hour_start) ORDER BY hour_start, rowid"
            )
        elif unit == "day":
            sql = (
                "SELECT day_start, layout_id, visits_total, dwell_total, analysed_seconds, scene_changes,"
                " hours, hours_with_data, visits, dwell_cs, area_visits, area_dwell_cs"
                " FROM days WHERE channel = ? AND day_start >= ? AND day_start < ? ORDER BY day_start"
            )
        else:
            raise ValueError(f"unit must be 'hour' or 'day', not {unit!r}")
        return [StoredRow(*r) for r in self._conn.execute(sql, (channel, start, end))]

    def period(self, channel: int, start: int, end: int, unit: str) -> tuple[list[StoredRow], int | None]:
        """`rows(...)` and `latest_layout(...)` read from one snapshot.

        One read transaction: a running appliance committing a checkpoint between
        the two reads cannot hand the report a layout its rows do not have yet.
        """
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                return self._rows(channel, start, end, unit), self._latest_layout(channel, start, end)
            finally:
                self._conn.execute("COMMIT")

    def latest_layout(self, channel: int, start: int, end: int) -> int | None:
        """The layout id in force at the end of [start, end): that of the last hour with data."""
        with self._lock:
            return self._latest_layout(channel, start, end)

    def _latest_layout(self, channel: int, start: int, end: int) -> int | None:
        # Lost layouts (m004) cannot draw a space heat map: the latest one that can.
        row = self._conn.execute(
            "SELECT layout_id FROM hours WHERE channel = ? AND hour_start >= ? AND hour_start < ?"
            " AND analysed_seconds > 0 AND layout_id NOT IN"
            " (SELECT layout_id FROM layouts WHERE spec LIKE ?)"
            " ORDER BY hour_start DESC, rowid DESC LIMIT 1",
            (channel, start, end, LOST_LAYOUT + "%"),
        ).fetchone()
        return None if row is None else row[0]

    def layout(self, layout_id: int) -> Layout:
        """The layout of `layout_id`; LayoutLost when an older firmware failed to write it."""
        found = self._layouts.get(layout_id)
        if found is None:
            with self._lock:
                row = self._conn.execute("SELECT spec FROM layouts WHERE layout_id = ?", (layout_id,)).fetchone()
            if row is None or row[0].startswith(LOST_LAYOUT):
                raise LayoutLost(f"layout {layout_id} is missing from the store (written by an older firmware "
                                 "on a full disk)")
            found = self._layouts[layout_id] = layout_from_json(row[0])
        return found

    def lost_layouts(self) -> set[int]:
        """Ids of layouts that rows refer to but whose description is lost."""
        with self._lock:
            return {r[0] for r in self._conn.execute(
                "SELECT layout_id FROM layouts WHERE spec LIKE ?", (LOST_LAYOUT + "%",))}

    def background(self, channel: int) -> tuple[float, np.ndarray] | None:
        """(wall time, uint8 H×W image) of the latest snapshot, or None."""
        with self._lock:
            row = self._conn.execute(
                "SELECT wall, height, width, image FROM backgrounds WHERE channel = ?", (channel,)
            ).fetchone()
        if row is None:
            return None
        wall, h, w, blob = row
        return wall, np.frombuffer(zlib.decompress(blob), np.uint8).reshape(h, w).copy()

    # ----------------------------------------------------------------------- internals

    @staticmethod
    def _prepare(rec: HourRecord) -> tuple[HourRecord, list[np.ndarray]]:
        """Validate one record and turn it into the stored integers (outside the lock)."""
        lay = rec.layout
        shape = (lay.grid_rows, lay.grid_columns)
        n_areas = len(lay.regions)
        if rec.hour_start % HOUR:
            raise ValueError(f"hour_start {rec.hour_start} is not on an hour boundary")
        if rec.visits.shape != shape or rec.dwell.shape != shape:
            raise ValueError(f"grids {rec.visits.shape}/{rec.dwell.shape} do not match layout {shape}")
        if rec.area_visits.shape != (n_areas,) or rec.area_dwell.shape != (n_areas,):
            raise ValueError(f"area arrays do not match the layout's {n_areas} areas")
        grids = [
            rec.visits.astype(np.int64),
            np.rint(rec.dwell * DWELL_UNITS).astype(np.int64),
            rec.area_visits.astype(np.int64),
            np.rint(rec.area_dwell * DWELL_UNITS).astype(np.int64),
        ]
        if any(g.size and g.min() < 0 for g in grids):
            raise ValueError("visits and dwell must be non-negative")
        return rec, grids

    def _layout_id(self, layout: Layout, new: dict[Layout, int]) -> int:
        """The id of `layout`, inserted in the caller's transaction when it is not committed yet."""
        found = self._layout_ids.get(layout, new.get(layout))
        if found is not None:
            return found
        spec = layout_to_json(layout)
        self._conn.execute("INSERT OR IGNORE INTO layouts (spec) VALUES (?)", (spec,))
        (found,) = self._conn.execute("SELECT layout_id FROM layouts WHERE spec = ?", (spec,)).fetchone()
        new[layout] = found
        return found

    def _add_hour(self, rec: HourRecord, grids: list[np.ndarray], new_layouts: dict[Layout, int]) -> None:
        layout_id = self._layout_id(rec.layout, new_layouts)
        key = (rec.channel, rec.hour_start, layout_id)
        old = self._conn.execute(
            "SELECT visits, dwell_cs, area_visits, area_dwell_cs, visits_total, dwell_total,"
            " analysed_seconds, scene_changes FROM hours WHERE channel = ? AND hour_start = ? AND layout_id = ?",
            key,
        ).fetchone()
        totals = [int(rec.visits_total), float(rec.dwell_total), float(rec.analysed_seconds), int(rec.scene_changes)]
        if old is not None:
            grids = [decode_counts(b) + g.reshape(-1) for b, g in zip(old[:4], grids)]
            totals = [a + b for a, b in zip(old[4:], totals)]
            # Delete and insert rather than update: the row moves to the end of rowid
            # order, so areas redrawn A -> B -> A within an hour end the hour under A.
            self._conn.execute("DELETE FROM hours WHERE channel = ? AND hour_start = ? AND layout_id = ?", key)
        self._conn.execute(
            "INSERT INTO hours (channel, hour_start, layout_id, visits, dwell_cs, area_visits, area_dwell_cs,"
            " visits_total, dwell_total, analysed_seconds, scene_changes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (*key, *(encode_counts(g) for g in grids), *totals),
        )
