"""App speed and memory: prints figures, asserts nothing (machines are noisy).

  python bench/app_bench.py [--spans 100000] [--annotations 1000] [--big-trace 10000]

1. Open: construction of the app to the first screen showing the first span, on a database of
   `--spans` spans and on a tiny one, each in a fresh process (peak RSS of each too): the open
   time must not grow with the database.
2. Keystroke to committed row: `--annotations` label presses, timed inside the app from the key
   event to the commit of the row by the writer thread (p50 / p99 / max), and from the key event
   to the panel showing the new value (which no longer waits for the commit).
3. A single trace of `--big-trace` spans: moving down through it with j, timed from the key
   event to the span view redrawn.
4. Scanning the trace list of the `--spans` database with ] (`--traces` moves): each move
   brings a new trace row on screen, whose summary, progress and input preview are read then.
5. CPU per key press (`--key-presses` of each key, the bundled default config): process CPU
   time (the app, Textual's rendering, the writer thread) divided by the presses, for j, k, a
   label key with auto-advance (1), tab between configs, right and left on a score, on the
   bundled samples and on the big trace. `--profile KEY` prints a cProfile of that key's presses
   on the samples instead of the report.
6. CPU of the dialogs (`--dialog-opens` of each, on the samples): opening it (the key to the
   dialog drawn), each key inside it, closing it with escape, for the filter dialog (tab between
   its controls, typing in its search field), the search box `/`, the help page `?` and the note
   box `n`. `--only-dialogs` prints only these.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.synth import clone_samples, one_big_trace

CONFIG = """
annotations:
  - name: correctness
    type: CATEGORICAL
    values: [{label: correct, score: 1}, {label: incorrect, score: 0}]
