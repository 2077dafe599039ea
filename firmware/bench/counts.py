"""Counting accuracy: visits and dwell of the appliance's analysis against a scene's truth.

A scene is a recording and its truth file, NAME.<video> beside
NAME.truth.json (the format is docs/counting.md; the shipped sample
channels in data/samples use it). A scene directory holds one or more such
pairs; each pair is scored on its own.

The recording is decoded through the HAL capture (pacing "max", as a
channel reads a file) and analysed by `vca.analyzer.ChannelAnalyzer` with
the truth's areas at the given parameters, exactly what a channel does.
The truth's counts follow the same conventions as the appliance's
(docs/counting.md): a target's footprint is the bottom centre of its box;
it visits an area when its footprint enters it, and again when it comes
back more than REENTRY_GAP_S after its last frame inside; dwell is
footprint-frames inside / fps.

The dwell grid is compared cell by cell: the truth's footprint-seconds per
cell of the analyser's grid against the analyser's, as the share of the
true dwell that is misplaced or missing (sum |ours - truth| / sum truth).
"""
from __future__ import annotations

import glob
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from vca.params import HeatMapParams

TRUTH_SUFFIX = ".truth.json"
VIDEO_SUFFIXES = (".mp4", ".mkv", ".avi", ".mov", ".ts", ".h264", ".264")
REENTRY_GAP_S = 1.0     # the analyser's grace time (vca.tracks.GRACE_SECONDS)
WHOLE_FRAME = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]


class SceneError(ValueError):
    """A scene that cannot be scored; the message names the fix."""


@dataclass(slots=True)
class Area:
    name: str
    region: list[tuple[float, float]]
    visits: int | None = None           # given totals (truth without per-frame boxes)
    dwell_seconds: float | None = None


@dataclass(slots=True)
class Scene:
    name: str
    video: Path
    truth_path: Path
    fps: float
    width: int                          # the truth's pixel frame (boxes are in it)
    height: int
    frames: int
    areas: list[Area]
    targets: list[dict]                 # {"id", "boxes": [[frame, x0, y0, x1, y1], ...]}; may be empty
    people: int | None                  # distinct people, when known


@dataclass(slots=True)
class AreaScore:
    name: str
    visits_true: int
    visits: int
    dwell_true: float
    dwell: float

    @property
    def visits_error(self) -> int:
        return self.visits - self.visits_true

    @property
    def dwell_error(self) -> float:
        """Relative: (ours - truth) / truth; 0 when both are 0."""
        if self.dwell_true == 0:
            return 0.0 if self.dwell == 0 else math.inf
        return (self.dwell - self.dwell_true) / self.dwell_true

    def as_dict(self) -> dict:
        return {"area": self.name, "visits_true": self.visits_true, "visits": self.visits,
                "visits_error": self.visits_error, "dwell_true": round(self.dwell_true, 3),
                "dwell": round(self.dwell, 3), "dwell_error": _finite(self.dwell_error)}


@dataclass(slots=True)
class SceneResult:
    scene: str
    frames: int
    width: int
    height: int
    people: int | None
    total: AreaScore
    areas: list[AreaScore]
    grid_error: float | None            # share of true dwell misplaced on the grid; None: no boxes
    params: dict = field(default_factory=dict)

    def as_json(self) -> dict:
        """One `nvr bench counts --json` line."""
        return {"scene": self.scene, "frames": self.frames, "width": self.width, "height": self.height,
                "people": self.people, **self.total.as_dict(), "areas": [a.as_dict() for a in self.areas],
                "grid_error": None if self.grid_error is None else round(self.grid_error, 4),
                "params": self.params}


def _finite(x: float) -> float | None:
    return None if not math.isfinite(x) else round(x, 4)


# ---------------------------------------------------------------- the truth file

def _region(value, where: str) -> list[tuple[float, float]]:
    try:
        pts = [(float(x), float(y)) for x, y in value]
    except (TypeError, ValueError):
        raise SceneError(f"{where}: a region is a list of [x, y] points, 0..1 of the frame") from None
    if len(pts) < 3 or not all(0.0 <= c <= 1.0 for p in pts for c in p):
        raise SceneError(f"{where}: a region needs at least 3 [x, y] points, each 0..1 of the frame")
    return pts


