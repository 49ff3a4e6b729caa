"""The task types the step-by-step builder offers, and how :class:`flowkit.WorkflowBuilder` makes each.

The catalogue (templates, forms, settings) and the checks of a type's setting and input live here,
next to :func:`calls`, which describes the builder calls for one task. A :class:`Plan` is those calls
for a whole workflow, described once and used twice: evaluated, it is the builder model's
WorkflowDef; printed, it is the exported Python code. Because both come from the same calls, the
exported code builds exactly the definition shown.
"""

from __future__ import annotations

import copy
import dataclasses
import keyword
import re
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flowkit.errors import InputError

if TYPE_CHECKING:
    from flowkit.notebook.builder._steps import _Node as Node

__all__ = [
    "CASES",
    "KNOWN_OUTPUTS",
    "MODES",
    "SETTINGS",
    "SYSTEM_TYPES",
    "TEMPLATES",
    "Call",
    "Plan",
    "WorkerField",
    "calls",
    "check_inputs",
    "default_setting",
    "exclusive_join_lists",
    "names_list",
    "normal_mode",
    "normal_setting",
    "outputs_of",
    "sequence",
    "setting_spec",
    "worker_fields",
    "worker_name",
    "worker_template",
]

SYSTEM_TYPES: tuple[str, ...] = (
    "NOOP",
    "INLINE",
    "JSON_JQ_TRANSFORM",
    "SET_VARIABLE",
    "HUMAN",
    "WAIT",
    "HTTP",
    "TERMINATE",
    "SWITCH",
    "DECISION",
    "FORK_JOIN",
    "FORK_JOIN_DYNAMIC",
    "DO_WHILE",
    "SUB_WORKFLOW",
    "START_WORKFLOW",
    "DYNAMIC",
    "EXCLUSIVE_JOIN",
    "EVENT",
    "LAMBDA",
)
"""System task types the builder offers (SIMPLE tasks come from the registered workers)."""

TEMPLATES: dict[str, dict[str, Any]] = {
    "INLINE": {"evaluatorType": "graaljs", "expression": "(function () { return $.value; })()", "value": ""},
    "JSON_JQ_TRANSFORM": {"queryExpression": ".", "value": ""},
    "SET_VARIABLE": {"name": ""},
    "WAIT": {"duration": "1s"},
    "HTTP": {"http_request": {"uri": "http://127.0.0.1:8080/", "method": "GET"}},
    "TERMINATE": {"terminationStatus": "COMPLETED", "workflowOutput": {}},
    "LAMBDA": {"scriptExpression": "return {value: $.value};", "value": ""},
    "DYNAMIC": {"taskToExecute": ""},
    "FORK_JOIN_DYNAMIC": {"dynamicTasks": "", "dynamicTasksInput": ""},
    "FORK_JOIN_DYNAMIC:forkTaskInputs": {"forkTaskName": "", "forkTaskInputs": ""},
    "DECISION": {"case": ""},
    "SWITCH:javascript": {"case": ""},
    "SWITCH:graaljs": {"case": ""},
    "START_WORKFLOW": {"startWorkflow": {"name": "", "input": {}}},
}
"""Starting input of each system type, or ``TYPE:mode`` (a copy is offered in the input editor)."""

MODES: dict[str, tuple[str, tuple[str, ...]]] = {
    "SWITCH": ("evaluator", ("value-param", "javascript", "graaljs")),
    "DECISION": ("case from", ("caseValueParam", "caseExpression")),
    "FORK_JOIN_DYNAMIC": ("form", ("dynamicForkTasksParam", "forkTaskInputs")),
}
"""Types that come in several forms: the label of the choice and the choices (the first is the default)."""

