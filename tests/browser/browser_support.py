"""Helpers shared by the real-browser tests (Voila and JupyterLab): the chromium to drive, a server
process that is always killed, and locators for the run monitor.

Not a conftest.py: the other test directories import ``Harness`` etc. from tests/conftest.py as
module ``conftest``, which a second conftest.py here would shadow.

A missing piece makes the tests FAIL, never skip: CI installs them (``apt-get install chromium``;
``pip install -e .[notebook] --group browser``).
"""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = Path(os.environ.get("FLOWKIT_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
]
WAIT_MS = 60_000  # every wait is bounded
SERVER_START_S = 60.0


def require(*modules: str) -> None:
    """Fail (never skip) unless the Python ``modules`` and Debian's chromium are installed."""
    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    problems = [f"pip install {' '.join(missing)}"] if missing else []
    if not CHROMIUM.is_file():
        problems.append(f"apt-get install -y --no-install-recommends chromium (no {CHROMIUM})")
    if problems:
        pytest.fail("the browser tests need: " + "; ".join(problems), pytrace=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(**extra: str) -> dict[str, str]:
    """The environment for a server: this checkout importable, and ``extra`` (FLOWKIT_HOME...)."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return dict(os.environ, PYTHONPATH=path, **extra)


@contextmanager
def server(
    name: str, argv: Sequence[str], *, env: Mapping[str, str], cwd: Path, probe: str, log_dir: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``argv`` in its own process group until ``probe`` (a URL) gets any HTTP answer.

    The whole process group is killed on the way out (SIGTERM, then SIGKILL after 10 s), whatever
    happened; a server that exits or does not answer within a minute fails the test with its log.
    """
    log = open(log_dir / f"{name}.log", "w+b")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        list(argv), env=dict(env), stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=str(cwd)
    )
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            try:
                with urllib.request.urlopen(probe, timeout=2):
                    break
            except urllib.error.HTTPError:  # e.g. 403: still an answer, so the server is up
                break
            except (urllib.error.URLError, OSError):
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    pytest.fail(f"{name} did not start: {log.read().decode(errors='replace')[-3000:]}", pytrace=False)
                time.sleep(0.1)
        yield process
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait(timeout=10)
        log.close()


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Debian chromium driven by Playwright (no downloaded browser), closed on the way out."""
    require("playwright")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=30_000)
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def status_of(monitor):
    return monitor.locator(".flowkit-workflow-status")


def button(scope, text: str):
    # Not get_by_role(name=...): Chromium counts the Font Awesome icon's glyph in the accessible name.
    return scope.locator("button.jupyter-button").filter(has_text=re.compile(rf"^\s*{text}\s*$"))
