"""Writing an output file without destroying anything: the one writer every command uses.

``check_output(out, protect)`` decides where and how `out` is written, or refuses it with one
line (`OutputError`); ``open_output(plan_or_out)`` yields a binary stream and commits it.

Rules (the README's Command reference says the same):

* ``-`` is standard output.
* A new path, or an existing regular file, is written atomically: into a temporary file beside
  it (``.NAME.PID.RANDOM.annotator-tmp``), synced to disk, then renamed over it. A failed or
  interrupted write leaves the earlier file as it was and no partial file. A new file gets
  0666 minus the umask; an existing file keeps its permission bits (and, when running as root,
  its owner).
* A symlink is followed: the file it points to is replaced, the link itself stays.
* A character device, FIFO or socket is written to in place, never renamed over: ``--out
  /dev/null`` leaves ``/dev/null`` a device. A FIFO with no reader is refused (opening it for
  writing would otherwise block forever).
* Refused, one line: a SQLite database (recognised by its 16-byte header, whatever its name), a
  SQLite WAL or rollback journal (by their magic numbers), a ``-wal`` / ``-shm`` / ``-journal``
  file beside a database, any file in `protect` (the command's inputs: its ``--db``, hard links
  and symlinks to it, and its sidecars), a directory, a block device, anything else that is
  not a regular file.
* Temporary files of ours left by a killed run (our name pattern, our uid, written by a process
  that is no longer running, older than this process) are removed the next time an output is
  written into that directory.
"""

from __future__ import annotations

import errno
import fcntl
import os
import secrets
import socket
import stat
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import IO

from annotator.store import open_in_this_process

SQLITE_HEADER = b"SQLite format 3\x00"
_WAL_MAGIC = (b"\x37\x7f\x06\x82", b"\x37\x7f\x06\x83")
_JOURNAL_MAGIC = b"\xd9\xd5\x05\xf9\x20\xa1\x63\xd7"
SIDECAR_SUFFIXES = ("-wal", "-shm", "-journal")
TEMPORARY_SUFFIX = ".annotator-tmp"
# Exit status after the reader of stdout (or of a FIFO / socket) went away: what a program
# killed by SIGPIPE reports (128 + 13), like `cat` in `cat big | head -1`.
EXIT_READER_GONE = 141

_STARTED = time.time()


class OutputError(Exception):
    """The output cannot or must not be written: one line, naming the path."""


class ReaderGone(Exception):
    """The process reading our stdout, FIFO or socket closed it (EPIPE): stop quietly."""


@dataclass(frozen=True, slots=True)
class OutputPlan:
    """Where the bytes of `given` go. kind: "stdout", "new", "file" (both replaced
    atomically), or written in place: "device" (a character device), "fifo", "socket"."""

    given: str
    path: str
    kind: str
    mode: int | None = None  # permission bits an existing file keeps
    owner: tuple[int, int] | None = None

    @property
    def directory(self) -> str | None:
        """The directory the temporary file goes to (None when written in place)."""
        if self.kind in ("new", "file"):
            return os.path.dirname(self.path) or "."
        return None


# ---------------------------------------------------------------- checking


def check_output(out: str | os.PathLike[str], protect: Iterable[str | os.PathLike[str]] = ()) \
        -> OutputPlan:  # fmt: skip
    """The plan for writing `out`, or OutputError (one line) when it must not be written."""
    given = os.fspath(out)
    if given == "-":
        # `annotator export --db x.db >> x.db` must not append to the database either
        try:
            st = os.fstat(sys.stdout.fileno())
        except (AttributeError, OSError, ValueError):
            st = None  # not a real file (tests)
        if st is not None and stat.S_ISREG(st.st_mode):
            _refuse_inputs("stdout", st, protect)
        return OutputPlan(given, given, "stdout")
    if given == "":
        raise OutputError("the output path is empty (use '-' for stdout)")
    try:
        st = os.stat(given)
    except FileNotFoundError:
        return _new_path(given)
    except OSError as error:
        raise OutputError(f"{given}: cannot write ({_reason(error)})") from None
    path = os.path.realpath(given)
    _refuse_inputs(given, st, protect)
    mode = st.st_mode
    if stat.S_ISREG(mode):
        _refuse_sqlite(given, path)
        return OutputPlan(given, path, "file", stat.S_IMODE(mode) & 0o777, (st.st_uid, st.st_gid))
    if stat.S_ISCHR(mode):
        return OutputPlan(given, path, "device")
    if stat.S_ISFIFO(mode):
        return OutputPlan(given, path, "fifo")
    if stat.S_ISSOCK(mode):
        return OutputPlan(given, path, "socket")
    if stat.S_ISDIR(mode):
        raise OutputError(f"{given}: is a directory")
    what = "a block device" if stat.S_ISBLK(mode) else "not a regular file"
    raise OutputError(f"{given}: is {what}; refusing to write to it")


