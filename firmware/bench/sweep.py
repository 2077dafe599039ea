"""Parameter curves: one heat-map parameter run from 0 to 100, the others at their values.

`counts_sweep` scores counting scenes (firmware.bench.counts) at each value,
`accuracy_sweep` foreground sequences (firmware.bench.accuracy, ours only);
`write` saves the points as JSON and the chart as a PNG beside it
(firmware.bench.plot), so an installer sees what a parameter does before
touching it on a live channel.
"""
from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Callable

from firmware.bench.plot import Panel, line_chart
from vca.params import PARAMETER_DEFAULT, PARAMETER_LABELS, HeatMapParams

DEFAULT_STEP = 10


def values(step: int = DEFAULT_STEP) -> list[int]:
    """0, step, 2*step, ... and 100 always."""
    if not 1 <= step <= 100:
        raise ValueError(f"sweep step {step}: give 1..100")
    out = list(range(0, 100, step))
    return out + [100]


def _with(params: HeatMapParams, name: str, value: int) -> HeatMapParams:
    return dataclasses.replace(params, **{name: value})


def counts_sweep(scenes, name: str, vals: list[int], base: HeatMapParams = HeatMapParams(),
                 tick: Callable[[], None] | None = None) -> dict:
    """Per value: visits counted and true, absolute visits error, mean |dwell error|, over `scenes`."""
    from firmware.bench.counts import evaluate, summarize

    points = []
    for v in vals:
        results = [evaluate(s, _with(base, name, v), tick) for s in scenes]
        summ = summarize(results)
        points.append({"value": v, **{k: summ[k] for k in ("visits_true", "visits", "visits_abs_error",
                                                             "mean_abs_dwell_error", "mean_grid_error")},
                       "dwell_true": round(sum(r.total.dwell_true for r in results), 3),
                       "dwell": round(sum(r.total.dwell for r in results), 3),
                       "scenes": {r.scene: {"visits": r.total.visits, "dwell_error": _finite(r.total.dwell_error)}
                                  for r in results}})
    return {"kind": "counts", "parameter": name, "scenes": [s.name for s in scenes],
            "params": dataclasses.asdict(base), "points": points}


def accuracy_sweep(seqs, name: str, vals: list[int], base: HeatMapParams = HeatMapParams(), warmup: int = 30,
                   tick: Callable[[], None] | None = None) -> dict:
    """Per value: mean F-measure, precision and recall of ours over `seqs`."""
    from firmware.bench.accuracy import evaluate

    points = []
    for v in vals:
        rs = [evaluate(s, _with(base, name, v), warmup, False, tick) for s in seqs]
        n = len(rs)
        points.append({"value": v,
                       "f_measure": sum(r.ours.f_measure for r in rs) / n,
                       "precision": sum(r.ours.precision for r in rs) / n,
                       "recall": sum(r.ours.recall for r in rs) / n,
                       "sequences": {r.sequence: r.ours.f_measure for r in rs}})
    return {"kind": "accuracy", "parameter": name, "sequences": [s.name for s in seqs],
            "params": dataclasses.asdict(base), "warmup": warmup, "points": points}


def _finite(x: float):
    return None if not math.isfinite(x) else round(x, 4)


def write(sweep: dict, out_dir: str | Path) -> tuple[Path, Path]:
    """DIR/<kind>-sweep-<parameter>.json and .png; returns both paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{sweep['kind']}-sweep-{sweep['parameter']}"
    jpath = out / f"{stem}.json"
    jpath.write_text(json.dumps(sweep, indent=1) + "\n")
    return jpath, plot(sweep, out / f"{stem}.png")


def plot(sweep: dict, path: Path) -> Path:
    name = sweep["parameter"]
    label = PARAMETER_LABELS[name]
    pts = sweep["points"]
    default = sweep["params"].get(name, PARAMETER_DEFAULT)
    mark = f"dashed: {'the default' if default == PARAMETER_DEFAULT else 'the --param value'}, {default}"
    if sweep["kind"] == "accuracy":
        panels = [Panel("foreground against the ground-truth masks, mean over "
                        f"{len(sweep['sequences'])} sequences", "",
                        {k.replace("_", "-"): [(p["value"], p[k]) for p in pts]
                         for k in ("f_measure", "precision", "recall")}, ylim=(0.0, 1.0))]
        title = f"nvr bench accuracy --sweep {name}: {label} ({mark}; the others at theirs)"
    else:
        panels = [
            Panel(f"visits: counted and true, {len(sweep['scenes'])} scenes", "visits",
                  {"counted": [(p["value"], p["visits"]) for p in pts],
                   "true": [(p["value"], p["visits_true"]) for p in pts]}),
            Panel("dwell error: mean |counted - true| / true over scenes (grey: 5 %)", "%",
                  {"dwell": [(p["value"], 100 * (p["mean_abs_dwell_error"] or 0.0)) for p in pts]}, hline=5.0),
            Panel("dwell grid: sum over cells of |counted - true| / true dwell, mean over scenes", "%",
                  {"grid cells": [(p["value"], 100 * (p["mean_grid_error"] or 0.0)) for p in pts]}),
        ]
        title = f"nvr bench counts --sweep {name}: {label} ({mark}; the others at theirs)"
    return line_chart(path, title, label, panels, mark_x=default)