SETTINGS: dict[str, tuple[str, str]] = {
    "SWITCH": ("case value", "${workflow.input.case}"),
    "SWITCH:javascript": ("script", "$.case"),
    "SWITCH:graaljs": ("script", "$.case"),
    "DECISION": ("case value param", "case"),
    "DECISION:caseExpression": ("case expression", "$.case"),
    "FORK_JOIN": ("branches", "2"),
    "FORK_JOIN_DYNAMIC": ("tasks, inputs params", "dynamicTasks, dynamicTasksInput"),
    "DO_WHILE": ("loop condition", "if ( $.{ref}['iteration'] < 3 ) { true; } else { false; }"),
    "SUB_WORKFLOW": ("sub-workflow name", ""),
    "DYNAMIC": ("task name param", "taskToExecute"),
    "EXCLUSIVE_JOIN": ("join on | default", ""),
    "EVENT": ("sink", "conductor"),
}
"""Types (or ``TYPE:mode``) with one extra setting: its label and default (``{ref}`` is the task's reference).

An EXCLUSIVE_JOIN's setting is ``"a, b | c"``: joinOn ``a, b``, defaultExclusiveJoinTask ``c`` (by default
the last task of each case of the SWITCH or DECISION right before it). A FORK_JOIN_DYNAMIC in the
``forkTaskInputs`` form has no setting.
"""

KNOWN_OUTPUTS = {
    "INLINE": ("result",),
    "LAMBDA": ("result",),
    "JSON_JQ_TRANSFORM": ("result", "resultList"),
    "HTTP": ("response.body", "response.statusCode"),
    "SWITCH": ("evaluationResult", "selectedCase"),
    "DECISION": ("caseOutput",),
    "DO_WHILE": ("iteration",),
    "SUB_WORKFLOW": ("subWorkflowId",),
    "START_WORKFLOW": ("workflowId",),
}
CASES = ("SWITCH", "DECISION")

_NOT_NAME = re.compile(r"\W")
_SYSTEM_CLASSES = {
    "NOOP": "NoopTask",
    "HUMAN": "HumanTask",
    "SET_VARIABLE": "SetVariableTask",
    "WAIT": "WaitTask",
}


@dataclass
class Call:
    """``cls(*args, **kwargs)``, then ``obj.method(*args)`` for each of ``then``; ``ref`` names its variable."""

    cls: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    ref: str
    then: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)


@dataclass
class Plan:
    """A workflow: builder options, then ``wf >> item`` for each item, then output parameters.

    An item is a Call, or a fork given as a list of branches, each a list of Calls (the
    ``wf >> [[a], [b]]`` form).
    """

    name: str
    version: int = 1
    description: str | None = None
    input_names: tuple[str, ...] = ()
    items: list[Call | list[list[Call]]] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ evaluating
    def build(self) -> Any:
        """Make the WorkflowBuilder these calls describe."""
        import flowkit  # the public names the exported code uses, so both make the same definition

        wf = flowkit.WorkflowBuilder(self.name, version=self.version, description=self.description)
        if self.input_names:
            wf.input_parameters(list(self.input_names))
        for item in self.items:
            wf >> _value(item, flowkit)
        if self.outputs:
            wf.output_parameters(copy.deepcopy(self.outputs))
        return wf

    # ------------------------------------------------------------------ printing
    def code(self) -> str:
        """Python source that builds the same workflow (the builder is bound to ``wf``)."""
        names = _Names()
        body: list[str] = []
        head = [repr(self.name)]
        if self.version != 1:
            head.append(f"version={self.version!r}")
        if self.description:
            head.append(f"description={self.description!r}")
        body.append(f"wf = flowkit.WorkflowBuilder({', '.join(head)})")
        if self.input_names:
            body.append(f"wf.input_parameters({list(self.input_names)!r})")
        for item in self.items:
            body.append(f"wf >> {_source(item, body, names)}")
        if self.outputs:
            body.append(f"wf.output_parameters({self.outputs!r})")
        body.append("definition = wf.to_workflow_def()")
        return "\n".join(["import flowkit", "", *body]) + "\n"


def _value(item: Any, module: Any) -> Any:
    if isinstance(item, Call):
        obj = getattr(module, item.cls)(
            *(_value(a, module) for a in item.args), **{k: _value(v, module) for k, v in item.kwargs.items()}
        )
        for method, args in item.then:
            getattr(obj, method)(*(_value(a, module) for a in args))
        return obj
    if isinstance(item, list):
        return [_value(i, module) for i in item]
    return copy.deepcopy(item)


class _Names:
    _RESERVED = frozenset({"wf", "flowkit", "definition"})

    def __init__(self) -> None:
        self.taken: set[str] = set()

    def new(self, ref: str) -> str:
        base = _NOT_NAME.sub("_", ref) or "task"
        if base[0].isdigit() or keyword.iskeyword(base) or base in self._RESERVED or base[0].isupper():
            base = f"t_{base}"
        name, n = base, 1
        while name in self.taken:
            n += 1
            name = f"{base}_{n}"
        self.taken.add(name)
        return name


