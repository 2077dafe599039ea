"""Configuration: every validation error is one actionable line; saves are atomic."""
from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from firmware.config import ConfigError, load_config, parse_config, save_config

REPO = Path(__file__).resolve().parents[1]

GOOD = {
    "channels": [
        {
            "id": 1,
            "name": "Entrance",
            "source": "data/samples/corridor.mp4",
            "loop": True,
            "analysis_width": 640,
            "heat_map": {
                "enabled": False,
                "regions": [[[0.1, 0.2], [0.9, 0.2], [0.9, 0.95], [0.1, 0.95]]],
                "detection_sensitivity": 50,
                "background_update_rate": 50,
                "scene_change_level": 50,
                "minimum_target_size": 50,
            },
        },
        {"id": 2, "name": "Till", "source": "rtsp://127.0.0.1:8554/cam2"},
    ]
}


def bad(path: str, value) -> dict:
    """GOOD with the value at a dotted path (list indexes as numbers) replaced; `...` deletes it."""
    doc = copy.deepcopy(GOOD)
    keys = [int(k) if k.isdigit() else k for k in path.split(".")]
    node = doc
    for k in keys[:-1]:
        node = node[k]
    if value is ...:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value
    return doc


def test_the_issue_example_loads_with_seed_defaults():
    config = parse_config(GOOD)
    ch = config.channel(1)
    assert ch.heat_map.enabled is False
    assert ch.heat_map.params.detection_sensitivity == 50
    assert ch.heat_map.regions[0][2] == (0.9, 0.95)
    assert config.channel(2).heat_map.regions == ()  # everything but id and source has a default


@pytest.mark.parametrize(
    "path, value, message",
    [
        ("channels.0.heat_map.detection_sensitivity", 140,
         "channels[0].heat_map.detection_sensitivity: 140 is out of range 0..100"),
        ("channels.1.heat_map", {"scene_change_level": -1},
         "channels[1].heat_map.scene_change_level: -1 is out of range 0..100"),
        ("channels.0.heat_map.minimum_target_size", "big",
         "channels[0].heat_map.minimum_target_size: 'big' is not a whole number (0..100)"),
        ("channels.0.heat_map.background_update_rate", 50.5,
         "channels[0].heat_map.background_update_rate: 50.5 is not a whole number (0..100)"),
        ("channels.0.heat_map.enabled", "yes", "channels[0].heat_map.enabled: 'yes' must be true or false"),
        ("channels.0.heat_map.sensitivity", 50, "channels[0].heat_map.sensitivity: unknown key"),
        ("channels.0.sorce", "x.mp4", "channels[0].sorce: unknown key"),
        ("channels.1.id", 1, "channels[1].id: 1 is already used by channels[0]"),
        ("channels.1.id", 0, "channels[1].id: 0 is out of range 1..256"),
        ("channels.1.source", ..., "channels[1].source: missing (it is required)"),
        ("channels.1.source", "  ", "channels[1].source: must name a file or a URL"),
        ("channels.0.analysis_width", 10, "channels[0].analysis_width: 10 is out of range 64..3840"),
        ("channels.0.skip_loop_filter", "yes",
         "channels[0].skip_loop_filter: 'yes' is not one of none, default, noref, bidir, nointra, nokey, all"),
        ("channels.0.heat_map.regions", [[[0, 0], [1, 0]]],
         "channels[0].heat_map.regions[0]: an area needs at least 3 points, got 2"),
        ("channels.0.heat_map.regions", [[[0, 0], [1, 1], [1, 0], [0, 1]]],
         "channels[0].heat_map.regions[0]: edges 1 and 3 cross (the area is self-intersecting)"),
        ("channels.0.heat_map.regions", [[[0, 0], [0.5, 0.5], [1, 1]]],
         "channels[0].heat_map.regions[0]: the area is degenerate"),
        ("channels.0.heat_map.regions", [[[0, 0], [1.2, 0], [1, 1]]],
         "channels[0].heat_map.regions[0]: point 2 (1.2, 0) is outside the frame (0..1)"),
        ("channels.0.heat_map.regions", [[[0, 0], [1, 0], "x"]],
         "channels[0].heat_map.regions[0][2]: 'x' is not an [x, y] point of numbers"),
        ("channels.0.heat_map.regions", [[[0, 0], [1, 0], [1, 1]]] * 9,
         "channels[0].heat_map.regions: 9 areas, at most 8 are allowed"),
        ("channels.0.heat_map.regions", [[[i / 20, (i % 2) / 2] for i in range(11)]],
         "channels[0].heat_map.regions[0]: an area has at most 10 points, got 11"),
        ("channels.0.heat_map.schedule", [{"days": ["mon"], "time": "18:00-09:00"}],
         "channels[0].heat_map.schedule[0].time: '18:00-09:00' is not a window within one day"),
        ("channels.0.heat_map.schedule", [{"days": ["monday"], "time": "09:00-18:00"}],
         "channels[0].heat_map.schedule[0].days: ['monday'] must be a list of mon, tue"),
        ("channels.0.heat_map.grid_columns", 1000, "channels[0].heat_map.grid_columns: 1000 is out of range 4..256"),
        ("channels", [], "channels: must be a non-empty list of channels"),
        ("channels.0", "camera", "channels[0]: must be a mapping of keys, got str"),
    ],
)
def test_each_mistake_is_one_line_naming_key_value_and_what_is_allowed(path, value, message):
    with pytest.raises(ConfigError) as err:
        parse_config(bad(path, value))
    text = str(err.value)
    assert text.startswith(message)
    assert "\n" not in text


