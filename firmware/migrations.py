"""The statistics store's schema: named, ordered migrations and the grid blob format.

Each `mNNN_name(conn)` function moves the schema one step; `apply_migrations`
runs the ones a database has not seen yet, each in one transaction together
with its row in `_migrations`, so a kill mid-upgrade leaves the database at
the previous step, never half-way. A database that lists a migration this
firmware does not know was written by a newer firmware and is refused.

Migrations are frozen once shipped: they never import the store, so a later
change to `firmware.store` cannot change what an old upgrade does.

Grid blob format (part of the schema, hence here): non-negative integers,
narrowed to the smallest of uint8/16/32/64 that holds the largest value,
bytes of wider types split into planes (all low bytes, then the next...) so
zlib sees the long zero runs of the high bytes, then zlib level 6. One dtype
byte ('B', 'H', 'I', 'Q') precedes the compressed bytes. Dwell is stored in
integer centiseconds (`DWELL_UNITS` per second) so sums are exact and compress
like counts: finer than any frame interval, and against milliseconds it saves
a sixth of a dense year (about 55 -> 48 MB per channel-year when every cell is
busy around the clock).
"""
from __future__ import annotations

import sqlite3
import zlib
from collections.abc import Callable
from datetime import datetime, timezone

import numpy as np

DAY = 86400
HOUR = 3600
DWELL_UNITS = 100  # stored dwell units per second (centiseconds)
# `layouts.spec` of a layout rows refer to but whose own row was never written
# (older firmware, full disk): "lost:<id>". Never valid JSON, so never a real layout.
LOST_LAYOUT = "lost:"

_NARROW = (("B", np.uint8), ("H", np.uint16), ("I", np.uint32), ("Q", np.uint64))
_CODES = {code: np.dtype(t).newbyteorder("<") for code, t in _NARROW}


class MigrationError(RuntimeError):
    """The database cannot be brought to this firmware's schema."""


# --------------------------------------------------------------------------- blob format


def encode_counts(values: np.ndarray) -> bytes:
    """Non-negative integer array (any shape) -> blob; the shape is not stored."""
    flat = np.ascontiguousarray(values).reshape(-1)
    top = int(flat.max()) if flat.size else 0
    if flat.size and int(flat.min()) < 0:
        raise ValueError("counts must be non-negative")
    for code, t in _NARROW:
        if top <= np.iinfo(t).max:
            break
    narrow = flat.astype(_CODES[code], copy=False)
    width = narrow.dtype.itemsize
    raw = narrow.tobytes() if width == 1 else narrow.view(np.uint8).reshape(-1, width).T.tobytes()
    return code.encode() + zlib.compress(raw, 6)


def decode_counts(blob: bytes) -> np.ndarray:
    """Blob -> flat int64 array (the caller reshapes to the layout's grid)."""
    dtype = _CODES[chr(blob[0])]
    raw = zlib.decompress(blob[1:])
    width = dtype.itemsize
    if width == 1:
        return np.frombuffer(raw, np.uint8).astype(np.int64)
    planes = np.frombuffer(raw, np.uint8).reshape(width, -1)
    return np.ascontiguousarray(planes.T).view(dtype).reshape(-1).astype(np.int64)


# --------------------------------------------------------------------------- derived table

# SQL, true on the row of its hour that the hour ended under: the last written with
# analysed time, else the last written (rowid order is write order: the store
# re-inserts a row it adds to). Needs `WINDOW h AS (PARTITION BY hour_start)`.
ENDED_UNDER = ("rowid = COALESCE(MAX(CASE WHEN analysed_seconds > 0 THEN rowid END) OVER h,"
               " MAX(rowid) OVER h)")


def rebuild_day(conn: sqlite3.Connection, channel: int, day_start: int) -> None:
    """Recompute the `days` rows of one (channel, day) from its hours, one row per layout.

    Totals and grids of an hour go to the row of their layout. The hour
    itself (`hours`, `hours_with_data`) is counted once, for the layout it
    ended under (`ENDED_UNDER`): an hour in which the areas were redrawn has
    two rows but is one hour. Runs inside the caller's transaction, so hours
    and their roll-up change together.
    """
    conn.execute("DELETE FROM days WHERE channel = ? AND day_start = ?", (channel, day_start))
    rows = conn.execute(
        "SELECT layout_id, visits, dwell_cs, area_visits, area_dwell_cs, visits_total, dwell_total,"
        f" analysed_seconds, scene_changes, {ENDED_UNDER} FROM hours"
        " WHERE channel = ? AND hour_start >= ? AND hour_start < ?"
        " WINDOW h AS (PARTITION BY hour_start)",
        (channel, day_start, day_start + DAY),
    ).fetchall()
    acc: dict[int, list] = {}
    for layout_id, v, d, av, ad, vt, dt, an, sc, ended in rows:
        grids = [decode_counts(v), decode_counts(d), decode_counts(av), decode_counts(ad)]
        a = acc.get(layout_id)
        if a is None:
            a = acc[layout_id] = [*(np.zeros_like(g) for g in grids), 0, 0.0, 0.0, 0, 0, 0]
        for i in range(4):
            a[i] += grids[i]
        a[4] += vt
        a[5] += dt
        a[6] += an
        a[7] += sc
        if ended:
            a[8] += 1
            a[9] += int(an > 0)
    conn.executemany(
        "INSERT INTO days (channel, day_start, layout_id, visits, dwell_cs, area_visits, area_dwell_cs,"
        " visits_total, dwell_total, analysed_seconds, scene_changes, hours, hours_with_data)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (channel, day_start, lid, *(encode_counts(g) for g in a[:4]), *a[4:])
            for lid, a in acc.items()
        ],
    )


