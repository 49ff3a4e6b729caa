"""The conformance case table.

One or more cases per Conductor fixture, with deterministic test workers and the outcome Conductor
gives (status plus key checks). ``source`` says where each
expectation comes from: an upstream test (``TH <Spec>`` of Conductor's test-harness,
``e2e <Test>`` of its e2e suite) or ``derived <Conductor class>``: read from that class of Conductor's
server source (conductor-oss/conductor).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flowkit.workers import Task, TaskResult

if TYPE_CHECKING:
    from flowkit.runtime import Execution

__all__ = ["CASES", "Case", "Check", "Result"]


@dataclass(frozen=True)
class Result:
    """The outcome of one case."""

    name: str
    """``<fixture>`` or ``<fixture> [variant]``."""
    status: str
    """The workflow status flowkit reached (``ERROR: ...`` when the run raised)."""
    expected_status: str
    """The status Conductor reaches."""
    matches: bool
    """Status and every check agree with Conductor."""
    detail: str
    """Where the expectation comes from, or the first disagreement."""


@dataclass(frozen=True)
class Check:
    """One assertion: ``actual(execution) == expected``."""

    label: str
    actual: Callable[[Execution], Any]
    expected: Any


@dataclass(frozen=True)
class Case:
    """One fixture run: definitions, input, workers and what Conductor does with them."""

    fixture: str
    """The workflow definition file (in the fixture folder)."""
    expected_status: str
    source: str
    """``TH <Spec> ...`` / ``e2e <Test> ...`` (an upstream test), or ``derived <Conductor class> ...``."""
    variant: str = ""
    input: Mapping[str, Any] = field(default_factory=dict)
    workers: Callable[[], Mapping[str, Callable[..., Any]]] = dict
    """Builds fresh ``{task name: function}`` workers for one run."""
    task_defs: tuple[Any, ...] = ()
    """Fixture file names or TaskDef JSON dicts."""
    workflows: tuple[Any, ...] = ()
    """Other definitions it needs: fixture file names or WorkflowDef JSON dicts."""
    checks: tuple[Check, ...] = ()
    correlation_id: str | None = None
    http: Mapping[str, Any] | None = None
    """A local HTTP server for the case: ``{"routes": {path: (status, body)}}`` on a free 127.0.0.1 port."""
    rewrite: Mapping[str, str] = field(default_factory=dict)
    """URLs in the definitions replaced before the run: ``{url: new}``; ``{server}`` in ``new`` is the
    local server's base URL. This is how a case reaches an outside host without a network: the
    fixture's test data changes, the HTTP client stays real."""
    complete: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Tasks left for outside completion (HUMAN, WAIT without a time): ``{ref: output}``, in order."""
    note: str = ""
    definition: Mapping[str, Any] | None = None
    """The workflow JSON when it is not a fixture file (written from an upstream spec); ``fixture`` names it."""

    @property
    def name(self) -> str:
        """``<fixture>`` or ``<fixture> [variant]``."""
        return f"{self.fixture} [{self.variant}]" if self.variant else self.fixture


# ---------------------------------------------------------------------------------------------- checks
def tasks(e: Execution) -> list[str]:
    """``["<taskType>:<status>", ...]`` in task-list order (the notation of the expectations doc)."""
    return [f"{t.task_type}:{t.status}" for t in e.tasks]


def seq(*expected: str) -> Check:
    return Check("tasks", tasks, list(expected))


def counts(**expected: int) -> Check:
    """Task counts by ``type:status`` (order-free; ``__`` in a keyword stands for ``:``)."""
    return Check(
        "task counts",
        lambda e: dict(sorted(Counter(tasks(e)).items())),
        dict(sorted((k.replace("__", ":"), v) for k, v in expected.items())),
    )


def eq(label: str, actual: Callable[[Execution], Any], expected: Any) -> Check:
    return Check(label, actual, expected)


def ok(label: str, predicate: Callable[[Execution], Any]) -> Check:
    return Check(label, lambda e: bool(predicate(e)), True)


def out(expected: Mapping[str, Any]) -> Check:
    return Check("output", lambda e: e.output, dict(expected))


def inp(ref: str, key: str, expected: Any) -> Check:
    return Check(f"{ref}.input.{key}", lambda e: e.task(ref).input.get(key), expected)


def output_of(ref: str, key: str, expected: Any) -> Check:
    return Check(f"{ref}.output.{key}", lambda e: e.task(ref).output.get(key), expected)


def keys(ref: str, expected: list[str]) -> Check:
    return Check(f"{ref}.output keys", lambda e: sorted(e.task(ref).output), sorted(expected))


def child(ref: str, *expected: str) -> Check:
    return Check(
        f"{ref} child tasks",
        lambda e: [str(e.sub_workflow(ref).status), *tasks(e.sub_workflow(ref))],
        ["COMPLETED", *expected],
    )


def reason_has(text: str) -> Check:
    return ok(f"reason contains {text!r}", lambda e: text in (e.reason or ""))


# ---------------------------------------------------------------------------------------------- workers
def echo(**extra: Any) -> Callable[[Any], dict[str, Any]]:
    """Build a worker that reports its ref (``op``) plus ``extra``."""

    def work(task: Task) -> dict[str, Any]:
        return {"op": f"{task.reference_task_name}.done", **extra}

    return work


def integration_workers(**override: Callable[..., Any]) -> dict[str, Callable[..., Any]]:
    """Workers for the test-harness task names ``integration_task_0..20`` (``op = <ref>.done``)."""
    return {**{f"integration_task_{n}": echo() for n in range(21)}, **override}


def _harness_task_defs(**changes: Mapping[str, Any]) -> tuple[dict[str, Any], ...]:
    """Conductor's test-harness task definitions (``WorkflowTestUtil.groovy``), some changed."""
    defs = {
        f"integration_task_{i}": {
            "name": f"integration_task_{i}",
            "retryCount": 1,
            "timeoutSeconds": 120,
            "responseTimeoutSeconds": 120,
        }
        for i in range(21)
    }
    defs["task_rt"] = {
        "name": "task_rt",
        "retryCount": 1,
        "retryDelaySeconds": 0,
        "timeoutSeconds": 120,
        "responseTimeoutSeconds": 10,
    }
    for name, fields in changes.items():
        defs[name] = {**defs[name], **fields}
    return tuple(defs.values())


