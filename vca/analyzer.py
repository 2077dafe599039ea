"""One channel's heat-map analysis: luma frames in, visit and dwell increments out.

Composes the stages, all preallocated once for a (height, width):
background model + clean-up (vca.background) -> blobs (vca.blobs) ->
tracks (vca.tracks) -> grid accumulation (vca.grid), with the detection
areas rasterised by vca.mask whenever they change.

TIME. Frames carry a monotonic time t (seconds). The frame interval is
dt = t - t_previous (0 on the first frame or if t goes backwards). The
analyzer keeps an *analysed time* that advances by min(dt, DT_CAP = 1 s) on
every analysed frame; tracks and the grid run on it, so dwell is a sum of
real frame intervals (frame skipping does not bias it) and a video gap
credits at most 1 s. A gap longer than DT_CAP ends every track: targets
still there afterwards are new visits.

SCENE CHANGES. When the background model declares a scene change (flag
SCENE_CHANGE) or is re-learning (flag SETTLING), that frame is not
analysed: no blobs, no track updates, no visits, no dwell, and analysed
time stands still, so tracks are frozen (not expired) and pick up where
they were once the scene settles. scene_changes counts declarations.

DEFINITIONS of visits and dwell (cell, area, any area; grace time 1 s;
re-entry after the grace time counts again): see vca.grid. In short, per
confirmed track along its footprint path (bottom centre of its box, from
the previous frame's to this frame's) where inside an area: dwell += the
seconds since the track was last matched (capped at 1 s), shared evenly
along the path; a visit to a cell / area / any area counts when the track
was not there during the last grace seconds.

WHERE THE MODEL LOOKS. The background model analyses the areas grown by
ANALYSIS_MARGIN (8 % of the larger frame side: 51 px at 640x360) in every
direction, not the bare areas: a target straddling an area edge is then
seen whole, so its footprint is where its feet are rather than the middle
of the sliver inside the area (which would count it as inside too early
and too long). Counting still uses the exact areas (self.labels).

STANDING TARGETS. After the tracks are updated, each confirmed track's
outline is checked against the frame and the learned background
(vca.contour): where the outline shows in the frame it is a person, where
only in the model a ghost. Boxes of confirmed tracks standing still
(<= STILL_SPEED box sizes/s) that are not ghosts (ghost share <=
GHOST_SHARE), grown by PROTECT_MARGIN px, go to the model as `protect`
bits: revealed-background seepage never starts there, so a person standing
for a minute is not dissolved from the rim (shop_floor's 65 s stander keeps
its track on >= 90 % of its frames, tested), while ghosts and walked-off spots still
clear. The same evidence, summed over an unconfirmed track's life, goes
back to the tracker, which never confirms a mostly-ghost track (a person in
the model's first frame leaves one that looks as if it moved when its
pieces join). Models without `protect`, `mean` and `fg_bits` (replays) get no feedback.

analysed_seconds: sum of min(dt, 1 s) over analysed (not settling) frames:
how much video the totals cover ("has data").

Areas and parameters are applied by configure() from the next step() on.
Changing the areas does not reset tracks; drain() first if the totals of
the old areas must be kept apart.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from vca.contour import ContourEvidence
from vca.contracts import describe
from vca.blobs import MAX_BLOBS, BlobFinder, min_target_pixels
from vca.grid import DT_CAP, GridAccumulator
from vca.mask import grow_mask, rasterize_areas, validate_regions
from vca.params import HeatMapParams
from vca.track_table import MAX_TRACKS
from vca.tracks import GRACE_SECONDS, Tracker

ANALYSIS_MARGIN = 0.08   # share of the larger frame side the model looks beyond the areas
GHOST_SHARE = 0.5        # a confirmed track whose outline is more often the model's than the frame's is a ghost
STILL_SPEED = 0.3        # box sizes per second: slower confirmed targets are standing still
PROTECT_MARGIN = 3       # px around a confirmed target's box where the model keeps its foreground
SCENE_CHANGE = 1   # flags returned by BackgroundModel.apply (vca.background contract)
SETTLING = 2

# stage_ns slots
STAGE_MODEL, STAGE_CLEANUP, STAGE_BLOBS, STAGE_TRACKS, STAGE_GRID = range(5)
STAGE_NAMES = ("model", "cleanup", "blobs", "tracks", "grid")


@dataclass
class GridTotals:
    """Increments since the previous drain (all arrays are copies)."""

    visits: np.ndarray        # int32 (rows, cols)
    dwell: np.ndarray         # float64 (rows, cols), seconds
    area_visits: np.ndarray   # int64 (n_areas,)
    area_dwell: np.ndarray    # float64 (n_areas,), seconds
    visits_total: int         # distinct targets entering any area
    dwell_total: float        # target-seconds in any area
    analysed_seconds: float   # sum of frame intervals analysed (for "has data")
    scene_changes: int


class ChannelAnalyzer:
    """All per-channel VCA state, preallocated once for a (height, width)."""

    def __init__(self, height: int, width: int, *, grid_columns: int = 64, grid_rows: int | None = None,
                 model=None, max_tracks: int = MAX_TRACKS, grace_seconds: float = GRACE_SECONDS):
        """model: an object with the vca.background.BackgroundModel API (default: a new one)."""
        if height < 8 or width < 8:
            raise ValueError(f"analysis size {width}x{height} is too small: use at least 8x8 pixels")
        self.height, self.width = int(height), int(width)
        self._grid = GridAccumulator(self.height, self.width, grid_columns, grid_rows, max_tracks)
        self.grid_rows, self.grid_columns = self._grid.rows, self._grid.columns
        self._blobs = BlobFinder(self.height, self.width, MAX_BLOBS)
        self._tracker = Tracker(max_tracks, MAX_BLOBS, grace_seconds, self.height, self.width)
        self.labels = np.zeros((self.height, self.width), np.uint8)
        self.any_area = np.zeros((self.height, self.width), np.uint8)
        self.analysis_mask = np.zeros((self.height, self.width), np.uint8)
        self.analysis_margin = int(round(ANALYSIS_MARGIN * max(self.height, self.width)))
        # The blob finder's buffer is the model's output: blobs read it without a copy.
        self.foreground = self._blobs.image
        if model is None:
            from vca.background import BackgroundModel
            model = BackgroundModel(self.height, self.width)
        self._model = model
        self._model_stage_ns = getattr(model, "stage_ns", None)
        # Only a model that learns a mean and accepts protection gets the feedback.
        self._protect = getattr(model, "protect", None)
        self._mean = getattr(model, "mean", None)
        # A model that keeps its cleaned foreground bit-packed lets blobs and
        # outlines read the words instead of the bytes (vca.blobs, vca.contour).
        self._packed = hasattr(model, "fg_bits")
        self._evidence = ContourEvidence(max_tracks)
        self.n_areas = 0
        self._regions_key: tuple | None = None
        self.params: HeatMapParams | None = None
        self.min_pixels = 1
        self.configure([], HeatMapParams())
        self._t_prev: float | None = None
        self.now = 0.0
        self._analysed = 0.0
        self._scene_changes = 0
        self.scene_change = False
        self.settling = False
        self.active = 0
        self.stage_ns = np.zeros(len(STAGE_NAMES), np.int64)

    @property
    def background(self) -> np.ndarray:
        """uint8 (H, W) learned background image (for report pictures)."""
        return self._model.background

    @property
    def tracker(self) -> Tracker:
        return self._tracker

    @property
    def blobs(self) -> BlobFinder:
        return self._blobs

    def configure(self, regions: Sequence[Sequence[tuple[float, float]]], params: HeatMapParams) -> None:
        """Apply areas and parameters from the next frame on (cheap when unchanged)."""
        key = tuple(tuple((float(x), float(y)) for x, y in poly) for poly in regions)
        if key != self._regions_key:
            validate_regions(key)  # raises before anything changes
            self.n_areas = rasterize_areas(key, self.labels, self.any_area)
            grow_mask(self.any_area, self.analysis_margin, self.analysis_mask)
            rows = np.flatnonzero(self.analysis_mask.any(axis=1))
            # Foreground only appears where the model looks: blobs skip the other rows.
            self._blobs.limit_rows(int(rows[0]) if rows.size else 0, int(rows[-1]) + 1 if rows.size else 0)
            self._regions_key = key
        if params != self.params:
            self._model.set_params(params)
            self.min_pixels = min_target_pixels(params.minimum_target_size, self.height, self.width)
            self.params = params

    def step(self, luma: np.ndarray, t: float) -> int:
        """Analyse one frame; returns number of active targets. Sets self.scene_change (bool, this frame declared one) and self.settling (bool)."""
        if not isinstance(luma, np.ndarray) or luma.shape != self.foreground.shape or luma.dtype != np.uint8:
            raise ValueError(f"frame is {describe(luma)} but the analyzer takes uint8 {self.width}x{self.height} "
                             "luma (rows may be strided): create it with the capture's analysis size")
        t = float(t)
        dt = 0.0 if self._t_prev is None or t < self._t_prev else t - self._t_prev
        self._t_prev = t
        stage = self.stage_ns
        t0 = time.perf_counter_ns()
        flags = self._model.apply(luma, t, self.analysis_mask, self.foreground)
        t1 = time.perf_counter_ns()
        if self._model_stage_ns is not None and len(self._model_stage_ns) >= 2:
            stage[STAGE_MODEL] = self._model_stage_ns[0]
            stage[STAGE_CLEANUP] = self._model_stage_ns[1]
        else:
            stage[STAGE_MODEL] = t1 - t0
            stage[STAGE_CLEANUP] = 0
        self.scene_change = bool(flags & SCENE_CHANGE)
        self.settling = bool(flags & SETTLING)
        if self.scene_change:
            self._scene_changes += 1
        if self.scene_change or self.settling:
            stage[STAGE_BLOBS] = stage[STAGE_TRACKS] = stage[STAGE_GRID] = 0
            self.active = 0
            return 0
        if dt > DT_CAP:
            self._tracker.reset()
            dt = DT_CAP
        self.now += dt
        self._analysed += dt
        bits = self._model.fg_bits if self._packed else None
        n = self._blobs.find(self.min_pixels) if bits is None else self._blobs.find_bits(self.min_pixels, bits)
        t2 = time.perf_counter_ns()
        tracker = self._tracker
        evidence = bits is not None and self._protect is not None and self._mean is not None
        self.active = tracker.update(self._blobs.stats, n, self.now,
                                     self._evidence.tentative if evidence else None)
        if evidence:
            self._evidence.update(tracker.tr, luma, self._mean, bits, dt)
            tracker.protect(self._evidence.share, GHOST_SHARE, STILL_SPEED, self.width, PROTECT_MARGIN,
                            self._protect)
        t3 = time.perf_counter_ns()
        self._grid.accumulate(tracker.tr, tracker.trf, self.labels, self.now, tracker.grace)
        t4 = time.perf_counter_ns()
        stage[STAGE_BLOBS] = t2 - t1
        stage[STAGE_TRACKS] = t3 - t2
        stage[STAGE_GRID] = t4 - t3
        return self.active

    def drain(self) -> GridTotals:
        """Return the increments accumulated since the last drain (copies) and zero them."""
        g = self._grid
        n = self.n_areas
        totals = GridTotals(
            visits=g.visits.copy(),
            dwell=g.dwell.copy(),
            area_visits=g.area_visits[1:1 + n].copy(),
            area_dwell=g.area_dwell[1:1 + n].copy(),
            visits_total=int(g.area_visits[0]),
            dwell_total=float(g.area_dwell[0]),
            analysed_seconds=float(self._analysed),
            scene_changes=int(self._scene_changes),
        )
        g.zero()
        self._analysed = 0.0
        self._scene_changes = 0
        return totals

