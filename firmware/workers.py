"""Recorded channels stepped in worker processes, one per core, so one interpreter lock does not cap the cores.

WHY. Each frame runs a little Python between the decoder and the kernels
(which themselves run without the GIL). Worker threads of one process queue
for that one lock, so two threads reach markedly less of decode-only
throughput than two processes (docs/decisions/0001-worker-processes.md,
docs/performance.md). A worker process is also a fault boundary:
a decoder that crashes on a broken stream ends one process, not the appliance.

HOW. `ProcessPool(specs, sink, processes)` deals the channels out to the
processes in turn. Each process builds real `firmware.channel.Channel`s from
the plain `ChannelSpec`s, loads the kernels (`vca.warmup`) and steps its
channels with a one-worker `firmware.scheduler.WorkerPool` (in batches).
The parent owns the statistics store: every record, background snapshot and
checkpoint a channel makes crosses the pipe in the order it was made, and
the parent hands it to `sink`, so the store ends up with what an in-process
channel would have written.

In the parent each channel is a `RemoteChannel` with what the appliance,
its service and the bench read of a `Channel` (`config`, `counters`,
`capture.info/state/last_error/drops`, `budget.stats()`, `state`,
`preview()`, `reconfigure()`, `stop()`, `join()`, `alive`), kept current by
a status message each process sends every STATUS_INTERVAL and on request
(`ProcessPool.refresh()`).

MESSAGES, one duplex pipe per process, tuples with the tag first:
  parent -> worker  ("status", token)  ("preview", token, cid)  ("flush", token, cid)
                    ("reconfigure", cid, ChannelConfig)  ("budget", cid, us)  ("cpu", cid, us)
                    ("stop", cid)
  worker -> parent  ("status", token | None, {cid: ChannelSnapshot})
                    ("preview", token, array | None)  ("flushed", token)
                    ("record", HourRecord)
                    ("background", cid, wall, image)  ("checkpoint",)
                    ("log", LogRecord attributes)

DEALING. Channels with the heat map enabled are dealt out first, then the
others, so the analysis is spread over the cores (a console enable later
does not move a channel). Within a process one thread steps all its
channels, so a source that blocks a read holds that process's channels.

LIFETIME. A worker ignores SIGINT (a console's Ctrl-C reaches the whole
process group; the parent decides) and takes SIGTERM (a service manager
stopping the group, or multiprocessing's own clean-up) as "stop every
channel": each then drains its running hour through the pipe and the worker
exits. When the pipe closes (the parent is gone, even by SIGKILL) it does
the same, so nothing is left decoding. `ProcessPool.close()` kills a worker
that has not exited by its deadline. A worker that dies is logged once and
its channels end ("stopped", with the reason as the last error).
"""
from __future__ import annotations

import dataclasses
import gc
import itertools
import logging
import multiprocessing as mp
import signal
import threading
import time
from dataclasses import dataclass

import numpy as np

from firmware.budget import BudgetStats
from firmware.channel import Channel
from firmware.channel_view import ChannelCounters, ChannelState
from firmware.config import ChannelConfig
from firmware.stats import HourRecord, StatisticsSink
from hal.frame import StreamInfo
from hal.input import CaptureState

log = logging.getLogger("firmware.workers")

STATUS_INTERVAL = 0.2   # wall seconds between a worker's status messages
FULL_STATUS_EVERY = 10  # ...of which every 10th has the cost percentiles (on request: always)
REPLY_TIMEOUT = 5.0     # wall seconds the parent waits for a status or preview reply


