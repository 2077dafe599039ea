"""Generate the shipped sample channels (data/samples/*.mp4) and their ground truth.

The scenes are catalogued in data/scenes.py and rendered by data/render.py;
this script encodes them and writes NAME.mp4 and NAME.truth.json (and the
demo's sub-stream clips).

Run:  .venv/bin/python data/make_samples.py [NAME ...] [--out DIR]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import av
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:      # run as a script: data/ is a package of the repository
    sys.path.insert(0, str(ROOT))

from data.render import build_truth, render_frames, truth_json  # noqa: E402
from data.scenes import COUNTING_5FPS, COUNTING_SCENES, FPS, HEIGHT, SCENES, WIDTH, Scene  # noqa: E402

OUT_DIR = Path(__file__).resolve().parent / "samples"

# Encoder settings, fixed so reruns reproduce the clips. One thread: x264's
# frame threading makes the bitstream depend on scheduling.
#
# Sensor noise vs. size (measured on 15 s of corridor): x264
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


def encode_substream(scene: Scene, path: Path, frames: int | None = None, step: int = SUBSTREAM_STEP) -> Path:
    """Encode `scene` at WIDTH/2 x HEIGHT/2 and FPS/step (2x2 area average)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = WIDTH // 2, HEIGHT // 2
    with av.open(str(path), mode="w", format="mp4") as out:
        # fastdecode (no CABAC, no deblocking) halves decode time: the demo
        # replays a day of these, so decoding is most of its run time.
        stream = out.add_stream("libx264", rate=FPS // step,
                                options={**X264_OPTIONS, "tune": "fastdecode"})
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.codec_context.thread_count = 1
        for i, img in enumerate(render_frames(scene, frames)):
            if i % step:
                continue
            planes = (img[:HEIGHT], img[HEIGHT:HEIGHT * 5 // 4].reshape(HEIGHT // 2, WIDTH // 2),
                      img[HEIGHT * 5 // 4:].reshape(HEIGHT // 2, WIDTH // 2))
            half = [((p[0::2, 0::2].astype(np.uint16) + p[1::2, 0::2] + p[0::2, 1::2] + p[1::2, 1::2] + 2) // 4)
                    .astype(np.uint8) for p in planes]
            small = np.concatenate([half[0], half[1].reshape(h // 4, w), half[2].reshape(h // 4, w)])
            frame = av.VideoFrame.from_ndarray(small, format="yuv420p")
            frame.pts = i // step
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


# The counting scenes (data.scenes.COUNTING_SCENES) at half size: small enough to ship several
# minutes of them; truth in the scene's 640x360 pixels (docs/counting.md scales it).
COUNTING_DIR = OUT_DIR / "counting"


def generate_counting(scene: Scene, out_dir: Path, frames: int | None = None) -> list[Path]:
    """Write NAME.truth.json and NAME.mp4 (320x180, 25 fps), and NAME-5fps.mp4 for COUNTING_5FPS."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tpath = out_dir / f"{scene.name}.truth.json"
    tpath.write_text(truth_json(build_truth(scene, frames)))
    paths = [tpath, encode_substream(scene, out_dir / f"{scene.name}.mp4", frames, step=1)]
    if scene.name in COUNTING_5FPS:
        paths.append(encode_substream(scene, out_dir / f"{scene.name}-5fps.mp4", frames))
    return paths


def generate(scene: Scene, out_dir: Path, frames: int | None = None) -> tuple[Path, Path]:
    """Write NAME.mp4 and NAME.truth.json into out_dir; return both paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    truth = build_truth(scene, frames)  # first: a bad route fails before minutes of encoding
    tpath = out_dir / f"{scene.name}.truth.json"
    tpath.write_text(truth_json(truth))
    vpath = encode(scene, out_dir / f"{scene.name}.mp4", frames)
    return vpath, tpath


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help=f"scenes to build (default all: {', '.join(SCENES)})")
    ap.add_argument("--out", type=Path, default=OUT_DIR, help="output directory (default data/samples)")
    ap.add_argument("--seconds", type=float, help="only the first SECONDS of each clip (for a quick look)")
    ap.add_argument("--substream", action="store_true",
                    help=f"write the demo's sub-stream clips ({WIDTH // 2}x{HEIGHT // 2}, "
                         f"{FPS // SUBSTREAM_STEP} fps) into data/samples/substream instead")
    ap.add_argument("--counting", action="store_true",
                    help="write the counting scenes (320x180) into data/samples/counting instead")
    args = ap.parse_args(argv)
    catalogue = COUNTING_SCENES if args.counting else SCENES
    unknown = [n for n in args.names if n not in catalogue]
    if unknown:
        print(f"error: unknown scene {unknown[0]!r}; choose from {', '.join(catalogue)}", file=sys.stderr)
        return 2
    frames = None if args.seconds is None else int(round(args.seconds * FPS))
    if args.counting:
        out_dir = COUNTING_DIR if args.out == OUT_DIR else args.out
        for name in args.names or list(COUNTING_SCENES):
            for p in generate_counting(COUNTING_SCENES[name], out_dir, frames):
                print(f"{p.name}: {p.stat().st_size / 1e3:.0f} kB")
        return 0
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
