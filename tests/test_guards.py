"""Guards against silently wrong numbers: areas that would count nothing, time counted twice."""
from __future__ import annotations

import copy

import pytest

from firmware.config import ConfigError, parse_config
from firmware.geometry import check_areas
from firmware.store import SqliteStatistics
from tests.test_appliance import channel, nvr, walker_clip, write_config  # noqa: F401 (fixture)

BIG = ((0.1, 0.1), (0.9, 0.1), (0.9, 0.9), (0.1, 0.9))
SMALL = ((0.3, 0.3), (0.5, 0.3), (0.5, 0.5))
CORNER = ((0.5, 0.5), (1.0, 0.5), (1.0, 1.0), (0.5, 1.0))
ELSEWHERE = ((0.92, 0.0), (1.0, 0.0), (1.0, 0.08))


def test_an_area_inside_a_lower_numbered_one_is_refused_naming_both():
    problem, _ = check_areas([BIG, SMALL])
    assert problem == ("area 2 lies inside area 1: where areas overlap the lower-numbered one counts, "
                       "so area 2 would count nothing; draw it elsewhere or delete area 1 first")
    problem, _ = check_areas([((0.1, 0.1), (0.5, 0.1), (0.5, 0.9), (0.1, 0.9)),
                              ((0.5, 0.1), (0.9, 0.1), (0.9, 0.9), (0.5, 0.9)), ((0.3, 0.4), (0.7, 0.4), (0.5, 0.6))])
    assert problem.startswith("area 3 lies inside area 1 and area 2:")


def test_overlaps_are_accepted_with_the_share_that_counts_for_the_other_area():
    assert check_areas([BIG, CORNER]) == (None, ["area 2 overlaps area 1: 64 % of area 2 counts for area 1 only"])
    # Drawn the other way round the small area counts and the big one has a hole: a warning.
    problem, warnings = check_areas([SMALL, BIG])
    assert problem is None and warnings == ["area 2 overlaps area 1: 3 % of area 2 counts for area 1 only"]
    assert check_areas([BIG, ELSEWHERE]) == (None, [])


def test_the_configuration_file_refuses_an_area_that_counts_nothing():
    doc = {"channels": [{"id": 1, "source": "x.mp4",
                         "heat_map": {"regions": [[list(p) for p in BIG], [list(p) for p in SMALL]]}}]}
    with pytest.raises(ConfigError) as err:
        parse_config(doc)
    assert str(err.value).startswith("channels[0].heat_map.regions: area 2 lies inside area 1:")
    ok = copy.deepcopy(doc)
    ok["channels"][0]["heat_map"]["regions"].reverse()
    assert len(parse_config(ok).channel(1).heat_map.regions) == 2


def stored(state) -> tuple[float, int]:
    with SqliteStatistics(state, create=False) as store:
        rows = store.rows(1, 0, 2**40, "hour")
    return sum(r.analysed_seconds for r in rows), sum(r.visits_total for r in rows)


@pytest.mark.slow
def test_a_run_starting_inside_stored_time_warns_and_does_not_count_it_twice(tmp_path, walker_clip):
    cfg = write_config(tmp_path / "nvr.yaml", [channel(1, str(walker_clip))])
    state = tmp_path / "state"

    def run(start: str):
        r = nvr("run", "--config", str(cfg), "--state-dir", str(state), "--speed", "max",
                "--start", start, "--duration", "120")
        assert r.returncode == 0, r.stderr
        return r.stdout

    out = run("2026-11-24T09:00:00")
    assert "warning" not in out
    analysed, visits = stored(state)
    assert 119.0 <= analysed <= 120.5 and visits > 20
    # The same --start again (a restart with a mistyped clock): the two minutes are stored already.
    out = run("2026-11-24T09:00:00")
    assert ("warning: channel 1 'Cam 1': statistics are stored up to 2026-11-24 09:0" in out
            and "after this run's start 2026-11-24 09:00:00; it counts from 2026-11-24 09:0" in out
            and "so no time is counted twice" in out)
    assert stored(state) == (analysed, visits)
    # Continuing where the stored time ends counts again, without a warning.
    out = run("2026-11-24T09:02:00")
    assert "warning" not in out
    again, more = stored(state)
    assert 239.0 <= again <= 241.0 and more > visits
