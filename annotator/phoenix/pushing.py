"""``push``: the database's annotations, notes and configs to a live Phoenix.

What is sent, to where (Phoenix 20.26), item by item as ``annotator export --format phoenix``
writes them (the same rules: Phoenix's field names, ``annotator_kind`` always, ``result`` with
the non-null label / score / explanation, ``metadata`` an object, ``identifier`` "" by default):

* span, trace, session and document annotations: ``POST /v1/{span,trace,session,document}_
  annotations?sync=true`` in batches (through Phoenix's client); Phoenix answers with the id of
  each item. Document annotations follow Phoenix's rule that their identifier is empty: the
  annotator's identifier moves to ``metadata.annotator_identifier``, and where several
  annotators labelled one document under one name only one is sent: the final value when
  there is one, else the newest (``annotator`` picks whose). Document positions beyond the
  span's documents are not sent (Phoenix: 422).
* notes (annotations named ``note``): ``POST /v1/{span,trace,session}_notes``, one per request,
  with their identifier so that sending one again updates it instead of adding a copy.
* configs: every stored config that a sent annotation uses, normalised to what Phoenix accepts
  (``AnnotationConfig.phoenix_body()``: upper-case type, ``{label, score}`` values, an
  ``optimization_direction``), created when Phoenix has no config of that name, then attached to
  each project the annotations belong to. A config Phoenix already has under that name with a
  different definition is left as it is and listed.

Batches are all-or-nothing in Phoenix. A batch Phoenix refuses is split: for 404 ("Spans with
IDs ... do not exist": spans that are only in this database) the named targets are set aside and
the rest is sent again; for 400/422 the batch is halved until the one refused item is found. A
refused item is listed with what it is and Phoenix's reason; everything else is sent.

What was sent is kept in the table ``phoenix_sent`` (schema version 2): per Phoenix URL
and annotation row, the exact item's fingerprint and the id Phoenix returned. A push sends only
items whose fingerprint differs from the one recorded (new or changed annotations), so pushing
again sends nothing; after a batch is confirmed its rows are recorded in one transaction, so a
push that stops half-way (a server gone, Ctrl-C) keeps what Phoenix confirmed and sends the rest
next time. Annotations that a pull brought from the same Phoenix are recorded the same way, so
they are not sent back. Deleting an annotation here does not delete it in Phoenix.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from annotator.annotations_io import (
    DOCUMENT_BEYOND,
    DOCUMENT_IDENTIFIER_KEY,
    DOCUMENT_SECOND_ANNOTATOR,
    EMPTY_NAME,
    EMPTY_TARGET_ID,
    METADATA_NOT_OBJECT,
    NOT_IN_DATABASE,
    NOTE_WITHOUT_TEXT,
    SCORE_NOT_FINITE,
    ExportFilter,
    phoenix_items,
)
from annotator.model import NOTE_NAME
from annotator.phoenix import errors
from annotator.phoenix.connection import PhoenixClient
from annotator.store import Store, write_transaction
from annotator.timeutil import now_iso

BATCH = 500

ANNOTATION_ENDPOINTS = (
    "span_annotations", "document_annotations", "trace_annotations", "session_annotations",
)  # fmt: skip
NOTE_ENDPOINTS = ("span_notes", "trace_notes", "session_notes")
_TARGET = {
    "span_annotations": "span", "document_annotations": "document",
    "trace_annotations": "trace", "session_annotations": "session",
    "span_notes": "span", "trace_notes": "trace", "session_notes": "session",
}  # fmt: skip
_ID_FIELD = {"span": "span_id", "document": "span_id", "trace": "trace_id", "session": "session_id"}
_MISSING_IDS = re.compile(r"with IDs? (.+?) (?:do not exist|not found)")

Progress = Callable[[str, int, "int | None"], None]


@dataclass
class Pending:
    annotation_id: int
    endpoint: str
    item: dict[str, Any]
    fingerprint: str

    def describe(self) -> str:
        target = _TARGET[self.endpoint]
        data = self.item.get("data", self.item)
        target_id = data.get(_ID_FIELD[target])
        position = f" document {data['document_position']}" if target == "document" else ""
        name = NOTE_NAME if self.endpoint in NOTE_ENDPOINTS else data.get("name")
        who = data.get("identifier") or (data.get("metadata") or {}).get(DOCUMENT_IDENTIFIER_KEY)
        by = f" by {who}" if who else ""
        kind = "document" if target == "document" else target
        return f"{name!r}{by} on {kind} {target_id}{position} (annotation #{self.annotation_id})"


@dataclass
class PushReport:
    url: str
    dry_run: bool = False
    sent: dict[str, int] = field(default_factory=dict)  # endpoint -> items Phoenix confirmed
    unchanged: int = 0  # already sent as they are
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> count
    rejected: list[str] = field(default_factory=list)  # one line per refused item
    not_in_phoenix: list[str] = field(default_factory=list)  # targets Phoenix does not have
    configs_created: list[str] = field(default_factory=list)
    configs_attached: list[str] = field(default_factory=list)  # "project: name"
    config_conflicts: list[str] = field(default_factory=list)
    would_send: list[Pending] = field(default_factory=list)  # dry run: everything pending
    seconds: float = 0.0
    phoenix_seconds: float = 0.0
    requests: int = 0

    @property
    def total_sent(self) -> int:
        return sum(self.sent.values())

    def summary(self) -> str:
        if self.dry_run:
            counts: dict[str, int] = {}
            for pending in self.would_send:
                counts[pending.endpoint] = counts.get(pending.endpoint, 0) + 1
            what = ", ".join(f"{n:,} to {e}" for e, n in counts.items()) or "nothing"
            lines = [
                f"Would send {what} to {self.url} ({self.unchanged:,} already sent); "
                f"{len(self.configs_created)} config(s) to create."
            ]
        else:
            what = ", ".join(f"{n:,} to {e}" for e, n in self.sent.items() if n) or "nothing new"
            problems = len(self.rejected) + len(self.not_in_phoenix)
            lines = [
                f"Sent {what} to {self.url} in {self.seconds:.1f}s ({self.unchanged:,} already "
                f"sent); {len(self.configs_created)} config(s) created; {problems:,} not sent."
            ]
        for reason, count in self.skipped.items():
            lines.append(f"Not sent: {count:,} {reason}")
        if self.not_in_phoenix:
            lines.append(
                f"Not in Phoenix ({len(self.not_in_phoenix):,}; send the traces first): "
                + ", ".join(self.not_in_phoenix[:10])
                + (" ..." if len(self.not_in_phoenix) > 10 else "")
            )
        lines.extend(f"Rejected: {line}" for line in self.rejected)
        if self.config_conflicts:
            lines.append("Config conflicts (Phoenix's config is left as it is):")
            lines.extend(f"  {line}" for line in self.config_conflicts)
        return "\n".join(lines)


# --- building items -----------------------------------------------------------------------------


def _fingerprint(endpoint: str, item: dict[str, Any]) -> str:
    body = orjson.dumps([endpoint, item], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(body).hexdigest()


# How push words the reasons `phoenix_items` gives (the export words them its own way).
_PUSH_REASONS = {
    NOTE_WITHOUT_TEXT: "notes without text (Phoenix requires the text)",
    EMPTY_NAME: "annotations with an empty name (Phoenix refuses them)",
    SCORE_NOT_FINITE: "annotations whose score is not a finite number",
    METADATA_NOT_OBJECT: "annotations whose metadata is not an object",
    DOCUMENT_BEYOND: "document annotations beyond the span's documents (Phoenix: 422)",
    DOCUMENT_SECOND_ANNOTATOR: (
        "document annotations by a second annotator on one document and name "
        "(Phoenix keeps one; the final value, else the newest, was sent: choose with --annotator)"
    ),
}


def pending_items(
    conn: sqlite3.Connection,
    *,
    project: str | None = None,
    names: tuple[str, ...] = (),
    annotator: str | None = None,
    skipped: dict[str, int] | None = None,
) -> Iterator[Pending]:
    """Every selected annotation as the Phoenix item that would carry it: the items
    ``export --format phoenix`` writes (`annotator.annotations_io.phoenix_items`), each with
    its fingerprint. With `project`, annotations about other projects are left out silently."""
    skipped = skipped if skipped is not None else {}
    selection = ExportFilter(names=names, annotator=annotator, project=project)
    for endpoint in (*ANNOTATION_ENDPOINTS, *NOTE_ENDPOINTS):
        target = _TARGET[endpoint]

        def skip(reason: str, target: str = target) -> None:
            if reason in (NOT_IN_DATABASE, EMPTY_TARGET_ID):
                if project:
                    return  # another project's (or nobody's): not this push's business
                text = f"annotations about a {target} that is not in this database"
            else:
                text = _PUSH_REASONS[reason]
            skipped[text] = skipped.get(text, 0) + 1

        for found in phoenix_items(conn, endpoint, selection, skip):
            yield Pending(
                found.annotation_id, endpoint, found.item, _fingerprint(endpoint, found.item)
            )


# --- push ---------------------------------------------------------------------------------------


def push(
    store: Store,
    client: PhoenixClient,
    *,
    project: str | None = None,
    names: tuple[str, ...] = (),
    annotator: str | None = None,
    dry_run: bool = False,
    batch_size: int = BATCH,
    progress: Progress | None = None,
) -> PushReport:
    """Send what Phoenix does not have yet (see the module doc). Raises PhoenixError for what
    stops the push; what Phoenix confirmed before that stays recorded."""
    started = time.perf_counter()
    seconds_before, requests_before = client.phoenix_seconds, client.request_count
    report = PushReport(url=client.url, dry_run=dry_run)
    conn = store.connection
    sent = _sent_fingerprints(conn, client.url)
    pending: list[Pending] = []
    for candidate in pending_items(
        conn, project=project, names=names, annotator=annotator, skipped=report.skipped
    ):
        if sent.get(candidate.annotation_id) == candidate.fingerprint:
            report.unchanged += 1
        else:
            pending.append(candidate)
    used_names = sorted(
        {
            str(p.item["name"])
            for p in pending
            if p.endpoint in ANNOTATION_ENDPOINTS and p.item.get("name") is not None
        }
    )
    projects = _projects(conn, project)
    if dry_run:
        report.would_send = pending
        report.configs_created = _configs_missing(store, client, used_names)
    else:
        _push_configs(store, client, used_names, projects, report)
        notify = progress or (lambda stage, done, total: None)
        total, done = len(pending), 0
        notify("annotations", 0, total)
        for endpoint in (*ANNOTATION_ENDPOINTS, *NOTE_ENDPOINTS):
            items = [p for p in pending if p.endpoint == endpoint]
            if endpoint in NOTE_ENDPOINTS:
                for item in items:
                    _send_note(conn, client, item, report)
                    done += 1
                    notify("annotations", done, total)
                continue
            for start in range(0, len(items), batch_size):
                batch = items[start : start + batch_size]
                _send_batch(conn, client, endpoint, batch, report)
                done += len(batch)
                notify("annotations", done, total)
    report.seconds = time.perf_counter() - started
    report.phoenix_seconds = client.phoenix_seconds - seconds_before
    report.requests = client.request_count - requests_before
    return report


def _sent_fingerprints(conn: sqlite3.Connection, url: str) -> dict[int, str]:
    # The table is in every file of schema version 2 and later; a version-1 file opened
    # read-only (never upgraded) has not sent anything.
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'phoenix_sent'"
    ).fetchone()
    if not exists:
        return {}
    rows = conn.execute("SELECT annotation_id, fingerprint FROM phoenix_sent WHERE url = ?", (url,))
    return dict(rows.fetchall())


def _projects(conn: sqlite3.Connection, project: str | None) -> list[str]:
    if project:
        return [project]
    return [r[0] for r in conn.execute("SELECT DISTINCT project FROM spans ORDER BY project")]


def record_sent(
    conn: sqlite3.Connection, url: str, confirmed: list[tuple[Pending, str | None]]
) -> None:
    """Mark items as sent (one transaction): what Phoenix confirmed stays confirmed."""
    if not confirmed:
        return
    now = now_iso()
    with write_transaction(conn):
        conn.executemany(
            "INSERT OR REPLACE INTO phoenix_sent (url, annotation_id, endpoint, fingerprint, "
            "phoenix_id, sent_at) VALUES (?, ?, ?, ?, ?, ?)",
            [
                (url, p.annotation_id, p.endpoint, p.fingerprint, phoenix_id, now)
                for p, phoenix_id in confirmed
            ],
        )


def _log_call(client: PhoenixClient, endpoint: str, items: list[dict]) -> list[dict]:
    px = client.px
    if endpoint == "span_annotations":
        result = px.spans.log_span_annotations(span_annotations=items, sync=True)
    elif endpoint == "document_annotations":
        result = px.spans.log_document_annotations(document_annotations=items, sync=True)
    elif endpoint == "trace_annotations":
        result = px.traces.log_trace_annotations(trace_annotations=items, sync=True)
    else:
        result = px.sessions.log_session_annotations(session_annotations=items, sync=True)
    return list(result or [])


def _send_batch(
    conn: sqlite3.Connection,
    client: PhoenixClient,
    endpoint: str,
    batch: list[Pending],
    report: PushReport,
) -> None:
    if not batch:
        return
    what = f"sending {len(batch)} item(s) to /v1/{endpoint}"
    try:
        with client.errors(what):
            inserted = _log_call(client, endpoint, [p.item for p in batch])
    except errors.NotFound as exc:
        missing = _missing_ids(str(exc))
        id_field = _ID_FIELD[_TARGET[endpoint]]
        absent = [p for p in batch if p.item.get(id_field) in missing]
        if absent:
            for target_id in sorted({str(p.item.get(id_field)) for p in absent}):
                if target_id not in report.not_in_phoenix:
                    report.not_in_phoenix.append(target_id)
            _send_batch(conn, client, endpoint, [p for p in batch if p not in absent], report)
            return
        _split(conn, client, endpoint, batch, report, str(exc))
        return
    except errors.Rejected as exc:
        _split(conn, client, endpoint, batch, report, exc.detail)
        return
    ids = [entry.get("id") for entry in inserted]
    if len(ids) != len(batch):
        ids = [None] * len(batch)  # a Phoenix that does not list them: still confirmed (200)
    record_sent(conn, client.url, list(zip(batch, ids, strict=True)))
    report.sent[endpoint] = report.sent.get(endpoint, 0) + len(batch)


def _split(
    conn: sqlite3.Connection,
    client: PhoenixClient,
    endpoint: str,
    batch: list[Pending],
    report: PushReport,
    reason: str,
) -> None:
    """A refused batch: halve it until the refused item is alone, and name it."""
    if len(batch) == 1:
        from annotator.phoenix.connection import _one_line

        report.rejected.append(f"{batch[0].describe()}: Phoenix said: {_one_line(reason)}")
        return
    middle = len(batch) // 2
    _send_batch(conn, client, endpoint, batch[:middle], report)
    _send_batch(conn, client, endpoint, batch[middle:], report)


def _missing_ids(message: str) -> set[str]:
    found = _MISSING_IDS.search(message)
    if not found:
        return set()
    return {part.strip() for part in found.group(1).split(",") if part.strip()}


def _send_note(
    conn: sqlite3.Connection, client: PhoenixClient, pending: Pending, report: PushReport
) -> None:
    endpoint = pending.endpoint
    try:
        answer = client.request(
            "POST", f"/v1/{endpoint}", json=pending.item, what=f"sending a note to /v1/{endpoint}"
        )
    except errors.NotFound:
        target_id = str(pending.item["data"].get(_ID_FIELD[_TARGET[endpoint]]))
        if target_id not in report.not_in_phoenix:
            report.not_in_phoenix.append(target_id)
        return
    except errors.Rejected as exc:
        from annotator.phoenix.connection import _one_line

        report.rejected.append(f"{pending.describe()}: Phoenix said: {_one_line(exc.detail)}")
        return
    phoenix_id = (answer or {}).get("data", {}).get("id") if isinstance(answer, dict) else None
    record_sent(conn, client.url, [(pending, phoenix_id)])
    report.sent[endpoint] = report.sent.get(endpoint, 0) + 1


# --- configs ------------------------------------------------------------------------------------


def _stored_configs(store: Store) -> dict[str, Any]:
    from annotator.config import parse_config

    document = store.load_config_document()
    if not document or not document.get("annotations"):
        return {}
    configs = parse_config(orjson.dumps(document).decode(), f"{store.path} (stored configs)")
    return {config.name: config for config in configs.annotations}


def _phoenix_config(client: PhoenixClient, name: str) -> dict[str, Any] | None:
    try:
        answer = client.request(
            "GET", f"/v1/annotation_configs/{name}", what=f"reading config {name!r}"
        )
    except errors.NotFound:
        return None
    return answer.get("data") if isinstance(answer, dict) else None


def _configs_missing(store: Store, client: PhoenixClient, names: list[str]) -> list[str]:
    configs = _stored_configs(store)
    return [n for n in names if n in configs and _phoenix_config(client, n) is None]


def _comparable(body: dict[str, Any]) -> dict[str, Any]:
    keep = ("type", "description", "optimization_direction", "lower_bound", "upper_bound")
    out = {k: body.get(k) for k in keep}
    for bound in ("lower_bound", "upper_bound"):
        value = out[bound]
        if value is not None:
            out[bound] = float(value)
    values = body.get("values")
    if values is not None:
        out["values"] = [
            (v.get("label"), None if v.get("score") is None else float(v["score"])) for v in values
        ]
    return out


def _push_configs(
    store: Store,
    client: PhoenixClient,
    names: list[str],
    projects: list[str],
    report: PushReport,
) -> None:
    configs = _stored_configs(store)
    for name in names:
        config = configs.get(name)
        if config is None:
            continue  # an annotation without a config (e.g. imported): Phoenix needs none
        body = config.phoenix_body()
        existing = _phoenix_config(client, name)
        if existing is None:
            try:
                existing = client.request(
                    "POST", "/v1/annotation_configs", json=body, what=f"creating config {name!r}"
                )["data"]
                report.configs_created.append(name)
            except errors.Rejected as exc:
                from annotator.phoenix.connection import _one_line

                report.rejected.append(f"config {name!r}: Phoenix said: {_one_line(exc.detail)}")
                continue
        elif _comparable(existing) != _comparable(body):
            report.config_conflicts.append(
                f"{name}: here {orjson.dumps(_comparable(body)).decode()} · Phoenix "
                f"{orjson.dumps(_comparable(existing)).decode()}"
            )
        for project in projects:
            try:
                client.request(
                    "PUT",
                    f"/v1/projects/{project}/annotation_configs/{existing['id']}",
                    what=f"attaching config {name!r} to project {project!r}",
                )
            except errors.NotFound:
                continue  # the project is not in Phoenix (its traces came from files)
            report.configs_attached.append(f"{project}: {name}")
