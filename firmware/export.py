"""Exporting a report to the export device (the appliance's "USB drive") or given paths.

Every file is written under a temporary name in its target directory, synced,
then renamed into place, so a full drive, a pulled stick or a kill leaves
either the complete file or nothing; a failed write removes its temporary
file. A missing or unwritable device is one `ExportError` line naming the fix.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np

from firmware.atomic import replace_file
from firmware.reports import Report


class ExportError(Exception):
    """The report cannot be written where asked; one line for the user."""


def default_name(report: Report, ext: str) -> str:
    """e.g. ``heatmap_ch01_daily_2026-11-24_dwell.xlsx`` (the period's first day)."""
    return f"heatmap_ch{report.channel:02d}_{report.report_type}_{report.start:%Y-%m-%d}_{report.model}.{ext}"


def check_directory(directory: str | os.PathLike, what: str = "export device") -> Path:
    """The directory, if it exists and can be written to; else ExportError."""
    d = Path(directory)
    if not d.exists():
        fix = "insert it or set appliance.export_device" if what == "export device" else "create it first"
        raise ExportError(f"{what} {d} is not present; {fix}")
    if not d.is_dir():
        raise ExportError(f"{what} {d} is not a directory; choose a directory")
    if not os.access(d, os.W_OK | os.X_OK):
        raise ExportError(f"{what} {d} is not writable; check it is not write-protected")
    return d


def write_atomic(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> Path:
    """Call `write(file)` on a temporary file beside `path`, then rename it to `path`."""
    path = Path(path)
    check_directory(path.parent, "directory")
    try:
        return replace_file(path, write, suffix=".part")
    except OSError as e:
        raise ExportError(f"cannot write {path}: {e.strerror}; check free space on the device") from None


def export_xlsx(report: Report, path: str | os.PathLike, background: np.ndarray | None = None) -> Path:
    """The workbook, with the heat picture (over `background`) on its Summary sheet."""
    from firmware.export_png import workbook_picture
    from firmware.export_xlsx import write_xlsx

    picture = workbook_picture(report, background)
    return write_atomic(path, lambda f: write_xlsx(report, f, picture))


def export_png(report: Report, path: str | os.PathLike, background: np.ndarray | None) -> Path:
    from firmware.export_png import write_png

    return write_atomic(path, lambda f: write_png(report, background, f))


def export_report(report: Report, device: str | os.PathLike | None, background: np.ndarray | None) -> list[Path]:
    """The seed's Export: the xlsx and the png under their default names on the device."""
    if device is None:
        raise ExportError("no export device configured; set appliance.export_device to a directory")
    d = check_directory(device)
    return [
        export_xlsx(report, d / default_name(report, "xlsx"), background),
        export_png(report, d / default_name(report, "png"), background),
    ]
