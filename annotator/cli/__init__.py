"""The `annotator` command line. Each command group lives in a module of its own."""

from annotator.cli.main import main

__all__ = ["main"]
