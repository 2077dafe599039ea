"""Per-pixel background model: luma frame in, cleaned 0/1 foreground out.

Per-pixel state, preallocated once for (H, W)::

    mean    int16    running mean of the background, relative to `offset`,
                     in 1/32 grey level
    noise   int16    running mean absolute deviation of background pixels,
                     in 1/32 grey level
    lo, hi  uint8    foreground bounds: a pixel is background while
                     lo <= luma - shift <= hi (0 and 255 mean "no bound")
    stamp   uint16   for a foreground pixel: clock tick since which it has
                     been foreground (to within one learning interval)

A pixel is foreground when |luma - mean| exceeds max(k * noise, floor), both
set by Detection Sensitivity. That test is kept precomputed as the bounds
`lo`/`hi`, so classifying a frame reads 4 bytes per pixel in a loop that
vectorises 16 to 32 pixels wide; mean and noise are touched only where they
are learned, in 16-bit fixed point (16 lanes per AVX2 register).

Learning. Background pixels pull the mean toward the frame with time
constant `background_tau(v)`; foreground pixels are not learned at all
(selective update, so a person standing still is not faded away) until they
have been foreground for `update_seconds(v)` without a break, when the
static change (moved chair, parked trolley) becomes background at once.
Because that time constant is seconds, a row needs learning only every few
frames: each frame learns every R-th row (R <= 16, at least 8 learning steps
per time constant) with the rate for the real time since that row last
learned. All times are seconds of appliance time taken from the frame
timestamps (a 1/32 s tick clock for the foreground ages), so frame rate and
dropped frames do not change them.

Illumination. On 16 rows, while the pass has each in cache, 80 pixels are
sampled (every 22nd row and 8th pixel at 640x360): the median luma shift of
background samples becomes a global offset (integer grey levels, at most
MAX_OFFSET) added to every mean from the next frame on, so drift (clouds, auto exposure) never shows as foreground; a
sudden shift big enough to matter on the frame itself changes most of the
area and is a scene change anyway. Bounds remember the offset they were
computed at per row (`row_offset`), so a shift costs nothing per pixel. The
same sample gives the share of the area that changed at once; past
`scene_change_share(v)` that is a scene change (lights, IR cut filter,
camera knocked): the frame's result is discarded, the mean is reset to the
frame, foreground is held at zero and SETTLING is reported for
SETTLE_SECONDS while the model re-learns fast.

After the pass only rows holding old foreground are visited, to let
revealed background (ghosts) seep in from their rim. The raw mask is then
cleaned by a 3x3 opening then closing (`vca.morphology`), on bands of rows
near foreground, and only rows that are or were foreground are written out.

The cost per frame, against OpenCV's selective running average and MOG2
on the same frames, is measured by benchmarks/test_bench_vca.py and
tools/score_foreground.py, not stated here.

MAPPING (0..100 parameter -> internal quantity; all monotonic)::

    parameter                 0        50       100
    detection_sensitivity     floor 40  floor 16  floor 6.4 grey levels
                              k 5.0     k 3.5     k 2.0 (x mean abs deviation)
    background_update_rate    1200 s    120 s     12 s   static change absorbed
                              (background time constant: those / 30)
    scene_change_level        80 %      45 %      20 %   share of the area
                                                         changing at once
"""
from __future__ import annotations

import math
import time
from typing import NamedTuple

import numpy as np
from numba import njit

from vca.bits import bits_of, bytes_of, last_word_mask, rows_contiguous, unpack_rows, words_per_row
from vca.morphology import open_close_bits
from vca.params import HeatMapParams


class ModelState(NamedTuple):
    """The arrays of one channel's model, made once by `BackgroundModel` (H, W: the
    analysis size; NW = words_per_row(W), packed rows as in vca.bits). The kernels take
    them as one argument and update them in place."""

    mean: np.ndarray        # int16 (H, W) background mean relative to the offset, 1/SCALE grey
    noise: np.ndarray       # int16 (H, W) mean absolute deviation of background pixels, 1/SCALE grey
    lo: np.ndarray          # uint8 (H, W) foreground bounds (module docstring)
    hi: np.ndarray          # uint8 (H, W)
    stamp: np.ndarray       # uint16 (H, W) tick since which a foreground pixel has been foreground
    row_offset: np.ndarray  # int32 (H,) the offset each row's bounds were computed at
    row_time: np.ndarray    # float64 (H,) clock of each row's last learning
    raw: np.ndarray         # uint64 (H, NW) this frame's raw foreground
    old: np.ndarray         # uint64 (H, NW) raw foreground older than the ghost age
    cont: np.ndarray        # uint64 (H, NW) AND of raw over the frames since the row last learned
    protect: np.ndarray     # uint64 (H, NW) pixels vouched for as a target: never seep (`_ghost`)
    rows: np.ndarray        # uint8 (H,) RAW_ROW | OLD_ROW flags of this frame's rows
    row: np.ndarray         # uint8 (NW*64,) scratch, padding bytes kept 0
    orow: np.ndarray        # uint8 (NW*64,) scratch, padding bytes kept 0
    crow: np.ndarray        # uint8 (1, NW*64) scratch
    hist: np.ndarray        # int32 (4, _HIST_BINS + 1) illumination sample, left zeroed
    counts: np.ndarray      # int64 (2,) area and changed samples, left zeroed

