"""Per-channel frame-time budgets, like a DVR's analytics processor shared by channels.

The processor has `cores x analytics_share` seconds of analysis per second of
time. Shared over the channels' frame rates, each captured frame gets

    budget = analytics_share * cores / sum(fps of analysed channels)   seconds.

A channel that overruns its budget repeatedly degrades gracefully: it analyses
only every k-th frame (k = 2, 4, 8), so each analysed frame may cost up to
k budgets, and steps back towards k = 1 once its cost stays well inside the
budget again. It never waits for, or takes time from, another channel.

Cost is the CPU time the channel's thread spends in one analysis step
(`time.thread_time_ns`), so time spent waiting for a core while other
channels run is not billed to the frame.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

MAX_STRIDE = 8
WINDOW = 256          # analysed frames kept for median / p99
OVERRUNS_TO_DEGRADE = 3   # of the last 8 analysed frames
CALM_TO_RECOVER = 50      # analysed frames in a row at under half the stride's budget


def frame_budget_us(fps_of_channels: list[float], analytics_share: float, cores: int | None = None) -> float:
    cores = cores or os.cpu_count() or 1
    total_fps = sum(fps_of_channels) or 25.0
    return analytics_share * cores * 1e6 / total_fps


@dataclass(slots=True)
class BudgetStats:
    budget_us: float
    median_us: float
    p99_us: float
    overruns: int
    skipped: int
    stride: int


class FrameBudget:
    """Cost meter and frame-skip policy for one channel (one thread touches it)."""

    def __init__(self, budget_us: float):
        self.budget_us = budget_us
        self.stride = 1
        self.overruns = 0
        self.skipped = 0
        self._costs = np.zeros(WINDOW, np.float64)
        self._n = 0
        self._recent = 0        # bit history of the last 8 analysed frames: 1 = overrun
        self._calm = 0
        self._since = 0         # frames since the last analysed one

    def should_analyse(self) -> bool:
        """Call once per captured frame; False means skip this one."""
        self._since += 1
        if self._since >= self.stride:
            self._since = 0
            return True
        self.skipped += 1
        return False

    def record(self, cost_us: float) -> None:
        self._costs[self._n % WINDOW] = cost_us
        self._n += 1
        allowed = self.budget_us * self.stride
        over = cost_us > allowed
        self.overruns += over
        self._recent = ((self._recent << 1) | over) & 0xFF
        if bin(self._recent).count("1") >= OVERRUNS_TO_DEGRADE and self.stride < MAX_STRIDE:
            self.stride *= 2
            self._recent = 0
            self._calm = 0
            return
        self._calm = self._calm + 1 if cost_us < allowed / 4 else 0
        if self._calm >= CALM_TO_RECOVER and self.stride > 1:
            self.stride //= 2
            self._calm = 0

    def stats(self) -> BudgetStats:
        n = min(self._n, WINDOW)
        costs = self._costs[:n]
        med, p99 = (float(np.median(costs)), float(np.percentile(costs, 99))) if n else (0.0, 0.0)
        return BudgetStats(self.budget_us, med, p99, self.overruns, self.skipped, self.stride)
