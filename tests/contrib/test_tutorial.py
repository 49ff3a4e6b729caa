"""The Orkes image-processing tutorial's workflows, run end to end with flowkit.contrib's workers.

Real Pillow images, a real moto S3 server over HTTP on 127.0.0.1, the tutorial's own JSON fixtures
(as shipped in flowkit/conformance/conductor) and its task definitions as shipped in the package.
"""
# ruff: noqa: F811 - pytest fixtures imported from contrib_fixtures are parameters here

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
from contrib_fixtures import (  # noqa: F401
    FIXTURES,
    SAMPLES,
    MotoS3,
    bucket,
    clean_contrib,
    endpoint,
    fixture_path,
    moto,
    out_dir,
    private_moto,
)
from PIL import Image

import flowkit
from flowkit.contrib import image_task_defs, image_workers, images
from flowkit.testing import VirtualClock

SINGLE = "image_convert_resize.json"
FORKED = "image_convert_resize_multipleformat_subworkflow.json"
DYNAMIC = "image_multiple_convert_resize.json"


def recipe(fmt: str, width: int, height: int, source: Path = SAMPLES / "landscape.jpg") -> dict:
    return {
        "fileLocation": str(source),
        "recipeParameters": {"outputFormat": fmt, "outputSize": {"width": width, "height": height}},
    }


def fast_defs(**changes) -> list[flowkit.TaskDef]:
    return image_task_defs(retry_delay_seconds=1, **changes)


def by_ref(execution) -> dict[str, list]:
    found: dict[str, list] = {}
    for task in execution.to_json()["tasks"]:
        found.setdefault(task["referenceTaskName"], []).append(task)
    return found


def test_task_defs_ship_in_the_package_as_published():
    shipped = [d.to_json() for d in image_task_defs()]
    published = [
        json.loads(fixture_path(n).read_text())
        for n in ("taskdef_image_convert_resize.json", "taskdef_upload_toS3.json")
    ]
    assert shipped == published
    assert [(d.retry_count, d.retry_delay_seconds) for d in image_task_defs(retry_delay_seconds=2)] == [(3, 2), (3, 2)]


def test_image_convert_resize_workflow(moto: MotoS3, bucket, endpoint, out_dir):
    execution = flowkit.run(
        fixture_path(SINGLE),
        recipe("webp", 300, 200),
        workers=image_workers(output_dir=out_dir, s3=endpoint),
        task_defs=image_task_defs(),
        store="memory",
    )
    assert execution.status == "COMPLETED", execution.reason
    converted = execution.task("image_convert_resize_ref").output
    assert (converted["outputWidth"], converted["outputHeight"], converted["outputFormat"]) == (300, 200, "webp")
    local = Path(converted["fileLocation"])
    with Image.open(local) as image:
        assert (image.format, image.size) == ("WEBP", (300, 200))
    key = local.name
    assert execution.output == {"fileLocation": f"s3://{bucket}/{key}"}
    assert execution.task("upload_toS3_ref").output["url"] == f"{moto.url}/{bucket}/{key}"
    obj = moto.client.get_object(Bucket=bucket, Key=key)
    data = obj["Body"].read()
    assert data == local.read_bytes()
    assert obj["ETag"].strip('"') == hashlib.md5(data).hexdigest()


def test_fork_with_a_sub_workflow(moto: MotoS3, bucket, endpoint, out_dir):
    execution = flowkit.run(
        fixture_path(FORKED),
        {
            "fileLocation": str(SAMPLES / "shapes.png"),
            "recipeParameters": {"outputSize": {"width": 200, "height": 150}},
        },
        workers=image_workers(output_dir=out_dir, s3=endpoint),
        task_defs=image_task_defs(),
        workflows=[fixture_path(SINGLE)],
        store="memory",
    )
    assert execution.status == "COMPLETED", execution.reason
    jpg, webp = execution.output["fileLocationJpg"], execution.output["fileLocationWebp"]
    assert re.fullmatch(rf"s3://{bucket}/shapes_200x150_[0-9a-f]{{8}}\.jpg", jpg)
    assert re.fullmatch(rf"s3://{bucket}/shapes_200x150_[0-9a-f]{{8}}\.webp", webp)
    keys = sorted(o["Key"] for o in moto.client.list_objects_v2(Bucket=bucket)["Contents"])
    assert keys == sorted([jpg.rsplit("/", 1)[1], webp.rsplit("/", 1)[1]])
    child = execution.sub_workflow("subworkflow_jpg_ref")
    assert child.status == "COMPLETED" and child.output == {"fileLocation": jpg}
    for location, fmt in ((jpg, "JPEG"), (webp, "WEBP")):
        body = moto.client.get_object(Bucket=bucket, Key=location.rsplit("/", 1)[1])["Body"].read()
        (out_dir / "check").write_bytes(body)
        with Image.open(out_dir / "check") as image:
            assert (image.format, image.size) == (fmt, (200, 150))


