"""The service contract, checked on the real appliance's service and on the in-memory one.

Whatever a front end may rely on (refusals as ServiceError, unknown channels as
NoSuchChannel, validation by the configuration's rules, the shared lock-out)
holds for both, so front-end tests on `MemoryService` test what the real
appliance does. The console flows below then run on the memory service in
milliseconds, over the console's real transport (a socket pair).
"""
from __future__ import annotations

import dataclasses
import io

import pytest

from firmware.service import LoginOutcome, NoSuchChannel, ServiceError
from tests.memory_service import MemoryService

PASSWORD = "Heat-Map-2026"
BOW_TIE = ((0.1, 0.1), (0.9, 0.9), (0.9, 0.1), (0.1, 0.9))
TRIANGLE = ((0.2, 0.2), (0.8, 0.2), (0.5, 0.8))


@pytest.fixture(scope="module")
def local_service(tmp_path_factory):
    from firmware.appliance import Appliance, RunOptions
    from firmware.config import load_config
    from tests.clips import make_clip, moving_square_frames

    tmp = tmp_path_factory.mktemp("contract")
    make_clip(tmp / "clip.mp4", moving_square_frames(25, size=(160, 120)), fps=25)
    (tmp / "nvr.yaml").write_text("channels:\n  - {id: 1, name: Lobby, source: clip.mp4, loop: true}\n"
                                  "  - {id: 2, name: Door, source: clip.mp4, loop: true}\n")
    a = Appliance(load_config(tmp / "nvr.yaml"), RunOptions(state_dir=tmp / "state"), out=io.StringIO())
    a.boot()
    yield a.service()
    a.shutdown()


@pytest.fixture(params=["local", "memory"])
def service(request, tmp_path):
    if request.param == "local":
        return request.getfixturevalue("local_service")
    return MemoryService(tmp_path / "state")


def test_settings_round_trip_and_refusals(service):
    hm = service.heat_map(1)
    service.save_heat_map(1, dataclasses.replace(hm, regions=(TRIANGLE,), detection_sensitivity=70))
    assert service.heat_map(1).regions == (TRIANGLE,) and service.heat_map(1).detection_sensitivity == 70
    with pytest.raises(ServiceError, match="cross"):
        service.save_heat_map(1, dataclasses.replace(hm, regions=(BOW_TIE,)))
    with pytest.raises(ServiceError, match="out of range"):
        service.save_heat_map(1, dataclasses.replace(hm, scene_change_level=101))
    assert service.heat_map(1).detection_sensitivity == 70  # a refusal changes nothing
    service.save_heat_map(1, hm)


def test_unknown_channels_are_no_such_channel(service):
    for call in (lambda: service.heat_map(9), lambda: service.preview(9),
                 lambda: service.count(9, "daily", service.now().date(), "dwell")):
        with pytest.raises(NoSuchChannel):
            call()


def test_areas_are_judged_by_one_rule(service):
    assert service.area_problem(list(TRIANGLE)) is None
    assert "cross" in service.area_problem(list(BOW_TIE))
    assert "at least 3" in service.area_problem([(0.1, 0.1), (0.2, 0.2)])


def test_areas_together_by_one_rule(service):
    inside = ((0.3, 0.3), (0.5, 0.3), (0.4, 0.5))
    big = ((0.1, 0.1), (0.9, 0.1), (0.9, 0.9), (0.1, 0.9))
    assert service.check_areas([list(big), list(inside)]).problem.startswith("area 2 lies inside area 1")
    check = service.check_areas([list(inside), list(big)])
    assert check.problem is None and check.warnings[0].startswith("area 2 overlaps area 1")
    hm = service.heat_map(1)
    with pytest.raises(ServiceError, match="would count nothing"):
        service.save_heat_map(1, dataclasses.replace(hm, regions=(big, inside)))
    assert service.heat_map(1) == hm


def test_export_target_defaults_and_refuses_what_is_no_folder(service, tmp_path):
    start = service.export_target()
    for bad, why in (("usb", "full path"), (str(tmp_path / "absent"), "not present")):
        with pytest.raises(ServiceError, match=why):
            service.set_export_device(bad)
        assert service.export_target() == start
    assert start.default and start.path.name == "export"


def test_accounts(service):
    assert service.password_problem("short") and service.password_problem(PASSWORD) is None
    if not service.activated():
        assert service.login("admin", PASSWORD).outcome is LoginOutcome.NOT_ACTIVATED
        with pytest.raises(ServiceError):
            service.activate("password")
        service.activate(PASSWORD)
    with pytest.raises(ServiceError, match="already activated"):
        service.activate(PASSWORD)
    assert service.login("admin", PASSWORD).ok
    assert service.login("admin", "Wrong-2026").outcome is LoginOutcome.WRONG
    assert service.login("admin", PASSWORD).ok  # a success resets the count


def test_channels_and_preview(service):
    statuses = service.channels()
    assert [s.name for s in statuses] == ["Lobby", "Door"]
    assert all(s.state.label for s in statuses)
    frame = service.preview(1)
    assert frame is None or (frame.dtype.name == "uint8" and frame.ndim == 2)
