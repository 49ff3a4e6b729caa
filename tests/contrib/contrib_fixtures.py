"""Fixtures for the image/S3 workers: a real moto S3 server on 127.0.0.1, sample images, a clean environment.

Not a conftest.py on purpose: the suite imports the root conftest as ``conftest``, and a second
conftest without a package would take that module name. Test modules import what they use.
"""

from __future__ import annotations

import functools
import http.server
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3  # noqa: E402

# Pillow, boto3 and moto[s3] (+ flask, flask-cors) come with `pip install 'flowkit[tutorial]'`, which ./dev installs:
# a missing one fails these tests rather than skipping them.
import moto.server  # noqa: E402, F401
import PIL  # noqa: E402, F401
import pytest
from botocore.config import Config  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402

from flowkit.conformance import SHIPPED  # noqa: E402
from flowkit.contrib import images, s3  # noqa: E402
from flowkit.contrib.s3 import S3Endpoint  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = SHIPPED  # Conductor's JSON files as the package ships them
SAMPLES = REPO_ROOT / "notebooks" / "images"
KEY = "test-key"


def fixture_path(name: str) -> Path:
    path = FIXTURES / name
    assert path.is_file(), f"missing Conductor fixture {path}"
    return path


class MotoS3:
    """A running ThreadedMotoServer and a boto3 client talking to it over HTTP."""

    def __init__(self) -> None:
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        self.client = client_for(self.url)
        self.running = True

    def stop(self) -> None:
        if self.running:
            self.running = False
            self.server.stop()
            self.server._server.server_close()  # stop() alone leaves the port listening

    def new_bucket(self) -> str:
        name = f"t-{uuid.uuid4().hex[:16]}"
        self.client.create_bucket(Bucket=name)
        return name

    def endpoint(self, bucket: str, **changes: Any) -> S3Endpoint:
        options: dict[str, Any] = {
            "bucket": bucket,
            "endpoint_url": self.url,
            "region": "us-east-1",
            "access_key_id": KEY,
            "secret_access_key": KEY,
            "connect_timeout": 2.0,
            "read_timeout": 5.0,
            "max_attempts": 1,
        }
        options.update(changes)
        return S3Endpoint(**options)


def client_for(url: str) -> Any:
    return boto3.session.Session(aws_access_key_id=KEY, aws_secret_access_key=KEY, region_name="us-east-1").client(
        "s3", endpoint_url=url, config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1})
    )


@pytest.fixture(scope="session")
def moto() -> Iterator[MotoS3]:
    server = MotoS3()
    yield server
    server.stop()


@pytest.fixture
def bucket(moto: MotoS3) -> str:
    return moto.new_bucket()


@pytest.fixture
def endpoint(moto: MotoS3, bucket: str) -> S3Endpoint:
    return moto.endpoint(bucket)


@pytest.fixture
def private_moto() -> Iterator[MotoS3]:
    """A server of the test's own, which the test may stop."""
    server = MotoS3()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def clean_contrib(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No AWS configuration from the machine, no leftover settings, no local server between tests."""
    for name in list(os.environ):
        if name.startswith("AWS_") or name.startswith("FLOWKIT_S3_") or name == "FLOWKIT_IMAGES_DIR":
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    s3.reset()
    images.configure(output_dir=None)
    yield
    s3.reset()
    images.configure(output_dir=None)


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    return tmp_path / "out"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return None


@pytest.fixture(scope="session")
def http_images() -> Iterator[str]:
    """The sample images over real HTTP on 127.0.0.1; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(SAMPLES))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """An HTTP endpoint that accepts connections and never answers (a hung S3 server)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()
