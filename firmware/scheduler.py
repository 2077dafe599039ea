"""A few worker threads stepping many full-speed channels, instead of a thread per channel.

Every frame crosses the GIL about ten times (PyAV decode, the VCA's `nogil`
kernels). With a thread per channel, each crossing is a hand-off among all
channel threads and the second core mostly waits; with one worker per core,
round-robin over the channels, the same work runs ~40 % faster (2 cores, 16
channels at 640x360: 2383 -> 3362 frames/s, see the README's figures).

The channels wait in one shared queue ordered by when each has work next
(`CaptureInput.due()`): now, at full speed (so the queue is a round-robin);
its next frame's due time, for a paced recording; its next reopen attempt,
in VIDEO LOSS. A worker takes the channel due first, sleeps until it is due
if need be, steps it one frame (`Channel.step(block=False)`, which never
waits through VIDEO LOSS) and puts it back, so a channel is only ever
stepped by one worker at a time and the load balances itself (a disabled
channel costs a decode, an analysed one several times that). A channel that
ENDS (stopped, or past --duration) is finished by the worker that saw it
and leaves the queue; workers exit when no channel is left.

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


def default_workers() -> int:
    """One worker per core: measured best (2 cores: 2 workers 3362, 4 workers 3294 frames/s)."""
    return os.cpu_count() or 1


class WorkerPool:
    """Steps `channels` from `workers` threads (default one per core, at most one per channel)."""

    def __init__(self, channels: list[Channel], workers: int | None = None):
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be >= 1 (got {workers})")
        self.channels = list(channels)
        self.workers = max(1, min(workers or default_workers(), len(self.channels)))
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
            ch = self._take()
            if ch is None:
                if self._remaining == 0:
                    return
                continue
            try:
                outcome = ch.step(block=False)
            except Exception:
                log.exception("channel %d: internal error; channel stopped", ch.config.id)
                outcome = ENDED
            if outcome == ENDED:
                ch.finish()
                with self._lock:
                    self._remaining -= 1
                continue
            self._push(ch.capture.due(), ch)

    def _take(self) -> Channel | None:
        """The channel due first, once it is due (or stopping); None after a short sleep."""
        with self._lock:
            if not self._heap:
                wait = 0.002 if self._remaining else 0.0  # the other workers hold every channel
            else:
                due, _, ch = self._heap[0]
                now = time.monotonic()
                if due <= now or ch.stopping:
                    heapq.heappop(self._heap)
                    return ch
                # Nothing due yet (paced frames, reopen backoffs): a stopped
                # channel must not wait for its turn to end.
                for k, entry in enumerate(self._heap):
                    if entry[2].stopping:
                        self._heap[k] = self._heap[-1]
                        self._heap.pop()
                        heapq.heapify(self._heap)
                        return entry[2]
                wait = min(due - now, IDLE_SLEEP_MAX)
        time.sleep(wait)
        return None
