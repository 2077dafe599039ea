"""Expected area visits and dwell time, computed from a sample clip's ground truth.

Pure Python on purpose: this is the slow, obvious reference the firmware's
counts are checked against, so it shares no code with `vca/` or `firmware/`.

Conventions (also in data/samples/README.md):
- footprint of a box [x0, y0, x1, y1] (x1, y1 exclusive) is the pixel
  column (x0 + x1) // 2 on row y1 - 1, the bottom centre;
- a footprint is inside an area when its pixel centre (col + 0.5, row + 0.5)
  is inside the polygon scaled to the frame, by the even-odd rule;
- a target counts one visit when its footprint enters the area, and another
  when it re-enters more than 1.0 s after its last frame inside (frames
  where it is not visible count as outside);
- dwell is the number of (target, frame) footprints inside, divided by fps.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

REENTRY_GAP_S = 1.0


def load_truth(path: str | Path) -> dict:
    """Read a NAME.truth.json written by data/make_samples.py."""
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def footprint(box: Sequence[int]) -> tuple[int, int]:
    """Footprint pixel (col, row) of a box [x0, y0, x1, y1] (or [frame, x0, y0, x1, y1])."""
    x0, _, x1, y1 = box[-4:]
    return (x0 + x1) // 2, y1 - 1


def inside(px: float, py: float, poly: Sequence[tuple[float, float]]) -> bool:
    """Even-odd rule: is (px, py) inside the polygon `poly` (same units)?"""
    result = False
    n = len(poly)
    for i in range(n):
        xa, ya = poly[i]
        xb, yb = poly[(i + 1) % n]
        # Count edges crossed by the ray to the right of the point; the
        # half-open test on y makes a ray through a vertex count it once.
        if (ya > py) != (yb > py):
            x_cross = xa + (py - ya) * (xb - xa) / (yb - ya)
            if px < x_cross:
                result = not result
    return result


def inside_frames(truth: dict, target: dict, region: Sequence[Sequence[float]]) -> list[int]:
    """Frames where `target`'s footprint is inside the normalised `region`."""
    w, h = truth["width"], truth["height"]
    poly = [(x * w, y * h) for x, y in region]
    frames = []
    for box in target["boxes"]:
        col, row = footprint(box)
        if inside(col + 0.5, row + 0.5, poly):
            frames.append(box[0])
    return frames


def area_truth(
    truth: dict,
    region: Sequence[Sequence[float]],
    start: int = 0,
    stop: int | None = None,
) -> tuple[int, float]:
    """(visits, dwell_seconds) in `region` over frames start <= f < stop.

    region: polygon of (x, y) points normalised to 0..1 of the frame.
    """
    fps = truth["fps"]
    stop = truth["frames"] if stop is None else stop
    gap = REENTRY_GAP_S * fps
    visits = 0
    dwell_frames = 0
    for target in truth["targets"]:
        last = None
        for f in inside_frames(truth, target, region):
            if not start <= f < stop:
                continue
            if last is None or f - last > gap:
                visits += 1
            last = f
            dwell_frames += 1
    return visits, dwell_frames / fps
