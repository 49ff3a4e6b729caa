"""``${...}`` expressions, compiled once and resolved many times (Conductor's ``ParametersUtils.java``).

A value from a definition (string, dict, list, scalar) compiles to a *resolver*: a function
``resolver(root, task_id) -> value``. ``root`` is any mapping (the engine passes a view over the
execution; tests pass plain dicts); ``task_id`` feeds ``${CPEWF_TASK_ID}``.

Rules (Conductor's ``ParametersUtils``):

* a string that is exactly one ``${...}`` keeps the value's type (number, map, list, null);
* otherwise each expression is inserted as Java's ``toString`` would write it (``null``,
  ``2.0``, ``{a=1}``, ``[1, 2]``), then ``$${`` becomes ``${``;
* expressions nest (``${map.${key}[${i}]}``): the inner ones are resolved to text first;
* a definite path to something missing gives null; wildcards, deep scan and filters give a list;
* ``${CPEWF_TASK_ID}`` is the id of the task being created; left as literal text where there is
  none (workflow output); ``workflow.secrets.*`` stays literal; other environment names are
  *not* resolved (Conductor leaks server environment variables there; flowkit does not).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from flowkit.errors import ExpressionError
from flowkit.expressions._java import java_string

__all__ = [
    "Resolver",
    "compile_value",
    "copy_json",
    "has_expression",
    "java_string",
    "mentions_expression",
    "parse_path",
    "read_copy",
    "referenced_roots",
    "single_path",
    "walk_path",
]

Resolver = Callable[[Mapping[str, Any], "str | None"], Any]

_SCALARS = frozenset({str, int, float, bool, type(None)})
_KEEP = object()  # marks "leave the literal ${...} text in place"
_SIMPLE_NAME = r"[^.\[\]\s'\"*()?@$,:]+"
_SIMPLE_PATH = re.compile(
    rf"(?:{_SIMPLE_NAME}|\[(?:'[^']*'|\"[^\"]*\"|\d+)\])(?:\.{_SIMPLE_NAME}|\[(?:'[^']*'|\"[^\"]*\"|\d+)\])*"
)
_STEP = re.compile(rf"\.?({_SIMPLE_NAME})|\[(?:'([^']*)'|\"([^\"]*)\"|(\d+))\]")


def has_expression(text: str) -> bool:
    """True when ``text`` holds a ``${`` that is not escaped as ``$${``."""
    return "${" in text and any(m.start() == 0 or text[m.start() - 1] != "$" for m in re.finditer(r"\$\{", text))


def _split(text: str) -> list[tuple[bool, str]]:
    """Split into (is_expression, text) parts; expression parts hold the inner text."""
    parts: list[tuple[bool, str]] = []
    start = 0
    find = text.find
    i = find("${")
    while i != -1:
        if i and text[i - 1] == "$":  # "$${" is a literal "${"
            i = find("${", i + 1)
            continue
        depth, j = 1, i + 2
        while depth:  # the matching "}", nested braces counted
            close = find("}", j)
            if close == -1:
                raise ExpressionError(
                    f"expression {text[i:]!r} has no closing '}}'. Fix: close it, or write '$${{' for a literal '${{'.",
                    expression=text,
                )
            opened = find("{", j, close)
            if opened != -1:
                depth += 1
                j = opened + 1
            else:
                depth -= 1
                j = close + 1
        if i > start:
            parts.append((False, text[start:i]))
        parts.append((True, text[i + 2 : j - 1]))
        start = j
        i = find("${", j)
    if start < len(text):
        parts.append((False, text[start:]))
    return parts


@lru_cache(maxsize=4096)
def parse_path(path: str) -> tuple[tuple[str | int, ...] | None, Any, bool]:
    """Compile a JSONPath (``$.`` optional) to (keys, jsonpath, definite).

    Simple dotted/bracketed paths become a key tuple walked by hand (fast); anything else is
    compiled with python-jsonpath. ``definite`` is False for wildcards, deep scan and filters.
    """
    body = path[2:] if path.startswith("$.") else (path[1:] if path.startswith("$[") else path)
    if _SIMPLE_PATH.fullmatch(body):
        keys: list[str | int] = []
        for m in _STEP.finditer(body):
            name, q1, q2, idx = m.groups()
            keys.append(int(idx) if idx is not None else (name if name is not None else (q1 if q1 is not None else q2)))
        return tuple(keys), None, True
    import jsonpath

    text = "$" + (body if body.startswith("[") else "." + body)
    try:
        compiled = _environment().compile(text)
    except Exception as exc:  # python-jsonpath raises several syntax error types
        raise ExpressionError(
            f"'${{{path}}}' is not a valid JSONPath: {exc}. Fix: write it like ${{task_ref.output.key}} "
            "or ${workflow.input.items[*].name}.",
            expression=path,
        ) from None
    # A compound path (``a | b``, ``a & b``) can match several values, so it is never definite.
    return None, compiled, isinstance(compiled, jsonpath.JSONPath) and compiled.singular_query()


# Each regular-expression match in a JSONPath filter (``=~``, ``match()``, ``search()``) gets this
# budget; the first one past it makes the whole path null (as any failure there), so a catastrophic
# pattern over input costs a run about this long, not minutes. Python's ``re`` cannot be stopped;
# the ``regex`` package's matcher takes a timeout.
REGEX_BUDGET_S = 0.25
_ENVIRONMENT: list[Any] = []


class RegexBudgetError(Exception):
    """A regular expression in a JSONPath filter ran past :data:`REGEX_BUDGET_S`."""


def _environment() -> Any:
    """python-jsonpath's environment with time-budgeted regular expressions (built on first use)."""
    if _ENVIRONMENT:
        return _ENVIRONMENT[0]
    import importlib

    import jsonpath
    from jsonpath import function_extensions

    regex = importlib.import_module("regex")  # no type information ships with it

    flags = {2: regex.I, 8: regex.M, 16: regex.S, 256: regex.A}  # re's values of I, M, S, A

    @lru_cache(maxsize=256)
    def budgeted(pattern: str, re_flags: int) -> Any:
        combined = 0
        for bit, flag in flags.items():
            if re_flags & bit:
                combined |= flag
        return regex.compile(pattern, combined)

    def run(method: Any, value: str) -> bool:
        try:
            return bool(method(value, timeout=REGEX_BUDGET_S))
        except TimeoutError:
            raise RegexBudgetError(f"a JSONPath filter's regular expression ran past {REGEX_BUDGET_S} s") from None

    class Match(function_extensions.Match):
        def __call__(self, value: object, pattern: object) -> bool:
            if not isinstance(value, str) or not isinstance(pattern, str):
                return False
            compiled = self.check_cache(pattern)
            return compiled is not None and run(budgeted(compiled.pattern, 0).fullmatch, value)

    class Search(function_extensions.Search):
        def __call__(self, value: object, pattern: object) -> bool:
            if not isinstance(value, str) or not isinstance(pattern, str):
                return False
            compiled = self.check_cache(pattern)
            return compiled is not None and run(budgeted(compiled.pattern, 0).search, value)

    class Environment(jsonpath.JSONPathEnvironment):
        def compare(self, left: object, operator: str, right: object) -> bool:
            if operator == "=~" and isinstance(left, str) and hasattr(right, "fullmatch"):
                return run(budgeted(right.pattern, int(right.flags)).fullmatch, left)  # type: ignore[attr-defined]
            return bool(super().compare(left, operator, right))

        def setup_function_extensions(self) -> None:
            super().setup_function_extensions()
            self.function_extensions["match"] = Match()
            self.function_extensions["search"] = Search()

    _ENVIRONMENT.append(Environment())
    return _ENVIRONMENT[0]


_MAPPING_TYPES: set[type] = {dict}  # types seen to be Mappings (isinstance on the ABC costs ~10x more)
_OTHER_TYPES: set[type] = {list, str, int, float, bool, type(None), tuple}


def _is_mapping(value: Any) -> bool:
    kind = type(value)
    if kind in _MAPPING_TYPES:
        return True
    if kind in _OTHER_TYPES:
        return False
    if isinstance(value, Mapping):
        _MAPPING_TYPES.add(kind)
        return True
    if len(_OTHER_TYPES) < 256:
        _OTHER_TYPES.add(kind)
    return False


def _walk(root: Any, keys: tuple[str | int, ...]) -> Any:
    cur = root
    mappings = _MAPPING_TYPES
    for key in keys:
        if type(cur) in mappings or _is_mapping(cur):
            cur = cur.get(key if type(key) is str else str(key))
        elif type(key) is int and isinstance(cur, list):
            cur = cur[key] if key < len(cur) else None
        else:
            return None
        if cur is None:
            return None
    return cur


def _lookup(path: str, root: Mapping[str, Any], task_id: str | None) -> Any:
    path = path.strip()
    if not path:
        return ""
    if path == "CPEWF_TASK_ID":
        return task_id if task_id is not None else _KEEP
    if path.startswith(("workflow.secrets.", "$.workflow.secrets.")):
        return _KEEP
    keys, compiled, definite = parse_path(path)
    if keys is not None:
        return _walk(root, keys)
    try:
        found = compiled.findall(root)
    except Exception:  # Conductor reads with SUPPRESS_EXCEPTIONS: any failure is null
        return None
    if definite:
        return found[0] if found else None
    return found


def copy_json(value: Any) -> Any:
    """Deep copy of JSON containers (Conductor clones the input map before resolving)."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is dict:
        return {k: v if type(v) in _SCALARS else copy_json(v) for k, v in value.items()}
    if kind is list:
        return [v if type(v) in _SCALARS else copy_json(v) for v in value]
    if isinstance(value, Mapping):
        return {k: copy_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [copy_json(v) for v in value]
    return value


def _copy_container(value: Any) -> Any:
    """A copy of a Mapping or list value; anything else as it is."""
    return copy_json(value) if type(value) is dict or isinstance(value, Mapping | list) else value


def _compile_text(text: str, depth: int, copy: bool = True) -> Resolver:
    """Resolver for a string; at depth > 0 the result is always text (a nested path)."""
    parts = _split(text)
    if not any(is_expr for is_expr, _ in parts):
        literal = text.replace("$${", "${")
        return lambda root, task_id: literal
    compiled: list[tuple[bool, Any]] = []
    for is_expr, chunk in parts:
        if not is_expr:
            compiled.append((False, chunk))
        elif has_expression(chunk):
            compiled.append((True, (_compile_text(chunk, depth + 1), chunk)))
        else:
            if chunk.strip() and chunk.strip() != "CPEWF_TASK_ID":
                parse_path(chunk.strip())  # report syntax errors at compile time
            compiled.append((True, (None, chunk)))

    def evaluate(part: tuple[Any, str], root: Mapping[str, Any], task_id: str | None) -> Any:
        inner, chunk = part
        path = chunk if inner is None else inner(root, task_id)
        try:
            return _lookup(path, root, task_id)
        except ExpressionError:
            return None  # a nested path that resolved to nonsense reads as null, as Jayway does

    if depth == 0 and len(compiled) == 1:
        only = compiled[0][1]
        literal = "${" + only[1] + "}"
        keys = _simple_keys(only)
        if keys is not None:
            # the common case, ${ref.output.key}: walk the keys, no path parsing per call
            def walk(root: Mapping[str, Any], task_id: str | None) -> Any:
                value = _walk(root, keys)
                return value if type(value) in _SCALARS else _copy_container(value)

            def walk_shared(root: Mapping[str, Any], task_id: str | None) -> Any:
                return _walk(root, keys)

            return walk if copy else walk_shared

        def whole(root: Mapping[str, Any], task_id: str | None) -> Any:
            value = evaluate(only, root, task_id)
            if value is _KEEP:
                return literal
            return value if type(value) in _SCALARS else _copy_container(value)

        def shared(root: Mapping[str, Any], task_id: str | None) -> Any:
            value = evaluate(only, root, task_id)
            return literal if value is _KEEP else value

        return whole if copy else shared

    def interpolate(root: Mapping[str, Any], task_id: str | None) -> str:
        out = []
        for is_expr, item in compiled:
            if not is_expr:
                out.append(item)
                continue
            value = evaluate(item, root, task_id)
            out.append("${" + item[1] + "}" if value is _KEEP else java_string(value))
        return "".join(out).replace("$${", "${")

    return interpolate


def _simple_keys(part: tuple[Any, str]) -> tuple[str | int, ...] | None:
    """The key tuple of a plain ``${a.b[0]}`` part, or None when it needs :func:`_lookup`."""
    inner, chunk = part
    path = chunk.strip()
    if (
        inner is not None
        or not path
        or path == "CPEWF_TASK_ID"
        or path.startswith(("workflow.secrets.", "$.workflow.secrets."))
    ):
        return None
    return parse_path(path)[0]


def single_path(text: str) -> tuple[str | int, ...] | None:
    """The keys of ``text`` when it is exactly one plain path expression (``${ref.output.a[0]}``), else None.

    Such a value keeps the type of what it reads; the engine walks these keys itself.
    """
    if not (text.startswith("${") and text.endswith("}")) or text.count("{") != 1 or text.count("}") != 1:
        return None
    try:
        parts = _split(text)
    except ExpressionError:
        return None
    if len(parts) != 1 or not parts[0][0]:
        return None
    try:
        return _simple_keys((None, parts[0][1]))
    except ExpressionError:  # compile_value reports it
        return None


def walk_path(root: Any, keys: tuple[str | int, ...]) -> Any:
    """The value at ``keys`` under ``root`` (None when a step is missing), as a plain path reads it."""
    return _walk(root, keys)


def read_copy(value: Any) -> Any:
    """``value`` as a path expression hands it over: scalars as they are, containers copied."""
    return value if type(value) in _SCALARS else _copy_container(value)


def mentions_expression(value: Any) -> bool:
    """True when a string in ``value`` holds a ``$`` (it may need compiling); plain data is False."""
    kind = type(value)
    if kind is str:
        return "$" in value
    if kind is dict or kind is list:  # the common shapes, without isinstance on the ABCs
        for v in value.values() if kind is dict else value:
            t = type(v)
            if t is str:
                if "$" in v:
                    return True
            elif t not in _SCALARS and mentions_expression(v):
                return True
        return False
    if kind in _SCALARS:
        return False
    if isinstance(value, Mapping):
        return any(mentions_expression(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(mentions_expression(v) for v in value)
    return False


def compile_value(value: Any, *, copy: bool = True) -> Resolver:
    """Compile a definition value (string, dict, list or scalar) into a resolver.

    Each call of the resolver returns new containers down to the values it reads, so whoever
    receives them may change them (Conductor clones the input map). ``copy=False`` is for readers
    that never change what they get (the engine's own FORK, JOIN and SWITCH handlers): only the
    outer containers are new, and values read from other tasks are shared, not copied.

    Raises:
        ExpressionError: when an expression does not parse.
    """
    if isinstance(value, str):
        if "${" not in value:
            return lambda root, task_id: value
        return _compile_text(value, 0, copy)
    if isinstance(value, Mapping):
        if not mentions_expression(value):
            constant = dict(value)
            if not copy:
                return lambda root, task_id: dict(constant)
            return lambda root, task_id: copy_json(constant)
        items = [(k, compile_value(v, copy=copy)) for k, v in value.items()]
        return lambda root, task_id: {k: f(root, task_id) for k, f in items}
    if isinstance(value, list | tuple):
        elements = [compile_value(v, copy=copy) for v in value]
        return lambda root, task_id: [f(root, task_id) for f in elements]
    return lambda root, task_id: value


def referenced_roots(value: Any) -> set[str]:
    """Names of the roots (``workflow`` or task refs) that ``${...}`` expressions in ``value`` read."""
    found: set[str] = set()
    if isinstance(value, str):
        if "${" in value:
            try:
                parts = _split(value)
            except ExpressionError:
                return found  # unparseable text names nothing; compile_value reports the syntax error
            for is_expr, chunk in parts:
                if is_expr and not has_expression(chunk):
                    body = chunk.strip()
                    body = body[2:] if body.startswith("$.") else body
                    m = re.match(_SIMPLE_NAME, body)
                    if m:
                        found.add(m.group(0))
                elif is_expr:
                    found |= referenced_roots(chunk)
    elif isinstance(value, Mapping):
        for v in value.values():
            found |= referenced_roots(v)
    elif isinstance(value, list | tuple):
        for v in value:
            found |= referenced_roots(v)
    return found
