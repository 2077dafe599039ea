"""What every handler shares: the service, blocking calls off the event loop, path numbers, documents."""
from __future__ import annotations

import asyncio
import functools
from typing import Any, Callable, TypeVar

from aiohttp import web

from firmware.service import ApplianceService
from web.documents import INVALID_OPERATION, BadRequest, to_json, to_xml

SERVICE = web.AppKey("service", ApplianceService)
PICTURES = web.AppKey("pictures", object)   # web.live.Pictures
T = TypeVar("T")


def service_of(request: web.Request) -> ApplianceService:
    return request.app[SERVICE]


async def call(fn: Callable[..., T], *args: Any) -> T:
    """Run a service call on the server's worker threads: the service may block (a report waits
    for the channels to hand over their running hour), the event loop must not."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, functools.partial(fn, *args))


def channel_id(request: web.Request) -> int:
    return _number(request.match_info["channel"], "channel")


def stream_channel_id(request: web.Request) -> int:
    """The channel of a stream id: <channel>01 (main stream) or <channel>02 (sub-stream)."""
    stream = request.match_info["stream"]
    if stream[-2:] not in ("01", "02"):
        raise BadRequest(f"no stream {stream}: streams are <channel>01 or <channel>02", http=404,
                         code=INVALID_OPERATION, sub="invalidID")
    return _number(stream[:-2], "stream")


def _number(text: str, what: str) -> int:
    if not text.isdigit() or len(text) > 3 or not 1 <= int(text) <= 256:
        raise BadRequest(f"no {what} {text[:12]!r}: channels are numbered 1..256", http=404,
                         code=INVALID_OPERATION, sub="invalidID")
    return int(text)


def wants_json(request: web.Request) -> bool:
    return request.query.get("format") == "json"


def document(request: web.Request, root: str, doc: dict[str, Any], status: int = 200) -> web.Response:
    if wants_json(request):
        return web.Response(body=to_json(root, doc), status=status, content_type="application/json")
    return web.Response(body=to_xml(root, doc), status=status, content_type="application/xml",
                        charset="utf-8")
