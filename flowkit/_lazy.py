"""Lazy package attributes (PEP 562): names whose module is imported on first use.

``import flowkit`` must stay fast, so heavy parts (process pools, Dask, widgets, the runtime) load
only when one of their names is first read.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_attributes"]


def lazy_attributes(
    package: str, lazy: Mapping[str, str], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of a package whose names in ``lazy`` load on first use.

    Args:
        package: The package's name, for the error message.
        lazy: Each lazy name and the module that defines it.
        namespace: The package's ``globals()``: a loaded value is stored there, so it loads once.

    Returns:
        The module-level ``__getattr__`` and ``__dir__`` functions.
    """

    def __getattr__(name: str) -> Any:
        module = lazy.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(namespace.get("__all__", ())))

    return __getattr__, __dir__