def test_dynamic_fork_three_formats_by_three_sizes(out_dir):
    sizes = [{"width": 320, "height": 320}, {"width": 160, "height": 90}, {"width": 64, "height": 64}]
    execution = flowkit.run(
        fixture_path(DYNAMIC),
        {
            "fileLocation": str(SAMPLES / "landscape.jpg"),
            "outputFormats": ["jpg", "png", "webp"],
            "outputSizes": sizes,
            "maintainAspectRatio": True,
        },
        workers=image_workers(output_dir=out_dir),
        task_defs=image_task_defs(),
        store="memory",
    )
    assert execution.status == "COMPLETED", execution.reason
    locations = execution.output["fileLocations"]
    assert list(locations) == [
        f"image_convert_resize_{fmt}_{w}x{h}_{i * 3 + j}"
        for i, fmt in enumerate(["jpg", "png", "webp"])
        for j, (w, h) in enumerate([(320, 320), (160, 90), (64, 64)])
    ]
    fitted = {(320, 320): (320, 200), (160, 90): (144, 90), (64, 64): (64, 40)}  # 640x400 fitted inside each box
    for ref, out in locations.items():
        fmt, box = ref.split("_")[3], tuple(int(n) for n in ref.split("_")[4].split("x"))
        with Image.open(out["fileLocation"]) as image:
            assert image.format == {"jpg": "JPEG", "png": "PNG", "webp": "WEBP"}[fmt]
            assert image.size == fitted[box] == (out["outputWidth"], out["outputHeight"])
    assert len(list(out_dir.iterdir())) == 9


def test_default_endpoint_runs_the_tutorial_with_no_aws_configuration(out_dir, capsys):
    images.configure(output_dir=out_dir)
    execution = flowkit.run(
        fixture_path(SINGLE),
        recipe("png", 100, 100, SAMPLES / "rings.jpg"),
        workers=flowkit.contrib.image_workers(),
        task_defs=image_task_defs(),
        store="memory",
    )
    assert execution.status == "COMPLETED", execution.reason
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(
        "flowkit: no S3 configured; using a local S3 server at http://127.0.0.1:"
    )
    assert err[0].endswith(", bucket 'flowkit-images'")
    url = execution.task("upload_toS3_ref").output["url"]
    assert url.startswith(err[0].split(" at ")[1].split(",")[0] + "/flowkit-images/rings_100x100_")
    assert execution.output["fileLocation"].startswith("s3://flowkit-images/rings_100x100_")


# ------------------------------------------------------------------------------------------ faults in a run


def test_corrupt_image_fails_at_once_without_retries(tmp_path, endpoint, out_dir):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"this is not a picture")
    execution = flowkit.run(
        fixture_path(SINGLE),
        recipe("png", 10, 10, bad),
        workers=image_workers(output_dir=out_dir, s3=endpoint),
        task_defs=fast_defs(),
        store="memory",
        clock=VirtualClock(),
    )
    assert execution.status == "FAILED"
    attempts = by_ref(execution)["image_convert_resize_ref"]
    assert [t["status"] for t in attempts] == ["FAILED_WITH_TERMINAL_ERROR"]
    assert "is not an image Pillow can read" in attempts[0]["reasonForIncompletion"]
    assert "upload_toS3_ref" not in by_ref(execution)


@pytest.mark.parametrize(
    ("recipe_args", "reason"),
    [
        (("avi", 10, 10), "outputFormat 'avi' is not a format Pillow can write"),
        (("png", 0, 10), "outputWidth must be a positive number of pixels; got 0"),
        (("png", 10, -1), "outputHeight must be a positive number of pixels; got -1"),
    ],
)
def test_inputs_that_can_never_work_are_terminal(recipe_args, reason, endpoint, out_dir):
    execution = flowkit.run(
        fixture_path(SINGLE),
        recipe(*recipe_args),
        workers=image_workers(output_dir=out_dir, s3=endpoint),
        task_defs=fast_defs(),
        store="memory",
        clock=VirtualClock(),
    )
    attempts = by_ref(execution)["image_convert_resize_ref"]
    assert [t["status"] for t in attempts] == ["FAILED_WITH_TERMINAL_ERROR"]
    assert reason in attempts[0]["reasonForIncompletion"]
    assert execution.status == "FAILED"


def test_missing_image_is_retried_then_fails(endpoint, out_dir):
    execution = flowkit.run(
        fixture_path(SINGLE),
        recipe("png", 10, 10, Path("/nowhere/missing.png")),
        workers=image_workers(output_dir=out_dir, s3=endpoint),
        task_defs=fast_defs(retry_count=2),
        store="memory",
        clock=VirtualClock(),
    )
    attempts = by_ref(execution)["image_convert_resize_ref"]
    assert [t["status"] for t in attempts] == ["FAILED"] * 3
    assert all("image file not found: '/nowhere/missing.png'" in t["reasonForIncompletion"] for t in attempts)
    assert execution.status == "FAILED"


