"""The copy of a worker's output that flowkit records.

Conductor serialises a worker's result to JSON on its way to the server, so nothing the worker
does afterwards reaches the recorded task. In-process, the returned dict would stay shared with
the worker's code (an inline run would even write the changed value to the store later), so the
output is copied where it leaves the worker. The copy is specialised for JSON values (dicts, lists,
strings, numbers, booleans, None): several times cheaper than ``copy.deepcopy``, and it checks that
the value can be stored in the same pass.

A container nothing else holds needs no copy: no one can change it later. CPython's reference count
says so exactly (a plain dict or list cannot even be weakly referenced), so what the worker built
only to return it (a generator's thousands of ``{"i": i}`` dicts) is kept and checked in place.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["MAX_OUTPUT_DEPTH", "record_output", "sole_refs"]

MAX_OUTPUT_DEPTH = 200
"""Deepest nesting a task output may have (as :data:`flowkit.definitions._json.MAX_VALUE_DEPTH`)."""

_SCALARS = frozenset({str, int, float, bool, type(None)})
_JSON_SCALARS = (str, int, float, bool, type(None))

# sys.getrefcount counts every strong reference in CPython up to 3.13 with the GIL. From 3.14 the
# interpreter may borrow references it does not count, a free-threaded build counts them apart, and
# other Pythons have no exact count: nothing is taken as held alone there, so everything is copied.
_EXACT = (
    sys.implementation.name == "cpython"
    and sys.version_info < (3, 14)
    and getattr(sys, "_is_gil_enabled", lambda: True)()
)
sole_refs = sys.getrefcount if _EXACT else (lambda value: 0)
"""``sys.getrefcount`` where it counts every holder, else a function that returns 0 (never alone)."""
# A child only its parent holds, as _own's loops see it: the parent's slot, the loop's name, the call's argument.
_HELD = 3


class _NotJson(Exception):
    """The value holds something JSON cannot (``_json_problem`` then says what and where)."""


def _copy(value: Any, depth: int) -> Any:
    kind = type(value)
    if kind is dict:
        if depth > MAX_OUTPUT_DEPTH:
            raise _NotJson
        out = value.copy()  # sized at once; only the containers in it are replaced by their copies
        for k, v in value.items():
            if type(k) is not str:
                raise _NotJson
            if type(v) not in _SCALARS:
                out[k] = _copy(v, depth + 1)
        return out
    if kind is list or kind is tuple:
        if depth > MAX_OUTPUT_DEPTH:
            raise _NotJson
        return [v if type(v) in _SCALARS else _copy(v, depth + 1) for v in value]
    if isinstance(value, _JSON_SCALARS):
        return value  # a subclass (an IntEnum, numpy.float64): immutable like its base
    if isinstance(value, dict):
        if depth > MAX_OUTPUT_DEPTH or not all(isinstance(k, str) for k in value):
            raise _NotJson
        return {k: _copy(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        if depth > MAX_OUTPUT_DEPTH:
            raise _NotJson
        return [_copy(v, depth + 1) for v in value]
    raise _NotJson


def _own(value: Any, depth: int) -> Any:
    """:func:`_copy` for a dict or list only the caller holds: kept, its contents checked in place.

    A container in it that only it holds is kept too; one held elsewhere as well is copied.
    """
    if depth > MAX_OUTPUT_DEPTH:
        raise _NotJson
    if type(value) is dict:
        for k in value:  # keys, not items(): the items iterator keeps its last pair, one more holder
            if type(k) is not str:
                raise _NotJson
            v = value[k]
            if type(v) not in _SCALARS:
                held = (type(v) is dict or type(v) is list) and sole_refs(v) == _HELD
                value[k] = _own(v, depth + 1) if held else _copy(v, depth + 1)  # same keys: iteration goes on
        return value
    for v in value:  # a look first: most lists hold scalars, or flat dicts built for them (a generator's)
        if type(v) in _SCALARS:
            continue
        if type(v) is dict and sole_refs(v) == _HELD:
            for k in v:
                if type(k) is not str or type(v[k]) not in _SCALARS:
                    break
            else:
                continue
        break  # something to copy, convert or look into: the pass below does it all
    else:
        return value
    for i in range(len(value)):
        v = value[i]
        if type(v) not in _SCALARS:
            held = (type(v) is dict or type(v) is list) and sole_refs(v) == _HELD
            value[i] = _own(v, depth + 1) if held else _copy(v, depth + 1)
    return value


def record_output(output: dict[str, Any], explain: Any, *, owned: bool = False) -> tuple[dict[str, Any], str | None]:
    """``(copy, None)`` for an output that can be stored, else ``(output, problem)``.

    Tuples become lists and dict subclasses plain dicts, as a JSON round trip would make them.
    ``explain(output, "output")`` says what is wrong when the copy meets something JSON cannot hold.
    ``owned``: ``output`` is a plain dict no one else holds; it is kept, and so is every container in
    it that only it holds (checked and converted in place): the result is still the caller's alone.
    """
    try:
        return (_own(output, 0) if owned else _copy(output, 0)), None
    except (_NotJson, RecursionError):
        problem = explain(output, "output")
        return output, problem or "output contains itself or nests too deeply"
