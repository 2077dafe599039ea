"""The console end to end: a real `nvr run --console pty` and an operator on its pty.

The operator's side is pexpect on the pty path the appliance prints at boot,
as `screen /dev/pts/N` would open it. Checks are what a user sees: the
screens, the saved YAML, the running channel's status, the exported xlsx.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import openpyxl
import pytest
from pexpect import fdpexpect

from firmware.config import load_config
from tests.clips import make_clip, moving_square_frames

pytestmark = pytest.mark.slow   # the fast tier (-m 'not slow') leaves it out: see README, Tests

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "Heat-Map-2026"
# One minute before midnight at the start, so the 24th is complete (frozen) a
# few seconds into the test and its report cannot change between Counting and Export.
START = "2026-11-24T23:59:57"

CONFIG = """\
appliance:
  name: TestNVR
  export_device: {usb}
  status_interval: 3600
  checkpoint_interval: 1
  console: {{idle_logout: {idle}, color: false}}
channels:
  - id: 1
    name: Lobby
    source: clip.mp4
    loop: true
  - id: 2
    name: Door
    source: clip.mp4
    loop: true
    heat_map: {{enabled: true}}
"""


class Appliance:
    """`nvr run --console pty` in a subprocess; its output is collected by a thread."""

    def __init__(self, tmp: Path, state: Path | None = None, idle_logout: int = 60):
        self.dir = tmp
        make_clip(tmp / "clip.mp4", moving_square_frames(75, size=(160, 120)), fps=25)
        (tmp / "usb").mkdir(exist_ok=True)
        self.config = tmp / "nvr.yaml"
        self.config.write_text(CONFIG.format(usb=tmp / "usb", idle=idle_logout))
        self.state = state or tmp / "state"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "nvr", "run", "--config", str(self.config),
             "--state-dir", str(self.state), "--console", "pty", "--speed", "realtime", "--start", START],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.lines: list[str] = []
        threading.Thread(target=self._collect, daemon=True).start()
        self.pty = self._wait_for(r"console: pty (\S+)", 60).group(1)

    def _collect(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def _wait_for(self, pattern: str, timeout: float) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if m := re.search(pattern, line):
                    return m
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"appliance never printed {pattern!r}:\n" + "\n".join(self.lines))

    def attach(self) -> fdpexpect.fdspawn:
        """An operator opening the console, like `screen /dev/pts/N`."""
        fd = os.open(self.pty, os.O_RDWR | os.O_NOCTTY)
        return fdpexpect.fdspawn(fd, timeout=15, encoding="utf-8", codec_errors="replace")

    def detach(self, term) -> None:
        """The operator closes the terminal; wait until the console has noticed (a real
        operator reconnecting faster would just press Enter for a fresh prompt)."""
        seen = sum("hung up" in line for line in self.lines)
        os.close(term.child_fd)
        deadline = time.monotonic() + 10
        while sum("hung up" in line for line in self.lines) == seen:
            assert time.monotonic() < deadline, "the console never noticed the hang-up"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def answer(term, prompt: str, text: str) -> None:
    term.expect_exact(prompt)
    term.send(text + "\r")


def select(term, *numbers: int | str) -> None:
    for n in numbers:
        answer(term, "Select> ", str(n))


def log_in(term, password: str = PASSWORD) -> None:
    answer(term, "login: ", "admin")
    answer(term, "password: ", password)
    term.expect_exact("== Main Menu ==")


def status_row(term, channel: int) -> dict[str, str]:
    """The status screen's line for `channel`, by column name."""
    term.expect_exact("== Status ==")
    term.expect_exact("Select> ")
    for line in term.before.splitlines():
        cols = line.split()
        if cols and cols[0] == str(channel):
            cost, _, budget = cols[-4].partition("/")  # "-": not analysed
            return {"state": cols[2], "heat": cols[3], "cost": cost, "budget": budget}
    raise AssertionError(f"no status line for channel {channel}:\n{term.before}")


@pytest.fixture(scope="module")
def appliance(tmp_path_factory):
    a = Appliance(tmp_path_factory.mktemp("nvr"))
    yield a
    a.stop()


