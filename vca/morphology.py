"""3x3 morphological clean-up of a 0/1 foreground mask, on bit-packed rows.

A mask row of W pixels is packed into ceil(W/64) uint64 words, pixel c of
the row at bit (c % 64) of word (c // 64). A 3x3 erosion or dilation is then
a handful of shifts and ANDs/ORs per 64 pixels, which is why the whole
open-then-close costs a few microseconds at 640x360 instead of tens.

Borders follow OpenCV's default (`cv2.erode`/`cv2.dilate`): outside the
image counts as foreground for an erosion and as background for a dilation,
so a target touching the frame edge is not eaten by the opening.

Packed layout (W = 70, two words per row)::

    word 0: bits 0..63 = pixels 0..63
    word 1: bits 0..5  = pixels 64..69, bits 6..63 = padding (kept 0)

Public helpers work on uint8 (H, W) masks and allocate; the `_kernels`
write into arrays they are given and allocate nothing.
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)


def words_per_row(width: int) -> int:
    """Number of uint64 words that hold one packed row of `width` pixels."""
    return (width + 63) // 64


def last_word_mask(width: int) -> np.uint64:
    """Bits of the last word of a row that are real pixels (not padding)."""
    r = width % 64
    return _ALL if r == 0 else np.uint64((1 << r) - 1)


# 64 bytes <-> 64 bits in one or two instructions (AVX-512 vptestmb/kmovq and
# vpmovm2b; pmovmskb sequences elsewhere): LLVM lowers a bitcast between a
# <64 x i1> mask and i64 to whatever the CPU has, so the two helpers below
# are portable. Numba cannot say "bitcast a vector compare", hence intrinsics.
_V64 = ir.VectorType(ir.IntType(8), 64)


@intrinsic
def _bits_of(typingctx, row_t, j_t):
    """uint64 with bit c set where row[j + c] != 0, c = 0..63.

    row: uint8 1-D C-contiguous array holding at least j + 64 bytes.
    """
    if not (isinstance(row_t, types.Array) and row_t.dtype == types.uint8
            and row_t.ndim == 1 and row_t.layout == "C"):
        return None

    def codegen(context, builder, signature, args):
        row, j = args
        ary = context.make_array(signature.args[0])(context, builder, row)
        ptr = builder.bitcast(builder.gep(ary.data, [j]), _V64.as_pointer())
        v = builder.load(ptr, align=1)
        return builder.bitcast(builder.icmp_unsigned("!=", v, ir.Constant(_V64, None)),
                               ir.IntType(64))
    return types.uint64(row_t, j_t), codegen


@intrinsic
def _bits_at(typingctx, arr_t, i_t, j_t):
    """uint64 with bit c set where arr[i, j + c] != 0, c = 0..63.

    arr: uint8 2-D array whose rows are contiguous (unit column stride),
    with at least j + 64 columns.
    """
    if not (isinstance(arr_t, types.Array) and arr_t.dtype == types.uint8 and arr_t.ndim == 2):
        return None

    def codegen(context, builder, signature, args):
        arr, i, j = args
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, arr)
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [i, j])
        v = builder.load(builder.bitcast(ptr, _V64.as_pointer()), align=1)
        return builder.bitcast(builder.icmp_unsigned("!=", v, ir.Constant(_V64, None)),
                               ir.IntType(64))
    return types.uint64(arr_t, i_t, j_t), codegen


@intrinsic
def _bytes_of(typingctx, bits_t, out_t, i_t, j_t):
    """Write bit c of bits as 0/1 byte out[i, j + c], c = 0..63.

    out: uint8 2-D array whose rows are contiguous (unit column stride),
    with at least j + 64 columns.
    """
    if not (isinstance(out_t, types.Array) and out_t.dtype == types.uint8 and out_t.ndim == 2):
        return None

    def codegen(context, builder, signature, args):
        bits, out, i, j = args
        aryty = signature.args[1]
        ary = context.make_array(aryty)(context, builder, out)
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [i, j])
        v = builder.zext(builder.bitcast(bits, ir.VectorType(ir.IntType(1), 64)), _V64)
        builder.store(v, builder.bitcast(ptr, _V64.as_pointer()), align=1)
        return context.get_dummy_value()
    return types.void(bits_t, out_t, i_t, j_t), codegen


@njit(cache=True, nogil=True)
def _pack(mask, out, fast):
    """Pack a 0/1 mask into row bits (nonzero counts as 1).

    mask: uint8 (H, W) any strides; fast: `rows_contiguous(mask)` (64 pixels
    per load, else pixel by pixel). out: uint64 (H, ceil(W/64)); padding
    bits are written 0.
    """
    h, w = mask.shape
    nw = out.shape[1]
    for i in range(h):
        for k in range(nw):
            c0 = k * 64
            if fast and c0 + 64 <= w:
                out[i, k] = _bits_at(mask, i, c0)
                continue
            acc = np.uint64(0)
            for c in range(c0, min(c0 + 64, w)):
                acc |= np.uint64(mask[i, c] != 0) << np.uint64(c - c0)
            out[i, k] = acc


@njit(cache=True, nogil=True, error_model="numpy", boundscheck=False)
def _unpack_rows(bits, out, fast, rows, only_changed, before):
    """Write row bits back as a 0/1 uint8 mask, on the rows flagged nonzero.

    bits:   uint64 (H, NW).
    out:    uint8 (H, W), any strides.
    fast:   `rows_contiguous(out)` (64 pixels per store).
    rows:   uint8 (H,) rows to write; callers flag every row that is or was
            foreground, so the rows skipped hold zeros already.
    only_changed: skip words that are 0 in `bits` and in `before`; valid
            only when `out` still holds the unpacked `before`. Most of a
            frame is background, so this touches only words near targets.
    before: uint64 (H, NW) (ignored unless only_changed).
    """
    h, w = out.shape
    nw = bits.shape[1]
    for i in range(h):
        if rows[i] == 0:
            continue
        for k in range(nw):
            wd = bits[i, k]
            if only_changed and wd == 0 and before[i, k] == 0:
                continue
            # written out here, not in a helper taking `out`: a call per word
            # would pay Numba's reference counting
            c0 = k * 64
            if fast and c0 + 64 <= w:
                _bytes_of(wd, out, i, c0)
            else:
                for c in range(c0, min(c0 + 64, w)):
                    out[i, c] = np.uint8((wd >> np.uint64(c - c0)) & np.uint64(1))


def rows_contiguous(mask: np.ndarray) -> bool:
    """True when a (H, W) uint8 mask's rows are contiguous, so `_unpack_rows` can
    write 64 pixels per store (row stride may still exceed W)."""
    return mask.strides[1] == 1


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
def _open_close(bits, out, tmp, tmp2, last_valid):
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

    def clean_bits(self, bits: np.ndarray, out: np.ndarray) -> None:
        """Open-then-close packed `bits` into packed `out` (no allocation)."""
        _open_close(bits, out, self._tmp, self._tmp2, self.last_valid)

    def clean(self, mask: np.ndarray, out: np.ndarray) -> None:
        """Open-then-close a uint8 0/1 (H, W) mask into uint8 (H, W) `out`."""
        _check_mask(mask, self.height, self.width, "mask")
        _check_mask(out, self.height, self.width, "out")
        _pack(mask, self.bits, rows_contiguous(mask))
        _open_close(self.bits, self.out, self._tmp, self._tmp2, self.last_valid)
        _unpack_rows(self.out, out, rows_contiguous(out), self.every_row, False, self.out)


def _check_mask(a: np.ndarray, h: int, w: int, name: str) -> None:
    if a.dtype != np.uint8 or a.shape != (h, w):
        raise ValueError(f"{name} must be uint8 of shape ({h}, {w}), got {a.dtype} {a.shape}: "
                         "pass a 0/1 uint8 mask at the analysis size")


def _apply(mask: np.ndarray, ops: str) -> np.ndarray:
    mask = np.asarray(mask)
    h, w = mask.shape
    c = Cleaner(h, w)
    _check_mask(mask, h, w, "mask")
    _pack(mask, c.bits, rows_contiguous(mask))
    lv = c.last_valid
    src, dst = c.bits, c.out
    for op in ops:
        (_erode3 if op == "e" else _dilate3)(src, dst, c._tmp, lv)
        src, dst = dst, c._tmp2 if dst is c.out else c.out
    res = np.empty((h, w), np.uint8)
    _unpack_rows(src, res, rows_contiguous(res), c.every_row, False, src)
    return res


def pack(mask: np.ndarray) -> np.ndarray:
    """uint64 (H, ceil(W/64)) packed rows of a uint8 (H, W) mask (nonzero = 1)."""
    if mask.dtype != np.uint8 or mask.ndim != 2:
        raise ValueError(f"mask must be a 2-D uint8 array (got {mask.dtype}, ndim={mask.ndim})")
    out = np.zeros((mask.shape[0], words_per_row(mask.shape[1])), np.uint64)
    _pack(mask, out, rows_contiguous(mask))
    return out


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
