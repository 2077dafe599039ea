"""Argument fuzzing: every `nvr` command line ends, with its own exit status and at most one `error:` line.

The corpus (tests/fuzz_corpus/args.txt) holds the command lines that were
tracebacks or hangs, with the expected exit status; hypothesis adds command
lines of every subcommand with hostile values for every option. Commands run
in this process (`nvr.cli.main`), each under a hang guard; the contexts
are chosen so that any accepted command ends within seconds (a run at full
speed whose one camera refuses connections, a throughput bench whose source
is not a video), so a case that does not end is a hang the product let in.
"""
from __future__ import annotations

import contextlib
import gc
import io
import os
import shlex
import signal
import sys
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from nvr.cli import main
from firmware.clock import to_clock
from firmware.store import FILENAME, SqliteStatistics
from tests.fuzzkit import DATE_TEXT, HOSTILE_TEXT, NUMBER_TEXT, Hang, count, guard, logged_tracebacks, tally_reporter, \
    text_or_number

pytestmark = pytest.mark.slow   # the fast tier (-m 'not slow') leaves it out: see README, Tests

CORPUS = Path(__file__).parent / "fuzz_corpus" / "args.txt"
LIMIT_S = 30.0  # a run boots in a few seconds; nothing accepted here should take longer


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    from tests.clips import make_clip, moving_square_frames
    from tests.test_store import hour_record

    d = tmp_path_factory.mktemp("args")
    clip = make_clip(d / "clip.mp4", moving_square_frames(25, size=(160, 120)), fps=25)
    looped = d / "looped.yaml"
    looped.write_text(yaml.safe_dump({"appliance": {"status_interval": 3600},
                                      "channels": [{"id": 1, "source": str(clip), "loop": True}]}))
    live = d / "live.yaml"
    live.write_text(yaml.safe_dump({"appliance": {"status_interval": 3600, "video_timeout": 0.5},
                                    "channels": [{"id": 1, "source": "tcp://127.0.0.1:9"}]}))
    store = d / "store"
    rng = np.random.default_rng(3)
    with SqliteStatistics(store) as s:
        s.set_channel_name(1, "Door")
        s.import_hours([hour_record(1, int(to_clock(datetime(2026, 11, 24, h))), rng) for h in range(8, 12)])
    damaged = d / "damaged"
    damaged.mkdir()
    (damaged / FILENAME).write_bytes(os.urandom(50_000))
    fifo = d / "fifo"
    os.mkfifo(fifo)
    file = d / "file.txt"
    file.write_text("not yaml: [\n")
    return {"looped": looped, "live": live, "store": store, "damaged": damaged, "clip": clip, "fifo": fifo,
            "file": file, "root": d}


def fill(template: str, ctx: dict, case_dir: Path) -> str:
    return template.format(state=case_dir / "state", tmp=case_dir, missing=case_dir / "missing",
                           **{k: v for k, v in ctx.items() if k != "root"})


def run_nvr(argv: list[str], suite: str, stdin: bytes = b"") -> tuple[int, str, str]:
    """main(argv) in this process under the hang guard: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    old_stdin = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
    try:
        with logged_tracebacks() as logged, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                with guard(LIMIT_S):
                    try:
                        rc = main(argv)
                    except SystemExit as e:
                        rc = e.code if isinstance(e.code, int) else 2
            except Hang as e:
                count(suite, "hang")
                raise AssertionError(f"{argv}: {e}") from None
            except BaseException:
                count(suite, "traceback")
                raise
    finally:
        sys.stdin = old_stdin
        for s, h in handlers.items():
            signal.signal(s, h)
        gc.unfreeze()  # an in-process boot freezes the collector's view of everything
    if logged.records or "Traceback" in err.getvalue() + out.getvalue():
        count(suite, "traceback")
        raise AssertionError(f"{argv}: a traceback\n{logged.text()}\n{err.getvalue()[-2000:]}")
    errors = [line for line in err.getvalue().splitlines() if line.startswith("error:")]
    if rc == 2:
        assert len(errors) == 1, (argv, err.getvalue())
        assert len(errors[0]) < 600, errors[0]
    else:
        assert rc in (0, 130) and not errors, (argv, rc, err.getvalue())
    count(suite, "refused" if rc == 2 else "accepted")
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module", autouse=True)
def memory_limit():
    """Commands run in this process: one that read /dev/zero to the end (as the configuration
    loader did) must fail with MemoryError here, not take the machine's memory."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = 12 << 30
    if soft == resource.RLIM_INFINITY or soft > limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    yield
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


