"""PyAVCapture on real encoded files and loopback network streams."""
from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hal.capture import PyAVCapture
from hal.errors import (CaptureError, SourceEnded, SourceOpenError, SourceStalled,
                        StreamDecodeError)
from tests.clips import SilentServer, TsSender, free_port, grey_frames, moving_square_frames
from tests.conftest import GREY_LEVELS

CLOCK = 1_700_000_000.0


def read_all(cap: PyAVCapture, limit: int = 10_000):
    """(luma copies, pts) until the source ends or fails; and how it ended."""
    lumas, pts = [], []
    try:
        for _ in range(limit):
            f = cap.read()
            lumas.append(f.luma.copy())
            pts.append(f.pts)
    except CaptureError as exc:
        return lumas, pts, exc
    return lumas, pts, None


def test_file_decodes_to_the_encoded_grey_levels_with_timestamps(grey_clip):
    with PyAVCapture(str(grey_clip), clock_start=CLOCK) as cap:
        info = cap.info
        assert (info.codec, info.width, info.height, info.fps) == ("h264", 160, 120, 25.0)
        assert (info.analysis_width, info.analysis_height) == (160, 120)
        for k, level in enumerate(GREY_LEVELS):
            f = cap.read()
            assert f.luma.dtype == np.uint8 and f.luma.shape == (120, 160)
            # The Y plane straight from the decoder, not a copy: rows are
            # the decoder's line size apart.
            assert not f.luma.flags.owndata and f.luma.strides[0] == cap._held.planes[0].line_size
            assert abs(int(np.median(f.luma)) - level) <= 2
            assert f.pts == pytest.approx(k / 25)
            assert f.wall == pytest.approx(CLOCK + k / 25)
            assert f.index == k
        with pytest.raises(SourceEnded, match="end of recording"):
            cap.read()


def test_the_square_is_where_it_was_encoded(square_clip):
    frames = moving_square_frames(50)
    with PyAVCapture(str(square_clip)) as cap:
        for want in frames[:10]:
            got = cap.read().luma
            assert np.abs(got.astype(int) - want).max() <= 8


def test_analysis_width_downscales_but_info_keeps_the_source_size(clip):
    path = clip("wide.mp4", grey_frames([50, 150], size=(320, 180)))
    with PyAVCapture(str(path), analysis_width=160) as cap:
        assert (cap.info.width, cap.info.height) == (320, 180)
        assert (cap.info.analysis_width, cap.info.analysis_height) == (160, 90)
        f = cap.read()
        assert f.luma.shape == (90, 160) and abs(int(f.luma.mean()) - 50) <= 2


@pytest.mark.parametrize("codec, pix_fmt, suffix", [("png", "rgb24", "mov"), ("ffv1", "yuv420p16le", "mkv")])
def test_sources_without_8bit_luma_are_converted(clip, codec, pix_fmt, suffix):
    img = np.full((120, 160, 3), 100, np.uint8)
    path = clip(f"odd.{suffix}", [img, img], codec=codec, pix_fmt=pix_fmt)
    with PyAVCapture(str(path)) as cap:
        f = cap.read()
    # Grey 100 lands near 16 + 100 * 219/255 = 102 in video range.
    assert f.luma.shape == (120, 160) and abs(int(f.luma.mean()) - 102) <= 3


def test_looped_recording_has_continuous_increasing_timestamps(grey_clip):
    n = len(GREY_LEVELS)
    with PyAVCapture(str(grey_clip), loop=True, clock_start=CLOCK) as cap:
        frames = [cap.read() for _ in range(3 * n + 5)]
    pts = np.array([f.pts for f in frames])
    np.testing.assert_allclose(np.diff(pts), 1 / 25, atol=1e-6)
    assert all(f.wall == pytest.approx(CLOCK + f.pts) for f in frames)
    assert [f.index for f in frames] == list(range(3 * n + 5))
    # Each pass replays the recording from its first frame.
    assert abs(int(np.median(frames[2 * n].luma)) - GREY_LEVELS[0]) <= 2


