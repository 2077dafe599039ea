"""What channels hand to the statistics store, and the store's interface.

A channel drains its analyser's increments into the hour of appliance time
they belong to, at every hour boundary and at every checkpoint. Records are
additive: the store adds each one to whatever it already holds for that
(channel, hour, layout), so a checkpoint never double-counts and a kill loses
at most what was not yet drained.

`MemoryStatistics` keeps totals in memory (for `--state-dir`-less runs and
tests); `firmware.store.SqliteStatistics` persists them.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True, slots=True)
class Layout:
    """What makes two grids comparable: grid geometry, areas and parameters in force."""

    grid_rows: int
    grid_columns: int
    regions: tuple[tuple[tuple[float, float], ...], ...]
    params: tuple[int, int, int, int]   # sensitivity, update rate, scene change, min size
    source_width: int
    source_height: int
    analysis_width: int
    analysis_height: int


@dataclass(slots=True)
class HourRecord:
    """Increments for one channel in one hour of appliance time."""

    channel: int
    hour_start: int             # appliance clock seconds, a multiple of 3600
    layout: Layout
    visits: np.ndarray          # int32 (rows, cols)
    dwell: np.ndarray           # float64 (rows, cols), seconds
    area_visits: np.ndarray     # int64 (n_areas,)
    area_dwell: np.ndarray      # float64 (n_areas,)
    visits_total: int
    dwell_total: float
    analysed_seconds: float     # appliance seconds actually analysed (0: no data)
    scene_changes: int


class StatisticsSink(Protocol):
    def record(self, rec: HourRecord) -> None: ...
    def save_background(self, channel: int, wall: float, image: np.ndarray) -> None: ...
    def checkpoint(self) -> None: ...
    def close(self) -> None: ...


class MemoryStatistics:
    """In-memory totals per channel; what `nvr run` prints at shutdown."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.totals: dict[int, dict[str, float]] = {}
        self.backgrounds: dict[int, np.ndarray] = {}

    def record(self, rec: HourRecord) -> None:
        with self._lock:
            t = self.totals.setdefault(
                rec.channel, {"visits": 0, "dwell_seconds": 0.0, "analysed_seconds": 0.0, "scene_changes": 0}
            )
            t["visits"] += rec.visits_total
            t["dwell_seconds"] += rec.dwell_total
            t["analysed_seconds"] += rec.analysed_seconds
            t["scene_changes"] += rec.scene_changes

    def save_background(self, channel: int, wall: float, image: np.ndarray) -> None:
        with self._lock:
            self.backgrounds[channel] = image.copy()

    def checkpoint(self) -> None:
        pass

    def close(self) -> None:
        pass
