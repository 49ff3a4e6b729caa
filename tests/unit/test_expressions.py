"""``${...}`` resolution: every rule of Conductor's ParametersUtils.java."""

from __future__ import annotations

import pytest
from conftest import Harness

from flowkit import ExpressionError, WorkflowDef
from flowkit.expressions import compile_value, has_expression, java_string, referenced_roots

DOC = {
    "workflow": {
        "input": {"a": 1, "f": 2.0, "s": "text", "b": True, "n": None, "m": {"k": 1, "j": [1, 2]}, "l": [1, 2, 3]},
        "output": {"names": [{"name": "The Who", "year": 1964}, {"name": "The Doors", "year": 1965}]},
        "secrets": {"x": "SHOULD NOT LEAK"},
    },
    "t1": {"output": {"op": "done", "nested": {"deep": {"value": 42}}, "items": [], "s": "str"}, "status": "COMPLETED"},
}


def r(value, doc=DOC, task_id=None):
    return compile_value(value)(doc, task_id)


# ---------------------------------------------------------------------------------------------- types
@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("${workflow.input.a}", 1),
        ("${workflow.input.f}", 2.0),
        ("${workflow.input.s}", "text"),
        ("${workflow.input.b}", True),
        ("${workflow.input.n}", None),
        ("${workflow.input.m}", {"k": 1, "j": [1, 2]}),
        ("${workflow.input.l}", [1, 2, 3]),
        ("${$.workflow.input.a}", 1),
        ("${t1.output.nested.deep.value}", 42),
        ("${t1.output['nested']['deep']}", {"value": 42}),
        ("${workflow.input.l[2]}", 3),
    ],
)
def test_a_whole_string_expression_keeps_the_value_type(expr: str, expected: object) -> None:
    value = r(expr)
    assert value == expected
    assert type(value) is type(expected)


def test_the_dollar_dot_prefix_is_optional() -> None:
    assert r("${workflow.input.m.k}") == r("${$.workflow.input.m.k}") == 1


def test_non_string_scalars_and_containers_are_resolved_element_wise() -> None:
    value = {"n": 5, "f": 1.5, "b": False, "z": None, "l": ["${workflow.input.a}", 7, ["${t1.output.op}"]]}
    assert r(value) == {"n": 5, "f": 1.5, "b": False, "z": None, "l": [1, 7, ["done"]]}


def test_keys_are_never_resolved() -> None:
    assert r({"${workflow.input.s}": "${workflow.input.s}"}) == {"${workflow.input.s}": "text"}


def test_resolved_containers_are_copies_and_the_source_is_not_mutated() -> None:
    out = r({"m": "${workflow.input.m}"})
    out["m"]["k"] = 99
    out["m"]["j"].append(3)
    assert DOC["workflow"]["input"]["m"] == {"k": 1, "j": [1, 2]}
    source = {"a": ["${workflow.input.a}"]}
    r(source)
    assert source == {"a": ["${workflow.input.a}"]}


# ---------------------------------------------------------------------------------------------- interpolation
@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("a=${workflow.input.a}", "a=1"),
        ("f=${workflow.input.f}", "f=2.0"),
        ("b=${workflow.input.b}", "b=true"),
        ("n=${workflow.input.n}", "n=null"),
        ("m=${workflow.input.m}", "m={k=1, j=[1, 2]}"),
        ("l=${workflow.input.l}", "l=[1, 2, 3]"),
        ("${workflow.input.s}-${workflow.input.a}", "text-1"),
        (" ${workflow.input.a}", " 1"),  # not the whole string: text
        ("missing=${workflow.input.nope}", "missing=null"),
        ("${t1.output.op}/${t1.output.op}", "done/done"),
    ],
)
def test_interpolation_uses_java_to_string(expr: str, expected: str) -> None:
    assert r(expr) == expected


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "null"),
        (True, "true"),
        (False, "false"),
        (2, "2"),
        (-7, "-7"),
        (2.0, "2.0"),
        (0.5, "0.5"),
        (100.0, "100.0"),
        (1e7, "1.0E7"),
        (12345678.9, "1.23456789E7"),
        (1e-3, "0.001"),
        (1e-4, "1.0E-4"),
        (-2.5e-5, "-2.5E-5"),
        (1e21, "1.0E21"),
        (float("nan"), "NaN"),
        (float("inf"), "Infinity"),
        ({"a": 1, "b": None}, "{a=1, b=null}"),
        ([1, "x", [True]], "[1, x, [true]]"),
        ({}, "{}"),
        ([], "[]"),
        ({"m": {"n": [1.0]}}, "{m={n=[1.0]}}"),
        ("plain", "plain"),
    ],
)
def test_java_string(value: object, text: str) -> None:
    assert java_string(value) == text


