"""Tracks: stable ids across motion, occlusion, fragmentation and merges; flicker never confirmed."""
from __future__ import annotations

import numpy as np
import pytest

from vca.blobs import BlobFinder
from vca.track_table import T_FX, T_FY, T_ID, T_LIVE
from vca.tracks import Tracker

H, W = 120, 160
DT = 0.04


class Scene:
    def __init__(self, **kw):
        self.blobs = BlobFinder(H, W)
        self.tracker = Tracker(**kw)

    def frame(self, now, *boxes, ghost=None):
        self.blobs.image[:] = 0
        for x, y, w, h in boxes:
            self.blobs.image[y:y + h, x:x + w] = 1
        n = self.blobs.find(1)
        return self.tracker.update(self.blobs.stats, n, now, ghost)


def test_walker_keeps_one_id_and_footprint_follows_the_feet():
    s = Scene()
    for f in range(80):
        s.frame(f * DT, (10 + f, 20, 12, 30))
    assert s.tracker.live_ids() == [1] and s.tracker.confirmed_ids() == [1]
    row = s.tracker.tr[s.tracker.tr[:, T_LIVE] == 1][0]
    assert (row[T_FX], row[T_FY]) == (10 + 79 + 5, 49)


def test_fast_walker_without_overlap_is_kept_by_the_footprint_gate():
    s = Scene()
    for f in range(20):                          # 14 px per frame, box 12 wide: no overlap
        s.frame(f * 0.2, (5 + 14 * (f % 10), 20, 12, 30))
        if f == 9:
            assert s.tracker.live_ids() == [1]
    # the jump back across the frame (126 px) is outside the gate: a new target
    assert s.tracker.live_ids()[-1] > 1


def test_flicker_is_never_confirmed():
    s = Scene()
    for f in range(100):
        boxes = [(60, 60, 10, 10)] if f % 10 == 0 else []
        assert s.frame(f * DT, *boxes) == 0
    assert s.tracker.confirmed_ids() == []


def test_fragments_of_one_person_stay_one_target():
    s = Scene()
    for f in range(60):
        x = 20 + f
        if 20 <= f < 40:                          # torso and legs segmented apart by a 4 px gap
            s.frame(f * DT, (x, 20, 12, 16), (x + 2, 40, 8, 10))
        else:
            s.frame(f * DT, (x, 20, 12, 30))
        assert len(s.tracker.live_ids()) == 1
        if 20 <= f < 40:
            row = s.tracker.tr[s.tracker.tr[:, T_LIVE] == 1][0]
            assert row[T_FY] == 49                # footprint at the legs, not under the torso


def test_legs_further_below_the_torso_than_the_margin_stay_with_the_person():
    # sub-stream walker (5 fps): the model loses the belly, leaving a thin torso far above
    # the legs (gap 10 px, 30 % of the person), then only the legs for two frames
    s = Scene()
    x, f = 140, 0
    for f in range(10):
        s.frame(f * 0.2, (x - 7 * f, 81, 15, 35))
    x -= 7 * 10
    s.frame(2.0, (x, 81, 15, 6), (x + 9, 97, 4, 19))
    assert s.tracker.live_ids() == [1]
    row = s.tracker.tr[s.tracker.tr[:, T_LIVE] == 1][0]
    assert row[T_FY] == 115                      # footprint stays at the feet
    for k in (1, 2):
        s.frame(2.0 + 0.2 * k, (x - 7 * k, 92, 10, 24))
        assert s.tracker.live_ids() == [1]


def test_person_split_in_two_from_the_first_frame_is_one_target():
    # the legs start their own track on the first frame (8 px below the torso, beyond the
    # fragment margin); once the gap closes to 4 px they are joined before either is confirmed
    s = Scene()
    confirmed = set()
    for f in range(60):
        x = 20 + f
        torso = (x, 20, 12, 16) if f == 0 else (x, 20, 12, 20)
        s.frame(f * DT, torso, (x + 2, 44, 8, 10))
        confirmed.update(s.tracker.confirmed_ids())
    assert confirmed == {1}
    row = s.tracker.tr[s.tracker.tr[:, T_LIVE] == 1][0]
    assert row[T_FY] == 53                       # footprint at the legs


