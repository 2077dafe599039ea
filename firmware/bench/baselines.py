"""The two OpenCV pipelines our VCA is measured against, frame for frame.

    mog2             cv2 MOG2 (history 500, varThreshold 16, no shadows)
                     -> 3x3 opening -> 8-connected components with stats
    running_average  selective running average: |frame - background| > 25
                     -> 3x3 opening -> components; the background learns
                     (cv2.accumulateWeighted, alpha 0.01) only where the
                     cleaned mask is background

Same shape as `vca.analyzer.ChannelAnalyzer` for the benchmark: `step(luma,
t)` per frame, `foreground` holds the last cleaned mask (non-zero =
foreground). Every buffer is allocated once, and OpenCV runs on one thread,
as our step does, so the ratio compares algorithms, not thread pools.

OpenCV is the optional `bench` extra, never a runtime dependency: it is
imported only by `load_cv2()`, which raises `BaselinesUnavailable` (one line
naming the fix) when it is missing.
"""
from __future__ import annotations

import numpy as np

NAMES = ("mog2", "running_average")
RA_ALPHA = 0.01
RA_THRESHOLD = 25
MOG2_HISTORY = 500
MOG2_VAR_THRESHOLD = 16


class BaselinesUnavailable(RuntimeError):
    """OpenCV is not installed."""


def load_cv2():
    """The cv2 module set to one thread, or BaselinesUnavailable."""
    try:
        import cv2
    except ImportError:
        raise BaselinesUnavailable("OpenCV baselines skipped: OpenCV is not installed; "
                                   "pip install 'nvr-heatmap[bench]' to compare against them") from None
    cv2.setNumThreads(1)
    return cv2


class _CvPipeline:
    """Shared clean-up and components stage, buffers allocated once."""

    def __init__(self, height: int, width: int):
        self.cv2 = load_cv2()
        self.height, self.width = height, width
        self.kernel = np.ones((3, 3), np.uint8)
        self.raw = np.zeros((height, width), np.uint8)
        self.foreground = np.zeros((height, width), np.uint8)
        self.labels = np.zeros((height, width), np.int32)

    def _clean_and_label(self) -> int:
        cv2 = self.cv2
        cv2.morphologyEx(self.raw, cv2.MORPH_OPEN, self.kernel, dst=self.foreground)
        n, _, _, _ = cv2.connectedComponentsWithStats(self.foreground, labels=self.labels, connectivity=8)
        return n - 1  # label 0 is the background


class Mog2Pipeline(_CvPipeline):
    name = "mog2"

    def __init__(self, height: int, width: int):
        super().__init__(height, width)
        self.model = self.cv2.createBackgroundSubtractorMOG2(
            history=MOG2_HISTORY, varThreshold=MOG2_VAR_THRESHOLD, detectShadows=False)

    def step(self, luma: np.ndarray, t: float) -> int:
        """One frame; returns the number of blobs. t is unused: MOG2 counts frames."""
        self.model.apply(luma, fgmask=self.raw)
        return self._clean_and_label()


class RunningAveragePipeline(_CvPipeline):
    name = "running_average"

    def __init__(self, height: int, width: int):
        super().__init__(height, width)
        self.acc = np.zeros((height, width), np.float32)
        self.bg8 = np.zeros((height, width), np.uint8)
        self.diff = np.zeros((height, width), np.uint8)
        self.learn = np.zeros((height, width), np.uint8)
        self._started = False

    def step(self, luma: np.ndarray, t: float) -> int:
        """One frame; returns the number of blobs. t is unused: alpha is per frame."""
        cv2 = self.cv2
        if not self._started:
            self.acc[...] = luma
            self._started = True
        cv2.convertScaleAbs(self.acc, dst=self.bg8)
        cv2.absdiff(luma, self.bg8, dst=self.diff)
        cv2.threshold(self.diff, RA_THRESHOLD, 1, cv2.THRESH_BINARY, dst=self.raw)
        n = self._clean_and_label()
        cv2.compare(self.foreground, 0, cv2.CMP_EQ, dst=self.learn)  # selective: learn background only
        cv2.accumulateWeighted(luma, self.acc, RA_ALPHA, mask=self.learn)
        return n


def make_baselines(height: int, width: int) -> dict[str, _CvPipeline]:
    """Both pipelines for one frame size, keyed by NAMES; raises BaselinesUnavailable."""
    return {"mog2": Mog2Pipeline(height, width), "running_average": RunningAveragePipeline(height, width)}
