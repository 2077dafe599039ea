"""Frames from recorded channels for the benchmarks, at the three analysis sizes.

Source, first found: a shared evaluation recording (`../shared/data/sequences`
next to the repo, read in place, never copied into it), else a shipped
sample clip (`data/samples/*.mp4`), else a synthetic clip (people-sized
squares walking over a textured, noisy floor) encoded with libx264 so even
the fallback is a real decoded bitstream. Frames are resized with
FFmpeg's swscale (area filter) through PyAV, so no OpenCV is needed.

    frames_at(width, height)   uint8 (N, H, W) luma, cached per process
    clip_at(width, height, d)  an H.264 mp4 of those frames under d (for decoding)
    SIZES                      {"352x240": (352, 240), "640x360": ..., "1280x720": ...}
    p99_us(benchmark)          p99 of the rounds in microseconds (None when disabled)
    benchmarks_disabled(benchmark)

Used by the benchmark files through plain imports (no conftest: the
benchmark files import what they need from here). Decoding, encoding and
where the recordings are come from the helpers the tests use (tests/clips.py,
tests/sequences.py).
"""
from __future__ import annotations

import functools
import sys
from pathlib import Path

import av
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:      # run from benchmarks/ (README): the shared helpers live in tests/
    sys.path.insert(0, str(ROOT))

from hal.capture import luma_view  # noqa: E402
from tests.clips import decoded_luma, make_clip  # noqa: E402
from tests.sequences import SEQUENCES  # noqa: E402

SAMPLES = ROOT / "data" / "samples"
SIZES = {"352x240": (352, 240), "640x360": (640, 360), "1280x720": (1280, 720)}
N_FRAMES = 150
N_CLIP = 50        # frames in a decode clip: encoding 720p costs ~30 ms a frame
FPS = 25.0


@functools.lru_cache(maxsize=None)
def source_frames(n: int = N_FRAMES) -> tuple[str, np.ndarray]:
    """(where from, uint8 (n', H, W)) luma of one recorded channel at its own size."""
    if SEQUENCES.is_dir():
        # The busiest scene: several people walking.
        for name in ("office_people", "hall_monitor", "ibm_lobby"):
            video = SEQUENCES / name / "input.mp4"
            if video.is_file():
                return f"sequence {name}", _decode(video, n)
    # The sample whose first seconds are busiest: people in view from frame 7.
    for name in ("entrance", "shop_floor", "corridor"):
        video = SAMPLES / f"{name}.mp4"
        if video.is_file():
            return f"sample {video.name}", _decode(video, n)
    return "synthetic", _synthetic(n, 640, 360)


@functools.lru_cache(maxsize=None)
def frames_at(width: int, height: int, n: int = N_FRAMES) -> np.ndarray:
    """uint8 (n', height, width) luma frames of the recorded channel, resized."""
    _, src = source_frames(n)
    if src.shape[1:] == (height, width):
        return src
    out = np.empty((len(src), height, width), np.uint8)
    for i, y in enumerate(src):
        f = av.VideoFrame.from_ndarray(np.ascontiguousarray(y), format="gray")
        g = f.reformat(width=width, height=height, format="gray", interpolation="AREA")
        out[i] = luma_view(g)
    return out


def clip_at(width: int, height: int, directory: Path, n: int = N_CLIP) -> Path:
    """An H.264 (yuv420p, crf 23) mp4 of frames_at(width, height) in `directory` (made once)."""
    path = Path(directory) / f"channel-{width}x{height}-{n}.mp4"
    if path.exists():
        return path
    tmp = path.with_suffix(".part.mp4")
    make_clip(tmp, frames_at(width, height)[:n], fps=int(FPS), options={"crf": "23", "preset": "veryfast"})
    tmp.rename(path)
    return path


def benchmarks_disabled(benchmark) -> bool:
    """True under --benchmark-disable (CI): each body runs once, so keep loops short."""
    return bool(getattr(benchmark, "disabled", False))


def p99_us(benchmark) -> float | None:
    """99th percentile of the benchmark's rounds in microseconds, also stored in extra_info."""
    meta = getattr(benchmark, "stats", None)
    stats = getattr(meta, "stats", None)
    data = getattr(stats, "data", None)
    if not data:
        return None
    p99 = float(np.percentile(np.asarray(data), 99)) * 1e6
    benchmark.extra_info["p99_us"] = round(p99, 1)
    benchmark.extra_info["median_us"] = round(float(np.median(data)) * 1e6, 1)
    return p99


def _decode(path: Path, n: int) -> np.ndarray:
    frames = []
    for luma, _ in decoded_luma(path):
        frames.append(luma.copy())  # the decoder reuses the plane
        if len(frames) >= n:
            break
    return np.stack(frames)


def _synthetic(n: int, width: int, height: int) -> np.ndarray:
    """People-sized dark boxes walking over a textured floor with sensor noise."""
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:height, 0:width]
    floor = (90 + 25 * ((xx // 24 + yy // 24) % 2) + yy * 40 // height).astype(np.int16)
    out = np.empty((n, height, width), np.uint8)
    walkers = [(0.05, 0.55, 3.0, 0.0), (0.9, 0.35, -2.5, 0.5), (0.3, 0.7, 1.5, -0.8)]
    for k in range(n):
        img = floor + rng.normal(0, 2.5, floor.shape).astype(np.int16)
        for x0, y0, vx, vy in walkers:
            x = int((x0 * width + vx * k) % (width - 24))
            y = int(np.clip(y0 * height + vy * k, 0, height - 64))
            img[y:y + 64, x:x + 24] = 40
        out[k] = np.clip(img, 0, 255)
    return out
