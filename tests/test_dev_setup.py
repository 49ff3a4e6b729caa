"""``./dev``: the README's two commands set up the system packages too, or stop with one line saying what to run.

The real script runs in a copy of the repository with a PATH that lacks ``dot`` and ``chromium``
(and, for the first case, ``apt-get``); as a user that is not root and has no sudo for the second.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _sandbox(programs: list[str]) -> tuple[Path, Path]:
    """A world-readable copy of ``dev`` and a bin folder holding only ``programs`` (links to the real ones)."""
    top = Path(tempfile.mkdtemp(prefix="flowkit-dev-"))
    top.chmod(0o755)
    repo, bin_dir = top / "repo", top / "bin"
    repo.mkdir()
    bin_dir.mkdir()
    shutil.copy2(ROOT / "dev", repo / "dev")
    for name in programs:
        real = shutil.which(name)
        assert real, f"{name} is needed for this test"
        (bin_dir / name).symlink_to(real)
    return repo, bin_dir


@pytest.mark.parametrize(
    ("job", "needs"), [("test", "dot chromium"), ("main", "dot")], ids=["test needs dot and chromium", "main needs dot"]
)
def test_without_apt_get_dev_stops_with_one_line(job: str, needs: str) -> None:
    repo, bin_dir = _sandbox(["bash", "dirname", "id"])
    try:
        done = subprocess.run(
            [bin_dir / "bash", repo / "dev", job],
            env={"PATH": str(bin_dir)},
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        assert done.returncode == 1, (done.stdout, done.stderr)
        packages = "graphviz chromium" if job == "test" else "graphviz"
        assert done.stderr.splitlines() == [
            f"flowkit: ./dev {job} needs {needs} (not found, and no apt-get here): install {packages} with your "
            f"package manager, then run ./dev {job} again"
        ]
        assert done.stdout == "" and not (repo / ".venv").exists()  # stopped before any other set-up
    finally:
        shutil.rmtree(repo.parent)


def test_not_root_and_no_sudo_dev_says_exactly_what_to_run() -> None:
    repo, bin_dir = _sandbox(["bash", "dirname", "id", "apt-get"])
    command = [str(bin_dir / "bash"), str(repo / "dev"), "test"]
    if os.geteuid() == 0:  # become a user that is not root (nobody) for this run
        setpriv = shutil.which("setpriv")
        assert setpriv, "setpriv (util-linux) is needed to run as a user that is not root"
        command = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", *command]
    try:
        done = subprocess.run(
            command, env={"PATH": str(bin_dir)}, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
        )
        assert done.returncode == 1, (done.stdout, done.stderr)
        assert done.stderr.splitlines() == [
            "flowkit: ./dev test needs dot chromium (not found): run 'sudo apt-get update && sudo apt-get install -y "
            "--no-install-recommends graphviz chromium', then ./dev test again"
        ]
        assert not (repo / ".venv").exists()
    finally:
        shutil.rmtree(repo.parent)


def test_ci_runs_only_the_readme_test_command() -> None:
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    code = [line for line in lines if line and not line.startswith("#")]
    assert code == [
        "set -euo pipefail",
        'cd "$(dirname "$0")/.."',
        "export CI=true PIP_DISABLE_PIP_VERSION_CHECK=1 DEBIAN_FRONTEND=noninteractive",
        'exec ./dev test "$@" </dev/null',
    ]
    assert "./dev test" in (ROOT / "README.md").read_text()
