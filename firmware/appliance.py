"""The appliance: boot, run and shut down, as ordered named steps.

Boot:  state directory (device identity, admin account) -> statistics
       store (and where exports go) -> analytics kernels loaded
       (`vca.warmup`) -> channels (capture inputs open, each one's source,
       codec, size and fps printed; a channel whose statistics already reach
       past the clock's start is warned about and counts from where they end)
       -> frame budgets -> front ends (the console, the web server: whatever
       the command that boots the appliance hands it; each prints where to
       connect). Recordings are stepped in worker processes, one per core
       (`firmware.workers`), live cameras by a thread each.
Run:   a status line per channel every status interval, and events (video
       loss, scene changes) to subscribers as they happen, until --duration
       of appliance time has passed, every channel has ended, or SIGINT/SIGTERM.
       Frame budgets are shared again whenever the set of analysed channels
       changes (a channel in video loss, or disabled, gets none).
Stop:  the reverse: front ends -> channels (each drains its running hour) ->
       statistics store (final checkpoint, closed).

Front ends reach the appliance only through `LocalService`, the
`firmware.service.ApplianceService` it implements. Configuration changes are
validated, saved atomically and handed to the running channel, which applies
them from its next frame.
"""
from __future__ import annotations

import datetime as dt
import gc
import io
import json
import logging
import os
import signal
import sys
import threading
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Protocol, Sequence, TextIO

import numpy as np

from firmware import clock
from firmware.applock import ApplianceLock, claim
from firmware.atomic import replace_file
from firmware.auth import Accounts, DigestAnswer, LoginResult, PasswordError, strength_problem
from firmware.budget import cpu_per_frame_us, frame_budget_us
from firmware.clock import weekday_minute
from firmware.channel import Channel, load_kernels
from firmware.channel_view import ChannelState, ChannelView
from firmware.config import (WEEKDAYS, Config, ConfigError, ConsoleConfig, HeatMapConfig, WebConfig, save_config,
                             validate_config)
from firmware.events import Event, EventBus, EventKind
from firmware.geometry import check_areas, polygon_problem
from firmware.procstat import process_cpu_seconds, rss_mb
from firmware.service import (ApplianceService, AreaCheck, ChannelStatus, DeviceInfo, ExportTarget, NoSuchChannel,
                              ReportFile, ServiceError, SystemStatus)
from vca.params import PARAMETER_KEYS
from firmware.stats import MemoryStatistics, StatisticsSink
from firmware.scheduler import available_cores
from firmware.workers import CaptureSpec, ChannelSpec, ProcessPool
from hal.capture import is_live, is_stream_device
from hal.input import CaptureInput, CaptureState

if TYPE_CHECKING:
    from firmware.storage import HeldStatistics, StorageStatus
    from firmware.store import SqliteStatistics

log = logging.getLogger("firmware.appliance")

EXPORT_FOLDER = "export"  # under the state directory: where Export writes while no export device is set
BOOT_WAIT = 3.0  # wall seconds boot waits for inputs to open before reporting them
WORKER_START_TIMEOUT = 60.0  # wall seconds for worker processes to load the kernels (a first boot compiles)
STOP_TIMEOUT = 10.0          # wall seconds channels get to drain their hour at shutdown
BOOT_STORE_CHECK = 10.0      # wall seconds boot spends checking the statistics store (quick_check)
FLUSH_TIMEOUT = 1.0          # wall seconds a report waits for channels to hand over their running hour
FPS_WINDOW = 2.0             # wall seconds over which input fps is measured for Status
DEVICE_FILE = "device.json"  # the device's identity (ID, serial number), made at first boot
MODEL = "NVR-HM-SIM"         # what deviceInfo reports as the model


@dataclass(frozen=True, slots=True)
class RunOptions:
    state_dir: Path
    speed: str = "realtime"          # "realtime" or "max"
    start: float = 0.0               # appliance clock at stream time 0
    duration: float | None = None    # appliance seconds to run


