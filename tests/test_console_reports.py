"""The console's report-side duties on a real in-process appliance: where exports go
out of the box and how the installer changes it, the area guard, and the status
screen (areas, parameters, counting now; no stale cost, no budget for a lost camera).

The session runs `menu.session.serve` over a socketpair, as in test_menu_session.
"""
from __future__ import annotations

import datetime as dt
import io
import re
import time

import pytest
from openpyxl import load_workbook

from firmware.auth import PasswordStore
from firmware.budget import cpu_per_frame_us
from firmware.clock import parse_start
from firmware.config import load_config
from tests.clips import make_clip, moving_square_frames
from tests.console_session import LOGIN, PASSWORD, session
from tests.test_menu_session import wait_for_report

pytestmark = pytest.mark.slow   # boots a real appliance; the fast tier (-m 'not slow') leaves it out

# No export_device: Export must still work, into <state-dir>/export.
CONFIG = """\
appliance:
  status_interval: 3600
  checkpoint_interval: 1
  console: {{idle_logout: 30, color: false}}
channels:
  - {{id: 1, name: Lobby, source: clip.mp4, loop: true}}
  - id: 2
    name: Till
    source: clip.mp4
    loop: true
    heat_map:
      enabled: true
      detection_sensitivity: 65
      regions: [[[0.0, 0.2], [1.0, 0.2], [1.0, 1.0], [0.0, 1.0]]]
      schedule: [{{time: "08:00-21:00"}}]
  - {{id: 3, name: Yard, source: {missing}, heat_map: {{enabled: true}}}}
"""


@pytest.fixture(scope="module")
def appliance(tmp_path_factory):
    from firmware.appliance import Appliance, RunOptions

    tmp = tmp_path_factory.mktemp("nvr")
    make_clip(tmp / "clip.mp4", moving_square_frames(50, size=(160, 120)), fps=25)
    (tmp / "nvr.yaml").write_text(CONFIG.format(missing=tmp / "no-such-camera.mp4"))
    state = tmp / "state"
    PasswordStore(state).set(PASSWORD)
    out = io.StringIO()
    a = Appliance(load_config(tmp / "nvr.yaml"), RunOptions(state_dir=state, start=parse_start("2026-11-24T08:00")),
                  out=out)
    a.boot()
    yield a, tmp, out
    a.shutdown()


