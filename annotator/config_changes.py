"""What giving a config file does to the configs a database already stores.

`annotate --config FILE` on a database that stores configs may add configs freely; changing or
dropping a stored one needs `--replace-configs`, because annotations are made under a config's
name and labels: a dropped name or label leaves them without a config. `compare` says exactly
what would change, with the number of annotations concerned.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from annotator.config import ConfigError, ConfigSet, parse_config_document
from annotator.store import Store, connection_of


@dataclass(frozen=True)
class Changed:
    name: str
    fields: tuple[str, ...]  # top-level fields that differ, e.g. ("description", "values")
    labels_removed: tuple[str, ...] = ()
    labels_added: tuple[str, ...] = ()
    annotations_with_removed_labels: int = 0

    def describe(self) -> str:
        parts = []
        for name in self.fields:
            if name == "values" and (self.labels_removed or self.labels_added):
                detail = []
                if self.labels_removed:
                    count = self.annotations_with_removed_labels
                    detail.append(
                        f"labels {', '.join(map(repr, self.labels_removed))} removed "
                        f"({_count(count)} have them)"
                    )
                if self.labels_added:
                    detail.append(f"labels {', '.join(map(repr, self.labels_added))} added")
                parts.append(f"values: {'; '.join(detail)}")
            else:
                parts.append(name)
        return f"{self.name} ({', '.join(parts)})"


@dataclass
class ConfigChanges:
    added: list[str] = field(default_factory=list)
    changed: list[Changed] = field(default_factory=list)
    dropped: list[tuple[str, int]] = field(default_factory=list)  # (name, annotations under it)
    # Names only a merge set aside (no definition fitted), which the file does not have: not
    # in use, so a file without them leaves them; --replace-configs drops them (same form).
    set_aside_dropped: list[tuple[str, int]] = field(default_factory=list)
    keys_changed: bool = False
    # Text for people only: changing it loses nothing, so it needs no --replace-configs.
    guidelines_changed: bool = False
    had_stored: bool = True  # False: the database stored no configs (everything is added)

    @property
    def needs_replace(self) -> bool:
        """Something stored would change or go (adding configs needs no permission)."""
        return bool(self.changed or self.dropped or self.keys_changed)

    @property
    def any(self) -> bool:
        return (
            bool(self.added or self.set_aside_dropped)
            or self.guidelines_changed
            or self.needs_replace
        )

    def superseded(self) -> list[str]:
        """The names whose definitions a merge set aside go when these changes are saved: the
        user dropped them, or gave the definition to use (changed, or added over ones set
        aside), so that no later merge brings them back or falls back on one replaced."""
        return [
            *(name for name, _ in self.dropped),
            *(name for name, _ in self.set_aside_dropped),
            *(changed.name for changed in self.changed),
            *self.added,
        ]

    def describe(self) -> str:
        """One line: 'add a, b; change c (description); drop d (12 annotations)'."""
        parts = []
        if self.added:
            parts.append(f"add {', '.join(self.added)}")
        if self.changed:
            parts.append(f"change {'; '.join(c.describe() for c in self.changed)}")
        if self.dropped:
            dropped = ", ".join(f"{name} ({_count(count)})" for name, count in self.dropped)
            parts.append(f"drop {dropped}")
        if self.set_aside_dropped:
            dropped = ", ".join(
                f"{name} ({_count(count)})" for name, count in self.set_aside_dropped
            )
            parts.append(f"drop set-aside {dropped}")
        if self.keys_changed:
            parts.append("change the keys: remaps")
        if self.guidelines_changed:
            parts.append("update the guidelines")
        return "; ".join(parts)


def _count(annotations: int) -> str:
    return f"{annotations:,} annotation{'s' if annotations != 1 else ''}"


def compare(
    stored: dict[str, Any] | None,
    incoming: ConfigSet,
    database: Store | sqlite3.Connection | None,
    set_aside: Iterable[str] = (),
) -> ConfigChanges:
    """What replacing the `stored` config document with `incoming` changes; `database` counts
    the annotations under dropped names and removed labels. `set_aside`: names whose only
    definitions a merge set aside, to drop when `incoming` does not have them."""
    conn = connection_of(database) if database is not None else None
    changes = ConfigChanges()
    new_document = incoming.to_document()
    new_by_name = {c["name"]: c for c in new_document["annotations"]}
    changes.set_aside_dropped = [
        (name, _annotations(conn, name)) for name in sorted(set(set_aside) - set(new_by_name))
    ]
    if stored is None:
        changes.added = list(new_by_name)
        changes.guidelines_changed = new_document.get("guidelines") is not None
        changes.had_stored = False
        return changes
    old_document = _normalised(stored)
    old_by_name = {str(c.get("name")): c for c in old_document.get("annotations", [])}
    changes.added = [name for name in new_by_name if name not in old_by_name]
    for name, old in old_by_name.items():
        new = new_by_name.get(name)
        if new is None:
            changes.dropped.append((name, _annotations(conn, name)))
        elif new != old:
            changes.changed.append(_changed(name, old, new, conn))
    changes.keys_changed = old_document.get("keys", {}) != new_document.get("keys", {})
    changes.guidelines_changed = old_document.get("guidelines") != new_document.get("guidelines")
    return changes


def _normalised(document: dict[str, Any]) -> dict[str, Any]:
    """A stored document with every default spelled out, as `to_document` writes it today, so
    that a document stored by an older version does not look changed."""
    try:
        return parse_config_document(document, "(stored configs)").to_document()
    except (ConfigError, TypeError, ValueError):
        return document


def _changed(
    name: str, old: dict[str, Any], new: dict[str, Any], conn: sqlite3.Connection | None
) -> Changed:
    fields = tuple(sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k)))
    old_labels = [str(v.get("label")) for v in old.get("values") or [] if isinstance(v, dict)]
    new_labels = [str(v.get("label")) for v in new.get("values") or [] if isinstance(v, dict)]
    removed = tuple(label for label in old_labels if label not in new_labels)
    added = tuple(label for label in new_labels if label not in old_labels)
    return Changed(name, fields, removed, added, _annotations(conn, name, removed))


def _annotations(
    conn: sqlite3.Connection | None, name: str, labels: tuple[str, ...] | None = None
) -> int:
    if conn is None:  # no database yet
        return 0
    if labels is None:
        sql, params = "SELECT count(*) FROM annotations WHERE name = ?", [name]
    elif not labels:
        return 0
    else:
        marks = ",".join("?" * len(labels))
        sql = f"SELECT count(*) FROM annotations WHERE name = ? AND label IN ({marks})"
        params = [name, *labels]
    return conn.execute(sql, params).fetchone()[0]
