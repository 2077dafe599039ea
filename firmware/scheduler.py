"""A few worker threads stepping many full-speed channels, instead of a thread per channel.

Every frame crosses the GIL about ten times (PyAV decode, the VCA's `nogil`
kernels). With a thread per channel, each crossing is a hand-off among all
channel threads and the second core mostly waits; with one worker per core,
round-robin over the channels, the same work runs ~40 % faster (2 cores, 16
channels at 640x360: 2383 -> 3362 frames/s, see the README's figures).

The channels wait in one shared queue; a worker takes the next one, steps
it one frame (`Channel.step(block=False)`) and puts it back, so a channel
is only ever stepped by one worker at a time and the load balances itself
(a disabled channel costs a decode, an analysed one several times that).
A channel in VIDEO LOSS answers IDLE at once and goes back to the queue
until its reopen is due; when every channel is idle the workers sleep until
the earliest retry. A channel that ENDS (stopped, or past --duration) is
finished by the worker that saw it and leaves the queue; workers exit when
the queue has no channel left.

Only for sources that never pace themselves: recordings at `--speed max`.
Live cameras and real-time pacing block in the capture and keep their own
thread (`Channel.start`).
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque

from firmware.channel import ENDED, IDLE, Channel

log = logging.getLogger("firmware.scheduler")

IDLE_SLEEP_MAX = 0.05   # wall seconds: how late a stop or a due retry may be noticed when all are idle


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
        self._queue: deque[Channel] = deque()
        self._lock = threading.Lock()
        self._remaining = 0
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for c in self.channels:
            c.begin()
            self._queue.append(c)
        self._remaining = len(self.channels)
        if not self.channels:
            return
        self._threads = [threading.Thread(target=self._work, name=f"worker-{k}", daemon=True)
                         for k in range(self.workers)]
        for t in self._threads:
            t.start()

    def join(self, timeout: float | None = None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        for t in self._threads:
            t.join(None if deadline is None else max(0.0, deadline - time.monotonic()))

    @property
    def alive(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def _work(self) -> None:
        idle_streak = 0
        while True:
            try:
                ch = self._queue.popleft()
            except IndexError:
                if self._remaining == 0:
                    return
                time.sleep(0.002)  # the other workers hold every channel for the moment
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
            self._queue.append(ch)
            if outcome != IDLE:
                idle_streak = 0
                continue
            idle_streak += 1
            if idle_streak >= len(self._queue):
                # A whole round found nothing to do: everyone is in VIDEO LOSS.
                wait = min((c.capture.retry_at for c in list(self._queue)), default=0.0) - time.monotonic()
                time.sleep(min(max(wait, 0.001), IDLE_SLEEP_MAX))
                idle_streak = 0
