"""The space heat map as a picture: the chosen model's grid blended over the background.

Colours run blue (least) -> green -> yellow -> red (most) between the grid's
min and max on a square-root scale (one checkout queue would otherwise paint
every aisle the same blue; the legend labels the middle of the bar); cells with zero are fully transparent so the people-free
background snapshot shows through unchanged. A legend in the bottom-right
corner shows the colour scale with its min and max, the model and the
period. Without a snapshot the picture is drawn on mid-grey and the legend
says so. Small backgrounds are enlarged by a whole factor (pixel repeat, so
background pixels stay exact) until the picture is at least 640 wide.
"""
from __future__ import annotations

from typing import BinaryIO

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from firmware.reports import Report

MIN_WIDTH = 640
GREY = 128
# Colour stops at 0, 1/3, 2/3, 1 of the scale.
_STOPS = np.array([[0, 0, 255], [0, 200, 0], [255, 230, 0], [255, 0, 0]], np.float64)
_ALPHA_LOW, _ALPHA_HIGH = 0.45, 0.75  # faint where few, strong where most


def colormap(t: np.ndarray) -> np.ndarray:
    """float (...,) in 0..1 -> float64 RGB (..., 3) along the blue-green-yellow-red stops."""
    x = np.clip(t, 0.0, 1.0) * (len(_STOPS) - 1)
    i = np.minimum(x.astype(np.int64), len(_STOPS) - 2)
    f = (x - i)[..., None]
    return _STOPS[i] * (1.0 - f) + _STOPS[i + 1] * f


def render(report: Report, background: np.ndarray | None) -> tuple[Image.Image, tuple[int, int, int, int]]:
    """(RGB picture, legend box (x0, y0, x1, y1)) of the report's space heat map."""
    lay = report.layout
    if background is None:
        w, h = lay.analysis_width or 640, lay.analysis_height or 360
        background = np.full((h, w), GREY, np.uint8)
        missing = True
    else:
        missing = False
    k = max(1, -(-MIN_WIDTH // background.shape[1]))
    bg = np.repeat(np.repeat(background, k, axis=0), k, axis=1) if k > 1 else background
    h, w = bg.shape

    m = report.matrix.astype(np.float64)
    rows, cols = m.shape
    lo, hi = float(m.min()), float(m.max())
    # Each pixel takes its grid cell: the grid spans the whole frame in equal cells.
    cell = m[(np.arange(h) * rows) // h][:, (np.arange(w) * cols) // w]
    t = np.sqrt((cell - lo) / (hi - lo)) if hi > lo else np.ones_like(cell)
    alpha = np.where(cell > 0, _ALPHA_LOW + (_ALPHA_HIGH - _ALPHA_LOW) * t, 0.0)[..., None]
    rgb = bg[..., None].astype(np.float64) * (1.0 - alpha) + colormap(t) * alpha
    img = Image.fromarray(np.rint(rgb).astype(np.uint8), "RGB")
    box = _legend(img, report, lo, hi, missing)
    return img, box


def _legend(img: Image.Image, r: Report, lo: float, hi: float, missing: bool) -> tuple[int, int, int, int]:
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=13)
    unit = "dwell time (s)" if r.model == "dwell" else "visits"
    lines = [
        f"{r.channel_name}: {unit}",
        f"{r.report_type.capitalize()} report, {r.period_label}",
    ]
    if missing:
        lines.append("no background snapshot: grey")
    fmt = (lambda v: f"{v:,.0f}") if r.model == "people" else (lambda v: f"{v:,.1f}")
    lo_text, hi_text = f"min {fmt(lo)}", f"max {fmt(hi)}"
    mid_text = fmt(lo + 0.25 * (hi - lo))  # the value at the bar's middle: sqrt scale
    line_h = 16
    bar_w, bar_h, pad = 160, 12, 8
    # Middle label centred, min and max at the ends: room for the wider end label on both sides.
    ends = max(draw.textlength(lo_text, font=font), draw.textlength(hi_text, font=font))
    scale_w = draw.textlength(mid_text, font=font) + 2 * (ends + 12)
    text_w = max(scale_w, *(draw.textlength(s, font=font) for s in lines))
    box_w = int(max(bar_w, text_w)) + 2 * pad
    box_h = pad + line_h * len(lines) + bar_h + 4 + line_h + pad
    x0, y0 = img.width - box_w - 6, img.height - box_h - 6
    x0, y0 = max(0, x0), max(0, y0)
    box = (x0, y0, x0 + box_w, y0 + box_h)
    draw.rectangle(box, fill=(20, 20, 20), outline=(230, 230, 230))
    y = y0 + pad
    for s in lines:
        draw.text((x0 + pad, y), s, fill=(255, 255, 255), font=font)
        y += line_h
    bar_w = box_w - 2 * pad  # as wide as the text, so min and max never overlap
    ramp = colormap(np.linspace(0.0, 1.0, bar_w))
    bar = np.repeat(np.rint(ramp).astype(np.uint8)[None], bar_h, axis=0)
    img.paste(Image.fromarray(bar, "RGB"), (x0 + pad, y))
    y += bar_h + 4
    draw.text((x0 + pad, y), lo_text, fill=(255, 255, 255), font=font)
    draw.text((x0 + pad + bar_w - draw.textlength(hi_text, font=font), y), hi_text, fill=(255, 255, 255), font=font)
    mid_x = x0 + pad + bar_w // 2
    draw.line((mid_x, y - 4, mid_x, y - 1), fill=(255, 255, 255))
    draw.text((mid_x - draw.textlength(mid_text, font=font) / 2, y), mid_text, fill=(255, 255, 255), font=font)
    return box


def write_png(report: Report, background: np.ndarray | None, out: BinaryIO) -> None:
    img, _ = render(report, background)
    img.save(out, format="PNG", optimize=False)
