"""Making the exported files of a daily report: the heat picture at the demo's and at full-HD
size, and the workbook (picture included), each against PNG-encoding a plain picture of the
same size in the same run (the part no renderer can skip)."""
from __future__ import annotations

import io
import time
from datetime import date

import numpy as np
import pytest
from PIL import Image

from benchmarks.conftest import YEAR
from firmware.export_png import png_bytes, workbook_picture
from firmware.export_xlsx import write_xlsx
from firmware.reports import build_report

SIZES = {"640x360": (360, 640), "1920x1080": (1080, 1920)}


def background(h: int, w: int) -> np.ndarray:
    return (np.add.outer(np.arange(h), np.arange(w)) % 160 + 60).astype(np.uint8)


@pytest.fixture(scope="module")
def daily(year_store):
    store, _ = year_store
    return build_report(store, 1, "daily", date(YEAR, 3, 2), "dwell")


def encode_only(bg: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.repeat(bg[..., None], 3, axis=2), "RGB").save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize("size", SIZES)
def test_heat_picture(benchmark, daily, size):
    bg = background(*SIZES[size])
    data = benchmark(png_bytes, daily, bg)
    assert data[:4] == b"\x89PNG"
    # The same-run ratio, timed plainly so it is printed even with --benchmark-disable.
    t0 = time.perf_counter()
    png_bytes(daily, bg)
    t1 = time.perf_counter()
    encode_only(bg)
    t2 = time.perf_counter()
    print(f"\nheat picture {size}: {1000 * (t1 - t0):.0f} ms, PNG encoding alone {1000 * (t2 - t1):.0f} ms "
          f"({(t1 - t0) / (t2 - t1):.1f}x)")


def test_workbook(benchmark, daily):
    picture = workbook_picture(daily, background(1080, 1920))

    def write() -> int:
        buf = io.BytesIO()
        write_xlsx(daily, buf, picture)
        return len(buf.getvalue())

    size = benchmark(write)
    print(f"\ndaily workbook with its picture: {size / 1024:.0f} KB")
    assert size < 2 * 1024 * 1024
