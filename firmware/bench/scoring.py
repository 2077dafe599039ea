"""CDnet-style scoring of foreground masks against ground truth.

Ground-truth masks are uint8 with 0 = background, 255 = foreground and
170 = unknown (pixels ignored, as in the CDnet benchmark; any other value
is also treated as ignore). A prediction is any array whose non-zero pixels
are foreground. TP, FP and FN are summed over every scored frame (frames
before the warm-up are the model's learning time and are not scored), and
precision, recall and F-measure are computed once from the sums:

    precision = TP / (TP + FP)      recall = TP / (TP + FN)
    F = 2 * precision * recall / (precision + recall)

0/0 counts as 1.0 (nothing claimed is nothing wrong; nothing to find is
nothing missed), so an empty prediction on a sequence with foreground
scores precision 1, recall 0, F 0, and no value is ever NaN.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GT_BACKGROUND = 0
GT_FOREGROUND = 255
GT_IGNORE = 170
DEFAULT_WARMUP = 30  # CDnet: the first frames are the model's training period


@dataclass(slots=True)
class Confusion:
    """Pixel counts summed over the scored frames."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    frames: int = 0

    def add(self, predicted: np.ndarray, truth: np.ndarray) -> None:
        """Count one frame: predicted (H, W) non-zero = foreground; truth (H, W) uint8 CDnet mask."""
        if predicted.shape != truth.shape:
            raise ValueError(f"prediction is {predicted.shape[1::-1]} but the ground truth is "
                             f"{truth.shape[1::-1]}: score at the ground truth's size")
        fg = predicted != 0
        gt_fg = truth == GT_FOREGROUND
        gt_bg = truth == GT_BACKGROUND
        tp = int(np.count_nonzero(fg & gt_fg))
        self.tp += tp
        self.fp += int(np.count_nonzero(fg & gt_bg))
        self.fn += int(np.count_nonzero(gt_fg)) - tp
        self.frames += 1

    @property
    def precision(self) -> float:
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float:
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def f_measure(self) -> float:
        p, r = self.precision, self.recall
        return 0.0 if p + r == 0 else 2.0 * p * r / (p + r)


def _ratio(num: int, den: int) -> float:
    return 1.0 if den == 0 else num / den


def score_frames(predicted, truth, warmup: int = DEFAULT_WARMUP) -> Confusion:
    """Score paired sequences of masks (any iterables of (H, W) arrays), skipping the first `warmup` pairs."""
    if warmup < 0:
        raise ValueError(f"warm-up of {warmup} frames: give 0 or more")
    c = Confusion()
    for i, (p, t) in enumerate(zip(predicted, truth)):
        if i >= warmup:
            c.add(p, t)
    return c