def test_first_boot_asks_to_activate_and_refuses_weak_passwords(appliance):
    term = appliance.attach()
    term.expect_exact("This device is not activated")
    answer(term, "New admin password> ", "password")
    term.expect_exact("Refused: the password needs at least two kinds")
    answer(term, "New admin password> ", "Ab1")
    term.expect_exact("Refused: the password needs at least 8 characters")
    answer(term, "New admin password> ", PASSWORD)
    answer(term, "Confirm password> ", PASSWORD + "x")
    term.expect_exact("Refused: the two passwords differ")
    answer(term, "New admin password> ", PASSWORD)
    answer(term, "Confirm password> ", PASSWORD)
    term.expect_exact("Device activated")
    # The password is never echoed back to the terminal.
    log_in(term)
    assert PASSWORD not in term.before
    select(term, 0)
    term.expect_exact("Logged out.")
    term.expect_exact("login: ")  # the next operator is asked to log in
    appliance.detach(term)
    passwd = appliance.state / "admin.passwd"
    assert oct(passwd.stat().st_mode & 0o777) == "0o600"
    assert PASSWORD not in passwd.read_text()


def test_seed_configuration_sequence_changes_the_running_channel(appliance):
    term = appliance.attach()  # reconnecting after the previous operator hung up
    log_in(term)
    select(term, 3)  # Status
    before = status_row(term, 1)
    assert (before["state"], before["heat"], before["cost"]) == ("disabled", "off", "-")
    term.send("0\r")

    select(term, 1, 1)  # Configuration > Heat Map Configuration
    term.expect_exact("1. Lobby [disabled, heat map off]")
    select(term, 1)  # the camera
    term.expect_exact("1. Enable Heat Map (off)")
    select(term, 1)
    answer(term, "Enable Heat Map [on/off] (off)> ", "on")
    select(term, 2)  # Area Settings
    term.expect_exact("100 |")  # the preview's ruler
    select(term, 1)  # Add Area: a self-intersecting bow tie is refused with the reason
    for point in ("10,10", "90,90", "90,10", "10,90", ""):
        answer(term, "x,y> ", point)
    term.expect_exact("Area refused: edges 1 and 3 cross")
    select(term, 1)
    answer(term, "x,y> ", "150,20")
    term.expect_exact("outside the frame")
    for point in ("5,5", "95,5", "95,95", "5,95", ""):
        answer(term, "x,y> ", point)
    term.expect_exact("Area 1 added")
    term.expect_exact("Area 1: (5,5) (95,5) (95,95) (5,95)")
    select(term, 0)
    for item, label, value in ((3, "Detection Sensitivity", "70"), (4, "Background Update Rate", "40"),
                               (5, "Scene Change Level", "60"), (6, "Minimum Target Size", "20")):
        select(term, item)
        answer(term, f"{label} [0-100] (50)> ", "abc")
        term.expect_exact(f"Refused: {label} must be a whole number from 0 to 100.")
        answer(term, f"{label} [0-100] (50)> ", "101")
        term.expect_exact("Refused")
        answer(term, f"{label} [0-100] (50)> ", value)
    term.expect_exact("*unsaved*")
    select(term, 0)  # leaving with unsaved changes asks first
    answer(term, "Discard unsaved changes? [y/N]> ", "n")
    select(term, 7)  # Save
    term.expect_exact("Saved.")

    saved = load_config(appliance.config).channel(1).heat_map
    assert saved.enabled
    assert saved.regions == (((0.05, 0.05), (0.95, 0.05), (0.95, 0.95), (0.05, 0.95)),)
    assert (saved.detection_sensitivity, saved.background_update_rate,
            saved.scene_change_level, saved.minimum_target_size) == (70, 40, 60, 20)

    select(term, 0, 0, 0, 3)  # back to the main menu, then Status
    deadline = time.monotonic() + 15
    while True:
        after = status_row(term, 1)
        if after["heat"] == "on" and float(after["cost"]) > 0 or time.monotonic() > deadline:
            break
        term.send("1\r")  # Refresh
    assert after["heat"] == "on" and float(after["cost"]) > 0, after
    term.send("0\r")
    select(term, 0)
    term.expect_exact("Logged out.")
    appliance.detach(term)


