"""Integer-factor area downscale of a luma plane to the channel's analysis size.

The analysis ("sub-stream") size of a channel is chosen once at open:

    f = max(1, width // analysis_width)
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


def downscale_factor(width: int, analysis_width: int | None) -> int:
    """The integer factor for a source `width` and a requested analysis width."""
    if analysis_width is None:
        return 1
    if analysis_width < 1:
        raise ValueError(
            f"analysis_width must be >= 1 (got {analysis_width}); omit it to analyse at full size"
        )
    return max(1, width // analysis_width)


@njit(cache=True, nogil=True)
def _area_downscale(src, f, out):
    """Mean of each f x f block of `src` into `out`, rounded half up.

    src: uint8 (H, W), any strides (a decoder plane view [:, :w] is fine).
    f:   int >= 1.
    out: uint8 (H // f, W // f), written in place; nothing is allocated.
    """
    oh, ow = out.shape
    area = f * f
    half = area // 2
    for i in range(oh):
        r0 = i * f
        for j in range(ow):
            c0 = j * f
            s = 0
            for di in range(f):
                for dj in range(f):
                    s += src[r0 + di, c0 + dj]
            out[i, j] = (s + half) // area


class AreaDownscaler:
    """Preallocated area downscale for one channel's source size.

    `__call__(src)` returns `src` itself when f == 1 (zero copy), otherwise
    the channel's one output buffer, overwritten on every call: copy it to
    keep it across frames.
    """

    def __init__(self, width: int, height: int, analysis_width: int | None):
        self.factor = downscale_factor(width, analysis_width)
        self.width = width // self.factor
        self.height = height // self.factor
        self._out = np.empty((self.height, self.width), np.uint8)

    def __call__(self, src: np.ndarray) -> np.ndarray:
        if self.factor == 1:
            return src
        _area_downscale(src, self.factor, self._out)
        return self._out


def area_downscale(src: np.ndarray, f: int, out: np.ndarray | None = None) -> np.ndarray:
    """Validated one-off form of the kernel (tests, tools); allocates `out` if absent."""
    if src.dtype != np.uint8 or src.ndim != 2:
        raise ValueError(f"src must be a 2-D uint8 luma plane (got {src.dtype}, ndim={src.ndim})")
    if f < 1 or f > min(src.shape):
        raise ValueError(f"factor must be between 1 and {min(src.shape)} for shape {src.shape} (got {f})")
    shape = (src.shape[0] // f, src.shape[1] // f)
    if out is None:
        out = np.empty(shape, np.uint8)
    elif out.shape != shape or out.dtype != np.uint8:
        raise ValueError(f"out must be uint8 {shape} for factor {f} (got {out.dtype} {out.shape})")
    _area_downscale(src, f, out)
    return out
