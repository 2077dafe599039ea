"""The headless appliance: boot, status, video loss, live reconfiguration, clean stop."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.clips import make_clip
from firmware.appliance import Appliance, RunOptions
from firmware.clock import parse_start
from firmware.config import load_config
from firmware.store import SqliteStatistics

REPO = Path(__file__).resolve().parents[1]
W, H, FPS = 320, 180, 25


def walker_frames(seconds: float) -> list[np.ndarray]:
    """A textured floor with a dark person-sized block walking left to right."""
    rng = np.random.default_rng(7)
    floor = (110 + 25 * rng.random((H, W))).astype(np.uint8)
    frames = []
    n = int(seconds * FPS)
    for k in range(n):
        img = floor.copy()
        x = int(-20 + (W + 40) * k / n)
        img[60:140, max(0, x):max(0, x + 18)] = 35
        frames.append(img)
    return frames


@pytest.fixture(scope="module")
def walker_clip(tmp_path_factory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clips") / "walker.mp4", walker_frames(4.0), fps=FPS,
                     options={"crf": "18", "preset": "ultrafast"})


def write_config(path: Path, channels: list[dict], **appliance) -> Path:
    path.write_text(yaml.safe_dump({"appliance": {"status_interval": 0.5, **appliance}, "channels": channels}))
    return path


def channel(cid: int, source: str, enabled: bool = True, loop: bool = True) -> dict:
    return {"id": cid, "name": f"Cam {cid}", "source": source, "loop": loop,
            "heat_map": {"enabled": enabled, "regions": [[[0.0, 0.2], [1.0, 0.2], [1.0, 1.0], [0.0, 1.0]]]}}


def nvr(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nvr", *args], capture_output=True, text=True,
                          cwd=REPO, timeout=timeout)


def test_boot_prints_each_channel_then_runs_the_duration_and_stores_statistics(tmp_path, walker_clip):
    cfg = write_config(tmp_path / "nvr.yaml", [channel(1, str(walker_clip)), channel(2, str(walker_clip), False)])
    r = nvr("run", "--config", str(cfg), "--state-dir", str(tmp_path / "state"), "--speed", "max",
            "--start", "2026-11-24T09:59:00", "--duration", "120")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "channel 1 'Cam 1': " in out and f"h264 {W}x{H} 25 fps" in out
    assert "channel 2 'Cam 2'" in out and "heat map off" in out
    assert "shutdown complete" in out
    # Two minutes of a 4 s loop: 30 walkers, crossing 09:59 -> 10:01 (two hours in the store).
    line = next(ln for ln in out.splitlines() if ln.startswith("channel 1:"))
    assert "3000 frames" in line
    visits = int(line.split("visits ")[1].split(",")[0])
    assert 27 <= visits <= 33
    with SqliteStatistics(tmp_path / "state", create=False) as store:
        hours = {row.start for row in store.rows(1, 0, 2**40, "hour")}
        assert store.channel_names() == {1: "Cam 1", 2: "Cam 2"}
        assert store.rows(2, 0, 2**40, "hour") == []  # disabled: nothing counted
    start = int(parse_start("2026-11-24T09:00:00"))
    assert hours == {start, start + 3600}


def test_a_missing_source_is_video_loss_for_that_channel_only(tmp_path, walker_clip):
    cfg = write_config(tmp_path / "nvr.yaml", [channel(1, str(walker_clip)),
                                               channel(2, str(tmp_path / "gone.mp4")),
                                               channel(3, "tcp://127.0.0.1:9", loop=False)])
    r = nvr("run", "--config", str(cfg), "--state-dir", str(tmp_path / "state"), "--speed", "max",
            "--duration", "60")
    assert r.returncode == 0, r.stderr
    assert "channel 2 'Cam 2': " in r.stdout and "VIDEO LOSS" in r.stdout
    assert r.stderr.count("channel 2: VIDEO LOSS") == 1  # logged once, retried quietly
    assert "channel 1: 1500 frames, 1500 analysed" in r.stdout
    assert "channel 3: 0 frames, nothing analysed" in r.stdout


def test_sigterm_stops_a_realtime_run_cleanly(tmp_path, walker_clip):
    cfg = write_config(tmp_path / "nvr.yaml", [channel(1, str(walker_clip))])
    p = subprocess.Popen([sys.executable, "-m", "nvr", "run", "--config", str(cfg), "--state-dir",
                          str(tmp_path / "state")], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    deadline = time.monotonic() + 30
    seen = ""
    while "ch01 RUNNING" not in seen and time.monotonic() < deadline:
        seen += p.stdout.readline()
    assert "ch01 RUNNING" in seen, seen
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    assert "shutdown complete" in out
    assert "Traceback" not in err


def test_sigterm_to_the_whole_group_drains_every_worker_into_the_store(tmp_path, walker_clip):
    # A service manager stops the appliance and its worker processes at once:
    # each worker stops its channels, which drain their hour through the pipe
    # before the main process closes the store.
    cfg = write_config(tmp_path / "nvr.yaml", [channel(1, str(walker_clip)), channel(2, str(walker_clip))],
                       checkpoint_interval=60)
    state = tmp_path / "state"
    p = subprocess.Popen([sys.executable, "-m", "nvr", "run", "--config", str(cfg), "--state-dir", str(state),
                          "--start", "2026-11-24T12:00:00"], cwd=REPO, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 30
    seen = ""
    while "boot complete" not in seen and time.monotonic() < deadline:
        seen += p.stdout.readline()
    assert "boot complete" in seen, seen
    time.sleep(3.0)
    os.killpg(p.pid, signal.SIGTERM)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    assert "shutdown complete" in out and "Traceback" not in err
    with SqliteStatistics(state, create=False) as store:
        for cid in (1, 2):  # no checkpoint ran: all of it came with the stop
            assert sum(r.analysed_seconds for r in store.rows(cid, 0, 2**40, "hour")) >= 2.0


def test_saved_settings_apply_to_the_running_channel_from_its_next_frame(tmp_path, walker_clip):
    cfg = write_config(tmp_path / "nvr.yaml", [channel(1, str(walker_clip), enabled=False)])
    config = load_config(cfg)
    appliance = Appliance(config, RunOptions(state_dir=tmp_path / "state", speed="realtime",
                                             start=parse_start("2026-11-24T12:00")), out=open(os.devnull, "w"))
    appliance.boot()
    runner = threading.Thread(target=appliance.run)
    runner.start()
    try:
        service = appliance.service()
        ch = appliance.channels[1]
        time.sleep(0.5)
        assert ch.counters.frames > 0 and ch.counters.analysed == 0
        assert service.channels()[0].state == "disabled"
        hm = service.heat_map(1)
        service.save_heat_map(1, type(hm)(**{**{f: getattr(hm, f) for f in hm.__slots__},
                                            "enabled": True, "detection_sensitivity": 70}))
        time.sleep(0.5)
        assert ch.counters.analysed > 0
        assert ch.config.heat_map.detection_sensitivity == 70
        assert service.channels()[0].state == "running"
        saved = load_config(cfg).channel(1).heat_map
        assert saved.enabled and saved.detection_sensitivity == 70
        assert load_config(tmp_path / "nvr.yaml.bak").channel(1).heat_map.enabled is False
    finally:
        appliance.stop_event.set()
        runner.join(10)
        appliance.shutdown()


def test_python_dash_m_firmware_is_nvr():
    r = nvr("--help")
    assert r.returncode == 0
    for command in ("run", "report", "bench", "passwd", "demo"):
        assert command in r.stdout


def test_an_unwritable_state_dir_is_a_one_line_error(tmp_path, walker_clip):
    cfg = write_config(tmp_path / "nvr.yaml", [channel(1, str(walker_clip))])
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    r = nvr("run", "--config", str(cfg), "--state-dir", str(blocker / "state"), "--duration", "1")
    assert r.returncode == 2
    assert r.stderr.startswith("error: --state-dir") and r.stderr.count("\n") == 1


def test_at_full_speed_time_outside_the_schedule_is_skipped_not_decoded(tmp_path, walker_clip):
    ch = channel(1, str(walker_clip))
    ch["heat_map"]["schedule"] = [{"days": ["tue"], "time": "09:00-09:05"}]
    cfg = write_config(tmp_path / "nvr.yaml", [ch])
    t0 = time.monotonic()
    r = nvr("run", "--config", str(cfg), "--state-dir", str(tmp_path / "state"), "--speed", "max",
            "--start", "2026-11-24T07:00:00", "--duration", str(5 * 3600))
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - t0 < 60  # five hours at 25 fps would be 450,000 frames
    frames = int(next(ln for ln in r.stdout.splitlines() if ln.startswith("channel 1:")).split()[2])
    assert frames < 30_000
    with SqliteStatistics(tmp_path / "state", create=False) as store:
        rows = store.rows(1, 0, 2**40, "hour")
    assert [row.start for row in rows] == [int(parse_start("2026-11-24T09:00"))]
    assert 295 <= rows[0].analysed_seconds <= 301  # the five armed minutes, nothing else


def test_kill_9_loses_at_most_one_checkpoint_and_the_next_boot_continues(tmp_path, walker_clip):
    cfg = write_config(tmp_path / "nvr.yaml", [channel(1, str(walker_clip))], checkpoint_interval=1)
    state = tmp_path / "state"
    args = [sys.executable, "-m", "nvr", "run", "--config", str(cfg), "--state-dir", str(state),
            "--start", "2026-11-24T12:00:00"]
    started = time.monotonic()
    p = subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    while "boot complete" not in p.stdout.readline():
        pass
    time.sleep(4.0)
    workers = _children(p.pid)
    assert workers, "recordings run in worker processes"
    p.kill()  # SIGKILL: no shutdown, no final flush
    p.wait()
    alive = time.monotonic() - started
    # The workers see their pipe close and stop: nothing is left decoding.
    deadline = time.monotonic() + 10
    while not all(_gone(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(_gone(w) for w in workers), workers
    with sqlite3.connect(state / "statistics.sqlite3") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    with SqliteStatistics(state, create=False) as store:
        first = sum(r.analysed_seconds for r in store.rows(1, 0, 2**40, "hour"))
    # Realtime: analysed seconds are wall seconds. At most the last checkpoint
    # interval (1 s, plus a second of slack for a busy machine) is lost.
    assert 4.0 - 1.0 - 1.0 <= first <= alive
    # Full speed from the same clock, 30 s of appliance time, however busy the machine is:
    # the seconds already stored are not counted again, the rest are; nothing was reset.
    r = subprocess.run(args + ["--speed", "max", "--duration", "30"], cwd=REPO, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "statistics are stored up to 2026-11-24 12:00:0" in r.stdout
    with SqliteStatistics(state, create=False) as store:
        second = sum(r.analysed_seconds for r in store.rows(1, 0, 2**40, "hour"))
    assert 29.0 <= second <= 30.5
    assert load_config(cfg).channel(1).heat_map.enabled


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
    brisk = make_clip(tmp_path / "brisk.mp4", walker_frames(3.0), fps=FPS,
                      options={"crf": "18", "preset": "ultrafast"})
    sources = [str(walker_clip), str(brisk), str(walker_clip)]
    threaded, t_sink, _ = run_channels_once(walker_clip, False, sources)
    remote, p_sink, _ = run_channels_once(walker_clip, "processes", sources, workers=2)
    for a, b in zip(threaded, remote):
        assert a.counters.frames == b.counters.frames == 1500 and b.counters.done
        assert a.counters.analysed == b.counters.analysed == 1500
        assert b.state == a.state and b.capture.last_error == ""
    # Every hour record crossed the pipe: the parent's totals are the threads' totals.
    assert p_sink.totals == t_sink.totals and p_sink.totals[1] != p_sink.totals[2]


def _children(pid: int) -> list[int]:
    """Process ids whose parent is `pid` (Linux /proc)."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if int((d / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(d.name))
            except (OSError, IndexError, ValueError):
                pass
    return out


def _gone(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


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
    brisk = make_clip(tmp_path / "brisk.mp4", walker_frames(3.0), fps=FPS,
                      options={"crf": "18", "preset": "ultrafast"})
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
    while any(c.counters.analysed < 3 for c in chans):   # past start-up: kernels loaded, catch-up done
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
