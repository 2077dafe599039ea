"""`nvr reanalyze` as a user runs it: real recordings, real Dask, real kills.

The archive is cut from the shipped sub-stream samples (320x180, 5 fps) as a
recorder would have left them (`tools/make_archive.py`): channel 1 two hours
of `lights` in 20-minute files, channel 2 an hour of `entrance` in 10-minute
files with one deleted (a gap) and a file of garbage (a corrupt recording).
Every run must leave exactly the store the first, uninterrupted run left:
again, on a Dask cluster given by address (`dask scheduler` and `dask worker`
processes on loopback), with a worker killed, after a killed driver, on the
plain process pool. The live appliance (`nvr run --speed max`) over the same
appliance time is the reference for the counts.
"""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import psutil
import pytest
import yaml

from firmware.clock import to_clock
from firmware.store import SqliteStatistics
from data import make_samples, render, scenes
from tools.make_archive import record

pytestmark = pytest.mark.slow   # the fast tier (-m 'not slow') leaves it out: see README, Tests

REPO = Path(__file__).resolve().parents[1]
SUB = REPO / "data" / "samples" / "substream"
BIN = Path(sys.executable).parent
T0 = datetime(2026, 11, 16, 8, 0)
SPAN = "1200"   # three tasks an hour: task boundaries inside the hours, as well as on them
REGION = [[0.03, 0.38], [0.97, 0.38], [0.97, 0.95], [0.03, 0.95]]


def nvr(*args, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nvr", *map(str, args)], capture_output=True, text=True,
                          cwd=REPO, timeout=timeout)


def spawn(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "nvr", *map(str, args)], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    root = tmp_path_factory.mktemp("archive")
    record(SUB / "lights.mp4", root, 1, T0, 7200, 1200)
    files = record(SUB / "entrance.mp4", root, 2, T0, 3600, 600)
    files[2][1].unlink()                                               # 08:20-08:30 lost: a gap
    (root / "ch02" / "2026-11-16T09-00-00.mp4").write_bytes(os.urandom(20000))  # a corrupt file
    return root


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    path = tmp_path_factory.mktemp("config") / "nvr.yaml"
    chans = [{"id": cid, "name": name, "source": str(SUB / f"{clip}.mp4"), "loop": True,
              "heat_map": {"enabled": True, "regions": [REGION]}}
             for cid, name, clip in ((1, "Storeroom", "lights"), (2, "Entrance", "entrance"))]
    path.write_text(yaml.safe_dump({"appliance": {"status_interval": 60}, "channels": chans}))
    return path


def args(config, archive, state, *extra):
    return ("reanalyze", "--config", config, "--state-dir", state, "--archive", archive, "--task-span", SPAN,
            *extra)


def dump(state: Path) -> list:
    """Everything the store holds about the statistics, in a comparable form."""
    con = sqlite3.connect(state / "statistics.sqlite3")
    try:
        hours = con.execute("SELECT h.channel, h.hour_start, l.spec, h.visits, h.dwell_cs, h.area_visits,"
                            " h.area_dwell_cs, h.visits_total, h.dwell_total, h.analysed_seconds, h.scene_changes"
                            " FROM hours h JOIN layouts l USING (layout_id) ORDER BY 1, 2, 3").fetchall()
        days = con.execute("SELECT d.channel, d.day_start, l.spec, d.visits, d.dwell_cs, d.visits_total,"
                           " d.dwell_total, d.hours, d.hours_with_data"
                           " FROM days d JOIN layouts l USING (layout_id) ORDER BY 1, 2, 3").fetchall()
    finally:
        con.close()
    return [hours, days]


@pytest.fixture(scope="module")
def reference(tmp_path_factory, config, archive):
    state = tmp_path_factory.mktemp("reference")
    r = nvr(*args(config, archive, state, "--json"))
    assert r.returncode == 0, r.stderr
    return state, json.loads(r.stdout), r.stderr


def journal_hours(state: Path) -> int:
    try:
        con = sqlite3.connect(f"file:{state / 'reanalyze.sqlite3'}?mode=ro", uri=True, timeout=1)
        try:
            return con.execute("SELECT COUNT(*) FROM done").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