def load_scene(truth_path: Path, video: Path) -> Scene:
    """Read and check one truth file; raises SceneError naming the fix."""
    where = str(truth_path)
    try:
        doc = json.loads(truth_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SceneError(f"{where}: unreadable ({type(exc).__name__}); it must be a JSON object "
                         "(docs/counting.md)") from None
    if not isinstance(doc, dict):
        raise SceneError(f"{where}: must be a JSON object (docs/counting.md)")
    try:
        fps = float(doc["fps"])
        width, height, frames = int(doc["width"]), int(doc["height"]), int(doc["frames"])
    except (KeyError, TypeError, ValueError):
        raise SceneError(f"{where}: needs numbers fps, width, height and frames (docs/counting.md)") from None
    if not (0 < fps <= 1000 and width > 0 and height > 0 and frames > 0):
        raise SceneError(f"{where}: fps, width, height and frames must be positive")
    areas: list[Area] = []
    if "areas" in doc:
        if not isinstance(doc["areas"], list) or not doc["areas"]:
            raise SceneError(f"{where}: 'areas' must be a non-empty list")
        for k, a in enumerate(doc["areas"]):
            if not isinstance(a, dict) or "region" not in a:
                raise SceneError(f"{where}: area {k + 1} needs a 'region'")
            given = a.get("visits"), a.get("dwell_seconds")
            if (given[0] is None) != (given[1] is None):
                raise SceneError(f"{where}: area {k + 1}: give both 'visits' and 'dwell_seconds', or neither")
            areas.append(Area(str(a.get("name", f"area {k + 1}")), _region(a["region"], f"{where}: area {k + 1}"),
                              None if given[0] is None else int(given[0]),
                              None if given[1] is None else float(given[1])))
    else:
        areas.append(Area("area 1", _region(doc.get("region", WHOLE_FRAME), where)))
    targets = doc.get("targets", [])
    if not isinstance(targets, list):
        raise SceneError(f"{where}: 'targets' must be a list")
    for t in targets:
        if not isinstance(t, dict) or not isinstance(t.get("boxes"), list):
            raise SceneError(f"{where}: each target needs 'boxes': [[frame, x0, y0, x1, y1], ...]")
    if any(a.visits is None for a in areas) and not targets:
        raise SceneError(f"{where}: no 'targets' with boxes, so every area needs 'visits' and 'dwell_seconds'")
    people = doc.get("people", len({t.get("id", i) for i, t in enumerate(targets)}) if targets else None)
    return Scene(str(doc.get("name", truth_path.name[:-len(TRUTH_SUFFIX)])), video, truth_path, fps,
                 width, height, frames, areas, targets, people)


def open_scenes(directory: str | Path) -> list[Scene]:
    """Every NAME.truth.json with a NAME video beside it in a scene directory (or one truth file)."""
    d = Path(directory)
    if d.is_file() and d.name.endswith(TRUTH_SUFFIX):
        truths = [d]
        d = d.parent
    elif d.is_dir():
        truths = sorted(d.glob("*" + TRUTH_SUFFIX))
    else:
        raise SceneError(f"{d}: not a directory; give a scene directory holding NAME.mp4 and NAME{TRUTH_SUFFIX}")
    if not truths:
        raise SceneError(f"{d}: no *{TRUTH_SUFFIX}; a scene is NAME.mp4 with NAME{TRUTH_SUFFIX} beside it "
                         "(docs/counting.md)")
    scenes = []
    for t in truths:
        stem = t.name[:-len(TRUTH_SUFFIX)]
        videos = [d / (stem + s) for s in VIDEO_SUFFIXES if (d / (stem + s)).is_file()][:1]
        # NAME-<variant>.mp4: the same scene recorded otherwise (a 5 fps sub-stream), same truth
        videos += sorted(p for p in d.glob(glob.escape(stem) + "-*") if p.suffix in VIDEO_SUFFIXES
                         and not (d / (p.name[:-len(p.suffix)] + TRUTH_SUFFIX)).exists())
        if not videos:
            raise SceneError(f"{t}: no recording {stem}.mp4 beside it")
        for v in videos:
            scene = load_scene(t, v)
            scene.name = v.name[:-len(v.suffix)]
            scenes.append(scene)
    return scenes


# ---------------------------------------------------------------- truth counts

def _inside(px: float, py: float, poly) -> bool:
    """Even-odd rule, the same as vca.mask's rasteriser at pixel centres."""
    result = False
    n = len(poly)
    for i in range(n):
        xa, ya = poly[i]
        xb, yb = poly[(i + 1) % n]
        if (ya > py) != (yb > py) and px < xa + (py - ya) * (xb - xa) / (yb - ya):
            result = not result
    return result


def truth_counts(scene: Scene, regions, grid: np.ndarray | None = None, exclude=()) -> tuple[int, float]:
    """(visits, dwell seconds) of the scene's targets inside any of `regions` (normalised
    polygons); with `grid` (rows, cols), add each inside footprint's 1/fps to its cell (grid
    over the truth's frame). Footprints inside an earlier area (`exclude`, its regions)
    belong to it, as in the analyser."""
    w, h = scene.width, scene.height
    polys = [[(x * w, y * h) for x, y in r] for r in regions]
    earlier = [[(x * w, y * h) for x, y in r] for r in exclude]
    gap = REENTRY_GAP_S * scene.fps
    visits, frames = 0, 0
    for t in scene.targets:
        last = None
        for f, x0, _y0, x1, y1 in t["boxes"]:
            px, py = (x0 + x1) // 2 + 0.5, y1 - 0.5
            if not any(_inside(px, py, p) for p in polys) or any(_inside(px, py, e) for e in earlier):
                continue
            if last is None or f - last > gap:
                visits += 1
            last = f
            frames += 1
            if grid is not None:
                grid[(y1 - 1) * grid.shape[0] // h, (x0 + x1) // 2 * grid.shape[1] // w] += 1.0 / scene.fps
    return visits, frames / scene.fps


# ---------------------------------------------------------------- running the analysis

def evaluate(scene: Scene, params: HeatMapParams = HeatMapParams(),
             tick: Callable[[], None] | None = None) -> SceneResult:
    """Decode and analyse one scene at `params`; score its visits, dwell and dwell grid."""
    from hal.capture import PyAVCapture
    from hal.errors import CaptureError, SourceEnded
    from vca.analyzer import ChannelAnalyzer

    analyzer = None
    n = 0
    cap = PyAVCapture(str(scene.video), pacing="max", decoder_threads=1)
    try:
        cap.open()
        while True:
            try:
                frame = cap.read()
            except SourceEnded:
                break
            if analyzer is None:
                analyzer = ChannelAnalyzer(*frame.luma.shape)
                analyzer.configure([a.region for a in scene.areas], params)
            analyzer.step(frame.luma, frame.pts)
            n += 1
            if tick is not None:
                tick()
    except CaptureError as exc:
        raise SceneError(f"{scene.video}: {exc}") from None
    finally:
        cap.close()
    if analyzer is None:
        raise SceneError(f"{scene.video}: no frames decoded; check the recording")
    g = analyzer.drain()
    truth_grid = np.zeros(g.dwell.shape) if scene.targets else None
    areas = []
    for k, a in enumerate(scene.areas):
        if scene.targets:   # the boxes give the grid's truth even where the area's totals are given
            tv, td = truth_counts(scene, [a.region], truth_grid, [b.region for b in scene.areas[:k]])
        if a.visits is not None:
            tv, td = a.visits, a.dwell_seconds
        areas.append(AreaScore(a.name, tv, int(g.area_visits[k]), td, float(g.area_dwell[k])))
    if len(areas) == 1:
        total = AreaScore("any", areas[0].visits_true, g.visits_total, areas[0].dwell_true, g.dwell_total)
    else:   # a target walking from one area into another is one visit of the whole: count it so
        if scene.targets:
            union_v, union_d = truth_counts(scene, [a.region for a in scene.areas])
        else:
            union_v, union_d = sum(a.visits_true for a in areas), sum(a.dwell_true for a in areas)
        total = AreaScore("any", union_v, g.visits_total, union_d, g.dwell_total)
    grid_error = None
    if truth_grid is not None and truth_grid.sum() > 0:
        grid_error = float(np.abs(g.dwell - truth_grid).sum() / truth_grid.sum())
    return SceneResult(scene.name, n, analyzer.width, analyzer.height, scene.people, total, areas,
                       grid_error, _params_dict(params))


def _params_dict(params: HeatMapParams) -> dict:
    from dataclasses import asdict
    return asdict(params)


def summarize(results: list[SceneResult]) -> dict:
    """Totals over scenes: visits error, mean absolute dwell error, scenes counting more visits than people."""
    if not results:
        return {"scenes": 0}
    dwell = [abs(r.total.dwell_error) for r in results if math.isfinite(r.total.dwell_error)]
    grid = [r.grid_error for r in results if r.grid_error is not None]
    return {
        "scenes": len(results),
        "visits_true": sum(r.total.visits_true for r in results),
        "visits": sum(r.total.visits for r in results),
        "visits_abs_error": sum(abs(r.total.visits_error) for r in results),
        "scenes_visits_exact": sum(1 for r in results if r.total.visits_error == 0),
        "mean_abs_dwell_error": float(np.mean(dwell)) if dwell else None,
        "max_abs_dwell_error": float(np.max(dwell)) if dwell else None,
        "mean_grid_error": float(np.mean(grid)) if grid else None,
        # a person who comes back after the grace time is two true visits: more than people, rightly
        "scenes_more_visits_than_people": [r.scene for r in results if r.people is not None
                                           and r.total.visits > max(r.people, r.total.visits_true)],
    }
