"""The ISAPI API on a real appliance over loopback, driven by real client libraries from PyPI.

`hikvisionapi` (tries Basic, falls back to Digest, parses with xmltodict),
`requests`' HTTPDigestAuth (MD5) and `httpx`'s DigestAuth (SHA-256) talk to
the appliance's web server while its channels decode real clips.
"""
from __future__ import annotations

import datetime as dt
import re
import socket
import threading
import time

import httpx
import pytest
import requests
import xmltodict
import yaml
from hikvisionapi import Client
from requests.auth import HTTPBasicAuth, HTTPDigestAuth

from firmware.auth import Accounts
from firmware.events import Event, EventKind
from tests.webapp import DAY, PASSWORD, read_alerts, running
from web.server import NONCES

pytestmark = pytest.mark.slow   # boots a real appliance; the fast tier (-m 'not slow') leaves it out

NS = "http://www.hikvision.com/ver20/XMLSchema"
HEAT = "/ISAPI/System/Video/inputs/channels/{ch}/heatMap"


@pytest.fixture(scope="module")
def nvr(tmp_path_factory):
    with running(tmp_path_factory.mktemp("isapi"), heartbeat=0.5) as a:
        yield a


@pytest.fixture
def api(nvr):
    s = requests.Session()
    s.auth = HTTPDigestAuth("admin", PASSWORD)
    yield s
    s.close()


def xml(doc: dict) -> str:
    root = next(iter(doc))
    return xmltodict.unparse({root: {"@xmlns": NS, **doc[root]}})


def status_of(response) -> dict:
    return xmltodict.parse(response.text)["ResponseStatus"]


def config_bytes(nvr) -> bytes:
    return nvr.config_path.read_bytes()


# --------------------------------------------------------------------------- a real ISAPI client


def test_hikvisionapi_configures_and_searches_the_appliance(nvr):
    client = Client(nvr.url, "admin", PASSWORD)  # Basic first: refused, then Digest
    info = client.System.deviceInfo(method="get")["DeviceInfo"]
    assert info["deviceName"] == "Web NVR" and info["deviceType"] == "NVR"
    assert info["deviceID"] and info["serialNumber"] and info["model"] and info["firmwareVersion"]
    channels = client.System.Video.inputs.channels(method="get")["VideoInputChannelList"]["VideoInputChannel"]
    assert [c["name"] for c in channels] == ["Corridor", "Cuts", "Short", "Entrance"]

    heat = client.System.Video.inputs.channels[2].heatMap
    doc = heat(method="get")
    doc["HeatMap"]["detectionSensitivity"] = "65"
    doc["HeatMap"]["minimumTargetSize"] = "40"
    assert heat(method="put", data=xmltodict.unparse(doc))["ResponseStatus"]["statusCode"] == "1"
    area = {"HeatMapRegion": {"@xmlns": NS, "id": 1, "RegionCoordinatesList": {"RegionCoordinates": [
        {"positionX": 100, "positionY": 900}, {"positionX": 900, "positionY": 900},
        {"positionX": 500, "positionY": 200}]}}}
    assert heat.regions[1](method="put", data=xmltodict.unparse(area))["ResponseStatus"]["statusString"] == "OK"

    saved = yaml.safe_load(config_bytes(nvr))["channels"][1]["heat_map"]
    assert saved["detection_sensitivity"] == 65 and saved["minimum_target_size"] == 40
    # ISAPI's origin is the bottom-left corner, the file's the top-left.
    assert saved["regions"] == [[[0.1, 0.1], [0.9, 0.1], [0.5, 0.8]]]
    running = nvr.appliance.channels[2].config.heat_map
    assert running.detection_sensitivity == 65 and running.regions == (((0.1, 0.1), (0.9, 0.1), (0.5, 0.8)),)

    search = {"HeatMapSearchDescription": {"@xmlns": NS, "searchID": "abc", "reportType": "daily",
                                           "timeSpanList": {"timeSpan": {"startTime": f"{DAY}T00:00:00",
                                                                         "endTime": f"{DAY}T23:59:59"}},
                                           "statisticalModel": "PDC"}}
    result = heat.search(method="post", data=xmltodict.unparse(search))["HeatMapSearchResult"]
    buckets = result["HeatMapBucketList"]["HeatMapBucket"]
    assert len(buckets) == 24 and result["searchID"] == "abc" and result["statisticalModel"] == "PDC"
    assert buckets[10]["hasData"] == "true" and buckets[9]["hasData"] == "false"
    matrix = result["HeatMapMatrix"]
    assert len(matrix["data"].split(",")) == int(matrix["rows"]) * int(matrix["columns"])


