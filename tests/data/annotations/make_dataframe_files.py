"""Regenerate the span_annotations_dataframe.* files: phoenix-client's annotation DataFrame, saved
the ways users save it.

    .venv/bin/pip install pandas pyarrow   # made with pandas 3.1.1, pyarrow 26.0.1
    .venv/bin/python tests/data/annotations/make_dataframe_files.py

``client.spans.get_span_annotations_dataframe()`` (phoenix-client, resources/spans) builds its
frame from the ``GET /v1/projects/P/span_annotations`` records like this: ``pd.DataFrame(records)``,
the ``result`` column flattened with ``pd.json_normalize`` into ``result.label``,
``result.score`` and ``result.explanation``, ``name`` renamed ``annotation_name``, and the
``span_id`` column made the index. Notes are left out by default (exclude_annotation_names=
["note"]). The records are span_annotations.get.json's, one of them with metadata
``{"model": "gpt-4o"}`` (which ``to_csv`` writes as a Python repr).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
STEM = "span_annotations_dataframe"


def annotations_dataframe() -> pd.DataFrame:
    records = json.loads((HERE / "span_annotations.get.json").read_text())["data"]
    records = [r for r in records if r["name"] != "note"]
    records[0]["metadata"] = {"model": "gpt-4o"}
    df = pd.DataFrame(records)
    nested = pd.json_normalize(df["result"]).rename(columns=lambda col: f"result.{col}")
    df = pd.concat([df.drop(columns=["result"]), nested], axis=1)
    df = df.rename(columns={"name": "annotation_name"})
    return df.set_index("span_id")


def main() -> None:
    df = annotations_dataframe()
    # What users save, and what pandas makes of the index each time:
    df.reset_index().to_json(HERE / f"{STEM}.jsonl", orient="records", lines=True)
    df.reset_index().to_json(HERE / f"{STEM}.records.json", orient="records", indent=1)
    df.to_csv(HERE / f"{STEM}.csv")  # the index is written, as the first column
    df.to_parquet(HERE / f"{STEM}.parquet")  # the index is kept, as a column
    # Without reset_index(), to_json(orient="records") and to_csv(index=False) drop the span ids.
    df.to_json(HERE / f"{STEM}.no_index.jsonl", orient="records", lines=True)
    df.to_csv(HERE / f"{STEM}.no_index.csv", index=False)


if __name__ == "__main__":
    main()