def _source(item: Any, body: list[str], names: _Names) -> str:
    """Write the expression for ``item``; nested Calls become variables defined (in ``body``) first."""
    if isinstance(item, Call):
        args = [_source(a, body, names) for a in item.args]
        args += [f"{k}={_source(v, body, names)}" for k, v in item.kwargs.items()]
        then = [(m, [_source(a, body, names) for a in a_]) for m, a_ in item.then]
        var = names.new(item.ref)
        body.append(f"{var} = flowkit.{item.cls}({', '.join(args)})")
        body.extend(f"{var}.{m}({', '.join(a)})" for m, a in then)
        return var
    if isinstance(item, list):
        return "[" + ", ".join(_source(i, body, names) for i in item) + "]"
    return repr(item)


def names_list(text: str | None) -> list[str]:
    """Split ``"a, b,c"`` into ``["a", "b", "c"]`` (empty parts dropped)."""
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def exclusive_join_lists(setting: str | None) -> tuple[list[str], list[str]]:
    """Split an EXCLUSIVE_JOIN setting ``"a, b | c"`` into joinOn ``[a, b]`` and defaultExclusiveJoinTask ``[c]``."""
    join_on, _, default = (setting or "").partition("|")
    return names_list(join_on), names_list(default)


def sequence(nodes: list[Node]) -> list[Call]:
    return [call for node in nodes for call in calls(node)]


def calls(node: Node) -> list[Call]:
    """Describe the builder call(s) for one task (a FORK_JOIN is the fork and its JOIN)."""
    ref, inputs = node.ref, copy.deepcopy(node.inputs)
    kwargs: dict[str, Any] = {"input_parameters": inputs} if inputs else {}
    options: dict[str, Any]
    kind = node.type
    if kind == "SIMPLE":
        return [Call("SimpleTask", (node.name, ref), kwargs, ref)]
    if kind in _SYSTEM_CLASSES:
        return [Call(_SYSTEM_CLASSES[kind], (ref,), kwargs, ref)]
    if kind == "INLINE":
        return [Call("InlineTask", (ref,), {"script": inputs.get("expression", ""), **kwargs}, ref)]
    if kind == "LAMBDA":
        return [Call("LambdaTask", (ref,), {"script": inputs.get("scriptExpression", ""), **kwargs}, ref)]
    if kind == "JSON_JQ_TRANSFORM":
        return [Call("JsonJQTask", (ref,), {"script": inputs.get("queryExpression", "."), **kwargs}, ref)]
    if kind == "HTTP":
        request = inputs.get("http_request", {})
        return [Call("HttpTask", (ref,), {"http_input": request if isinstance(request, dict) else {}, **kwargs}, ref)]
    if kind == "TERMINATE":
        return [
            Call("TerminateTask", (ref,), {"status": str(inputs.get("terminationStatus", "COMPLETED")), **kwargs}, ref)
        ]
    if kind == "EVENT":
        return [Call("EventTask", (ref,), {"sink": node.setting or "conductor", **kwargs}, ref)]
    if kind == "SUB_WORKFLOW":
        return [Call("SubWorkflowTask", (ref,), {"workflow_name": node.setting, **kwargs}, ref)]
    if kind == "DYNAMIC":
        param = node.setting or "taskToExecute"
        rest = {k: v for k, v in inputs.items() if k != param}
        options = {"dynamic_task_param": param} if param != "taskToExecute" else {}
        options |= {"input_parameters": rest} if rest else {}
        return [Call("DynamicTask", (inputs.get(param, ""), ref), options, ref)]
    if kind == "FORK_JOIN_DYNAMIC":
        # The forkTaskInputs form names no params; form B names them when they are not the defaults.
        if node.mode == "forkTaskInputs":
            options = {"tasks_param": None, "tasks_input_param_name": None}
        else:
            tasks, task_inputs = (names_list(node.setting) + ["dynamicTasks", "dynamicTasksInput"])[:2]
            options = {"tasks_param": tasks} if tasks != "dynamicTasks" else {}
            options |= {"tasks_input_param_name": task_inputs} if task_inputs != "dynamicTasksInput" else {}
        return [Call("DynamicForkTask", (ref,), {**options, **kwargs}, ref)]
    if kind == "EXCLUSIVE_JOIN":
        join_on, default = exclusive_join_lists(node.setting)
        options = {"default_exclusive_join_task": default} if default else {}
        return [Call("ExclusiveJoinTask", (ref, join_on), {**options, **kwargs}, ref)]
    if kind == "START_WORKFLOW":
        request = inputs.get("startWorkflow")
        request = dict(request) if isinstance(request, dict) else {}
        name = request.pop("name", "")
        rest = {k: v for k, v in inputs.items() if k != "startWorkflow"}
        options = {"start_workflow_request": request} if request else {}
        options |= {"input_parameters": rest} if rest else {}
        return [Call("StartWorkflowTask", (ref, name), options, ref)]
    if kind in ("SWITCH", "DECISION"):
        if kind == "DECISION":
            field_name = "case_expression" if node.mode == "caseExpression" else "case_value_param"
            call = Call("DecisionTask", (ref,), {field_name: node.setting or "", **kwargs}, ref)
        elif node.mode in ("javascript", "graaljs"):
            options = {"use_javascript": True} | ({"evaluator_type": "javascript"} if node.mode == "javascript" else {})
            call = Call("SwitchTask", (ref, node.setting or ""), {**options, **kwargs}, ref)
        else:
            call = Call("SwitchTask", (ref, node.setting or ""), kwargs, ref)
        call.then += [("switch_case", (case, sequence(seq))) for case, seq in node.cases.items()]
        if node.default:
            call.then.append(("default_case", (sequence(node.default),)))
        return [call]
    if kind == "DO_WHILE":
        return [Call("DoWhileTask", (ref, node.setting or "", sequence(node.body)), kwargs, ref)]
    if kind == "FORK_JOIN":
        branches = [sequence(branch) for branch in node.branches]
        join_on = [branch[-1].ref for branch in branches if branch]  # a nested fork ends with its JOIN
        return [
            Call("ForkTask", (ref, branches), kwargs, ref),
            Call("JoinTask", (node.join_ref,), {"join_on": join_on}, node.join_ref),
        ]
    raise InputError(f"the builder cannot make a {kind} task")  # pragma: no cover - add() refuses it first


