"""The track table: what vca.tracks writes and vca.grid, vca.contour and the tools read.

One row per track slot, T = max_tracks rows, preallocated once; a slot is in
use while T_LIVE != 0 and is reused after its track ends (T_NEW marks the
frame a slot starts a new track, so per-track memories elsewhere restart).
Two arrays, both C-contiguous:

    tr   int64   (T, N_INT)    ids, flags, boxes and footprints (pixels)
    trf  float64 (T, N_FLOAT)  times (analysed seconds), velocities, predictions

Boxes are inclusive pixel rectangles of the analysed frame; the footprint is
the bottom centre of the box ((X0 + X1) // 2, Y1), where a person stands.
The footprint path the grid credits runs from (T_LX, T_LY), where the
footprint was on the previous credited frame (the birth footprint on the
confirmation frame), to (T_FX, T_FY), where it is now.
"""
from __future__ import annotations

import numpy as np

MAX_TRACKS = 64   # default number of slots

# int64 columns
T_ID = 0          # track id: 1, 2, ... in order of birth, never reused by a tracker
T_LIVE = 1        # the slot holds a track
T_X0 = 2          # box, inclusive
T_Y0 = 3
T_X1 = 4
T_Y1 = 5
T_FX = 6          # footprint now
T_FY = 7
T_HITS = 8        # frames matched since birth
T_CONFIRMED = 9   # counts (visits, dwell): see vca.tracks, confirmation
T_MATCHED = 10    # matched on this frame: to its own blob, held in a group or kept standing
T_NEW = 11        # born on this frame
T_BX = 12         # birth footprint
T_BY = 13
T_LX = 14         # footprint on the previous credited frame
T_LY = 15
T_HOLDER = 16     # this frame: slot of the track whose blob hides this one, -1 none
T_PAIR = 17       # slot of the track stacked with this one (torso and legs), -1 none
T_GROUP = 18      # this frame: holds or is held in a group
T_INSIDE = 19     # its whole box has been clear of every frame edge since birth (walked in)
N_INT = 20

# float64 columns
T_BORN = 0        # birth time
T_SEEN = 1        # last matched
T_CREDIT = 2      # seconds to credit on this frame, 0 none
T_VX = 3          # velocity of the box centre, px/s
T_VY = 4
T_PX0 = 5         # predicted box: the last box moved by velocity * seconds since last seen
T_PY0 = 6
T_PX1 = 7
T_PY1 = 8
T_HELD = 9        # since when held alike with its holder, -1 not held
T_PAIRED = 10     # since when stacked with the same partner, -1 none
T_OX = 11         # velocity out of the last frame edge touched (fading after leaving it)
T_OY = 12
T_REAL = 13       # last matched to a blob of its own or held in a group (not kept standing)
T_TALL = 14       # the box's recent tallest height (fading)
N_FLOAT = 15


def new_tables(max_tracks: int = MAX_TRACKS) -> tuple[np.ndarray, np.ndarray]:
    """Empty (tr, trf) for max_tracks slots: no live track."""
    return np.zeros((max_tracks, N_INT), np.int64), np.zeros((max_tracks, N_FLOAT), np.float64)
