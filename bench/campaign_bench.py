"""Campaign speed: `assign` of a 100k-span database to 5 annotators, and `resolve` on 100k
items with three votes each. Prints figures; asserts nothing.

  python bench/campaign_bench.py [DIR]
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from annotator.store import Store
from bench.team_bench import build

T = "2026-05-01T00:00:00.000000+00:00"


def timed(*args: str) -> str:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "annotator", *args], check=True, capture_output=True, text=True
    )
    print(f"{' '.join(a for a in args if '/' not in a):<78} {time.perf_counter() - started:6.2f} s")
    return done.stdout


def votes_db(path: Path, items: int) -> None:
    """`items` spans of the 100k-span database, each with three people's labels."""
    build(path)
    rng = random.Random(3)
    with Store.open(path) as store:
        conn = store.connection
        span_ids = [row[0] for row in conn.execute("SELECT span_id FROM spans LIMIT ?", (items,))]
        conn.execute("DELETE FROM annotations")  # a clean slate: only the votes below
        rows = []
        for span_id in span_ids:
            for who in ("alice", "bob", "carol"):
                label = "correct" if rng.random() < 0.7 else "incorrect"
                rows.append((span_id, label, who))
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO annotations (target, span_id, trace_id, name, label, annotator_kind, "
            "source, identifier, created_at, updated_at) VALUES ('span', ?, '', 'correctness', "
            f"?, 'HUMAN', 'APP', ?, '{T}', '{T}')",
            rows,
        )
        conn.execute("COMMIT")


def main() -> None:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())
    team = folder / "team.db"
    build(team)
    by_span = ["--db", str(team), "--annotators", "a1,a2,a3,a4,a5", "--per-item", "2"]
    by_span += ["--out", str(folder / "batches"), "--json"]
    report = json.loads(timed("assign", *by_span))
    print(f"  {report['selected']:,} items; batches of {[b['items'] for b in report['batches']]}")
    report = json.loads(
        timed(
            "assign",
            "--db",
            str(team),
            "--annotators",
            "b1,b2,b3,b4,b5",
            "--per-item",
            "2",
            "--target",
            "trace",
            "--out",
            str(folder / "trace-batches"),
            "--json",
        )
    )
    print(f"  {report['selected']:,} traces; batches of {[b['items'] for b in report['batches']]}")
    timed("assign", *by_span)  # again, the same: everything is handed out already
    votes = folder / "votes.db"
    votes_db(votes, 100_000)
    out = json.loads(timed("resolve", "--db", str(votes), "--strategy", "majority", "--json"))
    print(f"  decided {out['decided']:,}, needs review {out['needs_review_count']:,}")
    timed("resolve", "--db", str(votes), "--strategy", "majority", "--json")
    timed("stats", "--db", str(votes), "--json")


if __name__ == "__main__":
    main()
