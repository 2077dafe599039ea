"""`nvr bench`: how well, at what cost per frame, and how many channels in real time.

    nvr bench accuracy SEQUENCE_DIR... [--json] [--param name=value ...] [--warmup N] [--skip-loop-filter LEVEL]
    nvr bench counts SCENE_DIR... [--json] [--param name=value ...]
    nvr bench {accuracy,counts} ... --sweep PARAMETER [--sweep-step S] [--out DIR]
    nvr bench throughput --source FILE [--channels N] [--seconds S] [--analysis-width W]
                         [--skip-loop-filter LEVEL] [--json] [--find-capacity]

Every figure is printed next to its baseline measured in the same run (the
OpenCV pipelines for accuracy, decode-only for throughput, the machine's
own overrun floor for real-time overruns), because
absolute figures drift on shared machines; counting is scored against
each scene's exact truth (docs/counting.md). `--sweep` runs one parameter
from 0 to 100 and writes DIR/<kind>-sweep-<parameter>.json and a .png
plot beside it. Tables go to stdout, `--json`
gives one object per line for machines, and a progress line appears on
stderr only when it is a terminal. The engine is `firmware.bench`.
"""
from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

from nvr.cli import UserError, bounded
from firmware.config import MAX_CHANNELS
from hal.frame import SKIP_LOOP_FILTER

DEFAULT_BENCH_CHANNELS = 16   # full-speed baseline runs of --find-capacity without --channels
PARAM_NAMES = ("detection_sensitivity", "background_update_rate", "scene_change_level", "minimum_target_size")


def add_parser(sub):
    p = sub.add_parser("bench", help="accuracy and channel capacity against baselines, in the same run",
                       description=__doc__.split("\n\n")[0])
    bsub = p.add_subparsers(dest="bench_command", required=True, metavar="{accuracy,counts,throughput,soak}")

    a = bsub.add_parser("accuracy", help="F-measure and cost per frame on sequences with ground-truth masks")
    a.add_argument("sequences", nargs="+", metavar="SEQUENCE_DIR",
                   help="directory with a video (input.mp4) and groundtruth.npz (masks N x H x W)")
    a.add_argument("--json", action="store_true", help="one JSON object per sequence, then a summary line")
    _param_argument(a)
    a.add_argument("--warmup", type=bounded(int, 0, 1_000_000), default=30, metavar="N",
                   help="frames not scored at the start (30)")
    a.add_argument("--no-baselines", action="store_true", help="skip the OpenCV baselines")
    _sweep_arguments(a)
    a.add_argument("--skip-loop-filter", choices=SKIP_LOOP_FILTER, default="none", metavar="LEVEL",
                   help="decode as a channel with this skip_loop_filter setting does (none)")
    a.set_defaults(func=run)

    c = bsub.add_parser("counts", help="visits and dwell per area against a scene's truth, and the dwell grid")
    c.add_argument("scenes", nargs="+", metavar="SCENE_DIR",
                   help="directory with NAME.mp4 and NAME.truth.json pairs (docs/counting.md), or a truth file")
    c.add_argument("--json", action="store_true", help="one JSON object per scene, then a summary line")
    _param_argument(c)
    _sweep_arguments(c)
    c.set_defaults(func=run)

    t = bsub.add_parser("throughput", help="frames/s of N channels, decode-only vs full pipeline, and capacity")
    t.add_argument("--source", required=True, metavar="FILE", help="recording every channel replays (looped)")
    t.add_argument("--channels", type=bounded(int, 1, MAX_CHANNELS), default=None, metavar="N",
                   help=f"channels to run at full speed (1..{MAX_CHANNELS}; with --find-capacity "
                        f"{DEFAULT_BENCH_CHANNELS} unless given)")
    t.add_argument("--seconds", type=bounded(float, 0.1, 3600, " s"), default=10.0, metavar="S",
                   help="wall seconds per measurement (10; 0.1..3600)")
    t.add_argument("--analysis-width", type=bounded(int, 8, 3840), default=None, metavar="W",
                   help="analysis width (integer downscale of the source; default full size)")
    t.add_argument("--skip-loop-filter", choices=SKIP_LOOP_FILTER, default="none", metavar="LEVEL",
                   help="the channels' decoder setting (none; decode-only is also measured without it): "
                        + ", ".join(SKIP_LOOP_FILTER))
    t.add_argument("--json", action="store_true", help="one JSON object instead of the table")
    t.add_argument("--find-capacity", action="store_true",
                   help="then search the most channels that run in real time: every frame captured and "
                        "analysed, every channel at its frame rate")
    t.set_defaults(func=run)

    s = bsub.add_parser("soak", help="16 channels with flapping and stalling sources and a disk that fills twice: "
                                     "memory, descriptors, store and loss over time")
    s.add_argument("--state-dir", required=True, type=Path, metavar="DIR",
                   help="a fresh directory on a small filesystem of its own, which the soak fills "
                        "(make soak mounts a tmpfs)")
    s.add_argument("--seconds", type=bounded(float, 30, 7 * 86400, " s"), default=3600.0, metavar="S",
                   help="wall seconds to run (3600; CI runs 60)")
    s.add_argument("--sample-every", type=bounded(float, 1, 3600, " s"), default=None, metavar="S",
                   help="seconds between samples (default: a 60th of the run)")
    s.add_argument("--json", action="store_true", help="one JSON object instead of the table")
    s.set_defaults(func=run)


