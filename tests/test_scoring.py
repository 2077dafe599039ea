"""CDnet scoring on tiny hand-made masks whose answers are known exactly."""
from __future__ import annotations

import numpy as np
import pytest

from firmware.bench.scoring import Confusion, score_frames

B, F, U = 0, 255, 170  # ground-truth values: background, foreground, unknown


def test_counts_and_measures_on_a_hand_made_frame():
    truth = np.array([[F, F, B, B],
                      [F, F, B, B]], np.uint8)
    pred = np.array([[1, 0, 1, 0],
                     [1, 0, 0, 0]], np.uint8)
    c = score_frames([pred], [truth], warmup=0)
    assert (c.tp, c.fp, c.fn, c.frames) == (2, 1, 2, 1)
    assert c.precision == pytest.approx(2 / 3)
    assert c.recall == pytest.approx(2 / 4)
    assert c.f_measure == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))  # 4/7


def test_unknown_pixels_are_ignored_whatever_is_predicted():
    truth = np.array([[F, U, U, B]], np.uint8)
    hit_unknown = np.array([[1, 1, 1, 0]], np.uint8)
    miss_unknown = np.array([[1, 0, 0, 0]], np.uint8)
    for pred in (hit_unknown, miss_unknown):
        c = score_frames([pred], [truth], warmup=0)
        assert (c.tp, c.fp, c.fn) == (1, 0, 0)
        assert c.f_measure == 1.0


def test_sums_over_frames_before_dividing():
    # Frame 1: perfect on 1 pixel. Frame 2: 3 false alarms. Per-frame F would
    # average 0.5; CDnet sums first: P = 1/4, R = 1, F = 0.4.
    truth = [np.array([[F, B, B, B]], np.uint8), np.array([[B, B, B, B]], np.uint8)]
    pred = [np.array([[1, 0, 0, 0]], np.uint8), np.array([[0, 1, 1, 1]], np.uint8)]
    c = score_frames(pred, truth, warmup=0)
    assert (c.tp, c.fp, c.fn) == (1, 3, 0)
    assert c.f_measure == pytest.approx(0.4)


def test_warmup_frames_are_not_scored():
    truth = np.array([[F, B]], np.uint8)
    wrong = np.array([[0, 1]], np.uint8)
    right = np.array([[255, 0]], np.uint8)  # any non-zero prediction is foreground
    c = score_frames([wrong, wrong, right], [truth] * 3, warmup=2)
    assert c.frames == 1
    assert c.f_measure == 1.0
    c = score_frames([wrong, wrong, right], [truth] * 3, warmup=1)
    assert (c.tp, c.fp, c.fn, c.frames) == (1, 1, 1, 2)


def test_empty_cases_never_give_nan():
    truth = np.zeros((2, 2), np.uint8)
    c = score_frames([np.zeros((2, 2), np.uint8)], [truth], warmup=0)
    assert (c.precision, c.recall, c.f_measure) == (1.0, 1.0, 1.0)
    truth[0, 0] = F
    c = score_frames([np.zeros((2, 2), np.uint8)], [truth], warmup=0)
    assert (c.precision, c.recall, c.f_measure) == (1.0, 0.0, 0.0)


def test_size_mismatch_is_one_clear_error():
    with pytest.raises(ValueError, match="score at the ground truth's size"):
        Confusion().add(np.zeros((2, 3), np.uint8), np.zeros((3, 2), np.uint8))
    with pytest.raises(ValueError, match="warm-up"):
        score_frames([], [], warmup=-1)