def test_digest_with_md5_and_sha256_and_a_wrong_password(nvr):
    r = requests.get(nvr.url + "/ISAPI/System/status", auth=HTTPDigestAuth("admin", PASSWORD))
    assert r.status_code == 200 and xmltodict.parse(r.text)["DeviceStatus"]["deviceUpTime"]
    assert re.search(r'algorithm="?MD5"?,', r.request.headers["Authorization"])
    r = httpx.get(nvr.url + "/ISAPI/System/time", auth=httpx.DigestAuth("admin", PASSWORD))
    assert r.status_code == 200 and re.search(r'algorithm="?SHA-256"?,', r.request.headers["Authorization"])
    assert xmltodict.parse(r.text)["Time"]["localTime"].startswith(DAY)
    r = requests.get(nvr.url + "/ISAPI/System/status", auth=HTTPDigestAuth("admin", "Wrong-2026"))
    assert r.status_code == 401 and status_of(r)["subStatusCode"] == "badAuthorization"
    assert nvr.appliance.accounts.guard._failures == 1
    requests.get(nvr.url + "/ISAPI/System/status", auth=HTTPDigestAuth("admin", PASSWORD))
    assert nvr.appliance.accounts.guard._failures == 0


def test_basic_is_never_accepted_and_gets_a_digest_challenge(nvr):
    r = requests.get(nvr.url + "/ISAPI/System/deviceInfo", auth=HTTPBasicAuth("admin", PASSWORD))
    assert r.status_code == 401
    challenges = r.raw.headers.getlist("WWW-Authenticate")
    assert [re.search(r"algorithm=([\w-]+)", c).group(1) for c in challenges] == ["SHA-256", "MD5"]
    assert all('qop="auth"' in c and c.startswith("Digest ") for c in challenges)
    assert nvr.appliance.accounts.guard._failures == 0  # not counted as a failed login


def test_a_replayed_or_expired_nonce_is_refused(nvr):
    r = requests.get(nvr.url + "/ISAPI/System/time", auth=HTTPDigestAuth("admin", PASSWORD))
    header = r.request.headers["Authorization"]
    replay = requests.get(nvr.url + "/ISAPI/System/time", headers={"Authorization": header})
    assert replay.status_code == 401  # the same nonce count twice
    nonces = nvr.web._app[NONCES]
    lifetime, nonces.lifetime = nonces.lifetime, 0.2
    try:
        auth = HTTPDigestAuth("admin", PASSWORD)
        s = requests.Session()
        s.auth = auth
        assert s.get(nvr.url + "/ISAPI/System/time").status_code == 200
        time.sleep(0.4)
        stale = requests.get(nvr.url + "/ISAPI/System/time",
                             headers={"Authorization": _answer_again(auth, nvr.url + "/ISAPI/System/time")})
        assert stale.status_code == 401 and "stale=true" in stale.headers["WWW-Authenticate"]
    finally:
        nonces.lifetime = lifetime


def _answer_again(auth: HTTPDigestAuth, url: str) -> str:
    """requests' next answer to the challenge it last saw (same nonce, next count)."""
    return auth.build_digest_header("GET", url)


# --------------------------------------------------------------------------- documents round trip


