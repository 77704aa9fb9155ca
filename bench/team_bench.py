"""Stats and dataset speed on a large team database: 100k spans, ~50k annotations from three
people, an LLM judge and code. Prints figures; asserts nothing.

  python bench/team_bench.py [DB]
"""

from __future__ import annotations

import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson

from annotator.model import Span
from annotator.store import Store
from tests.app_data import config_set


def build(path: Path) -> None:
    path.unlink(missing_ok=True)
    rng = random.Random(7)
    t0 = time.time()

    def ts(i, j):
        return f"2026-05-01T{(i // 3600) % 24:02d}:{(i // 60) % 60:02d}:{i % 60:02d}.{j:06d}+00:00"

    def spans():
        for i in range(20000):
            tid = f"t{i:06d}"
            sess = f"s{i // 4:05d}" if i % 2 else None
            yield Span(
                f"{tid}-0",
                tid,
                None,
                "pipeline",
                "CHAIN",
                ts(i, 0),
                ts(i, 9),
                "OK",
                attributes={
                    "input": {"value": f"question {i} " + "x" * 200},
                    "output": {"value": "answer " + "y" * 200},
                    **({"session": {"id": sess}} if sess else {}),
                },
                session_id=sess,
            )
            yield Span(
                f"{tid}-1",
                tid,
                f"{tid}-0",
                "retrieve",
                "RETRIEVER",
                ts(i, 1),
                ts(i, 2),
                "OK",
                attributes={
                    "input": {"value": "q"},
                    "retrieval": {
                        "documents": [
                            {"document": {"id": f"d{k}", "content": "c" * 100, "score": 0.5}}
                            for k in range(3)
                        ]
                    },
                },
            )
            yield Span(
                f"{tid}-2",
                tid,
                f"{tid}-0",
                "llm",
                "LLM",
                ts(i, 3),
                ts(i, 4),
                "OK",
                attributes={
                    "input": {"value": '{"a": 1}', "mime_type": "application/json"},
                    "llm": {
                        "input_messages": [
                            {"message": {"role": "user", "content": "hi " + "z" * 300}}
                        ],
                        "output_messages": [
                            {"message": {"role": "assistant", "content": "ok " + "w" * 300}}
                        ],
                    },
                },
            )
            yield Span(
                f"{tid}-3",
                tid,
                f"{tid}-0",
                "tool",
                "TOOL",
                ts(i, 5),
                ts(i, 6),
                "OK",
                attributes={"input": {"value": "t"}},
            )
            yield Span(
                f"{tid}-4",
                tid,
                f"{tid}-0",
                "llm2",
                "LLM",
                ts(i, 7),
                ts(i, 8),
                "OK",
                attributes={"output": {"value": "plain"}},
            )

    with Store.open(path) as st:
        w = st.span_writer()
        w.add_all(spans())
        w.close()
        st.save_config_document(config_set().to_document())
        print("spans", time.time() - t0)
        rows = []
        now = "2026-05-02T10:00:00.000000+00:00"
        labels = ["correct", "incorrect", "partial"]

        def add(target, sid, tid, pos, name, label, score, kind, ident, secs):
            rows.append(
                (
                    target,
                    sid,
                    tid,
                    None,
                    pos,
                    name,
                    label,
                    score,
                    None,
                    kind,
                    "APP",
                    ident,
                    orjson.dumps({"seconds_spent": secs} if secs is not None else {}).decode(),
                    now,
                    now,
                )
            )

        for i in range(10000):
            sid = f"t{i:06d}-2"
            tid = f"t{i:06d}"
            truth = rng.choice(labels)
            for who, p in (("alice", 0.8), ("bob", 0.7), ("carol", 0.6)):
                if who == "carol" and i % 3:
                    continue
                lab = truth if rng.random() < p else rng.choice(labels)
                add(
                    "span",
                    sid,
                    tid,
                    None,
                    "correctness",
                    lab,
                    None,
                    "HUMAN",
                    who,
                    round(rng.uniform(2, 40), 2),
                )
            add(
                "span",
                sid,
                tid,
                None,
                "correctness",
                truth if rng.random() < 0.75 else rng.choice(labels),
                None,
                "LLM",
                "judge-gpt4",
                None,
            )
        for i in range(5000):
            sid = f"t{i:06d}-4"
            tid = f"t{i:06d}"
            base = rng.randint(0, 10)
            for who in ("alice", "bob"):
                add(
                    "span",
                    sid,
                    tid,
                    None,
                    "quality",
                    None,
                    float(min(10, max(0, base + rng.randint(-1, 1)))),
                    "HUMAN",
                    who,
                    5.0,
                )
        for i in range(2000):
            sid = f"t{i:06d}-1"
            tid = f"t{i:06d}"
            for pos in range(3):
                add(
                    "document",
                    sid,
                    tid,
                    pos,
                    "relevance",
                    rng.choice(["relevant", "irrelevant"]),
                    None,
                    "HUMAN",
                    "alice",
                    1.0,
                )
        for i in range(1000):
            add(
                "trace",
                None,
                f"t{i:06d}",
                None,
                "task_success",
                rng.choice(["success", "failure"]),
                None,
                "HUMAN",
                "bob",
                3.0,
            )
        c = st.connection
        c.execute("BEGIN")
        c.executemany(
            "INSERT INTO annotations (target, span_id, trace_id, session_id, document_position, "
            "name, label, score, explanation, annotator_kind, source, identifier, metadata, "
            "created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )
        c.execute("COMMIT")
        print("annotations", len(rows), time.time() - t0)
        print(st.counts())


def timed(*args: str) -> None:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "annotator", *args], check=True, capture_output=True)
    print(f"{' '.join(args[:1] + args[3:]):<60} {time.perf_counter() - started:6.2f} s")


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()) / "team.db"
    build(path)
    out = path.parent
    timed("stats", "--db", str(path), "--json")
    timed("stats", "--db", str(path))
    timed("dataset", "--db", str(path), "--out", str(out / "all.jsonl"))
    timed("dataset", "--db", str(path), "--out", str(out / "all.csv"))
    timed(
        "dataset",
        "--db",
        str(path),
        "--out",
        str(out / "bad.jsonl"),
        "--label",
        "correctness=incorrect",
        "--agreed",
    )
    timed("export", "--db", str(path), "--format", "jsonl", "--out", str(out / "export.jsonl"))
    timed("export", "--db", str(path), "--format", "phoenix", "--out", str(out / "phoenix.json"))


if __name__ == "__main__":
    main()
