"""Connected components (8-connectivity) of the cleaned foreground, as blob statistics.

Run-based union-find over bit-packed rows, no label image. The foreground
comes as the background model keeps it: uint64 (H, ceil(W/64)), pixel c of a
row at bit (c % 64) of word (c // 64), padding bits 0 (layout:
vca.bits). Each row is cut into maximal horizontal runs with bit
tricks, a word at a time; runs touching a run of the row above
(8-neighbourhood) are joined; statistics are summed per run. Cost is
O(words + runs), not O(foreground pixels).

Runs of one word, lowest first (t = count trailing zeros)::

    w           = ..0011100110000    a run starts at bit t0 = ctz(w)
    x = w|(w-1) = ..0011100111111    fill below it: the run is now the trailing ones
    t1 = ctz(~x)                     first 0 after the run: run = [t0, t1 - 1]
    x & (x+1)   = ..0011100000000    clear the trailing ones: the rest of the word

If x is all ones the run reaches bit 63 and goes on into the next word's
trailing ones (a whole-ones word is skipped), so a run across word
boundaries comes out as one run.

Neighbour mask of pixel X (8-connectivity); only the row above is looked at,
the left neighbour is the same run::

    a b c        runs of the previous row    [b0 ....... b1]
    d X          a run of this row        [a0 ... a1]
                 joined when b0 <= a1 + 1 and a0 <= b1 + 1 (touching diagonally counts)

Union-find over run indices, root = smallest index, path halving::

    run:    0   1   2   3   4          parent[3] = 1, parent[1] = 0
    parent: 0   0   2   1   2          => runs {0, 1, 3} and {2, 4}

Blob statistics: int64 (max_blobs, N_STATS) rows, columns named below.
Bounding boxes are inclusive. The footprint is the bottom-centre pixel of
the bounding box: (FX, FY) = ((X0 + X1) // 2, Y1) -- where a person stands.

MAPPING (Minimum Target Size, share of the analysed frame area; blobs with
fewer pixels are dropped; scales with analysis resolution)::

    value   share of frame   pixels at 640x360   pixels at 320x240
      0       0.0001 (0.01%)        23                  8
     50       0.0010 (0.1%)        230                 77
    100       0.0100 (1%)         2304                768

share(v) = 1e-4 * 100 ** (v / 100). A person at 640x360 seen by a typical
overhead/oblique camera is about 30x80 = 2400 px: kept by default with a 10x
margin for partial segmentation; 5x5 noise specks (25 px) are dropped.
"""
from __future__ import annotations

import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import trailing_zeros

from vca.bits import pack_rows, rows_contiguous, words_per_row
from vca.contracts import ArrayContract

MAX_BLOBS = 256

# Columns of the statistics rows.
X0, Y0, X1, Y1, AREA, FX, FY, SUMX, SUMY = range(9)
N_STATS = 9

