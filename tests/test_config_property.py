"""Property tests for annotator.config: random valid configs load, and round-trip through
to_document (as JSON and as YAML) to equal configs; stepping stays on the grid and in bounds."""

from __future__ import annotations

import json
import math

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from annotator import keymap as km
from annotator.config import AnnotationConfig, ConfigSet, parse_config
from annotator.model import NOTE_NAME, SpanKind, Target
from tests.properties import examples
from tests.test_config import read_both_ways

TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Co", "Cn")), min_size=1, max_size=20
).filter(lambda s: s.strip() != "")
SCORES = st.none() | st.floats(allow_nan=False, allow_infinity=False, width=32)
REMAPS = {"filter": ["F"], "raw": "R"}
# Keys no action uses (and not reserved, nor a digit handed out by default): explicit value keys.
_USED = set(km.key_owners(km.default_keymap())) | km.RESERVED_KEYS | {"F", "R"}
FREE_KEYS = sorted(
    {k for k in "abcdghilmpstvwyz0ABCDEGHILMNOPQSTVWXYZ" if k not in _USED}
    | {"ctrl+a", "ctrl+b", "alt+1", "f5", "left_curly_bracket", "ctrl+left_square_bracket"}
)
SPAN_KINDS = st.none() | st.lists(
    st.sampled_from(list(SpanKind)), min_size=1, max_size=4, unique=True
)
CASES = st.sampled_from([str.upper, str.lower, str.title])


@st.composite
def categorical(draw) -> dict:
    labels = draw(st.lists(TEXT, min_size=1, max_size=12, unique=True))
    explicit_pool = draw(st.permutations(FREE_KEYS))
    n_without = 0
    values = []
    for index, label in enumerate(labels):
        value: dict = {"label": label}
        score = draw(SCORES)
        if score is not None:
            value["score"] = score
        if n_without == 9 or draw(st.booleans()):  # only 1-9 are handed out by default
            value["key"] = explicit_pool[index]
        else:
            n_without += 1
        values.append(value)
    config = {"type": draw(CASES)("categorical"), "values": values}
    if draw(st.booleans()):
        config["auto_advance"] = draw(st.booleans())
    return config


@st.composite
def continuous(draw) -> dict:
    config: dict = {"type": draw(CASES)("continuous")}
    shape = draw(st.sampled_from(["bounded", "stepped", "open", "lower", "upper"]))
    lower = draw(st.integers(-100, 100)) / draw(st.sampled_from([1, 2, 10]))
    if shape in ("bounded", "stepped"):
        step = draw(st.sampled_from([0.1, 0.25, 0.5, 1, 2, 5]))
        count = draw(st.integers(1, 40))
        upper = round(lower + count * step, 6)
        config.update(lower_bound=lower, upper_bound=upper)
        if shape == "stepped":
            config["step"] = step
    elif shape == "lower":
        config["lower_bound"] = lower
    elif shape == "upper":
        config["upper_bound"] = lower
    return config


@st.composite
def annotation(draw) -> dict:
    config = draw(st.one_of(categorical(), continuous(), st.just({"type": "FREEFORM"})))
    if draw(st.booleans()):
        config["description"] = draw(TEXT)
    if draw(st.booleans()):
        config["optimization_direction"] = draw(CASES)(
            draw(st.sampled_from(["maximize", "minimize", "none"]))
        )
    if draw(st.booleans()):
        config["target"] = draw(CASES)(draw(st.sampled_from(list(Target))).value)
    kinds = draw(SPAN_KINDS)
    if kinds is not None:
        config["span_kinds"] = [draw(CASES)(k.value) for k in kinds]
    return config