@dataclass(frozen=True, slots=True)
class CaptureSpec:
    """How a worker opens a channel's source: `hal.capture.PyAVCapture` arguments."""

    source: str
    loop: bool = False
    analysis_width: int | None = None
    pacing: str = "realtime"
    clock_start: float = 0.0
    open_timeout: float = 5.0
    read_timeout: float = 5.0
    decoder_threads: int = 1
    skip_loop_filter: str = "none"

    def open(self):
        from hal.capture import PyAVCapture

        return PyAVCapture(self.source, loop=self.loop, analysis_width=self.analysis_width, pacing=self.pacing,
                           clock_start=self.clock_start, open_timeout=self.open_timeout,
                           read_timeout=self.read_timeout, decoder_threads=self.decoder_threads,
                           skip_loop_filter=self.skip_loop_filter)


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """Everything a worker needs to build one `Channel`."""

    config: ChannelConfig
    capture: CaptureSpec
    budget_us: float
    checkpoint_interval: float
    stop_at: float | None = None
    count_from: float | None = None  # appliance time from which statistics count (time before is stored)
    cpu_us: float | None = None      # CPU per captured frame: the budget follows what decoding leaves of it


@dataclass(frozen=True, slots=True)
class ChannelSnapshot:
    """A channel's counters and states as its worker last saw them."""

    frames: int
    analysed: int
    wall: float
    done: bool
    scene_changes: int
    state: ChannelState
    capture_state: CaptureState
    info: StreamInfo | None
    last_error: str
    drops: int
    budget_us: float
    overruns: int
    skipped: int
    stride: int
    costs: tuple[float, float] | None   # (median, p99) us; only in full snapshots
    problem: str = ""                   # Channel.problem


def _snapshot(c: Channel, full: bool) -> ChannelSnapshot:
    k, b = c.counters, c.budget
    costs = None
    if full:
        st = b.stats()
        costs = (st.median_us, st.p99_us)
    return ChannelSnapshot(frames=k.frames, analysed=k.analysed, wall=k.wall, done=k.done,
                           scene_changes=k.scene_changes, state=c.state,
                           capture_state=c.capture.state, info=c.capture.info,
                           last_error=c.capture.last_error, drops=c.capture.drops, budget_us=b.budget_us,
                           overruns=b.overruns, skipped=b.skipped, stride=b.stride, costs=costs,
                           problem=c.problem)


# ---------------------------------------------------------------------- worker side

class _PipeSink:
    """The worker's statistics sink: everything goes to the parent, in order."""

    def __init__(self, send):
        self._send = send

    def record(self, rec: HourRecord) -> None:
        self._send(("record", rec))

    def save_background(self, channel: int, wall: float, image: np.ndarray) -> None:
        self._send(("background", channel, wall, image))

    def checkpoint(self) -> None:
        self._send(("checkpoint",))

    def close(self) -> None:
        pass


class _PipeLog(logging.Handler):
    def __init__(self, send):
        super().__init__()
        self._send = send

    def emit(self, record: logging.LogRecord) -> None:
        try:
            d = dict(record.__dict__)
            d["msg"], d["args"] = record.getMessage(), None
            if record.exc_info:
                d["exc_text"] = logging.Formatter().formatException(record.exc_info)
            d["exc_info"] = None
            self._send(("log", d))
        except Exception:  # the pipe is gone: nobody is left to tell
            pass