def _new_path(given: str) -> OutputPlan:
    # A dangling symlink is followed too: the file is created where it points.
    path = os.path.realpath(given)
    directory = os.path.dirname(path) or "."
    if not os.path.isdir(directory):
        shown = os.path.dirname(given) or "."
        raise OutputError(f"{given}: directory {shown} does not exist")
    _refuse_sidecar_name(given, path)
    return OutputPlan(given, path, "new")


def _refuse_inputs(given: str, st: os.stat_result, protect: Iterable) -> None:
    """The same file (device and inode) as an input or one of its SQLite sidecars: hard links
    and symlinks to it included."""
    for item in protect:
        base = os.fspath(item)
        for suffix in ("", *SIDECAR_SUFFIXES):
            try:
                other = os.stat(base + suffix)
            except OSError:
                continue
            if (other.st_dev, other.st_ino) == (st.st_dev, st.st_ino):
                what = (
                    f"the database itself ({base})"
                    if not suffix
                    else f"{base}{suffix}, part of the database {base}"
                )
                raise OutputError(
                    f"{given}: that is {what}, which this command reads; "
                    "write the output to another file"
                )


def _refuse_sqlite(given: str, path: str) -> None:
    # A database this command has open (or its -wal/-shm) is never opened and closed here:
    # closing any descriptor of it would drop SQLite's locks (see annotator.store.db).
    bases = [path] + [path[: -len(s)] for s in SIDECAR_SUFFIXES if path.endswith(s)]
    if any(open_in_this_process(base) for base in bases):
        raise OutputError(
            f"{given}: is a SQLite database this command reads (or its -wal/-shm); refusing to "
            "write over it (choose another file)"
        )
    try:
        with open(path, "rb") as stream:
            head = stream.read(len(SQLITE_HEADER))
    except OSError as error:
        raise OutputError(
            f"{given}: cannot read it to check it is not a database ({_reason(error)})"
        ) from None
    if head == SQLITE_HEADER:
        raise OutputError(
            f"{given}: is a SQLite database; refusing to write over it (choose another file)"
        )
    if head[:4] in _WAL_MAGIC or head[:8] == _JOURNAL_MAGIC:
        raise OutputError(
            f"{given}: is a SQLite write-ahead log or journal; refusing to write over it "
            "(choose another file)"
        )
    _refuse_sidecar_name(given, path)


def _refuse_sidecar_name(given: str, path: str) -> None:
    for suffix in SIDECAR_SUFFIXES:
        if path.endswith(suffix) and is_sqlite_database(path[: -len(suffix)]):
            raise OutputError(
                f"{given}: is the {suffix[1:]} file of the SQLite database "
                f"{path[: -len(suffix)]}; refusing to write it (choose another file)"
            )


def is_sqlite_database(path: str | os.PathLike[str]) -> bool:
    """Whether `path` is a regular file that starts with SQLite's header."""
    if open_in_this_process(path):
        return True
    try:
        with open(path, "rb") as stream:
            return stream.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:
        return False


def _reason(error: OSError) -> str:
    return error.strerror or str(error)


# ---------------------------------------------------------------- writing


