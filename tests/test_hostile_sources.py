"""Sources and settings that used to hold a worker or raise at run time.

A FIFO nobody writes to (read where it cannot hold a worker's other
channels; a writer that comes later is picked up), a grid finer than the
source's picture (one line, the channel runs unanalysed), a console TCP port
already in use (one error line at boot).
"""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from tests.clips import make_clip, moving_square_frames

pytestmark = pytest.mark.slow   # the fast tier (-m 'not slow') leaves it out: see README, Tests

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("sources")
    frames = moving_square_frames(50, size=(160, 120))
    return make_clip(d / "clip.mp4", frames, fps=25), make_clip(d / "clip.ts", frames, fps=25)


def start(config: Path, state: Path, *extra: str) -> tuple[subprocess.Popen, list[str]]:
    p = subprocess.Popen([sys.executable, "-m", "nvr", "run", "--config", str(config), "--state-dir", str(state),
                          *extra], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    threading.Thread(target=lambda: [lines.append(x.rstrip("\n")) for x in p.stdout], daemon=True).start()
    return p, lines


def wait_for(lines: list[str], pattern: str, timeout: float = 60) -> re.Match:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in list(lines):
            if m := re.search(pattern, line):
                return m
        time.sleep(0.05)
    raise AssertionError(f"never saw {pattern!r}:\n" + "\n".join(lines[-30:]))


def frames_of(lines: list[str], channel: int) -> int:
    found = [int(m.group(1)) for line in lines if (m := re.match(rf"channel {channel}: (\d+) frames", line))]
    return found[-1] if found else -1


def test_a_fifo_without_a_writer_holds_no_other_channel_and_a_late_writer_is_read(tmp_path, clips):
    """Four channels on the two workers of a 2-core box: before, each worker opened its
    FIFO and blocked there, so the recordings dealt to it never ran, and shutdown had
    to kill the workers."""
    clip, ts = clips
    fifos = [tmp_path / "cam3.fifo", tmp_path / "cam4.fifo"]
    for f in fifos:
        os.mkfifo(f)
    chs = [{"id": 1, "source": str(clip), "loop": True, "heat_map": {"enabled": True}},
           {"id": 2, "source": str(clip), "loop": True, "heat_map": {"enabled": True}},
           {"id": 3, "source": str(fifos[0]), "heat_map": {"enabled": True}},
           {"id": 4, "source": str(fifos[1]), "heat_map": {"enabled": True}}]
    config = tmp_path / "nvr.yaml"
    config.write_text(yaml.safe_dump({"appliance": {"status_interval": 1, "video_timeout": 1}, "channels": chs}))
    p, lines = start(config, tmp_path / "state", "--speed", "realtime")
    try:
        wait_for(lines, "boot complete", 90)
        assert any("channel 3" in x and "nothing is writing to it" in x for x in lines), lines
        time.sleep(3)
        # The recordings run in real time beside the silent FIFOs.
        status = [x for x in lines if re.match(r"ch0[12] RUNNING\s+2[0-9]\.\d fps", x)]
        assert status, "\n".join(lines[-20:])
        # A writer starts feeding channel 4: it is picked up at the next reopen.
        with open(fifos[1], "wb") as w:
            w.write(ts.read_bytes())
        wait_for(lines, r"channel 4: video restored", 30)
    finally:
        t0 = time.monotonic()
        p.send_signal(signal.SIGTERM)
        p.wait(60)
        stopped_in = time.monotonic() - t0
    assert stopped_in < 8, f"shutdown took {stopped_in:.1f} s"  # no worker killed at the deadline
    text = "\n".join(lines)
    assert "Traceback" not in text and "did not stop in time" not in text, text
    assert frames_of(lines, 1) > 50 and frames_of(lines, 2) > 50
    assert frames_of(lines, 4) > 0 and frames_of(lines, 3) == 0


def test_a_fifo_cannot_be_looped(tmp_path, clips):
    fifo = tmp_path / "cam.fifo"
    os.mkfifo(fifo)
    config = tmp_path / "nvr.yaml"
    config.write_text(yaml.safe_dump({"channels": [{"id": 1, "source": str(fifo), "loop": True}]}))
    r = subprocess.run([sys.executable, "-m", "nvr", "run", "--config", str(config), "--state-dir",
                        str(tmp_path / "state"), "--duration", "1"], cwd=REPO, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2
    assert r.stderr.strip().endswith("is a FIFO or a device, not a recording; it cannot be looped: set loop: false")


def test_a_grid_finer_than_the_picture_is_one_line_and_the_channel_runs_unanalysed(tmp_path, clips):
    clip, _ = clips
    config = tmp_path / "nvr.yaml"
    config.write_text(yaml.safe_dump({"channels": [
        {"id": 1, "source": str(clip), "heat_map": {"enabled": True, "grid_columns": 200}},
        {"id": 2, "source": str(clip), "heat_map": {"enabled": True}}]}))
    r = subprocess.run([sys.executable, "-m", "nvr", "run", "--config", str(config), "--state-dir",
                        str(tmp_path / "state"), "--speed", "max", "--duration", "2"], cwd=REPO, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    problem = [x for x in r.stderr.splitlines() if "heat map not analysed" in x]
    assert len(problem) == 1, r.stderr
    assert problem[0].endswith("channel 1: heat map not analysed: grid of 200 columns on a 160-pixel-wide picture: "
                               "use 1..160 columns (heat_map.grid_columns / grid_rows)")
    assert "channel 1: 50 frames, nothing analysed" in r.stdout
    assert "channel 2: 50 frames, 50 analysed" in r.stdout


def test_a_console_port_in_use_is_one_error_line(tmp_path, clips):
    clip, _ = clips
    taken = socket.create_server(("127.0.0.1", 0))
    port = taken.getsockname()[1]
    config = tmp_path / "nvr.yaml"
    config.write_text(yaml.safe_dump({"appliance": {"console": {"tcp_port": port}},
                                      "channels": [{"id": 1, "source": str(clip)}]}))
    try:
        r = subprocess.run([sys.executable, "-m", "nvr", "run", "--config", str(config), "--state-dir",
                            str(tmp_path / "state"), "--duration", "1"], cwd=REPO, capture_output=True, text=True,
                           timeout=120)
    finally:
        taken.close()
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    errors = [x for x in r.stderr.splitlines() if x.startswith("error:")]
    assert len(errors) == 1, r.stderr
    assert f"TCP port {port} of 127.0.0.1" in errors[0] and "in use" in errors[0], errors[0]
