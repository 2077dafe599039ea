"""`nvr store check` and `nvr store repair`: what state the statistics store is in, and a way out of damage.

Check reads without writing (no migration runs): the file, SQLite's
``integrity_check``, the schema step it is at, our own references (rows whose
layout is missing or lost, days that do not add up to their hours) and the
hours with data per channel.

Repair never deletes: a damaged store (not a database, malformed, a
directory in its place) is renamed aside with a timestamp,
``statistics.damaged-YYYYMMDDTHHMMSS.sqlite3`` (its ``-wal`` and ``-shm``
with it, so the pair stays readable together), and a fresh store is created.
Rows still readable in the damaged copy (channel names, layouts, hours) are
then copied into the fresh one, hour by hour, and its days rebuilt; what
cannot be read is counted, not guessed. An intact store is left alone.
"""
from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from firmware.migrations import DAY, LOST_LAYOUT, MIGRATIONS, rebuild_day
from firmware.store import FILENAME, SqliteStatistics, StoreError

SIDE_FILES = ("-wal", "-shm")


@dataclass(slots=True)
class ChannelHealth:
    channel: int
    name: str
    hours_with_data: int
    first_hour: int | None      # appliance clock seconds
    last_hour: int | None
    visits: int
    dwell_seconds: float
    days_match: bool             # the daily roll-up adds up to the hours


@dataclass(slots=True)
class StoreHealth:
    path: Path
    exists: bool
    size: int = 0
    damage: str = ""             # "" when the file is a readable store
    integrity: list[str] = field(default_factory=list)   # ["ok"] when intact
    migrations: list[str] = field(default_factory=list)
    pending_migrations: list[str] = field(default_factory=list)
    layouts: int = 0
    lost_layouts: dict[int, int] = field(default_factory=dict)      # layout id -> hour rows under it
    missing_layouts: dict[int, int] = field(default_factory=dict)   # not yet reserved (before m004)
    channels: list[ChannelHealth] = field(default_factory=list)

    @property
    def damaged(self) -> bool:
        return bool(self.damage) or (bool(self.integrity) and self.integrity != ["ok"])

    @property
    def orphan_hours(self) -> int:
        return sum(self.lost_layouts.values()) + sum(self.missing_layouts.values())


def check(state_dir: str | os.PathLike) -> StoreHealth:
    """The store's state, read without changing it."""
    path = Path(state_dir) / FILENAME
    h = StoreHealth(path=path, exists=path.exists() or path.is_symlink())
    if not h.exists:
        return h
    if not path.is_file():
        h.damage = "it is not a file"
        return h
    h.size = path.stat().st_size
    try:
        conn = _open_read_only(path)
    except sqlite3.Error as e:
        h.damage = str(e)
        return h
    try:
        _read(conn, h)
    except sqlite3.Error as e:
        h.damage = str(e)
    finally:
        conn.close()
    return h


def _open_read_only(path: Path) -> sqlite3.Connection:
    # Without a WAL nothing is being written: immutable, so not even -shm is created.
    wal = Path(str(path) + "-wal")
    mode = "ro" if wal.exists() else "ro&immutable=1"
    conn = sqlite3.connect(f"file:{path}?mode={mode}", uri=True, isolation_level=None)
    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # "file is not a database" here
    return conn


def _read(conn: sqlite3.Connection, h: StoreHealth) -> None:
    h.integrity = [r[0] for r in conn.execute("PRAGMA integrity_check(20)")]
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "_migrations" in tables:
        h.migrations = [r[0] for r in conn.execute("SELECT name FROM _migrations ORDER BY name")]
    h.pending_migrations = [m.__name__ for m in MIGRATIONS if m.__name__ not in h.migrations]
    if not {"hours", "days", "layouts", "channels"} <= tables:
        if h.migrations or tables - {"_migrations"}:
            h.damage = h.damage or f"it lacks the statistics tables (has: {', '.join(sorted(tables)) or 'none'})"
        return
    h.layouts = conn.execute("SELECT count(*) FROM layouts WHERE spec NOT LIKE ?", (LOST_LAYOUT + "%",)).fetchone()[0]
    h.lost_layouts = dict(conn.execute(
        "SELECT l.layout_id, count(h.rowid) FROM layouts l LEFT JOIN hours h USING (layout_id)"
        " WHERE l.spec LIKE ? GROUP BY l.layout_id", (LOST_LAYOUT + "%",)))
    h.missing_layouts = dict(conn.execute(
        "SELECT layout_id, count(*) FROM hours WHERE layout_id NOT IN (SELECT layout_id FROM layouts)"
        " GROUP BY layout_id"))
    names = dict(conn.execute("SELECT channel, name FROM channels"))
    hours = {r[0]: r[1:] for r in conn.execute(
        "SELECT channel, count(DISTINCT CASE WHEN analysed_seconds > 0 THEN hour_start END),"
        " min(CASE WHEN analysed_seconds > 0 THEN hour_start END), max(CASE WHEN analysed_seconds > 0"
        " THEN hour_start END), sum(visits_total), sum(dwell_total) FROM hours GROUP BY channel")}
    days = {r[0]: r[1:] for r in conn.execute(
        "SELECT channel, sum(visits_total), sum(dwell_total) FROM days GROUP BY channel")}
    for ch in sorted(set(names) | set(hours)):
        n, first, last, visits, dwell = hours.get(ch, (0, None, None, 0, 0.0))
        dv, dd = days.get(ch, (0, 0.0))
        h.channels.append(ChannelHealth(
            ch, names.get(ch, f"Camera {ch:02d}"), n, first, last, visits or 0, dwell or 0.0,
            days_match=(dv or 0) == (visits or 0) and abs((dd or 0.0) - (dwell or 0.0)) < 0.01 + 1e-9 * abs(dwell or 0)))


