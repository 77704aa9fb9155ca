"""A real Phoenix server on loopback, for the test suite and the benchmarks.

Phoenix (``pip install 'annotator[test]'`` brings the pinned ``arize-phoenix``) is started in a
process of its own with a fresh working directory, free ports, telemetry, external resources,
the MCP server and the agent assistant off, and EVERY listener on 127.0.0.1: ``PHOENIX_HOST``
binds only the HTTP server, while the OTLP gRPC receiver calls ``add_insecure_port("[::]:PORT")``
(all interfaces). The launcher below wraps grpc's ``add_insecure_port`` / ``add_secure_port``
before Phoenix is imported so that ``[::]:PORT`` becomes ``127.0.0.1:PORT``; nothing on disk
changes.

The launcher also watches an owner process (the pytest controller): when the owner is gone, the
server stops itself, so a killed test run leaves no server behind. `stop` ends it by its PID,
after checking that the PID is still this launcher (PIDs are reused).

No Textual, no httpx: only the standard library, so this module imports anywhere.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

# Marks the launcher's command line: `stop` refuses to signal a PID that does not carry it.
MARKER = "annotator-local-phoenix"

_LAUNCHER = f"""
# {MARKER}
import gc, os, sys, threading, time

# Importing Phoenix and building its app make millions of objects that live as long as the
# server: the cyclic collector, run again and again while they are made, found nothing to free
# in them (2.1 of 9.4 CPU-s of a start). Off until uvicorn has started the server (the app
# built, its lifespan run, its sockets bound): then they are frozen (never scanned again) and
# it is on as usual for everything the server does. (Turned on before the app was built, it
# cost ~0.9 CPU-s more to start, and every full collection later scanned what was built.)
gc.disable()

import uvicorn.server as _uvicorn_server
_startup = _uvicorn_server.Server.startup

async def _started(self, *args, **kwargs):
    await _startup(self, *args, **kwargs)
    gc.freeze()
    gc.enable()

_uvicorn_server.Server.startup = _started

def _loopback(address):
    if address.startswith("[::]:"):
        return "127.0.0.1:" + address[len("[::]:"):]
    return address

import grpc.aio._server as _aio_server
_insecure = _aio_server.Server.add_insecure_port
_secure = _aio_server.Server.add_secure_port
_aio_server.Server.add_insecure_port = lambda self, address: _insecure(self, _loopback(address))
_aio_server.Server.add_secure_port = (
    lambda self, address, credentials: _secure(self, _loopback(address), credentials)
)

_owner = int(os.environ.get("ANNOTATOR_PHOENIX_OWNER_PID") or 0)

def _watch_owner():
    while True:
        time.sleep(1.0)
        try:
            os.kill(_owner, 0)
        except ProcessLookupError:
            os.kill(os.getpid(), 15)
            return
        except PermissionError:
            pass

if _owner:
    threading.Thread(target=_watch_owner, daemon=True).start()

