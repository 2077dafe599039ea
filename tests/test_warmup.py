"""The boot-time warm-up leaves no analysis kernel to compile while channels run."""
from __future__ import annotations

import numpy as np
from numba.core.registry import CPUDispatcher

from hal.capture import PyAVCapture
from vca import background, blobs, contour, grid, mask, morphology, tracks
from vca.analyzer import ChannelAnalyzer
from vca.params import HeatMapParams
from vca.warmup import warm_up


def signatures() -> dict[str, int]:
    return {f"{m.__name__}.{name}": len(d.signatures)
            for m in (background, blobs, contour, grid, mask, morphology, tracks)
            for name, d in vars(m).items() if isinstance(d, CPUDispatcher)}


def test_after_warm_up_a_scene_change_on_decoded_frames_compiles_nothing(clip):
    rng = np.random.default_rng(1)
    floor = rng.integers(60, 110, (120, 160)).astype(np.int16)
    frames = []
    for k in range(60):
        img = floor + (90 if k >= 40 else 0)       # the lights go up at frame 40
        img[40:90, 20 + 2 * k:40 + 2 * k] = 15      # someone walking
        frames.append(np.clip(img, 0, 255).astype(np.uint8))
    path = clip("lights.mp4", frames, fps=25)
    warm_up()
    before = signatures()
    a = ChannelAnalyzer(120, 160)
    a.configure([((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))], HeatMapParams())
    with PyAVCapture(str(path)) as cap:       # decoder plane views, rows strided
        for _ in frames:
            f = cap.read()
            a.step(f.luma, f.pts)
    a.configure(a._regions_key, HeatMapParams(detection_sensitivity=70))
    a.step(np.ascontiguousarray(frames[-1]), 10.0)  # a downscaled capture hands out contiguous frames
    assert a.drain().scene_changes >= 1                 # the rare path did run
    grown = {k: (before[k], n) for k, n in signatures().items() if n != before[k]}
    assert not grown, f"compiled while running (name: signatures before, after): {grown}"
