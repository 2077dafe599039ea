"""Console fuzzing: no operator input reaches a traceback or a hang.

A real in-process appliance (a channel analysing an encoded clip, statistics
for the day) serves console sessions over a socketpair. The corpus
(tests/fuzz_corpus/console.yaml) walks to every prompt with the answers that
broke it or might (a report dated 9999-12-31 raised OverflowError); hypothesis
walks to the prompts with hostile answers and adds raw bytes. A session
survives when it ends within its time, shows no "Internal error", and nothing
was logged with a traceback; the configuration on disk still loads after it.
"""
from __future__ import annotations

import codecs
import socket
import threading
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from firmware.config import load_config
from tests.fuzzkit import DATE_TEXT, HOSTILE_TEXT, NUMBER_TEXT, count, logged_tracebacks, tally_reporter
from hal.console import SocketPort
from menu.session import serve
from tests.test_menu_session import PASSWORD, appliance, wait_for_report  # noqa: F401 - the fixture, shared

pytestmark = pytest.mark.slow   # the fast tier (-m 'not slow') leaves it out: see README, Tests

CORPUS = Path(__file__).parent / "fuzz_corpus" / "console.yaml"
LOGIN = f"admin\r{PASSWORD}\r".encode()
LOGOUT = b"\x03\r" + b"0\r" * 10 + b"y\r" + b"0\r" * 5
SESSION_LIMIT = 60.0  # wall seconds a whole session may take (exports included)


@pytest.fixture(scope="module", autouse=True)
def statistics_for_the_day(appliance):
    """Counting and Export have something to do: the day's first checkpoint is in."""
    wait_for_report(appliance[0].service(), 3, timeout=30)


report = tally_reporter("console corpus", "console generated")


def session(service, data: bytes, suite: str) -> str:
    """Log in, type `data`, log out and hang up; the transcript. Fails on a traceback or a hang."""
    mine, theirs = socket.socketpair()
    stop = threading.Event()
    t = threading.Thread(target=serve, args=(SocketPort(mine), service, stop), daemon=True)
    out = bytearray()
    with logged_tracebacks() as logged:
        t.start()
        sender = threading.Thread(target=_send, args=(theirs, LOGIN + data + LOGOUT), daemon=True)
        sender.start()
        theirs.settimeout(SESSION_LIMIT)
        started = time.monotonic()
        try:
            while chunk := theirs.recv(65536):
                out += chunk
                if time.monotonic() - started > SESSION_LIMIT:
                    break
        except TimeoutError:
            pass
        finally:
            hung = time.monotonic() - started > SESSION_LIMIT
            stop.set()
            t.join(5)
            theirs.close()
    text = out.decode("utf-8", "replace")
    if hung or t.is_alive():
        count(suite, "hang")
        raise AssertionError(f"the session did not end within {SESSION_LIMIT:g} s:\n{text[-1500:]}")
    if logged.records or "Internal error" in text or "Traceback" in text or "Console fault" in text:
        count(suite, "traceback")
        raise AssertionError(f"{logged.text()}\n{text[-1500:]}")
    count(suite, "survived")
    return text


def _send(sock: socket.socket, data: bytes) -> None:
    try:
        for k in range(0, len(data), 512):  # as a terminal sends: in pieces
            sock.sendall(data[k:k + 512])
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass  # the session ended first (logged out): fine


def check_configuration(appliance) -> None:
    a, path = appliance
    config = load_config(path)  # the console never writes what the firmware refuses
    for ch in config.channels:
        assert a.service().heat_map(ch.id) == ch.heat_map


def corpus() -> list[tuple[str, bytes]]:
    cases = []
    for case in yaml.safe_load(CORPUS.read_text(encoding="utf-8")):
        data = codecs.escape_decode(case["raw"])[0] if "raw" in case else case["input"].encode("utf-8")
        cases.append((case["name"], data))
    return cases


@pytest.mark.parametrize("name,data", corpus(), ids=[n for n, _ in corpus()])
def test_corpus_session(appliance, name, data):
    text = session(appliance[0].service(), data, "console corpus")
    assert "== Main Menu ==" in text  # logged in: the input reached the menus
    check_configuration(appliance)


def test_a_report_date_outside_the_clock_is_refused_in_one_line(appliance):
    text = session(appliance[0].service(), b"2\r1\r3\r2\r9999-12-31\r4\r5\r0\r0\r0\r", "console corpus")
    assert "No report: date 9999-12-31 is outside the appliance clock (1970-01-01 to 9998-12-31)" in text
    assert "Export failed: date 9999-12-31 is outside the appliance clock" in text


# --------------------------------------------------------------------------- generated sessions

def _answer(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass").replace(b"\r", b"").replace(b"\n", b"") + b"\r"


answers = st.one_of(DATE_TEXT, NUMBER_TEXT, HOSTILE_TEXT, st.text(max_size=30),
                    st.sampled_from(["", "0", "1", "2", "3", "9", "on", "off", "y", "n", "50,50", "10,10", "90,10",
                                     "90,90", "2026-11-24", "9999-12-31"])).map(_answer)
raw = st.one_of(st.binary(max_size=16), st.sampled_from([b"\x03", b"\x7f", b"\x1b[A", b"\x1b", b"\r", b"\n",
                                                         b"\r\n", b"\x00", b"\xff", b"x" * 300 + b"\r"]))
# Walks to each prompt; `A` is where a hostile answer goes.
A = None
PATHS = {
    "statistics time": [b"2\r", b"1\r", b"3\r", b"2\r", A, b"4\r", b"5\r", b"0\r", b"0\r", b"0\r"],
    "report type": [b"2\r", b"1\r", b"3\r", b"1\r", A, b"4\r", b"0\r", b"0\r", b"0\r"],
    "model": [b"2\r", b"1\r", b"3\r", b"3\r", A, b"4\r", b"0\r", b"0\r", b"0\r"],
    "camera": [b"2\r", b"1\r", A, b"0\r", b"0\r", b"0\r"],
    "parameter": [b"1\r", b"1\r", b"1\r", b"3\r", A, b"7\r", b"0\r", b"y\r", b"0\r", b"0\r"],
    "enable": [b"1\r", b"1\r", b"3\r", b"1\r", A, b"7\r", b"0\r", b"y\r", b"0\r", b"0\r"],
    "point": [b"1\r", b"1\r", b"1\r", b"2\r", b"1\r", A, A, A, b"\r", b"0\r", b"0\r", b"y\r", b"0\r", b"0\r"],
    "area pick": [b"1\r", b"1\r", b"1\r", b"2\r", b"3\r", A, b"0\r", b"0\r", b"y\r", b"0\r", b"0\r"],
    "discard": [b"1\r", b"1\r", b"1\r", b"4\r", b"99\r", b"0\r", A, b"0\r", b"y\r", b"0\r", b"0\r"],
    "main menu": [A],
    "status": [b"3\r", A, b"0\r"],
}


@st.composite
def sessions(draw):
    data = b""
    for _ in range(draw(st.integers(1, 4))):
        if draw(st.integers(0, 4)) == 0:
            data += b"".join(draw(st.lists(raw, max_size=8)))
            continue
        for step in PATHS[draw(st.sampled_from(sorted(PATHS)))]:
            data += draw(answers) if step is A else step
    return data


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(sessions())
def test_generated_session(appliance, data):
    session(appliance[0].service(), data, "console generated")
    check_configuration(appliance)
