"""The SQLite store: schema, span ingestion, annotation writes with their log, queue queries.

Everything outside this package uses these names (never ``annotator.store.<module>``): `Store`
for the app, the commands and the importers; the rest for annotator's own set-based core code
(merge, stats, export), which works on `Store.connection` and writes annotations only through
`AnnotationBatch` / `import_annotations`, so that every change is logged.
"""

from annotator.store.annotations import (
    COLUMNS as ANNOTATION_COLUMNS,
)
from annotator.store.annotations import (
    AnnotationBatch,
    AnnotationError,
    AnnotationKey,
    Change,
    ImportCounts,
    import_annotations,
)
from annotator.store.annotations import (
    find as find_annotation,
)
from annotator.store.db import (
    APPLICATION_ID,
    BUSY_TIMEOUT_MS,
    NEW,
    OURS,
    LockTimeout,
    StoreError,
    busy_timeout_ms,
    close_connection,
    connect,
    current_migrations,
    describe_error,
    ensure_schema,
    inspect_database,
    open_in_this_process,
    readonly_uri_of,
    set_lock_notice,
    wait_for_lock,
    write_transaction,
)
from annotator.store.queue import QueueFilter, QueueState, Sql, has_value, required_configs
from annotator.store.schema import MIGRATIONS, SCHEMA_VERSION, TARGET_ID_SQL
from annotator.store.spans import summarise_traces
from annotator.store.store import SpanRow, SpanState, Store, TraceRow, connection_of

__all__ = [
    "ANNOTATION_COLUMNS",
    "APPLICATION_ID",
    "BUSY_TIMEOUT_MS",
    "MIGRATIONS",
    "NEW",
    "OURS",
    "SCHEMA_VERSION",
    "TARGET_ID_SQL",
    "AnnotationBatch",
    "AnnotationError",
    "AnnotationKey",
    "Change",
    "ImportCounts",
    "LockTimeout",
    "QueueFilter",
    "QueueState",
    "SpanRow",
    "SpanState",
    "Sql",
    "Store",
    "StoreError",
    "TraceRow",
    "busy_timeout_ms",
    "close_connection",
    "connect",
    "connection_of",
    "current_migrations",
    "describe_error",
    "ensure_schema",
    "find_annotation",
    "has_value",
    "import_annotations",
    "inspect_database",
    "open_in_this_process",
    "readonly_uri_of",
    "required_configs",
    "set_lock_notice",
    "summarise_traces",
    "wait_for_lock",
    "write_transaction",
]
