"""Hostile HTTP against the running appliance: no request reaches a traceback, a hang or the saved file.

Generated requests (methods, paths, queries, headers and bodies from
hypothesis) and a corpus of classic attacks go to the real server on
loopback, authenticated and not. Every answer must be a proper HTTP answer
below 500, the configuration file must not change unless the request was a
valid settings write, and nothing at WARNING or above may carry a traceback.
"""
from __future__ import annotations

import logging
import socket

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from requests.auth import HTTPDigestAuth

from tests.webapp import PASSWORD, running

pytestmark = pytest.mark.slow   # the fast tier (-m 'not slow') leaves it out: see README, Tests

PATHS = ["/", "/static/app.js", "/api/session", "/api/login", "/api/status", "/api/channels/1/heatmap",
         "/api/area-check", "/ISAPI/System/deviceInfo", "/ISAPI/System/Video/inputs/channels",
         "/ISAPI/System/Video/inputs/channels/1/heatMap", "/ISAPI/System/Video/inputs/channels/1/heatMap/regions",
         "/ISAPI/System/Video/inputs/channels/1/heatMap/regions/3",
         "/ISAPI/System/Video/inputs/channels/1/heatMap/search", "/ISAPI/System/Video/inputs/channels/1/heatMap/export",
         "/ISAPI/Event/schedules/heatMaps/heatmap_video1", "/ISAPI/Streaming/channels/101/picture"]
ROOTS = ["HeatMap", "HeatMapRegionList", "HeatMapRegion", "Schedule", "HeatMapSearchDescription"]

CORPUS = [
    ("GET", "/static/../../etc/passwd", b""),
    ("GET", "/static/%2e%2e/%2e%2e/etc/passwd", b""),
    ("GET", "/ISAPI/System/Video/inputs/channels/99999999999999999999/heatMap", b""),
    ("GET", "/ISAPI/System/Video/inputs/channels/-1/heatMap", b""),
    ("GET", "/ISAPI/Streaming/channels/0/picture", b""),
    ("PUT", "/ISAPI/System/Video/inputs/channels/1/heatMap", b"<" * 100000),
    ("PUT", "/ISAPI/System/Video/inputs/channels/1/heatMap", b"<HeatMap>" + b"<a>" * 5000 + b"</a>" * 5000 + b"</HeatMap>"),
    ("PUT", "/ISAPI/System/Video/inputs/channels/1/heatMap?format=json", b"[" * 100000 + b"]" * 100000),
    ("PUT", "/ISAPI/System/Video/inputs/channels/1/heatMap?format=json", b'{"HeatMap": {"detectionSensitivity": 1e999}}'),
    ("PUT", "/ISAPI/System/Video/inputs/channels/1/heatMap", b"<HeatMap><detectionSensitivity>99999999999999999999999</detectionSensitivity></HeatMap>"),
    ("PUT", "/ISAPI/System/Video/inputs/channels/1/heatMap", b"\xff\xfe<\x00H\x00"),
    ("POST", "/ISAPI/System/Video/inputs/channels/1/heatMap/search", b"<HeatMapSearchDescription><reportType>daily</reportType><timeSpanList><timeSpan><startTime>9999-12-31T23:59:59</startTime></timeSpan></timeSpanList></HeatMapSearchDescription>"),
    ("POST", "/ISAPI/System/Video/inputs/channels/1/heatMap/search", b"<HeatMapSearchDescription><reportType>daily</reportType><timeSpanList><timeSpan><startTime>0001-01-01T00:00:00</startTime></timeSpan></timeSpanList></HeatMapSearchDescription>"),
    ("GET", "/ISAPI/System/Video/inputs/channels/1/heatMap/export?reportType=daily&date=99999-01-01", b""),
    ("GET", "/ISAPI/System/Video/inputs/channels/1/heatMap/export?reportType=daily&date=2026-02-30", b""),
    ("GET", "/ISAPI/Event/schedules/heatMaps/heatmap_video" + "9" * 500, b""),
    ("PUT", "/ISAPI/Event/schedules/heatMaps/heatmap_video1", b"<Schedule><TimeBlockList>" + b"<TimeBlock><dayOfWeek>1</dayOfWeek><TimeRange><beginTime>00:00:00</beginTime><endTime>00:01:00</endTime></TimeRange></TimeBlock>" * 9 + b"</TimeBlockList></Schedule>"),
]


@pytest.fixture(scope="module")
def nvr(tmp_path_factory):
    with running(tmp_path_factory.mktemp("fuzz")) as a:
        yield a


@pytest.fixture(scope="module")
def api(nvr):
    s = requests.Session()
    s.auth = HTTPDigestAuth("admin", PASSWORD)
    return s


@pytest.fixture
def tracebacks(caplog):
    caplog.set_level(logging.INFO)
    yield caplog
    bad = [r for r in caplog.records if r.levelno >= logging.WARNING and (r.exc_info or "Traceback" in r.getMessage())]
    assert not bad, [r.getMessage() for r in bad]


def check(response: requests.Response) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:300])
    assert "Traceback" not in response.text and 'File "' not in response.text


@pytest.mark.parametrize("method, path, body", CORPUS)
def test_the_attack_corpus(nvr, api, tracebacks, method, path, body):
    before = nvr.config_path.read_bytes()
    check(api.request(method, nvr.url + path, data=body, timeout=30))
    assert nvr.config_path.read_bytes() == before


def element(draw_text):
    return st.recursive(st.text(max_size=20), lambda children: st.dictionaries(
        st.sampled_from(["enabled", "detectionSensitivity", "id", "RegionCoordinatesList", "RegionCoordinates",
                         "positionX", "positionY", "TimeBlockList", "TimeBlock", "dayOfWeek", "TimeRange",
                         "beginTime", "endTime", "reportType", "timeSpanList", "timeSpan", "startTime",
                         "statisticalModel", "HeatMapRegion"]), children, max_size=4), max_leaves=12)


def to_xml(root: str, value) -> bytes:
    from xml.sax.saxutils import escape

    def inner(v) -> str:
        if isinstance(v, dict):
            return "".join(f"<{k}>{inner(x)}</{k}>" for k, x in v.items())
        return escape(v)
    return f'<{root} xmlns="http://www.hikvision.com/ver20/XMLSchema">{inner(value)}</{root}>'.encode("utf-8", "replace")


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(method=st.sampled_from(["GET", "PUT", "POST", "DELETE", "PATCH"]), path=st.sampled_from(PATHS),
       root=st.sampled_from(ROOTS), doc=element(None), fmt=st.booleans(), raw=st.binary(max_size=300),
       use_raw=st.booleans())
def test_generated_requests(nvr, api, tracebacks, method, path, root, doc, fmt, raw, use_raw):
    body = raw if use_raw else to_xml(root, doc)
    check(api.request(method, nvr.url + path, params={"format": "json"} if fmt else None, data=body, timeout=30))


def test_broken_http_is_answered_or_closed_quietly(nvr, tracebacks):
    for request in [b"GARBAGE\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"GET " + b"/a" * 5000 + b" HTTP/1.1\r\n\r\n",
                    b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-A: b\r\n" * 1000 + b"\r\n",
                    b"PUT /ISAPI/System/Video/inputs/channels/1/heatMap HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
                    b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nzz\r\n"]:
        with socket.create_connection(("127.0.0.1", nvr.web.port), timeout=10) as s:
            s.sendall(request)
            reply = s.recv(65536)
        assert reply == b"" or reply.startswith(b"HTTP/1.")
        assert b"Traceback" not in reply
    assert requests.get(nvr.url + "/api/session", timeout=10).status_code in (200, 401)  # still serving
