"""The builder's values: a step, where a new task goes, a JSON field, and the tree node a step makes.

:class:`Step` is what :class:`~flowkit.notebook.builder._model.BuilderModel` records (undo drops the last
one); :class:`Place` says where an added task goes; :func:`parse_json_object` reads the text typed
into a field as a :class:`JsonField`. Replaying the steps makes a tree of ``_Node`` (one per task,
with the sequences it holds: fork branches, switch cases, a loop body), from which the model answers
its questions and :mod:`flowkit.notebook.builder._catalogue` makes the workflow.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from flowkit.notebook.builder._catalogue import CASES

__all__ = ["JsonField", "Place", "Step", "parse_json_object"]


# ---------------------------------------------------------------------------------------------- values
@dataclass(frozen=True, slots=True)
class Place:
    """Where a new task goes. Nothing set: at the end of the workflow.

    Attributes:
        after: Right after this task, in the sequence that holds it (after a FORK_JOIN: after its JOIN).
        fork: At the end of branch ``branch`` (0-based) of this FORK_JOIN.
        switch: At the end of case ``case`` of this SWITCH (a new case when it has none yet); ``case=None``: the default case.
        loop: At the end of this DO_WHILE's body.

    """

    after: str | None = None
    fork: str | None = None
    branch: int = 0
    switch: str | None = None
    case: str | None = None
    loop: str | None = None

    def describe(self) -> str:
        """Say where, in words."""
        if self.after is not None:
            return f"after {self.after}"
        if self.fork is not None:
            return f"in branch {self.branch + 1} of {self.fork}"
        if self.switch is not None:
            return (
                f"in the default case of {self.switch}"
                if self.case is None
                else f"in case {self.case!r} of {self.switch}"
            )
        if self.loop is not None:
            return f"in the loop body of {self.loop}"
        return "at the end"


@dataclass(frozen=True, slots=True)
class Step:
    """One builder step.

    ``add`` a task, ``edit`` one in place (its inputs, setting and mode), ``remove`` one (with what it
    contains), or set the workflow's ``inputs`` / ``outputs``.
    """

    action: str
    ref: str = ""
    task_type: str = ""
    name: str = ""
    inputs: Mapping[str, Any] = field(default_factory=dict)
    setting: str | None = None
    place: Place = Place()
    values: Any = None
    mode: str | None = None


@dataclass(frozen=True, slots=True)
class JsonField:
    """A JSON object typed into a field: the value, or where and why it does not parse."""

    value: dict[str, Any] | None
    error: str | None = None
    line: int | None = None
    column: int | None = None

    @property
    def ok(self) -> bool:
        """True when the text is a JSON object."""
        return self.error is None


def parse_json_object(text: str) -> JsonField:
    """Parse a field's text as a JSON object (empty text is ``{}``); never raises."""
    if not text.strip():
        return JsonField({})
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return JsonField(None, f"line {exc.lineno}, column {exc.colno}: {exc.msg}", exc.lineno, exc.colno)
    if not isinstance(value, dict):
        return JsonField(None, f"must be a JSON object ({{...}}), not {type(value).__name__}")
    return JsonField(value)


class _Node:
    __slots__ = ("body", "branches", "cases", "default", "inputs", "mode", "name", "ref", "setting", "type")

    def __init__(self, step: Step) -> None:
        self.type = step.task_type
        self.ref = step.ref
        self.name = step.name
        self.inputs = copy.deepcopy(dict(step.inputs))
        self.setting = step.setting
        self.mode = step.mode
        branches = int(step.setting or 2) if self.type == "FORK_JOIN" else 0
        self.branches: list[list[_Node]] = [[] for _ in range(branches)]
        self.cases: dict[str, list[_Node]] = {}
        self.default: list[_Node] = []
        self.body: list[_Node] = []

    @property
    def join_ref(self) -> str:
        """The JOIN added after a fork (named as WorkflowBuilder names it); "" for other types."""
        if self.type == "FORK_JOIN":
            return f"join_{self.ref}"
        return f"{self.ref}_join" if self.type == "FORK_JOIN_DYNAMIC" else ""

    @property
    def last_ref(self) -> str:
        """What a JOIN waits for when this task ends a branch (a fork ends with its JOIN)."""
        return self.join_ref or self.ref

    def sequences(self) -> Iterator[list[_Node]]:
        yield from self.branches
        yield from self.cases.values()
        if self.type in CASES:
            yield self.default
        yield self.body

    def walk(self) -> Iterator[_Node]:
        yield self
        for seq in self.sequences():
            for node in seq:
                yield from node.walk()
