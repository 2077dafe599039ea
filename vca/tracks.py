"""Targets: blobs associated across frames into tracks with stable ids.

Time here is the analyzer's analysed time `now` (seconds; frame intervals
capped, paused while a scene change settles), so frame rate and frame
skipping do not change the rules. The track table (columns, units) is
vca.track_table.

Each track has a box, a footprint (bottom centre of the box) and a velocity
(box centre, px/s, smoothed with time constant VELOCITY_TAU). Its predicted
box is the last box moved by velocity * seconds since it was last seen;
size means the larger side of a box.

Per frame, in this order (one kernel per step, called in turn by
`_update_tracks`):

1. Expire and predict (`_expire_and_predict`): a live track not seen for
   more than `grace` seconds (default 1.0) is freed; an unconfirmed one
   after TENTATIVE_GRACE (flicker); a confirmed one kept standing (step 6)
   STILL_GRACE after it last had a blob. A target that stops or is briefly
   lost keeps its id while within the grace time. A track whose predicted
   box centre is outside the frame has walked out and is freed at once, so
   a newcomer entering at the same edge within the grace time is a new
   target, not the one that left.
2. Match (`_match`), confirmed tracks first, then unconfirmed ones, so a
   piece of a known person is never claimed by a newcomer:
   a. overlap: greedy one-to-one by intersection-over-union of the predicted
      box and the blob's box, highest first;
   b. nearest footprint: greedy by distance of the predicted footprint
      within a gate of size * (GATE_BASE + GATE_PER_SECOND * lost seconds);
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
3. Groups (`_find_groups`), found before any box moves: a confirmed track
   left unmatched whose predicted box overlaps a blob matched by another
   confirmed track by at least HOLD_SHARE of its own area is hidden in that
   group (two people crossing or overtaking, one occluding the other).
4. Follow (`_follow_blobs`): a matched track's box becomes the union of its
   blobs, and its velocity follows the box centre. A member of a group
   instead keeps its own box size at its predicted place moved inside its
   blobs, and its velocity from before the group, so the group's box never
   drags one towards the other. A confirmed track that walked out of a
   frame edge and then moves back in by EDGE_TURN box sizes per second has
   handed over to a newcomer entering there: it ends, and its blob starts
   a new track (step 9). Only a track that had walked in (its box once
   whole, at least 3/4 of its recent height, and touching no edge:
   T_INSIDE) can walk out: a person still entering, legs flickering at
   the bottom edge, jitters in and out of it, and ending that track split
   one entrance into two visits (the counting scene `standing`).
5. Hold (`_hold`): a track hidden in a group (step 3) keeps its own box size
   at its predicted place moved inside the group blob, and its velocity; it
   stays matched and keeps counting, and when the group parts each picks up
   the piece its prediction overlaps.
6. Standing (`_keep_standing`): a confirmed track standing still (<=
   STILL_SPEED box sizes/s) that lost its blob is kept in place, matched,
   for up to STILL_GRACE (a still, low-contrast person fading below the
   detection threshold); walking off, it picks its blob up again, not a
   new visit. The hold is long (a minute) because the analyzer protects a
   standing confirmed track from the background model (`protect`): the
   model does not learn the person in, so a blob that fades there is a
   weak target, not an empty floor. With a few seconds' hold, a shopper
   standing still through a long stay was counted twice (`standing`: 7
   visits for 4 people); a hold ends early as soon as the track is found
   again, and a ghost never gets here (it is never confirmed).
7. Bookkeeping (`_bookkeeping`) of every matched track: footprint, hits,
   recent height, confirmation and the seconds to credit.
8. Joins and merges (`_join_and_merge`), of tracks that are one person:
   a. a held track stacked on its holder like torso and legs, with velocity
      within SAME_VELOCITY of the holder's, for MERGE_SECONDS is the holder
      itself and is dropped silently; one behind the other (overtaking,
      crossing) is not;
   b. halves: an unconfirmed track whose box touches an older track's box
      from above or below (columns shared by half the narrower, gap within
      FRAGMENT_MARGIN of the larger side) moving alike (SAME_VELOCITY) is
      that person's other half, segmented apart since its first frame:
      joined into the older at once, before it can be confirmed as a
      second visit;
   c. pairs: two confirmed tracks matched to separate blobs stacked one
      above the other (columns overlapping by half the narrower box,
      vertical gap within PAIR_GAP of their summed heights, rows overlapping
      by at most a quarter of the shorter box) and moving alike for
      MERGE_SECONDS are torso and legs of one person: the younger is
      dropped silently, the older keeps both blobs.
9. Spawn (`_spawn`): each blob still unclaimed starts a track (while slots
   are free), taking along the unclaimed blobs that touch its grown box,
   unless it is centred in a matched confirmed track's predicted box as
   tall as it was lately (a torso far above its legs' blob on a frame the
   torso was missed: a piece of someone known).

Confirmation: a track counts (visits, dwell) once it has been matched on at
least CONFIRM_HITS frames, is CONFIRM_SECONDS old and its footprint has
moved MOVE_SHARE of its size away from where it was born. People walk into
a scene; what appears in place and never moves (a ghost left by the
background model, a dropped bag, a moved chair, a flickering fragment) is
never a visit. Nor is a track whose outline, tallied over its unconfirmed
life, shows more in the learned background than in the frame (ghost share >
CONFIRM_GHOST, vca.contour; given by the analyzer): a ghost that grows or
shrinks as pieces of it are segmented looks as if it moved. On the
confirmation frame the track is credited the time since its birth, and its
footprint path starts at its birth footprint, so nothing is lost to the
delay.

Merges: a merge lasting longer than MERGE_SECONDS with both moving alike
ends the younger track; a later split then starts a new track (one extra
visit), by design bounded.

Array contracts: `stats` int64 (>= n_blobs, N_STATS) blob rows (vca.blobs
columns); `tr`, `trf` the track table (vca.track_table), updated in place;
`owner` int32 (>= n_blobs,) the slot owning each blob, -1 none. Scratch of
one update, written before it is read on every frame: `overlap` float64
(T, >= n_blobs), `own_blob`, `group_blob` int32 (T,), `old_centre` float64
(T, 2).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from vca.bits import words_per_row
from vca.blobs import FX, FY, MAX_BLOBS, N_STATS, X0, X1, Y0, Y1
from vca.contracts import ArrayContract
from vca.track_table import (MAX_TRACKS, N_FLOAT, N_INT, T_BORN, T_BX, T_BY, T_CONFIRMED, T_CREDIT, T_FX,
                             T_FY, T_GROUP, T_HELD, T_HITS, T_HOLDER, T_ID, T_LIVE, T_LX, T_LY, T_MATCHED,
                             T_NEW, T_OX, T_OY, T_PAIR, T_PAIRED, T_PX0, T_PX1, T_PY0, T_PY1, T_REAL,
                             T_INSIDE, T_SEEN, T_TALL, T_VX, T_VY, T_X0, T_X1, T_Y0, T_Y1)

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
# s a standing confirmed track is kept in place without a blob: the model does not learn a
# protected target, so a still, low-contrast person fading below the threshold is still there
STILL_GRACE = 60.0
EDGE_MEMORY = 0.5         # s, how long the speed out of an edge is remembered after leaving it


# -- geometry of boxes and blobs ------------------------------------------------------------

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
def _box_size(tr, i):
    """The larger side of track i's box, pixels."""
    return max(tr[i, T_X1] - tr[i, T_X0] + 1, tr[i, T_Y1] - tr[i, T_Y0] + 1)