@st.composite
def config_file(draw) -> dict:
    names = draw(
        st.lists(
            TEXT.filter(lambda s: s.strip().lower() != NOTE_NAME),
            min_size=1,
            max_size=6,
            unique=True,
        )
    )
    annotations = [{"name": name, **draw(annotation())} for name in names]
    document: dict = {"annotations": annotations}
    if draw(st.booleans()):  # move a couple of actions onto keys nobody else uses
        document["keys"] = REMAPS
    return document


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config_file(), st.sampled_from(["json", "yaml"]))
def test_random_valid_configs_load_and_round_trip(document: dict, syntax: str) -> None:
    text = (
        json.dumps(document) if syntax == "json" else yaml.safe_dump(document, allow_unicode=True)
    )
    configs = parse_config(text, "random.yaml")
    assert [c.name for c in configs.annotations] == [a["name"] for a in document["annotations"]]
    for raw, config in zip(document["annotations"], configs.annotations, strict=True):
        for value_raw, value in zip(raw.get("values", []), config.values, strict=True):
            assert value.label == value_raw["label"]
            if "key" in value_raw:
                assert value.key == km.normalise_key(value_raw["key"])
        assert len({v.key for v in config.values}) == len(config.values)

    stored = configs.to_document()
    for again in (
        parse_config(json.dumps(stored), "<db>"),
        parse_config(yaml.safe_dump(stored), "<db>"),
    ):
        assert again.annotations == configs.annotations
        assert again.keys == configs.keys
        assert again.to_document() == stored
    assert (
        ConfigSet(annotations=configs.annotations, keys=configs.keys).annotations
        == configs.annotations
    )


@settings(max_examples=examples(200), deadline=None)
@given(
    lower=st.integers(-50, 50),
    step=st.sampled_from([0.1, 0.2, 0.25, 0.5, 1, 2, 5]),
    count=st.integers(1, 60),
    moves=st.lists(st.sampled_from([-10, -1, 1, 10]), min_size=1, max_size=30),
)
def test_stepping_stays_on_the_grid_and_in_bounds(
    lower: int, step: float, count: int, moves: list[int]
) -> None:
    upper = round(lower + count * step, 9)
    config = AnnotationConfig(
        name="s", type="continuous", lower_bound=lower, upper_bound=upper, step=step
    )
    score = None
    for move in moves:
        new = config.step_score(score, move)
        assert lower <= new <= upper
        k = (new - lower) / step
        assert math.isclose(k, round(k), abs_tol=1e-6)
        assert new == round(new, 9)  # no float noise
        if score is not None:
            expected = min(upper, max(lower, score + move * step))
            assert math.isclose(new, expected, abs_tol=1e-9)
        score = new


# --- libyaml reads a config as PyYAML alone does ---------------------------------------------
# annotator/config/source.py reads a config's YAML with libyaml's parser, and with PyYAML's own
# (pure Python) where the two are known to read a text differently. Config-like texts, drawn
# with the constructs configs use and the ones they get wrong, must read the same both ways.

_YAML_KEYS = (
    "annotations", "name", "description", "type", "values", "label", "score", "key",
    "lower_bound", "upper_bound", "step", "target", "span_kinds", "keys", "auto_advance",
    "optimization_direction", "<<", "x y", "1", "on", "null", "",
)  # fmt: skip
_YAML_WORDS = (
    "categorical", "continuous", "freeform", "good", "bad", "yes", "no", "on", "off", "True",
    "null", "~", "1", "-3", "1.10", "0.5", ".5", "1e3", "0x1F", "0o17", "1_000", ".inf", "-.Inf",
    ".nan", "2024-01-01", "2024-01-01 10:00:00", "12:30", "0", "+1", "Y", "n", "maximize",
    "a b", "é", "中文", "\U0001f600", "x:y", "a-b", "a#b", "a - b", "=", "<<", "%x", "@x",
    "`x", "!x", "&x", "*x", "? x", ":x", "-x", "a\\b", "-", "~x", "Is it good?", "x" * 1030,
    "2024-02-30",
)  # fmt: skip
_YAML_CHARS = (
    "a", "b", "Z", "0", "9", " ", " ", ":", "-", "#", '"', "'", "|", ">", "&", "*", "!", "%",
    "@", "`", ",", "[", "]", "{", "}", "?", "\\", "\n", "é", "ß", "中", "\U0001f600",
    "\U0001d11e", "\u200b", "\xa0", "\u3000", "\U0010ffff", "\ue000",
)  # fmt: skip
# Characters a config rarely has (most of them send it to PyYAML alone): 1 in 31 drawn.
_YAML_ODD = ("\t", "\x85", "\u2028", "\u2029", "\ufeff", "\r", "\x7f", "\ufffe", "\x00", "\x1b")
_YAML_ESCAPES = (
    "\\n", "\\t", "\\\\", '\\"', "\\x41", "\\u00e9", "\\U0001F600", "\\ud83d\\ude00", "\\/",
    "\\_", "\\N", "\\L", "\\P", "\\0", "\\a", "\\e", "\\ ", "\\\n", "\\ud83d", "\\q", "\\x4",
    "\\U00110000",
)  # fmt: skip
_YAML_INSERTS = (
    ":", "-", "#", '"', "'", "|", ">", "&", "*", "!", "%", "@", "`", "\n", "\t", " ", "[", "]",
    "{", "}", ",", "?", "\r", "\ufeff", "\u2028", "\x85", "\\",
)  # fmt: skip


