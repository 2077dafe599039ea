"""An in-memory `ApplianceService` for front-end tests that need no appliance, decoder or pty.

It keeps channels and heat-map settings in memory and validates with the
firmware's own rules (`firmware.config.validate_config`, the real `Accounts`
on a temporary directory), so the console's and the page's logic can be
driven in milliseconds. `tests/test_service_contract.py` runs the same
checks against it and the real `LocalService`, so it cannot drift from the
contract it stands in for.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any, Callable

import numpy as np

from firmware.auth import Accounts, DigestAnswer, LoginResult, PasswordError, strength_problem
from firmware.config import ConfigError, ConsoleConfig, HeatMapConfig, WebConfig, parse_config, validate_config
from firmware.events import Event, EventBus
from firmware.export import ExportError, check_directory
from firmware.geometry import check_areas, polygon_problem
from firmware.service import (AreaCheck, ChannelState, ChannelStatus, DeviceInfo, ExportTarget, NoSuchChannel,
                              ReportFile, ServiceError, StorageStatus, SystemStatus)


class MemoryService:
    def __init__(self, state_dir: Path, channels: dict[int, str] | None = None, *,
                 console: ConsoleConfig = ConsoleConfig(idle_logout=30, color=False)):
        channels = channels or {1: "Lobby", 2: "Door"}
        self.config = parse_config({"channels": [{"id": cid, "name": name, "source": "memory"}
                                                 for cid, name in channels.items()]})
        self.accounts = Accounts(state_dir)
        self.state_dir = state_dir
        self.export_device: str | None = None
        self.console = console
        self.events = EventBus()
        self.reports: dict[tuple[int, str, dt.date, str], dict[str, Any]] = {}
        self.saves = 0
        self.clock = dt.datetime(2026, 11, 24, 10, 0)
        self.frame = np.full((120, 160), 90, np.uint8)
        self.storage_status = StorageStatus("ok", str(state_dir / "statistics.sqlite3"), None, 0, 0, 0, "")

    # the device
    def appliance_name(self) -> str:
        return "Memory NVR"

    def device_info(self) -> DeviceInfo:
        return DeviceInfo("Memory NVR", "memory", "NVR-HM-SIM", "MEM0", "V0", "2026-12-06",
                          channels=len(self.config.channels))

    def system_status(self) -> SystemStatus:
        return SystemStatus(self.clock, 1.0, 0.0, 0.0, len(self.config.channels), 0)

    def now(self) -> dt.datetime:
        return self.clock

    # accounts
    def activated(self) -> bool:
        return self.accounts.activated()

    def password_problem(self, password: str) -> str | None:
        return strength_problem(password)

    def activate(self, password: str) -> None:
        try:
            self.accounts.activate(password)
        except PasswordError as e:
            raise ServiceError(str(e)) from None

    def login(self, user: str, password: str) -> LoginResult:
        return self.accounts.login(user, password)

    def login_digest(self, answer: DigestAnswer) -> LoginResult:
        return self.accounts.login_digest(answer)

    def locked_for(self) -> float:
        return self.accounts.guard.locked_for()

    # settings
    def console_settings(self) -> ConsoleConfig:
        return self.console

    def web_settings(self) -> WebConfig:
        return WebConfig()

    # channels
    def channels(self) -> list[ChannelStatus]:
        return [ChannelStatus(id=c.id, name=c.name, state=ChannelState.RUNNING if c.heat_map.enabled
                              else ChannelState.DISABLED, heat_map_enabled=c.heat_map.enabled, source=c.source,
                              codec="memory", width=160, height=120, fps=25.0, drops=0, budget_us=1000.0,
                              median_us=100.0, p99_us=200.0, overruns=0, skipped=0, stride=1,
                              analysis_width=160, analysis_height=120)
                for c in self.config.channels]

    def _channel(self, channel_id: int):
        try:
            return self.config.channel(channel_id)
        except KeyError:
            raise NoSuchChannel(f"no channel {channel_id}") from None

    def preview(self, channel_id: int) -> np.ndarray | None:
        self._channel(channel_id)
        return self.frame.copy()

    def heat_map(self, channel_id: int) -> HeatMapConfig:
        return self._channel(channel_id).heat_map

    def area_problem(self, points: list[tuple[float, float]]) -> str | None:
        return polygon_problem(points)

    def check_areas(self, regions) -> AreaCheck:
        problem, warnings = check_areas(regions)
        return AreaCheck(problem, tuple(warnings))

    def save_heat_map(self, channel_id: int, heat_map: HeatMapConfig) -> None:
        new = self.config.with_channel(dataclasses.replace(self._channel(channel_id), heat_map=heat_map))
        try:
            validate_config(new)
        except ConfigError as e:
            raise ServiceError(str(e)) from None
        self.config = new
        self.saves += 1

    # reports
    def count(self, channel_id: int, report_type: str, date: dt.date, model: str) -> dict[str, Any]:
        self._channel(channel_id)
        try:
            return self.reports[(channel_id, report_type, date, model)]
        except KeyError:
            raise ServiceError(f"channel {channel_id} has no statistics for the {report_type} report of "
                               f"{date.isoformat()}") from None

    def export(self, channel_id: int, report_type: str, date: dt.date, model: str) -> list[Path]:
        self.count(channel_id, report_type, date, model)
        raise ServiceError("no export device in memory")

    def storage(self) -> StorageStatus:
        return self.storage_status

    def export_target(self) -> ExportTarget:
        if self.export_device is None:
            return ExportTarget(self.state_dir.resolve() / "export", True)
        return ExportTarget(Path(self.export_device), False)

    def set_export_device(self, path: str | None) -> ExportTarget:
        if path is not None:
            if not Path(path).is_absolute():
                raise ServiceError(f"export device {path!r}: give the folder's full path, starting with /")
            try:
                check_directory(path)
            except ExportError as e:
                raise ServiceError(str(e)) from None
        self.export_device = path
        return self.export_target()

    def report_file(self, channel_id: int, report_type: str, date: dt.date, model: str, kind: str) -> ReportFile:
        self.count(channel_id, report_type, date, model)
        raise ServiceError("no report files in memory")

    # events
    def subscribe(self, deliver: Callable[[Event], None]):
        return self.events.subscribe(deliver)
