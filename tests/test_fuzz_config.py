"""Configuration fuzzing: every file is loaded or refused in one line, in bounded time.

The corpus (tests/fuzz_corpus/config, plus the large and special files made
here: 30 MB, 100,000-deep nesting, /dev/zero, a FIFO...) holds the cases that
were tracebacks or hangs; hypothesis adds mutated documents and mutated bytes.
A configuration that loads must also save and load back unchanged, since
the console saves what it loaded.
"""
from __future__ import annotations

import os
import string
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from firmware.config import ConfigError, load_config, save_config
from tests.fuzzkit import HOSTILE_TEXT, NUMBER_TEXT, Hang, count, guard, tally_reporter

pytestmark = pytest.mark.slow   # the fast tier (-m 'not slow') leaves it out: see README, Tests

CORPUS = Path(__file__).parent / "fuzz_corpus" / "config"
LIMIT_S = 15.0   # wall seconds one load may take (the largest legal file parses in ~1 s)


def load_or_refuse(path: Path | str, suite: str) -> str:
    """'accepted' or 'refused'; anything else (another exception, a hang) propagates."""
    try:
        with guard(LIMIT_S):
            try:
                config = load_config(path)
            except ConfigError as e:
                message = str(e)
                assert "\n" not in message and "\r" not in message, message
                assert 0 < len(message) <= 600, message
                message.encode("utf-8")  # printable: no lone surrogates
                count(suite, "refused")
                return "refused"
    except Hang:
        count(suite, "hang")
        raise
    except BaseException:
        count(suite, "traceback")
        raise
    # Accepted: the console saves it back, so it must round-trip.
    out = Path(path).parent / "saved.yaml"
    if not str(path).startswith("/dev/"):
        save_config(config, out)
        again = load_config(out)
        assert again.channels == config.channels and again.appliance == config.appliance
        out.unlink()
        Path(str(out) + ".bak").unlink(missing_ok=True)
    count(suite, "accepted")
    return "accepted"


report = tally_reporter("config corpus", "config documents", "config bytes")


# --------------------------------------------------------------------------- the corpus

# Every other corpus file is refused.
ACCEPTED = {"valid-full.yaml", "utf8-bom.yaml", "utf16-bom.yaml", "utf16-be-bom.yaml", "utf32-bom.yaml",
            "emoji-name.yaml", "combining-name.yaml"}


@pytest.mark.parametrize("name", sorted(p.name for p in CORPUS.glob("*.yaml")))
def test_corpus_file(tmp_path, name):
    path = tmp_path / name
    path.write_bytes((CORPUS / name).read_bytes())
    outcome = load_or_refuse(path, "config corpus")
    assert outcome == ("accepted" if name in ACCEPTED else "refused"), name


