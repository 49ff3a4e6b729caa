"""A client of a Conductor server: ``flowkit.connect(url)`` and the worker service.

:func:`connect` gives a :class:`Client` whose executions are :class:`RemoteExecution` handles, the
same :class:`flowkit.Execution` views a local run has (diagram, monitor, ``tasks_df``, inspector,
operations), read and steered through Conductor's REST API, on ``flowkit serve`` or on Conductor.
:class:`WorkerService` runs ``@worker_task`` functions as a separate service polling that API
(``flowkit worker --server URL --workers module:attr``). Only the standard library speaks HTTP.
"""

from flowkit.client._client import Client, connect
from flowkit.client._execution import RemoteExecution
from flowkit.client._http import AuthError, ServerError, UnreachableError
from flowkit.client._workers import WorkerService

__all__ = ["AuthError", "Client", "RemoteExecution", "ServerError", "UnreachableError", "WorkerService", "connect"]