@njit(cache=True, nogil=True)
def _box_height(tr, i):
    return tr[i, T_Y1] - tr[i, T_Y0] + 1


@njit(cache=True, nogil=True)
def _blob_size(stats, b):
    """The larger side of blob b's box, pixels."""
    return max(stats[b, X1] - stats[b, X0] + 1, stats[b, Y1] - stats[b, Y0] + 1)


@njit(cache=True, nogil=True)
def _speed(trf, i):
    """Track i's speed, px/s."""
    return math.sqrt(trf[i, T_VX] ** 2 + trf[i, T_VY] ** 2)


@njit(cache=True, nogil=True)
def _moving_alike(trf, i, j, size):
    """Do tracks i and j move with velocities within SAME_VELOCITY box sizes/s of each other?"""
    dvx = trf[i, T_VX] - trf[j, T_VX]
    dvy = trf[i, T_VY] - trf[j, T_VY]
    return math.sqrt(dvx * dvx + dvy * dvy) <= SAME_VELOCITY * size


@njit(cache=True, nogil=True)
def _grow_box(tr, i, x0, y0, x1, y1):
    """Track i's box becomes the union of itself and (x0, y0, x1, y1)."""
    tr[i, T_X0] = min(tr[i, T_X0], x0)
    tr[i, T_Y0] = min(tr[i, T_Y0], y0)
    tr[i, T_X1] = max(tr[i, T_X1], x1)
    tr[i, T_Y1] = max(tr[i, T_Y1], y1)


@njit(cache=True, nogil=True)
def _set_footprint(tr, i):
    tr[i, T_FX] = (tr[i, T_X0] + tr[i, T_X1]) // 2
    tr[i, T_FY] = tr[i, T_Y1]


