"""How to build a workflow with :class:`flowkit.WorkflowBuilder`, described once and used twice.

Evaluated, it is the builder model's WorkflowDef; printed, it is the exported Python code.

Because both come from the same calls, the exported code builds exactly the definition shown.
"""

from __future__ import annotations

import copy
import keyword
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flowkit.errors import InputError

if TYPE_CHECKING:
    from flowkit.notebook._model import _Node as Node

__all__ = ["Call", "Plan", "calls", "sequence"]

_BUILDER_MODULE = "flowkit.definitions._builder"
_NOT_NAME = re.compile(r"\W")
_SYSTEM_CLASSES = {
    "NOOP": "NoopTask", "HUMAN": "HumanTask", "SET_VARIABLE": "SetVariableTask", "WAIT": "WaitTask",
}  # fmt: skip


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
        from flowkit.definitions import _builder

        wf = _builder.WorkflowBuilder(self.name, version=self.version, description=self.description)
        if self.input_names:
            wf.input_parameters(list(self.input_names))
        for item in self.items:
            wf >> _value(item, _builder)
        if self.outputs:
            wf.output_parameters(copy.deepcopy(self.outputs))
        return wf

    # ------------------------------------------------------------------ printing
    def code(self) -> str:
        """Python source that builds the same workflow (the builder is bound to ``wf``)."""
        names = _Names()
        body: list[str] = []
        used: set[str] = set()
        head = [repr(self.name)]
        if self.version != 1:
            head.append(f"version={self.version!r}")
        if self.description:
            head.append(f"description={self.description!r}")
        body.append(f"wf = flowkit.WorkflowBuilder({', '.join(head)})")
        if self.input_names:
            body.append(f"wf.input_parameters({list(self.input_names)!r})")
        for item in self.items:
            body.append(f"wf >> {_source(item, body, names, used)}")
        if self.outputs:
            body.append(f"wf.output_parameters({self.outputs!r})")
        body.append("definition = wf.to_workflow_def()")
        imports = ["import flowkit"]
        if used:
            imports.append(f"from {_BUILDER_MODULE} import {', '.join(sorted(used))}")
        return "\n".join([*imports, "", *body]) + "\n"


def _value(item: Any, module: Any) -> Any:
    if isinstance(item, Call):
        obj = getattr(module, item.cls)(*(_value(a, module) for a in item.args),
                                        **{k: _value(v, module) for k, v in item.kwargs.items()})  # fmt: skip
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


def _source(item: Any, body: list[str], names: _Names, used: set[str]) -> str:
    """Write the expression for ``item``; nested Calls become variables defined (in ``body``) first."""
    if isinstance(item, Call):
        used.add(item.cls)
        args = [_source(a, body, names, used) for a in item.args]
        args += [f"{k}={_source(v, body, names, used)}" for k, v in item.kwargs.items()]
        then = [(m, [_source(a, body, names, used) for a in a_]) for m, a_ in item.then]
        var = names.new(item.ref)
        body.append(f"{var} = {item.cls}({', '.join(args)})")
        body.extend(f"{var}.{m}({', '.join(a)})" for m, a in then)
        return var
    if isinstance(item, list):
        return "[" + ", ".join(_source(i, body, names, used) for i in item) + "]"
    return repr(item)


def sequence(nodes: list[Node]) -> list[Call]:
    return [call for node in nodes for call in calls(node)]


def calls(node: Node) -> list[Call]:
    """Describe the builder call(s) for one task (a FORK_JOIN is the fork and its JOIN)."""
    ref, inputs = node.ref, copy.deepcopy(node.inputs)
    kwargs: dict[str, Any] = {"input_parameters": inputs} if inputs else {}
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
    if kind == "SWITCH":
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
