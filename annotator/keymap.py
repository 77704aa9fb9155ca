"""The app's actions and their default keys, with no Textual import.

The config validator needs the same table as the app (to reject a label key that collides with a
navigation key), so it lives in the core. Key names are Textual's (``ctrl+y``, ``shift+left``,
``left_square_bracket``); users may write either the name or the printable character.
"""

from __future__ import annotations

from dataclasses import dataclass

# Printable characters and the key names Textual gives them.
_CHARACTER_NAMES = {
    " ": "space",
    "[": "left_square_bracket",
    "]": "right_square_bracket",
    "{": "left_curly_bracket",
    "}": "right_curly_bracket",
    "(": "left_parenthesis",
    ")": "right_parenthesis",
    "<": "less_than_sign",
    ">": "greater_than_sign",
    "?": "question_mark",
    "/": "slash",
    "\\": "backslash",
    ".": "full_stop",
    ",": "comma",
    ";": "semicolon",
    ":": "colon",
    "'": "apostrophe",
    '"': "quotation_mark",
    "`": "grave_accent",
    "~": "tilde",
    "!": "exclamation_mark",
    "@": "at",
    "#": "number_sign",
    "$": "dollar_sign",
    "%": "percent_sign",
    "^": "circumflex_accent",
    "&": "ampersand",
    "*": "asterisk",
    "+": "plus",
    "-": "minus",
    "=": "equals_sign",
    "_": "underscore",
    "|": "vertical_line",
}
# Textual key name -> the character it types ("comma" -> ","), for showing and reading keys.
NAME_CHARACTERS = {name: char for char, name in _CHARACTER_NAMES.items()}
_ALIASES = {
    "return": "enter",
    "esc": "escape",
    "backtab": "shift+tab",
    "pgup": "pageup",
    "pgdn": "pagedown",
    "page_up": "pageup",
    "page_down": "pagedown",
    "del": "delete",
}
_MODIFIERS = ("ctrl", "alt", "shift", "meta", "super", "hyper")
_NAMED_KEYS = frozenset(
    {
        "up", "down", "left", "right", "home", "end", "pageup", "pagedown", "enter", "escape",
        "tab", "space", "backspace", "delete", "insert",
        *(f"f{n}" for n in range(1, 25)),
        *NAME_CHARACTERS,
    }
)  # fmt: skip


class KeyError_(ValueError):
    """A key name nobody can press."""


def normalise_key(key: str | int) -> str:
    """Canonical Textual key name for what a user wrote: ``"["`` -> ``left_square_bracket``,
    ``"Ctrl+Y"`` -> ``ctrl+y``, ``"U"`` stays ``U`` (shifted letters are distinct keys; ``shift+u``
    -> ``U`` and ``alt+U`` -> ``alt+shift+u``, as Textual reports them), ``3`` -> ``3``.
    Raises KeyError_ for something that is not a key."""
    text = str(key)
    if text == "":
        raise KeyError_("empty key")
    if len(text) == 1:
        if text in _CHARACTER_NAMES:
            return _CHARACTER_NAMES[text]
        if text.isprintable():
            return text
        raise KeyError_(f"{text!r} is not a printable key")
    parts = text.split("+")
    if text.endswith("++"):  # "ctrl++": the base key is the plus sign itself
        parts = [*parts[:-2], "+"]
    if "" in parts:
        raise KeyError_(f"{text!r} is not a key")
    *modifiers, base = parts
    modifiers = [m.lower() for m in modifiers]
    for modifier in modifiers:
        if modifier not in _MODIFIERS:
            raise KeyError_(f"unknown modifier {modifier!r} in {text!r}")
    if len(base) == 1:
        base = _CHARACTER_NAMES.get(base, base)
        if modifiers and base.isalpha():
            # Textual reports shift+letter as the capital ("U") and alt with a capital as
            # "alt+shift+u": spell them that way or the binding never fires.
            if base.isupper() and "alt" in modifiers and not {"ctrl", "shift"} & set(modifiers):
                modifiers.append("shift")
            if modifiers == ["shift"]:
                return base.upper()
            base = base.lower()
    else:
        base = base.lower()
        base = _ALIASES.get(base, base)
        if base not in _NAMED_KEYS:
            raise KeyError_(f"unknown key {text!r}")
    ordered = [m for m in _MODIFIERS if m in modifiers]
    return "+".join([*ordered, base])


def written_key(key: str) -> str:
    """A key as a config file writes it: the printable character for Textual's name of one
    (`question_mark` -> `?`), `space` and the other named keys as they are."""
    *modifiers, base = key.split("+")
    if base != "space":
        base = NAME_CHARACTERS.get(base, base)
    return "+".join([*modifiers, base])


