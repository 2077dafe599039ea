"""The machine's overrun floor: fixed work timed like frames, counted against a budget."""
import pytest

from firmware.bench.machine import iterations_for, overrun_floor


def test_chunks_cost_what_was_asked():
    f = overrun_floor(chunk_us=300.0, budget_us=1e9, cpu_share=0.5, seconds=0.5, threads=1)
    assert f.chunks > 100
    # Calibrated to the asked cost (a loaded CI machine may stretch it, never halve it).
    assert 200.0 <= f.median_us <= 900.0, f
    assert f.over_budget == 0 and f.rate == 0.0
    # Idling between chunks keeps the thread about as busy as asked.
    assert 0.2 <= f.cpu_share <= 0.6, f


def test_counts_chunks_over_the_budget():
    f = overrun_floor(chunk_us=200.0, budget_us=100.0, cpu_share=1.0, seconds=0.3, threads=2)
    assert f.over_budget == f.chunks > 0 and f.rate == 1.0
    assert f.max_us >= f.p99_us >= f.median_us > 100.0


def test_iterations_scale_with_the_cost():
    a, b = iterations_for(100.0), iterations_for(1000.0)
    assert 5 <= b / a <= 20


@pytest.mark.parametrize("kwargs", [dict(chunk_us=0.0), dict(seconds=0.0)])
def test_rejects_empty_measurements(kwargs):
    args = dict(chunk_us=100.0, budget_us=100.0, cpu_share=0.5, seconds=0.1) | kwargs
    with pytest.raises(ValueError):
        overrun_floor(**args)
