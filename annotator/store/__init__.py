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
from annotator.store.campaign import (
    CAMPAIGN_META,
    FINAL,
    FLAG,
    MAJORITY,
    OWNER_META,
    REVIEWER,
    SKIP,
    UNANIMOUS,
    Assignment,
    CampaignError,
    Mark,
    add_assignments,
    final_metadata,
    has_campaign_tables,
    list_assignments,
    list_marks,
    put_marks,
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
from annotator.store.queue import (
    OUTERMOST,
    QueueFilter,
    QueueState,
    Sql,
    has_value,
    required_configs,
)
from annotator.store.schema import MIGRATIONS, SCHEMA_VERSION, TARGET_ID_SQL
from annotator.store.spans import summarise_traces
from annotator.store.store import SpanRow, SpanState, Store, TraceRow, connection_of

__all__ = [
    "ANNOTATION_COLUMNS",
    "APPLICATION_ID",
    "BUSY_TIMEOUT_MS",
    "CAMPAIGN_META",
    "FINAL",
    "FLAG",
    "MAJORITY",
    "MIGRATIONS",
    "NEW",
    "OURS",
    "OUTERMOST",
    "OWNER_META",
    "REVIEWER",
    "SCHEMA_VERSION",
    "SKIP",
    "TARGET_ID_SQL",
    "UNANIMOUS",
    "AnnotationBatch",
    "AnnotationError",
    "AnnotationKey",
    "Assignment",
    "CampaignError",
    "Change",
    "ImportCounts",
    "LockTimeout",
    "Mark",
    "QueueFilter",
    "QueueState",
    "SpanRow",
    "SpanState",
    "Sql",
    "Store",
    "StoreError",
    "TraceRow",
    "add_assignments",
    "busy_timeout_ms",
    "close_connection",
    "connect",
    "connection_of",
    "current_migrations",
    "describe_error",
    "ensure_schema",
    "final_metadata",
    "find_annotation",
    "has_campaign_tables",
    "has_value",
    "import_annotations",
    "inspect_database",
    "list_assignments",
    "list_marks",
    "open_in_this_process",
    "put_marks",
    "readonly_uri_of",
    "required_configs",
    "set_lock_notice",
    "summarise_traces",
    "wait_for_lock",
    "write_transaction",
]
