"""Handing out work: ``annotator assign --db team.db --annotators alice,bob,carol --per-item 2
--out batches/``.

Items
    With ``--target span`` (the default) an item is a span that a required config applies to
    (the queue's own definition: by target and span kind; a trace row is its root span); with
    ``--target trace`` a whole trace holding such a span. ``--where`` (a span filter) and
    ``--trace-where`` (a trace filter) and ``--search`` (full-text search) narrow the candidates
    (for traces, ``--where`` and ``--search`` keep the traces holding a matching span in scope).

Who gets what (`distribute`, a pure function of its inputs)
    Every candidate gets a rank, sha256(seed, item id): ``--sample N`` keeps the N first by
    rank, and items are handed out in rank order. The first ``--overlap-all K`` items by rank go
    to every annotator; each other item to exactly ``--per-item`` annotators, each time the
    ones with the fewest items so far (ties: by sha256(seed, name)), so that loads differ by at
    most one. The rank of an item does not depend on the other items, so a sample grows
    stably: the same command run again selects the same items, and ``--sample 200`` after
    ``--sample 100`` adds the next 100.

Again into the same folder
    The manifest (``manifest.json``) is read back first. An item once given to someone stays
    theirs, done or not: nothing is ever taken away or moved. New items (more traces in
    team.db, a larger sample) are handed out as above, starting from the current loads, so
    new annotators get new work first; an item with fewer annotators than ``--per-item`` gets
    more; an overlap item goes to annotators who joined since. Every batch receives only what
    is new for it, its annotations untouched.

Batches
    ``OUT/NAME.db`` per annotator: the spans of every trace holding one of their items (the
    whole trace, for context), the configs with the whole config document (its guidelines
    too), the LLM and CODE annotations on those traces (the app's `a` key takes one over) and
    the annotator's own earlier annotations, and their rows of `assignments`. With ``--blind``
    no LLM or CODE annotation is copied, so a rater is not anchored by the judge's answer
    (the run is recorded as blind in the manifest, and every later run into the folder is blind
    too). Their queue in
    the app is then their assignment. A batch carries its campaign id and annotator in
    `meta`; assign writes only into a file that is a batch of this folder's campaign for that
    annotator, and never into `--db` or any other database.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from annotator.model import NOTE_NAME, Annotation
from annotator.output_file import OutputError, is_sqlite_database, open_output
from annotator.query import Selection
from annotator.store import (
    ANNOTATION_COLUMNS,
    CAMPAIGN_META,
    FINAL,
    OWNER_META,
    Assignment,
    Store,
    StoreError,
    add_assignments,
    inspect_database,
    write_transaction,
)
from annotator.team.stats import stored_configs
from annotator.timeutil import now_iso

MANIFEST = "manifest.json"
MANIFEST_FORMAT = "annotator-campaign/1"
TARGETS = ("span", "trace")
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@+-]{0,63}$")


class AssignError(ValueError):
    """Arguments or an output folder that assign cannot use (one line)."""


@dataclass(frozen=True)
class Item:
    item_id: str
    trace_id: str


@dataclass
class Distribution:
    """Who has which item: item id -> annotators (sorted), the overlap items, and the items in
    rank order with their trace ids."""

    holders: dict[str, list[str]]
    overlap: set[str]
    items: dict[str, Item]

    def by_annotator(self) -> dict[str, list[str]]:
        result: dict[str, list[str]] = {}
        for item_id, names in self.holders.items():
            for name in names:
                result.setdefault(name, []).append(item_id)
        return result


def _rank(seed: int, text: str) -> bytes:
    return hashlib.sha256(f"{seed}\x00{text}".encode()).digest()


def distribute(
    candidates: Sequence[Item],
    annotators: Sequence[str],
    *,
    per_item: int,
    seed: int = 0,
    sample: int | None = None,
    overlap_all: int = 0,
    previous: dict[str, list[str]] | None = None,
    previous_overlap: Iterable[str] = (),
    previous_items: Iterable[Item] = (),
) -> Distribution:
    """The assignment (see the module docstring): a pure function of its arguments.
    `previous`: item id -> annotators from an earlier run (kept as they are)."""
    check_annotators(annotators)
    if per_item < 1 or per_item > len(annotators):
        raise AssignError(
            f"--per-item {per_item}: must be between 1 and the number of annotators "
            f"({len(annotators)})"
        )
    holders: dict[str, list[str]] = {k: sorted(v) for k, v in (previous or {}).items()}
    items: dict[str, Item] = {item.item_id: item for item in previous_items}
    ranked = sorted(candidates, key=lambda item: _rank(seed, item.item_id))
    if sample is not None:
        ranked = ranked[:sample]
    for item in ranked:
        items.setdefault(item.item_id, item)
    overlap = set(previous_overlap)
    for item in ranked:
        if len(overlap) >= overlap_all:
            break
        overlap.add(item.item_id)
    if len(overlap) < overlap_all:
        raise AssignError(f"--overlap-all {overlap_all}: only {len(items)} items are selected")
    order = {name: _rank(seed, name) for name in annotators}
    loads = dict.fromkeys(annotators, 0)
    for names in holders.values():
        for name in names:
            if name in loads:
                loads[name] += 1
    # Overlap items first (everyone gets them: they do not change who is least loaded), then
    # the rest, each in rank order; earlier items (not in this run's candidates) last.
    ranks = {item_id: _rank(seed, item_id) for item_id in items}
    todo = sorted(items, key=lambda item_id: (item_id not in overlap, ranks[item_id]))
    for item_id in todo:
        have = holders.get(item_id, [])
        if item_id in overlap:
            missing = [name for name in annotators if name not in have]
        else:
            need = per_item - len(have)
            if need <= 0:
                continue
            free = sorted(
                (name for name in annotators if name not in have),
                key=lambda name: (loads[name], order[name]),
            )
            missing = free[:need]
        if not missing:
            continue
        for name in missing:
            loads[name] += 1
        holders[item_id] = sorted([*have, *missing])
    return Distribution(holders, overlap, items)


def check_annotators(annotators: Sequence[str]) -> None:
    if not annotators:
        raise AssignError("--annotators: give at least one name (alice,bob,carol)")
    seen: set[str] = set()
    for name in annotators:
        if name == FINAL:
            raise AssignError(
                f"--annotators: {FINAL!r} is reserved for final values; choose another name"
            )
        if not _NAME.match(name):
            raise AssignError(
                f"--annotators: {name!r} cannot name a batch file: use letters, digits and "
                "_ . @ + - (at most 64, not starting with . or -)"
            )
        if name in seen:
            raise AssignError(f"--annotators: {name!r} is given twice")
        seen.add(name)


# --- the manifest --------------------------------------------------------------------------------


@dataclass
class Manifest:
    campaign: str
    target: str
    source: str
    per_item: int
    seed: int
    created_at: str
    annotators: list[str] = field(default_factory=list)
    holders: dict[str, list[str]] = field(default_factory=dict)
    overlap: set[str] = field(default_factory=set)
    items: dict[str, Item] = field(default_factory=dict)
    runs: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> bytes:
        by_annotator = dict.fromkeys(self.annotators, 0)
        for names in self.holders.values():
            for name in names:
                by_annotator[name] = by_annotator.get(name, 0) + 1
        document = {
            "format": MANIFEST_FORMAT,
            "campaign": self.campaign,
            "source": self.source,
            "target": self.target,
            "per_item": self.per_item,
            "seed": self.seed,
            "created_at": self.created_at,
            "annotators": [
                {"name": name, "file": f"{name}.db", "items": by_annotator.get(name, 0)}
                for name in self.annotators
            ],
            "items": [
                {
                    "id": item_id,
                    "trace_id": self.items[item_id].trace_id,
                    "annotators": self.holders.get(item_id, []),
                    "overlap": item_id in self.overlap,
                }
                for item_id in sorted(self.items)
            ],
            "runs": self.runs,
        }
        return orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"

    @classmethod
    def read(cls, path: Path) -> Manifest:
        try:
            document = orjson.loads(path.read_bytes())
            if document.get("format") != MANIFEST_FORMAT:
                raise ValueError(f"format is {document.get('format')!r}, not {MANIFEST_FORMAT}")
            items = {
                entry["id"]: Item(str(entry["id"]), str(entry["trace_id"]))
                for entry in document["items"]
            }
            return cls(
                campaign=str(document["campaign"]),
                target=str(document["target"]),
                source=str(document.get("source", "")),
                per_item=int(document["per_item"]),
                seed=int(document["seed"]),
                created_at=str(document.get("created_at", "")),
                annotators=[str(entry["name"]) for entry in document["annotators"]],
                holders={
                    entry["id"]: [str(n) for n in entry["annotators"]]
                    for entry in document["items"]
                },
                overlap={entry["id"] for entry in document["items"] if entry.get("overlap")},
                items=items,
                runs=list(document.get("runs", [])),
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            raise AssignError(
                f"{path}: not a readable campaign manifest ({error}); assign into another "
                "folder, or restore the manifest"
            ) from None


# --- the command ---------------------------------------------------------------------------------


@dataclass
class BatchResult:
    annotator: str
    file: str
    items: int  # assigned in total
    new_items: int  # assigned by this run
    traces: int  # traces in the file
    created: bool


@dataclass
class AssignResult:
    campaign: str
    out: str
    candidates: int
    selected: int
    new_items: int
    overlap: int
    batches: list[BatchResult]
    manifest: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "campaign": self.campaign,
            "out": self.out,
            "candidates": self.candidates,
            "selected": self.selected,
            "new_items": self.new_items,
            "overlap": self.overlap,
            "manifest": self.manifest,
            "batches": [vars(b) for b in self.batches],
        }


def assign(
    db_path: str | Path,
    out_dir: str | Path,
    annotators: Sequence[str],
    *,
    per_item: int,
    target: str = "span",
    seed: int = 0,
    sample: int | None = None,
    overlap_all: int = 0,
    selection: Selection | None = None,
    blind: bool = False,
) -> AssignResult:
    """Write (or extend) one batch database per annotator and the manifest in `out_dir`.
    `selection`: the --where / --trace-where filters (annotator.query.Selection); `blind`:
    leave the LLM and CODE annotations out of the batches."""
    if target not in TARGETS:
        raise AssignError(f"--target {target!r}: use span or trace")
    if sample is not None and sample < 1:
        raise AssignError("--sample must be at least 1")
    if overlap_all < 0:
        raise AssignError("--overlap-all must not be negative")
    check_annotators(annotators)
    out = Path(out_dir)
    source = Path(db_path)
    manifest_path = out / MANIFEST
    previous = _prepare_out(out, manifest_path, source)
    if previous is not None and previous.target != target:
        raise AssignError(
            f"{manifest_path}: this campaign assigns {previous.target}s; use --target "
            f"{previous.target} or another --out folder"
        )

    with Store.open(source, readonly=True) as team:
        configs = stored_configs(team)
        if configs is None or not configs.annotations:
            raise AssignError(
                f"{source}: holds no configs; store them first (annotator annotate --db "
                f"{source} --config FILE)"
            )
        candidates = [
            Item(item_id, trace_id)
            for item_id, trace_id in team.campaign_items(
                configs.annotations,
                target,
                selection=selection.sql if selection else None,
            )
        ]
        document = team.load_config_document() or {}
        config_times = team.config_times()

    # Once blind, a campaign stays blind: a later run must not show the judge to anyone.
    blind = blind or bool(previous and any(run.get("blind") for run in previous.runs))
    names = list(previous.annotators) if previous else []
    names += [name for name in annotators if name not in names]
    distribution = distribute(
        candidates,
        annotators,
        per_item=per_item,
        seed=seed,
        sample=sample,
        overlap_all=overlap_all,
        previous=previous.holders if previous else None,
        previous_overlap=previous.overlap if previous else (),
        previous_items=previous.items.values() if previous else (),
    )
    now = now_iso()
    manifest = previous or Manifest(
        campaign=uuid.uuid4().hex,
        target=target,
        source=str(source),
        per_item=per_item,
        seed=seed,
        created_at=now,
    )
    old_holders = {k: set(v) for k, v in manifest.holders.items()}
    manifest.annotators = names
    manifest.per_item = per_item
    manifest.holders = distribution.holders
    manifest.overlap = distribution.overlap
    manifest.items = distribution.items
    new_items = sum(1 for item_id in distribution.holders if item_id not in old_holders)
    manifest.runs.append(
        {
            "at": now,
            "annotators": list(annotators),
            "per_item": per_item,
            "seed": seed,
            "sample": sample,
            "overlap_all": overlap_all,
            "where": selection.where.text if selection else "",
            "trace_where": selection.trace_where.text if selection else "",
            "new_items": new_items,
            "blind": blind,
        }
    )

    out.mkdir(parents=True, exist_ok=True)
    batches = []
    by_annotator = distribution.by_annotator()
    for name in names:
        mine = by_annotator.get(name, [])
        fresh = [i for i in mine if name not in old_holders.get(i, set())]
        batches.append(
            _write_batch(
                out / f"{name}.db",
                source,
                manifest,
                name,
                [distribution.items[i] for i in mine],
                fresh,
                document,
                config_times,
                blind=blind,
            )
        )
    try:
        with open_output(manifest_path) as stream:
            stream.write(manifest.to_json())
    except OutputError as error:
        raise AssignError(str(error)) from None
    return AssignResult(
        campaign=manifest.campaign,
        out=str(out),
        candidates=len(candidates),
        selected=len(distribution.items),
        new_items=new_items,
        overlap=len(distribution.overlap),
        batches=batches,
        manifest=str(manifest_path),
    )


def _prepare_out(out: Path, manifest_path: Path, source: Path) -> Manifest | None:
    """The manifest already in `out` (None: a new campaign). Refuses a path that is not a
    directory, or a folder whose databases are not this campaign's batches."""
    if out.exists() and not out.is_dir():
        raise AssignError(f"{out}: not a directory; --out names the folder of the batches")
    if not manifest_path.exists():
        if out.is_dir():
            databases = sorted(p.name for p in out.iterdir() if p.suffix == ".db")
            if databases:
                raise AssignError(
                    f"{out}: holds databases ({', '.join(databases[:3])}) but no {MANIFEST}: "
                    "not a campaign folder of assign; use an empty or new folder"
                )
        return None
    return Manifest.read(manifest_path)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _check_batch(path: Path, source: Path, manifest: Manifest, annotator: str) -> bool:
    """Whether `path` exists as this campaign's batch of `annotator` (False: it is new).
    Anything else there is refused, untouched."""
    if not path.exists() and not path.is_symlink():
        return False
    if _same_file(path, source):
        raise AssignError(f"{path}: is --db itself; assign never writes into its source")
    if not path.is_file() or not is_sqlite_database(path):
        raise AssignError(
            f"{path}: exists and is not a batch database of this campaign; left as is"
        )
    try:
        inspect_database(path)
        with Store.open(path, readonly=True) as batch:
            campaign = batch.get_meta(CAMPAIGN_META)
            owner = batch.get_meta(OWNER_META)
    except StoreError as error:
        raise AssignError(f"{error}") from None
    if campaign != manifest.campaign or owner != annotator:
        raise AssignError(
            f"{path}: a database that is not {annotator}'s batch of this campaign "
            f"({manifest.campaign}); left as is"
        )
    return True


