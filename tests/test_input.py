"""CaptureInput: VIDEO LOSS on one channel never disturbs another; reconnects keep the clock."""
from __future__ import annotations

import logging
import threading
import time

import numpy as np
import pytest

from hal.capture import PyAVCapture
from hal.input import CaptureInput
from tests.clips import TsSender, free_port

FAST = dict(backoff_initial=0.05, backoff_max=0.2)


def broken_sources(tmp_path, square_clip, square_ts):
    data = square_clip.read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])
    (tmp_path / "noise.mp4").write_bytes(np.random.default_rng(2).integers(0, 256, 9000, np.uint8).tobytes())
    return {
        "truncated": str(tmp_path / "cut.mp4"),
        "random bytes": str(tmp_path / "noise.mp4"),
        "missing": str(tmp_path / "missing.mp4"),
        "nobody listening": f"tcp://127.0.0.1:{free_port()}",
    }


def pump(inp: CaptureInput, stop: threading.Event, out: list):
    """A channel thread: read until stopped, keeping (pts, wall, state)."""
    while (f := inp.read(stop)) is not None:
        out.append((f.pts, f.wall, inp.state))


@pytest.mark.parametrize("kind", ["truncated", "random bytes", "missing", "nobody listening"])
def test_broken_source_is_video_loss_only_on_its_channel(kind, tmp_path, square_clip, square_ts, caplog):
    source = broken_sources(tmp_path, square_clip, square_ts)[kind]
    bad = CaptureInput(3, lambda: PyAVCapture(source, open_timeout=1, read_timeout=1), **FAST)
    good = CaptureInput(1, lambda: PyAVCapture(str(square_clip), loop=True), **FAST)
    stop = threading.Event()
    got_bad, got_good = [], []
    threads = [threading.Thread(target=pump, args=(bad, stop, got_bad)),
               threading.Thread(target=pump, args=(good, stop, got_good))]
    with caplog.at_level(logging.INFO, logger="hal.input"):
        for t in threads:
            t.start()
        time.sleep(0.8)   # several reopen attempts of the broken channel
        states = (bad.state, good.state)
        stop.set()
        for t in threads:
            t.join(5)
    assert states == ("video_loss", "running")
    assert got_bad == [] and bad.frames == 0 and bad.last_error
    assert len(got_good) > 100 and good.last_error == ""
    losses = [r.getMessage() for r in caplog.records if "VIDEO LOSS" in r.getMessage()]
    assert losses == [f"channel 3: VIDEO LOSS: {bad.last_error}"]   # logged once, not per retry
    assert bad.state == good.state == "stopped"


def test_stop_interrupts_the_backoff_wait(tmp_path):
    inp = CaptureInput(2, lambda: PyAVCapture(str(tmp_path / "none.mp4")), backoff_initial=5, backoff_max=5)
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    t0 = time.monotonic()
    assert inp.read(stop) is None
    assert time.monotonic() - t0 < 1.0 and inp.state == "stopped"


