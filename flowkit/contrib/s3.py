"""S3 for the image workers: which endpoint and bucket, a boto3 client, and a local server when none is set.

:func:`ensure_endpoint` decides where objects go, afresh on every call (cheap: the answer is cached
until the environment changes), in this order:

1. An endpoint URL from :func:`configure`, ``FLOWKIT_S3_ENDPOINT``, ``AWS_ENDPOINT_URL_S3`` or
   ``AWS_ENDPOINT_URL``: that endpoint, with credentials from the AWS chain (for a loopback
   endpoint and no credentials anywhere, dummy ones: local S3 servers accept any).
2. AWS credentials configured (``AWS_ACCESS_KEY_ID``, ``AWS_PROFILE``, the shared credentials or
   config file, SSO, web identity, a container role): Amazon S3 itself. The EC2 instance-metadata
   service is *not* probed (that costs seconds off EC2); on EC2 with only an instance role, set
   ``FLOWKIT_S3_ENDPOINT=https://s3.amazonaws.com``.
3. Nothing configured: a local S3-compatible server (moto's ``ThreadedMotoServer``) is started on
   127.0.0.1 in this process, once, with the bucket created, and one line says so: on stderr in a
   terminal, as a plain output line in a notebook (an informational notice, not the pink box
   notebooks give stderr), and always on the ``flowkit.contrib.s3`` logger at INFO.

:func:`ensure_endpoint` is cheap to call early: a notebook calls it in its set-up cell so that the
local server's start (most of a second) is paid there, not by the first upload task.

The bucket is :func:`configure`'s, else ``FLOWKIT_S3_BUCKET``, else ``flowkit-images``. flowkit's
boto3 clients get their own session: the process environment, ``boto3.DEFAULT_SESSION`` and the
user's AWS files are never changed, and boto3 is never patched. Clients have short connect/read
timeouts and few retries (the task definition's retries do the rest), so a vanished endpoint
fails a task with a clear reason instead of hanging it.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from flowkit._cache import BoundedCache
from flowkit.errors import FlowkitError

__all__ = [
    "DEFAULT_BUCKET",
    "S3Endpoint",
    "S3Error",
    "configure",
    "ensure_endpoint",
    "parse_s3_uri",
    "reset",
    "start_local_server",
    "stop_local_server",
    "upload",
]

DEFAULT_BUCKET = "flowkit-images"
"""The bucket used when none is configured."""

_ENDPOINT_ENV = ("FLOWKIT_S3_ENDPOINT", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
_DUMMY_KEY = "flowkit-local"  # what flowkit's own clients send to a local server; moto accepts any
_UNSET: Any = object()


class S3Error(FlowkitError):
    """An S3 request failed: endpoint unreachable, bucket or object missing, access denied, ..."""


@dataclass(frozen=True, slots=True, kw_only=True)
class S3Endpoint:
    """Where flowkit's S3 requests go, and how patiently.

    Example:
        >>> ep = S3Endpoint(endpoint_url="http://127.0.0.1:5000", bucket="photos")
        >>> ep.uri("a.png"), ep.http_url("a.png")
        ('s3://photos/a.png', 'http://127.0.0.1:5000/photos/a.png')

    """

    bucket: str
    """The default bucket."""
    endpoint_url: str | None = None
    """An S3-compatible endpoint; None means Amazon S3 for ``region``."""
    region: str | None = None
    """The signing region; None lets the AWS configuration decide (us-east-1 when it does not)."""
    local: bool = False
    """True for the server :func:`ensure_endpoint` started in this process."""
    access_key_id: str | None = field(default=None, repr=False)
    """Explicit credentials; None uses the AWS credential chain."""
    secret_access_key: str | None = field(default=None, repr=False)
    """Explicit credentials; None uses the AWS credential chain."""
    connect_timeout: float = 5.0
    """Seconds to wait for a TCP connection."""
    read_timeout: float = 30.0
    """Seconds to wait for each read from the socket."""
    max_attempts: int = 3
    """Attempts per request, botocore's retries included (1 = no retry)."""

    @property
    def where(self) -> str:
        """Name the endpoint, for messages."""
        return self.endpoint_url or f"Amazon S3 ({self.region or 'default region'})"

    def uri(self, key: str, *, bucket: str | None = None) -> str:
        """``s3://bucket/key``."""
        return f"s3://{bucket or self.bucket}/{key}"

    def http_url(self, key: str, *, bucket: str | None = None) -> str:
        """Return the object's HTTP URL (path style for custom endpoints, virtual-host style for Amazon S3)."""
        bucket = bucket or self.bucket
        if self.endpoint_url:
            return f"{self.endpoint_url.rstrip('/')}/{bucket}/{quote(key)}"
        region = self.region or "us-east-1"
        return f"https://{bucket}.s3.{region}.amazonaws.com/{quote(key)}"

    def client(self) -> Any:
        """Return a boto3 S3 client for this endpoint (one per endpoint, shared: clients are thread-safe)."""
        with _LOCK:
            found = _CLIENTS.get(self)
            if found is None:
                found = _CLIENTS[self] = _new_client(self)
            return found

    def create_bucket(self, bucket: str | None = None) -> None:
        """Create ``bucket`` (default: this endpoint's); a bucket you already own is fine."""
        bucket = bucket or self.bucket
        try:
            client = self.client()
            kwargs: dict[str, Any] = {"Bucket": bucket}
            region = client.meta.region_name
            if region and region != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
            client.create_bucket(**kwargs)
        except Exception as exc:
            if _error_code(exc) in ("BucketAlreadyOwnedByYou",):
                return
            raise _translate(exc, self, "create", bucket) from exc

    def put_bytes(self, key: str, data: bytes, *, bucket: str | None = None, content_type: str | None = None) -> str:
        """Store ``data`` at ``key``; returns the object's ETag (without quotes)."""
        bucket = bucket or self.bucket
        kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key, "Body": data}
        if content_type:
            kwargs["ContentType"] = content_type
        try:
            answer = self.client().put_object(**kwargs)
        except Exception as exc:
            raise _translate(exc, self, "upload to", bucket, key) from exc
        return str(answer.get("ETag", "")).strip('"')

    def get_bytes(self, key: str, *, bucket: str | None = None, max_bytes: int | None = None) -> bytes:
        """Download the content of ``key`` (raises :class:`S3Error` when larger than ``max_bytes``)."""
        bucket = bucket or self.bucket
        try:
            answer = self.client().get_object(Bucket=bucket, Key=key)
            size = int(answer.get("ContentLength") or 0)
            if max_bytes is not None and size > max_bytes:
                answer["Body"].close()
                raise S3Error(
                    f"{self.uri(key, bucket=bucket)} is {size} bytes, more than the {max_bytes} bytes allowed."
                )
            data: bytes = answer["Body"].read()
        except S3Error:
            raise
        except Exception as exc:
            raise _translate(exc, self, "download", bucket, key) from exc
        return data


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> ``(bucket, key)``; raises ValueError for anything else."""
    parts = urlsplit(uri)
    key = parts.path.lstrip("/")
    if parts.scheme != "s3" or not parts.netloc or not key:
        raise ValueError(f"{uri!r} is not an s3://bucket/key URI")
    return parts.netloc, key


# ---------------------------------------------------------------------------------------------- settings

_LOCK = threading.RLock()
_CLIENTS: dict[S3Endpoint, Any] = {}
_SETTINGS: dict[str, Any] = {}
_DECISION: BoundedCache[str, str] = BoundedCache(
    32
)  # fingerprint -> "chain" | "none" (whether AWS credentials are configured)
_LOCAL: dict[str, Any] = {}  # "server", "url", "buckets"


def configure(
    *,
    endpoint_url: str | None = _UNSET,
    bucket: str | None = _UNSET,
    region: str | None = _UNSET,
    connect_timeout: float | None = _UNSET,
    read_timeout: float | None = _UNSET,
    max_attempts: int | None = _UNSET,
) -> None:
    """Set where flowkit's S3 workers go, for this process; ``None`` puts a setting back to its default.

    Settings given here win over the environment (``FLOWKIT_S3_ENDPOINT``, ``AWS_ENDPOINT_URL``,
    ``FLOWKIT_S3_BUCKET``, ``AWS_REGION``); arguments left out keep their current value.
    """
    given = {
        "endpoint_url": endpoint_url,
        "bucket": bucket,
        "region": region,
        "connect_timeout": connect_timeout,
        "read_timeout": read_timeout,
        "max_attempts": max_attempts,
    }
    with _LOCK:
        for name, value in given.items():
            if value is _UNSET:
                continue
            if value is None:
                _SETTINGS.pop(name, None)
            else:
                _SETTINGS[name] = value


def reset() -> None:
    """Forget :func:`configure`'s settings and cached clients, and stop the local server, if any."""
    with _LOCK:
        _SETTINGS.clear()
        _DECISION.clear()
    stop_local_server()
    with _LOCK:
        _CLIENTS.clear()


