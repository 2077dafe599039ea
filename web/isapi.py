"""The ISAPI resources: one small handler per resource, each a translation to the service.

Resources and their documents are listed in docs/isapi.md. Conventions:
- a resource is read with GET and written back with PUT as the same document;
- XML in the ISAPI namespace by default, JSON with ``?format=json`` (or a
  JSON body with ``Content-Type: application/json``);
- every refusal is a `ResponseStatus` (web.documents.BadRequest);
- areas are in normalised 1000 x 1000 coordinates with the origin at the
  **bottom-left** corner of the picture, x to the right and y upwards, as
  Hikvision devices give them (the firmware stores 0..1 from the top-left;
  `to_isapi` / `from_isapi` convert);
- times are the appliance clock, ``YYYY-MM-DDTHH:MM:SS`` without a zone.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace
from typing import Any

from aiohttp import web

from firmware.service import (MAX_AREAS, MAX_POINTS, MAX_SEGMENTS_PER_DAY, MIN_POINTS, PARAMETER_DEFAULT,
                              PARAMETER_KEYS, PARAMETER_RANGE, REPORT_TYPES, ArmWindow, ChannelState,
                              EventKind, HeatMapConfig, NoSuchChannel, ServiceError, merge_days,
                              schedule_problem)
from web.documents import INVALID_OPERATION, BadRequest, as_list, boolean, field, integer, parse_body, text
from web.respond import PICTURES, call, channel_id, document, service_of, stream_channel_id

NORMALISED = 1000
# ISAPI's names for the firmware's report types and statistical models.
ISAPI_REPORT_TYPES = dict(zip(("daily", "weekly", "monthly", "yearly"), REPORT_TYPES))
ISAPI_MODELS = {"duration": "dwell", "PDC": "people"}


def camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(w.title() for w in rest)


PARAMETER_FIELDS = {camel(k): k for k in PARAMETER_KEYS}


# --------------------------------------------------------------------------- system


async def device_info(request: web.Request) -> web.Response:
    info = await call(service_of(request).device_info)
    return document(request, "DeviceInfo", {
        "deviceName": info.device_name, "deviceID": info.device_id, "model": info.model,
        "serialNumber": info.serial_number, "macAddress": "00:00:00:00:00:00",
        "firmwareVersion": info.firmware_version, "firmwareReleasedDate": info.firmware_release_date,
        "deviceType": info.device_type, "videoInputNums": info.channels,
    })


async def system_status(request: web.Request) -> web.Response:
    s = await call(service_of(request).system_status)
    return document(request, "DeviceStatus", {
        "currentDeviceTime": s.now.isoformat(timespec="seconds"),
        "deviceUpTime": int(s.uptime_seconds),
        "CPUList": {"CPU": [{"cpuDescription": "appliance", "cpuUtilization": round(s.cpu_percent)}]},
        "MemoryList": {"Memory": [{"memoryDescription": "appliance", "memoryUsage": s.memory_mb}]},
        "videoInputChannels": s.channels, "videoLossChannels": s.channels_in_video_loss,
    })


async def system_time(request: web.Request) -> web.Response:
    now = await call(service_of(request).now)
    return document(request, "Time", {"timeMode": "manual", "localTime": now.isoformat(timespec="seconds"),
                                      "timeZone": "none"})


# --------------------------------------------------------------------------- channels


async def input_channels(request: web.Request) -> web.Response:
    channels = await call(service_of(request).channels)
    return document(request, "VideoInputChannelList", {"VideoInputChannel": [
        {"id": c.id, "inputPort": c.id, "videoInputEnabled": c.state != ChannelState.STOPPED, "name": c.name,
         "resDesc": f"{c.width}*{c.height}" if c.width else "NO VIDEO",
         "videoLoss": c.state == ChannelState.VIDEO_LOSS, "heatMapEnabled": c.heat_map_enabled}
        for c in channels]})


async def picture(request: web.Request) -> web.Response:
    """The channel's latest frame as a JPEG: the live view (cached briefly per channel)."""
    cid = stream_channel_id(request)
    jpeg = await request.app[PICTURES].jpeg(cid)
    if jpeg is None:
        raise BadRequest(f"channel {cid} has no picture yet (connecting or VIDEO LOSS)", http=503,
                         code=2, sub="noPicture")
    return web.Response(body=jpeg, content_type="image/jpeg", headers={"Cache-Control": "no-store"})


