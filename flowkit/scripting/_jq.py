"""jq programs (Conductor's JSON_JQ_TRANSFORM) on the ``jq`` package, compiled once per program text."""

from __future__ import annotations

import importlib
import re
import threading
from collections import OrderedDict
from typing import Any

from flowkit.errors import ScriptError
from flowkit.scripting._js import _normalize_numbers

__all__ = ["Jq"]

# jq 1.8 prints `Cannot index string with string ("array")`; jq 1.7 and Conductor users know the
# unparenthesised form, which is also easier to match on.
_PARENTHESISED_KEY = re.compile(r'^(Cannot index \w+ with \w+) \((".*")\)$', re.DOTALL)
_COMPILE_LINE = re.compile(r"line (\d+)")


class Jq:
    """Compiles jq programs once (cache by program text, bounded LRU) and runs them on the ``jq`` package.

    Thread-safe: the ``jq`` package keeps a pool of interpreter states per compiled program.

    Args:
        max_programs: How many distinct compiled programs (and compile errors) to keep.

    """

    def __init__(self, max_programs: int = 512) -> None:
        self._max_programs = max_programs
        self._programs: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def compile(self, program: str) -> object:
        """Compile ``program``, or return the cached compiled program.

        Args:
            program: jq program text.

        Returns:
            The ``jq`` package's compiled program.

        Raises:
            ScriptError: ``language="jq"``, with jq's compile message and ``line`` when jq gives one.

        """
        with self._lock:
            cached = self._programs.get(program)
            if cached is not None:
                self._programs.move_to_end(program)
        if cached is None:
            cached = self._compile(program)
            with self._lock:
                self._programs[program] = cached
                if len(self._programs) > self._max_programs:
                    self._programs.popitem(last=False)
        if isinstance(cached, ScriptError):  # a fresh exception: re-raising one object grows its traceback
            raise ScriptError(str(cached), language="jq", line=cached.line)
        return cached

    def run(self, program: str, value: object) -> list[object]:
        """Run ``program`` on ``value``.

        Args:
            program: jq program text.
            value: A JSON-compatible input.

        Returns:
            Every output, in order. Integral numbers that fit in int64 are ints (Conductor's
            "integral numbers become longs"); other numbers are floats.

        Raises:
            ScriptError: ``language="jq"``, when the program does not compile or fails at run time
                (e.g. ``Cannot index string with string "array"``).

        """
        compiled: Any = self.compile(program)
        try:
            outputs = compiled.input_value(value).all()
        except ValueError as exc:
            message = str(exc)
            raise ScriptError(_PARENTHESISED_KEY.sub(r"\1 \2", message), language="jq") from None
        except TypeError as exc:
            raise ScriptError(f"jq input is not JSON-compatible: {exc}", language="jq") from None
        return [_normalize_numbers(output, doubles=False) for output in outputs]

    @staticmethod
    def _compile(program: str) -> Any:
        jq = importlib.import_module("jq")  # imported on first use: `import flowkit` stays fast
        try:
            return jq.compile(program)
        except ValueError as exc:
            message = str(exc).strip()
            line = _COMPILE_LINE.search(message)
            return ScriptError(message, language="jq", line=int(line[1]) if line else None)
