"""The inspector: attempts with input, output, logs, reason and traceback; image outputs as
thumbnails (real files, a PIL image, an object on a real S3 endpoint on 127.0.0.1); timeline and table."""

from __future__ import annotations

import base64
import io

import ipywidgets as widgets
import pytest
from PIL import Image

import flowkit
from flowkit.notebook import inspect
from flowkit.notebook._images import find_images, thumbnail


def png(path, size=(64, 40), color=(200, 30, 30)) -> str:
    Image.new("RGB", size, color).save(path)
    return str(path)


def images_in(inspector) -> list[tuple[str, bytes]]:
    out = []
    for box in inspector.images.children:
        shown, caption = box.children
        if isinstance(shown, widgets.Image):
            out.append((caption.value, bytes(shown.value)))
    return out


@pytest.fixture
def execution(tmp_path):
    picture = png(tmp_path / "photo.png", (400, 200))
    jpeg = tmp_path / "thumb.JPG"
    Image.new("RGB", (30, 30), (0, 90, 200)).save(jpeg, format="JPEG")

    @flowkit.worker_task(task_definition_name="render")
    def render(name: str) -> dict:
        print(f"rendering {name}")
        return {"file": picture, "more": [str(jpeg), str(tmp_path / "missing.png"), "notes.txt"], "name": name}

    @flowkit.worker_task(task_definition_name="explode")
    def explode(file: str) -> dict:
        raise flowkit.NonRetryableError(f"cannot publish {file}")

    wf = flowkit.WorkflowBuilder("pictures")
    wf >> render(task_ref_name="render", name=wf.input("name"))
    wf >> explode(task_ref_name="publish", file="${render.output.file}")
    return flowkit.run(wf, {"name": "cat"}, workers=[render, explode], store="memory")


def test_the_latest_failed_attempt_is_shown_first_with_reason_and_traceback(execution):
    assert execution.status == "FAILED"
    view = inspect(execution)
    assert view.attempt.value == execution.task("publish").task_id
    assert "publish" in view.summary.value and "FAILED_WITH_TERMINAL_ERROR" in view.summary.value
    assert "cannot publish" in view.summary.value  # the reason
    assert "Traceback (most recent call last)" in view.traceback.value and "NonRetryableError" in view.traceback.value
    assert "photo.png" in view.input.value


def test_image_outputs_show_as_thumbnails(execution, tmp_path):
    view = inspect(execution, task="render")
    assert "rendering cat" in view.logs.value and "logs (1 lines)" in view.logs.value
    shown = images_in(view)
    assert [caption.split("<code>")[1].split("</code>")[0] for caption, _ in shown] == ["output.file", "output.more[0]"]
    for _, data in shown:
        with Image.open(io.BytesIO(data)) as image:
            assert image.format == "PNG" and max(image.size) <= 160
    with Image.open(io.BytesIO(shown[0][1])) as image:
        assert image.size == (160, 80)  # 400x200 shrunk, aspect kept
    view.attempt.value = execution.task("publish").task_id  # choosing another attempt shows it
    assert "output.file" not in str([c for c, _ in images_in(view)]) and len(images_in(view)) == 1  # its input's file


def test_pil_images_and_unreadable_files_do_not_break_the_view(tmp_path):
    image = Image.new("RGBA", (10, 20), (0, 0, 0, 0))
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    found = find_images({"a": image, "b": [str(broken)], "c": "nothing.png", "d": {"e": {"f": "s3://b/k.webp"}}})
    assert [where for where, _ in found] == ["output.a", "output.b[0]", "output.d.e.f"]
    made = thumbnail(*found[0])
    assert made.error is None and made.format == "png"
    failed = thumbnail(*found[1])
    assert failed.data is None and "UnidentifiedImageError" in failed.error


def test_s3_images_are_fetched_from_the_endpoint():
    import boto3
    from botocore.config import Config
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        client = boto3.client(
            "s3",
            endpoint_url=f"http://{host}:{port}",
            region_name="us-east-1",
            aws_access_key_id="k",
            aws_secret_access_key="s",
            config=Config(s3={"addressing_style": "path"}),
        )
        client.create_bucket(Bucket="pics")
        buffer = io.BytesIO()
        Image.new("RGB", (300, 300), (10, 200, 10)).save(buffer, format="PNG")
        client.put_object(Bucket="pics", Key="out/green.png", Body=buffer.getvalue())

        @flowkit.worker_task(task_definition_name="upload")
        def upload() -> dict:
            return {"url": "s3://pics/out/green.png", "gone": "s3://pics/out/none.gif"}

        wf = flowkit.WorkflowBuilder("s3pics") >> upload(task_ref_name="upload")
        execution = flowkit.run(wf, {}, workers=[upload], store="memory")
        view = inspect(execution, s3_client=client, thumbnail_size=64)
        ((caption, data),) = images_in(view)
        assert "output.url" in caption
        with Image.open(io.BytesIO(data)) as image:
            assert image.size == (64, 64) and image.getpixel((5, 5)) == (10, 200, 10)
        errors = [box.children[0].value for box in view.images.children if isinstance(box.children[0], widgets.HTML)]
        assert len(errors) == 1 and ("404" in errors[0] or "Not Found" in errors[0]), errors
    finally:
        server.stop()


def test_timeline_and_table_buttons(execution):
    view = inspect(execution)
    view.timeline_button.click()
    (shown,) = view.out.outputs
    data = base64.b64decode(shown["data"]["image/png"])
    with Image.open(io.BytesIO(data)) as chart:
        assert chart.format == "PNG" and chart.width > 200
    assert "<svg" in shown["data"]["text/html"] and "reason: " in shown["data"]["text/html"]  # hover tooltips
    view.table_button.click()
    (shown,) = view.out.outputs
    assert "<table" in shown["data"]["text/html"] and "publish" in shown["data"]["text/plain"]
    assert "flowkit-history-note" in shown["data"]["text/html"] and "0 days" not in shown["data"]["text/plain"]
    assert list(view.table["ref"]) == ["render", "publish"]
