"""Generate the shipped sample channels (data/samples/*.mp4) and their ground truth.

Each clip is a synthetic fixed-camera scene: a textured room (tiled floor,
back wall, furniture), person-sized targets walking scripted routes at
walking speed, some stopping for known times, temporal sensor noise, and in
one clip a light switched on. The truth (one box per target per visible
frame) comes from the scripts alone, never from the pixels, so it is exact
and does not depend on the encoder.

Scene scale: about 50 px per metre at mid-floor, so 1.2-1.5 m/s walking is
60-75 px/s. Targets grow towards the bottom of the frame (perspective).

Run:  .venv/bin/python data/make_samples.py [NAME ...] [--out DIR]
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

FPS = 25
WIDTH = 640
HEIGHT = 360
OUT_DIR = Path(__file__).resolve().parent / "samples"

# Encoder settings, fixed so reruns reproduce the clips. One thread: x264's
# frame threading makes the bitstream depend on scheduling.
#
# Sensor noise vs. size (measured on 15 s of corridor, see README): x264
# at crf 26-34 quantises fine per-pixel noise away entirely (sigma 2.5 in ->
# 0.03-0.4 out), because a static block is cheaper to skip than to refresh.
# Noise in 2x2-pixel grains (demosaiced sensor noise is spatially correlated
# anyway) survives at lower cost; sigma 6 in at crf 32 decodes to ~1.1 grey
# levels of frame-to-frame noise at ~1 MB per 80 s. Keeping 2-3 levels
# after decoding costs ~3.5 MB per 80 s, over the repository's size budget.
X264_OPTIONS = {
    "crf": "32",
    "preset": "medium",
    "threads": "1",
    "x264-params": "keyint=250:min-keyint=25:threads=1:lookahead-threads=1",
}
NOISE_SIGMA = 6.0  # temporal Gaussian sensor noise before encoding, grey levels
NOISE_CELL = 2     # grain size in pixels (divides WIDTH and HEIGHT)


# --------------------------------------------------------------------------
# Scene description
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Look:
    """A target's clothing: luma of head, shirt and trousers, shirt colour (U, V)."""

    head: float
    shirt: float
    trousers: float
    shirt_uv: tuple[float, float] = (128.0, 128.0)
    kind: str = "dark"  # dark | bright | low-contrast: how it differs from the floor


@dataclass(frozen=True)
class Walker:
    """One scripted target.

    route: footprint waypoints (x, y, stop_seconds) in pixels; the walker
           waits stop_seconds on arrival at a waypoint. The first and last
           points must be outside the frame so targets enter and leave.
    """

    id: int
    start: float  # seconds into the clip when the walker sets off
    speed: float  # px/s along the route
    look: Look
    route: tuple[tuple[float, float, float], ...]
    size: tuple[int, int] = (32, 86)  # (w, h) at scale 1.0
    seed: int = 0


@dataclass(frozen=True)
class Furniture:
    """A static shape of the room, drawn into the background only (never in front of a walker)."""

    kind: str  # shelf | counter | plant | door | window | poster | bench
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive)
    luma: float


