"""The builder a user's workflows run from (issue 16, item 3), point by point, on the model and the
widget driven in-process: inputs from the worker's signature (required ones named until set, never
null), Insert into the field being edited, output fields in the reference picker, placement at the
current level, export through the public API only, Run with the live monitor, a neutral empty
builder. Then the review's own workflow (resize, then a fork of an upload and a thumbnail) built
by clicking, exported, and run to COMPLETED with the tutorial's image workers and the local S3.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import TypedDict

import pytest
from nb_helpers import prepare, ship, wait_until

import flowkit
from flowkit.contrib import image_workers, s3
from flowkit.notebook import Builder, BuilderModel, Monitor, Place

LANDSCAPE = Path(__file__).resolve().parents[2] / "notebooks" / "images" / "landscape.jpg"


@pytest.fixture
def local_s3(monkeypatch, tmp_path):
    """The tutorial's local S3 (no AWS configuration from the machine), stopped afterwards."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "FLOWKIT_S3_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    s3.reset()
    yield
    s3.reset()


def exported_python(code: str) -> flowkit.WorkflowDef:
    namespace: dict = {}
    exec(compile(code, "<exported>", "exec"), namespace)
    return namespace["definition"]


# ---------------------------------------------------------------------------------------------- 1. signature
class Resized(TypedDict):
    path: str
    width: int


@flowkit.worker_task(task_definition_name="resize")
def resize(path: str, width: int, keep_ratio: bool = True, label: str | None = None) -> Resized:
    return {"path": path, "width": width}


def test_worker_inputs_come_from_the_signature_and_required_ones_are_named_until_set():
    model = BuilderModel("w", workers=[resize])
    fields = {f.name: f for f in model.worker_fields("resize")}
    assert [(n, f.required) for n, f in fields.items()] == [
        ("path", True),
        ("width", True),
        ("keep_ratio", False),
        ("label", False),
    ]
    assert fields["path"].hint() == "required · str" and fields["keep_ratio"].hint() == "optional · default true · bool"
    assert model.template("resize") == {"keep_ratio": True}  # no null, no "" for the required ones
    model.add("resize", "small", inputs={"path": "${workflow.input.path}"})
    problems = [(i.task_ref_name, i.where, i.problem) for i in model.issues()]
    assert problems == [
        (
            "small",
            "task 'small' field 'inputParameters.width'",
            "required input 'width' of worker 'resize' is not set: the task would fail at once.",
        )
    ]
    model.edit("small", inputs={"path": "${workflow.input.path}", "width": None})
    assert "'width' of worker 'resize' is null" in model.issues()[0].problem
    model.edit("small", inputs={"path": "${workflow.input.path}", "width": 64})
    assert model.issues() == []
    assert "null" not in json.dumps(model.to_json()["tasks"][0]["inputParameters"])


def test_the_image_workers_mark_their_required_inputs():
    model = BuilderModel("w", workers=image_workers())
    required = {name: [f.name for f in model.worker_fields(name) if f.required] for name in model.workers}
    assert required == {
        "image_convert_resize": ["fileLocation", "outputFormat"],
        "upload_toS3": ["fileLocation"],
        "image_multiple_convert_resize": ["fileLocation", "outputFormats", "outputSizes"],
    }
    builder = Builder("w", workers=image_workers())
    assert builder.task_type.value == "image_convert_resize"
    shown = {name: (f.description, f.placeholder) for name, f in builder.fields.fields.items()}
    assert shown["fileLocation"] == ("fileLocation *", "required")
    assert shown["outputWidth"] == ("outputWidth", "optional")
    assert builder.inputs.value == "" and builder.inputs.description == "more input"
    builder.add_button.click()  # a draft may be incomplete; the problems say what is missing
    assert "still to set: fileLocation, outputFormat" in builder.message.value
    assert builder.issues.value.count("<li") == 2
    assert "task &#x27;image_convert_resize_ref&#x27; field &#x27;inputParameters.fileLocation&#x27;" in (
        builder.issues.value
    )


def test_a_draft_that_would_fail_validation_says_so_before_export():
    builder = Builder("w", workers=[prepare, ship])
    builder.fields.fields["order"].value = "${nowhere.output.order}"
    builder.add_button.click()
    assert "nowhere" in builder.issues.value and "problem(s)" in builder.issues.value
    builder.show_export("json")
    assert "exported with 1 problem(s)" in builder.message.value
    assert builder.message.style.text_color == "#d62728"


