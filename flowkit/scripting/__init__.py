"""Sandboxed script evaluation: Conductor's JavaScript (INLINE, SWITCH, DO_WHILE, LAMBDA) and jq.

Importing this package is cheap: V8 (mini-racer) and jq load on first use.
"""

from __future__ import annotations

from flowkit.scripting._jq import Jq
from flowkit.scripting._js import JavaScript, ScriptLimits
from flowkit.scripting._quickjs import QuickJavaScript

__all__ = ["JavaScript", "Jq", "QuickJavaScript", "ScriptLimits", "create_javascript"]

ENGINES = ("quickjs", "v8")


def create_javascript(limits: ScriptLimits | None = None, engine: str | None = None) -> JavaScript | QuickJavaScript:
    """The script engine flowkit uses: QuickJS in-process (default) or V8 (``FLOWKIT_JS_ENGINE=v8``).

    Raises:
        ValueError: for an unknown engine name.
        ScriptError: for ``v8`` when mini-racer (the ``flowkit[v8]`` extra) is not installed.
    """
    import os

    name = (engine or os.environ.get("FLOWKIT_JS_ENGINE") or "quickjs").lower()
    if name == "quickjs":
        return QuickJavaScript(limits)
    if name == "v8":
        from flowkit.scripting._js import require_v8

        require_v8()
        return JavaScript(limits)
    raise ValueError(f"unknown JavaScript engine {name!r}: use one of {', '.join(ENGINES)}")
