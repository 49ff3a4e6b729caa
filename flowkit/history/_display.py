"""How the history DataFrames show themselves in a notebook: readable, with the data left as it is.

:class:`HistoryFrame` is a ``pandas.DataFrame`` (same columns, same dtypes, same values: everything
:mod:`flowkit.history` documents stays true) whose notebook display (``_repr_html_``) and printed form
(``repr``) show durations in ms/s/min, times as ``HH:MM:SS.mmm`` UTC, long ids shortened (the full id
on hover), long reasons cut (in full on hover), and leave out columns that say nothing (``task_ref``
when it equals ``ref`` on every row, columns with no value at all); a caption names what was left out.
Frames derived from it (filters, sorts, ``head``) are HistoryFrames too and display the same way.
Imported only when a frame is made (it imports pandas).
"""

from __future__ import annotations

import html
from typing import Any

import pandas as pd

__all__ = ["HistoryFrame", "display_frame"]

_IDS = ("workflow_id", "task_id", "retried_task_id", "sub_workflow_id", "parent_workflow_id")
_LONG_TEXT = 60
_EDGE_ROWS = 10  # rows shown at each end of a long frame


class HistoryFrame(pd.DataFrame):  # type: ignore[misc]  # pandas is untyped here
    """A DataFrame of execution history that displays readably (the data itself is a plain DataFrame's)."""

    _metadata: list[str] = []

    @property
    def _constructor(self) -> type[HistoryFrame]:
        return HistoryFrame

    def _repr_html_(self) -> str | None:
        shown, notes = display_frame(self, markup=True)
        body = shown.to_html(escape=False, na_rep="", border=0, classes="flowkit-history")
        caption = f"<div class='flowkit-history-note' style='color:#555;font-size:90%'>{html.escape(notes)}</div>"
        return f"<div class='flowkit-history'>{body}{caption}</div>"

    def __repr__(self) -> str:
        shown, notes = display_frame(self, markup=False)
        return f"{pd.DataFrame.__repr__(shown)}\n{notes}"


def _ms_text(value: Any) -> str:
    if value is pd.NaT or pd.isna(value):
        return ""
    ms = value / pd.Timedelta(milliseconds=1)
    if ms < 10_000:
        return f"{ms:.0f} ms"
    if ms < 600_000:
        return f"{ms / 1000:.1f} s"
    return f"{ms / 60_000:.1f} min"


def _short_id(value: str) -> str:
    return value if len(value) <= 14 else f"{value[:8]}…{value[-4:]}"


def _cell(text: str, full: str, markup: bool) -> str:
    if not markup:
        return text
    if text == full:
        return html.escape(text)
    return f"<span title='{html.escape(full, quote=True)}'>{html.escape(text)}</span>"


def display_frame(frame: pd.DataFrame, *, markup: bool) -> tuple[pd.DataFrame, str]:
    """Return the strings shown for ``frame`` (a plain DataFrame of text) and a note on what was changed.

    Args:
        frame: A history frame (any columns: the known ones are made readable, the others shown as they are).
        markup: True for HTML cells (full values in ``title`` tooltips, escaped), False for plain text.

    """
    n = len(frame)
    rows = frame if n <= 2 * _EDGE_ROWS + 10 else pd.concat([frame.iloc[:_EDGE_ROWS], frame.iloc[-_EDGE_ROWS:]])
    hidden: list[str] = []
    columns: dict[str, list[str]] = {}
    days: set[str] = set()
    for name in frame.columns:
        column = frame[name]
        if n and column.isna().all() and name != "reason":
            hidden.append(f"{name} (empty)")
            continue
        if name == "task_ref" and "ref" in frame.columns and column.equals(frame["ref"]):
            hidden.append("task_ref (= ref)")
            continue
        values = rows[name]
        kind = str(column.dtype)
        if kind.startswith("timedelta64"):
            columns[name] = [_ms_text(v) for v in values]
        elif kind.startswith("datetime64"):
            texts = []
            for v in values:
                if pd.isna(v):
                    texts.append("")
                else:
                    days.add(v.strftime("%Y-%m-%d"))
                    texts.append(v.strftime("%H:%M:%S.%f")[:-3])
            columns[name] = texts
        elif name in _IDS or name.endswith("_id"):
            columns[name] = ["" if pd.isna(v) else _cell(_short_id(str(v)), str(v), markup) for v in values]
        elif name in ("reason", "traceback", "exception"):
            texts = []
            for v in values:
                full = "" if pd.isna(v) else str(v)
                line = full.splitlines()[-1] if name == "traceback" and full else full
                short = line if len(line) <= _LONG_TEXT else line[: _LONG_TEXT - 1] + "…"
                texts.append(_cell(short, full, markup))
            columns[name] = texts
        else:
            columns[name] = ["" if pd.isna(v) else _cell(str(v), str(v), markup) for v in values]
    index = [str(i) for i in rows.index]
    if len(rows) < n:  # a row of "…" between the two ends
        for name in columns:
            columns[name].insert(_EDGE_ROWS, "…")
        index.insert(_EDGE_ROWS, "…")
    shown = pd.DataFrame(columns, index=index)
    notes = [f"{n} rows × {len(frame.columns)} columns"]
    if len(rows) < n:
        notes.append(f"first and last {_EDGE_ROWS} rows shown")
    if hidden:
        notes.append("not shown: " + ", ".join(hidden))
    if days:
        notes.append(f"times UTC on {', '.join(sorted(days))}")
    notes.append("durations in ms/s/min, ids shortened: the frame holds the full values and dtypes")
    return shown, "; ".join(notes)
