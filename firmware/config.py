"""The appliance configuration: YAML schema, validation at the edge, atomic save.

Everything a user can get wrong is caught here and reported as one line that
names the file, the key path, the value and what is allowed, e.g.
``demo.yaml: channels[1].heat_map.detection_sensitivity: 140 is out of range 0..100``.
Inside the firmware the dataclasses below are trusted as they are.

Saving writes a temporary file, fsyncs it, keeps the previous version as
``<name>.bak`` and renames the new file into place, so a crash or a kill
during a save leaves either the old or the new file, never a torn one.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import math
import os
import re
import reprlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from firmware import bounded_yaml
from firmware.atomic import replace_file
from firmware.geometry import check_areas, polygon_problem
from hal.frame import SKIP_LOOP_FILTER
from vca.limits import MAX_AREAS
from vca.params import PARAMETER_DEFAULT, PARAMETER_KEYS, PARAMETER_RANGE, HeatMapParams

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_SEGMENTS_PER_DAY = 8   # arming windows a day, as the vendor's schedule allows
MAX_CHANNELS = 256        # channel ids are 1..256
MAX_WINDOWS = 7 * MAX_SEGMENTS_PER_DAY  # schedule windows per channel (one day each at most)
MAX_NAME = 64             # characters of a channel's or the appliance's name
MAX_PATH = 1024           # characters of a source, URL or export directory


class ConfigError(ValueError):
    """A configuration the appliance refuses; the message is one line for the user."""


@dataclass(frozen=True, slots=True)
class ArmWindow:
    """A time of day when the heat map is armed (statistics count), on some weekdays."""

    days: tuple[int, ...]  # 0 = Monday
    start_minute: int      # minutes after midnight, inclusive
    end_minute: int        # exclusive; 1440 = midnight at the end of the day

    def covers(self, weekday: int, minute: int) -> bool:
        return weekday in self.days and self.start_minute <= minute < self.end_minute


@dataclass(frozen=True, slots=True)
class HeatMapConfig:
    enabled: bool = False
    regions: tuple[tuple[tuple[float, float], ...], ...] = ()
    detection_sensitivity: int = 50
    background_update_rate: int = 50
    scene_change_level: int = 50
    minimum_target_size: int = 50
    grid_columns: int = 64
    grid_rows: int | None = None          # None: match the frame's aspect ratio
    schedule: tuple[ArmWindow, ...] = ()  # empty: armed around the clock

    @property
    def params(self) -> HeatMapParams:
        return HeatMapParams(*(getattr(self, k) for k in PARAMETER_KEYS))

    def armed(self, weekday: int, minute: int) -> bool:
        return not self.schedule or any(w.covers(weekday, minute) for w in self.schedule)

    def next_arming(self, day_start: float, weekday: int, after_minute: int) -> float | None:
        """Clock time of the next window start after `after_minute` of the day that
        starts at `day_start` (a weekday), looking a week ahead; None without a schedule."""
        best = None
        for d in range(8):
            for w in self.schedule:
                if (weekday + d) % 7 in w.days and (d > 0 or w.start_minute > after_minute):
                    t = day_start + d * 86400 + w.start_minute * 60
                    best = t if best is None else min(best, t)
            if best is not None:
                return best
        return best


@dataclass(frozen=True, slots=True)
class ChannelConfig:
    id: int
    name: str
    source: str
    loop: bool = False
    analysis_width: int | None = None
    heat_map: HeatMapConfig = field(default_factory=HeatMapConfig)
    # Frames whose in-loop deblocking the decoder skips (hal.capture.SKIP_LOOP_FILTER).
    skip_loop_filter: str = "none"


@dataclass(frozen=True, slots=True)
class ConsoleConfig:
    idle_logout: float = 300.0   # seconds without input before the session logs out
    color: bool = True           # ANSI colour for heat maps; off for plain terminals
    tcp_port: int | None = None  # optional console on 127.0.0.1:PORT


@dataclass(frozen=True, slots=True)
class WebConfig:
    port: int | None = None      # serve the web page and ISAPI on this TCP port; None: off
    bind: str = "127.0.0.1"      # address to listen on (loopback unless the installer opens it)


@dataclass(frozen=True, slots=True)
class ApplianceConfig:
    name: str = "NVR"
    export_device: str | None = None  # directory standing for the USB drive
    status_interval: float = 10.0     # wall seconds between status lines
    checkpoint_interval: float = 60.0 # wall seconds between statistics checkpoints
    video_timeout: float = 5.0        # a source silent this long is VIDEO LOSS
    analytics_share: float = 0.5      # share of the CPU the frame budgets hand out
    console: ConsoleConfig = field(default_factory=ConsoleConfig)
    web: WebConfig = field(default_factory=WebConfig)


@dataclass(frozen=True, slots=True)
class Config:
    channels: tuple[ChannelConfig, ...]
    appliance: ApplianceConfig = field(default_factory=ApplianceConfig)
    path: Path | None = None  # where it was loaded from; relative sources resolve here

    def channel(self, channel_id: int) -> ChannelConfig:
        for ch in self.channels:
            if ch.id == channel_id:
                return ch
        raise KeyError(channel_id)

    def with_channel(self, new: ChannelConfig) -> Config:
        return dataclasses.replace(
            self, channels=tuple(new if ch.id == new.id else ch for ch in self.channels)
        )

    def resolve_source(self, source: str) -> str:
        """A URL as is; a relative path next to the config file, else the working directory."""
        if "://" in source or os.path.isabs(source) or self.path is None:
            return source
        beside = self.path.parent / source
        return str(beside) if beside.exists() else source


# --------------------------------------------------------------------------- loading


def load_config(path: str | os.PathLike) -> Config:
    """Read, parse and validate the file (bounded: see `firmware.bounded_yaml`); ConfigError otherwise."""
    path = Path(path)
    try:
        doc = bounded_yaml.load(bounded_yaml.read_text(path))
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from None
    except bounded_yaml.BoundedYamlError as e:
        raise ConfigError(f"{path}: {e}") from None
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        line = f" at line {where.line + 1}" if where else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"{path}: not valid YAML{line}: {problem}") from None
    try:
        return parse_config(doc, path)
    except ConfigError as e:
        raise ConfigError(f"{path.name}: {e}") from None


def parse_config(doc: Any, path: Path | None = None) -> Config:
    """Validate a decoded YAML document; raises ConfigError naming the key path."""
    top = _Mapping(doc, "", {"channels", "appliance"})
    appliance = _appliance(top.get("appliance", {}), "appliance")
    raw_channels = top.require("channels")
    if not isinstance(raw_channels, list) or not raw_channels:
        raise ConfigError("channels: must be a non-empty list of channels")
    if len(raw_channels) > MAX_CHANNELS:
        raise ConfigError(f"channels: {len(raw_channels)} channels, at most {MAX_CHANNELS} are allowed")
    channels = tuple(_channel(c, f"channels[{i}]") for i, c in enumerate(raw_channels))
    seen: dict[int, int] = {}
    for i, ch in enumerate(channels):
        if ch.id in seen:
            raise ConfigError(f"channels[{i}].id: {ch.id} is already used by channels[{seen[ch.id]}]")
        seen[ch.id] = i
    return Config(channels=channels, appliance=appliance, path=path)


def parse_heat_map(doc: Any, where: str = "heat_map") -> HeatMapConfig:
    """The heat-map section on its own: the menu validates edits with this."""
    m = _Mapping(doc, where, {"enabled", "regions", "grid_columns", "grid_rows", "schedule", *PARAMETER_KEYS})
    regions = m.get("regions", [])
    if not isinstance(regions, list):
        raise ConfigError(f"{m.key('regions')}: must be a list of polygons")
    if len(regions) > MAX_AREAS:
        raise ConfigError(f"{m.key('regions')}: {len(regions)} areas, at most {MAX_AREAS} are allowed")
    grid_rows = m.get("grid_rows", None)
    polygons = tuple(_polygon(r, f"{m.key('regions')}[{i}]") for i, r in enumerate(regions))
    problem, _overlaps = check_areas(polygons)
    if problem:
        raise ConfigError(f"{m.key('regions')}: {problem}")
    return HeatMapConfig(
        enabled=m.boolean("enabled", False),
        regions=polygons,
        **{k: m.integer(k, PARAMETER_DEFAULT, *PARAMETER_RANGE) for k in PARAMETER_KEYS},
        grid_columns=m.integer("grid_columns", 64, 4, 256),
        grid_rows=None if grid_rows is None else m.integer("grid_rows", None, 2, 256),
        schedule=_schedule(m.get("schedule", []), m.key("schedule")),
    )


def _channel(doc: Any, where: str) -> ChannelConfig:
    m = _Mapping(doc, where, {"id", "name", "source", "loop", "analysis_width", "heat_map", "skip_loop_filter"})
    ch_id = m.integer("id", None, 1, MAX_CHANNELS)
    source = m.string("source", None, MAX_PATH)
    if not source.strip():
        raise ConfigError(f"{m.key('source')}: must name a file or a URL")
    loop = m.boolean("loop", False)
    if loop and "://" in source and not source.startswith("file:"):
        raise ConfigError(f"{m.key('loop')}: a live URL cannot be looped; loop applies to recordings, "
                          "set loop: false")
    width = m.get("analysis_width", None)
    width = None if width is None else m.integer("analysis_width", None, 64, 3840)
    skip_loop_filter = m.string("skip_loop_filter", "none")
    if skip_loop_filter not in SKIP_LOOP_FILTER:
        raise ConfigError(f"{m.key('skip_loop_filter')}: {show(skip_loop_filter)} is not one of "
                          f"{', '.join(SKIP_LOOP_FILTER)}")
    heat_map = parse_heat_map(m.get("heat_map", {}), m.key("heat_map"))
    if width is not None and heat_map.grid_columns > width:
        # The analysis picture is never narrower than analysis_width, so this is the
        # one grid/size rule that can be checked before the source is opened.
        raise ConfigError(f"{m.key('heat_map')}.grid_columns: {heat_map.grid_columns} columns do not fit the "
                          f"analysis width of {width} pixels; use at most {width} columns")
    return ChannelConfig(
        id=ch_id,
        name=m.string("name", f"Camera {ch_id:02d}", MAX_NAME),
        source=source,
        loop=loop,
        analysis_width=width,
        heat_map=heat_map,
        skip_loop_filter=skip_loop_filter,
    )


def _appliance(doc: Any, where: str) -> ApplianceConfig:
    m = _Mapping(doc, where, {f.name for f in dataclasses.fields(ApplianceConfig)})
    c = _Mapping(m.get("console", {}), m.key("console"), {"idle_logout", "color", "tcp_port"})
    port = c.get("tcp_port", None)
    w = _Mapping(m.get("web", {}), m.key("web"), {"port", "bind"})
    web_port = w.get("port", None)
    bind = w.string("bind", "127.0.0.1")
    if not _is_ip_address(bind):
        raise ConfigError(f"{w.key('bind')}: {bind!r} is not an IP address (e.g. 127.0.0.1, 0.0.0.0 or ::1)")
    export = m.get("export_device", None)
    if export is not None and (not isinstance(export, str) or not export.strip()):
        raise ConfigError(f"{m.key('export_device')}: must be a directory path")
    if export is not None:
        m.string("export_device", None, MAX_PATH)
    return ApplianceConfig(
        name=m.string("name", "NVR", MAX_NAME),
        export_device=export,
        status_interval=m.number("status_interval", 10.0, 0.5, 3600.0),
        checkpoint_interval=m.number("checkpoint_interval", 60.0, 1.0, 60.0),
        video_timeout=m.number("video_timeout", 5.0, 0.5, 300.0),
        analytics_share=m.number("analytics_share", 0.5, 0.05, 1.0),
        console=ConsoleConfig(
            idle_logout=c.number("idle_logout", 300.0, 10.0, 86400.0),
            color=c.boolean("color", True),
            tcp_port=None if port is None else c.integer("tcp_port", None, 1024, 65535),
        ),
        web=WebConfig(port=None if web_port is None else w.integer("port", None, 1, 65535), bind=bind),
    )


def _is_ip_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def _polygon(doc: Any, where: str) -> tuple[tuple[float, float], ...]:
    if not isinstance(doc, list):
        raise ConfigError(f"{where}: must be a list of [x, y] points")
    points = []
    for i, p in enumerate(doc):
        if (
            not isinstance(p, list | tuple)
            or len(p) != 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in p)
        ):
            raise ConfigError(f"{where}[{i}]: {show(p)} is not an [x, y] point of numbers")
        if not all(math.isfinite(v) for v in p):
            raise ConfigError(f"{where}[{i}]: {show(p)} is not a point inside the frame (0..1)")
        points.append((float(p[0]), float(p[1])))
    problem = polygon_problem(points)
    if problem:
        raise ConfigError(f"{where}: {problem}")
    return tuple(points)


_WINDOW = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


def _schedule(doc: Any, where: str) -> tuple[ArmWindow, ...]:
    if not isinstance(doc, list):
        raise ConfigError(f"{where}: must be a list of {{days, time}} windows")
    if len(doc) > MAX_WINDOWS:
        raise ConfigError(f"{where}: {len(doc)} windows, at most {MAX_WINDOWS} are allowed")
    windows = []
    for i, w in enumerate(doc):
        m = _Mapping(w, f"{where}[{i}]", {"days", "time"})
        days = m.get("days", list(WEEKDAYS))
        if not isinstance(days, list) or not days or any(d not in WEEKDAYS for d in days):
            raise ConfigError(f"{m.key('days')}: {show(days)} must be a list of {', '.join(WEEKDAYS)}")
        span = m.string("time", None)
        hit = _WINDOW.match(span.strip())
        if not hit:
            raise ConfigError(f"{m.key('time')}: {show(span)} must look like 08:30-21:00")
        h0, m0, h1, m1 = map(int, hit.groups())
        start, end = h0 * 60 + m0, h1 * 60 + m1
        if m0 > 59 or m1 > 59 or start >= 1440 or end > 1440 or end <= start:
            raise ConfigError(f"{m.key('time')}: {show(span)} is not a window within one day (00:00-24:00)")
        windows.append(ArmWindow(tuple(WEEKDAYS.index(d) for d in days), start, end))
    problem = schedule_problem(windows)
    if problem:
        raise ConfigError(f"{where}: {problem}")
    return tuple(windows)


def merge_days(windows: list[ArmWindow] | tuple[ArmWindow, ...]) -> tuple[ArmWindow, ...]:
    """Windows with the same times joined across days, in time order; every day all day
    is () (armed around the clock), as the configuration file writes it."""
    by_span: dict[tuple[int, int], set[int]] = {}
    for w in windows:
        by_span.setdefault((w.start_minute, w.end_minute), set()).update(w.days)
    if list(by_span) == [(0, 1440)] and by_span[(0, 1440)] == set(range(7)):
        return ()
    return tuple(ArmWindow(tuple(sorted(days)), a, b) for (a, b), days in sorted(by_span.items()))


def schedule_problem(windows: list[ArmWindow] | tuple[ArmWindow, ...]) -> str | None:
    """Why arming windows are refused (more than MAX_SEGMENTS_PER_DAY a day, or two that
    overlap on a day), or None: the rule for the file, the console and the web alike."""
    for day, name in enumerate(WEEKDAYS):
        spans = sorted((w.start_minute, w.end_minute) for w in windows if day in w.days)
        if len(spans) > MAX_SEGMENTS_PER_DAY:
            return f"{len(spans)} windows on {name}, at most {MAX_SEGMENTS_PER_DAY} a day are allowed"
        for (s0, e0), (s1, e1) in zip(spans, spans[1:]):
            if s1 < e0:
                return (f"windows {s0 // 60:02d}:{s0 % 60:02d}-{e0 // 60:02d}:{e0 % 60:02d} and "
                        f"{s1 // 60:02d}:{s1 % 60:02d}-{e1 // 60:02d}:{e1 % 60:02d} overlap on {name}")
    return None


_SHOW = reprlib.Repr()
_SHOW.maxstring = _SHOW.maxother = 60
_SHOW.maxlist = _SHOW.maxdict = 4
_SHOW.maxlevel = 2


def show(value: Any) -> str:
    """A user's value in a one-line message: repr (control characters and lone
    surrogates escaped), cut short: a value can be a 4,000-character string or a
    list of a million items."""
    return _SHOW.repr(value)


class _Mapping:
    """One YAML mapping being validated: unknown keys and wrong types name their path."""

    def __init__(self, doc: Any, where: str, allowed: set[str]):
        if doc is None:
            doc = {}
        if not isinstance(doc, dict):
            raise ConfigError(f"{where or 'the file'}: must be a mapping of keys, got {type(doc).__name__}")
        self.doc, self.where = doc, where
        for k in doc:
            if k not in allowed:
                name = k if isinstance(k, str) and k.isprintable() and len(k) <= 40 else show(k)
                raise ConfigError(
                    f"{self.key(name)}: unknown key (allowed: {', '.join(sorted(allowed))})"
                )

    def key(self, k: str) -> str:
        return f"{self.where}.{k}" if self.where else k

    def get(self, k: str, default: Any) -> Any:
        return self.doc.get(k, default)

    def require(self, k: str) -> Any:
        if k not in self.doc:
            raise ConfigError(f"{self.key(k)}: missing (it is required)")
        return self.doc[k]

    def _value(self, k: str, default: Any) -> Any:
        return self.require(k) if default is None else self.doc.get(k, default)

    def integer(self, k: str, default: int | None, lo: int, hi: int) -> int:
        v = self._value(k, default)
        if isinstance(v, bool) or not isinstance(v, int):
            raise ConfigError(f"{self.key(k)}: {show(v)} is not a whole number ({lo}..{hi})")
        if not lo <= v <= hi:
            raise ConfigError(f"{self.key(k)}: {v} is out of range {lo}..{hi}")
        return v

    def number(self, k: str, default: float | None, lo: float, hi: float) -> float:
        v = self._value(k, default)
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ConfigError(f"{self.key(k)}: {show(v)} is not a number ({lo:g}..{hi:g})")
        if not lo <= v <= hi:  # also refuses nan
            raise ConfigError(f"{self.key(k)}: {show(v)} is out of range {lo:g}..{hi:g}")
        return float(v)

    def boolean(self, k: str, default: bool) -> bool:
        v = self.doc.get(k, default)
        if not isinstance(v, bool):
            raise ConfigError(f"{self.key(k)}: {show(v)} must be true or false")
        return v

    def string(self, k: str, default: str | None, longest: int = MAX_NAME) -> str:
        v = self._value(k, default)
        if not isinstance(v, str):
            raise ConfigError(f"{self.key(k)}: {show(v)} must be text")
        if len(v) > longest:
            raise ConfigError(f"{self.key(k)}: {show(v)} is {len(v)} characters long, at most {longest}")
        if not v.isprintable():
            # Control characters would reach the console as terminal commands; lone
            # surrogates (a "\udc80" escape) cannot even be written out as UTF-8.
            raise ConfigError(f"{self.key(k)}: {show(v)} has a control character or an invalid "
                              "character; use printable text")
        return v


# --------------------------------------------------------------------------- saving


def config_to_doc(config: Config) -> dict[str, Any]:
    """The YAML document for `config`, keys in the documented order."""

    def heat_map(h: HeatMapConfig) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "enabled": h.enabled,
            "regions": [[[x, y] for x, y in r] for r in h.regions],
            **{k: getattr(h, k) for k in PARAMETER_KEYS},
            "grid_columns": h.grid_columns,
        }
        if h.grid_rows is not None:
            doc["grid_rows"] = h.grid_rows
        if h.schedule:
            doc["schedule"] = [
                {
                    "days": [WEEKDAYS[d] for d in w.days],
                    "time": f"{w.start_minute // 60:02d}:{w.start_minute % 60:02d}-"
                    f"{w.end_minute // 60:02d}:{w.end_minute % 60:02d}",
                }
                for w in h.schedule
            ]
        return doc

    def channel(c: ChannelConfig) -> dict[str, Any]:
        doc: dict[str, Any] = {"id": c.id, "name": c.name, "source": c.source, "loop": c.loop}
        if c.analysis_width is not None:
            doc["analysis_width"] = c.analysis_width
        if c.skip_loop_filter != "none":
            doc["skip_loop_filter"] = c.skip_loop_filter
        doc["heat_map"] = heat_map(c.heat_map)
        return doc

    a = config.appliance
    appliance = {f.name: getattr(a, f.name) for f in dataclasses.fields(a) if f.name not in ("console", "web")}
    appliance["console"] = dataclasses.asdict(a.console)
    appliance["web"] = dataclasses.asdict(a.web)
    return {"appliance": appliance, "channels": [channel(c) for c in config.channels]}


def validate_config(config: Config) -> None:
    """Raise ConfigError (one line) unless `config` would load back as it is: the same
    rules as the file's, for settings made by the console or the web."""
    parse_config(yaml.safe_load(_dump(config)), config.path)


def _dump(config: Config) -> str:
    return yaml.safe_dump(config_to_doc(config), sort_keys=False, default_flow_style=None)


def save_config(config: Config, path: str | os.PathLike) -> None:
    """Write atomically; the previous file is kept as ``<name>.bak``."""
    path = Path(path)
    text = _dump(config)
    # Round-trip before touching the disk: never persist what we could not load back.
    parse_config(yaml.safe_load(text), path)
    if path.exists():
        previous = path.read_bytes()
        replace_file(path.with_name(path.name + ".bak"), lambda f: f.write(previous))
    replace_file(path, lambda f: f.write(text.encode("utf-8")))