class _Draws:
    """random.Random's choice and randint, drawn by Hypothesis (so that a failure shrinks)."""

    def __init__(self, draw) -> None:
        self.draw = draw

    def choice(self, options: tuple):
        return self.draw(st.sampled_from(options))

    def randint(self, low: int, high: int) -> int:
        return self.draw(st.integers(low, high))


def _yaml_chars(r, most: int = 8) -> str:
    return "".join(
        r.choice(_YAML_CHARS) if r.randint(0, 30) else r.choice(_YAML_ODD)
        for _ in range(r.randint(0, most))
    )


def _yaml_word(r) -> str:
    kind = r.randint(0, 3)
    if kind == 0:
        return _yaml_chars(r)
    if kind == 1:
        return r.choice(_YAML_WORDS) + " " + r.choice(_YAML_WORDS)
    return r.choice(_YAML_WORDS)


class _YamlWriter:
    """Writes a config's values as YAML, each node in a style drawn: plain, quoted (with
    escapes), block scalars, flow or block collections, anchors and aliases, comments."""

    def __init__(self, r) -> None:
        self.r = r
        self.anchors: list[str] = []
        self.width = r.choice((1, 2, 2, 2, 3, 4))

    def pad(self) -> str:
        return self.r.choice(("", "", "", " ", "  ", " ", "", "", "", "", "", "\t"))

    def comment(self) -> str:
        r = self.r
        if r.randint(0, 4):
            return ""
        return r.choice((" ", "  ", " ", "  ", "\t")) + "#" + _yaml_chars(r, 5).replace("\n", " ")

    def anchor(self) -> str:
        if self.r.randint(0, 6):
            return ""
        name = self.r.choice(("a", "b", "x1", "é", "a:b", "a,b", "a]"))
        self.anchors.append(name)
        return "&" + name + " "

    def alias(self) -> str:
        return "*" + self.r.choice(tuple(self.anchors))

    def scalar(self, indent: int, value: str) -> str:
        r = self.r
        style = r.randint(0, 9)
        more = r.choice(("\n", "\n\n", "\n \n")) + " " * (indent + self.width) + _yaml_word(r)
        if style <= 3:
            return value.replace("\n", " ")
        if style == 4:  # a plain scalar over two lines
            return value.replace("\n", " ") + more.replace("\n", " ", more.count("\n") - 1)
        if style == 5:
            quoted = value.replace("'", r.choice(("''", "'")))
            return "'" + quoted + r.choice(("", "", more.replace("'", "''"))) + "'"
        if style == 6:
            parts = [r.choice((value, r.choice(_YAML_ESCAPES))) for _ in range(r.randint(0, 3))]
            return '"' + "".join(parts).replace('"', r.choice(('\\"', '"'))) + '"'
        if style == 7 and value:  # a double-quoted scalar over two lines
            fold = r.choice(("\n", "\n\n", "\\\n")) + " " * indent + r.choice(("", " "))
            return '"' + value.replace('"', "") + fold + _yaml_word(r) + '"'
        head = r.choice(("|", ">", "|-", ">+", "|2", ">-", "|+", "|1-"))
        body = " " * (indent + self.width)
        lines = [
            body + r.choice(("", " ", "  ")) + _yaml_word(r).replace("\n", " ")
            for _ in range(r.randint(0, 3))
        ]
        return head + self.comment() + "\n" + "\n".join(lines) + r.choice(("", "\n", "\n" + body))

    def inline(self, indent: int, depth: int, value) -> str | None:
        """A value after `key: ` or `- ` (it may go on over the next lines), or None for a
        block collection (on the next lines)."""
        r = self.r
        if self.anchors and not r.randint(0, 8):
            return self.alias()
        if isinstance(value, dict | list) and depth < 6:
            return self.anchor() + self.flow(value, depth) if r.randint(0, 3) == 0 else None
        text = value if isinstance(value, str) else _yaml_word(r)
        return self.anchor() + self.scalar(indent, text)

    def flow(self, value, depth: int) -> str:
        r = self.r
        sep = r.choice((", ", ",", " , ", ",\n  ", ", "))
        end = r.choice(("", "", ","))
        if isinstance(value, dict):
            colon = (": ", ":", " : ")
            items = [
                self.flow_scalar(k) + r.choice(colon) + self.flow_item(v, depth)
                for k, v in value.items()
            ]
            return "{" + sep.join(items) + end + "}"
        return "[" + sep.join(self.flow_item(v, depth) for v in value) + end + "]"

    def flow_item(self, value, depth: int) -> str:
        if isinstance(value, dict | list) and depth < 6:
            return self.flow(value, depth + 1)
        return self.flow_scalar(value if isinstance(value, str) else _yaml_word(self.r))

    def flow_scalar(self, value: str) -> str:
        r = self.r
        if self.anchors and not r.randint(0, 8):
            return self.alias()
        style = r.randint(0, 3)
        if style == 0:
            return "'" + value.replace("'", "''") + "'"
        if style == 1:
            escaped = value.replace('"', '\\"').replace("\\", "\\\\")
            return '"' + escaped + r.choice(("", r.choice(_YAML_ESCAPES))) + '"'
        return value

    def block(self, indent: int, depth: int, value) -> list[str]:
        r = self.r
        lines: list[str] = []
        pre = " " * indent
        if isinstance(value, dict):
            for k, v in value.items():
                key = k if r.randint(0, 5) else self.flow_scalar(k)
                if not r.randint(0, 15):
                    key = "? " + key + "\n" + pre
                inline = self.inline(indent, depth, v)
                if inline is None:
                    child = indent + self.width
                    if isinstance(v, list) and r.randint(0, 1):
                        child = indent  # a sequence at its key's indentation
                    lines.append(pre + key + ":" + self.pad() + self.anchor().rstrip())
                    lines[-1] += self.comment()
                    lines.extend(self.block(child, depth + 1, v))
                else:
                    space = r.choice((" ", " ", "  ", " ", " ", " ", " ", "\t "))
                    lines.append(pre + key + ":" + space + inline + self.comment())
                if not r.randint(0, 8):
                    blank = ("", " ", "#" + _yaml_chars(r, 4).replace("\n", ""), pre + "# c")
                    lines.append(r.choice(blank))
            return lines
        for v in value:
            inline = self.inline(indent, depth, v)
            if inline is not None:
                lines.append(pre + "-" + r.choice((" ", " ", "  ")) + inline + self.comment())
                continue
            if isinstance(v, dict) and r.randint(0, 2):  # `- key: value` (a compact mapping)
                items = self.block(indent + 2, depth + 1, v)
                if items:
                    dash = pre + "-" + r.choice((" ", " ", "\t"))
                    lines.extend([dash + items[0][indent + 2 :], *items[1:]])
                    continue
            lines.append(pre + "-" + self.pad() + self.comment())
            lines.extend(self.block(indent + self.width, depth + 1, v))
        return lines