# ---------------------------------------------------------------------------------------------- type checks
def setting_spec(task_type: str, mode: str | None = None) -> tuple[str, str] | None:
    """Return the label and default of a type's setting in ``mode`` (None: the type has no setting there)."""
    kind = task_type.upper()
    if kind == "FORK_JOIN_DYNAMIC" and mode == "forkTaskInputs":
        return None
    return SETTINGS.get(f"{kind}:{mode}") or SETTINGS.get(kind)


def normal_mode(kind: str, mode: str | None) -> str | None:
    """Check ``mode`` for a ``kind`` task; return it, or the default form (None for types with one form)."""
    if kind not in MODES:
        if mode:
            raise InputError(f"a {kind} task has no {mode!r} form; leave mode empty")
        return None
    label, choices = MODES[kind]
    if not mode:
        return choices[0]
    if mode not in choices:
        raise InputError(f"{kind} {label} {mode!r} is not one of {', '.join(choices)}")
    return mode


def default_setting(kind: str, ref: str, mode: str | None, before: Node | None) -> str:
    """Return the setting a new task gets when none is given (an EXCLUSIVE_JOIN: the cases of the SWITCH ``before`` it)."""
    spec = setting_spec(kind, mode or normal_mode(kind, None))
    if spec is None:
        return ""
    if kind == "EXCLUSIVE_JOIN" and before is not None and before.type in CASES:
        join_on = [case[-1].last_ref for case in before.cases.values() if case]
        default = [before.default[-1].last_ref] if before.default else []
        return ", ".join(join_on) + (f" | {default[0]}" if default else "")
    return spec[1].replace("{ref}", ref)


