"""The one interface the front ends (the console menu, the web page and its ISAPI API) use.

A front end never touches kernels, files, the store or the password file: it
asks this service, and it imports from the firmware only this module. The
console's transport types (`hal.console`) are the one other import a front
end may make: a serial port is a device, not firmware.

`ApplianceService` is implemented by the running appliance
(`firmware.appliance.LocalService`); tests build one over a real appliance.
Everything a front end needs to name (settings types, limits, report types,
parameters, login outcomes) is re-exported here, so the console and the web
agree with the firmware by construction. Reports come back as the same
JSON-shaped dict that `nvr report --json` prints, so the screen, the page,
the API, the file and the xlsx agree.

Every method may be called from any thread. Methods that refuse raise
`ServiceError` with a one-line reason for the user.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np

from firmware.auth import (DIGEST_REALM, LOCKOUT_SECONDS, MAX_FAILURES, USER, DigestAnswer,  # noqa: F401
                           LoginOutcome, LoginResult)
from firmware.channel_view import ChannelState  # noqa: F401
from firmware.config import (MAX_SEGMENTS_PER_DAY, WEEKDAYS, ArmWindow, ConsoleConfig, HeatMapConfig,  # noqa: F401
                             WebConfig, merge_days, schedule_problem)
from firmware.events import Event, EventKind  # noqa: F401
from firmware.reports import MODEL_LABELS, MODELS, REPORT_LABELS, REPORT_TYPES  # noqa: F401
from vca.limits import MAX_AREAS, MAX_POINTS, MIN_POINTS  # noqa: F401
from vca.params import PARAMETER_DEFAULT, PARAMETER_KEYS, PARAMETER_LABELS, PARAMETER_RANGE  # noqa: F401
from firmware.storage import StorageStatus  # noqa: F401 - part of this interface


@dataclass(frozen=True, slots=True)
class ChannelStatus:
    id: int
    name: str
    state: ChannelState
    heat_map_enabled: bool
    source: str
    codec: str
    width: int                # full source size (0 until first opened)
    height: int
    fps: float                # measured input frame rate
    drops: int                # frames the capture dropped (consumer late)
    budget_us: float          # analysis budget per captured frame (0: not analysed: disabled, video loss)
    median_us: float          # analysis cost per analysed frame (0 while the channel is not analysed)
    p99_us: float
    overruns: int
    skipped: int              # frames not analysed because of budget degradation
    stride: int               # analysing every k-th frame (1 = all)
    last_error: str = ""
    analysis_width: int = 0   # the analysed picture (0 until first opened)
    analysis_height: int = 0
    frames: int = 0           # frames received since boot
    analysed: int = 0         # frames analysed since boot
    scene_changes: int = 0    # scene changes declared since boot
    areas: int = 0            # detection areas drawn
    parameters: tuple[int, int, int, int] = (50, 50, 50, 50)  # sensitivity, update rate, scene change, min size
    schedule: str = "always"  # when statistics count, e.g. "mon-sat 09:00-21:00"
    counting: bool = False    # counting statistics right now: enabled, video present, armed at the channel's
                              # clock and past any time already stored


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """What ISAPI's deviceInfo and the page's header show."""

    device_name: str
    device_id: str            # stable for this state directory (a UUID)
    model: str
    serial_number: str
    firmware_version: str
    firmware_release_date: str
    device_type: str = "NVR"
    channels: int = 0


@dataclass(frozen=True, slots=True)
class SystemStatus:
    now: dt.datetime          # the appliance clock
    uptime_seconds: float
    cpu_percent: float        # the appliance's processes, share of all cores
    memory_mb: float          # resident memory of the appliance's processes
    channels: int
    channels_in_video_loss: int


@dataclass(frozen=True, slots=True)
class ReportFile:
    """A report rendered to a file format, for a download."""

    filename: str
    content_type: str
    data: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class ExportTarget:
    """Where Export writes: the configured export device, or the default folder."""

    path: Path
    default: bool             # True: <state-dir>/export, used while appliance.export_device is not set


@dataclass(frozen=True, slots=True)
class AreaCheck:
    """The verdict on a channel's areas as drawn (`firmware.geometry.check_areas`)."""

    problem: str | None       # why the areas are refused (an area would count nothing), or None
    warnings: tuple[str, ...] = ()  # accepted, but worth saying (overlaps)