class FrontEnd(Protocol):
    """A way in (the console, the web server) that the appliance starts at the end of boot
    and closes first at shutdown; it reaches the appliance only through the service."""

    def start(self, service: ApplianceService) -> list[str]:
        """Start serving; the lines to print at boot (where to connect). Raises
        `firmware.service.FrontEndError` (one line) when it cannot: a port in use."""
        ...

    def close(self) -> None: ...


class Appliance:
    def __init__(self, config: Config, options: RunOptions, out: TextIO = sys.stdout,
                 front_ends: Sequence[FrontEnd] = ()):
        self.config = config
        self.options = options
        self.out = out
        self.front_ends = list(front_ends)
        self.accounts: Accounts | None = None
        self.device: dict[str, str] = {}
        self.events = EventBus()
        self.channels: dict[int, ChannelView] = {}
        self.pool: ProcessPool | None = None  # recordings; live cameras have a thread each
        self.stop_event = threading.Event()
        self.totals = MemoryStatistics()
        self.store: SqliteStatistics | None = None   # for reads (reports); None until it opens
        self.storage: HeldStatistics | None = None   # the statistics sink in front of it (firmware.storage)
        self._claim: ApplianceLock | None = None
        self._config_lock = threading.Lock()
        self._started_front_ends: list[FrontEnd] = []
        self._started = 0.0
        self._seen: dict[int, tuple[ChannelState, int]] = {}  # per channel: state, scene changes
        self._store_ok: bool | None = None   # the store's condition at the last look (None: not looked)
        self.count_from: dict[int, float] = {}  # channels whose clock starts inside their stored time
        self._analysed: tuple[int, ...] | None = None  # channels sharing the frame budgets
        self.interrupted = False  # stopped by SIGINT/SIGTERM rather than by --duration

    # ------------------------------------------------------------------ boot

    def boot(self) -> None:
        self._say(f"{self.config.appliance.name}: booting, {len(self.config.channels)} channel(s), "
                  f"clock {clock.format_clock(self.options.start)}, speed {self.options.speed}")
        for step in (self._open_state_dir, self._open_store, self._load_analytics, self._start_channels,
                     self._plan_budgets, self._start_front_ends):
            log.debug("boot: %s", step.__name__.lstrip("_"))
            step()
        self._started = time.monotonic()
        # Everything boot made (modules, compiled kernels, decoders, config)
        # lives until shutdown: out of the collector's sight, the full
        # collections that per-frame garbage still triggers scan only what
        # came after. Before this, one took ~40 ms with the GIL held, a whole
        # frame interval of every channel (drops at 64 channels).
        gc.collect()
        gc.freeze()
        self._say("boot complete")

    def _open_state_dir(self) -> None:
        d = self.options.state_dir
        try:
            d.mkdir(parents=True, exist_ok=True)
            probe = d / ".write-test"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as e:
            raise ConfigError(f"--state-dir {d}: not writable: {e.strerror}") from None
        self.device = _device_identity(d / DEVICE_FILE)
        self.accounts = Accounts(d)
        self._say(f"state directory {d}")

    def _open_store(self) -> None:
        # A damaged store stops the boot (StoreDamaged: one line naming the file and
        # `nvr store repair`); a full disk does not: statistics are held in memory.
        from firmware.storage import HeldStatistics
        from firmware.store import FILENAME, SqliteStatistics

        # Held until shutdown: tells archive re-analysis which hours are being written here,
        # and `nvr store repair` that the store is in use.
        self._claim = claim(self.options.state_dir, [ch.id for ch in self.config.channels], self.options.start)
        d = self.options.state_dir
        # Boot checks the file (bounded: a large store on slow flash is checked in part).
        self.storage = HeldStatistics(lambda: SqliteStatistics(d, check_seconds=BOOT_STORE_CHECK),
                                      str(d / FILENAME), on_open=lambda store: setattr(self, "store", store))
        self.storage.open()
        if self.store is not None and not self.store.checked:
            log.warning("statistics store %s: the boot check stopped after %g s (a large store); run "
                        "`nvr store check --state-dir %s` for a full one", self.store.path, BOOT_STORE_CHECK, d)
        for ch in self.config.channels:
            self.storage.set_channel_name(ch.id, ch.name)
        st = self.storage.status()
        if st.ok:
            self._say(f"statistics store {st.path}")
        else:
            self._say(f"statistics store {st.last_error}; running with statistics held in memory "
                      f"(up to {st.max_channel_hours} channel-hours) until it can be written")
        target = self.export_target()
        how = "appliance.export_device" if not target.default else \
            "default; set appliance.export_device, or in the console Configuration > Export Device"
        self._say(f"exports go to {target.path} ({how})")

    def export_target(self) -> ExportTarget:
        device = self.config.appliance.export_device
        if device is not None:
            return ExportTarget(Path(device), False)
        return ExportTarget(self.options.state_dir.resolve() / EXPORT_FOLDER, True)

    def _stored_time(self, ch) -> float | None:
        """Where counting starts for a channel whose stored statistics reach past the clock's start."""
        if self.store is None:  # not created yet (booted on a full disk): nothing stored
            return None
        until = self.store.stored_until(ch.id)
        if until is None or until <= self.options.start:
            return None
        # Refuse to count again rather than replace: stored statistics are never
        # lost to a mistyped --start; this run counts from where they end.
        self._say(f"warning: channel {ch.id} {ch.name!r}: statistics are stored up to {clock.format_clock(until)}, "
                  f"after this run's start {clock.format_clock(self.options.start)}; "
                  f"it counts from {clock.format_clock(until)} so no time is counted twice")
        log.warning("channel %d: clock starts inside stored time; counting from %s", ch.id,
                    clock.format_clock(until))
        return until

    def _load_analytics(self) -> None:
        # For live channels, which run here; worker processes load their own,
        # from the Numba cache this fills on a first boot (compiled once, not
        # once per worker).
        t0 = time.monotonic()
        load_kernels()
        self._say(f"analytics loaded in {time.monotonic() - t0:.1f} s")

    def _start_channels(self) -> None:
        stop_at = None if self.options.duration is None else self.options.start + self.options.duration
        sink = _FanOut([self.totals, self.storage])
        # With as many channels as cores, the channels already fill the
        # cores; decoder frame threads would only add latency and memory.
        threads = 1 if len(self.config.channels) >= (os.cpu_count() or 1) else 0
        budget = frame_budget_us([25.0] * len(self.config.channels), self.config.appliance.analytics_share)
        cpu = cpu_per_frame_us([25.0] * len(self.config.channels))
        checkpoint = self.config.appliance.checkpoint_interval
        # Recordings, paced or not, are stepped in worker processes, one per
        # core (firmware.workers), each by a worker in order of its channels'
        # due times (firmware.scheduler). Live cameras block in the network
        # read: a thread each, here.
        specs = []
        for ch in self.config.channels:
            capture = self._capture_spec(ch, threads)
            if ch.loop and is_stream_device(capture.source):
                raise ConfigError(f"channel {ch.id}: {ch.source} is a FIFO or a device, not a recording; "
                                  "it cannot be looped: set loop: false")
            count_from = self._stored_time(ch)
            if count_from is not None:
                self.count_from[ch.id] = count_from
            # A FIFO or device is live too: a thread of its own, so a writer that
            # never comes cannot hold a worker's other channels.
            if is_live(capture.source):
                self.channels[ch.id] = Channel(ch, CaptureInput(ch.id, capture.open), sink, budget_us=budget,
                                               checkpoint_interval=checkpoint, stop_at=stop_at,
                                               count_from=count_from, cpu_us=cpu)
            else:
                specs.append(ChannelSpec(ch, capture, budget, checkpoint, stop_at, count_from, cpu))
        if specs:
            self.pool = ProcessPool(specs, sink, processes=available_cores())
            self.channels.update(self.pool.channels)
            self.channels = dict(sorted(self.channels.items()))
            self.pool.start()
            if not self.pool.wait_ready(WORKER_START_TIMEOUT):
                log.warning("worker processes not ready within %g s", WORKER_START_TIMEOUT)
        for c in self.channels.values():
            if isinstance(c, Channel):
                c.start()
        deadline = time.monotonic() + BOOT_WAIT
        while time.monotonic() < deadline and any(c.capture.info is None and c.capture.state != CaptureState.VIDEO_LOSS
                                                  for c in self.channels.values()):
            time.sleep(0.05)
        for c in self.channels.values():
            info = c.capture.info
            hm = "heat map on" if c.config.heat_map.enabled else "heat map off"
            if info is None:
                self._say(f"channel {c.config.id} {c.config.name!r}: {c.config.source}: "
                          f"{c.capture.state.upper().replace('_', ' ')} {c.capture.last_error}".rstrip())
            else:
                self._say(f"channel {c.config.id} {c.config.name!r}: {info.source}: {info.codec} "
                          f"{info.width}x{info.height} {info.fps:g} fps, analysis "
                          f"{info.analysis_width}x{info.analysis_height}, {hm}")

    def _capture_spec(self, ch, decoder_threads: int) -> CaptureSpec:
        timeout = self.config.appliance.video_timeout
        return CaptureSpec(self.config.resolve_source(ch.source), loop=ch.loop, analysis_width=ch.analysis_width,
                           pacing=self.options.speed, clock_start=self.options.start, open_timeout=timeout,
                           read_timeout=timeout, decoder_threads=decoder_threads,
                           skip_loop_filter=ch.skip_loop_filter)

    def _plan_budgets(self) -> None:
        budget, fps = self._share_budgets()
        self._say(f"analysis budget {budget:.0f} us per frame per channel until decoding is measured, then "
                  f"what decoding leaves of {cpu_per_frame_us([fps]) if fps else 0:.0f} us "
                  f"({os.cpu_count()} cores, {fps:g} analysed frames/s)")

    def analysed(self, c) -> bool:
        """Whether a channel takes a share of the frame budgets: heat map on and video present
        (a channel in video loss or stopped has no frames to analyse)."""
        return c.config.heat_map.enabled and c.capture.state not in (CaptureState.VIDEO_LOSS, CaptureState.STOPPED)

    def _share_budgets(self) -> tuple[float, float]:
        """Share the analysis time among the analysed channels; (budget us, their frames/s)."""
        analysed = [c for c in self.channels.values() if self.analysed(c)]
        fps = [(c.capture.info.fps if c.capture.info else 25.0) for c in analysed]
        budget = frame_budget_us(fps, self.config.appliance.analytics_share)
        cpu = cpu_per_frame_us(fps)
        self._analysed = tuple(c.config.id for c in analysed)
        for c in analysed:
            if c.budget.cpu_us != cpu:  # a worker's channel is told over its pipe
                c.budget.cpu_us = cpu
                c.budget.budget_us = budget
        return budget, sum(fps)

    def _replan_budgets(self) -> None:
        if tuple(cid for cid, c in self.channels.items() if self.analysed(c)) != self._analysed:
            budget, fps = self._share_budgets()
            log.info("analysis budget now %.0f us per frame for channel(s) %s (%g frames/s)", budget,
                     ", ".join(map(str, self._analysed)) or "none", fps)

    def _start_front_ends(self) -> None:
        service = self.service()
        for front_end in self.front_ends:
            lines = front_end.start(service)
            self._started_front_ends.append(front_end)
            for line in lines:
                self._say(line)

    # ------------------------------------------------------------------ run

    def run(self) -> int:
        interval = self.config.appliance.status_interval
        next_status = time.monotonic() + interval
        # Input fps is measured over its own short window, not the status line's interval,
        # so the console and the web Status show a current figure whatever that interval is.
        last_frames = {cid: 0 for cid in self.channels}
        last_t = time.monotonic()
        while not self.stop_event.wait(0.1):
            now = time.monotonic()
            if self.storage is not None:
                self.storage.retry()  # writes held statistics once the store can take them again
            self._announce_events()
            if self._finished(now):
                break
            self._replan_budgets()
            if now - last_t >= FPS_WINDOW or now >= next_status:
                for cid, c in self.channels.items():
                    c.counters.fps = (c.counters.frames - last_frames[cid]) / max(now - last_t, 1e-6)
                    last_frames[cid] = c.counters.frames
                last_t = now
            if now >= next_status:
                self._status()
                next_status = now + interval
        return 0

    def _announce_events(self) -> None:
        """Publish what changed since the last look: video lost or restored, scene changes,
        the statistics store failing (a full disk) or writable again."""
        if not self.events.subscribers:
            self._seen.clear()  # nobody listens; start fresh when somebody does
            self._store_ok = None
            return
        storage = self.service().storage()
        if self._store_ok is not None and storage.ok != self._store_ok:
            why = ("statistics are written again" if storage.ok else
                   f"statistics held in memory: {storage.last_error}")
            self._publish(EventKind.DISK_FULL, 0, not storage.ok, why)
        self._store_ok = storage.ok
        for cid, c in self.channels.items():
            state, changes = c.state, c.counters.scene_changes
            seen = self._seen.get(cid)
            self._seen[cid] = (state, changes)
            if seen is None:
                continue
            lost = state == ChannelState.VIDEO_LOSS
            if lost != (seen[0] == ChannelState.VIDEO_LOSS):
                why = c.capture.last_error if lost else "video restored"
                self._publish(EventKind.VIDEO_LOSS, cid, lost, why, c)
            if changes > seen[1]:
                self._publish(EventKind.SCENE_CHANGE, cid, True, "the scene changed; the analysis re-learns", c)

    def _publish(self, kind: EventKind, channel: int, active: bool, description: str,
                 c: ChannelView | None = None) -> None:
        wall = c.counters.wall if c is not None and c.counters.wall else None
        when = clock.from_clock(wall) if wall is not None else self.service().now()
        self.events.publish(Event(kind, channel, active, when, description))

    def _finished(self, now: float) -> bool:
        if self.options.duration is None:
            return False
        if self.options.speed == "realtime" and now - self._started >= self.options.duration:
            return True
        # At full speed a channel ends when its own clock passes the duration;
        # a channel in video loss cannot get there and does not hold the run.
        return all(c.counters.done or c.capture.state == CaptureState.VIDEO_LOSS for c in self.channels.values())

    def _status(self) -> None:
        for s in self.service().channels():
            cost = f"cost {s.median_us:.0f}/{s.budget_us:.0f} us p99 {s.p99_us:.0f}" if s.budget_us else "cost -"
            self._say(
                f"ch{s.id:02d} {s.state.label.upper():<10} {s.fps:6.1f} fps drops {s.drops} "
                f"{cost} overruns {s.overruns} "
                f"skipped {s.skipped} clock {clock.format_clock(self.channels[s.id].counters.wall or self.options.start)}")

    def counting(self, c) -> bool:
        """Whether a channel counts statistics right now (at its own clock)."""
        hm = c.config.heat_map
        wall = c.counters.wall or self.options.start
        return (c.state == ChannelState.RUNNING and hm.enabled and wall >= self.count_from.get(c.config.id, wall)
                and hm.armed(*weekday_minute(wall)))

    # ------------------------------------------------------------------ shutdown

    def shutdown(self) -> None:
        self.stop_event.set()
        for front_end in reversed(self._started_front_ends):
            front_end.close()
        self._started_front_ends.clear()
        deadline = time.monotonic() + STOP_TIMEOUT
        for c in self.channels.values():
            c.stop()
        for c in self.channels.values():
            c.join(timeout=max(0.0, deadline - time.monotonic()))
        if self.pool is not None:
            # Everything the workers sent reaches the store before it closes.
            self.pool.close(timeout=max(0.0, deadline - time.monotonic()))
        for c in self.channels.values():
            c.capture.close()
        if self.storage is not None:
            self.storage.close()
        if self._claim is not None:
            self._claim.release()
        for cid, c in self.channels.items():
            t = self.totals.totals.get(cid)
            if t:
                self._say(f"channel {cid}: {c.counters.frames} frames, {c.counters.analysed} analysed, "
                          f"visits {t['visits']}, dwell {t['dwell_seconds']:.1f} s, "
                          f"scene changes {t['scene_changes']}")
            else:
                self._say(f"channel {cid}: {c.counters.frames} frames, nothing analysed")
        self._say("shutdown complete")

    # ------------------------------------------------------------------ helpers

    def _say(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    def service(self) -> "LocalService":
        return LocalService(self)

    def install_signal_handlers(self) -> None:
        def stop(signum, _frame):
            log.info("%s: shutting down", signal.Signals(signum).name)
            self.interrupted = True
            self.stop_event.set()
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)


