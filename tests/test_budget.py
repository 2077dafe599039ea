"""Frame budgets: a channel that overruns repeatedly analyses every k-th frame, then recovers."""
from __future__ import annotations

from firmware.budget import (DECODE_WINDOW, DECODES_TO_FOLLOW, MAX_STRIDE, MIN_SHARE, FrameBudget,
                             cpu_per_frame_us, frame_budget_us)


def feed(budget: FrameBudget, frames: int, cost_us: float) -> int:
    """Offer `frames` captured frames; analyse the ones the budget allows at `cost_us`."""
    analysed = 0
    for _ in range(frames):
        if budget.should_analyse():
            budget.record(cost_us)
            analysed += 1
    return analysed


def test_budget_shares_the_cores_between_the_channels_frame_rates():
    assert frame_budget_us([25.0] * 4, 0.5, cores=2) == 10_000.0
    assert frame_budget_us([25.0] * 64, 0.5, cores=2) == 625.0
    assert frame_budget_us([], 0.5, cores=2) == 40_000.0  # nothing analysed yet: one 25 fps channel


def test_a_channel_inside_its_budget_analyses_every_frame():
    b = FrameBudget(1000.0)
    assert feed(b, 500, 400.0) == 500
    s = b.stats()
    assert (s.stride, s.overruns, s.skipped) == (1, 0, 0)
    assert s.median_us == 400.0 and s.p99_us == 400.0


def test_repeated_overruns_degrade_to_every_kth_frame_and_never_beyond_the_cap():
    b = FrameBudget(1000.0)
    feed(b, 3, 1500.0)
    assert b.stride == 2  # three overruns in a row
    feed(b, 40, 2500.0)   # over two budgets: keeps degrading
    assert b.stride == 4
    feed(b, 400, 100_000.0)
    assert b.stride == MAX_STRIDE
    s = b.stats()
    assert s.skipped > 0 and s.overruns > 0


def test_an_occasional_slow_frame_does_not_degrade():
    b = FrameBudget(1000.0)
    for _ in range(50):
        feed(b, 7, 300.0)
        feed(b, 1, 5000.0)
    assert b.stride == 1
    assert b.overruns == 50


def test_recovers_once_cost_stays_well_inside_the_budget():
    b = FrameBudget(1000.0)
    feed(b, 30, 3000.0)
    assert b.stride >= 2
    degraded = b.stride
    feed(b, degraded * 60, 100.0)
    assert b.stride < degraded
    feed(b, 2000, 100.0)
    assert b.stride == 1


def test_the_budget_follows_the_cpu_decoding_leaves():
    cpu = cpu_per_frame_us([25.0] * 64, cores=2)
    assert cpu == 1250.0
    b = FrameBudget(frame_budget_us([25.0] * 64, 0.5, cores=2), cpu_us=cpu)
    assert b.budget_us == 625.0  # the start-up allotment until decoding is measured
    for _ in range(DECODES_TO_FOLLOW):
        b.record_decode(400.0)
    assert b.budget_us == 850.0  # what decoding leaves, more than the allotment
    for _ in range(DECODE_WINDOW):
        b.record_decode(1000.0)
    assert b.budget_us == 250.0  # decoding got dearer: less is left
    for _ in range(DECODE_WINDOW):
        b.record_decode(5000.0)
    assert b.budget_us == MIN_SHARE * cpu  # decoding alone overloads the cores: the floor
    assert b.stats().budget_us == b.budget_us


def test_frames_that_fit_on_average_do_not_degrade():
    # Three of every eight frames over the budget, the eight well inside it together:
    # the cores keep up, so every frame is analysed.
    b = FrameBudget(1000.0)
    for _ in range(100):
        feed(b, 5, 200.0)
        feed(b, 3, 1200.0)
    assert b.stride == 1 and b.skipped == 0
    assert b.overruns == 300


def test_overload_from_dearer_decoding_engages_and_recovers():
    # The analysis costs the same; decoding takes more of the CPU, then less again.
    b = FrameBudget(500.0, cpu_us=1000.0)

    def frames(n: int, decode_us: float, analysis_us: float) -> None:
        for _ in range(n):
            b.record_decode(decode_us)
            if b.should_analyse():
                b.record(analysis_us)

    frames(200, 300.0, 400.0)    # 700 us left: fits
    assert b.stride == 1 and b.skipped == 0
    frames(200, 800.0, 400.0)    # 200 us left: genuine overload
    assert b.stride >= 2 and b.skipped > 0
    frames(2000, 100.0, 200.0)   # 900 us left, the scene quiet again: back to every frame
    assert b.stride == 1
