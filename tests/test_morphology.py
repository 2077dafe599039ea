"""The bit-packed 3x3 clean-up matches an obvious NumPy morphology."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numba import njit

from tests.naive import slow_dilate3, slow_erode3
from vca.bits import bits_of, bytes_of
from vca import morphology as M


masks = st.tuples(st.integers(1, 20), st.integers(1, 150)).flatmap(
    lambda hw: arrays(np.uint8, hw, elements=st.integers(0, 1)))


@settings(max_examples=150, deadline=None)
@given(masks)
def test_erode_dilate_open_close_match_reference(m):
    assert np.array_equal(M.erode3x3(m), slow_erode3(m))
    assert np.array_equal(M.dilate3x3(m), slow_dilate3(m))
    assert np.array_equal(M.open3x3(m), slow_dilate3(slow_erode3(m)))
    assert np.array_equal(M.close3x3(m), slow_erode3(slow_dilate3(m)))
    assert np.array_equal(M.open_close3x3(m), slow_erode3(slow_dilate3(slow_dilate3(slow_erode3(m)))))


@settings(max_examples=60, deadline=None)
@given(masks)
def test_cleaner_into_strided_and_contiguous_outputs(m):
    h, w = m.shape
    c = M.Cleaner(h, w)
    want = M.open_close3x3(m)
    out = np.full((h, w), 7, np.uint8)
    c.clean(m, out)
    assert np.array_equal(out, want)
    big = np.full((h, w + 9), 7, np.uint8)
    c.clean(m, big[:, 3:3 + w])          # a row-strided view is written in place
    assert np.array_equal(big[:, 3:3 + w], want)
    assert (big[:, :3] == 7).all() and (big[:, 3 + w:] == 7).all()
    src = np.zeros((h, w + 5), np.uint8)
    src[:, 2:2 + w] = m
    c.clean(src[:, 2:2 + w], out)        # a row-strided input is read in place
    assert np.array_equal(out, want)
    c.clean(np.asfortranarray(m), out)   # and a column-major one, pixel by pixel
    assert np.array_equal(out, want)


def test_opening_removes_specks_and_keeps_a_person_sized_blob():
    m = np.zeros((40, 70), np.uint8)
    m[5, 5] = 1                 # a noise speck
    m[10:30, 40:50] = 1         # a target
    m[20, 45] = 0               # a one-pixel crack inside it
    out = M.open_close3x3(m)
    assert out[5, 5] == 0
    assert out[10:30, 40:50].all()
    assert out.sum() == 200


def test_wrong_mask_is_refused_with_the_fix():
    with pytest.raises(ValueError, match="uint8"):
        M.Cleaner(4, 4).clean(np.zeros((4, 4), np.float32), np.zeros((4, 4), np.uint8))


@njit
def _pack_words(row, out):
    for k in range(out.shape[0]):
        out[k] = bits_of(row, k * 64)


@njit
def _unpack_words(bits, out, i):
    for k in range(bits.shape[0]):
        bytes_of(bits[k], out, i, k * 64)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 4).flatmap(lambda nw: arrays(np.uint8, nw * 64, elements=st.integers(0, 3))))
def test_64_pixel_pack_and_unpack_match_numpy(row):
    """Twin of the mask-bitcast intrinsics: np.packbits / np.unpackbits."""
    nw = row.size // 64
    bits = np.zeros(nw, np.uint64)
    _pack_words(row, bits)
    want = np.packbits(row != 0, bitorder="little").view(np.uint64)
    assert np.array_equal(bits, want)
    out = np.full((3, nw * 64 + 5), 7, np.uint8)
    _unpack_words(bits, out[:, 2:2 + nw * 64], 1)    # a strided row view, row 1
    assert np.array_equal(out[1, 2:2 + nw * 64], (row != 0).astype(np.uint8))
    assert (out[0] == 7).all() and (out[2] == 7).all()
    assert (out[1, :2] == 7).all() and (out[1, 2 + nw * 64:] == 7).all()