HARNESS = _harness_task_defs()


def _fails_then(times: int, output: Mapping[str, Any]) -> Callable[[], Callable[[Any], Any]]:
    def make() -> Callable[[Any], Any]:
        calls = [0]

        def work(task: Task) -> Any:
            calls[0] += 1
            if calls[0] <= times:
                raise RuntimeError(f"failure {calls[0]} of {times}")
            return dict(output)

        return work

    return make


# image tutorial (orkes-io/orkesworkers): fake workers returning the documented output shapes, no Pillow or S3
S3_OUT = "https://image-processing-orkes.s3.amazonaws.com/"
S3_UPLOAD = "https://image-processing-sandbox.s3.amazonaws.com/"
IMAGE_INPUT = {
    "fileLocation": "https://example.org/images/sample.png",
    "recipeParameters": {"outputFormat": "jpg", "outputSize": {"width": 300, "height": 200}},
}
IMAGE_DEFS = ("taskdef_image_convert_resize.json", "taskdef_upload_toS3.json")


def image_convert_resize(task: Task) -> dict[str, Any]:
    """``ImageConvertResizeWorker``: a resized copy uploaded to S3 (named after the ref, not a UUID)."""
    data = task.input_data
    return {
        "fileLocation": f"{S3_OUT}{task.reference_task_name}.{data['outputFormat']}",
        "outputWidth": data["outputWidth"],
        "outputHeight": data["outputHeight"],
        "outputFormat": data["outputFormat"],
    }


def upload_to_s3(task: Task) -> dict[str, Any]:
    """``UploadToS3``: the file copied to the sandbox bucket."""
    return {"fileLocation": S3_UPLOAD + str(task.input_data["fileLocation"]).rsplit("/", 1)[-1]}


def image_multiple_convert_resize(task: Task) -> dict[str, Any]:
    """``ImageMultipleConvertResizeWorker``: one forked ``image_convert_resize`` per format x size."""
    data = task.input_data
    dynamic_tasks, dynamic_input, i = [], {}, 0
    for fmt in data["outputFormats"]:
        for size in data["outputSizes"]:
            ref = f"image_convert_resize_{fmt}_{size['width']}x{size['height']}_{i}"
            i += 1
            dynamic_tasks.append({"name": "image_convert_resize", "taskReferenceName": ref})
            dynamic_input[ref] = {
                "fileLocation": data["fileLocation"],
                "outputFormat": fmt,
                "outputWidth": size["width"],
                "outputHeight": size["height"],
                # Java's Boolean.valueOf((String) input): only the text "true" is true
                "maintainAspectRatio": str(data.get("maintainAspectRatio")).lower() == "true",
            }
    return {"dynamicTasks": dynamic_tasks, "dynamicTasksInput": dynamic_input}


def image_workers() -> dict[str, Callable[..., Any]]:
    return {
        "image_convert_resize": image_convert_resize,
        "upload_toS3": upload_to_s3,
        "image_multiple_convert_resize": image_multiple_convert_resize,
    }


def _convert_fails(task: Task) -> dict[str, Any]:
    raise RuntimeError("convert: no images defined")  # ImageMagick's error for a missing input file


# kitchensink (OSS rest/.../kitchensink): task_1 -> EVENT -> DYNAMIC -> DECISION -> HTTP -> task_30
ES_BODY = {
    "took": 1,
    "hits": {
        "total": {"value": 2, "relation": "eq"},
        "hits": [
            {"_index": "conductor", "_id": "wf-1", "_source": {"workflowId": "wf-1", "status": "COMPLETED"}},
            {"_index": "conductor", "_id": "wf-2", "_source": {"workflowId": "wf-2", "status": "FAILED"}},
        ],
    },
}
ES_SERVER = {"routes": {"/conductor/_search?size=10": (200, ES_BODY)}}
ES_REWRITE = {"http://localhost:9200": "{server}"}
KS_OUTPUT = {"statues": ["COMPLETED", "FAILED"], "workflowIds": ["wf-1", "wf-2"]}


def kitchensink_workers(odd_even: int) -> Callable[[], dict[str, Callable[..., Any]]]:
    def make() -> dict[str, Callable[..., Any]]:
        def task_1(task: Task) -> dict[str, Any]:
            return {"mod": task.input_data.get("mod"), "oddEven": task.input_data.get("oddEven")}

        def task_4(task: Task) -> dict[str, Any]:
            return {
                "dynamicTasks": [
                    {"name": "task_10", "taskReferenceName": "task_10_dyn"},
                    {
                        "name": "sub_workflow_x",
                        "taskReferenceName": "wf_dyn",
                        "type": "SUB_WORKFLOW",
                        "subWorkflowParam": {"name": "sub_flow_1", "version": 1},
                    },
                ],
                "inputs": {"task_10_dyn": {"k": "v"}, "wf_dyn": {"mod": task.input_data.get("mod")}},
            }

        def task_30(task: Task) -> dict[str, Any]:
            return {"statuses": task.input_data.get("statuses"), "workflowIds": task.input_data.get("workflowIds")}

        five = {"oddEven": odd_even, "mod": 4 - 3 * odd_even}
        simple = {name: echo() for name in ("task_6", "task_10", "task_11")}
        return {**simple, "task_1": task_1, "task_4": task_4, "task_5": echo(**five), "task_30": task_30}

    return make


