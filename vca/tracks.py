"""Targets: blobs associated across frames into tracks with stable ids.

Time here is the analyzer's analysed time `now` (seconds; frame intervals
capped, paused while a scene change settles), so frame rate and frame
skipping do not change the rules.

Each track has a box, a footprint (bottom centre of the box) and a velocity
(box centre, px/s, smoothed with time constant VELOCITY_TAU). Its predicted
box is the last box moved by velocity * seconds since it was last seen.

Per frame, in this order:
1. Expire: a live track not seen for more than `grace` seconds (default 1.0)
   is freed; an unconfirmed one after TENTATIVE_GRACE. A target that stops
   or is briefly lost keeps its id while within the grace time. A track
   whose predicted box centre is outside the frame has walked out and is
   freed at once, so a newcomer entering at the same edge within the grace
   time is a new target, not the one that left. So is a confirmed track
   that walked out of an edge and then moves back in by EDGE_TURN box
   sizes per second: the blob at the edge is a newcomer entering there.
   A confirmed track standing still (<= STILL_SPEED box sizes/s) that
   lost its blob is kept in place, matched, for up to STILL_GRACE (a
   still, low-contrast person slowly absorbed by the model); it is freed
   STILL_GRACE after it last had a blob.
2. Match, confirmed tracks first, then unconfirmed ones, so a piece of a
   known person is never claimed by a newcomer:
   a. overlap: greedy one-to-one by intersection-over-union of the predicted
      box and the blob's box, highest first;
   b. nearest footprint: greedy by distance of the predicted footprint
      within a gate of size * (GATE_BASE + GATE_PER_SECOND * lost seconds),
      size = the larger side of the track's box;
   c. fragments: a blob still unclaimed that touches the matched blob's box
      grown by FRAGMENT_MARGIN of the larger side of that blob or of the
      track's box belongs to that track (torso and legs segmented apart); so
      does one sharing half its columns with the matched blob and lying for
      WITHIN_SHARE of its box in the track's predicted box as tall as it was
      lately (legs further below a thin torso than the margin: without this
      the box shrinks to the torso, the footprint jumps up and the legs start
      a second visit). No fragment may make the track more than
      FRAGMENT_GROWTH times as tall as it has been lately (someone crossing
      just below a walker is not its legs).
   A matched track's box becomes the union of its blobs.
3. Held in a group (found before any box moves): a confirmed track left
   unmatched whose predicted box overlaps a blob matched by another
   confirmed track by at least HOLD_SHARE of its own area is hidden in that
   group (two people crossing or overtaking, one occluding the other). Both
   it and its holder keep their own box size at their predicted place moved
   inside the group blob, and their velocities from before the group, so
   the group's box never drags one towards the other; the held one stays
   matched and keeps counting, and when the group parts each picks up the
   piece its prediction overlaps. A held track stacked on its holder like
   torso and legs, with velocity within SAME_VELOCITY of the holder's, for
   MERGE_SECONDS is the same target (one person seen as two tracks) and is
   dropped silently; one behind the other (overtaking, crossing) is not.
4. Halves: an unconfirmed track whose box touches an older track's box from
   above or below (columns shared by half the narrower, gap within
   FRAGMENT_MARGIN of the larger side) moving alike (SAME_VELOCITY) is that
   person's other half, segmented apart since its first frame: joined into
   the older at once, before it can be confirmed as a second visit.
   Pairs: two confirmed tracks matched to separate blobs stacked one above
   the other (columns overlapping by half the narrower box, vertical gap
   within the fragment margin, rows overlapping by at most a quarter of the
   shorter box) and moving alike for MERGE_SECONDS are torso and legs of
   one person: the younger is dropped silently, the older keeps both blobs.
5. New tracks: each blob still unclaimed starts a track (while slots are
   free), taking along the unclaimed blobs that touch its grown box.

Confirmation: a track counts (visits, dwell) once it has been matched on at
least CONFIRM_HITS frames, is CONFIRM_SECONDS old and its footprint has
moved MOVE_SHARE of its size away from where it was born. People walk into
a scene; what appears in place and never moves (a ghost left by the
background model, a dropped bag, a moved chair, a flickering fragment) is
never a visit. Nor is a track whose outline, tallied over its unconfirmed
life, shows more in the learned background than in the frame (ghost share >
CONFIRM_GHOST, vca.contour; given by the analyzer): a ghost that grows or
shrinks as pieces of it are segmented looks as if it moved. On the confirmation frame the track is credited the time
since its birth, and its footprint path starts at its birth footprint, so
nothing is lost to the delay. An unconfirmed track unseen for more than
TENTATIVE_GRACE is dropped.

Merges: a merge lasting longer than MERGE_SECONDS with both moving alike
ends the younger track; a later split then starts a new track (one extra
visit), by design bounded.

State: int64 (T, N_INT) and float64 (T, N_FLOAT) per track slot, columns
named below; T = max_tracks, fixed and preallocated. Footprint path for the
grid: (T_LX, T_LY) is where the footprint was on the previous credited
frame (the birth footprint on the confirmation frame), (T_FX, T_FY) where
it is now.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from vca.blobs import FX, FY, MAX_BLOBS, X0, X1, Y0, Y1

MAX_TRACKS = 64
GRACE_SECONDS = 1.0
CONFIRM_HITS = 3
CONFIRM_SECONDS = 0.4
CONFIRM_GHOST = 0.5       # share of outline votes: a tentative track seen more in the model than the frame is a ghost
MOVE_SHARE = 0.3          # footprint displacement from birth, share of the box's larger side
TENTATIVE_GRACE = 0.25    # an unconfirmed track unseen this long is dropped (flicker)
FRAGMENT_MARGIN = 0.25
FRAGMENT_GROWTH = 2.0     # a fragment may make a track at most this much taller than its recent tallest
WITHIN_SHARE = 0.5        # of an unclaimed blob inside a matched track's predicted box: a piece of it
GATE_BASE = 0.5
GATE_PER_SECOND = 2.0
VELOCITY_TAU = 0.3        # s, smoothing of the measured velocity
MAX_SPEED = 3.0           # box sizes per second: a faster measured velocity is clipped
HOLD_SHARE = 0.3
MERGE_SECONDS = 1.0
SAME_VELOCITY = 0.3       # box sizes per second
TALL_MEMORY = 10.0        # s: a box that loses its torso for a frame is still that tall
PAIR_GAP = 0.5            # stacked tracks up to this share of their summed heights apart can be one person
# Box sizes per second out of, then back into, a frame edge: a handover to a newcomer
# entering there (entrance: three exits meeting entries at the same edge).
EDGE_TURN = 0.2
STILL_SPEED = 0.3         # box sizes per second: a slower confirmed track is standing still
STILL_GRACE = 4.0         # s a standing confirmed track is kept in place without a blob
EDGE_MEMORY = 0.5         # s, how long the speed out of an edge is remembered after leaving it

# int64 columns
(T_ID, T_LIVE, T_X0, T_Y0, T_X1, T_Y1, T_FX, T_FY, T_HITS, T_CONFIRMED, T_MATCHED, T_NEW,
 T_BX, T_BY, T_LX, T_LY, T_HOLDER, T_PAIR, T_GROUP) = range(19)
N_INT = 19
# float64 columns: birth time, last seen, seconds to credit on this frame (0 = none),
# velocity, predicted box, since when held / paired with the same partner (-1: not)
# velocity, predicted box, since when held / paired with the same partner (-1: not),
# velocity out of the last frame edge touched (fading after leaving it),
# when last matched to a blob of its own or held in a group (not kept standing),
# the box's recent tallest height (fading with time constant TALL_MEMORY)
T_BORN, T_SEEN, T_CREDIT, T_VX, T_VY, T_PX0, T_PY0, T_PX1, T_PY1, T_HELD, T_PAIRED, T_OX, T_OY, T_REAL, T_TALL = range(15)
N_FLOAT = 15


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
def _touches(stats, b, x0, y0, x1, y1, m):
    return (stats[b, X0] <= x1 + m and stats[b, X1] >= x0 - m
            and stats[b, Y0] <= y1 + m and stats[b, Y1] >= y0 - m)


@njit(cache=True, nogil=True)
def _columns_overlap(stats, a, b):
    """Do blobs a and b share at least half the narrower one's columns (one above the other)?"""
    ox = min(stats[a, X1], stats[b, X1]) - max(stats[a, X0], stats[b, X0]) + 1
    return ox * 2 >= min(stats[a, X1] - stats[a, X0] + 1, stats[b, X1] - stats[b, X0] + 1)