# ---------------------------------------------------------------------------------------------- 2. Insert
def test_insert_fills_the_field_being_edited_never_a_new_numbered_key():
    builder = Builder("w", workers=image_workers())
    builder.workflow_inputs.value = "fileLocation, fmt"
    assert builder.target.value == ("field", "fileLocation")  # the first empty required field
    builder.reference.value = "${workflow.input.fileLocation}"
    builder.insert_button.click()
    assert builder.fields.fields["fileLocation"].value == "${workflow.input.fileLocation}"
    builder.fields.fields["outputFormat"].value = "w"  # the user is typing in outputFormat now
    assert builder.target.value == ("field", "outputFormat")
    builder.reference.value = "${workflow.input.fmt}"
    builder.insert_button.click()
    assert builder.fields.fields["outputFormat"].value == "${workflow.input.fmt}"
    assert builder.fields.fields["fileLocation"].value == "${workflow.input.fileLocation}"
    assert builder.inputs.value == ""  # nothing like "fileLocation_2" anywhere
    builder.add_button.click()
    inputs = builder.model.task("image_convert_resize_ref").inputs
    assert inputs == {"fileLocation": "${workflow.input.fileLocation}", "outputFormat": "${workflow.input.fmt}"}
    # "a new key" named like an empty field fills that field
    builder.task_type.value = "upload_toS3"
    builder.target.value = ("new", "")
    builder.reference.value = "${image_convert_resize_ref.output.fileLocation}"
    builder.insert_button.click()
    assert builder.fields.fields["fileLocation"].value == "${image_convert_resize_ref.output.fileLocation}"
    assert builder.inputs.value == ""
    # a system task's JSON input: the empty value chosen is filled, no key added
    builder.task_type.value = "INLINE"
    assert builder.target.value == ("key", "value")
    builder.insert_button.click()
    inline = json.loads(builder.inputs.value)
    assert inline["value"] == "${image_convert_resize_ref.output.fileLocation}" and len(inline) == 3


def test_field_text_is_json_when_it_parses_and_text_otherwise():
    builder = Builder("w", workers=[resize])
    values = {"path": "a.png", "width": "300", "keep_ratio": "false", "label": '"300"'}
    for name, text in values.items():
        builder.fields.fields[name].value = text
    builder.add_button.click()
    assert builder.model.task("resize_ref").inputs == {
        "path": "a.png",
        "width": 300,
        "keep_ratio": False,
        "label": "300",
    }
    builder.start_editing("resize_ref")  # loaded back as typed
    assert {n: f.value for n, f in builder.fields.fields.items()} == values
    builder.fields.fields["width"].value = "64"
    builder.fields.fields["label"].value = ""  # emptied: left out, not null
    builder.save_button.click()
    assert builder.message.value == "edited resize_ref"
    assert builder.model.task("resize_ref").inputs == {"path": "a.png", "width": 64, "keep_ratio": False}


# ---------------------------------------------------------------------------------------------- 3. references
def test_references_offer_each_upstream_tasks_output_fields_and_the_workflow_inputs():
    model = BuilderModel("w", workers=[*image_workers(), resize])
    model.set_inputs(["fileLocation"])
    model.add("image_convert_resize", "resize_ref", inputs={"fileLocation": "${workflow.input.fileLocation}"})
    model.add("FORK_JOIN", setting="2")
    in_branch = model.references(Place(fork="fork_1", branch=0))
    assert in_branch == [
        "${workflow.input.fileLocation}",
        "${resize_ref.output}",
        "${resize_ref.output.fileLocation}",  # read from the worker's docstring
        "${resize_ref.output.outputWidth}",
        "${resize_ref.output.outputHeight}",
        "${resize_ref.output.outputFormat}",
    ]
    model.add("upload_toS3", "upload_ref", place=Place(fork="fork_1", branch=0))
    model.add("INLINE", "calc", inputs={"expression": "1"}, place=Place(fork="fork_1", branch=1))
    model.add("JSON_JQ_TRANSFORM", "jq", inputs={"queryExpression": "."}, place=Place(fork="fork_1", branch=1))
    model.add(
        "HTTP", "call", inputs={"http_request": {"uri": "http://127.0.0.1:9/"}}, place=Place(fork="fork_1", branch=1)
    )
    model.add("resize", "typed")  # a TypedDict return annotation
    after = set(model.references(Place(after="typed")))
    assert {
        "${upload_ref.output.fileLocation}",
        "${upload_ref.output.url}",
        "${calc.output.result}",
        "${jq.output.result}",
        "${call.output.response.body}",
        "${typed.output.path}",
        "${typed.output.width}",
    } <= after
    assert "${upload_ref.output.s3}" not in after  # "``s3://bucket/key``" in the docstring is not a key


