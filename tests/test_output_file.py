"""`--out` of `export` and `dataset`: nothing is destroyed, every output is what its consumer
expects (issues 7, 8 and 9). Both commands go through `annotator.output_file`, so every rule is
checked on both."""

from __future__ import annotations

import errno
import os
import shutil
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from annotator import output_file
from annotator.cli.main import cli
from annotator.model import Annotation, Span
from annotator.output_file import SQLITE_HEADER, TEMPORARY_SUFFIX, remove_stale_temporaries
from annotator.store import Store
from annotator.store.annotations import import_annotations
from tests.app_data import build_db

REPO = Path(__file__).resolve().parents[1]
ROOT = os.geteuid() == 0

# Each command, with its arguments before --out; both write JSON lines here.
COMMANDS = {
    "export": ["export", "--format", "jsonl"],
    "dataset": ["dataset", "--format", "jsonl"],
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo spans and one annotation, once a module: tests change their own copy (`db`)."""
    path = build_db(tmp_path_factory.mktemp("built") / "work.db")
    with Store.open(path) as store:
        store.set_annotation(Annotation(name="correctness", span_id="r3", label="correct",
                                        identifier="alice"))  # fmt: skip
    return path


@pytest.fixture
def db(built: Path, tmp_path: Path) -> Path:
    path = tmp_path / "work.db"
    shutil.copyfile(built, path)
    return path


def run(command: str, db: Path, out: str | Path, *extra: str):
    return CliRunner().invoke(cli, [*COMMANDS[command], "--db", str(db), "--out", str(out), *extra])


def one_line(result) -> str:
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output
    return lines[0]


def database_intact(db: Path) -> None:
    assert db.read_bytes()[:16] == SQLITE_HEADER
    with Store.open(db, readonly=True) as store:
        assert store.connection.execute("SELECT count(*) FROM spans").fetchone()[0] == 8
        assert store.connection.execute("SELECT count(*) FROM annotations").fetchone()[0] == 1


def written(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


# ---------------------------------------------------------------- databases are never overwritten


@pytest.mark.parametrize("command", COMMANDS)
def test_out_is_the_database_itself(db, command):
    result = run(command, db, db)
    assert result.exit_code == 2
    assert one_line(result) == (
        f"{db}: that is the database itself ({db}), which this command reads; "
        "write the output to another file"
    )
    database_intact(db)


@pytest.mark.parametrize("command", COMMANDS)
def test_default_database_name_as_out(db, tmp_path, command, monkeypatch):
    # `--out annotations.db` with the default --db: the database of the current directory
    monkeypatch.chdir(tmp_path)
    os.rename(db, "annotations.db")
    result = CliRunner().invoke(cli, [*COMMANDS[command], "--out", "annotations.db"])
    assert result.exit_code == 2 and "the database itself" in one_line(result)
    database_intact(tmp_path / "annotations.db")


@pytest.mark.parametrize("command", COMMANDS)
def test_hard_link_and_symlink_to_the_database(db, tmp_path, command):
    hard = tmp_path / "hard.jsonl"
    os.link(db, hard)
    soft = tmp_path / "soft.jsonl"
    soft.symlink_to(db)
    for out in (hard, soft):
        result = run(command, db, out)
        assert result.exit_code == 2
        assert "the database itself" in one_line(result)
    assert soft.is_symlink()
    database_intact(db)


@pytest.mark.parametrize("command", COMMANDS)
def test_any_sqlite_database_by_content_not_name(db, tmp_path, command):
    other = tmp_path / "notes.txt"  # another database, whatever its name says
    build_db(other)
    before = other.read_bytes()
    result = run(command, db, other)
    assert result.exit_code == 2
    assert one_line(result) == (
        f"{other}: is a SQLite database; refusing to write over it (choose another file)"
    )
    assert other.read_bytes() == before


@pytest.mark.parametrize("command", COMMANDS)
def test_wal_and_journal_sidecars(db, tmp_path, command):
    # by name beside a database, existing or not
    for suffix in ("-wal", "-shm", "-journal"):
        sidecar = Path(f"{db}{suffix}")
        result = run(command, db, sidecar)
        assert result.exit_code == 2, suffix
        kind = suffix[1:]
        assert one_line(result) == (
            f"{sidecar}: is the {kind} file of the SQLite database {db}; refusing to write it "
            "(choose another file)"
        )
    # by content, whatever the name
    wal = tmp_path / "copy.bin"
    wal.write_bytes(b"\x37\x7f\x06\x82" + bytes(28))
    journal = tmp_path / "other.bin"
    journal.write_bytes(b"\xd9\xd5\x05\xf9\x20\xa1\x63\xd7" + bytes(20))
    for path in (wal, journal):
        before = path.read_bytes()
        result = run(command, db, path)
        assert result.exit_code == 2
        assert one_line(result) == (
            f"{path}: is a SQLite write-ahead log or journal; refusing to write over it "
            "(choose another file)"
        )
        assert path.read_bytes() == before
    database_intact(db)


def test_stdout_appended_to_the_database_is_refused(db, tmp_path):
    # `annotator export --db work.db >> work.db`
    size = db.stat().st_size
    with open(db, "ab") as stdout:
        done = subprocess.run(
            [sys.executable, "-m", "annotator", "export", "--db", str(db)],
            stdout=stdout, stderr=subprocess.PIPE, cwd=REPO, check=False,
        )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.decode().strip() == (
        f"stdout: that is the database itself ({db}), which this command reads; "
        "write the output to another file"
    )
    assert db.stat().st_size == size
    database_intact(db)


# ---------------------------------------------------------------- what --out may be


def null_device(tmp_path: Path) -> Path:
    """A character device: a fresh node of /dev/null's kind when root (so the test cannot
    harm the real one), else /dev/null itself (which only root could replace)."""
    if not ROOT:
        return Path(os.devnull)
    node = tmp_path / "null"
    os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    return node


@pytest.mark.parametrize("command", COMMANDS)
def test_character_device_is_written_in_place(db, tmp_path, command):
    device = null_device(tmp_path)
    result = run(command, db, device)
    assert result.exit_code == 0, result.output
    assert stat.S_ISCHR(os.stat(device).st_mode)
    assert [p.name for p in device.parent.iterdir() if p.name.endswith(TEMPORARY_SUFFIX)] == []


@pytest.mark.parametrize("command", COMMANDS)
def test_fifo_with_a_reader_gets_the_bytes(db, tmp_path, command):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 10
        while True:  # until the reader has opened its end
            result = run(command, db, fifo)
            if result.exit_code == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.01)
    finally:
        if reader.is_alive():  # unblock the reader if the command never opened the FIFO
            try:
                with open(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK), "wb"):
                    pass
            except OSError as error:
                # ENXIO: no reader any more - it has read to the end and is finishing (a
                # loaded machine can leave its thread alive a moment after the command's exit)
                if error.errno != errno.ENXIO:
                    raise
        reader.join(10)
    assert result.exit_code == 0, result.output
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert received and len(received[0].splitlines()) == (1 if command == "export" else 8)


@pytest.mark.parametrize("command", COMMANDS)
def test_fifo_without_a_reader_is_refused_at_once(db, tmp_path, command):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    result = run(command, db, fifo)
    assert result.exit_code == 2
    assert one_line(result) == (
        f"{fifo}: is a FIFO that no process is reading; start the reader first"
    )
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


@pytest.mark.parametrize("command", COMMANDS)
def test_unix_socket_is_written_in_place(db, tmp_path, command):
    path = tmp_path / "s.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)
    server.settimeout(10)  # never hang the suite if nobody connects
    received = bytearray()

    def serve() -> None:
        try:
            connection, _ = server.accept()
        except OSError:
            return
        with connection:
            while chunk := connection.recv(65536):
                received.extend(chunk)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        result = run(command, db, path)
    finally:
        thread.join(10)
        server.close()
    assert result.exit_code == 0, result.output
    assert stat.S_ISSOCK(os.lstat(path).st_mode)
    assert received and orjson.loads(bytes(received).splitlines()[0])


@pytest.mark.skipif(not ROOT, reason="creating a block device node needs root")
@pytest.mark.parametrize("command", COMMANDS)
def test_block_device_is_refused(db, tmp_path, command):
    node = tmp_path / "disk"
    os.mknod(node, stat.S_IFBLK | 0o600, os.makedev(7, 200))
    result = run(command, db, node)
    assert result.exit_code == 2
    assert one_line(result) == f"{node}: is a block device; refusing to write to it"
    assert stat.S_ISBLK(os.lstat(node).st_mode)


@pytest.mark.parametrize("command", COMMANDS)
def test_symlink_is_followed_and_kept(db, tmp_path, command):
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "out.jsonl"
    target.write_text("old\n")
    link = tmp_path / "link.jsonl"
    link.symlink_to(target)
    result = run(command, db, link)
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert written(target)
    # a dangling link: the file is created where it points
    dangling = tmp_path / "dangling.jsonl"
    dangling.symlink_to(tmp_path / "real" / "new.jsonl")
    assert run(command, db, dangling).exit_code == 0
    assert dangling.is_symlink() and written(tmp_path / "real" / "new.jsonl")


@pytest.mark.parametrize("command", [*COMMANDS, "phoenix-dir"])
def test_modes_follow_the_umask_and_existing_files_keep_theirs(db, tmp_path, command):
    """phoenix-dir: `export --format phoenix --out DIR/`, whose endpoint files go through the
    same writer one by one (and a folder it creates follows the umask too)."""

    def write(name: str, existing: tuple[str, ...] = ()) -> Path:
        """Write the output `name` (a file, or a folder for phoenix-dir, holding the files
        `existing` already, mode 0664); return the file with the annotation."""
        if command != "phoenix-dir":
            out = tmp_path / f"{name}.jsonl"
            if existing:
                out.write_text("old\n")
                out.chmod(0o664)
            assert run(command, db, out).exit_code == 0
            return out
        folder = tmp_path / name
        if existing:
            folder.mkdir()
        for file in existing:
            (folder / file).write_text("old\n")
            (folder / file).chmod(0o664)
        result = CliRunner().invoke(cli, ["export", "--format", "phoenix", "--db", str(db),
                                          "--out", f"{folder}{os.sep}"])  # fmt: skip
        assert result.exit_code == 0, result.output
        return folder / "span_annotations.json"

    def folder_modes(out: Path) -> dict[str, int]:
        return {p.name: stat.S_IMODE(p.stat().st_mode) for p in out.parent.iterdir()}

    old = os.umask(0o022)
    try:
        new = write("new")
        assert stat.S_IMODE(new.stat().st_mode) == 0o644
        if command == "phoenix-dir":
            assert stat.S_IMODE(new.parent.stat().st_mode) == 0o755
            assert folder_modes(new) == {"span_annotations.json": 0o644}
        os.umask(0o077)
        private = write("private")
        assert stat.S_IMODE(private.stat().st_mode) == 0o600
        if command == "phoenix-dir":
            assert stat.S_IMODE(private.parent.stat().st_mode) == 0o700
            assert folder_modes(private) == {"span_annotations.json": 0o600}
            # trace_annotations.json: an endpoint with nothing to send now, emptied (not deleted)
            shared = write("shared", ("span_annotations.json", "trace_annotations.json"))
            assert folder_modes(shared) == {"span_annotations.json": 0o664,
                                            "trace_annotations.json": 0o664}  # fmt: skip
            body = orjson.loads(shared.read_bytes())
            assert [item["name"] for item in body["data"]] == ["correctness"]
            assert orjson.loads((shared.parent / "trace_annotations.json").read_bytes()) == {
                "data": []
            }
        else:
            shared = write("shared", ("shared.jsonl",))
            assert stat.S_IMODE(shared.stat().st_mode) == 0o664 and written(shared)
        assert temporaries(shared.parent) == []
    finally:
        os.umask(old)


def temporaries(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if p.name.endswith(TEMPORARY_SUFFIX)]


@pytest.mark.parametrize("command", COMMANDS)
def test_directory_and_missing_directory(db, tmp_path, command):
    result = run(command, db, tmp_path / "no" / "such" / "x.jsonl")
    assert result.exit_code == 2
    assert one_line(result) == f"{tmp_path / 'no' / 'such' / 'x.jsonl'}: directory " \
        f"{tmp_path / 'no' / 'such'} does not exist"  # fmt: skip
    assert run(command, db, tmp_path).exit_code == 2


# ---------------------------------------------------------------- failures leave nothing behind


def _disk_full_after(monkeypatch, limit: int) -> None:
    """Every file the writer opens fails with ENOSPC once `limit` bytes were written."""
    real_fdopen = os.fdopen

    class Full:
        def __init__(self, stream):
            self.stream, self.count = stream, 0

        def write(self, data):
            self.count += len(data)
            if self.count > limit:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return self.stream.write(data)

        def __getattr__(self, name):
            return getattr(self.stream, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.stream.close()

    monkeypatch.setattr(output_file.os, "fdopen", lambda *a, **k: Full(real_fdopen(*a, **k)))


@pytest.mark.parametrize("command", COMMANDS)
def test_disk_full_is_one_line_and_leaves_the_old_file(db, tmp_path, command, monkeypatch):
    out = tmp_path / "out" / "x.jsonl"
    out.parent.mkdir()
    out.write_text("earlier export\n")
    _disk_full_after(monkeypatch, 100)
    result = run(command, db, out)
    assert result.exit_code == 2
    assert one_line(result) == f"{out}: cannot write (No space left on device)"
    assert out.read_text() == "earlier export\n"
    assert sorted(p.name for p in out.parent.iterdir()) == ["x.jsonl"]


@pytest.mark.parametrize("command", [*COMMANDS, "phoenix-dir"])
def test_disk_full_in_a_subprocess_prints_no_traceback(db, tmp_path, command):
    """The real process: a database closed before the example generator was (dataset, and
    export to a Phoenix directory) printed 'Exception ignored ... Traceback' on a full
    disk."""
    code = (
        "import errno, os, sys\n"
        "from annotator import output_file\n"
        "real = os.fdopen\n"
        "class Full:\n"
        "    def __init__(self, s): self.s = s\n"
        "    def write(self, d): raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))\n"
        "    def __getattr__(self, n): return getattr(self.s, n)\n"
        "    def __enter__(self): return self\n"
        "    def __exit__(self, *e): self.s.close()\n"
        "output_file.os.fdopen = lambda *a, **k: Full(real(*a, **k))\n"
        "from annotator.cli.main import main\n"
        "sys.argv = ['annotator', *sys.argv[1:]]\n"
        "main()\n"
    )
    if command == "phoenix-dir":
        args, target = ["export", "--format", "phoenix"], f"{tmp_path / 'dir'}{os.sep}"
        failed = tmp_path / "dir" / "span_annotations.json"
    else:
        args, target = COMMANDS[command], str(tmp_path / "x.jsonl")
        failed = tmp_path / "x.jsonl"
    done = subprocess.run(
        [sys.executable, "-c", code, *args, "--db", str(db), "--out", target],
        capture_output=True, cwd=REPO, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.decode() == f"{failed}: cannot write (No space left on device)\n"
    if command == "phoenix-dir":
        assert list((tmp_path / "dir").iterdir()) == []
        (tmp_path / "dir").rmdir()
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith("work.db")] == []


@pytest.mark.parametrize("command", COMMANDS)
def test_reader_going_away_is_quiet(tmp_path, command):
    """`annotator export | head -1`: no BrokenPipeError, nothing on stderr."""
    # ~600 KB of output, far more than a pipe holds: the command is still writing when its
    # reader goes away.
    spans = [Span(f"{i:016x}", f"{i // 10:032x}", None, "llm", "LLM",
                  attributes={"input": {"value": "q" * 2000}}) for i in range(300)]  # fmt: skip
    db = build_db(tmp_path / "big.db", spans)
    with Store.open(db) as store:
        import_annotations(store.connection, (
            Annotation(name="q", span_id=f"{i:016x}", label="ok", explanation="x" * 2000)
            for i in range(300)
        ), actor="test")  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "annotator", *COMMANDS[command], "--db", str(db), "--out", "-"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO,
    )  # fmt: skip
    assert orjson.loads(process.stdout.readline())
    process.stdout.close()  # what `head -1` does after its line
    stderr = process.stderr.read()
    assert process.wait(60) == 141
    assert stderr == b""


# ---------------------------------------------------------------- leftovers of a killed run


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.mark.parametrize("command", COMMANDS)
def test_stale_temporary_files_of_a_killed_run_are_removed(db, tmp_path, command):
    old = time.time() - 3600
    stale = tmp_path / f".out.jsonl.{_dead_pid()}.0a1b2c3d{TEMPORARY_SUFFIX}"
    live = tmp_path / f".out.jsonl.{os.getppid()}.0a1b2c3d{TEMPORARY_SUFFIX}"  # still running
    other = tmp_path / ".out.jsonl.abc123"  # not our pattern (an older version's, or a user's)
    for path in (stale, live, other):
        path.write_text("half an export")
        os.utime(path, (old, old))
    newer = tmp_path / f".x.jsonl.{_dead_pid()}.0a1b2c3d{TEMPORARY_SUFFIX}"
    newer.write_text("written after this process started")
    future = time.time() + 3600
    os.utime(newer, (future, future))
    assert run(command, db, tmp_path / "out.jsonl").exit_code == 0
    assert not stale.exists()
    assert live.exists() and other.exists() and newer.exists()


def test_stale_temporaries_of_other_users_are_left(tmp_path):
    if not ROOT:
        pytest.skip("changing a file's owner needs root")
    path = tmp_path / f".x.{_dead_pid()}.0a1b2c3d{TEMPORARY_SUFFIX}"
    path.write_text("someone else's")
    os.chown(path, 12345, 12345)
    os.utime(path, (0, 0))
    assert remove_stale_temporaries(tmp_path) == []
    assert path.exists()


@pytest.mark.parametrize("command", COMMANDS)
def test_closed_stdout_and_empty_out_are_one_line(db, command):
    done = subprocess.run(
        [sys.executable, "-m", "annotator", *COMMANDS[command], "--db", str(db), "--out", "-"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO, check=False,
        preexec_fn=lambda: os.close(1),  # `annotator export >&-`
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.decode() == "stdout is closed; write to a file with --out FILE\n"
    result = run(command, db, "")
    assert result.exit_code == 2
    assert one_line(result) in (
        "the output path is empty (use '-' for stdout)",  # export
        "--out FILE or --push NAME is required (the dataset file to write, '-' for stdout; "
        "or the Phoenix dataset to create)",  # dataset
    )