def _big(path: Path, size: int) -> Path:
    with open(path, "w") as f:
        f.write("channels:\n")
        line = "  - {id: 1, source: clip.mp4, name: padding padding padding padding}\n"
        f.write(line * (size // len(line) + 1))
    return path


MADE = {
    "30 MB file": lambda d: _big(d / "big.yaml", 30 << 20),
    "4 MiB + 1 file": lambda d: _big(d / "edge.yaml", (4 << 20) + 1),
    "100,000-deep lists": lambda d: _write(d / "deep.yaml", "channels: " + "[" * 100_000 + "]" * 100_000),
    "100,000-deep maps": lambda d: _write(d / "deepmap.yaml", "channels: " + "{a: " * 100_000 + "1" + "}" * 100_000),
    "10,000-deep block lists": lambda d: _write(d / "deepblock.yaml",
                                                "channels:\n" + "".join(" " * k + "-\n" for k in range(1, 10_000))),
    "5,000-digit id": lambda d: _write(d / "int.yaml", "channels:\n  - {id: " + "7" * 5000 + ", source: x}\n"),
    "a million aliases": lambda d: _write(d / "aliases.yaml", "a: &a x\nchannels: [" + "*a, " * 250_000 + "*a]\n"),
    "/dev/zero": lambda d: Path("/dev/zero"),
    "/dev/urandom": lambda d: Path("/dev/urandom"),
    "/dev/null": lambda d: Path("/dev/null"),
    "a FIFO without a writer": lambda d: _fifo(d / "config.fifo"),
    "a directory": lambda d: d,
    "a missing file": lambda d: d / "missing.yaml",
    "a symlink loop": lambda d: _loop(d / "loop.yaml"),
    "an unreadable file (mode 000)": lambda d: _unreadable(d / "secret.yaml"),
}


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def _loop(path: Path) -> Path:
    path.symlink_to(path)
    return path


def _unreadable(path: Path) -> Path:
    path.write_text("channels: [{id: 1, source: x}]\n")
    path.chmod(0)
    return path


ISOLATED = """
import resource, signal
resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))  # a regression fails here, not the machine
signal.alarm({limit})                                          # ...and a hang is a failure
from firmware.config import ConfigError, load_config
try:
    load_config({path!r})
    print("accepted")
except ConfigError as e:
    assert "\\n" not in str(e) and len(str(e)) <= 600, str(e)
    print("refused")
"""


@pytest.mark.parametrize("what", MADE)
def test_made_file(tmp_path, what):
    """In a child process with a memory limit and a timeout: before the bounds, /dev/zero
    read until the machine ran out of memory."""
    import subprocess
    import sys

    path = MADE[what](tmp_path)
    try:
        r = subprocess.run([sys.executable, "-c", ISOLATED.format(limit=int(LIMIT_S), path=str(path))],
                           capture_output=True, text=True, timeout=LIMIT_S + 30, cwd=Path(__file__).parents[1])
    except subprocess.TimeoutExpired:
        count("config corpus", "hang")
        raise
    if r.returncode != 0:
        count("config corpus", "hang" if r.returncode == -14 else "traceback")  # -14: SIGALRM
        raise AssertionError(r.stderr[-3000:])
    outcome = r.stdout.split()[-1]
    count("config corpus", outcome)
    assert outcome == ("accepted" if what == "an unreadable file (mode 000)" and os.geteuid() == 0 else "refused")


def test_a_refusal_names_the_file_and_the_reason(tmp_path):
    path = tmp_path / "nvr.yaml"
    path.write_bytes((CORPUS / "alias-bomb-in-name.yaml").read_bytes())
    with pytest.raises(ConfigError, match=r"nvr\.yaml: expands through its aliases .* to more than 1,000,000"):
        load_config(path)
    path.write_bytes((CORPUS / "latin1-name.yaml").read_bytes())
    with pytest.raises(ConfigError, match=r"nvr\.yaml: not UTF-8 text \(byte 0xe9 on line 2\); save the file as UTF-8"):
        load_config(path)
    path.write_bytes((CORPUS / "grid-wider-than-analysis.yaml").read_bytes())
    with pytest.raises(ConfigError, match=r"channels\[0\]\.heat_map\.grid_columns: 200 columns do not fit the "
                                          r"analysis width of 64 pixels; use at most 64 columns"):
        load_config(path)
    path.write_bytes((CORPUS / "control-chars-name.yaml").read_bytes())
    with pytest.raises(ConfigError, match=r"channels\[0\]\.name: '\\x1b\[2J.*control character"):
        load_config(path)
    path.write_bytes((CORPUS / "duplicate-keys.yaml").read_bytes())
    with pytest.raises(ConfigError, match=r"nvr\.yaml: the key 'id' appears twice in one mapping \(line 4\)"):
        load_config(path)


# --------------------------------------------------------------------------- generated documents

VALID = {
    "appliance": {"name": "Shop", "export_device": "/media/usb", "status_interval": 10, "checkpoint_interval": 60,
                  "video_timeout": 5, "analytics_share": 0.5,
                  "console": {"idle_logout": 300, "color": True, "tcp_port": 2323}},
    "channels": [{"id": 1, "name": "Entrance", "source": "clip.mp4", "loop": True, "analysis_width": 320,
                  "heat_map": {"enabled": True, "regions": [[[0.1, 0.2], [0.9, 0.2], [0.9, 0.95]]],
                               "detection_sensitivity": 50, "background_update_rate": 50, "scene_change_level": 50,
                               "minimum_target_size": 50, "grid_columns": 64, "grid_rows": 36,
                               "schedule": [{"days": ["mon", "sat"], "time": "09:00-21:00"}]}}],
}

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**40, 10**40), st.floats(), HOSTILE_TEXT, NUMBER_TEXT,
    st.text(max_size=40), st.sampled_from([0, 1, 4, 63, 64, 65, 100, 101, 255, 256, 257, 1023, 1024, 65535, 65536,
                                           0.5, 1e-9, -0.0, 3840, 3841]),
)
values = st.recursive(scalars, lambda kids: st.lists(kids, max_size=4)
                      | st.dictionaries(st.text(string.ascii_lowercase + "_", max_size=12), kids, max_size=4),
                      max_leaves=12)


def _paths(doc, prefix=()):
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, prefix + (i,))


ALL_PATHS = [p for p in _paths(VALID) if p]


@st.composite
def mutated_documents(draw):
    import copy

    doc = copy.deepcopy(VALID)
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(ALL_PATHS))
        parent = doc
        try:
            for k in path[:-1]:
                parent = parent[k]
            key = path[-1]
            action = draw(st.sampled_from(["set", "set", "set", "delete", "add"]))
            if action == "set":
                parent[key] = draw(values)
            elif action == "delete":
                del parent[key]
            elif isinstance(parent, dict):
                parent[draw(st.text(max_size=8))] = draw(values)
            elif isinstance(parent, list):
                parent.append(draw(values))
            # else an earlier mutation replaced the parent with a scalar: nothing to add to
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or replaced the path
    return doc


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(mutated_documents())
def test_mutated_documents(tmp_path, doc):
    try:
        text = yaml.safe_dump(doc, allow_unicode=True)
    except (yaml.YAMLError, UnicodeError):
        text = yaml.safe_dump(doc)  # surrogates and the like escaped
    path = tmp_path / "nvr.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    load_or_refuse(path, "config documents")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(st.data())
def test_mutated_bytes(tmp_path, data):
    base = bytearray(yaml.safe_dump(VALID).encode())
    for _ in range(data.draw(st.integers(1, 6))):
        at = data.draw(st.integers(0, len(base)))
        op = data.draw(st.sampled_from(["insert", "delete", "replace", "duplicate", "truncate"]))
        chunk = data.draw(st.binary(min_size=1, max_size=12) | st.sampled_from(
            [b"&a ", b"*a", b"[", b"{", b"!!python/object ", b"\xff", b"\xc3", b"\x00", b"\t", b"\n  ", b": ",
             b"- ", b"\\udc80", b'"\\x1b"', b"?", b"%YAML 1.1\n", b"---\n", b"...\n", b"<<: ", b"9" * 50]))
        if op == "insert":
            base[at:at] = chunk
        elif op == "delete":
            del base[at:at + len(chunk)]
        elif op == "replace":
            base[at:at + len(chunk)] = chunk
        elif op == "duplicate":
            base[at:at] = base[max(0, at - 40):at]
        else:
            del base[at:]
    path = tmp_path / "nvr.yaml"
    path.write_bytes(bytes(base))
    load_or_refuse(path, "config bytes")