# --------------------------------------------------------------------------- the reference run


def test_recomputes_the_hours_and_reports_gap_and_corrupt_file(reference, archive):
    state, doc, err = reference
    assert doc["engine"]["description"] == "Dask LocalCluster, 2 workers"
    assert doc["engine"]["worker_processes"] == 2
    by_ch = {c["channel"]: c for c in doc["channels"]}
    assert (by_ch[1]["hours"], by_ch[2]["hours"]) == (2, 1)
    assert by_ch[2]["gaps"] == 1 and by_ch[2]["unreadable"] == 1 and by_ch[2]["files"] == 6
    assert by_ch[1]["channel_hours"] == pytest.approx(2.0, abs=0.01)
    assert by_ch[2]["channel_hours"] == pytest.approx(50 / 60, abs=0.01)
    assert doc["totals"]["failed"] == 0 and doc["totals"]["channel_hours_per_second"] > 0
    corrupt = str(archive / "ch02" / "2026-11-16T09-00-00.mp4")
    lines = err.splitlines()
    assert sum(corrupt in line for line in lines) == 1
    assert any(line.startswith(f"archive: {corrupt}: cannot open") and line.endswith("; skipped") for line in lines)
    assert "ch02: gap 2026-11-16 08:20:00 - 2026-11-16 08:30:00 (10 min not recorded)" in lines
    assert "Traceback" not in err
    # lights: six walkers a minute-long loop, 60 loops an hour; entrance: 10 walkers a loop, one more
    # at each loop seam (docs/counting.md), for the 50 recorded minutes
    with SqliteStatistics(state, create=False) as store:
        ch1 = [r.visits_total for r in store.rows(1, to_clock(T0), to_clock(T0) + 7200, "hour")]
        ch2 = [r.visits_total for r in store.rows(2, to_clock(T0), to_clock(T0) + 3600, "hour")]
        assert store.channel_names() == {1: "Storeroom", 2: "Entrance"}
        assert store.background(1) is not None
    assert ch1 == [360, 360]
    assert 500 <= ch2[0] <= 560


def test_a_second_run_of_the_same_command_leaves_the_same_store(reference, config, archive):
    state, first, _ = reference
    before = dump(state)
    r = nvr(*args(config, archive, state))
    assert r.returncode == 0, r.stderr
    assert dump(state) == before
    table = r.stdout.splitlines()
    assert table[0].startswith("re-analysed 2026-11-16 08:00 - 2026-11-16 10:00 on Dask LocalCluster, 2 workers")
    assert table[1].split()[:6] == ["ch", "name", "hours", "resumed", "no", "data"]
    assert table[-1].split()[1:] [:3] == ["channel-hours", "in", table[-1].split()[3]]


# --------------------------------------------------------------------------- other engines, same store


