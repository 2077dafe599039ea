"""A full disk, on a real filesystem that fills (tmpfs): nothing that fits in memory is lost, nothing breaks.

The store level (a statistics row is never committed without its layout),
the holding sink (`firmware.storage.HeldStatistics`: one line when writing
fails, one when it recovers, the held hours written when space returns, the
bound), and the appliance itself: `nvr run` with its state directory on a
filesystem that fills while it runs, and booting on one that is already full.
"""
from __future__ import annotations

import logging
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest
import yaml

from firmware.clock import from_clock, to_clock
from firmware.reports import build_report
from firmware.stats import Layout
from firmware.store import FILENAME, SqliteStatistics
from tests.fullfs import fill, free, tmpfs
from tests.test_store import AREAS, hour_record

pytestmark = pytest.mark.slow   # the fast tier (-m 'not slow') leaves it out: see README, Tests

REPO = Path(__file__).resolve().parents[1]
DAY0 = int(to_clock(datetime(2026, 11, 24)))


@pytest.fixture
def small_fs(tmp_path):
    with tmpfs(tmp_path / "fs", "2m") as mnt:
        yield mnt


def big_layout(k: int) -> Layout:
    """A 36x64 layout; k makes it a new one (a newly drawn area, another parameter)."""
    return Layout(36, 64, AREAS[:1], (50, 60, 40, k % 101), 640, 360, 320, 180)


def noisy_record(channel: int, hour: int, rng, layout: Layout):
    """An hour whose grids compress badly, so each one needs new pages on disk."""
    rec = hour_record(channel, DAY0 + 3600 * hour, rng, layout=layout, scale=40.0)
    return rec


def totals(store: SqliteStatistics, channel: int, days: int) -> tuple[int, float]:
    rows = store.rows(channel, DAY0, DAY0 + days * 86400, "hour")
    return sum(r.visits_total for r in rows), sum(r.dwell_total for r in rows)


def orphans(path: Path) -> int:
    with sqlite3.connect(path) as c:
        return c.execute("SELECT count(*) FROM hours WHERE layout_id NOT IN (SELECT layout_id FROM layouts)"
                         " OR layout_id IN (SELECT layout_id FROM layouts WHERE spec LIKE 'lost:%')").fetchone()[0]


# --------------------------------------------------------------------------- the store


