"""Conductor's JavaScript on QuickJS, embedded in-process: the default script engine.

Why QuickJS by default: it runs in the calling thread (about 10-20 µs per evaluation), and its time
and memory limits end a runaway script with a catchable error instead of, as V8 can, killing the
process. It implements ES2020. The V8 engine (:class:`flowkit.scripting.V8JavaScript`) is opt-in
with ``FLOWKIT_JS_ENGINE=v8`` and the ``flowkit[v8]`` extra.

Semantics are the V8 engine's: ``$`` is a deep copy of the bindings (with the Java-style
collection calls of :mod:`flowkit.scripting._shim`), the value is the completion value of the last
statement (``lambda`` mode wraps Conductor's ``function scriptFun(){...}``), integral numbers come
back as ints, globals a script creates are dropped after it, and there is no ``require``,
``console``, ``print``, ``load``, ``fetch``, timers or host objects.

The box: each ``scope`` (the engine passes the workflow execution's id) gets its own QuickJS
context, so a script that changes a prototype or a global cannot reach another workflow's
scripts; the harness is a closure handed to Python, not a global. Everything a script can run
(its code, converting what it threw to text, its result, promise jobs) runs under the time and
memory limits, except QuickJS's regular-expression matcher, which this binding cannot interrupt:
in-process, every builtin that runs it asks for the evaluation to be redone in a sandbox child
process (:mod:`flowkit.scripting._sandbox`), which is killed when it overruns the time limit.
One gap: a single promise job that runs out of memory on its own (not a growing chain of jobs)
ends as an unobserved rejection, so the script's value stands, as in a browser (see ``_drain``).
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict

from flowkit.errors import ScriptError, ScriptMemoryError, ScriptTimeoutError
from flowkit.scripting._convert import decode_result, encode_input
from flowkit.scripting._limits import ScriptLimits
from flowkit.scripting._shim import SHIM, uses_java_calls

__all__ = ["QuickJSJavaScript"]

_MAX_PROGRAMS = 1024  # compiled sources kept per context
_MAX_SCOPES = 16  # workflow executions whose contexts are kept; older ones start afresh
_LINE = re.compile(r"<input>:(\d+)")
_DRAIN_MEMORY_SHARE = 0.9  # share of the memory limit a chain of promise jobs may hold (see _drain)
_CLOCK_SLACK_S = 0.002  # clock() and time.process_time() read the same clock at different moments
# Text that can reach promise jobs: they run only when a script names one of these (a script that
# reaches Promise otherwise leaves jobs that never run and die with its context).
_MAY_DEFER = re.compile(r"[Aa]sync|await|Promise|\bthen\b|import|eval|Function|constructor|globalThis|\bthis\b")
_HARNESS = r"""
(function (allowRegex) {
  "use strict";
  const g = globalThis;
  const Fn = g.Function, parse = g.JSON.parse, stringify = g.JSON.stringify, keysOf = g.Object.keys;
  const getProto = g.Object.getPrototypeOf, toInt = g.parseInt;
  const removed = ["console", "print", "std", "os", "scriptArgs", "setTimeout", "require", "load", "__flowkit__"];
  removed.forEach((k) => { try { delete g[k]; } catch (_) { g[k] = undefined; } });
  Object.defineProperty(g, "eval", { writable: false, configurable: false });
__SHIM__
  // QuickJS's regex matcher never checks the interrupt handler: in-process, every builtin that
  // runs it records the wish and stops; the host redoes the evaluation in its sandbox process.
  let regexWanted = false;
  if (!allowRegex) {
    const RP = g.RegExp.prototype, S = g.Symbol;
    const iteratorProto = getProto(RP[S.matchAll].call(/x/, ""));
    function wanted() { regexWanted = true; throw new ErrType("regular expressions run in the sandbox process"); }
    const fixed = (owner, key) => define(owner, key, { value: wanted, writable: false, configurable: false, enumerable: false });
    ["exec", "test", S.match, S.matchAll, S.replace, S.search, S.split].forEach((k) => fixed(RP, k));
    fixed(iteratorProto, "next");
  }
  const baseline = createObject(null);
  keysOf(g).forEach((k) => { baseline[k] = true; });
  function sweep() { const ks = keysOf(g); for (let i = 0; i < ks.length; i++) if (baseline[ks[i]] !== true) delete g[ks[i]]; }
  function body(src, lambda) { return lambda ? "function scriptFun(){" + src + "\n} scriptFun();" : src; }
  function lineOf(e) {
    try {
      const stack = e !== null && typeof e === "object" ? e.stack : undefined;
      const at = typeof stack === "string" ? stack.indexOf("<input>:") : -1;
      const n = at < 0 ? NaN : toInt(stack.slice(at + 8), 10);
      return n === n ? n : null;
    } catch (_) { return null; }
  }
  const programs = createObject(null);
  // api(programId, inputJson) runs a program (the hot path: two arguments); api(op, a, b, c) does the rest.
  return function api(id, a, b, c) {
    if (typeof id === "number") {
      regexWanted = false;
      let out, value;
      try {
        const program = programs[id], $ = parse(a);
        if (program.java) javaize($);
        value = program.fn($);
      } catch (e) {
        out = "e" + stringify([describe(e), lineOf(e)]);
      }
      if (out === undefined) {
        try {
          const text = resultText(value);
          out = text === undefined ? "u" : "v" + text;
        } catch (e) {
          out = "e" + stringify([describe(e), null]);
        }
      }
      sweep();
      return regexWanted ? "R" : out;
    }
    if (id === "c") { programs[c] = { fn: Fn("$", "return eval(" + stringify(body(a, b & 1)) + ")"), java: (b & 2) !== 0 }; return "u"; }
    if (id === "k") { Fn("return eval(" + stringify('throw "__flowkit_ok__";' + body(a, b)) + ")")(); return "u"; }
    if (id === "d") { delete programs[a]; return "u"; }
    if (id === "w") { const w = regexWanted; regexWanted = false; sweep(); return w ? "R" : "u"; }
    return "u";
  };
})
""".replace("__SHIM__", SHIM)


class _Context:
    """One QuickJS context: the harness's entry point, its compiled programs and applied limits."""

    __slots__ = ("ctx", "api", "programs", "applied", "next_id")

    def __init__(self, allow_regex: bool) -> None:
        import quickjs

        self.ctx = quickjs.Context()
        self.ctx.set_memory_limit(256 * 1024 * 1024)  # the harness itself, before the per-call limit
        self.ctx.set_time_limit(30)
        make = self.ctx.eval(_HARNESS)
        self.api = make(allow_regex)
        self.programs: OrderedDict[tuple[str, str], int] = OrderedDict()
        self.applied: tuple[int, int] | None = None
        self.next_id = 1

    def limit(self, limits: ScriptLimits) -> None:
        key = (limits.timeout_ms, limits.max_memory_bytes)
        if self.applied != key:
            self.ctx.set_time_limit(limits.timeout_ms / 1000)
            self.ctx.set_memory_limit(limits.max_memory_bytes)
            self.applied = key

    def program(self, source: str, mode: str) -> int:
        key = (mode, source)
        pid = self.programs.get(key)
        if pid is None:
            pid = self.programs[key] = self.next_id
            self.next_id += 1
            self.api("c", source, int(mode == "lambda") | (2 if uses_java_calls(source) else 0), pid)
            if len(self.programs) > _MAX_PROGRAMS:
                _, old = self.programs.popitem(last=False)
                self.api("d", old)
        return pid