SCENE_CHANGE = 1   # flag: a scene change was declared on this frame
SETTLING = 2       # flag: the model is re-learning; do not accumulate

RAW_ROW = 1        # row flags: the row holds raw foreground...
OLD_ROW = 2        # ...of which some is old (a ghost candidate)

SETTLE_SECONDS = 1.0       # foreground held at zero after a scene change
BOOT_SECONDS = 0.5         # after start or a scene change: learn every pixel fast
BOOT_TAU = 0.3             # time constant of that fast learning, seconds
GHOST_TAU = 0.1            # revealed background seeps in a pixel layer at this pace
GHOST_MIN_AGE = 2.0        # ...once it has been foreground this long without a break
MAX_DT = 2.0               # longer gaps (video loss) count as this much learning
NOISE_INIT = 2.0           # grey levels of mean abs deviation before any is measured
NOISE_MIN = 0.5
NOISE_CAP = 20.0           # one outlier moves the noise estimate at most this much
SCALE_BITS = 5             # mean and noise are int16 in 1/32 grey level
SCALE = 1 << SCALE_BITS
MAX_OFFSET = 255           # |illumination offset|, so relative means fit int16
TICKS = 32                 # foreground age clock, ticks per second (uint16: wraps after 2048 s)
MAX_ROW_STEP = 16         # learn every row at least every 16th frame...
STEPS_PER_TAU = 8         # ...and at least this often per background time constant
SAMPLE_ROWS = 16           # illumination / scene change sample: about this many rows
SAMPLE_COLS = 80           # of about this many pixels each, at any analysis size
_HIST_BINS = 1021          # luma differences -255..255 in half grey levels

_STAGES = ("model", "cleanup")  # stage_ns entries (read by vca.analyzer)


def sensitivity_threshold(v: int) -> float:
    """Minimum |luma - mean| in grey levels that counts as foreground (40 .. 6.4)."""
    return 40.0 * 0.16 ** (_check(v, "detection_sensitivity") / 100.0)


def noise_factor(v: int) -> float:
    """Multiple of a pixel's mean abs deviation that counts as foreground (5 .. 2)."""
    return 5.0 - 3.0 * _check(v, "detection_sensitivity") / 100.0


def update_seconds(v: int) -> float:
    """Seconds after which an unbroken static change becomes background (1200 .. 12)."""
    return 1200.0 * 0.01 ** (_check(v, "background_update_rate") / 100.0)


def background_tau(v: int) -> float:
    """Time constant in seconds with which background pixels follow the scene."""
    return update_seconds(v) / 30.0


def scene_change_share(v: int) -> float:
    """Share of the area that must change at once to declare a scene change (0.80 .. 0.20)."""
    return float(np.interp(_check(v, "scene_change_level"), [0, 50, 100], [0.80, 0.45, 0.20]))


def _check(v: int, name: str) -> int:
    if not 0 <= int(v) <= 100:
        raise ValueError(f"{name}={v} is out of range: set a value from 0 to 100")
    return int(v)


# -- kernels -------------------------------------------------------------------
# Small ints are cast back to int16 after each operation: Numba widens integer
# arithmetic to int64, and the casts let LLVM keep 16 lanes per AVX2 register.

_I16 = np.int16
_I32 = np.int32


@njit(cache=True, nogil=True, inline="always")
def _bound_pair(m, s, shift, k8, tmin):
    """(lo, hi) uint8 bounds of a pixel, all inputs int16 in 1/SCALE grey:
    relative mean m, noise s, offset shift; k8: noise factor in 1/8;
    tmin: threshold floor. Background while |SCALE * x - (m + shift)| <= thr,
    thr = max(k * s, tmin): for integer x, lo = ceil(..), hi = floor(..)."""
    thr = max(_I16(_I16(s * k8) >> _I16(3)), tmin)
    c = _I16(m + shift)
    lo = _I16(_I16(c - thr + _I16(SCALE - 1)) >> _I16(SCALE_BITS))
    hi = _I16(_I16(c + thr) >> _I16(SCALE_BITS))
    return (np.uint8(min(max(lo, _I16(0)), _I16(255))),
            np.uint8(min(max(hi, _I16(0)), _I16(255))))


