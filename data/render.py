"""A scene (data.scenes) rendered: its ground truth from the geometry alone, and its frames.

The truth (one box per target per visible frame) comes from the scene's
scripts, never from the pixels, so it is exact and does not depend on the
encoder. The frames are a textured room (tiled floor, back wall,
furniture), person-sized targets walking the scripted routes, temporal
sensor noise and any brightness steps, as yuv420p arrays for the encoder
(data/make_samples.py).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np

from data.scenes import FPS, HEIGHT, WIDTH, Furniture, Look, Scene, Walker

NOISE_SIGMA = 6.0  # temporal Gaussian sensor noise before encoding, grey levels
NOISE_CELL = 2     # grain size in pixels (divides WIDTH and HEIGHT)
SWAY_PERIOD = 7.0  # s, one side-to-side drift of a browsing walker (Walker.sway)


def scale_at(y: float) -> float:
    """Perspective: a target whose feet are on row y is this much its base size."""
    return 0.85 + 0.30 * y / HEIGHT


# --------------------------------------------------------------------------
# Trajectories and truth (pure geometry, no pixels)
# --------------------------------------------------------------------------

@dataclass
class Pose:
    x: float  # footprint, pixels
    y: float
    walked: float  # distance so far, drives the leg swing
    standing: bool


def walker_poses(w: Walker, frames: int) -> list[Pose | None]:
    """Footprint per frame (None before the start and after the route ends)."""
    # Timeline of segments: (t0, t1, from, to, walked0); a stop has from == to.
    segs = []
    t = w.start
    walked = 0.0
    pts = w.route
    for i in range(len(pts) - 1):
        (xa, ya, _), (xb, yb, stop) = pts[i], pts[i + 1]
        d = math.hypot(xb - xa, yb - ya)
        dt = d / w.speed
        segs.append((t, t + dt, (xa, ya), (xb, yb), walked))
        t += dt
        walked += d
        if stop > 0:
            segs.append((t, t + stop, (xb, yb), (xb, yb), walked))
            t += stop
    poses: list[Pose | None] = []
    for f in range(frames):
        tf = f / FPS
        pose = None
        for t0, t1, a, b, walked0 in segs:
            if t0 <= tf < t1:
                u = (tf - t0) / (t1 - t0)
                x = a[0] + u * (b[0] - a[0])
                y = a[1] + u * (b[1] - a[1])
                standing = a == b
                if standing and w.sway:
                    # browsing: drift side to side, starting and ending where the stop is
                    x += w.sway * math.sin(2 * math.pi * (tf - t0) / SWAY_PERIOD) * min(1.0, (t1 - tf) / 2)
                pose = Pose(x, y, walked0 + (0.0 if standing else math.hypot(x - a[0], y - a[1])), standing)
                break
        poses.append(pose)
    return poses


def box_for(w: Walker, pose: Pose) -> tuple[int, int, int, int, int, int]:
    """Unclipped integer box (x0, y0, x1, y1) and sprite size (bw, bh) for a pose."""
    s = scale_at(pose.y)
    bw = int(round(w.size[0] * s))
    bh = int(round(w.size[1] * s))
    x0 = int(math.floor(pose.x - bw / 2 + 0.5))
    y1 = int(math.floor(pose.y + 0.5)) + 1
    return x0, y1 - bh, x0 + bw, y1, bw, bh


def clip_box(x0: int, y0: int, x1: int, y1: int) -> tuple[int, int, int, int] | None:
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, WIDTH), min(y1, HEIGHT)
    if cx0 >= cx1 or cy0 >= cy1:
        return None
    return cx0, cy0, cx1, cy1


def build_truth(scene: Scene, frames: int | None = None) -> dict:
    """The ground-truth document for `scene` (first `frames` frames)."""
    n = scene.frames if frames is None else frames
    targets = []
    for w in scene.walkers:
        _check_route(scene, w)
        boxes, stops = [], []
        prev_standing = False
        for f, pose in enumerate(walker_poses(w, n)):
            if pose is None:
                prev_standing = False
                continue
            x0, y0, x1, y1, _, _ = box_for(w, pose)
            clipped = clip_box(x0, y0, x1, y1)
            if clipped is None:
                continue
            boxes.append([f, *clipped])
            if pose.standing:
                if prev_standing:
                    stops[-1][1] = f
                else:
                    stops.append([f, f])
            prev_standing = pose.standing
        if boxes:
            targets.append({"id": w.id, "look": w.look.kind, "stops": stops, "boxes": boxes})
    events = [
        {"frame": int(round(t * FPS)), "type": "brightness_step", "delta": d}
        for t, d in scene.brightness_steps
        if int(round(t * FPS)) < n
    ] + [
        {"frame": int(round(t0 * FPS)), "type": "exposure_ramp", "frames": int(round((t1 - t0) * FPS)), "delta": d}
        for t0, t1, d in scene.exposure_ramps
        if int(round(t0 * FPS)) < n
    ]
    return {
        "name": scene.name,
        "description": scene.description,
        "fps": FPS,
        "width": WIDTH,
        "height": HEIGHT,
        "frames": n,
        "region": [list(p) for p in scene.region],
        "events": events,
        "targets": targets,
    }


def _check_route(scene: Scene, w: Walker) -> None:
    for x, y, _ in (w.route[0], w.route[-1]):
        pose = Pose(x, y, 0.0, False)
        if clip_box(*box_for(w, pose)[:4]) is not None:
            raise ValueError(
                f"{scene.name}: walker {w.id} starts or ends inside the frame at ({x}, {y}); "
                "move the first/last waypoint off-screen"
            )


def truth_json(truth: dict) -> str:
    """Readable JSON with one box per line (indent=2 would put every number on its own)."""
    head = {k: v for k, v in truth.items() if k != "targets"}
    lines = ["{"]
    for k, v in head.items():
        lines.append(f"  {json.dumps(k)}: {json.dumps(v)},")
    lines.append('  "targets": [')
    for ti, t in enumerate(truth["targets"]):
        lines.append("    {")
        lines.append(f'      "id": {t["id"]}, "look": {json.dumps(t["look"])}, "stops": {json.dumps(t["stops"])},')
        lines.append('      "boxes": [')
        for bi, b in enumerate(t["boxes"]):
            sep = "," if bi < len(t["boxes"]) - 1 else ""
            lines.append(f"        {json.dumps(b)}{sep}")
        lines.append("      ]")
        lines.append("    }" + ("," if ti < len(truth["targets"]) - 1 else ""))
    lines.append("  ]")
    lines.append("}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------
# Pixels
# --------------------------------------------------------------------------

def _smooth_noise(rng: np.random.Generator, h: int, w: int, cell: int) -> np.ndarray:
    """Blotchy static texture in -1..1: coarse random grid upsampled bilinearly."""
    gh, gw = h // cell + 2, w // cell + 2
    g = rng.uniform(-1.0, 1.0, (gh, gw)).astype(np.float32)
    ys = np.arange(h, dtype=np.float32) / cell
    xs = np.arange(w, dtype=np.float32) / cell
    y0, x0 = ys.astype(int), xs.astype(int)
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
    a = g[y0][:, x0]
    b = g[y0][:, x0 + 1]
    c = g[y0 + 1][:, x0]
    d = g[y0 + 1][:, x0 + 1]
    return (a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy


def render_background(scene: Scene) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Static room: (Y, U, V) float32, all (HEIGHT, WIDTH)."""
    rng = np.random.default_rng(scene.seed)
    Y = np.empty((HEIGHT, WIDTH), np.float32)
    U = np.empty_like(Y)
    V = np.empty_like(Y)
    wb = scene.wall_bottom

    # Back wall: plaster blotches and a skirting board.
    Y[:wb] = scene.wall_luma + 5 * _smooth_noise(rng, wb, WIDTH, 24)
    Y[wb - 4:wb] = scene.wall_luma - 25
    U[:wb], V[:wb] = scene.wall_uv

    # Floor: tiles that shrink towards the wall, each a slightly different
    # shade, with darker grout lines and a fine stone grain.
    rows = np.arange(wb, HEIGHT, dtype=np.float32)
    depth = (rows - wb) / (HEIGHT - wb)  # 0 at the wall, 1 at the bottom
    persp = 0.45 + 0.55 * depth
    tw, th = scene.tile
    # Tile row index grows with the integral of 1/persp so tiles get shorter far away.
    row_coord = np.cumsum(1.0 / (th * persp))
    xs = np.arange(WIDTH, dtype=np.float32) - WIDTH / 2
    col_coord = xs[None, :] / (tw * persp[:, None])
    ri = np.floor(row_coord).astype(int)[:, None]
    ci = np.floor(col_coord).astype(int)
    shade = rng.uniform(-7, 7, (ri.max() + 2, 64)).astype(np.float32)
    floor = scene.floor_luma + shade[ri, (ci + 32) % 64]
    gx = np.abs(col_coord - np.round(col_coord)) * tw * persp[:, None]
    gy = np.abs(row_coord - np.round(row_coord))[:, None] * th * persp[:, None]
    grout = (gx < 1.0) | (gy < 1.0)
    floor = np.where(grout, floor - 18, floor)
    floor += 3 * _smooth_noise(rng, HEIGHT - wb, WIDTH, 3)
    Y[wb:] = floor
    U[wb:], V[wb:] = scene.floor_uv

    for item in scene.furniture:
        _draw_furniture(Y, U, V, item, rng)

    # Lens vignetting: corners a little darker.
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    r2 = ((xx - WIDTH / 2) / (WIDTH / 2)) ** 2 + ((yy - HEIGHT / 2) / (HEIGHT / 2)) ** 2
    Y *= 1.0 - 0.10 * r2 / 2
    return Y, U, V


