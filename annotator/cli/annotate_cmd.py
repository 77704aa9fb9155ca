"""`annotator annotate` and `annotator demo`: import, pick the configs, open the app."""

from __future__ import annotations

import getpass
import os
from pathlib import Path

import click
import orjson

from annotator.cli.main import EXIT_BAD_INPUT, BadInput, cli, db_option, friendly_errors


def default_annotator() -> str:
    try:
        return os.environ.get("ANNOTATOR_NAME") or getpass.getuser()
    except Exception:  # no login name (some containers): still a usable identifier
        return "annotator"


def resolve_configs(store, config_path: str | None):  # noqa: ANN001, ANN201
    """The config set to annotate with: the file given (then stored in the database), else the
    one stored in the database, else the bundled default (then stored)."""
    from annotator.config import bundled_config_path, load_config, parse_config

    if config_path is not None:
        config_set = load_config(config_path)
        store.save_config_document(config_set.to_document())
        return config_set
    stored = store.load_config_document()
    if stored is not None:
        return parse_config(orjson.dumps(stored).decode(), f"{store.path} (stored configs)")
    config_set = load_config(bundled_config_path("default"))
    store.save_config_document(config_set.to_document())
    return config_set


def run_app(
    db_path: str | Path,
    files: list[str],
    config_path: str | None,
    annotator: str,
    project: str | None = None,
    queue: str = "all",
) -> None:
    from annotator.importer import import_files
    from annotator.store import Store

    with Store.open(db_path) as store:
        if files:
            report = import_files(store, files, project=project, on_problem=lambda line: click.echo(line, err=True))
            click.echo(report.summary(), err=True)
            if report.rejected_files and report.spans_read == 0 and store.counts()["spans"] == 0:
                raise SystemExit(EXIT_BAD_INPUT)
        config_set = resolve_configs(store, config_path)
        if store.counts()["spans"] == 0:
            raise BadInput(f"{db_path}: no spans to annotate; give trace files: annotator annotate FILE...")
    from annotator.app.app import AnnotatorApp
    from annotator.store import QueueFilter

    app = AnnotatorApp(db_path, config_set, annotator, queue=QueueFilter(state=queue))
    app.run()
    for line in app.exit_report:  # changes the database never took, if the user gave up
        click.echo(line, err=True)
    with Store.open(db_path) as store:
        count = store.my_annotation_count(annotator)
    click.echo(f"{count:,} annotations by {annotator} are saved in {db_path}")
    if app.return_code:
        raise SystemExit(app.return_code)


@cli.command("annotate")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
@db_option
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Annotation config YAML (default: the configs stored in the database, else the bundled default).")
@click.option("--annotator", default=default_annotator, show_default="login name, or $ANNOTATOR_NAME", help="Your name: the identifier on every annotation you make.")
@click.option("--project", help="Project name for imported spans (default: from the file).")
@click.option(
    "--queue",
    type=click.Choice(["all", "todo", "mine", "others", "disagree"]),
    default="all",
    show_default=True,
    help="Start on this queue (f changes it in the app); disagree: adjudicate where values differ.",
)
@friendly_errors
def annotate_command(
    files: tuple[str, ...], db_path: str, config_path: str | None, annotator: str, project: str | None, queue: str
) -> None:
    """Import trace FILES (if any) into the database and open the annotation app on it."""
    if not annotator.strip():
        raise BadInput("--annotator must not be empty")
    run_app(db_path, list(files), config_path, annotator.strip(), project, queue)


def demo_db_path() -> Path:
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "annotator" / "demo.db"


@cli.command("demo")
@click.option("--db", "db_path", type=click.Path(dir_okay=False), default=None, help="Where to keep the demo's annotations (default: ~/.local/share/annotator/demo.db).")
@click.option("--annotator", default=default_annotator, show_default="login name, or $ANNOTATOR_NAME", help="Your name on the annotations.")
@click.option("--reset", is_flag=True, help="Start the demo from scratch (deletes the demo database).")
@friendly_errors
def demo_command(db_path: str | None, annotator: str, reset: bool) -> None:
    """Open the bundled sample traces with the bundled default config, from any directory."""
    from annotator.config import bundled_config_path
    from annotator.resources import sample_trace_files

    path = Path(db_path) if db_path else demo_db_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    if reset:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    files = [str(p) for p in sample_trace_files()]
    if not files:
        raise BadInput("the bundled sample traces are missing from this installation")
    run_app(path, files, str(bundled_config_path("default")), annotator.strip() or "annotator")
