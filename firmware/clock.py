"""The appliance clock: a local wall clock without time zone, like a DVR's.

Times are POSIX-style seconds counted on that clock (naive local time read as
if it were UTC), so hours and days bucket by plain integer arithmetic and a
report for "2026-11-24" means that calendar day on the appliance's clock,
whatever the host's time zone. There is no daylight-saving jump.
"""
from __future__ import annotations

import calendar
from datetime import datetime, timedelta

HOUR = 3600
_EPOCH = datetime(1970, 1, 1)
DAY = 86400


class ClockError(ValueError):
    pass


def parse_start(text: str | None) -> float:
    """`--start` value (ISO 8601; an offset is dropped: the clock shows local time) or now."""
    if text is None:
        return to_clock(datetime.now())
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ClockError(f"--start: {text!r} is not an ISO 8601 time such as 2026-11-24T08:00") from None
    return to_clock(when.replace(tzinfo=None))


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
