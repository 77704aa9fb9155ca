"""The real program in a real pseudo-terminal: keys in, screen out, then `kill -9`.

What the screen showed as saved must be in the database after the process is killed at once:
the row is committed before the screen says so."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import sqlite3
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from tests.app_data import CONFIG_YAML, build_db

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pty")


class Terminal:
    def __init__(
        self,
        args: list[str],
        cwd: Path,
        columns: int = 150,
        lines: int = 40,
        *,
        env: dict[str, str] | None = None,
    ) -> None:
        """`env`: the environment (default: this one, with the checkout on PYTHONPATH)."""
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
        if env is None:
            env = {**os.environ, "PYTHONPATH": str(REPO)}
        env = {**env, "TERM": "xterm-256color", "COLUMNS": str(columns), "LINES": str(lines)}
        env.pop("TEXTUAL", None)
        self.process = subprocess.Popen(
            args, stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=env, start_new_session=True
        )
        os.close(slave)
        self.output = b""

    def read_until(self, needle: bytes, timeout: float = 30.0, count: int = 1) -> None:
        deadline = time.monotonic() + timeout
        while self.output.count(needle) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"timed out waiting for {needle!r}; got {self.output[-2000:]!r}"
                )
            ready, _, _ = select.select([self.master], [], [], min(remaining, 0.5))
            if ready:
                try:
                    self.output += os.read(self.master, 65536)
                except OSError:
                    break

    def send(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def wait(self, timeout: float = 60.0) -> int:
        """Read until the program exits; its exit code."""
        deadline = time.monotonic() + timeout
        while self.process.poll() is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"still running; got {self.output[-2000:]!r}")
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if ready:
                try:
                    self.output += os.read(self.master, 65536)
                except OSError:
                    break
        return self.process.wait(timeout=10)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        os.close(self.master)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    build_db(tmp_path / "app.db")
    (tmp_path / "config.yaml").write_text(CONFIG_YAML)
    return tmp_path


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ("2", ("r1", "correctness", "incorrect", 0.0)),  # a label, the moment it is shown saved
        ("jjjjj\tl", ("r3", "quality", None, 0.0)),  # walk to the LLM span, tab to the score
    ],
)
def test_kill_minus_nine_right_after_saved_loses_nothing(
    workdir: Path, keys: str, expected: tuple
) -> None:
    terminal = Terminal(
        [
            sys.executable,
            "-m",
            "annotator",
            "annotate",
            "--db",
            "app.db",
            "--config",
            "config.yaml",
            "--annotator",
            "kim",
        ],
        cwd=workdir,
    )
    try:
        terminal.read_until(b"next to do")  # the footer: the app is up
        # typed ahead all at once: the app takes keys in order, however fast they come
        terminal.send(keys[:-1] + {"l": "\x1b[D"}.get(keys[-1], keys[-1]))  # "l": left arrow
        terminal.read_until("✓ saved".encode())  # the first "✓ saved" on screen is this write's
    finally:
        terminal.kill()  # at once: no chance to flush anything after the screen said "saved"
    with sqlite3.connect(workdir / "app.db") as conn:
        rows = conn.execute("SELECT span_id, name, label, score FROM annotations").fetchall()
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM annotation_log").fetchone()[0] == 1
    assert rows == [expected]


def test_bad_config_is_one_line_and_exit_2(workdir: Path) -> None:
    (workdir / "bad.yaml").write_text("annotations:\n  - name: q\n    type: CATEGORICL\n")
    result = subprocess.run(
        [sys.executable, "-m", "annotator", "annotate", "--db", "app.db", "--config", "bad.yaml"],
        cwd=workdir,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().startswith("bad.yaml:3:")
    assert "Traceback" not in result.stderr


HOLD_LOCK = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
conn.execute("PRAGMA journal_mode = WAL")  # as another annotator process writing has it
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()
"""


def test_a_held_write_lock_is_said_at_once_and_giving_up_exits_3_with_the_list(
    workdir: Path,
) -> None:
    from annotator.store import Store
    from tests.app_data import config_set

    with Store.open(workdir / "app.db") as store:  # stored configs: opening writes nothing
        store.save_config_document(config_set().to_document())
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(workdir / "app.db")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        terminal = Terminal(
            [sys.executable, "-m", "annotator", "annotate", "--db", "app.db", "--annotator", "kim"],
            cwd=workdir,
        )
        try:
            terminal.read_until(b"next to do")
            terminal.send("2")
            terminal.read_until(b"waiting for the database: locked by another process")
            terminal.send("q")
            terminal.read_until(b"not saved yet")
            terminal.send("Q")
            code = terminal.wait()
        finally:
            if terminal.process.poll() is None:
                terminal.kill()
    finally:
        holder.kill()
        holder.wait(timeout=10)
    output = terminal.output.decode(errors="replace")
    assert code == 3
    unsaved = "correctness = incorrect (score 0) on span r1"
    assert f"not saved (locked by another process): {unsaved}" in output
    assert "Traceback" not in output
    with sqlite3.connect(workdir / "app.db") as conn:
        assert conn.execute("SELECT count(*) FROM annotations").fetchone()[0] == 0
