"""Every ``>>>`` example in obskit's docstrings runs and shows what it says (the README's are in
test_readme.py). Examples that need a server are marked ``# doctest: +SKIP`` where they stand."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import obskit

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(obskit.__path__, "obskit.")
    if not m.name.endswith("__main__")
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(module, optionflags=flags, report=True, verbose=False)
    assert result.failed == 0, (
        f"{result.failed} of {result.attempted} examples in {name} fail (see above)"
    )
