"""The step-by-step builder's model: a list of steps that makes a WorkflowDef (no widgets here).

    >>> model = BuilderModel("orders", workers=[check, ship])               # doctest: +SKIP
    >>> model.add("check", "check_ref", inputs={"id": "${workflow.input.id}"})
    >>> model.add("FORK_JOIN", "fork_1", setting="2")
    >>> model.add("ship", "ship_a", place=Place(fork="fork_1", branch=0))
    >>> model.references(Place(fork="fork_1", branch=1))                   # what a task there can use
    >>> model.add("SWITCH", "route", setting="$.kind == 'x' ? 'a' : 'b'", mode="javascript", inputs={"kind": "..."})
    >>> model.edit("check_ref", inputs={"id": "${workflow.input.order_id}"})   # in place, undoable
    >>> model.set_outputs({"id": "${check_ref.output.id}"})
    >>> model.undo(); model.issues(); model.to_json(); print(model.to_python())

Each step is replayed from the start to make the tree of tasks, so undo is "drop the last step".
The definition is made with :class:`flowkit.WorkflowBuilder` and its task classes through a
:class:`~flowkit.notebook.builder._catalogue.Plan`, which also prints the equivalent Python code.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from flowkit.definitions import WorkflowDef
from flowkit.errors import DefinitionError, DefinitionIssue, InputError
from flowkit.notebook.builder._catalogue import (
    CASES,
    MODES,
    SETTINGS,
    SYSTEM_TYPES,
    TEMPLATES,
    Plan,
    WorkerField,
    calls,
    check_inputs,
    normal_mode,
    normal_setting,
    outputs_of,
    sequence,
    worker_fields,
    worker_name,
    worker_template,
)
from flowkit.notebook.builder._catalogue import (
    default_setting as setting_default,
)
from flowkit.notebook.builder._checks import input_issues, level_of, next_place
from flowkit.notebook.builder._steps import JsonField, Place, Step, _Node, parse_json_object

__all__ = [
    "MODES",
    "SETTINGS",
    "SYSTEM_TYPES",
    "TEMPLATES",
    "BuilderModel",
    "WorkerField",
    "JsonField",
    "Place",
    "Step",
    "parse_json_object",
]

_WORKFLOW_INPUT = re.compile(r"\$\{workflow\.input\.([A-Za-z_][\w]*)")


# ---------------------------------------------------------------------------------------------- the model
class BuilderModel:
    """A workflow made step by step, with undo. Pure: no widgets, no IO.

    Args:
        name: The workflow's name.
        workers: ``@worker_task`` functions (or a ``{name: function}`` mapping) offered as SIMPLE tasks.
        version: The workflow's version.
        description: The workflow's description.

    """

    def __init__(self, name: str, workers: Any = None, *, version: int = 1, description: str | None = None) -> None:
        from flowkit.workers import as_worker_map

        self.name = name
        self.version = version
        self.description = description
        self.workers = as_worker_map(workers)
        self.steps: list[Step] = []
        self._root: list[_Node] = []
        self._input_names: tuple[str, ...] = ()
        self._outputs: dict[str, Any] = {}

    # ------------------------------------------------------------------ steps
    @property
    def task_types(self) -> list[str]:
        """What can be added: the registered workers' names, then the system task types."""
        return [*sorted(self.workers), *SYSTEM_TYPES]

    def add(
        self,
        task_type: str,
        ref: str | None = None,
        *,
        name: str | None = None,
        inputs: Mapping[str, Any] | None = None,
        setting: str | None = None,
        place: Place | None = None,
        mode: str | None = None,
    ) -> Step:
        """Add a task; returns the step.

        Args:
            task_type: A registered worker's name (a SIMPLE task), ``"SIMPLE"`` with ``name``, or a system type.
            ref: Its taskReferenceName (default: made from the type, unique).
            name: The task definition name of a SIMPLE task (default: ``task_type``).
            inputs: Its inputParameters (``${...}`` expressions allowed).
            setting: The type's one setting (see :data:`SETTINGS`): SWITCH: the case value expression (or
                the script); DECISION: caseValueParam (or caseExpression); FORK_JOIN: the number of branches;
                FORK_JOIN_DYNAMIC: ``"dynamicTasks, dynamicTasksInput"``; DO_WHILE: the loop condition;
                SUB_WORKFLOW: the workflow name; DYNAMIC: dynamicTaskNameParam; EXCLUSIVE_JOIN:
                ``"a, b | c"``; EVENT: the sink. Empty: the default.
            place: Where (default: at the end of the workflow).
            mode: The form of a type in :data:`MODES`: SWITCH ``value-param``/``javascript``/``graaljs``,
                DECISION ``caseValueParam``/``caseExpression``, FORK_JOIN_DYNAMIC
                ``dynamicForkTasksParam``/``forkTaskInputs``. None: the first.

        Raises:
            InputError: the type, mode or setting is not valid, a required input is missing, the
                reference is taken, or the place does not exist. Nothing is recorded then.

        """
        kind = task_type.strip()
        if kind in self.workers or kind == "SIMPLE":
            task_name = name or (kind if kind != "SIMPLE" else "")
            if not task_name:
                raise InputError("a SIMPLE task needs name= (its task definition name)")
            kind = "SIMPLE"
        elif kind.upper() in SYSTEM_TYPES:
            kind, task_name = kind.upper(), ""
        else:
            raise InputError(
                f"unknown task type {task_type!r}: use a registered worker ({', '.join(sorted(self.workers)) or 'none'}) "
                f"or one of {', '.join(SYSTEM_TYPES)}"
            )
        if inputs is not None and not isinstance(inputs, Mapping):
            raise InputError(f"inputs must be a JSON object (a dict), got {type(inputs).__name__}")
        ref = (ref or "").strip() or self._new_ref(kind, task_name)
        problem = self.ref_problem(ref, kind)
        if problem:
            raise InputError(problem)
        place = place or Place()
        mode = normal_mode(kind, mode)
        setting = normal_setting(kind, ref, setting, mode, self._node_before(place), self.refs())
        check_inputs(kind, setting, mode, inputs or {})
        step = Step(
            "add",
            ref=ref,
            task_type=kind,
            name=task_name or ref,
            inputs=dict(inputs or {}),
            setting=setting,
            place=place,
            mode=mode,
        )
        self._apply(step, self._root)  # raises InputError before anything is recorded
        self.steps.append(step)
        return step

    def edit(
        self, ref: str, *, inputs: Mapping[str, Any] | None = None, setting: str | None = None, mode: str | None = None
    ) -> Step:
        """Change a placed task in place: its inputs, its setting or its mode (None: unchanged). Undoable.

        A FORK_JOIN's branch count may grow, or shrink while the branches dropped are empty; the type,
        the reference and the place stay (remove and add again to change those).

        Raises:
            InputError: no such task, a fork's JOIN, nothing changes, or the new values are not valid.
                Nothing is recorded then.

        """
        node = self._editable(ref)
        if inputs is not None and not isinstance(inputs, Mapping):
            raise InputError(f"inputs must be a JSON object (a dict), got {type(inputs).__name__}")
        new_inputs = copy.deepcopy(dict(inputs if inputs is not None else node.inputs))
        new_mode = normal_mode(node.type, mode if mode is not None else node.mode)
        seq, index = self._find(ref) or ([], 0)
        before = seq[index - 1] if index > 0 else None
        new_setting = normal_setting(
            node.type, ref, setting if setting is not None else node.setting, new_mode, before, self.refs()
        )
        check_inputs(node.type, new_setting, new_mode, new_inputs)
        if (new_inputs, new_setting, new_mode) == (node.inputs, node.setting, node.mode):
            raise InputError(f"nothing to change in {ref}: its input, setting and mode are the same")
        step = Step(
            "edit", ref=ref, task_type=node.type, name=node.name, inputs=new_inputs, setting=new_setting, mode=new_mode
        )
        self._apply(step, self._root)
        self.steps.append(step)
        return step

    def remove(self, ref: str) -> Step:
        """Remove a task and everything inside it (a fork's JOIN goes with it)."""
        step = Step("remove", ref=ref)
        self._apply(step, self._root)
        self.steps.append(step)
        return step

    def set_inputs(self, names: Sequence[str]) -> Step:
        """Declare the workflow's input names (offered as ``${workflow.input.<name>}``)."""
        step = Step("inputs", values=tuple(n.strip() for n in names if n.strip()))
        self._apply(step, self._root)
        self.steps.append(step)
        return step

    def set_outputs(self, outputs: Mapping[str, Any]) -> Step:
        """Set the workflow's outputParameters (see :meth:`references` for what they can use)."""
        if not isinstance(outputs, Mapping):
            raise InputError(f"outputs must be a JSON object (a dict), got {type(outputs).__name__}")
        step = Step("outputs", values=copy.deepcopy(dict(outputs)))
        self._apply(step, self._root)
        self.steps.append(step)
        return step

    def undo(self) -> Step | None:
        """Drop the last step; returns it (None when there is none)."""
        if not self.steps:
            return None
        step = self.steps.pop()
        self._replay()
        return step

    def _replay(self) -> None:
        self._root, self._input_names, self._outputs = [], (), {}
        for step in self.steps:
            self._apply(step, self._root)

    def _apply(self, step: Step, root: list[_Node]) -> None:
        if step.action == "inputs":
            self._input_names = tuple(step.values)
        elif step.action == "outputs":
            self._outputs = copy.deepcopy(step.values)
        elif step.action == "remove":
            found = self._find(step.ref)
            if found is None:
                raise InputError(f"no task {step.ref!r} to remove")
            seq, index = found
            del seq[index]
        elif step.action == "edit":
            node = self._editable(step.ref)
            if node.type == "FORK_JOIN":
                count = int(step.setting or 2)
                busy = [
                    f"branch {i + 1} ({', '.join(n.ref for n in b)})"
                    for i, b in enumerate(node.branches)
                    if b and i >= count
                ]
                if busy:
                    raise InputError(
                        f"{node.ref} cannot have {count} branch(es): {'; '.join(busy)} still has tasks; remove them first"
                    )
                node.branches = node.branches[:count] + [[] for _ in range(count - len(node.branches))]
            node.inputs, node.setting, node.mode = copy.deepcopy(dict(step.inputs)), step.setting, step.mode
        else:
            seq, index = self._slot(step.place)
            seq.insert(index, _Node(step))

    def _editable(self, ref: str) -> _Node:
        found = self._find(ref)
        if found is None:
            raise InputError(f"no task {ref!r} to edit")
        node = found[0][found[1]]
        if node.ref != ref:
            raise InputError(f"{ref} is the JOIN added for {node.ref}: edit {node.ref} instead")
        return node

    def _slot(self, place: Place) -> tuple[list[_Node], int]:
        if place.after is not None:
            found = self._find(place.after)
            if found is None:
                raise InputError(f"no task {place.after!r} to place after")
            return found[0], found[1] + 1
        if place.fork is not None:
            node = self._node(place.fork, ("FORK_JOIN",))
            if not 0 <= place.branch < len(node.branches):
                raise InputError(
                    f"{place.fork} has {len(node.branches)} branches; there is no branch {place.branch + 1}"
                )
            return node.branches[place.branch], len(node.branches[place.branch])
        if place.switch is not None:
            node = self._node(place.switch, CASES)
            if place.case is None:
                return node.default, len(node.default)
            seq = node.cases.setdefault(str(place.case), [])
            return seq, len(seq)
        if place.loop is not None:
            node = self._node(place.loop, ("DO_WHILE",))
            return node.body, len(node.body)
        return self._root, len(self._root)

    def _node(self, ref: str, kinds: tuple[str, ...]) -> _Node:
        wanted = " or ".join(kinds)
        for node in self.nodes():
            if node.ref == ref:
                if node.type not in kinds:
                    raise InputError(f"{ref} is a {node.type} task, not a {wanted}")
                return node
        raise InputError(f"no {wanted} task {ref!r}")

    def _node_before(self, place: Place) -> _Node | None:
        """Return the task right before ``place`` in its sequence (None at the start, or for a place that does not exist)."""
        if place.switch is not None and place.case is not None and not self._has_case(place):
            return None  # a case not opened yet: _slot would open it
        try:
            seq, index = self._slot(place)
        except InputError:
            return None
        return seq[index - 1] if index > 0 else None

    def _find(self, ref: str) -> tuple[list[_Node], int] | None:
        def search(seq: list[_Node]) -> tuple[list[_Node], int] | None:
            for i, node in enumerate(seq):
                if node.ref == ref or (node.join_ref and node.join_ref == ref):
                    return seq, i
                for inner in node.sequences():
                    hit = search(inner)
                    if hit is not None:
                        return hit
            return None

        return search(self._root)

    def suggest_ref(self, task_type: str) -> str:
        """Return a reference not used yet for a new ``task_type`` task (a worker's name or a system type)."""
        if task_type in self.workers:
            return self._new_ref("SIMPLE", task_type)
        return self._new_ref(task_type.upper(), "")

    def _new_ref(self, kind: str, name: str) -> str:
        taken = self.refs()
        if kind == "FORK_JOIN":
            n = 1
            while f"fork_{n}" in taken or f"join_fork_{n}" in taken:
                n += 1
            return f"fork_{n}"
        base = re.sub(r"[^A-Za-z0-9_\-]", "_", name if kind == "SIMPLE" else kind.lower())
        base = f"{base}_ref" if kind == "SIMPLE" else base
        ref, n = base, 1
        while ref in taken or (kind == "FORK_JOIN_DYNAMIC" and f"{ref}_join" in taken):
            n += 1
            ref = f"{base}_{n}"
        return ref

    # ------------------------------------------------------------------ checking what a step would do
    def ref_problem(self, ref: str, task_type: str = "") -> str | None:
        """Why ``ref`` cannot name a new ``task_type`` task (None when it can)."""
        if not re.fullmatch(r"[A-Za-z0-9_\-]+", ref):
            return f"task reference {ref!r}: use letters, digits, '_' and '-' only"
        taken = self.refs()
        kind = task_type.upper()
        join = f"join_{ref}" if kind == "FORK_JOIN" else f"{ref}_join" if kind == "FORK_JOIN_DYNAMIC" else None
        if ref in taken or (join is not None and join in taken):
            return f"task reference {ref!r} is already used; choose another one"
        return None

    def setting_problem(
        self, task_type: str, setting: str | None, *, ref: str = "", mode: str | None = None, place: Place | None = None
    ) -> str | None:
        """Why ``setting`` is not valid for a ``task_type`` task (None when it is, or when the type has none)."""
        kind = "SIMPLE" if task_type in self.workers else task_type.upper()
        try:
            normal_setting(
                kind, ref, setting, normal_mode(kind, mode), self._node_before(place or Place()), self.refs()
            )
        except InputError as exc:
            return str(exc)
        return None

    def input_problem(
        self, task_type: str, inputs: Mapping[str, Any], *, setting: str | None = None, mode: str | None = None
    ) -> str | None:
        """Why ``inputs`` lack what a ``task_type`` task needs (None when they do not)."""
        kind = "SIMPLE" if task_type in self.workers else task_type.upper()
        try:
            mode = normal_mode(kind, mode)
            check_inputs(kind, (setting or "").strip() or self.default_setting(kind, mode=mode), mode, inputs)
        except InputError as exc:
            return str(exc)
        return None

    def default_setting(
        self, task_type: str, ref: str = "", mode: str | None = None, place: Place | None = None
    ) -> str:
        """Return the setting a new task gets at ``place`` when none is given (see :data:`SETTINGS`)."""
        return setting_default(task_type.upper(), ref, mode, self._node_before(place or Place()))

    # ------------------------------------------------------------------ reading
    @property
    def declared_inputs(self) -> tuple[str, ...]:
        """The workflow input names set with :meth:`set_inputs`."""
        return self._input_names

    @property
    def outputs(self) -> dict[str, Any]:
        """The workflow's outputParameters set with :meth:`set_outputs` (a copy)."""
        return copy.deepcopy(self._outputs)

    def task(self, ref: str) -> Step:
        """How the task ``ref`` stands now, as an ``add`` step (its type, name, inputs, setting and mode).

        Raises:
            InputError: there is no such task (or ``ref`` is a fork's JOIN).

        """
        node = self._editable(ref)
        return Step(
            "add",
            ref=node.ref,
            task_type=node.type,
            name=node.name,
            inputs=copy.deepcopy(node.inputs),
            setting=node.setting,
            mode=node.mode,
        )

    def editable(self) -> list[str]:
        """List the references of the tasks :meth:`edit` can change (every task but the JOINs added for forks)."""
        return [node.ref for node in self.nodes()]

    def nodes(self) -> Iterator[_Node]:
        """Every task added so far, depth first."""
        for node in self._root:
            yield from node.walk()

    def refs(self) -> set[str]:
        """Every reference in use (JOINs added for forks included)."""
        out: set[str] = set()
        for node in self.nodes():
            out.add(node.ref)
            if node.join_ref:
                out.add(node.join_ref)
        return out

    def places(self) -> list[tuple[str, Place]]:
        """Every place a new task can go, described: for the builder's drop-down."""
        out = [("at the end", Place())]
        for node in self.nodes():
            out.append((f"after {node.ref}", Place(after=node.ref)))
            if node.type == "FORK_JOIN":
                out += [
                    (f"in branch {i + 1} of {node.ref}", Place(fork=node.ref, branch=i))
                    for i in range(len(node.branches))
                ]
            elif node.type in CASES:
                out += [(f"in case {c!r} of {node.ref}", Place(switch=node.ref, case=c)) for c in node.cases]
                out.append((f"in the default case of {node.ref}", Place(switch=node.ref)))
            elif node.type == "DO_WHILE":
                out.append((f"in the loop body of {node.ref}", Place(loop=node.ref)))
        return out

    def switches(self) -> list[str]:
        """Return the references of the SWITCH and DECISION tasks (a new case can be opened in each)."""
        return [n.ref for n in self.nodes() if n.type in CASES]

    def worker_inputs(self, name: str) -> dict[str, Any]:
        """Return a starting input for the worker ``name``: its parameters with a default other than None.

        Required parameters are left out, never ``null``: :meth:`issues` names them until they are set.
        """
        return worker_template(getattr(self.workers.get(name), "fn", None))

    def worker_fields(self, name: str) -> list[WorkerField]:
        """Return the inputs of the worker ``name`` from its signature (required ones have no default)."""
        return worker_fields(getattr(self.workers.get(name), "fn", None))

    def level_of(self, place: Place) -> Place:
        """Return the level a task added at ``place`` leaves the builder at (see :meth:`next_place`).

        After "after X" it is the sequence holding X; after a place picked inside a fork branch, a case
        or a loop body ("in branch 1 of fork_1") it is the sequence holding that fork, case or loop.
        """
        return level_of(self._root, place)

    def next_place(self, level: Place | None = None) -> Place:
        """Where the next task goes by default: after the last task placed at ``level`` (default: the top)."""
        return next_place(self._root, level or Place())

    def template(self, task_type: str, mode: str | None = None) -> dict[str, Any]:
        """Return the input offered when ``task_type`` (in ``mode``, see :data:`MODES`) is picked."""
        if task_type in self.workers:
            return self.worker_inputs(task_type)
        found = TEMPLATES.get(f"{task_type}:{mode}", TEMPLATES.get(task_type, {}))
        return dict(copy.deepcopy(found))

    def references(self, place: Place | None = None, *, of: str | None = None) -> list[str]:
        """List the ``${...}`` expressions a task added at ``place`` (or the placed task ``of``) can use.

        The workflow's inputs, then the outputs of the tasks that have run before it (variables set
        by SET_VARIABLE included). With neither: what the workflow's outputParameters can use.
        """
        out = [f"${{workflow.input.{n}}}" for n in self.input_names()]
        found = self._find(of) if of is not None else None
        before = self._run_before(*found) if found is not None else self._before(place or Place())
        for node in before:
            out += outputs_of(node, self.workers)
        return list(dict.fromkeys(out))

    def input_names(self) -> list[str]:
        """List the declared workflow inputs, then any other ``${workflow.input.x}`` used by a task."""
        names = list(self._input_names)
        for node in self.nodes():
            names += _WORKFLOW_INPUT.findall(json.dumps(node.inputs)) + _WORKFLOW_INPUT.findall(node.setting or "")
        return list(dict.fromkeys(names))

    def _before(self, place: Place) -> list[_Node]:
        """Tasks that have run before a task at ``place``, outermost first."""
        if place.switch is not None and place.case is not None and not self._has_case(place):
            # A case not opened yet: what runs before its SWITCH, and the SWITCH itself.
            found = self._find(place.switch)
            if found is None:
                return []
            return [*self._run_before(*found), found[0][found[1]]]
        try:
            target, index = self._slot(place)
        except InputError:
            return []
        return self._run_before(target, index)

    def _run_before(self, target: list[_Node], index: int) -> list[_Node]:
        def search(seq: list[_Node], above: list[_Node]) -> list[_Node] | None:
            if seq is target:
                return above + [n for node in seq[:index] for n in node.walk()]
            for i, node in enumerate(seq):
                earlier = above + [n for prior in seq[:i] for n in prior.walk()]
                # Inside a SWITCH or a loop its own output is known; inside a fork its JOIN has not run.
                enclosing = earlier if node.type == "FORK_JOIN" else [*earlier, node]
                for inner in node.sequences():
                    hit = search(inner, enclosing)
                    if hit is not None:
                        return hit
            return None

        return search(self._root, []) or []

    def _has_case(self, place: Place) -> bool:
        try:
            return str(place.case) in self._node(place.switch or "", CASES).cases
        except InputError:
            return True

    # ------------------------------------------------------------------ results
    def plan(self) -> Plan:
        """How :class:`flowkit.WorkflowBuilder` makes this workflow (see :meth:`to_python`)."""
        items: list[Any] = []
        forks = 0
        for node in self._root:
            if node.type == "FORK_JOIN" and node.ref == f"fork_{forks + 1}" and not node.inputs:
                forks += 1  # the builder names ``wf >> [[a], [b]]`` forks fork_1, fork_2, ...
                items.append([sequence(branch) for branch in node.branches])
            else:
                items += calls(node)
        return Plan(
            self.name, self.version, self.description, tuple(self._input_names), items, copy.deepcopy(self._outputs)
        )

    def definition(self) -> WorkflowDef:
        """Return the WorkflowDef made so far (not validated: see :meth:`issues`)."""
        made: WorkflowDef = self.plan().build().to_workflow_def()
        return made

    def issues(self) -> list[DefinitionIssue]:
        """Every problem with the workflow so far, each naming the task reference and the field.

        DefinitionError's issues, required worker inputs unset (or null), SIMPLE tasks without a worker.
        """
        try:
            definition = self.definition()
        except Exception as exc:  # noqa: BLE001 - shown to the user, never raised at them
            return [DefinitionIssue(f"workflow '{self.name}'", f"cannot be built: {exc}", "undo the last step.")]
        out: list[DefinitionIssue] = []
        try:
            definition.validate()
        except DefinitionError as exc:
            out += exc.issues
        out += input_issues(self.nodes(), self.workers)
        for node in self.nodes():
            name = worker_name(node)
            if name is not None and name not in self.workers:
                out.append(
                    DefinitionIssue(
                        f"task '{node.ref}'",
                        f"no worker is registered for task definition '{name}'.",
                        "pass its @worker_task function in workers=[...].",
                        node.ref,
                    )
                )
        return out

    def to_json(self) -> dict[str, Any]:
        """Conductor's WorkflowDef JSON."""
        return self.definition().to_json()

    def to_python(self) -> str:
        """Python code using :class:`flowkit.WorkflowBuilder` that builds the same definition (as ``wf``)."""
        return self.plan().code()
