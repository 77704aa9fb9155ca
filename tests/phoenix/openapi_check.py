"""Request bodies checked against Phoenix's own OpenAPI document: the JSON Schema subset it uses,
without a jsonschema dependency."""

from __future__ import annotations

from typing import Any

# endpoint of the export document -> the request body schema Phoenix declares for its POST
REQUEST_SCHEMAS = {
    "span_annotations": "AnnotateSpansRequestBody",
    "document_annotations": "AnnotateSpanDocumentsRequestBody",
    "trace_annotations": "AnnotateTracesRequestBody",
    "session_annotations": "AnnotateSessionsRequestBody",
    "span_notes": "CreateSpanNoteRequestBody",
    "trace_notes": "CreateTraceNoteRequestBody",
    "session_notes": "CreateSessionNoteRequestBody",
}


def validate(value: Any, schema: dict, root: dict, where: str = "$") -> list[str]:
    """What in `value` breaks `schema` (references resolved in `root`); [] when nothing."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return validate(value, root["components"]["schemas"][name], root, where)
    if "anyOf" in schema:
        options = [validate(value, option, root, where) for option in schema["anyOf"]]
        return [] if any(not errors for errors in options) else [f"{where}: matches no anyOf"]
    errors: list[str] = []
    kind = schema.get("type")
    checks = {
        "object": lambda v: type(v) is dict,
        "array": lambda v: type(v) is list,
        "string": lambda v: type(v) is str,
        "integer": lambda v: type(v) is int,
        "number": lambda v: type(v) in (int, float),
        "null": lambda v: v is None,
        "boolean": lambda v: type(v) is bool,
    }
    if kind and not checks[kind](value):
        return [f"{where}: {value!r} is not {kind}"]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {value!r} not in {schema['enum']}")
    if "minLength" in schema and len(value) < schema["minLength"]:
        errors.append(f"{where}: shorter than {schema['minLength']}")
    if kind == "object":
        properties = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in value:
                errors.append(f"{where}: missing {key}")
        for key, item in value.items():
            if key in properties:
                errors += validate(item, properties[key], root, f"{where}.{key}")
            elif schema.get("additionalProperties") is not True and properties:
                errors.append(f"{where}: unexpected key {key}")  # stricter than Phoenix
    if kind == "array":
        for index, item in enumerate(value):
            errors += validate(item, schema["items"], root, f"{where}[{index}]")
    return errors


def check_request_schemas(document: dict, openapi: dict) -> None:
    """Every body of an export document (``annotator export --format phoenix``) is what the
    endpoint it is for declares."""
    paths = openapi["paths"]
    for endpoint, schema_name in REQUEST_SCHEMAS.items():
        body = paths[f"/v1/{endpoint}"]["post"]["requestBody"]["content"]["application/json"]
        assert body["schema"]["$ref"].endswith("/" + schema_name)
        schema = openapi["components"]["schemas"][schema_name]
        bodies = document[endpoint] if endpoint.endswith("_notes") else [document[endpoint]]
        for request in bodies:
            assert validate(request, schema, openapi) == [], endpoint