# ---------------------------------------------------------------------------------------------- 4. placement
def test_placement_defaults_to_after_the_last_step_at_the_current_level():
    builder = Builder("w", workers=[prepare, ship])
    builder.fields.fields["order"].value = "x"
    builder.add_button.click()
    assert builder.place.value == Place(after="prepare_ref")
    builder.task_type.value = "FORK_JOIN"
    builder.add_button.click()
    assert builder.place.value == Place(after="fork_1")
    builder.task_type.value = "ship"
    builder.place.value = Place(fork="fork_1", branch=0)
    builder.fields.fields["order"].value = "a"
    builder.add_button.click()
    assert builder.place.value == Place(after="fork_1")  # not into the branch again
    builder.task_type.value = "NOOP"
    builder.add_button.click()
    assert [t.task_reference_name for t in builder.model.definition().tasks][-1] == "noop"
    assert builder.place.value == Place(after="noop")
    # choosing a place inside the branch makes the branch the current level
    builder.place.value = Place(after="ship_ref")
    builder.ref.value = "inside"
    builder.add_button.click()
    assert builder.place.value == Place(after="inside")
    fork = builder.model.definition().task("fork_1")
    assert [t.task_reference_name for t in fork.fork_tasks[0]] == ["ship_ref", "inside"]
    builder.undo_button.click()  # the place is gone: back to the last step at that level
    assert builder.place.value == Place(after="ship_ref")


# ---------------------------------------------------------------------------------------------- 5. public API
def test_export_python_uses_only_the_public_api():
    model = BuilderModel("w", workers=[prepare, ship])
    model.set_inputs(["order"])
    model.add("prepare", inputs={"order": "${workflow.input.order}"})
    model.add("FORK_JOIN", "split", setting="2")
    model.add("ship", inputs={"order": "${prepare_ref.output.order}"}, place=Place(fork="split", branch=0))
    model.add("SWITCH", "route", setting="${workflow.input.order}")
    model.add("HUMAN", "ask", place=Place(switch="route", case="A"))
    model.add("DO_WHILE", "loop")
    model.add("INLINE", "calc", inputs={"expression": "1"}, place=Place(loop="loop"))
    code = model.to_python()
    assert [line for line in code.splitlines() if "import" in line] == ["import flowkit"]
    assert not re.search(r"flowkit\.(\w+\.)*_\w", code), code  # no underscore module or name
    used = set(re.findall(r"flowkit\.(\w+)", code))
    assert used <= set(flowkit.__all__), used - set(flowkit.__all__)
    assert exported_python(code).to_json() == model.to_json()


# ---------------------------------------------------------------------------------------------- 6, 7. run, neutral
def test_the_empty_builder_starts_neutral():
    builder = Builder("w", workers=[prepare])
    assert "flowkit-hint" in builder.issues.value and "problem" not in builder.issues.value
    assert "#8b0000" not in builder.issues.value and builder.message.value == ""


