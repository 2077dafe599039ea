"""The four heat-map parameters as the vendor names them, each 0..100 (default 50).

Their mapping to internal quantities lives next to the stage that uses them
(`vca.params_map`), documented in one table in the README.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class HeatMapParams:
    detection_sensitivity: int = 50   # higher: smaller luma changes count as foreground
    background_update_rate: int = 50  # higher: static changes absorbed sooner
    scene_change_level: int = 50      # higher: scene change declared more readily
    minimum_target_size: int = 50     # higher: larger blobs needed to count as a target
