"""The docstring examples of the pdm modules run and hold."""

from __future__ import annotations

import doctest

import pytest

from analytics.pdm import features, hysteresis, rul


@pytest.mark.parametrize("module", [features, hysteresis, rul])
def test_docstring_examples(module: object) -> None:
    result = doctest.testmod(module)  # type: ignore[arg-type]
    assert result.attempted > 0 and result.failed == 0
