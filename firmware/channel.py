"""One channel of the appliance: capture -> heat-map analysis -> hourly statistics.

One frame's work is `Channel.step()`, or its two halves `take()` (the
frame) and `process()` (the rest). Who calls them is the driver's choice:
`start()` gives the channel its own thread (live cameras: the thread blocks
in the capture until a frame arrives), while `firmware.scheduler.WorkerPool`
steps many recorded channels from a few workers, taking a batch of frames
before processing them (`take(block=False)`, `process()`, `finish()`).
Either way one thread at a time touches a channel's state. Each frame:

1. take the next frame from the capture input (None: the appliance stops,
   or, non-blocking, the source is lost and not due for a retry);
2. pick up a configuration change (areas, parameters, enable) from the next frame;
3. when the frame's appliance hour differs from the running hour, drain the
   analyser into the hour that closed (so statistics never straddle hours);
4. if the heat map is enabled and armed at that time, the time is not already
   in the store (`count_from`: a run whose clock starts inside stored time
   counts from where the stored time ends, never twice), and the frame
   budget does not say skip, analyse it and meter the cost;
5. every checkpoint interval of wall time, drain the running hour into the store.

Statistics are bucketed by the frame's appliance time (`Frame.wall`).

WARM-UP. A channel given `warm_until` (archive re-analysis, `firmware.reanalyze`)
analyses the frames before that time whenever the heat map is enabled,
schedule or not, so the background model and the tracks are learned, and
drops what they counted: statistics count from `warm_until` on.
"""
from __future__ import annotations

import dataclasses
import logging
import threading
import time

import numpy as np

from firmware.budget import FrameBudget
from firmware.channel_view import ChannelCounters, ChannelState
from firmware.clock import hour_start, weekday_minute
from firmware.config import ChannelConfig
from firmware.stats import HourRecord, Layout, StatisticsSink
from hal import downscale
from hal.frame import Frame, StreamInfo
from hal.input import CaptureInput
from vca.analyzer import ChannelAnalyzer
from vca.mask import grow_mask
from vca.warmup import warm_up

log = logging.getLogger("firmware.channel")

# What one step did.
FRAME = "frame"   # took a frame (analysed or not)
IDLE = "idle"     # no frame: VIDEO LOSS, the next reopen not yet due (non-blocking only)
ENDED = "ended"   # stopped or past the end of the run: call finish() once

WARM_UP = -1               # the running "hour" of frames before warm_until: never recorded
PREVIEW_INTERVAL = 0.5     # wall seconds between preview copies for the console
DECODE_SAMPLE = 8          # frames per decode cost measured for the budget (firmware.budget)
BACKGROUND_INTERVAL = 600  # appliance seconds between background snapshots
SNAPSHOT_DIFF = 12         # grey levels from the learned background that mark a person in a snapshot
SNAPSHOT_MARGIN = 2        # analysis pixels around them also taken from the learned background


def load_kernels() -> None:
    """Load every kernel a channel runs, the analysis' (`vca.warmup`) and the capture's
    downscale, before channels start: one first needed mid-run (a scene change) would
    otherwise load, or compile, with the GIL held while every channel waits."""
    warm_up()
    downscale.warm_up()


