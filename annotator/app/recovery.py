"""The give-up recovery file: values the database never took, as this program's own export
rows (`annotator import` reads them back).

Written through `annotator.output_file` like every output (a temporary file beside it, synced,
then named; 0666 minus the umask), and never over anything: its name is new
(``DB.unsaved-YYYYMMDD-HHMMSS.jsonl``, then ``-2``, ``-3``… when that name is taken, even by a
file that appears while it is written).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import orjson

from annotator.model import Annotation
from annotator.output_file import OutputError, OutputExists, open_output

FIELDS = (
    "name", "annotator_kind", "identifier", "label", "score", "explanation", "metadata",
    "source", "target", "span_id", "trace_id", "session_id", "document_position",
)  # fmt: skip
_TRIES = 100


class RecoveryError(Exception):
    """The file could not be written: one line saying why."""


def recovery_rows(annotations: Sequence[Annotation]) -> bytes:
    return b"".join(
        orjson.dumps({field: getattr(annotation, field) for field in FIELDS}) + b"\n"
        for annotation in annotations
    )


def write_recovery(
    db_path: Path, annotations: Sequence[Annotation], stamp: str | None = None
) -> Path:
    """Write the annotations to a new file beside the database and return its path, or raise
    RecoveryError."""
    stamp = stamp or time.strftime("%Y%m%d-%H%M%S")
    data = recovery_rows(annotations)
    for attempt in range(1, _TRIES + 1):
        suffix = "" if attempt == 1 else f"-{attempt}"
        path = db_path.with_name(f"{db_path.name}.unsaved-{stamp}{suffix}.jsonl")
        try:
            with open_output(path, new_only=True) as out:
                out.write(data)
        except OutputExists:
            continue
        except OutputError as error:
            raise RecoveryError(str(error)) from None
        return path
    raise RecoveryError(f"{_TRIES} files named {db_path.name}.unsaved-{stamp}*.jsonl exist")
