"""Write the tutorial notebooks (notebooks/0*.ipynb) from the cells below. Run after editing; never edit the .ipynb.

Each notebook is one entry of ``NOTEBOOKS``: its file stem -> its cells, made with :func:`md` (prose)
and :func:`code`. A new notebook is one more entry (and its expectations in
tests/notebooks/test_tutorial_notebooks.py). ``python scripts/make_notebooks.py [stem ...]`` writes all
of them, or the ones named.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parents[1] / "notebooks"

Cell = tuple[str, str]


def md(text: str) -> Cell:
    """A Markdown cell (the text is dedented and stripped)."""
    return ("markdown", textwrap.dedent(text).strip())


def code(text: str) -> Cell:
    """A code cell (the text is dedented and stripped)."""
    return ("code", textwrap.dedent(text).strip())


SETUP_PROSE = md(
    """
    ## Set-up

    The workers are plain Python functions from `flowkit.contrib`: `image_convert_resize` resizes
    with Pillow, `upload_toS3` uploads with boto3. The task definitions are the tutorial's own
    (retries, timeouts, rate limits as Orkes published them), with one change for a notebook: 1 s
    between retries instead of 30 s. `ensure_endpoint()` decides where uploads go: your S3 if one
    is configured, else a local S3 server on 127.0.0.1, started now so the first upload is not
    charged for it.
    """
)

SETUP = code(
    """
    import flowkit, flowkit.contrib
    from flowkit.contrib.tutorial import SAMPLES
    from flowkit.notebook import preview

    workers = flowkit.contrib.image_workers()
    task_defs = flowkit.contrib.image_task_defs(retry_delay_seconds=1)
    s3 = flowkit.contrib.ensure_endpoint()
    photo = str(SAMPLES / "landscape.jpg")
    print(f"uploads go to {s3.where}, bucket {s3.bucket!r}")
    """
)

NOTEBOOKS: dict[str, list[Cell]] = {}

NOTEBOOKS["01_resize_and_upload"] = [
    md(
        """
        # 1. One image: resize it, then upload it

        This tutorial follows Orkes' image-processing series for Conductor. Its first post builds
        the smallest useful pipeline: take one photo, resize and convert it, and put the result in
        an S3 bucket. Two tasks, one after the other: `image_convert_resize` then `upload_toS3`.
        Each task is done by a *worker*, a small service that knows one job; the *workflow* only
        says which job comes when and which output feeds which input.

        Why bother with a workflow for two function calls? Because the workflow is data: the same
        JSON runs here, on a Conductor server, or in a Conductor cluster; every run is recorded with
        each task's input, output, timing and attempts; and retries, timeouts and rate limits are
        settings, not code. flowkit runs that JSON in this notebook, with no server: the runs are
        kept in a SQLite file (`~/.flowkit/flowkit.db`), so you can look at them again tomorrow.
        """
    ),
    SETUP_PROSE,
    SETUP,
    md(
        """
        ## Step 1: resize

        A `WorkflowBuilder` collects tasks in order. Calling a worker with `task_ref_name=...` and
        its inputs does not run it: it makes a *task* for the workflow. The task reference name is
        how the rest of the workflow names this step (a workflow may use the same worker twice).

        The inputs are Conductor expressions: `wf.input("fileLocation")` is the text
        `${workflow.input.fileLocation}`, filled in when a run starts. Nothing is computed now;
        the diagram below is the whole workflow so far.
        """
    ),
    code(
        """
        wf = flowkit.WorkflowBuilder(
            "image_convert_resize", description="Resize one image and upload it to S3"
        )
        resize = flowkit.contrib.image_convert_resize(
            task_ref_name="image_convert_resize_ref",
            fileLocation=wf.input("fileLocation"),
            outputFormat=wf.input("recipeParameters.outputFormat"),
            outputWidth=wf.input("recipeParameters.outputSize.width"),
            outputHeight=wf.input("recipeParameters.outputSize.height"),
        )
        wf >> resize
        wf
        """
    ),
    md(
        """
        ## Step 2: upload what step 1 wrote

        The upload task takes the resized file: `resize.output("fileLocation")` is
        `${image_convert_resize_ref.output.fileLocation}`, the resize task's output when it has
        one. That reference is also what orders the work: flowkit, like Conductor, runs the tasks
        of a sequence one after the other. The workflow's own output is the uploaded object's
        `s3://` address.
        """
    ),
    code(
        """
        upload = flowkit.contrib.upload_toS3(
            task_ref_name="upload_toS3_ref", fileLocation=resize.output("fileLocation")
        )
        wf >> upload
        wf.output_parameter("fileLocation", upload.output("fileLocation"))
        wf
        """
    ),
    md(
        """
        The builder is only a convenient way to write Conductor's workflow JSON. Here it is: the
        same text a Conductor server takes on `POST /api/metadata/workflow`. Notebook 6 goes the
        other way and runs Conductor's own JSON files.
        """
    ),
    code(
        """
        print(wf.to_workflow_def().to_json_text())
        """
    ),
    md(
        """
        ## Run it and watch

        `flowkit.start` starts a run and returns at once; the workers run on background threads.
        The monitor follows the run live: status, progress, a counter per task status, the diagram
        coloured as tasks finish, and Pause / Resume / Terminate / Retry buttons that are enabled
        only when the operation is allowed. When the run ends the monitor leaves its final diagram
        and summary in the notebook, so they are still there when you reopen it or export it to
        HTML. `run.wait()` blocks until the run ends.
        """
    ),
    code(
        """
        request = {
            "fileLocation": photo,
            "recipeParameters": {"outputFormat": "png", "outputSize": {"width": 320, "height": 200}},
        }
        run = flowkit.start(wf, request, workers=workers, task_defs=task_defs)
        display(run.monitor())
        run.wait(60)
        print(run.status, run.output)
        """
    ),
    md(
        """
        ## What ran, task by task

        `tasks_df()` is the run as a pandas DataFrame: one row per task attempt, with its status,
        attempt number, timings and the worker that ran it. The upload's duration is the upload
        itself: the S3 server was started in the set-up cell.
        """
    ),
    code(
        """
        run.tasks_df()[["ref", "status", "attempt", "duration", "worker"]]
        """
    ),
    md(
        """
        ## Inspect a task

        The inspector shows one task attempt at a time: its input as the worker received it, its
        output, the worker's logs and, for a failure, its reason and traceback. Images in an input
        or output are shown as thumbnails, so you can check the resize without leaving the
        notebook. Pick another task in its drop-down, or open the timeline or the table.
        """
    ),
    code(
        """
        run.inspect()
        """
    ),
    md(
        """
        ## The result

        On the left the photo we started from; in the middle the file the resize task wrote; on the
        right the object read back from the S3 bucket at the workflow's output address, which
        proves the upload happened.
        """
    ),
    code(
        """
        preview(
            photo,
            run.task("image_convert_resize_ref").output["fileLocation"],
            run.output["fileLocation"],
            width=240,
        )
        """
    ),
    md(
        """
        Next, [notebook 2](02_fork_two_formats.ipynb) makes two formats at once with a FORK, and
        builds that workflow with the point-and-click builder.
        """
    ),
]

NOTEBOOKS["02_fork_two_formats"] = [
    md(
        """
        # 2. Two formats in parallel: FORK and JOIN

        Browsers differ: most take WebP, which is smaller, and some still want JPEG. The second
        post of the series makes both from one photo. The two conversions do not depend on each
        other, so there is no reason to wait for one before starting the other: a `FORK_JOIN` task
        starts several branches at once, and the `JOIN` after it waits until every branch it
        names has finished. Each branch here is the pair from notebook 1: resize, then upload.

        The number of branches is written into the workflow; notebook 3 lifts that limit.
        """
    ),
    SETUP_PROSE,
    SETUP,
    md(
        """
        ## Build it with the builder

        This time we build the workflow with flowkit's builder, a widget that draws the workflow as
        you add tasks, offers the `${...}` references available at each place, flags mistakes at
        the field that has them, and exports Conductor JSON or Python. Each `builder.model.add(...)`
        call below does what one click on **Add** does (the builder's state is a plain Python
        `BuilderModel`); try it yourself: add a third branch for PNG and press **Export JSON**.
        """
    ),
    code(
        """
        from flowkit.notebook import Builder, Place

        builder = Builder("image_convert_resize_multipleformat", workers=workers)
        builder.model.set_inputs(["fileLocation", "width", "height"])
        builder.model.add("FORK_JOIN", "fork_ref", setting="2")  # two branches, and the JOIN after them
        for branch, fmt in enumerate(["jpg", "webp"]):
            builder.model.add(
                "image_convert_resize",
                f"image_convert_resize_{fmt}_ref",
                place=Place(fork="fork_ref", branch=branch),
                inputs={
                    "fileLocation": "${workflow.input.fileLocation}",
                    "outputFormat": fmt,
                    "outputWidth": "${workflow.input.width}",
                    "outputHeight": "${workflow.input.height}",
                },
            )
            builder.model.add(
                "upload_toS3",
                f"upload_toS3_{fmt}_ref",
                place=Place(fork="fork_ref", branch=branch),
                inputs={"fileLocation": f"${{image_convert_resize_{fmt}_ref.output.fileLocation}}"},
            )
        builder.model.set_outputs(
            {
                "fileLocationJpg": "${upload_toS3_jpg_ref.output.fileLocation}",
                "fileLocationWebp": "${upload_toS3_webp_ref.output.fileLocation}",
            }
        )
        builder.redraw()
        builder
        """
    ),
    md(
        """
        What the builder holds is an ordinary workflow definition. Drawn on its own, the FORK is a
        bar that opens two branches and the JOIN a bar that closes them; the JOIN's `joinOn` lists
        the last task of each branch. In Python without the builder, `wf >> [[resize_jpg, upload_jpg],
        [resize_webp, upload_webp]]` writes the same FORK_JOIN and JOIN, as Conductor's Python SDK does.
        """
    ),
    code(
        """
        definition = builder.model.definition()
        definition
        """
    ),
    md(
        """
        ## Run it

        Both branches are scheduled together, and the monitor shows two tasks running at once. A
        branch does not wait for the other; only the JOIN does.
        """
    ),
    code(
        """
        run = flowkit.start(
            definition,
            {"fileLocation": photo, "width": 300, "height": 200},
            workers=workers,
            task_defs=task_defs,
        )
        display(run.monitor())
        run.wait(60)
        print(run.status, run.output)
        """
    ),
    md(
        """
        ## Did the branches really overlap?

        The timeline draws one bar per task attempt on a shared clock. Both resize tasks are
        scheduled the moment the FORK runs; each may wait a little in the queue for a worker thread
        (the hatched part), then the two conversions run side by side, and each upload follows its
        own conversion without waiting for the other branch. The JOIN is drawn outlined: it is
        waiting, not working, until the last branch ends.
        """
    ),
    code(
        """
        %matplotlib inline
        run.timeline()
        """
    ),
    md(
        """
        ## The two files, read back from S3
        """
    ),
    code(
        """
        preview(run.output["fileLocationJpg"], run.output["fileLocationWebp"], width=240)
        """
    ),
    md(
        """
        Two formats, one size, hard-coded. [Notebook 3](03_dynamic_fork.ipynb) decides the number
        of branches when the run starts.
        """
    ),
]

NOTEBOOKS["03_dynamic_fork"] = [
    md(
        """
        # 3. Any number of formats and sizes: the dynamic fork

        New formats appear, new screens need new sizes, and a FORK with its branches written into
        the workflow has to be edited each time. The series' third post uses
        `FORK_JOIN_DYNAMIC` instead: the branches are decided when the run gets there. A worker,
        `image_multiple_convert_resize`, reads the formats and sizes asked for and answers with two
        things: `dynamicTasks`, the list of tasks to run in parallel, and `dynamicTasksInput`, the
        input of each. The dynamic fork starts them; its JOIN waits for all of them and outputs
        every branch's output, keyed by task reference.

        The post stopped at converting; here every converted image is also uploaded, with a second
        dynamic fork planned from the first one's results.
        """
    ),
    SETUP_PROSE,
    SETUP,
    md(
        """
        ## Plan the uploads

        The second fork needs its own plan: one `upload_toS3` task per image the first fork made.
        That plan is a few lines of Python, so it is a worker of our own: `@flowkit.worker_task`
        turns a function into a worker, its parameters become the task's inputs and its returned
        dict the task's output.
        """
    ),
    code(
        """
        @flowkit.worker_task(task_definition_name="plan_uploads")
        def plan_uploads(images: dict) -> dict:
            \"\"\"One upload_toS3 task per converted image (images: the JOIN's output, by task reference).\"\"\"
            tasks = [
                {"name": "upload_toS3", "taskReferenceName": f"upload_{ref}", "type": "SIMPLE"}
                for ref in images
            ]
            inputs = {f"upload_{ref}": {"fileLocation": out["fileLocation"]} for ref, out in images.items()}
            return {"dynamicTasks": tasks, "dynamicTasksInput": inputs}
        """
    ),
    md(
        """
        ## The workflow

        `flowkit.DynamicForkTask` writes the `FORK_JOIN_DYNAMIC` task and its JOIN. Its two inputs
        name the task list and the inputs, taken from the planning task's output. The diagram shows
        each dynamic fork as a bar followed by a "dynamic tasks" node: how many there will be is not
        known until the run.
        """
    ),
    code(
        """
        wf = flowkit.WorkflowBuilder("image_multiple_convert_resize_and_upload")
        plan = flowkit.contrib.image_multiple_convert_resize(
            task_ref_name="image_multiple_convert_resize_ref",
            fileLocation=wf.input("fileLocation"),
            outputFormats=wf.input("outputFormats"),
            outputSizes=wf.input("outputSizes"),
            maintainAspectRatio=wf.input("maintainAspectRatio"),
        )
        convert = flowkit.DynamicForkTask("image_multiple_convert_resize_fork_ref")
        convert.input_parameter("dynamicTasks", plan.output("dynamicTasks"))
        convert.input_parameter("dynamicTasksInput", plan.output("dynamicTasksInput"))
        uploads_plan = plan_uploads(
            task_ref_name="plan_uploads_ref", images="${image_multiple_convert_resize_fork_ref_join.output}"
        )
        uploads = flowkit.DynamicForkTask("upload_fork_ref")
        uploads.input_parameter("dynamicTasks", uploads_plan.output("dynamicTasks"))
        uploads.input_parameter("dynamicTasksInput", uploads_plan.output("dynamicTasksInput"))
        wf >> plan >> convert >> uploads_plan >> uploads
        wf.output_parameter("uploaded", "${upload_fork_ref_join.output}")
        wf
        """
    ),
    md(
        """
        ## Three formats times two sizes: six branches, twice

        The request asks for PNG, JPEG and WebP at two sizes. Watch the monitor: the total number
        of tasks grows while the run goes, because each fork adds its branches when it starts.
        """
    ),
    code(
        """
        request = {
            "fileLocation": photo,
            "outputFormats": ["png", "jpg", "webp"],
            "outputSizes": [{"width": 300, "height": 200}, {"width": 160, "height": 120}],
            "maintainAspectRatio": True,
        }
        run = flowkit.start(wf, request, workers=[*workers, plan_uploads], task_defs=task_defs)
        display(run.monitor())
        run.wait(120)
        print(run.status, len(run.output["uploaded"]), "images uploaded")
        """
    ),
    md(
        """
        ## Every conversion and every upload

        The monitor's final diagram above has every branch the forks made, each with its status
        and duration. The DataFrame has a row per task; here the dynamic tasks of both forks: the
        planning worker named each conversion after its format, size and place in the list, and
        `plan_uploads` named each upload after the conversion it uploads.
        """
    ),
    code(
        """
        df = run.tasks_df()
        df[df.type.isin(["image_convert_resize", "upload_toS3"])][["ref", "type", "status", "duration"]]
        """
    ),
    md(
        """
        ## The six images, read back from S3
        """
    ),
    code(
        """
        preview(*[out["fileLocation"] for out in run.output["uploaded"].values()], width=160)
        """
    ),
    md(
        """
        Resize-then-upload now appears in three workflows. [Notebook 4](04_sub_workflow.ipynb)
        makes it one reusable workflow.
        """
    ),
]

NOTEBOOKS["04_sub_workflow"] = [
    md(
        """
        # 4. Reuse: the SUB_WORKFLOW

        Resize-then-upload has been written three times now. The series' fourth post turns it into
        a workflow of its own and calls it from others with a `SUB_WORKFLOW` task. The child runs
        as its own execution, with its own id, tasks and history; the parent's task waits for it
        and takes its output. Fix or improve the child once, and every parent uses the new
        version. The two are linked both ways: the parent's task knows the child's id, the child
        knows its parent.
        """
    ),
    SETUP_PROSE,
    SETUP,
    md(
        """
        ## The child: resize and upload

        The workflow of notebook 1, with one more output: the local file, handy for previews.
        """
    ),
    code(
        """
        child = flowkit.WorkflowBuilder("image_convert_resize")
        resize = flowkit.contrib.image_convert_resize(
            task_ref_name="image_convert_resize_ref",
            fileLocation=child.input("fileLocation"),
            outputFormat=child.input("recipeParameters.outputFormat"),
            outputWidth=child.input("recipeParameters.outputSize.width"),
            outputHeight=child.input("recipeParameters.outputSize.height"),
        )
        upload = flowkit.contrib.upload_toS3(
            task_ref_name="upload_toS3_ref", fileLocation=resize.output("fileLocation")
        )
        child >> resize >> upload
        child.output_parameter("fileLocation", upload.output("fileLocation"))
        child.output_parameter("localFile", resize.output("fileLocation"))
        child
        """
    ),
    md(
        """
        ## The parent: a FORK of two children

        `flowkit.SubWorkflowTask` names the child by name and version, as a Conductor server
        would look it up among its registered workflows; here `workflows=[...]` in the run plays
        that registry. Each branch passes the child a different recipe.
        """
    ),
    code(
        """
        def as_child(fmt):
            task = flowkit.SubWorkflowTask(
                f"subworkflow_{fmt}_ref", workflow_name="image_convert_resize", version=1
            )
            task.input_parameter("fileLocation", "${workflow.input.fileLocation}")
            task.input_parameter(
                "recipeParameters", {"outputFormat": fmt, "outputSize": {"width": 280, "height": 180}}
            )
            return [task]


        parent = flowkit.WorkflowBuilder("image_convert_resize_multipleformat_subworkflow")
        parent >> [as_child("jpg"), as_child("png")]
        parent.output_parameter("fileLocationJpg", "${subworkflow_jpg_ref.output.fileLocation}")
        parent.output_parameter("fileLocationPng", "${subworkflow_png_ref.output.fileLocation}")
        parent
        """
    ),
    md(
        """
        ## Run the parent

        The monitor draws each child inside its SUB_WORKFLOW task, so you see the children's tasks
        run too.
        """
    ),
    code(
        """
        run = flowkit.start(parent, {"fileLocation": photo}, workers=workers, task_defs=task_defs,
                            workflows=[child.to_workflow_def()])
        display(run.monitor())
        run.wait(120)
        print(run.status, run.output)
        """
    ),
    md(
        """
        ## A child is an execution of its own

        `run.sub_workflow(ref)` is the child's execution: it has its own id, diagram and tasks,
        and `parent` leads back. With `include_children=True` the DataFrame lists the tasks of the
        parent and of every child, with their depth.
        """
    ),
    code(
        """
        kid = run.sub_workflow("subworkflow_jpg_ref")
        print("child", kid.workflow_id, "-> parent", kid.parent.workflow_id)
        kid
        """
    ),
    code(
        """
        run.tasks_df(include_children=True)[["workflow_id", "depth", "ref", "status"]]
        """
    ),
    md(
        """
        ## The two images, read back from S3
        """
    ),
    code(
        """
        preview(run.output["fileLocationJpg"], run.output["fileLocationPng"], width=240)
        """
    ),
    md(
        """
        So far every worker behaved. [Notebook 5](05_designing_for_failure.ipynb) is about the
        ones that do not.
        """
    ),
]

NOTEBOOKS["05_designing_for_failure"] = [
    md(
        """
        # 5. Designing for failure

        Services go down, networks drop, a worker hangs, an input is wrong. Conductor's answer,
        from the "designing for failure" post, is to say in the *definitions* what should happen,
        instead of writing it into every worker:

        * **retries**: how many (`retryCount`), how far apart (`retryDelaySeconds`) and how the
          delay grows (`retryLogic`: FIXED, LINEAR_BACKOFF, EXPONENTIAL_BACKOFF);
        * **timeouts**: `responseTimeoutSeconds` (the worker went silent), `timeoutSeconds` (the
          task as a whole took too long) and `timeoutPolicy` (RETRY, TIME_OUT_WF or ALERT_ONLY);
        * **optional tasks**: a failure that should be noted, not stop the workflow;
        * **failure workflows**: what to run when a workflow fails anyway (clean up, tell someone);
        * **rate limits**: at most N executions of a task per period, to protect the service.

        Each section below runs a workflow that meets one of these, live, with its monitor.
        """
    ),
    SETUP_PROSE,
    SETUP,
    md(
        """
        ## Three unreliable services

        Three workers stand for the services that fail: a thumbnail service that is busy twice
        before it answers, a watermark service with no watermark configured (an error no retry can
        fix: `NonRetryableError` says so), and a filter service that hangs.
        """
    ),
    code(
        """
        import time

        calls = {"thumbnail": 0}

        @flowkit.worker_task(task_definition_name="thumbnail_service")
        def thumbnail_service(fileLocation: str) -> dict:
            calls["thumbnail"] += 1
            if calls["thumbnail"] <= 2:
                raise ConnectionError(f"thumbnail service busy (call {calls['thumbnail']})")
            return {"thumbnail": fileLocation}

        @flowkit.worker_task(task_definition_name="watermark_service")
        def watermark_service(fileLocation: str) -> dict:
            raise flowkit.NonRetryableError("no watermark configured for this bucket")

        @flowkit.worker_task(task_definition_name="filter_service")
        def filter_service(fileLocation: str) -> dict:
            time.sleep(3)  # hangs: longer than its definition allows
            return {"fileLocation": fileLocation}

        services = [*workers, thumbnail_service, watermark_service, filter_service]
        """
    ),
    md(
        """
        ## Retries, and an optional task

        The thumbnail service gets 3 retries with exponential backoff from 1 s: it waits 1 s, then
        2 s, then succeeds on its third call. The watermark task is marked `optional`: when it fails
        the workflow goes on, and the task ends COMPLETED_WITH_ERRORS. The diagram marks both
        settings on the nodes (↻ for retries, "optional").
        """
    ),
    code(
        """
        policies = [
            flowkit.TaskDef(
                name="thumbnail_service",
                retry_count=3,
                retry_logic="EXPONENTIAL_BACKOFF",
                retry_delay_seconds=1,
            ),
            flowkit.TaskDef(name="watermark_service", retry_count=0),
            flowkit.TaskDef(
                name="filter_service",
                retry_count=0,
                response_timeout_seconds=1,
                timeout_seconds=2,
                timeout_policy="TIME_OUT_WF",
            ),
            *task_defs,
        ]
        resilient = flowkit.WorkflowBuilder("thumbnail_and_watermark")
        resize = flowkit.contrib.image_convert_resize(
            task_ref_name="resize",
            fileLocation=resilient.input("fileLocation"),
            outputFormat="jpg",
            outputWidth=200,
            outputHeight=150,
        )
        thumb = thumbnail_service(task_ref_name="thumbnail", fileLocation=resize.output("fileLocation"))
        mark = watermark_service(task_ref_name="watermark", fileLocation=resize.output("fileLocation"))
        mark.optional = True
        upload = flowkit.contrib.upload_toS3(
            task_ref_name="upload", fileLocation=resize.output("fileLocation")
        )
        resilient >> resize >> thumb >> mark >> upload
        resilient.output_parameter("fileLocation", upload.output("fileLocation"))

        run = flowkit.start(resilient, {"fileLocation": photo}, workers=services, task_defs=policies)
        display(run.monitor())
        run.wait(60)
        print(run.status)
        """
    ),
    md(
        """
        The run COMPLETED: the thumbnail after two failed attempts, the watermark with errors.
        `failures_df()` lists every attempt that did not succeed, with its reason, and whether a
        retry followed. The timeline shows the failed attempts in red and the backoff gaps between
        them (1 s, then 2 s).
        """
    ),
    code(
        """
        run.failures_df()[["ref", "status", "attempt", "reason", "retried", "outcome"]]
        """
    ),
    code(
        """
        %matplotlib inline
        run.timeline()
        """
    ),
    md(
        """
        ## A timeout

        The filter service hangs. Its definition says: no news from the worker for 1 s
        (`responseTimeoutSeconds`) and the task is TIMED_OUT; no retries; and `TIME_OUT_WF`, so the
        whole workflow times out with it. Without a timeout a hung worker would hold the workflow
        forever; with one, the run ends in a second and says why.
        """
    ),
    code(
        """
        slow = flowkit.WorkflowBuilder("filter_with_timeout")
        resize = flowkit.contrib.image_convert_resize(
            task_ref_name="resize",
            fileLocation=slow.input("fileLocation"),
            outputFormat="jpg",
            outputWidth=200,
            outputHeight=150,
        )
        slow >> resize >> filter_service(task_ref_name="filter", fileLocation=resize.output("fileLocation"))

        timed_out = flowkit.start(slow, {"fileLocation": photo}, workers=services, task_defs=policies)
        display(timed_out.monitor())
        timed_out.wait(30)
        print(timed_out.status, "|", timed_out.reason)
        """
    ),
    md(
        """
        ## A failure workflow

        Some failures no retry fixes: here the photo does not exist. The resize task is retried
        once (its definition allows one retry for this section), fails again, and the workflow
        FAILS. Its definition names a `failureWorkflow`, `image_failure_handler`, which Conductor
        starts with the failed run's id, status and reason as input; ours asks a worker to report
        it (in real life: page someone, delete half-written files). The failed run's output holds
        the handler's id under `conductor.failure_workflow`.
        """
    ),
    code(
        """
        @flowkit.worker_task(task_definition_name="report_failure")
        def report_failure(workflowId: str, reason: str, failureStatus: str) -> dict:
            return {"message": f"workflow {workflowId} ended {failureStatus}: {reason}"}


        handler = flowkit.WorkflowBuilder("image_failure_handler")
        handler >> report_failure(
            task_ref_name="report",
            workflowId=handler.input("workflowId"),
            reason=handler.input("reason"),
            failureStatus=handler.input("failureStatus"),
        )
        handler.output_parameter("message", "${report.output.message}")

        guarded = flowkit.WorkflowBuilder("resize_with_failure_workflow").failure_workflow(
            "image_failure_handler"
        )
        resize = flowkit.contrib.image_convert_resize(
            task_ref_name="resize",
            fileLocation=guarded.input("fileLocation"),
            outputFormat="jpg",
            outputWidth=200,
            outputHeight=150,
        )
        (
            guarded
            >> resize
            >> flowkit.contrib.upload_toS3(
                task_ref_name="upload", fileLocation=resize.output("fileLocation")
            )
        )

        failed = flowkit.start(
            guarded,
            {"fileLocation": str(SAMPLES / "does-not-exist.jpg")},
            workers=[*services, report_failure],
            task_defs=flowkit.contrib.image_task_defs(retry_count=1, retry_delay_seconds=1),
            workflows=[handler.to_workflow_def()],
        )
        display(failed.monitor())
        failed.wait(60)
        print(failed.status, "|", failed.reason)
        """
    ),
    md(
        """
        The failure workflow is a run of its own; here it is, with the message its worker wrote:
        """
    ),
    code(
        """
        cleanup = failed.execution(failed.output["conductor.failure_workflow"])
        cleanup.wait(30)
        display(cleanup.monitor())
        print(cleanup.output["message"])
        """
    ),
    md(
        """
        ## A rate limit

        An image service may allow only so many requests a second. The definition says it:
        `rateLimitPerFrequency=2` per `rateLimitFrequencyInSeconds=1`. A dynamic fork of six
        conversions then runs two at a time, one pair a second, instead of hammering the service;
        the others wait in the queue, which the timeline draws as waiting, not working.
        """
    ),
    code(
        """
        limited_defs = [
            d.evolve(rate_limit_per_frequency=2, rate_limit_frequency_in_seconds=1)
            if d.name == "image_convert_resize"
            else d
            for d in task_defs
        ]
        many = flowkit.WorkflowBuilder("six_sizes_rate_limited")
        plan = flowkit.contrib.image_multiple_convert_resize(
            task_ref_name="plan",
            fileLocation=many.input("fileLocation"),
            outputFormats=["jpg"],
            outputSizes=[{"width": w, "height": w * 2 // 3} for w in (60, 90, 120, 150, 180, 210)],
            maintainAspectRatio=True,
        )
        fork = flowkit.DynamicForkTask("resize_fork")
        fork.input_parameter("dynamicTasks", plan.output("dynamicTasks"))
        fork.input_parameter("dynamicTasksInput", plan.output("dynamicTasksInput"))
        many >> plan >> fork

        limited = flowkit.start(many, {"fileLocation": photo}, workers=workers, task_defs=limited_defs)
        display(limited.monitor())
        limited.wait(60)
        print(limited.status)
        """
    ),
    code(
        """
        limited.timeline()
        """
    ),
    md(
        """
        ## What survived

        The first run uploaded its resized photo despite the busy thumbnail service and the
        missing watermark; here it is, read back from S3.
        """
    ),
    code(
        """
        preview(run.output["fileLocation"], width=240)
        """
    ),
    md(
        """
        Every run of this notebook, failed ones included, is in the store with all its attempts:
        `flowkit.open(workflow_id)` loads one again, in this kernel or the next.
        [Notebook 6](06_conductor_interop.ipynb) runs Conductor's own JSON files.
        """
    ),
]

NOTEBOOKS["06_conductor_interop"] = [
    md(
        """
        # 6. Conductor's own JSON, unchanged

        Everything so far was built in Python, but a Conductor workflow is JSON, and flowkit's
        promise is that Conductor's JSON runs here as it would on a Conductor server. flowkit ships
        Conductor's own files (Apache-2.0, with `SOURCES.md` saying where each comes from): the
        Orkes tutorial's image workflows and task definitions, and `kitchensink.json`, the workflow
        Conductor's server ships to show off most of its task types. This notebook draws and runs
        them.
        """
    ),
    SETUP_PROSE,
    SETUP,
    md(
        """
        `fixture_folder` finds the files and checks they are all there: if one is missing the
        notebook stops here, with a message naming it, instead of running half of what follows.
        """
    ),
    code(
        """
        from flowkit.conformance import fixture_folder

        conductor = fixture_folder(
            "image_convert_resize.json",
            "image_convert_resize_multipleformat_subworkflow.json",
            "image_multiple_convert_resize.json",
            "taskdef_image_convert_resize.json",
            "taskdef_upload_toS3.json",
            "kitchensink.json",
            "sub_flow_1.json",
        )
        print(conductor)
        """
    ),
    md(
        """
        ## The Orkes image workflows, from their JSON

        The three workflows of the series as Orkes published them, with the task definitions as
        published too (3 retries 30 s apart, 30 s timeouts, a rate limit). Loading a file gives the
        same `WorkflowDef` the builder makes; displaying it draws it.
        """
    ),
    code(
        """
        published_defs = [
            flowkit.TaskDef.from_json(conductor / f"taskdef_{name}.json")
            for name in ("image_convert_resize", "upload_toS3")
        ]
        single = flowkit.WorkflowDef.from_json(conductor / "image_convert_resize.json")
        forked = flowkit.WorkflowDef.from_json(
            conductor / "image_convert_resize_multipleformat_subworkflow.json"
        )
        dynamic = flowkit.WorkflowDef.from_json(conductor / "image_multiple_convert_resize.json")
        forked
        """
    ),
    md(
        """
        The fork above has a SUB_WORKFLOW branch that calls `image_convert_resize` version 1, the
        single-image workflow, by name: `workflows=[single]` registers it for the run. Its other
        branch resizes and uploads directly.
        """
    ),
    code(
        """
        recipe = {
            "fileLocation": photo,
            "recipeParameters": {"outputFormat": "webp", "outputSize": {"width": 240, "height": 160}},
        }
        run = flowkit.start(forked, recipe, workers=workers, task_defs=published_defs, workflows=[single])
        display(run.monitor())
        run.wait(60)
        print(run.status, run.output)
        """
    ),
    md(
        """
        And the dynamic fork, three formats at one size. The published definitions keep their 30 s
        between retries: nothing fails here, so nothing waits.
        """
    ),
    code(
        """
        request = {"fileLocation": photo, "outputFormats": ["jpg", "png", "webp"],
                   "outputSizes": [{"width": 200, "height": 140}], "maintainAspectRatio": "true"}
        dyn = flowkit.start(dynamic, request, workers=workers, task_defs=published_defs)
        display(dyn.monitor())
        dyn.wait(60)
        print(dyn.status)
        """
    ),
    code(
        """
        converted = [out["fileLocation"] for out in dyn.output["fileLocations"].values()]
        preview(run.output["fileLocationJpg"], run.output["fileLocationWebp"], *converted, width=160)
        """
    ),
    md(
        """
        ## Conductor's kitchensink

        `kitchensink.json` strings together a SIMPLE task, an EVENT, a DYNAMIC task (the task to
        run is named in the input), a DECISION whose one case runs a FORK of two branches each
        ending in a SUB_WORKFLOW (`sub_flow_1.json`) and whose other case runs a dynamic fork, an
        HTTP call to Elasticsearch, and a last task that reads that answer with a JSONPath deep
        scan (`${get_es_1.output..status}`). Here it is as Conductor wrote it:
        """
    ),
    code(
        """
        sub_flow = flowkit.WorkflowDef.from_json(conductor / "sub_flow_1.json")
        flowkit.WorkflowDef.from_json(conductor / "kitchensink.json")
        """
    ),
    md(
        """
        To run it we need its workers, `task_1` to `task_30`: Conductor's sample workers pass
        values along, and so do these; `task_4` plans the dynamic fork of the DECISION's other case.
        flowkit checks before starting that every SIMPLE task the workflow can reach has a worker. Its HTTP task asks Elasticsearch on localhost:9200 for recent
        workflows; there is none here, so a stand-in on 127.0.0.1 gives the same kind of answer,
        and the one line we change in the JSON is that address.
        """
    ),
    code(
        """
        from flowkit.contrib.tutorial import elasticsearch_stand_in


        def passes(**fields):  # a worker that returns its input, with fields added
            return lambda **given: {**given, **fields}


        def task_4(
            mod=None, oddEven=None
        ):  # the even case's plan: a dynamic fork of a task_10 and a sub_flow_1 child
            child = {"name": "sub_flow_1", "version": 1}
            return {
                "dynamicTasks": [
                    {"name": "task_10", "taskReferenceName": "task_10_dyn"},
                    {
                        "name": "sub_flow_1",
                        "taskReferenceName": "wf_dyn",
                        "type": "SUB_WORKFLOW",
                        "subWorkflowParam": child,
                    },
                ],
                "inputs": {"task_10_dyn": {}, "wf_dyn": {"mod": mod}},
            }


        kitchen_workers = {
            "task_1": passes(),
            "task_4": task_4,
            "task_5": passes(mod=1, oddEven=1),
            "task_6": passes(),
            "task_10": passes(),
            "task_11": passes(),
            "task_30": lambda statuses=None, workflowIds=None: {
                "statuses": statuses,
                "workflowIds": workflowIds,
            },
        }
        search = elasticsearch_stand_in()
        kitchen = flowkit.WorkflowDef.from_json(
            (conductor / "kitchensink.json").read_text().replace("http://localhost:9200", search)
        )
        """
    ),
    md(
        """
        With `task2Name: "task_5"` the DYNAMIC task runs `task_5`, whose `oddEven` of 1 sends the
        DECISION to the FORK of sub-workflows. The monitor draws each child inside its
        SUB_WORKFLOW node.
        """
    ),
    code(
        """
        sink = flowkit.start(
            kitchen,
            {"task2Name": "task_5", "mod": 1, "oddEven": 1},
            workers=kitchen_workers,
            workflows=[sub_flow],
        )
        display(sink.monitor())
        sink.wait(60)
        print(sink.status, sink.output)
        """
    ),
    md(
        """
        ## And back to JSON

        The execution is Conductor's execution JSON too, the shape `GET /api/workflow/{id}` returns,
        so tools written for Conductor can read flowkit's runs. Here are the kitchensink run's tasks
        as Conductor would list them:
        """
    ),
    code(
        """
        for task in sink.to_json()["tasks"]:
            print(
                f"{task['seq']:>3} {task['taskType']:<18} {task['referenceTaskName']:<16} {task['status']}"
            )
        """
    ),
    md(
        """
        That is the tutorial. The same workflows run on a Conductor server unchanged; with
        `flowkit serve`, flowkit itself answers Conductor's REST API for workers written with
        Conductor's SDKs.
        """
    ),
]

NOTEBOOKS["07_workers_as_services"] = [
    md(
        """
        # 7. Workers as services: a server, a worker process, and the notebook as a client

        So far every run happened inside this notebook: flowkit's engine and the workers shared one
        Python process. Conductor itself is built the other way round. The *server* keeps the
        workflows, the runs and one task queue per task type, and decides what comes next; the
        *workers* are separate services that ask the server for work over HTTP ("any
        `image_convert_resize` task for me?"), do it, and post the result back. The server never
        calls a worker, and a worker knows nothing of workflows.

        That split is why Conductor is used for microservices. A worker can be written in any
        language (Conductor has SDKs for Java, Python, Go, C#, JavaScript and more), deployed and
        restarted on its own, and scaled out by starting more copies: each poll hands a task to one
        of them. If a worker dies holding a task, the task's response timeout expires on the server
        and the task is retried, perhaps by another copy. Retries, timeouts and rate limits stay
        on the server, in the task definitions.

        flowkit can play every part. This notebook starts three processes' worth of it:

        * `flowkit serve`: Conductor's REST API (`/api/metadata`, `/api/workflow`, `/api/tasks`)
          on flowkit's engine, keeping its runs in a SQLite file;
        * `flowkit worker`: the same image workers as before, now a service that long-polls the
          server's queues for their task types;
        * `flowkit.connect`: this notebook as a client that registers definitions, starts a run and
          watches it, with the same monitor and tables as a local run.

        The client and the worker speak only Conductor's API: point them at a Conductor server (with
        `key_id` and `key_secret` when it wants a token) and the cells below work unchanged.
        """
    ),
    md(
        """
        ## Set-up

        The task definitions and the photo are the tutorial's. `ensure_endpoint()` decides where
        uploads go, as before; this time the upload happens in the worker process, so the settings it
        needs (the S3 endpoint and bucket) are put in the environment the two services start with.
        Each service's log goes to a file in a temporary folder, out of the way of the notebook.
        """
    ),
    code(
        """
        import os, signal, socket, subprocess, sys, tempfile, time
        from pathlib import Path
        import flowkit, flowkit.contrib
        from flowkit.contrib.tutorial import SAMPLES
        from flowkit.notebook import preview

        task_defs = flowkit.contrib.image_task_defs(retry_delay_seconds=1)
        s3 = flowkit.contrib.ensure_endpoint()
        photo = str(SAMPLES / "landscape.jpg")
        services_env = dict(os.environ, FLOWKIT_S3_BUCKET=s3.bucket)
        if s3.endpoint_url:  # a local S3 server, or one configured by URL: the worker uploads there too
            services_env["FLOWKIT_S3_ENDPOINT"] = s3.endpoint_url
        logs = Path(tempfile.mkdtemp(prefix="flowkit-services-"))
        print(f"uploads go to {s3.where}, bucket {s3.bucket!r}; service logs in {logs}")
        """
    ),
    md(
        """
        ## Start the server

        `flowkit serve` runs in its own process on a free port of 127.0.0.1 (beyond loopback it
        wants an application key). With no `--store` it keeps its runs where local runs go,
        `$FLOWKIT_HOME/flowkit.db` (`~/.flowkit/flowkit.db` by default), so `flowkit list` and
        `flowkit show` find them afterwards. `flowkit.connect` checks that the server answers; the
        loop retries it while the server is starting.
        """
    ),
    code(
        """
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [sys.executable, "-m", "flowkit", "serve", "--port", str(port)],
            env=services_env, stdout=subprocess.DEVNULL, stderr=open(logs / "serve.log", "wb"),
        )
        for _ in range(300):  # up to 30 s
            try:
                client = flowkit.connect(url)
                break
            except flowkit.client.UnreachableError:
                if server.poll() is not None:
                    raise RuntimeError((logs / "serve.log").read_text()) from None
                time.sleep(0.1)
        print("flowkit serve answers at", client.url)
        """
    ),
    md(
        """
        ## Start the worker service

        `flowkit worker` imports `flowkit.contrib:image_workers` (the function that returns the
        workers the other notebooks ran in-process) and polls the server for `image_convert_resize`
        and `upload_toS3` tasks, two at a time of each. Nothing about the functions changes: a
        task's input becomes their arguments and their return value the task's output, as in a
        notebook. To scale out, start the same command again, here or on another machine.
        """
    ),
    code(
        """
        worker = subprocess.Popen(
            [sys.executable, "-m", "flowkit", "worker", "--server", url,
             "--workers", "flowkit.contrib:image_workers", "--threads", "2"],
            env=services_env, stdout=subprocess.DEVNULL, stderr=open(logs / "worker.log", "wb"),
        )
        print("worker service started, pid", worker.pid)
        """
    ),
    md(
        """
        ## Register the definitions

        On a server the definitions live on the server: the client sends the task definitions
        (`POST /api/metadata/taskdefs`) and the workflow (`PUT /api/metadata/workflow`), and any
        client may then start it by name. The workflow is notebook 1's, resize then upload, under a
        name of its own.
        """
    ),
    code(
        """
        client.register_task_defs(task_defs)
        wf = flowkit.WorkflowBuilder(
            "image_convert_resize_service", description="Resize one image and upload it, on a server"
        )
        resize = flowkit.contrib.image_convert_resize(
            task_ref_name="image_convert_resize_ref",
            fileLocation=wf.input("fileLocation"),
            outputFormat=wf.input("recipeParameters.outputFormat"),
            outputWidth=wf.input("recipeParameters.outputSize.width"),
            outputHeight=wf.input("recipeParameters.outputSize.height"),
        )
        upload = flowkit.contrib.upload_toS3(
            task_ref_name="upload_toS3_ref", fileLocation=resize.output("fileLocation")
        )
        wf >> resize >> upload
        wf.output_parameter("fileLocation", upload.output("fileLocation"))
        client.register(wf)
        client.workflow_def("image_convert_resize_service")
        """
    ),
    md(
        """
        ## Start a run and watch it

        `client.start` is `POST /api/workflow`: the server creates the run and puts the first task
        in the `image_convert_resize` queue, where the worker service picks it up. The handle it
        returns is a `flowkit.Execution` like a local run's, read through the REST API: the monitor
        polls the server for the run's state, and its buttons are Conductor's calls (pause, resume,
        terminate, retry). When the run ends its final diagram stays in the notebook.
        """
    ),
    code(
        """
        request = {
            "fileLocation": photo,
            "recipeParameters": {"outputFormat": "png", "outputSize": {"width": 320, "height": 200}},
        }
        run = client.start("image_convert_resize_service", request)
        display(run.monitor())
        run.wait(120)
        print(run.status, run.output)
        """
    ),
    md(
        """
        ## Who did the work

        The task table is read from the server too. Its `worker` column is the id the worker
        service polled with (its host and process id), not this notebook: the tasks ran in the
        other process.
        """
    ),
    code(
        """
        run.tasks_df()[["ref", "status", "attempt", "duration", "worker"]]
        """
    ),
    md(
        """
        Any client can find the run again: `client.search` is Conductor's `GET /api/workflow/search`,
        answering Conductor's workflow summaries.
        """
    ),
    code(
        """
        for summary in client.search(name="image_convert_resize_service", limit=5):
            print(summary["workflowId"], summary["workflowType"], summary["status"])
        """
    ),
    md(
        """
        ## The result

        The photo, the file the worker service wrote, and the object it uploaded, read back from the
        bucket at the workflow's output address.
        """
    ),
    code(
        """
        preview(
            photo,
            run.task("image_convert_resize_ref").output["fileLocation"],
            run.output["fileLocation"],
            width=240,
        )
        """
    ),
    md(
        """
        ## Stop the services

        A worker service stops on SIGTERM, what a process manager or Kubernetes sends, or on
        Ctrl-C: it polls no more, finishes the tasks it holds, says how many it did, and exits.
        Then the server, with Ctrl-C (SIGINT): it answers the requests in flight and closes its
        store. The runs stay there, for `flowkit list` or the next `flowkit serve`.
        """
    ),
    code(
        """
        worker.terminate()
        print("worker service exited with code", worker.wait(30))
        print((logs / "worker.log").read_text().strip().splitlines()[-1])
        server.send_signal(signal.SIGINT)
        print("server exited with code", server.wait(30))
        """
    ),
    md(
        """
        That is the whole tutorial: the same workflows, run in a notebook, from Conductor's JSON,
        and on a server with workers as services.
        """
    ),
]


def main(names: list[str] | None = None) -> None:
    """Write the notebooks of ``NOTEBOOKS`` (all, or those in ``names``) to ``notebooks/``."""
    unknown = sorted(set(names or ()) - set(NOTEBOOKS))
    if unknown:
        raise SystemExit(f"unknown notebook(s): {', '.join(unknown)}; known: {', '.join(NOTEBOOKS)}")
    for name, cells in NOTEBOOKS.items():
        if names and name not in names:
            continue
        nb = new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.metadata["language_info"] = {"name": "python"}
        for i, (kind, text) in enumerate(cells):
            cell = new_markdown_cell(text) if kind == "markdown" else new_code_cell(text)
            cell.id = f"cell-{i:02d}"  # stable ids: regenerating changes only what changed
            nb.cells.append(cell)
        nbformat.write(nb, HERE / f"{name}.ipynb")
        print("wrote", HERE / f"{name}.ipynb")


if __name__ == "__main__":
    main(sys.argv[1:])
