"""Shared fixtures: small real encoded clips written once per test session."""
from __future__ import annotations

import os

import pytest
from hypothesis import settings

from tests.clips import grey_frames, make_clip, moving_square_frames

# CI runs the property tests on a fixed seed: a red build must replay the same
# examples; a developer's run keeps exploring new ones.
settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

GREY_LEVELS = list(range(20, 220, 10))   # 20 frames, one flat grey level each


@pytest.fixture
def clip(tmp_path):
    """`clip(name, frames, **make_clip_kwargs) -> Path` in this test's tmp dir."""
    def write(name, frames, **kwargs):
        return make_clip(tmp_path / name, frames, **kwargs)
    return write


@pytest.fixture(scope="session")
def grey_clip(tmp_path_factory):
    """160x120 H.264 mp4, 25 fps, frame k is flat grey GREY_LEVELS[k]."""
    return make_clip(tmp_path_factory.mktemp("grey") / "grey.mp4", grey_frames(GREY_LEVELS), fps=25)


@pytest.fixture(scope="session")
def square_clip(tmp_path_factory):
    """160x120 H.264 mp4, 25 fps, 2 s: a bright square crossing a textured floor."""
    return make_clip(tmp_path_factory.mktemp("square") / "square.mp4", moving_square_frames(50), fps=25)


@pytest.fixture(scope="session")
def square_ts(tmp_path_factory):
    """The same 2 s square clip as MPEG-TS bytes (what a camera sends)."""
    return make_clip(tmp_path_factory.mktemp("square_ts") / "square.ts", moving_square_frames(50), fps=25)
