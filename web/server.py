"""The web server: one route table, the cross-cutting rules as middlewares, run beside the console.

`WebFrontEnd` is what the `nvr` command hands the appliance when
`appliance.web.port` is set. It runs an aiohttp server on its own thread
and event loop in the appliance's main process; blocking service calls go
to a small pool of threads (`web.respond.call`), so a slow report never
stalls the live view, and the channels (in worker processes) never wait
for the web.

Middlewares, outermost first:
  headers    a Content-Security-Policy without inline script, no framing, no sniffing,
             on every answer (refusals included);
  refusals   every error becomes a `ResponseStatus` (ISAPI) or {"error": ...} (the page's
             API), one line; an unexpected fault is logged in one line (its traceback only
             at debug level) and answered 500 without details;
  login      Digest or the page's session (with its CSRF token) for everything but the
             page's files and its login calls (`web.auth`).
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import logging
import threading
from pathlib import Path

from aiohttp import web
from multidict import CIMultiDict

from firmware.service import (ApplianceService, FrontEndError, LoginOutcome, NoSuchChannel, ServiceError,
                              WebConfig)
from web import isapi, page
from web.alerts import AlertHub
from web.auth import CSRF_HEADER, SESSION_COOKIE, Nonces, Sessions, parse_digest
from web.documents import DEVICE_ERROR, INVALID_OPERATION, MAX_BODY, BadRequest, response_status, to_json, to_xml
from web.live import Pictures
from web.respond import PICTURES, SERVICE, call, wants_json

log = logging.getLogger("web")

STATIC = Path(__file__).resolve().parent / "static"
NONCES = web.AppKey("nonces", Nonces)
ALERTS = web.AppKey("alerts", AlertHub)
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
SERVICE_THREADS = 4


def build_app(service: ApplianceService, *, idle_timeout: float, heartbeat: float | None = None) -> web.Application:
    app = web.Application(middlewares=[headers, refusals, login], client_max_size=MAX_BODY)
    app[SERVICE] = service
    app[NONCES] = Nonces()
    app[page.SESSIONS] = Sessions(idle_timeout)
    app[PICTURES] = Pictures(service)
    app[ALERTS] = AlertHub(**({} if heartbeat is None else {"heartbeat": heartbeat}))
    for method, path, handler in isapi.ROUTES + page.ROUTES:
        app.router.add_route(method, path, handler)
    app.router.add_get("/ISAPI/Event/notification/alertStream", alert_stream)
    app.router.add_get("/", index)
    app.router.add_static("/static", STATIC, follow_symlinks=False)
    return app


async def alert_stream(request: web.Request) -> web.StreamResponse:
    return await request.app[ALERTS].stream(request)


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})


# --------------------------------------------------------------------------- middlewares


def _is_api(request: web.Request) -> bool:
    return request.path.startswith("/api/")


def refuse(request: web.Request, e: BadRequest, extra_headers: dict | None = None) -> web.Response:
    if _is_api(request):
        return web.json_response({"error": str(e)}, status=e.http, headers=extra_headers)
    root, doc = response_status(request.path, e.code, e.sub, str(e))
    body, kind = (to_json(root, doc), "application/json") if wants_json(request) else (to_xml(root, doc),
                                                                                          "application/xml")
    return web.Response(body=body, status=e.http, content_type=kind, headers=extra_headers)


@web.middleware
async def refusals(request: web.Request, handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except Unauthorized as e:
        return refuse(request, e, e.headers)
    except BadRequest as e:
        return refuse(request, e)
    except NoSuchChannel as e:
        return refuse(request, BadRequest(str(e), http=404, code=INVALID_OPERATION, sub="invalidID"))
    except ServiceError as e:
        return refuse(request, BadRequest(str(e), sub="badParameters"))
    except web.HTTPRequestEntityTooLarge:
        return refuse(request, BadRequest(f"the request body is over {MAX_BODY // 1024} KB", http=413,
                                          code=INVALID_OPERATION, sub="badParameters"))
    except web.HTTPMethodNotAllowed as e:
        return refuse(request, BadRequest(f"{request.method} is not allowed here (allowed: "
                                          f"{', '.join(sorted(e.allowed_methods))})", http=405,
                                          code=INVALID_OPERATION, sub="methodNotAllowed"))
    except web.HTTPNotFound:
        if request.path.startswith(("/ISAPI/", "/api/")):
            return refuse(request, BadRequest(f"no resource {request.path[:80]}", http=404,
                                              code=INVALID_OPERATION, sub="notSupport"))
        raise
    except web.HTTPException:
        raise
    except (asyncio.CancelledError, ConnectionResetError):
        raise
    except Exception as e:  # a fault of ours: one line in the log, nothing of it in the answer
        log.error("%s %s: internal error: %s: %s", request.method, request.path[:80], type(e).__name__,
                  str(e).splitlines()[0][:160] if str(e) else "")
        log.debug("traceback", exc_info=True)
        return refuse(request, BadRequest("internal error; see the appliance log", http=500, code=DEVICE_ERROR,
                                          sub="deviceError"))


@web.middleware
async def headers(request: web.Request, handler) -> web.StreamResponse:
    response = await handler(request)
    if not response.prepared:  # the alert stream has sent its headers already
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response


class Unauthorized(BadRequest):
    def __init__(self, reason: str, sub: str, headers: dict | None = None, http: int = 401):
        super().__init__(reason, http=http, code=INVALID_OPERATION, sub=sub)
        self.headers = headers


def _public(request: web.Request) -> bool:
    return request.path == "/" or request.path.startswith("/static/") or request.path in page.PUBLIC


@web.middleware
async def login(request: web.Request, handler) -> web.StreamResponse:
    if _public(request):
        return await handler(request)
    sessions = request.app[page.SESSIONS]
    session = sessions.get(request.cookies.get(SESSION_COOKIE))
    if session is not None:
        if request.method not in SAFE_METHODS and not Sessions.csrf_ok(session, request.headers.get(CSRF_HEADER)):
            raise Unauthorized(f"missing or wrong {CSRF_HEADER} header; reload the page", "csrfFailed", http=403)
        return await handler(request)
    if _is_api(request):
        raise Unauthorized("log in first", "badAuthorization")
    await _digest(request)
    return await handler(request)


async def _digest(request: web.Request) -> None:
    """Pass when the request carries a good Digest answer; else raise Unauthorized with a challenge."""
    service = request.app[SERVICE]
    nonces = request.app[NONCES]

    def challenge(reason: str, sub: str, stale: bool = False) -> Unauthorized:
        return Unauthorized(reason, sub, _challenges(nonces, stale))

    if not await call(service.activated):
        raise Unauthorized("the device is not activated: set the admin password on the console or the page",
                           "notActivated")
    header = request.headers.get("Authorization", "")
    if not header:
        raise challenge("authentication required (HTTP Digest)", "badAuthorization")
    if not header.lower().startswith("digest "):
        # Basic over plain HTTP would send the password in the clear: never accepted.
        raise challenge("only HTTP Digest is accepted", "badAuthorization")
    answer = parse_digest(header, request.method)
    if answer is None:
        raise challenge("malformed Digest answer (qop=auth with nc and cnonce, MD5 or SHA-256)",
                        "badAuthorization")
    if answer.uri != request.raw_path:
        raise BadRequest("the Digest uri is not this request's", code=INVALID_OPERATION, sub="badAuthorization")
    freshness = nonces.check(answer.nonce, answer.nc)
    if freshness == "stale":
        raise challenge("the nonce has expired; answer the new challenge", "badAuthorization", stale=True)
    if freshness == "replay":
        raise challenge("the nonce count was used already", "badAuthorization")
    result = await call(service.login_digest, answer)
    if result.outcome is LoginOutcome.OK:
        return
    if result.outcome is LoginOutcome.LOCKED:
        raise Unauthorized(f"locked after too many failed logins; try again in {max(1, round(result.locked_for))} s",
                           "userLocked", {"Retry-After": str(max(1, round(result.locked_for)))})
    if result.outcome is LoginOutcome.NOT_ACTIVATED:
        raise Unauthorized("the device is not activated", "notActivated")
    raise challenge("wrong user name or password" + (f"; locked for {round(result.locked_for)} s"
                                                     if result.locked_for else ""), "badAuthorization")


def _challenges(nonces: Nonces, stale: bool) -> CIMultiDict:
    """One WWW-Authenticate header per algorithm offered (SHA-256 first, as RFC 7616 asks)."""
    h: CIMultiDict = CIMultiDict()
    for value in nonces.challenges(stale):
        h.add("WWW-Authenticate", value)
    return h


# --------------------------------------------------------------------------- the front end


class WebFrontEnd:
    """Serves the page and ISAPI on `settings.bind`:`settings.port` from a thread of its own."""

    def __init__(self, settings: WebConfig, *, heartbeat: float | None = None):
        self.settings = settings
        self.heartbeat = heartbeat
        self.url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._app: web.Application | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def start(self, service: ApplianceService) -> list[str]:
        self._app = build_app(service, idle_timeout=service.console_settings().idle_logout,
                              heartbeat=self.heartbeat)
        self._thread = threading.Thread(target=self._serve, name="web", daemon=True)
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error
        host = self.settings.bind if ":" not in self.settings.bind else f"[{self.settings.bind}]"
        shown = "127.0.0.1" if self.settings.bind in ("0.0.0.0", "::") else host
        self.url = f"http://{shown}:{self.port}/"
        return [f"web: {self.url} (configuration page and ISAPI; bound to {self.settings.bind})"]

    @property
    def port(self) -> int:
        return self._port

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(SERVICE_THREADS, "web-service"))
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._open())
        except OSError as e:
            reason = "already in use" if e.errno == errno.EADDRINUSE else e.strerror
            self._error = FrontEndError(f"appliance.web: cannot serve on {self.settings.bind}:"
                                        f"{self.settings.port}: {reason}; choose another port")
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(self._shut())
        loop.close()

    async def _open(self) -> None:
        app = self._app
        app[ALERTS].start(app[SERVICE], asyncio.get_running_loop())
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.bind, self.settings.port, reuse_address=True)
        await site.start()
        self._port = self._runner.addresses[0][1]

    async def _shut(self) -> None:
        self._app[ALERTS].close()
        await self._runner.cleanup()

    def close(self) -> None:
        if self._loop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
