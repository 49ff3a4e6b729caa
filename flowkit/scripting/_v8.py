"""Conductor-compatible JavaScript on a sandboxed, embedded V8: the opt-in engine (``flowkit[v8]``).

* Runs on mini-racer's public API (any version since 0.12): ``MiniRacer.eval`` with its timeout
  and hard memory limit; about 250-600 µs a call (the thread hop), against 10-30 µs for QuickJS.
* Each scope (the workflow execution) gets its own isolate (about 15 ms to start), so prototype or
  global changes cannot reach another workflow; the harness sits behind a random global lexical
  name that no property of the global object leads to.
* Each source is compiled once into ``Function('$', 'return eval(<source>)')``: direct ``eval``
  gives Conductor's completion values and V8's eval cache makes repeats cost ~0.1 µs.
* mini-racer checks its memory limit after GCs and stops JS with ``TerminateExecution``, which some
  builtins never poll; V8 *aborts the process* when one builtin overflows an internal table
  (``Array(1e9).fill(0)``), so the harness caps those builtins and drops typed arrays (unmetered).
"""

from __future__ import annotations

import json
import re
import threading
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass

from flowkit.errors import ScriptError, ScriptMemoryError, ScriptTimeoutError
from flowkit.scripting._convert import _normalize_numbers, decode_result, encode_input
from flowkit.scripting._limits import ScriptLimits
from flowkit.scripting._shim import SHIM, uses_java_calls

__all__ = ["V8JavaScript"]

_MODES = ("expression", "lambda")
_MAX_PROGRAMS = 1024  # distinct sources kept compiled per JavaScript instance
_RECYCLE_BYTES = 8 * 1024 * 1024  # source text evaluated in one V8 context before a fresh one
_MAX_SCOPES = 4  # V8 isolates kept (one per workflow execution); each costs ~15 ms to start
_SCRIPT_NAME = "flowkit-script"
_SYNTAX_OK = "__flowkit_syntax_ok__"
_BIG_DIGITS = re.compile(r"\d{16}")  # integers past 2**53 are printed doubles
# Text that can reach promises or dynamic code: a heuristic that spots accidental deferred work
# (a determined script is still stopped, by the next call's time limit).
_MAY_DEFER = re.compile(r"[Aa]sync|await|Promise|\bthen\b|import|eval|Function|constructor|globalThis|\bthis\b")
_ERROR_HEADER = re.compile(r"^(?P<name>[^\n]*?):(?P<line>\d+): (?P<message>[^\n]*)")

_OK, _THROWN, _SYNTAX, _OOM, _TERMINATED, _TIMEOUT = range(6)  # what both isolate backends report


