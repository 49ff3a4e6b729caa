"""jq programs (Conductor's JSON_JQ_TRANSFORM) on the ``jq`` package, run in a sandbox child process.

The ``jq`` binding has no time or memory limit (an infinite loop ignores SIGINT, ``[range(1e9)]``
aborts the process), so programs run in :mod:`flowkit.scripting._sandbox`'s child processes under
the script limits; they are compiled here too, once per program text, for syntax errors. jq's
environment (``$ENV``, ``env``) and module system (``import``, ``include``, ``modulemeta``,
``get_search_list``) are refused: flowkit refuses ``${SOME_ENV_VAR}`` for the same reason, and
modules would read ``*.jq``/``*.json`` files anywhere on disk. The child also starts with an empty
environment, so ``$ENV`` built at run time finds nothing.
"""

from __future__ import annotations

import importlib
import re
import threading
from collections import OrderedDict
from typing import Any

from flowkit.errors import ScriptError
from flowkit.scripting._convert import _normalize_numbers, decode_result, encode_input
from flowkit.scripting._limits import ScriptLimits

__all__ = ["Jq"]

# jq 1.8 prints `Cannot index string with string ("array")`; jq 1.7 and Conductor users know the
# unparenthesised form, which is also easier to match on.
_PARENTHESISED_KEY = re.compile(r'^(Cannot index \w+ with \w+) \((".*")\)$', re.DOTALL)
_COMPILE_LINE = re.compile(r"line (\d+)")
_FORBIDDEN = re.compile(
    r"\$ENV\b|\$__prog_args\b|(?<![\w.$])(?:env|import|include|modulemeta|get_search_list)\b(?!\s*:)"
)


# The in-process fast path: programs built only from these words (besides field names and object
# keys) and without `..`, `*`, `$`, `def`, `as`, `reduce`, regexes or generators cannot loop, and
# what they make grows at most linearly with their input (times the program's own size), so they
# skip the child process (about 15 µs instead of about 100 µs).
_LINEAR = frozenset(
    "select map map_values length utf8bytelength keys keys_unsorted values has in inside contains"
    " to_entries from_entries with_entries add any all flatten min max min_by max_by unique unique_by"
    " group_by sort sort_by reverse startswith endswith ltrimstr rtrimstr trim ltrim rtrim join split"
    " ascii_downcase ascii_upcase ascii implode explode tostring tonumber tojson type not and or if then"
    " elif else end null true false empty error first last nth index rindex indices isempty del"
    " floor ceil round sqrt fabs abs objects arrays strings numbers booleans nulls iterables scalars"
    " values try catch getpath paths leaf_paths pick toarray todate fromdate now todateiso8601"
    " fromdateiso8601 dateadd datesub date strftime strptime mktime gmtime localtime tojson"
    " infinite nan isinfinite isnan isnormal isvalid @text @json @csv @tsv @html @uri @sh @base64"
    " @base64d @base32 @base32d".split()
)
_WORD = re.compile(r"@?[A-Za-z_][A-Za-z0-9_]*")


def runs_in_process(program: str) -> bool:
    """Whether ``program`` is one of the simple, linear programs run without the child process."""
    code = _code_only(program)
    if ".." in code or "*" in code or "$" in code or ("split" in code and ";" in code):
        return False
    for found in _WORD.finditer(code):
        start, end = found.span()
        if start and code[start - 1] == ".":
            continue  # a field name
        if found[0] not in _LINEAR and not code[end:].lstrip().startswith(":"):
            return False
    return True


def forbidden(program: str) -> str | None:
    """The environment or module-system name ``program`` uses outside string literals, or None."""
    found = _FORBIDDEN.search(_code_only(program))
    return found[0] if found else None


