"""JavaScript shared by both engines' harnesses: Conductor's Java-style calls on ``$`` and the result copy.

Conductor's ``ScriptEvaluator.java`` binds ``$`` as a Java ``Map`` in GraalJS, so upstream scripts call
``$.list.get(1)``, ``$.list.size()``, ``$.map.containsKey('k')``. Here every object and array that
comes from ``$`` (not objects a script makes) gets a prototype carrying read-only
``java.util.Map`` / ``java.util.List`` methods, non-enumerable, so JSON results, ``Object.keys`` and
``for...in`` are unchanged:

* Map (objects): ``size() isEmpty() get(k) getOrDefault(k, d) containsKey(k) containsValue(v)
  keySet() values() entrySet()`` (entries have ``getKey()``/``getValue()`` and ``key``/``value``).
* List (arrays): ``size() isEmpty() get(i) contains(v) subList(from, to)``; JavaScript's own
  ``indexOf``/``lastIndexOf`` already match Java's.

Collections that these methods return are Lists themselves. Equality (``contains``...) is
JavaScript's SameValueZero for primitives and equal JSON text for objects. Mutating methods
(``put``, ``add``, ``remove``) are not offered: nothing else from the host is reachable.
The walk that attaches them runs only when the script's text names one of the methods.

The result copy (``plain``) turns a script's value into plain data before ``JSON.stringify``: own
enumerable properties only, no ``toJSON`` (a script's or a polluted prototype's), ``Date`` as its
ISO text, at most ``MAX_DEPTH`` levels, so a deep or hostile result fails with a clear message
instead of overflowing the native stack.
"""

from __future__ import annotations

import re

__all__ = ["JAVA_NAMES", "MAX_DEPTH", "MAX_ERROR_CHARS", "MAX_RESULT_CHARS", "SHIM", "uses_java_calls"]

MAX_DEPTH = 256  # levels of nesting a script result (or a jq output) may have
MAX_RESULT_CHARS = 16 * 1024 * 1024  # JSON text of one result that may cross into Python
MAX_ERROR_CHARS = 10_000  # of a thrown value's text; the engine caps the task's reason further

JAVA_NAMES = (
    "size",
    "isEmpty",
    "get",
    "getOrDefault",
    "containsKey",
    "containsValue",
    "keySet",
    "values",
    "entrySet",
    "contains",
    "subList",
    "getKey",
    "getValue",
)
_JAVA_CALL = re.compile(r"\b(?:" + "|".join(JAVA_NAMES) + r")\b")


def uses_java_calls(source: str) -> bool:
    """Whether ``source`` names one of the Java-style methods (so ``$`` needs the shim)."""
    return _JAVA_CALL.search(source) is not None