# The harness runs once per V8 context. Its helpers are captured up front so a script that
# replaces JSON, Reflect or Array.prototype methods cannot break the evaluations after it.
_HARNESS = (
    r"""
const __TOKEN__ = (function (g) {
  "use strict";
  const Fn = g.Function, parse = g.JSON.parse, stringify = g.JSON.stringify;
  const apply = g.Reflect.apply, deleteProperty = g.Reflect.deleteProperty;
  const defineProperty = g.Object.defineProperty, describeProperty = g.Object.getOwnPropertyDescriptor;
  const keysOf = g.Object.keys, nullObject = () => g.Object.create(null);
  const floor = g.Math.floor, iterator = g.Symbol.iterator;
  const NAME = "__NAME__", OK = "__OK__", MAX_SAFE = 9007199254740991;
  const fns = nullObject();
  let elemCap = 0, charCap = 0, tripped = false;
__SHIM__

  // No host surface, and nothing whose memory V8's heap limit does not see.
  const removed = ["console", "setTimeout", "clearTimeout", "__timer_manager", "ArrayBuffer",
    "SharedArrayBuffer", "DataView", "Atomics", "WebAssembly", "FinalizationRegistry",
    "Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array", "Uint16Array", "Int32Array",
    "Uint32Array", "Float16Array", "Float32Array", "Float64Array", "BigInt64Array", "BigUint64Array"];
  // mini-racer's public API declares its timers with `var`, which cannot be deleted.
  removed.forEach((k) => deleteProperty(g, k) || (g[k] = undefined));
  // Compiled scripts need the real eval for direct-eval semantics; a script must not swap it out.
  defineProperty(g, "eval", { writable: false, configurable: false });

  function toLength(v) { const n = +v; return n > 0 ? (n < MAX_SAFE ? floor(n) : MAX_SAFE) : 0; }
  function relative(v, len) {
    let n = +v; n = n !== n ? 0 : (n < 0 ? -floor(-n) : floor(n));
    return n < 0 ? (len + n > 0 ? len + n : 0) : (n < len ? n : len);
  }
  function lengthOf(o) { return o == null ? 0 : toLength(o.length); }
  function charsOf(s) { return typeof s === "string" ? s.length : 0; }
  function guard(owner, key, tooBig) {
    const desc = describeProperty(owner, key);
    if (!desc || typeof desc.value !== "function") return;
    const original = desc.value;
    const wrapper = { [key](...args) {
      if (tooBig(this, args)) { tripped = true; throw new RangeErr("script exceeded its memory limit"); }
      return apply(original, this, args);
    } }[key];
    defineProperty(wrapper, "length", { value: original.length });
    desc.value = wrapper;
    defineProperty(owner, key, desc);
  }
  const AP = g.Array.prototype, SP = g.String.prototype, RP = g.RegExp.prototype, S = g.Symbol;
  guard(AP, "fill", (o, a, len = lengthOf(o)) =>
    len > elemCap && (a[2] === undefined ? len : relative(a[2], len)) - relative(a[1], len) > elemCap);
  const longArray = (o) => lengthOf(o) > elemCap;
  ["toReversed", "toSorted", "with"].forEach((k) => guard(AP, k, longArray));
  guard(AP, "toSpliced", (o, a) => lengthOf(o) + a.length > elemCap);
  guard(g.Array, "from", (o, a) => a[0] != null && typeof a[0][iterator] !== "function" && lengthOf(a[0]) > elemCap);
  const longThis = (o) => charsOf(o) > charCap, longArg = (o, a) => charsOf(a[0]) > charCap;
  ["split", "match", "matchAll", "replace", "replaceAll"].forEach((k) => guard(SP, k, longThis));
  [S.split, S.match, S.matchAll, S.replace].forEach((k) => guard(RP, k, longArg));
  guard(g.JSON, "parse", longArg);

  const program = (src, lambda) =>
    (lambda ? "function scriptFun(){" + src + "\n} scriptFun();" : src) + "\n//# sourceURL=" + NAME;
  const compile = (src, lambda) => Fn("$", "return eval(" + stringify(program(src, lambda)) + ")");

  function lineOf(e) {  // the innermost stack frame in the script: "at eval (flowkit-script:3:7)"
    try {
      const stack = e !== null && typeof e === "object" ? e.stack : undefined;
      const at = typeof stack === "string" ? stack.indexOf(NAME + ":") : -1;
      const n = at < 0 ? NaN : parseInt(stack.slice(at + NAME.length + 1), 10);
      return n === n ? n : null;
    } catch (_) { return null; }
  }
  // Nashorn gave each Conductor evaluation a fresh global; drop the globals a script created.
  const baseline = nullObject();
  keysOf(g).forEach((k) => { baseline[k] = true; });
  function sweep() {
    const ks = keysOf(g);
    for (let i = 0; i < ks.length; i++) if (baseline[ks[i]] !== true) deleteProperty(g, ks[i]);
  }

  const api = {
    // Parses the whole program, then stops at its first statement: the syntax error (with its
    // line) or the OK marker propagates to the host uncaught, so V8 reports the real location.
    k(src, lambda) { Fn("return eval(" + stringify('throw "' + OK + '";' + program(src, lambda)) + ")")(); },
    d(ids) { for (let i = 0; i < ids.length; i++) delete fns[ids[i]]; },
    s() { sweep(); return "u"; },
    r(id, json, ec, cc, java, src, lambda) {
      elemCap = ec; charCap = cc; tripped = false;
      let out, value;
      try {
        if (src !== undefined) fns[id] = compile(src, lambda);
        const $ = parse(json);
        if (java) javaize($);
        value = fns[id]($);
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
      return tripped ? "m" : out;
    },
  };
  // Reachable only through a global lexical binding with a random name (see _Isolate): no
  // property of the global object leads to it, so a script cannot call or replace it.
  return g.Object.freeze(api);
})(globalThis);
"true"
""".replace("__NAME__", _SCRIPT_NAME)
    .replace("__OK__", _SYNTAX_OK)
    .replace("__SHIM__", SHIM)
)