@dataclass(frozen=True)
class Scene:
    """Everything a clip is made from; the truth is a function of this alone."""

    name: str
    description: str
    seconds: float
    seed: int
    wall_bottom: int  # first floor row
    wall_luma: float
    floor_luma: float
    tile: tuple[int, int]  # tile size (w, h) at the bottom row
    furniture: tuple[Furniture, ...]
    walkers: tuple[Walker, ...]
    region: tuple[tuple[float, float], ...]
    brightness_steps: tuple[tuple[float, float], ...] = ()  # (seconds, delta)
    floor_uv: tuple[float, float] = (124.0, 133.0)
    wall_uv: tuple[float, float] = (126.0, 130.0)

    @property
    def frames(self) -> int:
        return int(round(self.seconds * FPS))


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
        Y += sum(d for sf, d in steps if f >= sf)
        Y += sensor_noise(noise_rng)
        out = np.empty((HEIGHT * 3 // 2, WIDTH), np.uint8)
        out[:HEIGHT] = np.clip(np.rint(Y), 0, 255)
        # 4:2:0: average each 2x2 block of chroma.
        for k, P in enumerate((U, V)):
            half = 0.25 * (P[0::2, 0::2] + P[1::2, 0::2] + P[0::2, 1::2] + P[1::2, 1::2])
            rows = slice(HEIGHT + k * HEIGHT // 4, HEIGHT + (k + 1) * HEIGHT // 4)
            out[rows] = np.clip(np.rint(half), 0, 255).reshape(HEIGHT // 4, WIDTH)
        yield out


def encode(scene: Scene, path: Path, frames: int | None = None) -> Path:
    """Render and encode `scene` to an H.264 mp4 at `path`."""
    path = Path(path)
    with av.open(str(path), mode="w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=FPS, options=dict(X264_OPTIONS))
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.codec_context.thread_count = 1
        for i, img in enumerate(render_frames(scene, frames)):
            frame = av.VideoFrame.from_ndarray(img, format="yuv420p")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


# The demo replays a whole simulated day per channel; at 640x360 and 25 fps
# that is 2.2 million frames a channel, so the demo uses what a DVR's
# analytics sub-stream carries instead: the same scene at half size, 5 fps.
SUBSTREAM_STEP = 5   # keep every 5th frame: 25 fps -> 5 fps
SUBSTREAM_DIR = OUT_DIR / "substream"


def encode_substream(scene: Scene, path: Path, frames: int | None = None) -> Path:
    """Encode `scene` at WIDTH/2 x HEIGHT/2 and FPS/SUBSTREAM_STEP (2x2 area average)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = WIDTH // 2, HEIGHT // 2
    with av.open(str(path), mode="w", format="mp4") as out:
        # fastdecode (no CABAC, no deblocking) halves decode time: the demo
        # replays a day of these, so decoding is most of its run time.
        stream = out.add_stream("libx264", rate=FPS // SUBSTREAM_STEP,
                                options={**X264_OPTIONS, "tune": "fastdecode"})
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.codec_context.thread_count = 1
        for i, img in enumerate(render_frames(scene, frames)):
            if i % SUBSTREAM_STEP:
                continue
            planes = (img[:HEIGHT], img[HEIGHT:HEIGHT * 5 // 4].reshape(HEIGHT // 2, WIDTH // 2),
                      img[HEIGHT * 5 // 4:].reshape(HEIGHT // 2, WIDTH // 2))
            half = [((p[0::2, 0::2].astype(np.uint16) + p[1::2, 0::2] + p[0::2, 1::2] + p[1::2, 1::2] + 2) // 4)
                    .astype(np.uint8) for p in planes]
            small = np.concatenate([half[0], half[1].reshape(h // 4, w), half[2].reshape(h // 4, w)])
            frame = av.VideoFrame.from_ndarray(small, format="yuv420p")
            frame.pts = i // SUBSTREAM_STEP
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def generate(scene: Scene, out_dir: Path, frames: int | None = None) -> tuple[Path, Path]:
    """Write NAME.mp4 and NAME.truth.json into out_dir; return both paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    truth = build_truth(scene, frames)  # first: a bad route fails before minutes of encoding
    tpath = out_dir / f"{scene.name}.truth.json"
    tpath.write_text(truth_json(truth))
    vpath = encode(scene, out_dir / f"{scene.name}.mp4", frames)
    return vpath, tpath


# --------------------------------------------------------------------------
# The shipped scenes
# --------------------------------------------------------------------------

def _looks(floor: float) -> dict[str, Look]:
    """Clothing palettes relative to the floor so 'low-contrast' means ~20-30 levels."""
    return {
        "dark": Look(head=70, shirt=floor - 65, trousers=floor - 75, shirt_uv=(140, 120), kind="dark"),
        "navy": Look(head=75, shirt=floor - 55, trousers=floor - 70, shirt_uv=(150, 118), kind="dark"),
        "bright": Look(head=150, shirt=min(floor + 75, 215), trousers=floor + 40, shirt_uv=(118, 150), kind="bright"),
        "white": Look(head=140, shirt=min(floor + 85, 220), trousers=floor - 50, shirt_uv=(126, 128), kind="bright"),
        "low_up": Look(head=floor + 20, shirt=floor + 25, trousers=floor + 22, shirt_uv=(122, 134), kind="low-contrast"),
        "low_down": Look(head=floor - 22, shirt=floor - 25, trousers=floor - 28, shirt_uv=(132, 126), kind="low-contrast"),
    }


def _across(y0: float, y1: float | None = None, left_to_right: bool = True, stop_at: float | None = None,
            stop_s: float = 0.0) -> tuple[tuple[float, float, float], ...]:
    """A route across the frame from edge to edge, optionally stopping at x=stop_at."""
    y1 = y0 if y1 is None else y1
    xa, xb = (-30.0, WIDTH + 30.0) if left_to_right else (WIDTH + 30.0, -30.0)
    if stop_at is None:
        return ((xa, y0, 0.0), (xb, y1, 0.0))
    u = (stop_at - xa) / (xb - xa)
    return ((xa, y0, 0.0), (stop_at, y0 + u * (y1 - y0), stop_s), (xb, y1, 0.0))


def _corridor() -> Scene:
    L = _looks(115)
    walkers = (
        Walker(1, 1.0, 68, L["dark"], _across(200), (32, 86), 1),
        Walker(2, 4.0, 72, L["bright"], _across(290, left_to_right=False), (33, 88), 2),
        Walker(3, 10.0, 62, L["low_up"], _across(250, stop_at=330, stop_s=15.0), (31, 84), 3),
        Walker(4, 16.0, 65, L["navy"], _across(170, left_to_right=False), (32, 90), 4),
        Walker(5, 24.0, 70, L["white"], _across(180, 320), (34, 88), 5),
        Walker(6, 33.0, 66, L["low_down"], _across(230, left_to_right=False), (30, 82), 6),
        Walker(7, 45.0, 74, L["dark"], _across(310), (33, 90), 7),
        Walker(8, 52.0, 60, L["bright"], _across(200, 260, left_to_right=False), (31, 84), 8),
        Walker(9, 62.0, 70, L["navy"], _across(240), (32, 86), 9),
    )
    return Scene(
        name="corridor",
        description="Office corridor seen from the end wall: nine people walk through, one "
                    "(id 3, low contrast) stops 15 s mid-corridor.",
        seconds=80.0, seed=11, wall_bottom=110, wall_luma=150, floor_luma=115, tile=(48, 26),
        furniture=(
            Furniture("door", (80, 22, 130, 110), 95),
            Furniture("door", (430, 22, 480, 110), 95),
            Furniture("poster", (240, 30, 330, 80), 140),
            Furniture("plant", (8, 60, 52, 126), 70),
            Furniture("plant", (590, 60, 634, 126), 70),
        ),
        walkers=walkers,
        region=((0.03, 0.40), (0.97, 0.40), (0.99, 0.98), (0.01, 0.98)),
    )


def _shop_floor() -> Scene:
    L = _looks(125)
    walkers = (
        Walker(1, 1.0, 65, L["dark"], ((200, 480, 0), (200, 165, 65.0), (680, 250, 0)), (32, 88), 1),
        Walker(2, 3.0, 70, L["bright"], ((-30, 220, 0), (380, 160, 8.0), (680, 230, 0)), (33, 86), 2),
        Walker(3, 12.0, 62, L["low_up"], ((670, 200, 0), (470, 165, 20.0), (480, 480, 0)), (31, 84), 3),
        Walker(4, 25.0, 68, L["navy"], ((330, 480, 0), (300, 170, 5.0), (-30, 260, 0)), (32, 90), 4),
        Walker(5, 40.0, 72, L["white"], ((-30, 300, 0), (560, 170, 12.0), (670, 180, 0)), (34, 88), 5),
        Walker(6, 55.0, 62, L["low_down"], ((670, 280, 0), (130, 172, 15.0), (-30, 200, 0)), (30, 82), 6),
        Walker(7, 70.0, 66, L["dark"], ((420, 480, 0), (400, 168, 10.0), (670, 240, 0)), (33, 88), 7),
        Walker(8, 80.0, 64, L["bright"], _across(250), (31, 86), 8),
    )
    return Scene(
        name="shop_floor",
        description="Shop floor facing the shelves: shoppers walk up to the shelf and stop "
                    "5-20 s; one (id 1) stands 65 s. Checkout counter bottom right.",
        seconds=100.0, seed=23, wall_bottom=120, wall_luma=135, floor_luma=125, tile=(56, 30),
        furniture=(
            Furniture("shelf", (30, 8, 210, 124), 105),
            Furniture("shelf", (230, 8, 410, 124), 105),
            Furniture("shelf", (430, 8, 600, 124), 105),
            Furniture("plant", (602, 70, 638, 132), 75),
            Furniture("counter", (520, 300, 640, 346), 90),
        ),
        walkers=walkers,
        region=((0.03, 0.40), (0.97, 0.40), (0.97, 0.80), (0.80, 0.80), (0.80, 0.98), (0.03, 0.98)),
        floor_uv=(120, 136),
    )


def _entrance() -> Scene:
    L = _looks(120)
    walkers = (
        # Pairs: the second sets off a moment later, walks faster, draws level
        # with the first (their blobs merge for a few seconds) and passes ahead.
        Walker(1, 0.0, 55, L["dark"], _across(220), (32, 86), 1),
        Walker(2, 1.6, 76, L["low_up"], _across(262), (31, 88), 2),
        # Two people crossing head-on on nearly the same line.
        Walker(3, 10.0, 66, L["bright"], _across(200), (33, 86), 3),
        Walker(4, 10.0, 64, L["navy"], _across(212, left_to_right=False), (32, 88), 4),
        # A pair walking right to left, overtaking in the same way.
        Walker(5, 20.0, 56, L["white"], _across(280, left_to_right=False), (33, 90), 5),
        Walker(6, 21.6, 76, L["dark"], _across(316, left_to_right=False), (32, 90), 6),
        # Diagonal X crossing.
        Walker(7, 31.0, 70, L["low_down"], _across(150, 330), (31, 84), 7),
        Walker(8, 31.0, 70, L["bright"], _across(330, 150), (33, 88), 8),
        # A last pair, close together.
        Walker(9, 44.0, 58, L["navy"], _across(180), (32, 86), 9),
        Walker(10, 45.5, 78, L["white"], _across(214), (33, 86), 10),
    )
    return Scene(
        name="entrance",
        description="Entrance hall: in three pairs the second walker catches up with the first, "
                    "walks level with it and overtakes; two people cross head-on (ids 3, 4) and "
                    "two cross diagonally (ids 7, 8).",
        seconds=60.0, seed=37, wall_bottom=100, wall_luma=140, floor_luma=120, tile=(40, 40),
        furniture=(
            Furniture("window", (60, 12, 200, 88), 185),
            Furniture("door", (280, 10, 360, 100), 100),
            Furniture("window", (440, 12, 580, 88), 185),
            Furniture("bench", (250, 338, 390, 358), 80),
        ),
        walkers=walkers,
        region=((0.02, 0.36), (0.98, 0.36), (0.98, 0.92), (0.02, 0.92)),
        floor_uv=(126, 130),
    )


def _lights() -> Scene:
    L = _looks(70)
    walkers = (
        Walker(1, 2.0, 66, Look(head=110, shirt=150, trousers=90, shirt_uv=(118, 150), kind="bright"),
               _across(220), (32, 86), 1),
        Walker(2, 9.0, 70, Look(head=55, shirt=42, trousers=38, shirt_uv=(136, 122), kind="low-contrast"),
               _across(280, left_to_right=False), (33, 88), 2),
        Walker(3, 24.0, 64, Look(head=100, shirt=120, trousers=40, shirt_uv=(122, 140), kind="bright"),
               _across(260), (32, 90), 3),
        Walker(4, 36.0, 66, L["low_up"], _across(190, left_to_right=False), (31, 84), 4),
        Walker(5, 44.0, 72, Look(head=120, shirt=170, trousers=110, shirt_uv=(128, 128), kind="bright"),
               _across(300), (33, 88), 5),
        Walker(6, 48.0, 62, Look(head=45, shirt=30, trousers=25, shirt_uv=(140, 120), kind="dark"),
               _across(240, left_to_right=False), (32, 86), 6),
    )
    return Scene(
        name="lights",
        description="Dim storeroom; the ceiling light is switched on at 30 s (+40 grey levels "
                    "in one frame). Three people walk before, one during (id 3), two after.",
        seconds=60.0, seed=41, wall_bottom=105, wall_luma=85, floor_luma=70, tile=(50, 28),
        furniture=(
            Furniture("window", (70, 14, 170, 80), 60),
            Furniture("door", (470, 18, 525, 105), 60),
            Furniture("shelf", (230, 10, 380, 108), 60),
        ),
        walkers=walkers,
        region=((0.03, 0.38), (0.97, 0.38), (0.97, 0.95), (0.03, 0.95)),
        brightness_steps=((30.0, 40),),
    )


SCENES: dict[str, Scene] = {s.name: s for s in (_corridor(), _shop_floor(), _entrance(), _lights())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help=f"scenes to build (default all: {', '.join(SCENES)})")
    ap.add_argument("--out", type=Path, default=OUT_DIR, help="output directory (default data/samples)")
    ap.add_argument("--seconds", type=float, help="only the first SECONDS of each clip (for a quick look)")
    ap.add_argument("--substream", action="store_true",
                    help=f"write the demo's sub-stream clips ({WIDTH // 2}x{HEIGHT // 2}, "
                         f"{FPS // SUBSTREAM_STEP} fps) into data/samples/substream instead")
    args = ap.parse_args(argv)
    unknown = [n for n in args.names if n not in SCENES]
    if unknown:
        print(f"error: unknown scene {unknown[0]!r}; choose from {', '.join(SCENES)}", file=sys.stderr)
        return 2
    frames = None if args.seconds is None else int(round(args.seconds * FPS))
    for name in args.names or list(SCENES):
        if args.substream:
            out_dir = SUBSTREAM_DIR if args.out == OUT_DIR else args.out
            vpath = encode_substream(SCENES[name], out_dir / f"{name}.mp4", frames)
            print(f"{vpath.name}: {vpath.stat().st_size / 1e6:.2f} MB")
            continue
        vpath, tpath = generate(SCENES[name], args.out, frames)
        print(f"{vpath.name}: {vpath.stat().st_size / 1e6:.2f} MB, {tpath.name}: {tpath.stat().st_size / 1e3:.0f} kB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
