"""The architecture's one-way layers, checked by import-linter (`.importlinter`)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("nvr", "web", "menu", "firmware", "hal", "vca")
LINT = Path(sys.executable).with_name("lint-imports")


def lint(tree: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run([str(LINT), "--no-cache"], cwd=tree, env=env, capture_output=True, text=True,
                          timeout=120)


def test_the_tree_keeps_every_contract():
    done = lint(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def copy_tree(tmp: Path) -> Path:
    for name in PACKAGES:
        shutil.copytree(ROOT / name, tmp / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / ".importlinter", tmp / ".importlinter")
    return tmp


def add_import(path: Path, line: str) -> None:
    text = path.read_text()
    head, _, rest = text.partition("from __future__ import annotations\n")
    path.write_text(head + "from __future__ import annotations\n" + line + "\n" + rest)


def test_the_firmware_importing_a_front_end_breaks_the_layers(tmp_path):
    tree = copy_tree(tmp_path)
    add_import(tree / "firmware" / "appliance.py", "import menu.session  # noqa")
    done = lint(tree)
    assert done.returncode != 0
    assert "One-way layers" in done.stdout and "BROKEN" in done.stdout
    assert "firmware.appliance -> menu.session" in done.stdout


def test_a_front_end_reaching_past_the_service_breaks_its_contract(tmp_path):
    tree = copy_tree(tmp_path)
    add_import(tree / "menu" / "screens.py", "import firmware.store  # noqa")
    done = lint(tree)
    assert done.returncode != 0
    assert "Front ends import from the firmware only its service interface BROKEN" in done.stdout


def test_the_analytics_doing_io_breaks_their_contract(tmp_path):
    tree = copy_tree(tmp_path)
    add_import(tree / "vca" / "grid.py", "import sqlite3  # noqa")
    done = lint(tree)
    assert done.returncode != 0
    assert "The analytics are pure computation" in done.stdout
