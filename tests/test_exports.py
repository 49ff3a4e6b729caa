"""The public surface and the purity of the core."""

import subprocess
import sys
from pathlib import Path

import flowkit

ROOT = Path(flowkit.__file__).parent


def test_all_is_sorted_and_resolves():
    assert list(flowkit.__all__) == sorted(flowkit.__all__)
    for name in flowkit.__all__:
        assert getattr(flowkit, name) is not None, name


def test_subpackages_export_what_they_list():
    import flowkit.definitions
    import flowkit.engine
    import flowkit.executors
    import flowkit.expressions
    import flowkit.history
    import flowkit.notebook
    import flowkit.render
    import flowkit.runtime
    import flowkit.store
    import flowkit.testing
    import flowkit.workers

    for module in (
        flowkit.definitions,
        flowkit.engine,
        flowkit.executors,
        flowkit.expressions,
        flowkit.history,
        flowkit.notebook,
        flowkit.render,
        flowkit.runtime,
        flowkit.store,
        flowkit.testing,
        flowkit.workers,
    ):
        assert list(module.__all__) == sorted(module.__all__), module.__name__
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"


def test_import_contracts_hold():
    """The layers, the pure core and "nothing imports the notebook" (pyproject.toml [tool.importlinter])."""
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint), "--no-cache"], cwd=ROOT.parent, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "3 kept, 0 broken" in done.stdout


def test_import_flowkit_does_not_load_notebook_or_heavy_libraries():
    code = (
        "import sys, flowkit; heavy = {'pandas', 'ipywidgets', 'graphviz', 'boto3', 'PIL', 'py_mini_racer', "
        "'mini_racer', 'jq', 'jsonpath', 'matplotlib'}; print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_readme_architecture_lists_every_package_and_top_level_module_once():
    """The README's architecture block and the package tree match one to one (packages, subpackages, flowkit/*.py)."""
    text = (ROOT.parent / "README.md").read_text()
    block = text.split("## Architecture", 1)[1].split("```", 2)[1]
    listed = [line.split()[0] for line in block.strip().splitlines()]
    packages = {str(p.parent.relative_to(ROOT.parent)) for p in ROOT.rglob("__init__.py")} - {"flowkit"}
    modules = {f"flowkit/{p.name}" for p in ROOT.glob("*.py")} - {"flowkit/__init__.py", "flowkit/__main__.py"}
    assert len(listed) == len(set(listed)), listed
    assert set(listed) == packages | modules
