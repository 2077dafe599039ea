"""docs/configuration.md stays the reference: its example loads, and it names every key."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

from firmware.config import config_to_doc, load_config

DOC = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


def _example() -> str:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) == 1, "docs/configuration.md should hold one yaml example"
    return blocks[0]


def _key_paths(doc, prefix="") -> set[str]:
    """Every key path in a YAML document; a list contributes its items' keys under `[]`."""
    paths: set[str] = set()
    if isinstance(doc, dict):
        for k, v in doc.items():
            path = f"{prefix}.{k}" if prefix else k
            paths.add(path)
            paths |= _key_paths(v, path)
    elif isinstance(doc, list):
        for item in doc:
            paths |= _key_paths(item, prefix + "[]")
    return paths


def test_the_documented_example_loads(tmp_path):
    (tmp_path / "data" / "samples").mkdir(parents=True)
    (tmp_path / "data" / "samples" / "corridor.mp4").write_bytes(b"")
    path = tmp_path / "nvr.yaml"
    path.write_text(_example())
    config = load_config(path)
    assert config.channels[0].heat_map.schedule, "the example shows a schedule"


def test_the_reference_names_every_key_the_appliance_writes(tmp_path):
    path = tmp_path / "nvr.yaml"
    path.write_text(_example())
    written = _key_paths(config_to_doc(load_config(path)))
    documented = _key_paths(yaml.safe_load(_example()))
    missing = sorted(written - documented)
    assert not missing, f"docs/configuration.md does not document: {missing}"
