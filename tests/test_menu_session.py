"""A console session against a real in-process appliance, fed hostile input.

The session runs `menu.session.serve` over a socketpair; the appliance is a
real `firmware.appliance.Appliance` analysing an encoded clip. Whatever
bytes arrive, the console must keep serving and the configuration on disk
must stay one the firmware loads.
"""
from __future__ import annotations

import datetime as dt
import io
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware.auth import PasswordStore
from firmware.clock import parse_start
from firmware.config import load_config
from firmware.geometry import polygon_problem
from firmware.service import ServiceError
from tests.clips import make_clip, moving_square_frames
from tests.console_session import LOGIN, PASSWORD, session

pytestmark = pytest.mark.slow   # boots a real appliance; the fast tier (-m 'not slow') leaves it out

CONFIG = """\
appliance:
  export_device: {usb}
  status_interval: 3600
  checkpoint_interval: 1
  console: {{idle_logout: 30, color: true}}
channels:
  - {{id: 1, name: Lobby, source: clip.mp4, loop: true}}
  - {{id: 3, name: Yard, source: clip.mp4, loop: true, heat_map: {{enabled: true}}}}
"""


@pytest.fixture(scope="module")
def appliance(tmp_path_factory):
    from firmware.appliance import Appliance, RunOptions

    tmp = tmp_path_factory.mktemp("nvr")
    make_clip(tmp / "clip.mp4", moving_square_frames(50, size=(160, 120)), fps=25)
    (tmp / "usb").mkdir()
    (tmp / "nvr.yaml").write_text(CONFIG.format(usb=tmp / "usb"))
    state = tmp / "state"
    PasswordStore(state).set(PASSWORD)
    a = Appliance(load_config(tmp / "nvr.yaml"), RunOptions(state_dir=state, start=parse_start("2026-11-24T08:00"),
                                                            ), out=io.StringIO())
    a.boot()
    yield a, tmp / "nvr.yaml"
    a.shutdown()




def test_the_seed_configuration_applies_to_the_running_appliance(appliance):
    a, path = appliance
    script = (LOGIN + b"1\r1\r1\r1\ron\r2\r1\r20,20\r80,20\r50,80\r\r0\r3\r65\r7\r0\r0\r0\r0\r")
    text = session(a.service(), script)
    assert "Saved." in text and "Logged out." in text
    heat = load_config(path).channel(1).heat_map
    assert heat.enabled and heat.detection_sensitivity == 65
    assert heat.regions == (((0.2, 0.2), (0.8, 0.2), (0.5, 0.8)),)
    assert a.service().heat_map(1) == heat


def wait_for_report(service, channel: int, timeout: float = 20.0) -> None:
    """Until the first statistics checkpoint has the channel's hour in the store."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            service.count(channel, "daily", dt.date(2026, 11, 24), "people")
            return
        except ServiceError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_colour_follows_the_setting_and_the_menu_toggle(appliance):
    a, _ = appliance
    wait_for_report(a.service(), 3)
    text = session(a.service(), LOGIN + b"2\r1\r3\r4\r0\r0\r0\r1\r2\r0\r2\r1\r3\r4\r0\r0\r0\r0\r")
    first, _, second = text.partition("Console colour off.")
    assert "\x1b[48;5;" in first and "Legend" in second and "\x1b[" not in second


def test_a_lockout_ends_after_its_time(appliance):
    a, _ = appliance
    guard = a.accounts.guard
    lockout, guard.lockout_seconds = guard.lockout_seconds, 0.5
    wrong = b"".join(f"admin\rwrong-{i}\r".encode() for i in range(5))
    try:
        text = session(a.service(), wrong + LOGIN)
    finally:
        guard.lockout_seconds = lockout
    assert "Console locked for 0 s after 5 failed logins" in text or "Console locked for 1 s" in text
    assert "Main Menu" not in text  # the right password typed during the lock-out is refused
    time.sleep(0.6)
    assert "== Main Menu ==" in session(a.service(), LOGIN + b"0\r")


TOKENS = [b"0\r", b"1\r", b"2\r", b"3\r", b"4\r", b"5\r", b"6\r", b"7\r", b"9\r", b"\r", b"on\r", b"off\r",
          b"y\r", b"n\r", b"100\r", b"-1\r", b"1e9\r", b"nan\r", b"50,50\r", b"10,10\r", b"90,10\r",
          b"90,90\r", b"10,90\r", b"0,0\r", b"100,100\r", b"2026-11-24\r", b"\x03", b"\x7f", b"\x1b[A"]


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.sampled_from(TOKENS), st.binary(max_size=12)), max_size=60))
def test_random_input_never_crashes_the_console_or_writes_a_bad_configuration(appliance, chunks):
    a, path = appliance
    text = session(a.service(), LOGIN + b"".join(chunks) + b"\x03\r0\r0\r0\r0\r0\r0\r")
    assert "Internal error" not in text and "Traceback" not in text
    config = load_config(path)  # raises if the console ever wrote something the firmware refuses
    for ch in config.channels:
        assert a.service().heat_map(ch.id) == ch.heat_map
        for area in ch.heat_map.regions:
            assert polygon_problem(area) is None