class _Isolate:
    """One V8 isolate and context on mini-racer's public API, with the harness behind a random name."""

    def __init__(self) -> None:
        import secrets

        from py_mini_racer import MiniRacer

        self._mr = MiniRacer()
        self.api = f"__fk_{secrets.token_hex(16)}"
        self.memory_limit = 0
        self.compiled: set[int] = set()
        self.source_bytes = 0
        self.closed = False

    def set_memory_limit(self, limit: int) -> None:
        if limit != self.memory_limit:
            self._mr.set_hard_memory_limit(limit)
            self.memory_limit = limit

    def memory_limit_reached(self) -> bool:
        return bool(self._mr.was_hard_memory_limit_reached())

    def run(self, code: str, timeout_s: float) -> tuple[int, str]:
        import py_mini_racer as pmr

        try:
            result = self._mr.eval(code, timeout_sec=timeout_s)
        except pmr.JSTimeoutException:
            return _TIMEOUT, ""
        except pmr.JSEvalException as exc:
            kinds = {"JSOOMException": _OOM, "JSParseException": _SYNTAX, "JSTerminatedException": _TERMINATED}
            return kinds.get(type(exc).__name__, _THROWN), str(exc)
        return _OK, result if isinstance(result, str) else ""

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            # A task cancelled on time-out still answers later; one more (short) call waits for that
            # answer, so it does not arrive after the isolate's event loop is gone.
            self.run("0", 1.0)
            self._mr.close()


_live: weakref.WeakSet[_Isolate] = weakref.WeakSet()


def _close_live_isolates() -> None:
    # mini-racer closes an isolate through its event-loop thread; at interpreter exit that daemon
    # thread is gone and a close from a finalizer waits forever, so close them while it runs.
    for isolate in list(_live):
        isolate.close()


def require_v8() -> None:
    """Raise a ScriptError saying what to install when mini-racer (the ``v8`` extra) is missing."""
    try:
        import py_mini_racer  # noqa: F401
    except ImportError:
        raise ScriptError(
            "FLOWKIT_JS_ENGINE=v8 needs the optional V8 engine: pip install 'flowkit[v8]' (mini-racer),"
            " or use the default QuickJS engine"
        ) from None


def _new_isolate() -> _Isolate:
    require_v8()
    if not _live_registered:
        import atexit

        atexit.register(_close_live_isolates)
        _live_registered.append(True)
    isolate = _Isolate()
    _live.add(isolate)
    return isolate


_live_registered: list[bool] = []


@dataclass(slots=True)
class _Program:
    pid: int
    may_defer: bool  # could schedule promise jobs (see _MAY_DEFER)
    java: bool  # names a Java-style collection method (see _shim)
    error: ScriptError | None = None
    checked: bool = False