@pytest.mark.slow   # paced in real time
def test_realtime_with_a_fast_consumer_drops_nothing(square_clip):
    with PyAVCapture(str(square_clip), pacing="realtime") as cap:
        t0 = time.monotonic()
        _, pts, end = read_all(cap)
        elapsed = time.monotonic() - t0
    assert isinstance(end, SourceEnded)
    assert len(pts) == 50 and cap.drops == 0
    assert 1.9 <= elapsed <= 2.4   # 50 frames at 25 fps, delivered when due


@pytest.mark.slow   # paced in real time
def test_realtime_with_a_slow_consumer_drops_about_half(square_clip):
    delivered = 0
    with PyAVCapture(str(square_clip), pacing="realtime") as cap:
        try:
            while True:
                cap.read()
                delivered += 1
                time.sleep(2 / 25)   # the consumer needs two frame intervals
        except SourceEnded:
            pass
    assert delivered + cap.drops == 50
    assert 0.35 <= cap.drops / 50 <= 0.65, (delivered, cap.drops)


@pytest.mark.slow   # paced in real time
@pytest.mark.parametrize("ring, stall, lost", [(3, 2.5, (0, 0)), (1, 2.5, (1, 3)), (3, 6.5, (3, 5))])
def test_realtime_ring_absorbs_a_stall_shorter_than_its_buffers(square_clip, ring, stall, lost):
    # The consumer stops for `stall` frame intervals once, then keeps up: a
    # ring of 3 buffers hands out the backlog oldest first and loses nothing
    # for 2.5 intervals; one buffer (or a longer stall) loses the overflow.
    pts = []
    with PyAVCapture(str(square_clip), pacing="realtime", ring=ring) as cap:
        try:
            while True:
                pts.append(cap.read().pts)
                if len(pts) == 10:
                    time.sleep(stall / 25)
        except SourceEnded:
            pass
    assert lost[0] <= cap.drops <= lost[1], cap.drops
    assert len(pts) + cap.drops == 50
    assert np.all(np.diff(pts) > 0)   # oldest first: never out of order


def test_max_pacing_never_waits_or_drops(square_clip):
    with PyAVCapture(str(square_clip), pacing="max") as cap:
        t0 = time.monotonic()
        _, pts, _ = read_all(cap)
        assert time.monotonic() - t0 < 1.0 and len(pts) == 50 and cap.drops == 0


# -- failures ----------------------------------------------------------------

def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(SourceOpenError, match="nope.mp4: no such file"):
        PyAVCapture(str(tmp_path / "nope.mp4")).open()


def test_random_bytes_do_not_open(tmp_path):
    path = tmp_path / "noise.mp4"
    path.write_bytes(np.random.default_rng(1).integers(0, 256, 20_000, dtype=np.uint8).tobytes())
    with pytest.raises(SourceOpenError, match="cannot open"):
        PyAVCapture(str(path)).open()


def test_truncated_mp4_does_not_open(square_clip, tmp_path):
    data = square_clip.read_bytes()
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: len(data) // 2])   # the index (moov) is at the end
    with pytest.raises(SourceOpenError):
        PyAVCapture(str(path)).open()