def _param_argument(p) -> None:
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help=f"heat-map parameter 0..100 (default 50 each): {', '.join(PARAM_NAMES)}")


def _sweep_arguments(p) -> None:
    p.add_argument("--sweep", choices=PARAM_NAMES, metavar="PARAMETER",
                   help="run PARAMETER from 0 to 100 (the others as --param gives them) and write "
                        "<kind>-sweep-PARAMETER.json and .png into --out")
    p.add_argument("--sweep-step", type=bounded(int, 1, 100), default=10, metavar="S",
                   help="step of the sweep (10: 0, 10, ... 100)")
    p.add_argument("--out", type=Path, default=Path("."), metavar="DIR",
                   help="directory for the sweep's JSON and PNG (default: the current one)")


def run(args) -> int:
    if args.bench_command == "accuracy":
        return _accuracy(args)
    if args.bench_command == "counts":
        return _counts(args)
    if args.bench_command == "soak":
        return _soak(args)
    return _throughput(args)


# ---------------------------------------------------------------- accuracy

def parse_params(pairs: list[str]):
    """`name=value` strings -> HeatMapParams; UserError naming the fix."""
    from vca.params import HeatMapParams

    values: dict[str, int] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or name not in PARAM_NAMES:
            raise UserError(f"--param {pair!r}: use NAME=VALUE with NAME one of {', '.join(PARAM_NAMES)}")
        try:
            v = int(value)
        except ValueError:
            v = -1
        if not 0 <= v <= 100:
            raise UserError(f"--param {pair!r}: the value must be a whole number 0..100")
        values[name] = v
    return HeatMapParams(**values)


def _accuracy(args) -> int:
    from firmware.bench.accuracy import SequenceError, evaluate, open_sequence, summarize
    from firmware.bench.progress import Progress

    params = parse_params(args.param)
    try:
        seqs = [open_sequence(d) for d in args.sequences]  # every directory checked before any work
    except SequenceError as e:
        raise UserError(str(e)) from None
    if args.sweep:
        from firmware.bench.sweep import accuracy_sweep
        vals = _sweep_values(args)
        with Progress(sum(len(s.masks) for s in seqs) * len(vals), f"sweep {args.sweep}") as bar:
            try:
                sweep = accuracy_sweep(seqs, args.sweep, vals, params, args.warmup, bar.advance)
            except SequenceError as e:
                raise UserError(str(e)) from None
        return _sweep_done(sweep, args, ("f_measure", "precision", "recall"))
    baselines = not args.no_baselines
    if baselines:
        from firmware.bench.baselines import BaselinesUnavailable, load_cv2
        try:
            load_cv2()
        except BaselinesUnavailable as e:
            print(e, file=sys.stderr)
            baselines = False
    passes = 3 if baselines else 1
    results = []
    with Progress(sum(len(s.masks) for s in seqs) * passes, "accuracy") as bar:
        for s in seqs:
            bar.set_label(s.name)
            try:
                r = evaluate(s, params, args.warmup, baselines, bar.advance, args.skip_loop_filter)
            except SequenceError as e:
                raise UserError(str(e)) from None
            # A video longer than its masks: the extra frames also ran.
            bar.add_total((r.frames - len(s.masks)) * passes)
            results.append(r)
            if args.json:
                print(json.dumps(r.as_json()), flush=True)
    summary = summarize(results)
    if args.json:
        summary["params"] = dataclasses.asdict(params)
        summary["skip_loop_filter"] = args.skip_loop_filter
        summary["warmup"] = args.warmup
        print(json.dumps({"summary": summary}), flush=True)
    else:
        _accuracy_table(results, summary, params, args.warmup)
    return 0