def run_until(a, condition, timeout: float = 20.0) -> None:
    """Step the appliance's run loop (budget re-planning) until `condition()`."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never met"
        a._replan_budgets()
        time.sleep(0.1)


def test_boot_says_where_exports_go_and_export_works_without_a_device(appliance):
    a, tmp, out = appliance
    export = tmp / "state" / "export"
    assert f"exports go to {export} (default; set appliance.export_device" in out.getvalue()
    assert not export.exists()  # created on first use
    wait_for_report(a.service(), 2)
    text = session(a.service(), LOGIN + b"2\r1\r2\r5\r0\r0\r0\r0\r")  # VCA Search > Heat Map > Till > Export
    assert "Exported:" in text and "Export failed" not in text
    files = sorted(p.name for p in export.iterdir())
    assert files == ["heatmap_ch02_daily_2026-11-24_people.png", "heatmap_ch02_daily_2026-11-24_people.xlsx"]
    assert load_workbook(export / files[1]).sheetnames == ["Summary", "Time heat map", "Space heat map"]


def test_the_console_shows_and_changes_the_export_device_and_saves_it(appliance, tmp_path):
    a, tmp, _ = appliance
    path = tmp / "nvr.yaml"
    usb = tmp_path / "usb"
    usb.mkdir()
    before = path.read_text()
    # Configuration > Export Device: a relative path and a missing folder are refused.
    text = session(a.service(), LOGIN + b"1\r3\rusb\r3\r/media/nothing-here\r0\r0\r")
    assert f"Reports are exported to {tmp / 'state' / 'export'} (the default: <state-dir>/export)." in text
    assert "Not saved: export device 'usb': give the folder's full path, starting with /." in text
    assert "Not saved: export device /media/nothing-here is not present" in text
    assert path.read_text() == before and a.service().export_target().default
    # A real folder is saved atomically in the configuration file and used from now on.
    text = session(a.service(), LOGIN + b"1\r3\r" + str(usb).encode() + b"\r0\r0\r")
    assert f"Saved. Reports are exported to {usb}." in text
    assert load_config(path).appliance.export_device == str(usb)
    assert (tmp / "nvr.yaml.bak").read_text() == before
    wait_for_report(a.service(), 2)
    written = a.service().export(2, "daily", dt.date(2026, 11, 24), "dwell")
    assert {p.parent for p in written} == {usb}
    # "default" goes back to <state-dir>/export.
    text = session(a.service(), LOGIN + b"1\r3\rdefault\r0\r0\r")
    assert f"Saved. Reports are exported to {tmp / 'state' / 'export'}." in text
    assert load_config(path).appliance.export_device is None


def test_an_area_inside_another_is_refused_and_an_overlap_warned_about(appliance):
    a, tmp, _ = appliance
    script = (LOGIN + b"1\r1\r1\r2\r"                              # Configuration > Heat Map > Lobby > Areas
              + b"1\r10,10\r90,10\r90,90\r10,90\r\r"              # area 1
              + b"1\r30,30\r50,30\r50,50\r\r"                     # inside area 1: refused
              + b"1\r50,50\r100,50\r100,100\r50,100\r\r"          # overlaps area 1: warned, kept
              + b"0\r7\r0\r0\r0\r0\r")                            # back, Save, out
    text = session(a.service(), script)
    assert ("Area refused: area 2 lies inside area 1: where areas overlap the lower-numbered one counts, "
            "so area 2 would count nothing; draw it elsewhere or delete area 1 first.") in text
    assert re.search(r"Warning: area 2 overlaps area 1: \d+ % of area 2 counts for area 1 only\.", text)
    assert "Saved." in text
    regions = load_config(tmp / "nvr.yaml").channel(1).heat_map.regions
    assert len(regions) == 2 and regions[1][0] == (0.5, 0.5)


def status_block(text: str, channel: int) -> list[str]:
    lines = text.splitlines()
    i = next(k for k, line in enumerate(lines) if not line.startswith("    ") and line.split()[:1] == [str(channel)])
    block = [lines[i]]
    for line in lines[i + 1:]:
        if not line.startswith("    "):
            break
        block.append(line.strip())
    return block


def test_status_shows_areas_parameters_and_whether_each_channel_counts_now(appliance):
    a, _, _ = appliance
    run_until(a, lambda: a.service().channels()[1].counting and a.service().channels()[2].state == "video_loss")
    text = session(a.service(), LOGIN + b"3\r0\r0\r")
    till = status_block(text, 2)
    assert till[1] == "1 area; sensitivity 65, update rate 50, scene change 50, min size 50"
    assert till[2] == "schedule 08:00-21:00: counting now"
    cost, budget = till[0].split()[5].split("/")
    assert float(budget) > 0
    lobby = status_block(text, 1)   # heat map off: no cost left over from earlier analysis
    assert lobby[0].split()[2:4] == ["disabled", "off"] and lobby[0].split()[5:7] == ["-", "-"]
    assert lobby[-1].endswith(": not counting now")


def test_a_channel_in_video_loss_gets_no_frame_budget(appliance):
    a, _, _ = appliance
    run_until(a, lambda: a.service().channels()[2].state == "video_loss")
    # The one analysed channel left has the CPU of one 25 fps channel per frame.
    run_until(a, lambda: a.channels[2].budget.cpu_us == cpu_per_frame_us([25.0]))
    yard = a.service().channels()[2]
    assert yard.budget_us == 0.0 and yard.median_us == 0.0 and not yard.counting
    text = session(a.service(), LOGIN + b"3\r0\r0\r")
    row = status_block(text, 3)[0].split()
    assert row[2:4] == ["VIDEO", "LOSS"] and row[6] == "-"