# ---------------------------------------------------------------------------------------------- escapes
def test_double_dollar_escapes_an_expression() -> None:
    assert r("$${workflow.input.a}") == "${workflow.input.a}"
    assert r("cost: $${x} and ${workflow.input.a}") == "cost: ${x} and 1"
    assert r("$${a}$${b}") == "${a}${b}"
    assert has_expression("$${x}") is False
    assert has_expression("a ${x}") is True


def test_strings_without_expressions_pass_through() -> None:
    for text in ("workflow.input.param1", "$", "}", "100$", "a $ {b}", "{a=1}"):
        assert r(text) == text


# ---------------------------------------------------------------------------------------------- nesting
def test_nested_expressions_resolve_inside_out() -> None:
    doc = {"index": 1, "mapValue": "a", "key": "op", "recordIds": [1, 2, 3], "map": {"a": [1, 2, 3], "b": [2, 4, 5]}}
    assert r("${recordIds[${index}]}", doc) == 2
    assert r("${map.${mapValue}[${index}]}", doc) == 2
    assert r("${map.b[${map.${mapValue}[${index}]}]}", doc) == 5
    assert r("x${recordIds[${index}]}y", doc) == "x2y"


def test_a_nested_path_that_resolves_to_nonsense_reads_as_null() -> None:
    doc = {"bad": "]]", "m": {"a": 1}}
    assert r("${m.${bad}}", doc) is None
    assert r("${m.${missing}}", doc) is None


# ---------------------------------------------------------------------------------------------- missing values
def test_missing_values_are_null_and_the_key_is_kept() -> None:
    out = r(
        {
            "a": "${workflow.input.absent}",
            "b": "${t9.output.x}",
            "c": "${t1.output.op.too.deep}",
            "d": "${workflow.input.l[10]}",
            "e": "${t1.output.s.x}",
        }
    )
    assert out == {"a": None, "b": None, "c": None, "d": None, "e": None}


def test_blank_expressions_are_empty_strings() -> None:
    assert r("${}") == ""
    assert r("${   }") == ""
    assert r("[${}]") == "[]"


# ---------------------------------------------------------------------------------------------- indefinite paths
def test_wildcards_deep_scan_and_filters_give_lists() -> None:
    assert r("${workflow.output.names[*].year}") == [1964, 1965]
    assert r("${workflow.output.names[*].missing}") == []
    assert r("${t1.output.items[*]}") == []
    assert r("${t1..value}") == [42]
    assert r("${workflow.output.names[?(@.year > 1964)].name}") == ["The Doors"]
    assert r("${workflow.output.names[1].name}") == "The Doors"
    assert r("years: ${workflow.output.names[*].year}") == "years: [1964, 1965]"


def test_a_compound_path_gives_a_list() -> None:
    # python-jsonpath's union (|) compiles to a CompoundJSONPath, which once crashed the compiler
    assert r("${workflow.input.a | $.workflow.input.f}") == [1, 2.0]


# ---------------------------------------------------------------------------------------------- system parameters
def test_cpewf_task_id_is_the_task_id_or_stays_literal() -> None:
    assert r("${CPEWF_TASK_ID}", task_id="abc") == "abc"
    assert r("id=${CPEWF_TASK_ID}", task_id="abc") == "id=abc"
    assert r("${CPEWF_TASK_ID}") == "${CPEWF_TASK_ID}"
    assert r("id=${CPEWF_TASK_ID}") == "id=${CPEWF_TASK_ID}"
    assert r({"k": "${CPEWF_TASK_ID}"}) == {"k": "${CPEWF_TASK_ID}"}


def test_secrets_stay_literal() -> None:
    assert r("${workflow.secrets.x}") == "${workflow.secrets.x}"
    assert r("Bearer ${workflow.secrets.x}") == "Bearer ${workflow.secrets.x}"
    assert r("${$.workflow.secrets.x}") == "${$.workflow.secrets.x}"