@njit(cache=True, nogil=True)
def _stacking(tr, i, j):
    """The boxes of tracks i and j as torso and legs: (stacked, gap, size).

    stacked: one above the other, columns overlapping by at least half the
    narrower box and rows by at most a quarter of the shorter; gap: rows
    between the boxes (negative: rows they share); size: the larger side of
    the box around both (the person they would make up together).
    """
    wi = tr[i, T_X1] - tr[i, T_X0] + 1
    wj = tr[j, T_X1] - tr[j, T_X0] + 1
    hi = tr[i, T_Y1] - tr[i, T_Y0] + 1
    hj = tr[j, T_Y1] - tr[j, T_Y0] + 1
    ox = min(tr[i, T_X1], tr[j, T_X1]) - max(tr[i, T_X0], tr[j, T_X0]) + 1
    oy = min(tr[i, T_Y1], tr[j, T_Y1]) - max(tr[i, T_Y0], tr[j, T_Y0]) + 1
    return ox * 2 >= min(wi, wj) and oy * 4 <= min(hi, hj), -oy, max(wi, wj, hi + hj - oy)


@njit(cache=True, nogil=True)
def _touches(stats, b, x0, y0, x1, y1, m):
    """Does blob b's box touch the box (x0, y0, x1, y1) grown by m pixels?"""
    return (stats[b, X0] <= x1 + m and stats[b, X1] >= x0 - m
            and stats[b, Y0] <= y1 + m and stats[b, Y1] >= y0 - m)


@njit(cache=True, nogil=True)
def _columns_overlap(stats, a, b):
    """Do blobs a and b share at least half the narrower one's columns (one above the other)?"""
    ox = min(stats[a, X1], stats[b, X1]) - max(stats[a, X0], stats[b, X0]) + 1
    return ox * 2 >= min(stats[a, X1] - stats[a, X0] + 1, stats[b, X1] - stats[b, X0] + 1)


@njit(cache=True, nogil=True)
def _predicted_top(trf, i):
    """Top row of track i's predicted box made as tall as the track was lately."""
    return min(trf[i, T_PY0], trf[i, T_PY1] + 1.0 - trf[i, T_TALL])


@njit(cache=True, nogil=True)
def _within_predicted(stats, b, trf, i):
    """Does at least WITHIN_SHARE of blob b's box lie in track i's predicted box, as tall as it
    was lately? (Legs further below the torso than the fragment margin: still that person.)"""
    top = _predicted_top(trf, i)
    iw = min(float(stats[b, X1]), trf[i, T_PX1]) - max(float(stats[b, X0]), trf[i, T_PX0]) + 1.0
    ih = min(float(stats[b, Y1]), trf[i, T_PY1]) - max(float(stats[b, Y0]), top) + 1.0
    if iw <= 0.0 or ih <= 0.0:
        return False
    area = (stats[b, X1] - stats[b, X0] + 1) * (stats[b, Y1] - stats[b, Y0] + 1)
    return iw * ih >= WITHIN_SHARE * area


@njit(cache=True, nogil=True)
def _inside_confirmed(stats, b, tr, trf):
    """Is blob b's centre inside the predicted box, as tall as lately, of a matched confirmed track?"""
    cx = 0.5 * (stats[b, X0] + stats[b, X1])
    cy = 0.5 * (stats[b, Y0] + stats[b, Y1])
    for i in range(tr.shape[0]):
        if tr[i, T_LIVE] == 0 or tr[i, T_CONFIRMED] == 0 or tr[i, T_MATCHED] == 0:
            continue
        top = _predicted_top(trf, i)
        if trf[i, T_PX0] <= cx <= trf[i, T_PX1] and top <= cy <= trf[i, T_PY1]:
            return True
    return False


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
def _clear_of_edges(tr, trf, i, height, width):
    """Is track i's box whole (at least 3/4 of its recent tallest height: not a piece of the
    person) and touching no frame edge (walked in)?"""
    return (tr[i, T_X0] > 1 and tr[i, T_Y0] > 1 and tr[i, T_X1] < width - 2 and tr[i, T_Y1] < height - 2
            and 4 * _box_height(tr, i) >= 3 * trf[i, T_TALL])


@njit(cache=True, nogil=True)
def _drop(tr, trf, i):
    """End track i silently (its slot is free; nothing more is credited)."""
    tr[i, T_LIVE] = 0
    tr[i, T_MATCHED] = 0
    trf[i, T_CREDIT] = 0.0


@njit(cache=True, nogil=True)
def _hand_over_blobs(owner, n_blobs, i, j):
    """Every blob owned by slot i goes to slot j (-1: to nobody)."""
    for b in range(n_blobs):
        if owner[b] == i:
            owner[b] = j


# -- the steps, in the order they run -----------------------------------------------------