@contextmanager
def open_output(
    target: OutputPlan | str | os.PathLike[str],
    *,
    protect: Iterable[str | os.PathLike[str]] = (),
    stdout: IO[bytes] | None = None,
) -> Iterator[IO[bytes]]:
    """A binary stream for `target` (a plan from `check_output`, or a path checked here),
    committed when the block ends without an exception. Write errors become OutputError (one
    line; nothing partial is left), a vanished reader becomes ReaderGone."""
    plan = target if isinstance(target, OutputPlan) else check_output(target, protect)
    if plan.kind == "stdout":
        if stdout is None:  # `annotator export >&-`
            raise OutputError("stdout is closed; write to a file with --out FILE")
        with _errors(plan):
            yield stdout
            stdout.flush()
        return
    if plan.kind in ("device", "fifo", "socket"):
        stream = _open_in_place(plan)
        try:
            with _errors(plan):
                yield stream
                stream.flush()
        finally:
            with suppress(OSError):
                stream.close()
        return
    directory = plan.directory or "."
    remove_stale_temporaries(directory)
    with _errors(plan):
        fd, temporary = _create_temporary(plan)
    try:
        with _errors(plan):
            if plan.mode is not None:
                os.fchmod(fd, plan.mode)
                _keep_owner(fd, plan)
            with os.fdopen(fd, "wb") as stream:
                yield stream
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, plan.path)
    except BaseException:
        with suppress(OSError):
            os.unlink(temporary)
        raise


@contextmanager
def _errors(plan: OutputPlan) -> Iterator[None]:
    try:
        yield
    except BrokenPipeError:
        raise ReaderGone(plan.given) from None
    except OSError as error:
        if error.errno == errno.EPIPE:
            raise ReaderGone(plan.given) from None
        shown = "stdout" if plan.kind == "stdout" else plan.given
        raise OutputError(f"{shown}: cannot write ({_reason(error)})") from None


def _create_temporary(plan: OutputPlan) -> tuple[int, str]:
    directory = plan.directory or "."
    name = os.path.basename(plan.path)[:180]
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        temporary = os.path.join(
            directory, f".{name}.{os.getpid()}.{secrets.token_hex(4)}{TEMPORARY_SUFFIX}"
        )
        try:
            # 0666: the kernel applies the umask, so a new file gets what `touch` would give.
            return os.open(temporary, flags, 0o666), temporary
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary file name", directory)


def _keep_owner(fd: int, plan: OutputPlan) -> None:
    if plan.owner is None or os.geteuid() != 0:
        return
    with suppress(OSError):
        os.fchown(fd, *plan.owner)


def _open_in_place(plan: OutputPlan) -> IO[bytes]:
    if plan.kind == "socket":
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            client.connect(plan.path)
        except OSError as error:
            client.close()
            raise OutputError(
                f"{plan.given}: cannot connect to the socket ({_reason(error)})"
            ) from None
        stream = client.makefile("wb")
        client.close()  # the file object keeps the connection open until it is closed
        return stream
    flags = os.O_WRONLY | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)
    fifo = plan.kind == "fifo"
    try:
        # A FIFO opened for writing blocks until someone reads it; non-blocking, it fails at
        # once (ENXIO) when nobody does.
        fd = os.open(plan.path, flags | (os.O_NONBLOCK if fifo else 0))
    except OSError as error:
        if fifo and error.errno == errno.ENXIO:
            raise OutputError(
                f"{plan.given}: is a FIFO that no process is reading; start the reader first"
            ) from None
        raise OutputError(f"{plan.given}: cannot write ({_reason(error)})") from None
    if fifo:
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
    return os.fdopen(fd, "wb")


# ---------------------------------------------------------------- leftovers


def remove_stale_temporaries(directory: str | os.PathLike[str]) -> list[str]:
    """Remove temporary files a killed run of ours left in `directory`: our name pattern, our
    uid, older than this process, and written by a process that no longer runs. Returns the
    names removed. Anything else (another user's, a live export's) is left alone."""
    removed: list[str] = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    uid = os.geteuid()
    for entry in entries:
        name = entry.name
        if not (name.startswith(".") and name.endswith(TEMPORARY_SUFFIX)):
            continue
        parts = name[: -len(TEMPORARY_SUFFIX)].rsplit(".", 2)
        if len(parts) != 3 or not parts[1].isdigit():
            continue
        pid = int(parts[1])
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode) or st.st_uid != uid or st.st_mtime >= _STARTED:
            continue
        if pid == os.getpid() or _running(pid):
            continue
        with suppress(OSError):
            os.unlink(entry.path)
            removed.append(name)
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def silence_stdout() -> None:
    """After EPIPE on stdout: point file descriptor 1 at /dev/null so that the interpreter's
    final flush does not print 'Exception ignored ... BrokenPipeError'."""
    try:
        fileno = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return  # not a real file (tests)
    with suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fileno)
        os.close(devnull)
