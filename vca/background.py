"""Per-pixel background model: luma frame in, cleaned 0/1 foreground out.

One fused pass per frame over three float32 (H, W) arrays, preallocated once:

    mean   running mean of the background, grey levels
    noise  running mean absolute deviation of background pixels (noise level)
    age    seconds a pixel has been foreground without a break

A pixel is foreground when |luma - mean| exceeds max(k * noise, floor), both
set by Detection Sensitivity. Background pixels pull the mean toward the
frame with time constant `update_seconds(v) / 30`; foreground pixels are not
learned at all (selective update) until they have been foreground for
`update_seconds(v)` without a break, when the static change (moved chair,
parked trolley, a person asleep on a bench) becomes background at once. All
times are seconds of appliance time taken from the frame timestamps, so frame
rate and dropped frames do not change them.

Before the pass a sparse grid of pixels (every 4th row, 8th column) measures
the median luma shift of background pixels, applied to the whole mean: global
illumination drift (clouds, auto exposure) never shows as foreground. The
same sample gives the share of the area that changed at once; past
`scene_change_share(v)` that is a scene change (lights, IR cut filter, camera
knocked): the mean is reset to the frame, foreground is held at zero and
SETTLING is reported for SETTLE_SECONDS while the model re-learns fast.

The raw mask is packed into bits and cleaned by a 3x3 opening then closing
(`vca.morphology`).

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

import numpy as np
from numba import njit

from vca.morphology import Cleaner, _pack_row, _unpack, view64, words_per_row
from vca.params import HeatMapParams

SCENE_CHANGE = 1   # flag: a scene change was declared on this frame
SETTLING = 2       # flag: the model is re-learning; do not accumulate

SETTLE_SECONDS = 1.0       # foreground held at zero after a scene change
BOOT_SECONDS = 0.5         # after start or a scene change: learn every pixel fast
BOOT_TAU = 0.3             # time constant of that fast learning, seconds
GHOST_TAU = 0.1            # revealed background seeps in a pixel layer at this pace
GHOST_MIN_AGE = 2.0        # ...once it has been foreground this long without a break
MAX_DT = 2.0               # longer gaps (video loss) count as this much learning
NOISE_INIT = 2.0           # grey levels of mean abs deviation before any is measured
NOISE_MIN = 0.5
SAMPLE_ROW_STEP = 4        # sparse grid for illumination and scene change
SAMPLE_COL_STEP = 8
_HIST_BINS = 511           # luma differences -255..255


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


@njit(cache=True, nogil=True)
def _sample(luma, area, mean, noise, clean_bits, rstep, cstep, k, tmin, hist):
    """Illumination shift and changed share on a sparse grid.

    luma: uint8 (H, W) any strides; area: uint8 (H, W) 0/1; mean, noise:
    float32 (H, W); clean_bits: uint64 (H, NW) last cleaned foreground;
    hist: int32 (511,) scratch. Returns (area samples, changed samples,
    median luma - mean over background samples, background samples).
    """
    hist[:] = 0
    h, w = luma.shape
    n_area = 0
    n_changed = 0
    n_bg = 0
    for i in range(rstep // 2, h, rstep):
        for j in range(cstep // 2, w, cstep):
            if area[i, j] == 0:
                continue
            n_area += 1
            d = np.float32(luma[i, j]) - mean[i, j]
            if abs(d) > max(k * noise[i, j], tmin):
                n_changed += 1
            if (clean_bits[i, j >> 6] >> np.uint64(j & 63)) & np.uint64(1):
                continue  # under a target: not illumination
            b = int(math.floor(d + 0.5)) + 255
            hist[min(max(b, 0), 510)] += 1
            n_bg += 1
    med = 0.0
    if n_bg > 0:
        half = (n_bg + 1) // 2
        acc = 0
        for b in range(511):
            acc += hist[b]
            if acc >= half:
                med = float(b - 255)
                break
    return n_area, n_changed, med, n_bg


@njit(cache=True, nogil=True)
def _model(luma, area, mean, noise, age, row, row64, raw_bits,
           off, dt, a_bg, a_noise, k, tmin, t_abs):
    """Classify and learn one frame in a single pass; returns raw fg count.

    luma: uint8 (H, W) any strides; area: uint8 (H, W) 0/1.
    mean, noise, age: float32 (H, W), updated in place.
    row: uint8 (NW*64,) scratch, padding bytes kept 0; row64: its uint64 view.
    raw_bits: uint64 (H, NW) receives the packed raw foreground.
    off: illumination shift added to every mean; dt: frame interval, s;
    a_bg, a_noise: learning rates of background pixels for this dt;
    k, tmin: threshold = max(k * noise, tmin); t_abs: seconds of unbroken
    foreground after which a pixel is absorbed into the background.
    """
    h, w = luma.shape
    n = 0
    zero = np.float32(0.0)
    for i in range(h):
        lr = luma[i]
        ar = area[i]
        mr = mean[i]
        nr = noise[i]
        gr = age[i]
        for j in range(w):
            x = np.float32(lr[j])
            m = mr[j] + off
            d = x - m
            ad = abs(d)
            s = nr[j]
            fg = (ad > max(k * s, tmin)) and ar[j] != 0
            g = gr[j] + dt if fg else zero
            absorb = g > t_abs
            # Selective update: only background pixels are learned, so a
            # person standing still is not faded into the background.
            mr[j] = x if absorb else (m if fg else m + a_bg * d)
            nr[j] = s if fg else max(s + a_noise * (min(ad, np.float32(20.0)) - s),
                                     np.float32(NOISE_MIN))
            gr[j] = zero if absorb else g
            f = fg and not absorb
            row[j] = f
            n += f
        _pack_row(row64, raw_bits[i])
    return n


@njit(cache=True, nogil=True)
def _ghost(luma, mean, noise, age, raw_bits, a_g, k, tmin, min_age):
    """Let revealed background seep in from the edge of a foreground region.

    A ghost (background uncovered after a person who was there when
    learning started walks off) shows the true background, so its edge
    pixels match the means of their background neighbours; a real object
    usually differs from its surroundings and does not. Each edge pixel of
    the raw foreground whose value is within its background 4-neighbour's
    threshold of that neighbour's mean is pulled toward the frame at rate
    a_g; once learned it is background and the next layer follows, so a
    ghost dissolves from its rim inward in about a second or two.

    luma: uint8 (H, W) any strides; mean, noise: float32 (H, W);
    raw_bits: uint64 (H, NW) raw foreground of this frame.
    Only words holding foreground are visited. Returns pixels pulled.
    """
    h, w = luma.shape
    nw = raw_bits.shape[1]
    one = np.uint64(1)
    top = np.uint64(63)
    pulled = 0
    for i in range(h):
        for kw in range(nw):
            b = raw_bits[i, kw]
            if b == 0:
                continue
            # interior = foreground with all four neighbours foreground;
            # outside the frame counts as foreground (no neighbour to learn from)
            prev = raw_bits[i, kw - 1] if kw > 0 else ~np.uint64(0)
            nxt = raw_bits[i, kw + 1] if kw + 1 < nw else ~np.uint64(0)
            up = raw_bits[i - 1, kw] if i > 0 else ~np.uint64(0)
            dn = raw_bits[i + 1, kw] if i + 1 < h else ~np.uint64(0)
            left = (b << one) | (prev >> top)
            right = (b >> one) | (nxt << top)
            rim = b & ~(left & right & up & dn)
            if rim == 0:
                continue
            for c in range(min(64, w - kw * 64)):
                if not (rim >> np.uint64(c)) & one:
                    continue
                j = kw * 64 + c
                if age[i, j] < min_age:
                    continue  # a passer-by: only long-standing foreground can be a ghost
                x = np.float32(luma[i, j])
                match = False
                for di, dj in ((0, -1), (0, 1), (-1, 0), (1, 0)):
                    qi = i + di
                    qj = j + dj
                    if qi < 0 or qi >= h or qj < 0 or qj >= w:
                        continue
                    if (raw_bits[qi, qj >> 6] >> np.uint64(qj & 63)) & one:
                        continue
                    if abs(x - mean[qi, qj]) <= max(k * noise[qi, qj], tmin):
                        match = True
                        break
                if match:
                    mean[i, j] += a_g * (x - mean[i, j])
                    pulled += 1
    return pulled


@njit(cache=True, nogil=True)
def _relearn(luma, mean, age, a):
    """Pull every pixel toward the frame at rate a (boot and settling).

    luma: uint8 (H, W) any strides; mean, age: float32 (H, W).
    """
    h, w = luma.shape
    for i in range(h):
        for j in range(w):
            mean[i, j] += a * (np.float32(luma[i, j]) - mean[i, j])
            age[i, j] = 0.0


class BackgroundModel:
    """Background model of one channel, preallocated once for (height, width)."""

    def __init__(self, height: int, width: int):
        if height < 3 or width < 3:
            raise ValueError(f"analysis size {width}x{height} is too small: use at least 3x3")
        self.height, self.width = height, width
        nw = words_per_row(width)
        self.mean = np.zeros((height, width), np.float32)
        self.noise = np.full((height, width), NOISE_INIT, np.float32)
        self.age = np.zeros((height, width), np.float32)
        self._row = np.zeros(nw * 64, np.uint8)
        self._row64 = self._row.view(np.uint64)
        self._raw = np.zeros((height, nw), np.uint64)
        self._clean = np.zeros((height, nw), np.uint64)      # this frame's cleaned bits
        self._clean_prev = np.zeros((height, nw), np.uint64)
        self._hist = np.zeros(_HIST_BINS, np.int32)
        self._cleaner = Cleaner(height, width)
        self._bg8 = np.zeros((height, width), np.uint8)
        self._last_out = 0      # address of the fg_out written last frame
        self._t_prev: float | None = None
        self._boot_until = 0.0
        self._settle_until = -1.0
        self.set_params(HeatMapParams())

    # -- configuration ---------------------------------------------------
    def set_params(self, params: HeatMapParams) -> None:
        """Take the four 0..100 parameters (mapping: module docstring)."""
        self._tmin = np.float32(sensitivity_threshold(params.detection_sensitivity))
        self._k = np.float32(noise_factor(params.detection_sensitivity))
        self._t_abs = np.float32(update_seconds(params.background_update_rate))
        self._tau = background_tau(params.background_update_rate)
        self._scene_share = scene_change_share(params.scene_change_level)

    @property
    def background(self) -> np.ndarray:
        """uint8 (H, W) learned background, refreshed on each access (for
        report pictures, not per frame, so the temporary is acceptable)."""
        np.copyto(self._bg8, np.clip(self.mean + 0.5, 0, 255), casting="unsafe")
        return self._bg8

    # -- per frame ---------------------------------------------------------
    def apply(self, luma: np.ndarray, t: float, area_mask: np.ndarray, fg_out: np.ndarray) -> int:
        """Analyse one frame; returns flags SCENE_CHANGE | SETTLING.

        luma: uint8 (H, W), rows may be strided. t: seconds, increasing.
        area_mask: uint8 (H, W) 0/1; pixels outside every area are never
        foreground. fg_out: uint8 (H, W) receives the cleaned 0/1 foreground.
        Pass the same fg_out every frame and do not write into it: only the
        words that changed since the last frame are rewritten.
        """
        h, w = self.height, self.width
        for a, name in ((luma, "luma"), (area_mask, "area_mask"), (fg_out, "fg_out")):
            if a.dtype != np.uint8 or a.shape != (h, w):
                raise ValueError(f"{name} must be uint8 of shape ({h}, {w}), got {a.dtype} "
                                 f"{a.shape}: feed frames at the size the model was built for")
        if self._t_prev is None:
            self._start(luma, t)
            self._write_empty(fg_out)
            self._t_prev = t
            return 0
        dt = min(max(t - self._t_prev, 0.0), MAX_DT)
        self._t_prev = t

        flags = 0
        n_area, n_changed, med, n_bg = _sample(
            luma, area_mask, self.mean, self.noise, self._clean_prev,
            SAMPLE_ROW_STEP, SAMPLE_COL_STEP, self._k, self._tmin, self._hist)
        changed = n_area > 0 and n_changed >= self._scene_share * n_area
        if t < self._settle_until:
            if changed:  # still changing (exposure hunting): keep re-learning
                self._reset_to(luma, t)
            else:
                _relearn(luma, self.mean, self.age,
                         np.float32(max(1.0 - math.exp(-dt / BOOT_TAU), 0.0)))
            self._write_empty(fg_out)
            return SETTLING
        if changed:
            self._reset_to(luma, t)
            self._write_empty(fg_out)
            return SCENE_CHANGE | SETTLING

        off = np.float32(med if n_bg >= 16 else 0.0)
        booting = t < self._boot_until
        tau = BOOT_TAU if booting else self._tau
        a_bg = np.float32(1.0 - math.exp(-dt / tau))
        t_abs = np.float32(BOOT_TAU if booting else self._t_abs)
        _model(luma, area_mask, self.mean, self.noise, self.age, self._row, self._row64,
               self._raw, off, np.float32(dt), a_bg, a_bg, self._k, self._tmin, t_abs)
        _ghost(luma, self.mean, self.noise, self.age, self._raw,
               np.float32(1.0 - math.exp(-dt / GHOST_TAU)), self._k, self._tmin,
               np.float32(GHOST_MIN_AGE))
        self._cleaner.clean_bits(self._raw, self._clean)
        same = fg_out.ctypes.data == self._last_out
        _unpack(self._clean, fg_out, view64(fg_out), same, self._clean_prev)
        self._last_out = fg_out.ctypes.data
        self._clean, self._clean_prev = self._clean_prev, self._clean
        return flags

    # -- helpers -------------------------------------------------------------
    def _start(self, luma: np.ndarray, t: float) -> None:
        self.mean[...] = luma
        self.age[...] = 0.0
        self._boot_until = t + BOOT_SECONDS

    def _reset_to(self, luma: np.ndarray, t: float) -> None:
        self._start(luma, t)
        self._settle_until = t + SETTLE_SECONDS
        self._boot_until = self._settle_until + BOOT_SECONDS

    def _write_empty(self, fg_out: np.ndarray) -> None:
        fg_out[...] = 0
        self._clean_prev[...] = 0
        self._last_out = fg_out.ctypes.data