@njit(cache=True, nogil=True)
def _expire_and_predict(now, grace, height, width, tr, trf):
    """Step 1. Clear the per-frame columns, free tracks lost too long or walked out of the
    frame, and predict every live track's box at `now`.

    tr, trf: the track table. Writes T_MATCHED, T_NEW, T_GROUP = 0, T_HOLDER = -1 and
    T_CREDIT = 0 in every row; T_LIVE = 0 for freed tracks; T_PX0..T_PY1 for live ones.
    height, width: the frame (a track predicted to have left it ends).
    """
    for i in range(tr.shape[0]):
        tr[i, T_MATCHED] = 0
        tr[i, T_NEW] = 0
        tr[i, T_HOLDER] = -1
        tr[i, T_GROUP] = 0
        trf[i, T_CREDIT] = 0.0
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


@njit(cache=True, nogil=True)
def _match(stats, n_blobs, now, grace, tr, trf, overlap, owner, own_blob):
    """Step 2. Blobs to tracks, confirmed tracks first.

    stats[:n_blobs]: the blobs; tr, trf: the track table (T_MATCHED = 1 for a track that
    takes a blob of its own). overlap: float64 (T, >= n_blobs) scratch. Out: owner[:n_blobs]
    int32, the slot each blob belongs to (-1 none); own_blob int32 (T,), the blob each track
    matched by overlap or footprint (-1 none), which its fragments joined.
    """
    for i in range(tr.shape[0]):
        own_blob[i] = -1
    for b in range(n_blobs):
        owner[b] = -1
    _match_class(1, stats, n_blobs, now, grace, tr, trf, overlap, owner, own_blob)
    _match_class(0, stats, n_blobs, now, grace, tr, trf, overlap, owner, own_blob)


@njit(cache=True, nogil=True)
def _take(tr, owner, own_blob, i, b):
    """Track i takes blob b as its own: matched."""
    own_blob[i] = b
    owner[b] = i
    tr[i, T_MATCHED] = 1


@njit(cache=True, nogil=True)
def _match_class(cls, stats, n_blobs, now, grace, tr, trf, overlap, owner, own_blob):
    """Steps 2a-2c for the live tracks whose T_CONFIRMED == cls (arrays as `_match`)."""
    n_tracks = tr.shape[0]
    for i in range(n_tracks):
        if tr[i, T_LIVE] == 0 or tr[i, T_CONFIRMED] != cls:
            continue
        for b in range(n_blobs):
            overlap[i, b] = _iou(trf[i, T_PX0], trf[i, T_PY0], trf[i, T_PX1], trf[i, T_PY1],
                                 stats[b, X0], stats[b, Y0], stats[b, X1], stats[b, Y1])
    # a. overlap
    while True:
        best = 0.0
        bi = -1
        bb = -1
        for i in range(n_tracks):
            if tr[i, T_LIVE] == 0 or tr[i, T_CONFIRMED] != cls or own_blob[i] >= 0:
                continue
            for b in range(n_blobs):
                if owner[b] < 0 and overlap[i, b] > best:
                    best = overlap[i, b]
                    bi = i
                    bb = b
        if bi < 0:
            break
        _take(tr, owner, own_blob, bi, bb)
    # b. nearest footprint
    while True:
        best = 1.0
        bi = -1
        bb = -1
        for i in range(n_tracks):
            if tr[i, T_LIVE] == 0 or tr[i, T_CONFIRMED] != cls or own_blob[i] >= 0:
                continue
            size = _box_size(tr, i)
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
        _take(tr, owner, own_blob, bi, bb)
    # c. fragments
    for b in range(n_blobs):
        if owner[b] >= 0:
            continue
        for i in range(n_tracks):
            p = own_blob[i]
            if p < 0 or tr[i, T_CONFIRMED] != cls:
                continue
            # Grow by a share of the larger of the blob and the track's box: a person
            # cut in two leaves a torso blob much smaller than the person.
            m = int(FRAGMENT_MARGIN * max(_blob_size(stats, p), _box_size(tr, i)))
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
def _find_groups(stats, n_blobs, tr, trf, owner, own_blob, group_blob):
    """Step 3. Confirmed tracks left without a blob, hidden in another confirmed track's blob.

    Runs before any box moves, on the predicted boxes. Writes T_HOLDER (the holder's slot)
    of a hidden track and T_GROUP = 1 of both; group_blob int32 (T,) out: the blob each
    hidden track is in, -1 none. owner, own_blob: as `_match` left them.
    """
    n_tracks = tr.shape[0]
    for i in range(n_tracks):
        group_blob[i] = -1
    for i in range(n_tracks):
        if tr[i, T_LIVE] == 0 or tr[i, T_CONFIRMED] == 0 or own_blob[i] >= 0:
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
                group_blob[i] = b
                break


