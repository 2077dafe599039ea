"""The configuration page's own JSON API: session, activation, status, and the whole heat-map form.

Everything else the page shows it reads from the ISAPI resources with
``?format=json`` (the live view, the channel list, Counting and Export), so
the page and an integrator see the same documents. Two things ISAPI has no
resource for live here: logging in with a form (a session cookie instead
of Digest), and saving the Heat Map Configuration form in one request, so
Save is one atomic change of the configuration, as on the console.

Areas here are the firmware's own: points (x, y) in 0..1 from the top-left
corner of the picture, x to the right, y downwards.
"""
from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

from aiohttp import web

from firmware.service import (MAX_AREAS, MAX_POINTS, MAX_SEGMENTS_PER_DAY, MIN_POINTS, MODEL_LABELS,
                              PARAMETER_DEFAULT, PARAMETER_LABELS, PARAMETER_RANGE, REPORT_LABELS, USER,
                              WEEKDAYS, ArmWindow, HeatMapConfig, LoginOutcome, ServiceError, merge_days,
                              schedule_problem)
from web.auth import SESSION_COOKIE, Sessions
from web.documents import MAX_BODY, BadRequest
from web.respond import call, channel_id, service_of

SESSIONS = web.AppKey("sessions", Sessions)
_RANGE = re.compile(r"^(\d{2}):(\d{2})$")


async def json_body(request: web.Request) -> dict[str, Any]:
    body = await request.read()
    if len(body) > MAX_BODY:
        raise BadRequest("the request body is over 1 MB", http=413)
    try:
        doc = json.loads(body.decode("utf-8") or "{}")
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadRequest("the request is not valid JSON") from None
    if not isinstance(doc, dict):
        raise BadRequest("the request must be a JSON object")
    return doc


def reply(doc: dict[str, Any], status: int = 200) -> web.Response:
    return web.json_response(doc, status=status, headers={"Cache-Control": "no-store"})


# --------------------------------------------------------------------------- session


async def session(request: web.Request) -> web.Response:
    service = service_of(request)
    activated = await call(service.activated)
    s = request.app[SESSIONS].get(request.cookies.get(SESSION_COOKIE))
    info = await call(service.device_info)
    doc = {"activated": activated, "deviceName": info.device_name, "model": info.model,
           "firmwareVersion": info.firmware_version, "user": s.user if s else None, "csrf": s.csrf if s else None,
           "idleLogoutSeconds": request.app[SESSIONS].idle_timeout}
    return reply(doc, 200 if s else 401)


async def activate(request: web.Request) -> web.Response:
    doc = await json_body(request)
    password, confirm = doc.get("password"), doc.get("confirm")
    if not isinstance(password, str) or not isinstance(confirm, str):
        raise BadRequest("send the new password twice: password and confirm")
    service = service_of(request)
    if await call(service.activated):
        raise BadRequest("the device is already activated; log in", http=409)
    problem = await call(service.password_problem, password)
    if problem:
        raise BadRequest(f"Refused: {problem}.")
    if password != confirm:
        raise BadRequest("Refused: the two passwords differ; type them again.")
    await call(service.activate, password)
    return reply({"activated": True, "user": USER})


async def login(request: web.Request) -> web.Response:
    doc = await json_body(request)
    user, password = doc.get("user"), doc.get("password")
    if not isinstance(user, str) or not isinstance(password, str) or len(user) > 64 or len(password) > 256:
        raise BadRequest("send user and password")
    result = await call(service_of(request).login, user.strip(), password)
    if result.outcome is LoginOutcome.NOT_ACTIVATED:
        raise BadRequest("The device is not activated: set the admin password first.", http=401)
    if result.outcome is LoginOutcome.LOCKED:
        raise BadRequest(f"Locked after too many failed logins; try again in {max(1, round(result.locked_for))} s.",
                         http=403)
    if result.outcome is LoginOutcome.WRONG:
        extra = (f" Locked for {round(result.locked_for)} s after too many failed logins."
                 if result.locked_for > 0 else "")
        raise BadRequest("Login incorrect." + extra, http=401)
    s = request.app[SESSIONS].create(user.strip())
    response = reply({"user": s.user, "csrf": s.csrf})
    response.set_cookie(SESSION_COOKIE, s.token, httponly=True, samesite="Strict", path="/")
    return response


