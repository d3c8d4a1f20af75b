"""The local environment: moto S3 and the CodeArtifact emulator, and deployments to them.

Example::

    with LocalEnvironment() as env:
        outputs = env.deploy("python3 app.py")  # or a synthesized cloud assembly: "cdk.out"
        os.environ.update(env.environment())  # point the AWS CLI / boto3 at the servers
        env.destroy()
"""

from __future__ import annotations

import shutil
import socket
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urlsplit

from ._s3 import DUMMY_CREDENTIALS, MotoS3Server
from ._serving import Managed

if TYPE_CHECKING:
    from ._local_deploy.engine import LocalCloudFormation

__all__ = ["EndpointUnavailable", "LocalEnvironment", "check_endpoints", "is_cloud_assembly"]


class EndpointUnavailable(RuntimeError):
    """A local server does not answer (its name and URL are in the message)."""


def is_cloud_assembly(app: str | Path) -> bool:
    """Whether ``app`` names a synthesized cloud assembly (a directory with ``manifest.json``)
    rather than an app command, as ``cdk --app`` tells them apart."""
    return Path(app).is_dir() and (Path(app) / "manifest.json").is_file()


class LocalEnvironment(Managed):
    """Starts moto S3 and the ``CodeArtifactEmulator`` on 127.0.0.1 and deploys CDK apps there.

    Args:
        account_id: account of the emulator (domain owner, ARNs) and of deployments.
        region: region of the emulator and of deployments.
        codeartifact: start the CodeArtifact emulator too.
        emulator_options: more keyword arguments for ``CodeArtifactEmulator``.
        s3_port: port of the S3 server (``0``, the default: a free one).
        codeartifact_port: port of the CodeArtifact emulator (``0``: a free one).
        state_dir: where deployments keep their state (stacks, unpacked Lambda code, handler
            logs); by default a temporary directory removed by :meth:`stop`.
    """

    def __init__(
        self,
        *,
        account_id: str = "123456789012",
        region: str = "us-east-1",
        codeartifact: bool = True,
        emulator_options: dict[str, Any] | None = None,
        s3_port: int = 0,
        codeartifact_port: int = 0,
        state_dir: str | Path | None = None,
    ) -> None:
        self.account_id = account_id
        self.region = region
        self.s3 = MotoS3Server(port=s3_port)
        self._want_codeartifact = codeartifact
        self._codeartifact_port = codeartifact_port
        self._emulator_options = dict(emulator_options or {})
        self.codeartifact: Any = None
        self._state_dir = Path(state_dir).resolve() if state_dir is not None else None
        self._temporary_state: Path | None = None
        self._engine: LocalCloudFormation | None = None
        self._engine_options: dict[str, Any] = {}

    @property
    def s3_endpoint(self) -> str:
        """The S3 endpoint URL."""
        return self.s3.endpoint_url

    @property
    def codeartifact_endpoint(self) -> str | None:
        """The CodeArtifact endpoint URL (``None`` without the emulator)."""
        return str(self.codeartifact.endpoint_url) if self.codeartifact is not None else None

    @property
    def state_dir(self) -> Path:
        """Where deployments keep their state (a temporary directory unless one was given)."""
        if self._state_dir is not None:
            return self._state_dir
        if self._temporary_state is None:
            self._temporary_state = Path(tempfile.mkdtemp(prefix="codeartifact-generic-state-"))
        return self._temporary_state

    def start(self) -> Self:
        """Start the servers."""
        self.s3.start()
        if self._want_codeartifact and self.codeartifact is None:
            from ._emulator import CodeArtifactEmulator  # noqa: PLC0415 - optional, heavier

            options = {"port": self._codeartifact_port, **self._emulator_options}
            emulator = CodeArtifactEmulator(
                host="127.0.0.1", account_id=self.account_id, region=self.region, **options
            )
            try:
                emulator.start()
            except BaseException:
                self.s3.stop()
                raise
            self.codeartifact = emulator
        return self

    def stop(self) -> None:
        """Stop the deployment engine and the servers; remove a temporary state directory."""
        if self._engine is not None:
            self._engine.close()
            self._engine = None
        if self.codeartifact is not None:
            self.codeartifact.stop()
            self.codeartifact = None
        self.s3.stop()
        if self._temporary_state is not None:
            shutil.rmtree(self._temporary_state, ignore_errors=True)
            self._temporary_state = None

    def environment(self) -> dict[str, str]:
        """Variables that point AWS SDKs and the CLI at the servers (with dummy credentials)."""
        env = {
            "AWS_ENDPOINT_URL_S3": self.s3_endpoint,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ACCESS_KEY_ID": DUMMY_CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": DUMMY_CREDENTIALS["aws_secret_access_key"],
            "AWS_SESSION_TOKEN": DUMMY_CREDENTIALS["aws_session_token"],
        }
        if self.codeartifact_endpoint:
            env["AWS_ENDPOINT_URL_CODEARTIFACT"] = self.codeartifact_endpoint
        return env

    def client(self, service: str) -> Any:
        """A boto3 client for ``"s3"`` or ``"codeartifact"`` on these servers."""
        import boto3  # noqa: PLC0415 - keep the module importable without boto3

        endpoints = {"s3": self.s3_endpoint, "codeartifact": self.codeartifact_endpoint}
        if endpoints.get(service) is None:
            raise ValueError(f"no local endpoint for {service!r} (s3 or codeartifact)")
        return boto3.client(
            service,  # type: ignore[call-overload]
            endpoint_url=endpoints[service],
            region_name=self.region,
            **DUMMY_CREDENTIALS,
        )

    def check(self, timeout: float = 5.0) -> None:
        """Ask every server something; raise :class:`EndpointUnavailable` naming the first that
        does not answer (S3 ``ListBuckets``, CodeArtifact ``ListDomains``, and, once a
        deployment engine exists, the local CloudFormation API and the ResponseURL server)."""
        endpoints: dict[str, str | None] = {
            "s3": self.s3_endpoint,
            "codeartifact": self.codeartifact_endpoint,
        }
        if self._engine is not None:
            endpoints["cloudformation"] = self._engine.cloudformation_endpoint
        check_endpoints(endpoints, self.region, timeout)
        if self._engine is not None:
            _connect(self._engine.response_server().base_url, "the ResponseURL server", timeout)

    # ------------------------------------------------------------------ deployments

    def cloudformation(self, state_dir: str | Path, **options: Any) -> LocalCloudFormation:
        """A new ``LocalCloudFormation`` wired to these servers (the caller closes it)."""
        from ._local_deploy.engine import LocalCloudFormation  # noqa: PLC0415

        return LocalCloudFormation(
            state_dir,
            s3_endpoint=self.s3_endpoint,
            codeartifact_endpoint=self.codeartifact_endpoint,
            account_id=self.account_id,
            region=self.region,
            **options,
        )

    def engine(self, **options: Any) -> LocalCloudFormation:
        """The deployment engine :meth:`deploy` and :meth:`destroy` use (created on first use
        in :attr:`state_dir`; ``options`` go to its constructor then)."""
        if self._engine is None:
            self._engine = self.cloudformation(self.state_dir, **options)
        return self._engine

    def deploy(
        self,
        app: str | Path = "cdk.out",
        stacks: Sequence[str] = (),
        *,
        context: Mapping[str, str] | None = None,
        parameters: Mapping[str, Mapping[str, str]] | None = None,
    ) -> dict[str, dict[str, str]]:
        """Deploy a CDK app here: its stacks, dependencies first, as ``cdk deploy`` would.

        Args:
            app: a synthesized cloud assembly directory, or the app command (``"python3
                app.py"``), which is synthesized first with the CDK CLI, like ``cdk --app``.
            stacks: stack names (default: all).
            context: CDK context for the synthesis (``-c key=value``).
            parameters: stack name (or ``"*"``) → template parameter values.

        Returns:
            Stack name → its outputs.

        Raises:
            LocalDeployError: a stack failed (it was rolled back) or could not be deployed.
        """
        engine = self.engine()
        with _assembly(app, context) as assembly:
            summaries = engine.deploy(assembly, list(stacks) or None, parameters=parameters)
        return {summary.stack_name: engine.outputs(summary.stack_name) for summary in summaries}

    def destroy(
        self,
        app: str | Path | None = None,
        stacks: Sequence[str] = (),
        *,
        context: Mapping[str, str] | None = None,
    ) -> list[str]:
        """Delete deployed stacks, dependents first (all of them by default; with ``app``,
        that app's stacks); returns the names deleted."""
        engine = self.engine()
        if app is None:
            return engine.destroy(None, list(stacks) or None)
        with _assembly(app, context) as assembly:
            return engine.destroy(assembly, list(stacks) or None)