def test_crossing_walkers_keep_their_ids():
    s = Scene()
    for f in range(70):                           # head-on at 1 px/frame: one blob for ~10 frames
        s.frame(f * DT, (20 + f, 40, 10, 30), (110 - f, 40, 10, 30))
        assert len(s.tracker.live_ids()) <= 2
    assert s.tracker.confirmed_ids() == [1, 2]
    rows = s.tracker.tr[s.tracker.tr[:, T_LIVE] == 1]
    by_id = {int(r[T_ID]): int(r[T_FX]) for r in rows}
    assert by_id[1] > by_id[2]                    # id 1 walked right, id 2 left: not swapped


def test_people_meeting_and_standing_together_stay_two():
    s = Scene()
    for f in range(20):                           # approach at 1 px/frame
        s.frame(f * DT, (20 + f, 40, 10, 30), (80 - f, 40, 10, 30))
    for f in range(20, 120):                      # 4 s as one blob, standing
        s.frame(f * DT, (39, 40, 32, 30))
    assert s.tracker.confirmed_ids() == [1, 2]
    for f in range(120, 160):                     # part again
        k = f - 120
        s.frame(f * DT, (39 - k, 40, 10, 30), (61 + k, 40, 10, 30))
    assert s.tracker.live_ids() == [1, 2]


def test_one_person_seen_as_two_tracks_becomes_one():
    s = Scene()
    for f in range(20):                           # torso and legs 10 px apart (> margin), moving together
        s.frame(f * DT, (10 + f, 20, 12, 16), (12 + f, 46, 8, 10))
    assert s.tracker.confirmed_ids() == [1, 2]
    for f in range(20, 60):                       # 1.6 s reunited (> MERGE_SECONDS)
        s.frame(f * DT, (10 + f, 20, 12, 36))
    assert s.tracker.live_ids() == [1]


def test_stacked_tracks_moving_alike_merge_into_the_older():
    s = Scene()
    for f in range(20):
        s.frame(f * DT, (10 + f, 20, 12, 16), (12 + f, 46, 8, 10))
    for f in range(20, 60):                       # gap narrows to 2 px but the pieces stay apart
        s.frame(f * DT, (10 + f, 20, 12, 16), (12 + f, 38, 8, 10))
    assert s.tracker.live_ids() == [1]
    row = s.tracker.tr[s.tracker.tr[:, T_LIVE] == 1][0]
    assert row[T_FY] == 47                        # the survivor's footprint is at the legs


def test_something_appearing_in_place_is_never_confirmed():
    s = Scene()
    for f in range(100):                          # a ghost or a dropped bag: never moves
        assert s.frame(f * DT, (60, 60, 12, 30)) == 0
    assert s.tracker.live_ids() == [1] and s.tracker.confirmed_ids() == []


@pytest.mark.parametrize("share, confirmed", [(0.0, [1]), (0.9, [])])
def test_ghost_growing_legs_is_confirmed_only_if_its_outline_is_the_frames(share, confirmed):
    # a ghost's torso, then its legs join: the footprint jumps 14 px (> 0.3 of the box),
    # which looks like walking; only the outline evidence tells a ghost (0.9) from a person
    s = Scene()
    ghost = np.full(s.tracker.max_tracks, share)
    for f in range(60):
        boxes = [(60, 40, 12, 16)] + ([(60, 58, 12, 14)] if f >= 10 else [])
        s.frame(f * DT, *boxes, ghost=ghost)
    assert s.tracker.confirmed_ids() == confirmed


def test_newcomer_crossing_below_a_walker_is_not_taken_as_its_legs():
    # sub-stream crossing (5 fps): B enters at the left edge walking right, just below A
    # walking left; A's box grown by the fragment margin touches B's blob, but B would make
    # A more than twice as tall as it has been: B stays a target of its own
    s = Scene()
    confirmed = set()
    for f in range(22):
        boxes = [(120 - 6 * f, 10, 11, 30)]
        if f >= 14:
            boxes.append((6 * (f - 14), 44, 13, 36))
        s.frame(f * 0.2, *boxes)
        confirmed.update(s.tracker.confirmed_ids())
    assert len(confirmed) == 2


def test_table_full_drops_new_blobs_without_error():
    s = Scene(max_tracks=3)
    boxes = [(10 + 30 * k, 10, 10, 10) for k in range(5)]
    for f in range(5):
        s.frame(f * DT, *boxes)
    assert s.tracker.live_ids() == [1, 2, 3]
    assert (s.tracker.tr[:, T_ID] > 0).all()