@pytest.mark.parametrize("path, root, edit", [
    (HEAT + "", "HeatMap", lambda d: d.update(sceneChangeLevel="70")),
    (HEAT + "/regions", "HeatMapRegionList", lambda d: d.update(HeatMapRegion=[
        {"id": "1", "RegionCoordinatesList": {"RegionCoordinates": [
            {"positionX": "0", "positionY": "0"}, {"positionX": "1000", "positionY": "0"},
            {"positionX": "1000", "positionY": "500"}, {"positionX": "0", "positionY": "500"}]}}])),
    ("/ISAPI/Event/schedules/heatMaps/heatmap_video{ch}", "Schedule", lambda d: d["TimeBlockList"].update(
        TimeBlock=[{"dayOfWeek": str(k), "TimeRange": {"beginTime": "09:00:00", "endTime": "21:00:00"}}
                   for k in range(1, 6)])),
])
def test_get_change_put_get_round_trips(nvr, api, path, root, edit):
    url = nvr.url + path.format(ch=1)
    doc = xmltodict.parse(api.get(url).text)
    edit(doc[root])
    r = api.put(url, data=xmltodict.unparse(doc))
    assert r.status_code == 200, r.text
    again = xmltodict.parse(api.get(url).text)
    assert again == xmltodict.parse(xmltodict.unparse(doc))
    js = api.get(url, params={"format": "json"}).json()
    assert set(js) == {root}


def test_the_schedule_reaches_the_file_and_json_works_both_ways(nvr, api):
    url = nvr.url + "/ISAPI/Event/schedules/heatMaps/heatmap_video3"
    body = {"Schedule": {"id": "heatmap_video3", "TimeBlockList": {"TimeBlock": [
        {"dayOfWeek": 6, "TimeRange": {"beginTime": "10:00:00", "endTime": "16:30:00"}},
        {"dayOfWeek": 7, "TimeRange": {"beginTime": "10:00:00", "endTime": "16:30:00"}}]}}}
    r = api.put(url, params={"format": "json"}, json=body)
    assert r.status_code == 200 and r.json()["statusCode"] == 1
    saved = yaml.safe_load(config_bytes(nvr))["channels"][2]["heat_map"]["schedule"]
    assert saved == [{"days": ["sat", "sun"], "time": "10:00-16:30"}]


def test_capabilities_state_the_limits(nvr, api):
    cap = xmltodict.parse(api.get(nvr.url + HEAT.format(ch=1) + "/capabilities").text)["HeatMapCap"]
    assert cap["detectionSensitivity"] == {"@min": "0", "@max": "100", "@def": "50"}
    region = cap["HeatMapRegionCap"]
    assert (region["maxRegionNum"], region["minPointNum"], region["maxPointNum"]) == ("8", "3", "10")
    assert region["normalizedScreenSize"] == {"normalizedScreenWidth": "1000", "normalizedScreenHeight": "1000"}
    assert cap["reportType"]["@opt"] == "daily,weekly,monthly,yearly"
    assert cap["statisticalModel"]["@opt"] == "duration,PDC"


# --------------------------------------------------------------------------- reports


def test_a_search_right_after_enabling_counts_what_was_just_analysed(nvr, api):
    # Checkpoints come every 60 s: only a hand-over at the request can put the
    # running hour in a report asked for a second after enabling.
    url = nvr.url + HEAT.format(ch=4)
    doc = xmltodict.parse(api.get(url).text)
    doc["HeatMap"]["enabled"] = "true"
    assert api.put(url, data=xmltodict.unparse(doc)).status_code == 200
    time.sleep(1.0)
    body = xml({"HeatMapSearchDescription": {"reportType": "daily", "statisticalModel": "duration",
                                             "timeSpanList": {"timeSpan": {"startTime": f"{DAY}T08:00:00"}}}})
    first = api.post(url + "/search", data=body)
    assert first.status_code == 200, first.text
    time.sleep(1.0)
    second = xmltodict.parse(api.post(url + "/search", data=body).text)["HeatMapSearchResult"]
    first = xmltodict.parse(first.text)["HeatMapSearchResult"]
    assert first["HeatMapBucketList"]["HeatMapBucket"][10]["hasData"] == "true"
    assert float(second["analysedSeconds"]) > float(first["analysedSeconds"]) > 0