def schedule_text(hm: HeatMapConfig) -> str:
    """A heat-map schedule in a few words: "always", "08:00-21:00", "mon-fri 09:00-18:00, sat 10:00-16:00"."""
    if not hm.schedule:
        return "always"
    parts = []
    for w in hm.schedule:
        span = f"{w.start_minute // 60:02d}:{w.start_minute % 60:02d}-{w.end_minute // 60:02d}:{w.end_minute % 60:02d}"
        days = sorted(w.days)
        if len(days) == 7:
            parts.append(span)
        elif days == list(range(days[0], days[-1] + 1)) and len(days) > 2:
            parts.append(f"{WEEKDAYS[days[0]]}-{WEEKDAYS[days[-1]]} {span}")
        else:
            parts.append(f"{','.join(WEEKDAYS[d] for d in days)} {span}")
    return ", ".join(parts)


class _FanOut:
    """Hands every statistics record to several sinks (memory totals and the store)."""

    def __init__(self, sinks: list[StatisticsSink | None]):
        self.sinks = [s for s in sinks if s is not None]

    def record(self, rec) -> None:
        for s in self.sinks:
            s.record(rec)

    def save_background(self, channel: int, wall: float, image: np.ndarray) -> None:
        for s in self.sinks:
            s.save_background(channel, wall, image)

    def checkpoint(self) -> None:
        for s in self.sinks:
            s.checkpoint()

    def close(self) -> None:
        pass  # the appliance closes the store itself