def _write_batch(
    path: Path,
    source: Path,
    manifest: Manifest,
    annotator: str,
    items: list[Item],
    fresh: list[str],
    document: dict[str, Any],
    config_times: dict[str, str],
    *,
    blind: bool = False,
) -> BatchResult:
    existed = _check_batch(path, source, manifest, annotator)
    traces = sorted({item.trace_id for item in items})
    assigned_at = now_iso()
    fresh_set = set(fresh)
    rows = [
        Assignment(
            annotator,
            manifest.target,
            item.item_id,
            item.trace_id,
            manifest.campaign,
            item.item_id in manifest.overlap,
            assigned_at,
        )
        for item in items
        if item.item_id in fresh_set
    ]
    with Store.open(source, readonly=True) as team, Store.open(path) as batch:
        if document:
            # the lead's times, so that merging the batches back changes no config's
            batch.save_config_document(
                document,
                updated_at=config_times,
                guidelines_updated_at=team.guidelines_updated_at(),
            )
        batch.set_meta(CAMPAIGN_META, manifest.campaign)
        batch.set_meta(OWNER_META, annotator)
        conn = batch.connection
        have = {row[0] for row in conn.execute("SELECT trace_id FROM traces")}
        wanted = [t for t in traces if t not in have]
        _copy_traces(team.connection, conn, wanted)
        with write_transaction(conn):
            add_assignments(conn, rows)
        _copy_annotations(team, batch, wanted, annotator, blind=blind)
        count = conn.execute("SELECT count(*) FROM traces").fetchone()[0]
    return BatchResult(annotator, str(path), len(items), len(rows), count, not existed)


