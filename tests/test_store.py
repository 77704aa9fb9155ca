"""The SQLite store: schema, versions, span ingestion, annotation writes, log, undo/redo."""

from __future__ import annotations

import hashlib
import itertools
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from annotator.model import Annotation, Span
from annotator.store import SCHEMA_VERSION, AnnotationError, AnnotationKey, Store, StoreError
from annotator.store import spans as span_store
from annotator.store.db import APPLICATION_ID, close_connection, connect, ensure_schema
from annotator.store.schema import MIGRATIONS

_clock = itertools.count()


def _span(span_id: str, trace_id: str, parent: str | None, **extra) -> Span:
    """Spans start one millisecond apart, in the order the test creates them."""
    moment = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(milliseconds=next(_clock))
    extra.setdefault("start_time", moment.isoformat(timespec="microseconds"))
    return Span(span_id, trace_id, parent, extra.pop("name", span_id), **extra)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    with Store.open(tmp_path / "a.db") as opened:
        writer = opened.span_writer()
        writer.add_all(
            [
                _span("root", "t1", None, span_kind="CHAIN", session_id="s1"),
                _span("llm", "t1", "root", span_kind="LLM", status_code="ERROR"),
                _span(
                    "retr",
                    "t1",
                    "root",
                    span_kind="RETRIEVER",
                    attributes={"retrieval": {"documents": [{"document": {"id": "d"}}] * 3}},
                ),
                _span("other", "t2", None, span_kind="LLM"),
            ]
        )
        writer.close()
        yield opened


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- opening, versions, migrations ---------------------------------------------------------------


def test_new_database_has_current_schema_wal_and_busy_timeout(tmp_path: Path) -> None:
    with Store.open(tmp_path / "new.db") as store:
        conn = store.connection
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 10_000
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"spans", "traces", "annotations", "annotation_configs", "annotation_log"} <= tables


def test_newer_database_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    with Store.open(path):
        pass
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.close()
    before = _file_digest(path)
    with pytest.raises(StoreError, match="newer annotator"):
        Store.open(path)
    assert _file_digest(path) == before


