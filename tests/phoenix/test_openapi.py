"""What `annotator export --format phoenix` writes is what the real Phoenix declares it accepts:
every request body checked against the OpenAPI document the test server serves."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import orjson
import pytest

from annotator.importer import import_files
from annotator.phoenix.local_server import LocalPhoenix
from annotator.store import Store
from tests.phoenix.openapi_check import REQUEST_SCHEMAS, check_request_schemas, validate
from tests.test_annotations_export import annotated_db, export

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "readers" / "reference"


@pytest.fixture(scope="session")
def openapi(phoenix_server: LocalPhoenix) -> dict:
    with urllib.request.urlopen(f"{phoenix_server.url}/openapi.json", timeout=30) as response:
        return json.loads(response.read())


def test_phoenix_bodies_validate_against_phoenix_openapi(openapi: dict, tmp_path: Path) -> None:
    data, _ = export(annotated_db(tmp_path / "src.db"), "phoenix")
    document = orjson.loads(data)
    assert all(document[e] for e in REQUEST_SCHEMAS)  # every endpoint has something to check
    check_request_schemas(document, openapi)
    # the validator does catch what Phoenix refuses
    schema = openapi["components"]["schemas"]["AnnotateSpansRequestBody"]
    bad = {"data": [{"span_id": "a", "name": "n", "result": {"score": "high"}}]}
    assert len(validate(bad, schema, openapi)) == 2  # missing annotator_kind, score not a number


@pytest.mark.parametrize(
    ("project", "per_endpoint"),
    [
        ("langchain-rag", {"span_annotations": 2, "document_annotations": 3,
                           "trace_annotations": 0, "session_annotations": 1}),
        ("langchain-agent", {"span_annotations": 4, "document_annotations": 0,
                             "trace_annotations": 1, "session_annotations": 0}),
    ],
)  # fmt: skip
def test_phoenix_export_of_the_reference_annotations_validates(
    openapi: dict, tmp_path: Path, project: str, per_endpoint: dict[str, int]
) -> None:
    db = tmp_path / "ref.db"
    with Store.open(db) as store:
        files = [REFERENCE / f"{project}.otlp.jsonl"]
        files += sorted(REFERENCE.glob(f"{project}.*_annotations.json"))
        assert import_files(store, files).annotations_new == sum(per_endpoint.values())
    data, result = export(db, "phoenix")
    assert result.per_endpoint == {
        **per_endpoint,
        "span_notes": 0,
        "trace_notes": 0,
        "session_notes": 0,
    }
    assert not result.warnings
    check_request_schemas(orjson.loads(data), openapi)