@njit(cache=True, nogil=True, inline="always")
def _mul_rate(d, a16):
    """d * a / 65536 for int16 d and rate a16 = a * 65536 < 32768: the high
    half of a 16-bit product, one instruction for 16 lanes (floor rounding,
    a bias below 1/SCALE grey level)."""
    return _I16((_I32(d) * _I32(a16)) >> 16)


@njit(cache=True, nogil=True, error_model="numpy", boundscheck=False)
def _bounds_rows(s, offset, k8, tmin):
    """Recompute every row's bounds at `offset` (after a parameter change or reset).

    s: ModelState; from mean and noise, writes lo, hi and row_offset (set to offset).
    """
    mean, noise, lo, hi, row_offset = s.mean, s.noise, s.lo, s.hi, s.row_offset
    h, w = mean.shape
    sh = _I16(offset * SCALE)
    for i in range(h):
        for j in range(w):
            a, b = _bound_pair(mean[i, j], noise[i, j], sh, k8, tmin)
            lo[i, j] = a
            hi[i, j] = b
        row_offset[i] = offset


@njit(cache=True, nogil=True, error_model="numpy", boundscheck=False)
def _pass(luma, area, s, clean_bits, rstep, cstep, row_lo, row_hi, offset, clock, now, phase, step, tau,
          t_abs, min_age, k8, tmin):
    """Classify every pixel and learn every `step`-th row, in one sweep.

    luma: uint8 (H, W) any strides; area: uint8 (H, W) 0/1, no area pixel
    outside rows row_lo..row_hi-1. s: ModelState; mean, noise, lo, hi, stamp,
    row_offset and row_time are updated in place for the learning rows
    (i % step == phase); raw receives the packed foreground, old "foreground
    for at least min_age", cont the AND of raw since each row last learned,
    rows the RAW_ROW | OLD_ROW flags; row, orow, crow are scratch. Every
    rstep-th row is also sampled for illumination and scene change while it
    is in cache (`_sample_row`: clean_bits, s.hist, s.counts, cstep), against
    the bounds before learning.
    offset: global illumination offset, grey levels; clock: seconds;
    now, t_abs, min_age: uint16 ticks; tau: background time constant, s;
    k8, tmin: int16 threshold max(k8 / 8 * noise, tmin), tmin in 1/SCALE grey.

    Stamps: a learning visit that sees a pixel background sets its stamp to
    now; one that sees it foreground but not at every frame since the
    previous visit sets it halfway between that visit and now. Ages are
    thus known to within half a row interval.
    """
    mean, noise, lo, hi, stamp = s.mean, s.noise, s.lo, s.hi, s.stamp
    row_offset, row_time, raw, old, cont, rows = s.row_offset, s.row_time, s.raw, s.old, s.cont, s.rows
    row, orow, crow, hist, counts = s.row, s.orow, s.crow, s.hist, s.counts
    h, w = luma.shape
    g = _I16(offset * SCALE)
    nmin = _I16(NOISE_MIN * SCALE)
    cap = _I16(NOISE_CAP * SCALE)
    u16 = np.uint16
    nw = raw.shape[1]
    # 2-D indexing, not row views: a view per row costs reference counting.
    for i in range(h):
        d = _I16(offset - row_offset[i])
        # Rows outside row_lo..row_hi hold no area pixel: nothing there can be
        # foreground, so they are not classified (they still learn).
        if row_lo <= i < row_hi:
            for j in range(w):
                xs = _I16(_I16(luma[i, j]) - d)
                a = lo[i, j]
                b = hi[i, j]
                below = (xs < _I16(a)) & (a != 0)
                above = (xs > _I16(b)) & (b != 255)
                row[j] = (below | above) & (area[i, j] != 0)
            if i % rstep == rstep // 2:
                _sample_row(luma, area, lo, hi, np.int64(d), clean_bits, i, cstep, hist, counts)
        else:
            row[:w] = 0
        if i % step == phase:
            # Learn this row with the rate for the real time since it last did.
            a_bg = _I16(min((1.0 - math.exp(-(clock - row_time[i]) / tau)) * 65536.0, 32767.0))
            # a pixel that turned foreground since the last visit did so
            # between it and now: take the middle
            last = u16(np.int64(row_time[i] * TICKS) & 0xFFFF)
            mid = u16(last + (u16(now - last) >> 1))
            row_time[i] = clock
            for kw in range(cont.shape[1]):
                bytes_of(cont[i, kw], crow, 0, kw * 64)
                cont[i, kw] = ~np.uint64(0)
            for j in range(w):
                xg = _I16(_I16(_I16(luma[i, j]) << _I16(SCALE_BITS)) - g)  # frame - offset
                m = mean[i, j]
                dm = _I16(xg - m)
                s = noise[i, j]
                fg = row[j] != 0
                st = stamp[i, j] if fg & (crow[0, j] != 0) else (mid if fg else now)
                age = u16(now - st)
                absorb = fg & (age > t_abs)
                keep = fg & ~absorb
                # selective update: foreground pixels keep their mean and noise
                # until absorbed, when the static change is the background at once
                m2 = m if keep else (xg if absorb else _I16(m + _mul_rate(dm, a_bg)))
                s2 = s if fg else max(_I16(s + _mul_rate(_I16(min(abs(dm), cap) - s), a_bg)), nmin)
                mean[i, j] = m2
                noise[i, j] = s2
                stamp[i, j] = st if keep else now
                row[j] = keep
                orow[j] = keep & (age >= min_age)
                a, b = _bound_pair(m2, s2, g, k8, tmin)
                lo[i, j] = a
                hi[i, j] = b
            row_offset[i] = offset
        # pack here rather than in a helper taking arrays: a call per row
        # would pay Numba's reference counting
        learned = i % step == phase
        any_raw = np.uint64(0)
        any_old = np.uint64(0)
        for kw in range(nw):
            r = bits_of(row, kw * 64)
            raw[i, kw] = r
            if learned:
                o = bits_of(orow, kw * 64)
                old[i, kw] = o
            else:
                cont[i, kw] &= r
                o = old[i, kw] & r  # one background frame and a pixel is young again
                old[i, kw] = o
            any_raw |= r
            any_old |= o
        rows[i] = np.uint8(any_raw != 0) | (np.uint8(any_old != 0) << np.uint8(1))


