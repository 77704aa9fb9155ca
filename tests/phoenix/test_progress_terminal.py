"""`annotator pull` on a terminal: a progress bar with the count, a rate in spans/s and an ETA,
on stderr (a real pseudo-terminal; off a terminal the plain lines are tested in test_commands)."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

from tests.phoenix.helpers import REPO, PhoenixProject
from tests.phoenix.server import LocalPhoenix


def test_pull_on_a_terminal_shows_a_bar_with_rate_and_eta(
    phoenix_server: LocalPhoenix, shared_few: PhoenixProject, tmp_path: Path
) -> None:
    spans = shared_few.spans
    db = tmp_path / "a.db"
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHOENIX_")}
    env.update(COLUMNS="120", TERM="xterm-256color")
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.phoenix.cli", "pull", "--url", phoenix_server.url,
         "--project", shared_few.name, "--db", str(db)],
        cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave, env=env,
    )  # fmt: skip
    os.close(slave)
    stdout, _ = process.communicate(timeout=300)
    shown = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the process is gone and everything was read
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    assert process.returncode == 0, shown
    assert stdout.decode().startswith(f"Pulled {spans} new spans")
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown.decode("utf-8", "replace"))
    final = [line for line in text.splitlines() if line.strip().startswith("pull spans")][-1]
    assert re.fullmatch(
        rf"\s*pull spans\s+\S+\s+{spans}/{spans}\s+[\d,]+ spans/s\s+0:00:00\s*",
        final,
    ), final
    assert "pull spans:" not in text  # the plain lines are for pipes and files only
