"""Foreground accuracy and cost on recorded sequences, ours next to the baselines.

A sequence directory holds a video PyAV opens (`input.*`, else the one
other file there) and `groundtruth.npz` whose `masks` array is N x H x W
uint8 (0 background, 255 foreground, 170 ignore), optionally `meta.yaml`
with `fps` (else the stream's rate is used).

The video is decoded once through the HAL (`hal.capture.PyAVCapture`,
pacing "max") into memory, then each pipeline runs over the same frames in
turn -- ours (`vca.analyzer.ChannelAnalyzer`, the whole frame as one area)
and, when OpenCV is installed, both `baselines` -- so one pipeline's state
does not evict another's from the caches while it is being timed. Each
frame's cleaned foreground is scored against its mask (`scoring`, frames
before the warm-up not scored); us_per_frame is the median cost of a whole
step (model, clean-up, blobs, tracks, grid for ours; model, opening,
components for the baselines).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from firmware.bench.scoring import DEFAULT_WARMUP, Confusion
from vca.params import HeatMapParams

WHOLE_FRAME = (((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)),)
GROUND_TRUTH = "groundtruth.npz"
META = "meta.yaml"


class SequenceError(ValueError):
    """A sequence directory that cannot be scored; the message names the fix."""


@dataclass(slots=True)
class PipelineScore:
    f_measure: float
    precision: float
    recall: float
    us_per_frame: float

    def as_dict(self) -> dict[str, float]:
        return {"f_measure": self.f_measure, "precision": self.precision, "recall": self.recall,
                "us_per_frame": self.us_per_frame}


@dataclass(slots=True)
class SequenceResult:
    sequence: str
    frames: int                     # frames decoded and analysed
    scored: int                     # frames scored (after the warm-up, with a mask)
    width: int
    height: int
    ours: PipelineScore
    baselines: dict[str, PipelineScore] = field(default_factory=dict)

    def as_json(self) -> dict:
        """The `nvr bench accuracy --json` line: exactly these keys."""
        return {"sequence": self.sequence, **self.ours.as_dict(),
                "baselines": {k: v.as_dict() for k, v in self.baselines.items()}}


@dataclass(slots=True)
class Sequence:
    name: str
    video: Path
    masks: np.ndarray   # uint8 (N, H, W)
    fps: float | None   # from meta.yaml; None: the stream's


def open_sequence(directory: str | Path) -> Sequence:
    """Check a sequence directory and load its ground truth; raises SequenceError."""
    d = Path(directory)
    if not d.is_dir():
        raise SequenceError(f"{d}: not a directory; give a sequence directory holding a video and {GROUND_TRUTH}")
    gt = d / GROUND_TRUTH
    if not gt.is_file():
        raise SequenceError(f"{d}: no {GROUND_TRUTH}; a sequence needs per-frame masks in it (array 'masks')")
    try:
        with np.load(gt) as z:
            masks = z["masks"]
    except KeyError:
        raise SequenceError(f"{gt}: has no array 'masks'; save the N x H x W uint8 masks under that name") from None
    except Exception as exc:
        raise SequenceError(f"{gt}: unreadable ({type(exc).__name__}); rewrite it with numpy.savez") from None
    if masks.ndim != 3 or masks.dtype != np.uint8 or masks.shape[0] == 0:
        raise SequenceError(f"{gt}: 'masks' is {masks.dtype} {masks.shape}; it must be N x H x W uint8 "
                            "(0 background, 255 foreground, 170 ignore)")
    candidates = sorted(p for p in d.iterdir() if p.is_file() and p.name not in (GROUND_TRUTH, META))
    inputs = [p for p in candidates if p.stem == "input"]
    if inputs:
        video = inputs[0]
    elif len(candidates) == 1:
        video = candidates[0]
    else:
        raise SequenceError(f"{d}: cannot tell which file is the video; name it input.mp4")
    return Sequence(d.name, video, masks, _meta_fps(d / META))


def _meta_fps(path: Path) -> float | None:
    if not path.is_file():
        return None
    import yaml
    try:
        meta = yaml.safe_load(path.read_text()) or {}
        fps = float(meta["fps"]) if isinstance(meta, dict) and "fps" in meta else None
    except (yaml.YAMLError, TypeError, ValueError):
        raise SequenceError(f"{path}: unreadable; fix it or remove it to use the stream's frame rate") from None
    if fps is not None and not 0 < fps <= 1000:
        raise SequenceError(f"{path}: fps {fps:g} is not a frame rate; give 1..1000")
    return fps


def decode(seq: Sequence, skip_loop_filter: str = "none") -> tuple[np.ndarray, float]:
    """All frames' luma (N, H, W) uint8 through the HAL, and the frame rate (decoded as a
    channel with that `skip_loop_filter` setting decodes)."""
    from hal.capture import PyAVCapture
    from hal.errors import CaptureError, SourceEnded

    frames: list[np.ndarray] = []
    cap = PyAVCapture(str(seq.video), pacing="max", skip_loop_filter=skip_loop_filter)
    try:
        info = cap.open()
        while True:
            try:
                f = cap.read()
            except SourceEnded:
                break
            frames.append(f.luma.copy())  # the view dies with the next read
    except CaptureError as exc:
        raise SequenceError(f"{seq.video}: {exc}") from None
    finally:
        cap.close()
    if not frames:
        raise SequenceError(f"{seq.video}: no frames decoded; check the video")
    h, w = frames[0].shape
    if seq.masks.shape[1:] != (h, w):
        raise SequenceError(f"{seq.video}: frames are {w}x{h} but the masks are "
                            f"{seq.masks.shape[2]}x{seq.masks.shape[1]}; give masks at the video's size")
    return np.stack(frames), seq.fps or info.fps


def run_pipeline(step: Callable[[np.ndarray, float], object], foreground: np.ndarray, frames: np.ndarray,
                 masks: np.ndarray, fps: float, warmup: int,
                 tick: Callable[[], None] | None = None) -> tuple[PipelineScore, int]:
    """Step a pipeline over every frame, timing steps and scoring `foreground` after each."""
    conf = Confusion()
    cost = np.zeros(len(frames), np.int64)
    for i in range(len(frames)):
        t0 = time.perf_counter_ns()
        step(frames[i], i / fps)
        cost[i] = time.perf_counter_ns() - t0
        if warmup <= i < len(masks):
            conf.add(foreground, masks[i])
        if tick is not None:
            tick()
    # The first steps load compiled code and initialise models: not a frame's cost.
    settled = cost[min(warmup, len(cost) // 2):]
    us = float(np.median(settled)) / 1e3
    return PipelineScore(conf.f_measure, conf.precision, conf.recall, us), conf.frames


def evaluate(seq: Sequence, params: HeatMapParams = HeatMapParams(), warmup: int = DEFAULT_WARMUP,
             baselines: bool = True, tick: Callable[[], None] | None = None,
             skip_loop_filter: str = "none") -> SequenceResult:
    """Score ours (and the baselines when `baselines` and OpenCV is installed) on one sequence.

    tick() is called once per frame per pipeline (for a progress bar).
    """
    from vca.analyzer import ChannelAnalyzer

    frames, fps = decode(seq, skip_loop_filter)
    n, h, w = frames.shape
    analyzer = ChannelAnalyzer(h, w)
    analyzer.configure(WHOLE_FRAME, params)
    ours, scored = run_pipeline(analyzer.step, analyzer.foreground, frames, seq.masks, fps, warmup, tick)
    result = SequenceResult(seq.name, n, scored, w, h, ours)
    if baselines:
        from firmware.bench.baselines import make_baselines
        for name, pipe in make_baselines(h, w).items():
            result.baselines[name], _ = run_pipeline(pipe.step, pipe.foreground, frames, seq.masks, fps,
                                                     warmup, tick)
    return result


def summarize(results: list[SequenceResult]) -> dict:
    """Mean F per pipeline and on how many sequences ours is at least the best baseline."""
    if not results:
        return {"sequences": 0}
    names = sorted({k for r in results for k in r.baselines})
    mean_f = {"ours": float(np.mean([r.ours.f_measure for r in results]))}
    mean_us = {"ours": float(np.mean([r.ours.us_per_frame for r in results]))}
    for k in names:
        have = [r.baselines[k] for r in results if k in r.baselines]
        mean_f[k] = float(np.mean([s.f_measure for s in have]))
        mean_us[k] = float(np.mean([s.us_per_frame for s in have]))
    at_least = sum(1 for r in results
                   if r.baselines and r.ours.f_measure >= max(s.f_measure for s in r.baselines.values()))
    return {"sequences": len(results), "mean_f_measure": mean_f, "mean_us_per_frame": mean_us,
            "ours_at_least_best_baseline": at_least if names else None}