def test_picture_info_picture_and_export(nvr, api):
    url = nvr.url + HEAT.format(ch=1)
    body = xml({"HeatMapSearchDescription": {"reportType": "daily", "statisticalModel": "PDC",
                                             "timeSpanList": {"timeSpan": {"startTime": f"{DAY}T00:00:00"}}}})
    info = xmltodict.parse(api.post(url + "/pictureInfo", data=body).text)["HeatMapPictureInfo"]
    assert int(info["maxValue"]) >= int(info["minValue"]) >= 0 and info["unit"] == "visits"
    png = api.get(url + "/picture", params={"reportType": "daily", "date": DAY, "statisticalModel": "PDC"})
    assert png.status_code == 200 and png.headers["Content-Type"] == "image/png" and png.content[:4] == b"\x89PNG"
    xlsx = api.get(url + "/export", params={"reportType": "weekly", "date": DAY, "statisticalModel": "duration"})
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    assert 'filename="heatmap_ch01_weekly_2026-11-23_dwell.xlsx"' in xlsx.headers["Content-Disposition"]
    import io

    import openpyxl
    assert openpyxl.load_workbook(io.BytesIO(xlsx.content)).sheetnames


def test_a_period_without_statistics_is_a_404_saying_so(nvr, api):
    body = xml({"HeatMapSearchDescription": {"reportType": "daily", "statisticalModel": "PDC",
                                             "timeSpanList": {"timeSpan": {"startTime": "2025-01-01T00:00:00"}}}})
    r = api.post(nvr.url + HEAT.format(ch=1) + "/search", data=body)
    assert r.status_code == 404 and status_of(r)["subStatusCode"] == "noData"
    assert "no" in status_of(r)["errorMsg"]


def test_the_live_view_is_a_jpeg_of_the_channel(nvr, api):
    r = api.get(nvr.url + "/ISAPI/Streaming/channels/101/picture")
    assert r.status_code == 200 and r.content[:2] == b"\xff\xd8"
    from PIL import Image
    import io
    assert Image.open(io.BytesIO(r.content)).size == (640, 360)
    assert api.get(nvr.url + "/ISAPI/Streaming/channels/9901/picture").status_code == 404


# --------------------------------------------------------------------------- events


def test_triggers_list_each_event_per_channel(nvr, api):
    doc = xmltodict.parse(api.get(nvr.url + "/ISAPI/Event/triggers").text)["EventTriggerList"]["EventTrigger"]
    kinds = {(t["eventType"], t.get("videoInputChannelID")) for t in doc}
    assert {("videoloss", "3"), ("scenechangedetection", "1"), ("diskfull", None)} <= kinds
    assert all(t["EventTriggerNotificationList"]["EventTriggerNotification"]["notificationMethod"] == "center"
               for t in doc)


def test_the_alert_stream_sends_video_loss_both_ways_and_heartbeats(nvr):
    def seen(alerts):
        states = {a["eventState"] for a in alerts if a["eventType"] == "videoloss" and a["channelID"] == "3"}
        beats = [a for a in alerts if a["channelID"] == "0"]
        return states == {"active", "inactive"} and beats
    alerts = read_alerts(nvr.url, seen, timeout=30)
    assert seen(alerts), alerts
    beat = next(a for a in alerts if a["channelID"] == "0")
    assert beat["eventType"] == "videoloss" and beat["eventState"] == "inactive"


def test_the_alert_stream_announces_scene_changes(nvr):
    alerts = read_alerts(nvr.url, lambda a: any(x["eventType"] == "scenechangedetection" for x in a), timeout=40)
    change = next(a for a in alerts if a["eventType"] == "scenechangedetection")
    assert change["channelID"] == "2" and change["eventState"] == "active"


