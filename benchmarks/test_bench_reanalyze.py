"""Archive re-analysis against the appliance's own `--speed max` replay of the same recordings, same run.

An archive is recorded from looped sample clips (`tools/make_archive.py`,
remuxed, so it decodes to exactly the frames the appliance analyses when it
loops them), then the same appliance time is analysed four ways, each as a
separate process as a user would run it:

    live N      nvr run --speed max, pinned to N cores (its worker processes: one per core)
    dask N      nvr reanalyze, Dask LocalCluster of N workers, pinned to N cores
    pool 2      nvr reanalyze --engine processes --workers 2 (no scheduler)
    cluster 2   nvr reanalyze --scheduler ADDRESS: `dask scheduler` and `dask worker --nworkers 2`
                started as separate processes on 127.0.0.1

Reported: channel-hours per second end to end (process start to exit) and
steady (start-up excluded: live from "boot complete", re-analysis from its
engine being ready), the ratio re-analysis / live at the same core count,
each engine's start-up, the task overhead (worker time not spent inside the
task function, per task), the bytes a task and its result take pickled, the
driver's cost of writing an hour, and per channel-hour the visits and dwell
of re-analysis against the live appliance.

CI (--benchmark-disable) runs a short mode: the demo's sub-stream, 2
channels x 10 min, live 2 and dask 2 only. `make bench` (or running this file:
``.venv/bin/python benchmarks/test_bench_reanalyze.py --help``) runs them all on
4 channels x 2 h; ``--source samples`` uses the full 640x360 25 fps clips.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from firmware.clock import to_clock  # noqa: E402
from tools.make_archive import record  # noqa: E402

BIN = Path(sys.executable).parent
T0 = datetime(2026, 11, 16, 8, 0)   # a Monday, inside the demo's opening hours


def sample_config(path: Path, source: str, channels: int) -> Path:
    """The demo's channels (sub-stream) or the full 640x360 clips with each clip's suggested area."""
    if source == "substream":
        doc = yaml.safe_load((ROOT / "data" / "demo.yaml").read_text())
        for ch in doc["channels"]:
            ch["source"] = str(ROOT / "data" / ch["source"])
    else:
        doc = {"channels": []}
        for k, name in enumerate(("corridor", "shop_floor", "entrance", "lights"), start=1):
            truth = json.loads((ROOT / "data" / "samples" / f"{name}.truth.json").read_text())
            doc["channels"].append({"id": k, "name": name, "source": str(ROOT / "data" / "samples" / f"{name}.mp4"),
                                    "loop": True, "heat_map": {"enabled": True, "regions": [truth["region"]]}})
    doc["channels"] = doc["channels"][:channels]
    doc["appliance"] = {"status_interval": 3600}
    path.write_text(yaml.safe_dump(doc))
    return path


def make_archive(config: Path, root: Path, seconds: float, file_seconds: float) -> Path:
    doc = yaml.safe_load(config.read_text())
    for ch in doc["channels"]:
        record(ch["source"], root, ch["id"], T0, seconds, file_seconds)
    return root


def _pinned(cores: int | None):
    if cores is None:
        return None
    return lambda: os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[:cores]))


def run_live(config: Path, state: Path, seconds: float, cores: int | None) -> dict:
    t0 = time.perf_counter()
    p = subprocess.Popen([sys.executable, "-m", "nvr", "run", "--config", str(config), "--state-dir", str(state),
                          "--speed", "max", "--start", T0.isoformat(), "--duration", str(seconds)],
                         cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         preexec_fn=_pinned(cores))
    booted = None
    for line in p.stdout:
        if booted is None and line.strip() == "boot complete":
            booted = time.perf_counter()
    err = p.stderr.read()
    p.wait()
    end = time.perf_counter()
    assert p.returncode == 0, err
    return {"seconds": end - t0, "startup_seconds": booted - t0, "run_seconds": end - booted}


def run_reanalysis(config: Path, archive: Path, state: Path, span: int, cores: int | None, *extra: str) -> dict:
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "nvr", "reanalyze", "--config", str(config),
                        "--state-dir", str(state), "--archive", str(archive), "--task-span", str(span), "--json",
                        *extra], cwd=ROOT, capture_output=True, text=True, preexec_fn=_pinned(cores))
    end = time.perf_counter()
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    t = doc["totals"]
    workers = doc["engine"]["worker_processes"]
    return {"seconds": end - t0, "startup_seconds": doc["engine"]["startup_seconds"], "run_seconds": t["seconds"],
            "tasks": t["tasks"], "compute_seconds": t["compute_seconds"], "workers": workers,
            "overhead_ms_per_task": 1000 * (t["seconds"] * workers - t["compute_seconds"]) / t["tasks"],
            "channel_hours": t["channel_hours"]}


class ExternalCluster:
    """`dask scheduler` + `dask worker --nworkers N` as separate processes on loopback."""

    def __init__(self, tmp: Path, workers: int):
        t0 = time.perf_counter()
        info = tmp / "scheduler.json"
        self.procs = [subprocess.Popen([BIN / "dask", "scheduler", "--host", "127.0.0.1", "--port", "0",
                                        "--no-dashboard", "--scheduler-file", info],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
        while not (info.exists() and info.stat().st_size):
            time.sleep(0.05)
        time.sleep(0.1)
        self.address = json.loads(info.read_text())["address"]
        self.procs.append(subprocess.Popen([BIN / "dask", "worker", self.address, "--nworkers", str(workers),
                                            "--nthreads", "1", "--host", "127.0.0.1", "--no-dashboard"],
                                           cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        from distributed import Client

        with Client(self.address, set_as_default=False) as c:
            c.wait_for_workers(workers, timeout=120)
        self.startup_seconds = time.perf_counter() - t0

    def close(self) -> None:
        for p in reversed(self.procs):
            p.terminate()
        for p in reversed(self.procs):
            p.wait(30)


def per_hour(live: Path, re: Path, channels: list[int], hours: int) -> list[dict]:
    from firmware.store import SqliteStatistics

    start = to_clock(T0)
    out = []
    with SqliteStatistics(live, create=False) as a, SqliteStatistics(re, create=False) as b:
        for ch in channels:
            for x, y in zip(a.rows(ch, start, start + hours * 3600, "hour"), b.rows(ch, start, start + hours * 3600,
                                                                                   "hour")):
                assert x.start == y.start
                out.append({"channel": ch, "hour": x.start, "visits_live": x.visits_total,
                            "visits_re": y.visits_total, "dwell_live": round(x.dwell_total, 2),
                            "dwell_re": round(y.dwell_total, 2),
                            "dwell_diff_pct": round(100 * (y.dwell_total - x.dwell_total) / x.dwell_total, 3)
                            if x.dwell_total else 0.0})
    return out


def payload_bytes(config: Path, archive: Path, span: int) -> dict:
    """Pickled size of a task and of its result (what crosses the network per task), and the
    driver's cost of replacing one hour in the store."""
    from firmware.archive import load_archive
    from firmware.config import load_config
    from firmware.reanalyze import plan, run_task
    from firmware.store import SqliteStatistics

    cfg = load_config(config)
    a = load_archive(archive)
    s, e = a.extent()
    hours = plan({c.id: c for c in cfg.channels}, a, a.channels, s, e, span=span)
    task = hours[0].tasks[0]
    result = run_task(task)
    with_bg = run_task(dataclasses.replace(task, background=True))
    with tempfile.TemporaryDirectory() as d, SqliteStatistics(d) as store:
        records = result.records
        t0 = time.perf_counter()
        for k in range(20):
            store.replace_hour(records[0].channel, records[0].hour_start, records)
        write_ms = (time.perf_counter() - t0) / 20 * 1000
    return {"task_bytes": len(pickle.dumps(task, 5)), "result_bytes": len(pickle.dumps(result, 5)),
            "result_with_background_bytes": len(pickle.dumps(with_bg, 5)), "hour_write_ms": round(write_ms, 2)}


