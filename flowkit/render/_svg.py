"""Turning DOT into SVG with whichever Graphviz is installed, and the notebook display bundle.

Nothing here raises because Graphviz is missing, slow or broken: :func:`svg` answers None and
:func:`repr_mimebundle` falls back to the DOT text, so a notebook cell never fails on a diagram.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from flowkit.definitions import TaskDef
from flowkit.render._dot import dot
from flowkit.render._inputs import subject
from flowkit.render._style import html_escape

__all__ = [
    "DEFAULT_RENDERERS",
    "DEFAULT_TIMEOUT",
    "find_renderer",
    "repr_mimebundle",
    "source",
    "summary",
    "svg",
    "svg_from_dot",
]

DEFAULT_RENDERERS: tuple[str, ...] = ("dot", "graphviz-pure")
"""Graphviz programs tried in order: Debian/Homebrew ``dot``, then the pip-installed ``graphviz-pure``."""

DEFAULT_TIMEOUT = 10.0
_DOT_START = re.compile(r"^\s*(strict\s+)?(di)?graph\b")
_IDS = re.compile(r'(\bid="|url\(#|href="#)')
_SHOWN_TASKS = 50


def _locate(renderer: str | os.PathLike[str]) -> str | None:
    text = os.fspath(renderer)
    if os.sep in text or (os.altsep and os.altsep in text):
        path = Path(text)
        return str(path) if path.is_file() and os.access(path, os.X_OK) else None
    found = shutil.which(text)
    if found:
        return found
    # A kernel started from a virtualenv without activating it has the venv's bin/ off PATH, which
    # is exactly where pip put graphviz-pure.
    for folder in dict.fromkeys([sysconfig.get_path("scripts"), str(Path(sys.executable).parent)]):
        found = shutil.which(text, path=folder) if folder else None
        if found:
            return found
    return None


def find_renderer(renderers: Sequence[str | os.PathLike[str]] | None = None) -> str | None:
    """Return the path of the first Graphviz program found, or None.

    Args:
        renderers: Program names (looked up on PATH, then beside the running Python) or paths,
            tried in order; default :data:`DEFAULT_RENDERERS`. ``[]`` means "no renderer".

    """
    for renderer in DEFAULT_RENDERERS if renderers is None else renderers:
        found = _locate(renderer)
        if found:
            return found
    return None


def svg_from_dot(
    source: str, *, renderers: Sequence[str | os.PathLike[str]] | None = None, timeout: float = DEFAULT_TIMEOUT
) -> str | None:
    """SVG for DOT ``source`` from the first renderer that works; None when none does.

    A renderer that is missing, exits with an error, prints no SVG or runs past ``timeout``
    seconds is skipped and the next one is tried.
    """
    data = source.encode("utf-8")
    for renderer in DEFAULT_RENDERERS if renderers is None else renderers:
        path = _locate(renderer)
        if path is None:
            continue
        try:
            done = subprocess.run([path, "-Tsvg"], input=data, capture_output=True, timeout=timeout, check=True)
        except (OSError, subprocess.SubprocessError):  # CalledProcessError, TimeoutExpired, not executable
            continue
        text = done.stdout.decode("utf-8", errors="replace")
        start = text.find("<svg")
        if start >= 0 and "</svg>" in text:
            return text[start:]
    return None


def svg(
    obj: Any,
    *,
    renderers: Sequence[str | os.PathLike[str]] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    **options: Any,
) -> str | None:
    """SVG of a definition or an execution (``options`` go to :func:`dot`); None without Graphviz.

    ``obj`` may also be DOT text. The XML prolog is dropped, so the result can be inlined in HTML.
    """
    source = obj if isinstance(obj, str) and _DOT_START.match(obj) else dot(obj, **options)
    return svg_from_dot(source, renderers=renderers, timeout=timeout)


def source(obj: Any, **options: Any) -> Any:
    """The diagram as a ``graphviz.Source``, to save or convert with the graphviz package's API.

    ``options`` go to :func:`dot`. For example ``render.source(execution).render("run", format="pdf")``
    writes ``run.pdf``, and ``.pipe(format="png")`` returns PNG bytes; both need Graphviz's ``dot``.
    The notebook display does not go through this: :func:`svg` tries every renderer with a time limit.
    """
    try:
        import graphviz
    except ImportError as exc:  # the notebook extra brings it
        raise ImportError("render.source needs the graphviz package: pip install 'flowkit[notebook]'") from exc
    text = obj if isinstance(obj, str) and _DOT_START.match(obj) else dot(obj, **options)
    return graphviz.Source(text)


# ---------------------------------------------------------------------------------------------- notebook
def summary(obj: Any) -> str:
    """Describe a definition, an execution or a task definition in a few lines of plain text."""
    if isinstance(obj, TaskDef):
        return _task_def_summary(obj)
    definition, model, _ = subject(obj)
    if model is None:
        count = sum(1 for _ in definition.all_tasks())
        lines = [f"WorkflowDef {definition.name} v{definition.version}: {count} task(s)"]
        lines += [f"  {t.task_reference_name} [{t.type}] {t.name}" for t in definition.tasks[:_SHOWN_TASKS]]
        if len(definition.tasks) > _SHOWN_TASKS:
            lines.append(f"  ... {len(definition.tasks) - _SHOWN_TASKS} more")
        return "\n".join(lines)
    tasks = list(model.tasks)
    head = f"Execution {definition.name} v{definition.version} {model.workflow_id} {model.status}"
    counts = Counter(str(t.status) for t in tasks)
    lines = [head, f"{len(tasks)} task attempt(s): " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))]
    if model.reason:
        lines.append(f"reason: {model.reason}")
    return "\n".join(lines)


def _task_def_summary(task_def: Any) -> str:
    return (
        f"TaskDef {task_def.name}: retries {task_def.retry_count} ({task_def.retry_logic}, "
        f"{task_def.retry_delay_seconds} s), timeout {task_def.timeout_seconds} s, "
        f"response timeout {task_def.response_timeout_seconds} s, policy {task_def.timeout_policy}"
    )


def _task_def_html(task_def: Any) -> str:
    rows = "".join(
        f"<tr><th style='text-align:left'>{html_escape(key)}</th><td style='text-align:left'>"
        f"{html_escape(str(value))}</td></tr>"
        for key, value in task_def.to_json().items()
        if key not in ("inputTemplate",) or value
    )
    return (
        f"<table><caption style='text-align:left'><b>TaskDef {html_escape(task_def.name)}</b></caption>{rows}</table>"
    )


def _inline(svg_text: str) -> str:
    # Several diagrams share one notebook page: give each SVG's ids their own prefix.
    prefix = "fk" + hashlib.sha1(svg_text.encode("utf-8")).hexdigest()[:8] + "_"
    body = _IDS.sub(lambda m: m.group(1) + prefix, svg_text)
    return f'<div class="flowkit-diagram" style="max-width:100%;overflow:auto">{body}</div>'


def _filtered(bundle: dict[str, str], include: Iterable[str] | None, exclude: Iterable[str] | None) -> dict[str, str]:
    if include is not None:
        wanted = set(include)
        bundle = {k: v for k, v in bundle.items() if k in wanted}
    if exclude is not None:
        unwanted = set(exclude)
        bundle = {k: v for k, v in bundle.items() if k not in unwanted}
    return bundle


def repr_mimebundle(
    obj: Any,
    include: Iterable[str] | None = None,
    exclude: Iterable[str] | None = None,
    *,
    renderers: Sequence[str | os.PathLike[str]] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    **options: Any,
) -> dict[str, str]:
    """Return the notebook display of ``obj`` (what ``_repr_mimebundle_`` returns).

    ``text/html`` with an inline ``<svg>`` (tooltips work in JupyterLab, which shows
    ``image/svg+xml`` as an ``<img>``) and a ``text/plain`` summary; with no Graphviz,
    ``text/plain`` only: the summary, a blank line, and the DOT text.

    Never raises for a displayable object: a diagram that cannot be drawn becomes a line of text.
    """
    if isinstance(obj, TaskDef):
        return _filtered({"text/html": _task_def_html(obj), "text/plain": _task_def_summary(obj)}, include, exclude)
    text = summary(obj)
    try:
        source = dot(obj, **options)
    except Exception as exc:  # noqa: BLE001 - a display hook must not break the cell
        return _filtered({"text/plain": f"{text}\n\n(no diagram: {type(exc).__name__}: {exc})"}, include, exclude)
    drawn = svg_from_dot(source, renderers=renderers, timeout=timeout)
    if drawn is None:
        return _filtered({"text/plain": f"{text}\n\n{source}"}, include, exclude)
    return _filtered({"text/html": _inline(drawn), "text/plain": text}, include, exclude)
