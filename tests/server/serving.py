"""A real `flowkit serve` subprocess on a free 127.0.0.1 port, and the SDK's workers in processes (fixtures).

Not a conftest.py: tests/unit imports the top-level conftest by its bare module name.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``flowkit serve`` in a subprocess; ``start`` again after ``kill`` reuses the store and port."""

    def __init__(self, store: Path, env: dict[str, str] | None = None) -> None:
        self.store = store
        self.env = dict(os.environ, **(env or {}))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.api = self.url + "/api"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "flowkit", "serve", "--store", str(self.store), "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=open(self.store.with_suffix(".log"), "ab"),  # noqa: SIM115
            env=self.env,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.store.with_suffix(".log").read_text()
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("flowkit serve did not come up in 30 s")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# Test modules import these by their function names; pytest knows them by `name` (no shadowing).
@pytest.fixture(name="server")
def server_fixture(tmp_path: Path) -> Iterator[Server]:
    s = Server(tmp_path / "serve.db")
    s.start()
    yield s
    s.stop()


@pytest.fixture(name="sdk_workers")
def sdk_workers_fixture(server: Server, tmp_path: Path) -> Iterator[Path]:
    """The SDK's TaskHandler (worker processes) polling ``server``; yields the folder of call records."""
    runs = tmp_path / "runs"
    runs.mkdir()
    env = dict(os.environ, FLOWKIT_TEST_RUNS=str(runs))
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "sdk_worker_main.py"), server.api, str(HERE)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "workers.log", "ab"),  # noqa: SIM115
        start_new_session=True,
    )
    yield runs
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
