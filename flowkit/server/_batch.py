"""Group the hot calls (polls and task updates) of concurrent requests into one engine operation.

Each ``Runtime.operate`` is a hand-off to the runtime thread and a store transaction; with 8 workers
polling and answering at once, one operation for everything that arrived meanwhile costs one of each
instead of eight (group commit).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from flowkit.engine import Command, Engine
from flowkit.runtime import Runtime

__all__ = ["Batcher", "Step"]

Step = Callable[[Engine, int], tuple[list[Command], Any]]
"""One request's share of an operation: ``(engine, now) -> (commands, result)``."""


class Batcher:
    """Applies queued steps in one ``runtime.operate`` per round, on the event loop's behalf."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._pending: list[tuple[Step, asyncio.Future[Any]]] = []
        self._draining = False

    async def submit(self, step: Step) -> Any:
        """Run ``step`` on the runtime thread (with whatever else is waiting) and return its result."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((step, future))
        if not self._draining:
            self._draining = True
            asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                outcomes: list[tuple[bool, Any]] = []

                def operation(
                    engine: Engine,
                    now: int,
                    batch: list[tuple[Step, Any]] = batch,
                    outcomes: list[tuple[bool, Any]] = outcomes,
                ) -> list[Command]:
                    commands: list[Command] = []
                    for step, _ in batch:
                        try:
                            produced, result = step(engine, now)
                        except Exception as exc:  # this request's error; the others go on
                            outcomes.append((False, exc))
                        else:
                            commands += produced
                            outcomes.append((True, result))
                    return commands

                try:
                    await asyncio.to_thread(self.runtime.operate, operation)
                except Exception as exc:  # the operation as a whole failed: every request hears it
                    outcomes = [(False, exc)] * len(batch)
                for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
                    if future.done():
                        continue
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)
        finally:
            self._draining = False