def normal_setting(
    kind: str, ref: str, setting: str | None, mode: str | None, before: Node | None, refs: set[str]
) -> str | None:
    """Check a ``kind`` task's setting (empty: the default); return it tidied (None: the type has none).

    Raises:
        InputError: the setting is not valid (an EXCLUSIVE_JOIN's names must be in ``refs``).

    """
    spec = setting_spec(kind, mode)
    if spec is None:
        return None
    text = (setting or "").strip() or default_setting(kind, ref, mode, before)
    label = spec[0]
    if kind == "FORK_JOIN" and (not text.isdigit() or int(text) < 1):
        raise InputError(f"a FORK_JOIN needs a number of branches (1 or more), got {text!r}")
    if kind == "FORK_JOIN_DYNAMIC":
        names = names_list(text)
        if len(names) != 2:
            raise InputError(
                f"a FORK_JOIN_DYNAMIC needs two input names, 'tasks, inputs' "
                f"(dynamicForkTasksParam, dynamicForkTasksInputParamName), got {text!r}"
            )
        return ", ".join(names)
    if kind == "EXCLUSIVE_JOIN":
        join_on, default = exclusive_join_lists(text)
        if not join_on:
            raise InputError("an EXCLUSIVE_JOIN needs the tasks it joins on: 'a, b' (then '| c' for the default task)")
        unknown = [r for r in [*join_on, *default] if r not in refs]
        if unknown:
            raise InputError(f"the EXCLUSIVE_JOIN names {', '.join(map(repr, unknown))}, which is not a task here")
        return ", ".join(join_on) + (f" | {', '.join(default)}" if default else "")
    if not text:
        raise InputError(f"a {kind} needs its {label}")
    if kind == "DYNAMIC" and not re.fullmatch(r"[^\s${}]+", text):
        raise InputError(f"a DYNAMIC task's {label} is an input name, got {text!r}")
    return text


def check_inputs(kind: str, setting: str | None, mode: str | None, inputs: Mapping[str, Any]) -> None:
    """Raise InputError when ``inputs`` lack what a ``kind`` task needs to run at all."""
    if kind == "DYNAMIC" and (setting or "") not in inputs:
        raise InputError(
            f"a DYNAMIC task's input needs {setting!r}: the name of the task to run (or a ${{...}} giving it)"
        )
    if kind == "FORK_JOIN_DYNAMIC":
        key = "forkTaskInputs" if mode == "forkTaskInputs" else (names_list(setting) or ["dynamicTasks"])[0]
        if key not in inputs:
            what = "the list of inputs, one per fork" if mode == "forkTaskInputs" else "the list of tasks to fork"
            raise InputError(f"a FORK_JOIN_DYNAMIC's input needs {key!r}: {what} (e.g. ${{gen.output.{key}}})")
    if kind == "START_WORKFLOW":
        request = inputs.get("startWorkflow")
        name = request.get("name") if isinstance(request, Mapping) else None
        if not isinstance(name, str) or not name.strip():
            raise InputError(
                'a START_WORKFLOW\'s input needs startWorkflow: {"name": the workflow to start, '
                '"version" (optional), "input": {...}}'
            )


def worker_name(node: Node) -> str | None:
    """Return the worker a task needs when the definition names it (DYNAMIC and dynamic forks: a literal name)."""
    if node.type == "SIMPLE":
        return node.name
    if node.type == "DYNAMIC":
        name = node.inputs.get(node.setting or "")
    elif node.type == "FORK_JOIN_DYNAMIC" and node.mode == "forkTaskInputs":
        if node.inputs.get("forkTaskType", "SIMPLE") != "SIMPLE" or node.inputs.get("forkTaskWorkflow"):
            return None
        name = node.inputs.get("forkTaskName")
    else:
        return None
    return name if isinstance(name, str) and name and "${" not in name else None


def outputs_of(node: Node, workers: Mapping[str, Any]) -> list[str]:
    """List the ``${...}`` a task's output offers to the tasks after it."""
    ref = node.ref
    if node.join_ref:
        return [f"${{{node.join_ref}.output}}"]
    if node.type == "SET_VARIABLE":
        return [f"${{workflow.variables.{key}}}" for key in node.inputs]
    out = [f"${{{ref}.output}}"]
    keys: Sequence[str] = KNOWN_OUTPUTS.get(node.type, ())
    if node.type == "SIMPLE":
        keys = _return_keys(getattr(workers.get(node.name), "fn", None))
    return out + [f"${{{ref}.output.{key}}}" for key in keys]