class ServiceError(Exception):
    """A request the firmware refused; the message is one line for the user."""


class NoSuchChannel(ServiceError):
    """The request names a channel the appliance does not have."""


class FrontEndError(ServiceError):
    """A front end cannot start (its port is in use...); one line for the user."""


class Subscription(Protocol):
    def close(self) -> None: ...


class ApplianceService(Protocol):
    # ------------------------------------------------------------ the device

    def appliance_name(self) -> str: ...

    def device_info(self) -> DeviceInfo: ...

    def system_status(self) -> SystemStatus: ...

    def now(self) -> dt.datetime:
        """Current time on the appliance clock (naive)."""
        ...

    # ------------------------------------------------------------ accounts

    def activated(self) -> bool:
        """True once the admin password is set."""
        ...

    def password_problem(self, password: str) -> str | None:
        """Why `password` is too weak for the admin account, or None."""
        ...

    def activate(self, password: str) -> None:
        """Set the first admin password. ServiceError when weak, already activated or unwritable."""
        ...

    def login(self, user: str, password: str) -> LoginResult:
        """Check a typed login (console, page); five wrong in a row lock the account
        for every front end, across restarts."""
        ...

    def login_digest(self, answer: DigestAnswer) -> LoginResult:
        """Check an HTTP Digest answer (the nonce already checked by the front end)."""
        ...

    def locked_for(self) -> float:
        """Seconds the account stays locked (0: logins allowed)."""
        ...

    # ------------------------------------------------------------ settings

    def console_settings(self) -> ConsoleConfig: ...

    def web_settings(self) -> WebConfig: ...

    # ------------------------------------------------------------ channels

    def channels(self) -> list[ChannelStatus]: ...

    def preview(self, channel_id: int) -> np.ndarray | None:
        """A copy of the channel's latest luma frame (uint8 H×W, the analysed size),
        None before the first frame."""
        ...

    def heat_map(self, channel_id: int) -> HeatMapConfig:
        """The saved heat-map settings of a channel."""
        ...

    def area_problem(self, points: list[tuple[float, float]]) -> str | None:
        """Why an area (normalised points) is refused, or None when it is valid."""
        ...

    def check_areas(self, regions: list[list[tuple[float, float]]]) -> AreaCheck:
        """Whether a channel's areas (in order) can be saved: an area inside another is
        refused, an overlap is warned about (see `firmware.geometry.check_areas`)."""
        ...

    def save_heat_map(self, channel_id: int, heat_map: HeatMapConfig) -> None:
        """Validate, persist atomically and apply to the running channel from its next frame."""
        ...

    # ------------------------------------------------------------ reports

    def count(self, channel_id: int, report_type: str, date: dt.date, model: str) -> dict[str, Any]:
        """Run the statistics (the seed's Counting), including what the channel analysed up to
        now: the report as `nvr report --json` gives it."""
        ...

    def export(self, channel_id: int, report_type: str, date: dt.date, model: str) -> list[Path]:
        """Write the report's xlsx and png to the export device (or, while none is set, to
        <state-dir>/export, created on first use); the files written.
        Raises ServiceError when the export device is not present or not writable."""
        ...

    def storage(self) -> StorageStatus:
        """The statistics store's condition: "ok", or "failing" with since when, the
        channel-hours held in memory and the last error (a full disk). Front ends show it
        (the console's Status) and the web turns it into the ISAPI diskfull event."""
        ...

    def export_target(self) -> ExportTarget:
        """Where Export writes now."""
        ...

    def set_export_device(self, path: str | None) -> ExportTarget:
        """Set appliance.export_device (None: back to the default folder), saved atomically
        in the configuration file. Raises ServiceError (not an absolute path, not a
        writable directory) and leaves the setting as it was."""
        ...

    def report_file(self, channel_id: int, report_type: str, date: dt.date, model: str,
                    kind: str) -> ReportFile:
        """The report as `kind` ("xlsx" or "png"), as Export writes it, for a download."""
        ...

    # ------------------------------------------------------------ events

    def subscribe(self, deliver: Callable[[Event], None]) -> Subscription:
        """Call `deliver(event)` for every event from now on (video loss, scene change...),
        from the appliance's thread: it must not block. Close the subscription to stop."""
        ...
