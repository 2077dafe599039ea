"""The live view: each channel's latest frame as a JPEG, encoded once for every viewer.

Browsers poll `/ISAPI/Streaming/channels/<ch>01/picture` a few times a
second; the preview is fetched from the channel (a worker process's pipe)
and encoded at most once per `MAX_AGE`, however many pages watch, so the
viewers' number does not reach the channels.
"""
from __future__ import annotations

import asyncio
import io
import time

from PIL import Image

from firmware.service import ApplianceService
from web.respond import call

MAX_AGE = 0.2      # seconds a JPEG is served before the next is made
QUALITY = 80


class Pictures:
    def __init__(self, service: ApplianceService):
        self._service = service
        self._cache: dict[int, tuple[float, bytes | None]] = {}
        self._locks: dict[int, asyncio.Lock] = {}

    async def jpeg(self, channel: int) -> bytes | None:
        """The channel's latest frame as a JPEG; None before its first frame.
        Raises NoSuchChannel for an unknown channel."""
        lock = self._locks.setdefault(channel, asyncio.Lock())
        async with lock:  # one fetch per channel at a time; the others get its result
            made, data = self._cache.get(channel, (-1.0, None))
            if time.monotonic() - made <= MAX_AGE:
                return data
            data = await call(self._encode, channel)
            self._cache[channel] = (time.monotonic(), data)
            return data

    def _encode(self, channel: int) -> bytes | None:
        luma = self._service.preview(channel)
        if luma is None:
            return None
        out = io.BytesIO()
        Image.fromarray(luma, "L").save(out, "JPEG", quality=QUALITY)
        return out.getvalue()
