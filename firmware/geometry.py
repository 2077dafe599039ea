"""Detection-area polygons: the checks an installer's drawing must pass.

Points are (x, y) normalised to 0..1 of the frame. A valid area has 3..10
points inside the frame, a non-zero area and no two edges crossing.
Used by the configuration file loader and the console alike, so both refuse
the same drawings with the same reason.

Areas together (`check_areas`): where areas overlap, the lowest-numbered
counts (`vca.mask`). So an area lying wholly inside a lower-numbered one
would count nothing; that set of areas is refused, naming both. An area
that partly overlaps a lower-numbered one is accepted with a warning that
says which share of it counts for the other.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vca.limits import MAX_POINTS, MIN_POINTS
# Smaller than one pixel at 1920x1080: a sliver nobody drew on purpose.
MIN_AREA = 1e-6

Point = tuple[float, float]
# Sample points per side for the overlap check: finer than one pixel of a 320x180 sub-stream.
OVERLAP_SAMPLES = 400


def polygon_problem(points: Sequence[Point]) -> str | None:
    """Why `points` is not a usable detection area, or None when it is."""
    n = len(points)
    if n < MIN_POINTS:
        return f"an area needs at least {MIN_POINTS} points, got {n}"
    if n > MAX_POINTS:
        return f"an area has at most {MAX_POINTS} points, got {n}"
    for i, (x, y) in enumerate(points):
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            return f"point {i + 1} ({x:g}, {y:g}) is outside the frame (0..1)"
    for i in range(n):
        for j in range(i + 1, n):
            # Neighbouring edges share a vertex; that is not a crossing.
            if j == i + 1 or (i == 0 and j == n - 1):
                continue
            if _segments_intersect(points[i], points[(i + 1) % n], points[j], points[(j + 1) % n]):
                return f"edges {i + 1} and {j + 1} cross (the area is self-intersecting)"
    if abs(_signed_area(points)) < MIN_AREA:
        return "the area is degenerate (its points are on one line or repeated)"
    return None


def _signed_area(points: Sequence[Point]) -> float:
    s = 0.0
    for (x0, y0), (x1, y1) in zip(points, list(points[1:]) + [points[0]]):
        s += x0 * y1 - x1 * y0
    return s / 2.0


def _orient(a: Point, b: Point, c: Point) -> float:
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])


def _on_segment(a: Point, b: Point, p: Point) -> bool:
    return min(a[0], b[0]) <= p[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= p[1] <= max(a[1], b[1])


def _segments_intersect(p1: Point, p2: Point, q1: Point, q2: Point) -> bool:
    d1, d2 = _orient(q1, q2, p1), _orient(q1, q2, p2)
    d3, d4 = _orient(p1, p2, q1), _orient(p1, p2, q2)
    if ((d1 > 0) != (d2 > 0)) and ((d3 > 0) != (d4 > 0)) and d1 and d2 and d3 and d4:
        return True
    # Touching or collinear overlap also makes the outline ambiguous.
    return (
        (d1 == 0 and _on_segment(q1, q2, p1))
        or (d2 == 0 and _on_segment(q1, q2, p2))
        or (d3 == 0 and _on_segment(p1, p2, q1))
        or (d4 == 0 and _on_segment(p1, p2, q2))
    )


def _inside(points: Sequence[Point], x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Even-odd test of sample points against one polygon (the rasteriser's rule)."""
    inside = np.zeros(x.shape, bool)
    n = len(points)
    for i in range(n):
        (xi, yi), (xj, yj) = points[i], points[i - 1]
        if yi == yj:
            continue
        crosses = (yi > y) != (yj > y)
        at = (xj - xi) * (y - yi) / (yj - yi) + xi
        inside ^= crosses & (x < at)
    return inside


def check_areas(regions: Sequence[Sequence[Point]]) -> tuple[str | None, list[str]]:
    """(why these areas are refused or None, warnings) for a channel's areas in order.

    Each area must own part of the frame: where areas overlap the lowest
    number counts, so an area wholly inside lower-numbered ones counts
    nothing and is refused. A partial overlap is a warning.
    """
    u = (np.arange(OVERLAP_SAMPLES) + 0.5) / OVERLAP_SAMPLES
    x, y = np.meshgrid(u, u)
    taken = np.zeros(x.shape, np.int8)  # 0: free, k: area k counts there
    warnings: list[str] = []
    for k, poly in enumerate(regions, 1):
        mine = _inside(poly, x, y)
        total = int(mine.sum())
        if total == 0:
            continue  # too small to sample; polygon_problem judges single areas
        under = taken[mine]
        lower = under[under > 0]
        if lower.size:
            counts = np.bincount(lower, minlength=k)
            j = int(np.argmax(counts))
            if lower.size == total:
                others = sorted(int(a) for a in np.unique(lower))
                names = " and ".join(f"area {a}" for a in others)
                return (f"area {k} lies inside {names}: where areas overlap the lower-numbered one counts, "
                        f"so area {k} would count nothing; draw it elsewhere or delete {names} first"), warnings
            share = round(100 * lower.size / total)
            warnings.append(f"area {k} overlaps area {j}: {max(1, share)} % of area {k} counts for area {j} only")
        taken[mine & (taken == 0)] = k
    return None, warnings
