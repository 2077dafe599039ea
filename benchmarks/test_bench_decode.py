"""Decode to luma: the capture card's cost per frame, one decoding thread.

`hal.capture.PyAVCapture.read()` on an H.264 clip of a recorded channel
(crf 23, made once per session by `frames.clip_at`) at 352x240, 640x360 and
1280x720, looped, decoder_threads=1 as the firmware runs it with many
channels; plus 1280x720 analysed at 640 wide (the integer area downscale
the firmware applies to a main stream). Each round is one frame; extra_info
has median and p99 in microseconds.

Under --benchmark-disable each body reads one frame; the clips are encoded
once per session (about 2 s in all).
"""
from __future__ import annotations

import pytest

from frames import SIZES, benchmarks_disabled, clip_at, p99_us
from hal.capture import PyAVCapture

ROUNDS = {"352x240": 600, "640x360": 400, "1280x720": 200}


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("decode")
    return {size: clip_at(w, h, d) for size, (w, h) in SIZES.items()}


@pytest.mark.parametrize("size,analysis_width", [(s, None) for s in SIZES] + [("1280x720", 640)])
def test_decode_to_luma(benchmark, clips, size, analysis_width):
    cap = PyAVCapture(str(clips[size]), loop=True, pacing="max", decoder_threads=1,
                      analysis_width=analysis_width)
    info = cap.open()
    try:
        for _ in range(5):  # past the first keyframe and decoder start-up
            cap.read()
        seen = []
        benchmark.pedantic(lambda: seen.append(cap.read().luma.shape),
                           rounds=1 if benchmarks_disabled(benchmark) else ROUNDS[size])
    finally:
        cap.close()
    benchmark.extra_info.update(size=size, analysis=f"{info.analysis_width}x{info.analysis_height}")
    p99_us(benchmark)
    w = analysis_width or SIZES[size][0]
    assert seen[-1][1] == w


def test_skip_loop_filter_ratio(benchmark, clips):
    """Decode cost per frame of each `skip_loop_filter` level against `none`, same run: the
    640x360 clip decoded in full with each level in turn, interleaved rounds, thread CPU time
    (so time other processes take is not billed), medians; ratios in extra_info."""
    import time

    import numpy as np

    from hal.frame import SKIP_LOOP_FILTER

    levels = [lv for lv in SKIP_LOOP_FILTER if lv != "default"]
    quick = benchmarks_disabled(benchmark)
    rounds = 1 if quick else 9
    cost = {lv: [] for lv in levels}
    frames = {}

    def measure():
        for _ in range(rounds):
            for lv in levels:
                with PyAVCapture(str(clips["640x360"]), pacing="max", decoder_threads=1,
                                 skip_loop_filter=lv) as cap:
                    n, t0 = 0, time.thread_time_ns()
                    try:
                        while True:
                            cap.read()
                            n += 1
                    except Exception:  # SourceEnded: the clip is decoded
                        pass
                    cost[lv].append((time.thread_time_ns() - t0) / 1e3 / max(n, 1))
                    frames[lv] = n

    benchmark.pedantic(measure, rounds=1)
    med = {lv: float(np.median(c)) for lv, c in cost.items()}
    benchmark.extra_info.update({f"{lv}_us": round(v, 1) for lv, v in med.items()})
    benchmark.extra_info.update({f"{lv}_ratio": round(v / med["none"], 3) for lv, v in med.items()})
    assert len(set(frames.values())) == 1, frames  # every level decodes every frame
    if not quick:
        assert med["all"] < med["none"], med  # the setting reaches the decoder