def measure(source: str, channels: int, seconds: float, file_seconds: float, span: int, full: bool,
            tmp: Path) -> dict:
    config = sample_config(tmp / "nvr.yaml", source, channels)
    archive = make_archive(config, tmp / "archive", seconds, file_seconds)
    ch_hours = channels * seconds / 3600
    report: dict = {"source": source, "channels": channels, "seconds": seconds, "task_span": span,
                    "channel_hours": ch_hours, "runs": {}}
    runs = report["runs"]
    core_counts = (1, 2) if full else (2,)
    for n in core_counts:
        runs[f"live {n}"] = run_live(config, tmp / f"live{n}", seconds, n)
        runs[f"dask {n}"] = run_reanalysis(config, archive, tmp / f"dask{n}", span, n, "--workers", str(n))
    if full:
        runs["pool 2"] = run_reanalysis(config, archive, tmp / "pool2", span, 2, "--engine", "processes",
                                        "--workers", "2")
        cluster = ExternalCluster(tmp, 2)
        try:
            runs["cluster 2"] = run_reanalysis(config, archive, tmp / "cluster2", span, None,
                                               "--scheduler", cluster.address)
            runs["cluster 2"]["cluster_startup_seconds"] = cluster.startup_seconds
        finally:
            cluster.close()
    for r in runs.values():
        r["ch_h_per_s"] = ch_hours / r["seconds"]
        r["ch_h_per_s_steady"] = ch_hours / r["run_seconds"]
    for n in core_counts:
        live, re = runs[f"live {n}"], runs[f"dask {n}"]
        report[f"ratio_{n}"] = re["ch_h_per_s"] / live["ch_h_per_s"]
        report[f"ratio_{n}_steady"] = re["ch_h_per_s_steady"] / live["ch_h_per_s_steady"]
    report["per_hour"] = per_hour(tmp / "live2", tmp / "dask2", list(range(1, channels + 1)),
                                  max(1, int(seconds // 3600)))
    report["payload"] = payload_bytes(config, archive, span)
    return report


def print_report(r: dict) -> None:
    print(f"\n{r['channels']} channels x {r['seconds'] / 60:g} min of {r['source']} "
          f"({r['channel_hours']:.2f} channel-hours), tasks of {r['task_span'] // 60} min")
    print(f"{'run':<10} {'total s':>8} {'start-up s':>10} {'ch-h/s':>7} {'steady ch-h/s':>13} {'overhead ms/task':>16}")
    for name, x in r["runs"].items():
        over = f"{x['overhead_ms_per_task']:.1f}" if "overhead_ms_per_task" in x else "-"
        print(f"{name:<10} {x['seconds']:8.1f} {x['startup_seconds']:10.2f} {x['ch_h_per_s']:7.3f} "
              f"{x['ch_h_per_s_steady']:13.3f} {over:>16}")
    for k in ("ratio_1", "ratio_2"):
        if k in r:
            print(f"re-analysis / live, {k[-1]} core(s): {r[k]:.2f} end to end, {r[k + '_steady']:.2f} steady")
    if "cluster 2" in r["runs"]:
        print(f"separate dask scheduler + 2 workers up in {r['runs']['cluster 2']['cluster_startup_seconds']:.1f} s")
    p = r["payload"]
    print(f"per task: {p['task_bytes']} B out, {p['result_bytes']} B back ({p['result_with_background_bytes']} B "
          f"with the background snapshot); the driver writes an hour in {p['hour_write_ms']:.1f} ms")
    worst_d = max((abs(h["dwell_diff_pct"]) for h in r["per_hour"]), default=0.0)
    worst_v = max((abs(h["visits_re"] - h["visits_live"]) for h in r["per_hour"]), default=0)
    print(f"per channel-hour vs live: worst dwell {worst_d:.2f} %, worst visits {worst_v}")
    for h in r["per_hour"]:
        print(f"  ch{h['channel']} {datetime.utcfromtimestamp(h['hour']):%H:%M} visits {h['visits_live']} / "
              f"{h['visits_re']}  dwell {h['dwell_live']:.1f} / {h['dwell_re']:.1f} s ({h['dwell_diff_pct']:+.2f} %)")


def test_reanalysis_against_live_replay(benchmark, tmp_path, capsys):
    from frames import benchmarks_disabled

    quick = benchmarks_disabled(benchmark)
    # whole loops of every clip (80, 100, 60, 60 s): the archive ends where the live run does
    args = ("substream", 2, 1200, 600, 600, False) if quick else ("substream", 4, 7200, 1200, 3600, True)
    report = {}
    benchmark.pedantic(lambda: report.update(measure(*args, tmp=tmp_path)), rounds=1)
    benchmark.extra_info.update({k: v for k, v in report.items() if k != "per_hour"})
    with capsys.disabled():
        print_report(report)
    assert report["runs"]["dask 2"]["channel_hours"] == pytest.approx(report["channel_hours"], rel=0.01)
    for h in report["per_hour"]:
        assert abs(h["visits_re"] - h["visits_live"]) <= max(1, 0.02 * h["visits_live"]), h
        assert abs(h["dwell_diff_pct"]) <= 1.0, h


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="re-analysis vs live replay; prints the report, --json for all of it")
    ap.add_argument("--source", choices=("substream", "samples"), default="substream")
    ap.add_argument("--channels", type=int, default=4)
    ap.add_argument("--hours", type=float, default=2.0)
    ap.add_argument("--file-minutes", type=float, default=20.0)
    ap.add_argument("--task-span", type=int, default=3600)
    ap.add_argument("--quick", action="store_true", help="live 2 and dask 2 only")
    ap.add_argument("--json", type=Path, help="also write the whole report here")
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as d:
        r = measure(a.source, a.channels, a.hours * 3600, a.file_minutes * 60, a.task_span, not a.quick, Path(d))
    print_report(r)
    if a.json:
        a.json.write_text(json.dumps(r, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