# --------------------------------------------------------------------------- heat map settings


async def capabilities(request: web.Request) -> web.Response:
    cid = channel_id(request)
    await call(service_of(request).heat_map, cid)  # 404 for an unknown channel
    lo, hi = PARAMETER_RANGE
    return document(request, "HeatMapCap", {
        "enabled": {"@opt": "true,false"},
        **{name: {"@min": lo, "@max": hi, "@def": PARAMETER_DEFAULT} for name in PARAMETER_FIELDS},
        "HeatMapRegionCap": {
            "maxRegionNum": MAX_AREAS, "minPointNum": MIN_POINTS, "maxPointNum": MAX_POINTS,
            "normalizedScreenSize": {"normalizedScreenWidth": NORMALISED, "normalizedScreenHeight": NORMALISED},
            "origin": "bottomLeft",
        },
        "reportType": {"@opt": ",".join(ISAPI_REPORT_TYPES)},
        "statisticalModel": {"@opt": ",".join(ISAPI_MODELS)},
        "ScheduleCap": {"maxSegmentsPerDay": MAX_SEGMENTS_PER_DAY, "daysOfWeek": 7},
    })


def heat_map_doc(cid: int, hm: HeatMapConfig) -> dict[str, Any]:
    return {"id": cid, "enabled": hm.enabled, **{name: getattr(hm, key) for name, key in PARAMETER_FIELDS.items()}}


async def get_heat_map(request: web.Request) -> web.Response:
    cid = channel_id(request)
    hm = await call(service_of(request).heat_map, cid)
    return document(request, "HeatMap", heat_map_doc(cid, hm))


async def put_heat_map(request: web.Request) -> web.Response:
    cid = channel_id(request)
    doc = await read(request, "HeatMap")
    if "id" in doc and integer(doc, "id", "HeatMap", 1, 256) != cid:
        raise BadRequest(f"HeatMap.id: {doc['id']} is not this channel ({cid})", sub="badParameters")
    service = service_of(request)
    hm = await call(service.heat_map, cid)
    lo, hi = PARAMETER_RANGE
    changes: dict[str, Any] = {"enabled": boolean(doc, "enabled", "HeatMap", hm.enabled)}
    for name, key in PARAMETER_FIELDS.items():
        changes[key] = integer(doc, name, "HeatMap", lo, hi, getattr(hm, key))
    await save(request, cid, replace(hm, **changes))
    return ok(request)


# --------------------------------------------------------------------------- areas


def to_isapi(point: tuple[float, float]) -> dict[str, int]:
    x, y = point
    return {"positionX": round(x * NORMALISED), "positionY": round((1.0 - y) * NORMALISED)}


def from_isapi(doc: Any, where: str) -> tuple[float, float]:
    x = integer(doc, "positionX", where, 0, NORMALISED)
    y = integer(doc, "positionY", where, 0, NORMALISED)
    return round(x / NORMALISED, 3), round(1.0 - y / NORMALISED, 3)


def region_doc(k: int, area) -> dict[str, Any]:
    return {"id": k, "RegionCoordinatesList": {"RegionCoordinates": [to_isapi(p) for p in area]}}


def region_from(doc: Any, where: str) -> tuple[tuple[float, float], ...]:
    coordinates = field(doc, "RegionCoordinatesList", where)
    points = as_list(coordinates.get("RegionCoordinates") if isinstance(coordinates, dict) else None)
    if not MIN_POINTS <= len(points) <= MAX_POINTS:
        raise BadRequest(f"{where}: {len(points)} points; an area has {MIN_POINTS} to {MAX_POINTS}",
                         sub="badParameters")
    return tuple(from_isapi(p, f"{where}.RegionCoordinates[{i + 1}]") for i, p in enumerate(points))


