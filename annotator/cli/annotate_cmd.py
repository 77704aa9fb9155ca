"""`annotator annotate` and `annotator demo`: import, pick the configs, open the app.

Everything that can be checked is checked before the database is touched: the config file, the
trace files, what the config would change in the stored configs. A command that fails leaves no
database behind that it created.
"""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from annotator.cli.common import BadInput, db_option, friendly_errors
from annotator.cli.configs import (
    check_stored_configs,
    choose_configs,
    load_config_file,
    store_configs,
)
from annotator.cli.filter_options import filter_options, selection_from
from annotator.cli.import_cmd import import_into_store, refuse_bad_inputs
from annotator.cli.output import clean, say, warn

if TYPE_CHECKING:
    from annotator.app.app import AnnotatorApp
    from annotator.config import ConfigSet
    from annotator.query import Selection
    from annotator.store import Store


def default_annotator() -> str:
    try:
        return os.environ.get("ANNOTATOR_NAME") or getpass.getuser()
    except Exception:  # no login name (some containers): still a usable identifier
        return "annotator"


def run_app(
    db_path: str | Path,
    files: list[str],
    config_path: str | None,
    annotator: str,
    project: str | None = None,
    queue: str = "all",
    *,
    replace_configs: bool = False,
    annotator_given: bool = True,
    selection: Selection | None = None,
) -> None:
    """Check everything, import, store the configs, run the app. Every check that can fail is
    made before the database is opened for writing (a refused command leaves it byte for
    byte as it was)."""
    from annotator.store import NEW, OURS, SCHEMA_VERSION, Store, inspect_database

    config_set = load_config_file(config_path) if config_path is not None else None
    refuse_bad_inputs(files)
    found = inspect_database(db_path)  # a file that is not ours: refused here, untouched
    if not files and found.kind == NEW:
        raise BadInput(
            f"{db_path}: no such database here; give trace files (annotator annotate FILE...) "
            "or the database (--db PATH)"
        )
    no_spans = f"{db_path}: no spans to annotate; give trace files: annotator annotate FILE..."
    check_stored_configs(found, config_set, replace_configs)  # read-only
    if not files and found.kind == OURS and found.version == SCHEMA_VERSION:  # older: upgraded
        with Store.open(db_path, readonly=True) as store:
            if not store.counts()["spans"]:
                raise BadInput(no_spans)
    store = Store.open(db_path)
    try:
        # Again on the writable store: another process may have changed the configs meanwhile.
        config_set, changes = choose_configs(store, config_set, replace_configs)
        if files:
            report = import_into_store(store, files, project=project)
            warn(report.summary())
        if store.counts()["spans"] == 0:
            raise BadInput(no_spans)
        annotator = _batch_annotator(store, db_path, annotator, annotator_given)
        changes = store_configs(store, config_set, changes)
        if changes is not None and changes.had_stored:
            verb = "replaced" if changes.needs_replace else "changed"
            warn(f"Stored configs {verb}: {changes.describe()}.")
    finally:
        store.close(discard_if_empty=True)
    app = _run_textual(db_path, config_set, annotator, queue, selection)
    for line in app.exit_report:  # changes the database never took, if the user gave up
        warn(line)
    with Store.open(db_path, readonly=True) as store:
        annotations, notes = store.my_contribution_counts(annotator)
    said = _plural(annotations, "annotation")
    if notes:
        said += f" and {_plural(notes, 'note')}"
    say(f"{said} by {annotator} {'is' if annotations + notes == 1 else 'are'} saved in {db_path}")
    if app.return_code:
        raise SystemExit(app.return_code)


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def run_review(db_path: str | Path, reviewer: str, per_item: int | None) -> None:
    """Open review mode on an existing database with its stored configs."""
    from annotator.app.review import ReviewApp
    from annotator.config import parse_config_document
    from annotator.store import NEW, Store, inspect_database, set_lock_notice

    found = inspect_database(db_path)
    if found.kind == NEW:
        raise BadInput(f"{db_path}: no such database here; review mode opens a merged database")
    with Store.open(db_path) as store:  # upgrades an older schema before the app reads it
        document = store.load_config_document()
    if document is None:
        raise BadInput(
            f"{db_path}: no configs stored; review mode decides with the configs' keys "
            "(store them: annotator config store FILE --db DB)"
        )
    config_set = parse_config_document(document, f"{db_path} (stored configs)")
    app = ReviewApp(db_path, config_set, reviewer, per_item=per_item)
    notice = set_lock_notice(None)
    try:
        app.run()
    finally:
        set_lock_notice(notice)
    if not app.items:
        warn(f"{db_path}: no disagreements to review")
    say(f"{app.decided()} of {len(app.items)} items decided in {db_path}")


def _batch_annotator(store: Store, db_path: str | Path, annotator: str, given: bool) -> str:
    """In a batch of `annotator assign`, who annotates: its owner unless --annotator (or
    $ANNOTATOR_NAME) says otherwise; then one line says whose batch it is."""
    owner = store.batch_owner()
    if owner is None or owner == annotator:
        return annotator
    if not given:
        return owner
    if not store.has_assignment(annotator):
        warn(
            f"{db_path} is {owner}'s batch; annotating as {annotator}, who has no assignment "
            "in it (every item is in the queue)"
        )
    return annotator


def _run_textual(
    db_path: str | Path,
    config_set: ConfigSet,
    annotator: str,
    queue: str,
    selection: Selection | None = None,
) -> AnnotatorApp:
    from annotator.app.app import AnnotatorApp
    from annotator.store import QueueFilter, set_lock_notice

    start = QueueFilter(state=queue)
    if selection:
        start = QueueFilter(
            state=queue,
            where=selection.where or None,
            trace_where=selection.trace_where or None,
            text=selection.search,
        )
    app = AnnotatorApp(db_path, config_set, annotator, queue=start)
    notice = set_lock_notice(None)  # nothing may write to the terminal under the app
    try:
        app.run()
    finally:
        set_lock_notice(notice)
    return app


