"""A small pool of sandbox child processes for what cannot be stopped in-process.

The ``jq`` binding has no time or memory limit and QuickJS's regex matcher never checks its
interrupt handler: an infinite jq loop, ``[range(1e9)]`` or a catastrophic regex would hang the
kernel or abort it. They run in :mod:`flowkit.scripting._child` processes instead: capped address
space, no environment, no file writes, killed (and replaced) when they overrun the time limit; a
crash there is a clear :class:`~flowkit.errors.ScriptError` here. Children are reused (about
50-100 µs a call), at most ``_IDLE`` kept idle per memory limit.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, NoReturn

from flowkit.errors import ScriptError, ScriptMemoryError, ScriptTimeoutError
from flowkit.scripting._limits import ScriptLimits

__all__ = ["call", "run_javascript"]

_IDLE = 2
_GRACE_S = 0.25  # on top of the time limit: the child's own QuickJS limit answers first when it can
_lock = threading.Lock()
_idle: dict[int, list[_Child]] = {}
_home: list[str] = []


class _Child:
    def __init__(self, memory: int) -> None:
        if not _home:
            _home.append(tempfile.mkdtemp(prefix="flowkit-sandbox-"))
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-m", "flowkit.scripting._child", str(memory)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={},
            cwd=_home[0],
            close_fds=True,
            start_new_session=True,
        )
        self.memory = memory

    def ask(self, request: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        proc = self.proc
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(json.dumps(request).encode() + b"\n")
            proc.stdin.flush()
        except OSError:
            raise self._died() from None
        fd, chunks, deadline = proc.stdout.fileno(), [], time.monotonic() + timeout_s
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                self.kill()
                raise ScriptTimeoutError(f"script exceeded its time limit of {round((timeout_s - _GRACE_S) * 1000)} ms")
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                raise self._died()
            chunks.append(chunk)
            if chunk.endswith(b"\n"):
                return json.loads(b"".join(chunks))  # type: ignore[no-any-return]

    def _died(self) -> ScriptError:
        self.kill()
        code = self.proc.returncode
        if code in (-signal.SIGABRT, -signal.SIGKILL, 1):  # jq aborts, Python exits, on failed allocations
            return ScriptMemoryError(
                f"script exceeded its memory limit of {self.memory} bytes (its sandbox process ended)"
            )
        name = signal.Signals(-code).name if code is not None and code < 0 else f"exit code {code}"
        return ScriptError(f"script crashed its sandbox process ({name}); is its result nested too deeply?")

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass
        self.proc.wait()


def call(request: dict[str, Any], limits: ScriptLimits) -> dict[str, Any]:
    """Send ``request`` to a sandbox child under ``limits``; the child's answer.

    Raises:
        ScriptTimeoutError: The child overran the time limit (it is killed).
        ScriptMemoryError: The child ran out of its memory (it ended).
        ScriptError: The child crashed.
    """
    memory = limits.max_memory_bytes
    with _lock:
        idle = _idle.setdefault(memory, [])
        child = idle.pop() if idle else None
    if child is None or child.proc.poll() is not None:
        try:
            child = _Child(memory)
        except OSError as exc:
            raise ScriptError(f"could not start the script sandbox process: {exc}") from None
    answer = child.ask(request, limits.timeout_ms / 1000 + _GRACE_S)
    with _lock:
        if len(idle) < _IDLE:
            idle.append(child)
            child = None
    if child is not None:
        child.kill()
    return answer


def run_javascript(source: str, payload: str, mode: str, limits: ScriptLimits, scope: object) -> str:
    """Evaluate a script that uses regular expressions in a sandbox child; the harness's tagged text."""
    answer = call(
        {
            "op": "js",
            "source": source,
            "input": payload,
            "mode": mode,
            "timeout_ms": limits.timeout_ms,
            "memory": limits.max_memory_bytes,
            "scope": None if scope is None else str(scope),
        },
        limits,
    )
    if "v" in answer:
        return "v" + str(answer["v"])
    raise_answer(answer, limits)


def raise_answer(answer: dict[str, Any], limits: ScriptLimits, language: str = "javascript") -> NoReturn:
    """Raise the error a child's answer carries."""
    kind, message = answer.get("k"), str(answer.get("e"))
    if kind == "timeout":
        raise ScriptTimeoutError(f"script exceeded its time limit of {limits.timeout_ms} ms", language=language)
    if kind == "memory":
        raise ScriptMemoryError(
            f"script exceeded its memory limit of {limits.max_memory_bytes} bytes", language=language
        )
    raise ScriptError(message, language=language, line=answer.get("line"))