@njit(cache=True, nogil=True)
def _within_predicted(stats, b, trf, i):
    """Does at least WITHIN_SHARE of blob b's box lie in track i's predicted box, as tall as it
    was lately? (Legs further below the torso than the fragment margin: still that person.)"""
    top = min(trf[i, T_PY0], trf[i, T_PY1] + 1.0 - trf[i, T_TALL])
    iw = min(float(stats[b, X1]), trf[i, T_PX1]) - max(float(stats[b, X0]), trf[i, T_PX0]) + 1.0
    ih = min(float(stats[b, Y1]), trf[i, T_PY1]) - max(float(stats[b, Y0]), top) + 1.0
    if iw <= 0.0 or ih <= 0.0:
        return False
    area = (stats[b, X1] - stats[b, X0] + 1) * (stats[b, Y1] - stats[b, Y0] + 1)
    return iw * ih >= WITHIN_SHARE * area


@njit(cache=True, nogil=True)
def _match_class(cls, stats, n_blobs, now, grace, tr, trf, score, owner, primary):
    """Steps 2a-2c for the live tracks whose T_CONFIRMED == cls."""
    n_tracks = tr.shape[0]
    for i in range(n_tracks):
        if tr[i, T_LIVE] == 0 or tr[i, T_CONFIRMED] != cls:
            continue
        for b in range(n_blobs):
            score[i, b] = _iou(trf[i, T_PX0], trf[i, T_PY0], trf[i, T_PX1], trf[i, T_PY1],
                               stats[b, X0], stats[b, Y0], stats[b, X1], stats[b, Y1])
    while True:
        best = 0.0
        bi = -1
        bb = -1
        for i in range(n_tracks):
            if tr[i, T_LIVE] == 0 or tr[i, T_CONFIRMED] != cls or primary[i] >= 0:
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
    while True:
        best = 1.0
        bi = -1
        bb = -1
        for i in range(n_tracks):
            if tr[i, T_LIVE] == 0 or tr[i, T_CONFIRMED] != cls or primary[i] >= 0:
                continue
            size = max(tr[i, T_X1] - tr[i, T_X0] + 1, tr[i, T_Y1] - tr[i, T_Y0] + 1)
            lost = min(now - trf[i, T_REAL], grace)   # kept standing: the gate still grows
            gate = size * (GATE_BASE + GATE_PER_SECOND * lost)
            pfx = 0.5 * (trf[i, T_PX0] + trf[i, T_PX1])
            pfy = trf[i, T_PY1]
            for b in range(n_blobs):
                if owner[b] >= 0:
                    continue
                dx = stats[b, FX] - pfx
                dy = stats[b, FY] - pfy
                rel = math.sqrt(dx * dx + dy * dy) / gate
                if rel <= best:
                    best = rel
                    bi = i
                    bb = b
        if bi < 0:
            break
        primary[bi] = bb
        owner[bb] = bi
    for b in range(n_blobs):
        if owner[b] >= 0:
            continue
        for i in range(n_tracks):
            p = primary[i]
            if p < 0 or tr[i, T_CONFIRMED] != cls:
                continue
            # Grow by a share of the larger of the blob and the track's box: a person
            # cut in two leaves a torso blob much smaller than the person.
            size = max(stats[p, X1] - stats[p, X0] + 1, stats[p, Y1] - stats[p, Y0] + 1,
                       tr[i, T_X1] - tr[i, T_X0] + 1, tr[i, T_Y1] - tr[i, T_Y0] + 1)
            m = int(FRAGMENT_MARGIN * size)
            # a piece that would make the person far taller than lately is someone else's
            tall = max(trf[i, T_TALL], float(stats[p, Y1] - stats[p, Y0] + 1))
            grown = max(stats[b, Y1], stats[p, Y1]) - min(stats[b, Y0], stats[p, Y0]) + 1
            if grown > FRAGMENT_GROWTH * tall:
                continue
            if (_touches(stats, b, stats[p, X0], stats[p, Y0], stats[p, X1], stats[p, Y1], m)
                    or (_within_predicted(stats, b, trf, i) and _columns_overlap(stats, b, p))):
                owner[b] = i
                break


