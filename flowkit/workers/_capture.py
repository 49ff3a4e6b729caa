"""Per-attempt capture of ``print`` output and log records, safe across worker threads."""

from __future__ import annotations

import logging
import sys
import threading
from typing import Any, TextIO, cast

__all__ = ["end", "installed"]


class _Attempt:
    """One thread's capture: ``buf`` collects what the attempt running on it writes (None: none runs)."""

    __slots__ = ("buf",)

    def __init__(self) -> None:
        self.buf: list[str] | None = None


class _PerThread(threading.local):
    """``attempt``: the thread's :class:`_Attempt`, made on its first use in each thread.

    One thread-local read per worker call; the buffer's swaps are then plain attribute writes.
    """

    def __init__(self) -> None:
        self.attempt = _Attempt()


_local = _PerThread()
_lock = threading.Lock()
_users = 0


class _Tee:
    """Stands in for ``sys.stdout``: text written inside a worker goes to that attempt's log."""

    def __init__(self, target: TextIO) -> None:
        self._target = target

    def write(self, text: str) -> int:
        buf = _local.attempt.buf
        if buf is None:
            return self._target.write(text)
        buf.append(text)
        return len(text)

    def flush(self) -> None:
        self._target.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)


class _Handler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        buf = _local.attempt.buf
        if buf is not None:
            buf.append(f"{record.levelname} {record.name}: {record.getMessage()}\n")
            return
        # Outside a worker this handler must not change what logging does: with no other handler
        # configured, Python would have printed the record through its last-resort handler (stderr).
        last = logging.lastResort
        if last is not None and record.levelno >= last.level and logging.getLogger().handlers == [self]:
            last.handle(record)


_handler = _Handler()
_TEES: dict[int, _Tee] = {}
_KEEP: list[TextIO] = []  # the streams the tees wrap stay alive too, so their ids stay unique


class installed:  # noqa: N801 - used as a context manager, named like one
    """Install the capture for the duration of a run (re-entrant)."""

    def __enter__(self) -> None:
        global _users
        with _lock:
            _users += 1
            # Someone (a notebook, pytest's capture) may have replaced sys.stdout since: wrap what is there now.
            if not isinstance(sys.stdout, _Tee):
                # One _Tee per stream, kept for the process's life: another thread may be inside
                # print() holding the old sys.stdout without a reference of its own (CPython 3.11),
                # so a _Tee must never be freed while code may still write to it.
                target = sys.stdout
                tee = _TEES.get(id(target))
                if tee is None or tee._target is not target:
                    tee = _TEES[id(target)] = _Tee(target)
                    _KEEP.append(target)
                sys.stdout = cast(TextIO, tee)  # it forwards everything but write/flush to the stream
            if _handler not in logging.getLogger().handlers:
                logging.getLogger().addHandler(_handler)

    def __exit__(self, *exc: object) -> None:
        global _users
        with _lock:
            _users -= 1
            if _users == 0:
                if isinstance(sys.stdout, _Tee):
                    sys.stdout = sys.stdout._target
                logging.getLogger().removeHandler(_handler)


def end(token: Any) -> list[str] | None:
    """Stop capturing (``Worker.result`` starts it, keeping the previous buffer as ``token``); the captured lines, or None."""
    attempt = _local.attempt
    buf = attempt.buf
    attempt.buf = token
    if not buf:
        return None
    return "".join(buf).splitlines()
