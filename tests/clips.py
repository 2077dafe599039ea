"""Small real encoded clips and loopback video servers for the tests.

Everything here encodes with PyAV (libx264 by default) so the tests decode
real bitstreams, not arrays handed around in memory.
"""
from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Iterable

import av
import numpy as np


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

    Each session waits for one client, then encodes `frames` in real time
    (x264 zerolatency) for `seconds` and hangs up. `sessions` sessions run
    one after the other with `gap` seconds of silence between them, which
    is how a camera that reboots looks to the NVR.
    """

    def __init__(self, port: int, frames: list[np.ndarray], fps: int = 25,
                 seconds: float = 1.0, sessions: int = 1, gap: float = 0.0):
        self.port, self.frames, self.fps = port, frames, fps
        self.seconds, self.sessions, self.gap = seconds, sessions, gap
        self.sent = 0
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "TsSender":
        self._thread.start()
        time.sleep(0.1)  # let the first listen socket come up before clients dial
        return self

    def join(self, timeout: float = 10.0) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        try:
            for s in range(self.sessions):
                if s:
                    time.sleep(self.gap)
                self._session()
        except BaseException as exc:  # surfaced by the test through .error
            self.error = exc

    def _session(self) -> None:
        url = f"tcp://127.0.0.1:{self.port}?listen=1&listen_timeout=10000"
        with av.open(url, mode="w", format="mpegts") as out:
            stream = out.add_stream("libx264", rate=self.fps,
                                    options={"preset": "ultrafast", "tune": "zerolatency"})
            h, w = self.frames[0].shape
            stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
            t0 = time.monotonic()
            n = int(self.seconds * self.fps)
            for k in range(n):
                delay = t0 + k / self.fps - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                frame = to_video_frame(self.frames[k % len(self.frames)])
                frame.pts = k
                for packet in stream.encode(frame):
                    out.mux(packet)
                self.sent += 1
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