# re_run_test_workflow (OSS e2e): needs PopulationMinMax (by name, latest version), which is not a fixture
POPULATION_MIN_MAX = (
    {
        "name": "PopulationMinMax",
        "version": 1,
        "schemaVersion": 2,
        "tasks": [
            {
                "name": "stale",
                "taskReferenceName": "stale",
                "type": "TERMINATE",
                "inputParameters": {
                    "terminationStatus": "FAILED",
                    "terminationReason": "v1 ran: the latest (v2) was expected",
                },
            }
        ],
    },
    {
        "name": "PopulationMinMax",
        "version": 2,
        "schemaVersion": 2,
        "tasks": [
            {
                "name": "min_max",
                "taskReferenceName": "min_max",
                "type": "INLINE",
                "inputParameters": {
                    "populations": [8336817, 3979576, 2693976],
                    "evaluatorType": "graaljs",
                    "expression": "({min: Math.min.apply(null, $.populations), max: Math.max.apply(null, $.populations)})",
                },
            }
        ],
        "outputParameters": {"min": "${min_max.output.result.min}", "max": "${min_max.output.result.max}"},
    },
)
RE_RUN_WORKERS = (
    "x_test_worker_0",
    "x_test_worker_1",
    "x_test_worker_2",
    "x_test_workers_0",
    "x_test_workers_1",
    "x_test_workers_2",
)
API_TESTER = "https://orkes-api-tester.orkesconductor.com/api"
JQ_OUT = {"result": {"key3": ["a", "b"]}, "resultList": [{"key3": ["a", "b"]}]}


def re_run_workers() -> dict[str, Callable[..., Any]]:
    return {name: echo(worker=name) for name in RE_RUN_WORKERS}


FAIL_ON_PURPOSE = {
    "name": "fail_on_purpose",
    "retryCount": 2,
    "timeoutSeconds": 20,
    "timeoutPolicy": "RETRY",
    "retryLogic": "FIXED",
    "retryDelaySeconds": 1,
    "responseTimeoutSeconds": 2,
    "pollTimeoutSeconds": 3600,
}
DYN_TASKS = [
    {"name": "integration_task_2", "taskReferenceName": "xdt1"},
    {"name": "integration_task_3", "taskReferenceName": "xdt2"},
]
P1 = {"param1": "p1 value", "param2": "p2 value"}
TERMINAL = "NON TRANSIENT ERROR OCCURRED: An integration point required to complete the task is down"


def _dyn_fork_worker(inputs: Mapping[str, Any]) -> Callable[[], dict[str, Callable[..., Any]]]:
    def dt1(task: Task) -> dict[str, Any]:
        if task.reference_task_name == "dt1":
            return {"dynamicTasks": DYN_TASKS, "dynamicTasksInput": dict(inputs)}
        return {"ok1": "ov1"}

    return lambda: integration_workers(
        integration_task_1=dt1, integration_task_2=echo(ok1="ov1"), integration_task_3=echo(ok1="ov1")
    )


def _in_progress_once() -> dict[str, Callable[..., Any]]:
    calls = [0]

    def task_rt(task: Task) -> Any:
        calls[0] += 1
        if calls[0] == 1:  # E5: the worker reports IN_PROGRESS with callbackAfterSeconds 2, then completes
            return TaskResult(status="IN_PROGRESS", callback_after_seconds=2)
        return {"op": "task_rt.done"}

    return integration_workers(task_rt=task_rt)


def _loan_workers() -> dict[str, Callable[..., Any]]:
    def fetch(task: Task) -> dict[str, Any]:
        return {"userAccount": 4567, "email": task.input_data["userEmail"]}

    def score(task: Task) -> dict[str, Any]:
        return {"creditRating": 769 if task.input_data["userAccountNumber"] == 4567 else 300}

    def amount(task: Task) -> dict[str, Any]:
        data = task.input_data
        return {"authorizedLoanAmount": data["loanAmount"] if data["creditRating"] > 700 else 0}

    return {
        "fetch_user_details": fetch,
        "get_credit_score": score,
        "calculate_loan_amount": amount,
        "check_phone_number_valid": echo(valid=True),
    }


def _do_while_loop(n: int) -> tuple[str, ...]:
    one = (
        "integration_task_0:COMPLETED",
        "FORK:COMPLETED",
        "integration_task_1:COMPLETED",
        "integration_task_2:COMPLETED",
        "JOIN:COMPLETED",
    )
    return ("DO_WHILE:COMPLETED", *(one * n))


def _ui_demo_check(e: Execution) -> Any:
    inline = e.task("default_case_ref__1")
    return [str(inline.status), "TypeError" in (inline.reason or ""), "error" in inline.output]