def _worker_main(conn, specs: list[ChannelSpec], log_level: int) -> None:
    """A worker process: build the channels, step them, answer the parent until they end."""
    from firmware.channel import load_kernels
    from firmware.scheduler import WorkerPool
    from hal.input import CaptureInput

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    channels: dict[int, Channel] = {}

    def stop_all(*_) -> None:
        for c in channels.values():
            c.stop()
    signal.signal(signal.SIGTERM, stop_all)
    lock = threading.Lock()

    def send(msg) -> None:
        with lock:
            conn.send(msg)

    root = logging.getLogger()
    root.handlers[:] = [_PipeLog(send)]
    root.setLevel(log_level)
    load_kernels()
    sink = _PipeSink(send)
    for s in specs:
        channels[s.config.id] = Channel(s.config, CaptureInput(s.config.id, s.capture.open), sink,
                                        budget_us=s.budget_us, checkpoint_interval=s.checkpoint_interval,
                                        stop_at=s.stop_at, count_from=s.count_from, cpu_us=s.cpu_us)
    pool = WorkerPool(list(channels.values()), workers=1)
    pool.start()
    settled = False

    def status(token, full: bool = True) -> None:
        send(("status", token, {cid: _snapshot(c, full) for cid, c in channels.items()}))

    next_status = 0.0
    ticks = 0
    try:
        while pool.alive:
            now = time.monotonic()
            if now >= next_status:
                # Cost percentiles only every FULL_STATUS_EVERY-th time: with
                # dozens of channels they are the status message's main cost.
                status(None, full=ticks % FULL_STATUS_EVERY == 0)
                ticks += 1
                next_status = now + STATUS_INTERVAL
            if not settled and all(c.counters.frames or c.capture.state != CaptureState.CONNECTING or c.stopping
                                   for c in channels.values()):
                # Every channel has its decoder and analyser now: as the
                # appliance does after boot, put them out of the collector's
                # sight, or full collections scanning them land in frames.
                gc.collect()
                gc.freeze()
                settled = True
            if not conn.poll(min(STATUS_INTERVAL, max(0.0, next_status - now))):
                continue
            msg = conn.recv()
            try:
                _obey(msg, channels, send, status)
            except Exception:  # a bad request must not take the channels down
                log.exception("worker: cannot handle %r", msg[0])
    except (EOFError, OSError):
        stop_all()  # the parent is gone: stop, drain into the void, exit
    pool.join()
    try:
        status(None, full=True)
        conn.close()
    except OSError:
        pass


def _obey(msg, channels: dict[int, Channel], send, status) -> None:
    """Carry out one request from the parent (MESSAGES)."""
    tag = msg[0]
    if tag == "status":
        status(msg[1])
    elif tag == "preview":
        send(("preview", msg[1], channels[msg[2]].preview()))
    elif tag == "flush":
        token = msg[1]
        # Answered by the stepping thread after the drained records: the
        # parent's store has them when the answer arrives (one pipe, in order).
        channels[msg[2]].request_flush(lambda: send(("flushed", token)))
    elif tag == "reconfigure":
        channels[msg[1]].reconfigure(msg[2])
    elif tag == "budget":
        channels[msg[1]].budget.budget_us = msg[2]
    elif tag == "cpu":
        channels[msg[1]].budget.cpu_us = msg[2]
    elif tag == "stop":
        channels[msg[1]].stop()


# ---------------------------------------------------------------------- parent side

class _CaptureView:
    """RemoteChannel.capture: the input's state as last reported."""

    def __init__(self):
        self.info: StreamInfo | None = None
        self.state = CaptureState.CONNECTING
        self.last_error = ""
        self.drops = 0

    def close(self) -> None:
        """The worker closes the source when its channel stops."""


class _BudgetView:
    """RemoteChannel.budget: the meter's figures as last reported; setting the budget is sent on."""

    def __init__(self, channel: RemoteChannel, budget_us: float, cpu_us: float | None):
        self._channel = channel
        self._stats = BudgetStats(budget_us, 0.0, 0.0, 0, 0, 1)
        self._cpu_us = cpu_us

    @property
    def cpu_us(self) -> float | None:
        return self._cpu_us

    @cpu_us.setter
    def cpu_us(self, us: float | None) -> None:
        self._cpu_us = us
        self._channel._send("cpu", us)

    @property
    def budget_us(self) -> float:
        return self._stats.budget_us

    @budget_us.setter
    def budget_us(self, us: float) -> None:
        self._stats = dataclasses.replace(self._stats, budget_us=us)
        self._channel._send("budget", us)

    @property
    def overruns(self) -> int:
        return self._stats.overruns

    @property
    def skipped(self) -> int:
        return self._stats.skipped

    def stats(self) -> BudgetStats:
        return self._stats


