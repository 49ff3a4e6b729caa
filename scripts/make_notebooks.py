"""Write the tutorial notebooks (notebooks/0*.ipynb) from the cells below. Run after editing."""

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parents[1] / "notebooks"

SETUP = """import flowkit, flowkit.contrib
from flowkit.contrib.tutorial import SAMPLES, record
from flowkit.notebook import monitor, preview
from IPython.display import display

workers = flowkit.contrib.image_workers()
task_defs = flowkit.contrib.image_task_defs(retry_delay_seconds=1)  # the tutorial's defs, shorter backoff for a notebook
photo = str(SAMPLES / "landscape.jpg")
runs, images = [], []"""

FINISH = """display(preview(*images, width=240))
report = record({name!r}, runs, images)
assert all(r["status"] == "COMPLETED" for r in report["runs"]), report
print(f"{{len(report['runs'])}} run(s), {{report['tasks']}} tasks, {{len(report['s3_objects'])}} S3 object(s) in the bucket")"""

NOTEBOOKS = {
    "01_resize_and_upload": [
        "# 1. One image: resize it, upload it\n\nThe first workflow of the Orkes image-processing series: "
        "`image_convert_resize` (Pillow) then `upload_toS3` (boto3). With no AWS account configured, flowkit "
        "starts a local S3 server on 127.0.0.1 and says so.",
        SETUP,
        "## Build it step by step\nEach step is a Conductor task; the diagram redraws as the workflow grows.",
        """wf = flowkit.WorkflowBuilder("image_convert_resize", description="Resize and upload one image")
resize = flowkit.contrib.image_convert_resize(
    task_ref_name="image_convert_resize_ref",
    fileLocation=wf.input("fileLocation"),
    outputFormat=wf.input("recipeParameters.outputFormat"),
    outputWidth=wf.input("recipeParameters.outputSize.width"),
    outputHeight=wf.input("recipeParameters.outputSize.height"),
)
wf >> resize
wf""",
        """upload = flowkit.contrib.upload_toS3(task_ref_name="upload_toS3_ref", fileLocation=resize.output("fileLocation"))
wf >> upload
wf.output_parameter("fileLocation", upload.output("fileLocation"))
wf""",
        "## Run it and watch",
        """run = flowkit.start(wf, {"fileLocation": photo,
                         "recipeParameters": {"outputFormat": "png", "outputSize": {"width": 320, "height": 200}}},
                    workers=workers, task_defs=task_defs)
display(monitor(run))
run.wait(60)
runs.append(run)
print(run.status, run.output)""",
        """run.tasks_df()[["ref", "status", "attempt", "duration", "worker"]]""",
        """images.append(run.task("image_convert_resize_ref").output["fileLocation"])
print(wf.to_workflow_def().to_json_text()[:400], "...")  # the same JSON a Conductor server takes""",
        FINISH.format(name="01_resize_and_upload"),
    ],
    "02_fork_two_formats": [
        "# 2. Two formats in parallel with FORK\n\n`wf >> [[...], [...]]` makes a FORK_JOIN with one branch per "
        "list and the JOIN after it, as in Conductor's Python SDK.",
        SETUP,
        """wf = flowkit.WorkflowBuilder("image_convert_resize_multipleformat")
def branch(fmt):
    resize = flowkit.contrib.image_convert_resize(task_ref_name=f"image_convert_resize_{fmt}_ref",
                                                  fileLocation=wf.input("fileLocation"), outputFormat=fmt,
                                                  outputWidth=wf.input("width"), outputHeight=wf.input("height"))
    upload = flowkit.contrib.upload_toS3(task_ref_name=f"upload_toS3_{fmt}_ref", fileLocation=resize.output("fileLocation"))
    return [resize, upload]
wf >> [branch("jpg"), branch("webp")]
wf.output_parameter("fileLocationJpg", "${upload_toS3_jpg_ref.output.fileLocation}")
wf.output_parameter("fileLocationWebp", "${upload_toS3_webp_ref.output.fileLocation}")
wf""",
        """run = flowkit.start(wf, {"fileLocation": photo, "width": 300, "height": 200}, workers=workers, task_defs=task_defs)
display(monitor(run))
run.wait(60)
runs.append(run)
print(run.status, run.output)""",
        """run.tasks_df()[["ref", "type", "status", "started", "duration"]]""",
        """images += [run.task(f"image_convert_resize_{f}_ref").output["fileLocation"] for f in ("jpg", "webp")]""",
        FINISH.format(name="02_fork_two_formats"),
    ],
    "03_dynamic_fork": [
        "# 3. Any number of formats and sizes: a dynamic fork\n\n`image_multiple_convert_resize` turns the "
        "lists given at run time into the fork's tasks (`dynamicTasks`, `dynamicTasksInput`); the JOIN "
        "collects every branch's output.",
        SETUP,
        """wf = flowkit.WorkflowBuilder("image_multiple_convert_resize")
plan = flowkit.contrib.image_multiple_convert_resize(
    task_ref_name="image_multiple_convert_resize_ref", fileLocation=wf.input("fileLocation"),
    outputFormats=wf.input("outputFormats"), outputSizes=wf.input("outputSizes"),
    maintainAspectRatio=wf.input("maintainAspectRatio"))
fork = flowkit.definitions._builder.DynamicForkTask("image_multiple_convert_resize_fork_ref")
fork.input_parameter("dynamicTasks", plan.output("dynamicTasks"))
fork.input_parameter("dynamicTasksInput", plan.output("dynamicTasksInput"))
wf >> plan >> fork
wf.output_parameter("fileLocations", "${image_multiple_convert_resize_fork_ref_join.output}")
wf""",
        """request = {"fileLocation": photo, "outputFormats": ["png", "jpg", "webp"],
           "outputSizes": [{"width": 300, "height": 200}, {"width": 160, "height": 120}], "maintainAspectRatio": True}
run = flowkit.start(wf, request, workers=workers, task_defs=task_defs)
display(monitor(run))
run.wait(120)
runs.append(run)
print(run.status, len(run.output["fileLocations"]), "images")""",
        """run""",
        """df = run.tasks_df()
df[df.type == "image_convert_resize"][["ref", "status", "duration"]]""",
        """images += [out["fileLocation"] for out in run.output["fileLocations"].values()]""",
        FINISH.format(name="03_dynamic_fork"),
    ],
    "04_sub_workflow": [
        "# 4. Resize-and-upload as a reusable SUB_WORKFLOW\n\nThe pair from notebook 1 becomes a child workflow; "
        "a parent forks two children, each its own execution, linked both ways.",
        SETUP,
        """child = flowkit.WorkflowBuilder("image_convert_resize")
resize = flowkit.contrib.image_convert_resize(task_ref_name="image_convert_resize_ref",
    fileLocation=child.input("fileLocation"), outputFormat=child.input("recipeParameters.outputFormat"),
    outputWidth=child.input("recipeParameters.outputSize.width"), outputHeight=child.input("recipeParameters.outputSize.height"))
upload = flowkit.contrib.upload_toS3(task_ref_name="upload_toS3_ref", fileLocation=resize.output("fileLocation"))
child >> resize >> upload
child.output_parameter("fileLocation", upload.output("fileLocation"))
child.output_parameter("localFile", resize.output("fileLocation"))
SubWorkflowTask = flowkit.definitions._builder.SubWorkflowTask
def as_child(fmt):
    task = SubWorkflowTask(f"subworkflow_{fmt}_ref", workflow_name="image_convert_resize", version=1)
    task.input_parameter("fileLocation", "${workflow.input.fileLocation}")
    task.input_parameter("recipeParameters", {"outputFormat": fmt, "outputSize": {"width": 280, "height": 180}})
    return [task]
parent = flowkit.WorkflowBuilder("image_convert_resize_multipleformat_subworkflow")
parent >> [as_child("jpg"), as_child("png")]
parent.output_parameter("fileLocationJpg", "${subworkflow_jpg_ref.output.fileLocation}")
parent.output_parameter("fileLocationPng", "${subworkflow_png_ref.output.fileLocation}")
parent""",
        """run = flowkit.start(parent, {"fileLocation": photo}, workers=workers, task_defs=task_defs,
                    workflows=[child.to_workflow_def()])
display(monitor(run))
run.wait(120)
runs.append(run)
print(run.status, run.output)""",
        """kid = run.sub_workflow("subworkflow_jpg_ref")
print("child", kid.workflow_id, "-> parent", kid.parent.workflow_id)
run.tasks_df(include_children=True)[["workflow_id", "depth", "ref", "status"]]""",
        """images += [run.sub_workflow(f"subworkflow_{f}_ref").output["localFile"] for f in ("jpg", "png")]""",
        FINISH.format(name="04_sub_workflow"),
    ],
    "05_designing_for_failure": [
        "# 5. Designing for failure\n\nRetries (each logic), timeouts, rate limits and optional tasks, with a "
        "flaky worker; then `failures_df()` and the timeline show what happened. Virtual time lets the "
        "backoffs pass at once while the recorded times stay exact.",
        SETUP,
        """from flowkit.testing import VirtualClock
calls = {"n": 0}
@flowkit.worker_task(task_definition_name="flaky_thumbnail")
def flaky_thumbnail(fileLocation: str) -> dict:
    calls["n"] += 1
    if calls["n"] <= 2:
        raise ConnectionError(f"thumbnail service busy (call {calls['n']})")
    return {"thumbnail": fileLocation}

@flowkit.worker_task(task_definition_name="watermark")
def watermark(fileLocation: str) -> dict:
    raise flowkit.NonRetryableError("no watermark configured for this bucket")

policies = [
    flowkit.TaskDef(name="flaky_thumbnail", retry_count=3, retry_logic="EXPONENTIAL_BACKOFF", retry_delay_seconds=5),
    flowkit.TaskDef(name="watermark", retry_count=0),
    flowkit.TaskDef(name="image_convert_resize", retry_count=2, retry_logic="LINEAR_BACKOFF", retry_delay_seconds=2,
                    backoff_scale_factor=2, timeout_seconds=30, response_timeout_seconds=30,
                    rate_limit_per_frequency=2, rate_limit_frequency_in_seconds=1),
    *task_defs[1:],
]
wf = flowkit.WorkflowBuilder("designing_for_failure")
resize = flowkit.contrib.image_convert_resize(task_ref_name="resize", fileLocation=wf.input("fileLocation"),
                                              outputFormat="jpg", outputWidth=200, outputHeight=150)
thumb = flaky_thumbnail(task_ref_name="thumbnail", fileLocation=resize.output("fileLocation"))
mark = watermark(task_ref_name="watermark", fileLocation=resize.output("fileLocation"))
mark.optional = True  # a failure here ends COMPLETED_WITH_ERRORS and the workflow goes on
upload = flowkit.contrib.upload_toS3(task_ref_name="upload", fileLocation=resize.output("fileLocation"))
wf >> resize >> thumb >> mark >> upload
wf""",
        """run = flowkit.run(wf, {"fileLocation": photo}, workers=[*workers, flaky_thumbnail, watermark],
                  task_defs=policies, clock=VirtualClock())
runs.append(run)
print(run.status, "| failed refs:", run.failed_reference_task_names)""",
        """run.failures_df()[["ref", "status", "attempt", "reason", "exception", "retried", "outcome"]]""",
        """df = run.tasks_df()
df[df.ref == "thumbnail"][["attempt", "status", "scheduled", "started", "queue_wait"]]  # 5 s, then 10 s: EXPONENTIAL_BACKOFF""",
        """%matplotlib inline
run.timeline()  # one bar per attempt, coloured by status""",
        """bad = flowkit.run(wf, {"fileLocation": str(SAMPLES / "does-not-exist.png")}, workers=[*workers, flaky_thumbnail, watermark],
                  task_defs=policies, clock=VirtualClock())
print(bad.status, "|", bad.reason)
bad.failures_df()[["ref", "status", "attempt", "reason"]]""",
        """images.append(run.task("resize").output["fileLocation"])""",
        FINISH.format(name="05_designing_for_failure"),
    ],
    "06_conductor_interop": [
        "# 6. Conductor interop\n\nThe Orkes tutorial's own JSON and Conductor's `kitchensink.json` load and "
        "run unchanged, and flowkit writes back the same JSON a Conductor server takes.",
        SETUP,
        """from flowkit.conformance import fixture_folder
# Conductor's own JSON files, shipped inside flowkit (Apache-2.0; SOURCES.md beside them says where each
# comes from). A missing file stops the notebook here instead of skipping the runs below.
conductor = fixture_folder("image_convert_resize.json", "kitchensink.json", "sub_flow_1.json")
print("Conductor's files:", conductor)""",
        """orkes = flowkit.WorkflowDef.from_json(conductor / "image_convert_resize.json")
orkes""",
        """run = flowkit.start(orkes, {"fileLocation": photo,
                            "recipeParameters": {"outputFormat": "webp", "outputSize": {"width": 240, "height": 160}}},
                    workers=workers, task_defs=task_defs)
display(monitor(run))
run.wait(60)
runs.append(run)
images.append(run.task("image_convert_resize_ref").output["fileLocation"])
print(run.status, run.output)""",
        """kitchen = flowkit.WorkflowDef.from_json(conductor / "kitchensink.json")
child = flowkit.WorkflowDef.from_json(conductor / "sub_flow_1.json")
print(kitchen.name, "->", len(list(kitchen.all_tasks())), "tasks; types:", sorted({t.type for t in kitchen.all_tasks()}))
print(child.name, "->", [t.task_reference_name for t in child.all_tasks()])
assert flowkit.WorkflowDef.from_json(kitchen.to_json()).to_json() == kitchen.to_json()""",
        """print(flowkit.WorkflowDef.from_json(orkes.to_json()).to_json_text()[:500])
assert [str(r.status) for r in runs] == ["COMPLETED"], runs  # the Orkes tutorial's own definition ran""",
        FINISH.format(name="06_conductor_interop"),
    ],
}

sys.path.insert(0, str(Path(__file__).resolve().parent))
from notebook_07 import CELLS as NOTEBOOK_07  # noqa: E402 - the workers-as-services notebook has its own file

NOTEBOOKS["07_workers_as_services"] = NOTEBOOK_07


def main(names: list[str] | None = None) -> None:
    """Write the notebooks of ``NOTEBOOKS`` (all, or those in ``names``) to ``notebooks/``."""
    for name, cells in NOTEBOOKS.items():
        if names and name not in names:
            continue
        nb = new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        for cell in cells:
            nb.cells.append(new_markdown_cell(cell) if cell.startswith("#") else new_code_cell(cell))
        nbformat.write(nb, HERE / f"{name}.ipynb")
        print("wrote", HERE / f"{name}.ipynb")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