@njit(cache=True, nogil=True)
def _follow_blobs(stats, n_blobs, now, height, width, tr, trf, owner, own_blob, old_centre):
    """Step 4. Boxes and velocities of the tracks that took blobs; handovers at frame edges.

    A track with own_blob >= 0 gets the union box of the blobs it owns (owner), or, in a
    group (T_GROUP), its own size inside that union; outside a group its velocity follows
    the box centre (old_centre: float64 (T, 2) scratch) and T_HELD is cleared. A track
    handed over at an edge is dropped: its blobs are released (owner -1), own_blob[i] = -1.
    """
    n_tracks = tr.shape[0]
    for i in range(n_tracks):
        p = own_blob[i]
        if p < 0:
            continue
        old_centre[i, 0] = 0.5 * (tr[i, T_X0] + tr[i, T_X1])   # for the velocity below
        old_centre[i, 1] = 0.5 * (tr[i, T_Y0] + tr[i, T_Y1])
        tr[i, T_X0] = stats[p, X0]
        tr[i, T_Y0] = stats[p, Y0]
        tr[i, T_X1] = stats[p, X1]
        tr[i, T_Y1] = stats[p, Y1]
    for b in range(n_blobs):
        i = owner[b]
        if i < 0 or own_blob[i] == b:
            continue
        _grow_box(tr, i, stats[b, X0], stats[b, Y0], stats[b, X1], stats[b, Y1])
    for i in range(n_tracks):
        if own_blob[i] < 0:
            continue
        if tr[i, T_GROUP] != 0:
            # A holder keeps its own size at its predicted place inside its blobs, and its
            # velocity: the group's box would drag it towards the one it hides.
            _place_inside(tr, trf, i, tr[i, T_X0], tr[i, T_Y0], tr[i, T_X1], tr[i, T_Y1])
            continue
        dt = now - trf[i, T_SEEN]
        if dt > 0.0:
            size = _box_size(tr, i)
            vmax = MAX_SPEED * size
            vx = min(max((0.5 * (tr[i, T_X0] + tr[i, T_X1]) - old_centre[i, 0]) / dt, -vmax), vmax)
            vy = min(max((0.5 * (tr[i, T_Y0] + tr[i, T_Y1]) - old_centre[i, 1]) / dt, -vmax), vmax)
            a = 1.0 - math.exp(-dt / VELOCITY_TAU)
            trf[i, T_VX] += a * (vx - trf[i, T_VX])
            trf[i, T_VY] += a * (vy - trf[i, T_VY])
            # A track that walked out of a frame edge and now comes back in has
            # handed over to a newcomer entering there: end it, the blob starts anew.
            # Only a track that has been whole and clear of the edges (T_INSIDE) walks out: one
            # still entering (a low-contrast person rising from the bottom edge, legs
            # flickering) jitters in and out of the edge.
            ex, ey = _edge_normal(tr, i, height, width)
            if ex != 0 or ey != 0:
                out = trf[i, T_VX] * ex + trf[i, T_VY] * ey
                if tr[i, T_INSIDE] != 0 and out > trf[i, T_OX] * ex + trf[i, T_OY] * ey:
                    trf[i, T_OX] = out * ex
                    trf[i, T_OY] = out * ey
            else:
                fade = math.exp(-dt / EDGE_MEMORY)
                trf[i, T_OX] *= fade
                trf[i, T_OY] *= fade
            if _clear_of_edges(tr, trf, i, height, width):
                tr[i, T_INSIDE] = 1
            o = math.sqrt(trf[i, T_OX] ** 2 + trf[i, T_OY] ** 2)
            if tr[i, T_CONFIRMED] != 0 and o > EDGE_TURN * size:
                back = (trf[i, T_VX] * trf[i, T_OX] + trf[i, T_VY] * trf[i, T_OY]) / o
                if back < -EDGE_TURN * size:
                    _drop(tr, trf, i)
                    _hand_over_blobs(owner, n_blobs, i, -1)
                    own_blob[i] = -1
                    continue
        trf[i, T_HELD] = -1.0


@njit(cache=True, nogil=True)
def _hold(stats, now, tr, trf, own_blob, group_blob):
    """Step 5. Hidden tracks placed inside their group's blob (it cannot be outside what is
    seen), velocity kept; they count as matched (T_MATCHED = 1; the blob stays the holder's).

    T_HELD: since when held (set on the first frame), -1 for a track neither held nor
    matched. A track whose holder was handed over at an edge (step 4) is no longer held.
    group_blob: from `_find_groups`; own_blob: as `_follow_blobs` left it.
    """
    for i in range(tr.shape[0]):
        if tr[i, T_HOLDER] < 0:
            if own_blob[i] < 0:
                trf[i, T_HELD] = -1.0
            continue
        if tr[tr[i, T_HOLDER], T_LIVE] == 0:
            tr[i, T_HOLDER] = -1
            trf[i, T_HELD] = -1.0
            continue
        hb = group_blob[i]
        _place_inside(tr, trf, i, stats[hb, X0], stats[hb, Y0], stats[hb, X1], stats[hb, Y1])
        if trf[i, T_HELD] < 0.0:
            trf[i, T_HELD] = now
        tr[i, T_MATCHED] = 1


