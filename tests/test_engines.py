"""The executor seam: the three engines run the same function and hand back the same results and errors."""
from __future__ import annotations

import pytest

from firmware.engines import EngineError, start_engine

pytestmark = pytest.mark.slow   # the fast tier (-m 'not slow') leaves it out: see README, Tests


def double_but_not_three(x: int) -> int:
    if x == 3:
        raise ValueError("three is refused")
    return 2 * x


@pytest.mark.parametrize("kind", ["inline", "processes", "dask"])
def test_every_engine_gives_the_same_results_and_errors(kind):
    engine = start_engine(kind, 2)
    try:
        got = sorted((item, result, None if error is None else f"{type(error).__name__}: {error}")
                     for item, result, error in engine.run(double_but_not_three, range(6), key=lambda x: f"x{x}"))
    finally:
        engine.close()
    assert got == [(0, 0, None), (1, 2, None), (2, 4, None), (3, None, "ValueError: three is refused"),
                   (4, 8, None), (5, 10, None)]
    assert engine.startup_seconds >= 0 and engine.workers == (1 if kind == "inline" else 2)


def test_a_scheduler_nobody_listens_at_is_one_clear_line(monkeypatch):
    monkeypatch.setattr("firmware.engines.CONNECT_TIMEOUT", 2.0)  # a real attempt, a shorter wait
    with pytest.raises(EngineError, match=r"^--scheduler tcp://127.0.0.1:9: cannot connect"):
        start_engine("dask", 2, "tcp://127.0.0.1:9")
    with pytest.raises(EngineError, match="--scheduler needs the dask engine"):
        start_engine("processes", 2, "tcp://127.0.0.1:9")