def ensure_endpoint(*, bucket: str | None = None) -> S3Endpoint:
    """Return the S3 endpoint to use now, starting a local server when nothing is configured (see the module doc).

    Args:
        bucket: The default bucket of the answer (else :func:`configure`'s, ``FLOWKIT_S3_BUCKET``,
            ``flowkit-images``). On the local server it is created; elsewhere it must exist.

    The endpoint's boto3 client is made now too (cached), so whoever calls this first, such as a
    notebook's set-up cell, pays for starting the server and importing boto3, not the first task.

    Raises:
        S3Error: no S3 is configured and the local server cannot start (moto is not installed).

    """
    endpoint = _decide(bucket)
    try:
        endpoint.client()
    except S3Error:  # no boto3: the first S3 request says so, with the fix
        pass
    return endpoint


def _decide(bucket: str | None) -> S3Endpoint:
    with _LOCK:
        settings = dict(_SETTINGS)
    bucket = bucket or settings.get("bucket") or os.environ.get("FLOWKIT_S3_BUCKET") or DEFAULT_BUCKET
    region = settings.get("region") or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    endpoint_url = settings.get("endpoint_url") or next(
        (os.environ[name] for name in _ENDPOINT_ENV if os.environ.get(name)), None
    )
    if endpoint_url:
        loopback = _is_loopback(endpoint_url)
        dummy = loopback and not _credentials_configured()
        return _with_timeouts(
            S3Endpoint(
                bucket=bucket,
                endpoint_url=endpoint_url,
                region=region or "us-east-1",
                access_key_id=_DUMMY_KEY if dummy else None,
                secret_access_key=_DUMMY_KEY if dummy else None,
            ),
            settings,
            local=loopback,
        )
    if _credentials_configured():
        return _with_timeouts(S3Endpoint(bucket=bucket, region=region), settings, local=False)
    return _local_endpoint(bucket, settings, "flowkit: no S3 configured; using a local S3 server")


