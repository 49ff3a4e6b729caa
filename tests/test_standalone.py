"""The repository stands alone: nothing tracked reads a folder beside it, and the built wheel runs
``flowkit conformance`` (Conductor's shipped JSON files) in a fresh virtual environment from an empty folder."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from flowkit import conformance
from flowkit.errors import NotFoundError

ROOT = Path(__file__).resolve().parents[1]
# Spelled in pieces so that this file does not match itself; the last is the section sign of the old
# "semantics section N" citations of a document beside the repository.
BESIDE = [".." + "/shared", "shared" + "/conformance", "shared" + "/reference", "conductor" + "-semantics", "\u00a7"]


def _repo_files() -> list[str]:
    """Tracked files plus new ones not yet added (what a commit of this working tree would hold)."""
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout
    return sorted({name for name in out.decode().split("\0") if name and (ROOT / name).is_file()})


def test_no_tracked_file_refers_to_a_folder_beside_the_repository() -> None:
    files = _repo_files()
    assert "flowkit/conformance/conductor/kitchensink.json" in files and len(files) > 100
    offending = []
    for name in files:
        try:
            text = (ROOT / name).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # images and other binary files
        for number, line in enumerate(text.splitlines(), 1):
            offending += [f"{name}:{number}: {line.strip()[:100]}" for needle in BESIDE if needle in line]
    assert offending == [], "\n".join(offending)


def test_the_shipped_files_carry_their_licence_and_sources() -> None:
    folder = conformance.SHIPPED
    jsons = sorted(p.name for p in folder.glob("*.json"))
    assert len(jsons) >= 30
    assert "Apache License" in (folder / "LICENSE").read_text() and "Version 2.0" in (folder / "LICENSE").read_text()
    assert "Apache License, Version 2.0" in (folder / "NOTICE").read_text()
    sources = (folder / "SOURCES.md").read_text()
    for name in jsons:  # every file has its row with a URL at its snapshot commit
        row = next(line for line in sources.splitlines() if line.startswith(f"| `{name}` |"))
        assert re.search(r"\(https://github\.com/[\w-]+/[\w-]+/blob/[0-9a-f]{40}/\S+\)", row), row


def test_a_missing_fixture_file_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert conformance.fixture_folder("kitchensink.json", "sub_flow_1.json") == conformance.SHIPPED
    (tmp_path / "sub_flow_1.json").write_text("{}")
    monkeypatch.setenv("FLOWKIT_CONFORMANCE_DIR", str(tmp_path))
    with pytest.raises(NotFoundError, match=r"\$FLOWKIT_CONFORMANCE_DIR .*: kitchensink\.json\. Fix: "):
        conformance.fixture_folder("kitchensink.json", "sub_flow_1.json")


def _copy_tree(dest: Path) -> Path:
    """The repository's files in ``dest`` (a build writes build/ and *.egg-info next to pyproject.toml)."""
    for name in _repo_files():
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    return dest


def test_the_wheel_runs_conformance_in_a_fresh_venv_from_an_empty_folder(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "FLOWKIT_CONFORMANCE_DIR", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    source = _copy_tree(tmp_path / "src")
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels), str(source)],
        check=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
    )
    [wheel] = wheels.glob("flowkit-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = {n for n in archive.namelist() if n.startswith("flowkit/conformance/conductor/")}
        requires = [
            line.split(":", 1)[1].strip()
            for line in archive.read(next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA")))
            .decode()
            .splitlines()
            if line.startswith("Requires-Dist:") and "extra ==" not in line
        ]
    expected = {f"flowkit/conformance/conductor/{p.name}" for p in conformance.SHIPPED.iterdir() if p.is_file()}
    assert shipped == expected and "flowkit/conformance/conductor/LICENSE" in shipped

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=env, timeout=300)
    python = venv / "bin" / "python"
    probe = "import sys; print(sys.prefix != sys.base_prefix, any('site-packages' in p and p.startswith(sys.base_prefix) for p in sys.path))"
    assert subprocess.run(
        [python, "-c", probe], check=True, capture_output=True, text=True, env=env
    ).stdout.split() == ["True", "False"]
    pip = [str(python), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "--no-deps", "--no-index", str(wheel)], check=True, env=env, timeout=300)
    subprocess.run([*pip, *requires], check=True, env=env, timeout=600)  # the core dependencies, from the registry

    empty = tmp_path / "empty"
    empty.mkdir()
    done = subprocess.run(
        [venv / "bin" / "flowkit", "conformance"], cwd=empty, env=env, capture_output=True, text=True, timeout=600
    )
    lines = done.stdout.strip().splitlines()
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert lines[-1] == f"{len(conformance.CASES)} passed, 0 failed", lines[-1]
    assert sum(" MATCH " in line for line in lines) == len(conformance.CASES)
    where = subprocess.run(
        [python, "-c", "import flowkit.conformance as c, json; print(json.dumps(str(c.SHIPPED)))"],
        cwd=empty,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert json.loads(where).startswith(str(venv)), where  # the installed copy, not this checkout
    assert list(empty.iterdir()) == []