def _columns(conn: Any, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]


def _copy_traces(source: Any, target: Any, trace_ids: list[str]) -> None:
    """Every span and the summary row of `trace_ids`, as they are in the source."""
    if not trace_ids:
        return
    span_columns = ", ".join(_columns(target, "spans"))
    trace_columns = ", ".join(_columns(target, "traces"))
    marks = ", ".join("?" * len(_columns(target, "spans")))
    trace_marks = ", ".join("?" * len(_columns(target, "traces")))
    with write_transaction(target):
        for start in range(0, len(trace_ids), 500):
            chunk = orjson.dumps(trace_ids[start : start + 500]).decode()
            cursor = source.execute(
                f"SELECT {span_columns} FROM spans WHERE trace_id IN "
                "(SELECT value FROM json_each(?)) ORDER BY rowid",
                (chunk,),
            )
            while rows := cursor.fetchmany(1000):
                target.executemany(
                    f"INSERT OR IGNORE INTO spans ({span_columns}) VALUES ({marks})", rows
                )
            target.executemany(
                f"INSERT OR IGNORE INTO traces ({trace_columns}) VALUES ({trace_marks})",
                source.execute(
                    f"SELECT {trace_columns} FROM traces WHERE trace_id IN "
                    "(SELECT value FROM json_each(?))",
                    (chunk,),
                ).fetchall(),
            )


