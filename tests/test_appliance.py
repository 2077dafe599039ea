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

import pytest
import yaml

from firmware.appliance import Appliance, RunOptions
from firmware.clock import parse_start
from firmware.config import load_config
from firmware.store import SqliteStatistics

pytestmark = pytest.mark.slow   # the fast tier (-m 'not slow') leaves it out: see README, Tests

REPO = Path(__file__).resolve().parents[1]
from tests.walker import H, W, children, gone, make_walker_clip


@pytest.fixture(scope="module")
def walker_clip(tmp_path_factory) -> Path:
    return make_walker_clip(tmp_path_factory.mktemp("clips") / "walker.mp4")


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
    deadline = time.monotonic() + 60
    while "boot complete" not in p.stdout.readline() and time.monotonic() < deadline:
        pass
    assert p.poll() is None, "the appliance did not boot"
    time.sleep(4.0)
    workers = children(p.pid)
    assert workers, "recordings run in worker processes"
    p.kill()  # SIGKILL: no shutdown, no final flush
    p.wait()
    alive = time.monotonic() - started
    # The workers see their pipe close and stop: nothing is left decoding.
    deadline = time.monotonic() + 10
    while not all(gone(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(gone(w) for w in workers), workers
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
