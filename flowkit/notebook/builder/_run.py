"""The builder's Run: the draft started with the builder's workers (its monitor is shown by the widget)."""

from __future__ import annotations

import json
from typing import Any

from flowkit.errors import FlowkitError
from flowkit.notebook.builder._model import BuilderModel
from flowkit.notebook.builder._steps import parse_json_object

__all__ = ["RunStart", "run_placeholder", "start_run"]


class RunStart:
    """What pressing Run did: the execution started, or why not (``problem``; ``field``: the run input's own)."""

    def __init__(self, execution: Any = None, problem: str | None = None, field: str | None = None) -> None:
        self.execution = execution
        self.problem = problem
        self.field = field


def start_run(model: BuilderModel, text: str, store: Any = None) -> RunStart:
    """Start the draft with ``text`` (JSON) as its input, unless it has problems or the input is not right."""
    issues = model.issues()
    if issues:
        return RunStart(problem=f"cannot run: {len(issues)} problem(s), listed above; fix them first")
    parsed = parse_json_object(text)
    if not parsed.ok:
        return RunStart(problem="the run input is not a JSON object", field=f"run input is not valid: {parsed.error}")
    given = parsed.value or {}
    missing = [n for n in model.declared_inputs if n not in given]
    if missing:
        return RunStart(problem=f"the run input lacks {', '.join(missing)} (declared workflow inputs)")
    import flowkit

    try:
        return RunStart(flowkit.start(model.definition(), given, workers=model.workers, store=store))
    except FlowkitError as exc:
        return RunStart(problem=f"cannot run: {exc}")


def run_placeholder(model: BuilderModel) -> str:
    """The run input's placeholder: the workflow's input names, to fill in."""
    names = model.input_names()
    shown = json.dumps(dict.fromkeys(names, "...")) if names else '{"name": "value"}'
    return f"{shown}: the workflow input for Run"
