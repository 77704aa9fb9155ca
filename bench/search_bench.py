"""Full-text search on 100k spans: what the index costs on import (time, database size) and how
long a search takes. Prints figures; asserts nothing.

  python bench/search_bench.py [--spans 100000] [--runs 5]

The bundled samples are cloned to the requested size (bench/synth.py) and imported twice with
`annotator import`'s code: once as shipped (the search index filled by its triggers), once with
the triggers dropped (no index). Each search is the app's own query (`QueueFilter(text=...)`:
the spans matching, counted, and the traces holding them, listed), run `--runs` times on a warm
connection: counting the matching spans, and listing the traces that hold one (the tree's
query, with the bundled default config); medians, with the number of matches.

Then what `/` does as you type and on enter, with the same config: the search box's live count
(`Store.count_matches`, which stops at SEARCH_COUNT_LIMIT), and the ranked walk's query
(`Store.ranked_matches`: bm25, `ORDER BY rank LIMIT N`) for the top 50 and the app's top
RANKED_LIMIT, on rare and frequent words, prefixes as typed and one-letter prefixes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from annotator.config import bundled_config_path, load_config
from annotator.importer import import_files
from annotator.store import RANKED_LIMIT, SEARCH_COUNT_LIMIT, QueueFilter, Store
from annotator.store.queue import search_sql
from bench.synth import clone_samples

SEARCHES = [
    "refund",  # common in one sample
    "worker queue",  # two words, both common
    "tasklane",  # in most spans: the worst case for counting
    "timeou",  # a prefix, as typed
    "zebra",  # in no span
    '"jobs stay queued"',  # a phrase
]
RANKED = [
    "refund",  # in 7% of spans
    "worker queue",  # two words, in a quarter
    "tasklane",  # in half of the spans
    "timeou",  # a prefix, as typed
    "zebra",  # in no span
    "t",  # one-letter prefixes: nearly every span
    "a",
    "re",
]
TRIGGERS = ("span_search_insert", "span_search_update", "span_search_delete")


def _import(source: Path, db: Path, *, index: bool) -> float:
    with Store.open(db) as store:
        if not index:
            for trigger in TRIGGERS:
                store.connection.execute(f"DROP TRIGGER {trigger}")
        started = time.perf_counter()
        import_files(store, [source])
        return time.perf_counter() - started


def _index_bytes(db: Path) -> int:
    with Store.open(db, readonly=True) as store:
        try:
            row = store.connection.execute(
                "SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'span_search%'"
            ).fetchone()
        except Exception:  # dbstat is not compiled into every SQLite
            return -1
    return row[0] or 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spans", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", metavar="DIR", help="keep the databases in DIR (and reuse them)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        tmp = args.keep or scratch
        Path(tmp).mkdir(parents=True, exist_ok=True)
        source = Path(tmp) / "spans.jsonl"
        with_index, without = Path(tmp) / "index.db", Path(tmp) / "plain.db"
        if args.keep and with_index.exists() and without.exists():
            spans, seconds, plain_seconds = args.spans, float("nan"), float("nan")
        else:
            spans = clone_samples(args.spans, source)
            seconds = _import(source, with_index, index=True)
            plain_seconds = _import(source, without, index=False)
        size, plain_size = with_index.stat().st_size, without.stat().st_size
        print(f"{spans:,} spans")
        print(f"import with the search index   {seconds:7.1f} s   {size / 1e6:8.1f} MB")
        print(f"import without it              {plain_seconds:7.1f} s   {plain_size / 1e6:8.1f} MB")
        print(
            f"the index costs                {seconds - plain_seconds:+7.1f} s "
            f"({(seconds / plain_seconds - 1) * 100:+.0f}%)   {(size - plain_size) / 1e6:+8.1f} MB "
            f"({(size / plain_size - 1) * 100:+.0f}%; its tables: "
            f"{_index_bytes(with_index) / 1e6:.1f} MB)"
        )
        configs = load_config(bundled_config_path("default")).annotations
        with Store.open(with_index, readonly=True) as store:
            conn = store.connection
            print(f"\n{'search':22} {'count':>9} {'traces':>9} {'spans':>8} {'traces':>7}")
            for text in SEARCHES:
                sql = search_sql(text)
                counting, listing, count, traces = [], [], 0, 0
                for _ in range(args.runs):
                    started = time.perf_counter()
                    count = conn.execute(
                        f"SELECT count(*) FROM spans s WHERE {sql.text}", sql.params
                    ).fetchone()[0]
                    counting.append(time.perf_counter() - started)
                    started = time.perf_counter()
                    traces = len(store.trace_ids(QueueFilter(text=text), configs, "bench"))
                    listing.append(time.perf_counter() - started)
                print(
                    f"{text:22} {statistics.median(counting) * 1000:7.1f}ms "
                    f"{statistics.median(listing) * 1000:7.1f}ms {count:8,} {traces:7,}"
                )
            print(
                f"\n{'/ in the app':22} {'live count':>11} {'top 50':>9} "
                f"{'top ' + str(RANKED_LIMIT):>9} {'matches':>8}  (count stops at "
                f"{SEARCH_COUNT_LIMIT:,})"
            )
            for text in RANKED:
                queue = QueueFilter(text=text)
                sql = search_sql(text)
                matches = conn.execute(
                    f"SELECT count(*) FROM spans s WHERE {sql.text}", sql.params
                ).fetchone()[0]
                runs: dict[str, Callable[[], object]] = {
                    "count": partial(store.count_matches, queue, configs, "bench"),
                    "50": partial(store.ranked_matches, queue, configs, "bench", limit=50),
                    "app": partial(store.ranked_matches, queue, configs, "bench"),
                }
                times: dict[str, list[float]] = {key: [] for key in runs}
                for _ in range(args.runs):
                    for key, run in runs.items():
                        started = time.perf_counter()
                        run()
                        times[key].append(time.perf_counter() - started)
                shown = {key: statistics.median(values) * 1000 for key, values in times.items()}
                print(
                    f"{text:22} {shown['count']:9.1f}ms {shown['50']:7.1f}ms "
                    f"{shown['app']:7.1f}ms {matches:8,}"
                )


if __name__ == "__main__":
    main()
