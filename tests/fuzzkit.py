"""What the fuzz suites share: a hang guard, a traceback detector, hostile values, and the tally.

A case *survives* when it ends within its time with the product's own answer:
accepted, or refused with one line (an `error:` line, a `ConfigError`, a
console "Refused:"), and nothing anywhere printed or logged a traceback.
Anything else fails the test that ran it. Each suite counts its cases in
`TALLY`; `tests/test_fuzz_*.py` print the counts when they finish, which is
where the numbers in docs/reliability.md come from.
"""
from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections import Counter

import pytest
from hypothesis import strategies as st

TALLY: dict[str, Counter] = {}


def count(suite: str, outcome: str) -> None:
    TALLY.setdefault(suite, Counter())[outcome] += 1


def summary(suite: str) -> str:
    c = TALLY.get(suite, Counter())
    tried = sum(c.values())
    failed = c["traceback"] + c["hang"]
    detail = ", ".join(f"{k} {v}" for k, v in sorted(c.items()))
    return f"fuzz {suite}: {tried} cases tried, {tried - failed} survived ({detail})"


def tally_reporter(*suites: str):
    """A module fixture that prints the suites' counts when the module's tests are done
    (shown with `pytest -s`)."""
    @pytest.fixture(scope="module", autouse=True)
    def report(request):
        yield
        tr = request.config.pluginmanager.getplugin("terminalreporter")
        for suite in suites:
            if tr is not None and suite in TALLY:
                tr.write_line(summary(suite))
    return report


class Hang(BaseException):
    """Raised by `guard` in the main thread when a case takes longer than it may."""


@contextlib.contextmanager
def guard(seconds: float):
    """Raise Hang if the block runs longer than `seconds` (SIGALRM: main thread only).

    A signal interrupts blocking system calls too (a FIFO open, a read), so a
    case that would hang forever ends here as a failure instead."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def fire(_sig, _frame):
        raise Hang(f"still running after {seconds:g} s")

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


class Tracebacks(logging.Handler):
    """Collects every log record that carries a traceback (log.exception and friends)."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info or record.exc_text or "Traceback (most recent call last)" in str(record.msg):
            self.records.append(record)

    def text(self) -> str:
        fmt = logging.Formatter()
        return "\n".join(fmt.format(r) for r in self.records)


@contextlib.contextmanager
def logged_tracebacks():
    handler = Tracebacks()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


# --------------------------------------------------------------------------- hostile values

NUMBER_TEXT = st.sampled_from([
    "nan", "NaN", "-nan", "inf", "-inf", "Infinity", "1e309", "-1e309", "1e-320", "-0", "0", "-1", "1", "2",
    "0.5", "1e12", "253370764800", "99999999999999999999", "9" * 4301, "0x10", "0b11", "1_000", "1,000",
    " 7 ", "7 ", "", " ", "٣", "²", "１２", "1.7976931348623157e308", "2147483648", "-2147483649",
    "100000000", "3600.0001", "1e6", "0.0001", "+5", "5.", ".5", "1/2", "0o17", "∞", "None", "null",
])
DATE_TEXT = st.sampled_from([
    "9999-12-31", "9998-12-31", "0001-01-01", "0000-01-01", "1969-12-31", "1970-01-01", "2026-02-29",
    "2024-02-29", "2026-11-24", "2026-13-01", "2026-11-31", "26-11-24", "2026/11/24", "20261124",
    "9999-12-31T23:59:59", "9998-12-31T23:59:59", "1970-01-01T00:00:00", "2026-11-24T08:00:00+14:00",
    "2026-11-24T08:00:00-12:00", "2026-11-24T24:00", "2026-11-24T08:00:00.999999", "2026-W48-2", "today",
    "", " ", "2026-11-24\x00", "２０２６-１１-２４", "1900-01-01", "9999-12-31T23:59:59.999999+00:00",
])
HOSTILE_TEXT = st.sampled_from([
    "", " ", "\x00", "\x1b[2J\x1b[H", "\x1b]0;pwned\x07", "\r\n", "\t", "\x7f" * 3, "\udc80", "\ud800x",
    "a" * 300, "x" * 5000, "../../etc/passwd", "/dev/zero", "/dev/urandom", "-", "--", "-h", "--help",
    "%s%s%s", "{0}", "${HOME}", "$(reboot)", "`id`", "'; DROP TABLE hours; --", "\u202e", "e\u0301" * 20,
    "\U0001F4F9", "NUL", "CON", "nan,nan", "1e999,5", "-0,-0", "50,50", "101,0", "0,101", "², ³",
])


def text_or_number():
    return st.one_of(NUMBER_TEXT, DATE_TEXT, HOSTILE_TEXT, st.text(max_size=30),
                     st.integers(-10**25, 10**25).map(str), st.floats().map(repr))