report = tally_reporter("args corpus", "args generated")


def corpus_cases() -> list[tuple[str, int]]:
    cases = []
    for line in CORPUS.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        command, _, expected = line.rpartition("=>")
        cases.append((command.strip(), int(expected)))
    return cases


@pytest.mark.parametrize("command,expected", corpus_cases(), ids=[c for c, _ in corpus_cases()])
def test_corpus_command(context, tmp_path, command, expected):
    argv = shlex.split(fill(command, context, tmp_path))
    rc, out, err = run_nvr(argv, "args corpus")
    assert rc == expected, (argv, out[-500:], err[-500:])


def test_the_issue_cases_say_what_is_wrong(context, tmp_path):
    rc, _, err = run_nvr(shlex.split(fill("run --config {looped} --state-dir {state} --duration nan", context,
                                          tmp_path)), "args corpus")
    assert err.strip() == "error: nvr run: argument --duration: 'nan' is not a number (0..2.53371e+11 s)"
    rc, _, err = run_nvr(shlex.split(fill("run --config {looped} --state-dir {state} --start 9999-12-31T23:59:59",
                                          context, tmp_path)), "args corpus")
    assert err.strip() == "error: --start: 9999-12-31 is outside the appliance clock (1970-01-01 to 9998-12-31)"
    rc, _, err = run_nvr(shlex.split(fill("report --state-dir {store} --channel 1 --type daily --date 9999-12-31",
                                          context, tmp_path)), "args corpus")
    assert err.strip() == "error: --date: 9999-12-31 is outside the appliance clock (1970-01-01 to 9998-12-31)"
    rc, _, err = run_nvr(shlex.split(fill("bench throughput --source {clip} --channels 100000000", context,
                                          tmp_path)), "args corpus")
    assert err.strip() == ("error: nvr bench throughput: argument --channels: '100000000' is too large: "
                           "give at most 256")


# --------------------------------------------------------------------------- generated command lines

values = text_or_number()


def option(name: str, strategy=values):
    return st.one_of(st.just([]), strategy.map(lambda v: [name, v]))


def good_or(good, hostile=values):
    """A value the command accepts or a hostile one; `command_lines` keeps a third of its
    cases all good (those must run and end), so both kinds get tried."""
    return st.shared(st.booleans(), key="all good").flatmap(
        lambda all_good: good if all_good else st.one_of(good, hostile))


DATES = good_or(st.sampled_from(["2026-11-24", "2026-11-23", "1970-01-01", "9998-12-31"]), DATE_TEXT | values)
NUMBERS = NUMBER_TEXT | values


