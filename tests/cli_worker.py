"""Many `annotator` commands in one real process, each as `python -m annotator` runs it.

`python -m tests.cli_worker` reads one JSON request a line on stdin (the arguments, and the
directory to run in) and, for each, runs `annotator.cli.main()` (what `python -m annotator`
runs) with those arguments in that directory, stdin on /dev/null and stdout and stderr on fresh
pipes (file descriptors 1 and 2, so Python's own streams, click and Rich write where they would
in a process of their own), then answers one JSON line: the exit code and the bytes written. A
test whose subject is what commands print or leave behind (not how a process starts or ends)
pays the interpreter's start and the imports (~0.25 s) once instead of once a command;
`Worker.run` returns what `subprocess.run` would have.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import subprocess
import sys
import threading
import traceback
from pathlib import Path
from typing import Any

TIMEOUT = 120  # seconds for one command, as the tests' subprocess.run calls allow


def _drain(fd: int, into: list[bytes]) -> None:
    while chunk := os.read(fd, 65536):
        into.append(chunk)
    os.close(fd)


def _run_one(args: list[str]) -> dict[str, Any]:
    from annotator.cli import main

    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    captured: list[list[bytes]] = [[], []]
    readers = []
    for fd, into in zip((1, 2), captured, strict=True):
        read_end, write_end = os.pipe()
        os.dup2(write_end, fd)
        os.close(write_end)
        reader = threading.Thread(target=_drain, args=(read_end, into), daemon=True)
        reader.start()
        readers.append(reader)
    sys.argv = ["annotator", *args]
    code = 0
    try:
        main()
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    except BaseException:  # what a process of its own would print before dying
        sys.stderr.write(traceback.format_exc())
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError):
                stream.flush()
        for fd, old in zip((1, 2), saved, strict=True):
            os.dup2(old, fd)  # closes the pipe's last write end: the reader sees its end
            os.close(old)
        for reader in readers:
            reader.join()
    return {
        "code": code,
        "stdout": base64.b64encode(b"".join(captured[0])).decode(),
        "stderr": base64.b64encode(b"".join(captured[1])).decode(),
    }


def serve() -> None:
    requests = os.fdopen(os.dup(0), "r", encoding="utf-8")
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    for line in requests:
        request = json.loads(line)
        os.chdir(request["cwd"])
        replies.write(json.dumps(_run_one(request["args"])) + "\n")
        replies.flush()


class Worker:
    """One `python -m tests.cli_worker` process with `env`; commands run in `cwd` unless told."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.cwd = cwd
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.cli_worker"],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )

    def run(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        """Run `annotator *args` in `cwd` (default: the worker's); stdout and stderr decoded as
        `subprocess.run(text=True, encoding="utf-8")` would (strictly, but with no newline
        translation: a lone CR stays there to be seen)."""
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None
        request = {"args": list(args), "cwd": str(cwd if cwd is not None else self.cwd)}
        stdin.write(json.dumps(request) + "\n")
        stdin.flush()
        # one request at a time, its reply one flushed line: nothing is left in the buffer
        if not select.select([stdout], [], [], TIMEOUT)[0]:
            self.process.kill()
            raise TimeoutError(f"annotator {' '.join(args)!r}: no answer in {TIMEOUT} s")
        line = stdout.readline()
        if not line:
            raise RuntimeError(f"the command worker died (exit {self.process.wait(timeout=30)})")
        reply = json.loads(line)
        return subprocess.CompletedProcess(
            [sys.executable, "-m", "annotator", *args],
            reply["code"],
            base64.b64decode(reply["stdout"]).decode("utf-8"),
            base64.b64decode(reply["stderr"]).decode("utf-8"),
        )

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


if __name__ == "__main__":
    serve()