# de Bruijn multiply: index of the lowest set bit of a uint64, branch-free.
_DEBRUIJN = np.uint64(0x03F79D71B4CB0A89)
_DEBRUIJN_INDEX = np.zeros(64, np.int64)
for _b in range(64):
    _DEBRUIJN_INDEX[((1 << _b) * 0x03F79D71B4CB0A89 & 0xFFFFFFFFFFFFFFFF) >> 58] = _b


@njit(cache=True, nogil=True, inline="always")
def _low_bit(b):
    return _DEBRUIJN_INDEX[((b & (~b + np.uint64(1))) * _DEBRUIJN) >> np.uint64(58)]


@njit(cache=True, nogil=True, error_model="numpy", boundscheck=False)
def _ghost(luma, s, offset, a_g, k8, tmin):
    """Let revealed background seep in from the rim of old foreground.

    A ghost (background uncovered after a person who was there when
    learning started walks off) shows the true background, so its rim
    pixels match the bounds of their background 4-neighbours; a real object
    usually differs from its surroundings and does not. Each such rim pixel
    that has been foreground for a while (`old`) is pulled toward the frame
    at rate a_g; once learned it is background and the next layer follows,
    so a ghost dissolves from its rim inward in a second or two.

    luma: uint8 (H, W) any strides; s: ModelState, read: raw, old (this
    frame's foreground and its old part), protect (pixels that never seep,
    under a known target), noise, row_offset, rows (flags from `_pass`: only
    rows flagged OLD_ROW are visited); mean pulled at rate a_g (float), lo, hi
    refreshed where a mean moves.
    Returns the number of pixels pulled.
    """
    raw, old, protect, rows = s.raw, s.old, s.protect, s.rows
    mean, noise, lo, hi, row_offset = s.mean, s.noise, s.lo, s.hi, s.row_offset
    h, w = luma.shape
    nw = raw.shape[1]
    one = np.uint64(1)
    top = np.uint64(63)
    full = ~np.uint64(0)
    g = offset * SCALE
    a16 = np.int64(a_g * 65536.0)
    pulled = 0
    for i in range(h):
        if not rows[i] & OLD_ROW:
            continue
        for kw in range(nw):
            b = raw[i, kw]
            c = b & old[i, kw] & ~protect[i, kw]
            if c == 0:
                continue
            # rim: a 4-neighbour is background; outside the frame counts as
            # foreground (no neighbour to learn from)
            lft = raw[i, kw - 1] if kw > 0 else full
            rgt = raw[i, kw + 1] if kw + 1 < nw else full
            up = raw[i - 1, kw] if i > 0 else full
            dn = raw[i + 1, kw] if i + 1 < h else full
            left = (b << one) | (lft >> top)
            right = (b >> one) | (rgt << top)
            rim = c & ~(left & right & up & dn)
            while rim:
                j = kw * 64 + _low_bit(rim)
                rim &= rim - one
                xi = np.int32(luma[i, j])
                match = False
                for di, dj in ((0, -1), (0, 1), (-1, 0), (1, 0)):
                    qi = i + di
                    qj = j + dj
                    if qi < 0 or qi >= h or qj < 0 or qj >= w:
                        continue
                    if (raw[qi, qj >> 6] >> np.uint64(qj & 63)) & one:
                        continue
                    xs = xi - (offset - row_offset[qi])
                    ql = np.int32(lo[qi, qj])
                    qh = np.int32(hi[qi, qj])
                    if (xs >= ql or ql == 0) and (xs <= qh or qh == 255):
                        match = True
                        break
                if match:
                    m = np.int64(mean[i, j])
                    m = _I16(m + (((xi * SCALE - g) - m) * a16 >> 16))
                    mean[i, j] = m
                    p, q = _bound_pair(m, noise[i, j], _I16(row_offset[i] * SCALE), k8, tmin)
                    lo[i, j] = p
                    hi[i, j] = q
                    pulled += 1
    return pulled