class QuickJSJavaScript:
    """Sandboxed QuickJS contexts that evaluate Conductor scripts (thread-safe; one lock).

    Args:
        limits: Default limits for every evaluation; ``evaluate(limits=...)`` overrides them.
        allow_regex: Run regular expressions in-process (only inside the sandbox child process,
            where a runaway match is ended by killing the process).
    """

    def __init__(self, limits: ScriptLimits | None = None, *, allow_regex: bool = False) -> None:
        self._limits = limits or ScriptLimits()
        self._allow_regex = allow_regex
        self._lock = threading.Lock()
        self._contexts: OrderedDict[object, _Context] = OrderedDict()
        self._checked: dict[tuple[str, str], ScriptError | None] = {}
        self._closed = False

    def _context(self, scope: object) -> _Context:
        if self._closed:
            raise ScriptError("this JavaScript engine is closed")
        context = self._contexts.get(scope)
        if context is None:
            context = self._contexts[scope] = _Context(self._allow_regex)
            if len(self._contexts) > _MAX_SCOPES:
                oldest = next(k for k in self._contexts if k is not None)
                del self._contexts[oldest]
        elif scope is not None:
            self._contexts.move_to_end(scope)
        return context

    def check_syntax(self, source: str, *, mode: str = "expression") -> None:
        """Raise ScriptError (with ``line``) when ``source`` does not compile."""
        with self._lock:
            error = self._syntax(source, mode)
        if error is not None:
            raise ScriptError(str(error), line=error.line)

    def _syntax(self, source: str, mode: str) -> ScriptError | None:
        if mode not in ("expression", "lambda"):
            raise ValueError(f"mode must be 'expression' or 'lambda', not {mode!r}")
        key = (mode, source)
        if key in self._checked:
            return self._checked[key]
        context = self._context(None)
        context.limit(self._limits)
        error: ScriptError | None = None
        try:
            context.api("k", source, mode == "lambda")
        except Exception as exc:  # quickjs.JSException: a thrown marker means "compiles"
            text = str(exc)
            if "__flowkit_ok__" not in text:
                error = _script_error(text, source)
        if len(self._checked) > 4096:
            self._checked.clear()
        self._checked[key] = error
        return error

    def evaluate(
        self,
        source: str,
        bindings: object,
        *,
        mode: str = "expression",
        limits: ScriptLimits | None = None,
        scope: object = None,
    ) -> object:
        """Evaluate ``source`` with ``$`` bound to a deep copy of ``bindings``; see the module doc.

        Args:
            source: The script text.
            bindings: A JSON-compatible value (NaN and Infinity arrive as null).
            mode: ``"expression"`` or ``"lambda"``.
            limits: Limits for this call instead of the instance's.
            scope: Whose context to run in (the workflow execution's id); None is a shared one.

        Raises:
            ScriptError: The script does not compile, throws, or its result cannot cross (too deep,
                too large, not JSON); ``ScriptTimeoutError``/``ScriptMemoryError`` past the limits.
        """
        limits = limits or self._limits
        payload = encode_input(bindings)
        with self._lock:
            error = self._syntax(source, mode)
            if error is not None:
                raise ScriptError(str(error), line=error.line)
            context = self._context(scope)
            pid = context.program(source, mode)
            context.limit(limits)
            try:
                text = context.api(pid, payload)
                if _MAY_DEFER.search(source) and text != "R":
                    text = self._drain(context, limits, text)
            except ScriptError:
                self._retire(scope)
                raise
            except Exception as exc:  # quickjs.JSException: an interrupt, out of memory, or a harness failure
                self._retire(scope)
                raise _runtime_error(str(exc), source, limits) from None
            if text == "R":
                from flowkit.scripting._sandbox import run_javascript

                text = run_javascript(source, payload, mode, limits, scope)
        return _result(text, source, limits)

    def _drain(self, context: _Context, limits: ScriptLimits, text: str) -> str:
        """Run the promise jobs a script left, charged to its own time and memory limits.

        The binding turns an interrupt or an out-of-memory inside a job into that promise's
        rejection, which nothing observes: the queue just empties and the script would look
        finished. So each job is watched from outside: the binding interrupts a job once the
        process has spent the time limit in CPU since the job began (``clock()``), which
        ``time.process_time`` reads too; and the heap is checked between jobs, stopping a job
        chain that grows it before its last allocation can fail unseen.
        """
        limit_s = limits.timeout_ms / 1000
        deadline = time.monotonic() + limit_s
        ceiling = limits.max_memory_bytes * _DRAIN_MEMORY_SHARE
        ctx = context.ctx
        while True:
            started = time.process_time()
            if not ctx.execute_pending_job():
                break
            if time.monotonic() > deadline or time.process_time() - started >= limit_s - _CLOCK_SLACK_S:
                raise ScriptTimeoutError(f"script exceeded its time limit of {limits.timeout_ms} ms")
            if ctx.memory()["malloc_size"] > ceiling:
                raise ScriptMemoryError(f"script exceeded its memory limit of {limits.max_memory_bytes} bytes")
        wanted = context.api("w")
        return "R" if wanted == "R" else text

    def _retire(self, scope: object) -> None:
        # After an interrupt or out-of-memory the context may hold half-done state: start afresh.
        self._contexts.pop(scope, None)

    def close(self) -> None:
        """Free the contexts; later calls raise ScriptError."""
        with self._lock:
            self._closed = True
            self._contexts.clear()

    def __enter__(self) -> QuickJSJavaScript:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _result(text: str, source: str, limits: ScriptLimits) -> object:
    tag = text[:1]
    if tag == "v":
        return decode_result(text[1:])
    if tag == "u":
        return None
    if tag == "e":
        import json

        message, line = json.loads(text[1:])
        if message == "InternalError: out of memory":
            raise ScriptMemoryError(f"script exceeded its memory limit of {limits.max_memory_bytes} bytes")
        raise ScriptError(message, line=min(line, source.count("\n") + 1) if line else None)
    raise ScriptError(f"unexpected result from the JavaScript sandbox: {text[:200]!r}")


def _line(text: str, source: str) -> int | None:
    m = _LINE.search(text)
    if not m:
        return None
    return min(int(m.group(1)), source.count("\n") + 1)


def _script_error(text: str, source: str) -> ScriptError:
    return ScriptError(text.splitlines()[0][:2000] if text else "script failed", line=_line(text, source))


def _runtime_error(text: str, source: str, limits: ScriptLimits) -> ScriptError:
    first = text.splitlines()[0] if text else ""
    if first == "InternalError: interrupted":
        return ScriptTimeoutError(f"script exceeded its time limit of {limits.timeout_ms} ms")
    if first == "InternalError: out of memory":
        return ScriptMemoryError(f"script exceeded its memory limit of {limits.max_memory_bytes} bytes")
    return _script_error(text, source)
