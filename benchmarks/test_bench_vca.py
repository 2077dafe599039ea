"""Per-stage and whole-step cost of the VCA, and the OpenCV baselines, on the same frames.

Frames come from a recorded channel (`frames.py`) at 352x240, 640x360 and
1280x720. A *trace* is made first by running the real ChannelAnalyzer over
them (so the model has learned the scene and the foreground holds real
people); each stage is then timed alone on the inputs it saw in that run:

    model      BackgroundModel.apply (model pass + its packed 3x3 clean-up)
    cleanup    Cleaner.clean of the raw mask (3x3 open + close, incl. pack/unpack)
    blobs      BlobFinder.find on the cleaned foreground (packs the bytes, then labels)
    blobs_bits BlobFinder.find_bits on the packed foreground (the analyzer's path)
    tracks     Tracker.update on those blobs
    grid       GridAccumulator.accumulate on those tracks
    step       ChannelAnalyzer.step: everything, as the firmware calls it
               (extra_info also has the per-stage medians from stage_ns)

Frames are replayed forwards then backwards (ping-pong) so no round sees a
jump cut. Each round is one frame; median and p99 (extra_info) are per
frame. `test_speed_ratio` prints whole step vs running average vs MOG2 on
the same 640x360 frames and checks ours is the fastest.

Under --benchmark-disable (CI) every body runs once on a short trace, about
10 s in all. `make bench` runs them for real. OpenCV benchmarks skip with a
message when the `bench` extra is not installed.
"""
from __future__ import annotations

import time

import numpy as np
import pytest

from frames import SIZES, benchmarks_disabled, frames_at, p99_us, source_frames
from vca.analyzer import STAGE_NAMES, ChannelAnalyzer
from vca.background import BackgroundModel
from vca.bits import pack
from vca.blobs import BlobFinder, min_target_pixels
from vca.grid import GridAccumulator
from vca.morphology import Cleaner
from vca.params import HeatMapParams
from vca.tracks import Tracker

FPS = 25.0
AREA = (((0.02, 0.02), (0.98, 0.02), (0.98, 0.98), (0.02, 0.98)),)
TRACE_WARMUP = 30  # frames the model learns the scene before anything is timed
ROUNDS = {"352x240": 600, "640x360": 400, "1280x720": 150}
CV_MISSING = "OpenCV baselines need the bench extra: pip install 'nvr-heatmap[bench]'"


def ping_pong(n: int):
    """Frame indices 0..n-1, n-2..1, 0.. forever: motion never jumps."""
    order = list(range(n)) + list(range(n - 2, 0, -1))
    k = 0
    while True:
        yield order[k % len(order)]
        k += 1


class Trace:
    """What each stage saw, frame by frame, in one real analyzer run."""

    def __init__(self, size: str):
        w, h = SIZES[size]
        self.frames = frames_at(w, h)
        self.h, self.w = h, w
        a = ChannelAnalyzer(h, w)
        a.configure(AREA, HeatMapParams())
        self.labels = a.labels.copy()
        self.area = a.any_area.copy()
        self.min_pixels = min_target_pixels(50, h, w)
        self.fg, self.raw, self.stats, self.tr, self.trf, self.now = [], [], [], [], [], []
        for i, y in enumerate(self.frames):
            a.step(y, i / FPS)
            if i < TRACE_WARMUP:
                continue
            self.fg.append(a.foreground.copy())
            # Raw (uncleaned) mask for the clean-up stage: a plain threshold
            # on the learned background, as noisy as a model's raw output.
            self.raw.append((np.abs(y.astype(np.int16) - a.background) > 12).astype(np.uint8))
            n = a.blobs.count
            self.stats.append(a.blobs.stats[:n].copy())
            self.tr.append(a.tracker.tr.copy())
            self.trf.append(a.tracker.trf.copy())
            self.now.append(a.now)
        self.n = len(self.fg)


_traces: dict[str, Trace] = {}


