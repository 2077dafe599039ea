"""The machine's own overrun floor: how often fixed work overruns a budget with no video in it.

A real-time run counts a frame as an overrun when its CPU time exceeds the
budget. On a virtual machine some slices of CPU time are not the program's
to keep: the host preempts the virtual CPU, or the guest kernel bills an
interrupt to whichever thread it lands on, and the thread's CPU clock runs
on through it. No change to the analysis can remove those overruns, so a
capacity figure means little without the rate at which they happen anyway.

`overrun_floor` measures it in the same run, on the same cores, at the same
load: one thread per core repeats a chunk of pure register arithmetic (no
memory traffic, no Python, no GIL inside the chunk) calibrated to cost what
a frame costs, idling between chunks so the cores are as busy as in the run
being compared, and counts chunks whose thread CPU time exceeds the budget.
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

import numpy as np
from numba import njit

CALIBRATION_ITERATIONS = 200_000


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
def _spin(n, x):
    """n dependent multiply-adds on one float: CPU time and nothing else."""
    for _ in range(n):
        x = x * 1.0000001 + 1e-9
    return x


def iterations_for(chunk_us: float) -> int:
    """Spin iterations that cost about chunk_us of CPU time on this machine."""
    _spin(10, 1.0)  # load the kernel before timing it
    best = float("inf")
    for _ in range(5):
        t0 = time.thread_time_ns()
        _spin(CALIBRATION_ITERATIONS, 1.0)
        best = min(best, time.thread_time_ns() - t0)
    return max(1, int(CALIBRATION_ITERATIONS * chunk_us * 1000.0 / max(best, 1)))


def overrun_floor(chunk_us: float, budget_us: float, cpu_share: float, seconds: float,
                  threads: int | None = None) -> OverrunFloor:
    """Time chunks of ~chunk_us CPU on `threads` threads (default: one per core) for
    `seconds`, each thread busy `cpu_share` of the time, and count those over budget_us."""
    if chunk_us <= 0 or seconds <= 0:
        raise ValueError("chunk_us and seconds must be positive")
    threads = threads or os.cpu_count() or 1
    n = iterations_for(chunk_us)
    share = min(max(cpu_share, 0.01), 1.0)
    idle = chunk_us * 1e-6 * (1.0 - share) / share
    costs: list[np.ndarray] = []
    lock = threading.Lock()

    def work() -> None:
        out = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            t0 = time.thread_time_ns()
            _spin(n, 1.0)
            out.append((time.thread_time_ns() - t0) / 1000.0)
            if idle > 0:
                time.sleep(idle)
        with lock:
            costs.append(np.asarray(out))

    pool = [threading.Thread(target=work, name=f"floor-{k}", daemon=True) for k in range(threads)]
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
