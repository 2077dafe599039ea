"""ISAPI's alert stream: `GET /ISAPI/Event/notification/alertStream`, events as they happen.

The response is ``multipart/mixed; boundary=boundary`` and never ends on its
own: one part per event, an `EventNotificationAlert` document each
(videoloss active/inactive, scenechangedetection, diskfull), and a
heartbeat every `HEARTBEAT` seconds (a ``videoloss`` ``inactive`` alert for
channel 0, as Hikvision devices send it) so a client can tell a quiet
device from a dead connection.

The firmware's event bus calls `AlertHub._deliver` on the appliance's
thread; it only hands the event to the event loop. Each subscriber has a
bounded queue: a subscriber too slow to read loses its oldest events, and
never slows the appliance or the other subscribers.
"""
from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from firmware.service import ApplianceService, Event, EventKind
from web.documents import BadRequest, to_xml
from web.respond import call, service_of

log = logging.getLogger("web.alerts")

BOUNDARY = "boundary"       # what Hikvision devices use (and clients split on)
HEARTBEAT = 10.0            # seconds between heartbeats on a quiet stream
QUEUE = 256                 # events held for one subscriber before the oldest are dropped
MAX_SUBSCRIBERS = 16


class AlertHub:
    def __init__(self, heartbeat: float = HEARTBEAT):
        self.heartbeat = heartbeat
        self._queues: set[asyncio.Queue] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._subscription = None
        self._counts: dict[tuple[str, int], int] = {}

    def start(self, service: ApplianceService, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._subscription = service.subscribe(self._deliver)

    def close(self) -> None:
        if self._subscription is not None:
            self._subscription.close()
        for q in list(self._queues):
            self._offer(q, None)  # ends the stream

    def _deliver(self, event: Event) -> None:
        """On the appliance's thread: hand over and return at once."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._fan_out, event)

    def _fan_out(self, event: Event) -> None:
        key = (event.kind.value, event.channel)
        if event.active:
            self._counts[key] = self._counts.get(key, 0) + 1
        for q in self._queues:
            self._offer(q, (event, self._counts.get(key, 0)))

    @staticmethod
    def _offer(q: asyncio.Queue, item) -> None:
        if q.full():
            q.get_nowait()  # a slow reader loses its oldest event, nobody waits for it
        q.put_nowait(item)

    async def stream(self, request: web.Request) -> web.StreamResponse:
        if len(self._queues) >= MAX_SUBSCRIBERS:
            raise BadRequest(f"too many alert-stream subscribers (at most {MAX_SUBSCRIBERS})", http=503,
                             code=2, sub="deviceBusy")
        service = service_of(request)
        info = await call(service.device_info)
        response = web.StreamResponse(headers={
            "Content-Type": f"multipart/mixed; boundary={BOUNDARY}", "Cache-Control": "no-store"})
        await response.prepare(request)
        host, port = (request.transport.get_extra_info("sockname") or ("127.0.0.1", 0))[:2]
        queue: asyncio.Queue = asyncio.Queue(QUEUE)
        self._queues.add(queue)
        try:
            while True:
                try:
                    item = await asyncio.wait_for(queue.get(), self.heartbeat)
                except asyncio.TimeoutError:
                    item = (Event(EventKind.VIDEO_LOSS, 0, False, await call(service.now), "heartbeat"), 0)
                if item is None:
                    break
                await response.write(self._part(*item, host, port, info.device_name))
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self._queues.discard(queue)
        return response

    @staticmethod
    def _part(event: Event, count: int, host: str, port: int, device: str) -> bytes:
        doc = {"ipAddress": host, "portNo": port, "protocol": "HTTP", "macAddress": "00:00:00:00:00:00",
               "channelID": event.channel, "dateTime": event.time.isoformat(timespec="seconds"),
               "activePostCount": count, "eventType": event.kind.value,
               "eventState": "active" if event.active else "inactive",
               "eventDescription": event.description or event.kind.value,
               "deviceName": device}
        body = to_xml("EventNotificationAlert", doc)
        head = (f"--{BOUNDARY}\r\nContent-Type: application/xml; charset=\"UTF-8\"\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        return head + body + b"\r\n"