def _return_keys(fn: Any) -> list[str]:
    """Output keys a worker declares: its return annotation (a dataclass or a TypedDict), else its docstring."""
    if fn is None:
        return []
    try:
        hint = typing.get_type_hints(fn).get("return")
    except Exception:  # noqa: BLE001 - unresolvable string annotations: use the object if it is one
        hint = getattr(fn, "__annotations__", {}).get("return")
        hint = None if isinstance(hint, str) else hint
    if hint is not None and dataclasses.is_dataclass(hint):
        return [f.name for f in dataclasses.fields(hint)]
    if hint is not None and typing.is_typeddict(hint):
        return list(typing.get_type_hints(hint))
    return _documented_keys(getattr(fn, "__doc__", None) or "")


_DOC_OUTPUT = re.compile(r"\b(?:output|outputs|returns?)\b[:\s]", re.IGNORECASE)
_DOC_SECTION = re.compile(r"^\s*Returns:\s*$", re.MULTILINE)
_DOC_NAME = re.compile(r"``([A-Za-z_]\w*)``")


def _documented_keys(doc: str) -> list[str]:
    """Read output keys from a docstring: the ````name```` written after "output" (or in a ``Returns:`` section).

    ``"Upload a file; output ``fileLocation`` (``s3://bucket/key``) and ``url``."`` gives
    ``fileLocation`` and ``url``: only names that can be keys count, and only after the word, so the
    inputs a docstring names before it are not taken for outputs.
    """
    section = _DOC_SECTION.search(doc)
    if section is not None:
        text = doc[section.end() :]
        end = re.search(r"^\s*(?:Raises|Example|Examples|Note|Yields):\s*$", text, re.MULTILINE)
        return list(dict.fromkeys(_DOC_NAME.findall(text[: end.start()] if end else text)))
    said = _DOC_OUTPUT.search(doc)
    if said is None:
        return []
    sentence = re.split(r"\.\s|\n\s*\n", doc[said.end() :], maxsplit=1)[0]
    return list(dict.fromkeys(_DOC_NAME.findall(sentence)))


@dataclass(frozen=True)
class WorkerField:
    """One input of a worker, read from its function's signature.

    Attributes:
        name: The parameter's name (the input key).
        required: True when the parameter has no default: the task fails when its input lacks it.
        default: The default (JSON), or None; ``has_default`` says whether there is one.
        has_default: False for a required parameter.
        annotation: The annotation as text ("" when there is none), to hint at the value wanted.

    """

    name: str
    required: bool
    default: Any = None
    has_default: bool = False
    annotation: str = ""

    def hint(self) -> str:
        """Say what the field wants, for its placeholder: ``required · str`` or ``optional · default 300``."""
        import json

        kind = f" · {self.annotation}" if self.annotation and self.annotation != "Any" else ""
        if self.required:
            return f"required{kind}"
        if self.default is None:
            return f"optional{kind}"
        return f"optional · default {json.dumps(self.default)}{kind}"


def worker_fields(fn: Any) -> list[WorkerField]:
    """Return a worker function's inputs, from its signature (none for a worker that takes the whole Task)."""
    import inspect
    import json

    try:
        params = list(inspect.signature(fn).parameters.values()) if fn is not None else []
    except (TypeError, ValueError):
        return []
    if len(params) == 1 and (params[0].name == "task" or getattr(params[0].annotation, "__name__", "") == "Task"):
        return []  # the worker takes the whole Task
    out: list[WorkerField] = []
    for param in params:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        annotation = param.annotation
        text = "" if annotation is param.empty else getattr(annotation, "__name__", None) or str(annotation)
        if param.default is param.empty:
            out.append(WorkerField(param.name, True, annotation=text.replace("typing.", "")))
            continue
        try:
            default = json.loads(json.dumps(param.default))
        except (TypeError, ValueError):
            default = None
        out.append(WorkerField(param.name, False, default, True, text.replace("typing.", "")))
    return out


def worker_template(fn: Any) -> dict[str, Any]:
    """Return a starting input for a worker function: its parameters with a default other than None.

    Required parameters are left out (unset, never ``null``): the builder lists them as problems
    until they are given a value.
    """
    return {f.name: f.default for f in worker_fields(fn) if f.has_default and f.default is not None}
