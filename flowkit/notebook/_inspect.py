"""The inspector: one task attempt at a time, and the execution's timeline and table on demand.

For the chosen attempt: input, output (images as thumbnails), logs, reason and traceback.
"""

from __future__ import annotations

import base64
import html
import io
from datetime import UTC, datetime
from typing import Any

import ipywidgets as widgets  # type: ignore[import-untyped]

from flowkit.notebook._images import find_images, thumbnail
from flowkit.notebook._snapshot import FAILED, attempt_label, attempt_text, to_json_text

__all__ = ["Inspector", "inspect"]

_MAX_ATTEMPTS = 2000
_PRE = "white-space:pre-wrap;line-height:1.35;max-height:260px;overflow:auto;background:#f7f7f7;padding:4px;margin:0"


def inspect(execution: Any, **options: Any) -> Inspector:
    """Look at ``execution``'s task attempts one at a time. See :class:`Inspector`."""
    return Inspector(execution, **options)


class Inspector(widgets.VBox):  # type: ignore[misc]
    """Choose a task attempt and see its input, output, logs, reason and traceback.

    Images in the output (or input) show as thumbnails: PIL images, paths to .png/.jpg/.jpeg/.webp/.gif
    files, and ``s3://`` URIs (fetched with boto3; pass ``s3_client=`` for a specific endpoint).
    "Timeline" draws :meth:`Execution.timeline`, "Tasks table" shows :meth:`Execution.tasks_df`.

    Args:
        execution: The execution to inspect.
        task: The reference (or task id) of the attempt shown first; by default the latest failed
            attempt, else the latest one.
        s3_client: A boto3 S3 client for ``s3://`` images.
        thumbnail_size: Thumbnail size in pixels (longer side).

    """

    def __init__(
        self,
        execution: Any,
        *,
        task: str | None = None,
        s3_client: Any = None,
        thumbnail_size: int = 160,
        **kwargs: Any,
    ) -> None:
        self.execution = execution
        self.s3_client = s3_client
        self.thumbnail_size = thumbnail_size
        self._by_id: dict[str, Any] = {}
        self.attempt = widgets.Dropdown(description="attempt", layout=widgets.Layout(width="520px"))
        self.reload_button = widgets.Button(description="Reload", icon="refresh", tooltip="Read the execution again")
        self.summary = widgets.HTML()
        self.input = widgets.HTML()
        self.output = widgets.HTML()
        self.images = widgets.HBox(layout=widgets.Layout(flex_flow="row wrap"))
        self.logs = widgets.HTML()
        self.traceback = widgets.HTML()
        self.timeline_button = widgets.Button(description="Timeline", icon="bar-chart")
        self.table_button = widgets.Button(description="Tasks table", icon="table")
        self.out = widgets.Output()

        self.attempt.observe(lambda _: self.show(), names="value")
        self.reload_button.on_click(lambda _: self.reload())
        self.timeline_button.on_click(lambda _: self.show_timeline())
        self.table_button.on_click(lambda _: self.show_table())
        super().__init__(
            [
                widgets.HBox([self.attempt, self.reload_button]),
                self.summary,
                self.images,
                self.input,
                self.output,
                self.logs,
                self.traceback,
                widgets.HBox([self.timeline_button, self.table_button]),
                self.out,
            ],
            **kwargs,
        )
        self.add_class("flowkit-inspector")
        self.reload(select=task)

    def reload(self, *, select: str | None = None) -> None:
        """Read the execution's attempts again (keeping the chosen one)."""
        tasks = list(self.execution.tasks)
        if len(tasks) > _MAX_ATTEMPTS:
            recent = {id(t) for t in tasks[-_MAX_ATTEMPTS:]}
            tasks = [t for t in tasks if id(t) in recent or str(t.status) in FAILED]
        self._by_id = {t.task_id: t for t in tasks}
        keep = self.attempt.value
        wanted = None
        if select is not None:
            wanted = next((t.task_id for t in reversed(tasks) if select in (t.ref, t.task_id)), None)
        if wanted is None and keep in self._by_id:
            wanted = keep
        if wanted is None:
            failed = [t.task_id for t in tasks if str(t.status) in FAILED]
            wanted = failed[-1] if failed else (tasks[-1].task_id if tasks else None)
        with self.hold_trait_notifications():
            self.attempt.options = [(attempt_label(t), t.task_id) for t in tasks]
            self.attempt.value = wanted
        self.show()

    def select(self, ref_or_id: str) -> None:
        """Show the latest attempt of task ``ref_or_id`` (a reference or a task id)."""
        self.reload(select=ref_or_id)

    # ------------------------------------------------------------------ one attempt
    def show(self) -> None:
        """Show the chosen attempt."""
        task = self._by_id.get(self.attempt.value or "")
        if task is None:
            for field in (self.summary, self.input, self.output, self.logs, self.traceback):
                field.value = ""
            self.summary.value = "<i>no task attempts</i>"
            self.images.children = ()
            return
        self.summary.value = _summary(task)
        self.input.value = _block("input", to_json_text(task.input))
        self.output.value = _block("output", to_json_text(task.output))
        logs = task.logs or []
        self.logs.value = _block(f"logs ({len(logs)} lines)", "\n".join(map(str, logs))) if logs else ""
        error = task.error or {}
        trace = error.get("traceback") if isinstance(error, dict) else None
        self.traceback.value = _block("traceback", str(trace)) if trace else ""
        found = find_images(task.output, "output") + find_images(task.input, "input")
        thumbs = [thumbnail(where, image, size=self.thumbnail_size, s3_client=self.s3_client) for where, image in found]
        self.images.children = tuple(self._thumbnail_widget(t) for t in thumbs)

    def _thumbnail_widget(self, thumb: Any) -> widgets.Widget:
        caption = widgets.HTML(
            f"<small title='{html.escape(thumb.source)}'><code>{html.escape(thumb.where)}</code></small>"
        )
        if thumb.data is None:
            shown: widgets.Widget = widgets.HTML(
                f"<small style='color:#8b0000'>{html.escape(thumb.error or '')}</small>"
            )
        else:
            shown = widgets.Image(
                value=thumb.data, format=thumb.format, layout=widgets.Layout(max_width=f"{self.thumbnail_size}px")
            )
        box = widgets.VBox([shown, caption], layout=widgets.Layout(margin="0 8px 8px 0"))
        box.add_class("flowkit-thumbnail")
        return box

    # ------------------------------------------------------------------ the whole execution
    def show_timeline(self) -> None:
        """Draw the execution's timeline (a matplotlib figure) into the output area."""
        try:
            figure = self.execution.timeline()
            buffer = io.BytesIO()
            figure.savefig(buffer, format="png", bbox_inches="tight")
        except Exception as exc:  # noqa: BLE001 - e.g. matplotlib missing: say so in the widget
            self._put({"text/plain": f"no timeline: {type(exc).__name__}: {exc}"})
            return
        self.figure = figure
        data = {"image/png": base64.b64encode(buffer.getvalue()).decode("ascii"), "text/plain": repr(figure)}
        html_view = getattr(figure, "_repr_html_", None)
        if html_view is not None:  # the inline SVG: hovering a bar shows its attempt and reason
            data["text/html"] = html_view()
        self._put(data)

    def show_table(self) -> None:
        """Show the execution's tasks_df() (one row per attempt) in the output area."""
        try:
            frame = self.execution.tasks_df()
        except Exception as exc:  # noqa: BLE001 - e.g. pandas missing
            self._put({"text/plain": f"no table: {type(exc).__name__}: {exc}"})
            return
        self.table = frame
        page = frame._repr_html_() if hasattr(frame, "_repr_html_") else frame.to_html(max_rows=200, max_cols=30)
        from flowkit.history._display import display_frame

        shown, note = display_frame(frame, markup=False)
        self._put({"text/html": page, "text/plain": f"{shown.to_string()}\n{note}"})

    def _put(self, data: dict[str, str]) -> None:
        # Set as a display output directly: works from a button's callback and outside a kernel alike.
        self.out.outputs = ({"output_type": "display_data", "data": data, "metadata": {}},)


def _block(title: str, text: str) -> str:
    return f"<div><b>{html.escape(title)}</b><pre style='{_PRE}'>{html.escape(text)}</pre></div>"


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%H:%M:%S.%f")[:-3] if ms else "—"


def _summary(task: Any) -> str:
    allowed = (getattr(getattr(task, "node", None), "expected_retries", 0) or 0) + 1
    took = f"{(task.end_time - task.start_time) / 1000:.3f} s" if task.end_time and task.start_time else "—"
    reason = f"<div style='color:#8b0000'><b>reason:</b> {html.escape(task.reason)}</div>" if task.reason else ""
    return (
        f"<div class='flowkit-attempt' data-status='{html.escape(str(task.status))}'><b>{html.escape(task.ref)}</b> "
        f"[{html.escape(str(task.task_type))}] <b>{html.escape(str(task.status))}</b>, {attempt_text(task.retry_count, allowed)} "
        f"(retryCount {task.retry_count}), "
        f"iteration {task.iteration} · scheduled {_when(task.scheduled_time)} · started {_when(task.start_time)} · "
        f"ended {_when(task.end_time)} UTC · took {took}"
        f"{' · worker ' + html.escape(task.worker_id) if task.worker_id else ''}</div>{reason}"
    )
