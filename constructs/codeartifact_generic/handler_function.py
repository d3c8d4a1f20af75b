"""The stack's one handler function, shared by every GenericPackageVersion in the stack.

Statements are merged per stack (one for CodeArtifact, one per bucket grant) so the role
policy grows by ARNs, not by statements, as versions are added.
"""

from __future__ import annotations

import jsii
from aws_cdk import (
    Aws,
    DockerImage,
    Duration,
    IStableNumberProducer,
    Lazy,
    Size,
    Stack,
    Token,
)
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from .assets import BoundAsset
from .bundling import HANDLER, LocalHandlerBundling, bundle_hash, handler_source_dir

_UUID = "6c4d7785-6ac6-423c-b124-5976300312f1"
_PURPOSE = "CodeArtifactGenericPackageVersion"
_PROVIDER_ID = "CodeArtifactGenericPackageVersionProvider"

#: Lambda timeout of the handler: the Lambda maximum, for large assets.
HANDLER_TIMEOUT = Duration.minutes(15)

#: CodeArtifact actions the handler needs on a package.
PUBLISHER_ACTIONS = (
    "codeartifact:PublishPackageVersion",
    "codeartifact:DescribePackageVersion",
    "codeartifact:ListPackageVersionAssets",
    "codeartifact:UpdatePackageVersionsStatus",
    "codeartifact:DeletePackageVersions",
    "codeartifact:DisposePackageVersions",
)
#: CodeArtifact actions the handler needs on a repository.
REPOSITORY_ACTIONS = ("codeartifact:DescribeRepository",)


#: /tmp of the handler when nothing needs spooling (the Lambda default), and when an asset of
#: unknown SHA256 may be spooled there (the Lambda maximum: assets may be up to 5 GB).
DEFAULT_EPHEMERAL_MIB = 512
SPOOL_EPHEMERAL_MIB = 10240
#: Memory of the handler: the data path needs a few MiB whatever the asset size; more memory
#: buys CPU (hashing) and network bandwidth on Lambda.
DEFAULT_MEMORY_MIB = 1024


@jsii.implements(IStableNumberProducer)
class _Largest:
    """A setting decided at synth, once every version of the stack has said what it needs."""

    def __init__(self, wishes: list[int]) -> None:
        self._wishes = wishes

    def produce(self) -> int:
        return max(self._wishes)


class HandlerProvider(Construct):
    """Per-stack holder of the handler function and its merged policy statements."""

    @classmethod
    def of(cls, scope: Construct) -> HandlerProvider:
        """The provider of ``scope``'s stack, created on first use."""
        stack = Stack.of(scope)
        existing = stack.node.try_find_child(_PROVIDER_ID)
        if isinstance(existing, HandlerProvider):
            return existing
        return cls(stack, _PROVIDER_ID)

    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        self._memory_wishes = [DEFAULT_MEMORY_MIB]
        self._ephemeral_wishes = [DEFAULT_EPHEMERAL_MIB]
        self.function = lambda_.SingletonFunction(
            self,
            "Handler",
            uuid=_UUID,
            lambda_purpose=_PURPOSE,
            description="Publishes CodeArtifact generic package versions",
            runtime=lambda_.Runtime.PYTHON_3_12,
            architecture=lambda_.Architecture.ARM_64,
            handler=HANDLER,
            code=lambda_.Code.from_asset(
                str(handler_source_dir()),
                asset_hash=bundle_hash(),
                bundling={
                    # Never pulled: local bundling always succeeds.
                    "image": DockerImage.from_registry("public.ecr.aws/sam/build-python3.12"),
                    "local": LocalHandlerBundling(),
                },
            ),
            timeout=HANDLER_TIMEOUT,
            memory_size=Token.as_number(Lazy.number(_Largest(self._memory_wishes))),
            ephemeral_storage_size=Size.mebibytes(Lazy.number(_Largest(self._ephemeral_wishes))),
            # CloudFormation invokes asynchronously: a retry after the handler already answered
            # FAILED (e.g. at its timeout) could still publish while the stack rolls back.
            retry_attempts=0,
        )
        self._package_statement = iam.PolicyStatement(actions=list(PUBLISHER_ACTIONS))
        # A Delete event does not say whether CloudFormation is rolling back; the stack does.
        self.function.add_to_role_policy(
            iam.PolicyStatement(actions=["cloudformation:DescribeStacks"], resources=[Aws.STACK_ID])
        )
        self._repository_statement = iam.PolicyStatement(actions=list(REPOSITORY_ACTIONS))
        self._read_statements: dict[tuple[str, ...], iam.PolicyStatement] = {}
        self._package_arns: set[str] = set()
        self._repository_arns: set[str] = set()

    @property
    def service_token(self) -> str:
        """The function ARN custom resources invoke."""
        return self.function.function_arn

    def allow_publishing(self, *, package_arn: str, repository_arn: str) -> None:
        """Let the handler publish and manage versions of one package."""
        if not self._package_arns:
            self.function.add_to_role_policy(self._package_statement)
            self.function.add_to_role_policy(self._repository_statement)
        if package_arn not in self._package_arns:
            self._package_arns.add(package_arn)
            self._package_statement.add_resources(package_arn)
        if repository_arn not in self._repository_arns:
            self._repository_arns.add(repository_arn)
            self._repository_statement.add_resources(repository_arn)

    def require(self, *, memory_mib: int | None, ephemeral_mib: int | None) -> None:
        """Ask for at least this much memory and /tmp; the function gets the stack's largest."""
        if memory_mib is not None:
            self._memory_wishes.append(memory_mib)
        if ephemeral_mib is not None:
            self._ephemeral_wishes.append(ephemeral_mib)

    def allow_reading(self, asset: BoundAsset) -> None:
        """Let the handler read ``asset``'s object (only that object) and decrypt it."""
        if asset.sha256 is None:  # it may be spooled to /tmp
            self._ephemeral_wishes.append(SPOOL_EPHEMERAL_MIB)
        statement = self._read_statements.get(asset.read_actions)
        if statement is None:
            statement = iam.PolicyStatement(actions=list(asset.read_actions))
            self._read_statements[asset.read_actions] = statement
            self.function.add_to_role_policy(statement)
        statement.add_resources(asset.object_arn)
        if asset.bucket.encryption_key is not None:
            asset.bucket.encryption_key.grant_decrypt(self.function)
