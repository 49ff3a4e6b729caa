"""Sandboxed script evaluation: Conductor's JavaScript (INLINE, SWITCH, DO_WHILE, LAMBDA) and jq.

Importing this package is cheap: V8 (mini-racer) and jq load on first use.
"""

from __future__ import annotations

from flowkit.scripting._jq import Jq
from flowkit.scripting._limits import ScriptLimits
from flowkit.scripting._quickjs import QuickJSJavaScript
from flowkit.scripting._v8 import V8JavaScript

__all__ = [
    "JavaScript",
    "Jq",
    "QuickJSJavaScript",
    "QuickJavaScript",
    "ScriptLimits",
    "V8JavaScript",
    "create_javascript",
]

JavaScript = V8JavaScript
"""The former name of :class:`V8JavaScript` (kept: it was public)."""
QuickJavaScript = QuickJSJavaScript
"""The former name of :class:`QuickJSJavaScript` (kept: it was public)."""

ENGINES = ("quickjs", "v8")


def create_javascript(
    limits: ScriptLimits | None = None, engine: str | None = None
) -> V8JavaScript | QuickJSJavaScript:
    """The script engine flowkit uses: QuickJS in-process (default) or V8 (``FLOWKIT_JS_ENGINE=v8``).

    Raises:
        ValueError: for an unknown engine name.
        ScriptError: for ``v8`` when mini-racer (the ``flowkit[v8]`` extra) is not installed.
    """
    import os

    name = (engine or os.environ.get("FLOWKIT_JS_ENGINE") or "quickjs").lower()
    if name == "quickjs":
        return QuickJSJavaScript(limits)
    if name == "v8":
        from flowkit.scripting._v8 import require_v8

        require_v8()
        return V8JavaScript(limits)
    raise ValueError(f"unknown JavaScript engine {name!r}: use one of {', '.join(ENGINES)}")
