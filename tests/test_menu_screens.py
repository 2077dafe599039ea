"""The console's screens against the in-memory service: activation, lock-out, the
seed's configuration steps and refusals, in milliseconds (no appliance, no pty).

The same session code (`menu.session.serve`) runs over a socketpair; what the
screens save is read back from the service, whose rules are the firmware's own
(tests/test_service_contract.py keeps it honest).
"""
from __future__ import annotations

import pytest

from tests.console_session import LOGIN, PASSWORD, session
from tests.memory_service import MemoryService


@pytest.fixture
def service(tmp_path):
    return MemoryService(tmp_path)


@pytest.fixture
def activated(service):
    service.activate(PASSWORD)
    return service


def test_first_boot_activates_only_with_a_strong_password_typed_twice(service):
    text = session(service, b"short\rpassword\rHeat-Map-2026\rHeat-Map-2027\rHeat-Map-2026\rHeat-Map-2026\r" + LOGIN + b"0\r")
    assert "This device is not activated" in text
    assert "Refused: the password needs at least 8 characters" in text
    assert text.count("Refused:") == 3 and "the two passwords differ" in text
    assert "Device activated. Log in as admin." in text and "== Main Menu ==" in text
    assert service.activated() and service.login("admin", PASSWORD).ok


def test_five_wrong_passwords_lock_the_console_and_the_right_one_is_refused_meanwhile(activated):
    wrong = b"".join(f"admin\rwrong-{i}\r".encode() for i in range(5))
    text = session(activated, wrong + LOGIN + b"0\r")
    assert "Console locked for 60 s" in text
    assert "Main Menu" not in text
    assert activated.locked_for() > 50


def test_the_seed_steps_save_enabled_areas_and_parameters(activated):
    # Configuration > Heat Map Configuration > camera 1: enable, draw a triangle,
    # sensitivity 65 (after an out-of-range 140 is refused), Save.
    script = LOGIN + b"1\r1\r1\r1\ron\r2\r1\r20,20\r80,20\r50,80\r\r0\r3\r140\r65\r7\r0\r0\r0\r0\r"
    text = session(activated, script)
    assert "Refused: Detection Sensitivity must be a whole number from 0 to 100." in text
    assert "Saved." in text and activated.saves == 1
    heat = activated.heat_map(1)
    assert heat.enabled and heat.detection_sensitivity == 65
    assert heat.regions == (((0.2, 0.2), (0.8, 0.2), (0.5, 0.8)),)


def test_a_point_outside_the_frame_is_refused_and_nothing_is_saved(activated):
    script = LOGIN + b"1\r1\r1\r2\r1\r20,20\r120,20\r\r\r0\r0\r0\r0\r0\r0\r"
    text = session(activated, script)
    assert "is outside the frame: x and y must be 0 to 100" in text
    assert activated.saves == 0 and activated.heat_map(1).regions == ()


def test_counting_without_statistics_says_so_in_one_line(activated):
    text = session(activated, LOGIN + b"2\r1\r1\r1\r\r1\r4\r0\r0\r0\r0\r0\r")
    assert "has no statistics for the daily report" in text
    assert "Internal error" not in text and "Traceback" not in text


def test_a_crossing_area_is_refused_and_nothing_is_saved(activated):
    text = session(activated, LOGIN + b"1\r1\r1\r2\r1\r10,10\r90,90\r90,10\r10,90\r\r0\r0\r0\r0\r0\r")
    assert "Area refused: edges" in text and activated.saves == 0
