"""The run monitor in a real browser: Voila serves notebooks/widgets_demo.ipynb, Debian's chromium
(driven by Playwright, no downloaded browser) clicks the monitor's buttons and fills its HUMAN form.

These tests FAIL (they never skip) when chromium, Voila or Playwright is missing: CI installs them
(``apt-get install chromium``; ``pip install voila playwright``); helpers in browser_support.py.
Screenshots are written to tests/browser/artifacts/.
"""

from __future__ import annotations

import sys

import pytest
from browser_support import (
    ARTIFACTS,
    ROOT,
    WAIT_MS,
    button,
    chromium,
    free_port,
    require,
    server,
    server_env,
    status_of,
)

DEMO = ROOT / "notebooks" / "widgets_demo.ipynb"


@pytest.fixture(scope="module")
def voila(tmp_path_factory):
    """A Voila server for the demo notebook on a free port; killed (its whole process group) at the end."""
    require("voila", "playwright")
    home = tmp_path_factory.mktemp("flowkit-home")
    port = free_port()
    argv = [sys.executable, "-m", "voila", str(DEMO), "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1"]
    url = f"http://127.0.0.1:{port}"
    # Serving one notebook, Voila answers /api/status with 403: any HTTP answer means "up".
    with server(
        "voila",
        argv,
        env=server_env(FLOWKIT_HOME=str(home)),
        cwd=home,
        probe=f"{url}/api/status",
        log_dir=tmp_path_factory.mktemp("voila"),
    ):
        yield url


@pytest.fixture(scope="module")
def page(voila):
    with chromium() as browser:
        tab = browser.new_page(viewport={"width": 1280, "height": 1600})
        tab.set_default_timeout(WAIT_MS)
        tab.goto(voila, timeout=WAIT_MS)
        # Voila runs the notebook when the page loads: two monitors appear once it has.
        tab.locator(".flowkit-monitor").nth(1).wait_for(timeout=WAIT_MS)
        yield tab  # the browser (and its page) closes on the way out


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


def test_retry_is_disabled_while_running_then_terminate(page):
    from playwright.sync_api import expect

    second = page.locator(".flowkit-monitor").nth(1)
    expect(status_of(second)).to_have_text("RUNNING")
    # Controls are enabled only when the status allows them (Conductor's rules): no Retry while running.
    expect(button(second, "Retry")).to_be_disabled()
    expect(button(second, "Resume")).to_be_disabled()
    expect(button(second, "Pause")).to_be_enabled()
    expect(status_of(second)).to_have_text("RUNNING")
    button(second, "Terminate").click()
    expect(status_of(second)).to_have_text("TERMINATED")
    expect(button(second, "Retry")).to_be_enabled()
    for name in ("Pause", "Resume", "Terminate"):
        expect(button(second, name)).to_be_disabled()
    expect(second.locator(".flowkit-counters")).to_contain_text("CANCELED: 1")
    expect(second.locator(".flowkit-diagram svg")).to_contain_text("TERMINATED")
    page.screenshot(path=str(ARTIFACTS / "monitors_page.png"), full_page=True)
