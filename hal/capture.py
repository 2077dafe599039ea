"""The capture card of one channel: PyAV decoding to timestamped luma frames.

A source is a local file, a looped recording (replayed forever with
continuous timestamps) or any URL FFmpeg opens (rtsp://, tcp://, http://,
udp://, ...). Frames leave as the decoder's own Y plane (no colour
conversion), downscaled by an integer factor to the analysis size when the
channel asks for it. Every failure is one `hal.errors.CaptureError` subclass.

Pacing:
  "max"       a frame per `read()`, as fast as the consumer asks.
  "realtime"  a recording plays like a live camera into a capture card with
              a ring of `ring` frame buffers (default `CAPTURE_RING` = 3,
              like the 3-4 buffers a V4L2 capture driver queues): `read()`
              waits until the frame is due; a late consumer gets the
              oldest frame still in the ring, so it can catch up after a
              burst, and a frame is dropped (decoded, counted in `drops`,
              never delivered) only when the ring overflows, i.e. when the
              consumer is `ring` or more frame intervals late for it.
Live URLs are paced by the camera itself: `read()` never sleeps for them,
and a late consumer leaves the backlog in the socket (the camera drops, not
us), so `drops` stays 0 for live sources.

Streams on the local machine (a FIFO another program writes, a character
device, a socket file) are live sources too: data comes when the writer
sends it. FFmpeg would open and read them with blocking system calls that
no timeout interrupts (a FIFO without a writer blocks its reader forever),
so they are read through `StreamReader`: a non-blocking descriptor with the
read timeout, so a silent writer is `SourceStalled` and a FIFO nobody writes
to is a `SourceOpenError`, never a hang.
"""
from __future__ import annotations

import os
import select
import stat
import time

import av
import numpy as np

from hal.downscale import AreaDownscaler
from hal.errors import (CaptureError, SourceEnded, SourceOpenError, SourceStalled,
                        StreamDecodeError)
from hal.frame import SKIP_LOOP_FILTER, Frame, StreamInfo

PACINGS = ("max", "realtime")
DEFAULT_FPS = 25.0
# Frame buffers of a real-time capture (see the module docstring). One buffer
# dropped ~0.6 % of the frames of 64 channels on 2 cores: a scheduling hiccup
# of two frame intervals is enough. Three absorb such bursts (80 ms of slack
# at 25 fps) at the price of that much more latency, no memory: the frames
# are decoded when delivered or dropped, not held.
CAPTURE_RING = 3

# Pixel formats whose plane 0 is 8-bit luma at full resolution: the Y plane
# can be handed out as is.
_LUMA8 = frozenset({
    "gray", "yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p",
    "yuv440p", "yuvj440p", "yuv411p", "yuv410p", "yuva420p", "yuva422p", "yuva444p",
    "nv12", "nv21", "nv16", "nv24",
})

# The H.264 decoder conceals most damage itself; a packet it rejects
# outright is skipped, and only a run of this many rejected packets in a
# row counts as a broken stream.
_MAX_BAD_PACKETS = 25


def is_stream_device(source: str) -> bool:
    """True for a local path that is a FIFO, a character device or a socket (not a recording)."""
    if "://" in source and not source.startswith("file:"):
        return False
    try:
        mode = os.stat(source[5:] if source.startswith("file:") else source).st_mode
    except (OSError, ValueError):
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISSOCK(mode)


def is_live(source: str) -> bool:
    """True for network URLs (anything with a scheme other than file:) and local stream devices
    (`is_stream_device`): sources paced by their sender, whose reads may wait."""
    return ("://" in source and not source.startswith("file:")) or is_stream_device(source)


