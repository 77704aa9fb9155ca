"""The Hypothesis profiles: the default run tries a quarter of the examples, the thorough one
every count a test asks for (tests/properties.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import settings

from tests.properties import examples


@pytest.fixture
def profile() -> Iterator[None]:
    current = settings.get_current_profile_name()
    yield
    settings.load_profile(current)


def test_the_thorough_profile_runs_every_count_and_the_default_a_quarter(profile: None) -> None:
    settings.load_profile("thorough")
    assert settings.default.max_examples == 100
    assert [examples(n) for n in (5, 12, 150, 300)] == [5, 12, 150, 300]
    settings.load_profile("annotator")
    assert settings.default.max_examples == 25
    assert settings.default.deadline is None
    assert [examples(n) for n in (5, 12, 150, 300)] == [5, 10, 38, 75]
