"""One channel's capture supervisor: VIDEO LOSS, reconnection and a clock that never runs back.

The firmware reads every channel through a `CaptureInput`. A capture
failure (any `CaptureError`) never escapes it: the channel goes to
VIDEO LOSS, logs that once, and reopens its source with exponential
backoff until video returns or the firmware stops it.

    connecting --first frame--> running --CaptureError--> video_loss
         |                        ^                           |
         +--CaptureError----------|-------> video_loss        |
                                  +------first frame----------+
    any state --stop set--> stopped
"""
from __future__ import annotations

import logging
import threading
import time
from enum import StrEnum
from typing import Callable, Protocol

from hal.errors import CaptureError
from hal.frame import Frame, StreamInfo

log = logging.getLogger("hal.input")



class CaptureState(StrEnum):
    """Where a capture input is in the diagram above."""

    CONNECTING = "connecting"
    RUNNING = "running"
    VIDEO_LOSS = "video_loss"
    STOPPED = "stopped"


CONNECTING, RUNNING, VIDEO_LOSS, STOPPED = CaptureState


class Capture(Protocol):
    """The capture driver interface a CaptureInput drives: `hal.capture.PyAVCapture`,
    or `hal.synthetic.SyntheticCapture`, its software twin.

    `open` and `read` raise only `CaptureError`s (`hal.errors`): the input
    goes to VIDEO LOSS and reopens later. `close` never raises and may be
    called on a capture that never opened.
    """

    @property
    def realtime(self) -> bool:
        """Stream time runs with the wall clock (a paced file or a live URL)."""
        ...

    @property
    def drops(self) -> int:
        """Frames dropped because the consumer was late."""
        ...

    def open(self) -> StreamInfo: ...
    def read(self) -> Frame:
        """The next frame; its luma is valid until the next `read`."""
        ...
    def close(self) -> None: ...

    def due(self) -> float:
        """Monotonic time from which `read` will not wait (0.0: now)."""
        ...

    def skip(self, seconds: float) -> float:
        """Move the stream on by up to `seconds` without decoding; the seconds skipped
        (0.0 where the source cannot run ahead)."""
        ...