@njit(cache=True, nogil=True)
def _keep_standing(now, tr, trf):
    """Step 6. A confirmed track standing still that lost its blob is kept where it stands,
    matched (T_MATCHED = 1), until STILL_GRACE after T_REAL; T_REAL = now for every track
    matched otherwise."""
    for i in range(tr.shape[0]):
        if tr[i, T_MATCHED] != 0:
            trf[i, T_REAL] = now
            continue
        if tr[i, T_LIVE] == 0 or tr[i, T_CONFIRMED] == 0:
            continue
        if _speed(trf, i) <= STILL_SPEED * _box_size(tr, i):
            tr[i, T_MATCHED] = 1


@njit(cache=True, nogil=True)
def _bookkeeping(now, tr, trf, ghost):
    """Step 7. For every matched track: footprint (the previous one kept in T_LX, T_LY while
    confirmed), hits, recent height, confirmation and T_CREDIT, the seconds to credit now;
    T_SEEN = now.

    ghost: float64 (T,) per unconfirmed track, share of its outline votes that say ghost
    (vca.contour); above CONFIRM_GHOST it is not confirmed.
    """
    for i in range(tr.shape[0]):
        if tr[i, T_MATCHED] == 0:
            continue
        if tr[i, T_CONFIRMED] != 0:
            tr[i, T_LX] = tr[i, T_FX]
            tr[i, T_LY] = tr[i, T_FY]
        _set_footprint(tr, i)
        tr[i, T_HITS] += 1
        trf[i, T_TALL] = max(float(_box_height(tr, i)),
                             trf[i, T_TALL] * math.exp(-(now - trf[i, T_SEEN]) / TALL_MEMORY))
        if tr[i, T_CONFIRMED] != 0:
            trf[i, T_CREDIT] = now - trf[i, T_SEEN]
        elif tr[i, T_HITS] >= CONFIRM_HITS and now - trf[i, T_BORN] >= CONFIRM_SECONDS:
            dx = float(tr[i, T_FX] - tr[i, T_BX])
            dy = float(tr[i, T_FY] - tr[i, T_BY])
            if math.sqrt(dx * dx + dy * dy) >= MOVE_SHARE * _box_size(tr, i) and ghost[i] <= CONFIRM_GHOST:
                tr[i, T_CONFIRMED] = 1
                trf[i, T_CREDIT] = now - trf[i, T_BORN]
                tr[i, T_LX] = tr[i, T_BX]
                tr[i, T_LY] = tr[i, T_BY]
        trf[i, T_SEEN] = now


@njit(cache=True, nogil=True)
def _join_and_merge(n_blobs, now, tr, trf, owner):
    """Step 8. Tracks that are one person become one: a held track that is its holder (a), an
    unconfirmed half (b), a confirmed pair (c). The surviving track takes the other's blobs
    (owner) and box; the other is dropped silently."""
    _merge_held(now, tr, trf)
    _join_halves(n_blobs, tr, trf, owner)
    _merge_pairs(n_blobs, now, tr, trf, owner)


@njit(cache=True, nogil=True)
def _merge_held(now, tr, trf):
    """Step 8a. A track held alike with its holder, stacked on it, for MERGE_SECONDS is the
    holder itself (T_HELD restarts while they move apart or are one behind the other)."""
    for i in range(tr.shape[0]):
        j = tr[i, T_HOLDER]
        if j < 0 or tr[i, T_LIVE] == 0:
            continue
        stacked, _, _ = _stacking(tr, i, j)
        if not _moving_alike(trf, i, j, _box_size(tr, j)) or not stacked:
            trf[i, T_HELD] = now
        elif now - trf[i, T_HELD] > MERGE_SECONDS:
            _drop(tr, trf, i)