@njit(cache=True, nogil=True)
def _model(luma, area, s, clean_bits, rstep, cstep, row_lo, row_hi, offset, clock, now, phase, step, tau,
           t_abs, min_age, a_g, k8, tmin):
    """`_pass` then `_ghost` (arguments as there) in one call per frame;
    returns the illumination sample (`_sample_result`)."""
    _pass(luma, area, s, clean_bits, rstep, cstep, row_lo, row_hi, offset, clock, now, phase, step, tau,
          t_abs, min_age, k8, tmin)
    _ghost(luma, s, offset, a_g, k8, tmin)
    return _sample_result(s.hist, s.counts)


@njit(cache=True, nogil=True)
def _sample_row(luma, area, lo, hi, d, clean_bits, i, cstep, hist, counts):
    """Add every cstep-th pixel of row i to the illumination sample.

    The background mean of a sample is read from its bounds, (lo + hi) / 2,
    within half a grey level, so the float means are not touched.
    d: offset - row_offset[i]; clean_bits: uint64 (H, NW) last cleaned
    foreground; hist: int32 (4, 1022) luma - mean in half grey levels (bin
    1021 collects unused samples); counts: int64 (2,) area and changed samples.
    """
    w = luma.shape[1]
    n_area = 0
    n_changed = 0
    one = np.uint64(1)
    # branch-free, and four histograms in turn so that consecutive samples
    # (mostly in the same bin) do not wait on each other's store
    for j in range(cstep // 2, w, cstep):
        inside = np.int32(area[i, j] != 0)
        xs = np.int32(luma[i, j]) - d
        ql = np.int32(lo[i, j])
        qh = np.int32(hi[i, j])
        n_area += inside
        n_changed += inside & np.int32(((xs < ql) & (ql != 0)) | ((xs > qh) & (qh != 255)))
        # a clipped bound does not tell the mean; under a target is not illumination
        use = inside & np.int32((ql != 0) & (qh != 255)) & np.int32(
            ((clean_bits[i, j >> 6] >> np.uint64(j & 63)) & one) == 0)
        b = min(max(2 * xs - ql - qh + 510, 0), 1020)
        hist[j & 3, b if use else 1021] += 1
    counts[0] += n_area
    counts[1] += n_changed


@njit(cache=True, nogil=True)
def _sample_result(hist, counts):
    """(area samples, changed samples, median luma - mean over background
    samples in grey levels, background samples); clears hist and counts."""
    n_bg = 0
    for b in range(1021):
        hist[0, b] += hist[1, b] + hist[2, b] + hist[3, b]
        n_bg += hist[0, b]
    med = 0
    if n_bg > 0:
        half = (n_bg + 1) // 2
        acc = 0
        for b in range(1021):
            acc += hist[0, b]
            if acc >= half:
                med = b - 510
                break
    n_area, n_changed = counts[0], counts[1]
    hist[:] = 0
    counts[:] = 0
    # half grey levels to grey levels, rounding half away from zero
    return n_area, n_changed, (med + 1) // 2 if med >= 0 else -((1 - med) // 2), n_bg


@njit(cache=True, nogil=True, error_model="numpy", boundscheck=False)
def _sample(luma, area, s, offset, clean_bits, rstep, cstep):
    """Illumination shift and changed share on a sparse grid, without
    classifying (used while settling). Few rows, many columns: a row read
    front to back is prefetched, scattered pixels would each miss the cache.
    Arguments as `_sample_row` (lo, hi, row_offset, hist, counts from s);
    hist and counts start zeroed and are left so. Returns `_sample_result`.
    """
    lo, hi, row_offset, hist, counts = s.lo, s.hi, s.row_offset, s.hist, s.counts
    for i in range(rstep // 2, luma.shape[0], rstep):
        _sample_row(luma, area, lo, hi, offset - row_offset[i], clean_bits, i, cstep, hist, counts)
    return _sample_result(hist, counts)


@njit(cache=True, nogil=True, error_model="numpy", boundscheck=False)
def _relearn(luma, s, offset, a16, k8, tmin):
    """Pull every pixel toward the frame at rate a16 / 65536 (settling);
    refresh bounds.

    luma: uint8 (H, W) any strides; s: ModelState (mean pulled; lo, hi
    refreshed from mean and noise; row_offset set to offset).
    """
    mean, noise, lo, hi, row_offset = s.mean, s.noise, s.lo, s.hi, s.row_offset
    h, w = luma.shape
    g = _I16(offset * SCALE)
    for i in range(h):
        for j in range(w):
            m = mean[i, j]
            m = _I16(m + _mul_rate(_I16(_I16(_I16(luma[i, j]) << _I16(SCALE_BITS)) - g - m), a16))
            mean[i, j] = m
            p, q = _bound_pair(m, noise[i, j], g, k8, tmin)
            lo[i, j] = p
            hi[i, j] = q
        row_offset[i] = offset


@njit(cache=True, nogil=True, error_model="numpy", boundscheck=False)
def _cleanup(raw, rows, clean, tmp, tmp2, last_valid, clean_rows, before, before_rows, out,
             fast, only_changed, active):
    """Open-close packed raw into clean and unpack it into out, skipping
    bands of rows far from any foreground.

    raw, clean, tmp, tmp2: uint64 (H, NW); rows: uint8 (H,) flags from
    `_pass`; clean_rows: uint8 (H,) receives 1 where clean has foreground;
    before: uint64 (H, NW) the packed mask out holds now, before_rows its
    row flags (used when only_changed; else every word is written); out, fast:
    as for `vca.morphology._unpack_rows`; active: uint8 (H,) scratch.

    An output row of the open-close can only hold foreground within 2 rows
    of raw foreground, so the morphology runs on bands of rows within 3 rows
    of raw foreground (the band's first and last rows are then empty in raw
    and in every stage, so the band edge behaves like the image border);
    other rows of clean are zero.
    """
    h, nw = raw.shape
    reach = 3
    for i in range(h):
        active[i] = 0
    for i in range(h):
        if rows[i] & RAW_ROW:
            for r in range(max(i - reach, 0), min(i + reach + 1, h)):
                active[r] = 1
    i = 0
    while i < h:
        if active[i] == 0:
            for kw in range(nw):
                clean[i, kw] = 0
            clean_rows[i] = 0
            i += 1
            continue
        r1 = i
        while r1 < h and active[r1]:
            r1 += 1
        open_close_bits(raw[i:r1], clean[i:r1], tmp[i:r1], tmp2[i:r1], last_valid)
        for r in range(i, r1):
            acc = np.uint64(0)
            for kw in range(nw):
                acc |= clean[r, kw]
            clean_rows[r] = acc != 0
        i = r1
    for i in range(h):
        active[i] = clean_rows[i] | before_rows[i] if only_changed else 1
    unpack_rows(clean, out, fast, active, only_changed, before)


class BackgroundModel:
    """Background model of one channel, preallocated once for (height, width)."""

    def __init__(self, height: int, width: int):
        if height < 3 or width < 3:
            raise ValueError(f"analysis size {width}x{height} is too small: use at least 3x3")
        self.height, self.width = height, width
        nw = words_per_row(width)
        self.state = ModelState(
            mean=np.zeros((height, width), np.int16),
            noise=np.full((height, width), int(NOISE_INIT * SCALE), np.int16),
            lo=np.zeros((height, width), np.uint8),
            hi=np.zeros((height, width), np.uint8),
            stamp=np.zeros((height, width), np.uint16),
            row_offset=np.zeros(height, np.int32),
            row_time=np.zeros(height, np.float64),
            raw=np.zeros((height, nw), np.uint64),
            old=np.zeros((height, nw), np.uint64),
            cont=np.zeros((height, nw), np.uint64),
            protect=np.zeros((height, nw), np.uint64),
            rows=np.zeros(height, np.uint8),
            row=np.zeros(nw * 64, np.uint8),
            orow=np.zeros(nw * 64, np.uint8),
            crow=np.zeros((1, nw * 64), np.uint8),
            hist=np.zeros((4, _HIST_BINS + 1), np.int32),
            counts=np.zeros(2, np.int64),
        )
        st = self.state
        self.mean, self.noise, self.lo, self.hi, self.stamp = st.mean, st.noise, st.lo, st.hi, st.stamp
        self.row_offset = st.row_offset
        # Pixels the caller vouches are a target (a tracked person standing
        # still): revealed-background seepage never starts there.
        self.protect = st.protect
        # The cleaned foreground, double-buffered: this frame's and the last one's.
        self._clean = np.zeros((height, nw), np.uint64)
        self._clean_prev = np.zeros((height, nw), np.uint64)
        self._clean_rows = np.zeros(height, np.uint8)
        self._clean_rows_prev = np.zeros(height, np.uint8)
        # clean-up scratch
        self._tmp = np.zeros((height, nw), np.uint64)
        self._tmp2 = np.zeros((height, nw), np.uint64)
        self._active = np.zeros(height, np.uint8)
        self._last_valid = last_word_mask(width)
        self._rstep = max(height // SAMPLE_ROWS, 1)
        self._cstep = max(width // SAMPLE_COLS, 1)
        self._row_lo, self._row_hi = 0, height
        self._bg8 = np.zeros((height, width), np.uint8)
        self.stage_ns = np.zeros(len(_STAGES), np.int64)
        self.offset = 0          # global illumination offset, grey levels
        self._clock = 0.0        # seconds of appliance time seen (gaps capped)
        self._frame = 0
        self._out = None        # the fg_out written last frame, and its uint64 view
        self._out_fast = None
        self._boot_abs_ticks = np.uint16(BOOT_TAU * TICKS)
        self._ghost_ticks = np.uint16(GHOST_MIN_AGE * TICKS)
        self._t_prev: float | None = None
        self._boot_until = 0.0
        self._settle_until = -1.0
        self._k = self._tmin = None
        self.set_params(HeatMapParams())

    # -- configuration ---------------------------------------------------
    def set_params(self, params: HeatMapParams) -> None:
        """Take the four 0..100 parameters (mapping: module docstring)."""
        # fixed point as the kernels use them: floor in 1/SCALE grey, k in 1/8
        tmin = np.int16(round(sensitivity_threshold(params.detection_sensitivity) * SCALE))
        k = np.int16(round(noise_factor(params.detection_sensitivity) * 8))
        self._abs_ticks = np.uint16(min(int(update_seconds(params.background_update_rate) * TICKS),
                                        0xFFFF))
        self._tau = background_tau(params.background_update_rate)
        self._scene_share = scene_change_share(params.scene_change_level)
        if (k, tmin) != (self._k, self._tmin):
            self._k, self._tmin = k, tmin
            if self._t_prev is not None:  # bounds follow the new sensitivity at once
                _bounds_rows(self.state, self.offset, k, tmin)

    def limit_rows(self, row_lo: int, row_hi: int) -> None:
        """Promise that area masks hold no pixel outside rows row_lo..row_hi-1
        (as for `vca.blobs.BlobFinder.limit_rows`): those rows are then not
        classified, so a small area costs less. They still learn, so a later
        larger area finds them ready. Default: every row."""
        if not 0 <= row_lo <= row_hi <= self.height:
            raise ValueError(f"rows {row_lo}..{row_hi} are outside 0..{self.height}: "
                             "pass the first and one past the last row holding area pixels")
        self._row_lo, self._row_hi = int(row_lo), int(row_hi)

    @property
    def background(self) -> np.ndarray:
        """uint8 (H, W) learned background, refreshed on each access (for
        report pictures, not per frame, so the temporary is acceptable)."""
        np.copyto(self._bg8, np.clip(self.mean / SCALE + (self.offset + 0.5), 0, 255),
                  casting="unsafe")
        return self._bg8

    @property
    def fg_bits(self) -> np.ndarray:
        """uint64 (H, ceil(W/64)) packed cleaned foreground of the last frame
        (layout: vca.bits). Read-only; valid until the next apply."""
        return self._clean_prev

    # -- per frame ---------------------------------------------------------
    def apply(self, luma: np.ndarray, t: float, area_mask: np.ndarray, fg_out: np.ndarray) -> int:
        """Analyse one frame; returns flags SCENE_CHANGE | SETTLING.

        luma: uint8 (H, W), rows may be strided. t: seconds, increasing.
        area_mask: uint8 (H, W) 0/1; pixels outside every area are never
        foreground. fg_out: uint8 (H, W) receives the cleaned 0/1 foreground.
        Pass the same fg_out every frame and do not write into it: only the
        words that changed since the last frame are rewritten.
        """
        t0 = time.perf_counter_ns()
        h, w = self.height, self.width
        for a, name in ((luma, "luma"), (area_mask, "area_mask"), (fg_out, "fg_out")):
            if a.dtype != np.uint8 or a.shape != (h, w):
                raise ValueError(f"{name} must be uint8 of shape ({h}, {w}), got {a.dtype} "
                                 f"{a.shape}: feed frames at the size the model was built for")
        if self._t_prev is None:
            self._start(luma, t)
            self._write_empty(fg_out)
            self._t_prev = t
            return self._done(t0, 0)
        dt = min(max(t - self._t_prev, 0.0), MAX_DT)
        self._t_prev = t
        self._clock += dt

        if t < self._settle_until:
            n_area, n_changed, _, _ = _sample(luma, area_mask, self.state, self.offset, self._clean_prev,
                                              self._rstep, self._cstep)
            if n_area > 0 and n_changed >= self._scene_share * n_area:
                self._reset_to(luma, t)  # still changing (exposure hunting): keep re-learning
            else:
                _relearn(luma, self.state, self.offset,
                         np.int16(min((1.0 - math.exp(-dt / BOOT_TAU)) * 65536, 32767)), self._k, self._tmin)
                self.stamp.fill(self._now())  # nothing is foreground while settling
            self._write_empty(fg_out)
            return self._done(t0, SETTLING)

        if t < self._boot_until:
            tau, t_abs = BOOT_TAU, self._boot_abs_ticks
        else:
            tau, t_abs = self._tau, self._abs_ticks
        # learn each row at least STEPS_PER_TAU times per time constant
        step = int(min(max(tau / (STEPS_PER_TAU * max(dt, 1e-3)), 1), MAX_ROW_STEP))
        self._frame += 1
        n_area, n_changed, med, n_bg = _model(
            luma, area_mask, self.state, self._clean_prev, self._rstep, self._cstep, self._row_lo, self._row_hi,
            self.offset, self._clock, self._now(), self._frame % step, step, tau,
            t_abs, self._ghost_ticks, 1.0 - math.exp(-dt / GHOST_TAU), self._k, self._tmin)
        if n_area > 0 and n_changed >= self._scene_share * n_area:
            # what the pass found and learned is discarded with the model
            self._reset_to(luma, t)
            self._write_empty(fg_out)
            return self._done(t0, SCENE_CHANGE | SETTLING)
        if n_bg >= 16:
            self.offset = min(max(self.offset + med, -MAX_OFFSET), MAX_OFFSET)
        t1 = time.perf_counter_ns()
        # Unpack only changed words when fg_out still holds last frame's mask;
        # comparing the object is cheap where reading its address is not.
        same = fg_out is self._out
        if not same:
            self._out, self._out_fast = fg_out, rows_contiguous(fg_out)
        _cleanup(self.state.raw, self.state.rows, self._clean, self._tmp, self._tmp2, self._last_valid,
                 self._clean_rows, self._clean_prev, self._clean_rows_prev, fg_out, self._out_fast,
                 same, self._active)
        self._clean, self._clean_prev = self._clean_prev, self._clean
        self._clean_rows, self._clean_rows_prev = self._clean_rows_prev, self._clean_rows
        t2 = time.perf_counter_ns()
        self.stage_ns[0] = t1 - t0
        self.stage_ns[1] = t2 - t1
        return 0

    # -- helpers -------------------------------------------------------------
    def _start(self, luma: np.ndarray, t: float) -> None:
        self.offset = 0
        np.multiply(luma, SCALE, out=self.mean, dtype=np.int16)
        _bounds_rows(self.state, 0, self._k, self._tmin)
        self.state.row_time[:] = self._clock
        self.stamp[...] = self._now()
        self.state.old[...] = 0
        self.state.cont[...] = ~np.uint64(0)
        self._boot_until = t + BOOT_SECONDS

    def _done(self, t0: int, flags: int) -> int:
        """stage_ns of a frame that ends without clean-up; returns flags."""
        self.stage_ns[0] = time.perf_counter_ns() - t0
        self.stage_ns[1] = 0
        return flags

    def _now(self) -> np.uint16:
        return np.uint16(int(self._clock * TICKS) & 0xFFFF)

    def _reset_to(self, luma: np.ndarray, t: float) -> None:
        self._start(luma, t)
        self._settle_until = t + SETTLE_SECONDS
        self._boot_until = self._settle_until + BOOT_SECONDS

    def _write_empty(self, fg_out: np.ndarray) -> None:
        fg_out[...] = 0
        self._clean_prev[...] = 0
        self._clean_rows_prev[...] = 0
        if fg_out is not self._out:
            self._out, self._out_fast = fg_out, rows_contiguous(fg_out)
