"""A recorder's archive: which recordings of which channel cover which appliance time.

Two ways to name the recordings (`load_archive(SPEC)`):

- a directory laid out as ``SPEC/ch<NN>/<YYYY-MM-DD>T<HH-MM-SS>.<ext>``: one
  folder per channel (``ch01``, ``ch12``, ``ch128``), one file per recording
  named after the appliance time of its first frame; any container PyAV
  opens (mp4, mkv, ts, ...);
- a manifest file, YAML (``.yaml``/``.yml``: a list of ``{channel, start,
  path}``, or that list under ``recordings:``) or CSV (``.csv``: a header row
  with ``channel,start,path``); ``start`` is ISO 8601 on the appliance clock
  (an offset is dropped, as for ``nvr run --start``), a relative ``path`` is
  found next to the manifest.

Every recording is probed (container header only, no decoding) for its
length. A file that cannot be opened or has no video is left out with one
line in `Archive.problems`; a layout or manifest that cannot be read at all
is an `ArchiveError`.

TIMELINE. Per channel, recordings are laid end to end by start time. A
recording starting more than TOLERANCE after the previous one ends leaves a
gap (`Archive.gaps`); one starting more than TOLERANCE before it ends
overlaps (`Archive.overlaps`): the earlier recording is played to its end
and the later one from there on (one lying wholly inside the earlier is not
used). Within TOLERANCE (file names have whole seconds) the two just abut.
"""
from __future__ import annotations

import bisect
import csv
import datetime as dt
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from firmware.clock import ClockError, format_clock, parse_start, to_clock
from hal.playback import Segment

TOLERANCE = 1.0          # seconds of mismatch between one recording's end and the next one's start
PROBE_THREADS = 8        # files probed at once (opening is mostly waiting for the disk)
MANIFEST_KEYS = ("channel", "start", "path")

_CHANNEL_DIR = re.compile(r"^ch(\d{1,3})$")
_FILE_NAME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2})-(\d{2})-(\d{2})\.[A-Za-z0-9]+$")


class ArchiveError(ValueError):
    """The archive cannot be read at all; one line for the user."""


@dataclass(frozen=True, slots=True)
class Recording:
    """One recorded file of one channel."""

    channel: int
    start: float             # appliance clock of its first frame
    path: str
    duration: float = 0.0    # seconds, from the container (0 until probed)
    fps: float = 0.0
    size: int = 0            # bytes and modification time: what says the file is the same one
    mtime_ns: int = 0

    @property
    def end(self) -> float:
        return self.start + self.duration


@dataclass(frozen=True, slots=True)
class Piece:
    """The part [begin, end) of a recording that the timeline plays."""

    recording: Recording
    begin: float
    end: float


@dataclass(slots=True)
class Archive:
    """Per channel, the recordings laid end to end (see TIMELINE)."""

    spec: str
    timelines: dict[int, list[Piece]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)     # one line per file left out
    gaps: dict[int, list[tuple[float, float]]] = field(default_factory=dict)
    overlaps: dict[int, list[tuple[float, float, str, str]]] = field(default_factory=dict)  # begin, end, earlier, later
    files: dict[int, int] = field(default_factory=dict)       # recordings listed, readable or not
    unreadable: dict[int, int] = field(default_factory=dict)
    _ends: dict[int, list[float]] = field(default_factory=dict, repr=False)

    @property
    def channels(self) -> list[int]:
        return sorted(set(self.timelines) | set(self.files))

    def extent(self, channels: list[int] | None = None) -> tuple[float, float] | None:
        """(first recorded time, end of the last recording) over `channels` (default all)."""
        found = [p for ch, t in self.timelines.items() if channels is None or ch in channels for p in t]
        if not found:
            return None
        return min(p.begin for p in found), max(p.end for p in found)

    def recorded(self, channel: int, begin: float, end: float) -> float:
        """Seconds of [begin, end) the channel's recordings cover."""
        return sum(min(p.end, end) - max(p.begin, begin) for p in self.pieces(channel, begin, end))

    def segments(self, channel: int, begin: float, end: float) -> tuple[Segment, ...]:
        """What to play for [begin, end) of the channel, in time order."""
        return tuple(Segment(p.recording.path, p.recording.start, max(p.begin, begin), min(p.end, end))
                     for p in self.pieces(channel, begin, end))

    def pieces(self, channel: int, begin: float, end: float) -> list[Piece]:
        """The pieces overlapping [begin, end); a timeline is sorted and does not overlap itself."""
        pieces = self.timelines.get(channel, [])
        ends = self._ends.get(channel)
        if ends is None or len(ends) != len(pieces):
            ends = self._ends[channel] = [p.end for p in pieces]
        out = []
        for k in range(bisect.bisect_right(ends, begin), len(pieces)):
            if pieces[k].begin >= end:
                break
            out.append(pieces[k])
        return out


# --------------------------------------------------------------------------- loading