def _accuracy_table(results, summary, params, warmup) -> None:
    names = sorted({k for r in results for k in r.baselines})
    cols = ["ours", *names]
    head = f"{'sequence':<16} {'size':>9} {'scored':>6}"
    for c in cols:
        head += f" | {c[:15]:>15} {'P':>5} {'R':>5} {'us/fr':>7}"
    print(head)
    print("-" * len(head))
    for r in results:
        row = f"{r.sequence[:16]:<16} {f'{r.width}x{r.height}':>9} {r.scored:>6}"
        for s in [r.ours, *(r.baselines[n] for n in names)]:
            row += f" | {'F ' + format(s.f_measure, '.3f'):>15} {s.precision:5.3f} {s.recall:5.3f} {s.us_per_frame:7.0f}"
        print(row)
    mf, mu = summary["mean_f_measure"], summary["mean_us_per_frame"]
    row = f"{'mean':<16} {'':>9} {'':>6}"
    for c in cols:
        row += f" | {'F ' + format(mf[c], '.3f'):>15} {'':>5} {'':>5} {mu[c]:7.0f}"
    print(row)
    p = ", ".join(f"{k} {v}" for k, v in dataclasses.asdict(params).items())
    print(f"parameters: {p}; first {warmup} frames not scored; us/fr = median cost of a whole step, one thread")
    if names:
        print(f"ours >= best baseline on {summary['ours_at_least_best_baseline']} of {len(results)} sequences; "
              f"speed vs ours: " + ", ".join(f"{n} {mu[n] / max(mu['ours'], 1e-9):.1f}x slower" for n in names))


# ---------------------------------------------------------------- counts

def _counts(args) -> int:
    from firmware.bench.counts import SceneError, evaluate, open_scenes, summarize
    from firmware.bench.progress import Progress

    params = parse_params(args.param)
    try:
        scenes = [s for d in args.scenes for s in open_scenes(d)]  # every truth file checked first
    except SceneError as e:
        raise UserError(str(e)) from None
    total = sum(s.frames for s in scenes)
    if args.sweep:
        from firmware.bench.sweep import counts_sweep
        vals = _sweep_values(args)
        with Progress(total * len(vals), f"sweep {args.sweep}") as bar:
            try:
                sweep = counts_sweep(scenes, args.sweep, vals, params, bar.advance)
            except SceneError as e:
                raise UserError(str(e)) from None
        return _sweep_done(sweep, args, ("visits", "visits_true", "mean_abs_dwell_error", "mean_grid_error"))
    results = []
    with Progress(total, "counts") as bar:
        for s in scenes:
            bar.set_label(s.name)
            try:
                r = evaluate(s, params, bar.advance)
            except SceneError as e:
                raise UserError(str(e)) from None
            results.append(r)
            if args.json:
                print(json.dumps(r.as_json()), flush=True)
    summary = summarize(results)
    if args.json:
        summary["params"] = dataclasses.asdict(params)
        print(json.dumps({"summary": summary}), flush=True)
    else:
        _counts_table(results, summary, params)
    return 0


def _pct(x: float) -> str:
    return "n/a" if x != x or x in (float("inf"), float("-inf")) else f"{100 * x:+.1f}%"


