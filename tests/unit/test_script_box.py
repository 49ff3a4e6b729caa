"""Scripts in a box: escape and runaway attempts on both JavaScript engines and jq (issue 13, items 2-5, 10).

The attacks that crashed or hung the process before run in a child interpreter, so the test run
survives if containment fails.
"""

import math
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import flowkit
from flowkit.errors import DefinitionError, ScriptError, ScriptTimeoutError
from flowkit.scripting import Jq, ScriptLimits, create_javascript

ROOT = Path(flowkit.__file__).resolve().parents[1]
SHORT = ScriptLimits(timeout_ms=500)


@pytest.fixture(params=["quickjs", "v8"])
def js(request):
    engine = create_javascript(engine=request.param)
    yield engine
    engine.close()


def _child(code: str, timeout: float = 90) -> list[str]:
    """Run ``code`` in a fresh interpreter; its stdout lines (a crash or hang fails the test, not the run)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=timeout, env=env
    )
    assert done.returncode == 0, f"child ended with {done.returncode}: {done.stderr[-2000:]}"
    return done.stdout.split("\n")[:-1]


# --- NaN and Infinity --------------------------------------------------------------------------------


def test_nan_and_infinity_cross_as_null(js):
    data = {"a": math.nan, "b": [math.inf, -math.inf], "c": 1.5}
    assert js.evaluate("[$.a, $.b, $.c]", data) == [None, [None, None], 1.5]


def _one_task(task: dict) -> flowkit.WorkflowDef:
    return flowkit.WorkflowDef.from_json({"name": "box", "version": 1, "tasks": [task]})


def test_nan_input_to_inline_switch_and_do_while_completes_the_run():
    inline = {
        "name": "i",
        "taskReferenceName": "i",
        "type": "INLINE",
        "inputParameters": {"evaluatorType": "javascript", "expression": "$.v === null", "v": "${workflow.input.v}"},
    }
    switch = {
        "name": "s",
        "taskReferenceName": "s",
        "type": "SWITCH",
        "evaluatorType": "javascript",
        "expression": "$.v === null ? 'nan' : 'other'",
        "inputParameters": {"v": "${workflow.input.v}"},
        "decisionCases": {"nan": [{"name": "n", "taskReferenceName": "n", "type": "NOOP"}]},
    }
    loop = {
        "name": "l",
        "taskReferenceName": "l",
        "type": "DO_WHILE",
        "inputParameters": {"v": "${workflow.input.v}"},
        "loopCondition": "$.v !== null && $.l['iteration'] < 3",
        "loopOver": [{"name": "b", "taskReferenceName": "b", "type": "NOOP"}],
    }
    definition = flowkit.WorkflowDef.from_json({"name": "nan", "version": 1, "tasks": [inline, switch, loop]})
    for engine in ("quickjs", "v8"):
        from flowkit.scripting._lazy import LazyScripts

        ex = flowkit.run(definition, {"v": math.nan}, scripts=LazyScripts(engine=engine), store="memory")
        assert ex.status == "COMPLETED", (engine, ex.task("i").reason)
        assert ex.task("i").output == {"result": True}
        assert ex.task("n").status == "COMPLETED"
        assert ex.task("l").output["iteration"] == 1


def test_numeric_event_sink_is_a_definition_error_naming_the_field():
    # refused when read (before: a raw error that left the execution RUNNING)
    with pytest.raises(flowkit.DefinitionError, match="'sink': expected a string"):
        _one_task({"name": "e", "taskReferenceName": "e", "type": "EVENT", "sink": 5})


def test_an_engine_failure_fails_the_task_and_ends_the_run():
    from flowkit.scripting._lazy import LazyScripts

    definition = _one_task(
        {
            "name": "i",
            "taskReferenceName": "i",
            "type": "INLINE",
            "inputParameters": {"evaluatorType": "javascript", "expression": "1"},
        }
    )
    ex = flowkit.run(definition, {}, scripts=LazyScripts(engine="no-such-engine"), store="memory", validate=False)
    assert ex.status == "FAILED"
    assert "no-such-engine" in ex.task("i").reason


# --- one workflow cannot change another's scripts ----------------------------------------------------


def test_prototype_and_global_changes_stay_in_their_scope(js):
    js.evaluate(
        "Object.prototype.toJSON = function () { return 'pwned' }; Array.prototype.map = null;"
        " globalThis.Math = null; 1",
        {},
        scope="wf-1",
    )
    assert js.evaluate("[{a: 1}, [1, 2].map((x) => x * 2), Math.max(1, 2)]", {}, scope="wf-2") == [{"a": 1}, [2, 4], 2]


def test_prototype_pollution_does_not_reach_the_next_workflow():
    inline = {
        "name": "i",
        "taskReferenceName": "i",
        "type": "INLINE",
        "inputParameters": {"evaluatorType": "javascript", "expression": "${workflow.input.script}"},
    }
    definition = _one_task(inline)
    poison = "Object.prototype.toJSON = function () { return 'pwned' }; ({a: 1})"
    flowkit.run(definition, {"script": poison}, store="memory")
    ex = flowkit.run(definition, {"script": "({a: 1})"}, store="memory")
    assert ex.task("i").output == {"result": {"a": 1}}


def test_the_harness_and_compiled_code_are_out_of_reach(js):
    assert js.evaluate("$.x + 1", {"x": 1}) == 2
    names = js.evaluate("Object.getOwnPropertyNames(globalThis).filter((n) => /flowkit|fk/.test(n))", {})
    assert names == []
    attempts = [
        "__flowkit__.compile(1, \"'pwned'\", 0)",
        "__flowkit__.r(0, '{}', 0, 0, 0, \"'pwned'\", 0)",
        "delete globalThis.__flowkit__",
    ]
    for attempt in attempts:
        try:
            js.evaluate(f"try {{ {attempt} }} catch (e) {{ 0 }}", {})
        except ScriptError:
            pass
    assert js.evaluate("$.x + 1", {"x": 1}) == 2


# --- results that cannot cross, thrown values, reasons -------------------------------------------------


def test_a_result_5000_deep_is_a_clear_error(js):
    with pytest.raises(ScriptError, match="nested more than 256 levels"):
        js.evaluate("let a = []; for (let i = 0; i < 5000; i++) a = [a]; a", {})
    assert js.evaluate("let a = []; for (let i = 0; i < 200; i++) a = [a]; JSON.stringify(a).length", {}) == 402


@pytest.mark.parametrize("engine", ["quickjs", "v8"])
def test_a_result_100000_deep_does_not_crash_the_process(engine):
    out = _child(f"""
        from flowkit.scripting import create_javascript
        from flowkit.errors import ScriptError
        js = create_javascript(engine={engine!r})
        for source in ["let a = []; for (let i = 0; i < 100000; i++) a = [a]; a",
                       "let a = {{}}; for (let i = 0; i < 100000; i++) a = {{a}}; throw a",
                       "let a = []; for (let i = 0; i < 100000; i++) a = [a]; $.l.contains(a)"]:
            try:
                js.evaluate(source, {{"l": [1]}})
                print("value")
            except ScriptError as exc:
                print(type(exc).__name__)
        print(js.evaluate("$.ok", {{"ok": "alive"}}))
    """)
    assert out[:2] == ["ScriptError", "ScriptError"] and out[2] in ("value", "ScriptError") and out[3] == "alive"


def test_a_thrown_50_mb_string_is_cut(js):
    with pytest.raises(ScriptError) as caught:
        js.evaluate("throw 'x'.repeat(50 * 1024 * 1024)", {}, limits=ScriptLimits(timeout_ms=20_000))
    assert len(str(caught.value)) < 11_000
    assert str(caught.value).endswith("(truncated, 52428800 chars)")


def test_a_task_reason_is_capped_and_the_text_kept_in_the_logs():
    inline = {
        "name": "i",
        "taskReferenceName": "i",
        "type": "INLINE",
        "inputParameters": {"evaluatorType": "javascript", "expression": "throw 'y'.repeat(50 * 1024 * 1024)"},
    }
    ex = flowkit.run(_one_task(inline), {}, store="memory")
    task = ex.task("i")
    assert task.status == "FAILED_WITH_TERMINAL_ERROR"
    assert len(task.reason) < 2_200
    assert "truncated" in task.reason
    assert any(len(line) > 10_000 for line in task.logs or [])


# --- runaways ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["quickjs", "v8"])
def test_runaways_in_every_shape_are_stopped(engine):
    out = _child(f"""
        import time
        from flowkit.scripting import create_javascript, ScriptLimits
        from flowkit.errors import ScriptError
        js = create_javascript(ScriptLimits(timeout_ms=500), engine={engine!r})
        runaways = [
            "/^(a|aa)+$/.test('a'.repeat(60) + 'b')",
            "('a'.repeat(60) + 'b').replace(/^(a|aa)+$/, 'x')",
            "let e = new Error('x'); Object.defineProperty(e, 'message', {{get() {{ while (true) {{}} }}}}); throw e",
            "throw {{toString() {{ while (true) {{}} }}, get toJSON() {{ while (true) {{}} }}}}",
            "(async () => {{ while (true) {{ await 0; }} }})(); 1",
            "Promise.resolve().then(function f() {{ return Promise.resolve().then(f) }}); 1",
            "({{get a() {{ while (true) {{}} }}}})",
        ]
        for source in runaways:
            started = time.monotonic()
            try:
                js.evaluate(source, {{}})
                print("completed")
            except ScriptError as exc:
                print(type(exc).__name__, time.monotonic() - started < 15)
        print(js.evaluate("'abc'.replace(/b/, 'x') + /^a/.test('ab')", {{}}))
    """)
    # a runaway promise chain allocates as it spins: it may reach the memory limit before the time limit
    stopped = {"ScriptTimeoutError True", "ScriptMemoryError True"}
    assert out[:4] == ["ScriptTimeoutError True"] * 4 and set(out[4:6]) <= stopped, out
    assert out[6:] == ["ScriptTimeoutError True", "axctrue"], out


def test_regex_redone_in_the_sandbox_keeps_the_semantics(js):
    assert js.evaluate("$.s.split(/,\\s*/).map((x) => x.toUpperCase())", {"s": "a, b,c"}) == ["A", "B", "C"]
    assert js.evaluate("try { /x/.test('x') } catch (e) { 'caught' }", {}) is True
    assert js.evaluate("[...'a1b2'.matchAll(/\\d/g)].map((m) => m[0])", {}) == ["1", "2"]


# --- Java-style calls on $ (Conductor's GraalJS binds $ as a Java Map) ----------------------------------


def test_java_style_calls_on_inputs(js):
    data = {"list": [1, 2, 3], "map": {"a": 1, "b": {"c": [4]}}, "empty": {}}
    source = (
        "[$.list.get(1), $.list.size(), $.list.contains(3), $.list.isEmpty(), $.map.containsKey('a'),"
        " $.map.get('b').get('c').get(0), $.map.keySet(), $.map.keySet().contains('b'), $.map.values().size(),"
        " $.map.entrySet().get(0).getKey(), $.empty.isEmpty(), $.map.getOrDefault('z', 9), $.map.get('z'),"
        " $.size(), $.list.subList(1, 3), $.map.containsValue(1)]"
    )
    assert js.evaluate(source, data) == [
        2,
        3,
        True,
        False,
        True,
        4,
        ["a", "b"],
        True,
        2,
        "a",
        True,
        9,
        None,
        3,
        [2, 3],
        True,
    ]
    with pytest.raises(ScriptError, match="out of bounds"):
        js.evaluate("$.list.get(7)", data)


def test_java_methods_do_not_change_json_keys_or_for_in(js):
    data = {"m": {"a": 1}, "l": [1]}
    source = (
        "var ks = []; for (var k in $.m) ks.push(k); [$.m, $.l, Object.keys($.m), ks, JSON.stringify($), $.m.size()]"
    )
    assert js.evaluate(source, data) == [{"a": 1}, [1], ["a"], ["a"], '{"m":{"a":1},"l":[1]}', 1]
    # Objects a script makes are plain JavaScript, and host access stays closed
    assert js.evaluate("typeof ({}).size + typeof [].get + typeof Java + typeof Packages", {}) == "undefined" * 4


def test_java_calls_in_a_conductor_style_workflow():
    inline = {
        "name": "i",
        "taskReferenceName": "i",
        "type": "INLINE",
        "inputParameters": {
            "evaluatorType": "graaljs",
            "items": "${workflow.input.items}",
            "expression": "$.items.size() > 1 ? $.items.get(1) : 'none'",
        },
    }
    assert flowkit.run(_one_task(inline), {"items": ["x", "y"]}, store="memory").task("i").output == {"result": "y"}


# --- jq ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "program", ["$ENV.HOME", "env.HOME", "env | keys", '"\\(env.HOME)"', 'import "x" as x; .', 'include "x"; .']
)
def test_jq_environment_and_modules_are_refused(program):
    with pytest.raises(ScriptError, match="not available in flowkit"):
        Jq().run(program, {})


def test_jq_field_and_key_named_env_still_work():
    assert Jq().run("{env: .env, v: .config.env}", {"env": "prod", "config": {"env": "x"}}) == [
        {"env": "prod", "v": "x"}
    ]


def test_jq_environment_is_refused_at_validation():
    jq_task = {
        "name": "q",
        "taskReferenceName": "q",
        "type": "JSON_JQ_TRANSFORM",
        "inputParameters": {"queryExpression": "$ENV.HOME"},
    }
    with pytest.raises(DefinitionError, match="queryExpression"):
        flowkit.run(_one_task(jq_task), {}, store="memory")


def test_jq_runaways_are_stopped_and_the_kernel_lives():
    out = _child(
        """
        import time
        from flowkit.scripting import Jq, ScriptLimits
        from flowkit.errors import ScriptError
        quick = Jq(limits=ScriptLimits(timeout_ms=1000))
        roomy = Jq(limits=ScriptLimits(timeout_ms=60_000, max_memory_bytes=64 * 1024 * 1024))
        for jq, program in [(quick, "def f: f; f"), (quick, "repeat(1)"), (roomy, "[range(1e9)]"),
                            (quick, "reduce range(5000) as $i (null; [.])"),
                            (quick, "reduce range(100000) as $i (null; [.])")]:
            started = time.monotonic()
            try:
                jq.run(program, {})
                print("completed")
            except ScriptError as exc:
                print(type(exc).__name__, time.monotonic() - started < 50)
        print(quick.run(".a + 1", {"a": 1}))
    """,
        timeout=150,
    )
    assert out == [
        "ScriptTimeoutError True",
        "ScriptTimeoutError True",
        "ScriptMemoryError True",
        "ScriptError True",
        "ScriptError True",
        "[2]",
    ], out


def test_jq_nan_input_and_ordinary_programs():
    jq = Jq()
    assert jq.run(".a", {"a": math.nan}) == [None]
    assert jq.run("[.[] | select(. > 1)] | length", [1, 2, 3]) == [2]
    assert jq.run(".a * 2", {"a": 3}) == [6]  # runs in the sandbox process
    with pytest.raises(ScriptError, match='Cannot index number with "x"|Cannot index number with string "x"'):
        jq.run(".a.x", {"a": 1})


def test_jq_timeout_is_a_timeout_error():
    with pytest.raises(ScriptTimeoutError):
        Jq(limits=ScriptLimits(timeout_ms=300)).run("def f: f; f", {})


# --- JSONPath filters, HTTP ----------------------------------------------------------------------------


def test_a_catastrophic_jsonpath_filter_regex_has_a_time_budget():
    out = _child(
        """
        import time
        import flowkit
        wf = flowkit.WorkflowDef.from_json({"name": "jp", "version": 1, "tasks": [{
            "name": "n", "taskReferenceName": "n", "type": "INLINE",
            "inputParameters": {"evaluatorType": "javascript", "expression": "$.hits",
                                "hits": "${workflow.input.items[?match(@.name, '^(a|aa)+$')]}"}}]})
        started = time.monotonic()
        ex = flowkit.run(wf, {"items": [{"name": "a" * 60 + "b"}, {"name": "aa"}]}, store="memory")
        print(ex.status, time.monotonic() - started < 20)
        ok = flowkit.run(wf, {"items": [{"name": "aaa"}, {"name": "b"}]}, store="memory")
        print(ok.task("n").output["result"])
    """,
        timeout=120,
    )
    assert out == ["COMPLETED True", "[{'name': 'aaa'}]"], out


@pytest.mark.parametrize("uri", ["file:///etc/passwd", "ftp://example.com/x", "/etc/passwd", "gopher://x"])
def test_http_task_opens_only_http_and_https(uri):
    http = {"name": "h", "taskReferenceName": "h", "type": "HTTP", "inputParameters": {"http_request": {"uri": uri}}}
    started = time.monotonic()
    ex = flowkit.run(_one_task(http), {}, store="memory")
    assert ex.status == "FAILED"
    assert "http:// or https://" in ex.task("h").reason
    assert "root:" not in str(ex.task("h").output)
    assert time.monotonic() - started < 10


def test_v8_without_mini_racer_says_what_to_install():
    out = _child("""
        import sys
        sys.modules["py_mini_racer"] = None  # as if the v8 extra were not installed
        import flowkit
        from flowkit.scripting import create_javascript
        try:
            create_javascript(engine="v8")
        except flowkit.ScriptError as exc:
            print(exc)
        print(create_javascript().evaluate("$.a", {"a": "quickjs works"}))
    """)
    assert out == [
        "FLOWKIT_JS_ENGINE=v8 needs the optional V8 engine: pip install 'flowkit[v8]' (mini-racer), or use the"
        " default QuickJS engine",
        "quickjs works",
    ]
