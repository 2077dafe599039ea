"""Line charts as PNG, drawn with Pillow (already a dependency): the sweep plots.

A chart is one or more stacked panels, each with its own y axis and a few
named series of (x, y) points over a shared x axis. Pillow's default
bitmap font keeps the output identical on every machine, with no font or
plotting library to install on an appliance-class box.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

COLOURS = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14)]
WIDTH, PANEL_HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 34, 40


@dataclass
class Panel:
    title: str
    ylabel: str
    series: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    ylim: tuple[float, float] | None = None   # None: from the data
    hline: float | None = None                # a reference line (0 error, the default's value)


def _limits(panel: Panel) -> tuple[float, float]:
    if panel.ylim is not None:
        return panel.ylim
    ys = [y for pts in panel.series.values() for _, y in pts]
    if panel.hline is not None:
        ys.append(panel.hline)
    lo, hi = (min(ys), max(ys)) if ys else (0.0, 1.0)
    if hi - lo < 1e-9:
        lo, hi = lo - 1.0, hi + 1.0
    pad = 0.08 * (hi - lo)
    return lo - pad, hi + pad


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    step = (hi - lo) / n
    mag = 10 ** int(f"{step:e}".split("e")[1])
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= step), default=step)
    start = int(lo / step) * step
    out, v = [], start
    while v <= hi + 1e-9:
        if v >= lo - 1e-9:
            out.append(round(v, 10))
        v += step
    return out


def line_chart(path: str | Path, title: str, xlabel: str, panels: list[Panel],
               xlim: tuple[float, float] = (0.0, 100.0), mark_x: float | None = None) -> Path:
    """Write a PNG of stacked panels to `path`; mark_x draws a dashed vertical line (the default)."""
    font = ImageFont.load_default()
    height = 24 + PANEL_HEIGHT * len(panels)
    img = Image.new("RGB", (WIDTH, height), "white")
    d = ImageDraw.Draw(img)
    d.text((LEFT, 6), title, fill="black", font=font)
    x0, x1 = xlim
    for k, panel in enumerate(panels):
        top = 24 + k * PANEL_HEIGHT
        px0, px1 = LEFT, WIDTH - RIGHT
        py0, py1 = top + TOP, top + PANEL_HEIGHT - BOTTOM
        lo, hi = _limits(panel)

        def sx(x):
            return px0 + (x - x0) / (x1 - x0) * (px1 - px0)

        def sy(y):
            return py1 - (min(max(y, lo), hi) - lo) / (hi - lo) * (py1 - py0)

        d.text((px0, top + 14), f"{panel.title} ({panel.ylabel})" if panel.ylabel else panel.title,
               fill="black", font=font)
        for t in _ticks(lo, hi):
            y = sy(t)
            d.line([(px0, y), (px1, y)], fill=(230, 230, 230))
            d.text((8, y - 6), f"{t:g}", fill="black", font=font)
        for t in _ticks(x0, x1, 10):
            x = sx(t)
            d.line([(x, py0), (x, py1)], fill=(240, 240, 240))
            d.text((x - 8, py1 + 4), f"{t:g}", fill="black", font=font)
        d.rectangle([px0, py0, px1, py1], outline="black")
        if panel.hline is not None and lo <= panel.hline <= hi:
            d.line([(px0, sy(panel.hline)), (px1, sy(panel.hline))], fill=(120, 120, 120))
        if mark_x is not None:
            x = sx(mark_x)
            for y in range(py0, py1, 8):
                d.line([(x, y), (x, min(y + 4, py1))], fill=(120, 120, 120))
        d.text((px1 - 6 * len(xlabel) - 4, py1 + 18), xlabel, fill="black", font=font)
        lx = px0 + 8
        for j, (name, pts) in enumerate(panel.series.items()):
            c = COLOURS[j % len(COLOURS)]
            xy = [(sx(x), sy(y)) for x, y in sorted(pts)]
            if len(xy) > 1:
                d.line(xy, fill=c, width=2)
            for x, y in xy:
                d.ellipse([x - 3, y - 3, x + 3, y + 3], fill=c)
            d.line([(lx, py0 + 10), (lx + 16, py0 + 10)], fill=c, width=3)
            d.text((lx + 20, py0 + 4), name, fill="black", font=font)
            lx += 30 + 6 * len(name) + 10
    path = Path(path)
    img.save(path, format="PNG", optimize=True)
    return path