def test_environment_variables_do_not_leak(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWKIT_TEST_SECRET", "leaked")
    assert r("${FLOWKIT_TEST_SECRET}") is None
    assert r("x${HOME}") == "xnull"


# ---------------------------------------------------------------------------------------------- errors and analysis
@pytest.mark.parametrize("text", ["${workflow.input.a", "a ${b ${c}", "${"])
def test_unclosed_expression_is_an_error(text: str) -> None:
    with pytest.raises(ExpressionError) as info:
        compile_value({"k": text})
    assert "closing" in str(info.value)
    assert info.value.expression == text


def test_invalid_json_path_is_an_error_at_compile_time() -> None:
    with pytest.raises(ExpressionError) as info:
        compile_value("${workflow.input[?(@.a ==]}")
    assert "JSONPath" in str(info.value)


def test_referenced_roots() -> None:
    value = {"a": "${workflow.input.x}", "b": ["${t1.output.y} and ${$.t2.status}"], "c": "$${t3.output}", "d": 4}
    assert referenced_roots(value) == {"workflow", "t1", "t2"}
    assert referenced_roots("${map.${t4.output.k}}") >= {"t4"}


# ---------------------------------------------------------------------------------------------- the engine's document
def test_engine_document_latest_attempt_and_loop_refs_without_suffix() -> None:
    definition = WorkflowDef.from_json(
        {
            "name": "doc",
            "tasks": [
                {"name": "integration_task_1", "taskReferenceName": "a"},
                {
                    "name": "integration_task_2",
                    "taskReferenceName": "b",
                    "inputParameters": {
                        "aOut": "${a.output.v}",
                        "aRetry": "${a.retryCount}",
                        "aStatus": "${a.status}",
                        "aType": "${a.taskType}",
                        "aRef": "${a.referenceTaskName}",
                        "wfId": "${workflow.workflowId}",
                        "wfType": "${workflow.workflowType}",
                        "wfStatus": "${workflow.status}",
                        "corr": "${workflow.correlationId}",
                        "vars": "${workflow.variables}",
                        "aId": "${a.taskId}",
                        "wfVersion": "${workflow.version}",
                    },
                },
            ],
            "variables": {"v": 1},
        }
    )
    h = Harness()
    wf = h.start(definition, {}, correlation_id="cid")
    h.fail("a", "once")
    h.advance(60)
    second = h.complete("a", {"v": "second"})
    b = h.poll("b")
    assert b is not None
    assert b.input == {
        "aOut": "second",
        "aRetry": 1,
        "aStatus": "COMPLETED",
        "aType": "integration_task_1",
        "aRef": "a",
        "wfId": wf.workflow_id,
        "wfType": "doc",
        "wfStatus": "RUNNING",
        "corr": "cid",
        "vars": {"v": 1},
        "aId": second.task_id,
        "wfVersion": 1,
    }


def test_loop_tasks_are_read_without_their_iteration_suffix() -> None:
    definition = WorkflowDef.from_json(
        {
            "name": "loopdoc",
            "tasks": [
                {
                    "name": "loop",
                    "taskReferenceName": "loop",
                    "type": "DO_WHILE",
                    "items": ["x", "y"],
                    "loopOver": [
                        {
                            "name": "integration_task_1",
                            "taskReferenceName": "body",
                            "inputParameters": {"item": "${loop.output.loopItem}", "index": "${loop.output.loopIndex}"},
                        },
                    ],
                },
                {
                    "name": "integration_task_2",
                    "taskReferenceName": "after",
                    "inputParameters": {
                        "latest": "${body.output.v}",
                        "suffixed": "${body__1.output.v}",
                        "iteration": "${body.iteration}",
                    },
                },
            ],
        }
    )
    h = Harness()
    h.start(definition, {})
    first = h.complete("body__1", {"v": 1})
    second = h.complete("body__2", {"v": 2})
    assert (first.input, second.input) == ({"item": "x", "index": 0}, {"item": "y", "index": 1})
    after = h.poll("after")
    assert after is not None
    assert after.input == {"latest": 2, "suffixed": None, "iteration": 2}