@njit(cache=True, nogil=True)
def _place_inside(tr, trf, i, bx0, by0, bx1, by1):
    """Track i's box: its predicted box, own size, moved inside the box (bx0..bx1, by0..by1)."""
    w = trf[i, T_PX1] - trf[i, T_PX0]
    h = trf[i, T_PY1] - trf[i, T_PY0]
    x0 = min(max(trf[i, T_PX0], float(bx0)), max(bx1 - w, float(bx0)))
    y0 = min(max(trf[i, T_PY0], float(by0)), max(by1 - h, float(by0)))
    tr[i, T_X0] = int(round(x0))
    tr[i, T_Y0] = int(round(y0))
    tr[i, T_X1] = min(int(round(x0 + w)), bx1)
    tr[i, T_Y1] = min(int(round(y0 + h)), by1)


@njit(cache=True, nogil=True)
def _stacked(tr, i, j):
    """Are the boxes of tracks i and j one above the other (columns overlapping by half the
    narrower box, rows by at most a quarter of the shorter), as torso and legs are?"""
    wi = tr[i, T_X1] - tr[i, T_X0] + 1
    wj = tr[j, T_X1] - tr[j, T_X0] + 1
    hi = tr[i, T_Y1] - tr[i, T_Y0] + 1
    hj = tr[j, T_Y1] - tr[j, T_Y0] + 1
    ox = min(tr[i, T_X1], tr[j, T_X1]) - max(tr[i, T_X0], tr[j, T_X0]) + 1
    oy = min(tr[i, T_Y1], tr[j, T_Y1]) - max(tr[i, T_Y0], tr[j, T_Y0]) + 1
    return ox * 2 >= min(wi, wj) and oy * 4 <= min(hi, hj)

