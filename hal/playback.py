"""Archive playback: stretches of recorded files played in order as one channel's capture input.

A recorder's archive keeps a channel as a series of files, each starting at a
known time. `SegmentPlayback` plays `Segment`s of them (a file, the
appliance time its first frame was recorded at, and the stretch [begin, end)
of appliance time to deliver from it) through `hal.capture.PyAVCapture`,
seeking into a file where a stretch starts inside it. It offers what a
`firmware.channel.Channel` reads of a `hal.input.CaptureInput` (`read`,
`poll`, `close`, `info`, `state`, `last_error`, `drops`, `due`, `skip`), so
the channel code that analyses a live camera analyses the archive.

TIME. `Frame.wall` is the file's start plus the frame's stream time: the
appliance time the frame was recorded at. `Frame.pts` is the same time
counted from `origin`, one clock across files; a gap between two files
shows as a jump in it, as a gap in a live stream does (the analysis credits
at most 1 s of it and ends its tracks). It is computed as (file start -
origin) + stream time, not as wall - origin: appliance times are ~1.8e9 s,
where a double resolves only 2.4e-7 s, and the analysis compares sums of
frame intervals against thresholds that fall exactly on frame multiples
(a track is confirmed 0.4 s old: two frames at 5 fps), so stream times
must be the decoder's own to give what the live appliance gives.

FAILURES. A file that cannot be opened, or breaks part-way, is left from
there on: one line in `problems` says which file, where and why, and
playback goes on with the next segment. Nothing here raises a capture error.

READ-AHEAD. Frames are decoded `read_ahead` at a time into buffers of this
playback, then handed out one by one: the decoder's code and the analysis'
code then each stay in the core's caches across a run of frames instead of
evicting each other at every frame, which is what the appliance's workers
get from stepping channels in batches (`firmware.scheduler`). A frame's
luma is valid until `read_ahead` more frames have been read.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import numpy as np

from hal.capture import PyAVCapture
from hal.errors import CaptureError, SourceEnded
from hal.frame import Frame, StreamInfo
from hal.input import CaptureState

log = logging.getLogger("hal.playback")

READ_AHEAD = 8   # frames decoded in one go (see READ-AHEAD)


@dataclass(frozen=True, slots=True)
class Segment:
    """Appliance time [begin, end) of the recording `path`, whose first frame is at `start`."""

    path: str
    start: float
    begin: float
    end: float


class SegmentPlayback:
    """Plays `segments` (in time order, not overlapping) as one capture input."""

    def __init__(self, segments: list[Segment] | tuple[Segment, ...], *, origin: float,
                 analysis_width: int | None = None, read_ahead: int = READ_AHEAD,
                 skip_loop_filter: str = "none"):
        """skip_loop_filter: decode as the channel does (`PyAVCapture`), so a re-analysis
        sees the pictures the live channel saw."""
        if read_ahead < 1:
            raise ValueError(f"read_ahead must be >= 1 (got {read_ahead})")
        self.segments = list(segments)
        self.origin = origin
        self.analysis_width = analysis_width
        self.skip_loop_filter = skip_loop_filter
        self.read_ahead = read_ahead
        self.info: StreamInfo | None = None
        self.state = CaptureState.CONNECTING
        self.last_error = ""
        self.drops = 0
        self.realtime = False
        self.problems: list[str] = []  # one line per file that could not be played to its end
        self.frames = 0                # frames delivered
        self._next = 0                 # index of the next segment to open
        self._cap: PyAVCapture | None = None
        self._segment: Segment | None = None
        self._buffers: list[np.ndarray] = []
        self._ready: list[tuple[int, float, float, StreamInfo]] = []  # (buffer, pts, wall, info), in order
        self._given = 0

    # -- the CaptureInput interface a Channel reads ----------------------------

    def read(self, stop: threading.Event | None = None) -> Frame | None:
        """The next frame, or None at the end of the last segment (or once `stop` is set)."""
        if stop is not None and stop.is_set():
            self.close()
            return None
        if self._given >= len(self._ready):
            self._fill()
            if not self._ready:
                self.close()
                return None
        k, pts, wall, info = self._ready[self._given]
        self._given += 1
        self.info = info
        frame = Frame(luma=self._buffers[k], pts=pts, wall=wall, index=self.frames)
        self.frames += 1
        return frame

    def poll(self) -> Frame | None:
        return self.read()

    def full_luma(self) -> np.ndarray | None:
        """The last frame's luma at full source size (a copy), when the analysis is at full
        size; None when it is downscaled: the decoder has moved on (READ-AHEAD), so a
        snapshot takes the learned background."""
        if self._given == 0 or self.info is None or self.info.analysis_width != self.info.width:
            return None
        return self._buffers[self._ready[self._given - 1][0]].copy()

    def due(self) -> float:
        return 0.0

    def skip(self, seconds: float) -> float:
        """Not supported: a task's segments are planned to cover only the time it needs."""
        return 0.0

    def close(self) -> None:
        self._close_file()
        self._next = len(self.segments)
        self.state = CaptureState.STOPPED

    # -- internals -----------------------------------------------------------

    def _fill(self) -> None:
        """Decode up to `read_ahead` frames into the buffers (fewer at the very end)."""
        self._ready.clear()
        self._given = 0
        while len(self._ready) < self.read_ahead:
            got = self._decode_one()
            if got is None:
                return
            luma, pts, wall, info = got
            k = len(self._ready)
            if k == len(self._buffers):
                self._buffers.append(np.empty(luma.shape, np.uint8))
            elif self._buffers[k].shape != luma.shape:
                self._buffers[k] = np.empty(luma.shape, np.uint8)
            np.copyto(self._buffers[k], luma)  # the decoder's plane dies with its next frame
            self._ready.append((k, pts, wall, info))

    def _decode_one(self) -> tuple[np.ndarray, float, float, StreamInfo] | None:
        """The next frame of the current segment, opening the next ones as they end."""
        while True:
            if self._cap is None and not self._open_next():
                return None
            seg, cap = self._segment, self._cap
            try:
                f = cap.read()
            except SourceEnded:
                self._close_file()
                continue
            except CaptureError as e:
                self._problem(seg, f"{_one_line(e)}; the rest of the file is skipped")
                self._close_file()
                continue
            if f.wall >= seg.end:
                self._close_file()
                continue
            if f.wall < seg.begin:  # a recording whose seek landed early
                continue
            return f.luma, (seg.start - self.origin) + f.pts, f.wall, cap.info

    def _open_next(self) -> bool:
        while self._next < len(self.segments):
            seg = self.segments[self._next]
            self._next += 1
            if seg.end <= seg.begin:
                continue
            cap = PyAVCapture(seg.path, analysis_width=self.analysis_width, pacing="max",
                              clock_start=seg.start, decoder_threads=1, skip_loop_filter=self.skip_loop_filter)
            try:
                cap.open()
                cap.seek(seg.begin - seg.start)
            except SourceEnded:
                cap.close()
                continue  # nothing recorded after `begin`: a recording shorter than listed
            except CaptureError as e:
                cap.close()
                self._problem(seg, f"{_one_line(e)}; skipped")
                continue
            self._cap, self._segment = cap, seg
            self.state = CaptureState.RUNNING
            return True
        return False

    def _close_file(self) -> None:
        if self._cap is not None:
            self._cap.close()
            self._cap = self._segment = None

    def _problem(self, seg: Segment, what: str) -> None:
        line = what if what.startswith(seg.path) else f"{seg.path}: {what}"
        self.problems.append(line)
        self.last_error = line
        log.info("%s", line)  # the caller reports problems; a worker process has no console


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__
