"""Frozen definition values: WorkflowDef, WorkflowTask, TaskDef, SubWorkflowParam.

These are plain data. JSON in and out lives in :mod:`flowkit.definitions._wire`; the checks in
:mod:`flowkit.definitions._validate`. JSON-valued fields (``input_parameters`` and friends) hold
plain dicts that flowkit never mutates; copy them before changing anything.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from flowkit.definitions._types import RetryLogic, TimeoutPolicy

__all__ = ["SubWorkflowParam", "TaskDef", "WorkflowDef", "WorkflowTask"]

JSON = Any
_EMPTY: Mapping[str, Any] = {}


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskDef:
    """A registered task definition: retry, timeout and rate-limit policy for tasks of one name."""

    name: str
    """The task definition name (worker queue name for SIMPLE tasks)."""
    description: str | None = None
    """Free text."""
    retry_count: int = 3
    """Retries after the first attempt (attempts = retry_count + 1)."""
    retry_logic: str = RetryLogic.FIXED
    """FIXED, LINEAR_BACKOFF or EXPONENTIAL_BACKOFF."""
    retry_delay_seconds: int = 60
    """Base delay before a retry."""
    backoff_scale_factor: int = 1
    """Multiplier used only by LINEAR_BACKOFF."""
    max_retry_delay_seconds: int = 0
    """Cap on the computed delay; 0 means no cap."""
    backoff_jitter_ms: int = 0
    """Adds a uniform random 0..N ms to each delay."""
    timeout_seconds: int = 0
    """Per-attempt limit once started; 0 means none."""
    response_timeout_seconds: int = 3600
    """Time an IN_PROGRESS attempt may go without an update."""
    poll_timeout_seconds: int | None = None
    """Time a SCHEDULED attempt may wait to be picked up."""
    total_timeout_seconds: int = 0
    """Budget across all attempts; 0 means none."""
    timeout_policy: str = TimeoutPolicy.TIME_OUT_WF
    """RETRY, TIME_OUT_WF or ALERT_ONLY."""
    concurrent_exec_limit: int | None = None
    """Most attempts of this name IN_PROGRESS at once; None or 0 means unlimited."""
    rate_limit_per_frequency: int | None = None
    """Most attempts handed to workers per window; None or 0 means unlimited."""
    rate_limit_frequency_in_seconds: int | None = None
    """The rate-limit window (Conductor's default is 1 s)."""
    input_keys: tuple[str, ...] = ()
    """Documentation only."""
    output_keys: tuple[str, ...] = ()
    """Documentation only."""
    input_template: Mapping[str, JSON] = field(default_factory=dict)
    """Default task input, merged put-if-absent before resolution."""
    owner_email: str | None = None
    """Owner contact."""
    extra: Mapping[str, JSON] = field(default_factory=dict)
    """Wire fields flowkit does not model, kept for the round trip."""
    wire_keys: tuple[str, ...] = ()
    """Keys present in the JSON this came from, in order (for an exact round trip)."""

    @classmethod
    def from_json(cls, source: str | bytes | Path | Mapping[str, JSON]) -> TaskDef:
        """Load Conductor TaskDef JSON (text, a path, or a parsed dict)."""
        from flowkit.definitions._wire import task_def_from_json

        return task_def_from_json(source)

    def to_json(self) -> dict[str, JSON]:
        """Conductor's wire JSON as a dict."""
        from flowkit.definitions._wire import task_def_to_json

        return task_def_to_json(self)

    def to_json_text(self, *, indent: int | None = 2) -> str:
        """Conductor's wire JSON as text."""
        import json

        return json.dumps(self.to_json(), indent=indent)

    def evolve(self, **changes: Any) -> TaskDef:
        """A copy with ``changes`` applied."""
        return replace(self, **changes)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        from flowkit.render import repr_mimebundle

        return repr_mimebundle(self, include, exclude)


@dataclass(frozen=True, slots=True, kw_only=True)
class SubWorkflowParam:
    """Which workflow a SUB_WORKFLOW task starts: by name and version, or an inline definition."""

    name: str | None = None
    """Child workflow name."""
    version: int | None = None
    """Child version; None means the latest registered."""
    workflow_definition: WorkflowDef | str | None = None
    """An inline child definition, or a ``${...}`` expression that yields one."""
    task_to_domain: Mapping[str, str] | None = None
    """Kept for Conductor compatibility."""
    idempotency_key: str | None = None
    """Kept for Conductor compatibility."""
    idempotency_strategy: str | None = None
    """Kept for Conductor compatibility."""
    priority: JSON = None
    """Kept for Conductor compatibility."""
    extra: Mapping[str, JSON] = field(default_factory=dict)
    """Wire fields flowkit does not model."""
    wire_keys: tuple[str, ...] = ()
    """Keys present in the source JSON."""


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkflowTask:
    """One step of a workflow definition (Conductor's ``WorkflowTask``)."""

    name: str
    """Task definition name (the worker's name for SIMPLE)."""
    task_reference_name: str
    """Unique reference inside the workflow."""
    type: str = "SIMPLE"
    """Task type; unknown strings are USER_DEFINED."""
    description: str | None = None
    """Free text."""
    input_parameters: Mapping[str, JSON] = field(default_factory=dict)
    """Input, with ``${...}`` expressions resolved at schedule time."""
    optional: bool = False
    """A failure after retries ends COMPLETED_WITH_ERRORS and the workflow goes on."""
    permissive: bool = False
    """A failure does not stop siblings; the JOIN or workflow fails once all are terminal."""
    start_delay: int = 0
    """Seconds before the first attempt may start."""
    async_complete: bool = False
    """A system task stays IN_PROGRESS until completed from outside."""
    retry_count: int | None = None
    """Overrides the task definition's retry_count when set."""
    task_definition: TaskDef | None = None
    """An inline task definition."""
    decision_cases: Mapping[str, tuple[WorkflowTask, ...]] = field(default_factory=dict)
    """SWITCH/DECISION branches by case value."""
    default_case: tuple[WorkflowTask, ...] = ()
    """SWITCH/DECISION default branch."""
    evaluator_type: str | None = None
    """SWITCH/INLINE evaluator: value-param, javascript or graaljs."""
    expression: str | None = None
    """SWITCH expression: an input key (value-param) or a script."""
    case_value_param: str | None = None
    """DECISION: input key holding the case."""
    case_expression: str | None = None
    """DECISION: a JavaScript case expression."""
    script_expression: str | None = None
    """LAMBDA (kept; Conductor reads it from the input)."""
    fork_tasks: tuple[tuple[WorkflowTask, ...], ...] = ()
    """FORK_JOIN branches."""
    join_on: tuple[str, ...] = ()
    """JOIN / EXCLUSIVE_JOIN: references to wait for."""
    default_exclusive_join_task: tuple[str, ...] = ()
    """EXCLUSIVE_JOIN fallbacks."""
    join_mode: str | None = None
    """JOIN: SYNC or ASYNC (no difference in flowkit: joins are event driven)."""
    dynamic_fork_tasks_param: str | None = None
    """FORK_JOIN_DYNAMIC: input key holding the task list."""
    dynamic_fork_tasks_input_param_name: str | None = None
    """FORK_JOIN_DYNAMIC: input key holding ref -> input map."""
    dynamic_fork_join_tasks_param: str | None = None
    """FORK_JOIN_DYNAMIC legacy form."""
    dynamic_task_name_param: str | None = None
    """DYNAMIC: input key holding the task name to run."""
    loop_condition: str | None = None
    """DO_WHILE: JavaScript condition evaluated after each iteration."""
    loop_over: tuple[WorkflowTask, ...] = ()
    """DO_WHILE: the loop body."""
    items: JSON = None
    """DO_WHILE list mode: the list (or expression) to iterate."""
    sub_workflow_param: SubWorkflowParam | None = None
    """SUB_WORKFLOW: the child."""
    sink: str | None = None
    """EVENT: where to publish."""
    extra: Mapping[str, JSON] = field(default_factory=dict)
    """Wire fields flowkit does not model, kept for the round trip."""
    wire_keys: tuple[str, ...] = ()
    """Keys present in the source JSON."""

    def children(self) -> Iterator[WorkflowTask]:
        """Direct nested tasks (fork branches, switch cases, loop body, inline sub-workflow excluded)."""
        for branch in self.fork_tasks:
            yield from branch
        for case in self.decision_cases.values():
            yield from case
        yield from self.default_case
        yield from self.loop_over

    def walk(self) -> Iterator[WorkflowTask]:
        """This task and every nested task, depth first, in definition order."""
        yield self
        for child in self.children():
            yield from child.walk()

    def evolve(self, **changes: Any) -> WorkflowTask:
        """A copy with ``changes`` applied."""
        return replace(self, **changes)


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkflowDef:
    """A workflow definition (Conductor's ``WorkflowDef``)."""

    name: str
    """Workflow name; with ``version`` it is the key."""
    tasks: tuple[WorkflowTask, ...]
    """Top-level task sequence."""
    version: int = 1
    """Version number."""
    description: str | None = None
    """Free text."""
    input_parameters: tuple[str, ...] = ()
    """Documentation only."""
    output_parameters: Mapping[str, JSON] = field(default_factory=dict)
    """Workflow output, resolved when the workflow ends."""
    failure_workflow: str | None = None
    """Workflow started when this one ends unsuccessfully."""
    failure_workflow_version: int | None = None
    """Its version (None = latest)."""
    schema_version: int = 2
    """Must be 2."""
    restartable: bool = True
    """When False a COMPLETED execution cannot be restarted."""
    workflow_status_listener_enabled: bool = False
    """Kept for Conductor compatibility."""
    owner_email: str | None = None
    """Owner contact."""
    timeout_policy: str = TimeoutPolicy.ALERT_ONLY
    """TIME_OUT_WF or ALERT_ONLY."""
    timeout_seconds: int = 0
    """Workflow time limit; 0 means none."""
    variables: Mapping[str, JSON] = field(default_factory=dict)
    """Initial ``workflow.variables``."""
    input_template: Mapping[str, JSON] = field(default_factory=dict)
    """Default input, merged put-if-absent at start."""
    extra: Mapping[str, JSON] = field(default_factory=dict)
    """Wire fields flowkit does not model, kept for the round trip."""
    wire_keys: tuple[str, ...] = ()
    """Keys present in the source JSON."""

    @classmethod
    def from_json(cls, source: str | bytes | Path | Mapping[str, JSON]) -> WorkflowDef:
        """Load Conductor WorkflowDef JSON (text, a path, or a parsed dict).

        Raises:
            DefinitionError: listing every structural problem found.
        """
        from flowkit.definitions._wire import workflow_def_from_json

        return workflow_def_from_json(source)

    def to_json(self) -> dict[str, JSON]:
        """Conductor's wire JSON as a dict."""
        from flowkit.definitions._wire import workflow_def_to_json

        return workflow_def_to_json(self)

    def to_json_text(self, *, indent: int | None = 2) -> str:
        """Conductor's wire JSON as text."""
        import json

        return json.dumps(self.to_json(), indent=indent)

    def validate(self, *, task_defs: Mapping[str, TaskDef] = _EMPTY, workflows: Any = None) -> WorkflowDef:
        """Check the definition (Conductor's ``WorkflowDef``/``WorkflowTask`` constraints); return self.

        Args:
            task_defs: Registered task definitions by name (their limits are checked too).
            workflows: The workflow definitions sub-workflows are started from (WorkflowDefs or the
                engine's Registry), to report a cycle of sub-workflows. Without it, only a workflow
                that starts itself by name is reported.

        Raises:
            DefinitionError: listing every problem, each with its task ref and the fix.
        """
        from flowkit.definitions._validate import validate_workflow

        validate_workflow(self, task_defs=task_defs, workflows=workflows)
        return self

    def all_tasks(self) -> Iterator[WorkflowTask]:
        """Every task, nested ones included, depth first."""
        for task in self.tasks:
            yield from task.walk()

    def task(self, ref: str) -> WorkflowTask:
        """The task with reference ``ref``.

        Raises:
            NotFoundError: when no task has that reference.
        """
        for task in self.all_tasks():
            if task.task_reference_name == ref:
                return task
        from flowkit.errors import NotFoundError

        raise NotFoundError(f"workflow '{self.name}' has no task with reference '{ref}'")

    def evolve(self, **changes: Any) -> WorkflowDef:
        """A copy with ``changes`` applied."""
        return replace(self, **changes)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        from flowkit.render import repr_mimebundle

        return repr_mimebundle(self, include, exclude)
