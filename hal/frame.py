"""Plain data that leaves the capture layer: one frame, and what a stream is."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# FFmpeg's discard levels for a decoder's `skip_loop_filter`, least skipped
# first: the frames whose in-loop deblocking is skipped (noref: frames no other
# frame refers to; bidir: B-frames; nointra: all but intra frames; nokey: all
# but key frames; all: every frame). "none" decodes the picture as encoded.
SKIP_LOOP_FILTER = ("none", "default", "noref", "bidir", "nointra", "nokey", "all")


@dataclass(slots=True)
class Frame:
    """One captured frame, as the analytics see it.

    luma:  uint8 array (H, W) at the channel's analysis size. Rows may be
           strided (a zero-copy view of the decoder's Y plane, whose line
           size can exceed W). Valid only until the next `read()` on the
           same capture: copy it to keep it.
    pts:   stream time in seconds, continuous and increasing across loops
           and reconnects of the same channel.
    wall:  appliance wall-clock time, POSIX seconds (clock start + pts for
           replayed recordings). Statistics are bucketed by this.
    index: frames delivered by this capture since it was created.
    """

    luma: np.ndarray
    pts: float
    wall: float
    index: int


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """What an opened source is: reported at boot and kept for reports."""

    source: str
    codec: str
    width: int            # full source size
    height: int
    fps: float            # nominal frame rate (25.0 when the stream gives none)
    analysis_width: int   # size of Frame.luma after integer-factor downscale
    analysis_height: int
