"""The archive as `nvr reanalyze --archive` reads it: layouts, manifests, gaps, overlaps, bad files.

Real encoded clips (5 s, 160x120, 25 fps) in real directories; PyAV probes them.
"""
from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import pytest

from firmware.archive import ArchiveError, describe_gap, describe_overlap, load_archive
from firmware.clock import to_clock
from tests.clips import moving_square_frames

T = lambda *a: to_clock(datetime(2026, 11, 24, *a))  # noqa: E731


@pytest.fixture(scope="module")
def five_seconds(tmp_path_factory):
    """A 5 s clip (125 frames at 25 fps)."""
    from tests.clips import make_clip

    return make_clip(tmp_path_factory.mktemp("clip") / "five.mp4", moving_square_frames(125), fps=25)


def lay(root: Path, clip: Path, names: dict[str, list[str]]) -> Path:
    for folder, files in names.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        for name in files:
            shutil.copy(clip, root / folder / name)
    return root


def test_layout_timeline_with_gap_overlap_and_corrupt_file(tmp_path, five_seconds):
    root = lay(tmp_path / "archive", five_seconds, {
        "ch01": ["2026-11-24T08-00-00.mp4", "2026-11-24T08-00-05.mp4",   # abut
                 "2026-11-24T08-00-20.mkv",                              # 10 s gap before it
                 "2026-11-24T08-00-20.mp4",                              # the same time again: not used
                 "2026-11-24T08-00-23.mp4"],                             # overlaps the previous by 2 s
        "ch12": ["2026-11-24T09-00-00.mp4"],
    })
    (root / "ch12" / "2026-11-24T09-00-05.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(3000))
    (root / "ch12" / "notes.txt").write_text("not a recording")
    (root / "cam3").mkdir()

    a = load_archive(root)

    assert a.channels == [1, 12]
    t1 = a.timelines[1]
    assert [t for p in t1 for t in (p.begin - T(8), p.end - T(8))] == pytest.approx([0, 5, 5, 10, 20, 25, 25, 28])
    assert Path(t1[3].recording.path).name == "2026-11-24T08-00-23.mp4"
    assert a.gaps[1] == [(T(8, 0, 10), T(8, 0, 20))]
    assert a.overlaps[1] == [(T(8, 0, 20), T(8, 0, 25), str(root / "ch01/2026-11-24T08-00-20.mkv"),
                              str(root / "ch01/2026-11-24T08-00-20.mp4")),
                             (T(8, 0, 23), T(8, 0, 25), str(root / "ch01/2026-11-24T08-00-20.mkv"),
                              str(root / "ch01/2026-11-24T08-00-23.mp4"))]
    assert describe_gap(1, a.gaps[1][0]) == "ch01: gap 2026-11-24 08:00:10 - 2026-11-24 08:00:20 (10 s not recorded)"
    assert describe_overlap(1, a.overlaps[1][1]) == (
        "ch01: overlap 2026-11-24 08:00:23 - 2026-11-24 08:00:25 (2 s recorded twice): "
        "2026-11-24T08-00-23.mp4 is used from where 2026-11-24T08-00-20.mkv ends")
    # one line per thing left out, naming it
    assert a.unreadable == {12: 1} and a.files == {1: 5, 12: 2}
    bad = [line for line in a.problems if "09-00-05" in line]
    assert len(bad) == 1 and bad[0].endswith("; skipped") and "\n" not in bad[0]
    assert any("notes.txt: not named <YYYY-MM-DD>T<HH-MM-SS>.<ext>; ignored" in p for p in a.problems)
    assert any("cam3: not a channel folder" in p for p in a.problems)
    # what a task plays for a window across the gap and the overlap
    segs = a.segments(1, T(8, 0, 8), T(8, 0, 26))
    assert [(Path(s.path).name, s.begin - T(8), s.end - T(8)) for s in segs] == [
        ("2026-11-24T08-00-05.mp4", 8, 10), ("2026-11-24T08-00-20.mkv", 20, 25), ("2026-11-24T08-00-23.mp4", 25, 26)]
    assert a.recorded(1, T(8), T(9)) == pytest.approx(18.0)
    assert a.extent() == (T(8), T(9, 0, 5))


def test_yaml_and_csv_manifests_say_the_same(tmp_path, five_seconds):
    clips = tmp_path / "rec"
    clips.mkdir()
    shutil.copy(five_seconds, clips / "a.mp4")
    shutil.copy(five_seconds, clips / "b.ts")
    (tmp_path / "m.yaml").write_text(
        "recordings:\n"
        "  - {channel: 2, start: 2026-11-24T08:00:00, path: rec/a.mp4}\n"
        f"  - {{channel: 2, start: '2026-11-24T08:00:05.5+01:00', path: {clips / 'b.ts'}}}\n")
    (tmp_path / "m.csv").write_text("path,channel,start\nrec/a.mp4,2,2026-11-24T08:00:00\n"
                                    f"{clips / 'b.ts'},2,2026-11-24T08:00:05.5\n\n")
    y, c = load_archive(tmp_path / "m.yaml"), load_archive(tmp_path / "m.csv")
    for a in (y, c):
        assert [t for p in a.timelines[2] for t in (p.recording.start - T(8), p.end - T(8))] == pytest.approx(
            [0, 5, 5.5, 10.5], abs=0.05)
        assert a.problems == [] and a.gaps == {} and a.overlaps == {}


@pytest.mark.parametrize("name, text, message", [
    ("m.yaml", "- {channel: 1, start: 2026-11-24T08:00:00, path: a.mp4, camera: x}\n",
     "m.yaml: recordings[0]: unknown key 'camera' (allowed: channel, start, path)"),
    ("m.yaml", "- {channel: 300, start: 2026-11-24T08:00:00, path: a.mp4}\n",
     "m.yaml: recordings[0]: channel: 300 is not a channel number 1..256"),
    ("m.yaml", "- {channel: 1, start: yesterday, path: a.mp4}\n",
     "m.yaml: recordings[0]: start: 'yesterday' is not an ISO 8601 time such as 2026-11-24T08:00:00"),
    ("m.yaml", "recordings: 3\n", "m.yaml: must be a list of {channel, start, path}"),
    ("m.csv", "channel,start\n1,2026-11-24T08:00\n", "m.csv: line 1: the columns must be channel,start,path"),
    ("m.csv", "channel,start,path\n1,2026-11-24T08:00\n", "m.csv: line 2: 2 columns, the header has 3"),
    ("m.txt", "", "a manifest must be .yaml, .yml or .csv"),
])
def test_a_bad_manifest_is_one_line_naming_where(tmp_path, name, text, message):
    (tmp_path / name).write_text(text)
    with pytest.raises(ArchiveError) as e:
        load_archive(tmp_path / name)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_missing_files_in_a_manifest_are_skipped_with_one_line(tmp_path, five_seconds):
    shutil.copy(five_seconds, tmp_path / "a.mp4")
    (tmp_path / "m.csv").write_text("channel,start,path\n1,2026-11-24T08:00:00,a.mp4\n1,2026-11-24T09:00:00,gone.mp4\n")
    a = load_archive(tmp_path / "m.csv")
    assert len(a.timelines[1]) == 1
    assert a.problems == [f"{tmp_path / 'gone.mp4'}: cannot read (No such file or directory); skipped"]


def test_no_such_archive(tmp_path):
    with pytest.raises(ArchiveError, match="no such directory or manifest file"):
        load_archive(tmp_path / "nowhere")
