"""``annotator dataset --push NAME``: curated examples uploaded as a Phoenix dataset, through
Phoenix's client (``datasets.create_dataset(examples=...)``), the same examples the JSONL holds
(``input``, ``output``, ``metadata``, and ``span_id``, which Phoenix links to its span when it
has it). A name Phoenix already uses is refused (adding to it would duplicate examples on every
push)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from annotator.phoenix import errors
from annotator.phoenix.connection import PhoenixClient

UPLOAD_TIMEOUT = 300  # seconds: Phoenix writes the examples before it answers


def push_dataset(
    client: PhoenixClient,
    name: str,
    examples: Iterable[dict[str, Any]],
    *,
    description: str | None = None,
) -> tuple[str, int]:
    """Create dataset `name` with `examples`; (its Phoenix id, how many examples it holds)."""
    name = name.strip()
    if not name:
        raise errors.BadSettings("--push needs a dataset name")
    found = client.request(
        "GET", "/v1/datasets", params={"name": name}, what=f"looking up dataset {name!r}"
    )
    if any(item.get("name") == name for item in (found or {}).get("data") or []):
        raise errors.Rejected(
            f"Phoenix at {client.url} already has a dataset named {name!r}: choose another name "
            "(adding to it would duplicate the examples already there)",
            409,
            "exists",
        )
    items = [
        {key: example[key] for key in ("input", "output", "metadata", "span_id") if key in example}
        for example in examples
    ]
    if not items:
        raise errors.BadSettings(f"no example matches the filters: dataset {name!r} not created")
    with client.errors(f"uploading dataset {name!r}"):
        dataset = client.px.datasets.create_dataset(
            name=name, examples=items, dataset_description=description, timeout=UPLOAD_TIMEOUT
        )
    return str(dataset.id), int(dataset.example_count)
