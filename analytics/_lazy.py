"""Lazy re-exports for the analytics packages (PEP 562 module `__getattr__`).

`twin.plant` imports each package's configuration model (e.g. `analytics.pdm.config`),
which runs the package's `__init__`. Importing every public name eagerly there would load
scikit-learn, SciPy and Apprise into every edge agent and ingest worker; with
`lazy_exports` a name's module is imported on first use instead.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """`__getattr__` and `__dir__` for `package`, where `exports` maps a public name to its submodule."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{module}"), name)

    def __dir__() -> list[str]:
        return sorted(exports)

    return __getattr__, __dir__
