"""A real appliance with its web server on loopback, for the web and ISAPI tests.

Channels decode real clips: 1 the corridor sample (looped, heat map on); 2 a
clip that cuts between two unlike scenes every 2 s (scene changes); 3 a 2 s
clip that is not looped, so it ends, goes to VIDEO LOSS and comes back
(events); 4 the entrance sample, looped, heat map off until a test enables it.
"""
from __future__ import annotations

import contextlib
import io
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from firmware.appliance import Appliance, RunOptions
from firmware.clock import parse_start
from firmware.config import WebConfig, load_config
from tests.clips import make_clip, moving_square_frames
from web.server import WebFrontEnd

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"
PASSWORD = "Heat-Map-2026"
START = "2026-11-24T10:00"
DAY = "2026-11-24"

CONFIG = """\
appliance:
  name: Web NVR
  status_interval: 3600
  checkpoint_interval: 60
  export_device: {usb}
  console: {{idle_logout: 30}}
  web: {{port: 8080}}
channels:
  - {{id: 1, name: Corridor, source: {corridor}, loop: true,
      heat_map: {{enabled: true, regions: [[[0.1, 0.3], [0.9, 0.3], [0.9, 0.95], [0.1, 0.95]]]}}}}
  - {{id: 2, name: Cuts, source: cuts.mp4, loop: true, heat_map: {{enabled: true}}}}
  - {{id: 3, name: Short, source: short.mp4, loop: false}}
  - {{id: 4, name: Entrance, source: {entrance}, loop: true}}
"""


@dataclass
class WebAppliance:
    appliance: Appliance
    web: WebFrontEnd
    config_path: Path
    state: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web.port}"

    @property
    def service(self):
        return self.appliance.service()


def write_config(tmp: Path) -> Path:
    (tmp / "usb").mkdir(exist_ok=True)
    make_clip(tmp / "short.mp4", moving_square_frames(50, size=(160, 120)), fps=25)
    make_clip(tmp / "cuts.mp4", scene_cuts(), fps=25)
    path = tmp / "nvr.yaml"
    path.write_text(CONFIG.format(usb=tmp / "usb", corridor=SAMPLES / "corridor.mp4",
                                  entrance=SAMPLES / "entrance.mp4"))
    return path


def scene_cuts(size: tuple[int, int] = (160, 120), seconds: int = 2, fps: int = 25) -> list[np.ndarray]:
    """A dark checked floor for `seconds`, then a bright striped one: every cut changes the
    whole picture, as a knocked camera or a light switch does."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    dark = (30 + 20 * ((xx // 8 + yy // 8) % 2)).astype(np.uint8)
    bright = (170 + 60 * ((xx // 5) % 2)).astype(np.uint8)
    return [dark] * (seconds * fps) + [bright] * (seconds * fps)


@contextlib.contextmanager
def running(tmp: Path, *, activated: bool = True, heartbeat: float = 1.0):
    """Boot the appliance on `tmp` with the web server on a free loopback port."""
    from firmware.auth import PasswordStore

    path = write_config(tmp)
    state = tmp / "state"
    if activated:
        PasswordStore(state).set(PASSWORD)
    web = WebFrontEnd(WebConfig(port=0), heartbeat=heartbeat)
    appliance = Appliance(load_config(path), RunOptions(state_dir=state, start=parse_start(START)),
                          out=io.StringIO(), front_ends=[web])
    runner = threading.Thread(target=appliance.run, name="appliance-run", daemon=True)
    try:
        appliance.boot()
        runner.start()  # the run loop announces events (video loss, scene changes)
        yield WebAppliance(appliance, web, path, state)
    finally:
        appliance.shutdown()
        runner.join(5)


def read_alerts(url: str, until, timeout: float, password: str = PASSWORD) -> list[dict]:
    """Parse EventNotificationAlert parts from the alert stream (Digest) until `until(alerts)`,
    called after every chunk read, says so, or the timeout."""
    import requests
    import xmltodict
    from requests.auth import HTTPDigestAuth

    alerts: list[dict] = []
    with requests.get(url + "/ISAPI/Event/notification/alertStream", auth=HTTPDigestAuth("admin", password),
                      stream=True, timeout=timeout) as r:
        assert r.status_code == 200 and r.headers["Content-Type"] == "multipart/mixed; boundary=boundary"
        buffer = b""
        deadline = time.monotonic() + timeout
        for chunk in r.iter_content(chunk_size=None):
            buffer += chunk
            while b"</EventNotificationAlert>" in buffer:
                part, _, buffer = buffer.partition(b"</EventNotificationAlert>")
                body = part[part.index(b"<EventNotificationAlert"):] + b"</EventNotificationAlert>"
                alerts.append(xmltodict.parse(body)["EventNotificationAlert"])
            if until(alerts) or time.monotonic() > deadline:
                break
    return alerts
