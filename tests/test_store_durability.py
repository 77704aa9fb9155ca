"""Durability and concurrency of annotation writes, across real processes."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from multiprocessing import forkserver
from pathlib import Path
from typing import Any

import pytest

from annotator.model import Annotation, Span
from annotator.store import QueueFilter, Store
from tests.cli_worker import Worker

WRITERS = 4
WRITES_EACH = 150
BULK = 6_000  # spans: 3 transactions of the bulk import (tests/store_writers.py)


def _prepare(path: Path, spans: int = 50) -> None:
    with Store.open(path) as store:
        writer = store.span_writer()
        writer.add_all(Span(f"s{i}", f"t{i % 5}", None, f"span {i}") for i in range(spans))
        writer.close()


@pytest.fixture
def writers() -> Iterator[Any]:
    """Processes of their own, forked from a fresh interpreter that imported the writers' module
    (and the store) once: multiprocessing's forkserver, preloaded. Spawned, each process
    imported it again. The server is stopped (and reaped) after the test: no process outlives
    it, and the CPU of the server and of the processes it forked counts among the test's."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["tests.store_writers"])
    yield context
    forkserver._forkserver._stop()  # no public way to end it; CPython's own tests do this


def test_concurrent_writers_lose_nothing_and_never_see_locked(tmp_path: Path, writers: Any) -> None:
    """Four annotation writers and a bulk span import, each a process: the writers start
    while the import holds the write lock, then all of them contend until done."""
    from tests import store_writers

    path = tmp_path / "shared.db"
    _prepare(path)
    context = writers
    barrier = context.Barrier(WRITERS + 1, timeout=120)
    with context.Pool(WRITERS + 1, store_writers.start, (barrier,)) as pool:
        jobs = [
            pool.apply_async(store_writers.write_annotations, (str(path), f"ann{n}", WRITES_EACH))
            for n in range(WRITERS)
        ]
        bulk = pool.apply_async(store_writers.import_spans, (str(path), BULK))
        assert bulk.get(timeout=300) == BULK  # re-raises "database is locked"
        results = [job.get(timeout=300) for job in jobs]
    assert results == [WRITES_EACH] * WRITERS
    with Store.open(path) as store:
        conn = store.connection
        sets = conn.execute("SELECT count(*) FROM annotation_log WHERE action = 'set'").fetchone()[
            0
        ]
        undos = conn.execute(
            "SELECT count(*) FROM annotation_log WHERE action = 'undo'"
        ).fetchone()[0]
        assert sets == WRITERS * WRITES_EACH
        assert undos == WRITERS * len(range(0, WRITES_EACH, 3))
        # Every annotator ends with exactly the state its own history implies: each undo takes
        # back the write just before it, so span s{j} keeps the label of the last write to it
        # that was not undone.
        expected = {}
        for i in range(WRITES_EACH):
            if i % 3 != 0:
                expected[f"s{i % 50}"] = f"v{i}"
        assert len(expected) == 50  # every span has one (one in three writes is undone)
        for n in range(WRITERS):
            state = dict(
                conn.execute(
                    "SELECT span_id, label FROM annotations WHERE identifier = ?", (f"ann{n}",)
                ).fetchall()
            )
            assert state == expected, f"ann{n}"
        assert store.counts()["spans"] == 50 + BULK
        assert store.integrity_check() == "ok"


_KILLED_WRITER = textwrap.dedent(
    """
    import sys
    from annotator.model import Annotation
    from annotator.store import Store
    store = Store.open(sys.argv[1])
    i = 0
    while True:
        store.set_annotation(Annotation(name="q", span_id=f"s{i % 50}", label=f"v{i}",
                                        identifier=f"k{i}"))
        print(i, flush=True)  # only after the call returned: the row must be on disk
        i += 1
    """
)


def test_kill_minus_nine_loses_nothing_that_was_reported_saved(tmp_path: Path) -> None:
    path = tmp_path / "killed.db"
    _prepare(path)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    process = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    confirmed = -1
    assert process.stdout is not None
    for line in process.stdout:
        confirmed = int(line)
        if confirmed >= 200:
            break
    process.send_signal(signal.SIGKILL)
    process.wait()
    with Store.open(path) as store:
        labels = {row[0] for row in store.connection.execute("SELECT label FROM annotations")}
        # every write reported saved is there, and nothing out of order: the writes made are a
        # prefix (the last ones may have committed after the last line was read)
        assert labels == {f"v{i}" for i in range(len(labels))}
        assert len(labels) >= confirmed + 1
        assert store.integrity_check() == "ok"


