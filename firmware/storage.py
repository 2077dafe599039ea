"""Statistics writes that outlive a full disk: hold the hours in memory, write them when space returns.

`HeldStatistics` is the appliance's statistics sink in front of the SQLite
store (`firmware.store.SqliteStatistics`). While the store can be written it
passes every record straight through. When a write fails because the store
cannot be written (disk full, I/O error: `StoreUnwritable`) or is damaged
(`StoreDamaged`), it

- logs one line, and keeps the condition for `status()` (the console's
  Status screen, and the web front end's storage event);
- holds the failed record and every later one in memory, merged per
  (channel, hour, layout) as the store itself adds them, so a channel holds
  one channel-hour per hour however often it checkpoints;
- retries at most every `RETRY_INTERVAL` seconds (at checkpoints and from the
  appliance's run loop), writing the held hours oldest first, a few per
  transaction, so a little space returned is used at once;
- logs one line when everything held is written and the store is back.

The bound: at most `MAX_HELD_HOURS` channel-hours and `MAX_HELD_BYTES` of
grids. Beyond it the least recently updated channel-hour is dropped (counted
in `lost_channel_hours`, logged once per episode). Background snapshots are
held too, the latest per channel. At shutdown whatever is still held is
written if it can be; what cannot is logged, in one line, as lost.

A store that cannot even be opened at boot because the disk is full is
opened at a later retry; the appliance runs meanwhile with everything held.
"""
from __future__ import annotations

import dataclasses
import itertools
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

import numpy as np

from firmware.stats import HourRecord, Layout
from firmware.store import SqliteStatistics, StoreDamaged, StoreError, StoreUnwritable

log = logging.getLogger("firmware.storage")

MAX_HELD_HOURS = 1536          # channel-hours: 64 channels for a day, 16 channels for four days
MAX_HELD_BYTES = 96 << 20      # of grids: 1,536 hours of the default 64x36 grid take 57 MB
RETRY_INTERVAL = 5.0           # wall seconds between attempts while the store cannot be written
WRITE_BATCH = 16               # held channel-hours per transaction when writing them back


@dataclass(frozen=True, slots=True)
class StorageStatus:
    """The statistics store's condition, for front ends (console Status, web events)."""

    state: str                    # "ok", or "failing": statistics are being held in memory
    path: str                     # the store's file
    since: datetime | None        # host time writing started failing (None when ok)
    held_channel_hours: int       # hours of statistics held in memory, waiting to be written
    held_bytes: int
    lost_channel_hours: int       # dropped since boot because the bound was reached
    last_error: str               # one line; "" when ok
    max_channel_hours: int = MAX_HELD_HOURS

    @property
    def ok(self) -> bool:
        return self.state == "ok"


def _nbytes(rec: HourRecord) -> int:
    return rec.visits.nbytes + rec.dwell.nbytes + rec.area_visits.nbytes + rec.area_dwell.nbytes


def _merge(a: HourRecord, b: HourRecord) -> HourRecord:
    """`a` plus `b` (same channel, hour and layout), as the store adds them."""
    return dataclasses.replace(
        a,
        visits=a.visits.astype(np.int64) + b.visits, dwell=a.dwell + b.dwell,
        area_visits=a.area_visits + b.area_visits, area_dwell=a.area_dwell + b.area_dwell,
        visits_total=a.visits_total + b.visits_total, dwell_total=a.dwell_total + b.dwell_total,
        analysed_seconds=a.analysed_seconds + b.analysed_seconds,
        scene_changes=a.scene_changes + b.scene_changes,
    )


