"""How long the bounded work takes: rendering huge and hostile spans, the text helpers on
megabytes, an annotation file of 50,000 rows. Prints figures, asserts nothing.

    python bench/render_bench.py [--repeat 3]

The tests prove these cases are bounded (output size, no parse of what is too big, one commit
per file); how fast they run depends on the machine and what else it runs, so the figures live
here. Each line is the best of --repeat runs (wall clock), with the budget the tests used to
assert before they stopped timing (a figure far above it is a regression to look into).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rich.console import Console  # noqa: E402

from annotator.app.span_render import RenderOptions, render_span  # noqa: E402
from annotator.model import Span  # noqa: E402
from annotator.text import dump_json, json_preview, pretty_json, sanitize  # noqa: E402
from tests.test_span_render import hostile_span, make_span  # noqa: E402

FIVE_MB = 5 * 1024 * 1024
REFERENCE = REPO / "tests" / "data" / "readers" / "reference"


def _ansi(renderable: Any, width: int = 100) -> str:
    console = Console(width=width, file=io.StringIO(), color_system="truecolor")
    console.print(renderable)
    return console.file.getvalue()  # type: ignore[attr-defined]


def _render(span: Span, options: RenderOptions | None = None) -> Callable[[], object]:
    options = options or RenderOptions(show_raw=True, selected_document=0)
    return lambda: _ansi(render_span(span, options))


def _deep_objects() -> Span:
    deep: dict[str, Any] = {}
    cur = deep
    for _ in range(50_000):
        cur["k"] = {}
        cur = cur["k"]
    cyclic: dict[str, Any] = {"name": "loop"}
    cyclic["self"] = cyclic
    return make_span(
        {
            "metadata": deep,
            "llm": {"input_messages": [{"message": {"role": "user", "content": deep}}]},
            "retrieval": {"documents": [{"document": {"content": deep, "metadata": cyclic}}]},
            "other": deep,
            "loop": cyclic,
        }
    )


def _reference_spans() -> list[Span]:
    spans = []
    for path in sorted(REFERENCE.glob("*.legacy_spans.jsonl")):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            attributes = record.get("attributes") or {}
            spans.append(
                make_span(
                    attributes,
                    span_id=record["context"]["span_id"],
                    name=record["name"],
                    span_kind=record.get("span_kind") or "UNKNOWN",
                    status_code=record.get("status_code") or "UNSET",
                    status_message=record.get("status_message") or "",
                    events=record.get("events") or [],
                )
            )
    return spans


def _render_cases() -> list[tuple[str, Callable[[], object], float | None]]:
    text = "line of text\n" * (FIVE_MB // 13)
    big_json = json.dumps({"rows": ["x" * 100] * (FIVE_MB // 100)})
    multiline = make_span(
        {
            "input": {"value": text},
            "output": {"value": big_json, "mime_type": "application/json"},
            "llm": {"input_messages": [{"message": {"role": "user", "content": text}}]},
        }
    )
    messages = [
        {"message": {"role": "user" if i % 2 else "assistant", "content": f"message {i} " * 50}}
        for i in range(10_000)
    ]
    conversation = make_span({"llm": {"input_messages": messages}}, span_kind="LLM")
    attributes = make_span({f"custom.attr_{i:06d}": f"value {i}" for i in range(100_000)})
    reference = _reference_spans()

    def every_reference_span() -> None:
        for span in reference:
            _ansi(render_span(span))

    return [
        ("render: 5 MB in every field (raw view)", _render(hostile_span("A" * FIVE_MB)), 2.0),
        ("render: 5 MB of lines and of JSON", _render(multiline), 2.0),
        (
            "render: JSON string [ x100k ] x100k",
            _render(hostile_span("[" * 100_000 + "]" * 100_000)),
            2.0,
        ),
        ("render: JSON string [ x5 MB, unbalanced", _render(hostile_span("[" * FIVE_MB)), 2.0),
        (
            "render: JSON objects nested 100k deep",
            _render(hostile_span('{"a":' * 100_000 + "1" + "}" * 100_000)),
            2.0,
        ),
        ("render: dicts nested 50k deep, a cycle", _render(_deep_objects()), 2.0),
        ("render: 10,000 messages", _render(conversation, RenderOptions()), 1.0),
        ("render: 100,000 attributes", _render(attributes, RenderOptions()), 1.0),
        (f"render: {len(reference)} reference spans (all)", every_reference_span, None),
    ]


def _text_cases() -> list[tuple[str, Callable[[], object], float | None]]:
    clean = "lorem ipsum dolor\n" * 300_000
    refused = json.dumps({"k": "v" * 10_000_000})
    huge = json.dumps({"messages": [{"role": "user", "content": "x" * 100} for _ in range(60_000)]})
    big = {f"k{i}": "v" * 100 for i in range(100_000)}
    cases: list[tuple[str, Callable[[], object], float | None]] = [
        ("sanitize: 5 MB of clean text", lambda: sanitize(clean), 0.5),
        ("pretty_json: refuse 10 MB", lambda: pretty_json(refused, limit=1_000_000), 0.1),
        ("json_preview: 5 MB, lexical", lambda: json_preview(huge, 4000, 60), 0.1),
        ("dump_json: 100k keys into 5,000 chars", lambda: dump_json(big, 2, 5000), 0.1),
    ]
    for label, deep in (
        ("[ x100k ] x100k", "[" * 100_000 + "]" * 100_000),
        ("[ x1M unbalanced", "[" * 1_000_000),
        ('{"a": x50k', '{"a":' * 50_000),
    ):
        cases.append((f"json_preview: {label}", lambda deep=deep: json_preview(deep, 500, 20), 0.2))
    return cases


def _import_case(workdir: Path) -> list[tuple[str, Callable[[], object], float | None]]:
    from annotator.annotations_io import AnnotationImportOptions
    from annotator.importer import import_files
    from annotator.store import Store

    n = 50_000
    db = workdir / "big.db"
    with Store.open(db) as store:
        writer = store.span_writer()
        writer.add_all(Span(f"{i:016x}", f"{i // 10:032x}", None, "llm", "LLM") for i in range(n))
        writer.close()
    path = workdir / "evals.csv"
    with open(path, "w", newline="") as stream:
        out = csv.writer(stream)
        out.writerow(["context.span_id", "label", "score", "explanation"])
        for i in range(n):
            out.writerow([f"{i:016x}", "ok" if i % 3 else "bad", int(i % 3 != 0), "because"])

    def run() -> None:
        with Store.open(db) as store:
            import_files(store, [path], annotations=AnnotationImportOptions(name="quality"))

    # the first run writes 50,000 rows; the later ones find every row unchanged
    return [("import: 50,000 eval rows (then unchanged)", run, 30.0)]


def _time(fn: Callable[[], object], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cases = _render_cases() + _text_cases() + _import_case(Path(tmp))
        width = max(len(label) for label, _, _ in cases)
        for label, fn, budget in cases:
            times = _time(fn, args.repeat)
            was = f"   (tests asserted < {budget:g} s)" if budget else ""
            extra = f"  first {times[0] * 1000:,.0f} ms" if label.startswith("import") else ""
            print(f"{label:<{width}}  {min(times) * 1000:9,.1f} ms{extra}{was}", flush=True)


if __name__ == "__main__":
    main()
