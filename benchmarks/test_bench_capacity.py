"""Channel capacity and memory: the firmware's own channels, measured against decode-only.

    test_throughput        N channels at full speed through Channel + CaptureInput
                           + PyAVCapture, decode-only then full pipeline, same run
                           (`firmware.bench.throughput.measure`), at full size and
                           with a 320-pixel analysis sub-stream; extra_info has
                           the whole report. CI (--benchmark-disable): 2 channels,
                           1 s windows; `make bench`: 2 x cores channels, 5 s.
    test_state_per_channel array bytes of a 640x360 ChannelAnalyzer plus the
                           capture's resident memory per channel, < 10 MB.
    test_rss_stable        slow (10 min): resident memory must not grow while
                           channels run. Skipped unless NVR_SLOW=1 (CI never
                           runs it); NVR_RSS_MINUTES shortens it for a spot check.
                           Counts the worker processes the channels run in.

Sources: "sample", a shipped 640x360 sample clip (synthetic: flat shading
decodes about twice as fast as a camera's picture, so the analysis weighs
more against it); "recorded", the busiest evaluation recording upscaled to
640x360 and encoded with x264 (`frames.clip_at`), which decodes at the rate
of real camera footage (~2,500 frames/s per core here); skipped without
../shared.
"""
from __future__ import annotations

import os

import pytest

from frames import N_FRAMES, SAMPLES, SEQUENCES, benchmarks_disabled, clip_at
from firmware.bench.throughput import analyzer_bytes, measure, run_channels
from firmware.procstat import rss_mb

MB = 2 ** 20
SLOW = os.environ.get("NVR_SLOW") == "1"


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> str:
    samples = sorted(SAMPLES.glob("*.mp4")) if SAMPLES.is_dir() else []
    for s in samples:
        if s.stem == "corridor":  # people walking through, 640x360 25 fps
            return str(s)
    if samples:
        return str(samples[0])
    return str(clip_at(640, 360, tmp_path_factory.mktemp("capacity"), n=100))


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> str:
    if not SEQUENCES.is_dir():
        pytest.skip(f"no evaluation recordings at {SEQUENCES}: the recorded-footage throughput needs ../shared")
    return str(clip_at(640, 360, tmp_path_factory.mktemp("recorded"), n=N_FRAMES))


@pytest.mark.parametrize("analysis_width", [None, 320], ids=["640", "320"])
@pytest.mark.parametrize("kind", ["sample", "recorded"])
def test_throughput(benchmark, request, kind, analysis_width):
    source = request.getfixturevalue("source" if kind == "sample" else "recorded")
    quick = benchmarks_disabled(benchmark)
    n = 2 if quick else 2 * (os.cpu_count() or 1)
    seconds = 1.0 if quick else 5.0
    report = {}
    benchmark.pedantic(lambda: report.update(measure(source, n, seconds, analysis_width)), rounds=1)
    benchmark.extra_info.update(report)
    assert report["decode_fps"] > 0 and report["pipeline_fps"] > 0
    # Whatever the machine, N channels at full speed must outrun N live cameras.
    assert report["pipeline_fps"] > n * report["fps"], report


def test_state_per_channel(source, capsys):
    from hal.capture import PyAVCapture

    analyzer = analyzer_bytes(360, 640)
    # The capture's memory is FFmpeg's, not NumPy's: measure it as resident growth over 8 open captures.
    caps = [PyAVCapture(source, loop=True, pacing="max", decoder_threads=1) for _ in range(8)]
    before = rss_mb()
    try:
        for c in caps:
            c.open()
            for _ in range(30):
                c.read()
        capture = max(rss_mb() - before, 0.0) / len(caps)
    finally:
        for c in caps:
            c.close()
    assert caps[0].info is None or (caps[0].info.width, caps[0].info.height) == (640, 360)
    total = analyzer / MB + capture
    with capsys.disabled():
        print(f"\nper channel at 640x360: {analyzer / MB:.2f} MB analyzer arrays + {capture:.2f} MB capture "
              f"= {total:.2f} MB")
    assert total < 10.0, f"{analyzer / MB:.1f} MB analyzer arrays + {capture:.1f} MB capture per channel"


@pytest.mark.slow
@pytest.mark.skipif(not SLOW, reason="10-minute soak: run with NVR_SLOW=1")
def test_rss_stable(source):
    minutes = float(os.environ.get("NVR_RSS_MINUTES", "10"))
    samples: list[tuple[float, float]] = []
    run_channels(source, 8, minutes * 60, None, heat_map=True, speed="max", fps=25.0,
                 monitor=lambda t, rss: samples.append((t, rss)))
    # The first minute holds one-off growth (allocator arenas, code caches).
    settled = [r for t, r in samples if t >= min(60.0, minutes * 30)]
    growth = settled[-1] - settled[0]
    print(f"\nRSS {settled[0]:.0f} -> {settled[-1]:.0f} MB over minutes {min(1.0, minutes / 2):g}-{minutes:g} "
          f"(growth {growth:+.1f} MB, peak {max(r for _, r in samples):.0f} MB)")
    assert growth < 8.0, f"RSS grew {growth:.1f} MB over {minutes:g} min: {settled[0]:.0f} -> {settled[-1]:.0f} MB"
