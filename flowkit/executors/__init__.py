"""Executors and the Runner loop: the IO edge that carries out what the engine decides."""

from flowkit.executors._executors import Executor, InlineExecutor, ThreadExecutor, make_executor
from flowkit.executors._runner import Runner

__all__ = ["Executor", "InlineExecutor", "Runner", "ThreadExecutor", "make_executor"]
