"""The walker clip the appliance and worker tests run on, and process helpers."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.clips import make_clip

W, H, FPS = 320, 180, 25


def walker_frames(seconds: float) -> list[np.ndarray]:
    """A textured floor with a dark person-sized block walking left to right."""
    rng = np.random.default_rng(7)
    floor = (110 + 25 * rng.random((H, W))).astype(np.uint8)
    frames = []
    n = int(seconds * FPS)
    for k in range(n):
        img = floor.copy()
        x = int(-20 + (W + 40) * k / n)
        img[60:140, max(0, x):max(0, x + 18)] = 35
        frames.append(img)
    return frames


def make_walker_clip(path: Path, seconds: float = 4.0) -> Path:
    return make_clip(path, walker_frames(seconds), fps=FPS, options={"crf": "18", "preset": "ultrafast"})


def children(pid: int) -> list[int]:
    """Process ids whose parent is `pid` (Linux /proc)."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if int((d / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(d.name))
            except (OSError, IndexError, ValueError):
                pass
    return out


def gone(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True