def _draw_furniture(Y: np.ndarray, U: np.ndarray, V: np.ndarray, f: Furniture, rng: np.random.Generator) -> None:
    x0, y0, x1, y1 = f.box
    h, w = y1 - y0, x1 - x0
    sl = (slice(y0, y1), slice(x0, x1))
    if f.kind == "shelf":
        # Uprights, boards, and rows of goods in varied shades and colours.
        Y[sl] = f.luma
        for by in range(y0 + 4, y1, 22):
            Y[by:by + 3, x0:x1] = f.luma - 20
            gx = x0 + 4
            while gx < x1 - 6:
                gw = int(rng.integers(5, 12))
                gh = int(rng.integers(8, 18))
                top = max(by - gh, y0)
                Y[top:by, gx:min(gx + gw, x1 - 3)] = f.luma + rng.uniform(-35, 45)
                U[top:by, gx:min(gx + gw, x1 - 3)] = 128 + rng.uniform(-18, 18)
                V[top:by, gx:min(gx + gw, x1 - 3)] = 128 + rng.uniform(-18, 18)
                gx += gw + 2
        Y[y0:y1, x0:x0 + 3] = f.luma - 30
        Y[y0:y1, x1 - 3:x1] = f.luma - 30
    elif f.kind == "counter":
        Y[sl] = f.luma + 6 * _smooth_noise(rng, h, w, 8)
        Y[y0:y0 + 5, x0:x1] = f.luma + 30  # lit worktop edge
        Y[y1 - 3:y1, x0:x1] = f.luma - 35  # shadow on the floor line
        U[sl], V[sl] = 120, 136
    elif f.kind == "plant":
        cy, cx = y0 + h * 0.35, (x0 + x1) / 2
        yy, xx = np.mgrid[y0:y1, x0:x1]
        leaves = ((yy - cy) / (h * 0.35)) ** 2 + ((xx - cx) / (w * 0.5)) ** 2 <= 1.0
        pot = (yy >= y0 + h * 0.65) & (np.abs(xx - cx) <= w * 0.3)
        tex = 12 * _smooth_noise(rng, h, w, 3)
        Y[sl] = np.where(leaves, f.luma + tex, np.where(pot, f.luma + 40, Y[sl]))
        U[sl] = np.where(leaves, 110, np.where(pot, 122, U[sl]))
        V[sl] = np.where(leaves, 115, np.where(pot, 140, V[sl]))
    elif f.kind == "door":
        Y[sl] = f.luma + 4 * _smooth_noise(rng, h, w, 10)
        Y[y0:y1, x0:x0 + 3] = f.luma - 25
        Y[y0:y1, x1 - 3:x1] = f.luma - 25
        Y[y0:y0 + 3, x0:x1] = f.luma - 25
        Y[y0 + h // 2:y0 + h // 2 + 3, x1 - 10:x1 - 5] = f.luma + 60  # handle
    elif f.kind == "window":
        Y[sl] = f.luma
        Y[y0:y1, (x0 + x1) // 2 - 1:(x0 + x1) // 2 + 1] = f.luma - 60
        Y[(y0 + y1) // 2 - 1:(y0 + y1) // 2 + 1, x0:x1] = f.luma - 60
        U[sl], V[sl] = 132, 124
    elif f.kind == "poster":
        Y[sl] = f.luma + 25 * _smooth_noise(rng, h, w, 6)
        U[sl] = 128 + 20 * _smooth_noise(rng, h, w, 9)
        V[sl] = 128 + 20 * _smooth_noise(rng, h, w, 9)
    elif f.kind == "bench":
        Y[sl] = f.luma
        for sx in range(x0, x1, 9):
            Y[y0:y0 + h // 2, sx:sx + 1] = f.luma - 25  # slats
        Y[y0 + h // 2:y1, x0 + 3:x0 + 7] = f.luma - 40
        Y[y0 + h // 2:y1, x1 - 7:x1 - 3] = f.luma - 40
    else:
        raise ValueError(f"unknown furniture kind {f.kind!r}")


def person_sprite(bw: int, bh: int, swing: float, look: Look, tex: np.ndarray):
    """A person filling exactly the (bh, bw) box: (Y, U, V, mask) arrays.

    Head touches the top row, shoulders/arms the first and last columns, a
    foot the bottom row, so the drawn extent equals the truth box.
    swing: -1..1, leg stride position.
    """
    yy, xx = np.mgrid[0:bh, 0:bw].astype(np.float32)
    py, px = yy + 0.5, xx + 0.5
    cx = bw / 2
    r = 0.085 * bh
    head = (px - cx) ** 2 + (py - r) ** 2 <= r * r
    neck = (py >= 2 * r - 1) & (py < 2 * r + 3) & (np.abs(px - cx) <= 0.15 * bw)
    hip = 0.56 * bh
    arms_end = 0.50 * bh
    shoulders = 2 * r + 2
    half = np.where(py < arms_end, bw / 2, 0.36 * bw)
    torso = (py >= shoulders) & (py < hip) & (np.abs(px - cx) <= half)
    legs = np.zeros_like(torso)
    for side in (-1.0, 1.0):
        lc = cx + side * (0.15 * bw - 0.10 * bw * swing)
        legs |= (py >= hip) & (np.abs(px - lc) <= 0.15 * bw)
    mask = head | neck | torso | legs

    # Cylindrical shading: lit in the middle, darker at the sides.
    lat = 1.0 - ((px - cx) / (bw / 2)) ** 2
    t = tex[(yy * tex.shape[0] / bh).astype(int), (xx * tex.shape[1] / bw).astype(int)]
    Y = np.where(head | neck, look.head, np.where(torso, look.shirt, look.trousers)).astype(np.float32)
    Y += 10 * lat - 5 + 5 * t
    Y -= np.where(legs, 8 * (py - hip) / (bh - hip), 0)  # shins in shadow
    U = np.where(torso, look.shirt_uv[0], np.where(head | neck, 118, 127)).astype(np.float32)
    V = np.where(torso, look.shirt_uv[1], np.where(head | neck, 140, 128)).astype(np.float32)
    return Y, U, V, mask


def sensor_noise(rng: np.random.Generator) -> np.ndarray:
    """Temporal noise for one frame: float32 (HEIGHT, WIDTH), std NOISE_SIGMA, NOISE_CELL grains."""
    c = NOISE_CELL
    n = rng.standard_normal((HEIGHT // c, WIDTH // c), dtype=np.float32) * NOISE_SIGMA
    if c > 1:
        n = np.repeat(np.repeat(n, c, axis=0), c, axis=1)
    return n


def render_frames(scene: Scene, frames: int | None = None):
    """Yield uint8 (HEIGHT*3//2, WIDTH) yuv420p frames (PyAV's packed layout)."""
    n = scene.frames if frames is None else frames
    bgY, bgU, bgV = render_background(scene)
    poses = [walker_poses(w, n) for w in scene.walkers]
    textures = [
        _smooth_noise(np.random.default_rng(1000 + w.seed + w.id), 64, 24, 3) for w in scene.walkers
    ]
    noise_rng = np.random.default_rng(scene.seed + 1)
    steps = [(int(round(t * FPS)), d) for t, d in scene.brightness_steps]
    for f in range(n):
        Y, U, V = bgY.copy(), bgU.copy(), bgV.copy()
        visible = [(i, p[f]) for i, p in enumerate(poses) if p[f] is not None]
        visible.sort(key=lambda ip: ip[1].y)  # far ones first, near ones occlude them
        for i, pose in visible:
            w = scene.walkers[i]
            x0, y0, x1, y1, bw, bh = box_for(w, pose)
            c = clip_box(x0, y0, x1, y1)
            if c is None:
                continue
            stride = 0.9 * w.size[1]
            swing = 0.0 if pose.standing else math.sin(2 * math.pi * pose.walked / stride)
            sY, sU, sV, m = person_sprite(bw, bh, swing, w.look, textures[i])
            cx0, cy0, cx1, cy1 = c
            ss = (slice(cy0 - y0, cy1 - y0), slice(cx0 - x0, cx1 - x0))
            ds = (slice(cy0, cy1), slice(cx0, cx1))
            mm = m[ss]
            Y[ds] = np.where(mm, sY[ss], Y[ds])
            U[ds] = np.where(mm, sU[ss], U[ds])
            V[ds] = np.where(mm, sV[ss], V[ds])
        for item in scene.furniture:
            if item.front:   # in front of the walkers: the room's own pixels again
                fx0, fy0, fx1, fy1 = item.box
                Y[fy0:fy1, fx0:fx1] = bgY[fy0:fy1, fx0:fx1]
                U[fy0:fy1, fx0:fx1] = bgU[fy0:fy1, fx0:fx1]
                V[fy0:fy1, fx0:fx1] = bgV[fy0:fy1, fx0:fx1]
        Y += sum(d for sf, d in steps if f >= sf)
        for t0, t1, d in scene.exposure_ramps:
            Y += d * min(1.0, max(0.0, (f / FPS - t0) / (t1 - t0)))
        Y += sensor_noise(noise_rng)
        out = np.empty((HEIGHT * 3 // 2, WIDTH), np.uint8)
        out[:HEIGHT] = np.clip(np.rint(Y), 0, 255)
        # 4:2:0: average each 2x2 block of chroma.
        for k, P in enumerate((U, V)):
            half = 0.25 * (P[0::2, 0::2] + P[1::2, 0::2] + P[0::2, 1::2] + P[1::2, 1::2])
            rows = slice(HEIGHT + k * HEIGHT // 4, HEIGHT + (k + 1) * HEIGHT // 4)
            out[rows] = np.clip(np.rint(half), 0, 255).reshape(HEIGHT // 4, WIDTH)
        yield out
