"""Per-channel frame-time budgets, like a DVR's analytics processor shared by channels.

Every captured frame is decoded, analysed or not, so what the analysis of a
frame can have is the CPU left after decoding. Shared over the channels'
frame rates, each captured frame has

    cpu = cores / sum(fps of analysed channels)   seconds of CPU,

and its analysis budget follows what is left of that once the channel's own
frames are decoded:

    budget = cpu - decode cost per frame (the channel's measured median),

never below MIN_SHARE of cpu. Until the decode cost is measured (the first
DECODES_TO_FOLLOW frames) the budget is the start-up allotment
`analytics_share * cpu`. A budget that followed the number of channels only
shrank as channels were added while the CPU still had headroom; this one
shrinks as the CPU is actually taken.

A channel that is genuinely overloaded degrades gracefully: when its recent
frames overrun repeatedly and cost more than the budget on average, it
analyses only every k-th frame (k = 2, 4, 8), so each analysed frame may
cost up to k budgets, and steps back towards k = 1 once its cost stays well
inside the budget again. Single slow frames (a preemption, a busy scene)
lose nothing: dwell sums real intervals. It never waits for, or takes time
from, another channel.

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
RECENT = 8            # analysed frames the overload test looks at
OVERRUNS_TO_DEGRADE = 3   # of the last RECENT analysed frames, whose mean is also over the budget
CALM_TO_RECOVER = 50      # analysed frames in a row at under a quarter of the stride's budget
DECODE_WINDOW = 64        # decode costs kept for their median
DECODES_TO_FOLLOW = 16    # decode costs measured before the budget follows the CPU left
MIN_SHARE = 0.05          # of a frame's CPU: the budget's floor when decoding takes nearly all of it


def cpu_per_frame_us(fps_of_channels: list[float], cores: int | None = None) -> float:
    """CPU time the machine has per captured frame when the channels share its cores."""
    cores = cores or os.cpu_count() or 1
    total_fps = sum(fps_of_channels) or 25.0
    return cores * 1e6 / total_fps


def frame_budget_us(fps_of_channels: list[float], analytics_share: float, cores: int | None = None) -> float:
    """The start-up allotment: `analytics_share` of the CPU per frame."""
    return analytics_share * cpu_per_frame_us(fps_of_channels, cores)


@dataclass(slots=True)
class BudgetStats:
    budget_us: float
    median_us: float
    p99_us: float
    overruns: int
    skipped: int
    stride: int


class FrameBudget:
    """Cost meter and frame-skip policy for one channel (one thread touches it).

    budget_us: the start-up allotment; cpu_us: the CPU per captured frame
    (`cpu_per_frame_us`), None for a fixed budget. Either may be set later
    (the appliance shares them again when channels come and go)."""

    def __init__(self, budget_us: float, cpu_us: float | None = None):
        self.allotted_us = budget_us
        self.cpu_us = cpu_us
        self.stride = 1
        self.overruns = 0
        self.skipped = 0
        self._costs = np.zeros(WINDOW, np.float64)
        self._n = 0
        self._recent = 0        # bit history of the last 8 analysed frames: 1 = overrun
        self._calm = 0
        self._since = 0         # frames since the last analysed one
        self._decodes = np.zeros(DECODE_WINDOW, np.float64)
        self._nd = 0
        self._decode_us = 0.0   # median of the window, refreshed every DECODE_WINDOW / 4 frames
        self._sum_recent = np.zeros(RECENT, np.float64)

    @property
    def budget_us(self) -> float:
        """The analysis budget of one frame: the CPU left after decoding it (see the module docstring)."""
        if self.cpu_us is None or self._nd < DECODES_TO_FOLLOW:
            return self.allotted_us
        return max(self.cpu_us - self._decode_us, MIN_SHARE * self.cpu_us)

    @budget_us.setter
    def budget_us(self, us: float) -> None:
        self.allotted_us = us

    @property
    def decode_us(self) -> float:
        """Median decode cost per frame of the recent frames (0 before any)."""
        return self._decode_us

    def record_decode(self, cost_us: float) -> None:
        """The CPU cost of capturing (decoding) one frame, analysed or not."""
        self._decodes[self._nd % DECODE_WINDOW] = cost_us
        self._nd += 1
        if self._nd <= DECODES_TO_FOLLOW or self._nd % (DECODE_WINDOW // 4) == 0:
            self._decode_us = float(np.median(self._decodes[:min(self._nd, DECODE_WINDOW)]))

    def should_analyse(self) -> bool:
        """Call once per captured frame; False means skip this one."""
        self._since += 1
        if self._since >= self.stride:
            self._since = 0
            return True
        self.skipped += 1
        return False

    def record(self, cost_us: float) -> None:
        """The CPU cost of analysing one frame."""
        self._costs[self._n % WINDOW] = cost_us
        allowed = self.budget_us * self.stride
        over = cost_us > allowed
        self.overruns += over
        self._recent = ((self._recent << 1) | over) & 0xFF
        recent = self._sum_recent
        recent[self._n % RECENT] = cost_us
        self._n += 1
        if (bin(self._recent).count("1") >= OVERRUNS_TO_DEGRADE and self.stride < MAX_STRIDE
                and recent.sum() > allowed * min(self._n, RECENT)):
            # Genuine overload: the recent frames cost more than the budget on average.
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
