"""The configs a command works with, and the rule `annotate --config` and `config store` share:
the file is checked before anything else; a change to the configs a database stores is refused
(read-only, before anything is written) unless --replace-configs, checked again on the writable
store, and saved when the command has done the rest of its work."""

from __future__ import annotations

import os
import stat
from typing import TYPE_CHECKING, Any

from annotator.cli.common import BadInput

if TYPE_CHECKING:
    from annotator.config import ConfigProblem, ConfigSet
    from annotator.config_changes import ConfigChanges
    from annotator.store import DatabaseFile, Store


def load_config_file(config_path: str) -> ConfigSet:
    """The config file, checked (ConfigError lists every problem)."""
    from annotator.config import load_config

    _refuse_special_file(config_path)
    return load_config(config_path)


def check_config_file(config_path: str) -> tuple[ConfigSet, list[ConfigProblem]]:
    """`load_config_file` and what Phoenix would refuse in it as written, from one reading."""
    from annotator.config import check_config

    _refuse_special_file(config_path)
    return check_config(config_path)


def _refuse_special_file(config_path: str) -> None:
    """A named pipe is refused rather than read: with no writer it would block forever."""
    try:
        mode = os.stat(config_path).st_mode
    except OSError:
        return  # the loader says why it cannot be read
    if not stat.S_ISREG(mode):
        what = "a named pipe (FIFO)" if stat.S_ISFIFO(mode) else "not a regular file"
        raise BadInput(f"{config_path}: {what}; give a config file")


def choose_configs(
    store: Store | None, config_set: ConfigSet | None, replace: bool
) -> tuple[ConfigSet, ConfigChanges | None]:
    """The config set to annotate with, and what storing it changes (None: nothing to store):
    the file's (refused when it would change or drop stored configs without `replace`), else
    the stored one, else the bundled default. `store` None: a database not created yet."""
    from annotator.config import bundled_config_path, load_config, parse_config_document
    from annotator.config_changes import compare

    stored = store.load_config_document() if store is not None else None
    if config_set is not None:
        # With --replace-configs the file is the whole truth: a name whose only definitions
        # a merge set aside (none fitted) goes too when the file does not have it.
        aside = _set_aside_only(store, stored) if store is not None and replace else set()
        changes = compare(stored, config_set, store, aside)
        # no database yet: nothing stored, so nothing to replace
        if store is not None and changes.needs_replace and not replace:
            raise BadInput(
                f"{config_set.source}: would {changes.describe()} in {store.path}'s stored "
                "configs; nothing was changed. Add --replace-configs to do it (annotations "
                "under dropped names stay in the database)"
            )
        return config_set, changes
    if store is not None and stored is not None:
        source = f"{store.path} (stored configs)"
        return parse_config_document(stored, source), None
    default = load_config(bundled_config_path("default"))
    return default, compare(None, default, store)


def _set_aside_only(store: Store, stored: dict[str, Any] | None) -> set[str]:
    """The names the database has only set-aside definitions of (none in its document)."""
    listed = stored.get("annotations") if isinstance(stored, dict) else None
    in_use = (
        {c.get("name") for c in listed if isinstance(c, dict)}
        if isinstance(listed, list)
        else set()
    )
    return {entry["name"] for entry in store.load_config_set_aside()} - in_use


def check_stored_configs(found: DatabaseFile, config_set: ConfigSet | None, replace: bool) -> None:
    """Before anything is written: refuse (BadInput) what `config_set` would change in the
    configs the database stores, unless `replace` (with no file: that the stored configs
    still read). Read-only. Nothing to check in a database not made yet; one of an older
    schema is checked once upgraded, by `choose_configs` on the writable store."""
    from annotator.store import OURS, SCHEMA_VERSION, Store

    if found.kind != OURS or found.version != SCHEMA_VERSION:
        return
    with Store.open(found.path, readonly=True) as store:
        choose_configs(store, config_set, replace)


def store_configs(
    store: Store, config_set: ConfigSet, changes: ConfigChanges | None
) -> ConfigChanges | None:
    """Save `config_set` as the stored configs when `changes` (from `choose_configs` on this
    writable store) says that changes anything. Returns the changes saved, else None.
    The definitions a merge set aside of a name the user dropped, changed or defined go too
    (`ConfigChanges.superseded`): dropped means dropped, and the user's definition wins."""
    if changes is None or not changes.any:
        return None
    store.save_config_document(config_set.to_document(), superseded=changes.superseded())
    return changes