def trace(size: str) -> Trace:
    if size not in _traces:
        _traces[size] = Trace(size)
    return _traces[size]


def rounds(benchmark, size: str) -> int:
    return 1 if benchmarks_disabled(benchmark) else ROUNDS[size]


def info(benchmark, size: str) -> None:
    benchmark.extra_info["frames"] = source_frames()[0]
    benchmark.extra_info["size"] = size


@pytest.mark.parametrize("size", list(SIZES))
def test_model(benchmark, size):
    tr = trace(size)
    model = BackgroundModel(tr.h, tr.w)
    fg = np.zeros((tr.h, tr.w), np.uint8)
    order = ping_pong(len(tr.frames))
    clock = iter(range(10**9))
    for _ in range(TRACE_WARMUP):
        model.apply(tr.frames[next(order)], next(clock) / FPS, tr.area, fg)

    def one():
        return model.apply(tr.frames[next(order)], next(clock) / FPS, tr.area, fg)

    benchmark.pedantic(one, rounds=rounds(benchmark, size), warmup_rounds=0)
    info(benchmark, size)
    p99_us(benchmark)
    assert fg.any(), "the model found no foreground on frames with people in them"


@pytest.mark.parametrize("size", list(SIZES))
def test_cleanup(benchmark, size):
    tr = trace(size)
    cleaner = Cleaner(tr.h, tr.w)
    out = np.zeros((tr.h, tr.w), np.uint8)
    order = ping_pong(tr.n)
    benchmark.pedantic(lambda: cleaner.clean(tr.raw[next(order)], out), rounds=rounds(benchmark, size))
    info(benchmark, size)
    p99_us(benchmark)
    assert out.sum() <= tr.raw[0].sum() * 2 + tr.h * tr.w // 10  # sanity: cleaning did not flood


@pytest.mark.parametrize("size", list(SIZES))
def test_blobs(benchmark, size):
    tr = trace(size)
    finder = BlobFinder(tr.h, tr.w)
    order = ping_pong(tr.n)

    def setup():
        finder.image[...] = tr.fg[next(order)]  # not timed: the model writes it in place

    counts = []
    benchmark.pedantic(lambda: counts.append(finder.find(tr.min_pixels)), setup=setup,
                       rounds=rounds(benchmark, size))
    info(benchmark, size)
    p99_us(benchmark)
    assert max(counts) >= 1, "no blob found on frames with people in them"


@pytest.mark.parametrize("size", list(SIZES))
def test_blobs_bits(benchmark, size):
    tr = trace(size)
    finder = BlobFinder(tr.h, tr.w)
    bits = [pack(fg) for fg in tr.fg]  # packed as the model keeps it; not timed
    order = ping_pong(tr.n)
    seen = []

    def one():
        i = next(order)
        seen.append((i, finder.find_bits(tr.min_pixels, bits[i])))

    benchmark.pedantic(one, rounds=rounds(benchmark, size))
    info(benchmark, size)
    p99_us(benchmark)
    i, n = seen[-1]
    assert np.array_equal(finder.stats[:n], tr.stats[i]), "packed and byte foreground gave different blobs"


@pytest.mark.parametrize("size", list(SIZES))
def test_tracks(benchmark, size):
    tr = trace(size)
    tracker = Tracker()
    k = iter(range(10**9))

    def one():
        i = next(k)
        # Replay forwards with time running on: every round is the next frame.
        return tracker.update(tr.stats[i % tr.n], len(tr.stats[i % tr.n]), i / FPS)

    benchmark.pedantic(one, rounds=rounds(benchmark, size))
    info(benchmark, size)
    p99_us(benchmark)


@pytest.mark.parametrize("size", list(SIZES))
def test_grid(benchmark, size):
    tr = trace(size)
    grid = GridAccumulator(tr.h, tr.w)
    k = iter(range(10**9))

    def one():
        i = next(k) % tr.n
        return grid.accumulate(tr.tr[i], tr.trf[i], tr.labels, tr.now[i], 1.0)

    benchmark.pedantic(one, rounds=rounds(benchmark, size))
    info(benchmark, size)
    p99_us(benchmark)


