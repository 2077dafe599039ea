"""3x3 morphological clean-up of a 0/1 foreground mask, on bit-packed rows (vca.bits).

With 64 pixels in a word, a 3x3 erosion or dilation is a handful of shifts
and ANDs/ORs per 64 pixels instead of nine reads per pixel.

Borders follow OpenCV's default (`cv2.erode`/`cv2.dilate`): outside the
image counts as foreground for an erosion and as background for a dilation,
so a target touching the frame edge is not eaten by the opening.

`open_close_bits` is the kernel the background model runs on its packed
foreground; `Cleaner` wraps it for uint8 masks without allocating; the
functions at the end work on uint8 (H, W) masks and allocate (tests, tools).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from vca.bits import ALL_ONES as _ALL
from vca.bits import last_word_mask, pack_rows, rows_contiguous, unpack_rows, words_per_row
from vca.contracts import ArrayContract


@njit(cache=True, nogil=True)
def _hword(src, i, k, last_valid, erode):
    """Horizontal 1x3 erosion or dilation of word k of row i, borders exact."""
    h, nw = src.shape
    pad = ~last_valid
    one = np.uint64(1)
    top = np.uint64(63)
    w = src[i, k]
    if erode:
        if k == nw - 1:
            w |= pad  # padding behaves like outside: foreground
        prev = src[i, k - 1] if k > 0 else _ALL
        nxt = src[i, k + 1] if k + 1 < nw else _ALL
        if k + 1 == nw - 1:
            nxt |= pad
        r = w & ((w << one) | (prev >> top)) & ((w >> one) | (nxt << top))
    else:
        prev = src[i, k - 1] if k > 0 else np.uint64(0)
        nxt = src[i, k + 1] if k + 1 < nw else np.uint64(0)
        r = w | ((w << one) | (prev >> top)) | ((w >> one) | (nxt << top))
    if k == nw - 1:
        r &= last_valid
    return r


@njit(cache=True, nogil=True, error_model="numpy", boundscheck=False)
def _hpass(src, dst, last_valid, erode):
    """Horizontal 1x3 erosion (AND) or dilation (OR) of packed rows.

    src, dst: uint64 (H, NW), distinct arrays. last_valid: padding mask of
    the last word. Outside pixels count as 1 for erosion, 0 for dilation.
    Inner words run without branches (so the loop vectorises); the first
    and the last two words of a row, which see the borders, are done apart.
    """
    h, nw = src.shape
    one = np.uint64(1)
    top = np.uint64(63)
    for i in range(h):
        if erode:
            for k in range(1, nw - 2):
                w = src[i, k]
                dst[i, k] = w & ((w << one) | (src[i, k - 1] >> top)) & (
                    (w >> one) | (src[i, k + 1] << top))
        else:
            for k in range(1, nw - 2):
                w = src[i, k]
                dst[i, k] = w | (w << one) | (src[i, k - 1] >> top) | (w >> one) | (
                    src[i, k + 1] << top)
        dst[i, 0] = _hword(src, i, 0, last_valid, erode)
        if nw > 1:
            dst[i, nw - 1] = _hword(src, i, nw - 1, last_valid, erode)
        if nw > 2:
            dst[i, nw - 2] = _hword(src, i, nw - 2, last_valid, erode)


@njit(cache=True, nogil=True, error_model="numpy", boundscheck=False)
def _vpass(src, dst, erode):
    """Vertical 3x1 erosion (AND) or dilation (OR) of packed rows.

    src, dst: uint64 (H, NW), distinct arrays. Rows outside count as all 1
    for erosion, all 0 for dilation. Padding stays 0 because it is 0 in src.
    """
    h, nw = src.shape
    if h == 1:
        for k in range(nw):
            dst[0, k] = src[0, k]
        return
    if erode:
        for i in range(1, h - 1):
            for k in range(nw):
                dst[i, k] = src[i - 1, k] & src[i, k] & src[i + 1, k]
        for k in range(nw):
            dst[0, k] = src[0, k] & src[1, k]
            dst[h - 1, k] = src[h - 1, k] & src[h - 2, k]
    else:
        for i in range(1, h - 1):
            for k in range(nw):
                dst[i, k] = src[i - 1, k] | src[i, k] | src[i + 1, k]
        for k in range(nw):
            dst[0, k] = src[0, k] | src[1, k]
            dst[h - 1, k] = src[h - 1, k] | src[h - 2, k]


@njit(cache=True, nogil=True)
def _erode3(src, dst, tmp, last_valid):
    """3x3 erosion of packed rows src -> dst (tmp: scratch of the same shape)."""
    _hpass(src, tmp, last_valid, True)
    _vpass(tmp, dst, True)


@njit(cache=True, nogil=True)
def _dilate3(src, dst, tmp, last_valid):
    """3x3 dilation of packed rows src -> dst (tmp: scratch of the same shape)."""
    _hpass(src, tmp, last_valid, False)
    _vpass(tmp, dst, False)


@njit(cache=True, nogil=True, inline="always")
def _dilate5_word(src, i, k, last_valid):
    """Horizontal 1x5 dilation of word k of row i (outside counts as 0)."""
    nw = src.shape[1]
    w = src[i, k]
    prev = src[i, k - 1] if k > 0 else np.uint64(0)
    nxt = src[i, k + 1] if k + 1 < nw else np.uint64(0)
    one = np.uint64(1)
    two = np.uint64(2)
    r = (w | (w << one) | (prev >> np.uint64(63)) | (w << two) | (prev >> np.uint64(62))
         | (w >> one) | (nxt << np.uint64(63)) | (w >> two) | (nxt << np.uint64(62)))
    if k == nw - 1:
        r &= last_valid
    return r


@njit(cache=True, nogil=True, error_model="numpy", boundscheck=False)
def _dilate5(src, dst, tmp, last_valid):
    """5x5 dilation of packed rows src -> dst (outside counts as 0): two 3x3
    dilations in one horizontal and one vertical pass.
    src, dst, tmp: uint64 (H, NW), distinct."""
    h, nw = src.shape
    one = np.uint64(1)
    two = np.uint64(2)
    top = np.uint64(63)
    top2 = np.uint64(62)
    for i in range(h):
        for k in range(1, nw - 1):  # inner words: branch-free, vectorises
            w = src[i, k]
            p = src[i, k - 1]
            q = src[i, k + 1]
            tmp[i, k] = (w | (w << one) | (p >> top) | (w << two) | (p >> top2)
                         | (w >> one) | (q << top) | (w >> two) | (q << top2))
        tmp[i, 0] = _dilate5_word(src, i, 0, last_valid)
        if nw > 1:
            tmp[i, nw - 1] = _dilate5_word(src, i, nw - 1, last_valid)
    for i in range(2, h - 2):
        for k in range(nw):
            dst[i, k] = tmp[i - 2, k] | tmp[i - 1, k] | tmp[i, k] | tmp[i + 1, k] | tmp[i + 2, k]
    for i in (0, 1, h - 2, h - 1):  # rows near the border: fewer neighbours
        if 0 <= i < h and not 2 <= i < h - 2:
            for k in range(nw):
                acc = np.uint64(0)
                for r in range(max(i - 2, 0), min(i + 3, h)):
                    acc |= tmp[r, k]
                dst[i, k] = acc


@njit(cache=True, nogil=True)
def open_close_bits(bits, out, tmp, tmp2, last_valid):
    """3x3 opening then 3x3 closing of packed rows `bits` into `out`.

    The opening removes specks smaller than 3x3 (sensor noise, compression
    blocks); the closing then fills 1-pixel cracks inside a person where
    clothing matches the background. bits, out, tmp, tmp2: uint64 (H, NW),
    all distinct; `bits` is left unchanged.
    """
    _erode3(bits, out, tmp, last_valid)
    # the opening's 3x3 dilation and the closing's, in one 5x5 dilation
    _dilate5(out, tmp2, tmp, last_valid)
    _erode3(tmp2, out, tmp, last_valid)


class Cleaner:
    """Preallocated open-then-close of (H, W) masks, reusing its buffers."""

    def __init__(self, height: int, width: int):
        if height < 1 or width < 1:
            raise ValueError(f"mask size {height}x{width} is empty: give at least 1x1")
        self.height, self.width = height, width
        nw = words_per_row(width)
        self.last_valid = last_word_mask(width)
        self.bits = np.zeros((height, nw), np.uint64)
        self.out = np.zeros((height, nw), np.uint64)
        self._tmp = np.zeros((height, nw), np.uint64)
        self._tmp2 = np.zeros((height, nw), np.uint64)
        self.every_row = np.ones(height, np.uint8)  # unpack flags: the whole mask
        packed = "pass packed rows (vca.bits) at the cleaner's size"
        self._in_bits = ArrayContract("bits", np.uint64, (height, nw), packed)
        self._out_bits = ArrayContract("out", np.uint64, (height, nw), packed)

    def clean_bits(self, bits: np.ndarray, out: np.ndarray) -> None:
        """Open-then-close packed `bits` into packed `out`, a distinct array (no allocation)."""
        self._in_bits.check(bits)
        self._out_bits.check(out)
        if out is bits:
            raise ValueError("out is bits: pass a separate array for the cleaned rows")
        open_close_bits(bits, out, self._tmp, self._tmp2, self.last_valid)

    def clean(self, mask: np.ndarray, out: np.ndarray) -> None:
        """Open-then-close a uint8 0/1 (H, W) mask into uint8 (H, W) `out` (both any strides)."""
        _check_mask(mask, self.height, self.width, "mask")
        _check_mask(out, self.height, self.width, "out")
        pack_rows(mask, self.bits, rows_contiguous(mask))
        open_close_bits(self.bits, self.out, self._tmp, self._tmp2, self.last_valid)
        unpack_rows(self.out, out, rows_contiguous(out), self.every_row, False, self.out)


def _check_mask(a: np.ndarray, h: int, w: int, name: str) -> None:
    if a.dtype != np.uint8 or a.shape != (h, w):
        raise ValueError(f"{name} must be uint8 of shape ({h}, {w}), got {a.dtype} {a.shape}: "
                         "pass a 0/1 uint8 mask at the analysis size")


def _apply(mask: np.ndarray, ops: str) -> np.ndarray:
    mask = np.asarray(mask)
    h, w = mask.shape
    c = Cleaner(h, w)
    _check_mask(mask, h, w, "mask")
    pack_rows(mask, c.bits, rows_contiguous(mask))
    lv = c.last_valid
    src, dst = c.bits, c.out
    for op in ops:
        (_erode3 if op == "e" else _dilate3)(src, dst, c._tmp, lv)
        src, dst = dst, c._tmp2 if dst is c.out else c.out
    res = np.empty((h, w), np.uint8)
    unpack_rows(src, res, rows_contiguous(res), c.every_row, False, src)
    return res


def erode3x3(mask: np.ndarray) -> np.ndarray:
    """3x3 erosion of a 0/1 uint8 mask (outside counts as foreground)."""
    return _apply(mask, "e")


def dilate3x3(mask: np.ndarray) -> np.ndarray:
    """3x3 dilation of a 0/1 uint8 mask (outside counts as background)."""
    return _apply(mask, "d")


def open3x3(mask: np.ndarray) -> np.ndarray:
    """3x3 opening (erode, dilate) of a 0/1 uint8 mask."""
    return _apply(mask, "ed")


def close3x3(mask: np.ndarray) -> np.ndarray:
    """3x3 closing (dilate, erode) of a 0/1 uint8 mask."""
    return _apply(mask, "de")


def open_close3x3(mask: np.ndarray) -> np.ndarray:
    """3x3 opening then 3x3 closing: the clean-up `BackgroundModel` applies."""
    return _apply(mask, "edde")
