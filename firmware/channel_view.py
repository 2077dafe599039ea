"""What the appliance reads of a channel, wherever the channel runs.

A channel runs either here, in a thread of the main process
(`firmware.channel.Channel`, for live cameras), or in a worker process
(`firmware.workers.RemoteChannel`, the parent's view of a channel stepped
there). The appliance, its service and the bench see both through
`ChannelView`; `ChannelState` names the states a user is shown.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import numpy as np

from firmware.budget import BudgetStats
from firmware.config import ChannelConfig
from hal.frame import StreamInfo
from hal.input import CaptureState


class ChannelState(StrEnum):
    """A channel's state: its capture input's (`hal.input.CaptureState`), or DISABLED
    while video runs with the heat map off."""

    CONNECTING = "connecting"
    RUNNING = "running"
    VIDEO_LOSS = "video_loss"
    DISABLED = "disabled"
    STOPPED = "stopped"

    @property
    def label(self) -> str:
        """As the console and the page show it."""
        return "VIDEO LOSS" if self is ChannelState.VIDEO_LOSS else self.value

    @classmethod
    def of(cls, capture_state: CaptureState, heat_map_enabled: bool) -> ChannelState:
        if capture_state == CaptureState.RUNNING and not heat_map_enabled:
            return cls.DISABLED
        return cls(capture_state.value)


@dataclass(slots=True)
class ChannelCounters:
    frames: int = 0        # frames received from the capture
    analysed: int = 0      # frames the analyser stepped on
    fps: float = 0.0       # input frame rate over the last status period (wall time)
    wall: float = 0.0      # appliance time of the last frame
    done: bool = False     # ended (stopped, past --duration, or an internal error) and drained
    scene_changes: int = 0 # scene changes the analysis declared


class CaptureView(Protocol):
    """The capture input's figures (`hal.input.CaptureInput`, or as a worker last reported them)."""

    info: StreamInfo | None
    state: CaptureState
    last_error: str

    @property
    def drops(self) -> int: ...

    def close(self) -> None: ...


class BudgetView(Protocol):
    """The frame budget's meter (`firmware.budget.FrameBudget`, or as a worker last reported it)."""

    budget_us: float

    def stats(self) -> BudgetStats: ...


class ChannelView(Protocol):
    """A channel as the appliance drives and reads it."""

    config: ChannelConfig         # the settings in force (after reconfigure: the new ones)
    counters: ChannelCounters     # frames, analysed, fps, wall, done
    capture: CaptureView
    budget: BudgetView
    problem: str                  # why the heat map cannot run on this source (a grid too fine), or ""

    @property
    def state(self) -> ChannelState: ...

    @property
    def alive(self) -> bool:
        """Started and not yet done."""
        ...

    @property
    def stopping(self) -> bool: ...

    def reconfigure(self, config: ChannelConfig) -> None:
        """Apply new settings from the channel's next frame (any thread)."""
        ...

    def preview(self) -> np.ndarray | None:
        """A copy of the latest luma frame (uint8 H x W), None before the first."""
        ...

    def flush(self, timeout: float) -> bool:
        """Hand what the running hour analysed so far to the statistics sink, and wait
        up to `timeout` wall seconds until it has reached it; False when it did not
        in time (a channel with no frames coming has nothing new to hand over)."""
        ...

    def stop(self) -> None: ...

    def join(self, timeout: float | None = None) -> None: ...