@pytest.mark.parametrize("size", list(SIZES))
def test_step(benchmark, size):
    tr = trace(size)
    a = ChannelAnalyzer(tr.h, tr.w)
    a.configure(AREA, HeatMapParams())
    order = ping_pong(len(tr.frames))
    clock = iter(range(10**9))
    for _ in range(TRACE_WARMUP):
        a.step(tr.frames[next(order)], next(clock) / FPS)
    stages = []
    benchmark.pedantic(lambda: a.step(tr.frames[next(order)], next(clock) / FPS),
                       teardown=lambda: stages.append(a.stage_ns.copy()), rounds=rounds(benchmark, size))
    info(benchmark, size)
    p99_us(benchmark)
    # Disabled mode runs the body once without teardown: take that frame's split.
    med = np.median(np.array(stages or [a.stage_ns]), axis=0) / 1e3
    for name, us in zip(STAGE_NAMES, med):
        benchmark.extra_info[f"{name}_us"] = round(float(us), 1)
    assert a.drain().analysed_seconds > 0


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("name", ["mog2", "running_average"])
def test_baseline(benchmark, size, name):
    pytest.importorskip("cv2", reason=CV_MISSING)
    from firmware.bench.baselines import make_baselines

    tr = trace(size)
    pipe = make_baselines(tr.h, tr.w)[name]
    order = ping_pong(len(tr.frames))
    for _ in range(TRACE_WARMUP):
        pipe.step(tr.frames[next(order)], 0.0)
    benchmark.pedantic(lambda: pipe.step(tr.frames[next(order)], 0.0), rounds=rounds(benchmark, size))
    info(benchmark, size)
    p99_us(benchmark)
    assert pipe.foreground.any()


def median_cost_us(step, frames, n: int) -> float:
    order = ping_pong(len(frames))
    for i in range(TRACE_WARMUP):
        step(frames[next(order)], i / FPS)
    cost = np.empty(n)
    for i in range(n):
        t0 = time.perf_counter_ns()
        step(frames[next(order)], (TRACE_WARMUP + i) / FPS)
        cost[i] = time.perf_counter_ns() - t0
    return float(np.median(cost)) / 1e3


def test_speed_ratio(benchmark, request):
    """Whole step vs OpenCV running average vs MOG2, same 640x360 frames, one thread each."""
    pytest.importorskip("cv2", reason=CV_MISSING)
    from firmware.bench.baselines import make_baselines

    w, h = SIZES["640x360"]
    frames = frames_at(w, h)
    n = 40 if benchmarks_disabled(benchmark) else 400
    a = ChannelAnalyzer(h, w)
    a.configure(AREA, HeatMapParams())
    base = make_baselines(h, w)
    res = {}

    def measure():
        res["ours"] = median_cost_us(a.step, frames, n)
        for k, p in base.items():
            res[k] = median_cost_us(p.step, frames, n)

    benchmark.pedantic(measure, rounds=1)
    ra, mog = res["running_average"] / res["ours"], res["mog2"] / res["ours"]
    benchmark.extra_info.update({f"{k}_us": round(v, 1) for k, v in res.items()})
    benchmark.extra_info.update(running_average_ratio=round(ra, 2), mog2_ratio=round(mog, 2))
    line = (f"640x360 median per frame: ours {res['ours']:.0f} us (target < 150), running average "
            f"{res['running_average']:.0f} us = {ra:.1f}x ours (target >= 5x), MOG2 {res['mog2']:.0f} us = "
            f"{mog:.1f}x ours (target >= 10x)")
    reporter = request.config.pluginmanager.getplugin("terminalreporter")
    if reporter is not None:
        reporter.write_line("\n" + line)
    assert ra > 1 and mog > 1, f"a baseline is faster than our whole step: {line}"