class StreamReader:
    """A FIFO or device opened non-blocking, read by PyAV as a file object, with a timeout.

    `read(n)` returns what is there (b"" at the end: the writer closed), waits
    up to `timeout` seconds for data, then raises SourceStalled; PyAV passes
    the exception through the decoder call that asked for the data."""

    def __init__(self, path: str, timeout: float):
        self.path = path
        self.timeout = timeout
        self._fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        self.received = 0

    def readable(self) -> bool:
        return True

    def read(self, n: int = 65536) -> bytes:
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                data = os.read(self._fd, n)
            except BlockingIOError:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise SourceStalled(f"{self.path}: no data for {self.timeout:g} s; check the program "
                                        "or device that feeds it") from None
                select.select([self._fd], [], [], min(left, 0.5))
                continue
            except OSError as e:
                raise StreamDecodeError(f"{self.path}: read failed ({e.strerror})") from None
            self.received += len(data)
            return data

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def luma_view(frame: av.VideoFrame) -> np.ndarray:
    """Zero-copy view of a decoded frame's Y plane.

    Returns uint8 (height, width). Row stride is the decoder's line size
    (`frame.planes[0].line_size` >= width, padded for SIMD), so the array is
    not C-contiguous. The view borrows the decoder's buffer: it is valid only
    while `frame` is alive and unmodified; copy it to keep it longer.
    `frame.format` must have 8-bit luma in plane 0 (see `_LUMA8`).
    """
    plane = frame.planes[0]
    h, w = frame.height, frame.width
    line = plane.line_size
    if line < 0:
        # Bottom-up frame: PyAV exposes the buffer from its lowest address,
        # i.e. from the last image row.
        return np.frombuffer(plane, np.uint8).reshape(h, -line)[::-1, :w]
    return np.frombuffer(plane, np.uint8).reshape(h, line)[:, :w]


