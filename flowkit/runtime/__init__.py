"""The runtime: runs workflows on an engine, with workers, a clock, an executor and a store.

:func:`run`, :func:`start` and :func:`open` (also ``flowkit.run`` / ``start`` / ``open``) build a
:class:`Runtime` from :class:`RunOptions`; its :class:`Runner` carries out the engine's commands;
each execution is an :class:`Execution` handle. ``runtime.hooks`` reports runs and tasks as they
start and end. :class:`Clock`, :class:`Executor`, :class:`Scripts`, :class:`Watched` (here) and
:class:`flowkit.store.Store` are the protocols its parts follow.
"""

from flowkit.runtime._clock import SystemClock
from flowkit.runtime._execution import Execution
from flowkit.runtime._hooks import Hooks, RunEnded, RunEvent, RunStarted, TaskEnded, TaskStarted
from flowkit.runtime._interrupt import Interrupted
from flowkit.runtime._options import RunOptions
from flowkit.runtime._protocols import Clock, Executor, Scripts, SyntaxChecking, Watched
from flowkit.runtime._run import open, run, start
from flowkit.runtime._runner import Runner
from flowkit.runtime._runtime import Runtime
from flowkit.store import Store

__all__ = [
    "Clock",
    "Execution",
    "Executor",
    "Hooks",
    "Interrupted",
    "RunEnded",
    "RunEvent",
    "RunOptions",
    "RunStarted",
    "Runner",
    "Runtime",
    "Scripts",
    "Store",
    "SyntaxChecking",
    "SystemClock",
    "TaskEnded",
    "TaskStarted",
    "Watched",
    "open",
    "run",
    "start",
]