@st.composite
def command_lines(draw):
    kind = draw(st.sampled_from(["run", "report", "throughput", "accuracy", "demo", "store", "passwd", "junk"]))
    places = ["{state}", "{store}", "{damaged}", "{fifo}", "{missing}", "{file}", "/dev/null", "/dev/zero", "{tmp}"]
    if kind == "run":
        argv = ["run", "--config", draw(good_or(st.just("{live}"), st.sampled_from(
                    ["{missing}", "{fifo}", "/dev/zero", "{file}", "{tmp}"]))),
                "--state-dir", draw(good_or(st.just("{state}"), st.sampled_from(["/dev/null", "{fifo}", "{damaged}"]))),
                "--speed", "max"]
        argv += draw(option("--start", good_or(st.sampled_from(["2026-11-24T08:00", "1970-01-01T00:00:00",
                                                                 "9998-12-31T23:00:00+05:00"]), DATE_TEXT | values)))
        # Always a duration: without one an appliance rightly runs until it is stopped.
        argv += ["--duration", draw(good_or(st.sampled_from(["1", "60", "3600", "0.5", "86400"]), NUMBERS))]
    elif kind == "report":
        argv = ["report", "--state-dir", draw(good_or(st.just("{store}"), st.sampled_from(places))),
                "--channel", draw(good_or(st.just("1"), NUMBERS)),
                "--type", draw(good_or(st.sampled_from(["daily", "weekly", "monthly", "annual"]))),
                "--date", draw(DATES)]
        argv += draw(option("--model", good_or(st.sampled_from(["dwell", "people"]))))
        argv += draw(option("--json", good_or(st.sampled_from(["-", "{tmp}/r.json"]),
                                              st.sampled_from(["/proc/version", "{tmp}"]) | HOSTILE_TEXT)))
        argv += draw(option("--png", st.sampled_from(["{tmp}/r.png", "{tmp}/no/dir/r.png", "{tmp}"])))
    elif kind == "throughput":
        argv = ["bench", "throughput", "--source", draw(st.sampled_from(["{missing}", "{fifo}", "/dev/zero",
                                                                        "{file}", "{tmp}"]))]
        argv += draw(option("--channels", good_or(st.sampled_from(["1", "2", "256"]), NUMBERS)))
        argv += draw(option("--seconds", good_or(st.sampled_from(["0.1", "1", "3600"]), NUMBERS)))
        argv += draw(option("--analysis-width", good_or(st.sampled_from(["8", "320", "3840"]), NUMBERS)))
        argv += draw(st.sampled_from([[], ["--json"], ["--find-capacity"]]))
    elif kind == "accuracy":
        argv = ["bench", "accuracy", draw(st.sampled_from(["{missing}", "{fifo}", "{tmp}", "/dev/zero", "{file}"]))]
        argv += draw(option("--warmup", good_or(st.sampled_from(["0", "30"]), NUMBERS)))
        argv += draw(option("--param", good_or(st.sampled_from(["detection_sensitivity=50", "minimum_target_size=0"]),
                                               NUMBER_TEXT.map(lambda v: f"detection_sensitivity={v}") | values)))
    elif kind == "demo":
        argv = ["demo", "--out", "{tmp}/demo", "--config", draw(st.sampled_from(["{live}", "{missing}", "{fifo}"]))]
        argv += draw(option("--date", DATES))
        argv += draw(option("--duration", good_or(st.sampled_from(["1", "3600"]), NUMBERS)))
    elif kind == "store":
        argv = ["store", draw(good_or(st.sampled_from(["check", "repair"]))), "--state-dir",
                draw(good_or(st.sampled_from(places)))]
        argv += draw(st.sampled_from([[], ["--json"]]))
    elif kind == "passwd":
        argv = ["passwd", "--state-dir", draw(st.sampled_from(["{state}", "{fifo}", "/dev/null", "{file}"]))]
    else:
        argv = draw(st.lists(values, max_size=6))
    # A stray extra token now and then, anywhere.
    if not draw(st.shared(st.booleans(), key="all good")) and draw(st.integers(0, 4)) == 0:
        argv.insert(draw(st.integers(0, len(argv))), draw(values))
    stdin = draw(st.one_of(st.just(b""), st.binary(max_size=64), st.sampled_from(
        [b"Secret-2024\n", b"short\n", b"\xff\xfe\n", b"x" * 2000, b"\x00\n", b"Tab\tbed-2024\n"])))
    return argv, stdin


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(command_lines())
def test_generated_command_lines(context, tmp_path_factory, case):
    argv, stdin = case
    case_dir = tmp_path_factory.mktemp("case")
    argv = [a.replace("{", "{{").replace("}", "}}") if not _placeholder(a) else a for a in argv]
    argv = [fill(a, context, case_dir) for a in argv]
    run_nvr(argv, "args generated", stdin)


def _placeholder(a: str) -> bool:
    return any(a.startswith("{" + k + "}") for k in
               ("state", "store", "damaged", "fifo", "missing", "file", "tmp", "live", "looped", "clip"))
