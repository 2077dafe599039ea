"""The appliance clock: a local wall clock without time zone, like a DVR's.

Times are POSIX-style seconds counted on that clock (naive local time read as
if it were UTC), so hours and days bucket by plain integer arithmetic and a
report for "2026-11-24" means that calendar day on the appliance's clock,
whatever the host's time zone. There is no daylight-saving jump.
"""
from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta

HOUR = 3600
_EPOCH = datetime(1970, 1, 1)
DAY = 86400

# The clock's range: from the epoch to the end of 9998, so every period a report
# can ask for (an annual report ends on the next 1 January, a weekly one on a
# Monday) and every status line stays within what `datetime` can represent.
FIRST_DAY = date(1970, 1, 1)
LAST_DAY = date(9998, 12, 31)
CLOCK_END = 253370764800.0  # to_clock(9999-01-01): the clock stops before this


class ClockError(ValueError):
    pass


def span_text() -> str:
    return f"{FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()}"


def date_problem(day: date) -> str | None:
    """Why `day` is outside the appliance clock, or None."""
    if FIRST_DAY <= day <= LAST_DAY:
        return None
    return f"{day.isoformat()} is outside the appliance clock ({span_text()})"


def parse_start(text: str | None) -> float:
    """`--start` value (ISO 8601; an offset is dropped: the clock shows local time) or now."""
    if text is None:
        return to_clock(datetime.now())
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ClockError(f"--start: {text[:40]!r} is not an ISO 8601 time such as 2026-11-24T08:00") from None
    problem = date_problem(when.date())
    if problem:
        raise ClockError(f"--start: {problem}")
    return to_clock(when.replace(tzinfo=None))


def check_run(start: float, duration: float | None) -> None:
    """A run from `start` for `duration` appliance seconds must end within the clock."""
    if duration is not None and start + duration >= CLOCK_END:
        raise ClockError(f"--duration: {duration:g} s from {format_clock(start)} runs past "
                         f"{LAST_DAY.isoformat()}, the end of the appliance clock")


def to_clock(when: datetime) -> float:
    return calendar.timegm(when.timetuple()) + when.microsecond / 1e6


def from_clock(t: float) -> datetime:
    return _EPOCH + timedelta(seconds=t)


def hour_start(t: float) -> int:
    return int(t // HOUR) * HOUR


def weekday_minute(t: float) -> tuple[int, int]:
    """(weekday with Monday = 0, minute of the day) on the appliance clock."""
    days, secs = divmod(int(t), DAY)
    return (days + 3) % 7, secs // 60  # 1970-01-01 was a Thursday


def format_clock(t: float) -> str:
    return from_clock(t).strftime("%Y-%m-%d %H:%M:%S")
