"""Events the appliance announces to whoever listens (the web's ISAPI alert stream).

An `Event` is plain data: its kind, the channel (0: the device), whether the
condition became active or inactive, the appliance time and a one-line
description. `EventBus.publish` hands it to every subscriber's `deliver`
callback on the publishing thread, so a callback must only queue it (a
front end hands it to its own loop); a callback that raises is dropped and
logged, and can never stop the appliance.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass
from enum import StrEnum
from typing import Callable

log = logging.getLogger("firmware.events")


class EventKind(StrEnum):
    VIDEO_LOSS = "videoloss"                      # a channel lost video (active) / got it back (inactive)
    SCENE_CHANGE = "scenechangedetection"         # the analysis declared a scene change
    DISK_FULL = "diskfull"                        # the statistics store cannot be written / can again


@dataclass(frozen=True, slots=True)
class Event:
    kind: EventKind
    channel: int           # 0: the device itself
    active: bool           # the condition began (True) or ended (False)
    time: dt.datetime      # appliance clock
    description: str = ""


class EventBus:
    """Fan-out of events to callbacks; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: dict[int, Callable[[Event], None]] = {}
        self._next = 0

    def subscribe(self, deliver: Callable[[Event], None]) -> _Subscription:
        with self._lock:
            self._next += 1
            self._subscribers[self._next] = deliver
            return _Subscription(self, self._next)

    def publish(self, event: Event) -> None:
        with self._lock:
            subscribers = list(self._subscribers.items())
        for key, deliver in subscribers:
            try:
                deliver(event)
            except Exception:
                log.exception("event subscriber failed; unsubscribed")
                self._drop(key)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def _drop(self, key: int) -> None:
        with self._lock:
            self._subscribers.pop(key, None)


@dataclass
class _Subscription:
    bus: EventBus
    key: int

    def close(self) -> None:
        self.bus._drop(self.key)
