"""The copy of a worker's output that flowkit records.

Conductor serialises a worker's result to JSON on its way to the server, so nothing the worker
does afterwards reaches the recorded task. In-process, the returned dict would stay shared with
the worker's code (an inline run would even write the changed value to the store later), so the
output is copied where it leaves the worker. The copy is specialised for JSON values (dicts, lists,
strings, numbers, booleans, None): several times cheaper than ``copy.deepcopy``, and it checks that
the value can be stored in the same pass.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MAX_OUTPUT_DEPTH", "record_output"]

MAX_OUTPUT_DEPTH = 200
"""Deepest nesting a task output may have (as :data:`flowkit.definitions._json.MAX_VALUE_DEPTH`)."""

_SCALARS = frozenset({str, int, float, bool, type(None)})
_JSON_SCALARS = (str, int, float, bool, type(None))


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


def record_output(output: dict[str, Any], explain: Any) -> tuple[dict[str, Any], str | None]:
    """``(copy, None)`` for an output that can be stored, else ``(output, problem)``.

    Tuples become lists and dict subclasses plain dicts, as a JSON round trip would make them.
    ``explain(output, "output")`` says what is wrong when the copy meets something JSON cannot hold.
    """
    try:
        return _copy(output, 0), None
    except (_NotJson, RecursionError):
        problem = explain(output, "output")
        return output, problem or "output contains itself or nests too deeply"