async def get_regions(request: web.Request) -> web.Response:
    cid = channel_id(request)
    hm = await call(service_of(request).heat_map, cid)
    return document(request, "HeatMapRegionList",
                    {"HeatMapRegion": [region_doc(k, a) for k, a in enumerate(hm.regions, 1)]})


async def put_regions(request: web.Request) -> web.Response:
    cid = channel_id(request)
    doc = await read(request, "HeatMapRegionList")
    regions = as_list(doc.get("HeatMapRegion"))
    if len(regions) > MAX_AREAS:
        raise BadRequest(f"{len(regions)} areas; a channel has at most {MAX_AREAS}", sub="badParameters")
    areas = tuple(region_from(r, f"HeatMapRegion[{i + 1}]") for i, r in enumerate(regions))
    hm = await call(service_of(request).heat_map, cid)
    await save(request, cid, replace(hm, regions=areas))
    return ok(request)


def region_number(request: web.Request, count: int, *, new: bool = False) -> int:
    k = int(request.match_info["region"])
    last = count + 1 if new else count
    if not 1 <= k <= max(last, 0) or k > MAX_AREAS:
        what = f"1..{last}" if last else "none yet"
        raise BadRequest(f"no area {k}: areas are numbered {what}" + (" (the next new one)" if new else ""),
                         http=404, code=INVALID_OPERATION, sub="invalidID")
    return k


async def get_region(request: web.Request) -> web.Response:
    cid = channel_id(request)
    hm = await call(service_of(request).heat_map, cid)
    k = region_number(request, len(hm.regions))
    return document(request, "HeatMapRegion", region_doc(k, hm.regions[k - 1]))


async def put_region(request: web.Request) -> web.Response:
    cid = channel_id(request)
    doc = await read(request, "HeatMapRegion")
    hm = await call(service_of(request).heat_map, cid)
    k = region_number(request, len(hm.regions), new=True)
    area = region_from(doc, "HeatMapRegion")
    regions = hm.regions[:k - 1] + (area,) + hm.regions[k:]
    await save(request, cid, replace(hm, regions=regions))
    return ok(request)


async def delete_region(request: web.Request) -> web.Response:
    cid = channel_id(request)
    hm = await call(service_of(request).heat_map, cid)
    k = region_number(request, len(hm.regions))
    await save(request, cid, replace(hm, regions=hm.regions[:k - 1] + hm.regions[k:]))
    return ok(request)


# --------------------------------------------------------------------------- schedule

_TIME = re.compile(r"^(\d{2}):(\d{2})(?::(\d{2}))?$")


def _minute(value: str, where: str) -> int:
    m = _TIME.match(value)
    if not m or (m.group(3) not in (None, "00")):
        raise BadRequest(f"{where}: {value[:20]!r} is not a time such as 09:00:00 (whole minutes)",
                         sub="badParameters")
    h, mi = int(m.group(1)), int(m.group(2))
    if mi > 59 or h * 60 + mi > 1440:
        raise BadRequest(f"{where}: {value!r} is not a time of day (00:00:00..24:00:00)", sub="badParameters")
    return h * 60 + mi


def schedule_doc(cid: int, hm: HeatMapConfig) -> dict[str, Any]:
    windows = hm.schedule or (ArmWindow(tuple(range(7)), 0, 1440),)  # none: around the clock
    blocks = [{"dayOfWeek": day + 1,
               "TimeRange": {"beginTime": f"{w.start_minute // 60:02d}:{w.start_minute % 60:02d}:00",
                             "endTime": f"{w.end_minute // 60:02d}:{w.end_minute % 60:02d}:00"}}
              for w in windows for day in w.days]
    blocks.sort(key=lambda b: (b["dayOfWeek"], b["TimeRange"]["beginTime"]))
    return {"id": f"heatmap_video{cid}", "eventType": "heatmap", "videoInputChannelID": cid,
            "TimeBlockList": {"TimeBlock": blocks}}


