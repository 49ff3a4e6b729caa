"""Conformance, measured (``flowkit conformance [DIR]``).

Run every Conductor workflow definition of the fixture folder and compare each outcome with
Conductor's. The fixtures are Conductor's own JSON files, shipped in this package
(``flowkit/conformance/conductor``, Apache-2.0, with their ``LICENSE``, ``NOTICE`` and ``SOURCES.md``).

Each case (:mod:`flowkit.conformance._cases`) runs one fixture with deterministic test workers through
``flowkit.run`` (virtual clock, inline executor). Fixtures whose HTTP tasks call other hosts have those
URLs pointed at a local ``http.server`` on 127.0.0.1, or at a refusing port to stand for an
unreachable host; nothing is patched.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from flowkit.conformance._cases import CASES as _FIXTURE_CASES
from flowkit.conformance._cases import Case, Check, Result
from flowkit.conformance._spec_cases import SPEC_CASES
from flowkit.errors import NotFoundError

CASES = _FIXTURE_CASES + SPEC_CASES

__all__ = [
    "CASES",
    "SHIPPED",
    "Case",
    "Check",
    "Result",
    "default_directory",
    "definition_files",
    "fixture_folder",
    "format_result",
    "main",
    "run_all",
    "run_case",
]

SHIPPED = Path(__file__).resolve().parent / "conductor"
"""Conductor's JSON files as shipped in the package (see ``SOURCES.md`` there)."""


def default_directory() -> Path:
    """``$FLOWKIT_CONFORMANCE_DIR``, else the fixtures shipped in the package (:data:`SHIPPED`)."""
    env = os.environ.get("FLOWKIT_CONFORMANCE_DIR")
    return Path(env) if env else SHIPPED


def fixture_folder(*names: str, directory: str | Path | None = None) -> Path:
    """The fixture folder (``directory``, else :func:`default_directory`), checked to hold every file of ``names``.

    Raises:
        NotFoundError: a file is missing; the message names every missing file and the folder.
    """
    folder = Path(directory) if directory else default_directory()
    missing = [name for name in names if not (folder / name).is_file()]
    if missing:
        where = "$FLOWKIT_CONFORMANCE_DIR" if not directory and os.environ.get("FLOWKIT_CONFORMANCE_DIR") else "folder"
        raise NotFoundError(
            f"Conductor fixture file(s) missing from {where} {folder}: {', '.join(missing)}. Fix: use the files "
            f"flowkit ships in {SHIPPED} (unset $FLOWKIT_CONFORMANCE_DIR, or reinstall flowkit if they are gone)."
        )
    return folder


@contextlib.contextmanager
def _local_http(spec: Mapping[str, Any] | None) -> Iterator[str]:
    """Serve JSON on a free 127.0.0.1 port; yields the base URL (empty without a spec)."""
    if not spec:
        yield ""
        return
    routes = spec["routes"]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            status, body = routes.get(self.path, (404, {"error": f"no route {self.path}"}))
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        do_POST = do_GET  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _rewrite(value: Any, urls: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        for old, new in urls.items():
            if value.startswith(old):
                return new + value[len(old) :]
        return value
    if isinstance(value, dict):
        return {k: _rewrite(v, urls) for k, v in value.items()}
    if isinstance(value, list):
        return [_rewrite(v, urls) for v in value]
    return value


def _load(item: Any, directory: Path, urls: Mapping[str, str] | None = None) -> Any:
    """Parse a fixture file name into its JSON (with ``urls`` rewritten); pass anything else through."""
    if isinstance(item, str) and item.endswith(".json"):
        item = json.loads((directory / item).read_text(encoding="utf-8"))
    return _rewrite(item, urls) if urls else item


def _short(value: Any, limit: int = 160) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def run_case(case: Case, directory: str | Path | None = None, *, executor: Any = "inline") -> Result:
    """Run one case and compare it with Conductor's outcome (on ``executor``: a name or an Executor)."""
    import flowkit
    from flowkit.testing import VirtualClock

    folder = Path(directory) if directory else default_directory()
    try:
        with _local_http(case.http) as server:
            urls = {old: new.replace("{server}", server) for old, new in case.rewrite.items()}
            execution = flowkit.run(
                _load(case.definition or case.fixture, folder, urls),
                dict(case.input),
                workers=dict(case.workers()),
                task_defs=[_load(d, folder) for d in case.task_defs],
                workflows=[_load(w, folder, urls) for w in case.workflows],
                clock=VirtualClock(),
                executor=executor,
                correlation_id=case.correlation_id,
            )
            for ref, output in case.complete.items():
                if not execution.status.is_terminal and not execution.task(ref).status.is_terminal:
                    execution.complete_task(ref, dict(output))
    except Exception as exc:  # a case that cannot run is a mismatch, reported on its line
        return Result(case.name, f"ERROR: {type(exc).__name__}", case.expected_status, False, _short(str(exc), 200))
    status = str(execution.status)
    problems = [] if status == case.expected_status else [f"status {status}, reason {_short(execution.reason)}"]
    for check in case.checks:
        try:
            actual = check.actual(execution)
        except Exception as exc:  # a missing task or key is a disagreement, not a crash
            problems.append(f"{check.label}: {type(exc).__name__}: {_short(str(exc))}")
            continue
        if actual != check.expected:
            problems.append(f"{check.label}: expected {_short(check.expected)}, got {_short(actual)}")
    if problems:
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        return Result(case.name, status, case.expected_status, False, problems[0] + more)
    n = len(execution.tasks)
    detail = f"{case.source}; {n} task{'' if n == 1 else 's'}" + (f"; {case.note}" if case.note else "")
    return Result(case.name, status, case.expected_status, True, detail)


def definition_files(directory: str | Path | None = None) -> list[str]:
    """Workflow definition files in the folder: JSON objects with ``tasks`` that are not executions."""
    folder = Path(directory) if directory else default_directory()
    found = []
    for path in sorted(folder.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            continue
        if isinstance(data, dict) and isinstance(data.get("tasks"), list) and "workflowId" not in data:
            found.append(path.name)
    return found


def run_all(directory: str | Path | None = None, *, executor: Any = "inline") -> list[Result]:
    """Run every case of :data:`CASES` (worker calls on ``executor``)."""
    return [run_case(case, directory, executor=executor) for case in CASES]


def format_result(result: Result) -> str:
    """``<fixture> [variant]: <status> (expected <status>) MATCH|MISMATCH  <detail>``."""
    verdict = "MATCH" if result.matches else "MISMATCH"
    return f"{result.name}: {result.status} (expected {result.expected_status}) {verdict}  {result.detail}"


def main(directory: str | None = None, executor: str = "inline") -> int:
    """Print one line per case and ``N passed, M failed``; 0 when every case matches Conductor."""
    results = run_all(directory, executor=executor)
    for result in results:
        print(format_result(result))
    passed = sum(r.matches for r in results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if passed == len(results) else 1
