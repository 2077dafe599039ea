"""Archive playback over real files: seeking gives the frames a straight decode gives, segments play in order."""
from __future__ import annotations

import shutil
import zlib

import pytest

from hal.capture import PyAVCapture
from hal.errors import SourceEnded
from hal.playback import Segment, SegmentPlayback
from tests.clips import make_clip, moving_square_frames


@pytest.fixture(scope="module")
def gop_clip(tmp_path_factory):
    """4 s at 25 fps with a key frame every 30 frames, so seeks land between key frames."""
    return make_clip(tmp_path_factory.mktemp("gop") / "gop.mp4", moving_square_frames(100), fps=25,
                     options={"g": "30", "keyint_min": "30", "sc_threshold": "0"})


def decoded(path, seek: float | None = None) -> list[tuple[float, int]]:
    """(pts, checksum of the luma) of every frame read, after `seek` if given."""
    cap = PyAVCapture(str(path), decoder_threads=1)
    cap.open()
    out = []
    try:
        if seek is not None:
            cap.seek(seek)
        while True:
            f = cap.read()
            out.append((round(f.pts, 6), zlib.crc32(f.luma.copy().tobytes())))
    except SourceEnded:
        return out
    finally:
        cap.close()


@pytest.mark.parametrize("target", [0.0, 0.02, 0.04, 1.3, 2.41, 3.96])
def test_seek_gives_the_frames_a_straight_decode_gives(gop_clip, target):
    assert decoded(gop_clip, target) == [r for r in decoded(gop_clip) if r[0] >= target - 1e-6]


def test_seek_past_the_end_ends_the_recording(gop_clip):
    assert decoded(gop_clip, 10.0) == []


def test_segments_play_in_order_across_a_gap_and_a_broken_file(tmp_path, gop_clip):
    a, b, broken = tmp_path / "a.mp4", tmp_path / "b.mp4", tmp_path / "broken.mp4"
    shutil.copy(gop_clip, a)
    shutil.copy(gop_clip, b)
    broken.write_bytes(b"not a video at all")
    T = 1_795_000_000.0
    segments = [Segment(str(a), T, T + 1.0, T + 3.0),             # seek into a, stop before its end
                Segment(str(broken), T + 3.0, T + 3.0, T + 7.0),  # cannot be opened: skipped
                Segment(str(b), T + 10.0, T + 10.0, T + 11.0)]    # after a 7 s gap
    pb = SegmentPlayback(segments, origin=T, read_ahead=4)
    frames = []
    while (f := pb.read()) is not None:
        frames.append((f.wall - T, f.pts, f.luma.copy()))
    walls = [round(w, 6) for w, _, _ in frames]
    assert walls == [round(1.0 + k * 0.04, 6) for k in range(50)] + [round(10.0 + k * 0.04, 6) for k in range(25)]
    # pts runs on the decoder's own times from the origin (see hal.playback TIME)
    assert [round(p, 9) for _, p, _ in frames] == [round(w, 9) for w in walls]
    # the pixels are the file's own: segment a from 1 s is frames 25.. of the clip
    ref = decoded(gop_clip)
    assert [zlib.crc32(x.tobytes()) for _, _, x in frames[:50]] == [h for _, h in ref[25:75]]
    assert len(pb.problems) == 1 and str(broken) in pb.problems[0] and pb.problems[0].endswith("; skipped")
    assert pb.read() is None and pb.state == "stopped"