def test_older_database_is_upgraded_in_place_keeping_its_data(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = connect(path)
    ensure_schema(conn, path)  # today's schema plays "the old version" here
    conn.execute(
        "INSERT INTO annotations (target, span_id, name, label, annotator_kind, source, "
        "created_at, updated_at) VALUES ('span', 's', 'q', 'good', 'HUMAN', 'APP', 'x', 'x')"
    )
    next_version = [*MIGRATIONS, "ALTER TABLE annotations ADD COLUMN reviewed INTEGER DEFAULT 0;"]
    ensure_schema(conn, path, migrations=next_version)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(next_version)
    assert conn.execute("SELECT label, reviewed FROM annotations").fetchall() == [("good", 0)]
    ensure_schema(conn, path, migrations=next_version)  # idempotent
    close_connection(conn)


def test_a_new_database_is_made_in_one_transaction(tmp_path: Path) -> None:
    """Every migration in one commit (a new file is not upgraded step by step); one that fails
    leaves the file as blank as it found it."""
    path = tmp_path / "new.db"
    conn = connect(path)
    broken = [*MIGRATIONS, "CREATE TABLE extra (x);\nTHIS IS NOT SQL;"]
    with pytest.raises(sqlite3.OperationalError):
        ensure_schema(conn, path, migrations=broken)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    ensure_schema(conn, path)
    conn.set_trace_callback(None)
    assert [s for s in statements if s in ("BEGIN IMMEDIATE", "COMMIT")] == [
        "BEGIN IMMEDIATE",
        "COMMIT",
    ]
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    close_connection(conn)


def _schema(path: Path) -> tuple[list[tuple[str, str, str, str]], int, int]:
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        application_id = conn.execute("PRAGMA application_id").fetchone()[0]
    finally:
        conn.close()
    return sorted(rows, key=repr), version, application_id


def test_a_new_database_gets_the_schema_the_migrations_leave(tmp_path: Path) -> None:
    """A new file is made with NEW_DATABASE, not by replaying version 3's move of the log (an
    ALTER TABLE RENAME and a DROP TABLE, which re-read and rewrite the whole schema), and in
    rollback-journal mode, switched to WAL only once made (its pages written once, not into
    the -wal and again at close). The schema is the one a file upgraded step by step has."""
    new = tmp_path / "new.db"
    conn = connect(new)
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    ensure_schema(conn, new)
    conn.set_trace_callback(None)
    close_connection(conn)
    moves = [s for s in statements if s.startswith(("ALTER TABLE", "DROP TABLE", "INSERT INTO a"))]
    assert moves == [], moves
    assert statements.index("COMMIT") < statements.index("PRAGMA journal_mode = WAL"), statements

    stepped = tmp_path / "stepped.db"
    conn = connect(stepped)
    for version in range(1, SCHEMA_VERSION + 1):
        ensure_schema(conn, stepped, migrations=MIGRATIONS[:version])
    close_connection(conn)
    made, upgraded = _schema(new), _schema(stepped)
    assert made == upgraded
    assert made[1:] == (SCHEMA_VERSION, APPLICATION_ID)


def test_failed_migration_rolls_back(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = connect(path)
    ensure_schema(conn, path)
    broken = [*MIGRATIONS, "ALTER TABLE annotations ADD COLUMN ok INTEGER;\nTHIS IS NOT SQL;"]
    with pytest.raises(sqlite3.OperationalError):
        ensure_schema(conn, path, migrations=broken)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    columns = [r[1] for r in conn.execute("PRAGMA table_info(annotations)")]
    close_connection(conn)
    assert "ok" not in columns


@pytest.mark.parametrize(
    "content, message",
    [
        (b"this is a text file, not a database\n" * 100, "not"),
        (b"\x00\x01\x02garbage" * 500, "not"),
    ],
)
def test_non_database_files_give_one_line(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.db"
    path.write_bytes(content)
    with pytest.raises(StoreError) as error:
        Store.open(path)
    assert str(path) in str(error.value) and "\n" not in str(error.value)
    assert path.read_bytes() == content


def test_foreign_sqlite_database_is_not_touched(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE customers (id INTEGER)")
    conn.commit()
    conn.close()
    before = _file_digest(path)
    with pytest.raises(StoreError, match="did not create"):
        Store.open(path)
    assert _file_digest(path) == before


def _other_application_db(path: Path, *pragmas: str, wal: bool = False) -> Path:
    conn = sqlite3.connect(path)
    if wal:
        conn.execute("PRAGMA journal_mode = WAL")
    for pragma in pragmas:
        conn.execute(pragma)
    conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO users (name) VALUES ('ada')")
    conn.commit()
    conn.close()
    return path


@pytest.mark.parametrize(
    "pragmas, wal, shown",
    [
        (["PRAGMA user_version = 1"], False, "user_version 1; tables users"),
        (["PRAGMA user_version = -5"], False, "user_version -5; tables users"),
        (["PRAGMA user_version = 1"], True, "user_version 1; tables users"),
        (["PRAGMA application_id = 1196444487"], False, "application_id 0x47504b47 'GPKG'"),
    ],
)
@pytest.mark.parametrize("readonly", [False, True])
def test_another_applications_database_is_left_byte_for_byte(
    tmp_path: Path, pragmas: list[str], wal: bool, shown: str, readonly: bool
) -> None:
    """Recognised positively (application_id), before SQLite writes anything: never switched
    to WAL, nothing created beside it, one line saying what it is."""
    path = _other_application_db(tmp_path / "app.db", *pragmas, wal=wal)
    before = _file_digest(path)
    with pytest.raises(StoreError) as error:
        Store.open(path, readonly=readonly)
    message = str(error.value)
    assert message.startswith(f"{path}: a SQLite database that annotator did not create (")
    assert shown in message and "left unchanged" in message and "\n" not in message
    assert _file_digest(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.db"]


@pytest.mark.parametrize("make", ["zero bytes", "sqlite without tables"])
def test_an_empty_file_is_ours_to_create(tmp_path: Path, make: str) -> None:
    path = tmp_path / "new.db"
    if make == "zero bytes":
        path.touch()
    else:
        sqlite3.connect(path).execute("VACUUM").connection.close()  # a valid, empty database
    with Store.open(path) as store:
        assert store.connection.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    with Store.open(path, readonly=True) as store:
        assert store.counts()["spans"] == 0


def test_missing_directory_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        Store.open(tmp_path / "nope" / "a.db")


# --- spans and traces ----------------------------------------------------------------------------


def test_trace_summary(store: Store) -> None:
    trace = store.trace("t1")
    assert trace is not None
    assert (trace.root_span_id, trace.span_count, trace.error_count) == ("root", 3, 1)
    assert trace.session_id == "s1"
    assert next(row.span_id for row in store.span_rows("t1")) == "root"
    retriever = next(row for row in store.span_rows("t1") if row.span_id == "retr")
    assert retriever.document_count == 3
    assert store.counts() == {"spans": 4, "traces": 2, "sessions": 1, "annotations": 0}


def test_reimport_is_idempotent(store: Store) -> None:
    writer = store.span_writer()
    writer.add_all([_span("root", "t1", None), _span("llm", "t1", "root")])
    result = writer.close()
    assert (result.new, result.existing, result.conflicts) == (0, 2, [])
    assert store.counts()["spans"] == 4


def test_span_id_reused_by_another_trace_is_reported(store: Store) -> None:
    writer = store.span_writer()
    writer.add(_span("root", "t-other", None))
    result = writer.close()
    assert result.new == 0 and len(result.conflicts) == 1
    assert "already belongs to trace t1" in result.conflicts[0]


def test_orphans_are_flagged_and_adopted_when_the_parent_arrives(tmp_path: Path) -> None:
    with Store.open(tmp_path / "o.db") as store:
        writer = store.span_writer()
        writer.add(_span("child", "t", "parent"))
        writer.close()
        assert store.span_rows("t")[0].orphan == 1
        assert store.trace("t").root_span_id == "child"
        writer = store.span_writer()
        writer.add(_span("parent", "t", None))
        writer.close()
        rows = {row.span_id: row for row in store.span_rows("t")}
        assert rows["child"].orphan == 0 and store.trace("t").root_span_id == "parent"
        assert store.trace("t").orphan_count == 0


def test_parent_cycles_are_broken_and_reported(tmp_path: Path) -> None:
    with Store.open(tmp_path / "c.db") as store:
        writer = store.span_writer()
        writer.add_all([_span("a", "t", "c"), _span("bb", "t", "a"), _span("ccc", "t", "bb")])
        writer.add(_span("c", "t", "ccc"))  # a -> c -> ccc -> bb -> a
        result = writer.close()
        assert len(result.tree_problems) == 1 and "cycle" in result.tree_problems[0]
        flagged = [row.span_id for row in store.span_rows("t") if row.orphan]
        assert flagged == ["a"]  # the earliest span of the cycle is shown at the top


def test_large_import_commits_in_chunks_and_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The import's batch and commit sizes scaled down 30 and 20 times, the spans 10 times: the
    # same batches a commit, and commits that fall inside a trace, for a tenth of the rows.
    monkeypatch.setattr(span_store, "BATCH_SIZE", 64)
    monkeypatch.setattr(span_store, "COMMIT_EVERY", 1_000)
    with Store.open(tmp_path / "big.db") as store:
        statements: list[str] = []
        store.connection.set_trace_callback(statements.append)
        writer = store.span_writer()
        for i in range(2_500):
            writer.add(_span(f"s{i}", f"t{i // 10}", None if i % 10 == 0 else f"s{i - i % 10}"))
        result = writer.close()
        store.connection.set_trace_callback(None)
        assert statements.count("COMMIT") == 3  # after 1,024 and 2,048 spans, and the rest
        assert result.new == 2_500 and len(result.trace_ids) == 250
        assert store.counts()["traces"] == 250
        sizes = store.connection.execute("SELECT DISTINCT span_count FROM traces").fetchall()
        assert sizes == [(10,)]  # t102 and t204 were committed in two parts
        assert store.integrity_check() == "ok"


def test_a_batch_of_spans_is_stored_by_one_statement(tmp_path: Path) -> None:
    """A batch reaches `spans` (and, by its trigger, the search index) in one INSERT ... SELECT,
    not one INSERT a span: row by row, FTS5 wrote a segment at each statement's end (SQLite
    reports its writes to the trace callback as `-- ` statements). The rows,
    their order, the skipped duplicates (in the batch and already stored) and the index are as
    they were."""
    with Store.open(tmp_path / "a.db") as store:
        writer = store.span_writer()
        writer.add_all([_span("old", "t0", None, name="stored before")])
        writer.close()
        statements: list[str] = []
        store.connection.set_trace_callback(statements.append)
        writer = store.span_writer()
        spans = [
            _span(f"s{i}", "t1", None if i == 0 else "s0", name=f"step {i}") for i in range(40)
        ]
        writer.add_all([*spans, spans[3], _span("old", "t0", None, name="stored before")])
        result = writer.close()
        store.connection.set_trace_callback(None)
        # The index's blocks written: 3 for the batch (its segment, the structure, the
        # averages); row by row it was 122 for these 40 spans.
        blocks = [
            s for s in statements if s.startswith("-- REPLACE INTO 'main'.'span_search_data'")
        ]
        assert len(blocks) <= 5, len(blocks)
        assert (result.new, result.existing, result.conflicts) == (40, 2, [])
        order = store.connection.execute("SELECT span_id FROM spans ORDER BY rowid").fetchall()
        assert [row[0] for row in order] == ["old", *(f"s{i}" for i in range(40))]
        found = store.connection.execute(
            "SELECT count(*) FROM span_search WHERE span_search MATCH 'step'"
        ).fetchone()[0]
        assert found == 40
        assert store.counts()["spans"] == 41
        assert store.integrity_check() == "ok"


# --- annotations ---------------------------------------------------------------------------------


def test_annotation_upsert_by_key_and_context(store: Store) -> None:
    first = store.set_annotation(
        Annotation(name="q", span_id="llm", label="good", identifier="ann")
    )
    assert (first.trace_id, first.session_id) == ("t1", None)
    second = store.set_annotation(
        Annotation(name="q", span_id="llm", label="bad", identifier="ann")
    )
    assert second.id == first.id and second.created_at == first.created_at
    other = store.set_annotation(
        Annotation(name="q", span_id="llm", label="good", identifier="bob")
    )
    assert other.id != first.id
    rows = store.connection.execute(
        "SELECT identifier, label FROM annotations ORDER BY 1"
    ).fetchall()
    assert rows == [("ann", "bad"), ("bob", "good")]


def test_unique_index_enforces_the_key(store: Store) -> None:
    store.set_annotation(Annotation(name="q", span_id="llm", label="good", identifier="ann"))
    with pytest.raises(sqlite3.IntegrityError):
        store.connection.execute(
            "INSERT INTO annotations (target, span_id, name, identifier, annotator_kind, source, "
            "created_at, updated_at) VALUES ('span', 'llm', 'q', 'ann', 'HUMAN', 'APP', 'x', 'x')"
        )


def test_each_target_keys_on_its_own_id(store: Store) -> None:
    store.set_annotation(
        Annotation(name="q", target="trace", trace_id="t1", label="a", identifier="x")
    )
    store.set_annotation(
        Annotation(name="q", target="session", session_id="s1", label="b", identifier="x")
    )
    for position in range(3):
        store.set_annotation(
            Annotation(
                name="rel",
                target="document",
                span_id="retr",
                document_position=position,
                label="r",
                identifier="x",
            )
        )
    assert len(store.annotations_on_span("retr")) == 3
    assert store.annotations_on_trace("t1")[0].label == "a"
    assert store.annotations_on_session("s1")[0].label == "b"


@pytest.mark.parametrize(
    "annotation",
    [
        Annotation(name="q", target="span"),
        Annotation(name="q", target="trace", span_id="x"),
        Annotation(name="q", target="document", span_id="x"),
        Annotation(name="q", target="span", span_id="x", document_position=1),
    ],
)
def test_incomplete_annotations_are_refused(store: Store, annotation: Annotation) -> None:
    with pytest.raises(AnnotationError):
        store.set_annotation(annotation)
    assert store.counts()["annotations"] == 0


def test_writes_and_deletes_are_logged_with_before_and_after(store: Store) -> None:
    store.set_annotation(Annotation(name="q", span_id="llm", label="good", identifier="ann"))
    store.set_annotation(
        Annotation(name="q", span_id="llm", label="good", identifier="ann")
    )  # no-op
    store.set_annotation(Annotation(name="q", span_id="llm", label="bad", identifier="ann"))
    key = AnnotationKey("span", "llm", None, "q", "ann")
    assert store.delete_annotation(key).label == "bad"
    assert store.delete_annotation(key) is None
    log = store.connection.execute(
        "SELECT action, json_extract(before, '$.label'), json_extract(after, '$.label') "
        "FROM annotation_log ORDER BY seq"
    ).fetchall()
    assert log == [("set", None, "good"), ("set", "good", "bad"), ("delete", "bad", None)]
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        store.connection.execute("UPDATE annotation_log SET actor = 'x'")


def test_undo_redo_walks_history_and_survives_restart(tmp_path: Path, store: Store) -> None:
    put = lambda label: store.set_annotation(  # noqa: E731
        Annotation(name="q", span_id="llm", label=label, identifier="ann")
    )
    put("a"), put("b"), put("c")
    assert store.undo("ann").after.label == "b"
    path = store.path
    store.close()
    with Store.open(path) as reopened:
        assert reopened.undo("ann").after.label == "a"
        change = reopened.undo("ann")
        assert change.after is None and change.before.label == "a"  # first write undone: gone
        assert reopened.undo("ann") is None
        assert reopened.redo("ann").after.label == "a"
        assert reopened.redo("ann").after.label == "b"
        # A new change clears the redo stack.
        reopened.set_annotation(Annotation(name="q", span_id="llm", label="z", identifier="ann"))
        assert reopened.redo("ann") is None
        assert reopened.undo("ann").after.label == "b"
        assert reopened.integrity_check() == "ok"


def test_undo_is_per_annotator(store: Store) -> None:
    store.set_annotation(Annotation(name="q", span_id="llm", label="mine", identifier="ann"))
    store.set_annotation(Annotation(name="q", span_id="llm", label="theirs", identifier="bob"))
    assert store.undo("ann").before.label == "mine"
    assert [a.label for a in store.annotations_on_span("llm")] == ["theirs"]


def test_undo_of_a_delete_restores_the_row(store: Store) -> None:
    original = store.set_annotation(
        Annotation(
            name="q", span_id="llm", label="keep", identifier="ann", metadata={"seconds_spent": 3.5}
        )
    )
    store.delete_annotation(AnnotationKey.of(original))
    restored = store.undo("ann").after
    assert (restored.id, restored.label, restored.metadata) == (
        original.id,
        "keep",
        {"seconds_spent": 3.5},
    )
    assert restored.created_at == original.created_at


def test_attributes_nested_deeper_than_orjson_allows_are_still_stored(tmp_path: Path) -> None:
    nested: dict = {"leaf": "[bold"}
    for _ in range(400):
        nested = {"d": nested}
    with Store.open(tmp_path / "deep.db") as store:
        writer = store.span_writer()
        writer.add(_span("deep", "t", None, attributes={"metadata": nested}))
        result = writer.close()
        assert result.new == 1 and result.conflicts == []
        span = store.get_span("deep")
        depth, node = 0, span.attributes["metadata"]
        while "d" in node:
            node, depth = node["d"], depth + 1
        assert (depth, node) == (400, {"leaf": "[bold"})


def test_the_demo_database_is_built_once_a_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """tests/app_data.build_db (~80 callers, many of them fixtures run for every test) copies
    one demo database built once a process; into an existing file it still imports."""
    from tests import app_data

    app_data.build_db(tmp_path / "first.db")  # built here, or earlier in this process
    opened: list[Path] = []
    real_open = Store.open

    def counting(path: Path, **kwargs: bool) -> Store:
        opened.append(Path(path))
        return real_open(path, **kwargs)

    monkeypatch.setattr(Store, "open", counting)
    second = app_data.build_db(tmp_path / "second.db")
    assert opened == []
    assert second.read_bytes() == (tmp_path / "first.db").read_bytes()
    with real_open(second, readonly=True) as store:
        assert store.counts()["spans"] == len(app_data.demo_spans())
    app_data.build_db(second, [_span("extra", "t9", None)])
    assert opened == [second]
