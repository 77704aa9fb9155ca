"""Opening the SQLite file: what a path holds, pragmas, schema version checks, migrations, write
transactions, waiting for locks, closing cleanly, and SQLite's errors as one-line reasons.

A file is ours when its header carries our ``application_id``; a new path, an empty file and an
empty SQLite database (no tables) are ours to create. Anything else is refused before SQLite opens
it for writing, so another application's database is never modified, not even switched to WAL.

At rest a database is in rollback-journal mode, with no ``-wal`` or ``-shm`` beside it: writers
switch it to WAL when they open it (readers never block the writer), and the last connection to
close switches it back (which checkpoints and removes both files). A read-only open of a file at
rest then creates nothing, and needs no write access to the file or its folder.
"""

from __future__ import annotations

import functools
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from annotator.store.schema import MIGRATIONS, NEW_DATABASE, NEW_DATABASE_MIGRATIONS

APPLICATION_ID = 0x414E4E54  # "ANNT": marks the file as ours for `file(1)` and for us
SQLITE_HEADER = b"SQLite format 3\x00"
# How long a command waits for another process's lock before giving up (documented in the
# README); ANNOTATOR_LOCK_TIMEOUT (seconds) overrides it. Annotation writes take well under a
# millisecond, so only a long import, a merge or a stuck process holds a lock this long.
LOCK_TIMEOUT_S = 60.0
LOCK_TIMEOUT_ENV = "ANNOTATOR_LOCK_TIMEOUT"
# After this long waiting for a lock, the user is told (see `set_lock_notice`).
LOCK_NOTICE_AFTER_S = 1.0
BUSY_TIMEOUT_MS = int(LOCK_TIMEOUT_S * 1000)  # default busy timeout of every connection

T = TypeVar("T")


class StoreError(Exception):
    """A database that cannot be used: one line that says which file and why."""


class LockTimeout(StoreError):
    """Another process held the lock for longer than we were willing to wait: nothing was done,
    and trying again later can succeed."""


# --- what a path holds ---------------------------------------------------------------------------

NEW = "new"  # no file: ours to create
EMPTY = "empty"  # a 0-byte file, or a SQLite database without tables: ours to fill
OURS = "ours"


@dataclass(frozen=True)
class DatabaseFile:
    path: Path
    kind: str  # NEW, EMPTY or OURS
    wal_at_rest: bool = False  # the header says WAL and no -wal/-shm is beside it
    version: int = 0  # user_version in the header (the schema version, for our files)


# --- files this process has open ----------------------------------------------------------------
# POSIX advisory locks belong to the process, and closing ANY descriptor of a file drops every lock
# the process holds on it ("How To Corrupt An SQLite Database File", 2.2): one `open(); read();
# close()` of the database while a connection here is open would let another process believe
# nobody uses it (and, say, delete the -wal under us). So the raw header reads below are never
# made on a file a connection of ours has open; SQLite itself knows how to share the file.


class _OpenFiles:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[int, int], int] = {}
        self._keys: dict[int, tuple[int, int]] = {}  # id(connection) -> file

    def add(self, conn: sqlite3.Connection, path: Path) -> None:
        key = _file_key(path)
        if key is None:
            return
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + 1
            self._keys[id(conn)] = key

    def remove(self, conn: sqlite3.Connection) -> None:
        with self._lock:
            key = self._keys.pop(id(conn), None)
            if key is not None:
                self._counts[key] -= 1
                if not self._counts[key]:
                    del self._counts[key]

    def holds(self, path: Path) -> bool:
        key = _file_key(path)
        with self._lock:
            return key is not None and key in self._counts


_OPEN_HERE = _OpenFiles()


def _file_key(path: Path) -> tuple[int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_dev, info.st_ino)


def open_in_this_process(path: str | os.PathLike[str]) -> bool:
    """Whether a connection made by `connect` is open on this file now (so it is ours, and its
    header must not be read with open()/close(): see above)."""
    return _OPEN_HERE.holds(Path(path))


