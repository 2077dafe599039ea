"""Small real encoded clips and loopback video servers for the tests, benchmarks and tools.

Everything here encodes with PyAV (libx264 by default) so the tests decode
real bitstreams, not arrays handed around in memory; `decoded_luma` reads
them back the way a capture does, as views of the decoder's Y plane.
"""
from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterable

import av
import numpy as np

from hal.capture import PyAVCapture, luma_view
from hal.errors import SourceEnded


def make_clip(
    path: str | Path,
    frames: Iterable[np.ndarray],
    fps: int = 25,
    size: tuple[int, int] | None = None,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    options: dict[str, str] | None = None,
) -> Path:
    """Encode `frames` into `path` (container from the suffix) and return the path.

    frames: uint8 (H, W) luma images (encoded as grey) or (H, W, 3) RGB.
    size:   (width, height); defaults to the first frame's size.
    The default x264 options are lossless-ish (crf 1), so decoded luma
    matches the input within a few levels.
    """
    path = Path(path)
    opts = {"crf": "1", "preset": "ultrafast"} if codec == "libx264" else {}
    opts.update(options or {})
    with av.open(str(path), mode="w") as out:
        stream = None
        for img in frames:
            img = np.ascontiguousarray(img, dtype=np.uint8)
            if stream is None:
                h, w = img.shape[:2]
                width, height = size or (w, h)
                stream = out.add_stream(codec, rate=fps, options=opts)
                stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
            frame = to_video_frame(img)
            for packet in stream.encode(frame):
                out.mux(packet)
        if stream is None:
            raise ValueError("make_clip needs at least one frame")
        for packet in stream.encode():
            out.mux(packet)
    return path


def decoded_luma(path: str | Path):
    """(luma, t) per frame of a video file: luma is a uint8 (H, W) view of the decoder's Y
    plane (rows strided, valid until the next frame: copy it to keep it), t its seconds."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            yield luma_view(frame), float(frame.pts * stream.time_base)


def captured(path: str | Path, **capture):
    """The frames of a video file through the HAL capture, as a channel reads them (pacing
    "max", one decoder thread unless `capture` says otherwise): hal.frame.Frame objects,
    each luma valid until the next."""
    cap = PyAVCapture(str(path), **{"pacing": "max", "decoder_threads": 1, **capture})
    cap.open()
    try:
        while True:
            try:
                yield cap.read()
            except SourceEnded:
                return
    finally:
        cap.close()


def to_video_frame(img: np.ndarray) -> av.VideoFrame:
    """A PyAV frame for a luma (H, W) or RGB (H, W, 3) uint8 image.

    Luma goes in as yuv420p with neutral chroma, so the encoder sees exactly
    these Y values (a "gray" frame would be range-converted to 16..235).
    """
    if img.ndim == 3:
        return av.VideoFrame.from_ndarray(img, format="rgb24")
    h, w = img.shape
    if h % 2 or w % 2:
        raise ValueError(f"luma frames need even sizes for yuv420p (got {w}x{h})")
    chroma = np.full((h // 2, w), 128, np.uint8)  # U then V, each (h/2, w/2), stacked
    return av.VideoFrame.from_ndarray(np.concatenate([img, chroma]), format="yuv420p")


def grey_frames(levels: Iterable[int], size: tuple[int, int] = (160, 120)) -> list[np.ndarray]:
    """One flat frame per grey level, (height, width) from `size` = (width, height)."""
    w, h = size
    return [np.full((h, w), level, np.uint8) for level in levels]


def moving_square_frames(n: int, size: tuple[int, int] = (160, 120), side: int = 16) -> list[np.ndarray]:
    """A bright square crossing a dark, lightly textured background."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    background = (40 + 10 * ((xx // 8 + yy // 8) % 2)).astype(np.uint8)
    frames = []
    for k in range(n):
        img = background.copy()
        x = (k * 3) % (w - side)
        y = (h - side) // 2
        img[y:y + side, x:x + side] = 220
        frames.append(img)
    return frames


def free_port() -> int:
    """A loopback TCP port nobody listens on (bound once, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TsSender:
    """A live camera on loopback: MPEG-TS over `tcp://127.0.0.1:PORT?listen`.

    Each session is a child process (PyAV's listening open holds the GIL
    while it waits for a client, which would freeze a test's threads) that
    waits for one client, encodes a moving square in real time (x264
    zerolatency) for `seconds`, and hangs up. `sessions` sessions run one
    after the other with `gap` seconds without a listener between them:
    how a camera that reboots looks to the NVR.
    """

    def __init__(self, port: int, size: tuple[int, int] = (160, 120), fps: int = 25,
                 seconds: float = 1.0, sessions: int = 1, gap: float = 0.0):
        self.port, self.size, self.fps = port, size, fps
        self.seconds, self.sessions, self.gap = seconds, sessions, gap
        self.returncodes: list[int] = []
        self._proc: subprocess.Popen | None = None
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "TsSender":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()
        self._thread.join(5)

    def join(self, timeout: float = 30.0) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        w, h = self.size
        for s in range(self.sessions):
            if s and self._stopped.wait(self.gap):
                return
            if self._stopped.is_set():
                return
            self._proc = subprocess.Popen(
                [sys.executable, __file__, "send", str(self.port), str(self.seconds),
                 str(self.fps), str(w), str(h)], stdout=subprocess.DEVNULL)
            self.returncodes.append(self._proc.wait())

    def __enter__(self) -> "TsSender":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _send(port: int, seconds: float, fps: int, w: int, h: int) -> None:
    """Child-process body of TsSender: one client, `seconds` of live video."""
    frames = moving_square_frames(50, (w, h))
    with av.open(f"tcp://127.0.0.1:{port}?listen=1", mode="w", format="mpegts") as out:
        stream = out.add_stream("libx264", rate=fps,
                                options={"preset": "ultrafast", "tune": "zerolatency"})
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        t0 = None
        for k in range(int(seconds * fps)):
            if t0 is not None:
                delay = t0 + k / fps - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            frame = to_video_frame(frames[k % len(frames)])
            frame.pts = k
            for packet in stream.encode(frame):
                out.mux(packet)  # the first mux opens the socket and waits for the client
            if t0 is None:
                t0 = time.monotonic()
        for packet in stream.encode():
            out.mux(packet)


class SilentServer:
    """Accepts TCP clients and then sends `prefix` bytes and nothing more: a stalled camera."""

    def __init__(self, prefix: bytes = b""):
        self.prefix = prefix
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(4)
        self.port = self._sock.getsockname()[1]
        self._clients: list[socket.socket] = []
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self._clients.append(conn)
            if self.prefix:
                conn.sendall(self.prefix)

    def close(self) -> None:
        self._sock.close()
        for c in self._clients:
            c.close()


if __name__ == "__main__":
    if len(sys.argv) == 7 and sys.argv[1] == "send":
        _send(int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]))
    else:
        sys.exit("usage: clips.py send PORT SECONDS FPS WIDTH HEIGHT")