def _config_values(r) -> dict:
    annotations = []
    for _ in range(r.randint(0, 3)):
        annotation: dict = {"name": _yaml_word(r)}
        kind = r.randint(0, 3)
        if kind == 0:
            annotation["type"] = "categorical"
            annotation["values"] = []
            for _ in range(r.randint(0, 3)):
                value = {"label": _yaml_word(r)}
                if r.randint(0, 1):
                    value["score"] = _yaml_word(r)
                if not r.randint(0, 2):
                    value["key"] = _yaml_word(r)
                annotation["values"].append(value)
        elif kind == 1:
            annotation["type"] = "continuous"
            annotation["lower_bound"] = r.choice(("0", "-1.5", "1e2", "x"))
            annotation["upper_bound"] = r.choice(("10", "1.10", ".5", ""))
        elif kind == 2:
            annotation["type"] = "freeform"
        else:
            annotation[r.choice(_YAML_KEYS)] = [_yaml_word(r) for _ in range(r.randint(0, 2))]
        if r.randint(0, 1):
            annotation["description"] = _yaml_word(r)
        annotations.append(annotation)
    document: dict = {"annotations": annotations}
    if not r.randint(0, 3):
        document["keys"] = {r.choice(_YAML_KEYS): _yaml_word(r) for _ in range(r.randint(1, 2))}
    if not r.randint(0, 4):
        document[r.choice(_YAML_KEYS)] = _yaml_word(r)
    return document


