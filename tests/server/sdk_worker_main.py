"""Run the SDK's TaskHandler with the workers in sdk_workers.py against argv[1] (a server's /api URL)."""

from __future__ import annotations

import sys

from conductor.client.automator.task_handler import TaskHandler
from conductor.client.configuration.configuration import Configuration

if __name__ == "__main__":
    sys.path.insert(0, sys.argv[2])
    handler = TaskHandler(
        configuration=Configuration(server_api_url=sys.argv[1]),
        scan_for_annotated_workers=True,
        import_modules=["sdk_workers"],
        monitor_processes=False,
    )
    handler.start_processes()
    handler.join_processes()