# ---------------------------------------------------------------------------------------------- the table
def _cases() -> tuple[Case, ...]:
    c = "COMPLETED"
    # fmt: off
    return (
        # --- kitchensink: EVENT, DYNAMIC, DECISION (FORK_JOIN of SUB_WORKFLOWs | FORK_JOIN_DYNAMIC), HTTP, deep scan
        Case("kitchensink.json", c, "derived DeciderService.java + task mappers (EVENT/DYNAMIC/DECISION/FORK_JOIN/SUB_WORKFLOW/HTTP), ParametersUtils deep scan",
             variant="oddEven=1", input={"task2Name": "task_5", "mod": 1, "oddEven": 1},
             workers=kitchensink_workers(1), workflows=("sub_flow_1.json",), http=ES_SERVER, rewrite=ES_REWRITE,
             note="HTTP GET localhost:9200 served by a local server on a free port",
             checks=(
                 seq("task_1:COMPLETED", "EVENT:COMPLETED", "task_5:COMPLETED", "DECISION:COMPLETED", "FORK:COMPLETED",
                     "task_10:COMPLETED", "task_11:COMPLETED", "JOIN:COMPLETED", "SUB_WORKFLOW:COMPLETED",
                     "SUB_WORKFLOW:COMPLETED", "HTTP:COMPLETED", "task_30:COMPLETED"),
                 eq("event_0 input (EventTaskMapper adds sink, asyncComplete)", lambda e: e.task("event_0").input,
                    {"mod": 1, "oddEven": 1, "sink": "conductor", "asyncComplete": False}),
                 eq("event_0 output", lambda e: {k: e.task("event_0").output.get(k) for k in (
                     "mod", "sink", "asyncComplete", "workflowType", "workflowVersion", "event_produced")},
                    {"mod": 1, "sink": "conductor", "asyncComplete": False, "workflowType": "kitchensink",
                     "workflowVersion": 1, "event_produced": "conductor:kitchensink:event_0"}),
                 eq("task_2 is DYNAMIC task_5", lambda e: (e.task("task_2").task_type, e.task("task_2").input),
                    ("task_5", {"taskToExecute": "task_5"})),
                 output_of("oddEvenDecision", "caseOutput", ["1"]),
                 keys("join2", ["wf3", "wf4"]),
                 child("wf3", "task_5:COMPLETED", "task_6:COMPLETED"),
                 eq("wf4 child input", lambda e: e.sub_workflow("wf4").input, {"mod": 1, "oddEven": 1}),
                 eq("get_es_1 response", lambda e: [e.task("get_es_1").output["response"][k] for k in ("statusCode", "body")],
                    [200, ES_BODY]),
                 inp("task_30", "statuses", ["COMPLETED", "FAILED"]),
                 out(KS_OUTPUT),
             )),
        Case("kitchensink.json", c, "derived DecisionTaskMapper.java: case '0' -> FORK_JOIN_DYNAMIC (form B) incl. a SUB_WORKFLOW fork",
             variant="oddEven=0", input={"task2Name": "task_5", "mod": 4, "oddEven": 0},
             workers=kitchensink_workers(0), workflows=("sub_flow_1.json",), http=ES_SERVER, rewrite=ES_REWRITE,
             note="HTTP GET localhost:9200 served by a local server on a free port",
             checks=(
                 seq("task_1:COMPLETED", "EVENT:COMPLETED", "task_5:COMPLETED", "DECISION:COMPLETED", "task_4:COMPLETED",
                     "FORK:COMPLETED", "task_10:COMPLETED", "SUB_WORKFLOW:COMPLETED", "JOIN:COMPLETED", "HTTP:COMPLETED",
                     "task_30:COMPLETED"),
                 output_of("oddEvenDecision", "caseOutput", ["0"]),
                 inp("join1", "joinOn", ["task_10_dyn", "wf_dyn"]),
                 keys("join1", ["task_10_dyn", "wf_dyn"]),
                 inp("task_10_dyn", "k", "v"),
                 child("wf_dyn", "task_5:COMPLETED", "task_6:COMPLETED"),
                 out(KS_OUTPUT),
             )),
        Case("sub_flow_1.json", c, "derived DeciderService.updateWorkflowOutput (no outputParameters: output = last task's output)",
             workers=kitchensink_workers(1),
             checks=(seq("task_5:COMPLETED", "task_6:COMPLETED"), out({"op": "task_6.done"}))),
        # --- re_run_test_workflow: the widest fixture; its HTTP task calls an outside host
        Case("re_run_test_workflow.json", "FAILED", "derived HttpTask.java (retryCount 0 for system tasks), DeciderService.retry",
             variant="offline", workers=re_run_workers, workflows=POPULATION_MIN_MAX,
             rewrite={API_TESTER: "http://127.0.0.1:9/api"},
             note=f"{API_TESTER} stands for an unreachable host (127.0.0.1:9 refuses), so the workflow FAILS there, "
             "as Conductor would without network",
             checks=(
                 seq("x_test_worker_0:COMPLETED", "JSON_JQ_TRANSFORM:COMPLETED", "HTTP:FAILED"),
                 eq("jq output", lambda e: e.task("jq").output, JQ_OUT),
                 ok("HTTP reason says the call failed",
                    lambda e: "Failed to invoke HTTP task" in (e.task("http_task_5saz2_ref").reason or "")),
                 reason_has("failed with status: FAILED and reason: "),
                 out({"jq": JQ_OUT, "inner_task": None}),
             )),
        Case("re_run_test_workflow.json", c, "derived DeciderService.java + task mappers (WAIT/SET_VARIABLE/FORK_JOIN/SUB_WORKFLOW/"
             "FORK_JOIN_DYNAMIC A/DO_WHILE/SWITCH), DoWhile.java (condition false -> 1 iteration)",
             variant="api-tester simulated", workers=re_run_workers, workflows=POPULATION_MIN_MAX,
             http={"routes": {"/api": (200, {"message": "answer standing in for the Orkes API tester"})}},
             rewrite={API_TESTER: "{server}/api"},
             note="the API tester's URL points at a local server; everything runs for real",
             checks=(
                 eq("task order (DeciderService: a fork's batch is added before its DO_WHILE runs)", lambda e: [t.ref for t in e.tasks],
                    ["simple_task_00", "jq", "http_task_5saz2_ref", "wait", "set_state", "fork_task_t7nhng_ref",
                     "x_test_worker_1_ref", "x_test_workers_0_ref", "x_test_workers_2_ref", "join_task_y6nux_ref",
                     "wait_task_guk0c_ref", "sub_flow", "dynamic_fork", "_x_test_worker_0_0", "_x_test_worker_0_1",
                     "_x_test_worker_0_2", "dynamic_fork_join", "fork", "loop_until_success", "simple_task_2",
                     "fork_join", "fact_length__1", "simple_task_1__1", "simple_task_5", "sub_flow_inline"]),
                 counts(x_test_worker_0__COMPLETED=4, JSON_JQ_TRANSFORM__COMPLETED=1, HTTP__COMPLETED=1,
                        WAIT__COMPLETED=2, SET_VARIABLE__COMPLETED=1, FORK__COMPLETED=3, JOIN__COMPLETED=3,
                        x_test_workers_0__COMPLETED=1, x_test_workers_1__COMPLETED=1, x_test_workers_2__COMPLETED=1,
                        SUB_WORKFLOW__COMPLETED=2, DO_WHILE__COMPLETED=1, SWITCH__COMPLETED=1,
                        x_test_worker_1__COMPLETED=2, x_test_worker_2__COMPLETED=1),
                 eq("variables", lambda e: e.variables, {"call_made": True}),
                 eq("sub_flow ran PopulationMinMax v2 (latest)",
                    lambda e: (e.sub_workflow("sub_flow").model.version, e.task("sub_flow").output.get("min"),
                               e.task("sub_flow").output.get("max")), (2, 2693976, 8336817)),
                 inp("dynamic_fork_join", "joinOn", ["_x_test_worker_0_0", "_x_test_worker_0_1", "_x_test_worker_0_2"]),
                 eq("_x_test_worker_0_1 input", lambda e: e.task("_x_test_worker_0_1").input, {"input": 2, "__index": 1}),
                 keys("join_task_y6nux_ref", ["x_test_worker_1_ref", "x_test_workers_2_ref"]),
                 output_of("loop_until_success", "iteration", 1),
                 output_of("fact_length__1", "selectedCase", "LONG"),
                 ok("TERMINATE case unused", lambda e: not any(t.task_type == "TERMINATE" for t in e.tasks)),
                 child("sub_flow_inline", "x_test_worker_2:COMPLETED", "SWITCH:COMPLETED", "x_test_worker_1:COMPLETED",
                       "SUB_WORKFLOW:COMPLETED"),
                 eq("sub_flow_inline_lvl2 child", lambda e: tasks(e.sub_workflow("sub_flow_inline")
                                                                   .sub_workflow("sub_flow_inline_lvl2")),
                    ["x_test_worker_2:COMPLETED"]),
                 keys("fork_join", ["simple_task_5", "sub_flow_inline"]),
                 out({"jq": JQ_OUT, "inner_task": None}),
             )),
        # --- Python SDK loan workflow: 3 chained SIMPLE tasks + an optional 3-iteration DO_WHILE
        Case("calculate_loan_workflow.json", c, "derived DoWhile.java (condition sees $.<ref>['iteration'])",
             input={"userEmail": "user@example.com", "loanAmount": 11000}, workers=_loan_workers,
             checks=(
                 seq("fetch_user_details:COMPLETED", "get_credit_score:COMPLETED", "calculate_loan_amount:COMPLETED",
                     "DO_WHILE:COMPLETED", *["check_phone_number_valid:COMPLETED"] * 3),
                 eq("loop refs", lambda e: [t.ref for t in e.tasks[4:]],
                    [f"check_phone_number_valid__{i}" for i in (1, 2, 3)]),
                 eq("DO_WHILE output", lambda e: sorted(e.task("loop_until_success").output.items()),
                    sorted({"iteration": 3, **{str(i): {"check_phone_number_valid": {
                        "op": f"check_phone_number_valid__{i}.done", "valid": True}} for i in (1, 2, 3)}}.items())),
                 out({"accountNumber": 4567, "creditRating": 769, "authorizedLoanAmount": 11000, "phoneNumberValid": True}),
             )),
        # --- Orkes blog image tutorial (orkes-io/orkesworkers) with fake workers
        Case("image_convert_resize.json", c, "derived ImageConvertResizeWorker.java (orkesworkers outputs), ParametersUtils nested input paths",
             input=IMAGE_INPUT, workers=image_workers, task_defs=IMAGE_DEFS,
             checks=(
                 seq("image_convert_resize:COMPLETED", "upload_toS3:COMPLETED"),
                 eq("convert input", lambda e: e.task("image_convert_resize_ref").input,
                    {"fileLocation": IMAGE_INPUT["fileLocation"], "outputFormat": "jpg", "outputWidth": 300,
                     "outputHeight": 200}),
                 out({"fileLocation": S3_UPLOAD + "image_convert_resize_ref.jpg"}),
             )),
        Case("image_convert_resize.json", "FAILED", "derived DeciderService.retry (TaskDef retryCount 3, FIXED 30 s)",
             variant="convert fails", input=IMAGE_INPUT, task_defs=IMAGE_DEFS,
             workers=lambda: {**image_workers(), "image_convert_resize": _convert_fails},
             checks=(
                 seq(*["image_convert_resize:FAILED"] * 4),
                 eq("retryCount", lambda e: [t.retry_count for t in e.tasks], [0, 1, 2, 3]),
                 eq("retry delays (ms)", lambda e: [b.start_time - a.end_time for a, b in zip(e.tasks, e.tasks[1:], strict=False)],
                    [30_000] * 3),
                 reason_has("convert: no images defined"),
                 out({"fileLocation": None}),
             )),
        Case("image_convert_resize_multipleformat_subworkflow.json", c, "derived SubWorkflow.java (child output merged), orkesworkers workers",
             input=IMAGE_INPUT, workers=image_workers, task_defs=IMAGE_DEFS, workflows=("image_convert_resize.json",),
             checks=(
                 seq("FORK:COMPLETED", "SUB_WORKFLOW:COMPLETED", "image_convert_resize:COMPLETED", "JOIN:COMPLETED",
                     "upload_toS3:COMPLETED"),
                 child("subworkflow_jpg_ref", "image_convert_resize:COMPLETED", "upload_toS3:COMPLETED"),
                 eq("child recipe", lambda e: e.sub_workflow("subworkflow_jpg_ref").input["recipeParameters"],
                    {"outputSize": {"width": 300, "height": 200}, "outputFormat": "jpg"}),
                 keys("image_convert_resize_multipleformat_join_ref", ["subworkflow_jpg_ref", "upload_toS3_webp_ref"]),
                 out({"fileLocationJpg": S3_UPLOAD + "image_convert_resize_ref.jpg",
                      "fileLocationWebp": S3_UPLOAD + "image_convert_resize_webp_ref.webp"}),
             )),
        Case("image_multiple_convert_resize.json", c, "derived ForkJoinDynamicTaskMapper.java form B, Join.java output, orkesworkers workers",
             input={"fileLocation": IMAGE_INPUT["fileLocation"], "outputFormats": ["png", "jpg", "webp"],
                    "outputSizes": [{"width": 1200, "height": 800}, {"width": 600, "height": 400},
                                    {"width": 300, "height": 200}], "maintainAspectRatio": "true"},
             workers=image_workers, task_defs=IMAGE_DEFS,
             checks=(
                 seq("image_multiple_convert_resize:COMPLETED", "FORK:COMPLETED",
                     *["image_convert_resize:COMPLETED"] * 9, "JOIN:COMPLETED"),
                 eq("fileLocations keys", lambda e: sorted(e.output["fileLocations"]),
                    sorted(f"image_convert_resize_{f}_{w}x{h}_{3 * i + j}" for i, f in enumerate(["png", "jpg", "webp"])
                           for j, (w, h) in enumerate([(1200, 800), (600, 400), (300, 200)]))),
                 eq("one fork's output", lambda e: e.output["fileLocations"]["image_convert_resize_webp_600x400_7"],
                    {"fileLocation": S3_OUT + "image_convert_resize_webp_600x400_7.webp", "outputWidth": 600,
                     "outputHeight": 400, "outputFormat": "webp"}),
                 inp("image_convert_resize_png_1200x800_0", "maintainAspectRatio", True),
             )),
        # --- the do_while_timeline_ui_demo fixture is broken on a real server (conductor/SOURCES.md)
        Case("do_while_timeline_ui_demo.json", "FAILED", "derived Inline.java (INLINE sees only its own input as $)",
             note="INLINE reads $.do_while_switch_ref['iteration'] -> JS TypeError, as on a real server",
             checks=(
                 seq("DO_WHILE:CANCELED", "SWITCH:COMPLETED", "INLINE:FAILED_WITH_TERMINAL_ERROR"),
                 output_of("switch_ref__1", "selectedCase", "default"),
                 eq("INLINE", _ui_demo_check, ["FAILED_WITH_TERMINAL_ERROR", True, True]),
                 reason_has("TypeError"),
             )),
        # --- upstream test-harness specs
        Case("simple_set_variable_workflow_integration_test.json", c, "TH SetVariableTaskSpec",
             input={"var": "var_test_value"},
             checks=(seq("SET_VARIABLE:COMPLETED"), eq("variables", lambda e: e.variables, {"var": "var_test_value"}),
                     out({"variables": {"var": "var_test_value"}}))),
        Case("simple_set_variable_workflow_integration_test.json", "FAILED",
             "TH SetVariableTaskSpec (limit = the server default 256 KB, the spec configures 2 KB)",
             variant="over 256 KB", input={"var": "01234567" * (256 * 1024 // 8 + 1)},
             checks=(seq("SET_VARIABLE:FAILED_WITH_TERMINAL_ERROR"), eq("variables", lambda e: e.variables, {}),
                     ok("reason", lambda e: (e.tasks[0].reason or "").startswith("The variables payload size: ")),
                     out({"variables": {}}))),
        Case("simple_json_jq_transform_integration_test.json", c, "TH JsonJQTransformSpec 'succeeds'",
             input={"in1": {"array": ["a", "b"]}, "in2": {"array": ["c", "d"]}},
             checks=(seq("JSON_JQ_TRANSFORM:COMPLETED"), output_of("jq_1", "result", {"out": ["a", "b", "c", "d"]}),
                     output_of("jq_1", "resultList", [{"out": ["a", "b", "c", "d"]}]))),
        Case("simple_json_jq_transform_integration_test.json", "FAILED", "TH JsonJQTransformSpec 'fails'",
             variant="jq error", input={"in1": "a", "in2": "b"},
             checks=(seq("JSON_JQ_TRANSFORM:FAILED"),
                     eq("reason", lambda e: e.tasks[0].reason, 'Cannot index string with string "array"'))),
        Case("simple_workflow_with_sub_workflow_inline_def_integration_test.json", c,
             "TH ExternalPayloadStorageSpec 'subworkflow' (task sequence), derived SubWorkflowTaskMapper.java inline def",
             input=P1, task_defs=HARNESS,
             workers=lambda: integration_workers(
                 integration_task_1=echo(imageType="png"),
                 integration_task_3=lambda task: {"op": f"t3 saw {task.input_data['p1']}"}),
             checks=(
                 seq("integration_task_1:COMPLETED", "SUB_WORKFLOW:COMPLETED", "integration_task_2:COMPLETED"),
                 eq("child input", lambda e: e.sub_workflow("swt").input, {"op": "t1.done", "imageType": "png"}),
                 child("swt", "integration_task_3:COMPLETED"),
                 output_of("swt", "op", "t3 saw png"),
                 out({"o3": "t1.done"}),
             )),
        Case("do_while_integration_test.json", c, "TH DoWhileSpec 'single iteration Do While task'",
             variant="loop=1", input={"loop": 1}, workers=integration_workers, task_defs=HARNESS,
             checks=(seq(*_do_while_loop(1)), output_of("loopTask", "iteration", 1),
                     keys("join__1", ["integration_task_1__1", "integration_task_2__1"]))),
        Case("do_while_integration_test.json", c, "derived DoWhile.java (__N refs, JOIN keys keep the suffix)",
             variant="loop=2", input={"loop": 2}, workers=integration_workers, task_defs=HARNESS,
             checks=(seq(*_do_while_loop(2)), output_of("loopTask", "iteration", 2),
                     keys("join__2", ["integration_task_1__2", "integration_task_2__2"]),
                     eq("loop output keys", lambda e: sorted(e.task("loopTask").output), ["1", "2", "iteration"]))),
        Case("simple_workflow_1_integration_test.json", c, "TH SimpleWorkflowSpec 'completion'",
             input=P1, correlation_id="unit_test_1", task_defs=HARNESS,
             workers=lambda: integration_workers(integration_task_1=lambda task: {"op": "task1.done"}),
             checks=(seq("integration_task_1:COMPLETED", "integration_task_2:COMPLETED"), inp("t2", "tp1", "p1 value"),
                     inp("t2", "tp2", "task1.done"), ok("p3 = CPEWF_TASK_ID", lambda e: e.task("t1").input["p3"] == e.task("t1").task_id),
                     out({"o1": "p1 value", "o2": None, "o3": "task1.done"}))),
        Case("simple_workflow_1_integration_test.json", "FAILED", "TH SimpleWorkflowSpec 'terminal error'",
             variant="terminal error", input=P1, task_defs=HARNESS,
             workers=lambda: integration_workers(integration_task_1=lambda task: TaskResult(
                 status="FAILED_WITH_TERMINAL_ERROR", reason_for_incompletion=TERMINAL,
                 output_data={"TERMINAL_ERROR": TERMINAL, "ErrorMessage": "There was a terminal error"})),
             checks=(seq("integration_task_1:FAILED_WITH_TERMINAL_ERROR"),
                     eq("reason", lambda e: (e.reason or "").replace(e.tasks[0].task_id, "<t1 id>"),
                        f"Task <t1 id> failed with status: FAILED and reason: '{TERMINAL}'"),
                     eq("failedReferenceTaskNames", lambda e: e.failed_reference_task_names, ["t1"]),
                     out({"o1": "p1 value", "o2": None, "o3": None}))),
        Case("simple_workflow_1_integration_test.json", c, "TH SimpleWorkflowSpec 'task retries'",
             variant="retries", input=P1, task_defs=_harness_task_defs(integration_task_2={"retryCount": 3, "retryDelaySeconds": 2}),
             workers=lambda: integration_workers(integration_task_2=_fails_then(2, {"op": "t2.done"})()),
             checks=(seq("integration_task_1:COMPLETED", "integration_task_2:FAILED", "integration_task_2:FAILED",
                         "integration_task_2:COMPLETED"),
                     ok("retriedTaskId links", lambda e: e.tasks[2].retried_task_id == e.tasks[1].task_id
                        and e.tasks[3].retried_task_id == e.tasks[2].task_id),
                     eq("failedReferenceTaskNames", lambda e: e.failed_reference_task_names, ["t2"]))),
        Case("simple_workflow_with_resp_time_out_integration_test.json", c,
             "TH SimpleWorkflowSpec 'response timeout' (IN_PROGRESS + callbackAfterSeconds part)",
             input=P1, task_defs=HARNESS, workers=_in_progress_once,
             checks=(seq("task_rt:COMPLETED", "integration_task_2:COMPLETED"), inp("t2", "tp2", "task_rt.done"),
                     eq("t1 polled twice, 2 s apart", lambda e: (e.task("t1").poll_count,
                                                                 e.task("t1").end_time - e.task("t1").start_time), (2, 2000)),
                     out({"o1": "p1 value", "o2": None, "o3": "task_rt.done"}))),
        Case("fork_join_integration_test.json", c, "TH ForkJoinSpec 'success flow'",
             workers=integration_workers, task_defs=HARNESS,
             checks=(seq("FORK:COMPLETED", "integration_task_1:COMPLETED", "integration_task_2:COMPLETED", "JOIN:COMPLETED",
                         "integration_task_3:COMPLETED", "integration_task_4:COMPLETED"),
                     inp("t1", "p1", "workflow.input.param1"), keys("fanouttask_join", ["t2", "t3"]))),
        Case("fork_join_integration_test.json", "FAILED", "TH ForkJoinSpec 'failure flow'",
             variant="branch fails", task_defs=_harness_task_defs(integration_task_2={"retryCount": 0}),
             workers=lambda: integration_workers(integration_task_2=_fails_then(9, {})()),
             checks=(seq("FORK:COMPLETED", "integration_task_1:COMPLETED", "integration_task_2:FAILED", "JOIN:CANCELED",
                         "integration_task_3:CANCELED"),)),
        Case("dynamic_fork_join_integration_test.json", c, "TH DynamicForkJoinSpec 'success flow'",
             workers=_dyn_fork_worker({"xdt1": {"k1": "v1"}, "xdt2": {"k2": "v2"}}), task_defs=HARNESS,
             checks=(seq("integration_task_1:COMPLETED", "FORK:COMPLETED", "integration_task_2:COMPLETED",
                         "integration_task_3:COMPLETED", "JOIN:COMPLETED", "integration_task_4:COMPLETED"),
                     inp("xdt1", "k1", "v1"), inp("xdt2", "k2", "v2"),
                     inp("dynamicfanouttask_join", "joinOn", ["xdt1", "xdt2"]),
                     eq("JOIN output", lambda e: e.task("dynamicfanouttask_join").output,
                        {"xdt1": {"op": "xdt1.done", "ok1": "ov1"}, "xdt2": {"op": "xdt2.done", "ok1": "ov1"}}))),
        Case("dynamic_fork_join_integration_test.json", "FAILED", "TH DynamicForkJoinSpec 'invalid input'",
             variant="invalid input", workers=_dyn_fork_worker({"xdt1": "v1", "xdt2": "v2"}), task_defs=HARNESS,
             checks=(seq("integration_task_1:COMPLETED"),)),
        Case("cpewf_task_id_dyn_fork_wf.json", "FAILED", "e2e DynamicForkTests.testCorrectTaskIdOnRetries",
             task_defs=(FAIL_ON_PURPOSE,), workers=lambda: {"fail_on_purpose": _fails_then(99, {})()},
             checks=(seq("INLINE:COMPLETED", "FORK:COMPLETED", "fail_on_purpose:FAILED", "JOIN:CANCELED",
                         "fail_on_purpose:FAILED", "fail_on_purpose:FAILED"),
                     ok("task_id == taskId on every attempt", lambda e: all(
                         t.input["task_id"] == t.task_id for t in e.tasks if t.task_type == "fail_on_purpose")))),
        Case("do_while_five_loop_over_integration_test.json", c, "TH DoWhileSpec '2 iterations of five tasks'",
             input={"loop": 2}, workers=integration_workers, task_defs=HARNESS,
             checks=(seq("DO_WHILE:COMPLETED", *("LAMBDA:COMPLETED", "JSON_JQ_TRANSFORM:COMPLETED", "integration_task_1:COMPLETED",
                                                 "JSON_JQ_TRANSFORM:COMPLETED", "integration_task_2:COMPLETED") * 2,
                         "integration_task_3:COMPLETED"),
                     eq("iterations", lambda e: [t.iteration for t in e.tasks],
                        [2, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 0]),  # the DO_WHILE task carries its current iteration
                     output_of("loopTask", "iteration", 2))),
        Case("simple_switch_task_integration_test.json", c, "TH SwitchTaskSpec 'simple switch'",
             input={"param1": "p1", "param2": "p2", "case": "c"}, workers=integration_workers, task_defs=HARNESS,
             checks=(seq("SWITCH:COMPLETED", "integration_task_1:COMPLETED", "integration_task_2:COMPLETED",
                         "integration_task_20:COMPLETED"),)),
        Case("simple_switch_task_integration_test.json", c, "TH SwitchTaskSpec (default case)",
             variant="default", input={"param1": "p1", "param2": "p2", "case": "nope"}, workers=integration_workers,
             task_defs=HARNESS,
             checks=(seq("SWITCH:COMPLETED", "integration_task_5:COMPLETED", "integration_task_20:COMPLETED"),)),
        Case("exclusive_join_integration_test.json", c, "TH ExclusiveJoinSpec 'default decision'",
             input={"decision_1": "null"}, task_defs=HARNESS,
             workers=lambda: integration_workers(integration_task_1=lambda task: {"taskReferenceName": "task1"}),
             checks=(seq("integration_task_1:COMPLETED", "DECISION:COMPLETED", "EXCLUSIVE_JOIN:COMPLETED"),
                     output_of("exclusiveJoin", "taskReferenceName", "task1"))),
        Case("terminate_task_completed_workflow_integration_test.json", c, "TH LambdaAndTerminateTaskSpec 'completed'",
             input={"a": 1}, workers=integration_workers, task_defs=HARNESS,
             checks=(seq("LAMBDA:COMPLETED", "TERMINATE:COMPLETED"), reason_has("Workflow is COMPLETED by TERMINATE task"),
                     out({"result": {"testvalue": True}}))),
        Case("terminate_task_failed_workflow_integration.json", "FAILED", "TH LambdaAndTerminateTaskSpec 'failed'",
             input={"a": 1}, correlation_id="testId", workers=integration_workers, task_defs=HARNESS,
             workflows=("failure_workflow_for_terminate_task_workflow.json",),
             checks=(seq("LAMBDA:COMPLETED", "TERMINATE:COMPLETED"), eq("reason", lambda e: e.reason, "Early exit in terminate"),
                     eq("failure workflow", _failure_workflow,
                        ["COMPLETED", ["LAMBDA:COMPLETED"], "testId", True, True, True]))),
        Case("failure_workflow_for_terminate_task_workflow.json", c, "derived Lambda.java, DeciderService.updateWorkflowOutput",
             input={"a": 1}, checks=(seq("LAMBDA:COMPLETED"), out({"result": {"testvalue": True}}))),
    )
    # fmt: on


def _failure_workflow(e: Execution) -> list[Any]:
    failure = e.execution(e.output["conductor.failure_workflow"])
    data = failure.input
    return [
        str(failure.status),
        tasks(failure),
        failure.model.correlation_id,
        data.get("workflowId") == e.workflow_id,
        data.get("failureTaskId") == e.task("terminate0").task_id,
        "failedWorkflow" in data,
    ]


CASES = _cases()