def inspect_database(path: str | Path) -> DatabaseFile:
    """What `path` holds, read from the file header without SQLite (so nothing is created or
    locked). Raises StoreError (one line saying what the file is) for anything that is not ours
    or ours to create."""
    target = Path(path)
    if open_in_this_process(target):
        return _inspect_with_sqlite(target)  # never open()/close() it behind SQLite's back
    try:
        info = target.stat()
    except FileNotFoundError:
        if not target.parent.is_dir():
            raise StoreError(f"{target}: directory {target.parent} does not exist") from None
        return DatabaseFile(target, NEW)
    except OSError as error:
        raise StoreError(f"{target}: cannot open ({error.strerror or error})") from None
    if not stat.S_ISREG(info.st_mode):
        raise StoreError(f"{target}: {_file_type(info.st_mode)}, not a database file")
    wal, shm = _sidecar(target, "-wal"), _sidecar(target, "-shm")
    if info.st_size == 0 and not _nonempty(wal):
        return DatabaseFile(target, EMPTY)
    try:
        with target.open("rb") as handle:
            header = handle.read(108)
    except OSError as error:
        raise StoreError(f"{target}: cannot read ({error.strerror or error})") from None
    if len(header) < 100 or not header.startswith(SQLITE_HEADER):
        if not header and _nonempty(wal):
            return _inspect_with_sqlite(target)  # everything is still in the -wal
        raise StoreError(f"{target}: {_not_sqlite(header)}, not an annotator database")
    application_id = int.from_bytes(header[68:72], "big", signed=True)
    user_version = int.from_bytes(header[60:64], "big", signed=True)
    wal_at_rest = header[18] == 2 and not wal.exists() and not shm.exists()  # see below
    if application_id == APPLICATION_ID:
        return DatabaseFile(target, OURS, wal_at_rest, user_version)
    if application_id == 0 and _nonempty(wal):
        # Our first transaction (which sets the application id) may still be in the -wal.
        return _inspect_with_sqlite(target)
    if application_id == 0 and user_version == 0 and _no_tables(header):
        return DatabaseFile(target, EMPTY, wal_at_rest)
    raise StoreError(foreign_message(target, application_id, user_version))


def _inspect_with_sqlite(target: Path) -> DatabaseFile:
    conn = sqlite3.connect(
        f"{target.resolve().as_uri()}?mode=ro", uri=True, timeout=lock_timeout_s()
    )
    try:
        application_id = conn.execute("PRAGMA application_id").fetchone()[0]
        user_version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    except sqlite3.Error as error:
        raise StoreError(f"{target}: not a usable SQLite database ({error})") from None
    finally:
        conn.close()
    if application_id == APPLICATION_ID:
        return DatabaseFile(target, OURS, version=user_version)
    if application_id == 0 and user_version == 0 and tables == 0:
        return DatabaseFile(target, EMPTY)
    raise StoreError(foreign_message(target, application_id, user_version))


def foreign_message(path: Path, application_id: int, user_version: int) -> str:
    """One line saying whose SQLite file this seems to be, naming a few of its tables."""
    details = []
    if application_id:
        tag = application_id.to_bytes(4, "big", signed=True)
        shown = tag.decode("ascii") if all(0x20 < b < 0x7F for b in tag) else ""
        details.append(f"application_id {application_id:#x}" + (f" '{shown}'" if shown else ""))
    if user_version:
        details.append(f"user_version {user_version}")
    tables = _table_names(path)
    if tables:
        details.append("tables " + ", ".join(tables))
    about = f" ({'; '.join(details)})" if details else ""
    return (
        f"{path}: a SQLite database that annotator did not create{about}; left unchanged "
        "(annotator opens only its own databases)"
    )


def _table_names(path: Path, limit: int = 4) -> list[str]:
    # immutable=1: no locks and no -wal/-shm are created; a stale read is harmless in a message.
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?immutable=1", uri=True)
        try:
            rows = conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY rowid LIMIT ?",
                (limit + 1,),
            ).fetchall()
        finally:
            conn.close()
    except sqlite3.Error:
        return []
    names = [str(row[0])[:40] for row in rows[:limit]]
    return [*names, "…"] if len(rows) > limit else names


