"""The space heat map as a picture: a smooth density of the chosen grid over the background.

`render(report, background)` returns a PIL image, `png_bytes` its PNG
encoding (the web page serves those bytes), `write_png` writes it to a file.

The picture
    The background is the channel's people-free snapshot at the size it was
    stored (the full source size when the channel could take one; see
    `firmware.channel`), enlarged by a whole factor when narrower than
    MIN_WIDTH (smoothly resampled) and reduced when wider than MAX_WIDTH.
    Without a snapshot it is mid-grey and the legend says so.

    Each cell's value is spread over the picture with a Gaussian kernel of
    SIGMA_CELLS cells (truncated at TRUNCATE_SIGMAS sigmas and normalised to
    a partition of unity, so an even field keeps its value): lanes and spots
    become a smooth density as vendor heat maps draw them instead of a
    lattice of cells. A lone hot cell therefore shows a little cooler than
    its number (about 0.6 of it), a one-cell lane about 0.8.

    Colours follow `firmware.heat_scale` (the rule the workbook and the
    console use): blue -> green -> yellow -> red over the in-area cells,
    log for dwell, linear to the 99th percentile for visits. Where the
    density is zero the overlay is fully transparent, so the background shows
    unchanged; it fades in below the scale's bottom value (3 % of the top on
    a linear scale), so lanes have soft edges; then it is ALPHA_LOW..ALPHA_HIGH opaque from least to most. The
    areas are outlined thinly.

    The legend is a strip below the picture, never over the data: camera,
    report and model, the colour bar with five values, what the numbers are.
"""
from __future__ import annotations

import io
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from firmware.heat_scale import HeatScale, colormap, report_scale
from firmware.reports import Report

MIN_WIDTH = 640
MAX_WIDTH = 1920
WORKBOOK_WIDTH = 960
GREY = 128
SIGMA_CELLS = 0.5
TRUNCATE_SIGMAS = 3.0
ALPHA_LOW, ALPHA_HIGH = 0.5, 0.8   # faint where few, strong where most
FADE_SHARE = 0.03                  # linear scales fade in up to this share of the top
OUTLINE = (255, 255, 255, 110)     # area outlines: thin, half transparent
PNG_COMPRESSION = 3                # zlib level: a third of level 6's time, about a fifth bigger
# The colour ramp as a table: 1024 steps are finer than 8-bit colour can show.
_RAMP = colormap(np.linspace(0.0, 1.0, 1024)).astype(np.float32)


