"""`scope: outermost` as a person meets it: on LlamaIndex's nested LLM spans (LLM.predict >
OpenAI.chat) the config is asked once, on the outer span; the inner span offers nothing, a
label key there saves nothing, and `.` does not stop there."""

from __future__ import annotations

from pathlib import Path

from annotator.app.app import AnnotatorApp
from tests.app_data import build_db, config_set
from tests.llamaindex_trace import TRACE, llamaindex_spans
from tests.test_app import cursor, focused_name, go_to, press, rows

SIZE = (150, 40)

CONFIG = """
annotations:
  - name: answer
    type: CATEGORICAL
    values: [good, bad]
    span_kinds: [LLM]
    scope: outermost
"""


async def test_outermost_asks_once_per_nested_llm_call(tmp_path: Path) -> None:
    db = build_db(tmp_path / "li.db", llamaindex_spans())
    app = AnnotatorApp(db, config_set(CONFIG), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        assert cursor(app).span_id == "li-predict"  # the first (and only) span needing work
        assert focused_name(app) == "answer"
        assert app.session.progress() == (0, 1)
        await press(pilot, "1", "full_stop")  # nothing left to do: `.` does not go to li-chat
        assert cursor(app).span_id == "li-predict"
        await go_to(pilot, app, "li-chat")
        assert focused_name(app) is None  # nothing offered on the inner LLM span
        await press(pilot, "2")  # a label key there saves nothing
        assert app.session.progress() == (1, 1)
    assert rows(db) == [("span", "li-predict", TRACE, None, "answer", "good", None, None, "alice")]


async def test_without_scope_both_nested_llm_spans_are_asked(tmp_path: Path) -> None:
    db = build_db(tmp_path / "li.db", llamaindex_spans())
    app = AnnotatorApp(db, config_set(CONFIG.replace("    scope: outermost\n", "")), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        assert cursor(app).span_id == "li-predict"
        await press(pilot, "1", "full_stop", "2")
        assert app.session.progress() == (2, 2)
    assert rows(db) == [
        ("span", "li-predict", TRACE, None, "answer", "good", None, None, "alice"),
        ("span", "li-chat", TRACE, None, "answer", "bad", None, None, "alice"),
    ]
