"""One palette for every view: status colours, symbols and orders (diagrams, widgets, charts).

The timeline chart (``flowkit.history``), the DOT/SVG diagrams (``flowkit.render``) and the notebook
widgets (``flowkit.notebook``) draw the same status the same way; they all read it from here.
"""

from __future__ import annotations

from flowkit.definitions._types import TaskStatus

__all__ = [
    "LIFECYCLE_ORDER",
    "STATUS_COLORS",
    "STATUS_ORDER",
    "STATUS_SYMBOLS",
    "UNKNOWN_COLOR",
    "WORKFLOW_STATUS_COLORS",
    "WORST_FIRST",
]

STATUS_COLORS: dict[str, str] = {
    "SCHEDULED": "#9ecae1",  # light blue
    "IN_PROGRESS": "#1f77b4",  # blue
    "COMPLETED": "#2ca02c",  # green
    "COMPLETED_WITH_ERRORS": "#808000",  # olive
    "FAILED": "#d62728",  # red
    "FAILED_WITH_TERMINAL_ERROR": "#8b0000",  # dark red
    "TIMED_OUT": "#ff7f0e",  # orange
    "CANCELED": "#e6b800",  # amber: a stop, not a failure
    "SKIPPED": "#c7c7c7",  # light grey
}
"""Colour of each task status (every status has its own)."""

WORKFLOW_STATUS_COLORS: dict[str, str] = {
    "RUNNING": "#1f77b4",
    "PAUSED": "#9467bd",
    "COMPLETED": "#2ca02c",
    "FAILED": "#d62728",
    "TIMED_OUT": "#ff7f0e",
    "TERMINATED": "#e6b800",
}
"""Colour of each workflow status (the task colours where the names agree)."""

UNKNOWN_COLOR = "#ffffff"
"""Fill of a status Conductor does not define."""

STATUS_SYMBOLS: dict[str, str] = {
    "SCHEDULED": "…",
    "IN_PROGRESS": "▶",
    "COMPLETED": "✔",
    "COMPLETED_WITH_ERRORS": "⚠",
    "FAILED": "✘",
    "FAILED_WITH_TERMINAL_ERROR": "✘!",
    "TIMED_OUT": "⏱",
    "CANCELED": "⊘",
    "SKIPPED": "↷",
}
"""The symbol drawn before each status, so a view never relies on colour alone."""

STATUS_ORDER: tuple[str, ...] = (
    "COMPLETED",
    "COMPLETED_WITH_ERRORS",
    "FAILED",
    "FAILED_WITH_TERMINAL_ERROR",
    "TIMED_OUT",
    "CANCELED",
    "IN_PROGRESS",
    "SCHEDULED",
    "SKIPPED",
)
"""Order of statuses in a diagram's legend and in a collapsed fork's breakdown (for equal counts)."""

LIFECYCLE_ORDER: tuple[str, ...] = tuple(s.value for s in TaskStatus)
"""The task statuses in lifecycle order (SCHEDULED first): the monitor's counts."""

WORST_FIRST: tuple[str, ...] = ("FAILED_WITH_TERMINAL_ERROR", "FAILED", "TIMED_OUT", "CANCELED")
"""Unsuccessful statuses, worst first: which failed branches a diagram's tooltip names first."""
