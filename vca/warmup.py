"""Load every kernel the analysis can need before the first frame counts.

Numba compiles (or loads from its cache) a kernel the first time it is
called with a given set of argument types, with the GIL held: milliseconds
per kernel from the cache, seconds when the cache is cold. Some kernels run only
on rare events (a scene change, a parameter change), so without a warm-up
the first light switch of an appliance's life would stall every channel of
the process for that long, and dropped frames would follow on all of them.

`warm_up()` drives a small analyzer through every path (first frame, people
walking, a scene change and its settling, new parameters, drain) with the
frame layouts captures hand out: a decoder plane view (rows strided) and a
contiguous downscaled image.
"""
from __future__ import annotations

import numpy as np

from vca.analyzer import ChannelAnalyzer
from vca.params import HeatMapParams

_H, _W = 48, 64
_AREA = ((0.05, 0.05), (0.95, 0.05), (0.95, 0.95), (0.05, 0.95))


def _frames(n: int, stride_pad: int):
    """(luma, t) of a box walking over a textured floor, then the lights going up."""
    rng = np.random.default_rng(0)
    floor = rng.integers(60, 120, (_H, _W)).astype(np.int16)
    plane = np.zeros((_H, _W + stride_pad), np.uint8)
    luma = plane[:, :_W]  # a view like a decoder's plane when stride_pad > 0
    for k in range(n):
        img = floor.copy()
        if k >= n // 2:
            img += 80  # a scene change: most of the area brighter at once
        x = 4 + (k % 40)
        img[20:36, x:x + 8] = 20
        np.copyto(luma, np.clip(img, 0, 255).astype(np.uint8))
        yield luma, k * 0.04


def warm_up() -> None:
    """Compile or load every analysis kernel for both frame layouts."""
    for stride_pad in (32, 0):
        a = ChannelAnalyzer(_H, _W, grid_columns=8)
        a.configure([_AREA], HeatMapParams())
        for luma, t in _frames(120, stride_pad):
            a.step(luma, t)
        a.configure([_AREA], HeatMapParams(detection_sensitivity=60, minimum_target_size=40))
        for luma, t in _frames(4, stride_pad):
            a.step(luma, 10.0 + t)
        a.drain()