def start_local_server(*, bucket: str | None = None) -> S3Endpoint:
    """Start the local S3 server in this process (once; later calls reuse it) whatever else is configured.

    :func:`ensure_endpoint` calls it when no S3 is configured. Call it yourself to keep a session
    local even where AWS credentials exist (the tutorial's main job does, and hands the URL to its
    notebooks as ``FLOWKIT_S3_ENDPOINT``).

    Args:
        bucket: A bucket to create on it (default: :func:`configure`'s, ``FLOWKIT_S3_BUCKET``,
            ``flowkit-images``).

    Returns:
        The endpoint, with ``local=True``.

    Raises:
        S3Error: moto is not installed.

    """
    with _LOCK:
        settings = dict(_SETTINGS)
    bucket = bucket or settings.get("bucket") or os.environ.get("FLOWKIT_S3_BUCKET") or DEFAULT_BUCKET
    return _local_endpoint(bucket, settings, "flowkit: started a local S3 server")


def _local_endpoint(bucket: str, settings: dict[str, Any], notice: str) -> S3Endpoint:
    with _LOCK:  # one server, one message, however many tasks ask at once
        url = _local_server()
        endpoint = _with_timeouts(
            S3Endpoint(
                bucket=bucket,
                endpoint_url=url,
                region="us-east-1",
                local=True,
                access_key_id=_DUMMY_KEY,
                secret_access_key=_DUMMY_KEY,
            ),
            settings,
            local=True,
        )
        if bucket not in _LOCAL["buckets"]:
            endpoint.create_bucket()
            first = not _LOCAL["buckets"]
            _LOCAL["buckets"].add(bucket)
            if first:
                _notice(f"{notice} at {url}, bucket '{bucket}'")
    return endpoint


def stop_local_server() -> None:
    """Stop the server :func:`ensure_endpoint` started (its objects are lost); a no-op when there is none."""
    with _LOCK:
        server = _LOCAL.pop("server", None)
        url = _LOCAL.pop("url", None)
        _LOCAL.pop("buckets", None)
        for endpoint in [ep for ep in _CLIENTS if ep.endpoint_url == url]:
            del _CLIENTS[endpoint]
    if server is not None:
        _stop(server)


# ---------------------------------------------------------------------------------------------- internals


def _notice(message: str) -> None:
    """Tell the user something worth knowing that is not an error: a plain output line in a notebook."""
    logging.getLogger(__name__).info(message)
    if _in_kernel():
        from IPython.display import display

        display({"text/plain": message}, raw=True)  # type: ignore[no-untyped-call]
    else:
        print(message, file=sys.stderr)  # a terminal's notices go to stderr, leaving stdout to the program


