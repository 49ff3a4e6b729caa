"""Conductor's Java-side value rules, in one place: how a value prints, what counts as true.

Conductor is written in Java, so wherever it turns a value into text (``Objects.toString`` in
``ParametersUtils.java``, ``"" + value`` for a SWITCH case in ``SwitchTaskMapper.java``) or into a
loop decision (``DoWhile.java``), it follows Java's rules. Every part of flowkit that needs them
(the expression resolver, the engine's SWITCH and DO_WHILE) imports them from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["case_string", "java_double", "java_string", "truthy"]


def truthy(value: Any) -> bool:
    """Conductor's DO_WHILE condition rule.

    Args:
        value: A script result.

    Returns:
        True only for boolean True or a number above 0; the string ``"true"`` is false.
    """
    if isinstance(value, bool):
        return value
    return isinstance(value, int | float) and value > 0


def case_string(value: Any, *, from_script: bool) -> str:
    """The SWITCH case string: Java's ``"" + value``; script numbers that fit an int print as ints.

    Args:
        value: The evaluated SWITCH expression.
        from_script: Whether a script produced it (JavaScript numbers are doubles; Conductor's
            engines hand back integral ones as Integer/Long).

    Returns:
        The text compared with the ``decisionCases`` keys (``null``, ``true``, ``2``, ``1.5``, ``{a=1}``).
    """
    if from_script and isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        value = int(value)
    return java_string(value)


def java_string(value: Any) -> str:
    """``Objects.toString`` as Java writes it: null, true, 2.0, {a=1}, [1, 2]."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return java_double(value)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}={java_string(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(java_string(v) for v in value) + "]"
    return str(value)


def java_double(x: float) -> str:
    """Java's ``Double.toString``: 2.0, 0.001, 1.0E7, 1.5E-5, NaN, -Infinity."""
    if x != x:
        return "NaN"
    if x in (float("inf"), float("-inf")):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0 or 1e-3 <= abs(x) < 1e7:
        text = repr(x)
        return text if "." in text or "e" in text else text + ".0"
    # Java's computerized scientific notation: shortest digits as d.ddd, then E and the exponent (1.0E7, 1.0E-4)
    from decimal import Decimal

    _, digits, exponent = Decimal(repr(abs(x))).as_tuple()
    text = "".join(map(str, digits))
    power = len(text) + int(exponent) - 1
    rest = text[1:].rstrip("0") or "0"
    return f"{'-' if x < 0 else ''}{text[0]}.{rest}E{power}"
