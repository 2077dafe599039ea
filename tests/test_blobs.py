"""Blobs: 8-connected components agree with a slow BFS; Minimum Target Size keeps people, drops specks."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays

from tests.naive import slow_components, slow_pack
from vca.blobs import (AREA, FX, FY, SUMX, SUMY, X0, X1, Y0, Y1, BlobFinder, find_blobs,
                       max_runs_for, min_target_pixels, min_target_share)


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


def raster_order(stats):
    return [(int(s[AREA]), int(s[X0]), int(s[Y0]), int(s[X1]), int(s[Y1]), int(s[SUMX]), int(s[SUMY]))
            for s in stats]


# Runs painted on rows of widths around word boundaries: starts and ends at
# columns 62..65 and 126..129 are likely, so runs cross words and single
# pixels sit at column 63/64; a run may also fill the whole row.
_edges = st.one_of(st.integers(0, 640), st.sampled_from([0, 1, 62, 63, 64, 65, 126, 127, 128, 129, 191, 192]))


@st.composite
def packed_masks(draw):
    w = draw(st.sampled_from([1, 63, 64, 65, 70, 128, 130, 192, 640]))
    h = draw(st.integers(1, 6))
    img = np.zeros((h, w), np.uint8)
    for _ in range(draw(st.integers(0, 14))):
        y = draw(st.integers(0, h - 1))
        a, b = sorted((draw(_edges) % (w + 1), draw(_edges) % (w + 1)))
        if draw(st.booleans()):
            a, b = 0, w                         # a full row
        img[y, a:b] = 1
    return img


@settings(max_examples=300, deadline=None)
@given(img=packed_masks())
def test_packed_foreground_matches_slow_bfs_in_raster_order(img):
    finder = BlobFinder(*img.shape)
    n = finder.find_bits(1, slow_pack(img))
    assert raster_order(finder.stats[:n]) == slow_components(img)


def test_a_run_across_three_words_is_one_blob_with_exact_sums():
    img = np.zeros((3, 200), np.uint8)
    img[1, 60:140] = 1                          # crosses words 0 -> 1 -> 2
    img[0, 63] = 1                              # touches it from above at the word edge
    img[2, 140] = 1                             # touches it diagonally past its end
    img[2, 142] = 1                             # one column too far: separate
    finder = BlobFinder(3, 200)
    n = finder.find_bits(1, slow_pack(img))
    assert raster_order(finder.stats[:n]) == slow_components(img)
    assert n == 2 and finder.stats[0][AREA] == 82 and finder.info[0] == 2


def test_packed_rows_outside_the_limit_are_never_read():
    img = np.zeros((20, 130), np.uint8)
    img[8:12, 60:70] = 1
    bits = slow_pack(img)
    bits[:5] = ~np.uint64(0)                    # garbage, padding bits included, above the limit
    bits[15:] = ~np.uint64(0)                   # and below it
    finder = BlobFinder(20, 130)
    finder.limit_rows(5, 15)
    assert finder.find_bits(1, bits) == 1
    assert raster_order(finder.stats[:1]) == slow_components(img)


def test_overflowing_runs_keep_the_first_in_raster_order_and_count_the_rest():
    img = np.zeros((64, 70), np.uint8)
    img[::2, ::2] = 1                           # 32 x 35 isolated pixels, more than the run slots
    finder = BlobFinder(64, 70, max_blobs=4)
    slots = finder._runs.shape[0]
    assert slots < 32 * 35
    # What the finder can see: the first `slots` pixels (one run each) in raster order.
    seen = np.zeros_like(img)
    ys, xs = np.nonzero(img)
    seen[ys[:slots], xs[:slots]] = 1
    assert finder.find_bits(1, slow_pack(img)) == 4
    assert raster_order(finder.stats[:4]) == slow_components(seen)[:4]
    # [components, kept, dropped for want of blob rows, runs dropped]
    assert finder.info.tolist() == [slots, 4, slots - 4, 32 * 35 - slots]


def test_wrong_packed_shape_is_one_clear_error():
    finder = BlobFinder(10, 70)
    with pytest.raises(ValueError, match="fg_bits"):
        finder.find_bits(1, np.zeros((10, 1), np.uint64))


def test_single_pixels_at_word_edges_are_each_found():
    img = np.zeros((13, 130), np.uint8)
    for i, c in enumerate((0, 63, 64, 127, 128, 129)):
        img[2 * i, c] = 1                       # every other row: none of them touch
    img[12, 64:] = 1                            # a run starting exactly on a word and running to the edge
    finder = BlobFinder(13, 130)
    n = finder.find_bits(1, slow_pack(img))
    assert [(int(s[X0]), int(s[Y0]), int(s[X1])) for s in finder.stats[:n]] == [
        (0, 0, 0), (63, 2, 63), (64, 4, 64), (127, 6, 127), (128, 8, 128), (129, 10, 129), (64, 12, 129)]
