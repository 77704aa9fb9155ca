"""Phoenix sync speed against a real local Phoenix (started here on loopback, stopped at the end):
pull 10k spans, push 10k annotations, and the same again (nothing new), with the share of the
time spent waiting for Phoenix. Prints figures; asserts nothing.

    python bench/phoenix_bench.py [N_SPANS]      # needs pip install -e '.[test]'
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from annotator.model import Annotation
from annotator.phoenix import connect, local_server, pull
from annotator.phoenix.otlp import send_otlp_file, wait_for_spans
from annotator.phoenix.pushing import push
from annotator.store import Store, import_annotations
from bench.synth import clone_samples

REPO = Path(__file__).resolve().parents[1]
PROJECT = "bench"
T = TypeVar("T")


def one_project(path: Path, project: str) -> None:
    """Every request of the file in one project (the samples name three)."""
    out = []
    for raw in path.read_bytes().splitlines():
        request = orjson.loads(raw)
        for resource in request.get("resourceSpans", ()):
            attributes = resource.setdefault("resource", {}).setdefault("attributes", [])
            attributes[:] = [a for a in attributes if a.get("key") != "openinference.project.name"]
            attributes.append(
                {"key": "openinference.project.name", "value": {"stringValue": project}}
            )
        out.append(orjson.dumps(request))
    path.write_bytes(b"\n".join(out) + b"\n")


def line(what: str, seconds: float, count: int, unit: str, phoenix: float | None = None) -> None:
    rate = f"{count / seconds:,.0f} {unit}/s" if seconds > 0 and count else "-"
    share = f", {100 * phoenix / seconds:.0f}% waiting for Phoenix" if phoenix is not None else ""
    print(f"{what:<44} {seconds:7.2f} s  {count:>7,} {unit:<12} {rate}{share}")


def measured(
    client: Any, what: str, unit: str, run: Callable[[], T], count: Callable[[T], int]
) -> T:
    """`run()`, with a line of what it took and how much of it was Phoenix's."""
    before = client.phoenix_seconds
    started = time.perf_counter()
    result = run()
    line(what, time.perf_counter() - started, count(result), unit, client.phoenix_seconds - before)
    return result


def command(*args: str) -> tuple[float, str]:
    """One `annotator` command in a process of its own: (wall seconds, its stdout)."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "annotator", *args],
        cwd=REPO, capture_output=True, text=True, check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("PHOENIX_")},
    )  # fmt: skip
    if done.returncode:
        raise SystemExit(f"annotator {' '.join(args)}: exit {done.returncode}: {done.stderr}")
    return time.perf_counter() - started, done.stdout


def commands(url: str, project: str, work: Path) -> None:
    """The same through the commands, as a user runs them (wall time includes starting Python
    and importing Phoenix's client; the figure in brackets is the command's own)."""
    startup, _ = command("push", "--help")
    print(f"{'python -m annotator push --help (startup)':<44} {startup:7.2f} s")
    db = str(work / "commands.db")
    for what, args in (
        ("annotator pull", ("pull", "--url", url, "--project", project, "--db", db)),
        ("annotator pull (again)", ("pull", "--url", url, "--project", project, "--db", db)),
        ("annotator push (nothing new: pulled)", ("push", "--url", url, "--db", db)),
    ):
        seconds, out = command(*args)
        own = re.search(r" in ([0-9.]+)s", out)
        print(f"{what:<44} {seconds:7.2f} s  (the command's own: {own[1] if own else '?'} s)")


def main() -> None:
    n_spans = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    with tempfile.TemporaryDirectory(prefix="phoenix-bench-") as tmp:
        work = Path(tmp)
        server = local_server.start(work / "phoenix")
        try:
            print(f"Phoenix {server.url}: up in {server.startup_seconds:.1f}s")
            with connect(server.url) as client:
                traces = work / "traces.jsonl"
                clone_samples(n_spans, traces)
                one_project(traces, PROJECT)
                started = time.perf_counter()
                sent = send_otlp_file(client, traces)
                wait_for_spans(client, PROJECT, sent, timeout=600)
                line(
                    "send OTLP, wait for Phoenix to ingest",
                    time.perf_counter() - started,
                    sent,
                    "spans",
                )
                project = PROJECT

                db = Store.open(work / "pulled.db")
                for what in (f"pull {project}", "pull again (nothing new)"):
                    measured(
                        client,
                        what,
                        "spans",
                        lambda: pull(db, client, project),
                        lambda report: report.spans_new,
                    )

                span_ids = [
                    r[0]
                    for r in db.connection.execute(
                        "SELECT span_id FROM spans WHERE project = ?", (project,)
                    )
                ]
                labels = ("good", "bad")
                import_annotations(
                    db.connection,
                    (
                        Annotation(
                            name="bench_quality",
                            span_id=s,
                            label=labels[i % 2],
                            score=float(i % 2),
                            identifier="bench",
                        )
                        for i, s in enumerate(span_ids)
                    ),
                    actor="bench",
                )
                measured(
                    client,
                    "push annotations (sync=true, batches of 500)",
                    "annotations",
                    lambda: push(db, client, project=project),
                    lambda report: report.total_sent,
                )
                measured(
                    client,
                    "push again (nothing new)",
                    "unchanged",
                    lambda: push(db, client, project=project),
                    lambda report: report.unchanged,
                )

                fresh = Store.open(work / "fresh.db")
                measured(
                    client,
                    "pull spans + annotations into a fresh db",
                    "annotations",
                    lambda: pull(fresh, client, project),
                    lambda report: report.annotations_new,
                )
                db.close()
                fresh.close()
                commands(server.url, project, work)
        finally:
            local_server.stop(server.pid)


if __name__ == "__main__":
    main()
