"""How many examples a property test tries: the Hypothesis profiles (registered in
tests/conftest.py) decide.

The default profile, ``annotator``, tries a quarter of what the ``thorough`` one does: 25
examples where a test asks for none (Hypothesis's own default is 100), ``examples(n)`` where it
asks for n. ``pytest --hypothesis-profile=thorough`` runs every count in full. Each run draws
new examples (the seed is random), so the default runs keep exploring; a failure is saved in
``.hypothesis/`` and tried first the next time.
"""

from __future__ import annotations

from hypothesis import settings

THOROUGH_EXAMPLES = 100  # max_examples of the thorough profile: Hypothesis's default


def examples(count: int) -> int:
    """`count` in the thorough profile; in another, the same share of `count` as its
    max_examples is of the thorough one's, never under 10 (nor over `count`)."""
    share = settings.default.max_examples / THOROUGH_EXAMPLES
    return max(min(count, 10), round(count * share))
