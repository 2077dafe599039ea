"""Channels in worker threads and worker processes: the same counts as a thread each,
a dead worker stopping only its own channels, batches, pacing, lost cameras."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.walker import make_walker_clip

pytestmark = pytest.mark.slow   # the fast tier (-m 'not slow') leaves it out: see README, Tests


@pytest.fixture(scope="module")
def walker_clip(tmp_path_factory) -> Path:
    return make_walker_clip(tmp_path_factory.mktemp("clips") / "walker.mp4")


def run_channels_once(walker_clip, pooled: bool | str, sources: list[str], workers: int = 1):
    """Channels over `sources` until 60 s of channel time: (channels, sink, wall seconds).

    pooled: False, a thread each; True, a `WorkerPool` of `workers` threads;
    "processes", `workers` worker processes (firmware.workers)."""
    from firmware.channel import Channel
    from firmware.config import ChannelConfig, HeatMapConfig
    from firmware.scheduler import WorkerPool
    from firmware.stats import MemoryStatistics
    from firmware.workers import CaptureSpec, ChannelSpec, ProcessPool
    from hal.capture import PyAVCapture
    from hal.input import CaptureInput

    sink = MemoryStatistics()
    hm = HeatMapConfig(enabled=True, regions=(((0.0, 0.2), (1.0, 0.2), (1.0, 1.0), (0.0, 1.0)),))
    if pooled == "processes":
        specs = [ChannelSpec(ChannelConfig(id=cid, name=f"c{cid}", source=src, loop=True, heat_map=hm),
                             CaptureSpec(src, loop=True, pacing="max"), float("inf"), 3600.0, 60.0)
                 for cid, src in enumerate(sources, 1)]
        pool = ProcessPool(specs, sink, workers)
        t0 = time.monotonic()
        pool.start()
        pool.join(60)
        assert not pool.alive
        return list(pool.channels.values()), sink, time.monotonic() - t0
    chans = []
    for cid, src in enumerate(sources, 1):
        cap = CaptureInput(cid, lambda src=src: PyAVCapture(src, loop=True, pacing="max", decoder_threads=1),
                           backoff_initial=5.0, backoff_max=5.0)
        chans.append(Channel(ChannelConfig(id=cid, name=f"c{cid}", source=src, loop=True, heat_map=hm), cap, sink,
                             budget_us=float("inf"), checkpoint_interval=3600.0, stop_at=60.0))
    t0 = time.monotonic()
    if pooled:
        pool = WorkerPool(chans, workers=workers)
        pool.start()
    else:
        for c in chans:
            c.start()
    for c in chans:
        if Path(c.config.source).exists():  # a lost channel never reaches its end
            c.join(30)
    wall = time.monotonic() - t0
    for c in chans:
        c.stop()
        c.join(5)
    if pooled:
        pool.join(5)
        assert not pool.alive
    return chans, sink, wall


def test_a_worker_pool_counts_exactly_what_a_thread_per_channel_counts(walker_clip):
    sources = [str(walker_clip)] * 3
    threaded, t_sink, _ = run_channels_once(walker_clip, False, sources)
    pooled, p_sink, _ = run_channels_once(walker_clip, True, sources, workers=2)
    for a, b in zip(threaded, pooled):
        assert a.counters.frames == b.counters.frames == 1500 and b.counters.done
        assert a.counters.analysed == b.counters.analysed == 1500
    assert p_sink.totals == t_sink.totals and p_sink.totals[1]["visits"] >= 13


def test_worker_processes_count_exactly_what_a_thread_per_channel_counts(walker_clip, tmp_path):
    brisk = make_walker_clip(tmp_path / "brisk.mp4", 3.0)
    sources = [str(walker_clip), str(brisk), str(walker_clip)]
    threaded, t_sink, _ = run_channels_once(walker_clip, False, sources)
    remote, p_sink, _ = run_channels_once(walker_clip, "processes", sources, workers=2)
    for a, b in zip(threaded, remote):
        assert a.counters.frames == b.counters.frames == 1500 and b.counters.done
        assert a.counters.analysed == b.counters.analysed == 1500
        assert b.state == a.state and b.capture.last_error == ""
    # Every hour record crossed the pipe: the parent's totals are the threads' totals.
    assert p_sink.totals == t_sink.totals and p_sink.totals[1] != p_sink.totals[2]



def test_a_dead_worker_process_stops_its_channels_only(walker_clip):
    # A decoder crashing on a broken stream takes its worker process down:
    # that worker's channel shows it, the other worker's goes on.
    from firmware.config import ChannelConfig, HeatMapConfig
    from firmware.stats import MemoryStatistics
    from firmware.workers import CaptureSpec, ChannelSpec, ProcessPool

    hm = HeatMapConfig(enabled=True, regions=(((0.0, 0.2), (1.0, 0.2), (1.0, 1.0), (0.0, 1.0)),))
    specs = [ChannelSpec(ChannelConfig(id=cid, name=f"c{cid}", source=str(walker_clip), loop=True, heat_map=hm),
                         CaptureSpec(str(walker_clip), loop=True, pacing="realtime"), 10_000.0, 3600.0)
             for cid in (1, 2)]
    pool = ProcessPool(specs, MemoryStatistics(), processes=2)
    pool.start()
    one, two = pool.channels[1], pool.channels[2]
    try:
        deadline = time.monotonic() + 30
        while min(one.counters.analysed, two.counters.analysed) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert one.state == two.state == "running"
        victim = pool.pids[0]  # channels are dealt in turn: the first worker has channel 1
        os.kill(victim, signal.SIGKILL)
        one.join(10)
        assert not one.alive and one.state == "stopped"
        assert "worker process ended" in one.capture.last_error
        before = two.counters.frames
        time.sleep(1.0)
        assert two.alive and two.state == "running" and two.counters.frames >= before + 20
    finally:
        for c in (one, two):
            c.stop()
        pool.join(10)
    assert not pool.alive and two.counters.done


def test_a_worker_decoding_a_batch_before_analysing_it_counts_the_same(walker_clip, tmp_path):
    # One worker takes all four channels at once, decodes a frame of each,
    # then analyses the four: each frame must still be its own channel's
    # (two different recordings, so a mixed-up frame changes the totals).
    # A walker every 3 s instead of every 4 s.
    brisk = make_walker_clip(tmp_path / "brisk.mp4", 3.0)
    sources = [str(walker_clip), str(brisk)] * 2
    threaded, t_sink, _ = run_channels_once(walker_clip, False, sources)
    batched, b_sink, _ = run_channels_once(walker_clip, True, sources, workers=1)
    assert all(c.counters.analysed == 1500 for c in batched)
    assert b_sink.totals == t_sink.totals
    assert t_sink.totals[1] != t_sink.totals[2]  # the two recordings differ: a swap would show


def test_a_lost_camera_does_not_hold_the_worker_it_shares(walker_clip, tmp_path):
    # One worker, a missing file first in the queue with a 5 s reopen backoff:
    # the good channel still runs its minute of video at full speed.
    chans, sink, wall = run_channels_once(walker_clip, True, [str(tmp_path / "gone.mp4"), str(walker_clip)])
    lost, good = chans
    assert good.counters.frames == 1500 and good.counters.done
    assert wall < 5.0   # never slept through the lost channel's backoff
    assert lost.counters.frames == 0 and lost.capture.state == "stopped"


def test_paced_recordings_share_one_worker_at_their_own_frame_rate(walker_clip):
    # Four cameras' worth of paced recordings on one worker: each gets its
    # frames when due (25 fps, none dropped), and a stop ends them at once.
    from firmware.channel import Channel
    from firmware.config import ChannelConfig, HeatMapConfig
    from firmware.scheduler import WorkerPool
    from firmware.stats import MemoryStatistics
    from hal.capture import PyAVCapture
    from hal.input import CaptureInput

    hm = HeatMapConfig(enabled=True, regions=(((0.0, 0.2), (1.0, 0.2), (1.0, 1.0), (0.0, 1.0)),))
    chans = [Channel(ChannelConfig(id=cid, name=f"c{cid}", source=str(walker_clip), loop=True, heat_map=hm),
                     CaptureInput(cid, lambda: PyAVCapture(str(walker_clip), loop=True, pacing="realtime",
                                                           decoder_threads=1)),
                     MemoryStatistics(), budget_us=10_000.0, checkpoint_interval=3600.0, stop_at=None)
             for cid in range(1, 5)]
    pool = WorkerPool(chans, workers=1)
    pool.start()
    deadline = time.monotonic() + 60
    while any(c.counters.analysed < 3 for c in chans):   # past start-up: kernels loaded, catch-up done
        assert time.monotonic() < deadline, [c.counters.analysed for c in chans]
        time.sleep(0.01)
    first = [(c.counters.frames, c.capture.drops) for c in chans]
    time.sleep(1.2)
    got = [c.counters.frames - f for c, (f, _) in zip(chans, first)]
    dropped = [c.capture.drops - d for c, (_, d) in zip(chans, first)]
    t0 = time.monotonic()
    for c in chans:
        c.stop()
    pool.join(5)
    assert time.monotonic() - t0 < 0.5 and not pool.alive
    assert all(27 <= n <= 33 for n in got), got   # 1.2 s at 25 fps
    assert dropped == [0, 0, 0, 0] and all(c.counters.done for c in chans)
    assert all(c.capture.state == "stopped" for c in chans)
