"""Import throughput and memory against the JSON parse floor: prints figures, asserts nothing.

  python bench/import_bench.py [--sizes 25000,50000,100000]

For each size N: an OTLP JSONL file of N spans cloned from the bundled samples with fresh ids
(bench/synth.py), then, each in a fresh process (so that peak RSS is that step's own):
  parse   orjson.loads of every line (the floor: orjson is the JSON library annotator uses)
  json    the standard library's json.loads of every line, for scale
  read    the reader alone (every span built, nothing stored)
  import  `annotator import` into a new database (read + store + trace summaries)
It prints spans/s, each step's ratio to the floor, and peak RSS: memory must stay flat as N grows.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.synth import clone_samples

_STEP = r"""
import json, resource, sys, time
from pathlib import Path
step, path, db = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
started = time.perf_counter()
if step in ("parse", "parse_stdlib"):
    if step == "parse":
        from orjson import loads
    else:
        from json import loads
    with open(path, "rb") as stream:
        for line in stream:
            loads(line)
elif step == "read":
    from annotator.readers import read_spans
    for _ in read_spans(path):
        pass
else:
    from annotator.importer import import_files
    from annotator.store import Store
    with Store.open(db) as store:
        report = import_files(store, [path])
    assert not report.problems and not report.rejected_files, report.problems[:3]
seconds = time.perf_counter() - started
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_rss_mb": rss}))
"""


def run_step(step: str, path: Path, db: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", _STEP, step, str(path), str(db)],
        check=True,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="25000,50000,100000")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="annotator-import-bench-"))
    print(
        f"{'spans':>8} {'MB':>6} | {'parse s':>7} {'json s':>7} {'read s':>7} {'import s':>8} | "
        f"{'import spans/s':>14} | {'read/parse':>10} {'import/parse':>12} {'import/json':>11} | "
        f"{'RSS parse':>9} {'read':>6} {'import':>6}"
    )
    for size in (int(s) for s in args.sizes.split(",")):
        path = work / f"{size}.jsonl"
        spans = clone_samples(size, path)
        megabytes = path.stat().st_size / 1e6
        results = {}
        for step in ("parse", "parse_stdlib", "read", "import"):
            db = work / f"{size}-{step}.db"
            results[step] = run_step(step, path, db)
        parse, stdlib, read, imp = (
            results[s]["seconds"] for s in ("parse", "parse_stdlib", "read", "import")
        )
        print(
            f"{spans:>8} {megabytes:>6.0f} | {parse:>7.2f} {stdlib:>7.2f} {read:>7.2f} "
            f"{imp:>8.2f} | {spans / imp:>14,.0f} | {read / parse:>10.1f} {imp / parse:>12.1f} "
            f"{imp / stdlib:>11.1f} | "
            f"{results['parse']['peak_rss_mb']:>9.0f} "
            f"{results['read']['peak_rss_mb']:>6.0f} {results['import']['peak_rss_mb']:>6.0f}"
        )
        path.unlink()


if __name__ == "__main__":
    main()
