"""CSV formula neutralisation: nothing a spreadsheet runs, and exactly reversible."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from annotator.csv_cells import TRIGGERS, neutralise, restore

# text made mostly of the characters that matter, so the edge cases come up often
TEXT = st.text(alphabet=st.sampled_from("=+-@\t\r'a1 {[\n"), max_size=8) | st.text()


@given(TEXT)
def test_restore_undoes_neutralise(text: str) -> None:
    assert restore(neutralise(text)) == text


@given(TEXT)
def test_no_cell_starts_a_formula(text: str) -> None:
    assert neutralise(text)[:1] not in TRIGGERS


@given(TEXT)
def test_only_formula_like_text_changes(text: str) -> None:
    changed = neutralise(text) != text
    assert changed == (text.lstrip("'")[:1] in TRIGGERS)


def test_examples() -> None:
    assert neutralise('=HYPERLINK("x")') == '\'=HYPERLINK("x")'
    assert neutralise("-0.5") == "'-0.5"  # text; numbers are never passed in
    assert neutralise("'=x") == "''=x" and restore("''=x") == "'=x"
    assert neutralise("'plain") == "'plain" and restore("'plain") == "'plain"
    assert neutralise("") == "" and neutralise("'") == "'"
