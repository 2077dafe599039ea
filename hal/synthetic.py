"""A software camera: the capture interface without a decoder.

The `hal.input.Capture` interface, as `hal.capture.PyAVCapture` implements
it, drawing its own scene: bright squares ("walkers")
crossing a dark textured floor, one step per frame, deterministic for a
given seed. Use it to run the firmware or the analytics with no clip on
disk and no decoding cost.
"""
from __future__ import annotations

import time

import numpy as np

from hal.downscale import AreaDownscaler
from hal.errors import SourceEnded
from hal.frame import Frame, StreamInfo


class SyntheticCapture:
    """`walkers` squares of `side` pixels bouncing across a `width` x `height` floor.

    frames: end after this many frames (SourceEnded); None runs forever.
    pacing: "max" or "realtime" (sleeps until each frame is due; never drops).
    """

    def __init__(self, *, width: int = 320, height: int = 180, fps: float = 25.0, walkers: int = 2,
                 side: int = 12, frames: int | None = None, seed: int = 0, analysis_width: int | None = None,
                 pacing: str = "max", clock_start: float = 0.0):
        if pacing not in ("max", "realtime"):
            raise ValueError(f"pacing must be 'max' or 'realtime' (got {pacing!r})")
        if not (side < width and side < height):
            raise ValueError(f"side {side} must be smaller than the {width}x{height} frame")
        self.width, self.height, self.fps = width, height, fps
        self.side, self.frames, self.pacing, self.clock_start = side, frames, pacing, clock_start
        self.drops = 0
        rng = np.random.default_rng(seed)
        self._pos0 = rng.uniform(0, 1, (walkers, 2)) * (height - side, width - side)
        self._vel = rng.uniform(0.5, 3.0, (walkers, 2)) * rng.choice([-1, 1], (walkers, 2))
        yy, xx = np.mgrid[0:height, 0:width]
        self._floor = (40 + 12 * ((xx // 8 + yy // 8) % 2)).astype(np.uint8)
        self._img = np.empty_like(self._floor)
        self._scaler = AreaDownscaler(width, height, analysis_width)
        self.info: StreamInfo | None = None
        self._k = 0                    # frame number since open: drives the scene
        self._index = 0                # frames delivered since creation
        self._t0: float | None = None

    @property
    def realtime(self) -> bool:
        return self.pacing == "realtime"

    def open(self) -> StreamInfo:
        self._k, self._t0 = 0, None
        self.info = StreamInfo(source="synthetic", codec="synthetic", width=self.width, height=self.height,
                               fps=self.fps, analysis_width=self._scaler.width,
                               analysis_height=self._scaler.height)
        return self.info

    def positions(self, k: int) -> np.ndarray:
        """Top-left (row, col) of each walker in frame k: float (walkers, 2)."""
        span = np.array([self.height - self.side, self.width - self.side], float)
        p = np.mod(self._pos0 + self._vel * k, 2 * span)
        return np.where(p > span, 2 * span - p, p)   # bounce off the walls

    def read(self) -> Frame:
        """The next frame; `luma` is overwritten by the next `read()`."""
        if self.info is None:
            raise RuntimeError("SyntheticCapture.read() before open(); call open() first")
        k = self._k
        if self.frames is not None and k >= self.frames:
            raise SourceEnded(f"synthetic: end after {self.frames} frames")
        pts = k / self.fps
        if self.realtime:
            if self._t0 is None:
                self._t0 = time.monotonic()
            delay = self._t0 + pts - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        self._img[:] = self._floor
        for r, c in self.positions(k).astype(int):
            self._img[r:r + self.side, c:c + self.side] = 220
        self._k += 1
        self._index += 1
        return Frame(luma=self._scaler(self._img), pts=pts, wall=self.clock_start + pts, index=self._index - 1)

    def due(self) -> float:
        """Paced frames wait in `read` itself, so a frame is always "due"."""
        return 0.0

    def skip(self, seconds: float) -> float:
        """The scene is drawn frame by frame: nothing can be skipped."""
        return 0.0

    def close(self) -> None:
        self.info = None
