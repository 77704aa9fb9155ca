"""Annotation files in and out: Phoenix records, evaluation tables, this program's own export.

Core code: no Textual. ``annotator import`` hands every file it recognises as annotations to
`import_annotation_file`; ``annotator export`` calls `export_annotations`.

Import: what is read, and how it is recognised
----------------------------------------------
Detection is from the content (``annotator.readers._detect``), never the file name, so trace
files and annotation files can be given to one ``annotator import`` call in any order (spans are
imported first, then annotations, so the annotations find their spans).

* Phoenix annotation records (JSON document or JSON lines): the body of ``GET
  /v1/projects/{p}/span_annotations`` / ``trace_annotations`` / ``session_annotations``
  (``{"data": [...], "next_cursor"}``), a bare list of those records, and ``POST
  /v1/{span,trace,document,session}_annotations`` request bodies (``{"data": [...]}``). A record
  is an annotation when it has ``annotator_kind`` (or ``annotatorKind``), or ``name`` with
  ``result``, beside a ``span_id`` / ``trace_id`` / ``session_id``. The target is what the ids
  say: ``span_id`` + ``document_position`` -> document, ``span_id`` -> span, ``trace_id`` ->
  trace, ``session_id`` -> session.
* Phoenix's GraphQL document annotations (``documentPosition``, ``annotatorKind``, flat
  ``label`` / ``score`` / ``explanation``), as in the reference ``document_annotations.json``.
* Phoenix note requests (``POST /v1/span_notes`` ... ``{"data": {"span_id", "note"}}``) -> a
  ``note`` annotation (HUMAN, the text as its explanation).
* Evaluation tables, as LLM-judge and code evaluators write them: JSON lines, CSV and parquet
  rows with an id column (``span_id`` or ``context.span_id``, also as the index column of a
  saved pandas DataFrame, named or not; ``trace_id`` / ``context.trace_id``; ``session_id``;
  ``document_position`` or ``position`` beside a span id for documents) and ``label`` / ``score``
  / ``explanation`` columns (or ``result.label`` / ``result.score`` / ``result.explanation``,
  as phoenix-client's ``get_span_annotations_dataframe()`` names them). Optional columns
  ``name`` (or ``annotation_name``), ``annotator_kind``, ``identifier``, ``metadata`` (an
  object, its JSON text, or its Python repr as pandas' ``to_csv`` writes it: read with
  ``ast.literal_eval`` up to 100,000 characters, never evaluated) - the columns phoenix-client's
  ``log_span_annotations_dataframe`` takes and ``get_span_annotations_dataframe`` returns.
  A parquet dict column is a struct holding every key of every row; keys that are null in a
  row are left out again. A table whose records have no id at all (pandas drops a DataFrame's
  index in ``to_json(orient="records")`` and ``to_csv(index=False)``) is refused with one line
  that says to save it with ``.reset_index()``. Phoenix ``SpanEvaluations`` /
  ``DocumentEvaluations`` / ``TraceEvaluations.save()`` parquet files are recognised by their
  ``arize`` schema metadata, which also gives the evaluation's name. A CSV file is an evaluation
  table when its header has an id column (or pandas' unnamed index first) and a result column;
  a parquet file when it has a result column and an id column but not both a span and a trace id
  (that is a spans DataFrame).
* This program's own export (``--format jsonl`` or ``csv``): rows with ``target`` and ``source``.
  The round trip is exact: exporting and importing into a database with the same spans gives the
  same rows (keys, values, annotator_kind, identifier, metadata, source, created_at, updated_at),
  except the row ids. ``--format phoenix`` output (one file or a directory's files) is read back
  too, as Phoenix request bodies.

Options fill in what a record does not say, never override it: ``--name`` (an evaluation table
usually has no name column: without ``--name`` such a file is refused with one line, exit code
2), ``--annotator-kind`` (default for records without one: LLM, and the report says how many
rows got it), ``--identifier`` (e.g. the judge's name; default "").

Decisions
---------
* source: rows from Phoenix records and evaluation tables get ``source = API`` (Phoenix's value
  for anything that came in through its API); rows from this program's own export keep the
  source they were exported with (APP for values entered in the app), like ``annotator merge``
  does, so that moving annotations between databases loses nothing.
* times: ``created_at`` / ``updated_at`` are kept when the record has them, else now.
* unchanged: a record (other than our own export's rows, which carry the row's own source and
  times) whose label, score, explanation, annotator_kind and metadata equal the stored row's is
  unchanged: nothing is written, not even its source or times. So importing our Phoenix export
  (or what Phoenix returns of it) into the database it came from changes nothing.
* document identifiers: a document record with an empty identifier and
  ``metadata.annotator_identifier`` (where ``--format phoenix`` puts it, Phoenix requiring an
  empty identifier) gets that identifier back, and the key leaves the metadata.
* writes: one transaction per file through the store's batch write path (``import_annotations``):
  the same key as the app (target, target id, document position, name, identifier), each change
  logged with action ``import`` and actor ``import:<file name>`` (before and after images).
  An incoming record overwrites the stored row with the same key, as Phoenix's upsert does
  (the log keeps the row it replaced). Importing the same file again changes nothing and logs
  nothing.
* orphans: a record about a span, trace or session that is not in the database (or a document
  position beyond what the span retrieved) is what Phoenix would refuse (404 / 422). It is not
  stored, and reported: the first ten per file as ``file:line: span id X is not in the
  database``, then one line with how many more and a few of their ids; the summary counts them
  as orphaned. ``--keep-orphans`` stores them anyway (still reported).
* empty annotations: a record without label, score and explanation (all missing) is a
  problem, never stored as an empty row.
* bad records are problems ``file:line: reason`` (``file: data[3]: reason`` in a JSON document,
  ``file: row 12: reason`` in parquet) and the rest is imported (exit code 0). A file that is
  neither spans nor annotations is one line and exit code 2.

Export
------
``jsonl`` / ``csv``: every annotation (not the log), one flat row each, in row id order, columns
`EXPORT_COLUMNS`::

    name, annotator_kind, identifier, label, score, explanation, metadata, source, created_at,
    updated_at, target, span_id, trace_id, session_id, document_position, id,
    span_name, span_kind, project, span_start_time

``metadata`` is an object in JSON lines and its JSON text in CSV; a missing value is ``null`` /
an empty field. In CSV, text starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return gets a leading ``'`` (``annotator.csv_cells``: spreadsheets do not run it); the import of
our own CSV export takes it off again, so the round trip stays exact. ``span_id`` /
``trace_id`` / ``session_id`` are all filled where known (a span annotation carries its trace
and session too); the four context columns are the span's (for a trace annotation its root
span's; for a session annotation only ``project``).

``phoenix``: exactly the request bodies Phoenix (20.26) accepts, ready to send. To a file (or
stdout) it is one JSON object keyed by endpoint::

    {"span_annotations":     {"data": [SpanAnnotationData, ...]},
     "document_annotations": {"data": [SpanDocumentAnnotationData, ...]},
     "trace_annotations":    {"data": [TraceAnnotationData, ...]},
     "session_annotations":  {"data": [SessionAnnotationData, ...]},
     "span_notes":    [{"data": {"span_id", "note", "identifier"}}, ...],
     "trace_notes":   [{"data": {"trace_id", "note", "identifier"}}, ...],
     "session_notes": [{"data": {"session_id", "note", "identifier"}}, ...]}

and with ``--out DIR/`` (an existing directory, or a path ending in ``/``) one file per
endpoint that has something to send: ``span_annotations.json``, ``document_annotations.json``,
``trace_annotations.json``, ``session_annotations.json`` (each a request body) and
``span_notes.jsonl`` / ``trace_notes.jsonl`` / ``session_notes.jsonl`` (one note request body
per line: the notes endpoints take one note per request). Nothing is ever deleted: a file of
these names already there whose endpoint now has nothing is replaced by an empty body
(``{"data": []}``, an empty notes file). Every file goes through ``annotator.output_file``
(atomic, databases and the ``--db`` refused). Send them with::

    cd DIR
    for e in span_annotations document_annotations trace_annotations session_annotations; do
      [ -f $e.json ] || continue
      curl -X POST "http://localhost:6006/v1/$e?sync=true" \\
           -H 'Content-Type: application/json' --data-binary @$e.json
    done
    for e in span_notes trace_notes session_notes; do
      [ -f $e.jsonl ] || continue
      while IFS= read -r body; do
        curl -X POST "http://localhost:6006/v1/$e" \\
             -H 'Content-Type: application/json' --data-binary "$body"
      done < $e.jsonl
    done

e.g. ``curl -X POST 'http://localhost:6006/v1/span_annotations?sync=true' -H 'Content-Type:
application/json' -d @span_annotations.json``. From the one-file form, pick a body with jq:
``jq '.span_annotations' out.json | curl ... --data-binary @-`` and ``jq -c '.span_notes[]'
out.json | while IFS= read -r body; do curl ...; done``. (``sync=true`` makes Phoenix answer
with the ids, or 404 for unknown targets, instead of enqueuing silently.)

Every item follows Phoenix's rules (a batch is all-or-nothing, so no item that Phoenix would
refuse is ever written): ``annotator_kind`` always; ``result`` with the non-null label / score /
explanation (left out when all are null); ``metadata`` an object; ``identifier`` ("" by
default). Left out, each reason reported as one warning line with its count: annotations on
spans / traces / sessions not in this database (Phoenix: 404), document positions beyond the
span's retrieved documents (422), non-finite scores, empty names, notes without text, notes on
documents (Phoenix has none).

* Notes (name ``note``, reserved in Phoenix's annotation endpoints) go to the notes endpoints,
  with their identifier, so that sending them again updates instead of adding a copy.
* Document annotations must have an EMPTY identifier in Phoenix (non-empty: 422), so Phoenix
  keeps one per (span, document position, name). Our document annotations carry their
  annotator's identifier; in the export it moves into ``metadata.annotator_identifier`` and the
  item's identifier is "". Where several annotators labelled the same document with the same
  name, only the most recently updated annotation is written and the others are counted in a
  warning; ``--annotator ID`` exports one annotator's instead.
"""

