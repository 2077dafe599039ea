"""Text pictures for an 80x24 terminal: the camera preview with areas, heat maps, tables.

Pure functions from data to lines of text (no I/O), so the screens stay
short and the pictures can be checked on their own.
"""
from __future__ import annotations

import datetime as dt
import math
from typing import Any, Sequence

import numpy as np

RAMP = " .:-=+*#%@"  # dark to bright, one glyph per tenth of the range
RESET = "\x1b[0m"
PREVIEW_SIZE = (64, 20)  # characters (columns, rows)
MAX_CELLS = 36           # heat-map cells across; two characters each fits 80 columns


def _block_mean(image: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Mean of `image` (H×W) over a rows×cols grid of nearly equal blocks."""
    h, w = image.shape
    r_edges = np.linspace(0, h, rows + 1).astype(int)
    c_edges = np.linspace(0, w, cols + 1).astype(int)
    r_edges[:-1] = np.minimum(r_edges[:-1], h - 1)
    c_edges[:-1] = np.minimum(c_edges[:-1], w - 1)
    sums = np.add.reduceat(np.add.reduceat(image.astype(np.float64), r_edges[:-1], 0), c_edges[:-1], 1)
    counts = np.outer(np.maximum(np.diff(r_edges), 1), np.maximum(np.diff(c_edges), 1))
    return sums / counts


def preview_lines(
    luma: np.ndarray | None,
    areas: Sequence[Sequence[tuple[float, float]]],
    size: tuple[int, int] = PREVIEW_SIZE,
) -> list[str]:
    """The camera picture as characters with each area's outline drawn in its number.

    luma: uint8 (H, W) or None (no picture yet: a blank field, areas still drawn).
    areas: normalised (x, y) polygons; area k is drawn with the digit k.
    A ruler gives 0..100 % on both axes, as the operator types coordinates.
    """
    cols, rows = size
    if luma is None or luma.size == 0:
        grid = [[" "] * cols for _ in range(rows)]
    else:
        means = _block_mean(luma, rows, cols)
        # Stretch the picture's own range over the ramp: a grey indoor scene
        # would otherwise print as one or two glyphs.
        lo, hi = np.percentile(means, (2, 98))
        scaled = (means - lo) / max(hi - lo, 1.0)
        levels = (scaled * len(RAMP)).astype(int).clip(0, len(RAMP) - 1)
        grid = [[RAMP[v] for v in row] for row in levels]
    for k, area in enumerate(areas, 1):
        mark = str(k % 10)
        pts = list(area)
        for (x0, y0), (x1, y1) in zip(pts, pts[1:] + pts[:1]):
            # Sample each edge finely enough to touch every cell it crosses.
            steps = int(max(abs(x1 - x0) * cols, abs(y1 - y0) * rows) * 2) + 1
            for i in range(steps + 1):
                t = i / steps
                c = min(cols - 1, max(0, round((x0 + (x1 - x0) * t) * (cols - 1))))
                r = min(rows - 1, max(0, round((y0 + (y1 - y0) * t) * (rows - 1))))
                grid[r][c] = mark
    ruler = [" "] * cols
    for pct in (0, 25, 50, 75, 100):
        text = f"{pct}"
        at = round(pct / 100 * (cols - 1))
        start = min(max(0, at - len(text) // 2), cols - len(text))
        ruler[start:start + len(text)] = text
    label_rows = {round(p / 100 * (rows - 1)): p for p in (0, 25, 50, 75, 100)}
    lines = ["x%  " + " " + "".join(ruler), "y%  +" + "-" * cols + "+"]
    for r, row in enumerate(grid):
        label = f"{label_rows[r]:>3} " if r in label_rows else "    "
        lines.append(f"{label}|{''.join(row)}|")
    lines.append("    +" + "-" * cols + "+")
    return lines


# --------------------------------------------------------------------------- heat map

# The firmware's colour stops (report details.scale.stops) when a report has none.
_DEFAULT_STOPS = ((0.0, (0, 0, 255)), (1 / 3, (0, 200, 0)), (2 / 3, (255, 230, 0)), (1.0, (255, 0, 0)))


def _max_pool(values: np.ndarray, factor: int) -> np.ndarray:
    """Largest of each factor x factor block (NaN ignored; all-NaN blocks stay NaN)."""
    r, c = values.shape
    pr, pc = -r % factor, -c % factor
    padded = np.pad(values, ((0, pr), (0, pc)), constant_values=np.nan)
    blocks = padded.reshape(padded.shape[0] // factor, factor, padded.shape[1] // factor, factor)
    blocks = blocks.transpose(0, 2, 1, 3).reshape(blocks.shape[0], blocks.shape[2], -1)
    out = np.full(blocks.shape[:2], np.nan)
    has = ~np.isnan(blocks).all(axis=2)
    out[has] = np.nanmax(blocks[has], axis=1)
    return out


def _rgb(level: float, stops) -> tuple[float, float, float]:
    ts = [float(t) for t, _ in stops]
    cs = [tuple(float(v) for v in c) for _, c in stops]
    level = min(1.0, max(0.0, level))
    for k in range(len(ts) - 1):
        if level <= ts[k + 1] or k == len(ts) - 2:
            f = 0.0 if ts[k + 1] <= ts[k] else (level - ts[k]) / (ts[k + 1] - ts[k])
            return tuple(a + (b - a) * f for a, b in zip(cs[k], cs[k + 1]))
    return cs[-1]


def xterm_colour(level: float, stops=_DEFAULT_STOPS) -> int:
    """The xterm-256 colour-cube entry nearest the picture's colour at `level`."""
    r, g, b = (min(5, max(0, round(v / 255 * 5))) for v in _rgb(level, stops))
    return 16 + 36 * r + 6 * g + b


def _levels(grid: np.ndarray, scale: dict | None) -> np.ndarray:
    """Per-cell levels 0..1 (NaN: nothing to colour): the firmware's when the report has them."""
    levels = None if scale is None else scale.get("levels")
    if levels is not None:
        lv = np.array([[np.nan if v is None else float(v) for v in row] for row in levels], np.float64)
        if lv.shape == grid.shape:
            return lv
    top = float(grid.max()) if grid.size else 0.0
    return np.where(grid > 0, grid / top if top > 0 else 1.0, np.nan)


def heat_map_lines(values: Any, color: bool, unit: str, scale: dict | None = None) -> list[str]:
    """The space heat map: a block per cell, coloured (or a glyph ramp), and a legend.

    values: rows x cols numbers (a report's `visits` or `dwell_seconds`).
    scale:  the report's `details.scale` (levels per cell, ticks, stops): the
            firmware's colour rule, the one the picture and the workbook use.
    Cells are pooled to at most MAX_CELLS across so the map fits 80 columns;
    a block shows the busiest of its cells (a cell's number, never a sum of
    cells: one person crossing a block would be counted in several of them).
    Blank: nobody, or outside the areas.
    """
    grid = np.asarray(values, dtype=np.float64)
    if grid.ndim != 2 or grid.size == 0:
        return ["(no heat map in this report)"]
    levels = _levels(grid, scale)
    stops = (scale or {}).get("stops") or _DEFAULT_STOPS
    factor = max(1, math.ceil(grid.shape[1] / MAX_CELLS))
    pooled = _max_pool(levels, factor)
    glyphs = RAMP[1:]  # a counted cell is never blank, however low
    lines = ["+" + "--" * pooled.shape[1] + "+"]
    for row in pooled:
        cells = []
        last = None
        for t in row:
            if np.isnan(t):
                code, text = None, "  "
            elif color:
                code, text = xterm_colour(t, stops), "  "
            else:
                code, text = None, glyphs[min(len(glyphs) - 1, int(t * len(glyphs)))] * 2
            if color:
                # Only colour changes are sent: a serial line is slow.
                if code != last:
                    text = (RESET if code is None else f"\x1b[48;5;{code}m") + text
                    last = code
            cells.append(text)
        lines.append("|" + "".join(cells) + (RESET if color else "") + "|")
    lines.append("+" + "--" * pooled.shape[1] + "+")
    if color:
        bar = "".join(f"\x1b[48;5;{xterm_colour(k / 20, stops)}m " for k in range(21)) + RESET
    else:
        bar = glyphs
    labels = (scale or {}).get("labels")
    kind = (scale or {}).get("kind")
    if labels:
        lo, hi = labels[0], labels[-1]
    else:
        nz = grid[grid > 0]
        lo, hi = (_num(nz.min()), _num(nz.max())) if nz.size else ("0", "0")
    how = {"log": ", log scale", "linear": ", linear scale"}.get(kind, "")
    lines.append(f"Legend: {lo} [{bar}] {hi} {unit} in one cell{how}")
    block = f"a block: the busiest of its {factor}x{factor} cells; " if factor > 1 else ""
    lines.append(f"({block}blank: nobody, or outside the areas)")
    return lines


def _num(v: float) -> str:
    v = float(v)
    return f"{v:,.0f}" if v.is_integer() or v >= 100 else f"{v:.1f}"


# --------------------------------------------------------------------------- report tables

def _when(text: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(str(text))
    except ValueError:
        return None


def bucket_label(bucket: dict[str, Any], report_type: str) -> str:
    """The same bucket names as the exported workbook, so screen and file read alike."""
    start = _when(bucket.get("start", ""))
    if start is None:
        return str(bucket.get("start", "?"))
    if report_type == "daily":
        return f"{start:%H:%M}"
    if report_type == "annual":
        return f"{start:%b %Y}"
    return f"{start:%a %d %b}"


def seconds(v: float) -> str:
    """Dwell seconds as the report keeps them (3 decimals), without trailing zeros."""
    text = f"{float(v):.3f}".rstrip("0").rstrip(".")
    return text or "0"


def time_table_lines(report: dict[str, Any], bar_width: int = 34) -> list[str]:
    """The time heat map: a row per bucket with visits, dwell and a bar of the model's metric."""
    metric = "dwell_seconds" if report.get("model") == "dwell" else "visits"
    buckets = report.get("buckets", [])
    top = max((float(b.get(metric, 0) or 0) for b in buckets), default=0.0)
    lines = [f"{'Time':<12} {'Visits':>8} {'Dwell (s)':>10}  {'visits' if metric == 'visits' else 'dwell'}"]
    for b in buckets:
        label = bucket_label(b, report.get("report_type", ""))
        if not b.get("has_data", True):
            lines.append(f"{label:<12} {'-':>8} {'-':>10}  (no data)")
            continue
        v = float(b.get(metric, 0) or 0)
        bar = "#" * (round(v / top * bar_width) if top > 0 else 0)
        lines.append(f"{label:<12} {b.get('visits', 0):>8} {seconds(b.get('dwell_seconds') or 0):>10}  {bar}")
    totals = report.get("totals", {})
    lines.append(f"{'Total':<12} {totals.get('visits', 0):>8} {seconds(totals.get('dwell_seconds') or 0):>10}")
    return lines


# --------------------------------------------------------------------------- status

def status_lines(channels: Sequence[Any]) -> list[str]:
    """Per channel: state, heat map, fps, analysis cost against budget, drops; then its
    areas, the four parameters, the schedule and whether it is counting right now.
    Cost and budget read "-" for a channel that is not analysed (disabled, video loss)."""
    lines = [f"{'Ch':>3} {'Name':<14} {'State':<10} {'Heat':<4} {'FPS':>5} {'Cost/Budget us':>16} {'Load':>5} {'Drops':>6} {'Skip':>5}"]
    for s in channels:
        analysed = s.budget_us > 0
        load = f"{s.median_us / s.budget_us * 100:.0f}%" if analysed else "-"
        cost = f"{s.median_us:.0f}/{s.budget_us:.0f}" if analysed else "-"
        state = s.state.label
        lines.append(
            f"{s.id:>3} {s.name[:14]:<14} {state:<10} {'on' if s.heat_map_enabled else 'off':<4} "
            f"{s.fps:>5.1f} {cost:>16} {load:>5} {s.drops:>6} {s.skipped:>5}"
        )
        params = getattr(s, "parameters", None)
        if params is not None:
            n = getattr(s, "areas", 0)
            counting = "counting now" if getattr(s, "counting", False) else "not counting now"
            lines.append(f"    {n} area{'' if n == 1 else 's'}; sensitivity {params[0]}, update rate {params[1]}, "
                         f"scene change {params[2]}, min size {params[3]}"[:80])
            lines.append(f"    schedule {getattr(s, 'schedule', 'always')}: {counting}"[:80])
        if s.last_error:
            lines.append(f"    {s.last_error[:74]}")
    return lines


def storage_lines(st: Any) -> list[str]:
    """The statistics store's condition (`firmware.service.StorageStatus`): one line, two when failing."""
    if st.state == "ok":
        return ["Storage: OK"]
    since = f" since {st.since:%H:%M:%S}" if st.since else ""
    lost = f", {st.lost_channel_hours} dropped" if st.lost_channel_hours else ""
    return [f"Storage: NOT WRITABLE{since}, {st.held_channel_hours}/{st.max_channel_hours} "
            f"channel-hours held in memory{lost}",
            f"    {st.last_error[-74:]}"]