def _copy_annotations(
    team: Store, batch: Store, trace_ids: list[str], annotator: str, *, blind: bool = False
) -> None:
    """The LLM and CODE annotations on the new traces (`blind`: none of them), and the
    annotator's own (not notes, not final values): logged in the batch as an import by
    ``assign``."""
    if not trace_ids:
        return
    judges = "0" if blind else "annotator_kind != 'HUMAN'"
    columns = ", ".join(ANNOTATION_COLUMNS)
    with batch.annotation_batch(action="import") as writer:
        for start in range(0, len(trace_ids), 500):
            chunk = orjson.dumps(trace_ids[start : start + 500]).decode()
            rows = team.connection.execute(
                f"SELECT {columns} FROM annotations WHERE trace_id IN "
                "(SELECT value FROM json_each(?)) AND target IN ('span', 'document', 'trace') "
                "AND name != ? AND identifier != ? "
                f"AND ({judges} OR (annotator_kind = 'HUMAN' AND identifier = ?)) ORDER BY id",
                (chunk, NOTE_NAME, FINAL, annotator),
            ).fetchall()
            for row in rows:
                values = dict(zip(ANNOTATION_COLUMNS, row, strict=True))
                values["id"] = None
                values["metadata"] = orjson.loads(values["metadata"] or "{}")
                writer.put(Annotation(**values), actor="assign")
