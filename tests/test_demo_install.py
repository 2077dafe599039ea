"""`nvr demo` from a non-editable install in a fresh virtual environment, run outside the sources.

The package is built into a wheel from a copy of the working tree and
installed into a new venv with `pip install --no-deps` (what a user gets from
`pip install nvr-heatmap-*.whl`). Its dependencies (numpy, numba, PyAV...)
are this environment's, reached through a path line in the new venv: a plain
path, so this environment's editable install of the package is not
activated, and the test checks that `firmware` is imported from the new venv.
The demo then runs from an empty folder, where no `data/` is next to anything.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow   # the fast tier (-m 'not slow') leaves it out: see README, Tests

REPO = Path(__file__).resolve().parents[1]
SKIP = shutil.ignore_patterns(".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
                              ".hypothesis", ".benchmarks", "demo-out", "state", "export")


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("install")
    src = tmp / "src"
    shutil.copytree(REPO, src, symlinks=True, ignore=SKIP)
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp / "dist"), str(src)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    (wheel,) = (tmp / "dist").glob("nvr_heatmap-*.whl")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    r = subprocess.run([str(py), "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    where = subprocess.run([str(py), "-c", "import firmware; print(firmware.__file__)"], cwd=tmp,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert Path(where).is_relative_to(venv), f"firmware imported from {where}, not the new venv"
    return venv


def test_nvr_demo_runs_from_an_installed_package_and_says_where_its_outputs_are(installed, tmp_path):
    work = tmp_path / "somewhere"
    work.mkdir()
    # 08:00 is when the demo's schedule arms: skip the night, analyse five minutes.
    r = subprocess.run([str(installed / "bin" / "nvr"), "demo", "--date", "2026-11-23", "--duration", "29100"],
                       cwd=work, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    out = r.stdout
    assert "site-packages/nvr/demo_data/samples/substream/shop_floor.mp4: h264 320x180" in out
    export = work / "demo-out" / "export"
    assert f"demo reports for 2026-11-23 are in {export}" in out
    assert f"its statistics are in {work / 'demo-out' / 'state'}" in out
    names = sorted(p.name for p in export.iterdir())
    assert "heatmap_ch02_daily_2026-11-23_dwell.xlsx" in names and "heatmap_ch02_daily_2026-11-23_dwell.png" in names
    assert len(names) == 8  # four channels, xlsx and png each
