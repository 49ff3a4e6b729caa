"""Executors: where worker functions run (the calling thread, threads, processes or Dask).

``ProcessExecutor`` and ``DaskExecutor`` are imported on first use (they pull in multiprocessing,
cloudpickle and dask.distributed).
"""

from typing import Any

from flowkit.executors._executors import Executor, InlineExecutor, ThreadExecutor, make_executor

__all__ = ["DaskExecutor", "Executor", "InlineExecutor", "ProcessExecutor", "ThreadExecutor", "make_executor"]


def __getattr__(name: str) -> Any:
    if name in ("ProcessExecutor", "shutdown_process_pools"):
        from flowkit.executors import _process

        return getattr(_process, name)
    if name in ("DaskExecutor", "close_local_clusters"):
        from flowkit.executors import _dask

        return getattr(_dask, name)
    raise AttributeError(f"module 'flowkit.executors' has no attribute {name!r}")
