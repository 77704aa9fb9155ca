"""Screen snapshots of review mode at 80x24 and 120x40 (pytest-textual-snapshot), with a hostile
rater name, label and flag reason that must stay literal. Refresh after an intended change of
look with `pytest tests/test_review_snapshots.py --snapshot-update`."""

from __future__ import annotations

from pathlib import Path

import pytest

from annotator.app.review import ReviewApp
from annotator.store import Store
from tests.app_data import build_db, config_set
from tests.test_app_review import vote


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_review_view(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    db = build_db(tmp_path / "snap.db")
    with Store.open(db) as store:
        store.save_config_document(config_set().to_document())
        store.set_annotation(vote("[bold red]eve[/]\x1b[31m", "r3", label="[link=x]bad[/link]"))
        store.set_annotation(vote("bob", "r3", label="correct", score=1))
        store.set_annotation(vote("carol", "r3", label="correct", score=1))
        store.set_annotation(vote("alice", "r1", label="correct", score=1))
        store.set_annotation(vote("bob", "r1", label="partial", score=0.5))
        store.flag("r3", "bob", "wrong [b]policy[/b]\u202e")

    async def decide_first(pilot) -> None:
        await pilot.press("1")
        await pilot.pause()

    app = ReviewApp(db, config_set(), "lead")
    assert snap_compare(app, terminal_size=size, run_before=decide_first)
