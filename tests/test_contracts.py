"""Every public kernel wrapper refuses an array of the wrong dtype, shape or layout with one line
naming the fix, before a kernel (bounds checks off) reads or writes past it."""
from __future__ import annotations

import numpy as np
import pytest

from hal.downscale import AreaDownscaler, area_downscale
from vca.analyzer import ChannelAnalyzer
from vca.background import BackgroundModel
from vca.bits import pack, unpack
from vca.blobs import N_STATS, BlobFinder
from vca.contour import ContourEvidence
from vca.grid import GridAccumulator
from vca.mask import grow_mask, rasterize_areas
from vca.morphology import Cleaner
from vca.track_table import N_FLOAT, N_INT, new_tables
from vca.tracks import Tracker

H, W = 24, 70          # two words per packed row
T = 8                  # track slots


def strided(shape, dtype):
    """A view of `shape` that is not C-contiguous (every other column of a wider array)."""
    return np.zeros((shape[0], 2 * shape[1]), dtype)[:, ::2]


def calls():
    """(label, call, words the message must hold): each call breaks one contract."""
    tracker = Tracker(T, 16, height=H, width=W)
    stats = np.zeros((16, N_STATS), np.int64)
    grid = GridAccumulator(H, W, 7, 4, max_tracks=T)
    tr, trf = new_tables(T)
    labels = np.zeros((H, W), np.uint8)
    evidence = ContourEvidence(T)
    luma = np.zeros((H, W), np.uint8)
    mean = np.zeros((H, W), np.int16)
    bits = np.zeros((H, 2), np.uint64)
    finder = BlobFinder(H, W)
    cleaner = Cleaner(H, W)
    model = BackgroundModel(H, W)
    analyzer = ChannelAnalyzer(H, W)
    scaler = AreaDownscaler(2 * W, 2 * H, W)
    return [
        ("stats dtype", lambda: tracker.update(stats.astype(np.float64), 0, 0.0), "BlobFinder.stats"),
        ("stats columns", lambda: tracker.update(stats[:, :8].copy(), 0, 0.0), "BlobFinder.stats"),
        ("stats layout", lambda: tracker.update(strided((16, N_STATS), np.int64), 0, 0.0), "C-contiguous"),
        ("more blobs than rows", lambda: tracker.update(stats[:3], 4, 0.0), "count the blob finder returned"),
        ("negative blob count", lambda: tracker.update(stats, -1, 0.0), "count the blob finder returned"),
        ("ghost length", lambda: tracker.update(stats, 0, 0.0, np.zeros(T + 1)), f"ContourEvidence({T})"),
        ("ghost_share length", lambda: tracker.protect(np.zeros(T - 1), 0.5, 0.3, W, 3, bits), "one share"),
        ("protect words", lambda: tracker.protect(np.zeros(T), 0.5, 0.3, W, 3, np.zeros((H, 1), np.uint64)),
         "packed rows"),
        ("protect dtype", lambda: tracker.protect(np.zeros(T), 0.5, 0.3, W, 3, bits.view(np.int64)), "packed rows"),
        ("tr slots", lambda: grid.accumulate(*new_tables(T * 2), labels, 0.0, 1.0), f"{T} slots"),
        ("trf dtype", lambda: grid.accumulate(tr, trf.astype(np.float32), labels, 0.0, 1.0), f"{T} slots"),
        ("tr layout", lambda: grid.accumulate(strided((T, N_INT), np.int64), trf, labels, 0.0, 1.0), "C-contiguous"),
        ("labels size", lambda: grid.accumulate(tr, trf, labels[:-1], 0.0, 1.0), "analysis size"),
        ("labels layout", lambda: grid.accumulate(tr, trf, np.asfortranarray(labels), 0.0, 1.0), "C-contiguous"),
        ("evidence tr", lambda: evidence.update(np.zeros((T, N_FLOAT)), luma, mean, bits, 0.04), f"{T} slots"),
        ("evidence luma dtype", lambda: evidence.update(tr, mean, mean, bits, 0.04), "luma plane"),
        ("evidence mean size", lambda: evidence.update(tr, luma, mean[:, :64].copy(), bits, 0.04), "fg_bits"),
        ("evidence luma size", lambda: evidence.update(tr, luma[:-1], mean, bits, 0.04), "model's size"),
        ("evidence bits words", lambda: evidence.update(tr, luma, mean, np.zeros((H, 3), np.uint64), 0.04),
         "fg_bits"),
        ("find_bits shape", lambda: finder.find_bits(1, np.zeros((H, 1), np.uint64)), "fg_bits"),
        ("find_bits layout", lambda: finder.find_bits(1, strided((H, 2), np.uint64)), "C-contiguous"),
        ("find size", lambda: finder.find(1, np.zeros((H, W + 1), np.uint8)), "analysis size"),
        ("clean_bits shape", lambda: cleaner.clean_bits(np.zeros((H, 3), np.uint64), bits), "cleaner's size"),
        ("clean_bits in place", lambda: cleaner.clean_bits(bits, bits), "separate array"),
        ("clean dtype", lambda: cleaner.clean(np.zeros((H, W), np.float32), luma), "uint8"),
        ("model frame", lambda: model.apply(np.zeros((H, W + 1), np.uint8), 0.0, luma, luma.copy()),
         "size the model was built for"),
        ("analyzer frame dtype", lambda: analyzer.step(np.zeros((H, W), np.uint16), 0.0), "analysis size"),
        ("analyzer frame size", lambda: analyzer.step(np.zeros((H, W - 2), np.uint8), 0.0), "analysis size"),
        ("pack dtype", lambda: pack(np.zeros((H, W), np.int32)), "0/1 uint8"),
        ("unpack width", lambda: unpack(bits, 200), "packed rows of that width"),
        ("grow dtype", lambda: grow_mask(luma.astype(np.int8), 2, luma), "same shape"),
        ("rasterize dtype", lambda: rasterize_areas([], labels.astype(np.int16), labels), "analysis size"),
        ("downscale plane size", lambda: scaler(np.zeros((2 * H, 2 * W + 2), np.uint8)), "per source size"),
        ("downscale dtype", lambda: area_downscale(np.zeros((H, W), np.float32), 2), "Y plane"),
        ("downscale out", lambda: area_downscale(luma, 2, np.zeros((H, W), np.uint8)), "src's size // f"),
    ]