@click.command("annotate")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
@db_option
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help=(
        "Annotation config YAML (default: the configs stored in the database, else the bundled "
        "default)."
    ),
)
@click.option(
    "--replace-configs",
    is_flag=True,
    help="Let --config change or drop configs stored in the database (adding needs no flag).",
)
@click.option(
    "--annotator",
    default=default_annotator,
    show_default="login name, or $ANNOTATOR_NAME",
    help="Your name: the identifier on every annotation you make.",
)
@click.option("--project", help="Project name for imported spans (default: from the file).")
@click.option(
    "--queue",
    type=click.Choice(["all", "todo", "mine", "others", "disagree"]),
    default="all",
    show_default=True,
    help="Start on this queue (f changes it in the app); disagree: adjudicate where values differ.",
)
@click.option(
    "--review",
    is_flag=True,
    help=(
        "Review mode: walk the items raters disagree on and record final values (the "
        "reviewer is --annotator)."
    ),
)
@click.option(
    "--per-item",
    type=click.IntRange(min=1),
    default=None,
    help="With --review: also walk every item with fewer than N answers.",
)
@filter_options
@friendly_errors
def annotate_command(
    files: tuple[str, ...],
    db_path: str,
    config_path: str | None,
    replace_configs: bool,
    annotator: str,
    project: str | None,
    queue: str,
    where: str | None,
    trace_where: str | None,
    search: str | None,
    review: bool,
    per_item: int | None,
) -> None:
    """Import trace FILES (if any) into the database and open the annotation app on it.

    Everything is checked before the database is touched: the config, the files, and what the
    config would do to the configs stored in the database (adding is fine; changing or dropping
    one needs --replace-configs). --where / --trace-where / --search start the queue on the
    spans the filter expressions and the search select (f and / in the app change them).
    """
    from annotator.store import FINAL

    if not annotator.strip():
        raise BadInput("--annotator must not be empty")
    if annotator.strip() == FINAL:
        raise BadInput(
            f"--annotator {FINAL}: the identifier of final values (a reviewer's or resolve's "
            "decisions), not a rater's name; choose another name"
        )
    source = click.get_current_context().get_parameter_source("annotator")
    given = source is not click.core.ParameterSource.DEFAULT or bool(
        os.environ.get("ANNOTATOR_NAME")
    )
    if per_item is not None and not review:
        raise BadInput("--per-item is for review mode: add --review")
    if review:
        if files or where or trace_where or search or config_path:
            raise BadInput(
                "--review walks the database's own items with its stored configs: give only "
                "--db (and --annotator, --per-item)"
            )
        run_review(db_path, annotator.strip(), per_item)
        return
    selection = selection_from(where, trace_where, search)  # before the database is touched
    run_app(
        db_path,
        list(files),
        config_path,
        annotator.strip(),
        project,
        queue,
        replace_configs=replace_configs,
        annotator_given=given,
        selection=selection,
    )


def demo_db_path() -> Path:
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "annotator" / "demo.db"


@click.command("demo")
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Where to keep the demo's annotations (default: ~/.local/share/annotator/demo.db).",
)
@click.option(
    "--annotator",
    default=default_annotator,
    show_default="login name, or $ANNOTATOR_NAME",
    help="Your name on the annotations.",
)
@click.option(
    "--reset",
    is_flag=True,
    help="Start the demo from scratch: deletes the demo database and its annotations (asks "
    "first, on a terminal).",
)
@click.option(
    "--yes", "-y", is_flag=True, help="With --reset: delete without asking (needed off a terminal)."
)
@friendly_errors
def demo_command(db_path: str | None, annotator: str, reset: bool, yes: bool) -> None:
    """Open the bundled sample traces with the bundled default config, from any directory."""
    from annotator.resources import sample_trace_files

    path = Path(db_path) if db_path else demo_db_path()
    if reset:
        reset_demo(path, yes=yes)
    files = [str(p) for p in sample_trace_files()]
    if not files:
        raise BadInput("the bundled sample traces are missing from this installation")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise BadInput(f"{path.parent}: cannot create ({error.strerror or error})") from None
    run_app(path, files, None, annotator.strip() or "annotator")


def reset_demo(path: Path, *, yes: bool) -> None:
    """Delete the demo database after saying what goes with it: asked on a terminal, else only
    with --yes. Only a database of ours is deleted."""
    from annotator.store import OURS, Store, inspect_database

    if not path.exists():
        return  # nothing to delete (its folder may not exist yet either)
    found = inspect_database(path)  # a file that is not ours: StoreError, nothing deleted
    counts: list[tuple[str, int]] = []
    if found.kind == OURS:
        with Store.open(path, readonly=True) as store:
            counts = store.annotation_counts_by_identifier()
    total = sum(count for _, count in counts)
    what = f"{path} with its {total:,} annotation{'s' if total != 1 else ''}"
    if counts:
        shown = ", ".join(f"{who or '(no identifier)'}: {count:,}" for who, count in counts[:4])
        what += f" ({shown}{', …' if len(counts) > 4 else ''})"
    if total and not yes:
        if not (sys.stdin.isatty() and sys.stderr.isatty()):
            raise BadInput(
                f"--reset would delete {what}; add --yes to confirm (there is no terminal to ask "
                "on). Nothing was deleted"
            )
        if not click.confirm(clean(f"--reset deletes {what}. Delete it?"), err=True):
            warn("Nothing was deleted.")
            raise SystemExit(1)
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    warn(f"Deleted {what}.")