def max_runs_for(height: int, width: int, max_blobs: int = MAX_BLOBS) -> int:
    """Run slots preallocated: one per 16 pixels (at least 16 per blob slot).

    The cleaned foreground is opened with a 3x3 square, so its runs are at
    least 3 pixels long and a frame holds far fewer runs than pixels: one
    slot per 16 pixels leaves room for a frame full of people. Runs beyond
    that are dropped and counted (BlobFinder.info[3]).
    """
    return max(height * width // 16, 16 * max_blobs, 1)


def min_target_share(value: int) -> float:
    """Minimum Target Size 0..100 -> minimum blob area as a share of the frame (see MAPPING)."""
    v = min(max(int(value), 0), 100)
    return 1e-4 * 100.0 ** (v / 100.0)


def min_target_pixels(value: int, height: int, width: int) -> int:
    """Minimum Target Size 0..100 -> minimum blob area in pixels at height x width (at least 1)."""
    return max(1, int(round(min_target_share(value) * height * width)))


@njit(cache=True, nogil=True)
def _find(parent, i):
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


@njit(cache=True, nogil=True)
def _union(parent, a, b):
    ra = _find(parent, a)
    rb = _find(parent, b)
    if ra < rb:
        parent[rb] = ra
    elif rb < ra:
        parent[ra] = rb


@njit(cache=True, nogil=True)
def _find_blobs_bits(bits, row_lo, row_hi, min_pixels, runs, parent, comp, acc, stats, info):
    """Label 8-connected components of a bit-packed 0/1 image and keep those >= min_pixels.

    bits:   uint64 (>= row_hi, NW) packed rows (layout: module docstring), padding bits 0.
    runs:   int32 (R, 3) scratch [y, x0, x1]; runs beyond R are dropped (counted).
    parent: int32 (R,) scratch; comp: int32 (R,) scratch; acc: int64 (R, N_STATS) scratch.
    stats:  int64 (M, N_STATS) out, one row per kept blob, in raster order of first pixel.
    info:   int64 (4,) out: [components, kept blobs, blobs dropped for lack of room,
            runs dropped for lack of room].
    Only rows row_lo..row_hi-1 are read (the caller knows the rest is empty).
    Returns the number of kept blobs.
    """
    nw = bits.shape[1]
    one = np.uint64(1)
    ones = ~np.uint64(0)
    n_runs = 0
    max_runs = runs.shape[0]
    runs_dropped = 0
    cur_start = 0
    for y in range(row_lo, row_hi):
        # The row above's runs are runs[prev_start:prev_end], sorted by x.
        prev_start = cur_start
        prev_end = n_runs
        cur_start = n_runs
        j = prev_start
        k = 0
        w = bits[y, 0]
        while True:
            while w == 0 and k + 1 < nw:
                k += 1
                w = bits[y, k]
            if w == 0:
                break
            a0 = k * 64 + np.int64(trailing_zeros(w))
            x = w | (w - one)
            while x == ones and k + 1 < nw:
                k += 1
                x = bits[y, k]
            if x == ones:              # the row ends inside the run (W a multiple of 64)
                a1 = nw * 64 - 1
                w = np.uint64(0)
            else:
                a1 = k * 64 + np.int64(trailing_zeros(~x)) - 1
                w = x & (x + one)
            if n_runs == max_runs:
                # A frame this fragmented is noise, not people: keep what fits.
                runs_dropped += 1
                continue
            r = n_runs
            runs[r, 0] = y
            runs[r, 1] = a0
            runs[r, 2] = a1
            parent[r] = r
            n_runs += 1
            # Runs above are sorted by x: advance past those ending left of us.
            while j < prev_end and runs[j, 2] < a0 - 1:
                j += 1
            m = j
            if m < prev_end and runs[m, 1] <= a1 + 1:
                # r is the newest run, so the root of the first run it touches
                # is smaller: that union is one find.
                parent[r] = _find(parent, m)
                m += 1
                while m < prev_end and runs[m, 1] <= a1 + 1:
                    _union(parent, r, m)
                    m += 1
    # Resolve roots to compact component numbers and sum statistics. A
    # parent never has a larger index than its child (roots are the smallest
    # index, path halving only moves towards them), so in index order the
    # parent's component is already known: one lookup per run, no find.
    # Runs come in raster order: a component's first run sets Y0, its last Y1.
    n_comp = 0
    for r in range(n_runs):
        y = runs[r, 0]
        a0 = runs[r, 1]
        a1 = runs[r, 2]
        length = a1 - a0 + 1
        # Sum of a0..a1: (a0 + a1) * length is always even, so this is exact.
        sx = (a0 + a1) * length >> 1
        p = parent[r]
        if p == r:
            c = n_comp
            n_comp += 1
            comp[r] = c
            acc[c, X0] = a0
            acc[c, Y0] = y
            acc[c, X1] = a1
            acc[c, Y1] = y
            acc[c, AREA] = length
            acc[c, SUMX] = sx
            acc[c, SUMY] = y * length
            continue
        c = comp[p]
        comp[r] = c
        if a0 < acc[c, X0]:
            acc[c, X0] = a0
        if a1 > acc[c, X1]:
            acc[c, X1] = a1
        acc[c, Y1] = y
        acc[c, AREA] += length
        acc[c, SUMX] += sx
        acc[c, SUMY] += y * length
    kept = 0
    dropped = 0
    max_blobs = stats.shape[0]
    for c in range(n_comp):
        if acc[c, AREA] < min_pixels:
            continue
        if kept == max_blobs:
            dropped += 1
            continue
        for s in range(N_STATS):
            stats[kept, s] = acc[c, s]
        stats[kept, FX] = (acc[c, X0] + acc[c, X1]) // 2
        stats[kept, FY] = acc[c, Y1]
        kept += 1
    info[0] = n_comp
    info[1] = kept
    info[2] = dropped
    info[3] = runs_dropped
    return kept


class BlobFinder:
    """Preallocated connected-components state for one (height, width).

    Per frame the analyzer calls `find_bits` on the model's packed
    foreground. `image` is a C-contiguous uint8 (H, W) buffer for callers
    holding a byte mask (the analyzer gives it to the model as its uint8
    output); `find` packs it and runs the same kernel.
    """

    def __init__(self, height: int, width: int, max_blobs: int = MAX_BLOBS):
        if height < 1 or width < 1:
            raise ValueError(f"blob finder size {width}x{height}: width and height must be at least 1")
        self.height, self.width = int(height), int(width)
        self.image = np.zeros((self.height, self.width), np.uint8)
        self._bits = np.zeros((self.height, words_per_row(self.width)), np.uint64)
        self._fg_bits = ArrayContract("packed foreground", np.uint64, self._bits.shape,
                                      "pass the model's fg_bits at the analysis size")
        max_runs = max_runs_for(self.height, self.width, max_blobs)
        self._runs = np.zeros((max_runs, 3), np.int32)
        self._comp = np.zeros(max_runs, np.int32)
        self._parent = np.zeros(max_runs, np.int32)
        self._acc = np.zeros((max_runs, N_STATS), np.int64)
        self.stats = np.zeros((max_blobs, N_STATS), np.int64)
        self.info = np.zeros(4, np.int64)
        self.count = 0
        self.row_lo, self.row_hi = 0, self.height

    def limit_rows(self, row_lo: int, row_hi: int) -> None:
        """Read only rows row_lo..row_hi-1 from now on (the foreground stage never writes elsewhere)."""
        if not 0 <= row_lo <= row_hi <= self.height:
            raise ValueError(f"row range {row_lo}..{row_hi} outside 0..{self.height}")
        self.row_lo, self.row_hi = int(row_lo), int(row_hi)

    def find_bits(self, min_pixels: int, bits: np.ndarray) -> int:
        """Blobs of packed foreground `bits` (uint64 (H, ceil(W/64)), layout:
        vca.bits, e.g. BackgroundModel.fg_bits) with at least min_pixels
        pixels; rows in self.stats[:n]. Per-frame path: no copy, no allocation."""
        self._fg_bits.check(bits)
        self.count = _find_blobs_bits(bits, self.row_lo, self.row_hi, min_pixels,
                                      self._runs, self._parent, self._comp, self._acc, self.stats, self.info)
        return self.count

    def find(self, min_pixels: int, image: np.ndarray | None = None) -> int:
        """Blobs of 0/1 `image` (default: self.image; any dtype, any strides) with at least
        min_pixels; rows in self.stats[:n]."""
        if image is None:
            image = self.image
        elif not isinstance(image, np.ndarray) or image.shape != self.image.shape:
            raise ValueError(f"foreground is {getattr(image, 'shape', type(image).__name__)}, blob finder was "
                             f"made for {self.image.shape}: pass a mask at the analysis size")
        elif image.dtype != np.uint8:
            self.image[...] = image  # deliberate copy: the packer reads bytes
            image = self.image
        lo, hi = self.row_lo, self.row_hi
        pack_rows(image[lo:hi], self._bits[lo:hi], rows_contiguous(image))
        return self.find_bits(int(min_pixels), self._bits)

    def centroids(self) -> np.ndarray:
        """float64 (n, 2) (x, y) centroids of the last blobs found."""
        s = self.stats[:self.count]
        return np.stack([s[:, SUMX], s[:, SUMY]], axis=1) / np.maximum(s[:, AREA:AREA + 1], 1)


def find_blobs(image: np.ndarray, min_pixels: int = 1, max_blobs: int = MAX_BLOBS) -> np.ndarray:
    """Convenience (allocates): int64 (n, N_STATS) statistics of the blobs of a 0/1 image."""
    finder = BlobFinder(image.shape[0], image.shape[1], max_blobs)
    n = finder.find(min_pixels, image)
    return finder.stats[:n].copy()
