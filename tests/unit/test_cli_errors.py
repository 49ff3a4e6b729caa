"""The ``flowkit`` command on bad input: exit code 2 (1 for ``validate``, whose answer is "invalid"),
one paragraph on stderr naming the place and the fix, never a traceback. Every case runs the real
command in its own process, all of them at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
ORDERS = str(ROOT / "examples" / "orders" / "workflow.json")


def nested(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


def task(**fields: Any) -> dict[str, Any]:
    return {"name": "t", "taskReferenceName": "t", **fields}


def workflow(*tasks: dict[str, Any], **fields: Any) -> str:
    return json.dumps({"name": "bad", "version": 1, "tasks": list(tasks) or [task()], **fields})


FILES: dict[str, str | bytes] = {
    "non_utf8.json": b'{"name": "x", "tasks": [{"name": "a", "taskReferenceName": "caf\xe9"}]}',
    "nan.json": '{"name": "x", "tasks": [{"name": "a", "taskReferenceName": "a", "retryCount": NaN}]}',
    "infinity.json": '{"name": "x", "timeoutSeconds": -Infinity, "tasks": [{"name": "a", "taskReferenceName": "a"}]}',
    "huge.json": '{"name": "x", "version": 1e400, "tasks": [{"name": "a", "taskReferenceName": "a"}]}',
    "long_int.json": '{"name": "x", "version": ' + "9" * 5000 + ', "tasks": []}',
    "deep.json": '{"name": "x", "tasks": [{"name": "a", "taskReferenceName": "a", "inputParameters": '
    + nested(100_000)
    + "}]}",
    "deepish.json": '{"name": "x", "tasks": [{"name": "a", "taskReferenceName": "a", "inputParameters": '
    + nested(300)
    + "}]}",
    "list_ref.json": workflow(task(taskReferenceName=["t"])),
    "int_name.json": workflow(name=5),
    "switch_list.json": workflow(
        task(type="SWITCH", evaluatorType="javascript", expression=["$.x"], decisionCases={"a": [task(name="u")]})
    ),
    "loop_number.json": workflow(task(type="DO_WHILE", loopCondition=3, loopOver=[task(taskReferenceName="u")])),
    "self_sub.json": workflow(task(type="SUB_WORKFLOW", subWorkflowParam={"name": "bad", "version": 1})),
    "cycle/a.json": json.dumps({"name": "A", "tasks": [task(type="SUB_WORKFLOW", subWorkflowParam={"name": "B"})]}),
    "cycle/b.json": json.dumps({"name": "B", "tasks": [task(type="SUB_WORKFLOW", subWorkflowParam={"name": "A"})]}),
    "a_list.json": "[1, 2]",
    "empty.json": "",
    "garbage.json": b"\x00\x01\x02\x89PNG",
    "defs/bad.json": '{"name": "td", "retryCount": NaN}',
    "defs_utf/bad.json": b'{"name": "td\xff"}',
    "exit3.py": "import sys\nsys.exit(3)\n",
    "boom.py": "raise RuntimeError('boom at import')\n",
    "syntax.py": "def broken(:\n",
    "latin1.py": b"# caf\xe9\nx = 1\n",
    "none.py": "x = 1\n",
    "store_garbage.db": b"this is not a database, just text " * 100,
}

# (arguments with {tmp} for the folder of FILES, expected exit code, words the message must contain);
# the cases run at once, so each store is its own file (a store is held by one process at a time)
CASES: list[tuple[str, list[str], int, tuple[str, ...]]] = [
    ("non-UTF-8 file", ["run", "{tmp}/non_utf8.json"], 2, ("not UTF-8", "non_utf8.json")),
    ("NaN in a file", ["run", "{tmp}/nan.json"], 2, ("NaN", "null")),
    ("-Infinity in a file", ["run", "{tmp}/infinity.json"], 2, ("-Infinity",)),
    ("1e400 in a whole-number field", ["run", "{tmp}/huge.json"], 2, ("1e400", "beyond the range")),
    ("integer of 5,000 digits", ["run", "{tmp}/long_int.json"], 2, ("long_int.json",)),
    ("JSON nested 100,000 deep", ["run", "{tmp}/deep.json"], 2, ("nests deeper",)),
    ("JSON nested 300 deep", ["run", "{tmp}/deepish.json"], 2, ("nests deeper", "inputParameters")),
    ("list taskReferenceName", ["run", "{tmp}/list_ref.json"], 2, ("taskReferenceName", "string")),
    ("number as workflow name", ["run", "{tmp}/int_name.json"], 2, ("'name'", "string")),
    ("list SWITCH expression", ["run", "{tmp}/switch_list.json"], 2, ("'expression'",)),
    ("number as loopCondition", ["run", "{tmp}/loop_number.json"], 2, ("'loopCondition'",)),
    ("sub-workflow calling itself", ["validate", "{tmp}/self_sub.json"], 1, ("cycle", "'bad' v1 -> 'bad' v1")),
    (
        "sub-workflows A -> B -> A",
        ["run", "{tmp}/cycle/a.json", "--defs", "{tmp}/cycle"],
        2,
        ("'A' v1 -> 'B' v1 -> 'A' v1",),
    ),
    ("a JSON list as the workflow", ["run", "{tmp}/a_list.json"], 2, ("JSON object",)),
    ("an empty file", ["run", "{tmp}/empty.json"], 2, ("not valid JSON",)),
    ("binary garbage", ["run", "{tmp}/garbage.json"], 2, ("garbage.json",)),
    ("a missing file", ["run", "{tmp}/missing.json"], 2, ("not found",)),
    ("a folder as the workflow", ["run", "{tmp}/defs"], 2, ("cannot be read",)),
    ("--input with NaN", ["run", ORDERS, "--input", '{"a": NaN}'], 2, ("--input", "NaN")),
    ("--input with Infinity", ["run", ORDERS, "--input", '{"a": [Infinity]}'], 2, ("--input", "Infinity")),
    ("--input with 1e400", ["run", ORDERS, "--input", '{"a": -1e400}'], 2, ("--input", "-1e400")),
    ("--input not JSON", ["run", ORDERS, "--input", "{a: 1}"], 2, ("--input", "not valid JSON")),
    ("--input a list", ["run", ORDERS, "--input", "[1]"], 2, ("--input", "JSON object")),
    ("--input nested 300 deep", ["run", ORDERS, "--input", nested(300)], 2, ("nests deeper",)),
    ("--input nested 15,000 deep", ["run", ORDERS, "--input", nested(15_000)], 2, ("--input", "nests")),
    ("workers call sys.exit(3)", ["run", ORDERS, "--workers", "{tmp}/exit3.py"], 2, ("sys.exit(3)",)),
    ("workers raise at import", ["run", ORDERS, "--workers", "{tmp}/boom.py"], 2, ("boom at import",)),
    ("workers with a syntax error", ["run", ORDERS, "--workers", "{tmp}/syntax.py"], 2, ("SyntaxError",)),
    ("workers not UTF-8", ["run", ORDERS, "--workers", "{tmp}/latin1.py"], 2, ("latin1.py",)),
    ("workers module defines none", ["run", ORDERS, "--workers", "{tmp}/none.py"], 2, ("no @flowkit.worker_task",)),
    ("workers module missing", ["run", ORDERS, "--workers", "no_such_module_here"], 2, ("no_such_module_here",)),
    ("--defs file with NaN", ["run", ORDERS, "--defs", "{tmp}/defs"], 2, ("bad.json", "NaN")),
    ("--defs file not UTF-8", ["run", ORDERS, "--defs", "{tmp}/defs_utf"], 2, ("bad.json", "UTF-8")),
    ("--defs not a folder", ["run", ORDERS, "--defs", "{tmp}/nan.json"], 2, ("--defs", "not a directory")),
    ("list --since garbage", ["list", "--store", "{tmp}/s1.db", "--since", "garbage"], 2, ("--since", "ISO")),
    ("list --until garbage", ["list", "--store", "{tmp}/s2.db", "--until", "31/12/2026"], 2, ("--until",)),
    ("list --version not a number", ["list", "--store", "{tmp}/s3.db", "--version", "x"], 2, ("--version",)),
    ("list a store that is garbage", ["list", "--store", "{tmp}/store_garbage.db"], 2, ("store_garbage.db",)),
    ("show an unknown execution", ["show", "nope", "--store", "{tmp}/s4.db"], 2, ("nope",)),
    ("rerun --task-input NaN", ["rerun", "nope", "--store", "{tmp}/s5.db", "--task-input", "NaN"], 2, ("nope",)),
    ("an unknown command", ["frobnicate"], 2, ("invalid choice",)),
    ("validate non-UTF-8", ["validate", "{tmp}/non_utf8.json"], 1, ("not UTF-8",)),
    ("validate NaN", ["validate", "{tmp}/nan.json"], 1, ("NaN",)),
    ("validate deep", ["validate", "{tmp}/deep.json"], 1, ("nests deeper",)),
    ("validate list ref", ["validate", "{tmp}/list_ref.json"], 1, ("taskReferenceName",)),
    ("validate a cycle", ["validate", "{tmp}/cycle/a.json", "{tmp}/cycle/b.json"], 1, ("'B' v1 -> 'A' v1 -> 'B' v1",)),
]


def _write(tmp: Path) -> None:
    for name, content in FILES.items():
        path = tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, subprocess.CompletedProcess[str]]:
    tmp = tmp_path_factory.mktemp("cli")
    _write(tmp)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FLOWKIT_HOME": str(tmp / "home")}
    procs = {}
    for name, args, _, _ in CASES:
        argv = [a.replace("{tmp}", str(tmp)) for a in args]
        procs[name] = (
            argv,
            subprocess.Popen(
                [sys.executable, "-m", "flowkit", *argv],
                cwd=tmp,
                env=env,
                text=True,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            ),
        )
    done = {}
    for name, (argv, proc) in procs.items():
        out, err = proc.communicate(timeout=120)
        done[name] = subprocess.CompletedProcess(argv, proc.returncode, out, err)
    return done


@pytest.mark.parametrize(("name", "expected", "words"), [(c[0], c[2], c[3]) for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_exits_cleanly(
    outcomes: dict[str, subprocess.CompletedProcess[str]], name: str, expected: int, words: tuple[str, ...]
) -> None:
    done = outcomes[name]
    where = f"{name}: exit {done.returncode}\nstdout: {done.stdout[-2000:]}\nstderr: {done.stderr[-2000:]}"
    assert done.returncode == expected, where
    assert "Traceback" not in done.stderr + done.stdout, where
    message = (done.stderr if expected == 2 else done.stdout).strip()
    assert message, where
    assert "\n\n" not in message, f"more than one paragraph: {where}"
    assert len(message) < 3000, where
    for word in words:
        assert word in message, f"{word!r} missing: {where}"


def test_output_json_is_always_valid_json(tmp_path: Path) -> None:
    """A worker's NaN or Infinity is printed as null: the command's output always parses as JSON."""
    (tmp_path / "w.py").write_text(
        textwrap.dedent("""
            import flowkit
            @flowkit.worker_task(task_definition_name="odd")
            def odd() -> dict:
                return {"nan": float("nan"), "inf": [float("inf"), -float("inf")], "ok": 1.5}
        """)
    )
    (tmp_path / "wf.json").write_text(workflow(task(name="odd"), outputParameters={"v": "${t.output}"}))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FLOWKIT_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        [sys.executable, "-m", "flowkit", "run", "wf.json", "--workers", "w.py", "--executor", "inline"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr

    def refuse(constant: str) -> Any:
        raise AssertionError(f"{constant} in the output")

    result = json.loads(done.stdout, parse_constant=refuse)
    assert result["output"]["v"] == {"nan": None, "inf": [None, None], "ok": 1.5}