@pytest.mark.parametrize("index", range(len(calls())), ids=[c[0] for c in calls()])
def test_wrong_array_is_one_line_naming_the_fix(index):
    _, call, words = calls()[index]
    with pytest.raises(ValueError) as err:
        call()
    msg = str(err.value)
    assert words in msg and "\n" not in msg and ": " in msg


def test_an_array_accepted_before_does_not_let_a_wrong_one_through():
    # The per-frame path recognises the buffers it was given before; a different one is checked.
    tracker = Tracker(T, 16)
    good = np.zeros((16, N_STATS), np.int64)
    for _ in range(3):
        tracker.update(good, 0, 0.0)
    with pytest.raises(ValueError, match="BlobFinder.stats"):
        tracker.update(np.zeros((16, N_STATS + 1), np.int64), 0, 0.0)
    grid = GridAccumulator(H, W, 7, 4, max_tracks=T)
    tr, trf = new_tables(T)
    labels = np.zeros((H, W), np.uint8)
    for buffers in ((tr, trf), new_tables(T), (tr, trf)):        # double buffers are both remembered
        grid.accumulate(*buffers, labels, 0.0, 1.0)
    with pytest.raises(ValueError, match="C-contiguous"):
        grid.accumulate(tr, trf, np.asfortranarray(labels), 0.0, 1.0)


def test_a_rejected_call_changes_nothing():
    tracker = Tracker(T, 16)
    stats = np.zeros((16, N_STATS), np.int64)
    stats[0] = (10, 10, 19, 39, 300, 14, 39, 0, 0)
    tracker.update(stats, 1, 0.0)
    before = tracker.tr.copy(), tracker.trf.copy(), tracker.owner.copy()
    with pytest.raises(ValueError):
        tracker.update(stats[:1], 2, 0.04)
    assert all(np.array_equal(a, b) for a, b in zip(before, (tracker.tr, tracker.trf, tracker.owner)))
