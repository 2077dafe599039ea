"""Does the web disturb the frame budgets? A real-time run with and without web clients, same run.

The appliance runs CHANNELS paced channels of the corridor sample (640x360,
25 fps, heat map on) in its worker processes, with its web server in the main
process. Two windows of the same length, one after the other:

    quiet   nobody connected;
    loaded  four clients each polling one channel's live view every 0.4 s (as
            the configuration page does) and one alert-stream subscriber,
            all in a separate process, as browsers on other machines are.

Reported (extra_info, and printed): frames, overruns and drops per window,
overruns per 10,000 frames, and the live-view request latency p50/p99.
CI (--benchmark-disable): 4 channels, 3 s windows; `make bench`: 16
channels, 20 s windows.
"""
from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
import time

import numpy as np

from frames import SAMPLES, benchmarks_disabled
from firmware.appliance import Appliance, RunOptions
from firmware.auth import PasswordStore
from firmware.config import WebConfig, parse_config
from web.server import WebFrontEnd

PASSWORD = "Bench-Web-2026"
CLIENTS = textwrap.dedent("""
    import json, sys, threading, time
    import requests
    from requests.auth import HTTPDigestAuth
    url, password, channels, seconds = sys.argv[1], sys.argv[2], [int(c) for c in sys.argv[3].split(",")], float(sys.argv[4])
    latencies, events = [], [0]
    stop = time.monotonic() + seconds
    def poll(ch):
        s = requests.Session(); s.auth = HTTPDigestAuth("admin", password)
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            r = s.get(f"{url}/ISAPI/Streaming/channels/{ch}01/picture", timeout=10)
            latencies.append((time.perf_counter() - t0) * 1000)
            assert r.status_code == 200, r.status_code
            time.sleep(max(0.0, 0.4 - (time.perf_counter() - t0)))
    def listen():
        with requests.get(f"{url}/ISAPI/Event/notification/alertStream", auth=HTTPDigestAuth("admin", password),
                          stream=True, timeout=seconds + 10) as r:
            assert r.status_code == 200, r.status_code
            for chunk in r.iter_content(chunk_size=None):
                events[0] += chunk.count(b"<EventNotificationAlert")
                if time.monotonic() > stop:
                    break
    pollers = [threading.Thread(target=poll, args=(ch,)) for ch in channels]
    threading.Thread(target=listen, daemon=True).start()  # reads until the process ends
    for t in pollers: t.start()
    print("started", flush=True)
    for t in pollers: t.join()
    print(json.dumps({"latencies_ms": latencies, "events": events[0]}))
""")


def counters(appliance: Appliance) -> np.ndarray:
    if appliance.pool is not None:
        appliance.pool.refresh()
    return np.array([(c.counters.frames, c.budget.stats().overruns, c.capture.drops)
                     for c in appliance.channels.values()], np.int64)


def test_web_clients_and_frame_budgets(benchmark, tmp_path):
    short = benchmarks_disabled(benchmark)
    n, seconds = (4, 3.0) if short else (16, 20.0)
    corridor = SAMPLES / "corridor.mp4"
    config = parse_config({"appliance": {"status_interval": 3600, "checkpoint_interval": 60},
                           "channels": [{"id": k, "source": str(corridor), "loop": True,
                                         "heat_map": {"enabled": True}} for k in range(1, n + 1)]})
    PasswordStore(tmp_path).set(PASSWORD)
    web = WebFrontEnd(WebConfig(port=0))
    appliance = Appliance(config, RunOptions(state_dir=tmp_path, speed="realtime"), out=io.StringIO(),
                          front_ends=[web])
    appliance.boot()
    try:
        time.sleep(2.0)  # past the start-up frames
        a = counters(appliance)
        time.sleep(seconds)
        quiet = (counters(appliance) - a).sum(0)
        url = f"http://127.0.0.1:{web.port}"
        clients = subprocess.Popen([sys.executable, "-c", CLIENTS, url, PASSWORD, "1,2,3,4", str(seconds)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert clients.stdout.readline().strip() == "started", clients.stderr.read()[-2000:]
        b = counters(appliance)  # the loaded window starts with the clients
        time.sleep(seconds)
        c = counters(appliance)
        out, err = clients.communicate(timeout=60)
        assert clients.returncode == 0, err[-2000:]
    finally:
        appliance.shutdown()
    clients = json.loads(out)
    loaded = (c - b).sum(0)
    lat = np.array(clients["latencies_ms"])
    report = {
        "channels": n, "seconds": seconds,
        "quiet": {"frames": int(quiet[0]), "overruns": int(quiet[1]), "drops": int(quiet[2]),
                  "overruns_per_10k": round(1e4 * quiet[1] / max(quiet[0], 1), 2)},
        "loaded": {"frames": int(loaded[0]), "overruns": int(loaded[1]), "drops": int(loaded[2]),
                   "overruns_per_10k": round(1e4 * loaded[1] / max(loaded[0], 1), 2)},
        "live_view_requests": int(lat.size), "latency_p50_ms": round(float(np.percentile(lat, 50)), 1),
        "latency_p99_ms": round(float(np.percentile(lat, 99)), 1), "alerts_received": clients["events"],
    }
    benchmark.extra_info.update(report)
    print(json.dumps(report, indent=1))
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    # Every window analysed its channels at their full rate, with the clients as without.
    expected = n * 25 * seconds
    assert quiet[0] > 0.9 * expected and loaded[0] > 0.9 * expected
    assert lat.size >= 4 * seconds / 0.4 * 0.5  # the clients really polled
