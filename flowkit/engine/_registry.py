"""Registered workflow definitions by name and version."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from flowkit.definitions import WorkflowDef

__all__ = ["Registry"]


class Registry:
    """Workflow definitions by name and version; ``get(name)`` gives the latest version."""

    def __init__(self, definitions: Iterable[WorkflowDef] = ()) -> None:
        self._by_name: dict[str, dict[int, WorkflowDef]] = {}
        for definition in definitions:
            self.register(definition)

    def register(self, definition: WorkflowDef) -> None:
        """Add or replace ``definition`` under its name and version."""
        self._by_name.setdefault(definition.name, {})[definition.version] = definition

    def get(self, name: str, version: int | None = None) -> WorkflowDef | None:
        """The definition, the latest version when ``version`` is None; None when unknown."""
        versions = self._by_name.get(name)
        if not versions:
            return None
        if version is None:
            return versions[max(versions)]
        return versions.get(version)

    def __iter__(self) -> Iterator[WorkflowDef]:
        for versions in self._by_name.values():
            yield from versions.values()

    def __contains__(self, name: object) -> bool:
        return name in self._by_name