def test_reopened_recording_continues_the_channel_clock(square_ts, tmp_path):
    # A file that ends is a loss; the input reopens it and the clock runs on.
    data = square_ts.read_bytes()
    path = tmp_path / "cut.ts"
    path.write_bytes(data[: len(data) // 2])
    inp = CaptureInput(4, lambda: PyAVCapture(str(path), clock_start=1000.0), **FAST)
    stop = threading.Event()
    frames = []
    while inp.reconnects < 2:
        f = inp.read(stop)
        frames.append((f.pts, f.wall, f.index))
    pts = np.array([p for p, _, _ in frames])
    assert np.all(np.diff(pts) > 0)
    np.testing.assert_allclose(np.diff(pts), 1 / 25, atol=1e-6)   # max pacing: no gap added
    assert all(w == pytest.approx(1000.0 + p) for p, w, _ in frames)
    assert [i for _, _, i in frames] == list(range(len(frames)))
    assert inp.frames == len(frames) and inp.state == "running"


@pytest.mark.slow
def test_camera_that_reboots_goes_video_loss_and_back_without_time_running_back(caplog):
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    inp = CaptureInput(7, lambda: PyAVCapture(url, pacing="realtime", open_timeout=2, read_timeout=1),
                       backoff_initial=0.1, backoff_max=0.4)
    stop = threading.Event()
    seen = []
    states = set()
    watcher_done = threading.Event()

    def watch():   # what the menu would show while the channel thread reads
        while not watcher_done.is_set():
            states.add(inp.state)
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    with caplog.at_level(logging.INFO, logger="hal.input"), \
            TsSender(port, seconds=1.2, sessions=2, gap=1.0):
        watcher.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            f = inp.read(stop)
            if not seen:
                # The sender's child process may come up after our first dial:
                # count the camera's reboot from the first frame on.
                base = inp.reconnects
            seen.append((f.pts, inp.reconnects - base))
            if sum(r for _, r in seen) >= 15:
                break
        watcher_done.set()
        watcher.join()
        inp.close()
    assert inp.reconnects == base + 1
    assert {"video_loss", "running"} <= states
    pts = np.array([p for p, _ in seen])
    assert np.all(np.diff(pts) > 0)
    first_after = next(i for i, (_, r) in enumerate(seen) if r == 1)
    assert first_after >= 20   # the first session delivered its frames
    assert pts[first_after] - pts[first_after - 1] >= 0.8   # the outage shows on the channel clock
    messages = [r.getMessage() for r in caplog.records]
    assert sum("VIDEO LOSS" in m for m in messages) == inp.reconnects
    assert sum("video restored" in m for m in messages) == inp.reconnects


def test_synthetic_camera_is_a_drop_in_capture():
    from hal.synthetic import SyntheticCapture

    cams = []

    def make():
        cams.append(SyntheticCapture(width=160, height=120, frames=10, walkers=1, analysis_width=80,
                                     clock_start=50.0))
        return cams[-1]

    inp = CaptureInput(9, make, **FAST)
    stop = threading.Event()
    frames, walker_lit = [], []
    for k in range(25):
        f = inp.read(stop)
        frames.append((f.pts, f.wall))
        # The walker is where the camera drew it, at half size after downscale.
        r, c = cams[-1].positions(k % 10)[0].astype(int) // 2
        walker_lit.append(f.luma[r + 2, c + 2] >= 200 and f.luma.shape == (60, 80))
    assert all(walker_lit)
    assert inp.info.analysis_width == 80
    assert inp.reconnects == 2 and "end after 10 frames" in inp.last_error
    pts = [p for p, _ in frames]
    np.testing.assert_allclose(np.diff(pts), 1 / 25, atol=1e-9)
    assert frames[-1][1] == pytest.approx(50.0 + 24 / 25)


def test_poll_never_waits_through_video_loss(tmp_path, square_clip):
    # A worker serving many channels asks and moves on: a lost source says
    # "retry later" at once, and the reopen happens only when it is due.
    opened = []

    def make():
        opened.append(time.monotonic())
        return PyAVCapture(str(tmp_path / "later.mp4"), pacing="max")

    inp = CaptureInput(5, make, backoff_initial=0.3, backoff_max=0.3)
    t0 = time.monotonic()
    polls = 0
    while time.monotonic() - t0 < 0.5:
        assert inp.poll() is None
        polls += 1
    assert polls > 100 and inp.state == "video_loss"
    assert len(opened) == 2 and opened[1] - opened[0] >= 0.3   # attempts at 0 and 0.3 s only
    (tmp_path / "later.mp4").write_bytes(square_clip.read_bytes())   # the camera comes back
    due = inp.retry_at
    while (f := inp.poll()) is None:
        pass
    assert time.monotonic() >= due   # not before the reopen was due
    assert f.luma.shape == (120, 160)
    assert inp.state == "running" and inp.reconnects == 1