def test_appliance_section_is_validated_too():
    doc = copy.deepcopy(GOOD)
    doc["appliance"] = {"checkpoint_interval": 600}
    with pytest.raises(ConfigError, match=r"^appliance.checkpoint_interval: 600 is out of range 1..60$"):
        parse_config(doc)
    doc["appliance"] = {"console": {"tcp_port": 80}}
    with pytest.raises(ConfigError, match=r"^appliance.console.tcp_port: 80 is out of range 1024..65535$"):
        parse_config(doc)


def test_file_errors_name_the_file(tmp_path):
    f = tmp_path / "nvr.yaml"
    f.write_text("channels: [\n")
    with pytest.raises(ConfigError, match=r"nvr.yaml: not valid YAML at line \d+"):
        load_config(f)
    f.write_text(yaml.safe_dump(bad("channels.0.heat_map.detection_sensitivity", 140)))
    with pytest.raises(ConfigError, match=r"^nvr.yaml: channels\[0\]"):
        load_config(f)
    with pytest.raises(ConfigError, match=r"missing.yaml: cannot read"):
        load_config(tmp_path / "missing.yaml")


def test_yaml_is_loaded_safely(tmp_path):
    f = tmp_path / "evil.yaml"
    f.write_text("channels: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(f)


def test_save_round_trips_and_keeps_a_backup(tmp_path):
    f = tmp_path / "nvr.yaml"
    f.write_text(yaml.safe_dump(GOOD))
    first = load_config(f)
    changed = parse_config(bad("channels.0.heat_map.detection_sensitivity", 80), f)
    save_config(changed, f)
    assert load_config(f).channel(1).heat_map.detection_sensitivity == 80
    assert load_config(tmp_path / "nvr.yaml.bak").channel(1).heat_map == first.channel(1).heat_map
    assert not list(tmp_path.glob("*.tmp"))


def test_nvr_run_with_a_bad_config_exits_2_with_one_error_line(tmp_path):
    f = tmp_path / "nvr.yaml"
    f.write_text(yaml.safe_dump(bad("channels.0.heat_map.detection_sensitivity", 140)))
    r = subprocess.run([sys.executable, "-m", "nvr", "run", "--config", str(f), "--state-dir",
                        str(tmp_path / "state")], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert r.returncode == 2
    assert r.stderr == ("error: nvr.yaml: channels[0].heat_map.detection_sensitivity: "
                        "140 is out of range 0..100\n")
    assert "Traceback" not in r.stdout


SAVER = """
import sys, yaml
from firmware.config import parse_config, save_config
path, a, b = sys.argv[1], yaml.safe_load(sys.argv[2]), yaml.safe_load(sys.argv[3])
configs = [parse_config(a), parse_config(b)]
save_config(configs[0], path)  # a backup exists from here on, however slow the machine
print("ready", flush=True)
i = 1
while True:
    save_config(configs[i % 2], path)
    i += 1
"""


def test_a_kill_during_save_never_leaves_a_broken_file(tmp_path):
    f = tmp_path / "nvr.yaml"
    a = GOOD
    b = bad("channels.0.heat_map.detection_sensitivity", 77)
    f.write_text(yaml.safe_dump(a))
    for i in range(8):
        p = subprocess.Popen([sys.executable, "-c", SAVER, str(f), yaml.safe_dump(a), yaml.safe_dump(b)],
                             cwd=REPO, stdout=subprocess.PIPE, text=True)
        assert p.stdout.readline().strip() == "ready"
        time.sleep(0.05 + 0.037 * i)  # kill at different points of the save cycle
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        loaded = load_config(f)
        assert loaded.channel(1).heat_map.detection_sensitivity in (50, 77)
        load_config(tmp_path / "nvr.yaml.bak")  # the backup is whole too


def test_next_arming_finds_the_next_window_start_within_a_week():
    doc = bad("channels.0.heat_map.schedule", [{"days": ["mon", "fri"], "time": "09:00-17:00"},
                                               {"days": ["sat"], "time": "10:00-12:00"}])
    hm = parse_config(doc).channel(1).heat_map
    monday = 0.0 + 4 * 86400  # 1970-01-05 was a Monday
    assert hm.next_arming(monday, 0, 8 * 60) == monday + 9 * 3600
    assert hm.next_arming(monday, 0, 9 * 60) == monday + 4 * 86400 + 9 * 3600  # Friday
    assert hm.next_arming(monday + 4 * 86400, 4, 18 * 60) == monday + 5 * 86400 + 10 * 3600  # Saturday
    assert parse_config(GOOD).channel(1).heat_map.next_arming(monday, 0, 0) is None