class Channel:
    """One capture channel: its analysis state, and optionally its own thread."""

    def __init__(self, config: ChannelConfig, capture: CaptureInput, sink: StatisticsSink, *,
                 budget_us: float, checkpoint_interval: float, stop_at: float | None,
                 count_from: float | None = None, warm_until: float | None = None,
                 cpu_us: float | None = None):
        self.config = config
        self.capture = capture
        self.sink = sink
        self.budget = FrameBudget(budget_us, cpu_us)
        self.counters = ChannelCounters()
        self.checkpoint_interval = checkpoint_interval
        self.stop_at = stop_at
        self.count_from = count_from  # appliance time from which statistics count (None: always)
        self.warm_until = warm_until  # see WARM-UP
        self._pending: ChannelConfig | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._done = threading.Event()
        self._started = False
        self._analyzer: ChannelAnalyzer | None = None
        # Why the heat map cannot run on this source (a grid finer than the picture), or "":
        # the channel keeps capturing, unanalysed, until its settings or its picture change.
        self.problem = ""
        self._refused: tuple | None = None   # (frame shape, grid) the analyzer refused
        self._layout: Layout | None = None
        self._hour: int | None = None
        self._preview: np.ndarray | None = None
        self._preview_at = 0.0
        self._background_at = -BACKGROUND_INTERVAL
        self._last_checkpoint = time.monotonic()
        self._thread: threading.Thread | None = None
        self._flush_done: list = []   # callbacks of flush requests, answered by the stepping thread
        self._takes = 0

    # ------------------------------------------------------------------ control

    def start(self) -> None:
        """Run the channel in its own thread."""
        self.begin()
        self._thread = threading.Thread(target=self._run, name=f"channel-{self.config.id}", daemon=True)
        self._thread.start()

    def begin(self) -> None:
        """Mark the channel running (a pool's workers step it from now on)."""
        self._started = True
        self._last_checkpoint = time.monotonic()

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def join(self, timeout: float | None = None) -> None:
        if self._started:
            self._done.wait(timeout)

    @property
    def alive(self) -> bool:
        return self._started and not self._done.is_set()

    def reconfigure(self, config: ChannelConfig) -> None:
        """Apply new settings from the channel's next frame (called from any thread)."""
        with self._lock:
            self._pending = config

    def preview(self) -> np.ndarray | None:
        with self._lock:
            return None if self._preview is None else self._preview.copy()

    def request_flush(self, done) -> None:
        """Drain the running hour into the sink (and checkpoint it) at the next frame, or
        the next idle step, then call `done()` on the stepping thread (any thread may ask)."""
        with self._lock:
            self._flush_done.append(done)

    def flush(self, timeout: float) -> bool:
        """`request_flush`, waiting up to `timeout` wall seconds for it."""
        answered = threading.Event()
        self.request_flush(answered.set)
        return answered.wait(timeout)

    @property
    def state(self) -> ChannelState:
        return ChannelState.of(self.capture.state, self.config.heat_map.enabled)

    # ------------------------------------------------------------------ the work

    def _run(self) -> None:
        try:
            while self.step() != ENDED:
                pass
        except Exception:
            log.exception("channel %d: internal error; channel stopped", self.config.id)
        finally:
            self.finish()

    def finish(self) -> None:
        """Drain the running hour into the store and mark the channel done (once, after ENDED)."""
        try:
            self._close_hour()
        except Exception:
            log.exception("channel %d: could not flush statistics", self.config.id)
        self.counters.done = True
        self._done.set()
        self._answer_flushes(drained=True)

    def step(self, block: bool = True) -> str:
        """One frame's work: FRAME, IDLE (non-blocking, source lost) or ENDED.

        block=True waits through VIDEO LOSS (and, paced, until the frame is
        due); block=False returns IDLE at once while the source is lost.
        """
        frame = self.take(block)
        return frame if isinstance(frame, str) else self.process(frame)

    def take(self, block: bool = True) -> Frame | str:
        """Step 1 alone: the next frame, or IDLE / ENDED as `step` returns them.

        The frame's luma is valid until this channel's next `take`; a
        worker may take frames of several channels and then process them
        (`firmware.scheduler`)."""
        # The decode's CPU time (waits are not CPU) on every DECODE_SAMPLE-th frame: the
        # analysis budget is what decoding leaves, and reading a thread's CPU clock is a
        # system call (~2 us on a busy virtual machine), so the meter samples.
        self._takes += 1
        metered = self._takes % DECODE_SAMPLE == 0
        t0 = time.thread_time_ns() if metered else 0
        if block:
            frame = self.capture.read(self._stop)
            if frame is None:
                return ENDED
        else:
            if self._stop.is_set():
                self.capture.close()
                return ENDED
            frame = self.capture.poll()
            if frame is None:
                if self._flush_done:
                    self._answer_flushes()
                return IDLE
        if metered:
            self.budget.record_decode((time.thread_time_ns() - t0) / 1000.0)
        if self.stop_at is not None and frame.wall >= self.stop_at:
            return ENDED
        return frame

    def process(self, frame: Frame) -> str:
        """Steps 2-5 for a frame from `take`; returns FRAME."""
        self.counters.frames += 1
        self.counters.wall = frame.wall
        self._take_pending_config()
        if self._analyzer is None or self._analyzer_size_changed(frame):
            if self._refused != self._refusal_key(frame):
                self._new_analyzer(self.capture.info, frame)
        hour = hour_start(frame.wall)
        if self.warm_until is not None and frame.wall < self.warm_until:
            hour = WARM_UP
        if hour != self._hour:
            self._close_hour()
            self._hour = hour
        armed = self._armed(frame.wall)
        if not armed and (self.config.heat_map.schedule or self._before_count(frame.wall)):
            self._fast_forward(frame.wall)
        elif armed and self._analyzer is not None and self.budget.should_analyse():
            # CPU time of this thread, not wall time: with many channels a
            # thread can be preempted mid-step, and waiting for a core is
            # not analysis cost (the budget is a share of the CPU).
            t0 = time.thread_time_ns()
            self._analyzer.step(frame.luma, frame.pts)
            self.budget.record((time.thread_time_ns() - t0) / 1000.0)
            self.counters.analysed += 1
            self.counters.scene_changes += self._analyzer.scene_change
            if frame.wall - self._background_at >= BACKGROUND_INTERVAL and not self._analyzer.settling:
                self.sink.save_background(self.config.id, frame.wall, self._snapshot(frame.luma))
                self._background_at = frame.wall
        self._update_preview(frame)
        now = time.monotonic()
        if self._flush_done:
            self._answer_flushes()
        elif now - self._last_checkpoint >= self.checkpoint_interval:
            self._drain()
            self.sink.checkpoint()
            self._last_checkpoint = now
        return FRAME

    def _answer_flushes(self, drained: bool = False) -> None:
        with self._lock:
            waiting, self._flush_done = self._flush_done, []
        if not drained:
            self._drain()
            self.sink.checkpoint()
            self._last_checkpoint = time.monotonic()
        for done in waiting:
            done()

    def _armed(self, wall: float) -> bool:
        hm = self.config.heat_map
        if self.warm_until is not None and wall < self.warm_until:
            return hm.enabled  # the warm-up learns, whatever the schedule
        return hm.enabled and not self._before_count(wall) and (not hm.schedule or hm.armed(*weekday_minute(wall)))

    def _before_count(self, wall: float) -> bool:
        return self.count_from is not None and wall < self.count_from

    def _fast_forward(self, wall: float) -> None:
        """Outside the schedule, or in time already stored, nothing is analysed: at full
        speed, skip to where counting starts."""
        if self._before_count(wall):
            nxt = self.count_from
        else:
            day_start = wall - wall % 86400
            weekday, minute = weekday_minute(wall)
            nxt = self.config.heat_map.next_arming(day_start, weekday, minute)
        if nxt is not None and nxt - wall > 1.0:
            self.capture.skip(nxt - wall)

    def _take_pending_config(self) -> None:
        if self._pending is None:  # the common case, checked without the lock
            return
        with self._lock:
            new, self._pending = self._pending, None
        if new is None:
            return
        old = self.config
        self.config = new
        self._refused = None  # new settings may fit the picture
        if self._analyzer is None:
            return
        if (new.heat_map.grid_columns, new.heat_map.grid_rows) != (old.heat_map.grid_columns, old.heat_map.grid_rows):
            # A new grid cannot be added to the old one: close the books first.
            self._close_hour()
            self._analyzer = None
        else:
            self._drain()  # increments so far belong to the old layout
            self._configure_analyzer()
        log.info("channel %d: settings applied from this frame on", new.id)

    def _analyzer_size_changed(self, frame: Frame) -> bool:
        return frame.luma.shape != self._analyzer.foreground.shape

    def _refusal_key(self, frame: Frame) -> tuple:
        hm = self.config.heat_map
        return frame.luma.shape, hm.grid_columns, hm.grid_rows

    def _new_analyzer(self, info: StreamInfo, frame: Frame) -> None:
        if self._analyzer is not None:
            self._close_hour()
            self._analyzer = None
        hm = self.config.heat_map
        try:
            self._analyzer = ChannelAnalyzer(info.analysis_height, info.analysis_width,
                                             grid_columns=hm.grid_columns, grid_rows=hm.grid_rows)
        except ValueError as e:  # the grid does not fit this source's picture: say so once
            self._refused = self._refusal_key(frame)
            self.problem = f"heat map not analysed: {e} (heat_map.grid_columns / grid_rows)"
            log.error("channel %d: %s", self.config.id, self.problem)
            return
        self._refused, self.problem = None, ""
        self._info = info
        self._configure_analyzer()

    def _configure_analyzer(self) -> None:
        hm = self.config.heat_map
        a = self._analyzer
        a.configure(hm.regions, hm.params)
        info = self._info
        self._layout = Layout(
            grid_rows=a.grid_rows, grid_columns=a.grid_columns, regions=hm.regions,
            params=dataclasses.astuple(hm.params),  # in HeatMapParams' field order
            source_width=info.width, source_height=info.height,
            analysis_width=info.analysis_width, analysis_height=info.analysis_height,
        )

    def _snapshot(self, luma: np.ndarray) -> np.ndarray:
        """The people-free background for report pictures, at the full source size when the
        capture has the full frame: that frame, with the pixels where the analysis frame
        differs from the learned background (people, inside the areas the model watches)
        replaced by the learned background, enlarged. Otherwise the learned background."""
        a = self._analyzer
        background = a.background
        full = self.capture.full_luma()
        if full is None:
            return background.copy()
        changed = (np.abs(luma.astype(np.int16) - background) > SNAPSHOT_DIFF) & (a.analysis_mask > 0)
        if not changed.any():
            return full
        grown = np.zeros_like(a.analysis_mask)
        grow_mask(changed.astype(np.uint8), SNAPSHOT_MARGIN, grown)
        fh, fw = full.shape
        h, w = background.shape
        rows = np.minimum(np.arange(fh) * h // fh, h - 1)
        cols = np.minimum(np.arange(fw) * w // fw, w - 1)
        people = grown[rows][:, cols].astype(bool)
        if (fh, fw) != (h, w):
            from PIL import Image  # only here, every BACKGROUND_INTERVAL

            # The integer-factor downscale drops the source's last rows and columns (hal.downscale).
            enlarged = np.asarray(Image.fromarray(background).resize((fw, fh), Image.Resampling.BILINEAR))
        else:
            enlarged = background
        full[people] = enlarged[people]
        return full

    def _update_preview(self, frame: Frame) -> None:
        now = time.monotonic()
        if now - self._preview_at < PREVIEW_INTERVAL:
            return
        self._preview_at = now
        with self._lock:
            if self._preview is None or self._preview.shape != frame.luma.shape:
                self._preview = np.empty(frame.luma.shape, np.uint8)
            np.copyto(self._preview, frame.luma)  # the luma view dies with the next read

    # ------------------------------------------------------------------ statistics

    def _drain(self) -> None:
        if self._analyzer is None or self._hour is None:
            return
        g = self._analyzer.drain()
        if self._hour == WARM_UP:
            return  # learned from, not counted
        if g.analysed_seconds <= 0 and g.visits_total == 0 and g.scene_changes == 0:
            return
        self.sink.record(HourRecord(
            channel=self.config.id, hour_start=self._hour, layout=self._layout,
            visits=g.visits, dwell=g.dwell, area_visits=g.area_visits, area_dwell=g.area_dwell,
            visits_total=int(g.visits_total), dwell_total=float(g.dwell_total),
            analysed_seconds=float(g.analysed_seconds), scene_changes=int(g.scene_changes),
        ))

    def _close_hour(self) -> None:
        self._drain()
        self.sink.checkpoint()
