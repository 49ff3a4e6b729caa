"""Conformance, measured: every shipped Conductor workflow definition runs and ends as on Conductor.

The case table lives in ``flowkit.conformance`` (``flowkit conformance`` prints the same
verdicts, one line per case); these tests make every case a test and keep the table complete.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
from conftest import FIXTURES

from flowkit import conformance
from flowkit.conformance import CASES, Case, definition_files, run_case
from flowkit.conformance._cases import eq, seq

LINE = re.compile(
    r"^(?P<name>\S+(?: \[[^\]]+\])?): (?P<status>\S+) \(expected (?P<expected>[A-Z_]+)\) "
    r"(?P<verdict>MATCH|MISMATCH)  \S.*$"
)


def test_the_fixture_folder_is_the_shipped_one() -> None:
    assert conformance.default_directory().resolve() == FIXTURES.resolve()
    assert len(definition_files()) >= 20  # the folder is really there: a missing folder must not pass vacuously


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_case_matches_conductor(case: Case) -> None:
    result = run_case(case)
    assert result.matches, f"{result.name}: {result.status} (expected {result.expected_status}): {result.detail}"


def test_every_definition_in_the_folder_has_a_case() -> None:
    covered = {case.fixture for case in CASES if case.definition is None}  # the others carry their JSON
    missing = [name for name in definition_files() if name not in covered]
    assert not missing, f"fixtures without a conformance case (add one to flowkit/conformance/_cases.py): {missing}"
    stale = sorted(covered - set(definition_files()))
    assert not stale, f"cases for files that are not workflow definitions in the folder: {stale}"


def test_definition_files_skip_executions_schemas_and_task_defs() -> None:
    names = definition_files()
    assert "kitchensink.json" in names and "sub_flow_1.json" in names
    for name in ("completed.json", "schema_WorkflowDef.json", "taskdef_upload_toS3.json"):
        assert name not in names


def test_every_case_names_where_its_expectation_comes_from() -> None:
    for case in CASES:
        assert re.match(r"^(TH [A-Z]\w+Spec|e2e [A-Z]\w+|derived [A-Z]\w+|[A-Z]\w+(Spec|\.java)\b)", case.source), (
            case.name
        )
        assert case.checks, f"{case.name} checks only the status"
    assert len({case.name for case in CASES}) == len(CASES), "case names must be unique"


def test_main_prints_one_line_per_case_and_a_total(capsys: pytest.CaptureFixture[str]) -> None:
    code = conformance.main()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(CASES) + 1
    for case, line in zip(CASES, lines, strict=False):
        match = LINE.match(line)
        assert match, line
        assert match["name"] == case.name and match["expected"] == case.expected_status
    passed = sum(" MATCH  " in line for line in lines[:-1])
    assert lines[-1] == f"{passed} passed, {len(CASES) - passed} failed"
    assert code == (0 if passed == len(CASES) else 1)


def test_a_wrong_expectation_is_reported_as_a_mismatch() -> None:
    case = next(c for c in CASES if c.fixture == "fork_join_integration_test.json" and not c.variant)
    wrong_status = run_case(dataclasses.replace(case, expected_status="FAILED"))
    assert not wrong_status.matches and wrong_status.status == "COMPLETED"
    assert wrong_status.detail.startswith("status COMPLETED")
    wrong_check = run_case(dataclasses.replace(case, checks=(seq("FORK:COMPLETED"),)))
    assert not wrong_check.matches and wrong_check.detail.startswith("tasks: expected ['FORK:COMPLETED'], got [")
    line = conformance.format_result(wrong_check)
    assert LINE.match(line) and " MISMATCH  tasks: " in line


def test_a_case_that_cannot_run_is_a_mismatch_not_a_crash() -> None:
    case = next(c for c in CASES if c.fixture == "fork_join_integration_test.json" and not c.variant)
    result = run_case(dataclasses.replace(case, workers=dict))  # no workers at all
    assert not result.matches and result.status == "ERROR: MissingWorkerError"


def test_outside_completion_and_an_explicit_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    human = {
        "name": "approval",
        "version": 1,
        "schemaVersion": 2,
        "tasks": [
            {"name": "approve", "taskReferenceName": "approve", "type": "HUMAN"},
            {
                "name": "notify",
                "taskReferenceName": "notify",
                "type": "SET_VARIABLE",
                "inputParameters": {"approved": "${approve.output.approved}"},
            },
        ],
    }
    (tmp_path / "approval.json").write_text(json.dumps(human))
    case = Case(
        "approval.json",
        "COMPLETED",
        "derived Human.java",
        complete={"approve": {"approved": True}},
        checks=(
            seq("HUMAN:COMPLETED", "SET_VARIABLE:COMPLETED"),
            eq("variables", lambda e: e.variables, {"approved": True}),
        ),
    )
    assert run_case(case, tmp_path).matches
    assert definition_files(tmp_path) == ["approval.json"]
    monkeypatch.setenv("FLOWKIT_CONFORMANCE_DIR", str(tmp_path))
    assert conformance.default_directory() == tmp_path
    assert run_case(dataclasses.replace(case, complete={})).status == "RUNNING"  # left waiting without the completion


def test_rewritten_urls_reach_the_local_server_and_the_fixture_file_is_untouched():
    import json

    case = next(c for c in CASES if c.variant == "api-tester simulated")
    result = run_case(case)
    assert result.matches, result.detail
    raw = json.loads((conformance.default_directory() / case.fixture).read_text())
    assert "orkes-api-tester.orkesconductor.com" in json.dumps(raw)
