"""Where the test suite's time goes: prints figures, asserts nothing (machines are noisy).

  python bench/suite_bench.py [pytest arguments, default: -n auto]

Runs the suite with a small plugin (this module, loaded with `-p bench.suite_bench`) that
records, in every pytest process, the CPU time (user + system) of each test in the process
itself and in the subprocesses it waited for, what the process spent before its first test
(imports, collection), and, in the controller, the CPU of the real Phoenix server the Phoenix
tests share. Then prints the wall time, the CPU in all and by part, and the files and tests
that cost the most. The suite is CPU-bound on 2 cores: the CPU in all, divided by the cores, is
about the least wall time the run can take.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
OUT_ENV = "ANNOTATOR_SUITE_BENCH_DIR"


# --- the plugin (runs inside every pytest process) ------------------------------------------


def _cpu() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF)
    waited = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, waited.ru_utime + waited.ru_stime


def _process_cpu(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


_rows: list[tuple[str, float, float, float, float]] = []
_first_test: list[tuple[float, float]] = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    before = _cpu()
    if not _first_test:
        _first_test.append(before)
    began = time.time()
    yield
    after = _cpu()
    _rows.append((item.nodeid, after[0] - before[0], after[1] - before[1], began, time.time()))


def pytest_sessionfinish(session: pytest.Session) -> None:
    directory = os.environ.get(OUT_ENV)
    if not directory:
        return
    name = os.environ.get("PYTEST_XDIST_WORKER", "controller")
    phoenix = None
    run_dir = os.environ.get("ANNOTATOR_TEST_PHOENIX_RUN_DIR")
    if name == "controller" and run_dir:  # before the controller stops the server
        state = Path(run_dir) / "server.json"
        if state.exists():
            phoenix = _process_cpu(json.loads(state.read_text())["pid"])
    record = {
        "rows": _rows,
        "start": list(_first_test[0]) if _first_test else None,
        "end": list(_cpu()),
        "phoenix": phoenix,
    }
    (Path(directory) / f"{name}.json").write_text(json.dumps(record))


# --- the script ------------------------------------------------------------------------------


def main(args: list[str]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        env = {**os.environ, OUT_ENV: directory}
        command = [sys.executable, "-m", "pytest", "-q", "-p", "bench.suite_bench"]
        command += args or ["-n", "auto"]
        started = time.perf_counter()
        epoch = time.time()
        result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - started
        records = {p.stem: json.loads(p.read_text()) for p in Path(directory).glob("*.json")}
    print(result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr)
    workers = {name: r for name, r in records.items() if name != "controller"}
    own = sum(r["end"][0] for r in workers.values())
    waited = sum(r["end"][1] for r in workers.values())
    before_tests = sum(r["start"][0] for r in workers.values() if r["start"])
    phoenix = records.get("controller", {}).get("phoenix") or 0.0
    controller = records.get("controller", {}).get("end", [0.0])[0]
    # The server is counted apart: whether a process reaped it (and so counts it among what it
    # waited for) depends on who started it and how it ended.
    every = controller + own + waited + phoenix
    print(f"wall {wall:.1f} s; CPU in all {every:.1f} s:")
    print(f"  {len(workers)} workers' own {own:.1f} (before their first test {before_tests:.1f})")
    print(f"  their subprocesses {waited:.1f}")
    print(f"  the Phoenix server {phoenix:.1f}")
    print(f"  the controller {controller:.1f}")
    rows = [row for r in workers.values() for row in r["rows"]] or records.get(
        "controller", {}
    ).get("rows", [])
    by_file: Counter[str] = Counter()
    for nodeid, own_cpu, waited_cpu, *_ in rows:
        by_file[nodeid.split("::")[0]] += own_cpu + waited_cpu
    print("\nCPU-s by file (own + subprocesses):")
    for path, cpu in by_file.most_common(15):
        print(f"  {cpu:6.1f}  {path}")
    print("\nCPU-s by test:")
    for nodeid, own_cpu, waited_cpu, *_ in sorted(rows, key=lambda r: -(r[1] + r[2]))[:15]:
        print(f"  {own_cpu + waited_cpu:6.2f}  {nodeid[:110]}")
    print("\nTests that wait the most (wall - CPU, seconds; the cores may idle meanwhile):")
    waits = sorted(rows, key=lambda r: -((r[4] - r[3]) - r[1] - r[2]))[:10]
    for nodeid, own_cpu, waited_cpu, began, ended in waits:
        print(f"  {ended - began - own_cpu - waited_cpu:6.2f}  {nodeid[:110]}")
    _print_timeline(workers, epoch)


def _print_timeline(workers: dict[str, Any], epoch: float) -> None:
    """When each worker ran its tests, and its Phoenix tests (one xdist group, one worker): the
    run cannot end before the last worker does, so a worker that ends late is the critical path
    whatever the CPU in all."""
    print("\nWorkers (seconds since the run began):")
    for name, record in sorted(workers.items()):
        rows = record["rows"]
        if not rows:
            continue
        first, last = rows[0][3] - epoch, rows[-1][4] - epoch
        line = f"  {name}: {len(rows)} tests, {first:5.1f} to {last:5.1f}"
        phoenix = [row for row in rows if row[0].startswith("tests/phoenix/")]
        if phoenix:
            busy = sum(row[4] - row[3] for row in phoenix)
            line += (
                f"; {len(phoenix)} Phoenix tests {phoenix[0][3] - epoch:.1f} to "
                f"{phoenix[-1][4] - epoch:.1f} ({busy:.1f} s in them)"
            )
        print(line)


if __name__ == "__main__":
    main(sys.argv[1:])
