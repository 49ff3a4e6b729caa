"""Limits on the JSON that enters flowkit, and the copy taken of a workflow's input.

Conductor reads definitions and inputs with Jackson, which refuses ``NaN``/``Infinity`` tokens,
numbers that do not fit the Java field (``int`` or ``long``) and documents nested deeper than its
``StreamReadConstraints`` allow. flowkit applies the same kind of limits so a bad value ends in a
clear error naming the field, never in ``OverflowError`` or ``RecursionError`` deep in the engine.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from flowkit.errors import InputError

__all__ = [
    "MAX_DEFINITION_DEPTH",
    "MAX_VALUE_DEPTH",
    "copy_input",
    "definition_json_problem",
    "nesting_problem",
    "short_path",
    "whole_number_problem",
]

MAX_VALUE_DEPTH = 200
"""Deepest nesting of a workflow input or a task output (dicts and lists inside each other)."""
MAX_DEFINITION_DEPTH = 128
"""Deepest nesting of a definition document. With a value of :data:`MAX_VALUE_DEPTH` placed inside
its deepest ``inputParameters``, the engine's copies stay well inside Python's recursion limit."""

_INT_MAX = 2**31 - 1  # Java int: most whole-number fields of TaskDef, WorkflowTask and WorkflowDef
# Java long in Conductor; flowkit keeps times in epoch milliseconds, which must stay exact in JSON
# doubles (JavaScript, the UI), so a time limit may be at most 2**53 ms (about 285,000 years).
_SECONDS_MAX = 2**53 // 1000
_LONG_SECONDS = frozenset({"timeout_seconds", "response_timeout_seconds", "total_timeout_seconds"})
_SCALARS = frozenset({str, int, float, bool, type(None)})


def whole_number_problem(field: str, value: Any) -> str | None:
    """Why ``value`` cannot be the whole-number definition field ``field`` (None when it can)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"expected a whole number, got {value!r}."
    if isinstance(value, float) and not math.isfinite(value):
        return f"expected a whole number, got {value!r} (NaN and Infinity are not numbers in JSON)."
    if value != int(value):
        return f"expected a whole number, got {value!r}."
    top = _SECONDS_MAX if field in _LONG_SECONDS else _INT_MAX
    if not -top - 1 <= value <= top:
        return f"{value!r} is out of range (at most {top:,})."
    return None


def nesting_problem(value: Any, limit: int, path: str = "") -> str | None:
    """The path where ``value`` nests more than ``limit`` dicts/lists deep (None when it does not).

    Iterative, so any depth (or a value that contains itself) is answered without recursion.
    """
    if _within(value, limit):
        return None
    stack: list[tuple[Any, int, str]] = [(value, 1, path)]
    while stack:
        node, depth, where = stack.pop()
        if isinstance(node, Mapping):
            items: Any = node.items()
        elif isinstance(node, list | tuple):
            items = enumerate(node)
        else:
            continue
        if depth > limit:
            return where or "the top level"
        for key, child in items:
            if type(child) not in _SCALARS:
                stack.append((child, depth + 1, f"{where}[{key}]" if type(key) is int else f"{where}.{key}"))
    return None


def _within(value: Any, limit: int, finite: bool = False) -> bool:
    """``nesting_problem`` without the paths: the common answer (no problem) at half the cost.

    With ``finite``, a NaN or an Infinity anywhere is a problem too.
    """
    stack: list[tuple[Any, int]] = [(value, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        node, depth = pop()
        if type(node) is dict or isinstance(node, Mapping):
            children: Any = node.values()
        elif isinstance(node, list | tuple):
            children = node
        elif finite and isinstance(node, float) and not math.isfinite(node):
            return False
        else:
            continue
        if depth > limit:
            return False
        for child in children:
            kind = type(child)
            if kind not in _SCALARS or (finite and kind is float and child - child != 0):
                push((child, depth + 1))
    return True


def definition_json_problem(value: Any, limit: int = MAX_DEFINITION_DEPTH) -> str | None:
    """What keeps a definition document from being JSON Conductor reads: too deep, or NaN/Infinity.

    Conductor's Jackson refuses both; a dict built in Python can hold them, so they are named here.
    """
    if _within(value, limit, finite=True):
        return None
    stack: list[tuple[Any, int, str]] = [(value, 1, "")]
    while stack:
        node, depth, where = stack.pop()
        if isinstance(node, float) and not math.isfinite(node):
            return f"has {node!r} at {short_path(where.lstrip('.'))}, which is not a number in JSON."
        items = node.items() if isinstance(node, Mapping) else enumerate(node) if isinstance(node, list | tuple) else ()
        if items and depth > limit:
            return f"nests deeper than {limit} levels (at {short_path(where.lstrip('.'))})."
        for key, child in items:
            if type(child) not in _SCALARS or type(child) is float:
                stack.append((child, depth + 1, f"{where}[{key}]" if type(key) is int else f"{where}.{key}"))
    return None


class _TooDeep(Exception):
    pass


def _copy(value: Any, depth: int) -> Any:
    """``value`` with its dicts and lists copied; ``depth`` counts the containers around it."""
    kind = type(value)
    if kind is dict:
        if depth >= MAX_VALUE_DEPTH:
            raise _TooDeep
        return {k: v if type(v) in _SCALARS else _copy(v, depth + 1) for k, v in value.items()}
    if kind is list or kind is tuple:
        if depth >= MAX_VALUE_DEPTH:
            raise _TooDeep
        return [v if type(v) in _SCALARS else _copy(v, depth + 1) for v in value]
    if isinstance(value, Mapping | list | tuple):
        if depth >= MAX_VALUE_DEPTH:
            raise _TooDeep
        items = value.items() if isinstance(value, Mapping) else enumerate(value)
        copied = {k: _copy(v, depth + 1) for k, v in items}
        return copied if isinstance(value, Mapping) else list(copied.values())
    return value  # a scalar, or an object the store records as text


def short_path(path: str, limit: int = 80) -> str:
    """``path`` cut to ``limit`` characters for a message."""
    return path if len(path) <= limit else path[: limit - 3] + "..."


def copy_input(data: Mapping[str, Any] | None, what: str = "workflow input") -> dict[str, Any]:
    """A copy of ``data`` that later changes by the caller do not reach (dicts and lists copied).

    Conductor serialises the start request, so what it records is fixed when the workflow starts;
    this copy gives flowkit the same guarantee without a serialisation round trip.

    Raises:
        InputError: ``data`` nests deeper than :data:`MAX_VALUE_DEPTH` levels (or contains itself).
    """
    if not data:
        return {}
    try:
        return _copy(data, 0)  # type: ignore[no-any-return]
    except (_TooDeep, RecursionError):
        where = nesting_problem(data, MAX_VALUE_DEPTH, "input")
        raise InputError(
            f"{what} nests deeper than {MAX_VALUE_DEPTH} levels (at {short_path(where or 'input')}) or contains "
            "itself. "
            "Fix: flatten it, or pass the deep part as a JSON string and parse it in the worker."
        ) from None
