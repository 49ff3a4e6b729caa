"""Shared test helpers: fixture loading and a "poll and complete" harness over the pure engine.

The Harness drives :class:`flowkit.engine.Engine` the way Conductor's test-harness drives a server:
start a workflow, poll a task (the worker picks it up), then report COMPLETED / FAILED with an
output. Time is explicit (``advance``) and ids are deterministic, so every assertion is exact.
"""

from __future__ import annotations

import itertools
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir

from flowkit import TaskDef, WorkflowDef
from flowkit.engine import Dispatch, DispatchAll, Ended, Engine, Registry, TaskModel, WorkflowModel
from flowkit.scripting._lazy import LazyScripts

# Runs keep their executions in $FLOWKIT_HOME/flowkit.db by default: never the user's home in tests.
os.environ["FLOWKIT_HOME"] = tempfile.mkdtemp(prefix="flowkit-tests-home-")

REPO_ROOT = Path(__file__).resolve().parents[1]
# Conductor's JSON files as the package ships them (flowkit/conformance/conductor, see SOURCES.md there).
FIXTURES = REPO_ROOT / "flowkit" / "conformance" / "conductor"

T0 = 1_700_000_000_000  # a fixed epoch-ms start time

# no example database, and Hypothesis' other caches outside the repository: the suite writes nothing there
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "flowkit-tests-hypothesis")
settings.register_profile("flowkit", database=None, deadline=None)
settings.load_profile("flowkit")


def fixture(name: str) -> Path:
    """Path of a shipped Conductor fixture."""
    path = FIXTURES / name
    assert path.is_file(), f"missing Conductor fixture {path}"
    return path


def fixture_json(name: str) -> Any:
    """The parsed JSON of a shipped Conductor fixture."""
    return json.loads(fixture(name).read_text(encoding="utf-8"))


def load_def(name: str, **changes: Any) -> WorkflowDef:
    """A WorkflowDef loaded from a shipped Conductor fixture, optionally evolved."""
    definition = WorkflowDef.from_json(fixture(name))
    return definition.evolve(**changes) if changes else definition


def harness_task_defs() -> dict[str, TaskDef]:
    """The task definitions Conductor's test-harness registers (WorkflowTestUtil.groovy)."""
    defs = {
        f"integration_task_{i}": TaskDef(
            name=f"integration_task_{i}", retry_count=1, timeout_seconds=120, response_timeout_seconds=120
        )
        for i in range(21)
    }
    defs["task_rt"] = TaskDef(
        name="task_rt", retry_count=1, retry_delay_seconds=0, timeout_seconds=120, response_timeout_seconds=10
    )
    return defs