def test_a_subscriber_that_never_reads_does_not_hold_the_appliance(nvr):
    login = requests.post(nvr.url + "/api/login", json={"user": "admin", "password": PASSWORD})
    cookie = login.cookies["nvr_session"]
    sockets = []
    try:
        for _ in range(3):  # subscribers that never read: their sockets fill up
            s = socket.create_connection(("127.0.0.1", nvr.web.port))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.sendall(f"GET /ISAPI/Event/notification/alertStream HTTP/1.1\r\nHost: nvr\r\n"
                      f"Cookie: nvr_session={cookie}\r\n\r\n".encode())
            sockets.append(s)
        time.sleep(0.5)
        before = nvr.appliance.channels[1].counters.frames
        t0 = time.monotonic()
        for _ in range(3000):
            nvr.appliance.events.publish(Event(EventKind.SCENE_CHANGE, 1, True, dt.datetime(2026, 11, 24), "x" * 200))
        assert time.monotonic() - t0 < 1.0  # publishing never waits for a reader
        time.sleep(2.0)
        assert nvr.appliance.channels[1].counters.frames > before + 25  # still decoding and analysing
        r = requests.get(nvr.url + "/ISAPI/System/time", auth=HTTPDigestAuth("admin", PASSWORD), timeout=5)
        assert r.status_code == 200  # and the server still answers the others
    finally:
        for s in sockets:
            s.close()


# --------------------------------------------------------------------------- bad input never changes anything


BAD = [
    ("PUT", HEAT.format(ch=1), b"<HeatMap><enabled>true</enabled>", 400, "badXmlFormat"),
    ("PUT", HEAT.format(ch=1), b"<HeatMap xmlns='http://example.com/other'><enabled>true</enabled></HeatMap>",
     400, "badXmlContent"),
    ("PUT", HEAT.format(ch=1), b"<HeatMapRegionList xmlns='" + NS.encode() + b"'/>", 400, "badXmlContent"),
    ("PUT", HEAT.format(ch=1), b"<HeatMap><detectionSensitivity>101</detectionSensitivity></HeatMap>", 400,
     "badParameters"),
    ("PUT", HEAT.format(ch=1), b"<HeatMap><enabled>maybe</enabled></HeatMap>", 400, "badParameters"),
    ("PUT", HEAT.format(ch=99), b"<HeatMap><enabled>true</enabled></HeatMap>", 404, "invalidID"),
    ("PUT", HEAT.format(ch=1) + "/regions/1", b"<HeatMapRegion><RegionCoordinatesList>"
     + b"".join(b"<RegionCoordinates><positionX>%d</positionX><positionY>%d</positionY></RegionCoordinates>" % p
                for p in [(0, 0), (1000, 1000), (1000, 0), (0, 1000)])
     + b"</RegionCoordinatesList></HeatMapRegion>", 400, "badParameters"),
    ("PUT", HEAT.format(ch=1) + "/regions/7", b"<HeatMapRegion/>", 404, "invalidID"),
    ("PUT", HEAT.format(ch=1),
     b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><HeatMap><enabled>&lol;</enabled></HeatMap>',
     400, "badXmlFormat"),
    ("PUT", "/ISAPI/Event/schedules/heatMaps/heatmap_video1",
     b"<Schedule><TimeBlockList><TimeBlock><dayOfWeek>8</dayOfWeek><TimeRange><beginTime>09:00:00</beginTime>"
     b"<endTime>10:00:00</endTime></TimeRange></TimeBlock></TimeBlockList></Schedule>", 400, "badParameters"),
    ("PUT", "/ISAPI/Event/schedules/heatMaps/heatmap_video1", b"<Schedule><TimeBlockList/></Schedule>", 400,
     "badParameters"),
    ("POST", HEAT.format(ch=1) + "/search", b"<HeatMapSearchDescription><reportType>hourly</reportType>"
     b"</HeatMapSearchDescription>", 400, "badParameters"),
    ("DELETE", HEAT.format(ch=1), b"", 405, "methodNotAllowed"),
    ("GET", "/ISAPI/System/nothing", b"", 404, "notSupport"),
]