async def logout(request: web.Request) -> web.Response:
    request.app[SESSIONS].end(request.cookies.get(SESSION_COOKIE))
    response = reply({"user": None})
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


# --------------------------------------------------------------------------- status


async def status(request: web.Request) -> web.Response:
    service = service_of(request)
    system = await call(service.system_status)
    channels = await call(service.channels)
    storage = await call(service.storage)
    return reply({
        "now": system.now.isoformat(timespec="seconds"), "uptimeSeconds": round(system.uptime_seconds),
        "cpuPercent": system.cpu_percent, "memoryMB": system.memory_mb,
        "storage": {"state": storage.state, "heldChannelHours": storage.held_channel_hours,
                    "lostChannelHours": storage.lost_channel_hours, "lastError": storage.last_error,
                    "since": storage.since.isoformat(timespec="seconds") if storage.since else None},
        "channels": [{"id": c.id, "name": c.name, "state": c.state.value, "stateLabel": c.state.label,
                      "heatMapEnabled": c.heat_map_enabled, "source": c.source, "codec": c.codec,
                      "width": c.width, "height": c.height, "fps": round(c.fps, 1), "drops": c.drops,
                      "budgetUs": round(c.budget_us), "medianUs": round(c.median_us), "p99Us": round(c.p99_us),
                      "overruns": c.overruns, "skipped": c.skipped, "stride": c.stride, "lastError": c.last_error,
                      "analysisWidth": c.analysis_width, "analysisHeight": c.analysis_height,
                      "sceneChanges": c.scene_changes}
                     for c in channels]})


async def choices(request: web.Request) -> web.Response:
    """The form's fixed choices and limits, from the firmware's own definitions."""
    lo, hi = PARAMETER_RANGE
    return reply({"parameters": [{"key": k, "label": v, "min": lo, "max": hi, "default": PARAMETER_DEFAULT}
                                 for k, v in PARAMETER_LABELS.items()],
                  "maxAreas": MAX_AREAS, "minPoints": MIN_POINTS, "maxPoints": MAX_POINTS,
                  "maxSegmentsPerDay": MAX_SEGMENTS_PER_DAY, "weekdays": list(WEEKDAYS),
                  "reportTypes": [{"value": v, "label": label} for v, label in
                                  zip(("daily", "weekly", "monthly", "yearly"), REPORT_LABELS.values())],
                  "models": [{"value": "PDC" if k == "people" else "duration", "label": label}
                             for k, label in MODEL_LABELS.items()]})


# --------------------------------------------------------------------------- the heat-map form


def form_doc(hm: HeatMapConfig) -> dict[str, Any]:
    return {
        "enabled": hm.enabled,
        "parameters": {k: getattr(hm, k) for k in PARAMETER_LABELS},
        "regions": [[[x, y] for x, y in area] for area in hm.regions],
        "schedule": [{"day": WEEKDAYS[d],
                      "begin": f"{w.start_minute // 60:02d}:{w.start_minute % 60:02d}",
                      "end": f"{w.end_minute // 60:02d}:{w.end_minute % 60:02d}"}
                     for w in hm.schedule for d in w.days],
    }


async def get_form(request: web.Request) -> web.Response:
    hm = await call(service_of(request).heat_map, channel_id(request))
    return reply(form_doc(hm))


async def put_form(request: web.Request) -> web.Response:
    cid = channel_id(request)
    doc = await json_body(request)
    service = service_of(request)
    hm = await call(service.heat_map, cid)
    new = dataclasses.replace(hm, enabled=_bool(doc, "enabled"), regions=_regions(doc),
                              schedule=_schedule(doc), **_parameters(doc))
    try:
        await call(service.save_heat_map, cid, new)
    except ServiceError as e:
        raise BadRequest(f"Not saved: {e}") from None
    return reply({"saved": True, **form_doc(new)})