def test_ids_are_never_reused():
    s = Scene()
    seen = []
    for f in range(300):
        boxes = [(20, 20, 10, 20)] if (f // 50) % 2 == 0 else []
        s.frame(f * DT, *boxes)
        seen.extend(s.tracker.live_ids())
    assert sorted(set(seen)) == [1, 2, 3]
    assert np.all(np.diff([i for i in seen]) >= 0)


def test_newcomer_in_two_pieces_is_one_track():
    s = Scene()
    for f in range(10):
        s.frame(f * DT, (40, 20, 12, 16), (42, 38, 8, 10))   # 2-row gap < 16 / 4
    assert s.tracker.live_ids() == [1]


def test_walker_leaving_at_an_edge_is_not_the_newcomer_entering_there():
    s = Scene(height=H, width=W)
    for f in range(40):                           # walks out of the right edge at 75 px/s
        x = 100 + 3 * f
        s.frame(f * DT, (x, 20, min(12, W - x), 30) if x < W else (0, 0, 0, 0))
    first = s.tracker.confirmed_ids()
    for f in range(40, 80):                       # 0.2 s later someone walks in there
        x = W - 3 * (f - 40)
        s.frame(f * DT, (max(x, 0), 24, min(12, W - x), 30))
    assert first == [] or s.tracker.confirmed_ids() != first
    assert s.tracker.confirmed_ids() and s.tracker.confirmed_ids()[0] > 1


def test_walker_handing_over_at_the_edge_to_a_newcomer_in_one_blob_is_two_targets():
    s = Scene(height=H, width=W)
    ids = set()
    for f in range(90):
        boxes = []
        xo = 90 + 3 * f                           # walking out to the right...
        if xo < W:
            boxes.append((xo, 20, min(12, W - xo), 30))
        if f >= 20:                               # ...while someone comes in there, overlapping
            xi = W - 3 * (f - 20)
            boxes.append((max(xi, 0), 30, min(12, W - max(xi, 0)), 30))
        s.frame(f * DT, *boxes)
        ids.update(s.tracker.confirmed_ids())
    assert len(ids) == 2


def twin_protect(tr, trf, share, max_share, max_speed, w, margin, shape):
    """Pure NumPy twin of _protect_targets: a 0/1 image of the marked pixels."""
    from vca.track_table import T_CONFIRMED, T_VX, T_VY, T_X0, T_X1, T_Y0, T_Y1
    img = np.zeros(shape, np.uint8)
    for t in range(tr.shape[0]):
        if not tr[t, T_LIVE] or not tr[t, T_CONFIRMED] or share[t] > max_share:
            continue
        size = max(tr[t, T_X1] - tr[t, T_X0] + 1, tr[t, T_Y1] - tr[t, T_Y0] + 1)
        if np.hypot(trf[t, T_VX], trf[t, T_VY]) > max_speed * size:
            continue
        img[max(tr[t, T_Y0] - margin, 0):tr[t, T_Y1] + margin + 1,
            max(tr[t, T_X0] - margin, 0):min(tr[t, T_X1] + margin, w - 1) + 1] = 1
    return img


def test_protected_pixels_are_still_confirmed_targets_whose_outline_is_theirs():
    s = Scene(height=H, width=W)
    for f in range(60):                           # one walks up to x=70 and stands, one keeps walking
        s.frame(f * DT, (10 + min(f, 60 // 2) * 2, 20, 12, 30), (150 - 2 * f, 70, 10, 30))
    tr, trf = s.tracker.tr, s.tracker.trf
    bits = np.zeros((H, 3), np.uint64)
    for share in (np.zeros(tr.shape[0]), np.where(tr[:, T_ID] == 1, 0.9, 0.0)):
        n = s.tracker.protect(share, 0.5, 0.3, W, 3, bits)
        got = np.unpackbits(bits.view(np.uint8), axis=1, bitorder="little")[:, :W]
        want = twin_protect(tr, trf, share, 0.5, 0.3, W, 3, (H, W))
        assert np.array_equal(got, want)
        # the stander is marked unless its outline is the model's (a ghost); the walker never
        assert n == (1 if share.max() == 0 else 0)
