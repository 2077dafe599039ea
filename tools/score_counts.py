"""Dev script: visits and dwell of ChannelAnalyzer against the truth.

Sample channels (data/samples): default parameters, each clip's suggested
region, measured vs tests/truth.area_truth. Shared real sequences
(../shared/data/sequences, whole frame as area): visits and dwell with the
real background model next to the same analyzer fed the ground-truth masks
(what a perfect foreground would give). Nothing here is shipped.

    .venv/bin/python tools/score_counts.py [--samples NAME ...] [--no-sequences] [--tracks]

Replays carry no outline evidence (no frame or learned background), so the
tracker's ghost gate is off there: a ghost the real run refuses can count
(sub-stream lights 7 here, 6 in tests/test_accuracy_samples.py; ibm_lobby 4
vs 3). The tests are the measure; this tool is for tracker diagnostics.

Foreground is cached in /tmp/score_counts (packed bits, keyed by clip and
the model source) so tracker changes can be re-scored in seconds.
"""
from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests import sequences  # noqa: E402
from tests.clips import decoded_luma  # noqa: E402
from tests.truth import area_truth, load_truth  # noqa: E402
from vca.analyzer import SCENE_CHANGE, SETTLING, ChannelAnalyzer  # noqa: E402
from vca.params import HeatMapParams  # noqa: E402
from vca.track_table import T_CONFIRMED, T_ID, T_LIVE, T_MATCHED, T_X0, T_X1, T_Y0, T_Y1  # noqa: E402

SAMPLES = ROOT / "data" / "samples"
CACHE = Path("/tmp/score_counts")
WHOLE = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]


class Replay:
    """BackgroundModel stand-in that replays recorded foreground masks and flags."""

    def __init__(self, masks, flags):
        self.masks, self.flags, self.i = masks, flags, 0
        self.background = np.zeros(masks.shape[1:], np.uint8)

    def set_params(self, params):
        pass

    def apply(self, luma, t, area_mask, fg_out):
        np.multiply(self.masks[self.i], area_mask, out=fg_out)
        f = int(self.flags[self.i])
        self.i += 1
        return f


def _model_key() -> str:
    # the tracker feeds back into the model (protected targets): every stage is part of the key
    src = b"".join(p.read_bytes() for p in sorted((ROOT / "vca").glob("*.py")))
    return hashlib.sha1(src).hexdigest()[:10]


def recorded(name: str, path: Path, region) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Real model's cleaned foreground (N,H,W) 0/1, flags (N,), times (N,) for a clip and region."""
    key = hashlib.sha1(repr(region).encode()).hexdigest()[:6]
    f = CACHE / f"{name}-{_model_key()}-{key}.npz"
    if f.exists():
        z = np.load(f)
        return np.unpackbits(z["bits"], axis=-1)[..., :int(z["w"])], z["flags"], z["t"]
    masks, flags, ts = [], [], []
    a = None
    shares = {}
    for luma, t in decoded_luma(path):
        if a is None:
            a = ChannelAnalyzer(*luma.shape)
            a.configure([region], HeatMapParams())
        a.step(luma, t)
        tr = a.tracker.tr
        for j in np.flatnonzero((tr[:, T_LIVE] != 0) & (tr[:, T_CONFIRMED] != 0)):
            shares.setdefault(int(tr[j, T_ID]), []).append(round(float(a._evidence.share[j]), 2))
        masks.append(np.packbits(a.foreground, axis=-1))
        flags.append((SCENE_CHANGE if a.scene_change else 0) | (SETTLING if a.settling else 0))
        ts.append(t)
    print("   ghost share per confirmed track (every 25th frame):",
          {k: v[::25] for k, v in shares.items()})
    CACHE.mkdir(exist_ok=True)
    bits = np.stack(masks)
    np.savez(f, bits=bits, flags=np.array(flags), t=np.array(ts), w=a.width)
    return np.unpackbits(bits, axis=-1)[..., :a.width], np.array(flags), np.array(ts)