class LocalService:
    """`firmware.service.ApplianceService` over the running appliance."""

    def __init__(self, appliance: Appliance):
        self._a = appliance

    # ------------------------------------------------------------ the device

    def appliance_name(self) -> str:
        return self._a.config.appliance.name

    def device_info(self) -> DeviceInfo:
        from firmware import __version__, RELEASE_DATE

        a = self._a
        return DeviceInfo(device_name=a.config.appliance.name, device_id=a.device.get("device_id", ""),
                          model=MODEL, serial_number=a.device.get("serial_number", ""),
                          firmware_version=f"V{__version__}", firmware_release_date=RELEASE_DATE,
                          channels=len(a.channels))

    def system_status(self) -> SystemStatus:
        a = self._a
        pids = a.pool.pids if a.pool is not None else []
        cpu = time.process_time() + sum(process_cpu_seconds(p) for p in pids)
        wall = time.monotonic()
        last_cpu, last_wall = getattr(a, "_cpu_mark", (cpu, a._started))
        a._cpu_mark = (cpu, wall)
        share = (cpu - last_cpu) / max(wall - last_wall, 1e-3) / (os.cpu_count() or 1)
        lost = sum(c.state == ChannelState.VIDEO_LOSS for c in a.channels.values())
        return SystemStatus(now=self.now(), uptime_seconds=wall - a._started,
                            cpu_percent=round(100 * min(max(share, 0.0), 1.0), 1),
                            memory_mb=round(rss_mb() + sum(rss_mb(p) for p in pids), 1),
                            channels=len(a.channels), channels_in_video_loss=lost)

    def now(self) -> dt.datetime:
        walls = [c.counters.wall for c in self._a.channels.values() if c.counters.wall]
        if walls:
            return clock.from_clock(max(walls))
        return clock.from_clock(self._a.options.start + (time.monotonic() - self._a._started))

    # ------------------------------------------------------------ accounts

    def activated(self) -> bool:
        return self._a.accounts.activated()

    def password_problem(self, password: str) -> str | None:
        return strength_problem(password)

    def activate(self, password: str) -> None:
        try:
            self._a.accounts.activate(password)
        except PasswordError as e:
            raise ServiceError(str(e)) from None
        except OSError as e:
            raise ServiceError(f"cannot store the password: {e.strerror}") from None
        log.info("device activated")

    def login(self, user: str, password: str) -> LoginResult:
        try:
            return self._a.accounts.login(user, password)
        except PasswordError as e:
            raise ServiceError(str(e)) from None

    def login_digest(self, answer: DigestAnswer) -> LoginResult:
        try:
            return self._a.accounts.login_digest(answer)
        except PasswordError as e:
            raise ServiceError(str(e)) from None

    def locked_for(self) -> float:
        return self._a.accounts.guard.locked_for()

    # ------------------------------------------------------------ settings

    def storage(self) -> StorageStatus:
        from firmware.storage import StorageStatus

        held = self._a.storage
        if held is None:  # before boot opened it
            return StorageStatus("ok", str(self._a.options.state_dir), None, 0, 0, 0, "")
        return held.status()

    def console_settings(self) -> ConsoleConfig:
        return self._a.config.appliance.console

    def web_settings(self) -> WebConfig:
        return self._a.config.appliance.web

    # ------------------------------------------------------------ channels

    def channels(self) -> list[ChannelStatus]:
        out = []
        for cid, c in self._a.channels.items():
            info = c.capture.info
            b = c.budget.stats()
            k = c.counters
            hm = c.config.heat_map
            # A channel not analysed has no budget, and its last costs are history, not status.
            analysed = self._a.analysed(c)
            out.append(ChannelStatus(
                id=cid, name=c.config.name, state=c.state, heat_map_enabled=hm.enabled,
                source=c.config.source, codec=info.codec if info else "", width=info.width if info else 0,
                height=info.height if info else 0, fps=k.fps, drops=c.capture.drops,
                budget_us=b.budget_us if analysed else 0.0, median_us=b.median_us if analysed else 0.0,
                p99_us=b.p99_us if analysed else 0.0, overruns=b.overruns,
                skipped=b.skipped, stride=b.stride, last_error=c.capture.last_error or c.problem or "",
                analysis_width=info.analysis_width if info else 0,
                analysis_height=info.analysis_height if info else 0,
                frames=k.frames, analysed=k.analysed, scene_changes=k.scene_changes,
                areas=len(hm.regions), parameters=tuple(getattr(hm, key) for key in PARAMETER_KEYS),
                schedule=schedule_text(hm), counting=self._a.counting(c)))
        return out

    def _channel(self, channel_id: int) -> ChannelView:
        try:
            return self._a.channels[channel_id]
        except KeyError:
            raise NoSuchChannel(f"no channel {channel_id}") from None

    def heat_map(self, channel_id: int) -> HeatMapConfig:
        self._channel(channel_id)
        return self._a.config.channel(channel_id).heat_map  # saved settings, even before applied

    def area_problem(self, points: list[tuple[float, float]]) -> str | None:
        return polygon_problem(points)

    def check_areas(self, regions: list[list[tuple[float, float]]]) -> AreaCheck:
        problem, warnings = check_areas(regions)
        return AreaCheck(problem, tuple(warnings))

    def save_heat_map(self, channel_id: int, heat_map: HeatMapConfig) -> None:
        channel = self._channel(channel_id)
        a = self._a
        problem, _ = check_areas(heat_map.regions)
        if problem:
            raise ServiceError(problem)
        with a._config_lock:
            new_channel = replace(a.config.channel(channel_id), heat_map=heat_map)
            new_config = a.config.with_channel(new_channel)
            try:
                validate_config(new_config)
                if new_config.path is not None:
                    save_config(new_config, new_config.path)
            except ConfigError as e:
                raise ServiceError(str(e)) from None
            except OSError as e:
                raise ServiceError(f"cannot save {new_config.path}: {e.strerror}") from None
            a.config = new_config
            channel.reconfigure(new_channel)
        log.info("channel %d: heat map settings saved", channel_id)

    def preview(self, channel_id: int) -> np.ndarray | None:
        return self._channel(channel_id).preview()

    # ------------------------------------------------------------ reports

    def _report(self, channel_id: int, report_type: str, date: dt.date, model: str):
        from firmware.reports import ReportError, build_report

        channel = self._channel(channel_id)
        if channel.alive:
            # What the channel analysed since its last checkpoint counts too.
            channel.flush(FLUSH_TIMEOUT)
        if self._a.store is None:
            raise ServiceError(f"the statistics store cannot be read yet: {self.storage().last_error}")
        try:
            return build_report(self._a.store, channel_id, report_type, date, model)
        except ReportError as e:
            raise ServiceError(str(e)) from None

    def _background(self, channel_id: int) -> np.ndarray | None:
        snapshot = self._a.store.background(channel_id)
        return None if snapshot is None else snapshot[1]

    def count(self, channel_id: int, report_type: str, date: dt.date, model: str) -> dict:
        from firmware.reports import report_to_json

        return report_to_json(self._report(channel_id, report_type, date, model))

    def export(self, channel_id: int, report_type: str, date: dt.date, model: str) -> list[Path]:
        from firmware.export import ExportError, export_report

        target = self._a.export_target()
        report = self._report(channel_id, report_type, date, model)
        try:
            if target.default:
                try:
                    target.path.mkdir(parents=True, exist_ok=True)  # created on first use
                except OSError as e:
                    raise ExportError(f"cannot create {target.path}: {e.strerror}") from None
            return export_report(report, target.path, self._background(channel_id))
        except ExportError as e:
            raise ServiceError(str(e)) from None

    def export_target(self) -> ExportTarget:
        return self._a.export_target()

    def set_export_device(self, path: str | None) -> ExportTarget:
        from firmware.export import ExportError, check_directory

        a = self._a
        if path is not None:
            path = path.strip()
            if not os.path.isabs(path):
                raise ServiceError(f"export device {path!r}: give the folder's full path, starting with /")
            try:
                check_directory(path)
            except ExportError as e:
                raise ServiceError(str(e)) from None
            path = os.path.normpath(path)
        with a._config_lock:
            new_config = replace(a.config, appliance=replace(a.config.appliance, export_device=path))
            try:
                validate_config(new_config)
                if new_config.path is not None:
                    save_config(new_config, new_config.path)
            except ConfigError as e:
                raise ServiceError(str(e)) from None
            except OSError as e:
                raise ServiceError(f"cannot save {new_config.path}: {e.strerror}") from None
            a.config = new_config
        target = a.export_target()
        log.info("export device set to %s", target.path)
        return target

    def report_file(self, channel_id: int, report_type: str, date: dt.date, model: str,
                    kind: str) -> ReportFile:
        from firmware.export import default_name
        from firmware.export_png import workbook_picture, write_png
        from firmware.export_xlsx import write_xlsx

        writers: dict[str, tuple[str, Callable]] = {
            "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                     lambda r, f: write_xlsx(r, f, workbook_picture(r, self._background(channel_id)))),
            "png": ("image/png", lambda r, f: write_png(r, self._background(channel_id), f)),
        }
        if kind not in writers:
            raise ServiceError(f"file type {kind!r} is not one of {', '.join(writers)}")
        report = self._report(channel_id, report_type, date, model)
        content_type, write = writers[kind]
        buffer = io.BytesIO()
        write(report, buffer)
        return ReportFile(default_name(report, kind), content_type, buffer.getvalue())

    # ------------------------------------------------------------ events

    def subscribe(self, deliver: Callable[[Event], None]):
        return self._a.events.subscribe(deliver)


def _device_identity(path: Path) -> dict[str, str]:
    """The device's ID and serial number, made once per state directory and kept."""
    try:
        identity = json.loads(path.read_text())
        if isinstance(identity, dict) and {"device_id", "serial_number"} <= identity.keys():
            return identity
    except (OSError, ValueError):
        pass
    device_id = str(uuid.uuid4())
    identity = {"device_id": device_id,
                "serial_number": f"{MODEL}{dt.date.today():%Y%m%d}CCRR{device_id[:8].upper()}"}
    data = json.dumps(identity, indent=1).encode()
    try:
        replace_file(path, lambda f: f.write(data))
    except OSError as e:
        log.warning("%s: cannot save the device identity: %s", path, e.strerror)
    return identity
