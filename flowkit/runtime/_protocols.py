"""What the runtime needs from its parts: a clock, an executor and a script service.

The store's protocol is :class:`flowkit.store.Store`. These are structural types: any object with
these members will do (``flowkit.testing.VirtualClock`` is a Clock, every class in
``flowkit.executors`` is an Executor, ``flowkit.scripting``'s service is Scripts).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from flowkit.workers import Task, Worker

__all__ = ["Clock", "Executor", "Scripts", "SyntaxChecking", "Watched"]


class Clock(Protocol):
    """Time for the runtime: every wait in flowkit goes through one."""

    @property
    def virtual(self) -> bool:
        """True when time only moves when flowkit waits (the runner then never blocks on a deadline)."""
        ...

    def now_ms(self) -> int:
        """Now, in epoch milliseconds."""
        ...

    def sleep_until(self, when_ms: int, wake: threading.Event | None = None, /) -> None:
        """Wait until ``when_ms``, or until ``wake`` is set."""
        ...


class Executor(Protocol):
    """Runs worker calls and answers each exactly once through ``results``.

    :class:`flowkit.executors.Executor` is the base class of the ones flowkit ships.
    """

    @property
    def inline(self) -> bool:
        """True when calls run in the calling thread (the runner then applies results at once)."""
        ...

    @property
    def batches(self) -> bool:
        """True when calls may be held back until :meth:`send`."""
        ...

    @property
    def results(self) -> queue.SimpleQueue[tuple[Any, Any]]:
        """``(key, outcome)`` pairs, one per call; ``(None, None)`` only wakes the runner.

        An outcome is an :class:`~flowkit.workers.Outcome`, or a plain output dict for a COMPLETED
        result (what ``Worker.result`` returns).
        """
        ...

    def submit_worker(self, key: Any, worker: Worker, task: Task, /) -> None:
        """Run ``worker.execute(task)``; put ``(key, outcome)`` on ``results`` when it returns."""
        ...

    def send(self) -> None:
        """Send the calls held back since the last send."""
        ...

    def shutdown(self) -> None:
        """Release resources."""
        ...


class Scripts(Protocol):
    """The JavaScript and jq evaluator the engine calls (INLINE, JSON_JQ_TRANSFORM, DO_WHILE, SWITCH)."""

    def js(self, source: str, bindings: Any, *, mode: str = "expression", limits: Any = None) -> Any:
        """Evaluate JavaScript with ``$`` bound to ``bindings``."""
        ...

    def jq(self, program: str, value: Any) -> list[Any]:
        """Run a jq program; every output."""
        ...


@runtime_checkable
class SyntaxChecking(Protocol):
    """Scripts that can also check a script without running it (definitions are then checked up front)."""

    def check_syntax(self, source: str, *, mode: str = "expression") -> None:
        """Raise ScriptError when ``source`` does not compile."""
        ...


@runtime_checkable
class Watched(Protocol):
    """An execution whose state lives elsewhere (a server): a view asks it to keep ``model`` current.

    A local Execution is not one (its model is the engine's, always current, and its runtime's hooks
    report every change). :class:`flowkit.client.RemoteExecution` is: while watched it reads the
    server on a background thread and reports what changed through its ``runtime.hooks``.
    """

    def watch(self) -> Callable[[], None]:
        """Keep the execution current until the returned function is called."""
        ...
