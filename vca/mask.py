"""Detection areas rasterised into a per-pixel label image, once per change.

A channel has up to `MAX_AREAS` polygons, each `MIN_POINTS`..`MAX_POINTS`
vertices (x, y) normalised to 0..1 of the picture (x right, y down).

Fill rule: even-odd (crossing number), sampled at pixel centres: pixel
(x, y) is inside polygon P when the point ((x + 0.5) / W, (y + 0.5) / H)
is inside P by the classic PNPOLY test. The kernel evaluates exactly that
comparison at span ends, so it agrees bit for bit with the per-pixel test.

Output: `labels` uint8 (H, W): 0 outside every area, k (1..8) inside area k;
where areas overlap, the lowest k wins. `any_area` uint8 (H, W) 0/1.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from numba import njit

from vca.contracts import describe
from vca.limits import MAX_AREAS, MAX_POINTS, MIN_POINTS


@njit(cache=True, nogil=True)
def _first_at_or_after(c, width):
    """Smallest pixel column x in 0..width with (x + 0.5) / width >= c."""
    x = int(math.ceil(c * width - 0.5))
    if x < 0:
        x = 0
    if x > width:
        x = width
    # The estimate can be one off by rounding; settle it with the exact test.
    while x > 0 and (x - 1 + 0.5) / width >= c:
        x -= 1
    while x < width and (x + 0.5) / width < c:
        x += 1
    return x


@njit(cache=True, nogil=True)
def _fill_polygon(px, py, n, label, cross, labels):
    """Write `label` into the pixels of one polygon that are still 0.

    px, py: float64 (>= n,) normalised vertices; n: vertex count.
    cross:  float64 (>= n,) scratch for the row's edge crossings.
    labels: uint8 (H, W), updated in place (lower labels are never overwritten).
    """
    height, width = labels.shape
    for y in range(height):
        ty = (y + 0.5) / height
        m = 0
        j = n - 1
        for i in range(n):
            if (py[i] > ty) != (py[j] > ty):
                cross[m] = (px[j] - px[i]) * (ty - py[i]) / (py[j] - py[i]) + px[i]
                m += 1
            j = i
        # Insertion sort: at most MAX_POINTS crossings.
        for a in range(1, m):
            v = cross[a]
            b = a - 1
            while b >= 0 and cross[b] > v:
                cross[b + 1] = cross[b]
                b -= 1
            cross[b + 1] = v
        # Inside <=> an odd number of crossings lie strictly right of the
        # pixel centre <=> centre in [cross[2k], cross[2k+1]).
        for k in range(0, m - 1, 2):
            x0 = _first_at_or_after(cross[k], width)
            x1 = _first_at_or_after(cross[k + 1], width)
            for x in range(x0, x1):
                if labels[y, x] == 0:
                    labels[y, x] = label


@njit(cache=True, nogil=True)
def _rasterize(px, py, counts, n_areas, cross, labels, any_area):
    """All areas in order 1..n_areas, then the any-area 0/1 mask.

    px, py: float64 (MAX_AREAS, MAX_POINTS); counts: int64 (MAX_AREAS,).
    labels, any_area: uint8 (H, W), fully overwritten.
    """
    labels[:, :] = 0
    for k in range(n_areas):
        _fill_polygon(px[k], py[k], counts[k], k + 1, cross, labels)
    height, width = labels.shape
    for y in range(height):
        for x in range(width):
            any_area[y, x] = 1 if labels[y, x] != 0 else 0


@njit(cache=True, nogil=True)
def _grow_line(src, margin, dst):
    """dst[i] = 1 where src has a set element within `margin` of i, else 0.

    src, dst: uint8 (N,) any strides (a row or a column of a mask).
    """
    n = src.shape[0]
    far = 1 << 30
    last = -far
    for i in range(n):
        if src[i]:
            last = i
        dst[i] = 1 if i - last <= margin else 0
    nxt = far
    for i in range(n - 1, -1, -1):
        if src[i]:
            nxt = i
        if nxt - i <= margin:
            dst[i] = 1


@njit(cache=True, nogil=True)
def _grow(mask, margin, tmp, out):
    """Square (Chebyshev) dilation by `margin` pixels, separable, O(H*W).

    mask: uint8 (H, W) 0/1; tmp, out: uint8 (H, W) scratch and result.
    A pixel is set when a set pixel lies within `margin` along the row (pass
    1), then within `margin` along the column of that result (pass 2).
    """
    height, width = mask.shape
    for y in range(height):
        _grow_line(mask[y], margin, tmp[y])
    for x in range(width):
        _grow_line(tmp[:, x], margin, out[:, x])


def grow_mask(mask: np.ndarray, margin: int, out: np.ndarray) -> np.ndarray:
    """Grow a 0/1 uint8 (H, W) mask by `margin` pixels in every direction (square) into `out`
    (both any strides)."""
    if (not isinstance(mask, np.ndarray) or not isinstance(out, np.ndarray) or mask.ndim != 2
            or mask.shape != out.shape or mask.dtype != np.uint8 or out.dtype != np.uint8):
        raise ValueError(f"mask is {describe(mask)} and out {describe(out)}: grow_mask needs uint8 (H, W) "
                         "mask and out arrays of the same shape")
    if margin < 0:
        raise ValueError(f"margin {margin}: give 0 or more pixels")
    _grow(mask, int(margin), np.empty_like(mask), out)
    return out


def validate_regions(regions: Sequence[Sequence[tuple[float, float]]]):
    """Check the areas and pack them: returns (px, py, counts) float64/int64 arrays.

    Raises ValueError with one line naming the fix.
    """
    regions = list(regions)
    if len(regions) > MAX_AREAS:
        raise ValueError(f"{len(regions)} detection areas given: a channel has at most {MAX_AREAS}; remove some")
    px = np.zeros((MAX_AREAS, MAX_POINTS))
    py = np.zeros((MAX_AREAS, MAX_POINTS))
    counts = np.zeros(MAX_AREAS, np.int64)
    for k, poly in enumerate(regions):
        pts = list(poly)
        if not MIN_POINTS <= len(pts) <= MAX_POINTS:
            raise ValueError(
                f"area {k + 1} has {len(pts)} points: draw {MIN_POINTS} to {MAX_POINTS} points per area")
        for i, pt in enumerate(pts):
            try:
                x, y = (float(v) for v in pt)
            except (TypeError, ValueError):
                raise ValueError(f"area {k + 1} point {i + 1} is {pt!r}: give points as (x, y) numbers") from None
            if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
                raise ValueError(
                    f"area {k + 1} point {i + 1} ({x}, {y}) is outside the picture: use coordinates 0..1")
            px[k, i], py[k, i] = x, y
        counts[k] = len(pts)
    return px, py, counts


def rasterize_areas(regions: Sequence[Sequence[tuple[float, float]]],
                    labels_out: np.ndarray, any_out: np.ndarray) -> int:
    """Rasterise `regions` into `labels_out` and `any_out` (both uint8 (H, W), any strides); returns the
    area count."""
    for name, arr in (("labels_out", labels_out), ("any_out", any_out)):
        if not isinstance(arr, np.ndarray) or arr.dtype != np.uint8 or arr.ndim != 2:
            raise ValueError(f"{name} must be a uint8 (H, W) array, got {describe(arr)}: pass one at the analysis size")
    if labels_out.shape != any_out.shape:
        raise ValueError(f"labels_out {labels_out.shape} and any_out {any_out.shape} must have the same shape: "
                         "pass both at the analysis size")
    px, py, counts = validate_regions(regions)
    n = int(np.count_nonzero(counts))
    _rasterize(px, py, counts, n, np.zeros(MAX_POINTS), labels_out, any_out)
    return n


def area_labels(regions: Sequence[Sequence[tuple[float, float]]], height: int, width: int):
    """Convenience: new (labels, any_area) uint8 (height, width) arrays for `regions`."""
    labels = np.zeros((height, width), np.uint8)
    any_area = np.zeros((height, width), np.uint8)
    rasterize_areas(regions, labels, any_area)
    return labels, any_area
