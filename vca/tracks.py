"""Targets: blobs associated across frames into tracks with stable ids.

Time here is the analyzer's analysed time `now` (seconds; frame intervals
capped, paused while a scene change settles), so frame rate and frame
skipping do not change the rules.

Per frame, in this order:
1. Expire: a live track not seen for more than `grace` seconds (default 1.0)
   is freed. A target that stops moving or is briefly lost (occluded,
   absorbed for a moment) keeps its id while within the grace time.
2. Overlap: greedy one-to-one matching of live tracks (last box) to blobs by
   intersection-over-union of bounding boxes, highest first.
3. Nearest footprint: tracks and blobs still unmatched are paired greedily by
   footprint distance within a gate of size * (0.5 + 2.0 * lost_seconds),
   size = the larger side of the track's box (a person walks about two
   body heights per second; the gate widens the longer it was lost).
4. Fragments: a blob still unmatched that touches the box of a blob matched
   this frame, grown by a quarter of the larger side of that blob or of the
   track's last box, belongs to that track (one person split into torso
   and legs is one target). The track's
   box becomes the union, so its footprint stays at the feet.
5. New tracks: each remaining blob starts a track (while slots are free),
   taking along the remaining blobs that touch its grown box (step 4 rule).

Merges: when two tracks meet one blob, the blob goes to one of them; the
other is not refreshed but stays alive for the grace time, so when the two
part again within it, both ids pick their blobs up again and no new visit is
counted. A merge lasting longer than the grace time ends the hidden track; a
later split then starts one new track (one extra visit), by design bounded.

Confirmation: a track counts (visits, dwell) once it has been matched on at
least CONFIRM_HITS frames and is CONFIRM_SECONDS old; on that frame it is
credited the time since its birth, so no dwell is lost to confirmation.
An unconfirmed track unseen for more than TENTATIVE_GRACE (0.25 s) is
dropped, so isolated flicker never becomes a target.

State: int64 (T, N_INT) and float64 (T, N_FLOAT) per track slot, columns
named below; T = max_tracks, fixed and preallocated.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from vca.blobs import FX, FY, MAX_BLOBS, X0, X1, Y0, Y1

MAX_TRACKS = 64
GRACE_SECONDS = 1.0
CONFIRM_HITS = 2
CONFIRM_SECONDS = 0.1
TENTATIVE_GRACE = 0.25   # an unconfirmed track unseen this long is dropped (flicker)
FRAGMENT_MARGIN = 0.25
GATE_BASE = 0.5
GATE_PER_SECOND = 2.0

# int64 columns
T_ID, T_LIVE, T_X0, T_Y0, T_X1, T_Y1, T_FX, T_FY, T_HITS, T_CONFIRMED, T_MATCHED, T_NEW = range(12)
N_INT = 12
# float64 columns: birth time, last seen, seconds to credit on this frame (0 = none)
T_BORN, T_SEEN, T_CREDIT = range(3)
N_FLOAT = 3


@njit(cache=True, nogil=True)
def _iou(ax0, ay0, ax1, ay1, bx0, by0, bx1, by1):
    iw = min(ax1, bx1) - max(ax0, bx0) + 1
    ih = min(ay1, by1) - max(ay0, by0) + 1
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    area_a = (ax1 - ax0 + 1) * (ay1 - ay0 + 1)
    area_b = (bx1 - bx0 + 1) * (by1 - by0 + 1)
    return inter / (area_a + area_b - inter)


@njit(cache=True, nogil=True)
def _update_tracks(stats, n_blobs, now, grace, tr, trf, score, owner, primary, next_id):
    """Associate this frame's blobs with the tracks; returns confirmed live tracks.

    stats:   int64 (>= n_blobs, N_STATS) blob rows (vca.blobs columns).
    tr, trf: int64 (T, N_INT), float64 (T, N_FLOAT) track state, updated in place.
    score:   float64 (T, >= n_blobs) scratch.
    owner:   int32 (>= n_blobs,) out: track slot owning each blob, -1 none.
    primary: int32 (T,) scratch: the blob each track matched in steps 2-3, -1 none.
    next_id: int64 (1,) the next track id, advanced in place.
    """
    n_tracks = tr.shape[0]
    for i in range(n_tracks):
        tr[i, T_MATCHED] = 0
        tr[i, T_NEW] = 0
        trf[i, T_CREDIT] = 0.0
        primary[i] = -1
        if tr[i, T_LIVE] != 0:
            limit = grace if tr[i, T_CONFIRMED] != 0 else TENTATIVE_GRACE
            if now - trf[i, T_SEEN] > limit:
                tr[i, T_LIVE] = 0
    for b in range(n_blobs):
        owner[b] = -1

    # 2. Greedy one-to-one by overlap.
    for i in range(n_tracks):
        if tr[i, T_LIVE] == 0:
            continue
        for b in range(n_blobs):
            score[i, b] = _iou(tr[i, T_X0], tr[i, T_Y0], tr[i, T_X1], tr[i, T_Y1],
                               stats[b, X0], stats[b, Y0], stats[b, X1], stats[b, Y1])
    while True:
        best = 0.0
        bi = -1
        bb = -1
        for i in range(n_tracks):
            if tr[i, T_LIVE] == 0 or primary[i] >= 0:
                continue
            for b in range(n_blobs):
                if owner[b] < 0 and score[i, b] > best:
                    best = score[i, b]
                    bi = i
                    bb = b
        if bi < 0:
            break
        primary[bi] = bb
        owner[bb] = bi

    # 3. Greedy nearest footprint within the gate (distance relative to gate).
    while True:
        best = 1.0
        bi = -1
        bb = -1
        for i in range(n_tracks):
            if tr[i, T_LIVE] == 0 or primary[i] >= 0:
                continue
            size = max(tr[i, T_X1] - tr[i, T_X0] + 1, tr[i, T_Y1] - tr[i, T_Y0] + 1)
            lost = min(now - trf[i, T_SEEN], grace)
            gate = size * (GATE_BASE + GATE_PER_SECOND * lost)
            for b in range(n_blobs):
                if owner[b] >= 0:
                    continue
                dx = float(stats[b, FX] - tr[i, T_FX])
                dy = float(stats[b, FY] - tr[i, T_FY])
                rel = math.sqrt(dx * dx + dy * dy) / gate
                if rel <= best:
                    best = rel
                    bi = i
                    bb = b
        if bi < 0:
            break
        primary[bi] = bb
        owner[bb] = bi

    # 4. Fragments join the track whose matched blob they touch (grown box).
    for b in range(n_blobs):
        if owner[b] >= 0:
            continue
        for i in range(n_tracks):
            p = primary[i]
            if p < 0:
                continue
            # Grow by a share of the larger of the blob and the track's last box: a person
            # cut in two leaves a torso blob much smaller than the person.
            size = max(stats[p, X1] - stats[p, X0] + 1, stats[p, Y1] - stats[p, Y0] + 1,
                       tr[i, T_X1] - tr[i, T_X0] + 1, tr[i, T_Y1] - tr[i, T_Y0] + 1)
            m = int(FRAGMENT_MARGIN * size)
            if (stats[b, X0] <= stats[p, X1] + m and stats[b, X1] >= stats[p, X0] - m
                    and stats[b, Y0] <= stats[p, Y1] + m and stats[b, Y1] >= stats[p, Y0] - m):
                owner[b] = i
                break

    # Matched tracks take the union box of their blobs.
    for i in range(n_tracks):
        p = primary[i]
        if p < 0:
            continue
        tr[i, T_X0] = stats[p, X0]
        tr[i, T_Y0] = stats[p, Y0]
        tr[i, T_X1] = stats[p, X1]
        tr[i, T_Y1] = stats[p, Y1]
    for b in range(n_blobs):
        i = owner[b]
        if i < 0 or primary[i] == b:
            continue
        tr[i, T_X0] = min(tr[i, T_X0], stats[b, X0])
        tr[i, T_Y0] = min(tr[i, T_Y0], stats[b, Y0])
        tr[i, T_X1] = max(tr[i, T_X1], stats[b, X1])
        tr[i, T_Y1] = max(tr[i, T_Y1], stats[b, Y1])
    for i in range(n_tracks):
        if primary[i] < 0:
            continue
        tr[i, T_FX] = (tr[i, T_X0] + tr[i, T_X1]) // 2
        tr[i, T_FY] = tr[i, T_Y1]
        tr[i, T_MATCHED] = 1
        tr[i, T_HITS] += 1
        if tr[i, T_CONFIRMED] != 0:
            trf[i, T_CREDIT] = now - trf[i, T_SEEN]
        elif tr[i, T_HITS] >= CONFIRM_HITS and now - trf[i, T_BORN] >= CONFIRM_SECONDS:
            tr[i, T_CONFIRMED] = 1
            trf[i, T_CREDIT] = now - trf[i, T_BORN]
        trf[i, T_SEEN] = now

    # 5. New tracks for blobs nobody claimed.
    slot = 0
    for b in range(n_blobs):
        if owner[b] >= 0:
            continue
        while slot < n_tracks and tr[slot, T_LIVE] != 0:
            slot += 1
        if slot == n_tracks:
            break
        i = slot
        owner[b] = i
        tr[i, T_ID] = next_id[0]
        next_id[0] += 1
        tr[i, T_LIVE] = 1
        tr[i, T_X0] = stats[b, X0]
        tr[i, T_Y0] = stats[b, Y0]
        tr[i, T_X1] = stats[b, X1]
        tr[i, T_Y1] = stats[b, Y1]
        tr[i, T_FX] = stats[b, FX]
        tr[i, T_FY] = stats[b, FY]
        tr[i, T_HITS] = 1
        tr[i, T_CONFIRMED] = 0
        tr[i, T_MATCHED] = 1
        tr[i, T_NEW] = 1
        trf[i, T_BORN] = now
        trf[i, T_SEEN] = now
        trf[i, T_CREDIT] = 0.0
        # Pieces of one newcomer (torso, legs) found on the same frame are one track.
        m = int(FRAGMENT_MARGIN * max(stats[b, X1] - stats[b, X0] + 1, stats[b, Y1] - stats[b, Y0] + 1))
        for b2 in range(b + 1, n_blobs):
            if owner[b2] >= 0:
                continue
            if (stats[b2, X0] <= stats[b, X1] + m and stats[b2, X1] >= stats[b, X0] - m
                    and stats[b2, Y0] <= stats[b, Y1] + m and stats[b2, Y1] >= stats[b, Y0] - m):
                owner[b2] = i
                tr[i, T_X0] = min(tr[i, T_X0], stats[b2, X0])
                tr[i, T_Y0] = min(tr[i, T_Y0], stats[b2, Y0])
                tr[i, T_X1] = max(tr[i, T_X1], stats[b2, X1])
                tr[i, T_Y1] = max(tr[i, T_Y1], stats[b2, Y1])
        tr[i, T_FX] = (tr[i, T_X0] + tr[i, T_X1]) // 2
        tr[i, T_FY] = tr[i, T_Y1]

    active = 0
    for i in range(n_tracks):
        if tr[i, T_LIVE] != 0 and tr[i, T_CONFIRMED] != 0:
            active += 1
    return active


class Tracker:
    """Preallocated track table: `update(stats, n, now)` once per analysed frame."""

    def __init__(self, max_tracks: int = MAX_TRACKS, max_blobs: int = MAX_BLOBS,
                 grace_seconds: float = GRACE_SECONDS):
        if max_tracks < 1 or max_blobs < 1:
            raise ValueError("max_tracks and max_blobs must be at least 1")
        if not grace_seconds > 0:
            raise ValueError(f"grace time {grace_seconds} s: give a positive number of seconds")
        self.grace = float(grace_seconds)
        self.tr = np.zeros((max_tracks, N_INT), np.int64)
        self.trf = np.zeros((max_tracks, N_FLOAT), np.float64)
        self._score = np.zeros((max_tracks, max_blobs), np.float64)
        self.owner = np.full(max_blobs, -1, np.int32)
        self._primary = np.full(max_tracks, -1, np.int32)
        self._next_id = np.ones(1, np.int64)
        self.active = 0

    @property
    def max_tracks(self) -> int:
        return self.tr.shape[0]

    def update(self, stats: np.ndarray, n_blobs: int, now: float) -> int:
        """Associate stats[:n_blobs] (vca.blobs rows) at analysed time `now`; returns confirmed live tracks."""
        n = min(int(n_blobs), self.owner.shape[0])
        self.active = _update_tracks(stats, n, float(now), self.grace, self.tr, self.trf,
                                     self._score, self.owner, self._primary, self._next_id)
        return self.active

    def reset(self) -> None:
        """Forget every track (ids keep increasing)."""
        self.tr[:, T_LIVE] = 0
        self.tr[:, T_MATCHED] = 0
        self.trf[:, T_CREDIT] = 0.0
        self.active = 0

    def live_ids(self) -> list[int]:
        """Ids of live tracks (confirmed or not), ascending. Allocates: for tests and tools."""
        return sorted(int(i) for i in self.tr[self.tr[:, T_LIVE] != 0, T_ID])

    def confirmed_ids(self) -> list[int]:
        live = (self.tr[:, T_LIVE] != 0) & (self.tr[:, T_CONFIRMED] != 0)
        return sorted(int(i) for i in self.tr[live, T_ID])
