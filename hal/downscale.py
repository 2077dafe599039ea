"""Integer-factor area downscale of a luma plane to the channel's analysis size.

The analysis ("sub-stream") size of a channel is chosen once at open:

    f = min(max(1, width // analysis_width), MAX_FACTOR)
    analysis size = (height // f, width // f)

so the analysis image is never narrower than asked for (1920 -> 640 gives
f=3 and 640; 1280 -> 640 gives f=2; 1000 -> 640 gives f=1, no downscale),
and the rightmost/bottom `width % f` / `height % f` source pixels that do not
fill a whole block are dropped. Each output pixel is the rounded mean of its
f x f source block (area averaging: no aliasing of fine texture into false
motion, unlike plain decimation).
"""
from __future__ import annotations

import numpy as np
from numba import njit

MAX_FACTOR = 255       # a block's column sum (255 * f) must fit the kernel's uint16 scratch
RECIPROCAL_BITS = 20   # (s * m) >> 20 with m = 2**20 // area + 1 is exact division by area


def downscale_factor(width: int, analysis_width: int | None) -> int:
    """The integer factor for a source `width` and a requested analysis width."""
    if analysis_width is None:
        return 1
    if analysis_width < 1:
        raise ValueError(
            f"analysis_width must be >= 1 (got {analysis_width}); omit it to analyse at full size"
        )
    return min(max(1, width // analysis_width), MAX_FACTOR)


def reciprocal(f: int) -> int:
    """Multiplier m with ((s * m) >> RECIPROCAL_BITS) == s // (f * f) for every block sum s
    of uint8 pixels plus rounding (s <= 255.5 f^2); exact while f <= 8, 0 beyond
    (the kernel then divides). The products stay below 2^32."""
    area = f * f
    # Exact when the error s * (m - 2^B / area) / 2^B < 1 / area for the largest s.
    if (255 * area + area // 2) * area >= 1 << RECIPROCAL_BITS:
        return 0
    return (1 << RECIPROCAL_BITS) // area + 1


@njit(cache=True, nogil=True, boundscheck=False)
def _area_downscale(src, f, m, colsum, out):
    """Mean of each f x f block of `src` into `out`, rounded half up.

    src:    uint8 (H, W), rows may be strided (a decoder plane view [:, :w]).
    f:      int >= 1; m: `reciprocal(f)` (0: divide).
    colsum: uint16 (>= W // f * f,) scratch (f <= MAX_FACTOR, so a column sum fits).
    out:    uint8 (H // f, W // f), written in place; nothing is allocated.

    Two passes per output row, both over contiguous memory so they vectorise:
    the f source rows are summed column-wise into colsum, then each run of f
    column sums is added and divided (a multiply and a shift).
    """
    oh, ow = out.shape
    wf = ow * f
    area = f * f
    half = area // 2
    for i in range(oh):
        r0 = i * f
        row = src[r0]
        for c in range(wf):
            colsum[c] = row[c]
        for di in range(1, f):
            row = src[r0 + di]
            for c in range(wf):
                colsum[c] += row[c]
        o = out[i]
        if f == 2:
            for j in range(ow):
                o[j] = np.uint8((np.uint32(colsum[2 * j]) + colsum[2 * j + 1] + 2) >> 2)
        elif f == 3:  # 1920 -> 640: spelled out, as for f == 2, so it vectorises
            mm = np.uint32(m)
            for j in range(ow):
                t = np.uint32(colsum[3 * j]) + colsum[3 * j + 1] + colsum[3 * j + 2] + 4
                o[j] = np.uint8((t * mm) >> RECIPROCAL_BITS)
        elif f == 4:
            for j in range(ow):
                t = (np.uint32(colsum[4 * j]) + colsum[4 * j + 1] + colsum[4 * j + 2]
                     + colsum[4 * j + 3] + 8)
                o[j] = np.uint8(t >> 4)
        elif m != 0:
            mm = np.uint32(m)
            for j in range(ow):
                s = np.uint32(half)
                for dj in range(f):
                    s += colsum[j * f + dj]
                o[j] = np.uint8((s * mm) >> RECIPROCAL_BITS)
        else:
            for j in range(ow):
                s = half
                for dj in range(f):
                    s += colsum[j * f + dj]
                o[j] = np.uint8(s // area)


class AreaDownscaler:
    """Preallocated area downscale for one channel's source size.

    `__call__(src)` takes a uint8 (height, width) luma plane, rows may be
    strided (a decoder plane view), and returns `src` itself when f == 1
    (zero copy), otherwise the channel's one output buffer, overwritten on
    every call: copy it to keep it across frames.
    """

    def __init__(self, width: int, height: int, analysis_width: int | None):
        self.source_shape = (height, width)
        self.factor = downscale_factor(width, analysis_width)
        self.width = width // self.factor
        self.height = height // self.factor
        self._out = np.empty((self.height, self.width), np.uint8)
        self._m = reciprocal(self.factor)
        self._colsum = np.empty(self.width * self.factor, np.uint16)

    def __call__(self, src: np.ndarray) -> np.ndarray:
        if not isinstance(src, np.ndarray) or src.shape != self.source_shape or src.dtype != np.uint8:
            got = f"{src.dtype} {src.shape}" if isinstance(src, np.ndarray) else type(src).__name__
            raise ValueError(f"luma plane is {got} but the downscaler was made for uint8 {self.source_shape}: "
                             "make one per source size")
        if self.factor == 1:
            return src
        _area_downscale(src, self.factor, self._m, self._colsum, self._out)
        return self._out


def area_downscale(src: np.ndarray, f: int, out: np.ndarray | None = None) -> np.ndarray:
    """Validated one-off form of the kernel (tests, tools); allocates `out` if absent.
    src and out: uint8, any strides."""
    if not isinstance(src, np.ndarray) or src.dtype != np.uint8 or src.ndim != 2:
        got = f"{src.dtype}, ndim={src.ndim}" if isinstance(src, np.ndarray) else type(src).__name__
        raise ValueError(f"src must be a 2-D uint8 luma plane (got {got}): pass the frame's Y plane")
    if f < 1 or f > min(src.shape[0], src.shape[1], MAX_FACTOR):
        raise ValueError(f"factor must be between 1 and {min(src.shape[0], src.shape[1], MAX_FACTOR)} "
                         f"for shape {src.shape} (got {f})")
    shape = (src.shape[0] // f, src.shape[1] // f)
    if out is None:
        out = np.empty(shape, np.uint8)
    elif not isinstance(out, np.ndarray) or out.shape != shape or out.dtype != np.uint8:
        got = f"{out.dtype} {out.shape}" if isinstance(out, np.ndarray) else type(out).__name__
        raise ValueError(f"out must be uint8 {shape} for factor {f} (got {got}): allocate it at src's size // f")
    _area_downscale(src, f, reciprocal(f), np.empty(shape[1] * f, np.uint16), out)
    return out


def warm_up() -> None:
    """Load the kernel for both plane layouts a decoder hands out (rows padded, or not), as
    `vca.warmup` does for the analysis: a capture opened while other channels run (a
    camera coming back) must not load it then, with the GIL held."""
    plane = np.zeros((6, 48), np.uint8)
    for src in (plane[:, :42], plane):
        area_downscale(src, 2)
