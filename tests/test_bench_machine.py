"""The machine's overrun floor: fixed work timed like frames, counted against a budget."""
import pytest

from firmware.bench.machine import _Buffers, lines_for, overrun_floor


def test_chunks_cost_what_was_asked():
    f = overrun_floor(chunk_us=300.0, budget_us=1e9, cpu_share=0.5, seconds=0.5, threads=1)
    print(f"machine floor on this machine now: {f}")
    assert f.chunks > 100
    # Calibrated to the asked cost (a loaded CI machine may stretch it, never halve it).
    assert 200.0 <= f.median_us <= 900.0, f
    assert f.over_budget == 0 and f.rate == 0.0
    # Idling between chunks keeps the thread about as busy as asked (0.5), never busier; a
    # loaded machine only lowers it (the thread waits for a core), so the floor is generous.
    assert 0.05 <= f.cpu_share <= 0.6, f


def test_counts_chunks_over_the_budget():
    f = overrun_floor(chunk_us=200.0, budget_us=100.0, cpu_share=1.0, seconds=0.3, threads=2)
    assert f.over_budget == f.chunks > 0 and f.rate == 1.0
    assert f.max_us >= f.p99_us >= f.median_us > 100.0


def test_chunk_length_scales_with_the_cost():
    bufs = _Buffers(4, 1 << 20)
    a, b = lines_for(100.0, bufs), lines_for(1000.0, bufs)
    assert 4 <= b / a <= 25


def test_reads_channel_sized_buffers_in_turn():
    f = overrun_floor(chunk_us=200.0, budget_us=1e9, cpu_share=0.5, seconds=0.3, threads=1,
                      buffers=8, buffer_bytes=2 << 20)
    assert f.chunks > 50 and 100.0 <= f.median_us <= 800.0, f


@pytest.mark.parametrize("kwargs", [dict(chunk_us=0.0), dict(seconds=0.0)])
def test_rejects_empty_measurements(kwargs):
    args = dict(chunk_us=100.0, budget_us=100.0, cpu_share=0.5, seconds=0.1) | kwargs
    with pytest.raises(ValueError):
        overrun_floor(**args)
