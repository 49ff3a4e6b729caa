"""upload_toS3 and ensure_endpoint against a real moto S3 server over HTTP on 127.0.0.1."""
# ruff: noqa: F811 - pytest fixtures imported from contrib_fixtures are parameters here

from __future__ import annotations

import hashlib
import re
import time
import urllib.request
from pathlib import Path

import pytest
from contrib_fixtures import (  # noqa: F401
    SAMPLES,
    MotoS3,
    bucket,
    clean_contrib,
    client_for,
    endpoint,
    moto,
    private_moto,
    silent_endpoint,
)

from flowkit import NonRetryableError
from flowkit.contrib import S3Error, ensure_endpoint, image_workers, s3

ONE_LINE = re.compile(
    r"^flowkit: no S3 configured; using a local S3 server at (http://127\.0\.0\.1:\d+), bucket 'flowkit-images'\n$"
)


def test_upload_then_list_and_compare_bytes_and_etag(moto: MotoS3, bucket, endpoint):
    source = SAMPLES / "landscape.jpg"
    out = s3.upload(str(source), endpoint=endpoint)
    assert out["fileLocation"] == f"s3://{bucket}/landscape.jpg"
    assert out["url"] == f"{moto.url}/{bucket}/landscape.jpg"
    listed = moto.client.list_objects_v2(Bucket=bucket)["Contents"]
    assert [(o["Key"], o["Size"]) for o in listed] == [("landscape.jpg", source.stat().st_size)]
    md5 = hashlib.md5(source.read_bytes()).hexdigest()
    assert listed[0]["ETag"].strip('"') == md5 == out["etag"]
    body = moto.client.get_object(Bucket=bucket, Key="landscape.jpg")
    assert body["Body"].read() == source.read_bytes()
    assert body["ContentType"] == "image/jpeg"
    signed = moto.client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "landscape.jpg"})
    assert signed.startswith(
        out["url"] + "?"
    )  # the url is the object's address (private: reading it needs a signature)
    with urllib.request.urlopen(signed, timeout=5) as response:
        assert response.read() == source.read_bytes()


def test_upload_worker_with_bucket_and_key_inputs(moto: MotoS3, bucket, endpoint):
    other = moto.new_bucket()
    upload = {w.name: w for w in image_workers(s3=endpoint)}["upload_toS3"]
    out = upload.fn(fileLocation=str(SAMPLES / "shapes.png"), bucket=other, key="a/b/shapes.png")
    assert out["fileLocation"] == f"s3://{other}/a/b/shapes.png"
    assert moto.client.head_object(Bucket=other, Key="a/b/shapes.png")["ContentLength"] == out["sizeBytes"]


def test_endpoint_from_the_environment(moto: MotoS3, bucket, monkeypatch, capsys):
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto.url)
    monkeypatch.setenv("FLOWKIT_S3_BUCKET", bucket)
    ep = ensure_endpoint()
    assert (ep.endpoint_url, ep.bucket, ep.local) == (moto.url, bucket, False)
    assert ep.access_key_id == "flowkit-local"  # loopback endpoint, no credentials anywhere: dummy ones
    out = s3.upload(str(SAMPLES / "rings.jpg"))
    assert moto.client.head_object(Bucket=bucket, Key="rings.jpg")["ETag"].strip('"') == out["etag"]
    assert capsys.readouterr().err == ""  # an endpoint was configured: no local server, no message


def test_configure_wins_over_the_environment(moto: MotoS3, bucket, monkeypatch):
    monkeypatch.setenv("FLOWKIT_S3_ENDPOINT", "http://127.0.0.1:9")
    s3.configure(endpoint_url=moto.url, bucket=bucket, read_timeout=3)
    ep = ensure_endpoint()
    assert (ep.endpoint_url, ep.bucket, ep.read_timeout) == (moto.url, bucket, 3)
    s3.configure(endpoint_url=None)
    assert ensure_endpoint().endpoint_url == "http://127.0.0.1:9"


def test_aws_credentials_mean_amazon_s3_and_no_local_server(monkeypatch, capsys):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    ep = ensure_endpoint()
    assert (ep.endpoint_url, ep.region, ep.local, ep.access_key_id) == (None, "eu-west-1", False, None)
    assert ep.http_url("a b.png") == "https://flowkit-images.s3.eu-west-1.amazonaws.com/a%20b.png"
    assert capsys.readouterr().err == ""


def test_default_endpoint_starts_one_local_server_with_the_bucket(capsys):
    ep = ensure_endpoint()
    err = capsys.readouterr().err
    match = ONE_LINE.match(err)
    assert match, err
    assert (ep.endpoint_url, ep.bucket, ep.local) == (match.group(1), "flowkit-images", True)
    assert ensure_endpoint() == ep and ensure_endpoint(bucket="second-bucket").bucket == "second-bucket"
    assert capsys.readouterr().err == ""  # said once per session
    client = client_for(ep.endpoint_url)
    assert {"flowkit-images", "second-bucket"} <= {b["Name"] for b in client.list_buckets()["Buckets"]}
    out = s3.upload(str(SAMPLES / "gradient.png"))
    assert out["url"] == f"{ep.endpoint_url}/flowkit-images/gradient.png"
    assert (
        client.get_object(Bucket="flowkit-images", Key="gradient.png")["Body"].read()
        == (SAMPLES / "gradient.png").read_bytes()
    )
    s3.stop_local_server()
    with pytest.raises(S3Error, match=r"not reachable"):
        ep.put_bytes("x", b"x")


def test_missing_bucket_is_a_clear_retryable_error(moto: MotoS3, endpoint):
    gone = moto.endpoint("no-such-bucket-here")
    with pytest.raises(S3Error, match=r"S3 bucket 'no-such-bucket-here' does not exist at http://127") as info:
        s3.upload(str(SAMPLES / "shapes.png"), endpoint=gone)
    assert not isinstance(info.value, NonRetryableError)


def test_stopped_server_fails_fast(private_moto: MotoS3):
    ep = private_moto.endpoint(private_moto.new_bucket())
    s3.upload(str(SAMPLES / "shapes.png"), endpoint=ep)
    private_moto.stop()
    started = time.monotonic()
    with pytest.raises(S3Error, match=r"the S3 endpoint http://127\.0\.0\.1:\d+ is not reachable"):
        s3.upload(str(SAMPLES / "shapes.png"), endpoint=ep)
    assert time.monotonic() - started < 5


def test_hung_server_times_out_instead_of_hanging(silent_endpoint):
    ep = s3.S3Endpoint(
        bucket="b",
        endpoint_url=silent_endpoint,
        access_key_id="k",
        secret_access_key="k",
        read_timeout=0.5,
        max_attempts=1,
    )
    started = time.monotonic()
    with pytest.raises(S3Error, match=r"did not answer within 0.5 s"):
        s3.upload(str(SAMPLES / "shapes.png"), endpoint=ep)
    assert time.monotonic() - started < 5


def test_upload_of_a_missing_file(endpoint, tmp_path: Path):
    with pytest.raises(Exception, match=r"image file not found: '.*nothing\.png'"):
        s3.upload(str(tmp_path / "nothing.png"), endpoint=endpoint)


def test_parse_s3_uri():
    assert s3.parse_s3_uri("s3://b/k/x.png") == ("b", "k/x.png")
    for bad in ("s3://b", "s3:///k", "http://b/k"):
        with pytest.raises(ValueError):
            s3.parse_s3_uri(bad)
