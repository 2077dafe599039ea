"""The boot-time warm-up leaves no kernel to load while channels run.

Numba keeps the compiled signatures per process, so each scenario runs in a
fresh interpreter: with the warm-up nothing may load during the run; without
it the same run must load kernels, or the scenario would prove nothing.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]

SCENARIO = r"""
import json, sys
import numpy as np
from numba.core.registry import CPUDispatcher
from hal import downscale
from hal.capture import PyAVCapture
from hal.errors import SourceEnded
from vca import background, bits, blobs, contour, grid, mask, morphology, tracks
from vca.analyzer import ChannelAnalyzer
from vca.params import HeatMapParams
from firmware.channel import load_kernels

def signatures():
    return {f"{m.__name__}.{n}": len(d.signatures)
            for m in (background, bits, blobs, contour, grid, mask, morphology, tracks, downscale)
            for n, d in vars(m).items() if isinstance(d, CPUDispatcher)}

path, warm = sys.argv[1], sys.argv[2] == "1"
if warm:
    load_kernels()  # what boot and every worker process run
before = signatures()
scene_changes = 0
for width in (None, 80):                   # a plane view at full size, a downscaled image
    with PyAVCapture(path, analysis_width=width) as cap:
        f = cap.read()
        a = ChannelAnalyzer(*f.luma.shape)
        a.configure([((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))], HeatMapParams())
        while True:
            a.step(f.luma, f.pts)
            try:
                f = cap.read()
            except SourceEnded:
                break
    a.configure(a._regions_key, HeatMapParams(detection_sensitivity=70))
    a.step(f.luma, 10.0)
    scene_changes += a.drain().scene_changes
grown = {k: n for k, n in signatures().items() if n != before[k]}
print(json.dumps({"grown": grown, "scene_changes": scene_changes}))
"""


def run(path: Path, warm: bool) -> dict:
    done = subprocess.run([sys.executable, "-c", SCENARIO, str(path), "1" if warm else "0"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_after_warm_up_a_scene_change_on_decoded_frames_loads_nothing(clip):
    rng = np.random.default_rng(1)
    floor = rng.integers(60, 110, (120, 160)).astype(np.int16)
    frames = []
    for k in range(60):
        img = floor + (90 if k >= 40 else 0)       # the lights go up at frame 40
        img[40:90, 20 + 2 * k:40 + 2 * k] = 15      # someone walking
        frames.append(np.clip(img, 0, 255).astype(np.uint8))
    path = clip("lights.mp4", frames, fps=25)
    cold = run(path, warm=False)
    assert cold["scene_changes"] >= 2 and cold["grown"]   # the run does reach kernels a boot must load
    warm = run(path, warm=True)
    assert warm["scene_changes"] == cold["scene_changes"]
    assert warm["grown"] == {}, f"loaded while channels ran (kernel: signatures added): {warm['grown']}"