def _in_kernel() -> bool:
    """Whether this runs in a Jupyter kernel (where stderr is drawn as an error)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    shell = ipython.get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _with_timeouts(endpoint: S3Endpoint, settings: dict[str, Any], *, local: bool) -> S3Endpoint:
    from dataclasses import replace

    # a local server answers in milliseconds or not at all: fail fast and let the task retry
    defaults = {"connect_timeout": 2.0, "read_timeout": 10.0, "max_attempts": 2} if local else {}
    changes = {
        name: settings.get(name, defaults.get(name)) for name in ("connect_timeout", "read_timeout", "max_attempts")
    }
    return replace(endpoint, **{k: v for k, v in changes.items() if v is not None})


def _is_loopback(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return host in ("localhost", "::1") or host.startswith("127.")


def _fingerprint() -> tuple[Any, ...]:
    env = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("AWS_")))
    files: list[tuple[str, int | None]] = []
    for var, default in (("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials"), ("AWS_CONFIG_FILE", "~/.aws/config")):
        path = Path(os.environ.get(var) or default).expanduser()
        try:
            files.append((str(path), path.stat().st_mtime_ns))
        except OSError:
            files.append((str(path), None))
    return env, tuple(files)


def _credentials_configured() -> bool:
    """Whether the AWS credential chain finds credentials, without probing the EC2 metadata service."""
    key = repr(_fingerprint())
    with _LOCK:
        cached = _DECISION.get(key)
    if cached is not None:
        return bool(cached == "chain")
    try:
        import botocore.session  # type: ignore[import-untyped,unused-ignore]
    except ImportError:  # no boto3: nothing can be configured for it
        return False
    try:
        session = botocore.session.Session()
        resolver = session.get_component("credential_provider")
        try:
            resolver.remove("iam-role")
        except Exception:  # noqa: S110 - an older botocore without that provider name
            pass
        found = resolver.load_credentials() is not None
    except Exception:  # a broken profile is still a configuration: let its error reach the task
        found = True
    with _LOCK:
        _DECISION.put(key, "chain" if found else "none")
    return found


def _new_client(endpoint: S3Endpoint) -> Any:
    try:
        import boto3  # type: ignore[import-untyped,unused-ignore]
        from botocore.config import Config  # type: ignore[import-untyped,unused-ignore]
    except ImportError as exc:
        raise S3Error("S3 needs boto3. Fix: pip install 'flowkit[images]' (or boto3).") from exc
    session = boto3.session.Session(
        aws_access_key_id=endpoint.access_key_id,
        aws_secret_access_key=endpoint.secret_access_key,
        region_name=endpoint.region,
    )
    options: dict[str, Any] = {
        "connect_timeout": endpoint.connect_timeout,
        "read_timeout": endpoint.read_timeout,
        "retries": {"total_max_attempts": max(1, int(endpoint.max_attempts)), "mode": "standard"},
    }
    if endpoint.endpoint_url:
        options["s3"] = {"addressing_style": "path"}
    return session.client("s3", endpoint_url=endpoint.endpoint_url, config=Config(**options))


def _local_server() -> str:
    with _LOCK:
        url = _LOCAL.get("url")
        if url is not None:
            return str(url)
        try:
            server = _quiet_moto_server()
        except ImportError as exc:
            raise S3Error(
                "no S3 is configured (no AWS credentials, no AWS_ENDPOINT_URL or FLOWKIT_S3_ENDPOINT) and the "
                "local S3 server needs moto. Fix: pip install 'flowkit[tutorial]' (moto[s3], flask, flask-cors), "
                "or configure an S3 endpoint."
            ) from exc
        server.start()
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        _LOCAL.update(server=server, url=url, buckets=set())
        if not _LOCAL.get("atexit"):
            atexit.register(stop_local_server)
            _LOCAL["atexit"] = True
        return url


def _quiet_moto_server() -> Any:
    """Moto's ThreadedMotoServer on 127.0.0.1, a free port, without a log line per request."""
    from moto.server import ThreadedMotoServer  # type: ignore[import-not-found,unused-ignore]

    try:
        from moto.moto_server.werkzeug_app import (  # type: ignore[import-not-found,unused-ignore]
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server
    except ImportError:  # another moto layout: its own server, request lines included
        return ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)

    class _QuietHandler(MotoRequestHandler):  # type: ignore[misc,unused-ignore]
        def log_request(self, code: Any = "-", size: Any = "-") -> None:
            return None

    class _Server(ThreadedMotoServer):  # type: ignore[misc,unused-ignore]
        def _server_entry(self) -> None:
            app = DomainDispatcherApplication(create_backend_app)
            self._server = make_server(self._ip_address, self._port, app, True, request_handler=_QuietHandler)
            self._server_ready_event.set()
            self._server.serve_forever()

    return _Server(ip_address="127.0.0.1", port=0, verbose=False)