def test_truncated_ts_plays_what_is_there_then_ends(square_ts, tmp_path):
    data = square_ts.read_bytes()
    path = tmp_path / "cut.ts"
    path.write_bytes(data[: len(data) // 2])
    with PyAVCapture(str(path)) as cap:
        _, pts, end = read_all(cap)
    assert 10 <= len(pts) < 50 and isinstance(end, SourceEnded)


@given(cuts=st.lists(st.tuples(st.floats(0.02, 0.98), st.integers(1, 400)), min_size=1, max_size=4),
       seed=st.integers(0, 2**16))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_corrupted_files_only_ever_raise_capture_errors(square_ts, square_clip, tmp_path, cuts, seed):
    rng = np.random.default_rng(seed)
    for src in (square_ts, square_clip):
        data = bytearray(src.read_bytes())
        for where, length in cuts:
            at = int(where * len(data))
            data[at:at + length] = rng.integers(0, 256, len(data[at:at + length]), dtype=np.uint8).tobytes()
        path = tmp_path / f"bad{src.suffix}"
        path.write_bytes(bytes(data))
        cap = PyAVCapture(str(path))
        try:
            cap.open()
            _, _, end = read_all(cap, limit=200)
            assert isinstance(end, (SourceEnded, StreamDecodeError))
        except CaptureError:
            pass
        finally:
            cap.close()


def test_nothing_listening_is_an_open_error():
    url = f"tcp://127.0.0.1:{free_port()}"
    with pytest.raises(SourceOpenError, match="connection refused"):
        PyAVCapture(url, open_timeout=1, read_timeout=1).open()


def test_server_that_accepts_but_never_sends_stalls_within_the_timeout():
    server = SilentServer()
    try:
        t0 = time.monotonic()
        with pytest.raises(SourceStalled, match="no data"):
            PyAVCapture(f"tcp://127.0.0.1:{server.port}", open_timeout=0.5, read_timeout=0.5).open()
        assert time.monotonic() - t0 < 2.0
    finally:
        server.close()


def test_stream_that_stops_mid_way_stalls(square_ts):
    data = square_ts.read_bytes()
    server = SilentServer(prefix=data[: len(data) // 2])   # sends half, then keeps the line open
    try:
        with PyAVCapture(f"tcp://127.0.0.1:{server.port}", open_timeout=2, read_timeout=0.5) as cap:
            t0 = time.monotonic()
            _, pts, end = read_all(cap)
        assert len(pts) >= 10 and isinstance(end, SourceStalled)
        assert time.monotonic() - t0 < 3.0
    finally:
        server.close()


def open_when_listening(cap: PyAVCapture, within: float = 10.0):
    """Dial until the sender's child process is listening."""
    deadline = time.monotonic() + within
    while True:
        try:
            return cap.open()
        except SourceOpenError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@pytest.mark.slow   # paced in real time
def test_live_mpegts_over_tcp_from_a_pyav_sender():
    port = free_port()
    with TsSender(port, seconds=1.5):
        cap = PyAVCapture(f"tcp://127.0.0.1:{port}", pacing="realtime", open_timeout=3, read_timeout=2)
        info = open_when_listening(cap)
        assert (info.codec, info.width, info.height, info.fps) == ("h264", 160, 120, 25.0)
        lumas, pts, end = read_all(cap)
        cap.close()
    assert isinstance(end, SourceEnded) and "camera closed" in str(end)
    assert len(pts) >= 30 and np.all(np.diff(pts) > 0)
    assert cap.drops == 0
    bright = [(luma > 180).sum() for luma in lumas]
    assert min(bright) >= 0.8 * 16 * 16   # the square is in every frame


def test_read_before_open_is_a_programming_error(grey_clip):
    with pytest.raises(RuntimeError, match="call open"):
        PyAVCapture(str(grey_clip)).read()


def test_skip_loop_filter_decodes_the_same_frames_without_deblocking(clip):
    # A textured, moving, coarsely quantised picture: its block edges are what the
    # loop filter smooths.
    rng = np.random.default_rng(3)
    base = rng.integers(0, 255, (120, 160), np.uint8)
    frames = [np.roll(base, 3 * k, axis=1) for k in range(12)]
    path = clip("blocky.mp4", frames, options={"crf": "40", "preset": "veryfast"})
    with PyAVCapture(str(path), decoder_threads=1) as cap:
        filtered, pts, _ = read_all(cap)
    with PyAVCapture(str(path), decoder_threads=1, skip_loop_filter="all") as cap:
        raw, raw_pts, _ = read_all(cap)
    assert raw_pts == pts and len(raw) == len(filtered) == 12
    diff = [np.abs(a.astype(np.int16) - b).mean() for a, b in zip(raw, filtered)]
    assert max(diff) > 0.05, diff   # deblocking skipped: different pixels...
    assert max(diff) < 8.0, diff    # ...of the same picture


def test_bad_settings_name_the_fix():
    with pytest.raises(ValueError, match="pacing must be one of"):
        PyAVCapture("a.mp4", pacing="fast")
    with pytest.raises(ValueError, match="loop applies to recordings"):
        PyAVCapture("rtsp://cam/1", loop=True)
    with pytest.raises(ValueError, match="ring must be >= 1"):
        PyAVCapture("a.mp4", ring=0)
    with pytest.raises(ValueError, match="skip_loop_filter must be one of none, default"):
        PyAVCapture("a.mp4", skip_loop_filter="yes")