# --- interrupted, full, read-only, locked: one line, and a consistent database ------------------

REPO = Path(__file__).resolve().parents[1]


def _env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), **extra}
    env.pop("ANNOTATOR_DB", None)
    return env


def annotator(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """`python -m annotator *args` in a process of its own, from its start to its exit."""
    return subprocess.run(
        [sys.executable, "-m", "annotator", *args],
        check=False,
        cwd=cwd,
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def commands(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    """The commands whose subject is what they say, their exit code and what they leave on disk
    (not how a process starts or ends): one after another in one process, each in the test's
    directory (tests/cli_worker.py)."""
    worker = Worker(tmp_path_factory.mktemp("commands"), _env())
    try:
        yield worker
    finally:
        worker.close()


def _legacy_spans(path: Path, spans: int, per_trace: int = 7) -> Path:
    """Phoenix legacy span JSON lines: traces of `per_trace` spans, each a chain under its root."""
    with path.open("w") as out:
        for i in range(spans):
            trace, position = divmod(i, per_trace)
            parent = None if position == 0 else f"s{i - 1}"
            out.write(
                f'{{"name": "step {position}", "context": {{"trace_id": "t{trace}", "span_id": '
                f'"s{i}"}}, "span_kind": "CHAIN", "parent_id": {json.dumps(parent)}, '
                f'"start_time": "2024-01-02T03:04:05.{i % 1000:03d}000+00:00", "end_time": null, '
                f'"status_code": "OK", "status_message": "", "attributes": {{"input": {{"value": '
                f'"question {i}"}}}}, "events": []}}\n'
            )
    return path


def _consistency(path: Path) -> tuple[int, int, int]:
    """(spans, spans counted in trace rows, spans without a trace row)."""
    with Store.open(path, readonly=True) as store:
        conn = store.connection
        spans = conn.execute("SELECT count(*) FROM spans").fetchone()[0]
        counted = conn.execute("SELECT coalesce(sum(span_count), 0) FROM traces").fetchone()[0]
        homeless = conn.execute(
            "SELECT count(*) FROM spans WHERE trace_id NOT IN (SELECT trace_id FROM traces)"
        ).fetchone()[0]
        assert store.integrity_check() == "ok"
    return spans, counted, homeless


# Small commits, and a pause after the 1,000th span until the test's Ctrl-C: 3 commits of 300
# spans are done and the 4th transaction holds 100 more. The pause is in the import's own loop
# (`SpanWriter.add`), so a real SIGINT lands mid-import, with a transaction open, in a
# test-sized file, whatever the machine's speed.
_IMPORT_PAUSED_MID_TRANSACTION = textwrap.dedent(
    """
    import signal, sys, time
    # Ctrl-C as a terminal's user has it, whatever this process inherited: a test run started
    # in the background of a non-interactive shell (`cmd &`) ignores SIGINT, and Python then
    # leaves it ignored, so the Ctrl-C below would never arrive.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    import annotator.store.spans as spans
    spans.BATCH_SIZE, spans.COMMIT_EVERY = 100, 300
    real_add = spans.SpanWriter.add
    added = 0
    def add(self, span):
        global added
        real_add(self, span)
        added += 1
        if added == 1_000:
            print(added, flush=True)
            # Until Ctrl-C. Not signal.pause(): a SIGINT that landed between the print and the
            # pause would be handled before it, and pause() would wait forever.
            while True:
                time.sleep(0.01)
    spans.SpanWriter.add = add
    from annotator.cli import main
    sys.argv = ["annotator", *sys.argv[1:]]
    main()
    """
)


SPANS = 2_100  # 300 traces of 7


def test_ctrl_c_during_import_leaves_every_committed_span_visible(
    tmp_path: Path, commands: Worker
) -> None:
    source = _legacy_spans(tmp_path / "big.jsonl", SPANS)
    db = tmp_path / "a.db"
    process = subprocess.Popen(
        [sys.executable, "-c", _IMPORT_PAUSED_MID_TRANSACTION, "import", str(source), "--db",
         str(db)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )  # fmt: skip
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == "1000\n", process.communicate()
        conn = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True, timeout=10)
        try:  # what another process sees: the 3 commits, not the open transaction
            assert conn.execute("SELECT count(*) FROM spans").fetchone()[0] == 900
        finally:
            conn.close()
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr
    assert stdout == ""
    spans, counted, homeless = _consistency(db)
    assert (counted, homeless) == (spans, 0)  # every committed span is in its trace's row
    assert spans == 900  # whole commits only: the open transaction's 100 spans were rolled back
    assert stderr.strip().splitlines() == [
        (
            "annotator: interrupted: 900 spans in 129 traces had been imported and are visible; "
            "the rest was not. Run the same import again to finish it (what is already there is "
            "skipped)."
        )
    ]
    finished = commands.run("import", str(source), "--db", str(db), cwd=tmp_path)
    assert finished.returncode == 0, finished.stderr
    assert _consistency(db) == (SPANS, SPANS, 0)


class _CtrlCAfterCommit:
    """A connection on which Ctrl-C arrives the moment a COMMIT has returned: the likeliest
    moment in a real import, since COMMIT (an fsync) is its slowest statement."""

    def __init__(self, conn: sqlite3.Connection, commits_before: int) -> None:
        self._conn = conn
        self.commits_before = commits_before

    def __getattr__(self, name: str) -> object:
        return getattr(self._conn, name)

    def execute(self, sql: str, *args: object) -> sqlite3.Cursor:
        cursor = self._conn.execute(sql, *args)
        if sql == "COMMIT":
            if self.commits_before == 0:
                raise KeyboardInterrupt
            self.commits_before -= 1
        return cursor


def test_an_interrupt_right_after_commit_counts_that_commit(tmp_path: Path) -> None:
    from annotator.importer import ImportReport, import_files
    from annotator.store import spans as span_module

    source = _legacy_spans(tmp_path / "spans.jsonl", 1_000)
    db = tmp_path / "a.db"
    report = ImportReport()
    with Store.open(db) as store:
        real = store.connection
        store._conn = _CtrlCAfterCommit(real, commits_before=1)  # the second commit
        previous = span_module.BATCH_SIZE, span_module.COMMIT_EVERY
        span_module.BATCH_SIZE, span_module.COMMIT_EVERY = 100, 300
        try:
            with pytest.raises(KeyboardInterrupt):
                import_files(store, [source], report=report)
        finally:
            span_module.BATCH_SIZE, span_module.COMMIT_EVERY = previous
            store._conn = real
    assert _consistency(db) == (600, 600, 0)
    assert (report.spans_new, report.traces) == (600, 86)  # 600 spans: traces t0..t85


def test_spans_left_without_trace_rows_by_an_older_version_are_summarised_at_open(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    _prepare(path, spans=50)
    with Store.open(path) as store:  # what an import cut short by an older version left
        store.connection.execute("DELETE FROM traces WHERE trace_id IN ('t1', 't3')")
    assert _consistency(path) == (50, 30, 20)
    Store.open(path).close()
    assert _consistency(path) == (50, 50, 0)


def test_a_full_disk_is_the_error_sqlite_gave_not_a_failed_rollback(tmp_path: Path) -> None:
    from annotator.store.db import describe_error

    path = tmp_path / "full.db"
    _prepare(path)
    with Store.open(path) as store:
        conn = store.connection
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages + 2}")  # SQLite's own "disk full"
        big = Annotation(name="q", span_id="s1", identifier="ann", explanation="x" * 200_000)
        with pytest.raises(sqlite3.OperationalError) as error:
            store.set_annotation(big)
        assert describe_error(error.value, path).startswith(f"{path}: the disk is full (")
        assert not conn.in_transaction
        conn.execute("PRAGMA max_page_count = 1073741823")  # space again: writes go on
        store.set_annotation(Annotation(name="q", span_id="s1", identifier="ann", label="ok"))
        assert store.integrity_check() == "ok"


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """A mount of its own (size given by the test), unmounted afterwards; skipped where
    mounting is not allowed (not root, no CAP_SYS_ADMIN)."""
    mounted: list[Path] = []

    def mount(size: str) -> Path:
        where = tmp_path / f"mnt{len(mounted)}"
        where.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
            check=False,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(where)
        return where

    yield mount
    for where in reversed(mounted):
        subprocess.run(["umount", "-l", str(where)], check=False)


def _fill(folder: Path, leave_kib: int) -> None:
    free = os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize
    (folder / "filler").write_bytes(b"\0" * max(free - leave_kib * 1024, 0))


SAMPLES = REPO / "sample_traces"


def test_full_disk_import_is_one_line_and_leaves_a_consistent_database(
    tmp_path: Path, tmpfs: Callable[[str], Path], commands: Worker
) -> None:
    disk = tmpfs("256k")
    # In a process of its own: nothing is said at its exit either. The rest: `commands`.
    new = annotator(
        "import", str(SAMPLES / "rag.otlp.jsonl"), "--db", str(disk / "new.db"), cwd=tmp_path
    )
    assert new.returncode == 2
    assert new.stderr.splitlines() == [
        (
            f"{disk / 'new.db'}: the disk is full (SQLite: database or disk is full); what was "
            "being written was rolled back. Free some space and run the command again (nothing "
            "was imported)"
        )
    ]
    assert sorted(p.name for p in disk.iterdir()) == []  # no database left behind

    disk = tmpfs("2m")  # the chat sample with its search index: about 660 KiB
    db = disk / "x.db"
    assert (
        commands.run(
            "import", str(SAMPLES / "chat.otlp.jsonl"), "--db", str(db), cwd=tmp_path
        ).returncode
        == 0
    )
    _fill(disk, leave_kib=40)
    before = _consistency(db)
    more = commands.run("import", str(SAMPLES / "rag.otlp.jsonl"), "--db", str(db), cwd=tmp_path)
    assert more.returncode == 2 and "Traceback" not in more.stderr
    assert len(more.stderr.splitlines()) == 1 and "the disk is full" in more.stderr
    assert _consistency(db) == before
    # Reading needs no space: nothing is created beside a database at rest.
    stats = commands.run("stats", "--db", str(db), "--json", cwd=tmp_path)
    assert stats.returncode == 0, stats.stderr
    dataset = commands.run("dataset", "--db", str(db), "--out", "-", cwd=tmp_path)
    assert dataset.returncode == 0 and dataset.stdout.count("\n") == 42, dataset.stderr
    assert sorted(p.name for p in disk.iterdir()) == ["filler", "x.db"]


def test_read_only_file_or_file_system_is_one_line_and_nothing_changes(
    tmp_path: Path, tmpfs: Callable[[str], Path], commands: Worker
) -> None:
    disk = tmpfs("4m")
    db = disk / "x.db"
    assert (
        commands.run(
            "import", str(SAMPLES / "chat.otlp.jsonl"), "--db", str(db), cwd=tmp_path
        ).returncode
        == 0
    )
    digest = hashlib.sha256(db.read_bytes()).hexdigest()
    # The file alone read-only (a read-only bind mount over it), then the whole file system.
    subprocess.run(["mount", "--bind", str(db), str(db)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(db)], check=True)
        # In a process of its own: nothing is said at its exit either. The rest: `commands`.
        result = annotator("import", str(SAMPLES / "rag.otlp.jsonl"), "--db", str(db), cwd=tmp_path)
        assert result.returncode == 2
        assert result.stderr.splitlines() == [
            (
                f"{db}: cannot write (the database file is read-only). Make it writable, or copy "
                "the database somewhere writable and use that"
            )
        ]
    finally:
        subprocess.run(["umount", str(db)], check=True)
    subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
    for args in (
        ["import", str(SAMPLES / "rag.otlp.jsonl"), "--db", str(db)],
        ["annotate", "--db", str(db)],
        ["merge", str(SAMPLES.parent / "nothing.db"), "--into", str(db)],
    ):
        result = commands.run(*args, cwd=tmp_path)
        assert result.returncode == 2, (args, result.stderr)
        assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
    result = commands.run("import", str(SAMPLES / "rag.otlp.jsonl"), "--db", str(db), cwd=tmp_path)
    assert "(the file system is mounted read-only)" in result.stderr
    assert hashlib.sha256(db.read_bytes()).hexdigest() == digest
    stats = commands.run("stats", "--db", str(db), cwd=tmp_path)  # reading still works
    assert stats.returncode == 0 and stats.stdout.startswith("42 spans"), stats.stderr


_HOLD_WRITE_LOCK = textwrap.dedent(
    """
    import sys, time
    from annotator.store import Store
    from annotator.store.db import begin_immediate
    store = Store.open(sys.argv[1])
    begin_immediate(store.connection)
    print("locked", flush=True)
    sys.stdin.read()  # until the test closes our stdin
    """
)
_HOLD_EXCLUSIVE_LOCK = textwrap.dedent(
    """
    import sqlite3, sys
    conn = sqlite3.connect(sys.argv[1], isolation_level=None)
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.execute("BEGIN EXCLUSIVE")  # not even readers get in
    print("locked", flush=True)
    sys.stdin.read()
    """
)


@pytest.mark.parametrize(
    "holder, command",
    [
        (_HOLD_WRITE_LOCK, ["import", str(SAMPLES / "rag.otlp.jsonl")]),
        (_HOLD_EXCLUSIVE_LOCK, ["stats"]),
    ],
    ids=["write lock, import", "exclusive lock, stats"],
)
def test_a_lock_held_by_another_process_is_said_at_once_and_waited_for_a_bounded_time(
    tmp_path: Path, holder: str, command: list[str]
) -> None:
    db = tmp_path / "a.db"
    _prepare(db)
    before = _consistency(db)
    locker = subprocess.Popen(
        [sys.executable, "-c", holder, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        assert locker.stdout.readline() == "locked\n"
        waiting = subprocess.Popen(
            [sys.executable, "-m", "annotator", *command, "--db", str(db)],
            cwd=tmp_path,
            stderr=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=_env(ANNOTATOR_LOCK_TIMEOUT="4"),
        )
        notice = waiting.stderr.readline()
        still_running = waiting.poll() is None  # said while waiting, not after giving up
        _, rest = waiting.communicate(timeout=60)
    finally:
        locker.stdin.close()
        locker.wait(timeout=30)
    assert still_running
    assert notice == (
        f"annotator: {db} is locked by another process (pid {locker.pid} (python)) that is "
        "writing to it; waiting up to 4 s (Ctrl-C to stop; ANNOTATOR_LOCK_TIMEOUT sets the "
        "wait)\n"
    )
    assert waiting.returncode == 2
    gave_up = f"{db}: still locked by another process (pid {locker.pid} (python)) after 4 s."
    assert rest.splitlines()[0].startswith(gave_up) and len(rest.splitlines()) == 1
    assert _consistency(db) == before


@pytest.mark.parametrize(
    "args",
    [
        ["import", "pipe"],
        ["annotate", "--db", "a.db", "--config", "pipe"],
        ["config", "check", "pipe"],
        ["merge", "pipe", "--into", "out.db"],
        ["stats", "--db", "pipe"],
        ["import", str(SAMPLES / "chat.otlp.jsonl"), "--db", "pipe"],
    ],
)
def test_a_named_pipe_with_no_writer_is_refused_not_waited_on(
    tmp_path: Path, commands: Worker, args: list[str]
) -> None:
    os.mkfifo(tmp_path / "pipe")
    _prepare(tmp_path / "a.db")
    result = commands.run(*args, cwd=tmp_path)  # blocking forever fails here
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1 and "named pipe" in result.stderr, result.stderr
    assert not (tmp_path / "out.db").exists()


# --- no -wal / -shm left beside a database ------------------------------------------------------


def _beside(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(("-wal", "-shm", "-journal")))


def test_no_command_leaves_wal_or_shm_files_and_inputs_stay_byte_for_byte(
    tmp_path: Path, commands: Worker
) -> None:
    for name in ("a.db", "b.db"):
        imported = commands.run(
            "import", str(SAMPLES / "chat.otlp.jsonl"), "--db", name, cwd=tmp_path
        )
        assert imported.returncode == 0, imported.stderr
    with Store.open(tmp_path / "b.db") as store:
        store.set_annotation(
            Annotation(
                name="q",
                span_id=store.span_rows(store.trace_ids(QueueFilter(), [], "x")[0])[0].span_id,
                label="ok",
                identifier="b",
            )
        )
    assert _beside(tmp_path) == []
    inputs = {
        name: hashlib.sha256((tmp_path / name).read_bytes()).hexdigest()
        for name in ("a.db", "b.db")
    }
    for args in (
        ["stats", "--db", "a.db"],
        ["stats", "--db", "a.db", "--json"],
        ["export", "--db", "b.db", "--out", "out.jsonl"],
        ["dataset", "--db", "b.db", "--out", "d.jsonl"],
        ["merge", "a.db", "b.db", "--into", "team.db"],
        ["merge", "a.db", "b.db", "--into", "team.db", "--dry-run"],
    ):
        result = commands.run(*args, cwd=tmp_path)
        assert result.returncode == 0, (args, result.stderr)
        assert _beside(tmp_path) == [], args
    assert {
        name: hashlib.sha256((tmp_path / name).read_bytes()).hexdigest() for name in inputs
    } == inputs


def test_a_database_left_in_wal_mode_is_read_without_creating_anything(
    tmp_path: Path, commands: Worker
) -> None:
    """Files closed by earlier versions stay in WAL mode with nothing beside them: a read-only
    open (stats, merge inputs) must not create -wal/-shm it could not remove."""
    db = tmp_path / "old.db"
    _prepare(db)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode = WAL")  # how the previous version left every file
    conn.close()
    assert _beside(tmp_path) == []
    digest = hashlib.sha256(db.read_bytes()).hexdigest()
    assert commands.run("stats", "--db", "old.db", "--json", cwd=tmp_path).returncode == 0
    merged = commands.run("merge", "old.db", "--into", "team.db", cwd=tmp_path)
    assert merged.returncode == 0, merged.stderr
    assert _beside(tmp_path) == []
    assert hashlib.sha256(db.read_bytes()).hexdigest() == digest


async def test_the_app_and_its_background_worker_leave_nothing_beside_the_database(
    tmp_path: Path,
) -> None:
    from annotator.app.app import AnnotatorApp
    from tests.app_data import build_db, config_set

    db = build_db(tmp_path / "app.db")
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("1")
        await app.workers.wait_for_complete()  # the progress worker opened its own store
        await pilot.pause()
        assert _beside(tmp_path) == ["app.db-shm", "app.db-wal"]  # in use: WAL mode
        await pilot.press("q")
    assert _beside(tmp_path) == []
    with Store.open(db, readonly=True) as store:
        assert store.counts()["annotations"] == 1


def test_a_closed_pipe_ends_a_command_quietly(tmp_path: Path) -> None:
    """`annotator stats | head -1`: the reader goes away; no traceback, no 'Exception
    ignored'."""
    db = tmp_path / "a.db"
    _prepare(db)
    for args in (["stats"], ["stats", "--json"], ["dataset", "--out", "-"]):
        read, write = os.pipe()
        os.close(read)  # every write to stdout fails with EPIPE
        try:
            result = subprocess.run(
                [sys.executable, "-m", "annotator", *args, "--db", str(db)],
                check=False,
                stdout=write,
                stderr=subprocess.PIPE,
                text=True,
                env=_env(),
                timeout=60,
            )
        finally:
            os.close(write)
        assert (result.returncode, result.stderr) == (141, ""), args


HOLD_AND_CLOSE = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
conn.execute("BEGIN IMMEDIATE")
conn.execute("ROLLBACK")
conn.close()  # the last connection of its process: SQLite cleans up if it thinks it is last
"""


def test_opening_a_second_store_keeps_the_first_ones_locks(tmp_path: Path) -> None:
    """POSIX locks belong to the process: reading the database's header with open()/close()
    while a connection of ours is open drops that connection's locks. Another process closing
    its own connection then thinks it is the last one and deletes the -wal and -shm under us
    (seen as 'disk I/O error' in the app, which opens its writer's store after its own)."""
    db = tmp_path / "a.db"
    _prepare(db)
    first = Store.open(db)
    second = Store.open(db)  # inspects the file while `first` is open
    try:
        subprocess.run([sys.executable, "-c", HOLD_AND_CLOSE, str(db)], check=True, timeout=60)
        assert Path(f"{db}-shm").exists()  # still in use by this process
        assert first.counts()["spans"] == second.counts()["spans"] > 0
        conn = sqlite3.connect(db)
        try:
            assert conn.execute("SELECT count(*) FROM spans").fetchone()[0] > 0
        finally:
            conn.close()
    finally:
        second.close()
        first.close()
    assert not Path(f"{db}-wal").exists() and not Path(f"{db}-shm").exists()
