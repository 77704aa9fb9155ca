"""The SQLite store: schema, span ingestion, annotation writes with their log, queue queries."""

from annotator.store.annotations import AnnotationError, AnnotationKey, Change
from annotator.store.db import StoreError
from annotator.store.queue import QueueFilter, QueueState
from annotator.store.schema import SCHEMA_VERSION
from annotator.store.store import SpanRow, Store, TraceRow

__all__ = [
    "SCHEMA_VERSION",
    "AnnotationError",
    "AnnotationKey",
    "Change",
    "QueueFilter",
    "QueueState",
    "SpanRow",
    "Store",
    "StoreError",
    "TraceRow",
]
