"""What crosses between Python and a script engine: JSON text, as Conductor's serialisation would have it.

NaN and ±Infinity (pandas hands them out) become ``null`` on the way in, as ``JSON.stringify``
and Jackson's default writer treat them; values nested too deeply or too large to cross fail
with a :class:`~flowkit.errors.ScriptError` instead of a ``RecursionError`` or a native crash.
"""

from __future__ import annotations

import json
import math
from typing import Any

from flowkit.errors import ScriptError
from flowkit.scripting._shim import MAX_DEPTH, MAX_RESULT_CHARS

__all__ = ["decode_result", "encode_input", "finite"]

_strict = json.JSONEncoder(allow_nan=False, separators=(",", ":"), default=str).encode


def finite(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by None (a copy only where one was found)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def encode_input(value: object, what: str = "script input") -> str:
    """Compact JSON text of ``value``: NaN/Infinity as null, other non-JSON values as their text.

    Raises:
        ScriptError: The value is nested too deeply for JSON.
    """
    try:
        try:
            return _strict(value)
        except ValueError:  # NaN or Infinity somewhere: the rare path pays for the copy
            return _strict(finite(value))
    except RecursionError:
        raise ScriptError(
            f"{what} is nested too deeply to pass to a script (more than about {MAX_DEPTH} levels)"
        ) from None


def decode_result(text: str, what: str = "script result") -> Any:
    """The value of a result's JSON text, refusing results too large or too deep to hold safely.

    Raises:
        ScriptError: The text is longer than the result limit or nested more than ``MAX_DEPTH`` levels.
    """
    if len(text) > MAX_RESULT_CHARS:
        raise ScriptError(f"{what} is larger than {MAX_RESULT_CHARS} characters of JSON")
    if text.count("[") + text.count("{") > MAX_DEPTH and _depth(text) > MAX_DEPTH:
        raise ScriptError(f"{what} is nested more than {MAX_DEPTH} levels deep")
    try:
        return json.loads(text)
    except RecursionError:
        raise ScriptError(f"{what} is nested more than {MAX_DEPTH} levels deep") from None


def _depth(text: str) -> int:
    """The deepest bracket nesting in JSON ``text`` (brackets inside strings skipped)."""
    deepest = depth = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_DEPTH:
                    return deepest
        elif ch in "]}":
            depth -= 1
    return deepest


_INT64 = range(-(2**63), 2**63)


def _normalize_numbers(value: Any, *, doubles: bool) -> Any:
    """Integral numbers that fit in int64 as int, others as float (Conductor's Long/Double split).

    ``doubles``: the text came from JS doubles, so ``1152921504606847000`` stands for ``2**60``.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        if doubles and not -(2**53) <= value <= 2**53:
            value = float(value)
        elif value in _INT64:
            return value
        else:
            return float(value)
    if isinstance(value, float):
        return int(value) if value.is_integer() and -(2.0**63) <= value < 2.0**63 else value
    if isinstance(value, list):
        return [_normalize_numbers(v, doubles=doubles) for v in value]
    if isinstance(value, dict):
        return {k: _normalize_numbers(v, doubles=doubles) for k, v in value.items()}
    return value
