"""Foreground accuracy on real recordings at default parameters.

Scores each sequence of ../shared/data/sequences (CDnet convention: first 30
frames skipped, mask 170 ignored, F from TP/FP/FN summed over the sequence)
and requires at least the better OpenCV baseline measured on the same data
(MOG2 and selective running average, see that folder's README).
"""
from pathlib import Path

import av
import numpy as np
import pytest
import yaml

from vca.background import BackgroundModel

SEQUENCES = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "sequences"
TARGET_F = {"hall_monitor": 0.803, "ibm_lobby": 0.805, "office_people": 0.495}
SKIP = 30

pytestmark = pytest.mark.sequences


@pytest.mark.parametrize("name", sorted(TARGET_F))
def test_f_measure_at_defaults_beats_the_opencv_baselines(name):
    d = SEQUENCES / name
    if not d.is_dir():
        pytest.skip(f"evaluation data absent: mount the shared sequences at {SEQUENCES}")
    fps = float(yaml.safe_load((d / "meta.yaml").read_text())["fps"])
    masks = np.load(d / "groundtruth.npz")["masks"]
    h, w = masks.shape[1:]
    model = BackgroundModel(h, w)
    area = np.ones((h, w), np.uint8)
    fg = np.zeros((h, w), np.uint8)
    tp = fp = fn = 0
    with av.open(str(d / "input.mp4")) as c:
        for i, frame in enumerate(c.decode(video=0)):
            p = frame.planes[0]
            luma = np.frombuffer(p, np.uint8).reshape(frame.height, p.line_size)[:, :w]
            model.apply(luma, i / fps, area, fg)
            if i < SKIP:
                continue
            m = masks[i]
            care = m != 170
            gt = m == 255
            pr = (fg == 1) & care
            tp += np.count_nonzero(pr & gt)
            fp += np.count_nonzero(pr & ~gt)
            fn += np.count_nonzero(~pr & gt & care)
    assert i + 1 == len(masks)
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    f = 2 * precision * recall / (precision + recall)
    assert f >= TARGET_F[name], f"{name}: F={f:.3f} P={precision:.3f} R={recall:.3f}"