def load_archive(spec: str | os.PathLike, channels: list[int] | None = None) -> Archive:
    """Read the directory layout or manifest at `spec`, probe the recordings of
    `channels` (default all) and lay them out (module docstring)."""
    path = Path(spec)
    if path.is_dir():
        listed, problems = _scan_layout(path)
    elif path.is_file():
        suffix = path.suffix.lower()
        if suffix in (".yaml", ".yml"):
            listed = _read_yaml(path)
        elif suffix == ".csv":
            listed = _read_csv(path)
        else:
            raise ArchiveError(f"--archive {spec}: a manifest must be .yaml, .yml or .csv "
                               "(or give a directory laid out as ch<NN>/<YYYY-MM-DD>T<HH-MM-SS>.<ext>)")
        problems = []
    else:
        raise ArchiveError(f"--archive {spec}: no such directory or manifest file")
    if channels is not None:
        listed = [r for r in listed if r.channel in channels]
    archive = Archive(spec=str(spec), problems=problems)
    probed = _probe_all(listed)
    by_channel: dict[int, list[Recording]] = {}
    for rec, error in probed:
        archive.files[rec.channel] = archive.files.get(rec.channel, 0) + 1
        if error is not None:
            archive.unreadable[rec.channel] = archive.unreadable.get(rec.channel, 0) + 1
            archive.problems.append(f"{rec.path}: {error}; skipped")
            continue
        by_channel.setdefault(rec.channel, []).append(rec)
    for ch, recs in sorted(by_channel.items()):
        _lay_out(archive, ch, recs)
    return archive


def _scan_layout(root: Path) -> tuple[list[Recording], list[str]]:
    listed: list[Recording] = []
    problems: list[str] = []
    for entry in sorted(root.iterdir()):
        if entry.name.startswith("."):
            continue
        m = _CHANNEL_DIR.match(entry.name)
        if not m or not entry.is_dir() or not 1 <= int(m.group(1)) <= 256:
            problems.append(f"{entry}: not a channel folder ch<NN> (01..256); ignored")
            continue
        channel = int(m.group(1))
        for f in sorted(entry.iterdir()):
            if f.name.startswith("."):
                continue
            fm = _FILE_NAME.match(f.name)
            start = _name_time(fm) if fm else None
            if start is None or not f.is_file():
                problems.append(f"{f}: not named <YYYY-MM-DD>T<HH-MM-SS>.<ext>; ignored")
                continue
            listed.append(Recording(channel, start, str(f)))
    return listed, problems


def _name_time(m: re.Match) -> float | None:
    try:
        return to_clock(dt.datetime(*map(int, m.groups())))
    except ValueError:  # 2026-02-30T25-00-00
        return None


