"""Grid accumulation: exact visits and dwell for synthetic foreground fed through blobs -> tracks -> grid."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tests.naive import slow_accumulate
from vca.blobs import BlobFinder, min_target_pixels
from vca.grid import DT_CAP, GridAccumulator, default_rows
from vca.mask import area_labels
from vca.track_table import (N_FLOAT, N_INT, T_BORN, T_CONFIRMED, T_CREDIT, T_FX, T_FY, T_LIVE, T_LX, T_LY,
                             T_MATCHED, T_NEW)
from vca.tracks import STILL_GRACE, Tracker

DT = 0.04
H = W = 64
RIGHT_HALF = [(0.5, 0.0), (1.0, 0.0), (1.0, 1.0), (0.5, 1.0)]


class Stages:
    """Blobs, tracks and grid wired as the analyzer does, fed a synthetic foreground."""

    def __init__(self, regions, columns=8, rows=8, min_pixels=1):
        self.labels, _ = area_labels(regions, H, W)
        self.blobs = BlobFinder(H, W)
        self.tracker = Tracker()
        self.grid = GridAccumulator(H, W, columns, rows)
        self.min_pixels = min_pixels

    def frame(self, now, *boxes):
        """boxes: (x, y, w, h) filled rectangles."""
        self.blobs.image[:] = 0
        for x, y, w, h in boxes:
            self.blobs.image[y:y + h, x:x + w] = 1
        n = self.blobs.find(self.min_pixels)
        self.tracker.update(self.blobs.stats, n, now)
        self.grid.accumulate(self.tracker.tr, self.tracker.trf, self.labels, now, self.tracker.grace)


def test_square_moving_one_cell_per_frame():
    s = Stages([RIGHT_HALF])
    for f in range(7):                          # 16x16 square, 8 px = one cell per frame, 0.1 s apart
        s.frame(f * 0.1, (f * 8, 20, 16, 16))
    # footprint x = f*8 + 7 -> column f; confirmed on frame 4 (0.4 s old, moved), column 4; its path
    # from the birth footprint (column 0) is drawn, but only columns 4.. are in the area
    expected_visits = np.zeros((8, 8), np.int32)
    expected_visits[4, 4:7] = 1
    np.testing.assert_array_equal(s.grid.visits, expected_visits)
    # the 0.4 s since birth are shared along the 32 px walked since (8 samples of 4 px):
    # only the last two lie in the area; every later frame adds its 0.1 s where it walked
    np.testing.assert_allclose(s.grid.dwell[4, 4:7], [0.1, 0.1, 0.1])
    assert s.grid.area_visits[:2].tolist() == [1, 1]
    assert s.grid.area_dwell[1] == pytest.approx(0.3)


def test_fast_walker_leaves_an_unbroken_trail():
    s = Stages([[(0, 0), (1, 0), (1, 1), (0, 1)]], columns=16, rows=16)   # 4 px cells
    for f in range(8):                          # 8 px (two cells) per frame
        s.frame(f * 0.1, (f * 8, 20, 8, 16))
    assert s.tracker.confirmed_ids() == [1]
    # footprint x 3..59, y 35: columns 0..14 of row 8, none skipped, each once
    assert s.grid.visits[8].tolist() == [1] * 15 + [0] and s.grid.visits.sum() == 15
    # and its 0.7 s are laid along the same lane, not on every other cell where a frame caught it
    assert (s.grid.dwell[8, 1:15] > 0).all() and s.grid.dwell.sum() == pytest.approx(0.7)
    assert s.grid.dwell[8, 1:15] == pytest.approx(np.full(14, 0.05))


def test_cells_outside_all_areas_stay_zero():
    s = Stages([RIGHT_HALF])
    for f in range(60):                         # wander over the whole frame
        x = int(24 + 20 * np.sin(f / 5))
        y = int(24 + 20 * np.cos(f / 7))
        s.frame(f * DT, (x, y, 16, 16))
    assert s.grid.visits[:, :4].sum() == 0 and s.grid.dwell[:, :4].sum() == 0
    assert s.grid.visits[:, 4:].sum() > 0


def test_blob_under_minimum_size_is_no_target():
    s = Stages([RIGHT_HALF], min_pixels=min_target_pixels(50, H, W))   # 4 px at 64x64
    for f in range(50):
        s.frame(f * DT, (40, 40, 1, 3))
    assert s.tracker.live_ids() == []
    assert s.grid.visits.sum() == 0 and s.grid.area_dwell.sum() == 0


def walk_in_and_stand(f):
    """8x20 target walking right 1 px per frame for 40 frames, then standing (footprint x = 43)."""
    return (min(f, 40), 30, 8, 20)


def test_standing_target_dwell_accrues_continuously_with_one_visit():
    s = Stages([RIGHT_HALF])
    n = 290                                     # walks in for 1.6 s, then stands 10 s at 25 fps
    for f in range(n):
        s.frame(f * DT, walk_in_and_stand(f))
    # footprint x = x0 + 3 enters the area (x >= 32) on frame 29, column 5 (x >= 40) on frame 37
    assert s.grid.visits.sum() == 2 and s.grid.area_visits[0] == 1
    assert s.grid.area_dwell[0] == pytest.approx((n - 29) * DT)
    assert s.grid.dwell[6, 5] == pytest.approx((n - 37) * DT)
    assert s.grid.dwell.sum() == pytest.approx(s.grid.area_dwell[0])


def test_two_blobs_merging_and_parting_do_not_double_visits():
    s = Stages([[(0, 0), (1, 0), (1, 1), (0, 1)]])
    ids = []
    for f in range(60):
        # two 8x16 walkers meet in the middle (frames ~20-35 touching), then part
        gap = abs(30 - f) if f < 30 else max(0, f - 36)
        xa, xb = 24 - gap, 32 + gap
        s.frame(f * DT, (max(xa, 0), 24, 8, 16), (min(xb, 56), 24, 8, 16))
        ids.append(tuple(s.tracker.live_ids()))
    assert s.grid.area_visits[0] == 2
    assert ids[-1] == (1, 2)


def test_brief_occlusion_counts_once_and_long_loss_in_place_not_again():
    brief = Stages([RIGHT_HALF])
    lost = Stages([RIGHT_HALF])
    gone = Stages([RIGHT_HALF])
    back = 60 + int((STILL_GRACE + 1.0) / DT)     # lost 1 s longer than STILL_GRACE
    for f in range(back + 15):
        t = f * DT
        if f < 200:
            brief.frame(t, *([] if 60 <= f < 72 else [walk_in_and_stand(f)]))    # 0.48 s < grace
            lost.frame(t, *([] if 60 <= f < 100 else [walk_in_and_stand(f)]))    # 1.6 s < STILL_GRACE
        gone.frame(t, *([] if 60 <= f < back else [walk_in_and_stand(f)]))       # > STILL_GRACE
    assert brief.grid.area_visits[0] == 1 and brief.grid.visits.sum() == 2
    assert brief.grid.area_dwell[0] == pytest.approx((200 - 29) * DT)   # the gap is credited on re-find
    # a standing target whose blob fades (the model absorbing a still, low-contrast person)
    # is kept standing for STILL_GRACE: one visit, dwell all along
    assert STILL_GRACE > 1.6
    assert lost.grid.area_visits[0] == 1 and lost.grid.visits.sum() == 2
    assert lost.grid.area_dwell[0] == pytest.approx((200 - 29) * DT)
    # found again in place after STILL_GRACE: a new track that has not moved, so neither
    # a new visit nor dwell until it walks (a ghost or a bag looks the same)
    assert gone.grid.area_visits[0] == 1 and gone.grid.visits.sum() == 2
    assert gone.grid.area_dwell[0] == pytest.approx((60 - 29) * DT + STILL_GRACE, abs=1.01 * DT)


def test_same_track_returning_to_a_cell_after_grace_counts_again():
    s = Stages([[(0, 0), (1, 0), (1, 1), (0, 1)]], columns=4, rows=4)   # 16 px cells
    for f in range(150):                         # out to the right and back, slowly
        x = 4 + (f if f < 75 else 150 - f) // 2
        s.frame(f * DT, (x, 30, 8, 20))
    assert s.tracker.live_ids() == [1]
    row = s.grid.visits[3]                       # footprint y = 49 -> row 3
    # column 0: born there (confirmed there), left, came back after > 1 s -> 2
    assert row[0] == 2 and row[2] == 1 and s.grid.area_visits[0] == 1


def test_credit_is_capped():
    s = Stages([RIGHT_HALF])
    for f in range(30):
        s.frame(0.1 * f, (34 + f // 3, 30, 8, 20))   # walking slowly inside the area, confirmed
    before = s.grid.area_dwell[0]
    s.tracker.trf[:, T_CREDIT] = 0
    s.tracker.trf[0, 1] = -5.0                   # pretend last seen 5 s ago (caller gave no cap)
    s.tracker.grace = 10.0
    s.frame(3.0, (44, 30, 8, 20))
    assert s.grid.area_dwell[0] - before == pytest.approx(DT_CAP)


def test_default_rows_square_cells():
    assert default_rows(360, 640) == 36 and default_rows(240, 320) == 48 and default_rows(240, 352) == 44


# --- the fast kernel against a slow twin on arbitrary track states ---------------------------

track_row = st.tuples(st.integers(0, 1), st.integers(0, 1), st.integers(0, 1), st.integers(0, 1),
                      st.integers(0, 31), st.integers(0, 23), st.integers(0, 31), st.integers(0, 23),
                      st.floats(0, 5), st.floats(0, 2))


@settings(max_examples=60, deadline=None)
@given(frames=st.lists(st.lists(track_row, min_size=4, max_size=4), min_size=1, max_size=8))
def test_accumulate_matches_slow_twin(frames):
    h, w, rows, cols = 24, 32, 5, 7
    labels, _ = area_labels([[(0.1, 0.1), (0.9, 0.2), (0.5, 0.9)], [(0, 0), (1, 0), (1, 0.5)]], h, w)
    grid = GridAccumulator(h, w, cols, rows, max_tracks=4)
    cell_last = np.full((4, rows * cols), -1e30, np.float32)
    area_last = np.full((4, 9), -1e30, np.float32)
    acc = {"v": np.zeros(rows * cols, np.int64), "d": np.zeros(rows * cols),
           "av": np.zeros(9, np.int64), "ad": np.zeros(9)}
    for f, rowsdata in enumerate(frames):
        now = 1.0 + 0.3 * f
        tr = np.zeros((4, N_INT), np.int64)
        trf = np.zeros((4, N_FLOAT))
        for i, (live, matched, conf, new, fx, fy, lx, ly, born, credit) in enumerate(rowsdata):
            tr[i, [T_LIVE, T_MATCHED, T_CONFIRMED, T_NEW, T_FX, T_FY, T_LX, T_LY]] = (
                live, matched, conf, new, fx, fy, lx, ly)
            trf[i, T_BORN], trf[i, T_CREDIT] = now - born, credit
        grid.accumulate(tr, trf, labels, now, 1.0)
        slow_accumulate(tr, trf, labels, rows, cols, grid._step, now, 1.0, cell_last, area_last, acc)
    np.testing.assert_array_equal(grid.visits.reshape(-1), acc["v"])
    np.testing.assert_allclose(grid.dwell.reshape(-1), acc["d"])
    np.testing.assert_array_equal(grid.area_visits, acc["av"])
    np.testing.assert_allclose(grid.area_dwell, acc["ad"])


def test_a_path_entering_another_area_inside_one_cell_visits_that_area():
    # Found by the slow-twin property test: the path (29,11) -> (19,1) crosses from
    # area 2 into area 1 inside a cell it had already sampled.
    h, w, rows, cols = 24, 32, 5, 7
    labels, _ = area_labels([[(0.1, 0.1), (0.9, 0.2), (0.5, 0.9)], [(0, 0), (1, 0), (1, 0.5)]], h, w)
    grid = GridAccumulator(h, w, cols, rows, max_tracks=4)
    tr = np.zeros((4, N_INT), np.int64)
    trf = np.zeros((4, N_FLOAT))
    tr[3, [T_LIVE, T_MATCHED, T_CONFIRMED, T_NEW, T_FX, T_FY, T_LX, T_LY]] = (1, 1, 1, 0, 19, 1, 29, 11)
    trf[3, T_BORN] = 1.0
    grid.accumulate(tr, trf, labels, 1.0, 1.0)
    cell_last = np.full((4, rows * cols), -1e30, np.float32)
    area_last = np.full((4, 9), -1e30, np.float32)
    acc = {"v": np.zeros(rows * cols, np.int64), "d": np.zeros(rows * cols),
           "av": np.zeros(9, np.int64), "ad": np.zeros(9)}
    slow_accumulate(tr, trf, labels, rows, cols, grid._step, 1.0, 1.0, cell_last, area_last, acc)
    assert acc["av"][1] == 1
    np.testing.assert_array_equal(grid.area_visits, acc["av"])
