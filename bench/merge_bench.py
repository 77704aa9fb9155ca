"""Merge speed: three annotator files of 100k spans and 50k annotations each (10k keys shared
with different labels and times), merged into a new file, merged again (a no-op), dry-run, and
in the other order. Prints figures; asserts nothing.  python bench/merge_bench.py [DIR]"""

from __future__ import annotations

import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from annotator.model import Span
from annotator.store import Store
from annotator.team.merge import merge_databases

N_SPANS, N_ANNOTATIONS, SHARED = 100_000, 50_000, 10_000


def spans():
    for t in range(N_SPANS // 10):
        for i in range(10):
            at = f"2026-01-01T00:{t % 60:02d}:{i:02d}"
            yield Span(
                f"s{t}-{i}",
                f"t{t}",
                None if i == 0 else f"s{t}-0",
                "step",
                "LLM",
                f"{at}.000000+00:00",
                f"{at}.500000+00:00",
                "OK",
                attributes={
                    "input": {"value": "question " * 20},
                    "output": {"value": "answer " * 30},
                },
            )


def build(path: Path, seed: int) -> Path:
    rng = random.Random(seed)
    with Store.open(path) as store:
        writer = store.span_writer()
        writer.add_all(spans())
        writer.close()
        rows = []
        for k in range(N_ANNOTATIONS):
            shared = k < SHARED
            label = rng.choice(["correct", "incorrect"]) if shared else "correct"
            at = f"2026-02-01T00:00:{rng.randrange(60):02d}.000000+00:00"
            rows.append(
                (
                    "span",
                    f"s{k // 5}-{k % 5}",
                    f"t{k // 50}",
                    "correctness",
                    label,
                    1.0,
                    "HUMAN",
                    "APP",
                    "shared" if shared else path.stem,
                    "{}",
                    at,
                    at,
                )
            )
        conn = store.connection
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO annotations (target, span_id, trace_id, name, label, score, "
            "annotator_kind, source, identifier, metadata, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        conn.execute("COMMIT")
    return path


def content(path: Path) -> set[tuple]:
    conn = sqlite3.connect(path)
    try:
        return set(
            conn.execute(
                "SELECT target, span_id, name, identifier, label, updated_at FROM annotations"
            )
        )
    finally:
        conn.close()


def timed(label: str, *args, **kwargs):
    wall, cpu = time.perf_counter(), time.process_time()
    report = merge_databases(*args, **kwargs)
    totals = report.to_dict()["totals"]
    print(
        f"{label:<32} {time.perf_counter() - wall:6.2f} s wall "
        f"{time.process_time() - cpu:6.2f} s CPU"
        f"  new {totals['annotations_new']:,} updated {totals['annotations_updated']:,}"
        f" unchanged {totals['annotations_unchanged']:,} conflicts {totals['conflicts']:,}"
    )
    return report


def main() -> None:
    folder = (
        Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="merge-bench-"))
    )
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    inputs = [build(folder / f"{name}.db", seed) for seed, name in enumerate(("a", "b", "c"))]
    print(f"built 3 inputs in {time.perf_counter() - started:.1f} s in {folder}")
    out, other = folder / "out.db", folder / "out-reversed.db"
    timed("merge a b c -> new", inputs, out)
    timed("merge a b c again (no-op)", inputs, out)
    timed("dry run a b c", inputs, out, dry_run=True)
    timed("merge c b a -> new", inputs[::-1], other)
    print("same annotations in both orders:", content(out) == content(other))


if __name__ == "__main__":
    main()