class Harness:
    """Poll-and-complete driver for the pure engine with deterministic ids and an explicit clock."""

    def __init__(
        self,
        *,
        task_defs: Mapping[str, TaskDef] | None = None,
        workflows: Iterable[WorkflowDef] = (),
        start: int = T0,
        jitter: Any = None,
        scripts: Any = "lazy",
    ) -> None:
        counter = itertools.count(1)
        self.now = start
        self.engine = Engine(
            new_id=lambda: f"id-{next(counter):04d}",
            task_defs=dict(harness_task_defs() if task_defs is None else task_defs),
            workflows=Registry(list(workflows)),
            jitter=jitter,
            scripts=LazyScripts() if scripts == "lazy" else scripts,
        )
        self.wf: WorkflowModel | None = None
        self.queue: dict[str, int] = {}  # task_id -> visible from (epoch ms): Conductor's task queue
        self.dispatches: list[Dispatch] = []
        self.ended: list[WorkflowModel] = []

    # ------------------------------------------------------------------ plumbing
    def handle(self, commands: list[Any]) -> list[Any]:
        for cmd in commands:
            if isinstance(cmd, Dispatch):
                self.dispatches.append(cmd)
                self.queue[cmd.task.task_id] = cmd.not_before
            elif isinstance(cmd, DispatchAll):
                for task in cmd.tasks:
                    self.dispatches.append(Dispatch((task, cmd.not_before)))
                    self.queue[task.task_id] = cmd.not_before
            elif isinstance(cmd, Ended):
                self.ended.append(cmd.workflow)
        return commands

    def start(
        self,
        definition: WorkflowDef,
        workflow_input: Mapping[str, Any] | None = None,
        *,
        correlation_id: str | None = None,
    ) -> WorkflowModel:
        wf, commands = self.engine.start(definition, workflow_input, now=self.now, correlation_id=correlation_id)
        self.wf = wf
        self.handle(commands)
        return wf

    def advance(self, seconds: float) -> list[Any]:
        """Move the clock and fire whatever timers are due (Conductor's sweeper / decide)."""
        self.now += round(seconds * 1000)
        return self.handle(self.engine.tick(self.now))

    # ------------------------------------------------------------------ worker side
    def _candidates(self, ref: str, wf: WorkflowModel | None) -> list[TaskModel]:
        wf = wf or self.wf
        assert wf is not None
        return [t for t in wf.tasks if t.ref == ref]

    def poll(self, ref: str, *, wf: WorkflowModel | None = None, worker_id: str = "test-worker") -> TaskModel | None:
        """Take ``ref`` from the queue if it is visible; None when there is nothing to poll."""
        for task in self._candidates(ref, wf):
            visible = self.queue.get(task.task_id)
            if visible is None or visible > self.now or task.status.value != "SCHEDULED":
                continue
            if self.engine.task_started(task, self.now, worker_id):
                del self.queue[task.task_id]
                return task
        return None

    def _polled(self, ref: str, wf: WorkflowModel | None) -> TaskModel:
        running = [t for t in self._candidates(ref, wf) if t.status.value == "IN_PROGRESS"]
        if running:
            return running[-1]
        task = self.poll(ref, wf=wf)
        assert task is not None, f"nothing to poll for {ref!r}: {self.tasks(wf)}"
        return task

    def update(
        self,
        ref: str,
        status: str,
        *,
        output: Mapping[str, Any] | None = None,
        reason: str | None = None,
        callback_after_seconds: int = 0,
        wf: WorkflowModel | None = None,
    ) -> TaskModel:
        task = self._polled(ref, wf)
        self.handle(
            self.engine.task_updated(
                task, status, self.now, output=output, reason=reason, callback_after_seconds=callback_after_seconds
            )
        )
        return task

    def send(self, task: TaskModel, status: str, **kwargs: Any) -> list[Any]:
        """Report on a specific attempt, whatever its state (late or duplicate updates)."""
        return self.handle(self.engine.task_updated(task, status, self.now, **kwargs))

    def complete(
        self, ref: str, output: Mapping[str, Any] | None = None, *, wf: WorkflowModel | None = None
    ) -> TaskModel:
        """Poll (if needed) and report COMPLETED."""
        return self.update(ref, "COMPLETED", output=output if output is not None else {}, wf=wf)

    def fail(
        self,
        ref: str,
        reason: str = "failed",
        *,
        terminal: bool = False,
        output: Mapping[str, Any] | None = None,
        wf: WorkflowModel | None = None,
    ) -> TaskModel:
        """Poll (if needed) and report FAILED (or FAILED_WITH_TERMINAL_ERROR)."""
        status = "FAILED_WITH_TERMINAL_ERROR" if terminal else "FAILED"
        return self.update(ref, status, output=output, reason=reason, wf=wf)

    # ------------------------------------------------------------------ views
    def tasks(self, wf: WorkflowModel | None = None) -> list[tuple[str, str]]:
        wf = wf or self.wf
        assert wf is not None
        return [(t.task_type, t.status.value) for t in wf.tasks]

    def task(self, ref: str, wf: WorkflowModel | None = None) -> TaskModel:
        found = self._candidates(ref, wf)
        assert found, f"no task {ref!r}"
        return found[-1]


@pytest.fixture
def harness() -> Harness:
    return Harness()


# Markers for a fast inner loop: plain `pytest` deselects these (pyproject addopts); `./dev test` runs
# everything. Marked here by place, so a new test in these folders is marked without remembering to.
_SLOW_PLACES = (
    "tests/notebooks/",
    "tests/notebook/test_notebook_nbclient.py",
    "tests/store/test_crash_recovery.py",
    "tests/executors/test_process_timeouts.py",
    "tests/contrib/test_tutorial.py",
    "tests/test_tooling.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        place = Path(str(item.path)).resolve().relative_to(REPO_ROOT).as_posix()
        if place.startswith("tests/browser/"):
            item.add_marker(pytest.mark.browser)
        if "dask" in item.nodeid.lower():
            item.add_marker(pytest.mark.dask)
        if place.startswith(_SLOW_PLACES):
            item.add_marker(pytest.mark.slow)
