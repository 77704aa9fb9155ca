"""Opening the SQLite file: pragmas, schema version checks, migrations, write transactions."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from annotator.store.schema import MIGRATIONS

# Writers queue behind each other for this long before SQLite gives up. Annotation writes take
# well under a millisecond, so only a stuck process could exhaust it.
BUSY_TIMEOUT_MS = 60_000
APPLICATION_ID = 0x414E4E54  # "ANNT": marks the file as ours for `file(1)` and for us


class StoreError(Exception):
    """A database that cannot be used: one line that says which file and why."""


def connect(path: str | Path, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit, see `write_transaction`)."""
    target = Path(path)
    if readonly:
        if not target.exists():
            raise StoreError(f"{target}: no such database")
        uri = f"{target.resolve().as_uri()}?mode=ro"  # as_uri escapes '?' and '#' in the path
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    else:
        if target.parent and not target.parent.exists():
            raise StoreError(f"{target}: directory {target.parent} does not exist")
        conn = sqlite3.connect(target, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        # FULL: a commit is on disk before the call that made it returns (NORMAL would survive a
        # kill -9 but not a power cut). Bulk imports lower it for their own transaction.
        conn.execute("PRAGMA synchronous = FULL")
    except sqlite3.DatabaseError as error:
        conn.close()
        raise StoreError(f"{target}: not a usable SQLite database ({error})") from None
    return conn


def enable_wal(conn: sqlite3.Connection, path: str | Path) -> None:
    """WAL lets readers (other annotators, Datasette) go on while one process writes. Switching
    rewrites the file header, so it happens only once the file is known to be ours."""
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if mode.lower() != "wal":
        raise StoreError(f"{path}: cannot switch to WAL mode (got {mode})")


def schema_version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]


def ensure_schema(conn: sqlite3.Connection, path: str | Path, *, migrations: list[str] | None = None) -> None:
    """Create or upgrade the schema in place; refuse a newer file without touching it."""
    steps = MIGRATIONS if migrations is None else migrations
    target_version = len(steps)
    try:
        version = schema_version(conn)
        foreign = version == 0 and _has_foreign_tables(conn)
    except sqlite3.DatabaseError as error:
        raise StoreError(f"{path}: not a SQLite database ({error})") from None
    if version > target_version:
        raise StoreError(
            f"{path}: made by a newer annotator (schema version {version}; this one knows "
            f"{target_version}). Upgrade annotator to open it; the file was not changed."
        )
    if foreign:
        raise StoreError(f"{path}: a SQLite database that annotator did not create; not touching it")
    enable_wal(conn, path)
    while version < target_version:
        with write_transaction(conn):
            # Re-read inside the write lock: another process may have migrated meanwhile.
            version = schema_version(conn)
            if version >= target_version:
                break
            _run_script(conn, steps[version])
            version += 1
            conn.execute(f"PRAGMA user_version = {version}")
            if version == 1:
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")


def _has_foreign_tables(conn: sqlite3.Connection) -> bool:
    row = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()
    return row[0] > 0


def _run_script(conn: sqlite3.Connection, script: str) -> None:
    # executescript() would COMMIT our transaction first; run statement by statement instead.
    for statement in _split_statements(script):
        conn.execute(statement)


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


@contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT: takes the write lock up front, so a transaction never fails
    half-way with "database is locked" when it tries to upgrade a read lock. The commit has
    happened when the block exits."""
    begin_immediate(conn)
    try:
        yield conn
    except BaseException:
        # SQLite has already rolled back after some errors (a full disk): a second ROLLBACK
        # would fail and hide the real error.
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def begin_immediate(conn: sqlite3.Connection) -> None:
    # busy_timeout covers the wait; the loop is a second line of defence for the rare BUSY that
    # SQLite returns without waiting (e.g. a WAL checkpoint racing the lock). It waits no longer
    # than the connection's own busy timeout (the app's writer sets a short one).
    timeout_ms = conn.execute("PRAGMA busy_timeout").fetchone()[0]
    deadline = time.monotonic() + timeout_ms / 1000
    delay = 0.001
    while True:
        try:
            conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) and "busy" not in str(error):
                raise
            if time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