# --------------------------------------------------------------------------- migrations


def m001_hourly_statistics(conn: sqlite3.Connection) -> None:
    # One execute per statement: executescript() would COMMIT the migration's transaction.
    for sql in (
        "CREATE TABLE channels (channel INTEGER PRIMARY KEY, name TEXT NOT NULL)",
        # spec: canonical JSON of firmware.stats.Layout; equal layouts share one id.
        "CREATE TABLE layouts (layout_id INTEGER PRIMARY KEY, spec TEXT NOT NULL UNIQUE)",
        # One row per (channel, hour, layout); a rowid table because the blobs are kilobytes
        # (WITHOUT ROWID suits small rows only) and because rowid order tells which layout
        # came last within an hour.
        "CREATE TABLE hours ("
        " channel INTEGER NOT NULL, hour_start INTEGER NOT NULL,"
        " layout_id INTEGER NOT NULL REFERENCES layouts(layout_id),"
        " visits BLOB NOT NULL, dwell_cs BLOB NOT NULL, area_visits BLOB NOT NULL, area_dwell_cs BLOB NOT NULL,"
        " visits_total INTEGER NOT NULL, dwell_total REAL NOT NULL,"
        " analysed_seconds REAL NOT NULL, scene_changes INTEGER NOT NULL)",
        "CREATE UNIQUE INDEX hours_key ON hours (channel, hour_start, layout_id)",
        "CREATE TABLE backgrounds ("
        " channel INTEGER PRIMARY KEY, wall REAL NOT NULL, height INTEGER NOT NULL, width INTEGER NOT NULL,"
        " image BLOB NOT NULL)",
    ):
        conn.execute(sql)


def m002_daily_rollup(conn: sqlite3.Connection) -> None:
    """Daily sums per layout so weekly..annual reports read 365 rows, not 8760."""
    conn.execute(
        "CREATE TABLE days ("
        " channel INTEGER NOT NULL, day_start INTEGER NOT NULL,"
        " layout_id INTEGER NOT NULL REFERENCES layouts(layout_id),"
        " visits BLOB NOT NULL, dwell_cs BLOB NOT NULL, area_visits BLOB NOT NULL, area_dwell_cs BLOB NOT NULL,"
        " visits_total INTEGER NOT NULL, dwell_total REAL NOT NULL,"
        " analysed_seconds REAL NOT NULL, scene_changes INTEGER NOT NULL,"
        " hours INTEGER NOT NULL, hours_with_data INTEGER NOT NULL,"
        " PRIMARY KEY (channel, day_start, layout_id))"
    )
    days = conn.execute(
        "SELECT DISTINCT channel, hour_start - hour_start % ? FROM hours", (DAY,)
    ).fetchall()
    for channel, day_start in days:
        rebuild_day(conn, channel, day_start)


def m003_count_each_hour_once(conn: sqlite3.Connection) -> None:
    """Roll the days up again: an hour with two layouts (areas redrawn mid-hour) was
    counted twice in `hours` and `hours_with_data`; `rebuild_day` now counts it once."""
    days = conn.execute(
        "SELECT DISTINCT channel, hour_start - hour_start % ? FROM hours", (DAY,)
    ).fetchall()
    for channel, day_start in days:
        rebuild_day(conn, channel, day_start)


def m004_reserve_lost_layouts(conn: sqlite3.Connection) -> None:
    """Give every layout id that rows refer to but `layouts` lacks a placeholder row.

    Firmware before this migration could commit statistics under a layout id whose
    own insert a full disk had rolled back. Without a row, the next new layout
    would be given that same id (SQLite reuses the largest rowid + 1) and the old
    grids would be added to a different geometry. The placeholder reserves the id
    and says the layout is lost; reports leave those hours out of the space heat
    map and still count them in the totals. Nothing is deleted."""
    for (layout_id,) in conn.execute(
        "SELECT layout_id FROM hours UNION SELECT layout_id FROM days"
        " EXCEPT SELECT layout_id FROM layouts"
    ).fetchall():
        conn.execute("INSERT INTO layouts (layout_id, spec) VALUES (?, ?)", (layout_id, f"{LOST_LAYOUT}{layout_id}"))


MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (
    m001_hourly_statistics,
    m002_daily_rollup,
    m003_count_each_hour_once,
    m004_reserve_lost_layouts,
)


def applied(conn: sqlite3.Connection) -> list[str]:
    conn.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    return [r[0] for r in conn.execute("SELECT name FROM _migrations ORDER BY name")]


def apply_migrations(conn: sqlite3.Connection, upto: str | None = None) -> list[str]:
    """Apply the missing migrations in order (stopping after `upto` if given); their names.

    `conn` must be in autocommit mode (isolation_level=None): each step opens its own
    transaction so the schema change and its record commit together.
    """
    known = [m.__name__ for m in MIGRATIONS]
    done = applied(conn)
    unknown = sorted(set(done) - set(known))
    if unknown:
        raise MigrationError(
            f"statistics database has migration {unknown[0]} unknown to this firmware; "
            "upgrade the firmware or use a new --state-dir"
        )
    ran = []
    for migration in MIGRATIONS:
        name = migration.__name__
        if name not in done:
            conn.execute("BEGIN IMMEDIATE")
            try:
                migration(conn)
                conn.execute(
                    "INSERT INTO _migrations (name, applied_at) VALUES (?, ?)",
                    (name, datetime.now(timezone.utc).isoformat(timespec="seconds")),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            ran.append(name)
        if name == upto:
            break
    return ran