def display_key(key: str) -> str:
    """How to show a key name to a person: ``left_square_bracket`` -> ``[``."""
    *modifiers, base = key.split("+") if key != "plus" else ["plus"]
    arrows = {"left": "←", "right": "→", "up": "↑", "down": "↓", "space": "space"}
    pretty = arrows.get(base) or NAME_CHARACTERS.get(base, base)
    return "+".join([*modifiers, pretty])


@dataclass(frozen=True, slots=True)
class ActionSpec:
    id: str
    description: str
    default_keys: tuple[str, ...]
    group: str


# Every remappable action. ``id`` is what a config's ``keys:`` map names; the app binds each one
# with a Textual binding id equal to ``id``.
ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("next_span", "Next span", ("down", "j"), "Navigate"),
    ActionSpec("prev_span", "Previous span", ("up", "k"), "Navigate"),
    ActionSpec("next_trace", "Next trace", ("right_square_bracket",), "Navigate"),
    ActionSpec("prev_trace", "Previous trace", ("left_square_bracket",), "Navigate"),
    ActionSpec("toggle", "Expand / collapse", ("enter", "space"), "Navigate"),
    ActionSpec("next_todo", "Next span that needs annotation", ("full_stop",), "Navigate"),
    ActionSpec("prev_todo", "Previous span that needs annotation", ("comma",), "Navigate"),
    ActionSpec("scroll_down", "Scroll the span view down", ("J", "pagedown"), "Navigate"),
    ActionSpec("scroll_up", "Scroll the span view up", ("K", "pageup"), "Navigate"),
    ActionSpec("score_down", "Lower the score by one step", ("left",), "Annotate"),
    ActionSpec("score_up", "Raise the score by one step", ("right",), "Annotate"),
    ActionSpec("score_down_big", "Lower the score by ten steps", ("shift+left",), "Annotate"),
    ActionSpec("score_up_big", "Raise the score by ten steps", ("shift+right",), "Annotate"),
    ActionSpec("next_config", "Focus the next annotation", ("tab",), "Annotate"),
    ActionSpec("prev_config", "Focus the previous annotation", ("shift+tab",), "Annotate"),
    ActionSpec(
        "accept",
        "Take the value another source gave (the first one listed) as yours",
        ("a",),
        "Annotate",
    ),
    ActionSpec(
        "skip", "Skip this item: it leaves your queue (again: take it back)", ("s",), "Annotate"
    ),
    ActionSpec(
        "flag",
        "Flag this item for the reviewer, with an optional reason (again: remove it)",
        ("exclamation_mark",),
        "Annotate",
    ),
    ActionSpec("edit_text", "Write text for the focused annotation", ("e",), "Annotate"),
    ActionSpec("note", "Add a note (on the trace from a trace row)", ("n",), "Annotate"),
    ActionSpec("clear", "Remove my value for the focused annotation", ("x",), "Annotate"),
    ActionSpec("undo", "Undo the last change", ("u",), "Annotate"),
    ActionSpec("redo", "Redo", ("U", "ctrl+y"), "Annotate"),
    ActionSpec("filter", "Filter the queue", ("f",), "View"),
    ActionSpec(
        "search",
        "Search span content: name, input, output, messages, documents, errors",
        ("slash",),
        "View",
    ),
    ActionSpec(
        "next_match",
        "Next match of the search, best first (escape ends the search: back to where / began)",
        ("greater_than_sign",),
        "View",
    ),
    ActionSpec(
        "prev_match", "Previous match of the search (a better one)", ("less_than_sign",), "View"
    ),
    ActionSpec("raw", "Show / hide raw attributes", ("r",), "View"),
    ActionSpec("full_view", "Open the span whole, unclipped", ("o",), "View"),
    ActionSpec("guidelines", "Guidelines: how to judge, what each config asks", ("g",), "View"),
    ActionSpec("help", "Help: every key", ("question_mark",), "App"),
    ActionSpec("quit", "Quit (waits for changes not yet saved)", ("q",), "App"),
)
ACTION_IDS = frozenset(action.id for action in ACTIONS)

# Keys the app always owns, whatever the config says: text boxes and dialogs need them.
RESERVED_KEYS = frozenset({"escape", "ctrl+s", "ctrl+p", "ctrl+q", "ctrl+c"})


def default_keymap() -> dict[str, tuple[str, ...]]:
    return {action.id: action.default_keys for action in ACTIONS}


def resolve_keymap(
    overrides: dict[str, tuple[str, ...]] | None = None,
) -> dict[str, tuple[str, ...]]:
    """Defaults with a config's ``keys:`` remaps applied (keys already normalised)."""
    keymap = default_keymap()
    for action_id, keys in (overrides or {}).items():
        keymap[action_id] = tuple(keys)
    return keymap


def key_owners(keymap: dict[str, tuple[str, ...]]) -> dict[str, list[str]]:
    """Key -> the actions bound to it (more than one means a collision)."""
    owners: dict[str, list[str]] = {}
    for action_id, keys in keymap.items():
        for key in keys:
            owners.setdefault(key, []).append(action_id)
    return owners
