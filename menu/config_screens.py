"""Configuration > Heat Map Configuration: the seed's steps 1-6 at the console.

Edits go into a draft of the channel's `HeatMapConfig`; only Save sends it,
through `service.save_heat_map`, which validates, persists and applies.
So the console cannot write a configuration the firmware would refuse.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from firmware.service import (MAX_AREAS, MAX_POINTS, PARAMETER_LABELS, PARAMETER_RANGE, HeatMapConfig,
                              ServiceError)
from menu import render
from menu.forms import Console, Item, Menu, whole_number


@dataclass
class Draft:
    channel_id: int
    name: str
    saved: HeatMapConfig
    edit: HeatMapConfig

    @property
    def changed(self) -> bool:
        return self.edit != self.saved

    def set(self, **changes) -> None:
        self.edit = dataclasses.replace(self.edit, **changes)


def channel_options(console: Console) -> list[tuple[int, str]]:
    out = []
    for s in console.service.channels():
        heat = "heat map on" if s.heat_map_enabled else "heat map off"
        out.append((s.id, f"{s.name} [{s.state.label}, {heat}]"))
    return out


def heat_map_configuration(console: Console, _state=None) -> None:
    """Step 2: select a camera, then its heat-map screen; back to the list afterwards."""
    while True:
        channel_id = console.choose("Heat Map Configuration: Select Camera", channel_options(console))
        if channel_id is None:
            return
        try:
            saved = console.service.heat_map(channel_id)
        except ServiceError as e:
            console.say(f"Refused: {e}")
            continue
        name = next((s.name for s in console.service.channels() if s.id == channel_id), f"Camera {channel_id}")
        console.run_menu(CHANNEL_MENU, Draft(channel_id, name, saved, saved))


# --------------------------------------------------------------------------- channel screen


def _enable(console: Console, d: Draft) -> None:
    d.set(enabled=console.ask_on_off("Enable Heat Map", d.edit.enabled))


def _parameter(key: str, label: str):
    def run(console: Console, d: Draft) -> None:
        d.set(**{key: console.ask_int(label, *PARAMETER_RANGE, getattr(d.edit, key))})

    return Item(lambda d: f"{label} ({getattr(d.edit, key)})", run)


def _save(console: Console, d: Draft) -> None:
    try:
        console.service.save_heat_map(d.channel_id, d.edit)
    except ServiceError as e:
        console.say(f"Not saved: {e}")
        return
    d.saved = d.edit
    console.say(f"Saved. {d.name} uses the new heat map settings now.")


def _may_leave(console: Console, d: Draft) -> bool:
    return not d.changed or console.confirm("Discard unsaved changes?")


def _areas_label(d: Draft) -> str:
    n = len(d.edit.regions)
    return f"Area Settings ({n} area{'s' if n != 1 else ''})"


CHANNEL_MENU = Menu(
    title=lambda d: f"Heat Map Configuration: {d.name} (channel {d.channel_id})"
    + (" *unsaved*" if d.changed else ""),
    items=(
        Item(lambda d: f"Enable Heat Map ({'on' if d.edit.enabled else 'off'})", _enable),
        Item(_areas_label, lambda c, d: area_settings(c, d)),
        *(_parameter(k, label) for k, label in PARAMETER_LABELS.items()),
        Item("Save", _save),
    ),
    may_leave=_may_leave,
)


# --------------------------------------------------------------------------- area settings


def _show_preview(console: Console, d: Draft) -> None:
    try:
        luma = console.service.preview(d.channel_id)
    except ServiceError as e:
        console.say(f"No preview: {e}")
        luma = None
    if luma is None:
        console.say("(no picture from this camera yet; areas drawn on a blank field)")
    for line in render.preview_lines(luma, d.edit.regions):
        console.say(line)


def _list_areas(console: Console, d: Draft) -> None:
    if not d.edit.regions:
        console.say("No areas: the whole picture is analysed.")
    for k, area in enumerate(d.edit.regions, 1):
        pts = " ".join(f"({x * 100:g},{y * 100:g})" for x, y in area)
        console.say(f"Area {k}: {pts}"[:79])


def _parse_point(text: str) -> tuple[float, float] | str:
    parts = text.replace(";", ",").replace(" ", ",").split(",")
    parts = [p for p in parts if p]
    if len(parts) != 2:
        return "type the point as x,y in percent, e.g. 25,40"
    try:
        x, y = float(parts[0]), float(parts[1])
    except ValueError:
        return "type the point as x,y in percent, e.g. 25,40"
    if not (0 <= x <= 100 and 0 <= y <= 100):
        return f"point ({parts[0]},{parts[1]}) is outside the frame: x and y must be 0 to 100"
    return x / 100.0, y / 100.0


def _draw(console: Console) -> tuple[tuple[float, float], ...] | None:
    """Read end-points, one per line, an empty line to finish (the seed's right click)."""
    console.say("Type the area's end-points as x,y in percent (0-100), one per line,")
    console.say(f"up to {MAX_POINTS}; an empty line finishes the area, Ctrl-C abandons it.")
    points: list[tuple[float, float]] = []
    while len(points) < MAX_POINTS:
        answer = console.ask(f"Point {len(points) + 1} x,y> ").strip()
        if not answer:
            break
        point = _parse_point(answer)
        if isinstance(point, str):
            console.say(f"Refused: {point}.")
            continue
        points.append(point)
    problem = console.service.area_problem(points)
    if problem:
        console.say(f"Area refused: {problem}.")
        return None
    return tuple(points)


def _pick_area(console: Console, d: Draft, verb: str) -> int | None:
    n = len(d.edit.regions)
    if n == 0:
        console.say("There are no areas.")
        return None
    while True:
        answer = console.ask(f"{verb} area [1-{n}]> ").strip()
        if not answer:
            return None
        k = whole_number(answer)
        if k is not None and 1 <= k <= n:
            return k - 1
        console.say(f"Refused: choose an area from 1 to {n}.")


def _fits_with_others(console: Console, regions) -> bool:
    """Ask the firmware about the areas together: an area inside another is refused, an overlap warned about."""
    check = console.service.check_areas([list(r) for r in regions])
    if check.problem:
        console.say(f"Area refused: {check.problem}.")
        return False
    for warning in check.warnings:
        console.say(f"Warning: {warning}.")
    return True


def _add(console: Console, d: Draft) -> None:
    if len(d.edit.regions) >= MAX_AREAS:
        console.say(f"Refused: at most {MAX_AREAS} areas; delete one first.")
        return
    area = _draw(console)
    if area is not None and _fits_with_others(console, d.edit.regions + (area,)):
        d.set(regions=d.edit.regions + (area,))
        console.say(f"Area {len(d.edit.regions)} added (not saved yet).")
        _show_preview(console, d)


def _delete(console: Console, d: Draft) -> None:
    k = _pick_area(console, d, "Delete")
    # Renumbering can put an area behind a lower-numbered one that covers it.
    if k is not None and _fits_with_others(console, d.edit.regions[:k] + d.edit.regions[k + 1:]):
        d.set(regions=d.edit.regions[:k] + d.edit.regions[k + 1:])
        console.say(f"Area {k + 1} deleted (not saved yet).")
        _show_preview(console, d)


def _redraw(console: Console, d: Draft) -> None:
    k = _pick_area(console, d, "Redraw")
    if k is None:
        return
    area = _draw(console)
    regions = d.edit.regions[:k] + (area,) + d.edit.regions[k + 1:]
    if area is not None and _fits_with_others(console, regions):
        d.set(regions=regions)
        console.say(f"Area {k + 1} redrawn (not saved yet).")
        _show_preview(console, d)


AREA_MENU = Menu(
    title=lambda d: f"Area Settings: {d.name} (channel {d.channel_id})",
    header=lambda c, d: _list_areas(c, d),
    items=(
        Item("Add Area", _add),
        Item("Delete Area", _delete),
        Item("Redraw Area", _redraw),
        Item("Show Preview", _show_preview),
    ),
)


def area_settings(console: Console, d: Draft) -> None:
    _show_preview(console, d)
    console.run_menu(AREA_MENU, d)


# --------------------------------------------------------------------------- export device


def export_device(console: Console, _state=None) -> None:
    """Configuration > Export Device: where Export writes (the USB drive's folder)."""
    target = console.service.export_target()
    where = "the default: <state-dir>/export" if target.default else "appliance.export_device"
    console.say(f"Reports are exported to {target.path} ({where}).")
    answer = console.ask("Export device folder, full path (empty: keep; default: reset)> ").strip()
    if not answer:
        return
    try:
        target = console.service.set_export_device(None if answer.lower() == "default" else answer)
    except ServiceError as e:
        console.say(f"Not saved: {e}.")
        return
    console.say(f"Saved. Reports are exported to {target.path}.")
