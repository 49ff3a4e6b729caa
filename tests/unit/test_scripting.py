"""flowkit.scripting on a real V8 (mini-racer) and real jq: Conductor semantics and the sandbox."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowkit.errors import ScriptError, ScriptMemoryError, ScriptTimeoutError
from flowkit.expressions import case_string, truthy
from flowkit.scripting import Jq, ScriptLimits, V8JavaScript, _v8

SHORT = ScriptLimits(timeout_ms=250)


@pytest.fixture(scope="module")
def js() -> Iterator[V8JavaScript]:
    engine = V8JavaScript()
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def jq() -> Jq:
    return Jq()


# --- Conductor semantics -------------------------------------------------------------------------


@pytest.mark.parametrize(("iteration", "expected"), [(1, True), (3, False)])
def test_expression_mode_returns_the_completion_value(js: V8JavaScript, iteration: int, expected: bool) -> None:
    script = "if ($.iteration < $.value) { true; } else { false; }"
    assert js.evaluate(script, {"iteration": iteration, "value": 3}) is expected


def test_expression_mode_value_of_last_statement(js: V8JavaScript) -> None:
    assert js.evaluate("var total = 0; for (var i = 0; i < $.n; i++) { total += i } total", {"n": 5}) == 10
    assert js.evaluate("if ($.x > 2) { 'big' } else { 'small' }", {"x": 1}) == "small"
    assert js.evaluate("function f(a) { return a * 2 } f($.v)", {"v": 21}) == 42


@pytest.mark.parametrize(("a", "expected"), [(1, True), (2, False)])
def test_lambda_mode_wraps_the_body_in_a_function(js: V8JavaScript, a: int, expected: bool) -> None:
    script = "if ($.a == 1) { return {testvalue: true} } else { return {testvalue: false} }"
    assert js.evaluate(script, {"a": a}, mode="lambda") == {"testvalue": expected}


def test_lambda_without_return_is_null(js: V8JavaScript) -> None:
    assert js.evaluate("var x = $.a;", {"a": 1}, mode="lambda") is None


def test_results_convert_to_json_types(js: V8JavaScript) -> None:
    script = "[1, 2.0, 1.5, -0, null, undefined, 'x', true, {a: {b: [2**60, 2**64, 1e21]}}, {u: undefined}]"
    assert js.evaluate(script, {}) == [
        1,
        2,
        1.5,
        0,
        None,
        None,
        "x",
        True,
        {"a": {"b": [2**60, 2.0**64, 1e21]}},
        {},
    ]
    result = js.evaluate("[2.0, 2**60]", {})
    assert isinstance(result, list) and all(type(v) is int for v in result)
    assert js.evaluate("undefined", {}) is None
    assert js.evaluate("$.missing", {}) is None


@settings(max_examples=60, deadline=None)
@given(
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers(-(2**53), 2**53)
        | st.text(max_size=20)
        | st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: not f.is_integer()),
        lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
        max_leaves=12,
    )
)
def test_bindings_round_trip(value: object) -> None:
    assert _shared_js().evaluate("$", value) == value


def test_script_mutating_dollar_does_not_touch_the_callers_data(js: V8JavaScript) -> None:
    data = {"a": {"b": 1}, "items": [1, 2]}
    assert js.evaluate("$.a.b = 2; $.items.push(3); $.c = 4; $", data) == {"a": {"b": 2}, "items": [1, 2, 3], "c": 4}
    assert data == {"a": {"b": 1}, "items": [1, 2]}


def test_globals_a_script_creates_do_not_leak_into_the_next(js: V8JavaScript) -> None:
    assert js.evaluate("leaked = $.v; globalThis.other = 2; leaked", {"v": 1}) == 1
    assert js.evaluate("typeof leaked + ',' + typeof other", {}) == "undefined,undefined"
    assert js.evaluate("eval = function () { return 'hijacked' }; eval('1 + 1')", {}) == 2


# --- errors ----------------------------------------------------------------------------------------


def test_syntax_error_has_message_and_line(js: V8JavaScript) -> None:
    with pytest.raises(ScriptError) as caught:
        js.evaluate("var a = 1;\nvar b = 2;\nif (a > ) { b }", {})
    assert caught.value.line == 3
    assert caught.value.language == "javascript"
    assert str(caught.value).startswith("SyntaxError: Unexpected token")
    with pytest.raises(ScriptError) as caught:
        js.check_syntax("1;\n(", mode="lambda")
    assert str(caught.value).startswith("SyntaxError: ")
    assert caught.value.line == 2  # clamped: V8 points at the brace the lambda wrapper appends


def test_check_syntax_does_not_run_the_script(js: V8JavaScript) -> None:
    js.check_syntax("ran = true; while (true) {}")
    js.check_syntax("return 1", mode="lambda")
    assert js.evaluate("typeof ran", {}) == "undefined"
    with pytest.raises(ScriptError, match="Illegal return statement"):
        js.check_syntax("return 1")  # expression mode is a script, not a function body


def test_runtime_type_error_message_and_line(js: V8JavaScript) -> None:
    with pytest.raises(ScriptError) as caught:
        js.evaluate("var a = 1;\n$.a.x", {})
    assert str(caught.value) == "TypeError: Cannot read properties of undefined (reading 'x')"
    assert caught.value.line == 2
    assert not isinstance(caught.value, ScriptTimeoutError | ScriptMemoryError)


def test_thrown_values_become_messages(js: V8JavaScript) -> None:
    with pytest.raises(ScriptError, match="^boom$"):
        js.evaluate("throw 'boom'", {})
    with pytest.raises(ScriptError, match='^{"code":7}$'):
        js.evaluate("throw {code: 7}", {})
    with pytest.raises(ScriptError, match="^RangeError: custom$"):
        js.evaluate("throw new RangeError('custom')", {}, mode="lambda")


def test_results_and_bindings_that_are_not_json(js: V8JavaScript) -> None:
    with pytest.raises(ScriptError, match="BigInt"):
        js.evaluate("1n", {})
    with pytest.raises(ScriptError, match="circular"):
        js.evaluate("var o = {}; o.o = o; o", {})
    # Values JSON has no form for cross as their text, on both engines
    assert js.evaluate("typeof $.when", {"when": object()}) == "string"


def test_unknown_mode_is_rejected(js: V8JavaScript) -> None:
    with pytest.raises(ValueError, match="mode"):
        js.evaluate("1", {}, mode="graal")


# --- limits ----------------------------------------------------------------------------------------


def test_infinite_loop_is_stopped_by_the_per_call_timeout_and_the_engine_recovers(js: V8JavaScript) -> None:
    started = time.monotonic()
    with pytest.raises(ScriptTimeoutError, match="time limit of 250 ms"):
        js.evaluate("while (true) {}", {}, limits=SHORT)
    assert time.monotonic() - started < 2
    assert js.evaluate("$.a + 1", {"a": 1}) == 2
    with pytest.raises(ScriptTimeoutError):
        js.evaluate("for (;;) { Math.random() }", {}, mode="lambda", limits=SHORT)
    assert js.evaluate("$.a * 2", {"a": 21}) == 42


def test_instance_limits_apply_by_default() -> None:
    with V8JavaScript(SHORT) as engine:
        with pytest.raises(ScriptTimeoutError, match="250 ms"):
            engine.evaluate("while (true) {}", {})
        assert engine.evaluate("'ok'", {}) == "ok"


def test_memory_bomb_is_stopped_and_the_engine_recovers(js: V8JavaScript) -> None:
    with pytest.raises((ScriptMemoryError, ScriptTimeoutError)):
        js.evaluate("var a = []; while (true) a.push(new Array(1e6).fill(1))", {})
    assert js.evaluate("$.a + 1", {"a": 1}) == 2
    small = ScriptLimits(max_memory_bytes=8 * 1024 * 1024)
    with pytest.raises(ScriptMemoryError, match="memory limit of 8388608 bytes"):
        js.evaluate("var s = []; for (var i = 0; ; i++) s.push('k' + i)", {}, limits=small)
    assert js.evaluate("[1, 2, 3].length", {}) == 3


def test_runaway_promise_chain_is_charged_to_its_own_script(js: V8JavaScript) -> None:
    with pytest.raises(ScriptTimeoutError):
        js.evaluate("Promise.resolve().then(function f() { return Promise.resolve().then(f) }); 1", {}, limits=SHORT)
    assert js.evaluate("async function f() { return 1 } typeof f()", {}) == "object"
    assert js.evaluate("$.ok", {"ok": True}) is True


_BOMBS = [
    "Array(1e9).fill(0).length",
    "Array.from({length: 1e9}).length",
    "Array(1e9).toSorted().length",
    "'x'.repeat(5e8).split('').length",
    "'x'.repeat(2e8).match(/x/g).length",
    "JSON.parse('[' + '0,'.repeat(2.6e8) + '0]').length",
]


def test_builtins_that_would_abort_v8_raise_memory_errors() -> None:
    # Unguarded, each of these aborts the whole process (V8 "invalid table size" / "invalid
    # size error"), so they run in a child interpreter.
    code = (
        "from flowkit.scripting import V8JavaScript\n"
        "from flowkit.errors import ScriptMemoryError\n"
        "js = V8JavaScript()\n"
        f"for bomb in {_BOMBS!r}:\n"
        "    try:\n"
        "        js.evaluate(bomb, {})\n"
        "    except ScriptMemoryError:\n"
        "        print('stopped')\n"
        "print(js.evaluate('$.a', {'a': 'alive'}))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(Path(_v8.__file__).resolve().parents[2]))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["stopped"] * len(_BOMBS) + ["alive"]


# --- sandbox ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "require",
        "console",
        "print",
        "load",
        "fetch",
        "XMLHttpRequest",
        "process",
        "setTimeout",
        "Java",
        "Packages",
        "WebAssembly",
        "ArrayBuffer",
        "Uint8Array",
        "SharedArrayBuffer",
        "Atomics",
        "quit",
    ],
)
def test_no_host_surface(js: V8JavaScript, name: str) -> None:
    assert js.evaluate(f"typeof {name}", {}) == "undefined"


def test_no_module_loading(js: V8JavaScript) -> None:
    with pytest.raises(ScriptError, match="ReferenceError: require is not defined"):
        js.evaluate("require('fs')", {})
    with pytest.raises(ScriptError, match="ReferenceError: load is not defined"):
        js.evaluate("load('/etc/passwd')", {})


def test_harness_is_not_reachable_or_replaceable(js: V8JavaScript) -> None:
    js.evaluate("JSON.parse = JSON.stringify = function () { return 'x' }; Object.keys = null; 1", {})
    assert js.evaluate("$.a", {"a": [1, {"b": 2}]}) == [1, {"b": 2}]
    js.evaluate("try { __flowkit__ = null; delete globalThis.__flowkit__ } catch (e) {} 1", {})
    assert js.evaluate("typeof fns + typeof compile + typeof tripped", {}) == "undefinedundefinedundefined"
    assert js.evaluate("$.v", {"v": 3}) == 3


def test_compiled_programs_are_evicted_least_recently_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_v8, "_MAX_PROGRAMS", 2)
    with V8JavaScript() as engine:
        for round_ in range(3):
            for n in range(4):
                assert engine.evaluate(f"$.x + {n}", {"x": round_}) == round_ + n
        assert len(engine._programs) == 2
        with pytest.raises(ScriptError, match="SyntaxError"):
            engine.evaluate("(", {})
        assert engine.evaluate("$.x + 3", {"x": 1}) == 4


def test_closed_engine_raises() -> None:
    engine = V8JavaScript()
    assert engine.evaluate("1", {}) == 1
    engine.close()
    with pytest.raises(ScriptError, match="closed"):
        engine.evaluate("1", {})


def test_evaluations_from_four_threads(js: V8JavaScript) -> None:
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(150):
                expected = {"n": n, "double": 2 * i}
                assert js.evaluate("({n: $.n, double: $.i * 2})", {"n": n, "i": i}) == expected
                assert js.evaluate("return $.i + $.n", {"n": n, "i": i}, mode="lambda") == i + n
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors


def test_v8_runs_on_mini_racers_public_api() -> None:
    assert not hasattr(_v8, "_Abi") and not hasattr(_v8, "_NativeIsolate")
    with V8JavaScript() as engine:
        assert engine.evaluate("if ($.a == 1) { true; } else { false; }", {"a": 1}) is True
        assert engine.evaluate("return {v: $.a}", {"a": 2}, mode="lambda") == {"v": 2}
        assert engine.evaluate("typeof console + typeof setTimeout", {}) == "undefinedundefined"
        with pytest.raises(ScriptError) as caught:
            engine.evaluate("1;\n(", {})
        assert caught.value.line == 2
        with pytest.raises(ScriptError, match=r"^TypeError: Cannot read properties of null \(reading 'x'\)$"):
            engine.evaluate("null.x", {})


# --- DO_WHILE and SWITCH helpers -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        (1, True),
        (0.5, True),
        (0, False),
        (-1, False),
        (float("nan"), False),
        ("true", False),
        ("1", False),
        (None, False),
        ([1], False),
        ({"a": 1}, False),
    ],
)
def test_truthy_follows_conductor_do_while(value: object, expected: bool) -> None:
    assert truthy(value) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "null"),
        (True, "true"),
        (False, "false"),
        (1, "1"),
        (-7, "-7"),
        (1.0, "1"),
        (2.0**40, "1099511627776"),
        (1.5, "1.5"),
        (0.001, "0.001"),
        (1234567.5, "1234567.5"),
        (1.5e-5, "1.5E-5"),
        (1e21, "1.0E21"),
        (-2.5e10 - 0.5, "-2.50000000005E10"),
        (float("nan"), "NaN"),
        (float("-inf"), "-Infinity"),
        ("abc", "abc"),
        ([1, "a"], "[1, a]"),
        ({"k": None}, "{k=null}"),
    ],
)
def test_case_string_follows_conductor_switch(value: object, expected: str) -> None:
    assert case_string(value, from_script=True) == expected


def test_switch_case_string_of_a_script_result(js: V8JavaScript) -> None:
    assert case_string(js.evaluate("$.n / 2", {"n": 4}), from_script=True) == "2"
    assert case_string(js.evaluate("$.n / 2", {"n": 3}), from_script=True) == "1.5"
    assert case_string(js.evaluate("$.n > 1", {"n": 3}), from_script=True) == "true"


# --- jq ----------------------------------------------------------------------------------------------


def test_jq_path(jq: Jq) -> None:
    assert jq.run(".a | .b", {"a": {"b": [1, 2]}}) == [[1, 2]]
    assert jq.run("{key3: (.key1.value1 + .key2.value2)}", {"key1": {"value1": ["a"]}, "key2": {"value2": ["b"]}}) == [
        {"key3": ["a", "b"]}
    ]


def test_jq_multiple_outputs_and_numbers(jq: Jq) -> None:
    assert jq.run(".[]", [1, "x", None, {"k": 2}]) == [1, "x", None, {"k": 2}]
    outputs = jq.run(".[] | . * 1.0", [2, 2.5])
    assert outputs == [2, 2.5] and type(outputs[0]) is int
    assert jq.run("empty", {}) == []


def test_jq_compiles_once(jq: Jq) -> None:
    assert jq.compile(".x") is jq.compile(".x")


def test_jq_compile_error(jq: Jq) -> None:
    with pytest.raises(ScriptError) as caught:
        jq.run(".a |", {})
    assert caught.value.language == "jq"
    assert "syntax error" in str(caught.value) and "compile error" in str(caught.value)
    assert caught.value.line == 1
    with pytest.raises(ScriptError, match="syntax error"):
        jq.compile(".a |")  # the cached failure raises again


def test_jq_runtime_errors(jq: Jq) -> None:
    with pytest.raises(ScriptError) as caught:
        jq.run(".array", "a string")
    assert str(caught.value) == 'Cannot index string with string "array"'
    assert caught.value.language == "jq"
    with pytest.raises(ScriptError, match="^boom$"):
        jq.run('error("boom")', {})


def test_jq_from_four_threads(jq: Jq) -> None:
    results: list[object] = []

    def worker(n: int) -> None:
        results.extend(jq.run(".n * 2", {"n": n}) for _ in range(200))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(r[0] for r in results) == sorted(2 * n for n in range(4) for _ in range(200))  # type: ignore[index]


_SHARED: list[V8JavaScript] = []


def _shared_js() -> V8JavaScript:
    # hypothesis re-runs the test body without function-scoped fixtures.
    if not _SHARED:
        _SHARED.append(V8JavaScript())
    return _SHARED[0]