from phoenix.server.main import main
sys.argv = ["phoenix", "serve"]
main()
"""


class LocalPhoenixError(RuntimeError):
    """The server did not start (the message ends with the tail of its log)."""


@dataclass(frozen=True)
class LocalPhoenix:
    pid: int
    url: str  # http://127.0.0.1:PORT
    port: int
    grpc_port: int
    working_dir: str
    log: str
    startup_seconds: float

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> LocalPhoenix:
        return cls(**json.loads(text))


def free_port() -> int:
    """A port nothing listens on now (the OS's choice), on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def healthy(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def start(
    working_dir: Path,
    *,
    owner_pid: int | None = None,
    python: str = sys.executable,
    timeout: float = 120.0,
    env: dict[str, str] | None = None,
    template: Path | None = None,
) -> LocalPhoenix:
    """Start Phoenix with `working_dir` as its home (SQLite there) and wait for ``/healthz``.

    `owner_pid`: the server ends itself when that process is gone. `env`: extra variables (e.g.
    ``PHOENIX_ENABLE_AUTH``). `template`: a database file to start from (see `_from_template`).
    Raises LocalPhoenixError when it does not come up in `timeout`."""
    if template is not None:
        return _from_template(working_dir, template, owner_pid, python, timeout, env)
    working_dir.mkdir(parents=True, exist_ok=True)
    port, grpc_port = free_port(), free_port()
    while grpc_port == port:
        grpc_port = free_port()
    environment = {
        key: value
        for key, value in os.environ.items()
        # Whoever runs the tests may have their own Phoenix configured: never inherit it. Nor a
        # bytecode cache prefix (the test suite sets one, tests/bytecode_cache.py): with one,
        # Python ignores the bytecode pip compiled into Phoenix's installed __pycache__ and
        # compiles the whole server again into the prefix, 17.6 CPU-s to start where it takes 9.
        if not key.startswith(("PHOENIX_", "OTEL_")) and key != "PYTHONPYCACHEPREFIX"
    }
    environment.update(
        {
            "PHOENIX_WORKING_DIR": str(working_dir),
            "PHOENIX_HOST": "127.0.0.1",
            "PHOENIX_PORT": str(port),
            "PHOENIX_GRPC_PORT": str(grpc_port),
            "PHOENIX_TELEMETRY_ENABLED": "false",
            "PHOENIX_ALLOW_EXTERNAL_RESOURCES": "false",
            # Features nothing here uses, off as a deployment may have them: the MCP server at
            # /mcp (built from the OpenAPI document at start: ~1.2 of its ~11.5 CPU-s) and
            # the agent assistant's routes.
            "PHOENIX_ENABLE_MCP_SERVER": "false",
            "PHOENIX_DISABLE_AGENT_ASSISTANT": "true",
            "ANNOTATOR_PHOENIX_OWNER_PID": str(owner_pid or 0),
        }
    )
    environment.update(env or {})
    log = working_dir / "phoenix.log"
    started = time.perf_counter()
    with open(log, "wb") as stream:
        process = subprocess.Popen(
            [python, "-c", _LAUNCHER],
            cwd=working_dir,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=stream,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C in the terminal reaches pytest, not the server
        )
    url = f"http://127.0.0.1:{port}"
    deadline = started + timeout
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise LocalPhoenixError(
                f"Phoenix exited with code {process.returncode} while starting: {_tail(log)}"
            )
        if healthy(url, timeout=1.0):
            return LocalPhoenix(
                pid=process.pid,
                url=url,
                port=port,
                grpc_port=grpc_port,
                working_dir=str(working_dir),
                log=str(log),
                startup_seconds=time.perf_counter() - started,
            )
        time.sleep(0.2)
    stop(process.pid)
    raise LocalPhoenixError(f"Phoenix did not answer /healthz within {timeout:.0f}s: {_tail(log)}")


DATABASE = "phoenix.db"  # where Phoenix keeps its SQLite database in its working directory


def _from_template(
    working_dir: Path,
    template: Path,
    owner_pid: int | None,
    python: str,
    timeout: float,
    env: dict[str, str] | None,
) -> LocalPhoenix:
    """Start from a copy of `template`, the database of a server of the same Phoenix just after
    its start: a fresh database costs Phoenix its migrations (~1.5 of its ~8 CPU-s to start),
    an up-to-date one a look at its version (Phoenix started again on its own database, as any
    deployment is). Without the template (the first run), or when Phoenix does not start from
    it, Phoenix starts on a fresh database and the template is made from that: copied with
    SQLite's backup (consistent while the server runs, write-ahead log included) right after
    the start, before anything is sent, into a temporary file renamed into place, so a run
    beside this one reads the old template or the new, never half of one. Key the template's
    name by Phoenix's version: another version migrates differently."""
    if template.is_file():
        working_dir.mkdir(parents=True, exist_ok=True)
        (working_dir / DATABASE).unlink(missing_ok=True)
        try:
            shutil.copyfile(template, working_dir / DATABASE)
            return start(working_dir, owner_pid=owner_pid, python=python, timeout=timeout, env=env)
        except (OSError, LocalPhoenixError):
            template.unlink(missing_ok=True)  # unreadable or not Phoenix's: made again below
            shutil.rmtree(working_dir, ignore_errors=True)
    server = start(working_dir, owner_pid=owner_pid, python=python, timeout=timeout, env=env)
    partial = template.with_name(f"{template.name}.{os.getpid()}.partial")
    try:
        template.parent.mkdir(parents=True, exist_ok=True)
        with (
            contextlib.closing(sqlite3.connect(working_dir / DATABASE)) as source,
            contextlib.closing(sqlite3.connect(partial)) as copy,
        ):
            source.backup(copy)
        os.replace(partial, template)
    except (OSError, sqlite3.Error):
        partial.unlink(missing_ok=True)  # no template this time: the next run makes it
    return server


def is_ours(pid: int) -> bool:
    """Whether `pid` is a running launcher of this module (not a reused PID)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return MARKER.encode() in cmdline


def stop(pid: int, *, timeout: float = 20.0) -> bool:
    """SIGTERM the server (SIGKILL after `timeout`) and reap it. False: it was not running."""
    if not is_ours(pid):
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return True
    while _alive(pid):
        time.sleep(0.05)
    return True


def _alive(pid: int) -> bool:
    try:
        # Our own child: reap it (else it stays a zombie and looks alive).
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:
        pass  # someone else's child (another xdist worker started it): just look
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _tail(log: Path, lines: int = 15) -> str:
    try:
        text = log.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return "(no log)"
    return " | ".join(line.strip() for line in text if line.strip())
