"""Heat-map accumulation: visits and dwell per grid cell, per area and for any area.

Grid: `columns` (default 64) x `rows` (default round(columns * H / W), at
least 1) cells over the analysed frame. Pixel (x, y) lies in cell
(row, col) = (y * rows // H, x * columns // W).

Only confirmed tracks matched on this frame count (vca.tracks), at their
footprint pixel F = bottom centre of the track's box (where the person
stands). F counts only if it lies inside a detection area (label image
!= 0); so cells outside every area stay zero, and a cell partly covered by
an area only gets what happens on its covered pixels. Overlapping areas:
F belongs to the lowest-numbered area covering it (vca.mask).

DEFINITIONS (times are the analyzer's analysed time: frame intervals capped
at DT_CAP = 1 s, paused while a scene change settles):

- dwell (cell c, area k, any area): on each frame a confirmed track is
  matched, the seconds since it was last matched (on its confirmation frame:
  since its birth; capped at DT_CAP) are spread evenly over the samples of
  its footprint path after the previous footprint (the last sample is the
  footprint now; a target that did not move has that one sample), and each
  sample inside an area adds its share to its cell, its area and the
  any-area total. So a walker's time is laid along its trail, unbroken at
  low frame rates, and only the part of an interval spent inside an area
  counts there. A target briefly lost (within the grace time) gets the lost
  interval spread over the line from where it was lost to where it is found.
  Units: target-seconds.
- footprint path: on each frame a confirmed track is matched, the straight
  line from its previous footprint (on its confirmation frame: its birth
  footprint) to its footprint now, sampled every half cell. A fast walker
  or a track found again after a short loss so leaves an unbroken trail.
- visits (cell c): a point of the track's footprint path is in c (and in an
  area) and that track's path was NOT in c during the last `grace` seconds
  (never, or longer ago). So a standing or jittering target counts once;
  the same track leaving c and coming back after more than the grace time
  counts again; a target lost for longer than the grace time becomes a new
  track and counts again.
- visits (area k / any area): the same rule with "in area k" / "in any
  area" in place of "in cell c". visits_total is the any-area count.

Accumulators: visits int32 (rows, columns), dwell float64 (rows, columns),
area_visits int64 (1 + MAX_AREAS,), area_dwell float64 (1 + MAX_AREAS,);
index 0 of the area arrays is "any area", index k is area k.
Per-track memory: when each track was last in each cell / area, float32,
relative to the track's birth so float32 stays precise over long runs.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from vca.contracts import ArrayContract
from vca.mask import MAX_AREAS
from vca.track_table import (MAX_TRACKS, N_FLOAT, N_INT, T_BORN, T_CONFIRMED, T_CREDIT, T_FX, T_FY, T_LIVE, T_LX, T_LY,
                             T_MATCHED, T_NEW)

DEFAULT_COLUMNS = 64
DT_CAP = 1.0
_NEVER = np.float32(-1e30)


def default_rows(height: int, width: int, columns: int = DEFAULT_COLUMNS) -> int:
    """Rows giving square-ish cells: round(columns * height / width), at least 1."""
    return max(1, int(round(columns * height / width)))


@njit(cache=True, nogil=True)
def _visit(i, rel, grace, c, k, cell_last, area_last, visits, area_visits):
    """Apply the visit rule to cell c and area k (k > 0) for track slot i at time rel."""
    if rel - cell_last[i, c] > grace:
        visits[c] += 1
    cell_last[i, c] = rel
    if rel - area_last[i, k] > grace:
        area_visits[k] += 1
    area_last[i, k] = rel
    if rel - area_last[i, 0] > grace:
        area_visits[0] += 1
    area_last[i, 0] = rel


@njit(cache=True, nogil=True)
def _accumulate(tr, trf, labels, row_of_y, col_of_x, columns, step, now, grace, cap,
                cell_last, area_last, visits, dwell, area_visits, area_dwell):
    """Credit this frame's confirmed, matched tracks.

    tr, trf:    the track table (vca.track_table), int64 (T, N_INT) and float64 (T, N_FLOAT).
    labels:     uint8 (H, W) area labels (0 outside, k inside area k).
    row_of_y:   int32 (H,); col_of_x: int32 (W,) cell row / column of each pixel line.
    step:       path sampling distance in pixels (half the smaller cell side, >= 1).
    cell_last:  float32 (T, rows*columns) per track: last time in each cell (rel. to birth).
    area_last:  float32 (T, 1 + MAX_AREAS) per track: same for any area (0) and area k.
    visits:     int32 (rows*columns,); dwell: float64 (rows*columns,).
    area_visits: int64 (1 + MAX_AREAS,); area_dwell: float64 (1 + MAX_AREAS,).
    Returns the number of tracks credited dwell.
    (The path's first sample is the previous footprint, or the birth footprint
    of a track just confirmed: it is visited, but no time is spent there on
    this frame's interval, which is shared by the n samples after it.)
    """
    n_tracks = tr.shape[0]
    credited = 0
    for i in range(n_tracks):
        if tr[i, T_NEW] != 0:
            # A fresh track in a reused slot must not inherit its predecessor's cells.
            cell_last[i, :] = _NEVER
            area_last[i, :] = _NEVER
        if tr[i, T_LIVE] == 0 or tr[i, T_MATCHED] == 0 or tr[i, T_CONFIRMED] == 0:
            continue
        rel = np.float32(now - trf[i, T_BORN])
        fx = tr[i, T_FX]
        fy = tr[i, T_FY]
        lx = tr[i, T_LX]
        ly = tr[i, T_LY]
        # Path from the previous footprint (already visited unless just confirmed) to now.
        n = int(max(abs(fx - lx), abs(fy - ly)) / step)
        # The interval was spent walking that path: each of its n samples after the
        # previous footprint (the last one is the footprint now) gets an equal share.
        share = min(trf[i, T_CREDIT], cap) / max(n, 1)
        last_c = -1
        last_k = -1
        dwelt = False
        for s in range(n):
            px = lx + (fx - lx) * s // n
            py = ly + (fy - ly) * s // n
            k = labels[py, px]
            if k == 0:
                continue
            c = row_of_y[py] * columns + col_of_x[px]
            # Repeated samples of one cell are skipped, but only within one area:
            # area borders do not follow cell borders.
            if c != last_c or k != last_k:
                _visit(i, rel, grace, c, k, cell_last, area_last, visits, area_visits)
                last_c = c
                last_k = k
            if s > 0:
                dwell[c] += share
                area_dwell[k] += share
                area_dwell[0] += share
                dwelt = True
        k = labels[fy, fx]
        if k != 0:
            c = row_of_y[fy] * columns + col_of_x[fx]
            _visit(i, rel, grace, c, k, cell_last, area_last, visits, area_visits)
            dwell[c] += share
            area_dwell[k] += share
            area_dwell[0] += share
            dwelt = True
        credited += dwelt
    return credited


class GridAccumulator:
    """Preallocated heat-map accumulators for one (height, width) and grid."""

    def __init__(self, height: int, width: int, columns: int = DEFAULT_COLUMNS, rows: int | None = None,
                 max_tracks: int = MAX_TRACKS):
        if columns < 1 or columns > width:
            raise ValueError(f"grid of {columns} columns on a {width}-pixel-wide picture: use 1..{width} columns")
        rows = default_rows(height, width, columns) if rows is None else int(rows)
        if rows < 1 or rows > height:
            raise ValueError(f"grid of {rows} rows on a {height}-pixel-high picture: use 1..{height} rows")
        self.height, self.width = int(height), int(width)
        self.rows, self.columns = rows, int(columns)
        self.row_of_y = (np.arange(height, dtype=np.int64) * rows // height).astype(np.int32)
        self.col_of_x = (np.arange(width, dtype=np.int64) * columns // width).astype(np.int32)
        n_cells = rows * self.columns
        self._step = max(1, min(height // rows, width // self.columns) // 2)
        self.visits = np.zeros((rows, self.columns), np.int32)
        self.dwell = np.zeros((rows, self.columns), np.float64)
        self._visits_flat = self.visits.reshape(-1)
        self._dwell_flat = self.dwell.reshape(-1)
        self.area_visits = np.zeros(1 + MAX_AREAS, np.int64)
        self.area_dwell = np.zeros(1 + MAX_AREAS, np.float64)
        self._cell_last = np.full((max_tracks, n_cells), _NEVER, np.float32)
        self._area_last = np.full((max_tracks, 1 + MAX_AREAS), _NEVER, np.float32)
        table = f"pass the track table of a tracker with {max_tracks} slots (vca.tracks.Tracker.tr, .trf)"
        self._tr = ArrayContract("tr", np.int64, (max_tracks, N_INT), table)
        self._trf = ArrayContract("trf", np.float64, (max_tracks, N_FLOAT), table)
        self._labels = ArrayContract("labels", np.uint8, (height, width),
                                     "pass the area labels at the analysis size (vca.mask.rasterize_areas)")

    def accumulate(self, tr: np.ndarray, trf: np.ndarray, labels: np.ndarray, now: float,
                   grace: float) -> int:
        """Credit the tracks matched on this frame (see DEFINITIONS); returns how many were credited."""
        self._tr.check(tr)
        self._trf.check(trf)
        self._labels.check(labels)
        return _accumulate(tr, trf, labels, self.row_of_y, self.col_of_x, self.columns, self._step, float(now),
                           float(grace), DT_CAP, self._cell_last, self._area_last, self._visits_flat,
                           self._dwell_flat, self.area_visits, self.area_dwell)

    def zero(self) -> None:
        self.visits[...] = 0
        self.dwell[...] = 0.0
        self.area_visits[...] = 0
        self.area_dwell[...] = 0.0