def _no_tables(header: bytes) -> bool:
    """Page 1 (the schema table's root) is an empty leaf: the database defines nothing."""
    return len(header) >= 105 and header[100] == 0x0D and header[103:105] == b"\x00\x00"


def _not_sqlite(header: bytes) -> str:
    start = header.lstrip()[:1]
    if start in (b"{", b"["):
        return "a JSON file (trace and annotation files are imported: annotator import FILE)"
    if header.startswith(b"\x89PNG") or header[:3] == b"\xff\xd8\xff":
        return "an image"
    if header.startswith(b"PAR1"):
        return "a parquet file (import it: annotator import FILE)"
    try:
        header.decode("utf-8")
        return "a text file"
    except UnicodeDecodeError:
        return "not a SQLite database"


def _file_type(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def wal_at_rest(path: Path) -> bool:
    """The header says WAL mode and no -wal or -shm is beside the file: nobody has it open, and
    a `mode=ro` open would create both (see `readonly_uri`)."""
    if open_in_this_process(path):
        return False  # open here: not at rest (and not to be read behind SQLite's back)
    try:
        with path.open("rb") as handle:
            header = handle.read(20)
    except OSError:
        return False
    if len(header) < 20 or header[18] != 2:
        return False
    return not _sidecar(path, "-wal").exists() and not _sidecar(path, "-shm").exists()


def _sidecar(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def _nonempty(path: Path) -> bool:
    try:
        return path.stat().st_size > 0
    except OSError:
        return False


# --- connections ---------------------------------------------------------------------------------


def connect(path: str | Path, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit, see `write_transaction`).

    Read-write: only on a file `inspect_database` accepts (created when new). Read-only: only on
    one of our files; nothing is created beside a file at rest (see `readonly_uri`)."""
    found = inspect_database(path)
    target = found.path
    if readonly:
        if found.kind == NEW:
            raise StoreError(f"{target}: no such database")
        if found.kind == EMPTY:
            raise StoreError(f"{target}: an empty file, not an annotator database yet")
        conn = sqlite3.connect(
            readonly_uri(found), uri=True, isolation_level=None, check_same_thread=False
        )
    else:
        conn = sqlite3.connect(target, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {busy_timeout_ms()}")
    try:
        # The first read loads the schema: it waits (and says so) while another process holds
        # an exclusive lock.
        wait_for_lock(conn, lambda: conn.execute("SELECT count(*) FROM sqlite_master").fetchone())
        conn.execute("PRAGMA foreign_keys = ON")
        # FULL: a commit is on disk before the call that made it returns (NORMAL would survive a
        # kill -9 but not a power cut). Bulk imports lower it for their own transaction.
        conn.execute("PRAGMA synchronous = FULL")
    except StoreError:
        conn.close()
        raise
    except sqlite3.DatabaseError as error:
        conn.close()
        raise StoreError(
            describe_error(error, target) or f"{target}: not a usable SQLite database ({error})"
        ) from None
    _OPEN_HERE.add(conn, target)
    return conn


def readonly_uri(found: DatabaseFile) -> str:
    """`mode=ro`, which takes locks and reads a live -wal; for a file left in WAL mode with no
    -wal or -shm beside it (closed by an older version), `immutable=1`, because `mode=ro` would
    create both and could not remove them. immutable's caveat: a process that starts writing
    while we read is not seen (and a checkpoint it runs meanwhile could fail our read with a
    'malformed' error, never a wrong write: we write nothing)."""
    uri = found.path.resolve().as_uri()  # as_uri escapes '?', '#' and '%' in the path
    return f"{uri}?immutable=1" if found.wal_at_rest else f"{uri}?mode=ro"


def readonly_uri_of(path: Path) -> str:
    """`readonly_uri` of a file known to be ours (merge's checked inputs and dry-run copies)."""
    return readonly_uri(DatabaseFile(path, OURS, wal_at_rest(path)))


def current_migrations() -> list[str]:
    """The migrations `ensure_schema` runs by default, looked up at call time: a caller that
    compares versions compares with the ones it upgrades to (tests add a version this way)."""
    return MIGRATIONS


def enable_wal(conn: sqlite3.Connection, path: str | Path) -> None:
    """WAL lets readers (other annotators, Datasette) go on while one process writes. Switching
    rewrites the file header, so it happens only once the file is known to be ours."""
    mode = wait_for_lock(conn, lambda: conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
    if mode.lower() != "wal":
        raise StoreError(
            f"{path}: cannot write ({writability(Path(path))}). Make it writable, or copy the "
            "database somewhere writable and use that"
        )


def close_connection(conn: sqlite3.Connection, *, readonly: bool = False) -> None:
    """Close; the last writer to close leaves the file at rest (rollback-journal mode, no -wal or
    -shm). While another connection (this process's or another's) is open the switch fails at
    once and is left to whichever closes last."""
    if not readonly:
        try:
            conn.execute("PRAGMA busy_timeout = 0")
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            conn.execute("PRAGMA journal_mode = DELETE")
        except sqlite3.Error:
            pass
    _OPEN_HERE.remove(conn)
    conn.close()


def schema_version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]


def ensure_schema(
    conn: sqlite3.Connection, path: str | Path, *, migrations: list[str] | None = None
) -> None:
    """Create or upgrade the schema in place; refuse a newer or foreign file without touching
    it."""
    steps = MIGRATIONS if migrations is None else migrations
    target_version = len(steps)
    try:
        version = schema_version(conn)
        application_id = conn.execute("PRAGMA application_id").fetchone()[0]
        blank = version == 0 and application_id == 0 and not _has_schema(conn)
    except sqlite3.DatabaseError as error:
        raise StoreError(f"{path}: not a SQLite database ({error})") from None
    if not blank and application_id != APPLICATION_ID:
        raise StoreError(foreign_message(Path(path), application_id, version))
    if version > target_version:
        raise StoreError(
            f"{path}: made by a newer annotator (schema version {version}; this one knows "
            f"{target_version}). Upgrade annotator to open it; the file was not changed."
        )
    if version < 0 or (version == 0 and not blank):
        raise StoreError(
            f"{path}: schema version {version} is not one annotator ever wrote; the file was "
            "not changed"
        )
    if version == 0:
        # A new database: its schema is written in one commit straight into the file, and only
        # then is the file switched to WAL (writing it through the -wal would write it twice,
        # the second time when the last connection closes). Nobody can have been reading it.
        _migrate(conn, steps, version)
        enable_wal(conn, path)
    else:
        enable_wal(conn, path)
        _migrate(conn, steps, version)


def _migrate(conn: sqlite3.Connection, steps: list[str], version: int) -> None:
    target_version = len(steps)
    while version < target_version:
        with write_transaction(conn):
            # Re-read inside the write lock: another process may have migrated meanwhile.
            version = schema_version(conn)
            if version >= target_version:
                break
            # A new database is made in one transaction (one commit, not one a step); a file
            # that has data is upgraded a step a transaction.
            start, version = version, target_version if version == 0 else version + 1
            for script in _scripts(steps, start, version):
                _run_script(conn, script)
            conn.execute(f"PRAGMA user_version = {version}")
            if start == 0:
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")


def _scripts(steps: list[str], start: int, stop: int) -> list[str]:
    """The scripts that take a database from version `start` to `stop`: a new database that
    gets at least every migration NEW_DATABASE stands for gets it (the same schema, made
    cheaper), and then the rest."""
    made = len(NEW_DATABASE_MIGRATIONS)
    if start == 0 and stop >= made and tuple(steps[:made]) == NEW_DATABASE_MIGRATIONS:
        return [NEW_DATABASE, *steps[made:stop]]
    return steps[start:stop]


def _has_schema(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] > 0


def _run_script(conn: sqlite3.Connection, script: str) -> None:
    # executescript() would COMMIT our transaction first; run statement by statement instead.
    for statement in _statements(script):
        conn.execute(statement)


@functools.cache
def _statements(script: str) -> tuple[str, ...]:
    """A migration's statements, split once a process (a new database runs them all)."""
    return tuple(_split_statements(script))


def _split_statements(script: str) -> Iterator[str]:
    buffer = ""
    for line in script.splitlines(keepends=True):
        if not buffer and (not line.strip() or line.lstrip().startswith("--")):
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            yield buffer.strip()
            buffer = ""
    if buffer.strip():
        yield buffer.strip()


# --- transactions and locks ----------------------------------------------------------------------


@contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT: takes the write lock up front, so a transaction never fails
    half-way with "database is locked" when it tries to upgrade a read lock. The commit has
    happened when the block exits; on any error nothing of the block is left."""
    begin_immediate(conn)
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        rollback(conn)
        raise


def rollback(conn: sqlite3.Connection) -> None:
    """Roll back if a transaction is still open. SQLite has already rolled back by itself after
    some errors (a full disk, an I/O error); the error that got us here is the one to report."""
    if conn.in_transaction:
        with suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


def begin_immediate(conn: sqlite3.Connection) -> None:
    # As patient as the connection: the command line's minute (ANNOTATOR_LOCK_TIMEOUT), or the
    # app writer's fraction of a second (it retries on its own and says why it waits).
    patience_s = conn.execute("PRAGMA busy_timeout").fetchone()[0] / 1000
    wait_for_lock(conn, lambda: conn.execute("BEGIN IMMEDIATE"), timeout=patience_s)


_lock_notice: Callable[[str], None] | None = None


def set_lock_notice(notice: Callable[[str], None] | None) -> Callable[[str], None] | None:
    """Who is told, once, when a lock is waited for longer than LOCK_NOTICE_AFTER_S (the command
    line prints it on stderr; inside the app nobody is). Returns the previous one."""
    global _lock_notice
    previous, _lock_notice = _lock_notice, notice
    return previous


def lock_timeout_s() -> float:
    raw = os.environ.get(LOCK_TIMEOUT_ENV, "").strip()
    if raw:
        try:
            value = float(raw)
        except ValueError:
            value = -1.0
        if value >= 0:
            return value
    return LOCK_TIMEOUT_S


def busy_timeout_ms() -> int:
    return int(lock_timeout_s() * 1000)


def wait_for_lock(
    conn: sqlite3.Connection, operation: Callable[[], T], *, timeout: float | None = None
) -> T:
    """Run `operation`; while another process holds the lock it needs, retry until `timeout`
    (default: the lock timeout), telling the user after a second what is being waited for.
    Gives up with a StoreError (nothing was done). Any other error passes through."""
    timeout = lock_timeout_s() if timeout is None else timeout
    started = time.monotonic()
    noticed = False
    slice_ms = int(min(LOCK_NOTICE_AFTER_S, timeout) * 1000)
    conn.execute(f"PRAGMA busy_timeout = {slice_ms}")
    try:
        while True:
            try:
                return operation()
            except sqlite3.OperationalError as error:
                if not is_busy(error):
                    raise
                waited = time.monotonic() - started
                if waited >= timeout:
                    raise LockTimeout(locked_message(database_path(conn), timeout)) from None
                if not noticed and waited >= LOCK_NOTICE_AFTER_S * 0.9:
                    noticed = True
                    if _lock_notice is not None:
                        _lock_notice(waiting_message(database_path(conn), timeout))
                # SQLite sleeps inside its busy handler; this covers BUSY returned at once.
                time.sleep(0.01)
                remaining = max(timeout - (time.monotonic() - started), 0.0)
                conn.execute(f"PRAGMA busy_timeout = {int(min(remaining, 5.0) * 1000)}")
    finally:
        conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")


def is_busy(error: sqlite3.Error) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(error) or "busy" in str(error)


def database_path(conn: sqlite3.Connection) -> str:
    try:
        for _, name, file in conn.execute("PRAGMA database_list"):
            if name == "main":
                return file or "the database"
    except sqlite3.Error:
        pass
    return "the database"


def waiting_message(path: str, timeout: float) -> str:
    return (
        f"{path} is locked by another process{_holders(path)} that is writing to it; waiting "
        f"up to {timeout:g} s (Ctrl-C to stop; {LOCK_TIMEOUT_ENV} sets the wait)"
    )


def locked_message(path: str, timeout: float) -> str:
    return (
        f"{path}: still locked by another process{_holders(path)} after {timeout:g} s. Run the "
        f"command again once it has finished ({LOCK_TIMEOUT_ENV} sets how long to wait)"
    )


def _holders(path: str) -> str:
    holders = lock_holders(Path(path))
    return f" ({', '.join(holders)})" if holders else ""


def lock_holders(path: Path) -> list[str]:
    """'pid 123 (sqlite3)' for each other process holding a POSIX lock on the database or its
    -shm, from /proc/locks (Linux); empty where that is not available."""
    inodes = set()
    for candidate in (path, _sidecar(path, "-shm")):
        try:
            info = candidate.stat()
        except OSError:
            continue
        inodes.add((os.major(info.st_dev), os.minor(info.st_dev), info.st_ino))
    if not inodes:
        return []
    try:
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return []
    pids: list[int] = []
    for line in lines:
        fields = line.split()
        if "->" in fields or len(fields) < 6:  # "->": a process waiting, not holding
            continue
        try:
            pid = int(fields[4])
            major, minor, inode = fields[5].split(":")
            key = (int(major, 16), int(minor, 16), int(inode))
        except ValueError:
            continue
        if key in inodes and pid not in (os.getpid(), *pids) and pid > 0:
            pids.append(pid)
    holders = []
    for pid in pids[:3]:
        try:
            name = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            name = ""
        holders.append(f"pid {pid}" + (f" ({name})" if name else ""))
    return holders


# --- errors as one line --------------------------------------------------------------------------


def describe_error(error: sqlite3.Error, path: str | Path | None) -> str | None:
    """One line for an error the environment caused (full disk, read-only file, lock, I/O,
    damaged file), naming the cause and what to do; None for anything else (a bug)."""
    code = getattr(error, "sqlite_errorcode", None)
    if code is None:
        return None
    where = str(path) if path else "the database"
    primary = code & 0xFF
    if primary == sqlite3.SQLITE_FULL:
        return (
            f"{where}: the disk is full (SQLite: {error}); what was being written was rolled "
            "back. Free some space and run the command again"
        )
    if primary == sqlite3.SQLITE_READONLY or primary == sqlite3.SQLITE_PERM:
        return (
            f"{where}: cannot write ({writability(Path(where))}). Make it writable, or copy the "
            "database somewhere writable and use that"
        )
    if primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return locked_message(where, lock_timeout_s())
    if primary == sqlite3.SQLITE_IOERR:
        return (
            f"{where}: disk I/O error ({getattr(error, 'sqlite_errorname', '')}: {error}); what "
            "was being written was rolled back. Check the disk, then run the command again"
        )
    if primary == sqlite3.SQLITE_CANTOPEN:
        return (
            f"{where}: cannot create or open it ({writability(Path(where))}; SQLite: {error}). "
            "Give a path in a writable folder"
        )
    if primary in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
        return (
            f"{where}: the database file is damaged ({error}); restore it from a copy, or try "
            f"`sqlite3 {where} .recover`"
        )
    return None


def writability(path: Path) -> str:
    """Why a file cannot be written, as far as the file system says."""
    folder = path.parent if str(path.parent) else Path(".")
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return "the file system is mounted read-only"
    except OSError:
        pass
    if path.exists() and not os.access(path, os.W_OK):
        return "the database file is read-only"
    if not os.access(folder, os.W_OK):
        return f"the folder {folder} is read-only (SQLite writes a journal beside the database)"
    return "the file or its folder is not writable"
