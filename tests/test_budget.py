"""Frame budgets: a channel that overruns repeatedly analyses every k-th frame, then recovers."""
from __future__ import annotations

from firmware.budget import MAX_STRIDE, FrameBudget, frame_budget_us


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
