"""Writes a foreground run's finished work while its calling thread is inside a worker.

A foreground run may call a worker on its own thread (``Runner._alone``, and every task with
``executor="inline"``). The runner's loop cannot write meanwhile, so without help a result that
came just before such a call stays unwritten for as long as the call lasts, not ``batch_ms``: a
kill then runs that task again too. One daemon thread per process looks at the runs that write to a
durable store every ``batch_ms / 2`` and writes what has waited ``batch_ms`` for a run whose
calling thread is inside a worker.

The calling thread says when it is inside a worker (``Runner.calling``); a write from here happens
only then, so it never meets a half-made change, and the calling thread, back from the worker,
waits for a write under way before it changes anything (see ``Runner.__init__`` for how the two
flags hand over without a lock per call).
"""

from __future__ import annotations

import threading
import time
from typing import Any

__all__ = ["WATCH"]

_LINGER_S = 1.0  # the thread goes on looking this long after the last run ended (runs often follow runs)
_IDLE_PERIOD_S = 0.05  # how often it looks meanwhile


class _Watch:
    """The process's watch thread and the runners it looks at (added and removed by ``Runner.run``)."""

    def __init__(self) -> None:
        self._cv = threading.Condition(threading.Lock())
        self._runners: list[Any] = []
        self._thread: threading.Thread | None = None
        self._parked = False

    def add(self, runner: Any) -> None:
        with self._cv:
            self._runners.append(runner)
            thread = self._thread
            if thread is None or not thread.is_alive():  # the first run, or a child after os.fork()
                self._parked = False
                thread = threading.Thread(target=self._main, name="flowkit-run-writer", daemon=True)
                try:
                    thread.start()
                except RuntimeError:  # no thread to be had (a process at its limit): the run goes on unwatched
                    self._thread = None
                    return
                self._thread = thread
            elif self._parked:
                self._parked = False
                self._cv.notify()

    def discard(self, runner: Any) -> None:
        with self._cv:
            try:
                self._runners.remove(runner)
            except ValueError:
                pass

    def _main(self) -> None:
        cv, runners = self._cv, self._runners
        idle_since = time.monotonic()
        while True:
            with cv:
                if runners:
                    looked = list(runners)
                    period = max(min(r.batch_s for r in looked) / 2, 0.001)
                else:
                    if time.monotonic() - idle_since >= _LINGER_S:  # no run for a while: sleep until one starts
                        self._parked = True
                        while self._parked:
                            cv.wait()
                        continue  # a run started: look at it at once
                    looked, period = [], _IDLE_PERIOD_S
            for runner in looked:
                runner.write_waited()
            if looked:
                idle_since = time.monotonic()
            time.sleep(period)


WATCH = _Watch()
