"""The ``flowkit`` command: validate and run Conductor workflow JSON.

Exit codes: 0 the workflow COMPLETED (or every file is valid), 1 it ended otherwise, 2 bad input.
Errors are one paragraph, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["main"]


def _load_workers(spec: str) -> list[Any]:
    from flowkit.errors import InputError
    from flowkit.workers import Worker

    path = Path(spec)
    try:
        if path.suffix == ".py" or path.exists():
            module_spec = importlib.util.spec_from_file_location(path.stem, path)
            if module_spec is None or module_spec.loader is None:
                raise InputError(
                    f"cannot load workers from {spec!r}. Fix: give a .py file or an importable module name."
                )
            module = importlib.util.module_from_spec(module_spec)
            sys.path.insert(0, str(path.resolve().parent))
            module_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(spec)
    except InputError:
        raise
    except SystemExit as exc:  # sys.exit() at import time would end the command without a word
        raise InputError(
            f"importing workers from {spec!r} called sys.exit({exc.code!r}). Fix: keep the module's top level "
            'free of sys.exit() (put script code under `if __name__ == "__main__":`).'
        ) from None
    except Exception as exc:  # the user's module failed to import: say where, not how
        raise InputError(f"importing workers from {spec!r} failed: {type(exc).__name__}: {exc}") from None
    workers = [value for value in vars(module).values() if isinstance(value, Worker)]
    if not workers:
        raise InputError(f"{spec!r} defines no @flowkit.worker_task functions. Fix: decorate your worker functions.")
    return workers


def _load_defs(directory: str) -> tuple[list[Any], list[Any]]:
    from flowkit.definitions import TaskDef, WorkflowDef
    from flowkit.definitions._wire import load_json_source
    from flowkit.errors import InputError

    root = Path(directory)
    if not root.is_dir():
        raise InputError(f"--defs {directory!r} is not a directory. Fix: point it at a folder of JSON definitions.")
    workflows, task_defs = [], []
    for path in sorted(root.glob("*.json")):
        raw = load_json_source(path, "--defs")
        items = raw if isinstance(raw, list) else [raw]
        for item in items:
            if isinstance(item, dict) and "tasks" in item:
                workflows.append(WorkflowDef.from_json(item))
            elif isinstance(item, dict) and "name" in item and "workflowId" not in item:
                task_defs.append(TaskDef.from_json(item))
    return workflows, task_defs


def _validate(args: argparse.Namespace) -> int:
    from flowkit.definitions import WorkflowDef
    from flowkit.errors import FlowkitError

    loaded: dict[str, Any] = {}
    failed = 0
    for file in args.files:
        try:
            loaded[file] = WorkflowDef.from_json(Path(file))
        except FlowkitError as exc:
            failed += 1
            print(f"{file}: {exc}")
    for file, definition in loaded.items():
        try:
            # the files given together are the workflows their sub-workflows start (for cycles)
            definition.validate(workflows=loaded.values())
            from flowkit.errors import DefinitionError
            from flowkit.runtime._prepare import default_scripts
            from flowkit.scripting._check import script_issues

            issues = script_issues(definition, default_scripts())
            if issues:
                raise DefinitionError(issues, workflow_name=definition.name)
            print(f"{file}: valid")
        except FlowkitError as exc:
            failed += 1
            print(f"{file}: {exc}")
    return 1 if failed else 0


class _NotANumber(ValueError):
    pass


def _refuse(name: str) -> Any:
    raise _NotANumber(f"{name}, which is not a number in JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if value - value != 0:  # 1e400 reads as Infinity
        raise _NotANumber(f"{text}, which is beyond the range of a double")
    return value


def _json_object(text: str, option: str) -> dict[str, Any]:
    """A JSON object given on the command line, or an InputError that says how to write it."""
    from flowkit.errors import InputError

    example = "Fix: pass an object like '{\"x\": 1}'."
    try:
        value = json.loads(text, parse_constant=_refuse, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        raise InputError(f"{option} is not valid JSON ({exc.msg} at column {exc.colno}). {example}") from None
    except _NotANumber as exc:
        raise InputError(f"{option} contains {exc}. Fix: use null or a number.") from None
    except RecursionError:
        raise InputError(f"{option} nests too deeply to read. Fix: flatten it.") from None
    except ValueError as exc:  # an integer literal longer than Python's int-conversion limit
        raise InputError(f"{option} cannot be read: {exc}. Fix: shorten the number or quote it.") from None
    if not isinstance(value, dict):
        raise InputError(f"{option} must be a JSON object, got {type(value).__name__}. {example}")
    from flowkit.definitions._json import copy_input

    return copy_input(value, option)  # checks the nesting before anything else is loaded


def _finite(value: Any) -> Any:
    """``value`` with NaN and Infinity as null, as JSON.stringify writes them."""
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _print_json(value: Any) -> None:
    """Print ``value`` as valid JSON, whatever a worker put in it (NaN and Infinity become null)."""
    try:
        text = json.dumps(value, indent=2, default=str, allow_nan=False)
    except ValueError:
        text = json.dumps(_finite(value), indent=2, default=str, allow_nan=False)
    print(text)


def _run(args: argparse.Namespace) -> int:
    import flowkit
    from flowkit.testing import VirtualClock

    workflow_input = _json_object(args.input, "--input") if args.input else {}
    workers = [w for spec in args.workers or () for w in _load_workers(spec)]
    workflows, task_defs = _load_defs(args.defs) if args.defs else ([], [])
    execution = flowkit.run(
        Path(args.file),
        workflow_input,
        workers=workers,
        task_defs=task_defs,
        workflows=workflows,
        clock=VirtualClock() if args.virtual_clock else None,
        executor=args.executor,
        store=args.store,
    )
    result = execution.to_json(include_tasks=not args.summary)
    if args.summary:
        result.pop("workflowDefinition", None)
    _print_json(result)
    return 0 if execution.status == "COMPLETED" else 1


def _store_runtime(args: argparse.Namespace) -> Any:
    import flowkit

    workers = [w for spec in getattr(args, "workers", None) or () for w in _load_workers(spec)]
    workflows, task_defs = _load_defs(args.defs) if getattr(args, "defs", None) else ([], [])
    from flowkit.store import open_store

    store = open_store(args.store)
    with store.session():
        workflows = [*store.workflow_defs(), *workflows]
        task_defs = [*store.task_defs(), *task_defs]
    return flowkit.Runtime(workers=workers, workflows=workflows, task_defs=task_defs, background=False, store=store)


def _list(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from flowkit.errors import InputError
    from flowkit.store import open_store

    def when(text: str | None, option: str) -> int | None:
        if not text:
            return None
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise InputError(
                f"{option} {text!r} is not an ISO date or time. Fix: write it like 2026-01-31 or 2026-01-31T14:30."
            ) from None
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return int(moment.timestamp() * 1000)

    store = open_store(args.store) if not args.readonly else _readonly(args.store)
    rows = store.execution_rows(
        name=args.name,
        version=args.version,
        status=args.status,
        correlation_id=args.correlation_id,
        since=when(args.since, "--since"),
        until=when(args.until, "--until"),
        limit=args.limit,
    )
    if args.json:
        _print_json(rows)
        return 0
    print(f"{'workflowId':<38} {'name':<28} {'ver':>3} {'status':<11} {'created (UTC)':<20} {'tasks':>5}  reason")
    for r in rows:
        created = datetime.fromtimestamp(r["created"] / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
        reason = (r["reason"] or "")[:60]
        print(
            f"{r['workflow_id']:<38} {r['name'][:28]:<28} {r['version']:>3} {r['status']:<11} {created:<20} {r['task_count']:>5}  {reason}"
        )
    print(f"{len(rows)} execution(s)")
    return 0


def _readonly(path: str | None) -> Any:
    from flowkit.store import SqliteStore, default_store_path

    return SqliteStore(path or default_store_path(), readonly=True)


def _show(args: argparse.Namespace) -> int:
    runtime = _store_runtime(args)
    execution = runtime.load(args.workflow_id)
    _print_json(execution.to_json(include_tasks=not args.summary))
    return 0


def _operate(args: argparse.Namespace) -> int:
    runtime = _store_runtime(args)
    execution = runtime.load(args.workflow_id)
    command = args.command
    if command == "terminate":
        execution.terminate(args.reason)
    elif command == "rerun":
        task_input = _json_object(args.task_input, "--task-input") if args.task_input else None
        execution.rerun(from_task_id=args.from_task, task_input=task_input)
    elif command == "restart":
        execution.restart(use_latest_definitions=args.latest)
    elif command == "retry":
        execution.retry(resume_subworkflow_tasks=args.resume_subworkflow_tasks)
    else:
        getattr(execution, command)()
    print(f"{execution.workflow_id}: {execution.status}" + (f" ({execution.reason})" if execution.reason else ""))
    return 0 if not execution.status.is_terminal or execution.status == "COMPLETED" else 1


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``flowkit`` command."""
    from flowkit.errors import FlowkitError

    parser = argparse.ArgumentParser(prog="flowkit", description="Conductor workflows, in-process.")
    sub = parser.add_subparsers(dest="command", required=True)
    validate = sub.add_parser("validate", help="check workflow definition files")
    validate.add_argument("files", nargs="+")
    run = sub.add_parser("run", help="run a workflow definition and print the execution JSON")
    run.add_argument("file")
    run.add_argument("--input", default=None, help="workflow input as a JSON object")
    run.add_argument("--workers", action="append", help="a .py file or module with @worker_task functions")
    run.add_argument("--defs", default=None, help="a folder of task and workflow definition JSON files")
    run.add_argument("--virtual-clock", action="store_true", help="skip waits and backoff in virtual time")
    run.add_argument("--executor", default="threads", choices=["threads", "inline", "processes", "dask"])
    run.add_argument("--summary", action="store_true", help="print the execution without its tasks")
    run.add_argument("--store", default=None, help="store file (default $FLOWKIT_HOME/flowkit.db), or 'memory'")
    listing = sub.add_parser("list", help="list executions in a store")
    listing.add_argument("--store", default=None)
    listing.add_argument("--name")
    listing.add_argument("--version", type=int)
    listing.add_argument("--status", action="append", help="repeat for several")
    listing.add_argument("--correlation-id")
    listing.add_argument("--since", help="ISO date/time (UTC when no zone)")
    listing.add_argument("--until", help="ISO date/time (UTC when no zone)")
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--json", action="store_true")
    listing.add_argument("--readonly", action="store_true", help="look while another process writes")
    show = sub.add_parser("show", help="print one execution's JSON from a store")
    show.add_argument("workflow_id")
    show.add_argument("--store", default=None)
    show.add_argument("--summary", action="store_true")
    for op in ("retry", "rerun", "terminate", "pause", "resume", "restart"):
        p = sub.add_parser(op, help=f"{op} an execution in a store (and run it on with --workers)")
        p.add_argument("workflow_id")
        p.add_argument("--store", default=None)
        p.add_argument("--workers", action="append", help="a .py file or module with @worker_task functions")
        p.add_argument("--defs", default=None)
        if op == "terminate":
            p.add_argument("--reason", default=None)
        if op == "rerun":
            p.add_argument("--from-task", default=None, help="task id to rerun from")
            p.add_argument("--task-input", default=None, help="JSON object replacing that task's input")
        if op == "restart":
            p.add_argument("--latest", action="store_true", help="use the latest workflow definition")
        if op == "retry":
            p.add_argument("--resume-subworkflow-tasks", action="store_true")
    conformance = sub.add_parser("conformance", help="run every Conductor fixture and compare with Conductor")
    conformance.add_argument("directory", nargs="?", default=None, help="fixture folder (default: the shipped files)")
    conformance.add_argument(
        "--executor",
        default="inline",
        choices=["inline", "threads", "processes", "dask"],
        help="where worker calls run (default inline; dask starts a LocalCluster)",
    )
    _add_serve(sub)
    _add_worker(sub)
    args = parser.parse_args(argv)
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "worker":
            return _worker(args)
        if args.command == "conformance":
            from flowkit.conformance import main as conformance_main

            return conformance_main(args.directory, args.executor)
        if args.command == "list":
            return _list(args)
        if args.command == "show":
            return _show(args)
        if args.command in ("retry", "rerun", "terminate", "pause", "resume", "restart"):
            return _operate(args)
        return _validate(args) if args.command == "validate" else _run(args)
    except FlowkitError as exc:
        print(f"flowkit: {exc}", file=sys.stderr)
        return 2
    except (OSError, json.JSONDecodeError) as exc:
        print(f"flowkit: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # flowkit.Interrupted: the execution is TERMINATED in the store
        print(f"flowkit: {exc or 'interrupted'}", file=sys.stderr)
        return 130


# ---------------------------------------------------------------------------------------- flowkit serve
def _add_serve(sub: Any) -> None:
    serve = sub.add_parser("serve", help="serve Conductor's REST API for SDK workers and clients")
    serve.add_argument("--store", default=None, help="store file (default $FLOWKIT_HOME/flowkit.db), or 'memory'")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (beyond loopback needs a key)")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--workers", action="append", help="in-process @worker_task functions (.py file or module)")