def _background(report: Report, background: np.ndarray | None) -> tuple[np.ndarray, bool]:
    """(uint8 H x W luma at picture size, missing) for the report."""
    lay = report.layout
    if background is None:
        w = lay.source_width or lay.analysis_width or 640
        h = lay.source_height or lay.analysis_height or 360
        bg, missing = np.full((h, w), GREY, np.uint8), True
    else:
        bg, missing = np.ascontiguousarray(background, np.uint8), False
    h, w = bg.shape
    if w < MIN_WIDTH:
        k = -(-MIN_WIDTH // w)
        size = (w * k, h * k)
    elif w > MAX_WIDTH:
        size = (MAX_WIDTH, max(1, round(h * MAX_WIDTH / w)))
    else:
        return bg, missing
    return np.asarray(Image.fromarray(bg, "L").resize(size, Image.Resampling.LANCZOS)), missing


def _spread_weights(pixels: int, cells: int) -> np.ndarray:
    """float64 (pixels, cells): how much of each cell a pixel row (or column) takes.

    Cell c covers [c, c+1) of the frame in cell units; a pixel centre at u
    takes exp(-(u - centre)^2 / 2 sigma^2) of each cell within the truncation,
    normalised to sum 1 over the cells it reaches.
    """
    u = (np.arange(pixels) + 0.5) * cells / pixels
    d = u[:, None] - (np.arange(cells) + 0.5)[None, :]
    w = np.exp(-0.5 * (d / SIGMA_CELLS) ** 2)
    w[np.abs(d) > TRUNCATE_SIGMAS * SIGMA_CELLS] = 0.0
    return w / w.sum(axis=1, keepdims=True)


def density(grid: np.ndarray, height: int, width: int) -> np.ndarray:
    """float64 (height, width): the grid spread smoothly over a picture of that size.

    Separable, so two matrix products: (H x rows) @ grid @ (cols x W).
    """
    g = np.asarray(grid, np.float64)
    rows, cols = g.shape
    return _spread_weights(height, rows) @ g @ _spread_weights(width, cols).T


def overlay(bg: np.ndarray, values: np.ndarray, scale: HeatScale) -> np.ndarray:
    """uint8 RGB (H, W, 3): `bg` (H, W) luma with the density `values` (H, W) coloured over it."""
    t = scale.levels(values)
    shown = ~np.isnan(t)
    t0 = np.where(shown, t, 0.0).astype(np.float32)
    alpha = ALPHA_LOW + (ALPHA_HIGH - ALPHA_LOW) * t0
    # Soft edges: the overlay fades in up to the scale's bottom value (log) or
    # a small share of its top (linear, whose bottom is 0).
    fade_at = scale.low if scale.kind == "log" else FADE_SHARE * scale.high
    if fade_at > 0:
        alpha *= np.clip(values * (1.0 / fade_at), 0.0, 1.0).astype(np.float32)
    alpha[~shown] = 0.0
    colour = _RAMP[np.rint(t0 * (len(_RAMP) - 1)).astype(np.intp)]   # (H, W, 3) float32
    a = alpha[..., None]
    rgb = bg[..., None].astype(np.float32) * (1.0 - a) + colour * a
    return np.rint(rgb).astype(np.uint8)


def render(report: Report, background: np.ndarray | None) -> Image.Image:
    """The report's space heat map as an RGB picture with the legend strip below it."""
    bg, missing = _background(report, background)
    h, w = bg.shape
    scale, _cells = report_scale(report)
    picture = Image.fromarray(overlay(bg, density(report.matrix, h, w), scale), "RGB")
    _outline_areas(picture, report.layout.regions)
    return _with_legend(picture, report, scale, missing)


def png_bytes(report: Report, background: np.ndarray | None) -> bytes:
    buf = io.BytesIO()
    render(report, background).save(buf, format="PNG", compress_level=PNG_COMPRESSION)
    return buf.getvalue()


def workbook_picture(report: Report, background: np.ndarray | None) -> bytes:
    """The picture as PNG for embedding in the workbook: at most WORKBOOK_WIDTH wide (a
    full-HD picture would add megabytes to a file printed a few inches wide)."""
    img = render(report, background)
    if img.width > WORKBOOK_WIDTH:
        img = img.resize((WORKBOOK_WIDTH, round(img.height * WORKBOOK_WIDTH / img.width)), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=PNG_COMPRESSION)
    return buf.getvalue()


def write_png(report: Report, background: np.ndarray | None, out: BinaryIO) -> None:
    out.write(png_bytes(report, background))


def _outline_areas(img: Image.Image, regions) -> None:
    if not regions:
        return
    layer = Image.new("RGBA", img.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    w, h = img.size
    width = max(1, w // 640)
    for poly in regions:
        pts = [(x * (w - 1), y * (h - 1)) for x, y in poly]
        draw.line(pts + pts[:1], fill=OUTLINE, width=width, joint="curve")
    img.paste(layer, (0, 0), layer)


def legend_text(report: Report, scale: HeatScale) -> str:
    """What the numbers are, in one line."""
    if report.model == "dwell":
        what = "Dwell time: seconds people spent in each grid cell"
        how = "log scale" if not scale.empty else ""
    else:
        what = "People: visits to each grid cell"
        how = "linear scale" + (", top = 99th percentile" if scale.clipped else "")
    return f"{what}, inside the areas; {how}; uncoloured: nobody" if how else f"{what}: nothing counted"


def _with_legend(picture: Image.Image, r: Report, scale: HeatScale, missing: bool) -> Image.Image:
    w, h = picture.size
    size = max(13, round(w / 55))
    font = ImageFont.load_default(size=size)
    pad = size // 2 + 2
    line = size + size // 3
    bar_h = size
    title = (f"{r.channel_name} (channel {r.channel}) - {r.report_type.capitalize()} report "
             f"{r.period_label} - {'Dwell time' if r.model == 'dwell' else 'People counting'}")
    notes = [legend_text(r, scale)]
    if missing:
        notes.append("No background snapshot yet: drawn on grey.")
    strip_h = pad + line + bar_h + 3 + line + line * len(notes) + pad
    out = Image.new("RGB", (w, h + strip_h), (255, 255, 255))
    out.paste(picture, (0, 0))
    draw = ImageDraw.Draw(out)
    ink = (20, 20, 20)
    y = h + pad
    draw.text((pad, y), title, fill=ink, font=font)
    y += line
    ticks = scale.ticks()
    labels = scale.labels(r.model)
    if r.model == "dwell":
        labels = [s + " s" for s in labels]
    # The bar spans the picture less room for half a label at each end.
    half = max(draw.textlength(s, font=font) for s in labels) / 2
    x0, x1 = int(pad + half), int(w - pad - half)
    if not scale.empty:
        ramp = np.rint(colormap(np.linspace(0.0, 1.0, max(2, x1 - x0)))).astype(np.uint8)
        out.paste(Image.fromarray(np.repeat(ramp[None], bar_h, axis=0), "RGB"), (x0, y))
        draw.rectangle((x0 - 1, y - 1, x0 + ramp.shape[0], y + bar_h), outline=(90, 90, 90))
        for (t, _v), text in zip(ticks, labels):
            x = x0 + t * (x1 - x0)
            draw.line((x, y + bar_h, x, y + bar_h + 3), fill=ink)
            draw.text((x - draw.textlength(text, font=font) / 2, y + bar_h + 3), text, fill=ink, font=font)
    y += bar_h + 3 + line
    for note in notes:
        draw.text((pad, y), note, fill=ink, font=font)
        y += line
    return out