class _assembly:  # noqa: N801 - a context manager used like a function
    """The cloud assembly of ``app``: itself, or a temporary synthesis removed afterwards."""

    def __init__(self, app: str | Path, context: Mapping[str, str] | None) -> None:
        self._app = app
        self._context = context or {}
        self._temporary: Path | None = None

    def __enter__(self) -> Path:
        if is_cloud_assembly(self._app):
            return Path(self._app)
        from ._demo import synthesize  # noqa: PLC0415

        self._temporary = Path(tempfile.mkdtemp(prefix="codeartifact-generic-synth-"))
        outdir = self._temporary / "cdk.out"
        try:
            synthesize(str(self._app), outdir, [f"{k}={v}" for k, v in self._context.items()])
        except BaseException:
            self.__exit__()
            raise
        return outdir

    def __exit__(self, *exc_info: object) -> None:
        if self._temporary is not None:
            shutil.rmtree(self._temporary, ignore_errors=True)


#: Service → (display name, a cheap read-only call) for :func:`check_endpoints`.
_PROBES: dict[str, tuple[str, str]] = {
    "s3": ("S3", "list_buckets"),
    "codeartifact": ("CodeArtifact", "list_domains"),
    "cloudformation": ("CloudFormation (local)", "describe_stacks"),
}


def check_endpoints(endpoints: Mapping[str, str | None], region: str, timeout: float = 5.0) -> None:
    """Call each endpoint (service → URL, ``None`` skipped) once, without retries; raise
    :class:`EndpointUnavailable` naming the first that does not answer."""
    import boto3  # noqa: PLC0415 - keep the module importable without boto3
    from botocore.config import Config  # noqa: PLC0415
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    config = Config(connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 1})
    for service, url in endpoints.items():
        if url is None:
            continue
        name, operation = _PROBES[service]
        client = boto3.client(
            service,  # type: ignore[call-overload]
            endpoint_url=url,
            region_name=region,
            config=config,
            **DUMMY_CREDENTIALS,
        )
        try:
            getattr(client, operation)()
        except (BotoCoreError, ClientError) as exc:
            raise EndpointUnavailable(f"{name} at {url} does not answer: {exc}") from None


def _connect(url: str, name: str, timeout: float) -> None:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 443), timeout):
            pass
    except OSError as exc:
        raise EndpointUnavailable(f"{name} at {url} does not answer: {exc}") from None
