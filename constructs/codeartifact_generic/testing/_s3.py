"""A local S3: moto in server mode on 127.0.0.1.

``MotoS3Server`` runs :class:`moto.server.ThreadedMotoServer` in a daemon thread of this
process, bound to 127.0.0.1 and a free port. Anything that speaks S3 over HTTP (boto3, the AWS
CLI, a Lambda handler in a subprocess) can use it through :attr:`MotoS3Server.endpoint_url`,
e.g. by setting ``AWS_ENDPOINT_URL_S3``. Credentials are not checked; use
:data:`DUMMY_CREDENTIALS`.

Example::

    with MotoS3Server() as s3:
        client = s3.client()
        client.create_bucket(Bucket="my-bucket")
"""

from __future__ import annotations

import logging
import socket
from typing import TYPE_CHECKING, Final, Self

from moto.server import ThreadedMotoServer

from ._serving import Managed, require_started

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["DUMMY_CREDENTIALS", "MotoS3Server", "free_port"]

#: Credentials for local servers: they are never checked, but botocore insists on some.
DUMMY_CREDENTIALS: Final[dict[str, str]] = {
    "aws_access_key_id": "testing",
    "aws_secret_access_key": "testing",
    "aws_session_token": "testing",
}


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on ``host`` that was free a moment ago (bind port 0, read, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _check_free(host: str, port: int) -> None:
    """Raise ``OSError`` naming the port when it cannot be bound."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise OSError(
                exc.errno, f"S3 port {host}:{port} is not available: {exc.strerror}"
            ) from None


class MotoS3Server(Managed):
    """moto's server mode on ``host`` and a free port; a context manager.

    Args:
        host: address to bind; keep the default loopback address.
        port: port to bind; ``0`` (the default) picks a free one.
        quiet: silence werkzeug's one-line-per-request access log (a process-wide logger
            setting).

    moto serves every service it emulates on this one endpoint; this project only uses S3.
    State lives in this process (moto's in-memory backends, shared by every server and
    ``mock_aws`` in the process), so use unique bucket names per test.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, quiet: bool = True) -> None:
        self._host = host
        self._requested_port = port
        self._quiet = quiet
        self._server: ThreadedMotoServer | None = None
        self._port: int | None = None

    @property
    def running(self) -> bool:
        """Whether the server has been started and not stopped."""
        return self._server is not None

    @property
    def port(self) -> int:
        """The bound port (only after :meth:`start`)."""
        return require_started(self._port, self)

    @property
    def endpoint_url(self) -> str:
        """``http://HOST:PORT``: pass it as ``endpoint_url`` or ``AWS_ENDPOINT_URL_S3``."""
        return f"http://{self._host}:{self.port}"

    def start(self) -> Self:
        """Start the server thread and wait until it accepts connections."""
        if self._server is not None:
            return self
        if self._quiet:
            logging.getLogger("werkzeug").setLevel(logging.WARNING)
        if self._requested_port:
            # moto binds in its thread and would wait forever for a port it cannot have.
            _check_free(self._host, self._requested_port)
        server = ThreadedMotoServer(ip_address=self._host, port=self._requested_port, verbose=False)
        server.start()
        port = self._requested_port
        if hasattr(server, "get_host_and_port"):
            port = int(server.get_host_and_port()[1])
        if not port:
            # An older moto that cannot report the port it bound: use a concrete free one.
            server.stop()
            port = free_port(self._host)
            server = ThreadedMotoServer(ip_address=self._host, port=port, verbose=False)
            server.start()
        self._server = server
        self._port = port
        return self

    def stop(self) -> None:
        """Stop the server and join its thread; safe to call twice."""
        server, self._server = self._server, None
        if server is not None:
            server.stop()
        self._port = None

    def client(self, region_name: str = "us-east-1") -> S3Client:
        """A boto3 S3 client for this server with dummy credentials."""
        import boto3  # noqa: PLC0415 - keep the module importable without boto3 installed

        client: S3Client = boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=region_name,
            aws_access_key_id=DUMMY_CREDENTIALS["aws_access_key_id"],
            aws_secret_access_key=DUMMY_CREDENTIALS["aws_secret_access_key"],
            aws_session_token=DUMMY_CREDENTIALS["aws_session_token"],
        )
        return client