@njit(cache=True, nogil=True)
def _join_halves(n_blobs, tr, trf, owner):
    """Step 8b. An unconfirmed matched track touching an older matched track's box from
    above or below, moving alike, is joined into it at once (its birth footprint becomes the
    pair's while it is unconfirmed: the feet were there, not under the torso)."""
    n_tracks = tr.shape[0]
    for i in range(n_tracks):
        if tr[i, T_LIVE] == 0 or tr[i, T_CONFIRMED] != 0 or tr[i, T_MATCHED] == 0:
            continue
        for j in range(n_tracks):
            if (j == i or tr[j, T_LIVE] == 0 or tr[j, T_MATCHED] == 0 or tr[j, T_HOLDER] >= 0
                    or tr[j, T_ID] > tr[i, T_ID]):
                continue
            stacked, gap, size = _stacking(tr, i, j)
            if not stacked or gap > int(FRAGMENT_MARGIN * max(_box_size(tr, i), _box_size(tr, j))):
                continue
            if not _moving_alike(trf, i, j, size):
                continue
            _grow_box(tr, j, tr[i, T_X0], tr[i, T_Y0], tr[i, T_X1], tr[i, T_Y1])
            if tr[j, T_CONFIRMED] == 0:
                tr[j, T_BX] = (tr[j, T_X0] + tr[j, T_X1]) // 2
                tr[j, T_BY] = max(tr[j, T_BY], tr[i, T_BY])
            _set_footprint(tr, j)
            _hand_over_blobs(owner, n_blobs, i, j)
            _drop(tr, trf, i)
            break


@njit(cache=True, nogil=True)
def _merge_pairs(n_blobs, now, tr, trf, owner):
    """Step 8c. Confirmed matched tracks stacked as torso and legs, moving alike with the
    same older partner (T_PAIR) since T_PAIRED for MERGE_SECONDS, are merged into it."""
    n_tracks = tr.shape[0]
    for i in range(n_tracks):
        if tr[i, T_LIVE] == 0 or tr[i, T_CONFIRMED] == 0 or tr[i, T_MATCHED] == 0 or tr[i, T_HOLDER] >= 0:
            trf[i, T_PAIRED] = -1.0
            continue
        partner = -1
        for j in range(n_tracks):
            if (j == i or tr[j, T_LIVE] == 0 or tr[j, T_CONFIRMED] == 0 or tr[j, T_MATCHED] == 0
                    or tr[j, T_HOLDER] >= 0 or tr[j, T_ID] > tr[i, T_ID]):
                continue
            stacked, gap, size = _stacking(tr, i, j)
            # the gap a torso and legs leave is a share of both
            if not stacked or gap > int(PAIR_GAP * (_box_height(tr, i) + _box_height(tr, j))):
                continue
            if _moving_alike(trf, i, j, size):
                partner = j
                break
        if partner < 0 or partner != tr[i, T_PAIR] or trf[i, T_PAIRED] < 0.0:
            tr[i, T_PAIR] = partner
            trf[i, T_PAIRED] = now if partner >= 0 else -1.0
            continue
        if now - trf[i, T_PAIRED] > MERGE_SECONDS:
            j = partner
            _grow_box(tr, j, tr[i, T_X0], tr[i, T_Y0], tr[i, T_X1], tr[i, T_Y1])
            _set_footprint(tr, j)
            _hand_over_blobs(owner, n_blobs, i, j)
            _drop(tr, trf, i)


@njit(cache=True, nogil=True)
def _spawn(stats, n_blobs, now, tr, trf, owner, next_id):
    """Step 9. A new track in the first free slot for each blob nobody owns (not centred in a
    matched confirmed track's predicted box), with the unowned blobs touching it (pieces of
    one newcomer found on the same frame). Blobs left when the table is full stay unowned.

    next_id: int64 (1,) the next track id, advanced in place. New rows: T_NEW = 1, matched,
    one hit, unconfirmed, born now at their footprint.
    """
    n_tracks = tr.shape[0]
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
        m = int(FRAGMENT_MARGIN * _blob_size(stats, b))
        for b2 in range(b + 1, n_blobs):
            if owner[b2] >= 0:
                continue
            if _touches(stats, b2, stats[b, X0], stats[b, Y0], stats[b, X1], stats[b, Y1], m):
                owner[b2] = i
                _grow_box(tr, i, stats[b2, X0], stats[b2, Y0], stats[b2, X1], stats[b2, Y1])
        tr[i, T_GROUP] = 0
        tr[i, T_INSIDE] = 0
        _set_footprint(tr, i)
        tr[i, T_BX] = tr[i, T_FX]
        tr[i, T_BY] = tr[i, T_FY]
        tr[i, T_LX] = tr[i, T_FX]
        tr[i, T_LY] = tr[i, T_FY]


@njit(cache=True, nogil=True)
def _count_confirmed(tr):
    active = 0
    for i in range(tr.shape[0]):
        if tr[i, T_LIVE] != 0 and tr[i, T_CONFIRMED] != 0:
            active += 1
    return active