@njit(cache=True, nogil=True)
def _inside_confirmed(stats, b, tr, trf):
    """Is blob b's centre inside the predicted box, as tall as lately, of a matched confirmed track?"""
    cx = 0.5 * (stats[b, X0] + stats[b, X1])
    cy = 0.5 * (stats[b, Y0] + stats[b, Y1])
    for i in range(tr.shape[0]):
        if tr[i, T_LIVE] == 0 or tr[i, T_CONFIRMED] == 0 or tr[i, T_MATCHED] == 0:
            continue
        top = min(trf[i, T_PY0], trf[i, T_PY1] + 1.0 - trf[i, T_TALL])
        if trf[i, T_PX0] <= cx <= trf[i, T_PX1] and top <= cy <= trf[i, T_PY1]:
            return True
    return False


@njit(cache=True, nogil=True)
def _edge_normal(tr, i, height, width):
    """Outward unit normal (ex, ey) of the frame edge track i's box touches, (0, 0) if none."""
    if tr[i, T_X1] >= width - 2:
        return 1, 0
    if tr[i, T_X0] <= 1:
        return -1, 0
    if tr[i, T_Y1] >= height - 2:
        return 0, 1
    if tr[i, T_Y0] <= 1:
        return 0, -1
    return 0, 0


@njit(cache=True, nogil=True)
def _drop(tr, trf, i):
    tr[i, T_LIVE] = 0
    tr[i, T_MATCHED] = 0
    trf[i, T_CREDIT] = 0.0


