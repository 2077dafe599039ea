"""The background snapshot report pictures are drawn on: full source size, people-free.

A real channel decodes a 640x360 recording analysed as its 320x180
sub-stream; someone walks across a textured floor. Every snapshot the
channel hands its statistics sink must be 640x360 (the source's detail, not
the analysis size enlarged), and where the walker was when it was taken the
snapshot shows the floor, not the walker.
"""
from __future__ import annotations

import numpy as np
import pytest

from firmware.channel import Channel
from firmware.config import ChannelConfig, HeatMapConfig
from hal.capture import PyAVCapture
from hal.input import CaptureInput
from tests.clips import make_clip

W, H, FPS, LOOP = 640, 360, 5, 18   # 3.6 s loop: snapshots every 600 s catch the walker mid-frame
BOX_W, TOP, BOTTOM = 36, 120, 280


def walker_x(k: int) -> int:
    return int(-40 + (W + 80) * k / LOOP)


def frames() -> list[np.ndarray]:
    rng = np.random.default_rng(5)
    floor = (110 + 25 * rng.random((H // 2, W // 2))).repeat(2, 0).repeat(2, 1).astype(np.uint8)
    out = []
    for k in range(LOOP):
        img = floor.copy()
        x = walker_x(k)
        img[TOP:BOTTOM, max(0, x):max(0, x + BOX_W)] = 30
        out.append(img)
    return out


class Snapshots:
    """A statistics sink that keeps every snapshot (the store keeps only the latest)."""

    def __init__(self):
        self.taken: list[tuple[float, np.ndarray]] = []

    def record(self, rec) -> None:
        pass

    def save_background(self, channel: int, wall: float, image: np.ndarray) -> None:
        self.taken.append((wall, image.copy()))

    def checkpoint(self) -> None:
        pass

    def close(self) -> None:
        pass


@pytest.mark.slow
def test_snapshots_are_full_size_with_the_people_taken_out(tmp_path):
    clip = make_clip(tmp_path / "walk.mp4", frames(), fps=FPS, options={"crf": "12", "preset": "ultrafast"})
    sink = Snapshots()
    hm = HeatMapConfig(enabled=True, regions=(((0.0, 0.2), (1.0, 0.2), (1.0, 1.0), (0.0, 1.0)),))
    cap = CaptureInput(1, lambda: PyAVCapture(str(clip), loop=True, pacing="max", analysis_width=320,
                                              decoder_threads=1))
    ch = Channel(ChannelConfig(id=1, name="Aisle", source=str(clip), loop=True, heat_map=hm), cap, sink,
                 budget_us=float("inf"), checkpoint_interval=3600.0, stop_at=1900.0)
    ch.start()
    ch.join(120)
    ch.stop()
    assert ch.counters.done and len(sink.taken) >= 3
    assert {img.shape for _, img in sink.taken} == {(H, W)}
    floor_seen = 0
    for wall, img in sink.taken[1:]:  # the first, at boot, is before the model has learned anything
        k = round(wall * FPS) % LOOP
        x = walker_x(k)
        if not 40 <= x <= W - BOX_W - 40:
            continue
        walker = img[TOP + 10:BOTTOM - 10, x + 6:x + BOX_W - 6]
        assert walker.mean() > 90, f"the walker at x={x} is in the snapshot taken at {wall:.1f} s"
        floor_seen += 1
        # Away from the walker the snapshot is the decoded frame itself: the source's detail.
        assert np.abs(img[TOP:BOTTOM, :max(0, x - 60)].astype(int) - frames()[k][TOP:BOTTOM, :max(0, x - 60)]).mean() < 4
    assert floor_seen >= 1