def _read_yaml(path: Path) -> list[Recording]:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ArchiveError(f"{path}: cannot read: {e.strerror}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise ArchiveError(f"{path}: not valid YAML{f' at line {mark.line + 1}' if mark else ''}") from None
    if isinstance(doc, dict) and set(doc) == {"recordings"}:
        doc = doc["recordings"]
    if not isinstance(doc, list):
        raise ArchiveError(f"{path}: must be a list of {{channel, start, path}} (or that list under 'recordings:')")
    out = []
    for i, item in enumerate(doc):
        where = f"{path.name}: recordings[{i}]"
        if not isinstance(item, dict):
            raise ArchiveError(f"{where}: must be a mapping with channel, start and path")
        out.append(_entry(item, where, path.parent))
    return out


def _read_csv(path: Path) -> list[Recording]:
    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
    except OSError as e:
        raise ArchiveError(f"{path}: cannot read: {e.strerror}") from None
    except (csv.Error, UnicodeDecodeError) as e:
        raise ArchiveError(f"{path}: not a CSV file ({e})") from None
    if not rows:
        raise ArchiveError(f"{path}: empty; the first row must name the columns channel,start,path")
    header = [h.strip().lower() for h in rows[0]]
    if sorted(header) != sorted(MANIFEST_KEYS):
        raise ArchiveError(f"{path.name}: line 1: the columns must be {','.join(MANIFEST_KEYS)} "
                           f"(in any order), not {','.join(header)}")
    out = []
    for n, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise ArchiveError(f"{path.name}: line {n}: {len(row)} columns, the header has {len(header)}")
        out.append(_entry(dict(zip(header, (c.strip() for c in row))), f"{path.name}: line {n}", path.parent))
    return out


def _entry(item: dict, where: str, base: Path) -> Recording:
    unknown = sorted(set(item) - set(MANIFEST_KEYS))
    if unknown:
        raise ArchiveError(f"{where}: unknown key {unknown[0]!r} (allowed: {', '.join(MANIFEST_KEYS)})")
    missing = [k for k in MANIFEST_KEYS if k not in item]
    if missing:
        raise ArchiveError(f"{where}: {missing[0]} missing (each recording needs channel, start and path)")
    channel = item["channel"]
    try:
        channel = int(channel) if not isinstance(channel, bool) else None
    except (TypeError, ValueError):
        channel = None
    if channel is None or not 1 <= channel <= 256:
        raise ArchiveError(f"{where}: channel: {item['channel']!r} is not a channel number 1..256")
    start = item["start"]
    if isinstance(start, dt.datetime):  # YAML reads an unquoted timestamp itself
        start = to_clock(start.replace(tzinfo=None))
    elif isinstance(start, dt.date):
        start = to_clock(dt.datetime.combine(start, dt.time()))
    else:
        try:
            start = parse_start(str(start))
        except ClockError:
            raise ArchiveError(f"{where}: start: {item['start']!r} is not an ISO 8601 time "
                               "such as 2026-11-24T08:00:00") from None
    path = item["path"]
    if not isinstance(path, str) or not path.strip():
        raise ArchiveError(f"{where}: path: {path!r} must name a recording")
    full = Path(path) if os.path.isabs(path) else base / path
    return Recording(channel, start, str(full))


# --------------------------------------------------------------------------- probing


def probe(rec: Recording) -> Recording:
    """`rec` with its length, frame rate, size and mtime; raises ArchiveError (one line) if unreadable."""
    import av

    try:
        st = os.stat(rec.path)
    except OSError as e:
        raise ArchiveError(f"cannot read ({e.strerror})") from None
    try:
        container = av.open(rec.path, mode="r")
    except Exception as e:  # any FFmpeg/OS failure to open is the same to the user
        raise ArchiveError(f"cannot open ({_one_line(e)})") from None
    try:
        if not container.streams.video:
            raise ArchiveError("no video stream")
        stream = container.streams.video[0]
        if stream.codec_context is None or not stream.codec_context.width:
            raise ArchiveError("video stream has no decoder or no frame size")
        rate = stream.average_rate or stream.guessed_rate
        fps = float(rate) if rate and 1.0 <= float(rate) <= 1000.0 else 25.0
        duration = float(stream.duration * stream.time_base) if stream.duration else 0.0
        if duration <= 0:
            duration = _demuxed_length(container, stream, fps)
        if duration <= 0:
            raise ArchiveError("no frames")
    except ArchiveError:
        raise
    except Exception as e:
        raise ArchiveError(f"cannot read ({_one_line(e)})") from None
    finally:
        container.close()
    return replace(rec, duration=duration, fps=fps, size=st.st_size, mtime_ns=st.st_mtime_ns)


def _demuxed_length(container, stream, fps: float) -> float:
    """Length from the packets' timestamps, for containers whose header has none (MPEG-TS)."""
    first = last = None
    for packet in container.demux(stream):
        if packet.pts is None:
            continue
        t = float(packet.pts * stream.time_base)
        first = t if first is None else min(first, t)
        last = t if last is None else max(last, t)
    return 0.0 if first is None else last - first + 1.0 / fps


def _probe_all(listed: list[Recording]) -> list[tuple[Recording, str | None]]:
    """Each listed recording probed, or the reason it cannot be read; a file listed
    several times (a manifest may) is opened once."""
    def one(path: str) -> tuple[Recording | None, str | None]:
        try:
            return probe(Recording(0, 0.0, path)), None
        except ArchiveError as e:
            return None, str(e)
    paths = sorted({r.path for r in listed})
    if len(paths) < 2:
        found = dict(zip(paths, map(one, paths)))
    else:
        with ThreadPoolExecutor(PROBE_THREADS) as pool:
            found = dict(zip(paths, pool.map(one, paths)))
    out = []
    for rec in listed:
        probed, error = found[rec.path]
        out.append((rec, error) if probed is None else
                   (replace(probed, channel=rec.channel, start=rec.start), None))
    return out


def _lay_out(archive: Archive, channel: int, recs: list[Recording]) -> None:
    pieces: list[Piece] = []
    gaps: list[tuple[float, float]] = []
    overlaps: list[tuple[float, float, str, str]] = []
    cursor: float | None = None
    last: Recording | None = None
    for rec in sorted(recs, key=lambda r: (r.start, r.path)):
        begin = rec.start
        if cursor is not None:
            if rec.start > cursor + TOLERANCE:
                gaps.append((cursor, rec.start))
            elif rec.start < cursor - TOLERANCE:
                overlaps.append((rec.start, min(cursor, rec.end), last.path, rec.path))
            begin = max(rec.start, cursor)
        if rec.end - begin <= 0:
            continue  # wholly inside the earlier recording
        pieces.append(Piece(rec, begin, rec.end))
        if cursor is None or rec.end > cursor:
            cursor, last = rec.end, rec
    archive.timelines[channel] = pieces
    if gaps:
        archive.gaps[channel] = gaps
    if overlaps:
        archive.overlaps[channel] = overlaps


def describe_gap(channel: int, gap: tuple[float, float]) -> str:
    b, e = gap
    return f"ch{channel:02d}: gap {format_clock(b)} - {format_clock(e)} ({_span(e - b)} not recorded)"


def describe_overlap(channel: int, overlap: tuple[float, float, str, str]) -> str:
    b, e, earlier, later = overlap
    return (f"ch{channel:02d}: overlap {format_clock(b)} - {format_clock(e)} ({_span(e - b)} recorded twice): "
            f"{Path(later).name} is used from where {Path(earlier).name} ends")


def _span(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _one_line(e: BaseException) -> str:
    strerror = getattr(e, "strerror", None)
    if strerror:
        return strerror
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__
