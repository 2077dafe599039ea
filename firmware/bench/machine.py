"""The machine's own overrun floor: how often fixed work overruns a budget with no video in it.

A real-time run counts a frame as an overrun when its CPU time exceeds the
budget. On a virtual machine some slices of CPU time are not the program's
to keep: the host preempts the virtual CPU or stalls its memory accesses,
or the guest kernel bills an interrupt to whichever thread it lands on, and
the thread's CPU clock runs on through it. No change to the analysis can
remove those overruns, so a capacity figure means little without the rate
at which they happen anyway.

`overrun_floor` measures it in the same run, on the same cores, at the same
load: one thread per core repeats a chunk of fixed work of the analysis'
kind, reading one byte of every cache line of a channel-sized buffer, a
different buffer each time (as many as there are channels, so each chunk
starts cold, as each frame's state does). There is no Python, no GIL and no
data-dependent branch inside a chunk, and its length is calibrated to what
a frame costs. The threads idle between chunks so the cores are as busy as
in the run being compared, and chunks whose thread CPU time exceeds the
budget are counted.

Measured here: at 64 channels' load, chunks reading registers only went over
a 625 us budget 0-18 times in 85,000; chunks reading 5 MB buffers in turn,
20 in 80,000 over 3x their median, like the analysis' own rare frames.
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

import numpy as np
from numba import njit

LINE = 64                  # bytes per cache line: one read each
CALIBRATION_CHUNKS = 20


@dataclass(slots=True)
class OverrunFloor:
    chunks: int          # fixed-work chunks timed, all threads
    over_budget: int     # of which cost more thread CPU time than the budget
    median_us: float     # cost of one chunk: what a frame costs in the compared run
    p99_us: float
    max_us: float
    cpu_share: float     # how busy the threads kept the cores (sleep overshoots the asked share)

    @property
    def rate(self) -> float:
        """Share of chunks over budget: compare with overruns / analysed frames of the run."""
        return self.over_budget / self.chunks if self.chunks else 0.0


@njit(cache=True, nogil=True)
def _stream(buf, start, lines):
    """Read one byte of each of `lines` cache lines of buf from `start`, wrapping; their sum."""
    n = buf.shape[0]
    j = start % n
    s = 0
    for _ in range(lines):
        s += buf[j]
        j += LINE
        if j >= n:
            j -= n
    return s


class _Buffers:
    """`count` buffers of `size` bytes, touched once so they are resident, taken in turn."""

    def __init__(self, count: int, size: int):
        self.size = max(size, LINE)
        self.all = [np.ones(self.size, np.uint8) for _ in range(max(count, 1))]


def lines_for(chunk_us: float, buffers: _Buffers) -> int:
    """Cache lines per chunk that cost about chunk_us of CPU time, read as the run reads
    them (buffers in turn): two rounds of CALIBRATION_CHUNKS, rescaled after each."""
    lines = max(1, buffers.size // LINE)
    _stream(buffers.all[0], 0, 1)  # load the kernel before timing it
    for _ in range(2):
        costs = []
        for k in range(CALIBRATION_CHUNKS):
            t0 = time.thread_time_ns()
            _stream(buffers.all[k % len(buffers.all)], _offset(k, buffers.size), lines)
            costs.append(time.thread_time_ns() - t0)
        lines = max(1, int(lines * chunk_us * 1000.0 / max(float(np.median(costs)), 1.0)))
    return lines


def _offset(k: int, size: int) -> int:
    """Where chunk k starts reading: a different page each time."""
    return (k * 4096) % size


def overrun_floor(chunk_us: float, budget_us: float, cpu_share: float, seconds: float,
                  threads: int | None = None, buffers: int = 1, buffer_bytes: int = 4 << 20) -> OverrunFloor:
    """Time chunks of ~chunk_us CPU on `threads` threads (default: one per core) for
    `seconds`, each thread busy `cpu_share` of the time, reading `buffers` buffers of
    `buffer_bytes` in turn (one per channel, each the size of a channel's state), and
    count the chunks over budget_us."""
    if chunk_us <= 0 or seconds <= 0:
        raise ValueError("chunk_us and seconds must be positive")
    threads = threads or os.cpu_count() or 1
    bufs = _Buffers(buffers, buffer_bytes)
    lines = lines_for(chunk_us, bufs)
    share = min(max(cpu_share, 0.01), 1.0)
    idle = chunk_us * 1e-6 * (1.0 - share) / share
    costs: list[np.ndarray] = []
    lock = threading.Lock()

    def work(k: int) -> None:
        out = []
        end = time.monotonic() + seconds
        j = k
        while time.monotonic() < end:
            buf = bufs.all[j % len(bufs.all)]
            j += threads
            t0 = time.thread_time_ns()
            _stream(buf, _offset(j, bufs.size), lines)
            out.append((time.thread_time_ns() - t0) / 1000.0)
            if idle > 0:
                time.sleep(idle)
        with lock:
            costs.append(np.asarray(out))

    pool = [threading.Thread(target=work, args=(k,), name=f"floor-{k}", daemon=True) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    c = np.concatenate(costs) if costs else np.zeros(0)
    if c.size == 0:
        return OverrunFloor(0, 0, 0.0, 0.0, 0.0, 0.0)
    return OverrunFloor(chunks=int(c.size), over_budget=int((c > budget_us).sum()),
                        median_us=float(np.median(c)), p99_us=float(np.percentile(c, 99)),
                        max_us=float(c.max()), cpu_share=float(c.sum() * 1e-6 / (seconds * threads)))