def test_run_runs_the_draft_with_the_builders_workers_and_shows_the_monitor(tmp_path):
    builder = Builder("runs", workers=[prepare, ship], store=str(tmp_path / "runs.db"))
    builder.run_button.click()
    assert "cannot run" in builder.message.value and builder.execution is None  # no task yet
    builder.workflow_inputs.value = "order"
    builder.reference.value = "${workflow.input.order}"
    builder.insert_button.click()
    builder.add_button.click()
    builder.task_type.value = "ship"
    builder.reference.value = "${prepare_ref.output}"
    builder.fields.fields["order"].value = "${workflow.input.order}"
    builder.add_button.click()
    builder.run_input.value = '{"order": '
    builder.run_button.click()
    assert "run input is not valid: line 1" in builder.run_error.value and builder.execution is None
    builder.run_input.value = "{}"
    builder.run_button.click()
    assert builder.run_error.value == ""
    assert "lacks order" in builder.message.value and builder.execution is None
    builder.run_input.value = '{"order": "R-1"}'
    builder.run_button.click()
    execution = builder.execution
    assert execution is not None and builder.message.value.startswith("running runs")
    assert execution.wait(30).status == "COMPLETED"
    assert execution.task("ship_ref").output["shipped"] == "R-1"
    (monitor,) = builder.run_area.children
    assert isinstance(monitor, Monitor) and monitor.execution is execution
    wait_until(lambda: "COMPLETED" in monitor.status.value, what="the monitor to show COMPLETED")
    again = flowkit.open(str(tmp_path / "runs.db"), background=False)  # kept in the store given
    try:
        assert again.load(execution.workflow_id).status == "COMPLETED"
    finally:
        again.close()


# ---------------------------------------------------------------------------------------------- the review's workflow
def build_review_workflow(builder: Builder) -> None:
    """Resize, then a FORK of an upload and a thumbnail, filled with Insert: what the review clicked."""
    builder.workflow_inputs.value = "fileLocation"
    builder.task_type.value = "image_convert_resize"
    builder.ref.value = "resize_ref"
    builder.reference.value = "${workflow.input.fileLocation}"
    builder.insert_button.click()
    builder.fields.fields["outputFormat"].value = "webp"
    builder.fields.fields["outputWidth"].value = "300"
    builder.fields.fields["outputHeight"].value = "200"
    builder.add_button.click()
    builder.task_type.value = "FORK_JOIN"
    builder.add_button.click()
    for ref, kind, branch in [("upload_ref", "upload_toS3", 0), ("thumbnail_ref", "image_convert_resize", 1)]:
        builder.task_type.value = kind
        builder.ref.value = ref
        builder.place.value = Place(fork="fork_1", branch=branch)
        assert "${resize_ref.output.fileLocation}" in builder.reference.options
        builder.reference.value = "${resize_ref.output.fileLocation}"
        builder.insert_button.click()
        if kind == "image_convert_resize":
            builder.fields.fields["outputFormat"].value = "png"
            builder.fields.fields["outputWidth"].value = "64"
        builder.add_button.click()
        assert builder.message.value.startswith(f"added {ref}"), builder.message.value
        assert builder.place.value == Place(after="fork_1")
    builder.outputs.value = '{"url": "", "thumbnail": ""}'
    builder.output_reference.value = "${upload_ref.output.url}"
    builder.output_insert_button.click()
    builder.output_reference.value = "${thumbnail_ref.output.fileLocation}"
    builder.output_insert_button.click()
    builder.outputs_button.click()


def test_the_reviews_workflow_built_by_clicking_exports_and_runs_to_completed(local_s3, tmp_path):
    workers = image_workers(output_dir=tmp_path / "out")
    builder = Builder("review_images", workers=workers, store=str(tmp_path / "review.db"))
    build_review_workflow(builder)
    assert "no problems" in builder.issues.value, builder.issues.value
    exported = json.loads(builder.show_export("json"))
    fork = exported["tasks"][1]
    assert [[t["taskReferenceName"] for t in branch] for branch in fork["forkTasks"]] == [
        ["upload_ref"],
        ["thumbnail_ref"],
    ]
    assert fork["forkTasks"][0][0]["inputParameters"] == {"fileLocation": "${resize_ref.output.fileLocation}"}
    assert exported["tasks"][0]["inputParameters"] == {
        "fileLocation": "${workflow.input.fileLocation}",
        "outputFormat": "webp",
        "outputWidth": 300,
        "outputHeight": 200,
    }
    python = builder.show_export("python")
    assert exported_python(python).to_json() == exported
    for definition in (flowkit.WorkflowDef.from_json(exported), exported_python(python)):
        run = flowkit.run(definition, {"fileLocation": str(LANDSCAPE)}, workers=workers, store="memory")
        assert run.status == "COMPLETED", run.reason
        assert run.output["url"].startswith("http://127.0.0.1:")
        assert run.task("thumbnail_ref").output["outputWidth"] == 64
    builder.run_input.value = json.dumps({"fileLocation": str(LANDSCAPE)})
    builder.run_button.click()
    assert builder.execution.wait(60).status == "COMPLETED", builder.execution.reason
