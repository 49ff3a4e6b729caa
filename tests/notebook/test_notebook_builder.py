"""The step-by-step builder: its model (plain Python: steps -> WorkflowDef, undo, references,
issues, JSON and Python export) and the widget driven in-process."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from nb_helpers import WORKERS, prepare, ship, tick

import flowkit
from flowkit.notebook import Builder, BuilderModel, Place, parse_json_object


def exported(model: BuilderModel) -> flowkit.WorkflowDef:
    namespace: dict = {}
    exec(compile(model.to_python(), "<exported>", "exec"), namespace)  # the code a user would paste
    return namespace["definition"]


def order_model() -> BuilderModel:
    model = BuilderModel("orders", workers=[*WORKERS, tick])
    model.set_inputs(["order", "kind"])
    model.add("prepare", inputs={"order": "${workflow.input.order}"})
    model.add("FORK_JOIN", setting="2")
    model.add("ship", "ship_a", inputs={"order": "${prepare_ref.output.order}"}, place=Place(fork="fork_1", branch=0))
    model.add("NOOP", "note", place=Place(fork="fork_1", branch=1))
    model.add("SWITCH", "route", setting="${workflow.input.kind}")
    model.add(
        "ship", "express", inputs={"order": "${prepare_ref.output.order}"}, place=Place(switch="route", case="fast")
    )
    model.add("HUMAN", "approve", place=Place(switch="route"))
    return model


def test_steps_make_the_definition_and_undo_drops_the_last_step():
    model = order_model()
    definition = model.definition()
    top = [(t.task_reference_name, t.type) for t in definition.tasks]
    assert top == [("prepare_ref", "SIMPLE"), ("fork_1", "FORK_JOIN"), ("join_fork_1", "JOIN"), ("route", "SWITCH")]
    fork, join, switch = definition.tasks[1], definition.tasks[2], definition.tasks[3]
    assert [[t.task_reference_name for t in b] for b in fork.fork_tasks] == [["ship_a"], ["note"]]
    assert list(join.join_on) == ["ship_a", "note"]
    assert switch.input_parameters == {"switchCaseValue": "${workflow.input.kind}"}
    assert list(switch.decision_cases) == ["fast"] and switch.default_case[0].type == "HUMAN"
    assert model.issues() == []
    assert len(model.steps) == 8
    undone = model.undo()
    assert undone.ref == "approve" and "approve" not in model.refs() and len(model.steps) == 7
    model.add(
        "INLINE",
        "double",
        inputs={"expression": "(function(){return $.x*2;})()", "x": 2},
        place=Place(after="prepare_ref"),
    )
    assert [t.task_reference_name for t in model.definition().tasks][:2] == ["prepare_ref", "double"]
    model.remove("fork_1")  # the fork goes with its branches and its JOIN
    assert {"fork_1", "join_fork_1", "ship_a", "note"}.isdisjoint(model.refs())
    model.undo()
    assert {"fork_1", "join_fork_1", "ship_a", "note"} <= model.refs()
    while model.undo():
        pass
    assert model.steps == [] and model.refs() == set()


def test_the_built_definition_runs():
    model = order_model()
    run = flowkit.run(model.definition(), {"order": "A-7", "kind": "fast"}, workers=WORKERS, store="memory")
    assert run.status == "COMPLETED", run.reason
    assert run.task("ship_a").output["shipped"] == "A-7" and run.task("express").output["shipped"] == "A-7"


def test_exported_json_and_python_build_the_same_definition():
    model = order_model()
    # A fork the builder's `wf >> [[...]]` form cannot name, nested in a switch case, and a loop.
    model.add("FORK_JOIN", "checks", setting="2", place=Place(switch="route", case="slow"))
    model.add("WAIT", "cool_down", inputs={"duration": "1s"}, place=Place(fork="checks", branch=0))
    model.add("SET_VARIABLE", "remember", inputs={"seen": True}, place=Place(fork="checks", branch=1))
    model.add("DO_WHILE", "again", place=Place(after="route"))
    model.add("tick", "t", inputs={"i": 1}, place=Place(loop="again"))
    for kind, inputs in [
        ("JSON_JQ_TRANSFORM", {"queryExpression": ".a", "a": 1}),
        ("LAMBDA", {"scriptExpression": "return 1;"}),
        ("HTTP", {"http_request": {"uri": "http://127.0.0.1:9/"}}),
        ("EVENT", {}),
        ("TERMINATE", {"terminationStatus": "COMPLETED"}),
    ]:
        model.add(kind, inputs=inputs)
    model.add("SUB_WORKFLOW", "child", setting="child_flow", inputs={"x": 1}, place=Place(after="again"))
    model.set_outputs({"shipped": "${ship_a.output.shipped}"})
    code = model.to_python()
    assert code.startswith("import flowkit\n\n") and "_builder" not in code  # the public API only
    assert not [line for line in code.splitlines() if "import" in line and line != "import flowkit"]
    assert "wf >> [[ship_a], [note]]" in code  # the SDK's fork form where its fork_N naming fits
    assert "flowkit.ForkTask('checks'" in code
    assert "flowkit.JoinTask('join_checks', join_on=['cool_down', 'remember'])" in code
    assert exported(model).to_json() == model.to_json()
    text = json.dumps(model.to_json())
    assert flowkit.WorkflowDef.from_json(text).to_json() == model.to_json()
    loop = model.definition().task("again")
    assert loop.loop_condition == "if ( $.again['iteration'] < 3 ) { true; } else { false; }"
    assert model.definition().output_parameters == {"shipped": "${ship_a.output.shipped}"}


def test_references_offered_depend_on_where_the_task_goes():
    model = order_model()
    at_end = model.references()
    assert at_end[:2] == ["${workflow.input.order}", "${workflow.input.kind}"]
    assert {"${prepare_ref.output}", "${join_fork_1.output}", "${route.output.evaluationResult}"} <= set(at_end)
    in_branch = model.references(Place(fork="fork_1", branch=1))
    assert "${prepare_ref.output}" in in_branch
    assert "${ship_a.output}" not in in_branch and "${join_fork_1.output}" not in in_branch  # not run yet
    in_new_case = model.references(Place(switch="route", case="other"))
    assert "${route.output.evaluationResult}" in in_new_case and "${express.output}" not in in_new_case
    after_fork = model.references(Place(after="fork_1"))
    assert {"${ship_a.output}", "${note.output}", "${join_fork_1.output}"} <= set(after_fork)
    model.add("SET_VARIABLE", "keep", inputs={"total": 3})
    assert "${workflow.variables.total}" in model.references()


@dataclass
class Shipment:
    tracking: str
    carrier: str


@flowkit.worker_task(task_definition_name="send")
def send(order: str, express: bool = False) -> Shipment:
    return Shipment("T1", "post")


def test_worker_inputs_and_declared_output_keys_are_offered():
    model = BuilderModel("w", workers=[send])
    assert model.template("send") == {"express": False}  # the required "order" is unset, never "" or null
    model.add("send", inputs={"order": "${workflow.input.id}"})
    assert model.references() == [
        "${workflow.input.id}",
        "${send_ref.output}",
        "${send_ref.output.tracking}",
        "${send_ref.output.carrier}",
    ]


def test_problems_are_listed_not_raised():
    model = BuilderModel("w", workers=[prepare])
    assert [i.problem for i in model.issues()] == ["has no tasks."]
    model.add("SIMPLE", "mystery", name="not_registered")
    model.add("prepare", inputs={"order": "${nowhere.output.x}"})
    problems = " | ".join(f"{i.where}: {i.problem}" for i in model.issues())
    assert "no worker is registered for task definition 'not_registered'" in problems
    assert "nowhere" in problems
    with pytest.raises(flowkit.InputError, match="already used"):
        model.add("prepare", "mystery")
    with pytest.raises(flowkit.InputError, match="no task 'ghost'"):
        model.add("NOOP", place=Place(after="ghost"))
    with pytest.raises(flowkit.InputError, match="not a FORK_JOIN"):
        model.add("NOOP", place=Place(fork="mystery"))
    with pytest.raises(flowkit.InputError, match="unknown task type"):
        model.add("KAFKA_PUBLISH")
    assert len(model.steps) == 2  # refused steps leave no trace


def test_json_fields_that_do_not_parse_say_where():
    assert parse_json_object('{"a": 1}').value == {"a": 1}
    assert parse_json_object("  ").value == {}
    bad = parse_json_object('{\n  "a": 1,\n  "b": }')
    assert not bad.ok and bad.line == 3 and bad.column == 8 and bad.error.startswith("line 3, column 8")
    assert parse_json_object("[1]").error == "must be a JSON object ({...}), not list"


def test_builder_widget_step_by_step():
    builder = Builder("orders", workers=[prepare, ship])
    assert builder.task_type.options[:2] == ("prepare", "ship") and "FORK_JOIN" in builder.task_type.options
    assert list(builder.fields.fields) == ["order"]  # the worker's parameters, a field each, to fill in
    assert builder.fields.fields["order"].description == "order *" and builder.inputs.value == ""
    assert "problem" not in builder.issues.value and "Start with a task" in builder.issues.value  # neutral
    builder.workflow_inputs.value = "order"
    assert "${workflow.input.order}" in builder.reference.options
    builder.reference.value = "${workflow.input.order}"
    assert builder.target.value == ("field", "order")
    builder.insert_button.click()
    assert builder.fields.fields["order"].value == "${workflow.input.order}" and builder.inputs.value == ""
    builder.add_button.click()
    assert builder.message.value.startswith("added prepare_ref"), builder.message.value
    assert "no problems" in builder.issues.value
    first = builder.diagram.value
    assert "prepare_ref" in first

    builder.task_type.value = "FORK_JOIN"
    assert builder.setting.layout.display == "" and builder.setting.description == "branches"
    builder.add_button.click()
    assert builder.place.value == Place(after="fork_1")
    assert "fork_1" in builder.diagram.value and builder.diagram.value != first
    builder.task_type.value = "ship"
    builder.place.value = Place(fork="fork_1", branch=1)
    assert "${prepare_ref.output.order}" not in builder.reference.options  # prepare declares no output keys
    builder.inputs.value = '{"note": "x",'  # a typo in the JSON of the other inputs
    assert builder.inputs.layout.border and "line 1, column" in builder.inputs_error.value
    builder.add_button.click()
    assert "fix the marked field" in builder.message.value and "ship_ref" not in builder.model.refs()
    builder.inputs.value = ""
    assert not builder.inputs.layout.border and builder.inputs_error.value == ""
    builder.fields.fields["order"].value = "${prepare_ref.output.order}"
    builder.add_button.click()
    assert "ship_ref" in builder.model.refs()
    assert "branch 2 of fork_1" in builder.message.value

    assert builder.place.value == Place(after="fork_1")  # not into the branch again: the level stays the top
    builder.place.value = Place()
    builder.task_type.value = "SWITCH"
    builder.ref.value = "route"
    builder.setting.value = "${workflow.input.order}"
    builder.add_button.click()
    new_case = ("new-case", "route")
    builder.task_type.value = "NOOP"
    builder.place.value = new_case
    assert builder.case.layout.display == ""
    builder.add_button.click()
    assert "give the new case a value" in builder.message.value
    builder.case.value = "A-1"
    builder.add_button.click()
    assert list(builder.model.definition().task("route").decision_cases) == ["A-1"]

    builder.ref.value = "prepare_ref"
    builder.task_type.value = "NOOP"
    builder.add_button.click()
    assert "already used" in builder.message.value and builder.message.style.text_color == "#d62728"

    builder.undo_button.click()
    assert builder.message.value.startswith("undid: add noop")
    assert "field 'decisionCases'</b>: is empty" in builder.issues.value.replace("&#x27;", "'")  # shown, not raised
    builder.model.add("NOOP", "noop", place=Place(switch="route", case="A-1"))
    builder.redraw()
    assert "no problems" in builder.issues.value
    assert builder.export.layout.display == "none"
    python = builder.show_export("python")
    assert builder.export.layout.display == "" and builder.export.value == python
    assert exported(builder.model).to_json() == json.loads(builder.show_export("json"))
    assert "wf >> [[], [ship_ref]]" in python
    run = flowkit.run(builder.model.definition(), {"order": "A-1"}, workers=[prepare, ship], store="memory")
    assert run.status == "COMPLETED" and run.task("ship_ref").output["shipped"] == "A-1"


# ---------------------------------------------------------------------------------------------- new types, edit, outputs
ALL_INPUTS = ["order", "kind", "task", "tasks", "taskInputs", "ticks", "n"]


def every_type_model() -> BuilderModel:
    """A workflow using every type added to the builder: DYNAMIC, DECISION (both forms), EXCLUSIVE_JOIN,
    FORK_JOIN_DYNAMIC (both forms), SWITCH with javascript and graaljs, START_WORKFLOW."""
    model = BuilderModel("everything", workers=[prepare, ship, tick])
    model.set_inputs(ALL_INPUTS)
    model.add("DYNAMIC", "dyn", inputs={"taskToExecute": "${workflow.input.task}", "order": "${workflow.input.order}"})
    model.add("DECISION", "route", setting="kind", inputs={"kind": "${workflow.input.kind}"})
    model.add("ship", "express", inputs={"order": "${dyn.output.order}"}, place=Place(switch="route", case="fast"))
    model.add("NOOP", "slow_note", place=Place(switch="route", case="slow"))
    model.add("ship", "fallback", inputs={"order": "default"}, place=Place(switch="route"))
    model.add("EXCLUSIVE_JOIN", "picked")  # joins the DECISION's cases by default
    model.add(
        "FORK_JOIN_DYNAMIC",
        "fan",
        inputs={"dynamicTasks": "${workflow.input.tasks}", "dynamicTasksInput": "${workflow.input.taskInputs}"},
    )
    model.add(
        "FORK_JOIN_DYNAMIC",
        "ticks",
        mode="forkTaskInputs",
        inputs={"forkTaskName": "tick", "forkTaskInputs": "${workflow.input.ticks}"},
    )
    model.add(
        "SWITCH", "js_route", mode="javascript", setting="$.n > 1 ? 'many' : 'one'", inputs={"n": "${workflow.input.n}"}
    )
    model.add("NOOP", "many", place=Place(switch="js_route", case="many"))
    model.add("SWITCH", "g_route", mode="graaljs", setting="$.n", inputs={"n": "${workflow.input.n}"})
    model.add("NOOP", "two", place=Place(switch="g_route", case="2"))
    model.add(
        "DECISION",
        "sized",
        mode="caseExpression",
        setting="$.n > 1 ? 'big' : 'small'",
        inputs={"n": "${workflow.input.n}"},
    )
    model.add("NOOP", "big", place=Place(switch="sized", case="big"))
    model.add(
        "START_WORKFLOW",
        "kickoff",
        inputs={"startWorkflow": {"name": "child_flow", "version": 1, "input": {"i": "${workflow.input.n}"}}},
    )
    model.set_outputs(
        {
            "picked": "${picked.output.shipped}",
            "fanned": "${fan_join.output}",
            "ticked": "${ticks_join.output}",
            "started": "${kickoff.output.workflowId}",
        }
    )
    return model


def run_input(kind: str) -> dict:
    return {
        "order": "A-7",
        "kind": kind,
        "task": "prepare",
        "n": 2,
        "tasks": [{"name": "ship", "taskReferenceName": "ship_b"}],
        "taskInputs": {"ship_b": {"order": "B"}},
        "ticks": [{"i": 1}, {"i": 2}],
    }


def test_every_new_type_exports_to_json_and_python_that_validate():
    model = every_type_model()
    assert model.issues() == []
    wire = model.to_json()
    tasks = {t["taskReferenceName"]: t for t in wire["tasks"]}
    assert [t["taskReferenceName"] for t in wire["tasks"]] == [
        "dyn",
        "route",
        "picked",
        "fan",
        "fan_join",
        "ticks",
        "ticks_join",
        "js_route",
        "g_route",
        "sized",
        "kickoff",
    ]
    assert tasks["dyn"]["type"] == "DYNAMIC" and tasks["dyn"]["dynamicTaskNameParam"] == "taskToExecute"
    assert tasks["dyn"]["inputParameters"]["taskToExecute"] == "${workflow.input.task}"
    assert tasks["route"]["caseValueParam"] == "kind" and "caseExpression" not in tasks["route"]
    assert tasks["sized"]["caseExpression"] == "$.n > 1 ? 'big' : 'small'" and "caseValueParam" not in tasks["sized"]
    assert tasks["picked"]["joinOn"] == ["express", "slow_note"]
    assert tasks["picked"]["defaultExclusiveJoinTask"] == ["fallback"]
    assert tasks["fan"]["dynamicForkTasksParam"] == "dynamicTasks"
    assert tasks["fan"]["dynamicForkTasksInputParamName"] == "dynamicTasksInput"
    assert "dynamicForkTasksParam" not in tasks["ticks"] and tasks["ticks"]["inputParameters"]["forkTaskName"] == "tick"
    assert tasks["fan_join"]["type"] == tasks["ticks_join"]["type"] == "JOIN"  # added after each dynamic fork
    assert (tasks["js_route"]["evaluatorType"], tasks["js_route"]["expression"]) == (
        "javascript",
        "$.n > 1 ? 'many' : 'one'",
    )
    assert (tasks["g_route"]["evaluatorType"], tasks["g_route"]["expression"]) == ("graaljs", "$.n")
    assert "switchCaseValue" not in tasks["js_route"]["inputParameters"]
    assert tasks["kickoff"]["inputParameters"]["startWorkflow"] == {
        "name": "child_flow",
        "version": 1,
        "input": {"i": "${workflow.input.n}"},
    }
    code = model.to_python()
    for cls in (
        "DynamicTask(",
        "DecisionTask(",
        "ExclusiveJoinTask(",
        "DynamicForkTask(",
        "StartWorkflowTask(",
        "evaluator_type='javascript'",
        "tasks_param=None",
        "case_expression=",
    ):
        assert cls in code
    assert exported(model).to_json() == wire
    loaded = flowkit.WorkflowDef.from_json(json.dumps(wire))
    assert loaded.validate().to_json() == wire  # flowkit's validator: no DefinitionError


def test_every_new_type_runs():
    model = every_type_model()
    child = flowkit.WorkflowBuilder("child_flow") >> tick(task_ref_name="c", i="${workflow.input.i}")
    workers = [prepare, ship, tick]
    run = flowkit.run(model.to_json(), run_input("fast"), workers=workers, workflows=[child], store="memory")
    assert run.status == "COMPLETED", run.reason
    assert run.task("dyn").task_def_name == "prepare" and run.task("dyn").output["order"] == "A-7"
    assert run.output["picked"] == "A-7"  # the EXCLUSIVE_JOIN took the DECISION's "fast" case
    assert run.output["fanned"] == {"ship_b": {"shipped": "B", "approved_by": "nobody"}}
    # The forkTaskInputs form: one tick per item, named as Conductor names a second dynamic fork's tasks.
    assert run.output["ticked"] == {"_ticks_tick_0": {"i": 1}, "_ticks_tick_1": {"i": 2}}
    assert run.task("many").status == "COMPLETED" and run.task("two").status == "COMPLETED"
    assert run.task("big").status == "COMPLETED"
    assert run.task("kickoff").output["workflowId"] == run.output["started"] and run.output["started"]
    other = flowkit.run(model.to_json(), run_input("unknown"), workers=workers, workflows=[child], store="memory")
    assert other.status == "COMPLETED" and other.output["picked"] == "default"  # the default case's task


def test_edit_changes_a_task_in_place_and_is_undone_like_any_step():
    model = order_model()
    steps = len(model.steps)
    model.edit("prepare_ref", inputs={"order": "${workflow.input.kind}"})
    assert model.definition().task("prepare_ref").input_parameters == {"order": "${workflow.input.kind}"}
    assert [t.task_reference_name for t in model.definition().tasks][0] == "prepare_ref"  # same place
    model.edit(
        "route",
        setting="$.kind == 'fast' ? 'fast' : 'other'",
        mode="javascript",
        inputs={"kind": "${workflow.input.kind}"},
    )
    route = model.definition().task("route")
    assert (route.evaluator_type, route.expression) == ("javascript", "$.kind == 'fast' ? 'fast' : 'other'")
    assert list(route.decision_cases) == ["fast"] and route.default_case[0].task_reference_name == "approve"  # kept
    model.edit("fork_1", setting="3")
    model.add("NOOP", "third", place=Place(fork="fork_1", branch=2))
    assert [[t.task_reference_name for t in b] for b in model.definition().task("fork_1").fork_tasks] == [
        ["ship_a"],
        ["note"],
        ["third"],
    ]
    assert list(model.definition().task("join_fork_1").join_on) == ["ship_a", "note", "third"]
    with pytest.raises(flowkit.InputError, match=r"branch 3 \(third\) still has tasks"):
        model.edit("fork_1", setting="2")
    assert model.task("fork_1").setting == "3" and len(model.steps) == steps + 4
    assert model.undo().ref == "third" and model.undo().action == "edit"
    assert len(model.definition().task("fork_1").fork_tasks) == 2
    model.undo()
    assert model.definition().task("route").evaluator_type == "value-param"
    model.undo()
    assert model.definition().task("prepare_ref").input_parameters == {"order": "${workflow.input.order}"}
    assert len(model.steps) == steps
    assert model.to_json() == order_model().to_json()


def test_refused_steps_say_why_and_change_nothing():
    model = every_type_model()
    before, steps = model.to_json(), len(model.steps)
    refused = {
        "no task 'ghost' to edit": lambda: model.edit("ghost", inputs={}),
        "fan_join is the JOIN added for fan": lambda: model.edit("fan_join", inputs={}),
        "nothing to change in dyn": lambda: model.edit("dyn", inputs=model.task("dyn").inputs),
        "input needs 'taskToExecute'": lambda: model.edit("dyn", inputs={"order": 1}),
        "two input names": lambda: model.edit("fan", setting="only_one"),
        "input needs 'forkTaskInputs'": lambda: model.add("FORK_JOIN_DYNAMIC", mode="forkTaskInputs", inputs={}),
        "needs startWorkflow": lambda: model.add("START_WORKFLOW", inputs={"startWorkflow": {"name": ""}}),
        "names 'nowhere'": lambda: model.add("EXCLUSIVE_JOIN", setting="express | nowhere"),
        "needs the tasks it joins on": lambda: model.add("EXCLUSIVE_JOIN"),  # nothing to suggest at the end
        "is not one of value-param, javascript, graaljs": lambda: model.add("SWITCH", mode="python"),
        "a NOOP task has no 'javascript' form": lambda: model.add("NOOP", mode="javascript"),
        "inputs must be a JSON object": lambda: model.edit("dyn", inputs=["x"]),
        "outputs must be a JSON object": lambda: model.set_outputs("x"),
        "not a FORK_JOIN": lambda: model.add("NOOP", place=Place(fork="fan")),
    }
    for reason, action in refused.items():
        with pytest.raises(flowkit.InputError, match=reason):
            action()
    assert model.to_json() == before and len(model.steps) == steps
    # The same checks, asked without raising (the widget marks the field with them).
    assert "1 or more" in model.setting_problem("FORK_JOIN", "x")
    assert model.setting_problem("FORK_JOIN", "3") is None
    assert model.input_problem("DYNAMIC", {"x": 1}, setting="x") is None
    assert "'taskToExecute'" in model.input_problem("DYNAMIC", {})
    assert "already used" in model.ref_problem("fan_join") and "letters" in model.ref_problem("a b")
    assert "already used" in model.ref_problem("fan", "NOOP") and model.ref_problem("new", "NOOP") is None


def test_dynamic_task_names_need_workers_and_outputs_are_offered():
    model = BuilderModel("w", workers=[prepare])
    model.add("DYNAMIC", "dyn", setting="which", inputs={"which": "no_such_worker"})
    model.add("DYNAMIC", "dyn2", inputs={"taskToExecute": "${workflow.input.task}"})  # known at run time only
    assert [(i.task_ref_name, i.problem) for i in model.issues()] == [
        ("dyn", "no worker is registered for task definition 'no_such_worker'."),
    ]
    assert model.to_json()["tasks"][0]["dynamicTaskNameParam"] == "which"
    assert "DynamicTask('no_such_worker', 'dyn', dynamic_task_param='which')" in model.to_python()
    model.add("FORK_JOIN_DYNAMIC", "fan", inputs={"dynamicTasks": [], "dynamicTasksInput": {}})
    model.add("START_WORKFLOW", "go", inputs={"startWorkflow": {"name": "x"}})
    model.add("DECISION", "d", setting="c", inputs={"c": 1})
    at_end = model.references()
    assert {"${fan_join.output}", "${go.output.workflowId}", "${d.output.caseOutput}", "${dyn.output}"} <= set(at_end)
    assert "${fan.output}" not in at_end  # a dynamic fork's result is its JOIN's output
    assert model.references(of="go") == [
        "${workflow.input.task}",
        "${dyn.output}",
        "${dyn2.output}",
        "${fan_join.output}",
    ]
    assert model.default_setting("EXCLUSIVE_JOIN") == ""  # nothing to join after an empty DECISION
    model.add("NOOP", "a", place=Place(switch="d", case="1"))
    assert model.default_setting("EXCLUSIVE_JOIN") == "a"
    places = model.places()
    assert ("in case '1' of d", Place(switch="d", case="1")) in places
    assert ("in the default case of d", Place(switch="d")) in places
    assert model.switches() == ["d"]
    model.set_outputs({"id": "${go.output.workflowId}"})
    assert model.outputs == {"id": "${go.output.workflowId}"} and model.definition().output_parameters == model.outputs


def test_builder_widget_forms_edit_outputs_and_bad_input():
    builder = Builder("orders", workers=[prepare, ship])
    builder.workflow_inputs.value = "order, kind"
    builder.task_type.value = "DECISION"  # its form, setting and input follow the chosen form
    assert builder.mode.layout.display == "" and builder.mode.options == ("caseValueParam", "caseExpression")
    assert (builder.setting.description, builder.setting.value) == ("case value param", "case")
    assert json.loads(builder.inputs.value) == {"case": ""}
    builder.mode.value = "caseExpression"
    assert (builder.setting.description, builder.setting.value) == ("case expression", "$.case")
    builder.mode.value = "caseValueParam"
    builder.ref.value = "route"
    builder.reference.value = "${workflow.input.kind}"
    builder.insert_button.click()
    builder.add_button.click()
    assert builder.model.task("route").inputs == {"case": "${workflow.input.kind}"}, builder.message.value
    builder.task_type.value = "ship"
    builder.place.value = ("new-case", "route")
    builder.case.value = "fast"
    builder.ref.value = "express"
    builder.inputs.value = '{"order": "${workflow.input.order}"}'
    builder.add_button.click()
    builder.task_type.value = "NOOP"
    builder.place.value = Place(switch="route")
    builder.ref.value = "other"
    builder.add_button.click()
    assert builder.model.refs() == {"route", "express", "other"}

    builder.task_type.value = "EXCLUSIVE_JOIN"
    assert builder.mode.layout.display == "none"
    builder.place.value = Place(after="route")
    assert builder.setting.value == "express | other"  # the cases of the DECISION before it
    builder.setting.value = "express | ghost"
    assert builder.setting.layout.border and "'ghost'" in builder.setting_error.value.replace("&#x27;", "'")
    steps = len(builder.model.steps)
    builder.add_button.click()
    assert builder.message.value.startswith("setting:") and len(builder.model.steps) == steps
    builder.setting.value = "express | other"
    assert not builder.setting.layout.border and builder.setting_error.value == ""
    builder.ref.value = "route"  # taken: marked at the field
    assert builder.ref.layout.border and "already used" in builder.ref_error.value
    builder.ref.value = "picked"
    assert not builder.ref.layout.border
    builder.add_button.click()
    assert builder.model.definition().task("picked").join_on == ("express",)

    builder.task_type.value = "DYNAMIC"
    builder.inputs.value = '{"order": "${workflow.input.order}"}'  # parses, but names no task to run
    builder.add_button.click()
    assert builder.inputs.layout.border and "taskToExecute" in builder.inputs_error.value
    assert builder.message.value.startswith("input:") and len(builder.model.steps) == steps + 1
    builder.task_type.value = "FORK_JOIN"
    builder.setting.value = "two"
    assert builder.setting.layout.border and "1 or more" in builder.setting_error.value
    builder.task_type.value = "SWITCH"
    builder.mode.value = "javascript"
    assert (builder.setting.description, builder.setting.value) == ("script", "$.case")
    assert not builder.setting.layout.border

    # Edit a placed task: load it, change its form, setting and input, save; undo puts it back.
    builder.task_pick.value = "route"
    builder.edit_button.click()
    assert builder.editing == "route" and builder.task_type.value == "DECISION" and builder.task_type.disabled
    assert json.loads(builder.inputs.value) == {"case": "${workflow.input.kind}"} and builder.setting.value == "case"
    assert builder.save_button.layout.display == "" and builder.add_button.layout.display == "none"
    assert (
        "${workflow.input.kind}" in builder.reference.options and "${express.output}" not in builder.reference.options
    )
    builder.add_button.click()
    assert "Save or Cancel first" in builder.message.value
    builder.mode.value = "caseExpression"
    builder.setting.value = "$.case == 'fast' ? 'fast' : 'slow'"
    builder.inputs.value = '{"case": "${workflow.input.kind}", "extra": 1}'
    builder.save_button.click()
    assert builder.message.value == "edited route" and builder.editing is None and not builder.task_type.disabled
    route = builder.model.definition().task("route")
    assert (route.case_value_param, route.case_expression) == (None, "$.case == 'fast' ? 'fast' : 'slow'")
    assert route.input_parameters["extra"] == 1 and list(route.decision_cases) == ["fast"]
    builder.undo_button.click()
    assert builder.message.value == "undid: edit route"
    assert builder.model.definition().task("route").case_value_param == "case"

    # Not allowed: the reason is shown, nothing changes.
    builder.task_pick.value = "picked"
    builder.edit_button.click()
    builder.save_button.click()
    assert "nothing to change in picked" in builder.message.value and builder.editing == "picked"
    builder.undo_button.click()  # the EXCLUSIVE_JOIN being edited goes away
    steps = len(builder.model.steps)
    builder.save_button.click()
    assert "no task 'picked' to edit" in builder.message.value and len(builder.model.steps) == steps
    builder.cancel_button.click()
    assert builder.editing is None and builder.add_button.layout.display == ""
    builder.remove("ghost")
    assert "no task 'ghost' to remove" in builder.message.value and len(builder.model.steps) == steps
    builder.task_pick.value = "other"
    builder.remove_button.click()
    assert "other" not in builder.model.refs() and "other" not in builder.task_pick.options
    builder.undo_button.click()
    assert "other" in builder.task_pick.options

    # The workflow's outputs: a JSON object marked when it does not parse, references offered.
    assert builder.outputs.value == "" and "${express.output}" in builder.output_reference.options
    builder.outputs.value = '{"shipped": '
    assert builder.outputs.layout.border and "line 1, column" in builder.outputs_error.value
    builder.outputs_button.click()
    assert "fix the marked field" in builder.message.value and builder.model.outputs == {}
    builder.outputs.value = '{"shipped": ""}'
    assert not builder.outputs.layout.border
    builder.output_reference.value = "${express.output}"
    builder.output_insert_button.click()
    assert json.loads(builder.outputs.value) == {"shipped": "${express.output}"}
    builder.outputs_button.click()
    assert builder.model.definition().output_parameters == {"shipped": "${express.output}"}
    builder.undo_button.click()
    assert builder.model.outputs == {} and builder.outputs.value == ""
    builder.outputs.value = '{"shipped": "${express.output.shipped}"}'
    builder.outputs_button.click()
    assert exported(builder.model).to_json() == json.loads(builder.show_export("json"))
    run = flowkit.run(builder.model.definition(), {"order": "A-1", "kind": "fast"}, workers=[ship], store="memory")
    assert run.status == "COMPLETED" and run.output == {"shipped": "A-1"}