def _code_only(program: str) -> str:
    """``program`` with comments and the literal parts of strings blanked (interpolations kept: they are code)."""
    out: list[str] = []
    modes = ["code"]  # a stack: "code" inside a string interpolation counts its open parentheses
    parens = [0]
    i, n = 0, len(program)
    while i < n:
        ch = program[i]
        if modes[-1] == "string":
            if ch == "\\" and i + 1 < n:
                if program[i + 1] == "(":
                    modes.append("code")
                    parens.append(0)
                    out.append(" (")
                    i += 2
                    continue
                i += 2
                out.append("  ")
                continue
            if ch == '"':
                modes.pop()
            out.append(" " if ch != '"' else ch)
        elif ch == "#":
            while i < n and program[i] != "\n":
                i += 1
            continue
        elif ch == '"':
            modes.append("string")
            out.append(ch)
        elif ch == "(":
            parens[-1] += 1
            out.append(ch)
        elif ch == ")":
            if parens[-1] == 0 and len(modes) > 1:
                modes.pop()
                parens.pop()
            else:
                parens[-1] -= 1
            out.append(ch)
        else:
            out.append(ch)
        i += 1
    return "".join(out)


class Jq:
    """Compiles jq programs once (cache by program text, bounded LRU) and runs them on the ``jq`` package.

    Thread-safe: the ``jq`` package keeps a pool of interpreter states per compiled program.

    Args:
        max_programs: How many distinct compiled programs (and compile errors) to keep.
        limits: Time and memory limits for every run (the script limits).

    """

    def __init__(self, max_programs: int = 512, limits: ScriptLimits | None = None) -> None:
        self._max_programs = max_programs
        self._limits = limits or ScriptLimits()
        self._linear: dict[str, bool] = {}
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
            linear = not isinstance(cached, ScriptError) and runs_in_process(program)
            with self._lock:
                self._programs[program] = cached
                self._linear[program] = linear
                if len(self._programs) > self._max_programs:
                    old, _ = self._programs.popitem(last=False)
                    self._linear.pop(old, None)
        if isinstance(cached, ScriptError):  # a fresh exception: re-raising one object grows its traceback
            raise ScriptError(str(cached), language="jq", line=cached.line)
        return cached

    def run(self, program: str, value: object, limits: ScriptLimits | None = None) -> list[object]:
        """Run ``program`` on ``value`` in a sandbox child process.

        Args:
            program: jq program text.
            value: A JSON-compatible input (NaN and Infinity arrive as null).
            limits: Limits for this run instead of the instance's.

        Returns:
            Every output, in order. Integral numbers that fit in int64 are ints (Conductor's
            "integral numbers become longs"); other numbers are floats.

        Raises:
            ScriptError: ``language="jq"``, when the program does not compile, uses the environment
                or modules, fails at run time (e.g. ``Cannot index string with string "array"``),
                or its output is too deep or too large; ``ScriptTimeoutError``/``ScriptMemoryError``
                past the limits.

        """
        from flowkit.scripting import _sandbox

        compiled: Any = self.compile(program)
        limits = limits or self._limits
        try:
            payload = encode_input(value, "jq input")
        except ScriptError as exc:
            raise ScriptError(str(exc), language="jq") from None
        if self._linear.get(program, False):
            try:
                text = compiled.input_text(payload).text()
            except ValueError as exc:
                raise ScriptError(_PARENTHESISED_KEY.sub(r"\1 \2", str(exc)), language="jq") from None
            return self._outputs(text)
        answer = _sandbox.call({"op": "jq", "program": program, "input": payload}, limits)
        if "v" not in answer:
            answer["e"] = _PARENTHESISED_KEY.sub(r"\1 \2", str(answer.get("e")))
            _sandbox.raise_answer(answer, limits, language="jq")
        return self._outputs(answer["v"])

    @staticmethod
    def _outputs(text: str) -> list[object]:
        try:
            outputs = [decode_result(line, "jq output") for line in text.split("\n") if line]
        except ScriptError as exc:
            raise ScriptError(str(exc), language="jq") from None
        return [_normalize_numbers(output, doubles=False) for output in outputs]

    @staticmethod
    def _compile(program: str) -> Any:
        name = forbidden(program)
        if name is not None:
            return ScriptError(
                f"jq's {name!r} is not available in flowkit: programs see only their input (pass values"
                " in the task's inputParameters instead)",
                language="jq",
            )
        jq = importlib.import_module("jq")  # imported on first use: `import flowkit` stays fast
        try:
            return jq.compile(program)
        except ValueError as exc:
            message = str(exc).strip()
            line = _COMPILE_LINE.search(message)
            return ScriptError(message, language="jq", line=int(line[1]) if line else None)
