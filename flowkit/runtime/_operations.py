"""Operations that change an execution in more than one engine step (the Execution handle only asks)."""

from __future__ import annotations

from flowkit.engine import Command, Engine, WorkflowModel

__all__ = ["restart"]


def restart(engine: Engine, wf: WorkflowModel, now: int, *, use_latest_definitions: bool = False) -> list[Command]:
    """Start a terminal execution over, on the latest registered definition when asked."""
    if use_latest_definitions:
        latest = engine.workflows.get(wf.definition.name)
        if latest is not None and wf.status.is_terminal:
            wf.definition, wf.plan = latest, engine.plan(latest)
    return engine.restart(wf, now)
