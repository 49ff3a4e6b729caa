"""Ctrl-C (SIGINT, Jupyter's "interrupt kernel") while ``flowkit.run`` blocks: a clean stop.

While a foreground run drives its execution on the main thread, SIGINT is caught here. When the
runner is waiting (for a worker's result, a retry's backoff, a timer) or inside a worker called on
this thread, the wait ends at once; otherwise the runner stops at its next step. Either way no
engine change is cut in half. The execution is then TERMINATED with a reason that says so, written
to the store, and :class:`Interrupted` reaches the caller: the run is never resumed behind the
user's back, and ``retry()`` or ``restart()`` can take it up again. A second Ctrl-C while the first
is being handled interrupts as Python normally does.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flowkit.runtime._execution import Execution

__all__ = ["INTERRUPTED_REASON", "Interrupted", "SigintGuard"]

INTERRUPTED_REASON = (
    "interrupted (Ctrl-C / KeyboardInterrupt) while flowkit.run waited; execution.retry() or restart() "
    "takes it up again"
)


class Interrupted(KeyboardInterrupt):  # noqa: N818 - a KeyboardInterrupt, named for what happened
    """``flowkit.run`` was interrupted; the execution ended TERMINATED and is in the store.

    It is a ``KeyboardInterrupt``, so code that stops on Ctrl-C still does. IPython and Jupyter show
    it as one line instead of a traceback.

    Attributes:
        execution: The TERMINATED execution (``execution.retry()`` takes it up again).
    """

    __module__ = "flowkit"  # shown as flowkit.Interrupted, where users import it from

    def __init__(self, message: str, execution: Execution | None = None) -> None:
        super().__init__(message)
        self.execution = execution

    def _render_traceback_(self) -> list[str]:  # IPython's hook: these lines instead of a traceback
        return [f"flowkit.Interrupted: {self}"]


# The C function under signal.signal, without its enum conversions (a run installs and restores
# the guard every time: half the guard's cost).
_set_handler: Any = getattr(signal, "_signal", signal).signal


class SigintGuard:
    """Catch SIGINT on the main thread for the duration of a foreground run.

    ``requested`` turns True on the first SIGINT. While ``waiting`` is True (the runner blocks on a
    queue or the clock, or calls a worker on this thread) the handler raises KeyboardInterrupt at
    once, which leaves no engine state half-changed; otherwise the runner sees ``requested`` at its
    next step. Off the main thread (a background runtime) nothing is installed.
    """

    __slots__ = ("_previous", "requested", "waiting")

    def __init__(self) -> None:
        self.requested = False
        self.waiting = False
        self._previous: Any = None

    def __enter__(self) -> SigintGuard:
        if threading.current_thread() is threading.main_thread():
            try:
                self._previous = _set_handler(signal.SIGINT, self._handle)
            except ValueError:  # not the main interpreter
                self._previous = None
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            _set_handler(signal.SIGINT, self._previous)
            self._previous = None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested or self.waiting:
            self.requested = True
            raise KeyboardInterrupt
        self.requested = True
