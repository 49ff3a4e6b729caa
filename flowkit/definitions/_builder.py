"""Authoring in Python with the Conductor SDK's vocabulary; produces the same WorkflowDef as JSON.

wf = WorkflowBuilder("images") >> resize(task_ref_name="resize", fileLocation=wf.input("file"))
wf >> [[to_jpg, upload_jpg], [to_webp, upload_webp]]      # FORK_JOIN + automatic JOIN
wf.output_parameter("url", upload_jpg.output("fileLocation"))
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from flowkit.definitions._model import SubWorkflowParam, TaskDef, WorkflowDef, WorkflowTask

__all__ = [
    "DecisionTask",
    "DoWhileTask",
    "DynamicForkTask",
    "DynamicTask",
    "EventTask",
    "ExclusiveJoinTask",
    "ForkTask",
    "HttpTask",
    "HumanTask",
    "InlineTask",
    "JoinTask",
    "JsonJQTask",
    "LambdaTask",
    "LoopTask",
    "NoopTask",
    "SetVariableTask",
    "SimpleTask",
    "StartWorkflowTask",
    "SubWorkflowTask",
    "SwitchTask",
    "TaskBuilder",
    "TerminateTask",
    "WaitTask",
    "WorkflowBuilder",
]


class TaskBuilder:
    """Base of every task builder: a type, a reference, inputs and common options."""

    task_type = "SIMPLE"

    def __init__(
        self,
        task_reference_name: str,
        *,
        name: str | None = None,
        input_parameters: Mapping[str, Any] | None = None,
        description: str | None = None,
        optional: bool = False,
        permissive: bool = False,
        start_delay: int = 0,
        retry_count: int | None = None,
        task_definition: TaskDef | None = None,
        async_complete: bool = False,
    ) -> None:
        self.task_reference_name = task_reference_name
        self.name = name or task_reference_name
        self.input_parameters: dict[str, Any] = dict(input_parameters or {})
        self.description = description
        self.optional = optional
        self.permissive = permissive
        self.start_delay = start_delay
        self.retry_count = retry_count
        self.task_definition = task_definition
        self.async_complete = async_complete

    def input_parameter(self, key: str, value: Any) -> TaskBuilder:
        """Set one input; returns self for chaining."""
        self.input_parameters[key] = value
        return self

    def output(self, path: str | None = None) -> str:
        """``${ref.output.path}`` (the whole output without a path)."""
        return f"${{{self.task_reference_name}.output{'.' + path if path else ''}}}"

    def input(self, path: str | None = None) -> str:
        """``${ref.input.path}``."""
        return f"${{{self.task_reference_name}.input{'.' + path if path else ''}}}"

    def _fields(self) -> dict[str, Any]:
        return {}

    def to_workflow_tasks(self) -> list[WorkflowTask]:
        """The WorkflowTask(s) this builder stands for."""
        return [
            WorkflowTask(
                name=self.name,
                task_reference_name=self.task_reference_name,
                type=self.task_type,
                description=self.description,
                input_parameters=dict(self.input_parameters),
                optional=self.optional,
                permissive=self.permissive,
                start_delay=self.start_delay,
                retry_count=self.retry_count,
                task_definition=self.task_definition,
                async_complete=self.async_complete,
                **self._fields(),
            )
        ]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.task_reference_name!r})"


def _tasks(items: Any) -> tuple[WorkflowTask, ...]:
    if isinstance(items, TaskBuilder | WorkflowTask):
        items = [items]
    out: list[WorkflowTask] = []
    for item in items:
        out.extend([item] if isinstance(item, WorkflowTask) else item.to_workflow_tasks())
    return tuple(out)


class SimpleTask(TaskBuilder):
    """A task done by a worker of ``task_def_name``."""

    def __init__(self, task_def_name: str, task_reference_name: str, **kwargs: Any) -> None:
        super().__init__(task_reference_name, name=task_def_name, **kwargs)


class DynamicTask(TaskBuilder):
    """DYNAMIC: the task name comes from input ``dynamic_task_param``."""

    task_type = "DYNAMIC"

    def __init__(
        self, dynamic_task: str, task_reference_name: str, dynamic_task_param: str = "taskToExecute", **kwargs: Any
    ) -> None:
        super().__init__(task_reference_name, **kwargs)
        self.input_parameters[dynamic_task_param] = dynamic_task
        self.param = dynamic_task_param

    def _fields(self) -> dict[str, Any]:
        return {"dynamic_task_name_param": self.param}


class ForkTask(TaskBuilder):
    """FORK_JOIN over ``forked_tasks`` branches; a JOIN is added when ``join_on`` is given."""

    task_type = "FORK_JOIN"

    def __init__(
        self, task_reference_name: str, forked_tasks: Sequence[Any], join_on: Sequence[str] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(task_reference_name, **kwargs)
        self.branches = [_tasks(b if isinstance(b, list | tuple) else [b]) for b in forked_tasks]
        self.join_on = list(join_on) if join_on is not None else None

    def _fields(self) -> dict[str, Any]:
        return {"fork_tasks": tuple(self.branches)}

    def to_workflow_tasks(self) -> list[WorkflowTask]:
        tasks = super().to_workflow_tasks()
        if self.join_on is not None:
            tasks += JoinTask(f"{self.task_reference_name}_join", join_on=self.join_on).to_workflow_tasks()
        return tasks


class JoinTask(TaskBuilder):
    """JOIN: waits for ``join_on``."""

    task_type = "JOIN"

    def __init__(self, task_reference_name: str, join_on: Sequence[str] | None = None, **kwargs: Any) -> None:
        super().__init__(task_reference_name, **kwargs)
        self.join_on = tuple(join_on or ())

    def _fields(self) -> dict[str, Any]:
        return {"join_on": self.join_on}


class SwitchTask(TaskBuilder):
    """SWITCH on ``case_expression``: an input value (value-param) or JavaScript (``evaluator_type``: graaljs or javascript)."""

    task_type = "SWITCH"

    def __init__(
        self,
        task_reference_name: str,
        case_expression: str,
        use_javascript: bool = False,
        evaluator_type: str = "graaljs",
        **kwargs: Any,
    ) -> None:
        super().__init__(task_reference_name, **kwargs)
        self.use_javascript = use_javascript
        self.evaluator_type = evaluator_type
        self.case_expression = case_expression
        if not use_javascript:
            self.input_parameters["switchCaseValue"] = case_expression
        self.cases: dict[str, tuple[WorkflowTask, ...]] = {}
        self.default: tuple[WorkflowTask, ...] = ()

    def switch_case(self, value: Any, tasks: Any) -> SwitchTask:
        """Add the branch for ``value``."""
        self.cases[str(value)] = _tasks(tasks)
        return self

    def default_case(self, tasks: Any) -> SwitchTask:
        """Set the default branch."""
        self.default = _tasks(tasks)
        return self

    def _fields(self) -> dict[str, Any]:
        return {
            "evaluator_type": self.evaluator_type if self.use_javascript else "value-param",
            "expression": self.case_expression if self.use_javascript else "switchCaseValue",
            "decision_cases": dict(self.cases),
            "default_case": self.default,
        }


class DecisionTask(SwitchTask):
    """DECISION (legacy SWITCH): the case is input ``case_value_param`` or the JavaScript ``case_expression``."""

    task_type = "DECISION"

    def __init__(
        self,
        task_reference_name: str,
        case_value_param: str | None = None,
        case_expression: str | None = None,
        **kwargs: Any,
    ) -> None:
        TaskBuilder.__init__(self, task_reference_name, **kwargs)
        self.case_value_param = case_value_param
        self.case_script = case_expression
        self.cases = {}
        self.default = ()

    def _fields(self) -> dict[str, Any]:
        return {
            "case_value_param": self.case_value_param,
            "case_expression": self.case_script,
            "decision_cases": dict(self.cases),
            "default_case": self.default,
        }


class DoWhileTask(TaskBuilder):
    """DO_WHILE ``tasks`` while the JavaScript ``termination_condition`` holds."""

    task_type = "DO_WHILE"

    def __init__(self, task_reference_name: str, termination_condition: str, tasks: Any, **kwargs: Any) -> None:
        super().__init__(task_reference_name, **kwargs)
        self.condition = termination_condition
        self.loop = _tasks(tasks)

    def _fields(self) -> dict[str, Any]:
        return {"loop_condition": self.condition, "loop_over": self.loop}


class LoopTask(DoWhileTask):
    """DO_WHILE that runs ``iterations`` times."""

    def __init__(self, task_ref_name: str, iterations: int, tasks: Any, **kwargs: Any) -> None:
        super().__init__(
            task_ref_name,
            f"if ( $.{task_ref_name}['iteration'] < {iterations} ) {{ true; }} else {{ false; }}",
            tasks,
            **kwargs,
        )


class DynamicForkTask(TaskBuilder):
    """FORK_JOIN_DYNAMIC plus its JOIN.

    Form B names the inputs holding the task list and their inputs (``tasks_param``,
    ``tasks_input_param_name``); with both None it is the ``forkTaskName``/``forkTaskInputs`` form,
    whose keys go in ``input_parameters``.
    """

    task_type = "FORK_JOIN_DYNAMIC"

    def __init__(
        self,
        task_reference_name: str,
        tasks_param: str | None = "dynamicTasks",
        tasks_input_param_name: str | None = "dynamicTasksInput",
        **kwargs: Any,
    ) -> None:
        super().__init__(task_reference_name, **kwargs)
        self.tasks_param = tasks_param
        self.tasks_input_param_name = tasks_input_param_name

    def _fields(self) -> dict[str, Any]:
        return {
            "dynamic_fork_tasks_param": self.tasks_param,
            "dynamic_fork_tasks_input_param_name": self.tasks_input_param_name,
        }

    def to_workflow_tasks(self) -> list[WorkflowTask]:
        return super().to_workflow_tasks() + JoinTask(f"{self.task_reference_name}_join").to_workflow_tasks()


class ExclusiveJoinTask(TaskBuilder):
    """EXCLUSIVE_JOIN: the output of the first of ``join_on`` that ran, else of ``default_exclusive_join_task``."""

    task_type = "EXCLUSIVE_JOIN"

    def __init__(
        self,
        task_reference_name: str,
        join_on: Sequence[str],
        default_exclusive_join_task: Sequence[str] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(task_reference_name, **kwargs)
        self.join_on = tuple(join_on)
        self.default_exclusive_join_task = tuple(default_exclusive_join_task)

    def _fields(self) -> dict[str, Any]:
        return {"join_on": self.join_on, "default_exclusive_join_task": self.default_exclusive_join_task}


class SubWorkflowTask(TaskBuilder):
    """SUB_WORKFLOW by name and version, or with an inline definition (``workflow=``)."""

    task_type = "SUB_WORKFLOW"

    def __init__(
        self,
        task_ref_name: str,
        workflow_name: str | None = None,
        version: int | None = None,
        workflow: Any = None,
        **kwargs: Any,
    ) -> None:
        definition = workflow.to_workflow_def() if hasattr(workflow, "to_workflow_def") else workflow
        name = workflow_name or (definition.name if definition is not None else task_ref_name)
        super().__init__(task_ref_name, name=name, **kwargs)
        self.param = SubWorkflowParam(
            name=name, version=version if definition is None else definition.version, workflow_definition=definition
        )

    def _fields(self) -> dict[str, Any]:
        return {"sub_workflow_param": self.param}


class _System(TaskBuilder):
    def __init__(self, task_reference_name: str, **kwargs: Any) -> None:
        kwargs.setdefault("name", task_reference_name)
        super().__init__(task_reference_name, **kwargs)


class SetVariableTask(_System):
    """SET_VARIABLE: every input becomes ``workflow.variables.<key>``."""

    task_type = "SET_VARIABLE"


class NoopTask(_System):
    """NOOP."""

    task_type = "NOOP"


class HumanTask(_System):
    """HUMAN: waits until completed from outside."""

    task_type = "HUMAN"


class TerminateTask(_System):
    """TERMINATE the workflow with ``status``."""

    task_type = "TERMINATE"

    def __init__(
        self,
        task_ref_name: str,
        status: str,
        termination_reason: str | None = None,
        workflow_output: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(task_ref_name, **kwargs)
        self.input_parameters["terminationStatus"] = str(getattr(status, "value", status))
        if termination_reason is not None:
            self.input_parameters["terminationReason"] = termination_reason
        if workflow_output is not None:
            self.input_parameters["workflowOutput"] = workflow_output


class InlineTask(_System):
    """INLINE JavaScript (``evaluatorType: graaljs``); ``$`` is the task input."""

    task_type = "INLINE"

    def __init__(
        self, task_ref_name: str, script: str, bindings: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(task_ref_name, **kwargs)
        self.input_parameters.update(bindings or {})
        self.input_parameters["evaluatorType"] = "graaljs"
        self.input_parameters["expression"] = script


class LambdaTask(_System):
    """LAMBDA (legacy): ``scriptExpression`` with ``return``."""

    task_type = "LAMBDA"

    def __init__(self, task_ref_name: str, script: str, **kwargs: Any) -> None:
        super().__init__(task_ref_name, **kwargs)
        self.input_parameters["scriptExpression"] = script


class JsonJQTask(_System):
    """JSON_JQ_TRANSFORM with jq program ``script``."""

    task_type = "JSON_JQ_TRANSFORM"

    def __init__(self, task_ref_name: str, script: str, **kwargs: Any) -> None:
        super().__init__(task_ref_name, **kwargs)
        self.input_parameters["queryExpression"] = script


class WaitTask(_System):
    """WAIT for ``wait_for_seconds`` or until ``wait_until`` (``yyyy-MM-dd HH:mm``)."""

    task_type = "WAIT"

    def __init__(
        self, task_ref_name: str, wait_until: str | None = None, wait_for_seconds: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(task_ref_name, **kwargs)
        if wait_for_seconds is not None:
            self.input_parameters["duration"] = f"{wait_for_seconds}s"
        if wait_until is not None:
            self.input_parameters["until"] = wait_until


class HttpTask(_System):
    """HTTP call described by ``http_input`` (uri, method, headers, body, ...)."""

    task_type = "HTTP"

    def __init__(self, task_ref_name: str, http_input: Mapping[str, Any], **kwargs: Any) -> None:
        super().__init__(task_ref_name, **kwargs)
        self.input_parameters["http_request"] = {"method": "GET", **dict(http_input)}


class EventTask(_System):
    """EVENT published to ``sink``."""

    task_type = "EVENT"

    def __init__(self, task_ref_name: str, sink: str = "conductor", **kwargs: Any) -> None:
        super().__init__(task_ref_name, **kwargs)
        self.sink = sink

    def _fields(self) -> dict[str, Any]:
        return {"sink": self.sink}


class StartWorkflowTask(_System):
    """START_WORKFLOW: fire and forget."""

    task_type = "START_WORKFLOW"

    def __init__(
        self,
        task_ref_name: str,
        workflow_name: str,
        start_workflow_request: Mapping[str, Any] | None = None,
        version: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(task_ref_name, **kwargs)
        request = {"name": workflow_name, **dict(start_workflow_request or {})}
        if version is not None:
            request["version"] = version
        self.input_parameters["startWorkflow"] = request


class WorkflowBuilder:
    """Build a workflow step by step: ``wf >> task``, ``wf >> [[a, b], [c]]`` (fork + JOIN)."""

    def __init__(self, name: str, version: int = 1, description: str | None = None) -> None:
        self.name = name
        self.version = version
        self.description = description
        self.tasks: list[WorkflowTask] = []
        self._options: dict[str, Any] = {}
        self._outputs: dict[str, Any] = {}
        self._forks = 0

    def add(self, task: Any) -> WorkflowBuilder:
        """Append a task, a list of tasks run in sequence, or a nested builder (inline SUB_WORKFLOW)."""
        if isinstance(task, WorkflowBuilder):
            task = SubWorkflowTask(f"{task.name}_subworkflow_ref", workflow=task)
        if isinstance(task, list | tuple) and task and all(isinstance(b, list | tuple) for b in task):
            return self._fork(task)
        self.tasks.extend(_tasks(task))
        return self

    def __rshift__(self, other: Any) -> WorkflowBuilder:
        if isinstance(other, list | tuple) and any(isinstance(b, list | tuple) for b in other):
            return self._fork(other)
        return self.add(other)

    def _fork(self, branches: Iterable[Any]) -> WorkflowBuilder:
        self._forks += 1
        ref = f"fork_{self._forks}"
        fork = ForkTask(ref, list(branches))
        join_on = [b[-1].task_reference_name for b in fork.branches if b]
        self.tasks.extend(fork.to_workflow_tasks())
        self.tasks.extend(JoinTask(f"join_{ref}", join_on=join_on).to_workflow_tasks())
        return self

    def input(self, path: str | None = None) -> str:
        """``${workflow.input.path}``."""
        return f"${{workflow.input{'.' + path if path else ''}}}"

    def output(self, path: str | None = None) -> str:
        """``${workflow.output.path}``."""
        return f"${{workflow.output{'.' + path if path else ''}}}"

    def output_parameter(self, key: str, value: Any) -> WorkflowBuilder:
        """Set one workflow output parameter."""
        self._outputs[key] = value
        return self

    def output_parameters(self, values: Mapping[str, Any]) -> WorkflowBuilder:
        """Set the workflow output parameters."""
        self._outputs = dict(values)
        return self

    def _set(self, key: str, value: Any) -> WorkflowBuilder:
        self._options[key] = value
        return self

    def variables(self, values: Mapping[str, Any]) -> WorkflowBuilder:
        """Initial ``workflow.variables``."""
        return self._set("variables", dict(values))

    def input_template(self, values: Mapping[str, Any]) -> WorkflowBuilder:
        """Default workflow input."""
        return self._set("input_template", dict(values))

    def input_parameters(self, names: Iterable[str]) -> WorkflowBuilder:
        """Documented input names."""
        return self._set("input_parameters", tuple(names))

    def timeout_seconds(self, seconds: int) -> WorkflowBuilder:
        """Workflow time limit (0 = none; unlike the Conductor SDK, flowkit does not default to 60)."""
        return self._set("timeout_seconds", seconds)

    def timeout_policy(self, policy: str) -> WorkflowBuilder:
        """TIME_OUT_WF or ALERT_ONLY."""
        return self._set("timeout_policy", str(getattr(policy, "value", policy)))

    def failure_workflow(self, name: str) -> WorkflowBuilder:
        """Workflow started when this one fails."""
        return self._set("failure_workflow", name)

    def restartable(self, value: bool) -> WorkflowBuilder:
        """Whether COMPLETED executions may be restarted."""
        return self._set("restartable", value)

    def owner_email(self, email: str) -> WorkflowBuilder:
        """Owner contact."""
        return self._set("owner_email", email)

    def to_workflow_def(self) -> WorkflowDef:
        """The frozen WorkflowDef."""
        return WorkflowDef(
            name=self.name,
            version=self.version,
            description=self.description,
            tasks=tuple(self.tasks),
            output_parameters=dict(self._outputs),
            **self._options,
        )

    def to_json(self) -> dict[str, Any]:
        """Conductor JSON."""
        return self.to_workflow_def().to_json()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        from flowkit.render import repr_mimebundle

        return repr_mimebundle(self, include, exclude)