@njit(cache=True, nogil=True)
def _update_tracks(stats, n_blobs, now, grace, height, width, tr, trf, owner, next_id, ghost,
                   overlap, own_blob, old_centre, group_blob):
    """Associate this frame's blobs with the tracks (module docstring); returns confirmed
    live tracks. Arrays as in the module docstring and the steps."""
    _expire_and_predict(now, grace, height, width, tr, trf)
    _match(stats, n_blobs, now, grace, tr, trf, overlap, owner, own_blob)
    _find_groups(stats, n_blobs, tr, trf, owner, own_blob, group_blob)
    _follow_blobs(stats, n_blobs, now, height, width, tr, trf, owner, own_blob, old_centre)
    _hold(stats, now, tr, trf, own_blob, group_blob)
    _keep_standing(now, tr, trf)
    _bookkeeping(now, tr, trf, ghost)
    _join_and_merge(n_blobs, now, tr, trf, owner)
    _spawn(stats, n_blobs, now, tr, trf, owner, next_id)
    return _count_confirmed(tr)


@njit(cache=True, nogil=True)
def _protect_targets(tr, trf, ghost_share, max_share, max_speed, width, margin, bits):
    """Mark the boxes of live confirmed tracks standing still (speed at most
    max_speed box sizes per second) with ghost_share <= max_share, grown by
    `margin` pixels, as packed bits. Moving targets need no protection (their
    pixels are young) and one walking off must not shield its own ghost.

    tr, trf: the track table; ghost_share: float64 (T,) (vca.contour);
    bits: uint64 (H, NW) out, packed rows (vca.bits), rewritten whole.
    Returns the number of tracks marked.
    """
    h, nw = bits.shape
    for i in range(h):
        for k in range(nw):
            bits[i, k] = 0
    marked = 0
    for t in range(tr.shape[0]):
        if tr[t, T_LIVE] == 0 or tr[t, T_CONFIRMED] == 0 or ghost_share[t] > max_share:
            continue
        if _speed(trf, t) > max_speed * _box_size(tr, t):
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
        self.owner = np.full(max_blobs, -1, np.int32)
        self._next_id = np.ones(1, np.int64)
        self._no_ghost = np.zeros(max_tracks, np.float64)
        # scratch of one update (module docstring)
        self._overlap = np.zeros((max_tracks, max_blobs), np.float64)
        self._own_blob = np.full(max_tracks, -1, np.int32)
        self._old_centre = np.zeros((max_tracks, 2), np.float64)
        self._group_blob = np.full(max_tracks, -1, np.int32)
        self.active = 0
        self._stats = ArrayContract("stats", np.int64, (None, N_STATS),
                                    "pass the blob finder's statistics rows (vca.blobs.BlobFinder.stats)")
        share = f"pass one share per track slot (vca.contour.ContourEvidence({max_tracks}))"
        self._ghost = ArrayContract("ghost", np.float64, (max_tracks,), share)
        self._share = ArrayContract("ghost_share", np.float64, (max_tracks,), share)
        self._bits, self._bits_width = None, None

    @property
    def max_tracks(self) -> int:
        return self.tr.shape[0]

    def update(self, stats: np.ndarray, n_blobs: int, now: float, ghost: np.ndarray | None = None) -> int:
        """Associate stats[:n_blobs] (vca.blobs rows) at analysed time `now`; returns confirmed
        live tracks. ghost: float64 (max_tracks,) unconfirmed tracks' ghost share
        (vca.contour.ContourEvidence.tentative); None: no evidence, every track a person.
        Blobs past the tracker's max_blobs are ignored."""
        self._stats.check(stats)
        if ghost is not None:
            self._ghost.check(ghost)
        if not 0 <= n_blobs <= stats.shape[0]:
            raise ValueError(f"n_blobs is {n_blobs} but stats has {stats.shape[0]} rows: "
                             "pass the count the blob finder returned")
        n = min(int(n_blobs), self.owner.shape[0])
        self.active = _update_tracks(stats, n, float(now), self.grace, self.height, self.width,
                                     self.tr, self.trf, self.owner, self._next_id,
                                     self._no_ghost if ghost is None else ghost,
                                     self._overlap, self._own_blob, self._old_centre, self._group_blob)
        return self.active

    def protect(self, ghost_share: np.ndarray, max_share: float, max_speed: float, width: int,
                margin: int, bits: np.ndarray) -> int:
        """Write the boxes of live confirmed tracks standing still (at most max_speed box
        sizes per second) whose ghost share is at most max_share, grown by margin px,
        into packed bits (H, NW), NW = words_per_row(width)."""
        self._share.check(ghost_share)
        if width != self._bits_width:
            self._bits = ArrayContract("bits", np.uint64, (None, words_per_row(width)),
                                       f"pass packed rows (vca.bits) of a {width}-pixel-wide frame")
            self._bits_width = width
        self._bits.check(bits)
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
