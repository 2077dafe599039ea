"""The workbook printed as a store manager prints it: LibreOffice converts it to PDF.

Each sheet's pages are counted by their footer (the sheet's name), so a
summary whose values spill onto a second page, a chart cut in half or a grid
printed ten columns a page fails here. Numbers too wide for their column
print as "###", which is checked too.

Needs `soffice` (Debian: libreoffice-calc-nogui) and `pdftotext` (poppler-utils).
Where they are absent the tests skip with that reason, except under
NVR_REQUIRE_LIBREOFFICE=1 (set by .ci/run, which installs them), where
their absence fails.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest

from firmware.clock import to_clock
from firmware.config import load_config
from firmware.export import export_report
from firmware.heat_scale import in_area_cells
from firmware.reports import build_report
from firmware.stats import HourRecord, Layout
from firmware.store import SqliteStatistics
from vca.grid import default_rows

pytestmark = pytest.mark.slow   # the fast tier (-m 'not slow') leaves it out: see README, Tests

REPO = Path(__file__).resolve().parents[1]
DAY = date(2026, 11, 24)
TOOLS = ("soffice", "pdftotext", "pdfimages")


@pytest.fixture(scope="module")
def office():
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        why = f"{', '.join(missing)} not installed (apt-get install libreoffice-calc-nogui poppler-utils)"
        if os.environ.get("NVR_REQUIRE_LIBREOFFICE") == "1":
            pytest.fail(f"NVR_REQUIRE_LIBREOFFICE=1 but {why}")
        pytest.skip(why)


def to_pdf(xlsx: Path, tmp: Path) -> Path:
    """soffice --headless --convert-to pdf, with a profile of its own (parallel runs must not share one)."""
    profile = tmp / "lo-profile"
    r = subprocess.run(["soffice", f"-env:UserInstallation={profile.as_uri()}", "--headless",
                        "--convert-to", "pdf", "--outdir", str(tmp), str(xlsx)],
                       capture_output=True, text=True, timeout=300)
    pdf = tmp / (xlsx.stem + ".pdf")
    assert r.returncode == 0 and pdf.exists(), r.stdout + r.stderr
    return pdf


def pages(pdf: Path) -> list[str]:
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    return text.split("\f")[:-1]


def sheet_pages(texts: list[str]) -> dict[str, int]:
    """Pages per sheet, by the footer's sheet name (the page's last line)."""
    out = {"Summary": 0, "Time heat map": 0, "Space heat map": 0}
    for t in texts:
        footer = [line for line in t.splitlines() if line.strip()][-1]
        (sheet,) = [s for s in out if s in footer]
        out[sheet] += 1
    return out


def demo_layout() -> Layout:
    """Channel 2 of the shipped demo: the 320x180 sub-stream, the default 64-column grid."""
    ch = load_config(REPO / "data" / "demo.yaml").channel(2)
    rows = default_rows(180, 320, 64)
    return Layout(rows, 64, ch.heat_map.regions, (50, 50, 50, 50), 320, 180, 320, 180)


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory):
    """A demo-like day, 08:00-21:00: walkers' lanes of 20-200 s a cell, standers of hours."""
    layout = demo_layout()
    inside = in_area_cells(layout.regions, layout.grid_rows, layout.grid_columns, 180, 320)
    rng = np.random.default_rng(12)
    lanes = np.zeros(inside.shape, bool)
    lanes[rng.choice(np.flatnonzero(inside.any(axis=1)), 6)] = True
    lanes[:, rng.choice(64, 5)] = True
    lanes &= inside
    s = SqliteStatistics(tmp_path_factory.mktemp("demo-state"))
    s.set_channel_name(2, "Shop floor")
    records = []
    for day in (23, 24):
        for h in range(8, 21):
            visits = np.where(lanes, rng.poisson(25, inside.shape), 0).astype(np.int32)
            dwell = visits * rng.gamma(2.0, 0.25, inside.shape)
            ys, xs = np.nonzero(inside)
            for k in rng.choice(len(ys), 4):  # people standing at a shelf
                dwell[ys[k], xs[k]] += rng.uniform(600, 3000)
            records.append(HourRecord(2, int(to_clock(datetime(2026, 11, day, h))), layout, visits, dwell,
                                      np.array([int(visits.sum()) // 3]), np.array([dwell.sum()]),
                                      int(visits.sum()) // 3, float(dwell.sum()), 3600.0, 0))
    s.import_hours(records)
    s.save_background(2, 0.0, (np.add.outer(np.arange(180), np.arange(320)) % 90 + 80).astype(np.uint8))
    yield s
    s.close()


def export_and_print(store, kind: str, model: str, tmp: Path) -> tuple[dict[str, int], list[str], Path]:
    rep = build_report(store, 2, kind, DAY, model)
    xlsx, _png = export_report(rep, tmp, store.background(2)[1])
    pdf = to_pdf(xlsx, tmp)
    texts = pages(pdf)
    return sheet_pages(texts), texts, pdf


def test_a_daily_report_of_the_demo_prints_on_four_pages_with_the_chart_whole(office, demo_store, tmp_path):
    counts, texts, pdf = export_and_print(demo_store, "daily", "dwell", tmp_path)
    assert counts == {"Summary": 1, "Time heat map": 1, "Space heat map": 2}, counts
    assert len(texts) <= 4
    assert not any("###" in t for t in texts), "a number too wide for its column"
    summary, time_page = texts[0], texts[1]
    # The summary table stays together: labels and their values on the same page.
    for label in ("Total visits", "Total dwell time (s)", "Picture colours", "Area 1 dwell time (s)"):
        assert label in summary
    # The whole chart on the time sheet's one page: title, both series, both axes' titles.
    for text in ("visits and dwell time per hour", "Visits", "Dwell time (s)", "Total"):
        assert text in time_page
    # The heat picture is embedded on the summary page, at a readable size.
    images = subprocess.run(["pdfimages", "-list", "-f", "1", "-l", "1", str(pdf)], capture_output=True,
                            text=True, check=True).stdout.splitlines()[2:]
    assert images and max(int(line.split()[3]) for line in images) >= 600


@pytest.mark.parametrize("kind", ["monthly", "annual"])
def test_longer_reports_keep_summary_and_time_sheets_on_one_page_each(office, demo_store, tmp_path, kind):
    counts, texts, _ = export_and_print(demo_store, kind, "people", tmp_path)
    assert counts["Summary"] == 1 and counts["Time heat map"] == 1, counts
    assert counts["Space heat map"] == 2
    assert not any("###" in t for t in texts)
