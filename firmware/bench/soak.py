"""`nvr bench soak`: the appliance left running with bad sources and a disk that fills, watched for leaks and loss.

The appliance (`nvr run`, a child process, real time) runs 16 channels:

- 8 good: looped recordings (worker processes);
- 4 flapping: live cameras on loopback TCP that stream for a while, hang up,
  refuse connections for a while, and come back (`TsServer`);
- 4 stalling: FIFOs fed by writers that stream, then go silent for longer
  than the video timeout, then resume (`FifoWriter`).

Its state directory must be on a small filesystem of its own (at most
`MAX_FS_BYTES`; `make soak` mounts a tmpfs), because the soak fills it: twice
(at 25-40 % and 60-75 % of the run) a report reader holds its snapshot (so the
store's journal must grow), a filler file takes every free byte, and then
both go. Every `sample_every` seconds the soak records the appliance's
resident and private memory and open file descriptors (parent and worker
processes) and whether the store is writable.

At the end (SIGTERM): the store's integrity, every daily, weekly, monthly and
annual report of every channel built from it, the statistics lost (what the
appliance counted, printed at shutdown, minus what the store holds), the
traceback count of its log, and the memory and descriptor figures after the
warm-up (the first `warmup` share of the run): first, last and largest.
"""
from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

MAX_FS_BYTES = 1 << 30     # the state directory's filesystem: the soak fills it
CLIP_SECONDS = 4
FPS = 25
SIZE = (320, 180)
GOOD, FLAPPING, STALLING = 8, 4, 4
FILL_PHASES = ((0.25, 0.40), (0.60, 0.75))   # shares of the run the disk is full


class SoakError(ValueError):
    """The soak cannot run as asked; one line for the user."""


# ---------------------------------------------------------------------- sources


