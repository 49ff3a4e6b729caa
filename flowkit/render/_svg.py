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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowkit.definitions import TaskDef
from flowkit.render._dot import dot
from flowkit.render._fit import choose, fit_html, folded_branches
from flowkit.render._inputs import subject
from flowkit.render._style import html_escape

__all__ = [
    "DEFAULT_RENDERERS",
    "DEFAULT_TIMEOUT",
    "Figure",
    "figure",
    "find_renderer",
    "html",
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
_SHOWN_TASKS = 50
EXPAND_UP_TO = 100
"""A folded dynamic fork of at most this many branches can be unfolded in place (``<details>``)."""


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
    rankdir: str = "auto",
    **options: Any,
) -> str | None:
    """SVG of a definition or an execution (``options`` go to :func:`dot`); None without Graphviz.

    ``obj`` may also be DOT text (drawn as it is). ``rankdir="auto"`` draws top to bottom unless
    the diagram is then too wide for a notebook cell and left to right reads larger (see
    :func:`figure`). The XML prolog is dropped, so the result can be inlined in HTML.
    """
    if isinstance(obj, str) and _DOT_START.match(obj):
        return svg_from_dot(obj, renderers=renderers, timeout=timeout)
    return figure(obj, renderers=renderers, timeout=timeout, rankdir=rankdir, script=False, **options).svg


@dataclass(frozen=True, slots=True)
class Figure:
    """A drawn diagram: the direction chosen, its DOT, its SVG (None without Graphviz) and the HTML to show."""

    rankdir: str
    source: str
    svg: str | None
    html: str


def figure(
    obj: Any,
    *,
    prefix: str | None = None,
    renderers: Sequence[str | os.PathLike[str]] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    rankdir: str = "auto",
    script: bool = True,
    expand_up_to: int = EXPAND_UP_TO,
    first: str | None = None,
    **options: Any,
) -> Figure:
    """Draw ``obj`` to fit a notebook cell (``options`` go to :func:`dot`).

    Args:
        obj: Anything :func:`dot` accepts.
        prefix: Prefix of the SVG's ids (several diagrams share a page); default: from the SVG.
        renderers: Graphviz programs, as for :func:`svg_from_dot`.
        timeout: Seconds per Graphviz run.
        rankdir: ``"auto"`` (top to bottom, or left to right when that keeps the text larger
            in a 900 px cell), ``"TB"`` or ``"LR"``.
        script: Add the small pan/zoom script (it never loads anything; without it, or where
            scripts do not run, the diagram is still fitted to the cell's width).
        expand_up_to: A dynamic fork folded into one "×N" node is also drawn unfolded, behind a
            "show the N branches" toggle, when N is at most this.
        first: The top-to-bottom DOT of ``obj`` when the caller already made it.
        **options: Passed to :func:`dot` (``collapse_over``, ``workflows``, ``lookup``...).

    Returns:
        The :class:`Figure`; its ``html`` is the DOT text in a ``<pre>`` when no Graphviz works.

    Raises:
        Whatever :func:`dot` raises for ``obj``.

    """

    def draw(direction: str) -> tuple[str, str | None]:
        source = first if first is not None and direction == "TB" else dot(obj, rankdir=direction, **options)
        return source, svg_from_dot(source, renderers=renderers, timeout=timeout)

    chosen, source, drawn = choose(draw, rankdir)
    if drawn is None:
        text = (
            "<div style='color:#555'>No Graphviz renderer found (install Graphviz or "
            "<code>pip install graphviz-pure</code>); the diagram's DOT text:</div>"
            f"<pre style='font-size:80%;line-height:1.3'>{html_escape(source)}</pre>"
        )
        return Figure(chosen, source, None, f"<div class='flowkit-diagram'>{text}</div>")
    name = prefix or "fk" + hashlib.sha1(drawn.encode("utf-8")).hexdigest()[:8] + "_"
    body = fit_html(drawn, name, script=script)
    folded = folded_branches(source)
    if 0 < folded <= expand_up_to:
        wide = dict(options, collapse_over=folded)
        unfolded = svg(obj, renderers=renderers, timeout=timeout, rankdir=rankdir, **wide)
        if unfolded is not None:
            inner = fit_html(unfolded, f"{name}x_", script=script)
            body += (
                "<details class='flowkit-unfold'><summary style='cursor:pointer'>"
                f"show the {folded} folded branches</summary>{inner}</details>"
            )
    return Figure(chosen, source, drawn, body)


def html(obj: Any, **options: Any) -> str:
    """The diagram as an HTML fragment that fits its notebook cell (see :func:`figure`)."""
    return figure(obj, **options).html


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

    ``text/html`` with an inline ``<svg>`` fitted to the cell (tooltips work in JupyterLab, which
    shows ``image/svg+xml`` as an ``<img>``; see :func:`figure`) and a ``text/plain`` summary; with
    no Graphviz, ``text/plain`` only: the summary, a blank line, and the DOT text.

    Never raises for a displayable object: a diagram that cannot be drawn becomes a line of text.
    """
    if isinstance(obj, TaskDef):
        return _filtered({"text/html": _task_def_html(obj), "text/plain": _task_def_summary(obj)}, include, exclude)
    text = summary(obj)
    try:
        drawn = figure(obj, renderers=renderers, timeout=timeout, **options)
    except Exception as exc:  # noqa: BLE001 - a display hook must not break the cell
        return _filtered({"text/plain": f"{text}\n\n(no diagram: {type(exc).__name__}: {exc})"}, include, exclude)
    if drawn.svg is None:
        return _filtered({"text/plain": f"{text}\n\n{drawn.source}"}, include, exclude)
    return _filtered({"text/html": drawn.html, "text/plain": text}, include, exclude)