def test_a_row_is_never_committed_without_its_layout(small_fs):
    """The failure seen in the field: a newly drawn area's first hour hits the full disk,
    the next write of that layout went through without the layout row, and every report
    of that day raised TypeError."""
    rng = np.random.default_rng(1)
    store = SqliteStatistics(small_fs)
    store.record(noisy_record(1, 0, rng, big_layout(0)))
    filler = fill(small_fs)
    failed = None
    for k in range(1, 400):
        rec = noisy_record(1, k % 24, rng, big_layout(k))
        try:
            store.record(rec)
        except Exception as e:  # noqa: BLE001 - which one is part of what is tested
            assert "database or disk is full" in str(e), repr(e)
            failed = rec
            break
    assert failed is not None, "the disk never filled"
    free(filler)
    store.record(noisy_record(1, failed.hour_start // 3600 - DAY0 // 3600, rng, failed.layout))
    store.close()
    assert orphans(small_fs / FILENAME) == 0
    with SqliteStatistics(small_fs) as store:
        report = build_report(store, 1, "daily", date(2026, 11, 24))
        assert report.layout.params[3] == failed.layout.params[3]
        assert report.lost_layout_hours == 0


# --------------------------------------------------------------------------- the holding sink


class LogLines(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)

    def lines(self, level=logging.INFO) -> list[str]:
        return [r.getMessage() for r in self.records if r.levelno >= level]


@pytest.fixture
def storage_log():
    handler = LogLines()
    logger = logging.getLogger("firmware.storage")
    logger.addHandler(handler)
    old = logger.level
    logger.setLevel(logging.DEBUG)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(old)


def test_held_statistics_are_written_when_space_returns(small_fs, storage_log):
    from firmware.storage import HeldStatistics

    rng = np.random.default_rng(2)
    held = HeldStatistics(lambda: SqliteStatistics(small_fs), str(small_fs / FILENAME), retry_interval=0.0)
    held.open()
    held.set_channel_name(1, "Entrance")
    sent = []
    filler = fill(small_fs)
    hour = 0
    # Records keep coming (four checkpoints an hour) while the disk is full.
    while held.status().ok or len(sent) < 60:
        rec = noisy_record(1 + hour % 3, hour // 3, rng, big_layout(hour // 40))
        held.record(rec)
        sent.append(rec)
        if hour % 4 == 3:
            held.checkpoint()
        hour += 1
        assert hour < 2000, "the disk never filled"
    st = held.status()
    assert st.state == "failing" and st.held_channel_hours > 0 and "disk is full" in st.last_error
    assert st.since is not None and st.lost_channel_hours == 0
    failing = [m for m in storage_log.lines() if "cannot write" in m]
    assert len(failing) == 1, storage_log.lines()  # one line, not one per checkpoint
    assert "held in memory (up to 1536 channel-hours)" in failing[0]
    assert not any(r.exc_info for r in storage_log.records)

    free(filler)
    held.retry(force=True)
    assert held.status().ok and held.status().held_channel_hours == 0
    recovered = [m for m in storage_log.lines() if "writing again" in m]
    assert len(recovered) == 1
    held.close()

    with SqliteStatistics(small_fs) as store:
        for ch in (1, 2, 3):
            mine = [r for r in sent if r.channel == ch]
            v, d = totals(store, ch, 30)
            assert v == sum(r.visits_total for r in mine)
            assert d == pytest.approx(sum(r.dwell_total for r in mine), abs=0.01 * len(mine))
        days = {from_clock(r.hour_start).date() for r in sent}
        for day in days:  # every report readable
            build_report(store, 1, "daily", day)
        assert store.channel_names()[1] == "Entrance"
    assert orphans(small_fs / FILENAME) == 0
    with sqlite3.connect(small_fs / FILENAME) as c:
        assert c.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_channels_keep_recording_while_the_backlog_is_written(tmp_path, storage_log):
    """The write-back runs outside the sink's lock: records arriving meanwhile (for hours being
    written and for new ones) are held and written after, and every count arrives once."""
    from firmware.storage import HeldStatistics

    rng = np.random.default_rng(6)
    with tmpfs(tmp_path / "fs", "6m") as small_fs:
        _backlog(small_fs, rng, HeldStatistics)


def _backlog(small_fs: Path, rng, HeldStatistics) -> None:
    held = HeldStatistics(lambda: SqliteStatistics(small_fs), str(small_fs / FILENAME), retry_interval=3600)
    held.open()
    filler = fill(small_fs)
    sent = []
    k = 0
    while held.status().ok or len(sent) < 120:
        rec = noisy_record(1 + k % 4, k // 4, rng, big_layout(0))
        held.record(rec)
        sent.append(rec)
        k += 1
        assert k < 2000
    free(filler)
    stop = threading.Event()

    def keep_recording():
        for j in range(200):  # small hours, new ones and repeats of hours being written
            if stop.is_set():
                break
            rec = hour_record(5 + j % 2, DAY0 + 3600 * (j % 40), rng, layout=big_layout(0))
            held.record(rec)
            sent.append(rec)

    t = threading.Thread(target=keep_recording)
    t.start()
    held.retry(force=True)
    stop.set()
    t.join()
    for _ in range(5):
        if held.status().ok:
            break
        held.retry(force=True)
    assert held.status().ok, held.status()
    held.close()
    with SqliteStatistics(small_fs) as store:
        for ch in range(1, 7):
            v, _ = totals(store, ch, 30)
            assert v == sum(r.visits_total for r in sent if r.channel == ch), ch


def test_held_hours_are_bounded_and_the_dropped_ones_counted(small_fs, storage_log):
    from firmware.storage import HeldStatistics

    rng = np.random.default_rng(3)
    held = HeldStatistics(lambda: SqliteStatistics(small_fs), str(small_fs / FILENAME), max_hours=10,
                          retry_interval=3600)
    held.open()
    filler = fill(small_fs)
    k = 0
    while held.status().ok:
        held.record(noisy_record(1, k, rng, big_layout(k)))
        k += 1
        assert k < 500
    for extra in range(15):  # 15 more channel-hours than the bound leaves room for
        held.record(noisy_record(2, extra, rng, big_layout(0)))
    st = held.status()
    assert st.held_channel_hours == 10 and st.lost_channel_hours >= 5
    dropping = [m for m in storage_log.lines(logging.ERROR) if "the oldest are dropped" in m]
    assert len(dropping) == 1
    free(filler)
    held.retry(force=True)
    held.close()
    with SqliteStatistics(small_fs) as store:
        # The newest ten channel-hours are the ones kept.
        kept = {r.start for r in store.rows(2, DAY0, DAY0 + 86400, "hour")}
        assert kept == {DAY0 + 3600 * h for h in range(5, 15)}


def test_hours_of_a_layout_an_older_firmware_lost_keep_reports_readable(tmp_path):
    """Stores written before the fix can hold such rows: migration m004 reserves the id
    (so a new layout cannot take it over) and reports leave the hours out of the grids."""
    from firmware.migrations import apply_migrations, encode_counts, rebuild_day
    from firmware.store import layout_to_json

    rng = np.random.default_rng(4)
    conn = sqlite3.connect(tmp_path / FILENAME, isolation_level=None)
    apply_migrations(conn, upto="m003_count_each_hour_once")
    # What the old firmware left: hours 9 and 10 under layout 1 (written), hour 11
    # under layout 2, whose own row the full disk rolled back.
    conn.execute("INSERT INTO layouts (layout_id, spec) VALUES (1, ?)", (layout_to_json(big_layout(1)),))
    conn.execute("INSERT INTO channels VALUES (1, 'Entrance')")
    want_visits = 0
    for h, lid in ((9, 1), (10, 1), (11, 2)):
        rec = noisy_record(1, h, rng, big_layout(1))
        want_visits += rec.visits_total
        conn.execute("INSERT INTO hours VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     (1, rec.hour_start, lid, encode_counts(rec.visits), encode_counts(np.rint(rec.dwell * 100)),
                      encode_counts(rec.area_visits), encode_counts(np.rint(rec.area_dwell * 100)),
                      rec.visits_total, rec.dwell_total, rec.analysed_seconds, rec.scene_changes))
    rebuild_day(conn, 1, DAY0)
    conn.close()

    with SqliteStatistics(tmp_path) as store:
        report = build_report(store, 1, "daily", date(2026, 11, 24))
        assert report.visits_total == want_visits          # every hour counts in the totals
        assert report.lost_layout_hours == 1               # the lost one is named, not drawn
        assert report.layout == big_layout(1)
        weekly = build_report(store, 1, "weekly", date(2026, 11, 24))
        assert weekly.visits_total == want_visits
        # A new layout never takes the lost id over.
        store.record(noisy_record(1, 12, rng, big_layout(7)))
        assert store.layout(3) == big_layout(7)
    r = subprocess.run([sys.executable, "-m", "nvr", "report", "--state-dir", str(tmp_path), "--channel", "1",
                        "--type", "daily", "--date", "2026-11-24"], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr
    assert "1 hours whose layout the store lost" in r.stdout


# --------------------------------------------------------------------------- the appliance


FPS = 25


@pytest.fixture(scope="module")
def busy_clip(tmp_path_factory) -> Path:
    """People-sized blocks crossing a textured floor (a few visits a second)."""
    from tests.clips import make_clip

    rng = np.random.default_rng(7)
    h, w = 180, 320
    floor = (110 + 25 * rng.random((h, w))).astype(np.uint8)
    frames = []
    for k in range(100):
        img = floor.copy()
        for j in range(3):
            x = int((k * 6 + j * 110) % (w + 40)) - 20
            y = 20 + 50 * j
            img[y:y + 45, max(0, x):max(0, x + 16)] = 35
        frames.append(img)
    return make_clip(tmp_path_factory.mktemp("busy") / "busy.mp4", frames, fps=FPS,
                     options={"crf": "20", "preset": "ultrafast"})


class Run:
    """`nvr run` in a subprocess, its output lines collected."""

    def __init__(self, config: Path, state: Path, *extra: str):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "nvr", "run", "--config", str(config), "--state-dir", str(state), *extra],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._collect, daemon=True)
        self._reader.start()

    def _collect(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float = 60) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if m := re.search(pattern, line):
                    return m
            if self.proc.poll() is not None:
                self._reader.join(5)
                for line in self.lines:
                    if m := re.search(pattern, line):
                        return m
                break
            time.sleep(0.05)
        raise AssertionError(f"never printed {pattern!r}:\n" + "\n".join(self.lines[-40:]))

    def stop(self) -> list[str]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(60)
        self._reader.join(10)
        return self.lines


def shutdown_totals(lines: list[str]) -> dict[int, tuple[int, float]]:
    out = {}
    for line in lines:
        if m := re.match(r"channel (\d+): \d+ frames, \d+ analysed, visits (\d+), dwell ([\d.]+) s", line):
            out[int(m.group(1))] = (int(m.group(2)), float(m.group(3)))
    return out


def stored_totals(state: Path) -> dict[int, tuple[int, float]]:
    with sqlite3.connect(state / FILENAME) as c:
        assert c.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return {ch: (v, d) for ch, v, d in
                c.execute("SELECT channel, sum(visits_total), sum(dwell_total) FROM hours GROUP BY channel")}


def same_totals(stored: dict, counted: dict) -> bool:
    """Visits equal; dwell equal to the 0.1 s the shutdown line prints (one rounding each side)."""
    return stored.keys() == counted.keys() and all(
        stored[ch][0] == counted[ch][0] and abs(stored[ch][1] - counted[ch][1]) <= 0.1 for ch in stored)


def write_config(path: Path, clip: Path, channels: int = 2) -> Path:
    chs = [{"id": i, "name": f"Cam {i}", "source": str(clip), "loop": True,
            "heat_map": {"enabled": True, "regions": [[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]]}}
           for i in range(1, channels + 1)]
    path.write_text(yaml.safe_dump({"appliance": {"status_interval": 3600, "checkpoint_interval": 1},
                                    "channels": chs}))
    return path


def assert_clean(lines: list[str]) -> None:
    text = "\n".join(lines)
    assert "Traceback" not in text and "Error:" not in text.replace("error:", ""), text[-3000:]


def test_nvr_run_on_a_disk_that_fills_while_it_runs(tmp_path, busy_clip):
    """While a report reader holds its snapshot the store's journal grows each checkpoint,
    so the disk fills under the running appliance: one line when writing fails, the
    appliance keeps analysing, one line when it recovers, and nothing is lost."""
    with tmpfs(tmp_path / "fs", "3m") as fs:
        state = fs / "state"
        run = Run(write_config(tmp_path / "nvr.yaml", busy_clip), state, "--speed", "realtime",
                  "--start", "2026-11-24T09:59:50")
        run.wait_for("boot complete")
        reader = sqlite3.connect(state / FILENAME)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM hours").fetchone()  # a report reading, slowly
        filler = fill(fs)
        run.wait_for(r"statistics store .*database or disk is full; statistics are held in memory", 60)
        time.sleep(4)  # several checkpoints while full, and the hour rolls over (10:00)
        reader.close()
        free(filler)
        run.wait_for(r"statistics store .*: writing again after", 30)
        lines = run.stop()
        assert_clean(lines)
        assert sum("disk is full" in line for line in lines) == 1, lines
        assert sum("writing again" in line for line in lines) == 1
        memory = shutdown_totals(lines)
        assert memory and all(v > 0 for v, _ in memory.values()), lines
        assert same_totals(stored_totals(state), memory), (stored_totals(state), memory)
        r = subprocess.run([sys.executable, "-m", "nvr", "report", "--state-dir", str(state), "--channel",
                            "1", "--type", "daily", "--date", "2026-11-24"], capture_output=True, text=True,
                           cwd=REPO)
        assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("existing_store", [True, False], ids=["existing-store", "fresh-state-dir"])
def test_nvr_run_boots_on_a_full_disk_and_holds_statistics(tmp_path, busy_clip, existing_store):
    """Boot on a full disk: one line says so and the appliance runs with the statistics held
    in memory; when space returns they are written."""
    with tmpfs(tmp_path / "fs", "2m") as fs:
        state = fs / "state"
        config = write_config(tmp_path / "nvr.yaml", busy_clip)
        if existing_store:
            first = Run(config, state, "--speed", "max", "--start", "2026-11-24T08:00:00", "--duration", "20")
            first.wait_for("shutdown complete")
            first.stop()
            before = stored_totals(state)
        else:
            state.mkdir()
            before = {}
        filler = fill(fs)
        run = Run(config, state, "--speed", "realtime", "--start", "2026-11-24T10:00:00")
        if existing_store:
            # Writes that fit the pages the store already has still succeed: it fails
            # at boot or at the first write that needs space, and says so once.
            run.wait_for(r"statistics store .*database or disk is full.* held in memory \(up to 1536 "
                         r"channel-hours\)")
        else:
            boot = run.wait_for(r"statistics store .*: (.*); running with statistics held in memory "
                                r"\(up to 1536 channel-hours\)")
            assert "disk is full" in boot.group(1)
        run.wait_for("boot complete")
        time.sleep(3)
        free(filler)
        run.wait_for(r"writing again after", 30)
        lines = run.stop()
        assert_clean(lines)
        assert sum("disk is full" in line for line in lines) == 1, lines
        memory = shutdown_totals(lines)
        assert memory, lines
        expected = {ch: (before.get(ch, (0, 0.0))[0] + v, before.get(ch, (0, 0.0))[1] + d)
                    for ch, (v, d) in memory.items()}
        assert same_totals(stored_totals(state), expected), (stored_totals(state), expected)


def test_the_appliance_shows_the_condition_through_the_service(tmp_path, busy_clip):
    """What the console's Status screen (and the web front end) read: StorageStatus."""
    from firmware.appliance import Appliance, RunOptions
    from firmware.clock import parse_start
    from firmware.config import load_config
    from menu import render

    with tmpfs(tmp_path / "fs", "2m") as fs:
        state = fs / "state"
        state.mkdir()
        filler = fill(fs)
        out = open(tmp_path / "boot.txt", "w")
        a = Appliance(load_config(write_config(tmp_path / "nvr.yaml", busy_clip, channels=1)),
                      RunOptions(state_dir=state, speed="realtime", start=parse_start("2026-11-24T10:00:00")),
                      out=out)
        try:
            a.boot()
            service = a.service()
            st = service.storage()
            assert st.state == "failing" and not st.ok and "disk is full" in st.last_error
            lines = render.storage_lines(st)
            assert lines[0].startswith("Storage: NOT WRITABLE since ") and "channel-hours held in memory" in lines[0]
            assert "disk is full" in lines[1]
            free(filler)
            deadline = time.monotonic() + 20
            while not service.storage().ok:
                a.storage.retry()
                assert time.monotonic() < deadline
                time.sleep(0.2)
            assert render.storage_lines(service.storage()) == ["Storage: OK"]
        finally:
            a.shutdown()
            out.close()


def test_the_web_announces_a_full_disk_and_its_end_and_shows_it_on_status(tmp_path, busy_clip):
    """ISAPI's alert stream sends `diskfull` active when statistics cannot be written and
    inactive when they can again; the page's Status shows the store failing meanwhile."""
    import requests

    from firmware.appliance import Appliance, RunOptions
    from firmware.auth import PasswordStore
    from firmware.clock import parse_start
    from firmware.config import WebConfig, load_config
    from tests.webapp import read_alerts
    from web.server import WebFrontEnd

    password = "Heat-Map-2026"
    with tmpfs(tmp_path / "fs", "4m") as fs:
        state = fs / "state"
        PasswordStore(state).set(password)
        web = WebFrontEnd(WebConfig(port=0), heartbeat=1.0)
        out = open(tmp_path / "boot.txt", "w")
        a = Appliance(load_config(write_config(tmp_path / "nvr.yaml", busy_clip, channels=1)),
                      RunOptions(state_dir=state, speed="realtime", start=parse_start("2026-11-24T10:00:00")),
                      out=out, front_ends=[web])
        runner = threading.Thread(target=a.run, daemon=True)
        filler = reader = None
        try:
            a.boot()
            runner.start()
            url = f"http://127.0.0.1:{web.port}"
            page = requests.Session()
            assert page.post(url + "/api/login", json={"user": "admin", "password": password}).ok

            def fill_then_free(alerts: list[dict]) -> bool:
                nonlocal filler, reader
                disk = [x["eventState"] for x in alerts if x["eventType"] == "diskfull"]
                if filler is None and alerts:          # subscribed: now the disk fills
                    reader = sqlite3.connect(state / FILENAME)   # a slow report keeps the journal growing
                    reader.execute("BEGIN")
                    reader.execute("SELECT count(*) FROM hours").fetchone()
                    filler = fill(fs)
                if disk == ["active"] and filler.exists():
                    reader.close()
                    storage = page.get(url + "/api/status").json()["storage"]
                    assert storage["state"] == "failing" and "full" in storage["lastError"], storage
                    free(filler)
                return disk == ["active", "inactive"]

            alerts = read_alerts(url, fill_then_free, timeout=60, password=password)
            disk = [x for x in alerts if x["eventType"] == "diskfull"]
            assert [x["eventState"] for x in disk] == ["active", "inactive"], alerts
            assert disk[0]["channelID"] == "0" and "held in memory" in disk[0]["eventDescription"]
            assert page.get(url + "/api/status").json()["storage"]["state"] == "ok"
        finally:
            if reader is not None:
                reader.close()
            if filler is not None and filler.exists():
                free(filler)
            a.shutdown()
            runner.join(10)
            out.close()