def walker_frames(n: int, size: tuple[int, int] = SIZE) -> list[np.ndarray]:
    """People-sized dark blocks crossing a textured floor."""
    w, h = size
    rng = np.random.default_rng(11)
    floor = (105 + 30 * rng.random((h, w))).astype(np.uint8)
    frames = []
    for k in range(n):
        img = floor.copy()
        for j in range(3):
            x = int((k * 5 + j * w // 3) % (w + 30)) - 15
            y = 15 + j * (h - 60) // 3
            img[y:y + 45, max(0, x):max(0, x + 14)] = 30
        frames.append(img)
    return frames


def encode(path: Path, frames: list[np.ndarray], fmt: str | None = None) -> Path:
    import av

    with av.open(str(path), mode="w", format=fmt) as out:
        stream = out.add_stream("libx264", rate=FPS, options={"preset": "ultrafast", "crf": "23"})
        h, w = frames[0].shape
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        chroma = np.full((h // 2, w), 128, np.uint8)
        for img in frames:
            frame = av.VideoFrame.from_ndarray(np.concatenate([img, chroma]), format="yuv420p")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def paced(data: bytes, seconds: float, stop: threading.Event, send, step: float = 0.1) -> bool:
    """Send `data` spread over `seconds` (like a camera); False if `send` failed or stop was set."""
    chunk = max(1, int(len(data) * step / seconds))
    t0 = time.monotonic()
    for k, i in enumerate(range(0, len(data), chunk)):
        if stop.is_set():
            return False
        try:
            send(data[i:i + chunk])
        except OSError:
            return False
        delay = t0 + (k + 1) * step - time.monotonic()
        if delay > 0:
            stop.wait(delay)
    return True


class TsServer:
    """A camera on loopback that streams MPEG-TS for `up` seconds, hangs up, refuses for `down`."""

    def __init__(self, ts: bytes, up: float, down: float, stop: threading.Event):
        self.ts, self.up, self.down, self.stop = ts, up, down, stop
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.sessions = 0
        self.thread = threading.Thread(target=self._run, name=f"soak-camera-{self.port}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.sessions += 1
            with conn:
                until = time.monotonic() + self.up
                while time.monotonic() < until and paced(self.ts, CLIP_SECONDS, self.stop, conn.sendall):
                    pass
            # Down: every connection attempt is closed at once (a rebooting camera).
            until = time.monotonic() + self.down
            while time.monotonic() < until and not self.stop.is_set():
                try:
                    c, _ = self.sock.accept()
                    c.close()
                except (TimeoutError, OSError):
                    pass
        self.sock.close()


class FifoWriter:
    """Feeds a FIFO: streams for `run` seconds, then holds it open silent for `stall` seconds."""

    def __init__(self, path: Path, ts: bytes, run: float, stall: float, stop: threading.Event):
        self.path, self.ts, self.run, self.stall, self.stop = path, ts, run, stall, stop
        os.mkfifo(path)
        self.thread = threading.Thread(target=self._run, name=f"soak-fifo-{path.name}", daemon=True)
        self.thread.start()

    def _open(self) -> int | None:
        while not self.stop.is_set():
            try:  # non-blocking: fails (ENXIO) until the appliance opens its end
                fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
                os.set_blocking(fd, True)
                return fd
            except OSError:
                self.stop.wait(0.2)
        return None

    def _run(self) -> None:
        while not self.stop.is_set():
            fd = self._open()
            if fd is None:
                return
            try:
                until = time.monotonic() + self.run
                ok = True
                while ok and time.monotonic() < until:
                    ok = paced(self.ts, CLIP_SECONDS, self.stop, lambda b: os.write(fd, b))
                if ok:
                    self.stop.wait(self.stall)  # silent, still open: the reader stalls
            finally:
                os.close(fd)


# ---------------------------------------------------------------------- measuring


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def memory_and_fds(pid: int) -> tuple[float, float, int]:
    """(resident MB, private MB, open descriptors) of `pid` and its descendants.

    Resident memory includes the pages of shared libraries, which the kernel
    drops and reloads under memory pressure (another process's), so it can
    halve without anything changing in the appliance; private (anonymous)
    memory is what a leak grows, and what the verdict reads."""
    rss_kb = anon_kb = fds = 0
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss_kb += int(line.split()[1])
                    elif line.startswith("RssAnon:"):
                        anon_kb += int(line.split()[1])
            fds += len(os.listdir(f"/proc/{p}/fd"))
        except OSError:
            pass  # ended between the listing and the read
    return rss_kb / 1024, anon_kb / 1024, fds


@dataclass
class Sample:
    t: float          # seconds since boot complete
    rss_mb: float     # resident, appliance and workers
    private_mb: float # anonymous (not file-backed) part of it
    fds: int
    disk: str         # "full" or "free": what the soak is doing to the filesystem
    store: str        # "writable" or "held": from the appliance's log lines


@dataclass
class SoakResult:
    seconds: float
    channels: int
    samples: list[Sample] = field(default_factory=list)
    fill_cycles: int = 0
    failing_lines: int = 0        # "statistics store ... held in memory" lines
    recovered_lines: int = 0      # "... writing again" lines
    tracebacks: int = 0
    integrity: str = ""
    reports_readable: int = 0
    reports_total: int = 0
    lost_visits: int = 0
    lost_dwell_seconds: float = 0.0
    counted_visits: int = 0
    video_losses: int = 0
    restores: int = 0

    def after_warmup(self, warmup: float) -> list[Sample]:
        return [s for s in self.samples if s.t >= warmup * self.seconds] or self.samples

    def figures(self, warmup: float) -> dict:
        w = self.after_warmup(warmup)
        return {
            "rss_mb": {"first": round(w[0].rss_mb, 1), "last": round(w[-1].rss_mb, 1),
                       "max": round(max(s.rss_mb for s in w), 1)},
            "private_mb": {"first": round(w[0].private_mb, 1), "last": round(w[-1].private_mb, 1),
                           "max": round(max(s.private_mb for s in w), 1)},
            "fds": {"first": w[0].fds, "last": w[-1].fds, "min": min(s.fds for s in w),
                    "max": max(s.fds for s in w)},
        }


def run_soak(seconds: float, state_dir: Path, sample_every: float, warmup: float = 0.2,
             log=print) -> SoakResult:
    """The soak (see the module docstring). `state_dir` must be on a small filesystem of its own."""
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    st = os.statvfs(state_dir)
    size = st.f_blocks * st.f_frsize
    if size > MAX_FS_BYTES:
        raise SoakError(f"--state-dir {state_dir}: its filesystem is {size / (1 << 30):.1f} GiB; the soak fills "
                        f"it, so give a small one of its own (at most {MAX_FS_BYTES >> 20} MiB), e.g. a tmpfs "
                        "(make soak mounts one)")
    if os.listdir(state_dir):
        raise SoakError(f"--state-dir {state_dir}: not empty; the soak needs a fresh state directory")
    stop = threading.Event()
    result = SoakResult(seconds=seconds, channels=GOOD + FLAPPING + STALLING)
    with tempfile.TemporaryDirectory(prefix="nvr-soak-") as tmp:
        scratch = Path(tmp)
        frames = walker_frames(CLIP_SECONDS * FPS)
        clip = encode(scratch / "walkers.mp4", frames)
        ts = encode(scratch / "walkers.ts", frames, "mpegts").read_bytes()
        servers = [TsServer(ts, up=20 + 5 * k, down=6 + 2 * k, stop=stop) for k in range(FLAPPING)]
        writers = [FifoWriter(scratch / f"cam{k}.fifo", ts, run=15 + 5 * k, stall=8 + 2 * k, stop=stop)
                   for k in range(STALLING)]
        config = scratch / "soak.yaml"
        config.write_text(_config(clip, [s.port for s in servers], [w.path for w in writers]))
        proc = subprocess.Popen(
            [sys.executable, "-m", "nvr", "run", "--config", str(config), "--state-dir", str(state_dir),
             "--speed", "realtime", "--start", datetime.now().replace(microsecond=0).isoformat()],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        lines: list[str] = []
        reader_thread = threading.Thread(target=lambda: [lines.append(x.rstrip("\n")) for x in proc.stdout],
                                         daemon=True)
        reader_thread.start()
        try:
            _wait(lines, proc, "boot complete", 120)
            log(f"soak: 16 channels booted; {seconds:g} s of real time, disk full twice, a sample every "
                f"{sample_every:g} s")
            _drive(proc, lines, state_dir, seconds, sample_every, result, log)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(90)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            stop.set()
            reader_thread.join(10)
            for s in servers:
                s.thread.join(5)
            for w in writers:
                w.thread.join(5)
    _judge(lines, state_dir, result)
    return result


def _config(clip: Path, ports: list[int], fifos: list[Path]) -> str:
    import yaml

    area = [[[0.0, 0.1], [1.0, 0.1], [1.0, 1.0], [0.0, 1.0]]]
    hm = {"enabled": True, "regions": area, "grid_columns": 32}
    chs = [{"id": k + 1, "name": f"Good {k + 1}", "source": str(clip), "loop": True, "analysis_width": 160,
            "heat_map": hm} for k in range(GOOD)]
    chs += [{"id": GOOD + k + 1, "name": f"Flapping {k + 1}", "source": f"tcp://127.0.0.1:{p}",
             "analysis_width": 160, "heat_map": hm} for k, p in enumerate(ports)]
    chs += [{"id": GOOD + FLAPPING + k + 1, "name": f"Stalling {k + 1}", "source": str(f), "analysis_width": 160,
             "heat_map": hm} for k, f in enumerate(fifos)]
    return yaml.safe_dump({"appliance": {"status_interval": 3600, "checkpoint_interval": 2, "video_timeout": 3},
                           "channels": chs})


def _wait(lines: list[str], proc: subprocess.Popen, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not any(text in x for x in lines):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SoakError("the appliance did not boot: " + " | ".join(lines[-5:]))
        time.sleep(0.1)


def _drive(proc, lines, state_dir: Path, seconds: float, sample_every: float, result: SoakResult, log) -> None:
    t0 = time.monotonic()
    phases = [(a * seconds, b * seconds) for a, b in FILL_PHASES]
    filler: Path | None = None
    reader: sqlite3.Connection | None = None
    next_sample = 0.0
    while (t := time.monotonic() - t0) < seconds:
        if proc.poll() is not None:
            raise SoakError(f"the appliance exited (status {proc.returncode}): " + " | ".join(lines[-5:]))
        full = any(a <= t < b for a, b in phases)
        if full and filler is None:
            reader = sqlite3.connect(state_dir / "statistics.sqlite3")
            reader.execute("BEGIN")
            reader.execute("SELECT count(*) FROM hours").fetchone()  # a report reader's snapshot
            filler = fill(state_dir.parent if _same_fs(state_dir.parent, state_dir) else state_dir)
            log(f"soak: {t:6.0f} s  disk filled")
        elif not full and filler is not None:
            reader.close()
            reader = None
            filler.unlink()
            filler = None
            result.fill_cycles += 1
            log(f"soak: {t:6.0f} s  disk freed")
        if t >= next_sample:
            rss, private, fds = memory_and_fds(proc.pid)
            held = _store_state(lines)
            result.samples.append(Sample(round(t, 1), round(rss, 1), round(private, 1), fds,
                                         "full" if filler else "free", held))
            log(f"soak: {t:6.0f} s  RSS {rss:6.1f} MB  private {private:6.1f} MB  fds {fds:4d}  "
                f"disk {'full' if filler else 'free'}  store {held}")
            next_sample += sample_every
        time.sleep(0.2)
    if filler is not None:
        reader.close()
        filler.unlink()
        result.fill_cycles += 1
    # Let the appliance see the space (a retry every 5 s) before it stops.
    deadline = time.monotonic() + 30
    while _store_state(lines) == "held" and time.monotonic() < deadline:
        time.sleep(0.5)


def _same_fs(a: Path, b: Path) -> bool:
    try:
        return os.stat(a).st_dev == os.stat(b).st_dev
    except OSError:
        return False


def fill(directory: Path, name: str = "soak-filler") -> Path:
    """Write a file in `directory` until its filesystem is full (the last pages too); its path."""
    path = directory / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    block = b"\0" * 65536
    try:
        while True:
            try:
                os.write(fd, block)
            except OSError:
                if len(block) == 1:
                    break
                block = block[: len(block) // 2]
    finally:
        os.close(fd)
    return path


FAILING = "held in memory (up to"   # the appliance's line when the store stops taking writes
RECOVERED = ": writing again after"   # ... and when it takes them again


def _store_state(lines: list[str]) -> str:
    state = "writable"
    for x in lines:
        if FAILING in x:
            state = "held"
        elif RECOVERED in x:
            state = "writable"
    return state


def _judge(lines: list[str], state_dir: Path, result: SoakResult) -> None:
    from firmware.clock import from_clock
    from firmware.reports import REPORT_TYPES, ReportError, build_report
    from firmware.store import SqliteStatistics

    text = "\n".join(lines)
    result.tracebacks = text.count("Traceback (most recent call last)")
    result.failing_lines = sum(FAILING in x for x in lines)
    result.recovered_lines = sum(RECOVERED in x for x in lines)
    result.video_losses = sum("VIDEO LOSS" in x and "WARNING" in x for x in lines)
    result.restores = sum("video restored" in x for x in lines)
    counted = {}
    for x in lines:
        if m := re.match(r"channel (\d+): \d+ frames, \d+ analysed, visits (\d+), dwell ([\d.]+) s", x):
            counted[int(m.group(1))] = (int(m.group(2)), float(m.group(3)))
    path = state_dir / "statistics.sqlite3"
    with sqlite3.connect(path) as c:
        result.integrity = c.execute("PRAGMA integrity_check").fetchone()[0]
        stored = {ch: (v, d) for ch, v, d in c.execute(
            "SELECT channel, sum(visits_total), sum(dwell_total) FROM hours GROUP BY channel")}
        hours = c.execute("SELECT min(hour_start), max(hour_start) FROM hours").fetchone()
    for ch, (v, d) in counted.items():
        sv, sd = stored.get(ch, (0, 0.0))
        result.counted_visits += v
        result.lost_visits += v - sv
        result.lost_dwell_seconds += round(d - sd, 1)
    if hours[0] is None:
        return
    first, last = from_clock(hours[0]).date(), from_clock(hours[1]).date()
    days = [first + timedelta(days=k) for k in range((last - first).days + 1)]
    with SqliteStatistics(state_dir, create=False) as store:
        for ch in store.channel_names():
            for report_type in REPORT_TYPES:
                for day in (days if report_type == "daily" else days[:1]):
                    result.reports_total += 1
                    try:
                        build_report(store, ch, report_type, day)
                        result.reports_readable += 1
                    except ReportError as e:
                        if "no statistics" in str(e):  # a channel that never saw video: readable
                            result.reports_readable += 1


def verdict(result: SoakResult, warmup: float) -> list[str]:
    """Why the soak failed; empty when it passed."""
    f = result.figures(warmup)
    problems = []
    mem, fds = f["private_mb"], f["fds"]
    if mem["last"] - mem["first"] > max(MEMORY_SLACK_MB, 0.1 * mem["first"]):
        problems.append(f"private memory grew from {mem['first']} to {mem['last']} MB after the warm-up")
    if fds["last"] - fds["first"] > FD_SLACK:
        problems.append(f"open descriptors grew from {fds['first']} to {fds['last']} after the warm-up")
    if result.integrity != "ok":
        problems.append(f"store integrity: {result.integrity}")
    if result.reports_readable != result.reports_total:
        problems.append(f"{result.reports_total - result.reports_readable} of {result.reports_total} reports "
                        "unreadable")
    if result.lost_visits or abs(result.lost_dwell_seconds) > 0.1 * result.channels:
        problems.append(f"statistics lost: {result.lost_visits} visits, {result.lost_dwell_seconds:g} s of dwell")
    if result.tracebacks:
        problems.append(f"{result.tracebacks} tracebacks in the appliance's log")
    if result.fill_cycles < len(FILL_PHASES):
        problems.append(f"the disk was filled and freed {result.fill_cycles} times, not {len(FILL_PHASES)}")
    if result.recovered_lines != result.failing_lines:
        problems.append(f"the store failed {result.failing_lines} times and recovered {result.recovered_lines}")
    return problems


MEMORY_SLACK_MB = 25.0  # private memory may settle by this much after the warm-up
FD_SLACK = 8          # descriptors of sources reconnecting at the moment of a sample