class V8JavaScript:
    """A sandboxed embedded V8 (mini-racer) that evaluates Conductor scripts.

    One per runner; thread-safe (calls are serialised on one V8 context). Scripts see ``$`` and
    the ECMAScript builtins only: no ``require``, ``load``, ``print``, ``console``, timers,
    network, files or Python objects.

    Args:
        limits: Default limits for every evaluation; ``evaluate(limits=...)`` overrides them.

    """

    def __init__(self, limits: ScriptLimits | None = None) -> None:
        self._limits = limits or ScriptLimits()
        self._lock = threading.Lock()
        # One isolate per scope (workflow execution), the least recently used dropped past _MAX_SCOPES.
        self._isolates: OrderedDict[object, _Isolate] = OrderedDict()
        self._programs: OrderedDict[tuple[str, str], _Program] = OrderedDict()
        self._next_pid = 0
        self._closed = False

    def check_syntax(self, source: str, *, mode: str = "expression") -> None:
        """Raise if ``source`` does not compile, without running it.

        Args:
            source: The script text.
            mode: ``"expression"`` for INLINE/SWITCH/DO_WHILE (the value of the last expression
                statement), ``"lambda"`` for LAMBDA (the body of ``function scriptFun(){...}``,
                so it uses ``return``).

        Raises:
            ScriptError: With ``line`` set, when the script has a syntax error.

        """
        with self._lock:
            self._checked_program(source, mode, self._limits)

    def evaluate(
        self,
        source: str,
        bindings: object,
        *,
        mode: str = "expression",
        limits: ScriptLimits | None = None,
        scope: object = None,
    ) -> object:
        """Evaluate ``source`` with ``$`` bound to a deep copy of ``bindings``.

        Args:
            source: The script text.
            bindings: A JSON-compatible value (NaN and Infinity arrive as null).
            mode: ``"expression"`` or ``"lambda"`` (see :meth:`check_syntax`).
            limits: Limits for this call instead of the instance's.
            scope: Whose isolate runs it (the engine passes the workflow execution's id): each
                scope sees a fresh global state. None is a shared one.

        Returns:
            The completion value as JSON types: ``undefined`` and ``null`` become None, and a
            number that is integral and fits in int64 becomes an int, as Conductor converts them.

        Raises:
            ScriptError: The script does not compile, throws, or its result is not JSON
                (e.g. a BigInt); ``message`` is the JS error text and ``line`` is set when known.
            ScriptTimeoutError: The script ran past ``limits.timeout_ms``.
            ScriptMemoryError: The script ran past ``limits.max_memory_bytes``.

        """
        limits = limits or self._limits
        # JSON text inside a JS string literal: V8's JSON.parse is faster than a JS literal.
        payload = json.dumps(encode_input(bindings))
        with self._lock:
            program = self._checked_program(source, mode, limits)
            isolate = self._ready_isolate(limits, scope)
            # Size caps for the builtins V8 cannot interrupt (see the harness).
            elem_cap = min(max(limits.max_memory_bytes // 8, 1 << 10), 1 << 26)
            char_cap = min(max(limits.max_memory_bytes, 1 << 10), 1 << 26)
            call = f"{isolate.api}.r({program.pid},{payload},{elem_cap},{char_cap},{int(program.java)}"
            if program.pid not in isolate.compiled:
                call += f",{json.dumps(source)},{int(mode == 'lambda')}"
            timeout_s = limits.timeout_ms / 1000
            started = time.monotonic()
            kind, text = isolate.run(call + ")", timeout_s)
            if kind == _OK and program.may_defer:
                # mini-racer runs microtasks after the call returns, outside any time limit; a
                # second call waits for them, so a runaway promise chain is charged to its script.
                remaining = max(timeout_s - (time.monotonic() - started), 0.001)
                kind, _ = isolate.run(f"{isolate.api}.s()", remaining)
            # Some builtins run on past the limit; the flag still tells what happened.
            over_memory = isolate.memory_limit_reached()
            if kind == _OK and not over_memory:
                isolate.compiled.add(program.pid)
                # Bindings travel inside the call's source text, and V8 keeps recent sources in its
                # compilation cache; start a fresh context now and then so they never reach the
                # heap limit (a long DO_WHILE would otherwise fail after a few thousand iterations).
                isolate.source_bytes += len(call)
                if isolate.source_bytes > _RECYCLE_BYTES:
                    self._retire(scope)
                return self._result(text, limits)
            self._retire(scope)
            raise self._failure(kind, text, limits, memory=over_memory)

    def close(self) -> None:
        """Free the V8 context; later calls raise ScriptError."""
        with self._lock:
            self._closed = True
            for scope in list(self._isolates):
                self._retire(scope)

    def __enter__(self) -> V8JavaScript:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _checked_program(self, source: str, mode: str, limits: ScriptLimits) -> _Program:
        if mode not in _MODES:
            raise ValueError(f"mode must be 'expression' or 'lambda', not {mode!r}")
        key = (mode, source)
        program = self._programs.get(key)
        if program is None:
            program = self._programs[key] = _Program(
                self._next_pid, bool(_MAY_DEFER.search(source)), uses_java_calls(source)
            )
            self._next_pid += 1
            if len(self._programs) > _MAX_PROGRAMS:
                # An evicted program's function stays in the isolates until they are recycled.
                _, evicted = self._programs.popitem(last=False)
                for isolate in self._isolates.values():
                    isolate.compiled.discard(evicted.pid)
        else:
            self._programs.move_to_end(key)
        if not program.checked:
            program.error = self._syntax_error(source, mode, limits)
            program.checked = True  # only once the check itself finished: failures raise above
        if program.error is not None:  # a fresh exception: re-raising one object grows its traceback
            raise ScriptError(str(program.error), line=program.error.line)
        return program

    def _syntax_error(self, source: str, mode: str, limits: ScriptLimits) -> ScriptError | None:
        """Return the script's syntax error, None when it compiles; raise when the check fails."""
        isolate = self._ready_isolate(limits, None)
        call = f"{isolate.api}.k({json.dumps(source)},{int(mode == 'lambda')})"
        kind, text = isolate.run(call, limits.timeout_ms / 1000)
        over_memory = isolate.memory_limit_reached()
        header = _ERROR_HEADER.match(text)
        if kind in (_THROWN, _SYNTAX) and header and not over_memory:
            message = header["message"].removeprefix("Uncaught ")
            if message == _SYNTAX_OK:
                return None
            # Lines count from the script's first line whichever name V8 reports ("undefined"
            # for errors found before it reads the sourceURL comment); an error at end of input
            # lands on the lines the wrapper appends.
            return ScriptError(message, line=min(int(header["line"]), source.count("\n") + 1))
        self._retire(None)
        raise self._failure(kind, text, limits, memory=over_memory)

    def _ready_isolate(self, limits: ScriptLimits, scope: object) -> _Isolate:
        if self._closed:
            raise ScriptError("this JavaScript engine is closed")
        isolate = self._isolates.get(scope)
        if isolate is None:
            isolate = _new_isolate()
            kind, text = isolate.run(_HARNESS.replace("__TOKEN__", isolate.api), 30.0)
            if kind != _OK:
                isolate.close()
                raise ScriptError(f"could not prepare the JavaScript sandbox: {text}")
            self._isolates[scope] = isolate
            if len(self._isolates) > _MAX_SCOPES:
                self._retire(next(k for k in self._isolates if k is not None))
        elif scope is not None:
            self._isolates.move_to_end(scope)
        isolate.set_memory_limit(limits.max_memory_bytes)
        return isolate

    def _retire(self, scope: object) -> None:
        # After a timeout, an out-of-memory or an unexpected termination the context may be busy
        # or hold a pending termination; the next evaluation gets a fresh one.
        isolate = self._isolates.pop(scope, None)
        if isolate is not None:
            isolate.close()

    @staticmethod
    def _result(text: str, limits: ScriptLimits) -> object:
        tag, body = text[:1], text[1:]
        if tag == "v":
            value = decode_result(body)
            return _normalize_numbers(value, doubles=True) if _BIG_DIGITS.search(body) else value
        if tag == "u":
            return None
        if tag == "e":
            message, line = json.loads(body)
            raise ScriptError(message, line=line)
        if tag == "m":
            raise _memory_error(limits)
        raise ScriptError(f"unexpected result from the JavaScript sandbox: {text[:200]!r}")

    @staticmethod
    def _failure(kind: int, text: str, limits: ScriptLimits, *, memory: bool) -> ScriptError:
        if kind == _OOM or memory:
            return _memory_error(limits)
        if kind == _TIMEOUT:
            return ScriptTimeoutError(f"script exceeded its time limit of {limits.timeout_ms} ms")
        header = _ERROR_HEADER.match(text)
        return ScriptError(header["message"] if header else (text.strip() or "script was terminated"))


def _memory_error(limits: ScriptLimits) -> ScriptMemoryError:
    return ScriptMemoryError(f"script exceeded its memory limit of {limits.max_memory_bytes} bytes")