class RemoteChannel:
    """A channel stepped in a worker process, seen from the parent (see the module docstring)."""

    def __init__(self, spec: ChannelSpec, worker: _Worker):
        self.config = spec.config
        self.counters = ChannelCounters()
        self.capture = _CaptureView()
        self.budget = _BudgetView(self, spec.budget_us, spec.cpu_us)
        self._worker = worker
        self._state = ChannelState.CONNECTING
        self.problem = ""
        self._stopping = False
        self._done = threading.Event()

    def _update(self, s: ChannelSnapshot) -> None:
        k = self.counters  # fps is the parent's own figure (the appliance's status loop)
        k.frames, k.analysed, k.wall, k.done = s.frames, s.analysed, s.wall, s.done
        k.scene_changes = s.scene_changes
        cap = self.capture
        cap.info, cap.state, cap.last_error, cap.drops = s.info, s.capture_state, s.last_error, s.drops
        old = self.budget._stats
        median, p99 = s.costs if s.costs is not None else (old.median_us, old.p99_us)
        self.budget._stats = BudgetStats(s.budget_us, median, p99, s.overruns, s.skipped, s.stride)
        self._state = s.state
        self.problem = s.problem
        if s.done:
            self._done.set()

    def _lost(self, why: str) -> None:
        self.capture.state, self._state = CaptureState.STOPPED, ChannelState.STOPPED
        self.capture.last_error = why
        self.counters.done = True  # ended, as a channel stopped by an internal error is
        self._done.set()

    @property
    def state(self) -> ChannelState:
        return self._state

    @property
    def stopping(self) -> bool:
        return self._stopping

    @property
    def alive(self) -> bool:
        return not self._done.is_set()

    def _send(self, tag: str, *args) -> None:
        self._worker.send((tag, self.config.id, *args))

    def reconfigure(self, config: ChannelConfig) -> None:
        """Apply new settings from the channel's next frame."""
        self.config = config
        self._send("reconfigure", config)

    def preview(self) -> np.ndarray | None:
        return self._worker.ask("preview", self.config.id)

    def flush(self, timeout: float) -> bool:
        return self._worker.ask("flush", self.config.id, timeout=timeout) is not None

    def stop(self) -> None:
        self._stopping = True
        self._send("stop")

    def join(self, timeout: float | None = None) -> None:
        self._done.wait(timeout)


class _Worker:
    """One worker process and the parent's end of its pipe."""

    def __init__(self, ctx, specs: list[ChannelSpec], sink: StatisticsSink, name: str):
        self.sink = sink
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(child, specs, logging.getLogger().getEffectiveLevel()),
                                   name=name, daemon=True)
        self.channels = {s.config.id: RemoteChannel(s, self) for s in specs}
        self._child = child
        self._send_lock = threading.Lock()
        self._tokens = itertools.count(1)
        self._replies: dict[int, list] = {}
        self._reply = threading.Condition()
        self._closed = False          # the pipe is gone: no reply will come
        self.ready = threading.Event()  # the first status arrived: kernels loaded, channels started
        self._receiver = threading.Thread(target=self._receive, name=f"{name}-receiver", daemon=True)

    def start(self) -> None:
        self.process.start()
        self._child.close()  # the worker holds the other end now
        self._receiver.start()

    def send(self, msg) -> None:
        try:
            with self._send_lock:
                self.conn.send(msg)
        except (OSError, ValueError):
            pass  # the worker is gone; _receive has said so

    def ask(self, tag: str, *args, timeout: float = REPLY_TIMEOUT):
        """Send request (tag, token, *args); the worker's answer, None on timeout or once it is gone."""
        token = next(self._tokens)
        with self._reply:
            self._replies[token] = []
        self.send((tag, token, *args))
        with self._reply:
            self._reply.wait_for(lambda: self._replies[token] or self._closed, timeout)
            got = self._replies.pop(token)
        return got[0] if got else None

    @property
    def alive(self) -> bool:
        """Still receiving: the worker has not exited, or what it sent is not all handled."""
        return self._receiver.is_alive()

    def join(self, timeout: float | None) -> None:
        if self._receiver.ident is not None:  # started
            self._receiver.join(timeout)

    def kill(self) -> None:
        if self.process.pid is not None and self.process.is_alive():
            log.error("%s: did not stop in time; killed", self.process.name)
            self.process.kill()

    def _receive(self) -> None:
        while True:
            try:
                msg = self.conn.recv()
            except (EOFError, OSError):
                break
            try:
                self._handle(msg)
            except Exception:
                # Keep reading: a worker blocked on a full pipe would stop its channels.
                log.exception("%s: could not handle %r from the worker", self.process.name, msg[0])
        with self._reply:
            self._closed = True
            self._reply.notify_all()
        self.process.join(timeout=REPLY_TIMEOUT)
        # A worker exits once all its channels have ended and drained; any
        # channel not done by then went down with it.
        lost = [c for c in self.channels.values() if c.alive]
        if lost:
            why = f"worker process ended (exit code {self.process.exitcode})"
            log.error("%s: %s; channel(s) %s stopped", self.process.name, why,
                      ", ".join(str(c.config.id) for c in lost))
            for c in lost:
                c._lost(why)

    def _handle(self, msg) -> None:
        tag = msg[0]
        if tag == "record":
            self.sink.record(msg[1])
        elif tag == "checkpoint":
            self.sink.checkpoint()
        elif tag == "background":
            self.sink.save_background(msg[1], msg[2], msg[3])
        elif tag == "status":
            for cid, snap in msg[2].items():
                self.channels[cid]._update(snap)
            self.ready.set()
            self._answer(msg[1], True)
        elif tag == "preview":
            self._answer(msg[1], msg[2])
        elif tag == "flushed":
            self._answer(msg[1], True)
        elif tag == "log":
            record = logging.makeLogRecord(msg[1])
            logging.getLogger(record.name).handle(record)

    def _answer(self, token: int | None, value) -> None:
        if token is None:
            return
        with self._reply:
            if token in self._replies:
                self._replies[token].append(value)
                self._reply.notify_all()


