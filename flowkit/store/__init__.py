"""Stores behind one protocol (:class:`Store`): in-memory, and SQLite (the embedded default, one WAL file)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from flowkit.store._memory import MemoryStore
from flowkit.store._protocol import Store
from flowkit.store._sqlite import SCHEMA_VERSION, SqliteStore, default_store_path

if TYPE_CHECKING:
    from flowkit._types import StoreLike

__all__ = ["MemoryStore", "SCHEMA_VERSION", "SqliteStore", "Store", "default_store_path", "open_store"]

_OPEN: dict[str, SqliteStore] = {}
_OPEN_LOCK = threading.Lock()
_RESOLVED: dict[str, str] = {}  # a path as given -> the resolved key of _OPEN


def open_store(store: StoreLike = None) -> Store:
    """A store from ``store``: None (the default SQLite file), ``"memory"``, a path, or a store object.

    Every Runtime of this process that names the same file shares one SqliteStore (one connection,
    one process lock).
    """
    if store is not None and not isinstance(store, str | Path):
        if not all(hasattr(store, name) for name in ("durable", "batch_ms", "session", "write")):
            from flowkit.errors import InputError

            raise InputError(
                f"store must be None (the default file), 'memory', a path or a store object, got "
                f"{type(store).__name__}. Fix: pass store='memory', store='runs.db' or a flowkit.store.SqliteStore."
            )
        return store
    if store == "memory":
        return MemoryStore()
    name = str(store) if store is not None else f"\0default {os.environ.get('FLOWKIT_HOME')} {os.environ.get('HOME')}"
    with _OPEN_LOCK:
        key = _RESOLVED.get(name)
        found = _OPEN.get(key) if key is not None else None
        if found is None:
            given = Path(store) if store is not None else default_store_path()
            path = given.expanduser().resolve()  # a file system walk: once per name, not once per run
            found = _OPEN.get(str(path))
            if found is None:
                found = _OPEN[str(path)] = SqliteStore(path)
            if len(_RESOLVED) > 1024:
                _RESOLVED.clear()
            _RESOLVED[name] = str(path)
        return found
