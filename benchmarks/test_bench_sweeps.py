"""Parameter curves: `nvr bench counts --sweep` and `nvr bench accuracy --sweep` for each parameter.

Counts sweep the shipped counting scenes (data/samples/counting), accuracy
the shared real sequences (skipped when ../shared is absent). Each writes
its JSON and PNG into .benchmarks/sweeps; `make bench` runs every value
0, 10, ... 100 (the plots docs/counting.md links come from such a run).
Under --benchmark-disable (CI) each runs two values on two short scenes
(the 5 fps sub-streams) and on the first sequence, checking the plumbing and the
chart, not the curves (tests/test_parameter_direction.py checks directions).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from frames import ROOT, benchmarks_disabled
from firmware.bench import sweep
from firmware.bench.accuracy import open_sequence
from firmware.bench.counts import open_scenes
from tests import sequences
from vca.params import PARAMETER_KEYS

OUT = ROOT / ".benchmarks" / "sweeps"
COUNTING = ROOT / "data" / "samples" / "counting"


def _check(jpath: Path, ppath: Path, n_values: int) -> dict:
    doc = json.loads(jpath.read_text())
    assert len(doc["points"]) == n_values
    with Image.open(ppath) as img:
        assert img.format == "PNG" and len(img.convert("RGB").getcolors(1 << 16)) > 3
    return doc


@pytest.mark.parametrize("name", PARAMETER_KEYS)
def test_counts_sweep(benchmark, name):
    short = benchmarks_disabled(benchmark)
    scenes = open_scenes(COUNTING)
    if short:
        scenes = [s for s in scenes if s.name.endswith("-5fps")]
    vals = [30, 70] if short else sweep.values()
    result = {}
    benchmark.pedantic(lambda: result.update(sweep.counts_sweep(scenes, name, vals)), rounds=1, iterations=1)
    doc = _check(*sweep.write(result, OUT), len(vals))
    benchmark.extra_info["points"] = [{k: p[k] for k in ("value", "visits", "visits_true", "mean_abs_dwell_error")}
                                      for p in doc["points"]]


@pytest.mark.parametrize("name", PARAMETER_KEYS)
def test_accuracy_sweep(benchmark, name):
    names = [n for n in sequences.NAMES if not sequences.missing(n)]
    if not names:
        pytest.skip(sequences.missing() or "no shared sequences")
    short = benchmarks_disabled(benchmark)
    seqs = [open_sequence(sequences.SEQUENCES / n) for n in names[:1 if short else None]]
    vals = [30, 70] if short else sweep.values()
    result = {}
    benchmark.pedantic(lambda: result.update(sweep.accuracy_sweep(seqs, name, vals)), rounds=1, iterations=1)
    doc = _check(*sweep.write(result, OUT), len(vals))
    benchmark.extra_info["points"] = [{k: round(p[k], 4) for k in ("value", "f_measure", "precision", "recall")}
                                      for p in doc["points"]]