async def area_check(request: web.Request) -> web.Response:
    """Why an area would be refused (the console's and the file's rule), before saving."""
    doc = await json_body(request)
    points = _points(doc.get("points"), "points")
    problem = await call(service_of(request).area_problem, points)
    return reply({"problem": problem})


def _bool(doc: dict, key: str) -> bool:
    value = doc.get(key)
    if not isinstance(value, bool):
        raise BadRequest(f"{key}: must be true or false")
    return value


def _parameters(doc: dict) -> dict[str, int]:
    params = doc.get("parameters")
    if not isinstance(params, dict) or set(params) != set(PARAMETER_LABELS):
        raise BadRequest(f"parameters: must give {', '.join(PARAMETER_LABELS)}")
    lo, hi = PARAMETER_RANGE
    out = {}
    for key, value in params.items():
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise BadRequest(f"{PARAMETER_LABELS[key]}: {str(value)[:20]} must be a whole number {lo}..{hi}")
        out[key] = value
    return out


def _points(value: Any, where: str) -> list[tuple[float, float]]:
    if not isinstance(value, list) or len(value) > MAX_POINTS + 1:
        raise BadRequest(f"{where}: must be a list of at most {MAX_POINTS} [x, y] points")
    points = []
    for p in value:
        if (not isinstance(p, list) or len(p) != 2
                or not all(isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 1 for v in p)):
            raise BadRequest(f"{where}: {str(p)[:30]} is not an [x, y] point inside the picture (0..1)")
        points.append((round(float(p[0]), 4), round(float(p[1]), 4)))
    return points


def _regions(doc: dict) -> tuple[tuple[tuple[float, float], ...], ...]:
    regions = doc.get("regions")
    if not isinstance(regions, list) or len(regions) > MAX_AREAS:
        raise BadRequest(f"regions: must be a list of at most {MAX_AREAS} areas")
    return tuple(tuple(_points(r, f"area {k}")) for k, r in enumerate(regions, 1))


def _minute(text: Any, where: str) -> int:
    m = _RANGE.match(text) if isinstance(text, str) else None
    if not m or int(m.group(2)) > 59 or int(m.group(1)) * 60 + int(m.group(2)) > 1440:
        raise BadRequest(f"{where}: {str(text)[:10]!r} is not a time such as 09:00 (00:00..24:00)")
    return int(m.group(1)) * 60 + int(m.group(2))


def _schedule(doc: dict) -> tuple[ArmWindow, ...]:
    """[{day, begin, end}]; empty: armed around the clock."""
    items = doc.get("schedule")
    if not isinstance(items, list) or len(items) > 7 * MAX_SEGMENTS_PER_DAY:
        raise BadRequest(f"schedule: must be a list of at most {MAX_SEGMENTS_PER_DAY} windows a day")
    singles = []
    for i, item in enumerate(items, 1):
        if not isinstance(item, dict) or item.get("day") not in WEEKDAYS:
            raise BadRequest(f"schedule window {i}: day must be one of {', '.join(WEEKDAYS)}")
        begin, end = _minute(item.get("begin"), f"schedule window {i}"), _minute(item.get("end"),
                                                                                 f"schedule window {i}")
        if end <= begin:
            raise BadRequest(f"schedule, {item['day']}: {item['begin']}-{item['end']} ends before it begins")
        singles.append(ArmWindow((WEEKDAYS.index(item["day"]),), begin, end))
    problem = schedule_problem(singles)
    if problem:
        raise BadRequest(f"Not saved: the schedule has {problem}")
    return merge_days(singles)


ROUTES = [
    ("GET", "/api/session", session),
    ("POST", "/api/activate", activate),
    ("POST", "/api/login", login),
    ("POST", "/api/logout", logout),
    ("GET", "/api/status", status),
    ("GET", "/api/choices", choices),
    ("GET", "/api/channels/{channel}/heatmap", get_form),
    ("PUT", "/api/channels/{channel}/heatmap", put_form),
    ("POST", "/api/area-check", area_check),
]
PUBLIC = {"/api/session", "/api/activate", "/api/login", "/api/logout"}