@njit(cache=True, nogil=True)
def _update_tracks(stats, n_blobs, now, grace, height, width, tr, trf, score, owner, primary, next_id,
                   ghost):
    """Associate this frame's blobs with the tracks; returns confirmed live tracks.

    stats:   int64 (>= n_blobs, N_STATS) blob rows (vca.blobs columns).
    tr, trf: int64 (T, N_INT), float64 (T, N_FLOAT) track state, updated in place.
    score:   float64 (T, >= n_blobs) scratch.
    owner:   int32 (>= n_blobs,) out: track slot owning each blob, -1 none.
    primary: int32 (T,) scratch: the blob each track matched in steps 2a-2b, -1 none.
    next_id: int64 (1,) the next track id, advanced in place.
    height, width: the frame; a track predicted to have left it is ended.
    ghost:   float64 (T,) per unconfirmed track, share of its outline votes that say ghost
             (vca.contour); above CONFIRM_GHOST it is not confirmed.
    """
    n_tracks = tr.shape[0]
    # 1. Expire; predict.
    for i in range(n_tracks):
        tr[i, T_MATCHED] = 0
        tr[i, T_NEW] = 0
        tr[i, T_HOLDER] = -1
        tr[i, T_GROUP] = 0
        trf[i, T_CREDIT] = 0.0
        primary[i] = -1
        if tr[i, T_LIVE] == 0:
            continue
        lost = now - trf[i, T_SEEN]
        if (lost > (grace if tr[i, T_CONFIRMED] != 0 else TENTATIVE_GRACE)
                or now - trf[i, T_REAL] > STILL_GRACE):
            tr[i, T_LIVE] = 0
            continue
        trf[i, T_PX0] = tr[i, T_X0] + trf[i, T_VX] * lost
        trf[i, T_PX1] = tr[i, T_X1] + trf[i, T_VX] * lost
        trf[i, T_PY0] = tr[i, T_Y0] + trf[i, T_VY] * lost
        trf[i, T_PY1] = tr[i, T_Y1] + trf[i, T_VY] * lost
        # Walked out of the picture: whoever comes in at that edge next is someone else.
        cx = 0.5 * (trf[i, T_PX0] + trf[i, T_PX1])
        cy = 0.5 * (trf[i, T_PY0] + trf[i, T_PY1])
        if cx < 0.0 or cx > width - 1.0 or cy < 0.0 or cy > height - 1.0:
            tr[i, T_LIVE] = 0
            continue
    for b in range(n_blobs):
        owner[b] = -1

    # 2. Confirmed tracks choose first.
    _match_class(1, stats, n_blobs, now, grace, tr, trf, score, owner, primary)
    _match_class(0, stats, n_blobs, now, grace, tr, trf, score, owner, primary)

    # 3. Confirmed tracks hidden in another confirmed track's blob (found before any box
    # moves: both the hidden track and its holder are then in a group).
    for i in range(n_tracks):
        score[i, 2] = -1.0       # the group blob a held track hides in
    for i in range(n_tracks):
        if tr[i, T_LIVE] == 0 or tr[i, T_CONFIRMED] == 0 or primary[i] >= 0:
            continue
        px0 = trf[i, T_PX0]
        py0 = trf[i, T_PY0]
        px1 = trf[i, T_PX1]
        py1 = trf[i, T_PY1]
        own = (px1 - px0 + 1.0) * (py1 - py0 + 1.0)
        for b in range(n_blobs):
            j = owner[b]
            if j < 0 or j == i or tr[j, T_CONFIRMED] == 0:
                continue
            iw = min(px1, stats[b, X1]) - max(px0, stats[b, X0]) + 1.0
            ih = min(py1, stats[b, Y1]) - max(py0, stats[b, Y0]) + 1.0
            if iw > 0.0 and ih > 0.0 and iw * ih >= HOLD_SHARE * own:
                tr[i, T_HOLDER] = j
                tr[i, T_GROUP] = 1
                tr[j, T_GROUP] = 1
                score[i, 2] = b
                break

    # Matched tracks take the union box of their blobs; velocity from the box centre.
    # A holder of a group keeps its own size at its predicted place inside its blobs
    # and its velocity: the group's box would drag it towards the one it hides.
    for i in range(n_tracks):
        p = primary[i]
        if p < 0:
            continue
        cx = 0.5 * (tr[i, T_X0] + tr[i, T_X1])
        cy = 0.5 * (tr[i, T_Y0] + tr[i, T_Y1])
        tr[i, T_X0] = stats[p, X0]
        tr[i, T_Y0] = stats[p, Y0]
        tr[i, T_X1] = stats[p, X1]
        tr[i, T_Y1] = stats[p, Y1]
        score[i, 0] = cx          # keep the old centre for the velocity below
        score[i, 1] = cy
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
        if tr[i, T_GROUP] != 0:
            _place_inside(tr, trf, i, tr[i, T_X0], tr[i, T_Y0], tr[i, T_X1], tr[i, T_Y1])
            continue
        dt = now - trf[i, T_SEEN]
        if dt > 0.0:
            size = max(tr[i, T_X1] - tr[i, T_X0] + 1, tr[i, T_Y1] - tr[i, T_Y0] + 1)
            vmax = MAX_SPEED * size
            vx = min(max((0.5 * (tr[i, T_X0] + tr[i, T_X1]) - score[i, 0]) / dt, -vmax), vmax)
            vy = min(max((0.5 * (tr[i, T_Y0] + tr[i, T_Y1]) - score[i, 1]) / dt, -vmax), vmax)
            a = 1.0 - math.exp(-dt / VELOCITY_TAU)
            trf[i, T_VX] += a * (vx - trf[i, T_VX])
            trf[i, T_VY] += a * (vy - trf[i, T_VY])
            # A track that walked out of a frame edge and now comes back in has
            # handed over to a newcomer entering there: end it, the blob starts anew.
            ex, ey = _edge_normal(tr, i, height, width)
            if ex != 0 or ey != 0:
                out = trf[i, T_VX] * ex + trf[i, T_VY] * ey
                if out > trf[i, T_OX] * ex + trf[i, T_OY] * ey:
                    trf[i, T_OX] = out * ex
                    trf[i, T_OY] = out * ey
            else:
                fade = math.exp(-dt / EDGE_MEMORY)
                trf[i, T_OX] *= fade
                trf[i, T_OY] *= fade
            o = math.sqrt(trf[i, T_OX] ** 2 + trf[i, T_OY] ** 2)
            if tr[i, T_CONFIRMED] != 0 and o > EDGE_TURN * size:
                back = (trf[i, T_VX] * trf[i, T_OX] + trf[i, T_VY] * trf[i, T_OY]) / o
                if back < -EDGE_TURN * size:
                    _drop(tr, trf, i)
                    for b in range(n_blobs):
                        if owner[b] == i:
                            owner[b] = -1
                    primary[i] = -1
                    continue
        trf[i, T_HELD] = -1.0

    # Held tracks: their predicted box moved inside the group blob (it cannot be
    # outside what is seen); velocity kept; they count as matched.
    for i in range(n_tracks):
        if tr[i, T_HOLDER] < 0:
            if primary[i] < 0:
                trf[i, T_HELD] = -1.0
            continue
        hb = int(score[i, 2])
        if tr[tr[i, T_HOLDER], T_LIVE] == 0:   # the holder was handed over at an edge
            tr[i, T_HOLDER] = -1
            trf[i, T_HELD] = -1.0
            continue
        _place_inside(tr, trf, i, stats[hb, X0], stats[hb, Y0], stats[hb, X1], stats[hb, Y1])
        if trf[i, T_HELD] < 0.0:
            trf[i, T_HELD] = now
        primary[i] = hb       # counts as matched below (hb stays owned by the holder)

    # Standing: a confirmed track standing still that lost its blob is kept where it
    # stands for up to STILL_GRACE (the model slowly absorbs a motionless low-contrast
    # person); walking off, it picks its blob up again, not a new visit.
    for i in range(n_tracks):
        if primary[i] >= 0:
            trf[i, T_REAL] = now
            continue
        if tr[i, T_LIVE] == 0 or tr[i, T_CONFIRMED] == 0:
            continue
        size = max(tr[i, T_X1] - tr[i, T_X0] + 1, tr[i, T_Y1] - tr[i, T_Y0] + 1)
        if math.sqrt(trf[i, T_VX] ** 2 + trf[i, T_VY] ** 2) <= STILL_SPEED * size:
            primary[i] = 0    # matched in place (no blob is read below)

    # Bookkeeping of every matched track: footprint, hits, confirmation, credit.
    for i in range(n_tracks):
        if primary[i] < 0:
            continue
        fx = (tr[i, T_X0] + tr[i, T_X1]) // 2
        fy = tr[i, T_Y1]
        if tr[i, T_CONFIRMED] != 0:
            tr[i, T_LX] = tr[i, T_FX]
            tr[i, T_LY] = tr[i, T_FY]
        tr[i, T_FX] = fx
        tr[i, T_FY] = fy
        tr[i, T_MATCHED] = 1
        tr[i, T_HITS] += 1
        trf[i, T_TALL] = max(float(tr[i, T_Y1] - tr[i, T_Y0] + 1),
                             trf[i, T_TALL] * math.exp(-(now - trf[i, T_SEEN]) / TALL_MEMORY))
        if tr[i, T_CONFIRMED] != 0:
            trf[i, T_CREDIT] = now - trf[i, T_SEEN]
        elif tr[i, T_HITS] >= CONFIRM_HITS and now - trf[i, T_BORN] >= CONFIRM_SECONDS:
            size = max(tr[i, T_X1] - tr[i, T_X0] + 1, tr[i, T_Y1] - tr[i, T_Y0] + 1)
            dx = float(fx - tr[i, T_BX])
            dy = float(fy - tr[i, T_BY])
            if math.sqrt(dx * dx + dy * dy) >= MOVE_SHARE * size and ghost[i] <= CONFIRM_GHOST:
                tr[i, T_CONFIRMED] = 1
                trf[i, T_CREDIT] = now - trf[i, T_BORN]
                tr[i, T_LX] = tr[i, T_BX]
                tr[i, T_LY] = tr[i, T_BY]
        trf[i, T_SEEN] = now

    # 3 (end). A track held alike with its holder for long is the holder itself.
    for i in range(n_tracks):
        j = tr[i, T_HOLDER]
        if j < 0 or tr[i, T_LIVE] == 0:
            continue
        size = max(tr[j, T_X1] - tr[j, T_X0] + 1, tr[j, T_Y1] - tr[j, T_Y0] + 1)
        dvx = trf[i, T_VX] - trf[j, T_VX]
        dvy = trf[i, T_VY] - trf[j, T_VY]
        if math.sqrt(dvx * dvx + dvy * dvy) > SAME_VELOCITY * size or not _stacked(tr, i, j):
            trf[i, T_HELD] = now      # moving apart or one behind the other: not the same target
        elif now - trf[i, T_HELD] > MERGE_SECONDS:
            _drop(tr, trf, i)

    # 4a. An unconfirmed track touching an older track's box from above or below, moving
    # alike, is that person's other half (segmented apart since its first frame): joined now,
    # before it can be confirmed as a second visit.
    for i in range(n_tracks):
        if tr[i, T_LIVE] == 0 or tr[i, T_CONFIRMED] != 0 or tr[i, T_MATCHED] == 0:
            continue
        for j in range(n_tracks):
            if (j == i or tr[j, T_LIVE] == 0 or tr[j, T_MATCHED] == 0 or tr[j, T_HOLDER] >= 0
                    or tr[j, T_ID] > tr[i, T_ID]):
                continue
            wi = tr[i, T_X1] - tr[i, T_X0] + 1
            wj = tr[j, T_X1] - tr[j, T_X0] + 1
            hi = tr[i, T_Y1] - tr[i, T_Y0] + 1
            hj = tr[j, T_Y1] - tr[j, T_Y0] + 1
            ox = min(tr[i, T_X1], tr[j, T_X1]) - max(tr[i, T_X0], tr[j, T_X0]) + 1
            oy = min(tr[i, T_Y1], tr[j, T_Y1]) - max(tr[i, T_Y0], tr[j, T_Y0]) + 1
            m = int(FRAGMENT_MARGIN * max(wi, wj, hi, hj))
            if ox * 2 < min(wi, wj) or oy < -m or oy * 4 > min(hi, hj):
                continue
            size = max(wi, wj, hi + hj - oy)
            dvx = trf[i, T_VX] - trf[j, T_VX]
            dvy = trf[i, T_VY] - trf[j, T_VY]
            if math.sqrt(dvx * dvx + dvy * dvy) > SAME_VELOCITY * size:
                continue
            tr[j, T_X0] = min(tr[j, T_X0], tr[i, T_X0])
            tr[j, T_Y0] = min(tr[j, T_Y0], tr[i, T_Y0])
            tr[j, T_X1] = max(tr[j, T_X1], tr[i, T_X1])
            tr[j, T_Y1] = max(tr[j, T_Y1], tr[i, T_Y1])
            if tr[j, T_CONFIRMED] == 0:
                # its birth footprint is the pair's: the feet were there, not under the torso
                tr[j, T_BX] = (tr[j, T_X0] + tr[j, T_X1]) // 2
                tr[j, T_BY] = max(tr[j, T_BY], tr[i, T_BY])
            tr[j, T_FX] = (tr[j, T_X0] + tr[j, T_X1]) // 2
            tr[j, T_FY] = tr[j, T_Y1]
            for b in range(n_blobs):
                if owner[b] == i:
                    owner[b] = j
            _drop(tr, trf, i)
            break

    # 4. Confirmed tracks stacked as torso and legs of one person.
    for i in range(n_tracks):
        if tr[i, T_LIVE] == 0 or tr[i, T_CONFIRMED] == 0 or tr[i, T_MATCHED] == 0 or tr[i, T_HOLDER] >= 0:
            trf[i, T_PAIRED] = -1.0
            continue
        partner = -1
        for j in range(n_tracks):
            if (j == i or tr[j, T_LIVE] == 0 or tr[j, T_CONFIRMED] == 0 or tr[j, T_MATCHED] == 0
                    or tr[j, T_HOLDER] >= 0 or tr[j, T_ID] > tr[i, T_ID]):
                continue
            wi = tr[i, T_X1] - tr[i, T_X0] + 1
            wj = tr[j, T_X1] - tr[j, T_X0] + 1
            hi = tr[i, T_Y1] - tr[i, T_Y0] + 1
            hj = tr[j, T_Y1] - tr[j, T_Y0] + 1
            ox = min(tr[i, T_X1], tr[j, T_X1]) - max(tr[i, T_X0], tr[j, T_X0]) + 1
            oy = min(tr[i, T_Y1], tr[j, T_Y1]) - max(tr[i, T_Y0], tr[j, T_Y0]) + 1
            m = int(PAIR_GAP * (hi + hj))   # the gap a torso and legs leave is a share of both
            if ox * 2 < min(wi, wj) or oy < -m or oy * 4 > min(hi, hj):
                continue
            size = max(wi, wj, hi + hj - oy)   # the person they would make up together
            dvx = trf[i, T_VX] - trf[j, T_VX]
            dvy = trf[i, T_VY] - trf[j, T_VY]
            if math.sqrt(dvx * dvx + dvy * dvy) <= SAME_VELOCITY * size:
                partner = j
                break
        if partner < 0 or partner != tr[i, T_PAIR] or trf[i, T_PAIRED] < 0.0:
            tr[i, T_PAIR] = partner
            trf[i, T_PAIRED] = now if partner >= 0 else -1.0
            continue
        if now - trf[i, T_PAIRED] > MERGE_SECONDS:
            j = partner
            tr[j, T_X0] = min(tr[j, T_X0], tr[i, T_X0])
            tr[j, T_Y0] = min(tr[j, T_Y0], tr[i, T_Y0])
            tr[j, T_X1] = max(tr[j, T_X1], tr[i, T_X1])
            tr[j, T_Y1] = max(tr[j, T_Y1], tr[i, T_Y1])
            tr[j, T_FX] = (tr[j, T_X0] + tr[j, T_X1]) // 2
            tr[j, T_FY] = tr[j, T_Y1]
            for b in range(n_blobs):
                if owner[b] == i:
                    owner[b] = j
            _drop(tr, trf, i)

    # 5. New tracks for blobs nobody claimed, unless centred in a confirmed track's
    # predicted box as tall as it was lately (a torso far above its legs' blob on a
    # frame the torso was missed: a piece of someone known).
    slot = 0
    for b in range(n_blobs):
        if owner[b] >= 0 or _inside_confirmed(stats, b, tr, trf):
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
        tr[i, T_HITS] = 1
        tr[i, T_CONFIRMED] = 0
        tr[i, T_MATCHED] = 1
        tr[i, T_NEW] = 1
        tr[i, T_HOLDER] = -1
        tr[i, T_PAIR] = -1
        trf[i, T_BORN] = now
        trf[i, T_SEEN] = now
        trf[i, T_REAL] = now
        trf[i, T_TALL] = 0.0
        trf[i, T_CREDIT] = 0.0
        trf[i, T_VX] = 0.0
        trf[i, T_VY] = 0.0
        trf[i, T_HELD] = -1.0
        trf[i, T_PAIRED] = -1.0
        trf[i, T_OX] = 0.0
        trf[i, T_OY] = 0.0
        # Pieces of one newcomer (torso, legs) found on the same frame are one track.
        m = int(FRAGMENT_MARGIN * max(stats[b, X1] - stats[b, X0] + 1, stats[b, Y1] - stats[b, Y0] + 1))
        for b2 in range(b + 1, n_blobs):
            if owner[b2] >= 0:
                continue
            if _touches(stats, b2, stats[b, X0], stats[b, Y0], stats[b, X1], stats[b, Y1], m):
                owner[b2] = i
                tr[i, T_X0] = min(tr[i, T_X0], stats[b2, X0])
                tr[i, T_Y0] = min(tr[i, T_Y0], stats[b2, Y0])
                tr[i, T_X1] = max(tr[i, T_X1], stats[b2, X1])
                tr[i, T_Y1] = max(tr[i, T_Y1], stats[b2, Y1])
        tr[i, T_GROUP] = 0
        tr[i, T_FX] = (tr[i, T_X0] + tr[i, T_X1]) // 2
        tr[i, T_FY] = tr[i, T_Y1]
        tr[i, T_BX] = tr[i, T_FX]
        tr[i, T_BY] = tr[i, T_FY]
        tr[i, T_LX] = tr[i, T_FX]
        tr[i, T_LY] = tr[i, T_FY]

    active = 0
    for i in range(n_tracks):
        if tr[i, T_LIVE] != 0 and tr[i, T_CONFIRMED] != 0:
            active += 1
    return active