@pytest.mark.parametrize("method, path, body, http, sub", BAD)
def test_bad_requests_get_a_response_status_and_change_nothing(nvr, api, method, path, body, http, sub):
    before = config_bytes(nvr)
    r = api.request(method, nvr.url + path, data=body)
    assert r.status_code == http, r.text
    status = status_of(r)
    assert status["subStatusCode"] == sub and status["statusCode"] in "3456" and status["statusString"]
    assert "\n" not in status.get("errorMsg", "") and "Traceback" not in r.text
    assert config_bytes(nvr) == before


def test_a_body_over_one_megabyte_is_refused(nvr, api):
    before = config_bytes(nvr)
    r = api.put(nvr.url + HEAT.format(ch=1), data=b"<HeatMap>" + b" " * (1024 * 1024 + 10) + b"</HeatMap>")
    assert r.status_code == 413 and status_of(r)["subStatusCode"] == "badParameters"
    assert config_bytes(nvr) == before


def test_json_refusals_are_flat_response_statuses(nvr, api):
    r = api.put(nvr.url + HEAT.format(ch=1), params={"format": "json"}, data=b"{not json")
    assert r.status_code == 400
    assert r.json()["subStatusCode"] == "badJsonFormat" and r.json()["statusCode"] == 5


# --------------------------------------------------------------------------- accounts


def test_before_activation_the_api_answers_not_activated(tmp_path):
    with running(tmp_path, activated=False) as nvr:
        r = requests.get(nvr.url + "/ISAPI/System/deviceInfo", auth=HTTPDigestAuth("admin", PASSWORD))
        assert r.status_code == 401 and status_of(r)["subStatusCode"] == "notActivated"
        weak = requests.post(nvr.url + "/api/activate", json={"password": "password", "confirm": "password"})
        assert weak.status_code == 400 and "two kinds" in weak.json()["error"]
        ok = requests.post(nvr.url + "/api/activate", json={"password": PASSWORD, "confirm": PASSWORD})
        assert ok.status_code == 200
        assert requests.get(nvr.url + "/ISAPI/System/deviceInfo",
                            auth=HTTPDigestAuth("admin", PASSWORD)).status_code == 200


@pytest.mark.slow
def test_five_failures_across_console_and_api_lock_every_way_in_across_a_restart(tmp_path):
    from hal.console import SocketPort
    from menu.session import serve

    with running(tmp_path) as nvr:
        for k in range(3):
            r = requests.get(nvr.url + "/ISAPI/System/time", auth=HTTPDigestAuth("admin", f"Wrong-{k}"))
            assert r.status_code == 401
        # Two more on the real console (a socket pair: the console's own transport).
        mine, theirs = socket.socketpair()
        stop = threading.Event()
        t = threading.Thread(target=serve, args=(SocketPort(mine), nvr.service, stop), daemon=True)
        t.start()
        theirs.sendall(b"admin\rWrong-3\radmin\rWrong-4\r")
        theirs.settimeout(20)
        text = b""
        while b"Console locked for" not in text:
            text += theirs.recv(4096)
        stop.set()
        theirs.close()
        t.join(5)
        r = requests.get(nvr.url + "/ISAPI/System/time", auth=HTTPDigestAuth("admin", PASSWORD))
        assert r.status_code == 401 and status_of(r)["subStatusCode"] == "userLocked"
        assert 50 <= int(r.headers["Retry-After"]) <= 60
        page = requests.post(nvr.url + "/api/login", json={"user": "admin", "password": PASSWORD})
        assert page.status_code == 403 and "try again in" in page.json()["error"]
    # A restart does not lift the lock.
    assert 50 <= Accounts(tmp_path / "state").guard.locked_for() <= 60
    with running(tmp_path) as nvr:
        r = requests.get(nvr.url + "/ISAPI/System/time", auth=HTTPDigestAuth("admin", PASSWORD))
        assert r.status_code == 401 and status_of(r)["subStatusCode"] == "userLocked"