def schedule_from(doc: dict[str, Any]) -> tuple[ArmWindow, ...]:
    block_list = doc.get("TimeBlockList")
    blocks = as_list(block_list.get("TimeBlock") if isinstance(block_list, dict) else None)
    if not blocks:
        raise BadRequest("Schedule: no TimeBlock; to stop counting, disable the heat map instead",
                         sub="badParameters")
    singles = []
    for i, b in enumerate(blocks, 1):
        where = f"TimeBlock[{i}]"
        day = integer(b, "dayOfWeek", where, 1, 7) - 1
        span = field(b, "TimeRange", where)
        begin = _minute(text(span, "beginTime", where), f"{where}.beginTime")
        end = _minute(text(span, "endTime", where), f"{where}.endTime")
        if end <= begin:
            raise BadRequest(f"{where}: endTime must be after beginTime", sub="badParameters")
        singles.append(ArmWindow((day,), begin, end))
    problem = schedule_problem(singles)
    if problem:
        raise BadRequest(f"Schedule: {problem}", sub="badParameters")
    return merge_days(singles)


def schedule_channel(request: web.Request) -> int:
    m = re.fullmatch(r"heatmap_video(\d{1,3})", request.match_info["schedule"])
    if not m:
        raise BadRequest(f"no schedule {request.match_info['schedule'][:40]!r}: heat-map schedules are "
                         "heatmap_video<channel>", http=404, code=INVALID_OPERATION, sub="invalidID")
    return int(m.group(1))


async def get_schedule(request: web.Request) -> web.Response:
    cid = schedule_channel(request)
    hm = await call(service_of(request).heat_map, cid)
    return document(request, "Schedule", schedule_doc(cid, hm))


async def put_schedule(request: web.Request) -> web.Response:
    cid = schedule_channel(request)
    doc = await read(request, "Schedule")
    windows = schedule_from(doc)
    hm = await call(service_of(request).heat_map, cid)
    await save(request, cid, replace(hm, schedule=windows))
    return ok(request)


# --------------------------------------------------------------------------- reports


def search_query(doc: dict[str, Any], where: str) -> tuple[str, dt.date, str]:
    kind = text(doc, "reportType", where)
    if kind not in ISAPI_REPORT_TYPES:
        raise BadRequest(f"{where}.reportType: {kind[:20]!r} is not one of {', '.join(ISAPI_REPORT_TYPES)}",
                         sub="badParameters")
    model = text(doc, "statisticalModel", where, "duration")
    if model not in ISAPI_MODELS:
        raise BadRequest(f"{where}.statisticalModel: {model[:20]!r} is not one of {', '.join(ISAPI_MODELS)}",
                         sub="badParameters")
    spans = doc.get("timeSpanList")
    span = as_list(spans.get("timeSpan") if isinstance(spans, dict) else None)
    if len(span) != 1:
        raise BadRequest(f"{where}.timeSpanList: give one timeSpan (its startTime picks the report's day)",
                         sub="badParameters")
    start = _when(text(span[0], "startTime", f"{where}.timeSpan"), f"{where}.timeSpan.startTime")
    if "endTime" in span[0]:
        end = _when(text(span[0], "endTime", f"{where}.timeSpan"), f"{where}.timeSpan.endTime")
        if end < start:
            raise BadRequest(f"{where}.timeSpan: endTime is before startTime", sub="badParameters")
    return ISAPI_REPORT_TYPES[kind], start.date(), ISAPI_MODELS[model]


def _when(value: str, where: str) -> dt.datetime:
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"{where}: {value[:30]!r} is not a time such as 2026-11-24T00:00:00",
                         sub="badParameters") from None
    if not 1970 <= when.year <= 9998:
        raise BadRequest(f"{where}: {value[:30]!r} is outside 1970..9998", sub="badParameters")
    return when.replace(tzinfo=None)


def query_from_url(request: web.Request) -> tuple[str, dt.date, str]:
    q = request.query
    day = q.get("date") or q.get("startTime", "")[:10]
    doc = {"reportType": q.get("reportType", "daily"), "statisticalModel": q.get("statisticalModel", "duration"),
           "timeSpanList": {"timeSpan": {"startTime": f"{day}T00:00:00" if len(day) == 10 else day}}}
    return search_query(doc, "query")


