"""The app's give-up recovery file (`annotator.app.recovery`): written through the one output
writer, never over anything, nothing partial (issue 7, item 15). The app-level run is
tests/test_app_safety.py::test_giving_up_exits_non_zero_and_lists_what_was_not_saved."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import orjson
import pytest

from annotator import output_file
from annotator.app.recovery import RecoveryError, write_recovery
from annotator.model import Annotation
from annotator.output_file import TEMPORARY_SUFFIX

STAMP = "20260102-030405"
VALUES = [
    Annotation(name="correctness", span_id="r1", label="incorrect", score=0.0,
               identifier="alice"),
    Annotation(name="comment", target="trace", trace_id="t1", explanation="why",
               identifier="alice"),
]  # fmt: skip


def rows(path: Path) -> list[tuple]:
    return [
        (row["name"], row["target"], row["span_id"], row["trace_id"], row["label"],
         row["explanation"])
        for row in map(orjson.loads, path.read_bytes().splitlines())
    ]  # fmt: skip


EXPECTED = [
    ("correctness", "span", "r1", None, "incorrect", None),
    ("comment", "trace", None, "t1", None, "why"),
]


def name(n: int = 1) -> str:
    return f"app.db.unsaved-{STAMP}{'' if n == 1 else f'-{n}'}.jsonl"


def temporaries(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if p.name.endswith(TEMPORARY_SUFFIX)]


def test_a_taken_name_is_never_written_over(tmp_path: Path) -> None:
    (tmp_path / name()).write_text("an earlier recovery\n")
    (tmp_path / name(2)).symlink_to(tmp_path / "elsewhere.jsonl")  # dangling: still taken
    old = os.umask(0o022)
    try:
        path = write_recovery(tmp_path / "app.db", VALUES, STAMP)
    finally:
        os.umask(old)
    assert path == tmp_path / name(3)
    assert rows(path) == EXPECTED
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert (tmp_path / name()).read_text() == "an earlier recovery\n"
    assert os.readlink(tmp_path / name(2)) == str(tmp_path / "elsewhere.jsonl")
    assert not (tmp_path / "elsewhere.jsonl").exists()
    assert temporaries(tmp_path) == []


@pytest.mark.parametrize("links", ["hard links", "no hard links"])
def test_a_name_taken_while_the_file_is_written_is_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, links: str
) -> None:
    """Another process creates the same name between the check and the commit: its file stays
    as it is and ours takes the next name (on a file system without hard links too)."""
    real_fdopen = output_file.os.fdopen
    raced: list[Path] = []

    class Racing:
        def __init__(self, stream):
            self.stream = stream

        def write(self, data):
            if not raced:
                raced.append(tmp_path / name())
                raced[0].write_text("theirs\n")
            return self.stream.write(data)

        def __getattr__(self, attribute):
            return getattr(self.stream, attribute)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.stream.close()

    monkeypatch.setattr(output_file.os, "fdopen", lambda *a, **k: Racing(real_fdopen(*a, **k)))
    if links == "no hard links":

        def no_link(*args, **kwargs):
            raise OSError(errno.EPERM, os.strerror(errno.EPERM))

        monkeypatch.setattr(output_file.os, "link", no_link)
    path = write_recovery(tmp_path / "app.db", VALUES, STAMP)
    monkeypatch.undo()
    assert path == tmp_path / name(2)
    assert (tmp_path / name()).read_text() == "theirs\n"
    assert rows(path) == EXPECTED
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([name(), name(2)])


def test_a_full_disk_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_fdopen = output_file.os.fdopen

    class Full:
        def __init__(self, stream):
            self.stream = stream

        def write(self, data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def __getattr__(self, attribute):
            return getattr(self.stream, attribute)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.stream.close()

    monkeypatch.setattr(output_file.os, "fdopen", lambda *a, **k: Full(real_fdopen(*a, **k)))
    with pytest.raises(RecoveryError) as error:
        write_recovery(tmp_path / "app.db", VALUES, STAMP)
    assert str(error.value) == f"{tmp_path / name()}: cannot write (No space left on device)"
    assert list(tmp_path.iterdir()) == []
