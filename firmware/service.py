"""The one narrow interface the console menu uses to reach the firmware.

The menu never touches kernels, files or the store: it asks this service.
`ApplianceService` is implemented by the running appliance
(`firmware.appliance.Appliance.service()`); tests can build one over a real
appliance too. Reports come back as the same JSON-shaped dict that
`nvr report --json` prints, so the screen, the file and the xlsx agree.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from firmware.config import HeatMapConfig

REPORT_TYPES = ("daily", "weekly", "monthly", "annual")
MODELS = ("dwell", "people")


@dataclass(frozen=True, slots=True)
class ChannelStatus:
    id: int
    name: str
    state: str                # "running", "connecting", "video_loss", "disabled", "stopped"
    heat_map_enabled: bool
    source: str
    codec: str
    width: int                # full source size (0 until first opened)
    height: int
    fps: float                # measured input frame rate
    drops: int                # frames the capture dropped (consumer late)
    budget_us: float          # analysis budget per captured frame
    median_us: float          # analysis cost per analysed frame
    p99_us: float
    overruns: int
    skipped: int              # frames not analysed because of budget degradation
    stride: int               # analysing every k-th frame (1 = all)
    last_error: str = ""


class ServiceError(Exception):
    """A request the firmware refused; the message is one line for the user."""


class ApplianceService(Protocol):
    def appliance_name(self) -> str: ...

    def now(self) -> dt.datetime:
        """Current time on the appliance clock (naive)."""
        ...

    def channels(self) -> list[ChannelStatus]: ...

    def heat_map(self, channel_id: int) -> HeatMapConfig:
        """The saved heat-map settings of a channel."""
        ...

    def area_problem(self, points: list[tuple[float, float]]) -> str | None:
        """Why an area (normalised points) is refused, or None when it is valid."""
        ...

    def save_heat_map(self, channel_id: int, heat_map: HeatMapConfig) -> None:
        """Validate, persist atomically and apply to the running channel from its next frame.
        Raises ServiceError with a one-line reason."""
        ...

    def preview(self, channel_id: int) -> np.ndarray | None:
        """A copy of the channel's latest luma frame (uint8 H×W), None before the first frame."""
        ...

    def count(self, channel_id: int, report_type: str, date: dt.date, model: str) -> dict[str, Any]:
        """Run the statistics (the seed's Counting): the report as `nvr report --json` gives it.
        Raises ServiceError (no such channel, no data for that period...)."""
        ...

    def export(self, channel_id: int, report_type: str, date: dt.date, model: str) -> list[Path]:
        """Write the report's xlsx and png to the export device; the files written.
        Raises ServiceError when no export device is present or it is not writable."""
        ...

    def console_settings(self) -> Any:
        """`firmware.config.ConsoleConfig` in force (idle logout, colour)."""
        ...

    def accounts(self) -> Any:
        """The device's `firmware.auth.PasswordStore` (activation and login)."""
        ...
