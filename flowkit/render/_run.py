"""What an execution says about each node of its diagram.

The attempts of every definition ref (retries, loop iterations) and the branches of every dynamic
fork, summarised into a :class:`Cell`.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import TYPE_CHECKING

from flowkit.render._style import STATUS_ORDER, STATUS_SYMBOLS, duration, preview, short

if TYPE_CHECKING:
    from flowkit.engine import TaskModel, WorkflowModel

__all__ = ["Cell", "Run", "breakdown"]

_LOOP_SUFFIX = re.compile(r"__\d+$")
_DYNAMIC = "dynamic"  # flowkit.engine._execution_plan.DYNAMIC: the container of a task forked at run time
_SHOWN_ATTEMPTS = 5
_FULL_REASON = 2000  # the tooltip holds the whole reason (within reason: tracebacks can be long)
_UNSUCCESSFUL = frozenset({"FAILED", "FAILED_WITH_TERMINAL_ERROR", "TIMED_OUT", "CANCELED", "COMPLETED_WITH_ERRORS"})


def _def_ref(task: TaskModel) -> str:
    node = getattr(task, "node", None)
    return node.ref if node is not None else _LOOP_SUFFIX.sub("", task.ref)


class Cell:
    """One node's attempts: the latest attempt's status, how many attempts and iterations, timing."""

    __slots__ = ("attempts", "final", "iterations", "status")

    def __init__(self, attempts: list[TaskModel], in_loop: bool) -> None:
        final = attempts[-1]
        latest = [t for t in attempts if t.iteration == final.iteration] if in_loop else attempts
        self.final = final
        self.attempts = latest
        self.status = str(final.status)
        if final.task_type == "DO_WHILE":
            self.iterations: int | None = final.iteration
        elif in_loop:
            self.iterations = len({t.iteration for t in attempts})
        else:
            self.iterations = None

    @property
    def symbol(self) -> str:
        """The status symbol."""
        return STATUS_SYMBOLS.get(self.status, "?")

    @property
    def duration_ms(self) -> int | None:
        """The latest attempt's running time; None while it has not ended."""
        t = self.final
        if t.start_time and t.end_time and t.end_time >= t.start_time:
            return int(t.end_time - t.start_time)
        return None

    def detail(self) -> str:
        """``✔ 1.2 s · 3 attempts · ×4 iterations``."""
        parts = []
        if self.duration_ms is not None:
            parts.append(duration(self.duration_ms))
        if len(self.attempts) > 1:
            parts.append(f"{len(self.attempts)} attempts")
        if self.iterations is not None:
            parts.append(f"×{self.iterations} iteration{'' if self.iterations == 1 else 's'}")
        return " ".join([self.symbol, " · ".join(parts) if parts else self.status])

    def failure(self) -> str:
        """The latest attempt's reason when it did not succeed ("" otherwise): the label shortens it."""
        if self.status in _UNSUCCESSFUL and self.final.reason:
            return str(self.final.reason)
        return ""

    def tooltip(self, head: str) -> str:
        """Status, reason, the last attempts, input and output (each truncated)."""
        t = self.final
        lines = [head, f"{self.symbol} {self.status}" + (f" (iteration {t.iteration})" if self.iterations else "")]
        if t.reason:
            lines.append(f"reason: {short(t.reason, _FULL_REASON)}")
        if len(self.attempts) > 1:
            shown = self.attempts[-_SHOWN_ATTEMPTS:]
            first = len(self.attempts) - len(shown) + 1
            for number, attempt in enumerate(shown, first):
                line = f"attempt {number}: {attempt.status}"
                if attempt.start_time and attempt.end_time >= attempt.start_time:
                    line += f" {duration(int(attempt.end_time - attempt.start_time))}"
                if attempt.reason:
                    line += f": {short(attempt.reason, 80)}"
                lines.append(line)
        lines.append(f"input: {preview(t.input)}")
        lines.append(f"output: {preview(t.output)}")
        return "\n".join(lines)


class Run:
    """An execution indexed by definition ref; ``Run(None)`` stands for a part not reached yet."""

    __slots__ = ("_by_ref", "_dynamic", "model")

    def __init__(self, model: WorkflowModel | None) -> None:
        self.model = model
        self._by_ref: dict[str, list[TaskModel]] = {}
        self._dynamic: dict[str, list[TaskModel]] = {}
        for task in list(model.tasks) if model is not None else ():
            node = getattr(task, "node", None)
            if node is not None and node.container == _DYNAMIC and node.owner is not None:
                self._dynamic.setdefault(node.owner.ref, []).append(task)
            else:
                self._by_ref.setdefault(_def_ref(task), []).append(task)

    def cell(self, ref: str, in_loop: bool) -> Cell | None:
        """Summarise the attempts of definition ref ``ref``; None when it never ran."""
        attempts = self._by_ref.get(ref)
        return Cell(attempts, in_loop) if attempts else None

    def branches(self, fork_ref: str, iteration: int) -> dict[str, list[TaskModel]]:
        """Return the dynamic fork's branches in ``iteration`` (0 outside loops): ref -> attempts."""
        out: dict[str, list[TaskModel]] = {}
        for task in self._dynamic.get(fork_ref, ()):
            if task.iteration == iteration:
                out.setdefault(task.ref, []).append(task)
        return out


def breakdown(finals: list[str]) -> list[tuple[str, int]]:
    """Status counts, most frequent first (ties in :data:`STATUS_ORDER`)."""
    rank = {status: i for i, status in enumerate(STATUS_ORDER)}
    counts = Counter(finals)
    return sorted(counts.items(), key=lambda item: (-item[1], rank.get(item[0], len(rank)), item[0]))
