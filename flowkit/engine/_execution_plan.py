"""A definition compiled for running: the execution plan the engine walks.

One :class:`Node` per task with its compiled input, effective task definition and place in the graph
(next sibling, owner, enclosing loop).

Built once per definition; every task attempt points at its node.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flowkit._cache import BoundedCache
from flowkit.definitions import TaskDef, WorkflowDef, WorkflowTask
from flowkit.definitions._types import SYSTEM_TASK_TYPES
from flowkit.engine._state import Doc
from flowkit.expressions import Resolver, compile_value, mentions_expression, read_copy, single_path, walk_path

__all__ = ["Node", "Plan", "effective_task_def"]

TOP, FORK_BRANCH, CASE, LOOP, DYNAMIC = "top", "fork", "case", "loop", "dynamic"

# Task types whose handlers only read their input: it shares what it reads with the tasks that
# produced it instead of holding a copy (a dynamic fork's task list can be 100,000 entries long).
_READERS = frozenset({"FORK_JOIN", "FORK_JOIN_DYNAMIC", "JOIN", "EXCLUSIVE_JOIN", "SWITCH", "DECISION"})


def effective_task_def(wt: WorkflowTask, registry: Mapping[str, TaskDef]) -> TaskDef:
    """Inline definition, else the registered one, else Conductor's ad-hoc default.

    Conductor gives system tasks without a registered definition ``retryCount=0`` and
    ``responseTimeoutSeconds=0`` (MetadataMapperService).
    """
    if wt.task_definition is not None:
        return wt.task_definition
    registered = registry.get(wt.name)
    if registered is not None:
        return registered
    system = wt.type in SYSTEM_TASK_TYPES
    key = (wt.name, system)
    default = _AD_HOC.get(key)
    if default is None:
        default = _AD_HOC.put(
            key, TaskDef(name=wt.name, retry_count=0, response_timeout_seconds=0) if system else TaskDef(name=wt.name)
        )
    return default


_AD_HOC: BoundedCache[tuple[str, bool], TaskDef] = BoundedCache(4096)  # frozen values, safe to share

_CONST, _OTHER, _TASK, _WORKFLOW = 0, 1, 2, 3
_TASK_FIELDS = frozenset({"input", "output"})
_WORKFLOW_FIELDS = frozenset({"input", "output", "variables"})
_SCALARS = frozenset({str, int, float, bool, type(None)})
_PLAIN = frozenset({int, float, bool, type(None)})  # values that never hold an expression


def compile_input(params: Mapping[str, Any], *, copy: bool = True) -> Resolver:
    """Compile a task's ``inputParameters`` (or the workflow's ``outputParameters``) for the engine.

    Same values as :func:`~flowkit.expressions.compile_value` over the execution's document, but a
    value that is one plain path into a task's or the workflow's input or output
    (``${ref.output.x}``, ``${workflow.input.x}``, the common case) is read straight from the
    execution state: no view objects, no generic walk from the root.
    """
    items: list[tuple[str, int, Any, Any, tuple[str | int, ...]]] = []
    for key, value in params.items():
        kind = type(value)
        if kind in _SCALARS and (kind is not str or "$" not in value):
            items.append((key, _CONST, value, None, ()))
            continue
        keys = single_path(value) if kind is str else None
        if keys is not None and len(keys) >= 2 and type(keys[0]) is str:
            if keys[0] == "workflow" and keys[1] in _WORKFLOW_FIELDS:
                items.append((key, _WORKFLOW, None, keys[1], keys[2:]))
                continue
            if keys[0] != "workflow" and keys[1] in _TASK_FIELDS:
                items.append((key, _TASK, keys[0], keys[1], keys[2:]))
                continue
        items.append((key, _OTHER, compile_value(value, copy=copy), None, ()))
    generic: list[Resolver] = []

    def resolve(root: Mapping[str, Any], task_id: str | None) -> dict[str, Any]:
        if type(root) is not Doc:  # not the engine's document: the general resolver
            if not generic:
                generic.append(compile_value(dict(params), copy=copy))
            return generic[0](root, task_id)  # type: ignore[no-any-return]
        wf = root.workflow
        refs = wf.refs
        out: dict[str, Any] = {}
        for key, mode, ref, field, tail in items:
            if mode == _TASK:
                task = refs.get(ref)
                if task is None:
                    out[key] = None
                    continue
                value = getattr(task, field)
            elif mode == _CONST:
                out[key] = ref
                continue
            elif mode == _WORKFLOW:
                value = getattr(wf, field)
            else:
                out[key] = ref(root, task_id)
                continue
            if tail:
                if len(tail) == 1 and type(value) is dict and type(tail[0]) is str:
                    value = value.get(tail[0])  # ${ref.output.x}: one step, walked here
                else:
                    value = walk_path(value, tail)
            out[key] = value if not copy or type(value) in _SCALARS else read_copy(value)
        return out

    return resolve


class Node:
    """One WorkflowTask ready to run."""

    __slots__ = (
        "wt",
        "ref",
        "name",
        "kind",
        "task_type",
        "resolver",
        "task_def",
        "expected_retries",
        "next",
        "container",
        "owner",
        "loop",
        "nested",
        "raw",
        "params",
    )

    def __init__(
        self,
        wt: WorkflowTask,
        registry: Mapping[str, TaskDef],
        container: str,
        owner: Node | None,
        loop: Node | None,
    ) -> None:
        self.wt = wt
        self.ref = wt.task_reference_name
        self.name = wt.name
        kind = wt.type or "SIMPLE"
        if kind not in SYSTEM_TASK_TYPES and kind != "DYNAMIC":
            kind = "SIMPLE"  # SIMPLE and USER_DEFINED both go to a worker of that name
        self.kind = kind
        if kind == "SIMPLE":
            self.task_type = wt.name if (wt.type or "SIMPLE") == "SIMPLE" else wt.type
        elif kind in ("FORK_JOIN", "FORK_JOIN_DYNAMIC"):
            self.task_type = "FORK"
        else:
            self.task_type = kind
        self.resolver: Resolver | None = compile_input(wt.input_parameters, copy=kind not in _READERS)
        self.task_def = effective_task_def(wt, registry)
        self.expected_retries = wt.retry_count if wt.retry_count is not None else self.task_def.retry_count
        self.next: Node | None = None
        self.container = container
        self.owner = owner
        self.loop = loop
        # First node of each nested list: SWITCH {case: node, None: default}, FORK_JOIN [node per
        # branch], DO_WHILE the loop body's first node.
        self.nested: Any = None
        # Dynamic-fork branches share one prototype ``wt``; their own JSON and input live here.
        self.raw: Mapping[str, Any] | None = None
        self.params: dict[str, Any] | None = None

    def branch(self, ref: str, params: dict[str, Any], raw: Mapping[str, Any]) -> Node:
        """A dynamic-fork branch like this prototype but with its own ref and input.

        Building a frozen WorkflowTask per branch costs more than running the branch's task.
        """
        node = Node.__new__(Node)
        # one statement per slot: a multiple assignment of four builds and unpacks a tuple per branch
        node.wt = self.wt
        node.name = self.name
        node.kind = self.kind
        node.task_type = self.task_type
        node.task_def = self.task_def
        node.expected_retries = self.expected_retries
        node.container = self.container
        node.owner = self.owner
        node.loop = self.loop
        node.next = node.nested = None
        node.ref = ref
        # Most branches' input is plain data: no resolver is kept, the engine copies ``params``.
        node.resolver = None
        for value in params.values():  # numbers, booleans and nulls only: no need to look further
            if type(value) not in _PLAIN:
                node.resolver = compile_input(params) if mentions_expression(params) else None
                break
        node.raw = raw
        node.params = params
        return node

    def __repr__(self) -> str:
        return f"<Node {self.ref} {self.kind}>"


class Plan:
    """A workflow definition compiled for the engine."""

    __slots__ = ("definition", "nodes", "first", "output_resolver", "registry")

    def __init__(self, definition: WorkflowDef, registry: Mapping[str, TaskDef]) -> None:
        self.definition = definition
        self.registry = registry
        self.nodes: dict[str, Node] = {}
        self.first = self._chain(definition.tasks, TOP, None, None)
        # The workflow output shares what it reads with the task outputs (the engine never changes
        # either); a 100,000-branch join's output is not copied again.
        self.output_resolver: Resolver = compile_input(definition.output_parameters, copy=False)

    def _chain(
        self, tasks: tuple[WorkflowTask, ...], container: str, owner: Node | None, loop: Node | None
    ) -> Node | None:
        nodes = [self._node(wt, container, owner, loop) for wt in tasks]
        for a, b in zip(nodes, nodes[1:], strict=False):
            a.next = b
        return nodes[0] if nodes else None

    def _node(self, wt: WorkflowTask, container: str, owner: Node | None, loop: Node | None) -> Node:
        node = Node(wt, self.registry, container, owner, loop)
        self.nodes[node.ref] = node
        if wt.type in ("SWITCH", "DECISION"):
            node.nested = {case: self._chain(tasks, CASE, node, loop) for case, tasks in wt.decision_cases.items()}
            node.nested[None] = self._chain(wt.default_case, CASE, node, loop)
        elif wt.type == "FORK_JOIN":
            node.nested = [self._chain(branch, FORK_BRANCH, node, loop) for branch in wt.fork_tasks]
        elif wt.type == "DO_WHILE":
            node.nested = self._chain(wt.loop_over, LOOP, node, node)
        return node

    def runtime_node(self, wt: WorkflowTask, owner: Node | None, loop: Node | None) -> Node:
        """A node for a task created at run time (dynamic fork branch); not added to ``nodes``."""
        return Node(wt, self.registry, DYNAMIC, owner, loop)
