"""The scripting service the engine calls.

V8 and jq are created on first use, so runs without scripts never pay for starting a JavaScript
engine.
"""

from __future__ import annotations

import threading
from typing import Any

from flowkit.errors import ScriptError

__all__ = ["LazyScripts"]


class LazyScripts:
    """``js(source, bindings, mode)`` and ``jq(program, value)`` over a sandboxed V8 and jq.

    Args:
        limits: Default :class:`~flowkit.scripting.ScriptLimits` for every script.
        engine: ``"quickjs"`` (default) or ``"v8"``; the ``FLOWKIT_JS_ENGINE`` variable sets the default.
    """

    def __init__(self, limits: Any = None, engine: str | None = None) -> None:
        self._limits = limits
        self._engine = engine
        self._js: Any = None
        self._jq: Any = None
        self._lock = threading.Lock()

    def js(self, source: str, bindings: Any, *, mode: str = "expression", limits: Any = None, scope: Any = None) -> Any:
        """Evaluate JavaScript with ``$`` bound to ``bindings``.

        ``scope`` names whose context runs it (the engine passes the workflow execution's id): each
        scope sees a fresh global state. Any failure, expected or not, is a ScriptError, so the task
        fails and the workflow never stays RUNNING on an engine error.
        """
        try:
            return self._js_call(source, bindings, mode, limits, scope)
        except ScriptError:
            raise
        except Exception as exc:  # the boundary: an engine's own failure fails the task, not the run
            raise ScriptError(f"script could not run: {type(exc).__name__}: {exc}") from None

    def _js_call(self, source: str, bindings: Any, mode: str, limits: Any, scope: Any) -> Any:
        if self._js is None:
            with self._lock:
                if self._js is None:
                    from flowkit.scripting import create_javascript

                    self._js = create_javascript(self._limits, self._engine)
        if isinstance(limits, dict):
            from flowkit.scripting._limits import ScriptLimits

            base = self._limits or ScriptLimits()
            limits = ScriptLimits(
                timeout_ms=limits.get("timeout_ms", base.timeout_ms),
                max_memory_bytes=limits.get("max_memory_bytes", base.max_memory_bytes),
            )
        if scope is None:
            return self._js.evaluate(source, bindings, mode=mode, limits=limits)
        return self._js.evaluate(source, bindings, mode=mode, limits=limits, scope=scope)

    def jq(self, program: str, value: Any) -> list[Any]:
        """Run a jq program; every output (failures of any kind are ScriptErrors)."""
        if self._jq is None:
            with self._lock:
                if self._jq is None:
                    from flowkit.scripting._jq import Jq

                    self._jq = Jq(limits=self._limits)
        try:
            return self._jq.run(program, value)  # type: ignore[no-any-return]
        except ScriptError:
            raise
        except Exception as exc:  # the boundary, as in js()
            raise ScriptError(f"jq program could not run: {type(exc).__name__}: {exc}", language="jq") from None

    def check_syntax(self, source: str, *, mode: str = "expression") -> None:
        """Raise ScriptError when ``source`` does not compile."""
        if self._js is None:
            self.js("1", {})
        self._js.check_syntax(source, mode=mode)
