"""Dev script: score foreground models on the shared evaluation sequences.

Prints the CDnet F-measure of `vca.background.BackgroundModel` at default
parameters next to two OpenCV baselines measured the same way, and the
per-frame cost of each on the sequence upscaled to 640x360 (one thread). Evaluation data stays in
../shared/data/sequences; nothing here is shipped.

    .venv/bin/python tools/score_foreground.py [--no-opencv] [--no-speed]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests import sequences  # noqa: E402
from vca.background import BackgroundModel  # noqa: E402
from vca.params import HeatMapParams  # noqa: E402

SKIP = 30  # CDnet convention: the first frames are the model's warm-up


def f_measure(fgs, masks) -> float:
    return sequences.score(fgs, masks, SKIP).f_measure


def run_model(frames, fps, params=HeatMapParams()):
    n, h, w = frames.shape
    m = BackgroundModel(h, w)
    m.set_params(params)
    area = np.ones((h, w), np.uint8)
    fg = np.zeros((h, w), np.uint8)
    out = np.empty_like(frames)
    for i in range(n):
        m.apply(frames[i], i / fps, area, fg)
        out[i] = fg
    return out


def run_cv_running_average(frames, alpha=0.01, thr=25):
    import cv2
    k = np.ones((3, 3), np.uint8)
    acc = frames[0].astype(np.float32)
    out = np.empty_like(frames)
    for i, y in enumerate(frames):
        diff = cv2.absdiff(y, cv2.convertScaleAbs(acc))
        _, fg = cv2.threshold(diff, thr, 1, cv2.THRESH_BINARY)
        fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, k)
        cv2.accumulateWeighted(y, acc, alpha, mask=(1 - fg))
        out[i] = fg
    return out


def run_cv_mog2(frames):
    import cv2
    k = np.ones((3, 3), np.uint8)
    mog = cv2.createBackgroundSubtractorMOG2(history=500, varThreshold=16, detectShadows=False)
    out = np.empty_like(frames)
    for i, y in enumerate(frames):
        fg = mog.apply(y)
        out[i] = cv2.morphologyEx((fg > 0).astype(np.uint8), cv2.MORPH_OPEN, k)
    return out


def upscale(frames, n=300):
    """The first n frames resized (bilinear) to 640x360, the analysis size we budget for."""
    from PIL import Image
    return np.stack([np.asarray(Image.fromarray(f).resize((640, 360), Image.BILINEAR))
                     for f in frames[:n]])


def time_ours(big, fps):
    """Per-frame apply cost at 640x360: median, p99 and the model's stage_ns
    medians (model, clean-up), microseconds; warm-up frames left out."""
    m = BackgroundModel(360, 640)
    area = np.ones((360, 640), np.uint8)
    fg = np.zeros((360, 640), np.uint8)
    ts, stages = [], []
    for i, y in enumerate(big):
        t0 = time.perf_counter_ns()
        m.apply(y, i / fps, area, fg)
        ts.append(time.perf_counter_ns() - t0)
        stages.append(m.stage_ns.copy())
    ts = np.array(ts[SKIP:]) / 1e3
    st = np.median(np.array(stages[SKIP:]), axis=0) / 1e3
    return np.median(ts), np.percentile(ts, 99), st


def time_opencv(big):
    """Median microseconds per frame of the two OpenCV pipelines (+ components)."""
    import cv2
    res = {}
    k = np.ones((3, 3), np.uint8)
    acc = big[0].astype(np.float32)
    ts = []
    for y in big:
        t0 = time.perf_counter_ns()
        diff = cv2.absdiff(y, cv2.convertScaleAbs(acc))
        _, f = cv2.threshold(diff, 25, 1, cv2.THRESH_BINARY)
        f = cv2.morphologyEx(f, cv2.MORPH_OPEN, k)
        cv2.accumulateWeighted(y, acc, 0.01, mask=(1 - f))
        cv2.connectedComponentsWithStats(f, connectivity=8)
        ts.append(time.perf_counter_ns() - t0)
    res["cv running avg + open + ccl"] = np.median(ts[SKIP:]) / 1e3
    mog = cv2.createBackgroundSubtractorMOG2(history=500, varThreshold=16, detectShadows=False)
    ts = []
    for y in big:
        t0 = time.perf_counter_ns()
        f = mog.apply(y)
        f = cv2.morphologyEx((f > 0).astype(np.uint8), cv2.MORPH_OPEN, k)
        cv2.connectedComponentsWithStats(f, connectivity=8)
        ts.append(time.perf_counter_ns() - t0)
    res["cv MOG2 + open + ccl"] = np.median(ts[SKIP:]) / 1e3
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-opencv", action="store_true")
    ap.add_argument("--no-speed", action="store_true")
    a = ap.parse_args()
    if reason := sequences.missing():
        sys.exit(reason)
    if not a.no_opencv:
        import cv2
        cv2.setNumThreads(1)
    for name in sequences.NAMES:
        frames, masks, fps = sequences.load(name)
        row = f"{name:15s} ours F={f_measure(run_model(frames, fps), masks):.3f}"
        if not a.no_opencv:
            row += f"  cv-running-avg F={f_measure(run_cv_running_average(frames), masks):.3f}"
            row += f"  cv-MOG2 F={f_measure(run_cv_mog2(frames), masks):.3f}"
        if not a.no_speed:
            big = upscale(frames)
            med, p99, (model, cleanup) = time_ours(big, fps)
            row += (f"\n{'':15s} apply at 640x360: median {med:.1f} us, p99 {p99:.1f} us "
                    f"(model {model:.1f}, clean-up {cleanup:.1f})")
            if not a.no_opencv:
                for k, v in time_opencv(big).items():
                    row += f"\n{'':15s} {k}: {v:.1f} us ({v / med:.1f}x ours)"
        print(row, flush=True)


if __name__ == "__main__":
    main()