# --------------------------------------------------------------------------- repair


@dataclass(slots=True)
class RepairResult:
    moved: list[Path]               # what was renamed aside (the store first)
    fresh: Path
    salvaged_hours: int = 0
    salvaged_channels: int = 0
    unreadable_rows: int = 0


def repair(state_dir: str | os.PathLike, now: datetime | None = None) -> RepairResult:
    """Move a damaged store aside and start a fresh one with what could be read. Raises
    StoreError when the store is intact (nothing to do) or when it cannot be moved."""
    state_dir = Path(state_dir)
    health = check(state_dir)
    if not health.exists:
        raise StoreError(f"{health.path}: no statistics store here; nothing to repair")
    if not health.damaged:
        raise StoreError(f"{health.path}: the store is intact; nothing to repair (see `nvr store check`)")
    stamp = (now or datetime.now()).strftime("%Y%m%dT%H%M%S")
    aside = state_dir / f"statistics.damaged-{stamp}.sqlite3"
    n = 1
    while any(Path(str(aside) + s).exists() for s in ("", *SIDE_FILES)) or aside.is_symlink():
        n += 1
        aside = state_dir / f"statistics.damaged-{stamp}-{n}.sqlite3"
    moved = []
    try:
        for suffix in ("", *SIDE_FILES):
            src = Path(str(health.path) + suffix)
            if src.exists() or src.is_symlink():
                dst = Path(str(aside) + suffix)
                os.rename(src, dst)
                moved.append(dst)
    except OSError as e:
        raise StoreError(f"{health.path}: cannot move it aside ({e.strerror}); nothing was changed "
                         f"beyond {', '.join(p.name for p in moved) or 'nothing'}") from None
    fresh = SqliteStatistics(state_dir)
    result = RepairResult(moved=moved, fresh=fresh.path)
    fresh.close()
    if aside.is_file():
        _salvage(aside, fresh.path, result)
    return result


def _salvage(damaged: Path, fresh: Path, result: RepairResult) -> None:
    """Copy what can be read from `damaged` into `fresh` (both closed), row by row."""
    try:
        src = _open_read_only(damaged)
    except sqlite3.Error:
        return  # not a database at all: nothing to read
    dst = sqlite3.connect(fresh, isolation_level=None)
    try:
        dst.execute("BEGIN IMMEDIATE")
        for table, cols in (("channels", "channel, name"), ("layouts", "layout_id, spec")):
            for row in _rows(src, table, cols, result):
                dst.execute(f"INSERT OR IGNORE INTO {table} ({cols}) VALUES (?, ?)", row)
        known = {r[0] for r in dst.execute("SELECT layout_id FROM layouts")}
        cols = ("channel, hour_start, layout_id, visits, dwell_cs, area_visits, area_dwell_cs, visits_total,"
                " dwell_total, analysed_seconds, scene_changes")
        days, channels = set(), set()
        for row in _rows(src, "hours", cols, result):
            if row[2] not in known:  # an orphan of an older firmware: reserve its id as lost (m004)
                dst.execute("INSERT INTO layouts (layout_id, spec) VALUES (?, ?)", (row[2], f"{LOST_LAYOUT}{row[2]}"))
                known.add(row[2])
            dst.execute(f"INSERT OR IGNORE INTO hours ({cols}) VALUES ({', '.join('?' * 11)})", row)
            days.add((row[0], row[1] - row[1] % DAY))
            channels.add(row[0])
            result.salvaged_hours += 1
        for channel, day in sorted(days):
            rebuild_day(dst, channel, day)
        dst.execute("COMMIT")
        result.salvaged_channels = len(channels)
    except sqlite3.Error:
        if dst.in_transaction:
            dst.execute("ROLLBACK")
        result.salvaged_hours = result.salvaged_channels = 0
    finally:
        src.close()
        dst.close()


def _rows(conn: sqlite3.Connection, table: str, cols: str, result: RepairResult):
    """Rows of `table` in rowid order, skipping the ranges a damaged page makes unreadable."""
    try:
        top = conn.execute(f"SELECT max(rowid) FROM {table}").fetchone()[0]
    except sqlite3.Error:
        return
    if top is None:
        return
    rowid = 0
    while rowid < top:
        try:
            rows = conn.execute(f"SELECT rowid, {cols} FROM {table} WHERE rowid > ? ORDER BY rowid LIMIT 64",
                                (rowid,)).fetchall()
        except sqlite3.Error:
            # A damaged page in the next stretch: read it one row id at a time.
            for one in range(rowid + 1, rowid + 65):
                try:
                    row = conn.execute(f"SELECT {cols} FROM {table} WHERE rowid = ?", (one,)).fetchone()
                except sqlite3.Error:
                    result.unreadable_rows += 1
                    continue
                if row is not None:
                    yield row
            rowid += 64
            continue
        if not rows:
            return
        for r in rows:
            yield r[1:]
        rowid = rows[-1][0]