def test_missing_bucket_fails_the_upload_after_its_retries(moto: MotoS3, out_dir):
    gone = moto.endpoint("bucket-that-was-never-made")
    execution = flowkit.run(
        fixture_path(SINGLE),
        recipe("jpg", 50, 50),
        workers=image_workers(output_dir=out_dir, s3=gone),
        task_defs=fast_defs(retry_count=1),
        store="memory",
        clock=VirtualClock(),
    )
    assert execution.task("image_convert_resize_ref").status == "COMPLETED"
    uploads = by_ref(execution)["upload_toS3_ref"]
    assert [t["status"] for t in uploads] == ["FAILED", "FAILED"]
    assert "S3 bucket 'bucket-that-was-never-made' does not exist" in uploads[-1]["reasonForIncompletion"]
    assert execution.status == "FAILED"


def test_endpoint_going_away_mid_run_fails_the_upload_after_its_retries(private_moto: MotoS3, out_dir):
    ep = private_moto.endpoint(private_moto.new_bucket())
    convert, upload, _ = image_workers(output_dir=out_dir, s3=ep)

    @flowkit.worker_task(task_definition_name="image_convert_resize")
    def convert_then_lose_the_server(fileLocation, outputFormat, outputWidth, outputHeight):  # noqa: N803
        out = convert.fn(
            fileLocation=fileLocation, outputFormat=outputFormat, outputWidth=outputWidth, outputHeight=outputHeight
        )
        private_moto.stop()  # the S3 server goes away between the two tasks
        return out

    execution = flowkit.run(
        fixture_path(SINGLE),
        recipe("png", 40, 25),
        workers=[convert_then_lose_the_server, upload],
        task_defs=fast_defs(),
        store="memory",
        clock=VirtualClock(),
    )
    assert execution.status == "FAILED"
    uploads = by_ref(execution)["upload_toS3_ref"]
    assert [t["status"] for t in uploads] == ["FAILED"] * 4  # retryCount 3 in the tutorial's task definition
    assert [t["retryCount"] for t in uploads] == [0, 1, 2, 3]
    for task in uploads:
        assert re.search(r"the S3 endpoint http://127\.0\.0\.1:\d+ is not reachable", task["reasonForIncompletion"])
    starts = [t["startTime"] for t in uploads]
    assert [b - a >= 1000 for a, b in zip(starts, starts[1:], strict=False)] == [True] * 3  # 1 s apart, virtually
    failures = execution.failures_df()
    rows = failures[failures["ref"] == "upload_toS3_ref"]
    assert list(rows["status"]) == ["FAILED"] * 4 and list(rows["outcome"]) == ["FAILED"] * 4
    assert rows["reason"].str.contains("not reachable").all()
    assert set(rows["exception"]) == {"flowkit.contrib.s3.S3Error"}


def test_no_traceback_in_reasons_for_failures(tmp_path, moto: MotoS3, out_dir):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes((SAMPLES / "landscape.jpg").read_bytes()[:500])
    execution = flowkit.run(
        fixture_path(SINGLE),
        recipe("png", 10, 10, bad),
        workers=image_workers(output_dir=out_dir, s3=moto.endpoint("x-none")),
        task_defs=fast_defs(),
        store="memory",
        clock=VirtualClock(),
    )
    reason = by_ref(execution)["image_convert_resize_ref"][0]["reasonForIncompletion"]
    assert "Traceback" not in reason and "\n" not in reason
    assert "corrupt or truncated image" in reason
    assert FIXTURES.is_dir()


# ------------------------------------------------------------------------------------------ the notebooks' helpers


def test_start_local_server_stays_local_where_aws_is_configured(monkeypatch, capsys, caplog):
    from flowkit.contrib import s3

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "configured")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "configured")
    with caplog.at_level("INFO", logger="flowkit.contrib.s3"):
        local = s3.start_local_server(bucket="explicit")
    assert local.local and local.endpoint_url.startswith("http://127.0.0.1:") and local.bucket == "explicit"
    line = f"flowkit: started a local S3 server at {local.endpoint_url}, bucket 'explicit'"
    assert capsys.readouterr().err == line + "\n"  # a terminal: stderr
    assert [r.getMessage() for r in caplog.records] == [line]
    local.put_bytes("a.txt", b"here")
    assert local.get_bytes("a.txt") == b"here"
    again = s3.start_local_server(bucket="other")  # the same server; a new bucket, no second notice
    assert again.endpoint_url == local.endpoint_url and capsys.readouterr().err == ""
    assert again.client().list_objects_v2(Bucket="other").get("KeyCount") == 0


def test_the_elasticsearch_stand_in_answers_kitchensinks_search():
    import urllib.request

    from flowkit.contrib.tutorial import SEARCH_ANSWER, elasticsearch_stand_in

    url = elasticsearch_stand_in()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
    with urllib.request.urlopen(f"{url}/conductor/_search?size=10", timeout=10) as answer:
        assert answer.headers["Content-Type"] == "application/json"
        assert json.load(answer) == SEARCH_ANSWER
    with urllib.request.urlopen(f"{elasticsearch_stand_in({'took': 2})}/x", timeout=10) as answer:
        assert json.load(answer) == {"took": 2}