from __future__ import annotations

from annotator.annotations_io._export import (
    DOCUMENT_BEYOND,
    DOCUMENT_IDENTIFIER_KEY,
    DOCUMENT_SECOND_ANNOTATOR,
    EMPTY_NAME,
    EMPTY_TARGET_ID,
    EXPORT_COLUMNS,
    FORMATS,
    METADATA_NOT_OBJECT,
    NOT_IN_DATABASE,
    NOTE_WITHOUT_TEXT,
    SCORE_NOT_FINITE,
    ExportFilter,
    ExportResult,
    PhoenixItem,
    export_annotations,
    iter_rows,
    phoenix_items,
)
from annotator.annotations_io._import import (
    AnnotationImportOptions,
    FileImportResult,
    FileRejected,
    import_annotation_file,
)
from annotator.annotations_io._records import Defaults, NoName, NoTarget, to_annotation

__all__ = [
    "DOCUMENT_BEYOND",
    "DOCUMENT_IDENTIFIER_KEY",
    "DOCUMENT_SECOND_ANNOTATOR",
    "EMPTY_NAME",
    "EMPTY_TARGET_ID",
    "EXPORT_COLUMNS",
    "FORMATS",
    "METADATA_NOT_OBJECT",
    "NOTE_WITHOUT_TEXT",
    "NOT_IN_DATABASE",
    "SCORE_NOT_FINITE",
    "AnnotationImportOptions",
    "Defaults",
    "ExportFilter",
    "ExportResult",
    "FileImportResult",
    "FileRejected",
    "NoName",
    "NoTarget",
    "PhoenixItem",
    "export_annotations",
    "import_annotation_file",
    "iter_rows",
    "phoenix_items",
    "to_annotation",
]
