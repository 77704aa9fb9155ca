"""Every command on hostile data: no terminal control character from a file ever reaches stdout
or stderr. Span ids, trace ids, span names, annotation names, labels, identifiers, config fields
and file names all carry an OSC 52 clipboard write, an OSC 0 title change, a bidi override and
isolate, and an 8-bit CSI. Each command runs as `python -m annotator` runs it, writing to real
pipes on file descriptors 1 and 2, so the whole output path is covered: click's own messages,
the one-line errors, Rich tables, JSON. The first runs in a process of its own, CSV on a terminal
in pseudo-terminals; the rest share one process (`tests/cli_worker.py`), which pays the
interpreter's start and the imports once."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from annotator.config import load_config
from annotator.store import Store
from tests.cli_worker import Worker

REPO = Path(__file__).resolve().parents[1]
EVIL = "\x1b]52;c;ZXZpbA==\x07\x1b]0;PWNED\x07\u202e\x9b31m\u2066"
SHOWN = "\\x1b]52;c;ZXZpbA"  # how the start of EVIL must appear: escaped, visible
# What no output may contain: C0 controls but TAB/LF, DEL, C1, bidi embeddings, overrides and
# isolates, zero-width and other invisible format characters.
UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\xad\u061c\u200b\u200e\u200f\u2028-\u202e\u2060-\u2064"
    "\u2066-\u206f\ufeff\U000e0000-\U000e007f]"
)
# YAML double-quoted escapes for the same characters (YAML refuses them raw).
EVIL_YAML = "\\e]52;c;ZXZpbA==\\a\\e]0;PWNED\\a\\u202e\\x9b31m\\u2066"


def _span(span_id: str, trace_id: str, parent: str | None, name: str) -> dict:
    return {
        "name": name,
        "context": {"trace_id": trace_id, "span_id": span_id},
        "span_kind": "LLM",
        "parent_id": parent,
        "start_time": "2025-05-05T05:05:05+00:00",
        "end_time": "2025-05-05T05:05:06+00:00",
        "status_code": "OK",
        "status_message": EVIL,
        "attributes": {"input.value": "question" + EVIL, "output.value": "answer" + EVIL},
        "events": [],
    }


def _annotation(span_id: str, who: str, label: str) -> dict:
    return {
        "span_id": span_id,
        "name": "q" + EVIL,
        "label": label,
        "explanation": "because" + EVIL,
        "annotator_kind": "HUMAN",
        "identifier": who,
    }


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("hostile")
    spans = [
        _span("r" + EVIL, "t" + EVIL, None, "root" + EVIL),
        _span("c" + EVIL, "t" + EVIL, "r" + EVIL, "child" + EVIL),
        _span("x1" + EVIL, "cycle" + EVIL, "x2" + EVIL, "loop"),  # a parent cycle: reported
        _span("x2" + EVIL, "cycle" + EVIL, "x1" + EVIL, "loop"),
    ]
    (work / "traces.json").write_text(json.dumps(spans))
    # The same span id under another trace: reported and skipped.
    (work / "dup.json").write_text(json.dumps([_span("r" + EVIL, "other" + EVIL, None, "d")]))
    records = [
        _annotation("r" + EVIL, "alice" + EVIL, "good" + EVIL),
        _annotation("c" + EVIL, "alice" + EVIL, "bad"),
        _annotation("r" + EVIL, "bob", "bad"),
        _annotation("c" + EVIL, "bob", "bad"),
        _annotation("nosuch" + EVIL, "bob", "bad"),  # "span id ... is not in the database"
    ]
    lines = "\n".join(json.dumps(r) for r in records) + "\n"
    (work / "annotations.jsonl").write_text(lines)
    other = [_annotation("r" + EVIL, "alice" + EVIL, "bad")]  # the same key, another label
    (work / "other.jsonl").write_text(json.dumps(other[0]) + "\n")
    config = f"""annotations:
  - name: "q{EVIL_YAML}"
    type: CATEGORICAL
    description: "d{EVIL_YAML}"
    values:
      - {{label: "good{EVIL_YAML}", score: 1}}
      - {{label: bad, score: 0}}