def _serve(args: argparse.Namespace) -> int:
    import os

    from flowkit.server import Auth, serve

    key, secret = os.environ.get("FLOWKIT_SERVER_KEY_ID"), os.environ.get("FLOWKIT_SERVER_KEY_SECRET")
    auth = Auth(key, secret) if key and secret else None
    workers = [w for spec in args.workers or [] for w in _load_workers(spec)]
    import signal

    # uvicorn shuts down gracefully on SIGTERM, then raises the signal again: as Ctrl-C, it then unwinds
    # through serve(), which closes the store, instead of killing the process before that
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        serve(args.store, host=args.host, port=args.port, auth=auth, workers=workers or None)
    except KeyboardInterrupt:
        pass
    return 0


# ---------------------------------------------------------------------------------------- flowkit worker
def _add_worker(sub: Any) -> None:
    worker = sub.add_parser("worker", help="run @worker_task functions as a service polling a Conductor server")
    worker.add_argument("--server", required=True, help="the server's URL, e.g. http://127.0.0.1:8080")
    worker.add_argument(
        "--workers",
        action="append",
        required=True,
        help="module:attr (a worker, a list of them, or a function returning them), a module or a .py file",
    )
    worker.add_argument("--threads", type=int, default=None, help="tasks of each worker run at once (default 4)")
    worker.add_argument("--poll-timeout-ms", type=int, default=1000, help="how long one long poll waits")
    worker.add_argument("--worker-id", default=None, help="the workerId tasks record (default host-pid)")
    worker.add_argument("--domain", default=None, help="Conductor task domain to poll")


