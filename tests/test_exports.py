"""The public surface and the purity of the core."""

import ast
import subprocess
import sys
from pathlib import Path

import flowkit

ROOT = Path(flowkit.__file__).parent
BANNED_IN_CORE = {
    "threading", "time", "datetime.now", "uuid", "random", "socket", "subprocess", "concurrent",
    "asyncio", "pandas", "ipywidgets", "graphviz", "boto3", "PIL", "urllib", "sqlite3", "os",
}  # fmt: skip


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
        flowkit.store,
        flowkit.testing,
        flowkit.workers,
    ):
        assert list(module.__all__) == sorted(module.__all__), module.__name__
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_pure_core_imports_nothing_that_does_io():
    offenders = {}
    for package in ("definitions", "expressions", "engine"):
        for path in (ROOT / package).glob("*.py"):
            bad = _imports(path) & BANNED_IN_CORE
            if bad:
                offenders[str(path.relative_to(ROOT))] = sorted(bad)
    assert offenders == {}


def test_import_flowkit_does_not_load_notebook_or_heavy_libraries():
    code = (
        "import sys, flowkit; heavy = {'pandas', 'ipywidgets', 'graphviz', 'boto3', 'PIL', 'py_mini_racer', "
        "'mini_racer', 'jq', 'jsonpath', 'matplotlib'}; print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
