"""A few worker threads stepping many full-speed channels, instead of a thread per channel.

Every frame crosses the GIL about ten times (PyAV decode, the VCA's `nogil`
kernels). With a thread per channel, each crossing is a hand-off among all
channel threads and the second core mostly waits; with one worker per core,
round-robin over the channels, the same work runs markedly faster
(docs/decisions/0001-worker-processes.md, 0002-batches.md). The
appliance runs one such pool, of one worker, in each of its worker
processes (`firmware.workers`), which takes the GIL out of the picture
between cores; a pool of several threads remains for one process.

The channels wait in one shared queue ordered by when each has work next
(`CaptureInput.due()`): now, at full speed (so the queue is a round-robin);
its next frame's due time, for a paced recording; its next reopen attempt,
in VIDEO LOSS. A worker takes the channel due first (with others due, see
BATCHES), sleeps until it is due if need be, steps it one frame
(`Channel.take(block=False)`, which never waits through VIDEO LOSS, then
`Channel.process`) and puts it back, so a channel is only ever
stepped by one worker at a time and the load balances itself (a disabled
channel costs a decode, an analysed one several times that). A channel that
ENDS (stopped, or past --duration) is finished by the worker that saw it
and leaves the queue; workers exit when no channel is left.

BATCHES. A worker takes every channel that is due, up to `batch` of them,
decodes a frame of each (`Channel.take`), then analyses those frames one
after another (`Channel.process`). The decoder's code and the analysis
code then each stay in the core's caches across a batch instead of
evicting each other at every frame (the analysis state itself streams
well from memory; it is the code that a decode between two steps leaves
cold). Measured on 2 cores, 16 channels of camera-like 640x360 footage at
full speed: 2280 -> 2550 frames/s analysed at 640x360, 2577 -> 3002 at
320x180; 64 paced channels: cost per frame 307 -> 253 us median, CPU 77 ->
67 %. The batch is a worker's share of the channels (at most MAX_BATCH);
channels go back to the queue one by one as they are done, so the other
workers find them. A paced channel joins a batch only once its frame is
due; as paced frames come due one at a time, the first due waits up to
GATHER (10 ms, far inside the capture ring's slack of 3 frame intervals)
for the batch to fill.

For recordings, at full speed and paced. Live cameras block in the network
read and keep a thread each (`Channel.start`).
"""
from __future__ import annotations

import heapq
import itertools
import logging
import os
import threading
import time

from firmware.channel import ENDED, Channel

log = logging.getLogger("firmware.scheduler")

IDLE_SLEEP_MAX = 0.05   # wall seconds: the longest a worker sleeps before looking at the queue again
MAX_BATCH = 16          # channels decoded, then analysed, in one go by a worker
GATHER = 0.010          # wall seconds a due paced frame may wait for its batch to fill


def available_cores() -> int:
    """Cores this process may run on (affinity and cpusets included): one worker, or
    worker process, per core is measured best (2 cores: 2 workers 3362, 4 workers 3294
    frames/s)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class WorkerPool:
    """Steps `channels` from `workers` threads (default one per core, at most one per channel)."""

    def __init__(self, channels: list[Channel], workers: int | None = None, batch: int | None = None):
        """batch: channels a worker takes at once (default: see BATCHES; 1 steps them singly)."""
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be >= 1 (got {workers})")
        if batch is not None and batch < 1:
            raise ValueError(f"batch must be >= 1 (got {batch})")
        self.channels = list(channels)
        self.workers = max(1, min(workers or available_cores(), len(self.channels)))
        self.batch = batch or max(1, min(MAX_BATCH, len(self.channels) // self.workers))
        self._heap: list[tuple[float, int, Channel]] = []   # (due, order, channel)
        self._order = itertools.count()
        self._lock = threading.Lock()
        self._remaining = 0
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for c in self.channels:
            c.begin()
            self._push(0.0, c)
        self._remaining = len(self.channels)
        self._threads = [threading.Thread(target=self._work, name=f"worker-{k}", daemon=True)
                         for k in range(self.workers if self.channels else 0)]
        for t in self._threads:
            t.start()

    def join(self, timeout: float | None = None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        for t in self._threads:
            t.join(None if deadline is None else max(0.0, deadline - time.monotonic()))

    @property
    def alive(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def _push(self, due: float, ch: Channel) -> None:
        with self._lock:
            heapq.heappush(self._heap, (due, next(self._order), ch))

    def _work(self) -> None:
        while True:
            batch = self._take()
            if not batch:
                if self._remaining == 0:
                    return
                continue
            # Decode a frame of each, then analyse them (see BATCHES).
            taken = [(ch, self._guarded(ch, ch.take, False)) for ch in batch]
            for ch, frame in taken:
                outcome = frame if isinstance(frame, str) else self._guarded(ch, ch.process, frame)
                if outcome == ENDED:
                    ch.finish()
                    with self._lock:
                        self._remaining -= 1
                    continue
                self._push(ch.capture.due(), ch)

    @staticmethod
    def _guarded(ch: Channel, work, arg):
        """work(arg), or ENDED when it raises: one channel's fault stops that channel only."""
        try:
            return work(arg)
        except Exception:
            log.exception("channel %d: internal error; channel stopped", ch.config.id)
            return ENDED

    def _take(self) -> list[Channel]:
        """The channels due now, first due first, up to `batch` (or one stopping);
        [] after a short sleep when none is due."""
        with self._lock:
            if not self._heap:
                wait = 0.002 if self._remaining else 0.0  # the other workers hold every channel
            else:
                due, _, ch = self._heap[0]
                now = time.monotonic()
                ready = due <= now and (due <= now - GATHER or ch.stopping or self.batch == 1
                                        or sum(e[0] <= now for e in self._heap) >= self.batch)
                if ready or ch.stopping:
                    heapq.heappop(self._heap)
                    batch = [ch]
                    while len(batch) < self.batch and self._heap and self._heap[0][0] <= now:
                        batch.append(heapq.heappop(self._heap)[2])
                    return batch
                if due <= now:
                    # Paced channels come due one by one: let a batch gather.
                    due += GATHER
                # Nothing due yet (paced frames, reopen backoffs): a stopped
                # channel must not wait for its turn to end.
                for k, entry in enumerate(self._heap):
                    if entry[2].stopping:
                        self._heap[k] = self._heap[-1]
                        self._heap.pop()
                        heapq.heapify(self._heap)
                        return [entry[2]]
                wait = min(due - now, IDLE_SLEEP_MAX)
        time.sleep(wait)
        return []