def _worker_spec(spec: str) -> list[Any]:
    """Workers named by ``module:attr``: a Worker, an iterable of them, or a function that returns either."""
    from flowkit.errors import InputError
    from flowkit.workers import Worker

    if ":" not in spec or Path(spec).exists():
        return _load_workers(spec)
    module_name, _, attr = spec.partition(":")
    module = _load_module(module_name, spec)
    try:
        value = getattr(module, attr)
    except AttributeError:
        raise InputError(f"--workers {spec!r}: module {module_name!r} has no attribute {attr!r}.") from None
    if callable(value) and not isinstance(value, Worker):
        value = value()
    found = [value] if isinstance(value, Worker) else list(value) if isinstance(value, list | tuple) else []
    if not found or not all(isinstance(w, Worker) for w in found):
        raise InputError(
            f"--workers {spec!r} is not @flowkit.worker_task functions (got {type(value).__name__}). "
            "Fix: name a worker, a list of workers, or a function returning them."
        )
    return found


def _load_module(name: str, spec: str) -> Any:
    from flowkit.errors import InputError

    try:
        return importlib.import_module(name)
    except Exception as exc:  # the user's module failed to import: say where, not how
        raise InputError(f"importing {name!r} for --workers {spec!r} failed: {type(exc).__name__}: {exc}") from None


def _worker(args: argparse.Namespace) -> int:
    import logging
    import os
    import signal

    from flowkit.client import WorkerService

    logging.basicConfig(level=logging.WARNING, format="flowkit worker: %(message)s")
    sys.path.insert(0, os.getcwd())  # python -m semantics: modules beside the caller import
    workers = [w for spec in args.workers for w in _worker_spec(spec)]
    service = WorkerService(
        args.server,
        workers,
        threads=args.threads,
        poll_timeout_ms=args.poll_timeout_ms,
        worker_id=args.worker_id,
        domain=args.domain,
    )
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop as Ctrl-C does: tasks taken finish first
    service.connection.health()
    names = ", ".join(service.workers)
    print(f"flowkit worker: polling {service.url} for {names} ({service.threads} thread(s) each)", file=sys.stderr)
    service.run()
    print(f"flowkit worker: stopped after {service.completed} task(s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