class PyAVCapture:
    """One channel's capture over PyAV. Not thread-safe: one reader thread.

    source:          path or URL.
    loop:            replay a recording forever (files only).
    analysis_width:  sub-stream width; None analyses at full size
                     (see `hal.downscale` for the integer-factor rule).
    pacing:          "max" or "realtime" (see module docstring).
    clock_start:     POSIX time of pts 0: `Frame.wall = clock_start + pts`.
    open_timeout, read_timeout:
                     seconds without data before a network source counts
                     as stalled (`SourceStalled`). Files have no timeout.
    ring:            real-time capture buffers, >= 1 (see the module docstring).
    decoder_threads: 0 = FFmpeg decides (frame + slice threads, one per
                     core); n = at most n threads. Frame threading adds
                     n-1 frames of latency and a frame buffer per thread;
                     with many channels, parallelism across channels
                     (one decoding thread each, GIL released while
                     decoding) scales better, so the firmware passes 1.
    skip_loop_filter: which frames the decoder leaves unfiltered by its in-loop
                     deblocking filter, FFmpeg's discard levels
                     (`SKIP_LOOP_FILTER`): "none" (default: every frame
                     filtered, the picture as encoded) ... "all". Deblocking
                     smooths block edges for viewers; the analysis compares
                     a pixel with its own history and does not need it.
                     The effect on decode cost and on detection accuracy
                     is measured in docs/performance.md.
    """

    def __init__(self, source: str, *, loop: bool = False, analysis_width: int | None = None,
                 pacing: str = "max", clock_start: float = 0.0, open_timeout: float = 5.0,
                 read_timeout: float = 5.0, decoder_threads: int = 0, ring: int = CAPTURE_RING,
                 skip_loop_filter: str = "none"):
        if pacing not in PACINGS:
            raise ValueError(f"pacing must be one of {PACINGS} (got {pacing!r})")
        if loop and is_live(source):
            raise ValueError(f"loop applies to recordings, not to the live URL {source!r}; set loop: false")
        if decoder_threads < 0:
            raise ValueError(f"decoder_threads must be >= 0 (got {decoder_threads}); 0 means automatic")
        if ring < 1:
            raise ValueError(f"ring must be >= 1 frame buffer (got {ring})")
        if skip_loop_filter not in SKIP_LOOP_FILTER:
            raise ValueError(f"skip_loop_filter must be one of {', '.join(SKIP_LOOP_FILTER)} "
                             f"(got {skip_loop_filter!r})")
        if analysis_width is not None and analysis_width < 1:
            raise ValueError(f"analysis_width must be >= 1 (got {analysis_width}); omit it for full size")
        self.source = source
        self.loop = loop
        self.analysis_width = analysis_width
        self.pacing = pacing
        self.clock_start = clock_start
        self.open_timeout = open_timeout
        self.read_timeout = read_timeout
        self.decoder_threads = decoder_threads
        self.ring = ring
        self.skip_loop_filter = skip_loop_filter
        self.live = is_live(source)
        self.device = is_stream_device(source)
        self._reader: StreamReader | None = None
        self.info: StreamInfo | None = None
        self._drops = 0
        self._index = 0
        self._container = None

    @property
    def realtime(self) -> bool:
        """True when stream time runs with the wall clock (paced file or live URL)."""
        return self.live or self.pacing == "realtime"

    @property
    def drops(self) -> int:
        """Frames decoded but never delivered because the consumer was late."""
        return self._drops

    # -- open / close ---------------------------------------------------

    def open(self) -> StreamInfo:
        """Open the source and report what it is. Raises SourceOpenError or SourceStalled."""
        self.close()
        src = self.source
        try:
            # Files get no interrupt callback: PyAV's callback takes the GIL
            # on every I/O call, which would serialise parallel channels.
            timeout = (self.open_timeout, self.read_timeout) if self.live else None
            options = {"rtsp_transport": "tcp"} if src.startswith("rtsp") else {}
            if self.device:
                self._reader = StreamReader(src[5:] if src.startswith("file:") else src, self.read_timeout)
                container = av.open(self._reader, mode="r")
            else:
                container = av.open(src, mode="r", timeout=timeout, options=options)
        except CaptureError:
            self._close_reader()
            raise
        except av.error.ExitError:
            raise SourceStalled(f"{src}: no data within {self.open_timeout:g} s of connecting; "
                                "check the camera is streaming") from None
        except FileNotFoundError:
            raise SourceOpenError(f"{src}: no such file; check the channel's source path") from None
        except ConnectionRefusedError:
            raise SourceOpenError(f"{src}: connection refused; check the camera address and port") from None
        except Exception as exc:  # any FFmpeg/OS failure to open is one kind of loss
            if self._reader is not None and self._reader.received == 0:
                self._close_reader()
                raise SourceOpenError(f"{src}: nothing is writing to it; start the program or device that "
                                      "feeds it") from None
            self._close_reader()
            raise SourceOpenError(f"{src}: cannot open ({_one_line(exc)}); check the source") from None
        try:
            self.info = self._setup(container)
        except BaseException:
            container.close()
            self._close_reader()
            raise
        self._container = container
        return self.info

    def _setup(self, container) -> StreamInfo:
        if not container.streams.video:
            raise SourceOpenError(f"{self.source}: no video stream; check the source is a video")
        stream = container.streams.video[0]
        cc = stream.codec_context
        if cc is None:  # a damaged header can name a video stream FFmpeg has no decoder for
            raise SourceOpenError(f"{self.source}: video stream has no decoder; check the source")
        if self.decoder_threads != 1:
            cc.thread_type = "AUTO"
            cc.thread_count = self.decoder_threads
        else:
            cc.thread_count = 1
        if self.skip_loop_filter != "none":
            # Read when the decoder opens, at the first packet.
            cc.options = {**cc.options, "skip_loop_filter": self.skip_loop_filter}
        width, height = cc.width, cc.height
        if width <= 0 or height <= 0:
            raise SourceOpenError(f"{self.source}: video stream has no frame size; check the source")
        rate = stream.average_rate or stream.guessed_rate
        fps = float(rate) if rate and 1.0 <= float(rate) <= 1000.0 else DEFAULT_FPS
        self._stream = stream
        self._scaler = AreaDownscaler(width, height, self.analysis_width)
        self._interval = 1.0 / fps
        self._raw = self._raw_frames(container, stream)
        self._first_t: float | None = None   # stream time of the first frame, source seconds
        self._offset = 0.0                    # added to source time: loops and discontinuities
        self._period = 0.0                    # a loop's length in seconds, once one has wrapped
        self._last_pts: float | None = None   # last decoded pts (output seconds)
        self._pending_error: CaptureError | None = None  # raised on the read after the frame we hold
        self._pushed_back = None              # (av frame, pts) that `seek` decoded, delivered next
        self._t0: float | None = None         # monotonic time of pts 0 (realtime)
        self._held = None                     # the av frame whose plane is handed out
        return StreamInfo(source=self.source, codec=cc.name, width=width, height=height, fps=fps,
                          analysis_width=self._scaler.width, analysis_height=self._scaler.height)

    def close(self) -> None:
        """Release the decoder and the source. Safe to call twice."""
        if self._container is not None:
            self._raw.close()
            self._held = None
            try:
                self._container.close()
            except Exception:  # closing a broken stream must not mask why it broke
                pass
            self._container = None
        self._close_reader()

    def _close_reader(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def __enter__(self) -> "PyAVCapture":
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- reading ----------------------------------------------------------

    def read(self) -> Frame:
        """The next frame. Raises SourceEnded, SourceStalled or StreamDecodeError.

        `Frame.luma` is valid until the next `read()` or `close()`.
        """
        if self._container is None:
            raise RuntimeError("PyAVCapture.read() before open(); call open() first")
        avf, pts = self._decode()
        if self.pacing == "realtime" and not self.live:
            avf, pts = self._pace(avf, pts)
        luma = self._luma(avf)
        self._index += 1
        return Frame(luma=luma, pts=pts, wall=self.clock_start + pts, index=self._index - 1)

    def full_luma(self) -> np.ndarray | None:
        """A copy of the last frame's luma at the full source size (None before the first
        frame): for pictures, which want the source's detail rather than the analysis size."""
        held = self._held
        return None if held is None else np.array(luma_view(held))

    def due(self) -> float:
        """Monotonic time from which `read()` will not wait (0.0: now; paced recordings only wait).

        For a scheduler serving several paced channels: it estimates the next
        frame one interval after the last, which is exact at a constant frame rate.
        """
        if self.pacing != "realtime" or self.live or self._container is None or self._t0 is None \
                or self._last_pts is None:
            return 0.0
        return self._t0 + self._last_pts + self._interval

    def skip(self, seconds: float) -> float:
        """Fast-forward a looped recording: move its clock on by whole loops, at most
        `seconds`, without decoding them. Returns the seconds skipped (0 when not
        a looped file at max pacing: a live or paced source cannot run ahead).

        For replaying days quickly when nothing is analysed (heat map not armed).
        """
        if not self.loop or self.realtime or self._container is None:
            return 0.0
        period = self._period or (self._container.duration or 0) / 1e6  # AV_TIME_BASE units
        if period <= 0:
            return 0.0
        loops = int(seconds // period)
        self._offset += loops * period
        return loops * period

    def seek(self, seconds: float) -> None:
        """Position a recording so that the next `read()` returns its first frame at
        or after `seconds` of stream time (counted as `read()` counts it: from the
        first frame). Before the first `read()`, files only.

        FFmpeg seeks to the key frame at or before the target and the frames from
        there to the target are decoded and dropped, so what follows is exactly
        what a reader from the start would get. A container that cannot seek is
        decoded from the start instead. For replaying an archive from an hour
        within a long recording (`hal.playback`)."""
        if self._container is None or self.live or self._index or self._last_pts is not None:
            raise RuntimeError("seek() needs an open recording that has not been read yet")
        if seconds <= 0:
            return
        avf, pts = self._decode()  # the first frame fixes where stream time 0 is
        target = seconds - 1e-6    # pts are sums of floats
        if pts < target:
            stream, tb = self._stream, self._stream.time_base
            try:
                self._container.seek(int((self._first_t + seconds) / tb), stream=stream, backward=True)
            except Exception:  # not seekable: decode our way there
                pass
            else:
                self._raw.close()
                stream.codec_context.flush_buffers()
                self._raw = self._raw_frames(self._container, stream)
                self._last_pts = None  # the next frame's pts is not a discontinuity
            while pts < target:
                avf, pts = self._decode()
        self._pushed_back = (avf, pts)

    def _pace(self, avf, pts):
        """The ring: drop frames the consumer is `ring` intervals late for, then wait until due."""
        now = time.monotonic()
        if self._t0 is None:
            self._t0 = now - pts
        overflow = self.ring * self._interval
        while self._pending_error is None and self._t0 + pts + overflow <= now:
            try:
                nxt = self._decode()
            except CaptureError as exc:
                self._pending_error = exc  # deliver what we hold first, fail on the next read
                break
            self._drops += 1
            avf, pts = nxt
        delay = self._t0 + pts - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        return avf, pts

    def _luma(self, avf) -> np.ndarray:
        info = self.info
        if avf.width != info.width or avf.height != info.height:
            raise StreamDecodeError(f"{self.source}: frame size changed from {info.width}x{info.height} "
                                    f"to {avf.width}x{avf.height}; the channel will reopen")
        if avf.format.name not in _LUMA8:
            # Only RGB or >8-bit sources land here: the one case where we pay
            # for a conversion, to get an 8-bit Y plane.
            avf = avf.reformat(format="yuv420p")
        self._held = avf
        return self._scaler(luma_view(avf))

    def _decode(self):
        """Next decoded av frame and its continuous pts, with failures mapped."""
        if self._pushed_back is not None:
            frame, self._pushed_back = self._pushed_back, None
            return frame
        if self._pending_error is not None:
            raise self._pending_error
        try:
            avf = next(self._raw)
        except StopIteration:
            what = ("the writer closed it" if self.device else "the camera closed the stream" if self.live
                    else "end of recording")
            raise SourceEnded(f"{self.source}: {what}") from None
        except CaptureError:
            raise
        except av.error.ExitError:
            raise SourceStalled(f"{self.source}: no data for {self.read_timeout:g} s; "
                                "check the camera and network") from None
        except Exception as exc:  # FFmpeg, OS or PyAV error: the stream is broken
            raise StreamDecodeError(f"{self.source}: stream broken ({_one_line(exc)})") from None
        return avf, self._timestamp(avf)

    def _timestamp(self, avf) -> float:
        t = avf.time
        last = self._last_pts
        if t is None:
            pts = 0.0 if last is None else last + self._interval
        else:
            if self._first_t is None:
                self._first_t = t
            pts = t - self._first_t + self._offset
            if last is not None and pts <= last:
                # Timestamp discontinuity (wrap, camera restart, bad muxer):
                # rebase so the channel clock keeps running forward.
                self._offset += last + self._interval - pts
                pts = last + self._interval
        self._last_pts = pts
        return pts

    def _raw_frames(self, container, stream):
        """Decoded av frames; a looped source restarts from 0 at its end."""
        bad = 0
        since = time.monotonic()  # time spent in here since the last frame left
        while True:
            got = False
            for packet in container.demux(stream):
                if self.live and time.monotonic() - since > self.read_timeout:
                    # Packets arrive (so FFmpeg's read timeout never fires)
                    # but no picture comes out of them: as good as no video.
                    raise SourceStalled(f"{self.source}: no picture for {self.read_timeout:g} s "
                                        "although data arrives; check the camera's video encoder")
                try:
                    decoded = packet.decode()
                except av.error.ExitError:
                    raise
                except av.error.FFmpegError as exc:
                    bad += 1
                    if bad >= _MAX_BAD_PACKETS:
                        raise StreamDecodeError(f"{self.source}: {bad} undecodable packets in a row "
                                                f"({_one_line(exc)})") from None
                    continue
                for avf in decoded:
                    bad = 0
                    got = True
                    yield avf
                    since = time.monotonic()
            if not self.loop or not got:
                return
            # Continue the clock one frame interval after the last frame.
            offset = self._last_pts + self._interval
            self._period = offset - self._offset
            self._offset = offset
            container.seek(0)


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, av.error.FFmpegError) and exc.strerror:
        return exc.strerror  # without the errno and file name the log line already has
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
