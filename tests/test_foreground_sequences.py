"""Foreground accuracy on real recordings at default parameters.

Scores each sequence of ../shared/data/sequences (CDnet convention: first 30
frames skipped, mask 170 ignored, F from TP/FP/FN summed over the sequence)
and requires at least the better OpenCV baseline measured on the same data
(MOG2 and selective running average, see that folder's README).
"""
import numpy as np
import pytest

from tests import sequences
from vca.background import BackgroundModel

TARGET_F = {"hall_monitor": 0.803, "ibm_lobby": 0.805, "office_people": 0.495}

pytestmark = pytest.mark.sequences


@pytest.mark.parametrize("name", sorted(TARGET_F))
def test_f_measure_at_defaults_beats_the_opencv_baselines(name):
    if reason := sequences.missing(name):
        pytest.skip(reason)
    frames, masks, fps = sequences.load(name)
    assert len(frames) == len(masks)
    n, h, w = frames.shape
    model = BackgroundModel(h, w)
    area = np.ones((h, w), np.uint8)
    fg = np.zeros((h, w), np.uint8)
    predicted = []
    for i in range(n):
        model.apply(frames[i], i / fps, area, fg)
        predicted.append(fg.copy())
    c = sequences.score(predicted, masks)
    assert c.f_measure >= TARGET_F[name], f"{name}: F={c.f_measure:.3f} P={c.precision:.3f} R={c.recall:.3f}"
