"""Issue 8 ("Safety"): keys typed ahead land on their own spans whatever the write latency; a
store error (the write lock held by another process, a full disk) never crashes the app, is
said at once, keeps the change visible as unsaved, and is retried; quitting with unsaved
changes asks, and giving up exits non-zero with the list. The stall is real: another PROCESS
holds the write lock (BEGIN IMMEDIATE)."""

from __future__ import annotations

import errno
import io
import os
import re
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console
from textual import events
from textual.widgets import TextArea

from annotator import output_file
from annotator.app.app import EXIT_UNSAVED, AnnotatorApp, UnsavedScreen
from annotator.app.screens.annotate import AnnotateScreen
from annotator.cli.main import cli
from annotator.store import Store
from tests.app_data import CONFIG_YAML, build_db, config_set, settled, wait_for

SIZE = (150, 40)
# Only correctness (auto_advance) is required: each pick moves on to the next span.
ONE_CONFIG = """
annotations:
  - name: correctness
    type: CATEGORICAL
    values: [{label: correct, score: 1}, {label: incorrect, score: 0}]
    span_kinds: [LLM, CHAIN, AGENT]
    auto_advance: true
"""
HOLDER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()  # hold the write lock until told (at most until the test ends)
conn.execute("ROLLBACK")
"""


class WriteLock:
    """The database's write lock, held by another process until `release`."""

    def __init__(self, db: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(db)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "locked"

    def release(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.write("\n")
            self.process.stdin.flush()
            self.process.wait(timeout=30)

    def __enter__(self) -> WriteLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return build_db(tmp_path / "app.db")


def rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def screen(app: AnnotatorApp) -> AnnotateScreen:
    return next(s for s in app.screen_stack if isinstance(s, AnnotateScreen))


def plain(widget) -> str:
    console = Console(width=250, file=io.StringIO(), color_system=None, record=True)
    console.print(widget.render())
    return console.export_text()


def tree_lines(view: AnnotateScreen) -> list[str]:
    """The tree's rows as drawn (its line API)."""
    tree = view.trace_tree
    return ["".join(s.text for s in tree.render_line(y)).rstrip() for y in range(tree.size.height)]


def burst(app: AnnotatorApp, keys: str) -> None:
    """Keys arriving together (typed ahead, pasted, over SSH): all queued before any runs."""
    for key in keys:
        app.post_message(events.Key(key, key))


LABELS_IN_ORDER = "SELECT span_id, label FROM annotations ORDER BY id"
EXPECTED = [("r1", "correct"), ("r3", "incorrect"), ("a1", "correct"), ("a2", "incorrect")]


# --- 8.3: the item a key acts on is decided when the key is read ---------------------------------


async def test_a_burst_of_labels_lands_one_per_span_in_order(db: Path) -> None:
    app = AnnotatorApp(db, config_set(ONE_CONFIG), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        burst(app, "1212")
        await settled(pilot, app)
        await wait_for(pilot, lambda: len(rows(db, LABELS_IN_ORDER)) == 4)
    assert rows(db, LABELS_IN_ORDER) == EXPECTED


async def test_a_burst_during_a_write_lock_lands_in_order_once_it_is_released(db: Path) -> None:
    app = AnnotatorApp(db, config_set(ONE_CONFIG), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        with WriteLock(db) as lock:
            burst(app, "1212")
            view = screen(app)
            # Said at once (not after a minute), while the lock is still held:
            waiting = "waiting for the database: locked by another process"
            await wait_for(pilot, lambda: waiting in plain(view.status_line))
            await wait_for(pilot, lambda: "4 unsaved changes kept" in plain(view.status_line))
            # The cursor moved on at every key: it is past the four spans, on c1.
            assert view.trace_tree.cursor_row.trace_id == "trace-chat-1"
            assert rows(db, LABELS_IN_ORDER) == []
            assert app.is_running
            lock.release()
        await settled(pilot, app)
        await wait_for(pilot, lambda: "waiting" not in plain(view.status_line))
        assert "✓ saved correctness = incorrect" in plain(view.status_line)
    assert rows(db, LABELS_IN_ORDER) == EXPECTED
    assert rows(db, "SELECT count(*) FROM annotation_log") == [(4,)]


async def test_an_unsaved_value_is_drawn_as_unsaved_and_quit_waits_until_it_is_saved(
    db: Path,
) -> None:
    """Two cases in one app run, each under its own write lock (each assertion names its case)."""
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        view = screen(app)

        case = "an unsaved value is drawn as unsaved until it is saved"
        with WriteLock(db) as lock:
            await pilot.press("2")
            card = view.panel.cards[0]
            await wait_for(pilot, lambda: "… incorrect (unsaved)" in plain(card))
            assert "● incorrect" in plain(card), case
            assert tree_lines(view)[0].endswith(" …"), case  # the trace row's mark: not saved yet
            lock.release()
        await settled(pilot, app)
        await wait_for(pilot, lambda: "unsaved" not in plain(card))
        assert "● incorrect" in plain(card), case
        assert tree_lines(view)[0].endswith(" ●"), case  # saved; task_success still needs me

        # --- 8.5: quitting with unsaved changes
        case = "quit waits for unsaved changes and quits once they are saved"
        with WriteLock(db) as lock:
            await pilot.press("1", "q")  # task_success, which auto-advance focused
            await wait_for(pilot, lambda: isinstance(app.screen, UnsavedScreen))
            dialog = plain(app.screen.query_one("#unsaved-text"))
            assert "1 change not saved yet — locked by another process" in dialog, case
            lock.release()
        await wait_for(pilot, lambda: not app.is_running)
    assert app.return_code == 0
    assert rows(db, LABELS_IN_ORDER) == [("r1", "incorrect"), (None, "success")]


# --- 8.5: giving up with unsaved changes ----------------------------------------------------------


@pytest.mark.parametrize("disk", ["room", "full"])
async def test_giving_up_exits_non_zero_and_lists_what_was_not_saved(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, disk: str
) -> None:
    """The recovery file goes through the one output writer: a new file with the umask's mode,
    its name absent until every byte is written and synced, nothing at all when the disk is
    full (the report says so; every value is listed above it)."""
    final = "app.db.unsaved-*.jsonl"
    seen_while_writing: list[list[str]] = []
    real_fdopen = output_file.os.fdopen

    class Watched:
        def __init__(self, stream):
            self.stream = stream

        def write(self, data):
            seen_while_writing.append([p.name for p in tmp_path.glob(final)])
            if disk == "full":
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return self.stream.write(data)

        def __getattr__(self, name):
            return getattr(self.stream, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.stream.close()

    app = AnnotatorApp(db, config_set(), "alice")
    old_umask = os.umask(0o027)
    try:
        with WriteLock(db) as lock:
            async with app.run_test(size=SIZE) as pilot:
                await pilot.pause()
                await pilot.press("2")  # then auto-advance focuses task_success, missing here
                await pilot.press("e", "w", "h", "y", "ctrl+s")
                await pilot.press("1")  # task_success = success: the same annotation as the text
                await pilot.press("q")
                await wait_for(pilot, lambda: isinstance(app.screen, UnsavedScreen))
                monkeypatch.setattr(output_file.os, "fdopen", lambda *a, **k: Watched(
                    real_fdopen(*a, **k)))  # fmt: skip
                await pilot.press("Q")
                await wait_for(pilot, lambda: not app.is_running)
                monkeypatch.undo()
            lock.release()
    finally:
        os.umask(old_umask)
    assert app.return_code == EXIT_UNSAVED
    report = "\n".join(app.exit_report)
    assert app.exit_report[:2] == [  # one line per annotation: its last unsaved value
        "not saved (locked by another process): correctness = incorrect (score 0) on span r1",
        "not saved (locked by another process): "
        "task_success = success (score 1) “why” on trace trace-rag",
    ]
    assert seen_while_writing and all(names == [] for names in seen_while_writing)
    left = sorted(p.name for p in tmp_path.iterdir())
    if disk == "full":
        assert len(app.exit_report) == 3
        assert re.fullmatch(
            "2 unsaved values could not be kept in a file: "
            rf"{re.escape(str(tmp_path))}/app\.db\.unsaved-\d{{8}}-\d{{6}}\.jsonl: "
            r"cannot write \(No space left on device\)",
            app.exit_report[2],
        ), app.exit_report[2]
        assert left == ["app.db"]  # no partial file, no temporary file
        return
    assert app.exit_report[2].startswith("2 unsaved values kept in ")
    assert rows(db, LABELS_IN_ORDER) == []
    # The values are kept in a file `annotator import` reads.
    recovery = next(tmp_path.glob(final))
    assert left == ["app.db", recovery.name]
    assert stat.S_IMODE(recovery.stat().st_mode) == 0o640  # 0666 minus the umask
    assert str(recovery) in report
    result = CliRunner().invoke(cli, ["import", str(recovery), "--db", str(db)])
    assert result.exit_code == 0, result.output
    imported = "SELECT target, span_id, name, label, explanation, identifier FROM annotations"
    assert rows(db, imported + " ORDER BY id") == [
        ("span", "r1", "correctness", "incorrect", None, "alice"),
        ("trace", None, "task_success", "success", "why", "alice"),
    ]


# --- 8.5: a full disk -----------------------------------------------------------------------------


async def test_a_full_disk_is_said_and_the_changes_saved_once_there_is_room(db: Path) -> None:
    opened: list[Store] = []

    def full_disk(path: Path) -> Store:
        """The writer's connection may not grow the file: a disk with no room left."""
        store = Store.open(path)
        pages = store.connection.execute("PRAGMA page_count").fetchone()[0]
        store.connection.execute(f"PRAGMA max_page_count = {pages}")
        opened.append(store)
        return store

    app = AnnotatorApp(db, config_set(), "alice", open_writer_store=full_disk)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        view = screen(app)
        await pilot.press("n")
        app.screen.query_one(TextArea).text = "a long note " * 500  # needs new pages
        await pilot.press("ctrl+s")
        await pilot.press("1")  # queued behind the note
        status = "waiting for the database: disk full — 2 unsaved changes kept"
        await wait_for(pilot, lambda: status in plain(view.status_line))
        await wait_for(pilot, lambda: "… correct (unsaved)" in plain(view.panel.cards[0]))
        assert "alice · trace (unsaved)" in plain(view.panel.notes)  # a note on the trace row
        assert rows(db, LABELS_IN_ORDER) == []
        opened[0].connection.execute("PRAGMA max_page_count = 1000000")  # room again
        await settled(pilot, app)
        await wait_for(pilot, lambda: "✓ saved correctness = correct" in plain(view.status_line))
        assert "unsaved" not in plain(view.panel.cards[0]) + plain(view.panel.notes)
    assert rows(db, "SELECT name, label, length(explanation) FROM annotations ORDER BY id") == [
        ("note", None, len("a long note " * 500) - 1),  # trailing space trimmed
        ("correctness", "correct", None),
    ]
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# --- 8.6: hundreds of configs in the app ----------------------------------------------------------


async def test_the_app_runs_with_hundreds_of_configs(db: Path) -> None:
    lines = ["annotations:"]
    for i in range(300):
        lines += [f"  - name: c{i:03d}", "    type: CATEGORICAL", "    values: [yes, no]"]
        if i % 3 == 0:
            lines.append("    span_kinds: [LLM]")
    app = AnnotatorApp(db, config_set("\n".join(lines) + "\n"), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        view = screen(app)
        assert len(view.applicable) == 200  # on the CHAIN root: every config but the LLM ones
        await pilot.press("2")
        await settled(pilot, app)
        await wait_for(pilot, lambda: "0/8 spans done" in plain(view.status_line))
        await pilot.press("full_stop")
        assert view.trace_tree.cursor_row.span_id == "r2"
    # c000 is for LLM spans: c001 is the first config on the CHAIN root
    assert rows(db, "SELECT span_id, name, label FROM annotations") == [("r1", "c001", "no")]


def test_config_yaml_is_the_app_data_config() -> None:
    assert "auto_advance: true" in CONFIG_YAML  # the tests above rely on it
