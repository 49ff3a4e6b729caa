"""Group the hot calls (polls and task updates) of concurrent requests into one engine operation.

Each runtime operation is a hand-off to the runtime thread and a store transaction. Requests queue
here; one operation at a time waits in the runtime's inbox, and when the runtime thread starts it,
it takes every request queued until that moment. Requests that arrive while a transaction commits
therefore share the next one (group commit): with 8 workers polling and answering at once, a few
commits carry the updates of all of them.

A request is answered only once the transaction that holds it has committed (the runtime calls back
after its write; the event loop is woken from there, no thread of the loop's pool is parked): a
polled task's IN_PROGRESS is on disk before the worker sees it, so a server killed then restarted
hands it out again only after its response timeout, as Conductor does. ``durable=False`` answers as
soon as the step ran, for steps that change nothing.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

from flowkit.engine import Command, Engine
from flowkit.runtime import Runtime

__all__ = ["Batcher", "Step"]

Step = Callable[[Engine, int], tuple[list[Command], Any]]
"""One request's share of an operation: ``(engine, now) -> (commands, result)``."""

_Item = tuple[Step, "asyncio.Future[Any]", bool]  # step, its future, answer before the commit


class Batcher:
    """Applies queued steps in one runtime operation per round, on the event loop's behalf."""

    def __init__(self, runtime: Runtime, before: Callable[[Engine], None] | None = None) -> None:
        self.runtime = runtime
        self.before = before  # called on the runtime thread before each round's steps
        self._pending: list[_Item] = []
        self._queued = False  # an operation waits in the runtime's inbox and has not taken its steps yet
        self._lock = threading.Lock()
        self.rounds = 0  # operations run (the group commits of the hot path)
        self.steps = 0  # requests they carried

    async def submit(self, step: Step, *, durable: bool = True) -> Any:
        """Run ``step`` on the runtime thread (with whatever else is waiting) and return its result.

        ``durable``: answer only once what the step changed is on disk (else as soon as it ran).
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        with self._lock:
            self._pending.append((step, future, not durable))
            start = not self._queued
            self._queued = True
        if start:
            # Handed to the runtime thread at the end of this turn of the event loop, not now: the
            # requests whose bytes came in the same turn join the round (woken at once, the runtime
            # thread would take the GIL at the loop's next system call and find one request).
            loop.call_soon(self._launch, loop)
        return await future

    def _launch(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            self.runtime.submit(*self._round(loop))
        except Exception as exc:  # the runtime is closed: every waiting request hears it
            with self._lock:
                batch, self._pending = self._pending, []
                self._queued = False
            _settle_all([(future, False, exc) for _, future, _ in batch], None)

    def _round(
        self, loop: asyncio.AbstractEventLoop
    ) -> tuple[Callable[[Engine, int], list[Command]], Callable[[BaseException | None], None]]:
        """One operation (takes the queued steps when it starts) and its after-the-write callback."""
        taken: list[tuple[asyncio.Future[Any], bool, Any]] = []  # answered after the commit

        def operation(engine: Engine, now: int) -> list[Command]:
            with self._lock:
                batch, self._pending = self._pending, []
                self._queued = False
            if self.before is not None:
                self.before(engine)
            commands: list[Command] = []
            early: list[tuple[asyncio.Future[Any], bool, Any]] = []
            for step, future, eager in batch:
                try:
                    produced, result = step(engine, now)
                except Exception as exc:  # this request's error; the others go on
                    outcome: tuple[bool, Any] = (False, exc)
                else:
                    commands += produced
                    outcome = (True, result)
                if eager:
                    early.append((future, *outcome))
                else:
                    taken.append((future, *outcome))
            self.rounds += 1
            self.steps += len(batch)
            if early:
                _call_soon(loop, _settle_all, early, None)
            return commands

        def done(error: BaseException | None) -> None:
            _call_soon(loop, _settle_all, taken, error)

        return operation, done


def _call_soon(loop: asyncio.AbstractEventLoop, fn: Callable[..., None], *args: Any) -> None:
    try:
        loop.call_soon_threadsafe(fn, *args)
    except RuntimeError:  # the loop closed (the server is stopping): nobody waits any more
        pass


def _settle_all(results: list[tuple[asyncio.Future[Any], bool, Any]], error: BaseException | None) -> None:
    """Answer each request; ``error``: the operation as a whole failed (e.g. the store): all hear it."""
    for future, ok, value in results:
        if future.done():
            continue
        if error is not None:
            future.set_exception(error)
        elif ok:
            future.set_result(value)
        else:
            future.set_exception(value)
