"""Workers: ``@worker_task`` functions and what they see of their task."""

from flowkit.workers._worker import Outcome, Task, TaskResult, Worker, as_worker_map, worker_task

__all__ = ["Outcome", "Task", "TaskResult", "Worker", "as_worker_map", "worker_task"]