class HeldStatistics:
    """`StatisticsSink` over a store that may fail to write (see the module docstring)."""

    def __init__(self, open_store: Callable[[], SqliteStatistics], path: str, *,
                 max_hours: int = MAX_HELD_HOURS, max_bytes: int = MAX_HELD_BYTES,
                 retry_interval: float = RETRY_INTERVAL,
                 on_open: Callable[[SqliteStatistics], None] | None = None):
        self._open_store = open_store
        self._on_open = on_open
        self.path = path
        self.max_hours, self.max_bytes, self.retry_interval = max_hours, max_bytes, retry_interval
        self.store: SqliteStatistics | None = None
        self._lock = threading.RLock()
        self._held: dict[tuple[int, int, Layout], HourRecord] = {}  # oldest update first
        self._held_bytes = 0
        self._names: dict[int, str] = {}
        self._backgrounds: dict[int, tuple[float, np.ndarray]] = {}
        self._failing_since: datetime | None = None
        self._last_error = ""
        self._next_retry = 0.0
        self._lost = 0
        self._dropping = False   # logged "dropping" in this episode
        self._retrying = False   # a retry is under way (in another thread, or this one)

    # ------------------------------------------------------------------ boot

    def open(self) -> None:
        """Open the store. Raises StoreDamaged (boot must stop) or StoreError (refused for
        another reason); a store that cannot be written yet leaves the sink failing."""
        with self._lock:
            try:
                self._set_store(self._open_store())
            except StoreUnwritable as e:
                self._fail(e, announce=False)  # the boot says so itself

    def _set_store(self, store: SqliteStatistics) -> None:
        self.store = store
        if self._on_open is not None:
            self._on_open(store)

    # ------------------------------------------------------------------ StatisticsSink

    def record(self, rec: HourRecord) -> None:
        with self._lock:
            if self._failing_since is None and not self._held:
                try:
                    self.store.record(rec)
                    return
                except (StoreUnwritable, StoreDamaged) as e:
                    self._fail(e)
            self._hold(rec)
        self.retry()

    def save_background(self, channel: int, wall: float, image: np.ndarray) -> None:
        with self._lock:
            if self._failing_since is None:
                try:
                    self.store.save_background(channel, wall, image)
                    return
                except (StoreUnwritable, StoreDamaged) as e:
                    self._fail(e)
            self._backgrounds[channel] = (wall, image.copy())

    def set_channel_name(self, channel: int, name: str) -> None:
        with self._lock:
            if self._failing_since is None:
                try:
                    self.store.set_channel_name(channel, name)
                    return
                except (StoreUnwritable, StoreDamaged) as e:
                    self._fail(e)
            self._names[channel] = name

    def checkpoint(self) -> None:
        if self._failing_since is not None:
            self.retry()
            return
        with self._lock:
            try:
                self.store.checkpoint()
            except (StoreUnwritable, StoreDamaged) as e:
                # Nothing is lost (the commits are in the WAL); but the disk is full.
                self._fail(e)

    def close(self) -> None:
        """A last attempt to write what is held, then close the store."""
        if self._failing_since is not None:
            self.retry(force=True)
        with self._lock:
            if self._held:
                log.error("statistics store %s: %d channel-hours of statistics held in memory could not be "
                          "written and are lost (%s)", self.path, len(self._held), self._last_error)
            if self.store is not None:
                try:
                    self.store.close()
                except Exception as e:  # closing runs a checkpoint, which can fail on a full disk
                    log.warning("statistics store %s: closed without a final checkpoint (%s)", self.path,
                                str(e).splitlines()[0] if str(e) else type(e).__name__)

    # ------------------------------------------------------------------ the condition

    def status(self) -> StorageStatus:
        with self._lock:
            return StorageStatus(
                state="ok" if self._failing_since is None else "failing", path=self.path,
                since=self._failing_since, held_channel_hours=len(self._held), held_bytes=self._held_bytes,
                lost_channel_hours=self._lost, last_error=self._last_error, max_channel_hours=self.max_hours)

    def retry(self, force: bool = False) -> None:
        """While failing and a retry is due (or `force`): open the store if it is not,
        write what is held, and check the store takes writes again.

        The held hours are written outside the lock, a batch at a time (taken out,
        written, or put back in front on failure), so channels recording meanwhile
        are held as usual instead of waiting for the whole backlog."""
        with self._lock:
            if self._failing_since is None or self._retrying:
                return
            now = time.monotonic()
            if not force and now < self._next_retry:
                return
            self._next_retry = now + self.retry_interval
            self._retrying = True
        try:
            if self.store is None:
                store = self._open_store()  # outside the lock: the boot check may take seconds
                with self._lock:
                    self._set_store(store)
            while True:
                with self._lock:
                    batch = [self._held.pop(k) for k in list(itertools.islice(self._held, WRITE_BATCH))]
                    self._held_bytes -= sum(_nbytes(r) for r in batch)
                if len(batch) < WRITE_BATCH:
                    break  # the last few go with the rest, under the lock, below
                try:
                    self.store.import_hours(batch)
                except BaseException:
                    with self._lock:
                        self._put_back(batch)
                    raise
            with self._lock:
                self._put_back(batch)
                self._write_rest()
                self.store.checkpoint()  # the store takes writes again only if this goes through
                log.warning("statistics store %s: writing again after %s; the statistics held in memory are "
                            "written%s", self.path, _ago(self._failing_since),
                            f" ({self._lost} channel-hours were dropped over the bound)" if self._lost else "")
                self._failing_since, self._last_error, self._dropping = None, "", False
        except (StoreUnwritable, StoreDamaged) as e:
            with self._lock:
                self._last_error = _line(e)
            log.debug("statistics store still failing: %s", self._last_error)
        finally:
            with self._lock:
                self._retrying = False

    # ------------------------------------------------------------------ internals

    def _fail(self, e: StoreError, announce: bool = True) -> None:
        self._last_error = _line(e)
        if self._failing_since is None:
            self._failing_since = datetime.now().replace(microsecond=0)
            self._next_retry = time.monotonic() + self.retry_interval
            if announce:
                log.warning("statistics store %s; statistics are held in memory (up to %d channel-hours) "
                            "until it can be written", self._last_error, self.max_hours)

    def _hold(self, rec: HourRecord) -> None:
        key = (rec.channel, rec.hour_start, rec.layout)
        old = self._held.pop(key, None)  # re-inserted at the end: the store's own write order
        if old is not None:
            self._held_bytes -= _nbytes(old)
            rec = _merge(old, rec)
        self._held[key] = rec
        self._held_bytes += _nbytes(rec)
        self._enforce_bound()

    def _enforce_bound(self) -> None:
        while len(self._held) > self.max_hours or (self._held_bytes > self.max_bytes and len(self._held) > 1):
            dropped = self._held.pop(next(iter(self._held)))
            self._held_bytes -= _nbytes(dropped)
            self._lost += 1
            if not self._dropping:
                self._dropping = True
                log.error("statistics store %s: %d channel-hours held in memory, the most it holds; the oldest "
                          "are dropped from now on until the store can be written", self.path, len(self._held))

    def _put_back(self, batch: list[HourRecord]) -> None:
        """Return `batch` (taken out to be written) in front of what was held meanwhile."""
        later, self._held = self._held, {}
        for rec in batch:
            self._held[(rec.channel, rec.hour_start, rec.layout)] = rec
        for key, rec in later.items():
            old = self._held.pop(key, None)
            self._held[key] = rec if old is None else _merge(old, rec)
        self._held_bytes = sum(_nbytes(r) for r in self._held.values())
        self._enforce_bound()

    def _write_rest(self) -> None:
        """Under the lock: the held hours left (a few), channel names and backgrounds."""
        store = self.store
        for channel, name in list(self._names.items()):
            store.set_channel_name(channel, name)
            del self._names[channel]
        while self._held:
            batch = list(self._held.values())[:WRITE_BATCH]
            store.import_hours(batch)
            for rec in batch:
                del self._held[(rec.channel, rec.hour_start, rec.layout)]
                self._held_bytes -= _nbytes(rec)
        for channel, (wall, image) in list(self._backgrounds.items()):
            store.save_background(channel, wall, image)
            del self._backgrounds[channel]


def _line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _ago(since: datetime | None) -> str:
    if since is None:
        return "0 s"
    s = int((datetime.now() - since).total_seconds())
    return f"{s} s" if s < 120 else f"{s // 60} min" if s < 7200 else f"{s / 3600:.1f} h"
