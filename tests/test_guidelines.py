"""Guidelines (issue 11): a config file's top-level `guidelines:` (Markdown) and each config's
description, shown by `g` in the app; checked by `config check`, stored with the configs, handed
out by `assign`, never sent to Phoenix."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from annotator.app.app import AnnotatorApp
from annotator.app.screens.annotate import AnnotateScreen
from annotator.app.screens.guidelines import GuidelinesScreen
from annotator.cli.main import cli
from annotator.config import ConfigError, parse_config
from annotator.config.rules import MAX_GUIDELINES
from annotator.store import Store
from tests.app_data import CONFIG_YAML, build_db, config_set, settled

GUIDELINES = (  # YAML's double-quoted escapes: \e is ESC, \a BEL, \u202e a bidi override
    'guidelines: "# Judging answers\\nMark **correct** only when every claim is supported.\\n'
    'See [the wiki](https://example.com/wiki). [bold]x[/bold] \\e]0;pwned\\a \\u202eevil"\n'
)


def shown(app: AnnotatorApp) -> str:
    console = Console(width=100, record=True, file=io.StringIO(), color_system=None)
    for static in app.screen.query("Static"):
        console.print(static.content)
    return console.export_text()


def test_config_reads_guidelines_and_keeps_them_in_its_document() -> None:
    configs = parse_config(GUIDELINES + CONFIG_YAML, "c.yaml")
    assert configs.guidelines is not None
    assert configs.guidelines.startswith("# Judging answers\nMark **correct**")
    assert "\x1b]0;pwned\x07 \u202eevil" in configs.guidelines  # kept as written, shown escaped
    assert configs.to_document()["guidelines"] == configs.guidelines
    assert parse_config(CONFIG_YAML, "c.yaml").guidelines is None
    assert "guidelines" not in parse_config(CONFIG_YAML, "c.yaml").to_document()


@pytest.mark.parametrize(
    "value, message",
    [
        ("[a, b]", "c.yaml:1: guidelines must be text, not a list"),
        (
            "x" * (MAX_GUIDELINES + 1),
            f"c.yaml:1: guidelines are {MAX_GUIDELINES + 1:,} characters; at most "
            f"{MAX_GUIDELINES:,} (put a longer document elsewhere and link to it)",
        ),
    ],
)
def test_bad_guidelines_are_one_line_with_the_line(value: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(f"guidelines: {value}\n{CONFIG_YAML}", "c.yaml")
    assert str(caught.value) == message


def test_misspelt_top_level_field_suggests_guidelines() -> None:
    with pytest.raises(ConfigError, match="did you mean 'guidelines'"):
        parse_config(f"guideline: be kind\n{CONFIG_YAML}", "c.yaml")


def test_guidelines_are_stored_updated_without_replace_and_handed_out(tmp_path: Path) -> None:
    db = build_db(tmp_path / "team.db")
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text(CONFIG_YAML, encoding="utf-8")
    second.write_text(GUIDELINES + CONFIG_YAML, encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(cli, ["config", "store", str(first), "--db", str(db)]).exit_code == 0
    updated = runner.invoke(cli, ["config", "store", str(second), "--db", str(db)])
    assert (updated.exit_code, updated.stdout) == (
        0,
        f"{db}: update the guidelines (from {second})\n",
    )
    out = tmp_path / "batches"
    assigned = runner.invoke(
        cli,
        ["assign", "--db", str(db), "--annotators", "a", "--per-item", "1", "--out", str(out)],
    )
    assert assigned.exit_code == 0, assigned.stderr
    with Store.open(out / "a.db", readonly=True) as store:
        document = store.load_config_document()
    assert document is not None
    assert document["guidelines"] == parse_config(GUIDELINES + CONFIG_YAML, "x").guidelines


def test_phoenix_never_gets_the_guidelines() -> None:
    configs = parse_config(GUIDELINES + CONFIG_YAML, "c.yaml")
    for config in configs.annotations:
        assert "guidelines" not in config.phoenix_body()


async def test_g_shows_guidelines_literally_and_the_focused_config_first(tmp_path: Path) -> None:
    db = build_db(tmp_path / "app.db")
    app = AnnotatorApp(db, config_set(GUIDELINES + CONFIG_YAML), "alice")
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot, app)
        await pilot.press("tab")  # focus the second config that applies here
        await settled(pilot, app)
        annotate = app.screen
        assert isinstance(annotate, AnnotateScreen)
        focused = annotate.current_config
        assert focused is not None and focused.name != annotate.session.configs[0].name
        await pilot.press("g")
        await settled(pilot, app)
        assert isinstance(app.screen, GuidelinesScreen)
        text = shown(app)
        assert "Judging answers" in text
        assert "Mark correct only when every claim is supported." in text  # Markdown, rendered
        assert "the wiki (https://example.com/wiki)" in text  # a link is text, never opened
        assert "[bold]x[/bold]" in text  # literal, not markup
        assert "\\x1b]0;pwned\\x07" in text and "\\u202e" in text  # escapes shown, not sent
        first = next(line for line in text.splitlines() if line.startswith("▶ "))
        assert first.startswith(f"▶ {focused.name} ")  # the focused config comes first
        for segment in app.screen.query_one("#guidelines-text").render_lines(
            app.screen.query_one("#guidelines-text").region.reset_offset
        ):
            for piece in segment:
                assert piece.style is None or piece.style.link is None
        await pilot.press("g")  # the key that opened it closes it
        await settled(pilot, app)
        assert isinstance(app.screen, AnnotateScreen)


async def test_without_guidelines_g_says_how_to_add_them(tmp_path: Path) -> None:
    db = build_db(tmp_path / "app.db")
    app = AnnotatorApp(db, config_set(CONFIG_YAML + "\nkeys:\n  guidelines: h\n"), "alice")
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot, app)
        await pilot.press("g")  # remapped away: g does nothing
        await settled(pilot, app)
        assert isinstance(app.screen, AnnotateScreen)
        await pilot.press("h")
        await settled(pilot, app)
        assert isinstance(app.screen, GuidelinesScreen)
        assert "This config has no guidelines." in shown(app)
        await pilot.press("h")
        await settled(pilot, app)
        assert isinstance(app.screen, AnnotateScreen)
