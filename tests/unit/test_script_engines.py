"""The contract both JavaScript engines keep (QuickJS, the default, and V8), on real engines."""

import threading

import pytest

import flowkit
from flowkit.scripting import QuickJSJavaScript, ScriptLimits, V8JavaScript, create_javascript

ENGINES = {"quickjs": QuickJSJavaScript, "v8": V8JavaScript}


@pytest.fixture(params=sorted(ENGINES))
def js(request):
    engine = create_javascript(engine=request.param)
    assert isinstance(engine, ENGINES[request.param])
    yield engine
    engine.close()


def test_completion_value_and_lambda_mode(js):
    assert js.evaluate("if ($.iteration < $.value) { true; } else { false; }", {"iteration": 1, "value": 2}) is True
    assert js.evaluate(
        "if ($.a == 1) { return {testvalue: true} } else { return {testvalue: false} }", {"a": 1}, mode="lambda"
    ) == {"testvalue": True}


def test_values_convert_like_conductor(js):
    assert js.evaluate("$.a + 1", {"a": 1}) == 2
    assert isinstance(js.evaluate("4 / 2", {}), int)
    assert js.evaluate("1 / 4", {}) == 0.25
    assert js.evaluate("[1, 'a', null, {b: 2.5}]", {}) == [1, "a", None, {"b": 2.5}]
    assert js.evaluate("undefined", {}) is None


def test_bindings_are_copied_and_globals_do_not_leak(js):
    data = {"x": {"y": 1}}
    assert js.evaluate("$.x.y = 5; $.x.y", data) == 5
    assert data == {"x": {"y": 1}}
    js.evaluate("leaked = 1; 0", {})
    assert js.evaluate("typeof leaked", {}) == "undefined"


def test_no_host_surface(js):
    for name in ("require", "console", "print", "load", "fetch", "XMLHttpRequest", "setTimeout"):
        assert js.evaluate(f"typeof {name}", {}) == "undefined", name


def test_errors_carry_the_line(js):
    with pytest.raises(flowkit.ScriptError) as syntax:
        js.evaluate("var a = ;", {})
    assert syntax.value.line == 1
    with pytest.raises(flowkit.ScriptError) as runtime:
        js.evaluate("\n\n$.missing.deeper", {})
    assert "TypeError" in str(runtime.value)
    assert runtime.value.line == 3


def test_limits_stop_runaway_scripts_and_the_engine_goes_on(js):
    limits = ScriptLimits(timeout_ms=200, max_memory_bytes=32 * 1024 * 1024)
    with pytest.raises(flowkit.ScriptTimeoutError):
        js.evaluate("while (true) {}", {}, limits=limits)
    with pytest.raises((flowkit.ScriptMemoryError, flowkit.ScriptTimeoutError)):
        js.evaluate("var a = []; while (true) a.push(new Array(1e5).fill(1))", {}, limits=limits)
    assert js.evaluate("$.a * 2", {"a": 21}) == 42


def test_usable_from_several_threads(js):
    results = []

    def work(i):
        results.append(js.evaluate("function f(n) { return n <= 1 ? 1 : n * f(n - 1); } f($.n)", {"n": 10}) + i)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [3628800, 3628801, 3628802, 3628803]


def test_unknown_engine_name_is_refused():
    with pytest.raises(ValueError, match="unknown JavaScript engine"):
        create_javascript(engine="rhino")


def test_former_engine_names_are_the_same_classes():
    from flowkit.scripting import JavaScript, QuickJavaScript

    assert JavaScript is V8JavaScript and QuickJavaScript is QuickJSJavaScript