def test_seed_report_sequence_exports_what_the_screen_shows(appliance):
    term = appliance.attach()
    log_in(term)
    # The 24th is complete once the appliance clock (on the status screen) is past
    # midnight and a checkpoint (every second) has stored the last hour.
    select(term, 3)
    deadline = time.monotonic() + 30
    while True:
        term.expect(r"TestNVR  (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)")
        if term.match.group(1) >= "2026-11-25 00:00:02":
            break
        assert time.monotonic() < deadline, f"appliance clock stuck at {term.match.group(1)}"
        time.sleep(0.5)
        select(term, 1)  # Refresh
    select(term, 0)
    select(term, 2, 1)  # VCA Search > Heat Map
    term.expect_exact("2. Door [running, heat map on]")
    select(term, 2)
    select(term, 1)  # Report Type
    term.expect_exact("1. Daily Report")
    term.expect_exact("4. Annual Report")
    select(term, 1)
    select(term, 2)  # Statistics Time: defaults to today on the appliance clock
    term.expect(r"Statistics Time \[YYYY-MM-DD\] \((\d{4}-\d\d-\d\d)\)> ")
    assert term.match.group(1) in ("2026-11-24", "2026-11-25")
    term.send("24.11.2026\r")
    term.expect_exact("Refused")
    answer(term, "> ", "2026-11-24")
    select(term, 3)  # Statistical Model
    select(term, 1)  # People
    select(term, 4)  # Counting
    term.expect_exact("Daily Report: Door (channel 2), model people")
    term.expect(r"Total +(\d+) +([\d.]+)\r\n")
    screen_visits, screen_dwell = int(term.match.group(1)), float(term.match.group(2))
    table = term.before
    term.expect_exact("in one cell")  # the legend: what its numbers are
    rows = {}
    for line in table.splitlines():
        m = re.match(r"(\d\d:\d\d) +(\d+|-) +([\d.]+|-)", line)
        if m:
            rows[m.group(1)] = m.group(2)
    assert len(rows) == 24
    assert rows["23:00"] != "-", "the last hour of the 24th was analysed"
    select(term, 5)  # Export
    term.expect_exact("Exported:")
    term.expect(r"(\S+\.xlsx)")
    xlsx = Path(term.match.group(1))
    assert xlsx.parent == appliance.dir / "usb"

    sheet = openpyxl.load_workbook(xlsx)["Time heat map"]
    file_rows = {str(r[0]): r for r in sheet.iter_rows(min_row=2, values_only=True) if r[0]}
    assert file_rows["Total"][3] == screen_visits
    assert file_rows["Total"][4] == pytest.approx(screen_dwell, abs=1e-3)
    for label, visits in rows.items():
        assert (file_rows[label][3] is None) == (visits == "-")
        if visits != "-":
            assert file_rows[label][3] == int(visits)
    select(term, 0, 0, 0, 0)
    term.expect_exact("Logged out.")
    appliance.detach(term)


def test_export_without_the_device_is_one_clear_line(appliance):
    usb = appliance.dir / "usb"
    usb.rename(appliance.dir / "usb-pulled")
    try:
        term = appliance.attach()
        log_in(term)
        select(term, 2, 1, 2, 5)
        term.expect(r"Export failed: [^\r\n]*not present[^\r\n]*\r\n")
        select(term, 0, 0, 0, 0)
        term.expect_exact("Logged out.")
        appliance.detach(term)
    finally:
        (appliance.dir / "usb-pulled").rename(usb)


def test_five_wrong_passwords_lock_the_console_across_reconnects(tmp_path):
    state = tmp_path / "state"
    done = subprocess.run([sys.executable, "-m", "nvr", "passwd", "--state-dir", str(state)],
                          input=PASSWORD + "\n", text=True, capture_output=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    a = Appliance(tmp_path, state)
    try:
        term = a.attach()
        for i in range(5):
            answer(term, "login: ", "admin")
            answer(term, "password: ", f"wrong-{i}-pass")
            term.expect_exact("Login incorrect.")
        term.expect_exact("Console locked for 60 s after 5 failed logins.")
        a.detach(term)
        # Hanging up and reconnecting does not end the lock-out; the right password is not even asked.
        term = a.attach()
        term.expect(r"try again in (\d+) s")
        assert 30 < int(term.match.group(1)) <= 60
        term.send(PASSWORD + "\r")
        term.expect_exact("try again in")
        assert "Main Menu" not in term.before
        a.detach(term)
        assert any("account locked for 60 s" in line for line in a.lines)
    finally:
        a.stop()


def test_an_idle_operator_is_logged_out_and_the_console_asks_for_a_login_again(tmp_path):
    state = tmp_path / "state"
    done = subprocess.run([sys.executable, "-m", "nvr", "passwd", "--state-dir", str(state)],
                          input=PASSWORD + "\n", text=True, capture_output=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    a = Appliance(tmp_path, state, idle_logout=10)   # the shortest the configuration allows
    try:
        term = a.attach()
        log_in(term)
        select(term, 1)                               # walked away in the middle of a menu
        t0 = time.monotonic()
        term.expect_exact("Idle for 10 s: logged out.", timeout=20)
        assert 9.5 <= time.monotonic() - t0 <= 15
        log_in(term)                                  # and the next operator gets back in
        assert any("idle logout" in line for line in a.lines)
    finally:
        a.stop()