"""
    (work / "ok.yaml").write_text(config)
    (work / "bad.yaml").write_text(
        config + f'  - name: "q{EVIL_YAML}"\n    type: "CATEG{EVIL_YAML}"\n'
    )
    (work / "other.yaml").write_text(
        "annotations:\n  - {name: thumbs, type: CATEGORICAL, values: [up, down]}\n"
    )
    return work


def _env() -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"}
    env.pop("ANNOTATOR_DB", None)
    return env


def run(work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m annotator *args` in a process of its own."""
    return subprocess.run(
        [sys.executable, "-m", "annotator", *args],
        check=False,
        cwd=work,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=_env(),
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def worker(work: Path) -> Iterator[Worker]:
    """Commands run one after another in one process in `work` (tests/cli_worker.py), for
    every test here."""
    commands = Worker(work, _env())
    try:
        yield commands
    finally:
        commands.close()


def assert_clean(result: subprocess.CompletedProcess[str], *, shows_data: bool = True) -> None:
    command = " ".join(result.args[3:])
    assert "Traceback" not in result.stderr, (command, result.stderr)
    for name, text in (("stdout", result.stdout), ("stderr", result.stderr)):
        found = UNSAFE.search(text)
        assert found is None, (command, name, text[max(found.start() - 60, 0) : found.end() + 20])
    if shows_data:  # the hostile data did reach the output, escaped
        assert SHOWN in result.stdout + result.stderr, (command, result.stdout, result.stderr)


def test_every_command_escapes_hostile_data(work: Path, worker: Worker) -> None:
    cli = worker.run  # the commands after the first: one process (tests/cli_worker.py)
    # import: the span conflict, the parent cycle, the orphaned annotation, the file names.
    # (this one in a process of its own: `python -m annotator` from its start to its exit)
    result = run(work, "import", "traces.json", "dup.json", "annotations.jsonl", "--db", "h.db")
    assert result.returncode == 0, result.stderr
    assert_clean(result)
    assert "is not in the database" in result.stderr and "parent cycle" in result.stderr
    assert "already belongs to trace" in result.stderr
    assert_clean(cli("import", "nosuch" + EVIL + ".jsonl", "--db", "h.db"))
    for db in ("a.db", "b.db"):
        assert cli("import", "traces.json", "annotations.jsonl", "--db", db).returncode == 0
    assert cli("import", "other.jsonl", "--db", "b.db").returncode == 0

    # config check: the problems, and the configs of a good file.
    result = cli("config", "check", "bad.yaml")
    assert result.returncode == 2
    assert_clean(result)
    assert_clean(cli("config", "check", "ok.yaml"))

    # annotate without the app: a missing file; configs that would drop the stored ones.
    assert_clean(cli("annotate", "--db", "h.db", "nosuch" + EVIL + ".json"))
    with Store.open(work / "h.db") as store:
        store.save_config_document(load_config(work / "ok.yaml").to_document())
    result = cli("annotate", "--db", "h.db", "--config", "other.yaml")
    assert result.returncode == 2 and "--replace-configs" in result.stderr
    assert_clean(result)

    # merge: conflict lines, and the JSON report.
    result = cli("merge", "a.db", "b.db", "--into", "m.db")
    assert result.returncode == 0, result.stderr
    assert "Conflicts" in result.stdout
    assert_clean(result)
    result = cli("merge", "a.db", "b.db", "--into", "m2.db", "--json")
    assert_clean(result, shows_data=False)
    report = orjson.loads(result.stdout)
    assert report["conflicts"][0]["key"]["name"] == "q" + EVIL  # escaped, not lost

    # stats: headings, tables; the JSON escapes every such character and keeps it.
    result = cli("stats", "--db", "h.db")
    assert result.returncode == 0, result.stderr
    assert_clean(result)
    result = cli("stats", "--db", "h.db", "--json")
    assert_clean(result, shows_data=False)
    assert "\\u001b]52" in result.stdout and "\\u202e" in result.stdout
    assert ("q" + EVIL) in {c["name"] for c in orjson.loads(result.stdout)["configs"]}

    # export and dataset: their messages, and JSON data on stdout (escaped, not lost).
    assert_clean(cli("export", "--db", "h.db", "--out", "out.jsonl"), shows_data=False)
    result = cli("export", "--db", "h.db", "--name", "nope" + EVIL, "--out", "o.jsonl")
    assert_clean(result, shows_data=False)
    result = cli("dataset", "--db", "h.db", "--out", "d.jsonl", "--label", f"x{EVIL}=y")
    assert_clean(result)
    for args in (["export"], ["export", "--format", "phoenix"], ["dataset", "--out", "-"]):
        result = cli(*args, "--db", "h.db")
        assert result.returncode == 0, result.stderr
        assert_clean(result, shows_data=False)
        assert "\\u001b]52" in result.stdout
    lines = cli("export", "--db", "h.db").stdout.splitlines()
    assert {orjson.loads(line)["name"] for line in lines} == {"q" + EVIL}

    # demo: --reset would delete hostile annotators' work: it says so, escaped.
    result = cli("demo", "--db", "h.db", "--reset")
    assert result.returncode == 2 and "--yes" in result.stderr
    assert_clean(result)

    for command in ("import", "annotate", "config", "merge", "stats", "export", "dataset", "demo"):
        assert_clean(cli(command, "--help"), shows_data=False)


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pty")
def test_csv_on_a_terminal_is_sanitised_and_exact_down_a_pipe(work: Path, worker: Worker) -> None:
    """CSV has no escapes: on a terminal it is shown sanitised; down a pipe it is the data.
    The terminal is a process of its own; the pipe is the worker's stdout."""
    from tests.test_app_process import Terminal

    imported = worker.run("import", "traces.json", "annotations.jsonl", "--db", "c.db")
    assert imported.returncode == 0
    for args in (["export", "--format", "csv"], ["dataset", "--format", "csv", "--out", "-"]):
        terminal = Terminal([sys.executable, "-m", "annotator", *args, "--db", "c.db"], cwd=work)
        try:
            terminal.read_until(b"to stdout.")
            assert terminal.process.wait(timeout=30) == 0
        finally:
            if terminal.process.poll() is None:
                terminal.kill()
        assert b"\x1b" not in terminal.output and b"\xc2\x9b" not in terminal.output
        assert SHOWN.encode() in terminal.output
        piped = worker.run(*args, "--db", "c.db")
        assert EVIL in piped.stdout  # exact: a CSV reader gets the value as it was