# Defines, inside the harness function (`g` is the global object): javaize(root), plain(value),
# and describe(e). Uses only intrinsics captured here, before any script runs.
SHIM = (
    r"""
  const ObjectProto = g.Object.prototype, ArrayProto = g.Array.prototype;
  const createObject = g.Object.create, setProto = g.Object.setPrototypeOf, isArray = g.Array.isArray;
  const ownKeys = g.Object.keys, define = g.Object.defineProperty, jsonText = g.JSON.stringify;
  const DateType = g.Date, toISO = g.Date.prototype.toISOString, asText = g.String, ErrType = g.Error;
  const RangeErr = g.RangeError, TypeErr = g.TypeError, callFn = g.Function.prototype.call;
  const call = (f, self, ...args) => callFn.apply(f, [self, ...args]);
  const MAX_DEPTH = __MAX_DEPTH__, MAX_RESULT = __MAX_RESULT__, MAX_ERROR = __MAX_ERROR__;
  const MapProto = createObject(ObjectProto), ListProto = createObject(ArrayProto), EntryProto = createObject(ObjectProto);
  function same(a, b) {
    if (a === b || (a !== a && b !== b)) return true;
    if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return false;
    try { return jsonText(plain(a, 0)) === jsonText(plain(b, 0)); } catch (_) { return false; }
  }
  function asList(items) { setProto(items, ListProto); return items; }
  function method(proto, name, fn) { define(proto, name, { value: fn, writable: true, configurable: true, enumerable: false }); }
  function has(o, k) { return k !== null && k !== undefined && ownKeys(o).indexOf(asText(k)) >= 0; }
  method(MapProto, "size", function () { return ownKeys(this).length; });
  method(MapProto, "isEmpty", function () { return ownKeys(this).length === 0; });
  method(MapProto, "get", function (k) { return has(this, k) ? this[k] : null; });
  method(MapProto, "getOrDefault", function (k, d) { return has(this, k) ? this[k] : d; });
  method(MapProto, "containsKey", function (k) { return has(this, k); });
  method(MapProto, "containsValue", function (v) { const ks = ownKeys(this); for (let i = 0; i < ks.length; i++) if (same(this[ks[i]], v)) return true; return false; });
  method(MapProto, "keySet", function () { return asList(ownKeys(this)); });
  method(MapProto, "values", function () { const ks = ownKeys(this), out = []; for (let i = 0; i < ks.length; i++) out.push(this[ks[i]]); return asList(out); });
  method(MapProto, "entrySet", function () {
    const ks = ownKeys(this), out = [];
    for (let i = 0; i < ks.length; i++) { const e = createObject(EntryProto); e.key = ks[i]; e.value = this[ks[i]]; out.push(e); }
    return asList(out);
  });
  method(EntryProto, "getKey", function () { return this.key; });
  method(EntryProto, "getValue", function () { return this.value; });
  method(ListProto, "size", function () { return this.length; });
  method(ListProto, "isEmpty", function () { return this.length === 0; });
  method(ListProto, "get", function (i) {
    if (typeof i !== "number" || i !== (i | 0) || i < 0 || i >= this.length) throw new RangeErr("Index " + i + " out of bounds for length " + this.length);
    return this[i];
  });
  method(ListProto, "contains", function (v) { for (let i = 0; i < this.length; i++) if (same(this[i], v)) return true; return false; });
  method(ListProto, "subList", function (from, to) {
    if (!(0 <= from && from <= to && to <= this.length)) throw new RangeErr("subList(" + from + ", " + to + ") out of bounds for length " + this.length);
    const out = []; for (let i = from; i < to; i++) out.push(this[i]); return asList(out);
  });
  function javaize(root) {
    const stack = [root];
    while (stack.length) {
      const v = stack.pop();
      if (v === null || typeof v !== "object") continue;
      if (isArray(v)) { setProto(v, ListProto); for (let i = 0; i < v.length; i++) stack.push(v[i]); }
      else { setProto(v, MapProto); const ks = ownKeys(v); for (let i = 0; i < ks.length; i++) stack.push(v[ks[i]]); }
    }
    return root;
  }
  function tooDeep() { throw new RangeErr("script result is circular or nested more than " + MAX_DEPTH + " levels deep"); }
  function plain(v, depth) {
    if (v === null || typeof v !== "object") return typeof v === "function" || typeof v === "symbol" ? undefined : v;
    if (depth >= MAX_DEPTH) tooDeep();
    if (v instanceof DateType) return call(toISO, v);
    if (isArray(v)) {
      const n = v.length, out = [];
      for (let i = 0; i < n; i++) { const x = plain(v[i], depth + 1); out.push(x === undefined ? null : x); }
      setProto(out, null);
      return out;
    }
    const out = createObject(null), ks = ownKeys(v);
    for (let i = 0; i < ks.length; i++) { const x = plain(v[ks[i]], depth + 1); if (x !== undefined) out[ks[i]] = x; }
    return out;
  }
  function resultText(value) {
    const text = jsonText(plain(value, 0));
    if (text !== undefined && text.length > MAX_RESULT) throw new RangeErr("script result is larger than " + MAX_RESULT + " characters of JSON");
    return text;
  }
  function capped(text) {
    text = asText(text);
    return text.length > MAX_ERROR ? text.slice(0, MAX_ERROR) + "… (truncated, " + text.length + " chars)" : text;
  }
  function describe(e) {
    try {
      if (e !== null && typeof e === "object" && !(e instanceof ErrType)) {
        const json = jsonText(plain(e, 0));
        if (json !== undefined) return capped(json);
      }
      return capped(e);
    } catch (_) { return "script threw an unprintable value"; }
  }
""".replace("__MAX_DEPTH__", str(MAX_DEPTH))
    .replace("__MAX_RESULT__", str(MAX_RESULT_CHARS))
    .replace("__MAX_ERROR__", str(MAX_ERROR_CHARS))
)