@pytest.fixture
def dask_cluster(tmp_path):
    """`dask scheduler` and `dask worker` as separate processes on loopback; yields the address."""
    info = tmp_path / "scheduler.json"
    procs = [subprocess.Popen([BIN / "dask", "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                               "--scheduler-file", info], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        wait_for(lambda: info.exists() and info.stat().st_size > 0, 60, "the scheduler")
        time.sleep(0.2)
        address = json.loads(info.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        procs.append(subprocess.Popen([BIN / "dask", "worker", address, "--nworkers", "2", "--nthreads", "1",
                                       "--host", "127.0.0.1", "--no-dashboard"],
                                      cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in reversed(procs):
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()


def test_a_cluster_given_by_address_leaves_the_same_store(reference, config, archive, tmp_path, dask_cluster):
    state = tmp_path / "state"
    r = nvr(*args(config, archive, state, "--scheduler", dask_cluster, "--json"))
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["engine"]["description"].startswith(f"Dask cluster at {dask_cluster}, ")
    assert doc["engine"]["worker_processes"] == 2
    assert dump(state) == dump(reference[0])


def test_the_process_pool_draws_a_progress_bar_and_leaves_the_same_store(reference, config, archive, tmp_path):
    import pexpect

    state = tmp_path / "state"
    term = pexpect.spawn(sys.executable, ["-m", "nvr", *map(str, args(config, archive, state,
                                                                          "--engine", "processes", "--workers", "2"))],
                         cwd=str(REPO), encoding="utf-8", timeout=240, dimensions=(24, 160))
    term.expect(r"engine: process pool, 2 workers, ready in [0-9.]+ s")
    term.expect(r"reanalyze \[[#.]{30}\] \d+/9 tasks [0-9.]+ channel-hours/s ETA (\d+:\d\d|--:--)")
    term.expect(r"channel-hours in [0-9.]+ s")
    term.expect(pexpect.EOF)
    term.close()
    assert term.exitstatus == 0
    assert dump(state) == dump(reference[0])


# --------------------------------------------------------------------------- kills


def dask_workers(driver: psutil.Process) -> list[psutil.Process]:
    return [p for p in driver.children(recursive=True) if "spawn_main" in " ".join(p.cmdline())]


def test_a_killed_worker_costs_its_tasks_not_the_run(reference, config, archive, tmp_path):
    state = tmp_path / "state"
    p = spawn(*args(config, archive, state))
    try:
        driver = psutil.Process(p.pid)
        wait_for(lambda: journal_hours(state) >= 1, 240, "the first hour")
        assert journal_hours(state) < 3, "the run ended before a worker could be killed; make it longer"
        workers = dask_workers(driver)
        assert len(workers) == 2
        workers[0].send_signal(signal.SIGKILL)
        out, err = p.communicate(timeout=240)
    finally:
        p.kill()
    assert p.returncode == 0, err
    assert dump(state) == dump(reference[0])


def test_a_killed_driver_resumes_where_it_stopped(reference, config, archive, tmp_path):
    state = tmp_path / "state"
    p = spawn(*args(config, archive, state))
    driver = psutil.Process(p.pid)
    try:
        wait_for(lambda: journal_hours(state) >= 1, 240, "the first hour")
        workers = dask_workers(driver)
        p.send_signal(signal.SIGKILL)
        p.wait(10)
    finally:
        p.kill()
    done = journal_hours(state)
    assert 1 <= done < 3, "the run ended before it could be killed; make it longer"
    psutil.wait_procs(workers, timeout=30)
    assert not [w for w in workers if w.is_running() and w.status() != psutil.STATUS_ZOMBIE], \
        "worker processes outlived the driver"
    r = nvr(*args(config, archive, state, "--json"))
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["totals"]["resumed"] == done and doc["totals"]["hours"] == 3 - done
    assert dump(state) == dump(reference[0])
    assert journal_hours(state) == 0  # a finished run clears its notes: the next one recomputes


# --------------------------------------------------------------------------- a running appliance


def test_hours_a_running_appliance_writes_are_refused(config, archive, tmp_path):
    state = tmp_path / "state"
    app = spawn("run", "--config", config, "--state-dir", state, "--speed", "realtime",
                "--start", "2026-11-16T09:30", "--duration", "600")
    try:
        wait_for(lambda: (state / "appliance.lock").exists() and (state / "appliance.lock").stat().st_size, 60,
                 "the appliance to boot")
        r = nvr(*args(config, archive, state))
        assert r.returncode == 2
        assert r.stderr.splitlines()[-1] == (
            f"error: a running appliance (pid {app.pid}) writes the statistics of channel(s) 1, 2 from "
            "2026-11-16 09:00 on: re-analysing channel 1 at 2026-11-16 09:00 (1 such hour(s)) is refused; "
            "stop it, or end the range with --to 2026-11-16T09:00")
        r = nvr(*args(config, archive, state, "--to", "2026-11-16T09:00", "--engine", "inline", "--channel", "2"))
        assert r.returncode == 0, r.stderr
    finally:
        app.send_signal(signal.SIGINT)
        app.communicate(timeout=60)


# --------------------------------------------------------------------------- against the live appliance


def test_per_hour_counts_match_the_live_appliance(reference, config, tmp_path):
    """nvr run --speed max over the same appliance time; see docs/reanalyze.md for the measured figures."""
    live = tmp_path / "live"
    one = tmp_path / "one.yaml"
    doc = yaml.safe_load(config.read_text())
    doc["channels"] = doc["channels"][:1]
    one.write_text(yaml.safe_dump(doc))
    r = nvr("run", "--config", one, "--state-dir", live, "--speed", "max", "--start", T0.isoformat(),
            "--duration", 7200)
    assert r.returncode == 0, r.stderr
    start = to_clock(T0)
    with SqliteStatistics(live, create=False) as a, SqliteStatistics(reference[0], create=False) as b:
        ra, rb = a.rows(1, start, start + 7200, "hour"), b.rows(1, start, start + 7200, "hour")
    assert [x.start for x in ra] == [x.start for x in rb] == [start, start + 3600]
    for x, y in zip(ra, rb):
        assert abs(y.visits_total - x.visits_total) <= max(1, 0.02 * x.visits_total)
        assert y.dwell_total == pytest.approx(x.dwell_total, rel=0.01)
        assert y.analysed_seconds == pytest.approx(x.analysed_seconds, abs=0.5)


# --------------------------------------------------------------------------- a walker across a task boundary


@pytest.fixture(scope="module")
def boundary_walker(tmp_path_factory):
    """The corridor with one walker, in the area from ~4.5 s to ~13.5 s of a 20 s clip, recorded
    from 08:00:51 so that the task boundary at 08:01:00 falls 9 s in, mid-walk."""
    import dataclasses

    base = scenes.SCENES["corridor"]
    scene = dataclasses.replace(base, name="boundary", seconds=20.0, walkers=(
        scenes.Walker(1, 4.0, 68, scenes.palette(115)["dark"], scenes.across(250), (32, 86), 1),))
    root = tmp_path_factory.mktemp("boundary")
    make_samples.encode_substream(scene, root / "ch01" / "2026-11-16T08-00-51.mp4")
    truth = render.build_truth(scene)
    return root, truth, [tuple(p) for p in base.region]


def test_a_walker_crossing_a_task_boundary_is_counted_once(boundary_walker):
    from firmware.archive import load_archive
    from firmware.config import parse_config
    from firmware.reanalyze import Task, plan, run_task
    from tests.truth import footprint, inside

    root, truth, region = boundary_walker
    boxes = {b[0]: b for b in truth["targets"][0]["boxes"]}
    fx, fy = footprint(boxes[9 * 25])
    assert inside((fx + 0.5) / 640, (fy + 0.5) / 360, region)  # mid-walk at the boundary
    cfg = parse_config({"channels": [{"id": 1, "source": "x.mp4", "heat_map": {
        "enabled": True, "regions": [[list(p) for p in region]]}}]}).channels[0]
    a = load_archive(root)
    start = to_clock(T0)

    def counts(result):
        return sum(r.visits_total for r in result.records), sum(r.dwell_total for r in result.records)

    whole = counts(run_task(Task(cfg, a.segments(1, start, start + 120), start, start + 120)))
    assert whole[0] == 1 and whole[1] > 5
    for warm_up in (120.0, 5.0):
        (hour,) = plan({1: cfg}, a, [1], start, start + 3600, span=60, warm_up=warm_up)
        first, second = (counts(run_task(t)) for t in hour.tasks)
        assert [t.count_from - start for t in hour.tasks] == [0, 60]
        assert (first[0], second[0]) == (1, 0)          # the visit belongs to the task it entered in
        assert first[1] > 1 and second[1] > 1             # the dwell is shared at the boundary...
        assert first[1] + second[1] == pytest.approx(whole[1], rel=1e-3)  # ...and adds up
    # without a warm-up the second task meets the walker as a newcomer: counted twice
    (hour,) = plan({1: cfg}, a, [1], start, start + 3600, span=60, warm_up=0)
    assert counts(run_task(hour.tasks[1]))[0] == 1
