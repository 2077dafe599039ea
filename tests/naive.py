"""The slow, obvious twins of the kernels, which the tests compare the kernels with.

Written for clarity, not speed, and sharing no code with vca/ or hal/ beyond
constants: plain loops, NumPy whole-array operations, a breadth-first search,
point-in-polygon per pixel, and a tracker with one Python object per track.

    vca.bits / morphology   slow_pack, slow_erode3, slow_dilate3
    vca.blobs               slow_components
    vca.mask                slow_inside, slow_labels, slow_grow
    vca.background          slow_bounds, slow_pass, slow_sample, slow_ghost
    vca.contour             slow_rim_votes
    vca.tracks              ReferenceTracker, slow_protect
    vca.grid                slow_accumulate
    hal.downscale           slow_downscale
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from vca import background as B
from vca import contour as C
from vca import tracks as K
from vca.grid import DT_CAP
from vca.track_table import (N_FLOAT, N_INT, T_BORN, T_BX, T_BY, T_CONFIRMED, T_CREDIT, T_FX, T_FY, T_GROUP, T_INSIDE,
                             T_HELD, T_HITS, T_HOLDER, T_ID, T_LIVE, T_LX, T_LY, T_MATCHED, T_NEW, T_OX, T_OY,
                             T_PAIR, T_PAIRED, T_PX0, T_PX1, T_PY0, T_PY1, T_REAL, T_SEEN, T_TALL, T_VX, T_VY,
                             T_X0, T_X1, T_Y0, T_Y1)


# -- packed rows and morphology -------------------------------------------------------------

def slow_pack(img):
    """Pure-Twin of the packed layout: pixel c at bit c % 64 of word c // 64, padding 0."""
    h, w = img.shape
    padded = np.zeros((h, -(-w // 64) * 64), np.uint8)
    padded[:, :w] = img != 0
    return np.packbits(padded, axis=1, bitorder="little").view("<u8").astype(np.uint64)


def slow_erode3(m):
    """minimum over the 3x3 window, outside counts as 1."""
    p = np.pad(m, 1, constant_values=1)
    h, w = m.shape
    return np.min([p[di:di + h, dj:dj + w] for di in range(3) for dj in range(3)], axis=0)


def slow_dilate3(m):
    """maximum over the 3x3 window, outside counts as 0."""
    p = np.pad(m, 1, constant_values=0)
    h, w = m.shape
    return np.max([p[di:di + h, dj:dj + w] for di in range(3) for dj in range(3)], axis=0)


# -- blobs and areas ------------------------------------------------------------------------

def slow_components(img):
    """Pure-Python BFS, 8-connectivity: list of (area, x0, y0, x1, y1, sumx, sumy)."""
    h, w = img.shape
    seen = np.zeros_like(img, bool)
    out = []
    for y in range(h):
        for x in range(w):
            if img[y, x] and not seen[y, x]:
                q = deque([(y, x)])
                seen[y, x] = True
                pix = []
                while q:
                    cy, cx = q.popleft()
                    pix.append((cy, cx))
                    for dy in (-1, 0, 1):
                        for dx in (-1, 0, 1):
                            ny, nx = cy + dy, cx + dx
                            if 0 <= ny < h and 0 <= nx < w and img[ny, nx] and not seen[ny, nx]:
                                seen[ny, nx] = True
                                q.append((ny, nx))
                ys = [p[0] for p in pix]
                xs = [p[1] for p in pix]
                out.append((len(pix), min(xs), min(ys), max(xs), max(ys), sum(xs), sum(ys)))
    return out


def slow_inside(poly, x, y):
    """PNPOLY crossing-number test, pure Python."""
    inside = False
    n = len(poly)
    j = n - 1
    for i in range(n):
        xi, yi = poly[i]
        xj, yj = poly[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def slow_labels(regions, h, w):
    """Twin of vca.mask.rasterize_areas: labels by the per-pixel test, lowest area first."""
    out = np.zeros((h, w), np.uint8)
    for yy in range(h):
        for xx in range(w):
            cx, cy = (xx + 0.5) / w, (yy + 0.5) / h
            for k, poly in enumerate(regions):
                if slow_inside([(float(a), float(b)) for a, b in poly], cx, cy):
                    out[yy, xx] = k + 1
                    break
    return out


def slow_grow(mask, margin):
    """Twin of vca.mask.grow_mask: every set pixel paints the square of side 2 * margin + 1 around it."""
    out = np.zeros_like(mask)
    for y, x in zip(*np.nonzero(mask)):
        out[max(y - margin, 0):y + margin + 1, max(x - margin, 0):x + margin + 1] = 1
    return out


# -- background model -----------------------------------------------------------------------

def slow_bounds(mean, noise, shift, k8, tmin):
    """Twin of `_bound_pair`: the widest integer interval of luma whose
    SCALE * luma stays within thr = max(k8 / 8 * noise, tmin) of the mean."""
    m, s = mean.astype(np.int64), noise.astype(np.int64)
    thr = np.maximum((s * k8) >> 3, tmin)
    c = m + shift
    lo = np.clip(-((thr - c) // B.SCALE), 0, 255)       # ceil((c - thr) / SCALE)
    hi = np.clip((c + thr) // B.SCALE, 0, 255)
    return lo.astype(np.uint8), hi.astype(np.uint8)


def slow_pass(luma, area, s, offset, clock, now, phase, step, tau, t_abs, min_age, k8, tmin):
    """Twin of `_pass` on a dict of state copies; returns the new dict."""
    s = {k: v.copy() for k, v in s.items()}
    h, w = luma.shape
    x = luma.astype(np.int64)
    xs = x - (offset - s["row_offset"].astype(np.int64))[:, None]
    lo, hi = s["lo"].astype(np.int64), s["hi"].astype(np.int64)
    fg = (((xs < lo) & (lo != 0)) | ((xs > hi) & (hi != 255))) & (area != 0)
    nw = s["raw"].shape[1]
    bits = lambda words: np.unpackbits(words.view(np.uint8), bitorder="little")[:w].astype(bool)
    pack = lambda row: np.packbits(np.pad(row, (0, nw * 64 - w)), bitorder="little").view(np.uint64)
    g = offset * B.SCALE
    for i in range(h):
        if i % step == phase:
            a16 = int(min((1.0 - np.exp(-(clock - s["row_time"][i]) / tau)) * 65536.0, 32767.0))
            last = int(s["row_time"][i] * B.TICKS) & 0xFFFF
            mid = (last + (((int(now) - last) % 65536) >> 1)) % 65536
            s["row_time"][i] = clock
            xg = x[i] * B.SCALE - g
            m, n = s["mean"][i].astype(np.int64), s["noise"][i].astype(np.int64)
            dm = xg - m
            f = fg[i]
            st = np.where(f & bits(s["cont"][i]), s["stamp"][i], np.where(f, mid, now)).astype(np.int64)
            age = (now - st) % 65536
            absorb = f & (age > t_abs)
            keep = f & ~absorb
            m2 = np.where(keep, m, np.where(absorb, xg, m + ((dm * a16) >> 16)))
            n2 = np.where(f, n, np.maximum(n + (((np.minimum(np.abs(dm), 640) - n) * a16) >> 16), 16))
            s["mean"][i], s["noise"][i] = m2, n2
            s["stamp"][i] = np.where(keep, st, now)
            s["lo"][i], s["hi"][i] = slow_bounds(m2, n2, g, k8, tmin)
            s["row_offset"][i] = offset
            s["cont"][i] = ~np.uint64(0)
            s["old"][i] = pack(keep & (age >= min_age))
            fg[i] = keep
            s["raw"][i] = pack(fg[i])
        else:
            s["raw"][i] = pack(fg[i])
            s["cont"][i] &= s["raw"][i]
            s["old"][i] &= s["raw"][i]
    s["rows"] = ((s["raw"] != 0).any(axis=1) * B.RAW_ROW
                 | ((s["raw"] & s["old"]) != 0).any(axis=1) * B.OLD_ROW).astype(np.uint8)
    return s


def slow_sample(luma, area, lo, hi, row_offset, offset, rstep, cstep):
    """Twin of vca.background._sample where no pixel is under a target: (area samples,
    changed samples, median luma - mean over background samples in grey levels rounded
    half away from zero, background samples)."""
    h, w = luma.shape
    sub = np.ix_(np.arange(rstep // 2, h, rstep), np.arange(cstep // 2, w, cstep))
    rows = np.arange(rstep // 2, h, rstep)
    xs = luma[sub].astype(int) - (offset - row_offset[rows].astype(int))[:, None]
    lo, hi = lo[sub].astype(int), hi[sub].astype(int)
    inside = area[sub] != 0
    changed = inside & (((xs < lo) & (lo != 0)) | ((xs > hi) & (hi != 255)))
    use = inside & (lo != 0) & (hi != 255)
    half_levels = np.sort((2 * xs - lo - hi)[use])
    med = half_levels[(len(half_levels) + 1) // 2 - 1]
    shift = int(np.floor(med / 2 + 0.5)) if med >= 0 else -int(np.floor(-med / 2 + 0.5))
    return int(inside.sum()), int(changed.sum()), shift, int(use.sum())


def slow_ghost(luma, raw, old, protect, mean, noise, lo, hi, row_offset, offset, a_g, k8, tmin):
    """Twin of `_ghost`; returns (mean, lo, hi, pulled)."""
    h, w = luma.shape
    unpack = lambda b: np.unpackbits(b.view(np.uint8), axis=1, bitorder="little")[:, :w].astype(bool)
    fg, od = unpack(raw), unpack(old) & ~unpack(protect)
    p = np.pad(fg, 1, constant_values=True)         # outside counts as foreground
    interior = p[:-2, 1:-1] & p[2:, 1:-1] & p[1:-1, :-2] & p[1:-1, 2:]
    mean, lo, hi = mean.copy(), lo.copy(), hi.copy()
    a16 = int(a_g * 65536.0)
    pulled = 0
    for i, j in zip(*np.nonzero(fg & od & ~interior)):
        x = int(luma[i, j])
        match = False
        for qi, qj in ((i, j - 1), (i, j + 1), (i - 1, j), (i + 1, j)):
            if 0 <= qi < h and 0 <= qj < w and not fg[qi, qj]:
                xs = x - (offset - int(row_offset[qi]))
                ql, qh = int(lo[qi, qj]), int(hi[qi, qj])
                match |= (xs >= ql or ql == 0) and (xs <= qh or qh == 255)
        if match:
            m = int(mean[i, j])
            m += ((x * B.SCALE - offset * B.SCALE - m) * a16) >> 16
            mean[i, j] = m
            a, b = slow_bounds(np.array([m]), noise[i, j:j + 1], int(row_offset[i]) * B.SCALE, k8, tmin)
            lo[i, j], hi[i, j] = a[0], b[0]
            pulled += 1
    return mean, lo, hi, pulled


# -- outline evidence -----------------------------------------------------------------------

def slow_rim_votes(luma, mean, fg, x0, y0, x1, y1):
    """Twin of vca.contour._rim_votes: [ghost votes, all votes]."""
    h, w = fg.shape
    ghost = total = 0
    for y in range(max(y0, 0), min(y1, h - 1) + 1, C.ROW_STEP):
        for x in range(max(x0 - 1, C.INSET), min(x1, w - 2 - C.INSET) + 1):
            if fg[y, x] == fg[y, x + 1]:
                continue
            p, q = (x - C.INSET, x + 1 + C.INSET) if fg[y, x] else (x + 1 + C.INSET, x - C.INSET)
            if not fg[y, p] or fg[y, q]:
                continue
            e_f = abs(int(luma[y, p]) - int(luma[y, q])) * C.SCALE
            e_m = abs(int(mean[y, p]) - int(mean[y, q]))
            g = e_m > C.RATIO * e_f and e_m >= C.MIN_EDGE * C.SCALE
            f = e_f > C.RATIO * e_m and e_f >= C.MIN_EDGE * C.SCALE
            ghost += g
            total += g or f
    return [ghost, total]


# -- grid ------------------------------------------------------------------------------------

def slow_accumulate(tr, trf, labels, rows, cols, step, now, grace, cell_last, area_last, acc):
    """Twin of vca.grid._accumulate into dict acc of "v", "d" (cells), "av", "ad" (areas)."""
    h, w = labels.shape
    for i in range(tr.shape[0]):
        if tr[i, T_NEW]:
            cell_last[i] = -1e30
            area_last[i] = -1e30
        if not (tr[i, T_LIVE] and tr[i, T_MATCHED] and tr[i, T_CONFIRMED]):
            continue
        fx, fy, lx, ly = tr[i, T_FX], tr[i, T_FY], tr[i, T_LX], tr[i, T_LY]
        rel = np.float32(now - trf[i, T_BORN])

        def visit(x, y):
            k = labels[y, x]
            if not k:
                return None
            c = (y * rows // h) * cols + x * cols // w
            for table, idx, key in ((cell_last, c, "v"), (area_last, k, "av"), (area_last, 0, "av")):
                if rel - table[i, idx] > grace:
                    acc[key][idx] += 1
                table[i, idx] = rel
            return c, k

        # the path, sampled every `step` px (floor division towards the start), then the footprint;
        # the credit is shared by the samples after the first (the previous footprint)
        n = int(max(abs(fx - lx), abs(fy - ly)) / step)
        share = min(trf[i, T_CREDIT], DT_CAP) / max(n, 1)
        hits = [visit(lx + (fx - lx) * s // n, ly + (fy - ly) * s // n) for s in range(n)]
        hits = hits[1:] + [visit(fx, fy)]
        for c, k in filter(None, hits):
            acc["d"][c] += share
            acc["ad"][k] += share
            acc["ad"][0] += share


# -- downscale -------------------------------------------------------------------------------

def slow_downscale(src: np.ndarray, f: int) -> np.ndarray:
    """Twin of `_area_downscale`: block means, rounded half up."""
    oh, ow = src.shape[0] // f, src.shape[1] // f
    blocks = src[:oh * f, :ow * f].astype(np.int64).reshape(oh, f, ow, f)
    return ((blocks.sum(axis=(1, 3)) + (f * f) // 2) // (f * f)).astype(np.uint8)


# -- tracks ----------------------------------------------------------------------------------

def slow_protect(tr, trf, share, max_share, max_speed, w, margin, shape):
    """Pure Twin of _protect_targets: a 0/1 image of the marked pixels."""
    img = np.zeros(shape, np.uint8)
    for t in range(tr.shape[0]):
        if not tr[t, T_LIVE] or not tr[t, T_CONFIRMED] or share[t] > max_share:
            continue
        size = max(tr[t, T_X1] - tr[t, T_X0] + 1, tr[t, T_Y1] - tr[t, T_Y0] + 1)
        if np.hypot(trf[t, T_VX], trf[t, T_VY]) > max_speed * size:
            continue
        img[max(tr[t, T_Y0] - margin, 0):tr[t, T_Y1] + margin + 1,
            max(tr[t, T_X0] - margin, 0):min(tr[t, T_X1] + margin, w - 1) + 1] = 1
    return img


@dataclass
class Track:
    """One target of the reference tracker (names as the vca.track_table columns)."""

    id: int
    x0: int
    y0: int
    x1: int
    y1: int
    born: float
    fx: int = 0
    fy: int = 0
    bx: int = 0              # birth footprint
    by: int = 0
    lx: int = 0              # footprint on the previous credited frame
    ly: int = 0
    hits: int = 1
    confirmed: bool = False
    matched: bool = True
    new: bool = True
    holder: int = -1         # slot of the track hiding this one, this frame
    pair: int = -1
    group: bool = False
    seen: float = 0.0
    credit: float = 0.0
    vx: float = 0.0
    vy: float = 0.0
    px0: float | None = None  # predicted box (none yet on the frame it is born)
    py0: float | None = None
    px1: float | None = None
    py1: float | None = None
    held: float = -1.0
    paired: float = -1.0
    ox: float = 0.0
    oy: float = 0.0
    real: float = 0.0
    tall: float = 0.0
    inside: bool = False     # whole and clear of every frame edge at some time since birth

    @property
    def width(self):
        return self.x1 - self.x0 + 1

    @property
    def height(self):
        return self.y1 - self.y0 + 1

    @property
    def size(self):
        return max(self.width, self.height)

    def speed(self):
        return math.sqrt(self.vx * self.vx + self.vy * self.vy)

    def take_box(self, x0, y0, x1, y1):
        self.x0, self.y0, self.x1, self.y1 = x0, y0, x1, y1

    def grow_to(self, x0, y0, x1, y1):
        self.take_box(min(self.x0, x0), min(self.y0, y0), max(self.x1, x1), max(self.y1, y1))

    def set_footprint(self):
        self.fx, self.fy = (self.x0 + self.x1) // 2, self.y1

    def predicted_top(self):
        """Top of the predicted box made as tall as the track was lately."""
        return min(self.py0, self.py1 + 1.0 - self.tall)

    def place_inside(self, bx0, by0, bx1, by1):
        """Own predicted box, own size, moved inside the box (bx0..bx1, by0..by1)."""
        w = self.px1 - self.px0
        h = self.py1 - self.py0
        x0 = min(max(self.px0, float(bx0)), max(bx1 - w, float(bx0)))
        y0 = min(max(self.py0, float(by0)), max(by1 - h, float(by0)))
        self.take_box(int(round(x0)), int(round(y0)), min(int(round(x0 + w)), bx1), min(int(round(y0 + h)), by1))


@dataclass
class Blob:
    x0: int
    y0: int
    x1: int
    y1: int
    fx: int
    fy: int

    @property
    def size(self):
        return max(self.x1 - self.x0 + 1, self.y1 - self.y0 + 1)

    def touches(self, x0, y0, x1, y1, m):
        return self.x0 <= x1 + m and self.x1 >= x0 - m and self.y0 <= y1 + m and self.y1 >= y0 - m


def iou(t, b):
    """Intersection over union of track t's predicted box and blob b's box (pixel counts)."""
    iw = min(t.px1, b.x1) - max(t.px0, b.x0) + 1
    ih = min(t.py1, b.y1) - max(t.py0, b.y0) + 1
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    a = (t.px1 - t.px0 + 1) * (t.py1 - t.py0 + 1)
    return inter / (a + (b.x1 - b.x0 + 1) * (b.y1 - b.y0 + 1) - inter)


def stacking(a, b):
    """(one above the other, rows between them, larger side of the box around both)."""
    ox = min(a.x1, b.x1) - max(a.x0, b.x0) + 1
    oy = min(a.y1, b.y1) - max(a.y0, b.y0) + 1
    stacked = ox * 2 >= min(a.width, b.width) and oy * 4 <= min(a.height, b.height)
    return stacked, -oy, max(a.width, b.width, a.height + b.height - oy)


def moving_alike(a, b, size):
    dvx, dvy = a.vx - b.vx, a.vy - b.vy
    return math.sqrt(dvx * dvx + dvy * dvy) <= K.SAME_VELOCITY * size


class ReferenceTracker:
    """Twin of vca.tracks.Tracker: the rules of its module docstring, step by step, with a
    list of Track objects (None: a free slot) and dictionaries instead of scratch arrays.

    `table()` gives the kernel's (tr, trf) rows for comparison: live slots in full (a
    track born this frame has no predicted box yet: NaN), free slots as zeros.
    """

    def __init__(self, max_tracks=64, max_blobs=256, grace=K.GRACE_SECONDS, height=1 << 20, width=1 << 20):
        self.slots: list[Track | None] = [None] * max_tracks
        self.max_blobs, self.grace, self.height, self.width = max_blobs, grace, height, width
        self.next_id = 1
        self.owner: list[int] = []

    def live(self):
        return [(i, t) for i, t in enumerate(self.slots) if t is not None]

    def drop(self, i):
        self.slots[i] = None

    def update(self, stats, n_blobs, now, ghost=None):
        from vca.blobs import FX, FY, X0, X1, Y0, Y1
        blobs = [Blob(int(r[X0]), int(r[Y0]), int(r[X1]), int(r[Y1]), int(r[FX]), int(r[FY]))
                 for r in stats[:min(n_blobs, self.max_blobs)]]
        ghost = [0.0] * len(self.slots) if ghost is None else list(ghost)
        self.expire_and_predict(now)
        owner, own = self.match(blobs, now)
        group_blob = self.find_groups(blobs, owner, own)
        self.follow(blobs, owner, own, now)
        self.hold(blobs, own, group_blob, now)
        self.keep_standing(now)
        self.bookkeeping(now, ghost)
        self.merge_held(now)
        self.join_halves(owner)
        self.merge_pairs(owner, now)
        self.spawn(blobs, owner, now)
        self.owner = owner
        return sum(1 for _, t in self.live() if t.confirmed)

    # 1
    def expire_and_predict(self, now):
        for i, t in self.live():
            t.matched = t.new = t.group = False
            t.holder = -1
            t.credit = 0.0
            lost = now - t.seen
            if lost > (self.grace if t.confirmed else K.TENTATIVE_GRACE) or now - t.real > K.STILL_GRACE:
                self.drop(i)
                continue
            t.px0, t.px1 = t.x0 + t.vx * lost, t.x1 + t.vx * lost
            t.py0, t.py1 = t.y0 + t.vy * lost, t.y1 + t.vy * lost
            cx, cy = 0.5 * (t.px0 + t.px1), 0.5 * (t.py0 + t.py1)
            if not (0.0 <= cx <= self.width - 1.0 and 0.0 <= cy <= self.height - 1.0):
                self.drop(i)

    # 2
    def match(self, blobs, now):
        owner = [-1] * len(blobs)
        own = {}
        for confirmed in (True, False):
            members = [(i, t) for i, t in self.live() if t.confirmed == confirmed]
            # a: highest overlap first; ties: lowest slot, then lowest blob
            pairs = sorted((-iou(t, b), i, k) for i, t in members for k, b in enumerate(blobs))
            for neg, i, k in pairs:
                if -neg > 0.0 and i not in own and owner[k] < 0:
                    own[i], owner[k] = k, i
                    self.slots[i].matched = True
            # b: nearest footprint within the gate; ties: highest slot, then highest blob
            near = []
            for i, t in members:
                if i in own:
                    continue
                gate = t.size * (K.GATE_BASE + K.GATE_PER_SECOND * min(now - t.real, self.grace))
                for k, b in enumerate(blobs):
                    dx, dy = b.fx - 0.5 * (t.px0 + t.px1), b.fy - t.py1
                    rel = math.sqrt(dx * dx + dy * dy) / gate
                    if rel <= 1.0:
                        near.append((rel, -i, -k))
            for rel, i, k in sorted(near):
                i, k = -i, -k
                if i not in own and owner[k] < 0:
                    own[i], owner[k] = k, i
                    self.slots[i].matched = True
            # c: fragments, first matched track of this class in slot order
            for k, b in enumerate(blobs):
                if owner[k] >= 0:
                    continue
                for i, t in members:
                    if i not in own:
                        continue
                    p = blobs[own[i]]
                    m = int(K.FRAGMENT_MARGIN * max(p.size, t.size))
                    tall = max(t.tall, float(p.y1 - p.y0 + 1))
                    if max(b.y1, p.y1) - min(b.y0, p.y0) + 1 > K.FRAGMENT_GROWTH * tall:
                        continue
                    if b.touches(p.x0, p.y0, p.x1, p.y1, m) or (self.within_predicted(b, t) and columns_overlap(b, p)):
                        owner[k] = i
                        break
        return owner, own

    @staticmethod
    def within_predicted(b, t):
        iw = min(float(b.x1), t.px1) - max(float(b.x0), t.px0) + 1.0
        ih = min(float(b.y1), t.py1) - max(float(b.y0), t.predicted_top()) + 1.0
        return iw > 0.0 and ih > 0.0 and iw * ih >= K.WITHIN_SHARE * (b.x1 - b.x0 + 1) * (b.y1 - b.y0 + 1)

    # 3
    def find_groups(self, blobs, owner, own):
        group_blob = {}
        for i, t in self.live():
            if not t.confirmed or i in own:
                continue
            area = (t.px1 - t.px0 + 1.0) * (t.py1 - t.py0 + 1.0)
            for k, b in enumerate(blobs):
                j = owner[k]
                if j < 0 or j == i or not self.slots[j].confirmed:
                    continue
                iw = min(t.px1, b.x1) - max(t.px0, b.x0) + 1.0
                ih = min(t.py1, b.y1) - max(t.py0, b.y0) + 1.0
                if iw > 0.0 and ih > 0.0 and iw * ih >= K.HOLD_SHARE * area:
                    t.holder, t.group, self.slots[j].group = j, True, True
                    group_blob[i] = k
                    break
        return group_blob

    # 4
    def follow(self, blobs, owner, own, now):
        centre = {}
        for i, k in own.items():
            t, b = self.slots[i], blobs[k]
            centre[i] = (0.5 * (t.x0 + t.x1), 0.5 * (t.y0 + t.y1))
            t.take_box(b.x0, b.y0, b.x1, b.y1)
        for k, i in enumerate(owner):
            if i >= 0 and own[i] != k:
                b = blobs[k]
                self.slots[i].grow_to(b.x0, b.y0, b.x1, b.y1)
        for i in sorted(own):
            t = self.slots[i]
            if t.group:
                t.place_inside(t.x0, t.y0, t.x1, t.y1)
                continue
            dt = now - t.seen
            if dt > 0.0:
                vmax = K.MAX_SPEED * t.size
                vx = min(max((0.5 * (t.x0 + t.x1) - centre[i][0]) / dt, -vmax), vmax)
                vy = min(max((0.5 * (t.y0 + t.y1) - centre[i][1]) / dt, -vmax), vmax)
                a = 1.0 - math.exp(-dt / K.VELOCITY_TAU)
                t.vx += a * (vx - t.vx)
                t.vy += a * (vy - t.vy)
                ex, ey = self.edge_normal(t)
                if (ex, ey) != (0, 0):
                    out = t.vx * ex + t.vy * ey
                    if t.inside and out > t.ox * ex + t.oy * ey:   # walking out, not still entering
                        t.ox, t.oy = out * ex, out * ey
                else:
                    fade = math.exp(-dt / K.EDGE_MEMORY)
                    t.ox *= fade
                    t.oy *= fade
                if (t.x0 > 1 and t.y0 > 1 and t.x1 < self.width - 2 and t.y1 < self.height - 2
                        and 4 * t.height >= 3 * t.tall):
                    t.inside = True      # walked in: from now on it can walk out
                o = math.sqrt(t.ox * t.ox + t.oy * t.oy)
                if t.confirmed and o > K.EDGE_TURN * t.size:
                    if (t.vx * t.ox + t.vy * t.oy) / o < -K.EDGE_TURN * t.size:   # walked back in
                        self.drop(i)
                        owner[:] = [-1 if j == i else j for j in owner]
                        del own[i]
                        continue
            t.held = -1.0

    def edge_normal(self, t):
        if t.x1 >= self.width - 2:
            return 1, 0
        if t.x0 <= 1:
            return -1, 0
        if t.y1 >= self.height - 2:
            return 0, 1
        if t.y0 <= 1:
            return 0, -1
        return 0, 0

    # 5
    def hold(self, blobs, own, group_blob, now):
        for i, t in self.live():
            if t.holder < 0:
                if i not in own:
                    t.held = -1.0
                continue
            if self.slots[t.holder] is None:
                t.holder, t.held = -1, -1.0
                continue
            b = blobs[group_blob[i]]
            t.place_inside(b.x0, b.y0, b.x1, b.y1)
            if t.held < 0.0:
                t.held = now
            t.matched = True

    # 6
    def keep_standing(self, now):
        for _, t in self.live():
            if t.matched:
                t.real = now
            elif t.confirmed and t.speed() <= K.STILL_SPEED * t.size:
                t.matched = True

    # 7
    def bookkeeping(self, now, ghost):
        for i, t in self.live():
            if not t.matched:
                continue
            if t.confirmed:
                t.lx, t.ly = t.fx, t.fy
            t.set_footprint()
            t.hits += 1
            t.tall = max(float(t.height), t.tall * math.exp(-(now - t.seen) / K.TALL_MEMORY))
            if t.confirmed:
                t.credit = now - t.seen
            elif t.hits >= K.CONFIRM_HITS and now - t.born >= K.CONFIRM_SECONDS:
                dx, dy = float(t.fx - t.bx), float(t.fy - t.by)
                moved = math.sqrt(dx * dx + dy * dy)
                if moved >= K.MOVE_SHARE * t.size and ghost[i] <= K.CONFIRM_GHOST:
                    t.confirmed = True
                    t.credit = now - t.born
                    t.lx, t.ly = t.bx, t.by
            t.seen = now

    # 8a
    def merge_held(self, now):
        for i, t in self.live():
            if t.holder < 0 or self.slots[i] is None:
                continue
            holder = self.slots[t.holder]
            stacked, _, _ = stacking(t, holder)
            if not moving_alike(t, holder, holder.size) or not stacked:
                t.held = now
            elif now - t.held > K.MERGE_SECONDS:
                self.drop(i)

    # 8b
    def join_halves(self, owner):
        for i, t in self.live():
            if self.slots[i] is None or t.confirmed or not t.matched:
                continue
            for j, older in self.live():
                if j == i or not older.matched or older.holder >= 0 or older.id > t.id:
                    continue
                stacked, gap, size = stacking(t, older)
                if not stacked or gap > int(K.FRAGMENT_MARGIN * max(t.size, older.size)):
                    continue
                if not moving_alike(t, older, size):
                    continue
                older.grow_to(t.x0, t.y0, t.x1, t.y1)
                if not older.confirmed:
                    older.bx, older.by = (older.x0 + older.x1) // 2, max(older.by, t.by)
                older.set_footprint()
                owner[:] = [j if k == i else k for k in owner]
                self.drop(i)
                break

    # 8c
    def merge_pairs(self, owner, now):
        for i, t in self.live():
            if self.slots[i] is None:
                continue
            if not (t.confirmed and t.matched and t.holder < 0):
                t.paired = -1.0
                continue
            partner = -1
            for j, other in self.live():
                if (j == i or not other.confirmed or not other.matched or other.holder >= 0
                        or other.id > t.id):
                    continue
                stacked, gap, size = stacking(t, other)
                if stacked and gap <= int(K.PAIR_GAP * (t.height + other.height)) and moving_alike(t, other, size):
                    partner = j
                    break
            if partner < 0 or partner != t.pair or t.paired < 0.0:
                t.pair = partner
                t.paired = now if partner >= 0 else -1.0
            elif now - t.paired > K.MERGE_SECONDS:
                older = self.slots[partner]
                older.grow_to(t.x0, t.y0, t.x1, t.y1)
                older.set_footprint()
                owner[:] = [partner if k == i else k for k in owner]
                self.drop(i)

    # 9
    def spawn(self, blobs, owner, now):
        for k, b in enumerate(blobs):
            if owner[k] >= 0 or self.inside_confirmed(b):
                continue
            free = [i for i, t in enumerate(self.slots) if t is None]
            if not free:
                break
            i = free[0]
            t = Track(self.next_id, b.x0, b.y0, b.x1, b.y1, born=now, seen=now, real=now)
            self.next_id += 1
            self.slots[i] = t
            owner[k] = i
            m = int(K.FRAGMENT_MARGIN * b.size)
            for k2 in range(k + 1, len(blobs)):
                b2 = blobs[k2]
                if owner[k2] < 0 and b2.touches(b.x0, b.y0, b.x1, b.y1, m):
                    owner[k2] = i
                    t.grow_to(b2.x0, b2.y0, b2.x1, b2.y1)
            t.set_footprint()
            t.bx, t.by = t.lx, t.ly = t.fx, t.fy

    def inside_confirmed(self, b):
        cx, cy = 0.5 * (b.x0 + b.x1), 0.5 * (b.y0 + b.y1)
        return any(t.confirmed and t.matched and t.px0 <= cx <= t.px1 and t.predicted_top() <= cy <= t.py1
                   for _, t in self.live())

    def table(self):
        """(tr, trf) as the kernel would hold them; rows of free slots are zero, a new
        track's predicted box NaN."""
        tr = np.zeros((len(self.slots), N_INT), np.int64)
        trf = np.zeros((len(self.slots), N_FLOAT), np.float64)
        for i, t in self.live():
            tr[i, [T_ID, T_LIVE, T_X0, T_Y0, T_X1, T_Y1, T_FX, T_FY, T_HITS, T_CONFIRMED, T_MATCHED, T_NEW,
                   T_BX, T_BY, T_LX, T_LY, T_HOLDER, T_PAIR, T_GROUP, T_INSIDE]] = (
                t.id, 1, t.x0, t.y0, t.x1, t.y1, t.fx, t.fy, t.hits, t.confirmed, t.matched, t.new,
                t.bx, t.by, t.lx, t.ly, t.holder, t.pair, t.group, t.inside)
            trf[i, [T_BORN, T_SEEN, T_CREDIT, T_VX, T_VY, T_HELD, T_PAIRED, T_OX, T_OY, T_REAL, T_TALL]] = (
                t.born, t.seen, t.credit, t.vx, t.vy, t.held, t.paired, t.ox, t.oy, t.real, t.tall)
            trf[i, [T_PX0, T_PY0, T_PX1, T_PY1]] = np.nan if t.new else (t.px0, t.py0, t.px1, t.py1)
        return tr, trf


def columns_overlap(a, b):
    """Do blobs a and b share at least half the narrower one's columns?"""
    ox = min(a.x1, b.x1) - max(a.x0, b.x0) + 1
    return ox * 2 >= min(a.x1 - a.x0 + 1, b.x1 - b.x0 + 1)


def kernel_view(tr, trf):
    """The kernel's (tr, trf) as `ReferenceTracker.table` shows them: free slots zero (the
    kernel leaves old values there, which nothing reads), a new track's predicted box NaN."""
    tr, trf = tr.copy(), trf.copy()
    free = tr[:, T_LIVE] == 0
    tr[free] = 0
    trf[free] = 0.0
    trf[tr[:, T_NEW] != 0, T_PX0:T_PY1 + 1] = np.nan
    return tr, trf
