"""The heat-map colour scale: one rule for the picture, the workbook and the console.

Which cells set the scale
    Only cells inside the detection areas: a cell is inside when any of its
    analysis pixels is (`vca.mask`, the rasterisation the analyser counts
    with). Cells outside every area are zero by definition; letting them into
    the scale (as a median of all cells did) pulls it down until almost every
    counted cell gets the same colour. Zero is not a colour: a cell nobody
    entered is transparent in the picture, unfilled in the workbook, blank on
    the console.

How values map to colours (`levels`, 0 = bottom colour, 1 = top colour)
    dwell: a log scale from the 5th percentile to the maximum of the in-area
      cells with dwell. Dwell is heavy-tailed by nature: one person standing
      at a counter for eight hours leaves ~30,000 s in a cell where a
      passer-by leaves a second or two. On a linear scale that one cell would
      make every lane the colour of zero; a top at a high percentile fails
      as soon as a few standers (a queue, a sales desk) fill more than that
      percentile's share of the cells. On a log scale every order of
      magnitude gets its own band of colour, so lanes of 20 s and of 200 s
      differ as much as a 2,000 s and a 20,000 s spot, and nothing is cut off.
      The bottom at the 5th percentile keeps slivers of a lane (a fraction of
      a second where a path grazes a cell) from spending half the colours.
    people (visits): linear from 0 to the 99th percentile of the in-area
      cells with visits; the few cells above it show in the top colour and
      the legend says so (">="). A visit counts once however long one stays,
      so visits have no stander tail; linear keeps "twice as red, about twice
      the people", and the percentile top keeps one funnel cell (a door)
      from turning every other cell blue.

The colour ramp runs blue -> green -> yellow -> red (least -> most).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

# Colour stops at 0, 1/3, 2/3, 1 of the scale.
STOPS = np.array([[0, 0, 255], [0, 200, 0], [255, 230, 0], [255, 0, 0]], np.float64)

LOG_BOTTOM_PERCENTILE = 5.0
LINEAR_TOP_PERCENTILE = 99.0


def colormap(t: np.ndarray) -> np.ndarray:
    """float (...,) in 0..1 -> float64 RGB (..., 3) along the blue-green-yellow-red stops."""
    x = np.clip(np.asarray(t, np.float64), 0.0, 1.0) * (len(STOPS) - 1)
    i = np.minimum(x.astype(np.int64), len(STOPS) - 2)
    f = (x - i)[..., None]
    return STOPS[i] * (1.0 - f) + STOPS[i + 1] * f


def in_area_cells(regions: Sequence[Sequence[tuple[float, float]]], grid_rows: int, grid_columns: int,
                  analysis_height: int, analysis_width: int) -> np.ndarray:
    """bool (grid_rows, grid_columns): cells holding at least one pixel of an area.

    The grid maps pixel (x, y) of the analysis frame to cell
    (y * rows // H, x * columns // W) (`vca.grid`), so a cell can count only
    where it holds an area pixel. Without areas nothing is counted: all False.
    """
    if not regions:
        return np.zeros((grid_rows, grid_columns), bool)
    from vca.mask import area_labels  # numba loads only when a picture is made

    h, w = max(1, int(analysis_height)), max(1, int(analysis_width))
    _, any_area = area_labels(regions, h, w)
    row_of_y = np.arange(h) * grid_rows // h
    col_of_x = np.arange(w) * grid_columns // w
    cells = np.zeros((grid_rows, grid_columns), bool)
    ys, xs = np.nonzero(any_area)
    cells[row_of_y[ys], col_of_x[xs]] = True
    return cells


@dataclass(frozen=True, slots=True)
class HeatScale:
    """Values -> levels 0..1 for one grid; see the module docstring for the rule."""

    kind: str          # "log" or "linear"
    low: float         # the value at level 0 (bottom colour)
    high: float        # the value at level 1 (top colour)
    clipped: bool      # some in-area cells lie above `high` and show in the top colour
    empty: bool        # no in-area cell has a value: nothing to colour

    def levels(self, values: Any) -> np.ndarray:
        """float64 levels in 0..1 of `values` (any shape); NaN where the value is 0 or less."""
        v = np.asarray(values, np.float64)
        pos = v > 0
        if self.empty or not pos.any():
            return np.full(v.shape, np.nan)
        if self.high <= self.low:
            out = np.ones(v.shape)
        elif self.kind == "log":
            # Whole-array passes (a full-HD picture has 2 million values): below `low` is level 0.
            out = np.log(np.maximum(v, self.low) * (1.0 / self.low), out=np.empty(v.shape))
            out *= 1.0 / math.log(self.high / self.low)
        else:
            out = np.multiply(v, 1.0 / self.high, out=np.empty(v.shape))
        np.clip(out, 0.0, 1.0, out=out)
        out[~pos] = np.nan
        return out

    def value_at(self, level: float) -> float:
        """The value whose level is `level` (the inverse of `levels`, for legend labels)."""
        if self.kind == "log" and self.low > 0 and self.high > self.low:
            return self.low * (self.high / self.low) ** level
        return self.low + (self.high - self.low) * level

    def ticks(self, n: int = 5) -> list[tuple[float, float]]:
        """(level, value) at n evenly spaced levels from 0 to 1. The linear scale is the
        visits' and visits are counts: its ticks sit at distinct whole values instead, so a
        scale of 0..1 visit reads "0 1", not "0 0 0 1 1"."""
        if self.kind == "linear" and self.high > 0:
            values = sorted({round(self.high * k / (n - 1)) for k in range(n)})
            return [(min(v / self.high, 1.0), float(v)) for v in values]
        return [(k / (n - 1), self.value_at(k / (n - 1))) for k in range(n)]

    def labels(self, model: str) -> list[str]:
        """The legend's text at `ticks()`: rounded, ">=" on a clipped top."""
        out = [format_value(v, model) for _, v in self.ticks()]
        if self.clipped:
            out[-1] = ">=" + out[-1]
        return out

    def to_json(self, model: str) -> dict[str, Any]:
        return {
            "kind": self.kind, "low": _round(self.low), "high": _round(self.high),
            "clipped": self.clipped, "empty": self.empty,
            "ticks": [[round(t, 3), _round(v)] for t, v in self.ticks()],
            "labels": self.labels(model),
            "stops": [[round(k / (len(STOPS) - 1), 3), [int(c) for c in s]] for k, s in enumerate(STOPS)],
        }


def _round(v: float) -> float:
    return round(float(v), 3)


def heat_scale(values: Any, in_area: np.ndarray, model: str) -> HeatScale:
    """The scale of one grid (`values`, rows x cols) under the statistical model ("dwell" or "people")."""
    v = np.asarray(values, np.float64)
    counted = v[in_area & (v > 0)]
    if counted.size == 0:
        return HeatScale("log" if model == "dwell" else "linear", 0.0, 0.0, False, True)
    top = float(counted.max())
    if model == "dwell":
        low = float(np.percentile(counted, LOG_BOTTOM_PERCENTILE))
        return HeatScale("log", low, top, False, False)
    high = float(np.percentile(counted, LINEAR_TOP_PERCENTILE))
    if high <= 0:
        high = top
    return HeatScale("linear", 0.0, high, top > high, False)


def report_scale(report) -> tuple[HeatScale, np.ndarray]:
    """(scale, in-area cells) of a `firmware.reports.Report`'s chosen grid."""
    lay = report.layout
    cells = in_area_cells(lay.regions, lay.grid_rows, lay.grid_columns, lay.analysis_height, lay.analysis_width)
    return heat_scale(report.matrix, cells, report.model), cells


def format_value(v: float, model: str) -> str:
    """A legend number: visits whole, seconds to two significant digits above 10 (1,234 -> 1,200)."""
    v = float(v)
    if model == "people":
        return f"{v:,.0f}"
    if v >= 10:
        digits = int(math.floor(math.log10(v))) - 1
        return f"{round(v, -digits):,.0f}"
    return f"{v:.1f}".rstrip("0").rstrip(".") if v > 0 else "0"