@njit(cache=True, nogil=True)
def _protect_targets(tr, trf, ghost_share, max_share, max_speed, width, margin, bits):
    """Mark the boxes of live confirmed tracks standing still (speed at most
    max_speed box sizes per second) with ghost_share <= max_share, grown by
    `margin` pixels, as packed bits. Moving targets need no protection (their
    pixels are young) and one walking off must not shield its own ghost.

    tr, trf: int64 (T, N_INT), float64 (T, N_FLOAT) track state; ghost_share: float64 (T,) (vca.contour);
    bits: uint64 (H, NW) out, bit x & 63 of word x >> 6 is pixel x
    (vca.morphology layout), rewritten whole. Returns the number of tracks marked.
    """
    h, nw = bits.shape
    for i in range(h):
        for k in range(nw):
            bits[i, k] = 0
    marked = 0
    for t in range(tr.shape[0]):
        if tr[t, T_LIVE] == 0 or tr[t, T_CONFIRMED] == 0 or ghost_share[t] > max_share:
            continue
        size = max(tr[t, T_X1] - tr[t, T_X0] + 1, tr[t, T_Y1] - tr[t, T_Y0] + 1)
        if math.sqrt(trf[t, T_VX] ** 2 + trf[t, T_VY] ** 2) > max_speed * size:
            continue
        x0 = max(tr[t, T_X0] - margin, 0)
        x1 = min(tr[t, T_X1] + margin, width - 1)
        y0 = max(tr[t, T_Y0] - margin, 0)
        y1 = min(tr[t, T_Y1] + margin, h - 1)
        if x0 > x1 or y0 > y1:
            continue
        marked += 1
        for k in range(x0 >> 6, (x1 >> 6) + 1):
            lo = max(x0 - k * 64, 0)
            hi = min(x1 - k * 64, 63)
            word = ((~np.uint64(0)) >> np.uint64(63 - (hi - lo))) << np.uint64(lo)
            for y in range(y0, y1 + 1):
                bits[y, k] |= word
    return marked


