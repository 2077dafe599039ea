"""Reports: bucket boundaries, a year of hourly data against plain NumPy sums, layouts, no-data hours."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pytest

from firmware.clock import from_clock, to_clock
from firmware.migrations import DWELL_UNITS
from firmware.reports import ReportError, build_report, period, report_to_json
from firmware.stats import Layout
from firmware.store import SqliteStatistics
from tests.test_store import LAYOUT, hour_record

# From October the installer redrew the areas on a coarser grid.
NEW_LAYOUT = Layout(4, 5, (((0.2, 0.2), (0.8, 0.2), (0.5, 0.9)),), (70, 50, 50, 20), 640, 360, 320, 180)
CHANGE = datetime(2028, 10, 2, 14)
JSON_KEYS = {"channel", "report_type", "model", "period", "grid", "visits", "dwell_seconds", "buckets", "totals",
             "details"}


def closed(day: datetime) -> bool:
    return day.timetuple().tm_yday % 11 == 0  # the shop shut: the channel recorded nothing


@pytest.fixture(scope="module")
def year(tmp_path_factory):
    """2028 (a leap year) of a shop open 09:00-21:00; 21:00 is recorded but disarmed (no data)."""
    rng = np.random.default_rng(2028)
    records = []
    day = datetime(2028, 1, 1)
    while day.year == 2028:
        if not closed(day):
            for h in range(9, 22):
                when = day + timedelta(hours=h)
                layout = NEW_LAYOUT if when >= CHANGE else LAYOUT
                rec = hour_record(7, when, rng, layout=layout, analysed=0.0 if h == 21 else 3600.0,
                                  scale=0.0 if h == 21 else 1.0 + (h % 5) / 4)
                records.append(rec)
        day += timedelta(days=1)
    store = SqliteStatistics(tmp_path_factory.mktemp("year"))
    store.set_channel_name(7, "Checkout")
    store.import_hours(records)
    yield store, records
    store.close()


def stored_dwell(records) -> np.ndarray:
    """Dwell grid as the store keeps it: each record rounded to DWELL_UNITS, then summed."""
    return sum(np.rint(r.dwell * DWELL_UNITS) for r in records) / DWELL_UNITS


def in_span(records, start: datetime, end: datetime):
    t0, t1 = to_clock(start), to_clock(end)
    return [r for r in records if t0 <= r.hour_start < t1]


# --------------------------------------------------------------------------- periods


@pytest.mark.parametrize(
    "kind, day, start, end, n",
    [
        ("daily", date(2026, 11, 24), datetime(2026, 11, 24), datetime(2026, 11, 25), 24),
        ("weekly", date(2026, 11, 29), datetime(2026, 11, 23), datetime(2026, 11, 30), 7),  # a Sunday
        ("weekly", date(2026, 11, 23), datetime(2026, 11, 23), datetime(2026, 11, 30), 7),  # its Monday
        ("weekly", date(2028, 1, 1), datetime(2027, 12, 27), datetime(2028, 1, 3), 7),     # across New Year
        ("monthly", date(2028, 2, 10), datetime(2028, 2, 1), datetime(2028, 3, 1), 29),     # leap February
        ("monthly", date(2026, 2, 28), datetime(2026, 2, 1), datetime(2026, 3, 1), 28),
        ("monthly", date(2026, 1, 31), datetime(2026, 1, 1), datetime(2026, 2, 1), 31),
        ("monthly", date(2026, 4, 30), datetime(2026, 4, 1), datetime(2026, 5, 1), 30),
        ("monthly", date(2026, 12, 31), datetime(2026, 12, 1), datetime(2027, 1, 1), 31),
        ("annual", date(2028, 7, 4), datetime(2028, 1, 1), datetime(2029, 1, 1), 12),
    ],
)
def test_periods_and_buckets_follow_the_selected_date(kind, day, start, end, n):
    s, e, buckets = period(kind, day)
    assert (s, e, len(buckets)) == (start, end, n)
    assert buckets[0][0] == start and buckets[-1][1] == end
    assert all(a[1] == b[0] for a, b in zip(buckets, buckets[1:]))  # contiguous, no gaps
    if kind == "annual":
        assert [b[0].month for b in buckets] == list(range(1, 13))
        assert (buckets[1][1] - buckets[1][0]).days == 29  # February 2028


# --------------------------------------------------------------------------- a year of data


def test_annual_report_matches_plain_sums_of_the_hours(year):
    store, records = year
    rep = build_report(store, 7, "annual", date(2028, 5, 17), "dwell")
    assert rep.channel_name == "Checkout" and rep.layout == NEW_LAYOUT
    for b in rep.buckets:
        month = in_span(records, b.start, b.end)
        assert b.visits == sum(r.visits_total for r in month)
        assert b.dwell_seconds == pytest.approx(sum(r.dwell_total for r in month))
        assert b.hours_with_data == sum(r.analysed_seconds > 0 for r in month)
        assert b.has_data
    # Space heat map: only hours under the layout in force at the end of the year.
    new = [r for r in records if r.layout == NEW_LAYOUT]
    assert np.array_equal(rep.visits, sum(r.visits.astype(np.int64) for r in new))
    assert np.allclose(rep.dwell, stored_dwell(new), rtol=0, atol=1e-9)
    assert np.array_equal(rep.area_visits, sum(r.area_visits for r in new))
    assert rep.excluded_hours == sum(r.layout == LAYOUT and r.analysed_seconds > 0 for r in records)
    # Totals and the time heat map count every hour, whatever its layout.
    assert rep.visits_total == sum(r.visits_total for r in records)
    assert rep.hours_with_data == sum(r.analysed_seconds > 0 for r in records)
    j = report_to_json(rep)
    assert set(j) == JSON_KEYS
    assert j["details"]["excluded_hours"] == rep.excluded_hours > 0


def test_monthly_report_of_leap_february_has_29_days_and_marks_closed_days(year):
    store, records = year
    rep = build_report(store, 7, "monthly", date(2028, 2, 29), "people")
    assert len(rep.buckets) == 29 and rep.layout == LAYOUT
    for b in rep.buckets:
        hours = in_span(records, b.start, b.end)
        assert b.has_data == (not closed(b.start))
        assert b.visits == sum(r.visits_total for r in hours)
    feb = in_span(records, datetime(2028, 2, 1), datetime(2028, 3, 1))
    assert np.array_equal(rep.matrix, sum(r.visits.astype(np.int64) for r in feb))  # people model: visits
    assert rep.excluded_hours == 0


def test_weekly_report_across_new_year_marks_days_before_the_first_record_as_no_data(year):
    store, records = year
    rep = build_report(store, 7, "weekly", date(2028, 1, 2), "dwell")  # Sunday 2 January
    assert rep.start == datetime(2027, 12, 27)
    assert [b.has_data for b in rep.buckets] == [False] * 5 + [True, True]
    j = report_to_json(rep)
    assert j["buckets"][0] == {
        "start": "2027-12-27T00:00:00", "end": "2027-12-28T00:00:00", "visits": None, "dwell_seconds": None,
        "has_data": False, "average_dwell_seconds": None, "hours_with_data": 0,
    }
    days = in_span(records, datetime(2028, 1, 1), datetime(2028, 1, 3))
    assert j["totals"]["visits"] == sum(r.visits_total for r in days)
    assert np.allclose(j["dwell_seconds"], stored_dwell(days), rtol=0, atol=1e-9)


def test_daily_report_of_the_layout_change_day_uses_the_new_grid_and_counts_what_it_left_out(year):
    store, records = year
    rep = build_report(store, 7, "daily", CHANGE.date(), "dwell")
    assert rep.matrix.shape == (4, 5)
    before = in_span(records, CHANGE.replace(hour=0), CHANGE)
    assert rep.excluded_hours == len(before) == 14 - 9
    assert rep.visits_total == sum(r.visits_total for r in in_span(records, CHANGE.replace(hour=0), CHANGE + timedelta(hours=10)))
    assert [b.has_data for b in rep.buckets] == [9 <= h < 21 for h in range(24)]


def test_a_redrawn_hour_belongs_to_the_areas_it_ended_under(tmp_path):
    rng = np.random.default_rng(12)
    day = date(2026, 11, 24)
    with SqliteStatistics(tmp_path) as store:
        # 09:00: the old areas all hour, then the new ones saved a second before 10:00
        # (nothing analysed under them, only the settling scene change).
        store.record(hour_record(5, datetime(2026, 11, 24, 9), rng, analysed=3599.0))
        store.record(hour_record(5, datetime(2026, 11, 24, 9), rng, layout=NEW_LAYOUT, analysed=0.0))
        # 12:00: redrawn and put back within the hour: it ends under the old areas.
        for layout, seconds in ((LAYOUT, 1200.0), (NEW_LAYOUT, 60.0), (LAYOUT, 2340.0)):
            store.record(hour_record(5, datetime(2026, 11, 24, 12), rng, layout=layout, analysed=seconds))
        rep = build_report(store, 5, "daily", day)
        week = build_report(store, 5, "weekly", day)
    for r in (rep, week):
        assert r.layout == LAYOUT and r.hours_with_data == 2 and r.excluded_hours == 0
    assert rep.analysed_seconds == 3599 + 0 + 1200 + 60 + 2340


def test_an_hour_whose_areas_were_redrawn_counts_once_in_every_report(tmp_path):
    rng = np.random.default_rng(11)
    with SqliteStatistics(tmp_path) as store:
        # 10:00-10:20 under the old areas, the rest of the hour and 11:00 under the new ones.
        store.record(hour_record(4, datetime(2026, 11, 24, 10), rng, analysed=1200.0))
        store.record(hour_record(4, datetime(2026, 11, 24, 10), rng, layout=NEW_LAYOUT, analysed=2400.0))
        store.record(hour_record(4, datetime(2026, 11, 24, 11), rng, layout=NEW_LAYOUT))
        reports = [build_report(store, 4, kind, date(2026, 11, 24)) for kind in ("daily", "weekly", "monthly", "annual")]
    for rep in reports:
        assert rep.hours_with_data == 2, rep.report_type
        assert rep.excluded_hours == 0, rep.report_type   # 10:00 ended under the new areas
        assert rep.analysed_seconds == 1200 + 2400 + 3600
    assert [b.hours_with_data for b in reports[0].buckets if b.has_data] == [1, 1]


# --------------------------------------------------------------------------- edge cases


def test_a_clock_started_mid_day_reports_earlier_hours_as_no_data_not_zero(tmp_path):
    rng = np.random.default_rng(5)
    with SqliteStatistics(tmp_path) as store:
        # First boot at 13:20: the first hour holds 40 minutes of analysis.
        store.record(hour_record(2, datetime(2026, 11, 24, 13), rng, analysed=2400.0))
        for h in range(14, 18):
            store.record(hour_record(2, datetime(2026, 11, 24, h), rng))
        rep = build_report(store, 2, "daily", date(2026, 11, 24))
    j = report_to_json(rep)
    flags = [b["has_data"] for b in j["buckets"]]
    assert flags == [13 <= h < 18 for h in range(24)]
    assert all(b["visits"] is None and b["dwell_seconds"] is None for b in j["buckets"] if not b["has_data"])
    assert all(isinstance(b["visits"], int) for b in j["buckets"] if b["has_data"])
    assert j["period"] == {"start": "2026-11-24T00:00:00", "end": "2026-11-25T00:00:00"}
    assert j["grid"] == {"rows": 6, "columns": 8}
    assert np.array(j["visits"]).shape == (6, 8)
    assert j["totals"]["analysed_seconds"] == 2400 + 4 * 3600


def test_unknown_channel_no_data_and_bad_choices_are_report_errors(year):
    store, _ = year
    with pytest.raises(ReportError, match="no channel 3 in the statistics \\(channels: 7\\)"):
        build_report(store, 3, "daily", date(2028, 3, 1))
    with pytest.raises(ReportError, match="pick a date between 2028-01-01 and 2028-12-31"):
        build_report(store, 7, "monthly", date(2027, 11, 3))
    with pytest.raises(ReportError, match="pick a date"):
        build_report(store, 7, "daily", date(2028, 1, 11))  # closed day
    with pytest.raises(ReportError, match="report type 'hourly'"):
        build_report(store, 7, "hourly", date(2028, 3, 1))
    with pytest.raises(ReportError, match="model 'heat'"):
        build_report(store, 7, "daily", date(2028, 3, 1), "heat")


def test_models_choose_the_matrix_and_json_carries_both_grids(year):
    store, _ = year
    dwell = build_report(store, 7, "weekly", date(2028, 6, 7), "dwell")
    people = build_report(store, 7, "weekly", date(2028, 6, 7), "people")
    assert np.array_equal(dwell.matrix, dwell.dwell) and np.array_equal(people.matrix, people.visits)
    jd, jp = report_to_json(dwell), report_to_json(people)
    assert jd["model"] == "dwell" and jp["model"] == "people"
    assert jd["visits"] == jp["visits"] and jd["dwell_seconds"] == jp["dwell_seconds"]
    assert jd["details"]["visits_max"] == int(people.visits.max())
    assert jd["details"]["parameters"] == {
        "detection_sensitivity": 50, "background_update_rate": 60, "scene_change_level": 40, "minimum_target_size": 30,
    }
    assert [a["area"] for a in jd["details"]["areas"]] == [1, 2]
    assert from_clock(to_clock(dwell.start)).weekday() == 0
