"""Executors: where worker functions run (the calling thread, threads, processes or Dask).

``ProcessExecutor`` and ``DaskExecutor`` are imported on first use (they pull in multiprocessing,
cloudpickle and dask.distributed).
"""

from flowkit._lazy import lazy_attributes
from flowkit.executors._executors import Executor, InlineExecutor, ThreadExecutor, make_executor

__all__ = ["DaskExecutor", "Executor", "InlineExecutor", "ProcessExecutor", "ThreadExecutor", "make_executor"]


_LAZY = {
    "ProcessExecutor": "flowkit.executors._process",
    "shutdown_process_pools": "flowkit.executors._process",
    "DaskExecutor": "flowkit.executors._dask",
    "close_local_clusters": "flowkit.executors._dask",
}

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals())
