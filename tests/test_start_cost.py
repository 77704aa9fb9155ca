"""What starting the app does, counted (never timed): each footer key is styled once. Each test
also checks what is shown."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.dom import DOMNode

from annotator.app.app import AnnotatorApp
from annotator.app.screens.annotate import AnnotateScreen
from tests.app_data import build_db, config_set, settled

SIZE = (150, 40)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return build_db(tmp_path / "app.db")


async def test_start_styles_and_draws_once(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    restyled: list[tuple[DOMNode, int]] = []  # (node, its children then)
    update_node_styles = DOMNode.update_node_styles

    def recording_styles(self: DOMNode, animate: bool = True) -> None:
        restyled.append((self, len(self.children)))
        update_node_styles(self, animate)

    monkeypatch.setattr(DOMNode, "update_node_styles", recording_styles)
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot, app)
        monkeypatch.undo()
        screen = app.screen
        assert isinstance(screen, AnnotateScreen)
        # No footer key restyled after it was made: each has its final class before it mounts.
        keys = list(screen.footer.query("FooterKey"))  # Textual exports no FooterKey
        assert len(keys) == 9
        assert [key for key in keys if any(node is key for node, _ in restyled)] == []
        # Textual's look: keys bound to the (not compact) footer, the palette's key compact.
        compact = {key.action: key.has_class("-compact") for key in keys}
        assert compact.pop("command_palette") is True
        assert set(compact.values()) == {False} and "help" in compact