def _stop(server: Any) -> None:
    try:
        server.stop()
    finally:
        inner = getattr(server, "_server", None)
        if inner is not None:
            inner.server_close()  # stop() leaves the socket listening: connections would hang, not fail


def _error_code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code is not None else None
    return None


def _translate(exc: BaseException, endpoint: S3Endpoint, action: str, bucket: str, key: str | None = None) -> S3Error:
    """Turn a boto3/botocore exception into an S3Error whose message names the object, the endpoint and the fix."""
    if isinstance(exc, S3Error):
        return exc
    from botocore import exceptions as bx  # type: ignore[import-untyped,unused-ignore]

    target = endpoint.uri(key, bucket=bucket) if key else f"bucket '{bucket}'"
    where = endpoint.where
    head = f"cannot {action} {target}"
    if isinstance(exc, bx.ReadTimeoutError):
        return S3Error(f"{head}: the S3 endpoint {where} did not answer within {endpoint.read_timeout:g} s.")
    if isinstance(exc, bx.ConnectTimeoutError | bx.EndpointConnectionError):
        return S3Error(
            f"{head}: the S3 endpoint {where} is not reachable (connection failed). Fix: start the S3 server, or "
            "point AWS_ENDPOINT_URL / FLOWKIT_S3_ENDPOINT at a running one."
        )
    if isinstance(exc, bx.ConnectionError | bx.HTTPClientError):
        return S3Error(f"{head}: the connection to the S3 endpoint {where} failed ({exc}).")
    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
        return S3Error(
            f"{head}: no usable AWS credentials for {where}. Fix: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
            "(or AWS_PROFILE)."
        )
    code = _error_code(exc)
    if code is None:
        return S3Error(f"{head} at {where}: {type(exc).__name__}: {exc}")
    message = getattr(exc, "response", {}).get("Error", {}).get("Message") or ""
    if code == "NoSuchBucket":
        return S3Error(
            f"{head}: S3 bucket '{bucket}' does not exist at {where}. Fix: create it "
            "(flowkit.contrib.s3.ensure_endpoint().create_bucket()) or set FLOWKIT_S3_BUCKET to an existing bucket."
        )
    if code in ("NoSuchKey", "404", "NotFound"):
        return S3Error(f"{head}: no such object at {where}.")
    if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"):
        return S3Error(
            f"{head}: access denied by {where} ({code}). Fix: check the AWS credentials and the bucket policy."
        )
    return S3Error(f"{head} at {where}: {code}: {message}".rstrip(": "))


# ---------------------------------------------------------------------------------------------- the upload


def upload(
    file_location: Any, *, bucket: str | None = None, key: str | None = None, endpoint: S3Endpoint | None = None
) -> dict[str, Any]:
    """Upload a file (local path, http(s) URL or ``s3://``) to S3; returns the ``upload_toS3`` task output.

    Args:
        file_location: The file to upload, usually ``image_convert_resize``'s ``fileLocation``.
        bucket: The bucket (default: the endpoint's).
        key: The object key (default: the file's name).
        endpoint: Where to upload (default: :func:`ensure_endpoint`, called now).

    Returns:
        ``fileLocation`` (``s3://bucket/key``), ``url`` (the object's HTTP URL at the endpoint),
        ``bucket``, ``key``, ``etag`` and ``sizeBytes``.

    """
    import mimetypes

    from flowkit.contrib.images import ImageInputError, read_source

    if key is not None and (not isinstance(key, str) or not key.strip("/")):
        raise ImageInputError(f"key must be a non-empty object key such as 'images/a.png'; got {key!r}.")
    if bucket is not None and (not isinstance(bucket, str) or not bucket):
        raise ImageInputError(f"bucket must be a bucket name; got {bucket!r}.")
    ep = endpoint or ensure_endpoint()
    data, name = read_source(file_location, s3=ep)
    key = (key or name or "upload").lstrip("/")
    bucket = bucket or ep.bucket
    etag = ep.put_bytes(key, data, bucket=bucket, content_type=mimetypes.guess_type(key)[0])
    return {
        "fileLocation": ep.uri(key, bucket=bucket),
        "url": ep.http_url(key, bucket=bucket),
        "bucket": bucket,
        "key": key,
        "etag": etag,
        "sizeBytes": len(data),
    }