"""


def build_db(trace_file: Path, db: Path) -> None:
    from annotator.importer import import_files
    from annotator.store import Store

    with Store.open(db) as store:
        import_files(store, [trace_file])


async def _open(db: str) -> dict:
    from annotator.app.app import AnnotatorApp
    from annotator.app.screens.annotate import AnnotateScreen
    from annotator.config import parse_config

    started = time.perf_counter()
    app = AnnotatorApp(db, parse_config(CONFIG), "bench")
    async with app.run_test(size=(160, 50)) as pilot:
        while not (
            isinstance(app.screen, AnnotateScreen) and app.screen.span_view.span is not None
        ):
            await pilot.pause(0.005)
        opened = time.perf_counter() - started
        await app.workers.wait_for_complete()
        progress_ready = time.perf_counter() - started
    return {
        "open_s": round(opened, 3),
        "progress_counted_s": round(progress_ready, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


async def _annotate(db: str, presses: int) -> dict:
    from annotator.app.app import AnnotatorApp
    from annotator.config import parse_config

    app = AnnotatorApp(db, parse_config(CONFIG), "bench")
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        for i in range(presses):
            await pilot.press("1" if i % 2 else "2")  # each press changes the row: a real commit
            if i % 50 == 49:
                await pilot.press("j")
        while app.session.unsettled:  # the writer thread commits; wait for the last one
            await pilot.pause(0.01)
        await pilot.pause()
        commits = list(app.latency.commit)
        shown = list(app.latency.shown)
    with open_db(db) as conn:
        rows = conn.execute("SELECT count(*) FROM annotation_log").fetchone()[0]
    return {
        "presses": presses,
        "logged_writes": rows,
        **_percentiles(commits),
        "key_to_shown_in_panel": _percentiles(shown),
    }


async def _navigate(db: str, moves: int) -> dict:
    pressed = await _press_repeatedly(db, "j", moves)
    return {
        "tree_rows": pressed["tree_rows"],
        "moves": moves,
        "key_to_view_updated": _percentiles(pressed["navigate"]),
        "key_to_screen_painted": _percentiles(pressed["painted"]),
        "pilot_wall_per_move_ms": round(pressed["wall"] / moves * 1000, 1),
    }


async def _scan_traces(db: str, moves: int) -> dict:
    pressed = await _press_repeatedly(db, "right_square_bracket", moves)
    return {
        "moves": moves,
        "key_to_view_updated": _percentiles(pressed["navigate"]),
        "key_to_screen_painted": _percentiles(pressed["painted"]),
    }


async def _press_repeatedly(db: str, key: str, moves: int) -> dict:
    """Open the app, press `key` `moves` times: the app's own latency samples of those
    presses, the tree's rows and the pilot's wall time."""
    from annotator.app.app import AnnotatorApp
    from annotator.config import parse_config

    app = AnnotatorApp(db, parse_config(CONFIG), "bench")
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        app.latency.navigate.clear()
        app.latency.painted.clear()
        started = time.perf_counter()
        for _ in range(moves):
            await pilot.press(key)
        await pilot.pause()
        wall = time.perf_counter() - started
        return {
            "tree_rows": len(app.screen.model),
            "wall": wall,
            "navigate": list(app.latency.navigate),
            "painted": list(app.latency.painted),
        }


KEYS = ("j", "k", "1", "tab", "right", "left")


async def _key_cpu(db: str, presses: int, profile_key: str = "") -> dict:
    """CPU ms per press of each of KEYS, in a headless run_test with the bundled default config.

    Process CPU time, not wall time: the pilot's idle polling between presses costs wall time
    but hardly any CPU. `right`/`left` are pressed with the focus on a CONTINUOUS config (the
    cursor first moves to a span where one applies)."""
    import cProfile
    import pstats

    from annotator.app.app import AnnotatorApp
    from annotator.config import AnnotationType, bundled_config_path, load_config

    app = AnnotatorApp(db, load_config(bundled_config_path("default")), "bench")
    result: dict = {}
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        screen = app.screen
        for key in KEYS:
            if key in ("right", "left"):
                for _ in range(200):  # to a span with a score config, the focus on it
                    config = screen.current_config
                    if config is not None and config.type == AnnotationType.CONTINUOUS:
                        break
                    await pilot.press("tab" if len(screen.applicable) > 1 else "j")
            elif key == "k":
                await pilot.press(*["j"] * 5)
            await pilot.pause()
            profiler = cProfile.Profile() if key == profile_key else None
            started = time.process_time()
            if profiler:
                profiler.enable()
            for i in range(presses):
                # k goes up then down again (k, k, j...): never stuck at the top
                await pilot.press("j" if key == "k" and i % 3 == 2 else key)
            while app.session.unsettled:
                await pilot.pause(0.01)
            await pilot.pause()
            if profiler:
                profiler.disable()
                stats = pstats.Stats(profiler).sort_stats("cumulative")
                stats.print_stats(45)
                stats.sort_stats("tottime").print_stats(30)
            result[key] = round((time.process_time() - started) / presses * 1000, 1)
    result["presses_each"] = presses
    return result


# name: (the key opening it, keys before the timed keys, the timed keys)
DIALOGS = {
    "filter_tab": ("f", (), ("tab",) * 4),
    "filter_typing": ("f", ("tab",) * 3, (*"chat", *["backspace"] * 4)),
    "search": ("slash", (), (*"chat", *["backspace"] * 4)),
    "help": ("question_mark", (), ("down", "up")),
    "note": ("n", (), (*"chat", *["backspace"] * 4)),
}


async def _dialog_cpu(db: str, opens: int) -> dict:
    """CPU ms of opening each of DIALOGS, of each key inside it and of closing it (escape)."""
    from annotator.app.app import AnnotatorApp
    from annotator.config import bundled_config_path, load_config

    app = AnnotatorApp(db, load_config(bundled_config_path("default")), "bench")
    result: dict = {}
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        for name, (key, before, timed) in DIALOGS.items():
            opened = typed = closed = 0.0
            for _ in range(opens):
                started = time.process_time()
                await pilot.press(key)
                await pilot.pause()
                opened += time.process_time() - started
                await pilot.press(*before)
                await pilot.pause()
                started = time.process_time()
                await pilot.press(*timed)
                await pilot.pause()
                typed += time.process_time() - started
                started = time.process_time()
                await pilot.press("escape")
                await pilot.pause()
                closed += time.process_time() - started
                await app.workers.wait_for_complete()
            result[name] = {
                "open_ms": round(opened / opens * 1000, 1),
                "key_ms": round(typed / opens / len(timed) * 1000, 1),
                "close_ms": round(closed / opens * 1000, 1),
            }
    result["opens_each"] = opens
    return result


async def _dialog_cpu_entry(db: str, opens: str) -> dict:
    return await _dialog_cpu(db, int(opens))


async def _key_cpu_entry(db: str, presses: str, profile_key: str = "") -> dict:
    return await _key_cpu(db, int(presses), profile_key)


def _percentiles(samples: list[float]) -> dict:
    if not samples:
        return {"samples": 0}
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return {
        "samples": len(samples),
        "p50_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(p99, 2),
        "max_ms": round(ordered[-1], 2),
    }


def open_db(db: str):
    import sqlite3

    return sqlite3.connect(db)


def in_subprocess(function: str, *args: str) -> dict:
    """Each measurement in a fresh interpreter: peak RSS is then that measurement's own."""
    root = str(Path(__file__).resolve().parents[1])
    code = (
        f"import asyncio, json, sys; sys.path.insert(0, {root!r}); "
        f"from bench.app_bench import {function}; "
        f"print(json.dumps(asyncio.run({function}(*sys.argv[1:]))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *args], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


async def _annotate_entry(db: str, presses: str) -> dict:
    return await _annotate(db, int(presses))


async def _navigate_entry(db: str, moves: str) -> dict:
    return await _navigate(db, int(moves))


async def _scan_traces_entry(db: str, moves: str) -> dict:
    return await _scan_traces(db, int(moves))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--spans", type=int, default=100_000)
    parser.add_argument("--annotations", type=int, default=1000)
    parser.add_argument("--big-trace", type=int, default=10_000)
    parser.add_argument("--moves", type=int, default=300)
    parser.add_argument("--traces", type=int, default=300)
    parser.add_argument("--key-presses", type=int, default=60)
    parser.add_argument("--profile", default="", help="a key of " + ", ".join(KEYS))
    parser.add_argument("--only-keys", action="store_true", help="only the CPU per key press")
    parser.add_argument("--dialog-opens", type=int, default=10)
    parser.add_argument("--only-dialogs", action="store_true", help="only the dialogs' CPU")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="annotator-bench-"))
    report: dict = {}
    if args.only_dialogs:
        samples = work / "samples.db"
        clone_samples(1, work / "samples.jsonl")
        build_db(work / "samples.jsonl", samples)
        report["dialog_cpu_ms"] = in_subprocess(
            "_dialog_cpu_entry", str(samples), str(args.dialog_opens)
        )
        print(json.dumps(report, indent=2))
        return
    if args.profile or args.only_keys:
        samples = work / "samples.db"
        clone_samples(1, work / "samples.jsonl")
        build_db(work / "samples.jsonl", samples)
        if args.profile:
            asyncio.run(_key_cpu(str(samples), args.key_presses, args.profile))
            return
        report["key_cpu_ms_samples"] = in_subprocess(
            "_key_cpu_entry", str(samples), str(args.key_presses)
        )
        big = work / "big.db"
        one_big_trace(args.big_trace, work / "big.jsonl")
        build_db(work / "big.jsonl", big)
        report["key_cpu_ms_big_trace"] = in_subprocess(
            "_key_cpu_entry", str(big), str(args.key_presses)
        )
        print(json.dumps(report, indent=2))
        return

    small, large = work / "small.db", work / "large.db"
    clone_samples(1, work / "small.jsonl")
    build_db(work / "small.jsonl", small)
    written = clone_samples(args.spans, work / "large.jsonl")
    started = time.perf_counter()
    build_db(work / "large.jsonl", large)
    report["setup"] = {
        "large_db_spans": written,
        "import_s": round(time.perf_counter() - started, 1),
    }
    report["open_small_db"] = in_subprocess("_open", str(small))
    report["open_large_db"] = in_subprocess("_open", str(large))
    report["keystroke_to_commit"] = in_subprocess(
        "_annotate_entry", str(large), str(args.annotations)
    )
    report["trace_list_scan"] = in_subprocess("_scan_traces_entry", str(large), str(args.traces))

    big = work / "big.db"
    one_big_trace(args.big_trace, work / "big.jsonl")
    build_db(work / "big.jsonl", big)
    report["big_trace_navigation"] = in_subprocess("_navigate_entry", str(big), str(args.moves))
    report["dialog_cpu_ms"] = in_subprocess("_dialog_cpu_entry", str(small), str(args.dialog_opens))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
