"""The four heat-map parameters as the vendor names them, each 0..100 (default 50).

Their mapping to internal quantities lives next to the stage that uses them,
in each module's MAPPING table: detection sensitivity, background update
rate and scene change level in vca.background, minimum target size in
vca.blobs.
"""
from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True, slots=True)
class HeatMapParams:
    detection_sensitivity: int = 50   # higher: smaller luma changes count as foreground
    background_update_rate: int = 50  # higher: static changes absorbed sooner
    scene_change_level: int = 50      # higher: scene change declared more readily
    minimum_target_size: int = 50     # higher: larger blobs needed to count as a target


PARAMETER_KEYS = tuple(f.name for f in fields(HeatMapParams))
# As the vendor's how-to names them (console, web page, reports).
PARAMETER_LABELS = {
    "detection_sensitivity": "Detection Sensitivity",
    "background_update_rate": "Background Update Rate",
    "scene_change_level": "Scene Change Level",
    "minimum_target_size": "Minimum Target Size",
}
PARAMETER_RANGE = (0, 100)
PARAMETER_DEFAULT = 50
