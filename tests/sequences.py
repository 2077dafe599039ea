"""The evaluation recordings with ground-truth masks, for tests, benchmarks and tools.

`../shared/data/sequences/NAME/` (next to the repository, never shipped)
holds `input.mp4`, `groundtruth.npz` (masks: N x H x W uint8, 0 background,
255 foreground, 170 ignore) and `meta.yaml` (fps). Loading and scoring go
through the product's own bench code (firmware.bench.accuracy, .scoring),
so the tests measure with what `nvr bench accuracy` reports.

    SEQUENCES              the directory; tests skip with a reason when it is absent
    NAMES                  the three sequences the figures in docs/counting.md are for
    missing()              the skip reason, or None when the data is there
    open_sequence(name)    name, video path, masks, fps (nothing decoded)
    load(name)             (frames uint8 (N, H, W), masks, fps), decoded through the HAL
    score(predicted, masks, warmup=30)   CDnet confusion summed over the frames (.f_measure ...)
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from firmware.bench import accuracy
from firmware.bench.scoring import DEFAULT_WARMUP, Confusion, score_frames

SEQUENCES = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "sequences"
NAMES = ("hall_monitor", "ibm_lobby", "office_people")


def missing(name: str | None = None) -> str | None:
    """Why a test needing the sequences (or one of them) cannot run, or None."""
    d = SEQUENCES if name is None else SEQUENCES / name
    if not d.is_dir():
        return f"evaluation data absent: mount the shared sequences at {SEQUENCES} (not shipped)"
    return None


def open_sequence(name: str) -> accuracy.Sequence:
    return accuracy.open_sequence(SEQUENCES / name)


def load(name: str) -> tuple[np.ndarray, np.ndarray, float]:
    """Every frame's luma (N, H, W) uint8, the masks (N, H, W) uint8 and the frame rate."""
    seq = open_sequence(name)
    frames, fps = accuracy.decode(seq)
    return frames, seq.masks, fps


def score(predicted, masks, warmup: int = DEFAULT_WARMUP) -> Confusion:
    """TP, FP, FN of predicted masks (non-zero = foreground) against the truth, summed over
    the frames after `warmup`; .precision, .recall, .f_measure."""
    return score_frames(predicted, masks, warmup)
