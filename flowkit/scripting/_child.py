"""The sandbox child process: jq programs and regex-using JavaScript, one request per line.

Started by :mod:`flowkit.scripting._sandbox` with an empty environment, in an empty directory, as
``python -I -m flowkit.scripting._child MEMORY_BYTES``. After its imports it caps its own address
space (``RLIMIT_AS``: what it holds now plus the script memory limit) and forbids writing files,
so a runaway jq program aborts this process, not the kernel's; the parent kills it on time-out.
"""

from __future__ import annotations

import json
import resource
import sys
from collections import OrderedDict
from typing import Any

_SLACK = 64 * 1024 * 1024  # allocator and interpreter growth on top of the script's own budget


def _address_space() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _limit(memory: int) -> None:
    cap = _address_space() + memory + _SLACK
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def main() -> None:
    """Serve requests from stdin until it closes."""
    import importlib

    from flowkit.errors import ScriptError, ScriptMemoryError, ScriptTimeoutError
    from flowkit.scripting._limits import ScriptLimits
    from flowkit.scripting._quickjs import QuickJSJavaScript

    jq = importlib.import_module("jq")
    _limit(int(sys.argv[1]))
    programs: OrderedDict[str, Any] = OrderedDict()
    engine = QuickJSJavaScript(allow_regex=True)
    out = sys.stdout.buffer
    for line in sys.stdin.buffer:
        request = json.loads(line)
        answer: dict[str, Any]
        try:
            if request["op"] == "jq":
                program = programs.get(request["program"])
                if program is None:
                    program = programs[request["program"]] = jq.compile(request["program"])
                    if len(programs) > 256:
                        programs.popitem(last=False)
                answer = {"v": program.input_text(request["input"]).text()}
            else:
                limits = ScriptLimits(timeout_ms=request["timeout_ms"], max_memory_bytes=request["memory"])
                value = engine.evaluate(
                    request["source"],
                    json.loads(request["input"]),
                    mode=request["mode"],
                    limits=limits,
                    scope=request["scope"],
                )
                answer = {"v": json.dumps(value, separators=(",", ":"))}
        except ScriptTimeoutError as exc:
            answer = {"e": str(exc), "k": "timeout"}
        except ScriptMemoryError as exc:
            answer = {"e": str(exc), "k": "memory"}
        except ScriptError as exc:
            answer = {"e": str(exc), "line": exc.line}
        except MemoryError:
            answer = {"e": "out of memory", "k": "memory"}
        except (ValueError, RecursionError) as exc:  # jq's run-time errors, deep outputs
            answer = {"e": str(exc)[:10_000]}
        out.write(json.dumps(answer).encode() + b"\n")
        out.flush()


if __name__ == "__main__":
    main()
