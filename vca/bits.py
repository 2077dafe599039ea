"""Bit-packed rows: the layout every packed mask in vca uses, and packing to and from bytes.

A mask row of W pixels is packed into ceil(W/64) uint64 words, pixel c of
the row at bit (c % 64) of word (c // 64); padding bits past W are kept 0.
A (H, W) 0/1 uint8 mask is then a uint64 (H, ceil(W/64)) array, which the
background model, its clean-up (vca.morphology), the blob finder, the
outline evidence and the tracker's protected pixels all share::

    W = 70, two words per row
    word 0: bits 0..63 = pixels 0..63
    word 1: bits 0..5  = pixels 64..69, bits 6..63 = padding (0)

Kernels (`bits_of`, `bits_at`, `bytes_of`, `pack_rows`, `unpack_rows`)
write into arrays they are given and allocate nothing; `pack` and `unpack`
check their input and allocate, for tests, tools and set-up.
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

ALL_ONES = np.uint64(0xFFFFFFFFFFFFFFFF)


def words_per_row(width: int) -> int:
    """Number of uint64 words that hold one packed row of `width` pixels."""
    return (width + 63) // 64


def last_word_mask(width: int) -> np.uint64:
    """Bits of the last word of a row that are real pixels (not padding)."""
    r = width % 64
    return ALL_ONES if r == 0 else np.uint64((1 << r) - 1)


def rows_contiguous(mask: np.ndarray) -> bool:
    """True when a (H, W) uint8 mask's rows are contiguous, so the kernels can move 64
    pixels per load or store (the row stride may still exceed W)."""
    return mask.strides[1] == 1


# 64 bytes <-> 64 bits in one or two instructions (AVX-512 vptestmb/kmovq and
# vpmovm2b; pmovmskb sequences elsewhere): LLVM lowers a bitcast between a
# <64 x i1> mask and i64 to whatever the CPU has, so the helpers below are
# portable. Numba cannot say "bitcast a vector compare", hence intrinsics.
_V64 = ir.VectorType(ir.IntType(8), 64)


@intrinsic
def bits_of(typingctx, row_t, j_t):
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
def bits_at(typingctx, arr_t, i_t, j_t):
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
def bytes_of(typingctx, bits_t, out_t, i_t, j_t):
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
def pack_rows(mask, out, fast):
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
                out[i, k] = bits_at(mask, i, c0)
                continue
            acc = np.uint64(0)
            for c in range(c0, min(c0 + 64, w)):
                acc |= np.uint64(mask[i, c] != 0) << np.uint64(c - c0)
            out[i, k] = acc


@njit(cache=True, nogil=True, error_model="numpy", boundscheck=False)
def unpack_rows(bits, out, fast, rows, only_changed, before):
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
                bytes_of(wd, out, i, c0)
            else:
                for c in range(c0, min(c0 + 64, w)):
                    out[i, c] = np.uint8((wd >> np.uint64(c - c0)) & np.uint64(1))


def pack(mask: np.ndarray) -> np.ndarray:
    """uint64 (H, ceil(W/64)) packed rows of a uint8 (H, W) mask (nonzero = 1); allocates."""
    if not isinstance(mask, np.ndarray) or mask.dtype != np.uint8 or mask.ndim != 2:
        raise ValueError(f"mask must be a 2-D uint8 array (got {getattr(mask, 'dtype', type(mask).__name__)}, "
                         f"ndim={getattr(mask, 'ndim', None)}): pass a 0/1 uint8 (H, W) mask")
    out = np.zeros((mask.shape[0], words_per_row(mask.shape[1])), np.uint64)
    pack_rows(mask, out, rows_contiguous(mask))
    return out


def unpack(bits: np.ndarray, width: int) -> np.ndarray:
    """uint8 0/1 (H, width) mask of packed rows bits (uint64 (H, ceil(width/64))); allocates."""
    if (not isinstance(bits, np.ndarray) or bits.dtype != np.uint64 or bits.ndim != 2
            or bits.shape[1] != words_per_row(width)):
        raise ValueError(f"bits must be uint64 (H, {words_per_row(width)}) for width {width} (got "
                         f"{getattr(bits, 'dtype', type(bits).__name__)} {getattr(bits, 'shape', None)}): "
                         "pass packed rows of that width")
    out = np.empty((bits.shape[0], width), np.uint8)
    unpack_rows(bits, out, rows_contiguous(out), np.ones(bits.shape[0], np.uint8), False, bits)
    return out
