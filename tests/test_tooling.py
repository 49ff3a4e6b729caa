"""The house style is enforced: ruff (lint and format) and mypy strict pass on the repository.

Each tool runs as CI runs it, from the repository root with pyproject.toml's settings. The tools come
with the ``dev`` dependency group, which `./dev` installs, so a missing tool fails here rather than skipping.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PATHS = ["flowkit", "tests", "bench", "scripts"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )


@pytest.mark.parametrize(
    "command",
    [["ruff", "check", *PATHS], ["ruff", "format", "--check", *PATHS], ["mypy"]],
    ids=["ruff-check", "ruff-format", "mypy"],
)
def test_tool_passes(command: list[str]) -> None:
    done = _run(*command)
    if done.returncode != 0:  # pytest.fail: the tool's report as it printed it, without assert's repr
        pytest.fail(f"`python -m {' '.join(command)}` exited {done.returncode}:\n{done.stdout}{done.stderr}")
