"""Both local servers at once: moto S3 and the CodeArtifact emulator.

Example::

    with LocalEnvironment() as env:
        cfn = env.cloudformation(".local-deploy")
        cfn.deploy("cdk.out")
        os.environ.update(env.environment())  # point the AWS CLI / boto3 at the servers
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from .s3 import MotoS3Server
from .serving import Managed

if TYPE_CHECKING:
    from .local_deploy.engine import LocalCloudFormation

__all__ = ["LocalEnvironment"]


class LocalEnvironment(Managed):
    """Starts :class:`MotoS3Server` and ``CodeArtifactEmulator`` on 127.0.0.1 (free ports).

    Args:
        account_id: account of the emulator (domain owner, ARNs) and of deployments.
        region: region of the emulator and of deployments.
        codeartifact: start the CodeArtifact emulator too.
        emulator_options: more keyword arguments for ``CodeArtifactEmulator``.
    """

    def __init__(
        self,
        *,
        account_id: str = "123456789012",
        region: str = "us-east-1",
        codeartifact: bool = True,
        emulator_options: dict[str, Any] | None = None,
    ) -> None:
        self.account_id = account_id
        self.region = region
        self.s3 = MotoS3Server()
        self._want_codeartifact = codeartifact
        self._emulator_options = dict(emulator_options or {})
        self.codeartifact: Any = None

    @property
    def s3_endpoint(self) -> str:
        """The S3 endpoint URL."""
        return self.s3.endpoint_url

    @property
    def codeartifact_endpoint(self) -> str | None:
        """The CodeArtifact endpoint URL (``None`` without the emulator)."""
        return str(self.codeartifact.endpoint_url) if self.codeartifact is not None else None

    def start(self) -> Self:
        """Start the servers."""
        self.s3.start()
        if self._want_codeartifact and self.codeartifact is None:
            from .emulator import CodeArtifactEmulator  # noqa: PLC0415 - optional, heavier

            emulator = CodeArtifactEmulator(
                host="127.0.0.1",
                port=0,
                account_id=self.account_id,
                region=self.region,
                **self._emulator_options,
            )
            emulator.start()
            self.codeartifact = emulator
        return self

    def stop(self) -> None:
        """Stop the servers."""
        if self.codeartifact is not None:
            self.codeartifact.stop()
            self.codeartifact = None
        self.s3.stop()

    def environment(self) -> dict[str, str]:
        """Variables that point AWS SDKs and the CLI at the servers (with dummy credentials)."""
        env = {
            "AWS_ENDPOINT_URL_S3": self.s3_endpoint,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
        }
        if self.codeartifact_endpoint:
            env["AWS_ENDPOINT_URL_CODEARTIFACT"] = self.codeartifact_endpoint
        return env

    def cloudformation(self, state_dir: str | Path, **options: Any) -> LocalCloudFormation:
        """A :class:`LocalCloudFormation` wired to these servers."""
        from .local_deploy.engine import LocalCloudFormation  # noqa: PLC0415

        return LocalCloudFormation(
            state_dir,
            s3_endpoint=self.s3_endpoint,
            codeartifact_endpoint=self.codeartifact_endpoint,
            account_id=self.account_id,
            region=self.region,
            **options,
        )