def config_yaml_text(r) -> str:
    """A config-like YAML text drawn through `r` (random.Random, or `_Draws`), then mutated:
    characters deleted, doubled, or YAML's indicators, a line break or a tab inserted."""
    writer = _YamlWriter(r)
    values = _config_values(r)
    if r.randint(0, 6):
        body = writer.block(0, 0, values)
    else:
        body = [writer.anchor() + writer.flow(values, 0)]
    if not r.randint(0, 30):  # no values: blank, comments, document markers
        body = [r.choice(("", " ", "# c", "---", "...", "--- # c", "--- |\n x"))]
    head = r.choice(("", "", "", "# c\n", "---\n", "--- ", "%YAML 1.1\n---\n", "\n", " \n"))
    tail = r.choice(("", "\n", "\n", "\n...\n", "\n\n", " ", "\n# end", "\n---\n"))
    text = head + "\n".join(body) + tail
    if r.randint(0, 5):  # most texts without tabs (those are PyYAML's alone to read)
        text = text.replace("\t", " ")
    for _ in range(r.choice((0, 0, 0, 1, 2, 3))):  # half the texts as written
        if not text:
            break
        at = r.randint(0, len(text) - 1)
        change = r.randint(0, 2)
        if change == 0:
            text = text[:at] + text[at + 1 :]
        elif change == 1:
            text = text[:at] + text[at] + text[at:]
        else:
            text = text[:at] + r.choice(_YAML_INSERTS) + text[at:]
    return text


@st.composite
def config_yaml_texts(draw) -> str:
    return config_yaml_text(_Draws(draw))


@settings(max_examples=examples(100), deadline=None)
@given(config_yaml_texts())
@example("annotations: [{name: Is it good?}]")  # libyaml reads on past `?` in a flow collection
@example("{annotati?ons: []}")
@example("%YAML 1.1#\n---\nannotations: []\n")  # libyaml takes a comment after a directive
@example('annotations: [{name: "\\U00110000"}]')  # PyYAML's scanner raised ValueError
@example("annotations: [{name: 2024-02-30}]")  # and its constructor (for both parsers)
@example("a: x\ty")  # a tab in a plain scalar (PyYAML refuses it)
@example("a: |#c\n")  # a comment straight after a block indicator (PyYAML refuses it)
@example("a: !1.5!!x y")  # a malformed tag (PyYAML refuses it)
@example("a:\nb: 1")  # an empty value (libyaml puts it on the next line)
@example("---")
@example("? k\n")
@example("a: 1\r\nb:\r\n")  # \r, NEL and line separators count lines differently
@example("a: \x85b")
@example("a: \u2028b")
@example("a: \ufeffb")  # libyaml drops a byte order mark anywhere
def test_libyaml_reads_config_texts_as_pyyaml_does(text: str) -> None:
    """read_document gives the same values (Plain wrappers and types included), lines and
    problems, or the same error, with libyaml's parser as with PyYAML's alone. The explicit
    examples are texts the two parsers read differently (found by comparing them on generated
    texts): source.py leaves each to PyYAML."""
    expected, got = read_both_ways(text)
    assert got == expected
