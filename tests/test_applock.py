"""The running appliance's claim on its state directory, as archive re-analysis and a second appliance see it."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from firmware.applock import LockError, claim, holder

HOLD = """
import sys, time
from firmware.applock import claim
lock = claim(sys.argv[1], [1, 3], 1795341600.0)
print("held", flush=True)
time.sleep(60)
"""


def test_the_claim_says_what_is_written_and_dies_with_its_process(tmp_path):
    assert holder(tmp_path) is None
    p = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "held"
        c = holder(tmp_path)
        assert (c.pid, c.channels, c.since) == (p.pid, (1, 3), 1795341600.0)
        hour = 1795341600 - 1795341600 % 3600
        assert c.covers(1, hour, hour + 3600) and c.covers(3, hour + 7200, hour + 10800)
        assert not c.covers(1, hour - 3600, hour) and not c.covers(2, hour, hour + 3600)
        with pytest.raises(LockError, match=f"an appliance \\(pid {p.pid}\\) is already running on it"):
            claim(tmp_path, [2], 0.0)
    finally:
        p.kill()  # as kill -9 would: the kernel drops the lock
        p.wait()
    assert holder(tmp_path) is None
    mine = claim(tmp_path, [2], 0.0)
    assert holder(tmp_path).pid == os.getpid()
    mine.release()
    assert holder(tmp_path) is None
