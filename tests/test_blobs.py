"""Blobs: 8-connected components agree with a slow BFS; Minimum Target Size keeps people, drops specks."""
from __future__ import annotations

from collections import Counter, deque

import numpy as np
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays

from vca.blobs import (AREA, FX, FY, SUMX, SUMY, X0, X1, Y0, Y1, BlobFinder, find_blobs,
                       max_runs_for, min_target_pixels, min_target_share)


def slow_components(img):
    """Pure-Python BFS, 8-connectivity: list of (area, x0, y0, x1, y1, sumx, sumy)."""
    h, w = img.shape
    seen = np.zeros_like(img, bool)
    out = []
    for y in range(h):
        for x in range(w):
            if img[y, x] and not seen[y, x]:
                q = deque([(y, x)])
                seen[y, x] = True
                pix = []
                while q:
                    cy, cx = q.popleft()
                    pix.append((cy, cx))
                    for dy in (-1, 0, 1):
                        for dx in (-1, 0, 1):
                            ny, nx = cy + dy, cx + dx
                            if 0 <= ny < h and 0 <= nx < w and img[ny, nx] and not seen[ny, nx]:
                                seen[ny, nx] = True
                                q.append((ny, nx))
                ys = [p[0] for p in pix]
                xs = [p[1] for p in pix]
                out.append((len(pix), min(xs), min(ys), max(xs), max(ys), sum(xs), sum(ys)))
    return out


def as_tuples(stats):
    return [(int(s[AREA]), int(s[X0]), int(s[Y0]), int(s[X1]), int(s[Y1]), int(s[SUMX]), int(s[SUMY]))
            for s in stats]


@settings(max_examples=200, deadline=None)
@given(img=st.integers(1, 40).flatmap(
    lambda h: st.integers(1, 40).flatmap(
        lambda w: st.sampled_from([[0, 0, 1], [0, 1, 1, 1, 1, 1]]).flatmap(
            # sparse specks, and dense images whose runs span whole 8-pixel words
            lambda mix: arrays(np.uint8, (h, w), elements=st.sampled_from(mix))))))
def test_matches_slow_bfs(img):
    fast = as_tuples(find_blobs(img, min_pixels=1))
    assert Counter(fast) == Counter(slow_components(img))


@settings(max_examples=50, deadline=None)
@given(img=arrays(np.uint8, (17, 23), elements=st.sampled_from([0, 1])), min_px=st.integers(1, 30))
def test_minimum_size_drops_exactly_the_small_ones(img, min_px):
    fast = as_tuples(find_blobs(img, min_pixels=min_px))
    assert Counter(fast) == Counter(c for c in slow_components(img) if c[0] >= min_px)


def test_diagonal_touch_joins_and_gap_separates():
    img = np.zeros((6, 6), np.uint8)
    img[0, 0] = img[1, 1] = img[2, 2] = 1      # one diagonal line
    img[4, 0] = img[4, 2] = 1                  # two specks one column apart
    stats = find_blobs(img)
    assert sorted(int(s[AREA]) for s in stats) == [1, 1, 3]


def test_footprint_is_bottom_centre_of_the_box():
    img = np.zeros((40, 30), np.uint8)
    img[5:25, 10:17] = 1
    (s,) = find_blobs(img)
    assert (s[X0], s[Y0], s[X1], s[Y1]) == (10, 5, 16, 24)
    assert (s[FX], s[FY]) == (13, 24)


def test_finder_reuses_its_buffers_and_reports_overflow():
    finder = BlobFinder(8, 64, max_blobs=4)
    finder.image[:] = 0
    finder.image[2, ::2] = 1                   # 32 isolated pixels
    assert finder.find(1) == 4
    assert finder.info.tolist() == [32, 4, 28, 0]
    finder.image[:] = 0
    assert finder.find(1) == 0


def test_too_many_runs_are_dropped_and_counted_not_a_crash():
    finder = BlobFinder(64, 64, max_blobs=4)
    slots = finder._runs.shape[0]
    finder.image[:] = 0
    finder.image[::2, ::2] = 1                 # 32 x 32 = 1024 isolated pixels, one run each
    assert slots < 1024
    assert finder.find(1) == 4
    assert finder.info[0] == slots and finder.info[3] == 1024 - slots
    finder.image[:] = 0
    finder.image[10:30, 10:20] = 1             # a normal frame afterwards is whole again
    assert finder.find(1) == 1 and finder.info[3] == 0


def test_run_slots_keep_the_analyzer_small():
    # 640x360: one slot per 16 pixels, so the scratch is ~1.3 MB instead of 10.6 MB
    assert max_runs_for(360, 640) == 14400
    finder = BlobFinder(360, 640)
    scratch = finder._runs.nbytes + finder._parent.nbytes + finder._comp.nbytes + finder._acc.nbytes
    assert scratch < 1.5 * 2 ** 20


def test_default_minimum_size_keeps_a_person_and_drops_a_speck():
    h, w = 360, 640
    fg = np.zeros((h, w), np.uint8)
    fg[100:180, 200:230] = 1                   # person, 30x80
    fg[300:305, 500:505] = 1                   # speck, 5x5
    stats = find_blobs(fg, min_target_pixels(50, h, w))
    assert len(stats) == 1 and stats[0][AREA] == 2400


def test_minimum_size_mapping_table():
    assert [min_target_pixels(v, 360, 640) for v in (0, 50, 100)] == [23, 230, 2304]
    assert [min_target_pixels(v, 240, 320) for v in (0, 50, 100)] == [8, 77, 768]
    shares = [min_target_share(v) for v in range(101)]
    assert shares == sorted(shares) and shares[0] > 0


def test_row_limit_reads_only_those_rows():
    finder = BlobFinder(20, 24)
    finder.image[:] = 0
    finder.image[1:3, 2:5] = 1                  # above the limit
    finder.image[8:12, 10:20] = 1
    finder.image[17:19, 0:3] = 1                # below the limit
    finder.limit_rows(5, 15)
    assert finder.find(1) == 1 and finder.stats[0][AREA] == 40
    finder.limit_rows(0, 20)
    assert finder.find(1) == 3