def _counts_table(results, summary, params) -> None:
    head = (f"{'scene':<18} {'area':<12} {'people':>6} {'visits true':>11} {'ours':>5} "
            f"{'dwell true s':>12} {'ours s':>9} {'error':>7} {'grid':>6}")
    print(head)
    print("-" * len(head))
    for r in results:
        rows = [r.total] + (r.areas if len(r.areas) > 1 else [])
        for k, a in enumerate(rows):
            people = "" if k or r.people is None else str(r.people)
            grid = "" if k or r.grid_error is None else f"{100 * r.grid_error:.0f}%"
            print(f"{(r.scene if not k else '')[:18]:<18} {a.name[:12]:<12} {people:>6} {a.visits_true:>11} "
                  f"{a.visits:>5} {a.dwell_true:12.2f} {a.dwell:9.2f} {_pct(a.dwell_error):>7} {grid:>6}")
    p = ", ".join(f"{k} {v}" for k, v in dataclasses.asdict(params).items())
    print(f"parameters: {p}")
    mean = summary.get("mean_abs_dwell_error")
    print(f"visits exact on {summary['scenes_visits_exact']} of {summary['scenes']} scenes "
          f"({summary['visits']} counted, {summary['visits_true']} true); mean |dwell error| "
          f"{'n/a' if mean is None else f'{100 * mean:.1f}%'}; grid = share of true dwell misplaced over cells")
    over = summary["scenes_more_visits_than_people"]
    if over:
        print(f"more visits than people on: {', '.join(over)}")


# ---------------------------------------------------------------- sweeps

def _sweep_values(args) -> list[int]:
    from firmware.bench.sweep import values
    return values(args.sweep_step)


def _sweep_done(sweep: dict, args, columns) -> int:
    from firmware.bench.sweep import write
    try:
        jpath, ppath = write(sweep, args.out)
    except OSError as e:
        raise UserError(f"--out {args.out}: cannot write the sweep ({e.strerror or e}); give a writable directory") from None
    if args.json:
        print(json.dumps(sweep), flush=True)
    else:
        print(f"{'value':>5} " + " ".join(f"{c:>20}" for c in columns))
        for pt in sweep["points"]:
            print(f"{pt['value']:>5} " + " ".join(
                f"{'n/a' if pt[c] is None else format(pt[c], '.4g'):>20}" for c in columns))
    print(f"wrote {jpath} and {ppath}", file=sys.stderr if args.json else sys.stdout)
    return 0


# ---------------------------------------------------------------- throughput

def _throughput(args) -> int:
    from firmware.bench.throughput import ThroughputError, measure

    channels = args.channels
    if channels is None:
        if not args.find_capacity:
            raise UserError("nvr bench throughput: give --channels N, or --find-capacity to search the most "
                            "channels")
        channels = DEFAULT_BENCH_CHANNELS
    try:
        report = measure(args.source, channels, args.seconds, args.analysis_width, args.find_capacity,
                         args.skip_loop_filter)
    except ThroughputError as e:
        raise UserError(str(e)) from None
    if args.json:
        print(json.dumps(report), flush=True)
    else:
        _throughput_table(report)
    return 0


def _throughput_table(r: dict) -> None:
    rows = [
        ("source", f"{r['source']} ({r['width']}x{r['height']} analysed, {r['fps']:g} fps)"),
        ("channels", f"{r['channels']} in {r['workers']} worker processes ({r['cores']} cores)"),
        ("decode only", f"{r['decode_fps']:.0f} frames/s"),
        ("full pipeline", f"{r['pipeline_fps']:.0f} frames/s"),
        ("pipeline / decode", f"{r['pipeline_to_decode_ratio']:.2f}"),
        ("= 25 fps channels", f"{r['realtime_channels_25fps']:.1f} (pipeline frames/s / 25)"),
        ("real time", f"{r['channels']} channels paced at {r['fps']:g} fps: {r['realtime_fps']:.0f} frames/s"),
        ("  cost per frame", f"median {r['median_us']:.0f} us, p99 {r['p99_us']:.0f} us, "
                             f"budget {r['budget_us']:.0f} us"),
        ("  overruns / skipped", f"{r['overruns']} / {r['skipped']} of {r['analysed'] + r['skipped']} frames"),
        ("  capture drops", f"{r['drops']}"),
    ]
    f = r.get("machine_floor")
    if f:
        rows.append(("  machine floor", f"{f['over_budget']} of {f['chunks']} fixed-work chunks of "
                                        f"{f['median_us']:.0f} us over the budget at the same load "
                                        f"(expect {f['expected_overruns']:g} overruns in this run from "
                                        f"the machine alone)"))
    rows += [
        ("memory", f"RSS {r['rss_mb']:.0f} MB; analyzer state {r['analyzer_mb']:.2f} MB per channel"),
    ]
    if r.get("other_cpu_share", 0.0) > 0.05:
        rows.append(("warning", f"other processes used {r['other_cpu_share'] * 100:.0f}% of the cores "
                                "during the runs: the figures are low by about that much"))
    if r.get("decode_fps_with_setting"):
        rows.insert(3, ("  with skip_loop_filter", f"{r['skip_loop_filter']}: {r['decode_fps_with_setting']:.0f} "
                                                   f"frames/s ({r['decode_setting_speedup']:.2f} x default)"))
    if "capacity" in r:
        c = r["capacity"]
        rows.append(("realtime capacity", f"{c['channels']} channels at {r['fps']:g} fps for {r['seconds']:g} s, "
                                          f"every frame captured and analysed = {c['capacity_to_decode_ceiling']:.2f}"
                                          f" x the decode-only ceiling ({c['decode_ceiling_channels']:.0f} channels)"))
        if "passed" in c:
            p = c["passed"]
            floor = c.get("machine_floor")
            beside = f"; machine floor at that load {floor['per_10k']:g}" if floor else ""
            rows.append(("  overruns", f"{p['overruns_per_10k']:g} per 10,000 frames{beside} "
                                       f"(cost median {p['median_us']:.0f} us, p99 {p['p99_us']:.0f} us, "
                                       f"budget {p['budget_us']:.0f} us)"))
            rows.append(("  memory", f"RSS {c['rss_mb']:.0f} MB summed over the processes "
                                     f"({c['rss_mb_per_channel']:.1f} MB per channel; workers "
                                     f"{', '.join(f'{x:.0f}' for x in c['rss_mb_per_worker'])} MB), "
                                     f"{c['pss_mb']:.0f} MB with shared pages counted once (PSS)"))
        rows.append(("  limit", c["limit"]))
    w = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{w}}  {v}")


