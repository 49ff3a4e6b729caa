"""The conformance cases again, with the worker calls on threads, worker processes and a Dask LocalCluster.

``test_all_fixtures`` runs every case inline. Here each case runs on the other executors and must end as on
Conductor all the same. A few cases cannot mean the same thing once workers leave this process; they are
left out of those executors by name, with the reason, rather than skipped.
"""

from __future__ import annotations

from typing import Any

import pytest

from flowkit.conformance import CASES, Case, run_case

_ORDER = "checks the exact task order, which follows the order calls finish in once they run in other processes"
_RACE = (
    "its branches run at once once calls leave the calling thread: whether integration_task_3 ends before "
    "integration_task_2 fails is a race (Conductor's test harness completes each task by hand, in order)"
)
_COUNTS = "its worker counts its calls in memory, and Dask spreads the calls over two worker processes"
NOT_REMOTE: dict[str, tuple[set[str], str]] = {
    "re_run_test_workflow.json [api-tester simulated]": ({"processes", "dask"}, _ORDER),
    "fork_join_integration_test.json [branch fails]": ({"threads", "processes", "dask"}, _RACE),
    "simple_workflow_1_integration_test.json [retries]": ({"dask"}, _COUNTS),
    "simple_workflow_with_resp_time_out_integration_test.json": ({"dask"}, _COUNTS),
}


def _params() -> list[Any]:
    params = []
    for executor in ("threads", "processes", "dask"):
        for case in CASES:
            if executor not in NOT_REMOTE.get(case.name, (set(), ""))[0]:
                params.append(pytest.param(executor, case, id=f"{executor}-{case.name}"))
    return params


@pytest.fixture(scope="module")
def dask_executor() -> Any:
    from flowkit.executors import DaskExecutor
    from flowkit.executors._dask import _local_client

    client = _local_client(2, 2)
    client.wait_for_workers(2, timeout=60)
    return DaskExecutor(client)


def test_the_left_out_cases_exist() -> None:
    names = {case.name for case in CASES}
    assert set(NOT_REMOTE) <= names, set(NOT_REMOTE) - names


@pytest.mark.parametrize("executor, case", _params())
def test_case_matches_conductor_on(executor: str, case: Case, request: pytest.FixtureRequest) -> None:
    chosen = request.getfixturevalue("dask_executor") if executor == "dask" else executor
    result = run_case(case, executor=chosen)
    assert result.matches, f"{result.name}: {result.status} (expected {result.expected_status}): {result.detail}"