def _matrix(report: dict[str, Any], model: str) -> dict[str, Any]:
    values = report["dwell_seconds"] if model == "dwell" else report["visits"]
    d = report["details"]
    top, low = (d["dwell_max_seconds"], d["dwell_min_seconds"]) if model == "dwell" else \
        (d["visits_max"], d["visits_min"])
    return {"rows": report["grid"]["rows"], "columns": report["grid"]["columns"],
            "unit": "seconds" if model == "dwell" else "visits", "maxValue": top, "minValue": low,
            "data": ",".join(_number(v) for row in values for v in row)}


async def count(request: web.Request, cid: int, kind: str, day: dt.date, model: str) -> dict[str, Any]:
    """The report as the service counts it; a period with no statistics is a 404 saying why."""
    try:
        return await call(service_of(request).count, cid, kind, day, model)
    except NoSuchChannel:
        raise
    except ServiceError as e:
        raise BadRequest(str(e), http=404, code=INVALID_OPERATION, sub="noData") from None


def _number(v: float | int) -> str:
    return str(v) if isinstance(v, int) else f"{v:.3f}".rstrip("0").rstrip(".")


async def search(request: web.Request) -> web.Response:
    cid = channel_id(request)
    doc = await read(request, "HeatMapSearchDescription")
    kind, day, model = search_query(doc, "HeatMapSearchDescription")
    report = await count(request, cid, kind, day, model)
    isapi_kind = {v: k for k, v in ISAPI_REPORT_TYPES.items()}[kind]
    isapi_model = {v: k for k, v in ISAPI_MODELS.items()}[model]
    return document(request, "HeatMapSearchResult", {
        "searchID": text(doc, "searchID", "HeatMapSearchDescription", "") or f"ch{cid}-{kind}-{day}",
        "responseStatus": True, "responseStatusStrg": "OK",
        "channelID": cid, "reportType": isapi_kind, "statisticalModel": isapi_model,
        "timeSpan": {"startTime": report["period"]["start"], "endTime": report["period"]["end"]},
        "channelName": report["details"]["channel_name"],
        "HeatMapBucketList": {"HeatMapBucket": [
            {"startTime": b["start"], "endTime": b["end"], "hasData": b["has_data"],
             "visits": b["visits"] if b["has_data"] else 0,
             "dwellSeconds": b["dwell_seconds"] if b["has_data"] else 0}
            for b in report["buckets"]]},
        "totalVisits": report["totals"]["visits"], "totalDwellSeconds": report["totals"]["dwell_seconds"],
        "analysedSeconds": report["totals"]["analysed_seconds"],
        "HeatMapAreaList": {"HeatMapArea": [
            {"id": a["area"], "visits": a["visits"], "dwellSeconds": a["dwell_seconds"]}
            for a in report["details"]["areas"]]},
        "HeatMapMatrix": _matrix(report, model),
    })


async def picture_info(request: web.Request) -> web.Response:
    cid = channel_id(request)
    doc = await read(request, "HeatMapSearchDescription")
    kind, day, model = search_query(doc, "HeatMapSearchDescription")
    report = await count(request, cid, kind, day, model)
    m = _matrix(report, model)
    return document(request, "HeatMapPictureInfo", {k: m[k] for k in ("rows", "columns", "unit", "maxValue",
                                                                        "minValue")})


async def heat_map_picture(request: web.Request) -> web.Response:
    return await _report_file(request, "png")


async def export(request: web.Request) -> web.Response:
    return await _report_file(request, request.query.get("fileType", "xlsx"))


