"""The flowkit exception tree.

Every error flowkit raises on purpose is a :class:`FlowkitError`; its message names the place
(workflow, task reference, field) and the fix::

    FlowkitError
    ├── DefinitionError          a workflow or task definition is malformed (lists every issue)
    ├── ExpressionError          a ``${...}`` expression does not parse
    ├── WorkerError              a worker is missing, mis-declared, or returned something unusable
    │   └── MissingWorkerError   a SIMPLE task has no worker (reported before the run starts)
    ├── ScriptError              a JavaScript or jq program failed to compile or run
    │   ├── ScriptTimeoutError   the script ran past its time limit
    │   └── ScriptMemoryError    the script ran past its memory limit
    ├── OperationNotAllowedError a workflow operation is not allowed in the current state (HTTP 409)
    ├── NotFoundError            an execution, workflow definition or task does not exist
    ├── InputError               workflow input, CLI argument or option is not usable
    └── StoreError               a durable store is locked, corrupt, read-only or from a newer schema

``NonRetryableError`` is not a FlowkitError: it is what *workers* raise to end a task with
``FAILED_WITH_TERMINAL_ERROR`` (Conductor's ``NonRetryableException``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "DefinitionError",
    "DefinitionIssue",
    "ExpressionError",
    "FlowkitError",
    "InputError",
    "MissingWorkerError",
    "NonRetryableError",
    "NotFoundError",
    "OperationNotAllowedError",
    "ScriptError",
    "ScriptMemoryError",
    "ScriptTimeoutError",
    "StoreError",
    "WorkerError",
]


class FlowkitError(Exception):
    """Base class of every error flowkit raises on purpose."""


@dataclass(frozen=True, slots=True)
class DefinitionIssue:
    """One problem found while validating a definition."""

    where: str
    """The place: ``workflow 'name'`` or ``task 'ref'`` and the field, e.g. ``task 't1' field 'joinOn'``."""
    problem: str
    """What is wrong."""
    fix: str
    """What to change."""
    task_ref_name: str | None = None
    """The task reference name involved, when there is one."""

    def __str__(self) -> str:
        return f"{self.where}: {self.problem} Fix: {self.fix}"


class DefinitionError(FlowkitError):
    """A workflow or task definition is malformed; ``issues`` lists every problem found."""

    def __init__(self, issues: Sequence[DefinitionIssue], *, workflow_name: str | None = None) -> None:
        self.issues = tuple(issues)
        self.workflow_name = workflow_name
        head = f"workflow '{workflow_name}'" if workflow_name else "definition"
        lines = [f"{head} has {len(self.issues)} problem(s):"]
        lines += [f"  - {issue}" for issue in self.issues]
        super().__init__("\n".join(lines))

    @property
    def task_ref_names(self) -> tuple[str, ...]:
        """The task references named by the issues, in order, without repeats."""
        return tuple(dict.fromkeys(i.task_ref_name for i in self.issues if i.task_ref_name))


class ExpressionError(FlowkitError):
    """A ``${...}`` expression does not parse."""

    def __init__(self, message: str, *, expression: str, task_ref_name: str | None = None) -> None:
        self.expression = expression
        self.task_ref_name = task_ref_name
        super().__init__(message)


class WorkerError(FlowkitError):
    """A worker is mis-declared or returned something flowkit cannot use."""

    def __init__(self, message: str, *, task_def_name: str | None = None) -> None:
        self.task_def_name = task_def_name
        super().__init__(message)


class MissingWorkerError(WorkerError):
    """SIMPLE tasks have no worker; raised before the run starts."""

    def __init__(self, missing: dict[str, list[str]]) -> None:
        self.missing = missing
        parts = [f"'{name}' (task refs: {', '.join(refs)})" for name, refs in sorted(missing.items())]
        super().__init__(
            "no worker for task definition(s) "
            + "; ".join(parts)
            + ". Fix: pass workers=[...] with a @flowkit.worker_task(task_definition_name=...) function "
            "for each, or a {name: function} mapping.",
            task_def_name=next(iter(sorted(missing)), None),
        )


class ScriptError(FlowkitError):
    """A JavaScript or jq program failed to compile or run."""

    def __init__(self, message: str, *, language: str = "javascript", line: int | None = None) -> None:
        self.language = language
        self.line = line
        super().__init__(message)


class ScriptTimeoutError(ScriptError):
    """A script ran past its time limit."""


class ScriptMemoryError(ScriptError):
    """A script ran past its memory limit."""


class OperationNotAllowedError(FlowkitError):
    """A workflow operation is not allowed in the execution's current state (Conductor's 409)."""

    def __init__(self, message: str, *, workflow_id: str | None = None) -> None:
        self.workflow_id = workflow_id
        super().__init__(message)


class NotFoundError(FlowkitError):
    """An execution, workflow definition or task does not exist."""


class InputError(FlowkitError):
    """Workflow input, a CLI argument or an option is not usable."""


class StoreError(FlowkitError):
    """A durable store is locked, corrupt, read-only or from a newer schema."""


class NonRetryableError(Exception):
    """Raised by a worker to fail its task with ``FAILED_WITH_TERMINAL_ERROR`` (no retries)."""