class Tracker:
    """Preallocated track table: `update(stats, n, now)` once per analysed frame."""

    def __init__(self, max_tracks: int = MAX_TRACKS, max_blobs: int = MAX_BLOBS,
                 grace_seconds: float = GRACE_SECONDS, height: int = 1 << 20, width: int = 1 << 20):
        """height, width: the analysed frame (a track predicted outside it ends; default: no edge)."""
        if max_tracks < 1 or max_blobs < 1:
            raise ValueError("max_tracks and max_blobs must be at least 1")
        if not grace_seconds > 0:
            raise ValueError(f"grace time {grace_seconds} s: give a positive number of seconds")
        self.grace = float(grace_seconds)
        self.height, self.width = int(height), int(width)
        self.tr = np.zeros((max_tracks, N_INT), np.int64)
        self.trf = np.zeros((max_tracks, N_FLOAT), np.float64)
        # at least 2 columns: the update keeps two numbers per track there
        self._score = np.zeros((max_tracks, max(max_blobs, 2)), np.float64)
        self.owner = np.full(max_blobs, -1, np.int32)
        self._primary = np.full(max_tracks, -1, np.int32)
        self._next_id = np.ones(1, np.int64)
        self._no_ghost = np.zeros(max_tracks, np.float64)
        self.active = 0

    @property
    def max_tracks(self) -> int:
        return self.tr.shape[0]

    def update(self, stats: np.ndarray, n_blobs: int, now: float, ghost: np.ndarray | None = None) -> int:
        """Associate stats[:n_blobs] (vca.blobs rows) at analysed time `now`; returns confirmed
        live tracks. ghost: float64 (max_tracks,) unconfirmed tracks' ghost share
        (vca.contour.ContourEvidence.tentative); None: no evidence, every track a person."""
        n = min(int(n_blobs), self.owner.shape[0])
        self.active = _update_tracks(stats, n, float(now), self.grace, self.height, self.width,
                                     self.tr, self.trf,
                                     self._score, self.owner, self._primary, self._next_id,
                                     self._no_ghost if ghost is None else ghost)
        return self.active

    def protect(self, ghost_share: np.ndarray, max_share: float, max_speed: float, width: int,
                margin: int, bits: np.ndarray) -> int:
        """Write the boxes of live confirmed tracks standing still (at most max_speed box
        sizes per second) whose ghost share is at most max_share, grown by margin px,
        into packed bits (H, NW)."""
        return _protect_targets(self.tr, self.trf, ghost_share, float(max_share), float(max_speed),
                                int(width), int(margin), bits)

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
