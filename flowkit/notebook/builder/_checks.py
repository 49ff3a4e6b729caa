"""What the builder says about a draft before it is exported or run, and where the next task goes.

:func:`input_issues` lists the worker inputs a draft leaves unset (a parameter without a default,
which would fail the task at once with ``FAILED_WITH_TERMINAL_ERROR``) or null. :func:`level_of` and
:func:`next_place` keep the builder "at the current level": after a task is added into a fork
branch (or a case, or a loop body) picked from the list, the next one goes after the fork, not into
the branch again, unless the user chose a place inside that branch.
"""

from __future__ import annotations

import html
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from flowkit.errors import DefinitionIssue
from flowkit.notebook.builder._catalogue import CASES, worker_fields
from flowkit.notebook.builder._steps import Place

if TYPE_CHECKING:
    from flowkit.notebook.builder._steps import _Node as Node

__all__ = ["HINT", "input_issues", "issues_html", "level_of", "next_place"]

HINT = (
    "<div class='flowkit-issues flowkit-hint' style='color:#555'>Start with a task: pick a worker or a "
    "task type, fill its inputs (<b>*</b>: required) and press Add.</div>"
)
"""What the problems area shows for an empty draft (not a problem yet)."""


def input_issues(nodes: Iterator[Node], workers: Mapping[str, Any]) -> list[DefinitionIssue]:
    """Name each SIMPLE task's required worker input that is unset or null (task ref and field)."""
    out: list[DefinitionIssue] = []
    for node in nodes:
        worker = workers.get(node.name) if node.type == "SIMPLE" else None
        if worker is None:
            continue
        for spec in worker_fields(getattr(worker, "fn", None)):
            value = node.inputs.get(spec.name, "")
            if spec.required and value in ("", None):
                said = "is null" if value is None else "is not set"
                out.append(
                    DefinitionIssue(
                        f"task '{node.ref}' field 'inputParameters.{spec.name}'",
                        f"required input '{spec.name}' of worker '{node.name}' {said}: the task would fail at once.",
                        f"give '{spec.name}' a value or a ${{...}} reference (pick it under 'use', then Insert).",
                        node.ref,
                    )
                )
    return out


def issues_html(issues: list[DefinitionIssue]) -> str:
    """The problems area: each issue's place (a ``data-ref`` on its item), problem and fix; or "no problems"."""
    if not issues:
        return "<div class='flowkit-issues' style='color:#2a6f2a'>no problems</div>"
    items = "".join(
        f"<li data-ref='{html.escape(i.task_ref_name or '')}'><b>{html.escape(i.where)}</b>: "
        f"{html.escape(i.problem)} <i>Fix: {html.escape(i.fix)}</i></li>"
        for i in issues
    )
    return f"<div class='flowkit-issues' style='color:#8b0000'>{len(issues)} problem(s):<ul>{items}</ul></div>"


def _sequences(seq: list[Node], place: Place) -> Iterator[tuple[list[Node], Place]]:
    """``seq`` and every sequence inside it, each with the place that adds at its end."""
    yield seq, place
    for node in seq:
        for i, branch in enumerate(node.branches):
            yield from _sequences(branch, Place(fork=node.ref, branch=i))
        for case, body in node.cases.items():
            yield from _sequences(body, Place(switch=node.ref, case=case))
        if node.type in CASES:
            yield from _sequences(node.default, Place(switch=node.ref))
        if node.type == "DO_WHILE":
            yield from _sequences(node.body, Place(loop=node.ref))


def _container(root: list[Node], ref: str) -> tuple[list[Node], Place] | None:
    for seq, place in _sequences(root, Place()):
        if any(node.ref == ref or node.join_ref == ref for node in seq):
            return seq, place
    return None


def level_of(root: list[Node], place: Place) -> Place:
    """The level a task added at ``place`` leaves the builder at, as the place that adds at its end.

    "after X": the sequence that holds X (the user chose that level). "in branch/case/loop of X", picked
    from the list: the sequence that holds X, so the next task does not silently go in there too.
    """
    ref = place.after or place.fork or place.switch or place.loop
    found = _container(root, ref) if ref else None
    return found[1] if found is not None else Place()


def next_place(root: list[Node], level: Place) -> Place:
    """Where the next task goes by default: after the last task at ``level`` (its start when it is empty)."""
    for seq, place in _sequences(root, Place()):
        if place == level:
            return Place(after=seq[-1].ref) if seq else level
    return Place(after=root[-1].ref) if root else Place()