class CaptureInput:
    """Supervises the capture of channel `channel_id`.

    capture_factory: makes a fresh, unopened capture for each (re)connection,
                     e.g. `lambda: PyAVCapture(url, pacing="realtime", decoder_threads=1)`.
    backoff_initial, backoff_max:
                     seconds between reopen attempts: the first wait after a
                     loss is `backoff_initial`, doubling per failed attempt up to
                     `backoff_max`, and reset once a frame arrives.

    Read by other threads (menu, reports): `state`, `frames`, `drops`,
    `reconnects` (video restored after a loss), `info` (last opened
    StreamInfo, None before the first open), `last_error` ("" until the first
    loss, then the one-line reason of the latest failure), `retry_at`.

    `read(stop)` blocks through VIDEO LOSS (a thread per channel);
    `poll()` never waits for a reopen (a worker serving many channels).

    Delivered frames keep one channel clock across reconnects: `pts` and
    `wall` continue from the last frame (plus the time spent in VIDEO LOSS
    for realtime captures), and `index` counts frames of this input.
    """

    def __init__(self, channel_id: int, capture_factory: Callable[[], Capture], *,
                 backoff_initial: float = 0.5, backoff_max: float = 10.0):
        if not 0 < backoff_initial <= backoff_max:
            raise ValueError(f"need 0 < backoff_initial <= backoff_max (got {backoff_initial}, {backoff_max})")
        self.channel_id = channel_id
        self._factory = capture_factory
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._delay = backoff_initial
        self.state = CONNECTING
        self.frames = 0
        self.reconnects = 0
        self.info: StreamInfo | None = None
        self.last_error = ""
        self._cap: Capture | None = None
        self._fresh = False              # the open capture has not delivered yet
        self._closed_drops = 0           # drops of captures already closed
        self._offset = 0.0               # channel pts = capture pts + offset
        self._last_pts: float | None = None
        self._last_mono = 0.0            # monotonic time of the last delivered frame
        self._interval = 1 / 25
        self.retry_at = 0.0              # monotonic time of the next reopen attempt

    @property
    def drops(self) -> int:
        cap = self._cap
        return self._closed_drops + (cap.drops if cap is not None else 0)

    def read(self, stop: threading.Event) -> Frame | None:
        """The channel's next frame, or None once `stop` is set.

        Blocks through VIDEO LOSS, reconnecting, until a frame arrives.
        `Frame.luma` is valid until the next `read()`.
        """
        while not stop.is_set():
            frame = self.poll()
            if frame is not None:
                return frame
            stop.wait(max(0.0, self.retry_at - time.monotonic()))
        self.close()
        return None

    def poll(self) -> Frame | None:
        """The next frame without waiting through VIDEO LOSS: None means "retry later".

        For a worker that serves several channels: while the source is lost
        and the next reopen attempt is not due before `retry_at` (monotonic
        seconds), it returns at once, so one lost camera never holds the
        others. Opening and reading themselves still take as long as the
        source takes (a file: milliseconds). `Frame.luma` is valid until the
        next `poll()` or `read()`.
        """
        if self._cap is None:
            if time.monotonic() < self.retry_at:
                return None
            if not self._connect():
                self._schedule_retry()
                return None
        try:
            frame = self._cap.read()
        except CaptureError as exc:
            self._lose(exc)
            self._schedule_retry()
            return None
        return self._deliver(frame)

    def due(self) -> float:
        """Monotonic time from which `poll()` has something to do: the next reopen
        attempt while lost, else the capture's next frame (0.0: now)."""
        cap = self._cap
        if cap is None:
            return self.retry_at
        return cap.due()

    def full_luma(self):
        """The last frame's luma at full source size (a copy), None when the capture has none."""
        full = getattr(self._cap, "full_luma", None)
        return full() if full is not None else None

    def skip(self, seconds: float) -> float:
        """Fast-forward the open capture by up to `seconds` (see `PyAVCapture.skip`)."""
        return 0.0 if self._cap is None else self._cap.skip(seconds)

    def close(self) -> None:
        """Release the source; the input is `stopped`."""
        self._release()
        self.state = STOPPED

    # -- internals ----------------------------------------------------------

    def _connect(self) -> bool:
        cap = self._factory()
        try:
            info = cap.open()
        except CaptureError as exc:
            cap.close()
            self._lose(exc)
            return False
        self._cap, self.info, self._fresh = cap, info, True
        self._interval = 1.0 / info.fps
        return True

    def _lose(self, exc: CaptureError) -> None:
        self.last_error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        self._release()
        if self.state != VIDEO_LOSS:
            self.state = VIDEO_LOSS
            log.warning("channel %d: VIDEO LOSS: %s", self.channel_id, self.last_error)
        else:
            log.debug("channel %d: reopen failed: %s", self.channel_id, self.last_error)

    def _release(self) -> None:
        cap, self._cap = self._cap, None
        if cap is not None:
            self._closed_drops += cap.drops
            cap.close()

    def _schedule_retry(self) -> None:
        self.retry_at = time.monotonic() + self._delay
        self._delay = min(self._delay * 2, self._backoff_max)

    def _deliver(self, frame: Frame) -> Frame:
        now = time.monotonic()
        if self._fresh:
            self._fresh = False
            self._delay = self._backoff_initial
            if self._last_pts is not None:
                # A new capture restarts its pts near 0: continue the channel
                # clock one interval on, or by the time really elapsed when
                # stream time is wall time.
                step = self._interval
                if self._cap.realtime:
                    step = max(step, now - self._last_mono)
                self._offset = self._last_pts + step - frame.pts
            if self.state == VIDEO_LOSS:
                self.reconnects += 1
                log.info("channel %d: video restored (%s)", self.channel_id, self.info.source)
            self.state = RUNNING
        pts = frame.pts + self._offset
        if self._last_pts is not None and pts <= self._last_pts:
            self._offset += self._last_pts + self._interval - pts
            pts = self._last_pts + self._interval
        frame.wall += pts - frame.pts
        frame.pts = pts
        frame.index = self.frames
        self.frames += 1
        self._last_pts, self._last_mono = pts, now
        return frame
