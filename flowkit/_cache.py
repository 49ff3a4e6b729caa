"""One bounded cache for flowkit's memo tables (plans, scans, validations, wrapped workers).

Each table is small and cheap to rebuild, so when it outgrows its bound it is simply emptied: no
LRU bookkeeping on the hot path, which stays a dict lookup. ``IdentityCache`` keys on an object's
identity (frozen definitions are compared by value, which is slow and not what is meant) and keeps the
object alive, so its ``id`` cannot be reused by another object while the entry stands.
"""

from __future__ import annotations

from typing import Generic, TypeVar

__all__ = ["BoundedCache", "IdentityCache"]

K = TypeVar("K")
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """A dict emptied once it holds more than ``limit`` entries."""

    __slots__ = ("_data", "limit")

    def __init__(self, limit: int) -> None:
        self._data: dict[K, V] = {}
        self.limit = limit

    def get(self, key: K) -> V | None:
        """The value stored for ``key``, or None."""
        return self._data.get(key)

    def put(self, key: K, value: V) -> V:
        """Store ``value`` for ``key`` (emptying the cache first when it is full); return ``value``."""
        if len(self._data) > self.limit:
            self._data.clear()
        self._data[key] = value
        return value

    def clear(self) -> None:
        """Forget every entry."""
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


class IdentityCache(Generic[K, V]):
    """Values computed from objects, keyed by the object's identity, emptied past ``limit`` entries."""

    __slots__ = ("_data", "limit")

    def __init__(self, limit: int) -> None:
        self._data: dict[int, tuple[K, V]] = {}
        self.limit = limit

    def get(self, obj: K) -> V | None:
        """The value stored for this very object, or None."""
        hit = self._data.get(id(obj))
        return hit[1] if hit is not None and hit[0] is obj else None

    def put(self, obj: K, value: V) -> V:
        """Store ``value`` for ``obj`` (emptying the cache first when it is full); return ``value``."""
        if len(self._data) > self.limit:
            self._data.clear()
        self._data[id(obj)] = (obj, value)
        return value

    def clear(self) -> None:
        """Forget every entry."""
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)
