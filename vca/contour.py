"""Contour evidence: is a target's outline in the current frame (a person) or only in the model (a ghost)?

A person standing still differs from the floor around it in the CURRENT
frame, while the learned background is smooth across the outline. A ghost
(background uncovered after someone left, or a scene re-learned with
someone in it) is the opposite: the current frame is smooth across the
outline, which only the learned background still shows. So across each
outline crossing of a track's box (sampled every ROW_STEP rows, horizontal
crossings only), with p INSET pixels inside the foreground and q INSET
pixels outside (both must be so in the cleaned mask, else the crossing is
skipped: a hole in a person where the shirt matches the wall behind is no
evidence):

    frame edge  e_f = |luma[p] - luma[q]|
    model edge  e_m = |mean[p] - mean[q]|   (learned background, same offset)
    ghost vote  when e_m > RATIO * e_f and e_m >= MIN_EDGE
    person vote when e_f > RATIO * e_m and e_f >= MIN_EDGE
    (neither: an ambiguous crossing, e.g. sensor noise on a plain floor)

The share of ghost votes among the votes, smoothed with time constant TAU seconds per
track, is a track's ghost share: ~0 for a person, ~1 for a ghost. The
analyzer lets the background model absorb a ghost's pixels and protects a
person's (vca.tracks.Tracker.protect), so a person standing for a minute
is not dissolved from the rim and a ghost is not kept alive by its track.
For unconfirmed tracks the votes are summed since birth instead
(`tentative`, ghost votes / all votes): vca.tracks never confirms one that is
mostly ghost.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import trailing_zeros

from vca.bits import words_per_row
from vca.contracts import ArrayContract
from vca.track_table import N_INT, T_CONFIRMED, T_LIVE, T_MATCHED, T_NEW, T_X0, T_X1, T_Y0, T_Y1

ROW_STEP = 3         # sample every 3rd row of a box (a person: ~30 rows, ~60 crossings)
INSET = 2            # px each side of the cleaned outline (clean-up moves it by ~1 px)
TAU = 1.0            # s, smoothing of the ghost share
MIN_SAMPLES = 6      # fewer votes on a frame say nothing
MIN_EDGE = 8         # grey levels: a weaker difference is no edge (noise is ~2-3 on real cameras)
RATIO = 2            # one edge must be this many times the other to vote
SCALE = 32           # BackgroundModel.mean is in 1/32 grey level


_ONE = np.uint64(1)
_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)


@njit(cache=True, nogil=True, inline="always")
def _bit(bits, y, x):
    return (bits[y, x >> 6] >> np.uint64(x & 63)) & _ONE


@njit(cache=True, nogil=True)
def _rim_votes(luma, mean, bits, width, x0, y0, x1, y1, out):
    """Ghost votes along the outline inside box (x0, y0, x1, y1), inclusive.

    luma: uint8 (H, W) any strides; mean: int16 (H, W) learned background in
    1/SCALE grey; bits: uint64 (H, ceil(W/64)) the cleaned foreground,
    packed as in vca.bits (BackgroundModel.fg_bits); width: W.
    out: int64 (2,) receives [ghost votes, all votes].

    The outline crossings of a row are the set bits of w ^ (w >> 1) (pixel
    x differs from x + 1), visited with count-trailing-zeros, so a row costs
    its words and crossings rather than its pixels.
    """
    h, nw = bits.shape
    ghost = 0
    total = 0
    xa = max(x0 - 1, INSET)
    xb = min(x1, width - 2 - INSET)
    if xa > xb:
        out[0] = 0
        out[1] = 0
        return
    k0 = xa >> 6
    k1 = xb >> 6
    first = _ALL << np.uint64(xa & 63)
    last = _ALL >> np.uint64(63 - (xb & 63))
    for y in range(max(y0, 0), min(y1, h - 1) + 1, ROW_STEP):
        for k in range(k0, k1 + 1):
            w = bits[y, k]
            nxt = bits[y, k + 1] if k + 1 < nw else np.uint64(0)
            t = w ^ ((w >> _ONE) | (nxt << np.uint64(63)))
            if k == k0:
                t &= first
            if k == k1:
                t &= last
            while t != 0:
                x = k * 64 + np.int64(trailing_zeros(t))
                t &= t - _ONE
                if _bit(bits, y, x) != 0:   # right edge of foreground between x and x + 1
                    p = x - INSET
                    q = x + 1 + INSET
                else:                       # left edge
                    p = x + 1 + INSET
                    q = x - INSET
                if _bit(bits, y, p) == 0 or _bit(bits, y, q) != 0:
                    continue  # a sliver or a hole narrower than the inset says nothing
                e_f = abs(np.int32(luma[y, p]) - np.int32(luma[y, q])) * SCALE
                e_m = abs(np.int32(mean[y, p]) - np.int32(mean[y, q]))
                g = (e_m > RATIO * e_f) & (e_m >= MIN_EDGE * SCALE)
                f = (e_f > RATIO * e_m) & (e_f >= MIN_EDGE * SCALE)
                ghost += g
                total += g | f
    out[0] = ghost
    out[1] = total


@njit(cache=True, nogil=True)
def _update_ghost_share(tr, luma, mean, bits, width, a, share, tally, tentative, votes):
    """Smooth each matched confirmed track's ghost share toward this frame's votes; tally
    an unconfirmed track's votes since its birth.

    tr: int64 (T, N_INT) the track table (vca.track_table); luma, mean, bits, width: as for
    `_rim_votes`; a: smoothing rate 0..1 for this
    frame; share: float64 (T,) in/out (a new track starts at 0, a person);
    tally: int64 (T, 2) in/out [ghost votes, all votes] since birth, unconfirmed tracks;
    tentative: float64 (T,) out, ghost votes / all votes of that tally (0 below MIN_SAMPLES);
    votes: int64 (2,) scratch. Returns the number of tracks updated.
    """
    n = 0
    for t in range(tr.shape[0]):
        if tr[t, T_NEW] != 0:
            share[t] = 0.0
            tally[t, 0] = 0
            tally[t, 1] = 0
            tentative[t] = 0.0
        if tr[t, T_LIVE] == 0 or tr[t, T_MATCHED] == 0:
            continue
        _rim_votes(luma, mean, bits, width, tr[t, T_X0], tr[t, T_Y0], tr[t, T_X1], tr[t, T_Y1], votes)
        if tr[t, T_CONFIRMED] == 0:
            tally[t, 0] += votes[0]
            tally[t, 1] += votes[1]
            if tally[t, 1] >= MIN_SAMPLES:
                tentative[t] = tally[t, 0] / tally[t, 1]
            continue
        if votes[1] >= MIN_SAMPLES:
            share[t] += a * (votes[0] / votes[1] - share[t])
            n += 1
    return n


class ContourEvidence:
    """Per-track ghost share for a tracker of `max_tracks` slots (preallocated)."""

    def __init__(self, max_tracks: int):
        self.share = np.zeros(max_tracks, np.float64)
        # unconfirmed tracks: ghost share of all votes since birth (vca.tracks refuses to
        # confirm a ghost: what only the model still shows never walked in)
        self.tentative = np.zeros(max_tracks, np.float64)
        self._tally = np.zeros((max_tracks, 2), np.int64)
        self._votes = np.zeros(2, np.int64)
        self._tr = ArrayContract("tr", np.int64, (max_tracks, N_INT),
                                 f"pass the track table of a tracker with {max_tracks} slots (vca.tracks.Tracker.tr)")
        self._luma = ArrayContract("luma", np.uint8, (None, None), "pass the frame's luma plane", contiguous=False)
        self._mean = ArrayContract("mean", np.int16, (None, None), "pass the model's learned mean (BackgroundModel.mean)")
        self._fg_bits = ArrayContract("fg_bits", np.uint64, (None, None),
                                      "pass the model's packed foreground (BackgroundModel.fg_bits)")

    def update(self, tr: np.ndarray, luma: np.ndarray, mean: np.ndarray, fg_bits: np.ndarray,
               dt: float) -> int:
        """Fold this frame's outline votes in (dt: seconds since the last analysed frame;
        fg_bits: the packed cleaned foreground, BackgroundModel.fg_bits). luma may be a strided
        view; mean and fg_bits are the model's, at the frame's size."""
        self._tr.check(tr)
        self._luma.check(luma)
        new = self._mean.check(mean)
        if (self._fg_bits.check(fg_bits) or new) and fg_bits.shape != (mean.shape[0], words_per_row(mean.shape[1])):
            raise ValueError(f"mean is {mean.shape} but fg_bits {fg_bits.shape}: pass the model's mean and fg_bits")
        if luma.shape != mean.shape:
            raise ValueError(f"luma is {luma.shape} but mean {mean.shape}: pass frames at the model's size")
        a = 1.0 - math.exp(-max(dt, 0.0) / TAU)
        return _update_ghost_share(tr, luma, mean, fg_bits, luma.shape[1], a, self.share, self._tally,
                                   self.tentative, self._votes)