async def _report_file(request: web.Request, kind: str) -> web.Response:
    cid = channel_id(request)
    report_type, day, model = query_from_url(request)
    if kind not in ("xlsx", "png"):
        raise BadRequest(f"fileType {kind[:10]!r} is not xlsx or png", sub="badParameters")
    try:
        f = await call(service_of(request).report_file, cid, report_type, day, model, kind)
    except NoSuchChannel:
        raise
    except ServiceError as e:
        raise BadRequest(str(e), http=404, code=INVALID_OPERATION, sub="noData") from None
    disposition = "inline" if kind == "png" and request.path.endswith("/picture") else "attachment"
    return web.Response(body=f.data, content_type=f.content_type,
                        headers={"Content-Disposition": f'{disposition}; filename="{f.filename}"',
                                 "Cache-Control": "no-store"})


# --------------------------------------------------------------------------- events


async def triggers(request: web.Request) -> web.Response:
    channels = await call(service_of(request).channels)
    notify = {"EventTriggerNotificationList": {"EventTriggerNotification": [
        {"id": "center", "notificationMethod": "center", "notificationRecurrence": "beginning"}]}}
    items = [{"id": f"{kind.value}-{c.id}", "eventType": kind.value, "videoInputChannelID": c.id, **notify}
             for c in channels for kind in (EventKind.VIDEO_LOSS, EventKind.SCENE_CHANGE)]
    items.append({"id": EventKind.DISK_FULL.value, "eventType": EventKind.DISK_FULL.value, **notify})
    return document(request, "EventTriggerList", {"EventTrigger": items})


# --------------------------------------------------------------------------- helpers


async def read(request: web.Request, root: str) -> dict[str, Any]:
    as_json = request.query.get("format") == "json" or request.content_type == "application/json"
    return parse_body(await request.read(), root, as_json=as_json)


async def save(request: web.Request, cid: int, hm: HeatMapConfig) -> None:
    try:
        await call(service_of(request).save_heat_map, cid, hm)
    except ServiceError as e:
        raise BadRequest(str(e), sub="badParameters") from None


def ok(request: web.Request) -> web.Response:
    return document(request, "ResponseStatus", {"requestURL": request.path, "statusCode": 1,
                                                "statusString": "OK", "subStatusCode": "ok"})


ROUTES = [
    ("GET", "/ISAPI/System/deviceInfo", device_info),
    ("GET", "/ISAPI/System/status", system_status),
    ("GET", "/ISAPI/System/time", system_time),
    ("GET", "/ISAPI/System/Video/inputs/channels", input_channels),
    ("GET", "/ISAPI/Streaming/channels/{stream:[0-9]{3,5}}/picture", picture),
    ("GET", "/ISAPI/System/Video/inputs/channels/{channel}/heatMap/capabilities", capabilities),
    ("GET", "/ISAPI/System/Video/inputs/channels/{channel}/heatMap", get_heat_map),
    ("PUT", "/ISAPI/System/Video/inputs/channels/{channel}/heatMap", put_heat_map),
    ("GET", "/ISAPI/System/Video/inputs/channels/{channel}/heatMap/regions", get_regions),
    ("PUT", "/ISAPI/System/Video/inputs/channels/{channel}/heatMap/regions", put_regions),
    ("GET", "/ISAPI/System/Video/inputs/channels/{channel}/heatMap/regions/{region:[0-9]{1,2}}", get_region),
    ("PUT", "/ISAPI/System/Video/inputs/channels/{channel}/heatMap/regions/{region:[0-9]{1,2}}", put_region),
    ("DELETE", "/ISAPI/System/Video/inputs/channels/{channel}/heatMap/regions/{region:[0-9]{1,2}}",
     delete_region),
    ("POST", "/ISAPI/System/Video/inputs/channels/{channel}/heatMap/search", search),
    ("POST", "/ISAPI/System/Video/inputs/channels/{channel}/heatMap/pictureInfo", picture_info),
    ("GET", "/ISAPI/System/Video/inputs/channels/{channel}/heatMap/picture", heat_map_picture),
    ("GET", "/ISAPI/System/Video/inputs/channels/{channel}/heatMap/export", export),
    ("GET", "/ISAPI/Event/schedules/heatMaps/{schedule}", get_schedule),
    ("PUT", "/ISAPI/Event/schedules/heatMaps/{schedule}", put_schedule),
    ("GET", "/ISAPI/Event/triggers", triggers),
]
