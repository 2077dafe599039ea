"""Dev tool: record an archive from looped clips, as a recorder would have left it.

Each channel's clip is replayed in loops with continuous timestamps and cut
into files, laid out as `nvr reanalyze --archive` reads them
(``OUT/ch<NN>/<YYYY-MM-DD>T<HH-MM-SS>.mp4``), or listed in a manifest
(``OUT/manifest.csv``) that names one file per distinct piece of content:
when the file length is a whole number of loops every hour of a looped clip
is the same bytes, so a week of the demo channels is four files and a
manifest of 672 rows. Packets are remuxed, not re-encoded: the archive
holds the clip's own bitstream, so it decodes to exactly the frames that
`nvr run` analyses when it loops the clip (`loop: true`) from the same
start. A file starts at the first key frame at or after its due time that
lies on a whole second (file names have seconds), so files start on loop
boundaries, or on key frames that fall on whole seconds.

    .venv/bin/python tools/make_archive.py --config data/demo.yaml --start 2026-11-16 \\
        --hours 168 --out /tmp/archive [--file-minutes 60] [--manifest]
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import sys
from fractions import Fraction
from pathlib import Path

import av

ROOT = Path(__file__).resolve().parents[1]


def _packets(clip: str):
    """(stream template info, [(pts, dts, duration, key, bytes)], loop period in time-base units)."""
    with av.open(clip) as c:
        s = c.streams.video[0]
        packets = [(p.pts, p.dts, p.duration, p.is_keyframe, bytes(p)) for p in c.demux(s) if p.pts is not None]
        tb = s.time_base
        period = s.duration or max(p[0] + (p[2] or 0) for p in packets) - min(p[0] for p in packets)
    return tb, packets, period


def record(clip: str | Path, out: Path, channel: int, start: dt.datetime, seconds: float, file_seconds: float,
           *, layout: bool = True) -> list[tuple[dt.datetime, Path]]:
    """Loop `clip` for `seconds` from `start` into files of about `file_seconds`; [(start, path)].

    layout=True: every file under out/chNN/, named by its start. layout=False
    (for a manifest): the files must be whole loops and fill `seconds` exactly;
    they are then all the same bytes, written once and listed as often as they recur.
    """
    tb, packets, period = _packets(str(clip))
    end = Fraction(seconds) / tb
    step = Fraction(file_seconds) / tb
    if not layout and (step % period or end % step):
        raise SystemExit(f"{clip}: for a manifest, files must be whole loops ({float(period * tb):g} s) "
                         "and the recording whole files")
    folder = out / f"ch{channel:02d}"
    folder.mkdir(parents=True, exist_ok=True)
    files: list[tuple[dt.datetime, Path]] = []
    writer = None  # (container, stream, time of its first packet)
    due = Fraction(0)
    with av.open(str(clip)) as src:
        template = src.streams.video[0]
        try:
            for t, d, duration, key, data in _looped(packets, period):
                on_second = key and (t * tb).denominator == 1
                if (on_second and t >= end) or t >= end + period:
                    break
                if on_second and t >= due:
                    if writer is not None:
                        writer[0].close()
                        writer = None
                    if not layout and files:  # the rest are the same bytes again: list them
                        files += [(start + dt.timedelta(seconds=float(k * step * tb)), files[0][1])
                                  for k in range(len(files), int(end / step))]
                        break
                    begin = start + dt.timedelta(seconds=float(t * tb))
                    path = folder / f"{begin:%Y-%m-%dT%H-%M-%S}.mp4"
                    container = av.open(str(path), "w")
                    writer = (container, container.add_stream_from_template(template), t)
                    files.append((begin, path))
                    due = (t // step + 1) * step
                if writer is None:
                    continue
                container, stream, t0 = writer
                packet = av.Packet(data)
                packet.stream, packet.time_base = stream, tb
                packet.pts, packet.dts, packet.duration = int(t - t0), int(d - t0), duration
                packet.is_keyframe = key
                container.mux(packet)
        finally:
            if writer is not None:
                writer[0].close()
    return files


def _looped(packets, period):
    """Every packet of every loop in order: (pts, dts) counted from the clip's first pts, duration, key, data."""
    first = min(p[0] for p in packets)
    k = 0
    while True:
        for pts, dts, duration, key, data in packets:
            yield pts - first + k * period, dts - first + k * period, duration, key, data
        k += 1


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(ROOT))
    from firmware.config import load_config

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, required=True, help="the channels whose (looped) sources to record")
    ap.add_argument("--start", required=True, help="appliance time of the first frame, ISO 8601")
    ap.add_argument("--hours", type=float, required=True, help="how long to record")
    ap.add_argument("--out", type=Path, required=True, help="archive directory")
    ap.add_argument("--file-minutes", type=float, default=60.0, help="length of each file (60)")
    ap.add_argument("--manifest", action="store_true",
                    help="write OUT/manifest.csv and each distinct file once, instead of the directory layout")
    args = ap.parse_args(argv)
    config = load_config(args.config)
    start = dt.datetime.fromisoformat(args.start)
    rows = []
    for ch in config.channels:
        files = record(config.resolve_source(ch.source), args.out, ch.id, start, args.hours * 3600,
                       args.file_minutes * 60, layout=not args.manifest)
        rows += [(ch.id, f"{begin:%Y-%m-%dT%H:%M:%S}", path.relative_to(args.out)) for begin, path in files]
        print(f"ch{ch.id:02d}: {len(files)} recordings, {len({p for _, p in files})} files")
    if args.manifest:
        with open(args.out / "manifest.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["channel", "start", "path"])
            w.writerows(rows)
        print(f"manifest: {args.out / 'manifest.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
