"""``pull``: a Phoenix project's spans, annotation configs and annotations into the store.

What is read, from where (Phoenix 20.26):

* spans: ``GET /v1/projects/P/spans`` pages in insertion order (``sort=id&order=asc``), so the
  page cursor is a resumable position; with `where`, Phoenix's own span filter (the filter bar's
  language) through GraphQL ``Project.spans(filterCondition:)`` - the only API that takes it -
  for the ids, then the REST spans of each page (``span_id=`` filter, Phoenix >= 19.6). `since`
  is an inclusive lower bound on the span start time (both APIs take one).
* annotation configs: ``GET /v1/projects/P/annotation_configs`` (the configs attached to P).
* annotations of every target, for every span, trace and session of P in the database (not only
  the spans of this pull: annotations made in Phoenix since the last pull arrive too): span
  annotations and span notes (``GET .../span_annotations``, via Phoenix's client), trace and
  session annotations and notes (``GET .../trace_annotations``, ``.../session_annotations``),
  and document annotations through GraphQL ``Span.documentEvaluations`` (REST has no GET).

How it is written: spans through the store's `SpanWriter` (as ``annotator import`` does; the
project name is Phoenix's), one committed page at a time; annotations through
``annotator.annotations_io``'s record reader and the store's batch write path
(``import_annotations``: one transaction per batch, every change logged with action ``import``
and actor ``pull:P``).

* Idempotent: spans already present are left alone; an annotation whose label, score,
  explanation, annotator kind and metadata equal the stored row is not written (so pulling
  again writes and logs nothing).
* Resumable: after each page of spans the position is saved in ``meta`` (key
  ``phoenix_pull:<url>|<project>|<where>|<since>``, JSON); an interrupted pull (killed, Ctrl-C,
  a server gone) continues from there. When every span is in, the position becomes a watermark
  after the last span, so the next pull of the same project and filter asks only for spans
  Phoenix received since (annotations are read again for every span). `limit` caps the spans of
  one call; the next call continues.
* Never overwrites newer local work: when the database holds a different value under the same
  key (target, id, document position, name, identifier) updated later than Phoenix's, the local
  value is kept and the pair is listed as a conflict, as ``annotator merge`` lists them.
  Otherwise Phoenix's value is written (the log keeps the row it replaced).
* Configs: a name the database does not have is added (its target inferred from the pulled
  annotations of that name when they are all trace, session or document annotations: Phoenix
  configs do not say); a name it has with a different definition keeps the local one and is
  listed. A config this program cannot use is listed as a problem and skipped.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from annotator.model import Annotation, Target
from annotator.phoenix import errors
from annotator.phoenix.connection import PhoenixClient
from annotator.store import AnnotationError, AnnotationKey, Store, import_annotations
from annotator.team.merge import AnnotationConflict, Version
from annotator.timeutil import iso_from_any

SPAN_PAGE = 500  # REST allows up to 1000; 500 keeps one page's write short for the app
IDS_PER_REQUEST = 100  # ids in one annotation GET (the URL stays short)
DOCUMENT_SPANS_PER_QUERY = 50  # aliased getSpanByOtelId lookups in one GraphQL query
ANNOTATION_BATCH = 2000  # annotations per write transaction
ACTOR_PREFIX = "pull:"
STATE_PREFIX = "phoenix_pull:"

Progress = Callable[[str, int, "int | None"], None]

_DOCUMENT_FIELDS = (
    "id name annotatorKind label score explanation metadata documentPosition identifier "
    "source createdAt updatedAt"
)
_COUNT_QUERY = """
query ($id: ID!, $filter: String, $timeRange: TimeRange) {
  node(id: $id) { ... on Project { recordCount(filterCondition: $filter, timeRange: $timeRange) } }
}"""
_FILTERED_IDS_QUERY = """
query ($id: ID!, $first: Int!, $after: String, $filter: String, $timeRange: TimeRange) {
  node(id: $id) { ... on Project {
    spans(first: $first, after: $after, filterCondition: $filter, timeRange: $timeRange) {
      edges { node { spanId } }
      pageInfo { endCursor hasNextPage }
    }
  } }
}"""


@dataclass
class PullReport:
    project: str
    url: str
    spans_new: int = 0
    spans_existing: int = 0
    traces: int = 0  # of the project, in the database after the pull
    configs_added: list[str] = field(default_factory=list)
    configs_same: int = 0
    config_conflicts: list[str] = field(default_factory=list)
    annotations_new: int = 0
    annotations_updated: int = 0
    annotations_unchanged: int = 0
    annotations_skipped: int = 0  # about spans/traces/sessions that are not in the database
    conflicts: list[AnnotationConflict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    resumed: bool = False  # continued from a saved position
    complete: bool = False  # every span up to now is in (False: --limit stopped it)
    seconds: float = 0.0
    phoenix_seconds: float = 0.0  # of `seconds`, waiting for Phoenix
    requests: int = 0

    def summary(self) -> str:
        """One line, then conflicts and problems (one line each)."""
        spans = f"{self.spans_new:,} new spans"
        if self.spans_existing:
            spans += f" ({self.spans_existing:,} already present)"
        state = "" if self.complete else " (stopped at --limit: pull again to continue)"
        configs = f"{len(self.configs_added)} config{'s' if len(self.configs_added) != 1 else ''}"
        conflicts = len(self.conflicts) + len(self.config_conflicts)
        lines = [
            f"Pulled {spans}, {configs} and annotations ({self.annotations_new:,} new, "
            f"{self.annotations_updated:,} updated, {self.annotations_unchanged:,} unchanged) "
            f"from project {self.project!r} at {self.url} in {self.seconds:.1f}s{state}; "
            f"{conflicts:,} conflict{'s' if conflicts != 1 else ''}, "
            f"{len(self.problems):,} problem{'s' if len(self.problems) != 1 else ''}."
        ]
        if self.conflicts:
            lines.append("Conflicts (the newer local value is kept):")
            for conflict in self.conflicts:
                lines.append(f"  {conflict.describe_key()}")
                for v in conflict.versions:
                    mark = "  <- kept" if v.won else ""
                    lines.append(f"    {v.source:<7}  {v.updated_at}  {v.describe()}{mark}")
        if self.config_conflicts:
            lines.append("Config conflicts (the local config is kept):")
            lines.extend(f"  {line}" for line in self.config_conflicts)
        lines.extend(self.problems)
        return "\n".join(lines)


def pull(
    store: Store,
    client: PhoenixClient,
    project: str,
    *,
    where: str | None = None,
    since: str | None = None,
    limit: int | None = None,
    progress: Progress | None = None,
) -> PullReport:
    """Pull `project` from Phoenix into `store` (see the module doc). Raises PhoenixError for
    what stops the pull (what was written before it stays, and the next pull continues)."""
    started = time.perf_counter()
    seconds_before, requests_before = client.phoenix_seconds, client.request_count
    report = PullReport(project=project, url=client.url)
    where = (where or "").strip() or None
    since_iso = _since(since)
    info = _project(client, project)
    state = _State(store, client.url, project, where, since_iso)
    report.resumed = state.cursor is not None and not state.finished
    notify = progress or (lambda stage, done, total: None)

    _pull_spans(store, client, project, info["id"], where, since_iso, limit, state, report, notify)
    names_by_target = _pull_annotations(store, client, project, report, notify)
    _pull_configs(store, client, project, names_by_target, report)

    report.seconds = time.perf_counter() - started
    report.phoenix_seconds = client.phoenix_seconds - seconds_before
    report.requests = client.request_count - requests_before
    return report


# --- project, state ----------------------------------------------------------------------------


def _project(client: PhoenixClient, project: str) -> dict[str, Any]:
    what = f"looking up project {project!r}"
    try:
        with client.errors(what):
            return client.px.projects.get(project_name=project)
    except errors.NotFound:
        raise errors.NotFound(
            f"Phoenix at {client.url} has no project named {project!r} (--project)"
        ) from None


def _since(since: str | None) -> str | None:
    if since is None or not str(since).strip():
        return None
    try:
        value = iso_from_any(str(since).strip())
    except (ValueError, OverflowError, TypeError):
        value = None
    if value is None:
        raise errors.BadSettings(
            f"--since {since!r} is not a time (e.g. 2026-07-01 or 2026-07-01T12:00:00Z)"
        )
    return value


class _State:
    """Where the span pull of (url, project, where, since) stands, in the ``meta`` table."""

    def __init__(
        self, store: Store, url: str, project: str, where: str | None, since: str | None
    ) -> None:
        self._store = store
        self.key = STATE_PREFIX + "|".join((url, project, where or "", since or ""))
        raw = store.get_meta(self.key)
        value = orjson.loads(raw) if raw else {}
        self.cursor: str | None = value.get("cursor")
        self.pulled: int = int(value.get("pulled", 0))
        self.finished: bool = bool(value.get("finished", False))

    def save(self, cursor: str | None, pulled: int, finished: bool) -> None:
        self.cursor, self.pulled, self.finished = cursor, pulled, finished
        self._store.set_meta(
            self.key,
            orjson.dumps({"cursor": cursor, "pulled": pulled, "finished": finished}).decode(),
        )


# --- spans -------------------------------------------------------------------------------------


def _time_range(since: str | None) -> dict[str, str] | None:
    return {"start": since} if since else None


def _pull_spans(
    store: Store,
    client: PhoenixClient,
    project: str,
    project_id: str,
    where: str | None,
    since: str | None,
    limit: int | None,
    state: _State,
    report: PullReport,
    notify: Progress,
) -> None:
    total = _count(client, project_id, where, since)
    pulled = state.pulled
    notify("spans", pulled, total)
    this_call = 0

    def page_size() -> int:
        if limit is None:
            return SPAN_PAGE
        return max(0, min(SPAN_PAGE, limit - this_call))

    if where:
        pages = _filtered_pages(client, project, project_id, where, since, state.cursor, page_size)
    else:
        pages = _rest_pages(client, project, since, state.cursor, page_size)
    finished = state.finished and state.cursor is not None
    for spans, next_cursor, finished in pages:
        _write_spans(store, spans, project, report)
        this_call += len(spans)
        pulled += len(spans)
        state.save(next_cursor, pulled, finished)
        notify("spans", pulled, max(total, pulled) if total is not None else None)
    report.complete = finished
    report.traces = store.connection.execute(
        "SELECT count(*) FROM traces WHERE project = ?", (project,)
    ).fetchone()[0]


def _count(
    client: PhoenixClient, project_id: str, where: str | None, since: str | None
) -> int | None:
    """How many spans the pull will have read when done (for progress); None if unknown."""
    try:
        data = client.graphql(
            _COUNT_QUERY,
            {"id": project_id, "filter": where, "timeRange": _time_range(since)},
            what="counting spans",
        )
    except errors.Rejected as exc:
        if where:
            raise errors.Rejected(
                f"--where {where!r}: Phoenix rejected the filter: {exc.detail}",
                exc.status,
                exc.detail,
            ) from None
        return None
    node = data.get("node") or {}
    count = node.get("recordCount")
    return count if isinstance(count, int) else None


def _rowid(global_id: str) -> int | None:
    """The row number in a GraphQL global id (``U3BhbjoxMg==`` = ``Span:12``)."""
    try:
        kind, _, number = base64.b64decode(global_id).decode().partition(":")
        return int(number) if kind == "Span" else None
    except (ValueError, UnicodeDecodeError):
        return None


def _global_id(kind: str, rowid: int) -> str:
    return base64.b64encode(f"{kind}:{rowid}".encode()).decode()


def _rest_pages(
    client: PhoenixClient,
    project: str,
    since: str | None,
    cursor: str | None,
    page_size: Callable[[], int],
) -> Iterator[tuple[list[dict], str | None, bool]]:
    """(spans, position after them, whether Phoenix has no more) per page, oldest first; ends
    early (without the last flag) when `page_size` says 0 (the call's --limit is reached)."""
    last_rowid: int | None = None
    while True:
        size = page_size()
        if size <= 0:
            return
        params: dict[str, Any] = {"limit": size, "sort": "id", "order": "asc"}
        if cursor:
            params["cursor"] = cursor
        if since:
            params["start_time"] = since
        page = client.request(
            "GET",
            f"/v1/projects/{project}/spans",
            params=params,
            what=f"reading spans of {project!r}",
        )
        spans = page.get("data") or []
        rowids = [_rowid(span.get("id", "")) for span in spans]
        for rowid in rowids:
            # A server that ignores sort/order pages newest first: resuming would skip spans.
            if rowid is None or (last_rowid is not None and rowid <= last_rowid):
                raise errors.VersionTooOld(
                    f"reading spans of {project!r}: Phoenix at {client.url} (version "
                    f"{client.version() or 'unknown'}) does not page spans in insertion order "
                    "(sort=id&order=asc); pull needs a newer Phoenix"
                )
            last_rowid = rowid
        next_cursor = page.get("next_cursor")
        if next_cursor:
            yield spans, next_cursor, False
            cursor = next_cursor
            continue
        # The end: a watermark just after the last span, so the next pull reads only newer ones.
        if last_rowid is not None:
            cursor = _global_id("Span", last_rowid + 1)
        yield spans, cursor, True
        return


def _filtered_pages(
    client: PhoenixClient,
    project: str,
    project_id: str,
    where: str,
    since: str | None,
    cursor: str | None,
    page_size: Callable[[], int],
) -> Iterator[tuple[list[dict], str | None, bool]]:
    from phoenix.client.constants.server_requirements import GET_SPANS_SPAN_IDS

    client.require(GET_SPANS_SPAN_IDS, "pull --where")
    while True:
        size = page_size()
        if size <= 0:
            return
        data = client.graphql(
            _FILTERED_IDS_QUERY,
            {
                "id": project_id,
                "first": size,
                "after": cursor,
                "filter": where,
                "timeRange": _time_range(since),
            },
            what=f"--where {where!r}",
        )
        connection = ((data.get("node") or {}).get("spans")) or {}
        ids = [edge["node"]["spanId"] for edge in connection.get("edges", [])]
        info = connection.get("pageInfo") or {}
        spans: list[dict] = []
        if ids:
            page = client.request(
                "GET",
                f"/v1/projects/{project}/spans",
                params={"span_id": ids, "limit": len(ids)},
                what=f"reading spans of {project!r}",
            )
            spans = page.get("data") or []
        more = bool(info.get("hasNextPage"))
        cursor = info.get("endCursor") or cursor
        yield spans, cursor, not more
        if not more:
            return


def _write_spans(store: Store, records: list[dict], project: str, report: PullReport) -> None:
    from annotator.readers import decode_phoenix_span as decode_record

    writer = store.span_writer()
    try:
        for index, record in enumerate(records):
            try:
                writer.add(decode_record(record, project))
            except Exception as exc:
                span_id = (
                    ((record.get("context") or {}).get("span_id"))
                    if isinstance(record, dict)
                    else None
                )
                report.problems.append(
                    f"{project}: span {span_id or f'#{index}'}: {_one_line(str(exc))}: skipped"
                )
        result = writer.close()
    except BaseException:
        writer.abort()
        raise
    report.spans_new += result.new
    report.spans_existing += result.existing
    report.problems.extend(
        f"{project}: {line}" for line in (*result.conflicts, *result.tree_problems)
    )


# --- annotations -------------------------------------------------------------------------------


def _local_targets(store: Store, project: str) -> tuple[list[str], list[str], list[str], list[str]]:
    """The project's span, document-holding span, trace and session ids, each sorted."""

    def ids(sql: str) -> list[str]:
        return [row[0] for row in store.connection.execute(sql, (project,))]

    return (
        ids("SELECT span_id FROM spans WHERE project = ? ORDER BY span_id"),
        ids("SELECT span_id FROM spans WHERE project = ? AND document_count > 0 ORDER BY span_id"),
        ids("SELECT trace_id FROM traces WHERE project = ? ORDER BY trace_id"),
        ids(
            "SELECT DISTINCT session_id FROM traces WHERE project = ? AND session_id IS NOT NULL "
            "ORDER BY session_id"
        ),
    )


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _pull_annotations(
    store: Store, client: PhoenixClient, project: str, report: PullReport, notify: Progress
) -> dict[str, set[str]]:
    """Read and write every annotation; returns the targets each annotation name was seen on."""
    spans, documents, traces, sessions = _local_targets(store, project)
    total = (
        -(-len(spans) // IDS_PER_REQUEST)
        + -(-len(documents) // DOCUMENT_SPANS_PER_QUERY)
        + -(-len(traces) // IDS_PER_REQUEST)
        + -(-len(sessions) // IDS_PER_REQUEST)
    )
    done = 0
    notify("annotations", 0, total)
    writer = _AnnotationWriter(store, project, report)

    def step(records: Iterable[dict]) -> None:
        nonlocal done
        writer.add(records)
        done += 1
        notify("annotations", done, total)

    for chunk in _chunks(spans, IDS_PER_REQUEST):
        step(_span_annotations(client, project, chunk))
    for chunk in _chunks(documents, DOCUMENT_SPANS_PER_QUERY):
        step(_document_annotations(client, chunk))
    for chunk in _chunks(traces, IDS_PER_REQUEST):
        step(_listed(client, project, "trace", chunk))
    for chunk in _chunks(sessions, IDS_PER_REQUEST):
        step(_listed(client, project, "session", chunk))
    writer.flush()
    _record_in_sync(store, client, project, writer.in_sync)
    return writer.names_by_target


def _record_in_sync(
    store: Store, client: PhoenixClient, project: str, in_sync: dict[Any, str | None]
) -> None:
    """What Phoenix now has exactly as stored here is marked as sent to this Phoenix."""
    from annotator.phoenix.pushing import pending_items, record_sent

    if not in_sync:
        return
    ids = {}
    for key, phoenix_id in in_sync.items():
        found = store.find_annotation(key)
        if found is not None and found.id is not None:
            ids[found.id] = phoenix_id
    confirmed = [
        (item, ids[item.annotation_id])
        for item in pending_items(store.connection, project=project)
        if item.annotation_id in ids
    ]
    record_sent(store.connection, client.url, confirmed)


def _none_in_project(exc: errors.NotFound) -> bool:
    # Phoenix answers 404 when none of the ids asked about are in the project (spans that came
    # from a file under the same project name): there is nothing to read for them.
    return "None of the supplied" in str(exc) or "do not exist" in str(exc)


def _span_annotations(client: PhoenixClient, project: str, span_ids: list[str]) -> list[dict]:
    what = f"reading span annotations of {project!r}"
    try:
        with client.errors(what):
            # exclude nothing: Phoenix's client hides notes by default, a pull wants them
            return list(
                client.px.spans.get_span_annotations(
                    span_ids=span_ids,
                    project_identifier=project,
                    exclude_annotation_names=[],
                    limit=1000,
                )
            )
    except errors.NotFound as exc:
        if _none_in_project(exc):
            return []
        raise


def _listed(client: PhoenixClient, project: str, target: str, ids: list[str]) -> list[dict]:
    """Trace or session annotations (Phoenix's client has no reader for these)."""
    records: list[dict] = []
    pages = _pages(
        client,
        f"/v1/projects/{project}/{target}_annotations",
        {f"{target}_ids": ids, "limit": 1000},
        f"reading {target} annotations of {project!r}",
    )
    try:
        for data in pages:
            records.extend(data)
    except errors.NotFound as exc:
        if not _none_in_project(exc):
            raise
    return records


def _pages(
    client: PhoenixClient, path: str, params: dict[str, Any], what: str
) -> Iterator[list[dict]]:
    """Each page's records of one of Phoenix's cursor-paged lists, to the last page."""
    cursor: str | None = None
    while True:
        page = client.request(
            "GET", path, params={**params, "cursor": cursor} if cursor else params, what=what
        )
        yield page.get("data") or []
        cursor = page.get("next_cursor")
        if not cursor:
            return


def _document_annotations(client: PhoenixClient, span_ids: list[str]) -> list[dict]:
    aliases = "\n".join(
        f"s{i}: getSpanByOtelId(spanId: {orjson.dumps(span_id).decode()}) "
        f"{{ spanId documentEvaluations {{ {_DOCUMENT_FIELDS} }} }}"
        for i, span_id in enumerate(span_ids)
    )
    data = client.graphql(f"query {{\n{aliases}\n}}", {}, what="reading document annotations")
    records = []
    for i in range(len(span_ids)):
        span = data.get(f"s{i}")
        if not span:
            continue
        for item in span.get("documentEvaluations") or []:
            records.append(
                {
                    "span_id": span["spanId"],
                    "document_position": item.get("documentPosition"),
                    "name": item.get("name"),
                    "annotator_kind": item.get("annotatorKind"),
                    "result": {
                        "label": item.get("label"),
                        "score": item.get("score"),
                        "explanation": item.get("explanation"),
                    },
                    "metadata": item.get("metadata") or {},
                    "identifier": item.get("identifier") or "",
                    "created_at": item.get("createdAt"),
                    "updated_at": item.get("updatedAt"),
                }
            )
    return records


_COMPARED = ("label", "score", "explanation", "annotator_kind", "metadata")


class _AnnotationWriter:
    """Phoenix records -> annotations, checked against the database, written in batches."""

    def __init__(self, store: Store, project: str, report: PullReport) -> None:
        self._store = store
        self._project = project
        self._report = report
        self._pending: list[Annotation] = []
        self._seen: set[AnnotationKey] = set()
        self.names_by_target: dict[str, set[str]] = {}
        # Keys whose local value now equals Phoenix's, with Phoenix's id: recorded as sent, so
        # that a push does not send back what came from this Phoenix.
        self.in_sync: dict[Any, str | None] = {}
        self._phoenix_ids: dict[Any, str | None] = {}
        conn = store.connection
        self._spans = {
            row[0]: row[1]
            for row in conn.execute(
                "SELECT span_id, document_count FROM spans WHERE project = ?", (project,)
            )
        }
        self._traces = {
            row[0]
            for row in conn.execute("SELECT trace_id FROM traces WHERE project = ?", (project,))
        }
        self._sessions = {
            row[0]
            for row in conn.execute(
                "SELECT DISTINCT session_id FROM traces "
                "WHERE project = ? AND session_id IS NOT NULL",
                (project,),
            )
        }

    def add(self, records: Iterable[dict]) -> None:
        from annotator.annotations_io import Defaults, to_annotation
        from annotator.readers import BadRecord

        for record in records:
            try:
                annotation, _ = to_annotation(record, Defaults())
                key = AnnotationKey.of(annotation)
            except (BadRecord, AnnotationError) as exc:
                self._report.problems.append(
                    f"{self._project}: annotation {record.get('id') or record.get('name')!r}: "
                    f"{_one_line(str(exc))}: skipped"
                )
                continue
            except Exception as exc:
                self._report.problems.append(
                    f"{self._project}: annotation {record.get('id')!r}: "
                    f"{type(exc).__name__}: skipped"
                )
                continue
            if key in self._seen:
                continue  # Phoenix pages can repeat a record when they shift under us
            self._seen.add(key)
            if not self._known(annotation):
                self._report.annotations_skipped += 1
                continue
            self.names_by_target.setdefault(annotation.name, set()).add(str(annotation.target))
            self._phoenix_ids[key] = record.get("id") if isinstance(record.get("id"), str) else None
            self._pending.append(annotation)
        if len(self._pending) >= ANNOTATION_BATCH:
            self.flush()

    def _known(self, annotation: Annotation) -> bool:
        if annotation.target in (Target.SPAN, Target.DOCUMENT):
            count = self._spans.get(str(annotation.span_id))
            if count is None:
                return False
            position = annotation.document_position
            if annotation.target == Target.DOCUMENT and position is not None and position >= count:
                self._report.problems.append(
                    f"{self._project}: span {annotation.span_id} has no document {position} "
                    f"(it has {count}): annotation {annotation.name!r} skipped"
                )
                return False
            return True
        if annotation.target == Target.TRACE:
            return annotation.trace_id in self._traces
        return annotation.session_id in self._sessions

    def flush(self) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        writes: list[Annotation] = []
        for incoming in batch:
            local = self._store.find_annotation(AnnotationKey.of(incoming))
            key = AnnotationKey.of(incoming)
            if local is not None and all(
                _same(getattr(local, f), getattr(incoming, f)) for f in _COMPARED
            ):
                self._report.annotations_unchanged += 1
                self.in_sync[key] = self._phoenix_ids.get(key)
                continue
            if local is not None and (local.updated_at or "") > (incoming.updated_at or ""):
                self._report.conflicts.append(_conflict(local, incoming))
                continue
            self.in_sync[key] = self._phoenix_ids.get(key)
            writes.append(incoming)
        if writes:
            counts = import_annotations(
                self._store.connection, writes, actor=ACTOR_PREFIX + self._project
            )
            self._report.annotations_new += counts.new
            self._report.annotations_updated += counts.updated
            self._report.annotations_unchanged += counts.unchanged


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and float(a) == float(b)
    return a == b


def _conflict(local: Annotation, incoming: Annotation) -> AnnotationConflict:
    def version(annotation: Annotation, source: str, won: bool) -> Version:
        return Version(
            source=source,
            label=annotation.label,
            score=annotation.score,
            explanation=annotation.explanation,
            annotator_kind=annotation.annotator_kind,
            updated_at=annotation.updated_at or "",
            won=won,
        )

    return AnnotationConflict(
        key=AnnotationKey.of(local),
        versions=(version(local, "local", True), version(incoming, "phoenix", False)),
    )


# --- configs -----------------------------------------------------------------------------------

_PHOENIX_CONFIG_FIELDS = (
    "name", "type", "description", "optimization_direction", "values", "lower_bound",
    "upper_bound",
)  # fmt: skip


def _pull_configs(
    store: Store,
    client: PhoenixClient,
    project: str,
    names_by_target: dict[str, set[str]],
    report: PullReport,
) -> None:
    from annotator.config import ConfigError, parse_config

    configs: list[dict[str, Any]] = []
    for data in _pages(
        client,
        f"/v1/projects/{project}/annotation_configs",
        {"limit": 100},
        f"reading the annotation configs of {project!r}",
    ):
        configs.extend(data)
    if not configs:
        return
    stored = store.load_config_document()
    document: dict[str, Any] = dict(stored) if stored else {"annotations": []}
    document["annotations"] = list(document.get("annotations") or [])
    where = f"{store.path} (stored configs)"
    current = (
        parse_config(orjson.dumps(document).decode(), where) if document["annotations"] else None
    )
    changed = False
    for raw in configs:
        name = raw.get("name")
        body = {k: raw[k] for k in _PHOENIX_CONFIG_FIELDS if raw.get(k) is not None}
        targets = names_by_target.get(str(name), set())
        if len(targets) == 1 and next(iter(targets)) != Target.SPAN:
            body["target"] = next(iter(targets))
        local = current.by_name(str(name)) if current is not None else None
        try:
            pulled = parse_config(
                orjson.dumps({"annotations": [body]}).decode(), f"Phoenix config {name!r}"
            ).annotations[0]
        except ConfigError as exc:
            report.problems.append(
                f"{project}: config {name!r} from Phoenix: {_one_line(str(exc))}: skipped"
            )
            continue
        if local is not None:
            if local.phoenix_body() == pulled.phoenix_body():
                report.configs_same += 1
            else:
                report.config_conflicts.append(
                    f"{name}: local {_brief(local.phoenix_body())} · Phoenix "
                    f"{_brief(pulled.phoenix_body())}"
                )
            continue
        candidate = {**document, "annotations": [*document["annotations"], pulled.to_document()]}
        try:
            current = parse_config(orjson.dumps(candidate).decode(), where)
        except ConfigError as exc:
            report.problems.append(
                f"{project}: config {name!r} from Phoenix does not fit the stored configs: "
                f"{_one_line(str(exc))}: skipped"
            )
            continue
        document = candidate
        report.configs_added.append(str(name))
        changed = True
    if changed and current is not None:
        store.save_config_document(current.to_document())


def _brief(body: dict[str, Any]) -> str:
    return _one_line(orjson.dumps({k: v for k, v in body.items() if k != "name"}).decode(), 160)


def _one_line(text: str, limit: int = 240) -> str:
    from annotator.readers import one_line
    from annotator.text import sanitize

    return sanitize(one_line(text, limit))


def state_keys(store: Store) -> list[str]:
    """The saved pull positions (for `annotator pull --restart` and tests)."""
    rows = store.connection.execute(
        "SELECT key FROM meta WHERE key LIKE ? ORDER BY key", (STATE_PREFIX + "%",)
    )
    return [row[0] for row in rows]