# ---------------------------------------------------------------- soak

SOAK_WARMUP = 0.2  # share of the run before memory and descriptors are expected flat


def _soak(args) -> int:
    from firmware.bench.soak import SoakError, run_soak, verdict

    every = args.sample_every or max(1.0, args.seconds / 60)
    log = (lambda line: print(line, file=sys.stderr, flush=True)) if args.json else \
        (lambda line: print(line, flush=True))
    try:
        r = run_soak(args.seconds, args.state_dir, every, SOAK_WARMUP, log=log)
    except SoakError as e:
        raise UserError(str(e)) from None
    problems = verdict(r, SOAK_WARMUP)
    figures = r.figures(SOAK_WARMUP)
    if args.json:
        print(json.dumps({
            "seconds": r.seconds, "channels": r.channels, "warmup_share": SOAK_WARMUP, **figures,
            "samples": [dataclasses.asdict(s) for s in r.samples], "fill_cycles": r.fill_cycles,
            "store_failing_lines": r.failing_lines, "store_recovered_lines": r.recovered_lines,
            "integrity": r.integrity, "reports_readable": r.reports_readable, "reports_total": r.reports_total,
            "counted_visits": r.counted_visits, "lost_visits": r.lost_visits,
            "lost_dwell_seconds": r.lost_dwell_seconds, "tracebacks": r.tracebacks,
            "video_losses": r.video_losses, "restores": r.restores, "passed": not problems, "problems": problems,
        }), flush=True)
    else:
        rss, mem, fds = figures["rss_mb"], figures["private_mb"], figures["fds"]
        print(f"memory (appliance + workers) after the warm-up: private first {mem['first']} MB, last "
              f"{mem['last']} MB, largest {mem['max']} MB; resident first {rss['first']} MB, last {rss['last']} MB")
        print(f"open descriptors after the warm-up: first {fds['first']}, last {fds['last']}, "
              f"range {fds['min']}..{fds['max']}")
        print(f"disk filled and freed {r.fill_cycles} times; the store said so {r.failing_lines} times and "
              f"recovered {r.recovered_lines} times")
        print(f"sources: {r.video_losses} video losses, {r.restores} restores")
        print(f"store integrity {r.integrity}; reports readable {r.reports_readable} of {r.reports_total}; "
              f"statistics lost: {r.lost_visits} of {r.counted_visits} visits, {r.lost_dwell_seconds:g} s of dwell; "
              f"tracebacks {r.tracebacks}")
        print("soak passed" if not problems else "soak FAILED: " + "; ".join(problems))
    return 0 if not problems else 1
