"""The run monitor in a real browser: Voila serves notebooks/widgets_demo.ipynb, Debian's chromium
(driven by Playwright, no downloaded browser) clicks the monitor's buttons and fills its HUMAN form.

These tests FAIL (they never skip) when chromium, Voila or Playwright is missing: CI installs them
(``apt-get install chromium``; ``pip install voila playwright``). Screenshots are written to
tests/browser/artifacts/.
"""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "notebooks" / "widgets_demo.ipynb"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = Path(os.environ.get("FLOWKIT_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic", "--disable-dev-shm-usage",
]  # fmt: skip
WAIT_MS = 60_000  # every wait is bounded


def require_browser_stack() -> None:
    missing = [name for name in ("voila", "playwright") if importlib.util.find_spec(name) is None]
    problems = [f"pip install {' '.join(missing)}"] if missing else []
    if not CHROMIUM.is_file():
        problems.append(f"apt-get install -y --no-install-recommends chromium (no {CHROMIUM})")
    if problems:
        pytest.fail("the browser tests need: " + "; ".join(problems), pytrace=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def voila(tmp_path_factory):
    """A Voila server for the demo notebook on a free port; killed (its whole process group) at the end."""
    require_browser_stack()
    home = tmp_path_factory.mktemp("flowkit-home")
    port = free_port()
    env = dict(os.environ, FLOWKIT_HOME=str(home),
               PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p))  # fmt: skip
    log = open(tmp_path_factory.mktemp("voila") / "voila.log", "w+b")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [sys.executable, "-m", "voila", str(DEMO), "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=str(home),
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                # Serving one notebook, Voila answers /api/status with 403: any HTTP answer means "up".
                with urllib.request.urlopen(f"{url}/api/status", timeout=2):
                    break
            except urllib.error.HTTPError:
                break
            except (urllib.error.URLError, OSError):
                if server.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    pytest.fail(f"Voila did not start: {log.read().decode(errors='replace')[-3000:]}", pytrace=False)
                time.sleep(0.1)
        yield url
    finally:
        try:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(server.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            server.wait(timeout=10)
        log.close()


@pytest.fixture(scope="module")
def page(voila):
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=30_000)
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            tab = browser.new_page(viewport={"width": 1280, "height": 1600})
            tab.set_default_timeout(WAIT_MS)
            tab.goto(voila, timeout=WAIT_MS)
            # Voila runs the notebook when the page loads: two monitors appear once it has.
            tab.locator(".flowkit-monitor").nth(1).wait_for(timeout=WAIT_MS)
            yield tab
        finally:
            browser.close()


def status_of(monitor):
    return monitor.locator(".flowkit-workflow-status")


def button(scope, text: str):
    # Not get_by_role(name=...): Chromium counts the Font Awesome icon's glyph in the accessible name.
    return scope.locator("button.jupyter-button").filter(has_text=re.compile(rf"^\s*{text}\s*$"))


def test_pause_resume_then_complete_the_human_task_in_the_browser(page):
    from playwright.sync_api import expect

    first = page.locator(".flowkit-monitor").nth(0)
    expect(status_of(first)).to_have_text("RUNNING")
    form = first.locator(".flowkit-human")
    expect(form).to_be_visible()  # the HUMAN task is waiting
    expect(first.locator(".flowkit-diagram svg")).to_be_visible()
    button(first, "Pause").click()
    expect(status_of(first)).to_have_text("PAUSED")
    expect(first.locator(".flowkit-message")).to_contain_text("Pause: done")
    button(first, "Resume").click()
    expect(status_of(first)).to_have_text("RUNNING")
    form.locator("textarea").fill('{"approved_by": "browser"}')
    button(form, "Complete").click()
    expect(status_of(first)).to_have_text("COMPLETED")
    expect(first.locator(".flowkit-message")).to_contain_text("Complete approve: done")
    expect(form).to_be_hidden()
    expect(first.locator(".flowkit-counters")).to_contain_text("COMPLETED: 3")
    expect(first.locator(".flowkit-diagram svg")).to_contain_text("widgets_demo v1 · COMPLETED")  # recoloured
    first.screenshot(path=str(ARTIFACTS / "monitor_completed.png"))


def test_retry_is_refused_while_running_then_terminate(page):
    from playwright.sync_api import expect

    second = page.locator(".flowkit-monitor").nth(1)
    expect(status_of(second)).to_have_text("RUNNING")
    button(second, "Retry").click()
    expect(second.locator(".flowkit-message")).to_contain_text("only a terminal workflow can be retried")
    expect(status_of(second)).to_have_text("RUNNING")
    button(second, "Terminate").click()
    expect(status_of(second)).to_have_text("TERMINATED")
    expect(second.locator(".flowkit-counters")).to_contain_text("CANCELED: 1")
    expect(second.locator(".flowkit-diagram svg")).to_contain_text("TERMINATED")
    page.screenshot(path=str(ARTIFACTS / "monitors_page.png"), full_page=True)
