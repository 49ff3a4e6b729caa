"""Finding executions by id: what a ``lookup=`` argument may be, for the views that follow sub-workflows."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from flowkit.errors import NotFoundError

if TYPE_CHECKING:
    from flowkit.engine import WorkflowModel

__all__ = ["Lookup", "execution_finder"]

Lookup = Callable[[str], Any] | Mapping[str, Any]
"""A mapping or a callable ``workflow_id -> WorkflowModel | Execution``."""


def execution_finder(lookup: Lookup | None) -> Callable[[str], WorkflowModel | None]:
    """``lookup`` as a function that answers a WorkflowModel, or None for ids it does not know (all, without one)."""
    if lookup is None:
        return lambda _workflow_id: None
    get = lookup.get if isinstance(lookup, Mapping) else lookup
    if not callable(get):
        raise TypeError(f"lookup must be a mapping or a callable, got {type(lookup).__name__}")

    def find(workflow_id: str) -> WorkflowModel | None:
        try:
            found = get(workflow_id)
        except (LookupError, NotFoundError):
            return None
        return None if found is None else getattr(found, "model", found)

    return find