class ProcessPool:
    """`specs` stepped in `processes` worker processes; statistics go to `sink` in the parent."""

    def __init__(self, specs: list[ChannelSpec], sink: StatisticsSink, processes: int):
        if processes < 1:
            raise ValueError(f"processes must be >= 1 (got {processes})")
        ctx = mp.get_context("spawn")  # never fork a process that already runs threads
        n = max(1, min(processes, len(specs)))
        dealt = sorted(specs, key=lambda s: not s.config.heat_map.enabled)  # stable: analysed first
        self._workers = [_Worker(ctx, dealt[k::n], sink, f"channels-{k + 1}") for k in range(n) if dealt[k::n]]
        self.channels: dict[int, RemoteChannel] = {}
        for w in self._workers:
            self.channels.update(w.channels)

    def start(self) -> None:
        for w in self._workers:
            w.start()

    @property
    def pids(self) -> list[int]:
        """Process ids of the live workers."""
        return [w.process.pid for w in self._workers if w.process.pid is not None and w.process.is_alive()]

    def wait_ready(self, timeout: float) -> bool:
        """Wait until every worker has loaded its kernels and started its channels."""
        deadline = time.monotonic() + timeout
        return all(w.ready.wait(max(0.0, deadline - time.monotonic())) for w in self._workers)

    def refresh(self) -> None:
        """Bring every channel's figures up to date (one status round trip per worker)."""
        for w in self._workers:
            if w.ask("status") is None and w.alive:
                log.warning("%s: no status within %g s; figures may be stale", w.process.name, REPLY_TIMEOUT)

    def join(self, timeout: float | None = None) -> None:
        """Wait until the workers have exited and everything they sent is handed to the sink."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for w in self._workers:
            w.join(None if deadline is None else max(0.0, deadline - time.monotonic()))

    def close(self, timeout: float) -> None:
        """Stop every channel and wait up to `timeout` for the workers to drain and exit;
        kill those that have not (their unsent increments are lost), then wait for
        what the others sent to reach the sink."""
        for c in self.channels.values():
            if not c.stopping:
                c.stop()
        self.join(timeout)
        for w in self._workers:
            if w.alive:
                w.kill()
        self.join(REPLY_TIMEOUT)

    @property
    def alive(self) -> bool:
        return any(w.alive for w in self._workers)