def replay(masks, flags, ts, region, show_tracks=False, truth=None):
    """Totals of an analyzer fed recorded masks; with show_tracks, print each confirmed track's
    frame span and, given the clip's truth, which track covered which true target when."""
    n, h, w = masks.shape
    a = ChannelAnalyzer(h, w, model=Replay(masks, flags))
    a.configure([region], HeatMapParams())
    seen = {}
    boxes = []   # per frame: [(id, x0, y0, x1, y1)] of confirmed matched tracks (x1, y1 inclusive)
    for i in range(n):
        a.step(masks[i], ts[i])
        if show_tracks:
            tr = a.tracker.tr
            on = (tr[:, T_LIVE] != 0) & (tr[:, T_CONFIRMED] != 0)
            for j in np.flatnonzero(on):
                seen.setdefault(int(tr[j, T_ID]), [i, i])[1] = i
            on &= tr[:, T_MATCHED] != 0
            boxes.append([tuple(int(v) for v in tr[j, [T_ID, T_X0, T_Y0, T_X1, T_Y1]]) for j in np.flatnonzero(on)])
    g = a.drain()
    if show_tracks:
        print("   confirmed tracks (id: first..last frame):", {k: tuple(v) for k, v in seen.items()})
        if truth is not None:
            print_assignment(truth, boxes, w / truth["width"])
    return g


def print_assignment(truth, boxes, scale):
    """Per true target, runs of the track covering it (largest overlap with its true box; '-' none),
    in the analysed clip's frames; then tracks that covered more than one target."""
    step = max(1, round(truth["frames"] / max(len(boxes), 1)))   # the sub-stream keeps every 5th frame
    covered = {}
    for tgt in truth["targets"]:
        runs = []
        for f, x0, y0, x1, y1 in tgt["boxes"]:
            if f % step:
                continue
            k = f // step
            if k >= len(boxes):
                break
            x0, y0, x1, y1 = x0 * scale, y0 * scale, (x1 - 1) * scale, (y1 - 1) * scale
            best, bid = 0.0, "-"
            for tid, bx0, by0, bx1, by1 in boxes[k]:
                iw = min(x1, bx1) - max(x0, bx0) + 1
                ih = min(y1, by1) - max(y0, by0) + 1
                if iw > 0 and ih > 0:
                    ov = iw * ih / ((x1 - x0 + 1) * (y1 - y0 + 1))
                    if ov > best:
                        best, bid = ov, tid
            if bid != "-":
                covered.setdefault(bid, set()).add(tgt["id"])
            if runs and runs[-1][0] == bid:
                runs[-1][2] = k
            else:
                runs.append([bid, k, k])
        print(f"   target {tgt['id']:>2} ({tgt['look']}):",
              " ".join(f"{r[0]}[{r[1]}..{r[2]}]" for r in runs if r[2] - r[1] >= 2 or r[0] != "-"))
    shared = {k: sorted(v) for k, v in covered.items() if len(v) > 1}
    if shared:
        print("   tracks covering several targets:", shared)


def score_samples(names, show_tracks, substream=False):
    print(f"{'clip':12} {'visits':>13} {'dwell s':>17}  err%" + ("   (320x180 5 fps sub-stream)" if substream else ""))
    for name in names:
        truth = load_truth(SAMPLES / f"{name}.truth.json")
        region = [tuple(p) for p in truth["region"]]
        tv, td = area_truth(truth, region)
        path = SAMPLES / "substream" / f"{name}.mp4" if substream else SAMPLES / f"{name}.mp4"
        masks, flags, ts = recorded(name + ("-sub" if substream else ""), path, region)
        g = replay(masks, flags, ts, region, show_tracks, truth)
        print(f"{name:12} {tv:>5} {int(g.area_visits[0]):>6}   {td:8.2f} {g.area_dwell[0]:8.2f}  "
              f"{100 * (g.area_dwell[0] - td) / td:+.1f}")


def score_sequences(show_tracks):
    print(f"{'sequence':14} {'visits gt/real':>15} {'dwell gt/real s':>18}")
    for name in sequences.NAMES:
        seq = sequences.open_sequence(name)
        gt = (seq.masks == 255).astype(np.uint8)
        ts = np.arange(len(gt)) / seq.fps
        masks, flags, _ = recorded(name, seq.video, WHOLE)
        g_gt = replay(gt, np.zeros(len(gt), np.int64), ts, WHOLE, show_tracks)
        g = replay(masks, flags, ts[:len(masks)], WHOLE, show_tracks)
        print(f"{name:14} {g_gt.visits_total:>6} {g.visits_total:>6}   {g_gt.dwell_total:8.1f} {g.dwell_total:8.1f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", nargs="*", default=["corridor", "shop_floor", "entrance", "lights"])
    ap.add_argument("--no-sequences", action="store_true")
    ap.add_argument("--tracks", action="store_true", help="print each confirmed track's frame span")
    ap.add_argument("--substream", action="store_true", help="also the 320x180 5 fps sub-stream clips")
    args = ap.parse_args()
    score_samples(args.samples, args.tracks)
    if args.substream:
        score_samples(args.samples, args.tracks, substream=True)
    if not args.no_sequences and not sequences.missing():
        score_sequences(args.tracks)


if __name__ == "__main__":
    main()
