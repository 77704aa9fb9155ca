"""`annotator config ...`: check config files, store them in a database, show the stored ones."""

from __future__ import annotations

import click

from annotator.cli.common import BadInput, db_option, friendly_errors
from annotator.cli.output import say, warn


@click.group("config")
def config_group() -> None:
    """Annotation configs (YAML, Phoenix field names)."""


@config_group.command("check")
@click.argument("file", type=click.Path(dir_okay=False))
@friendly_errors
def check_command(file: str) -> None:
    """Validate a config FILE: every problem as FILE:LINE: message, exit code 2 if any.

    A valid config that Phoenix would refuse as written (a lower-case type, bare-label values,
    no optimization_direction) gets a FILE:LINE: warning (Phoenix) line for each, saying what
    `annotator push` sends instead; the exit code stays 0."""
    from annotator.cli.configs import check_config_file
    from annotator.keymap import display_key

    config_set, phoenix_warnings = check_config_file(file)
    count = len(config_set.annotations)
    say(f"{file}: ok, {count} annotation config{'s' if count != 1 else ''}")
    for warning in phoenix_warnings:
        warn(str(warning))
    for config in config_set.annotations:
        detail = ""
        if config.values:
            detail = "  " + "  ".join(
                f"{display_key(value.key)}={value.label}" for value in config.values
            )
        elif str(config.type) == "CONTINUOUS":
            detail = f"  {config.lower_bound}..{config.upper_bound} step {config.step}"
        scope = ", outermost spans" if config.scope == "outermost" else ""
        say(f"  {config.name} ({config.type}, {config.target}{scope}){detail}")


@config_group.command("store")
@click.argument("file", type=click.Path(dir_okay=False))
@db_option
@click.option(
    "--replace-configs",
    is_flag=True,
    help="Allow changing or dropping configs the database stores (adding needs nothing).",
)
@friendly_errors
def store_command(file: str, db_path: str, replace_configs: bool) -> None:
    """Store the configs of FILE in the database, without opening the app.

    The same rules as `annotator annotate --config FILE`: adding configs needs nothing;
    changing or dropping stored ones needs --replace-configs (annotations under a dropped
    name stay), which also drops names that only a merge set aside and FILE does not have.
    `assign` hands out the stored configs with the batches.
    """
    from annotator.cli.configs import (
        check_stored_configs,
        choose_configs,
        load_config_file,
        store_configs,
    )
    from annotator.store import Store, inspect_database

    config_set = load_config_file(file)
    found = inspect_database(db_path)  # a file that is not ours: refused, untouched
    check_stored_configs(found, config_set, replace_configs)  # refused before any write
    with Store.open(db_path) as store:
        config_set, changes = choose_configs(store, config_set, replace_configs)
        changes = store_configs(store, config_set, changes)
        if changes is None:
            say(f"{db_path} already stores these configs; nothing changed")
            return
    count = len(config_set.annotations)
    what = changes.describe() if changes.had_stored else f"{count} configs stored"
    say(f"{db_path}: {what} (from {file})")


@config_group.command("show")
@db_option
@friendly_errors
def show_command(db_path: str) -> None:
    """Print the configs the database stores, as a config file (YAML) that `config store`
    and `annotate --config` read back."""
    import yaml

    from annotator.store import NEW, Store, inspect_database

    if inspect_database(db_path).kind == NEW:
        raise BadInput(f"{db_path}: no such database")
    with Store.open(db_path, readonly=True) as store:
        document = store.load_config_document()
    if document is None:
        raise BadInput(f"{db_path} stores no configs; store some: annotator config store FILE")
    say(yaml.safe_dump(document, sort_keys=False, allow_unicode=True).rstrip("\n"))
