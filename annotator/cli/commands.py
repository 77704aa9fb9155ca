"""Imports every command module so that each registers itself on the group."""

from annotator.cli import annotate_cmd, config_cmd, import_cmd  # noqa: F401
from annotator.cli import dataset_cmd, stats_cmd  # noqa: F401
from annotator.cli import merge_cmd  # noqa: F401
from annotator.cli import export_cmd  # noqa: F401
