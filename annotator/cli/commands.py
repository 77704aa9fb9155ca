"""Imports every command module so that each registers itself on the group."""

from annotator.cli import (  # noqa: F401  # noqa: F401
    annotate_cmd,
    config_cmd,
    dataset_cmd,
    export_cmd,
    import_cmd,
    merge_cmd,
    stats_cmd,
)
