"""The stack's one handler function, shared by every GenericPackageVersion in the stack.

Statements are merged per stack (one for CodeArtifact, one per bucket grant) so the role
policy grows by ARNs, not by statements, as versions are added.

Least privilege (each line is asserted by ``tests/static/test_least_privilege.py``):

- CodeArtifact version actions on the exact package ARNs of the stack's versions
  (``…:package/<domain>/<repo>/generic/<namespace>/<package>``, in the domain owner's account),
  ``codeartifact:DescribeRepository`` on the exact repository ARNs; nothing on ``*``.
- ``s3:GetObject`` (and ``s3:GetObjectVersion`` for pinned versions) on the asset objects only,
  ``kms:Decrypt`` on the key of a bucket that declares one (``IBucket.encryption_key``).
- ``cloudformation:DescribeStacks``, ``DescribeStackEvents`` and ``DescribeStackResource`` on
  the handler's own stack: rollback detection, when the resource was created (the ownership
  rule) and whether a running Create was cancelled.
- Logs: its own log group (explicit, with a retention) instead of the
  ``AWSLambdaBasicExecutionRole`` managed policy, whose ``logs:*`` actions apply to ``*``.
- No KMS permission for a domain encrypted with a customer managed key: CodeArtifact encrypts
  and decrypts assets itself, through the grant it created on the key when the domain was
  created (``CreateDomain`` is the call that needs ``kms:CreateGrant``/``kms:DescribeKey``; see
  the CodeArtifact user guide, "Create a domain" → "Example AWS KMS key policy"). Publishing
  principals are authorized by IAM on the package ARN only.

cdk-nag: the handler acknowledges one finding, AwsSolutions-L1 (it pins python3.12, the runtime
it is tested on); :func:`acknowledge_nag_findings` also covers the one inherent wildcard of
``grant_read``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

import aws_cdk
import jsii
from aws_cdk import (
    Aws,
    CfnResource,
    Duration,
    IStableNumberProducer,
    Lazy,
    RemovalPolicy,
    Size,
    Stack,
    Token,
)
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct, IConstruct

from .assets import BoundAsset
from .bundling import HANDLER, LocalHandlerBundling, bundle_hash, handler_source_dir

_UUID = "6c4d7785-6ac6-423c-b124-5976300312f1"
_PURPOSE = "CodeArtifactGenericPackageVersion"
_PROVIDER_ID = "CodeArtifactGenericPackageVersionProvider"

#: Lambda timeout of the handler: the Lambda maximum, for large assets.
HANDLER_TIMEOUT = Duration.minutes(15)

#: The handler's runtime: the one it is built, bundled and tested for (crhelper, and the
#: runtime's boto3, which it uses instead of bundling its own). A newer Python is adopted with
#: a release of this library, not silently by a CDK upgrade.
HANDLER_RUNTIME: Final = lambda_.Runtime.PYTHON_3_12

#: How long the handler's log events are kept. The log group itself is retained when the stack
#: is deleted: it holds the record of the stack's last Delete events.
LOG_RETENTION: Final = logs.RetentionDays.ONE_YEAR

#: What the handler reads of its own stack (see ``handler/stack_status.py``).
STACK_READ_ACTIONS: Final = (
    "cloudformation:DescribeStacks",
    "cloudformation:DescribeStackEvents",
    "cloudformation:DescribeStackResource",
)
#: Logs actions the handler needs on its own log group (the group exists: CloudFormation
#: creates it, so no ``logs:CreateLogGroup``).
LOGS_ACTIONS: Final = ("logs:CreateLogStream", "logs:PutLogEvents")

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


def acknowledge_nag_findings(scope: IConstruct, findings: Iterable[tuple[str, str]]) -> None:
    """Acknowledge cdk-nag findings on ``scope`` without importing cdk-nag.

    ``findings`` holds ``(finding id, reason)`` pairs, the id as cdk-nag 3 reports it:
    ``RuleId`` or ``RuleId[finding]`` (e.g. ``AwsSolutions-IAM5[Resource::*]``). Recorded both
    ways cdk-nag reads acknowledgments: aws-cdk-lib's ``Validations.of(scope).acknowledge``
    (cdk-nag 3; available from aws-cdk-lib 2.257) and the ``cdk_nag`` CloudFormation metadata
    (``rules_to_suppress`` with ``applies_to``) on ``scope``'s CfnResource (cdk-nag 2).
    """
    findings = list(findings)
    validations: Any = getattr(aws_cdk, "Validations", None)
    acknowledgment: Any = getattr(aws_cdk, "Acknowledgment", None)
    if validations is not None and acknowledgment is not None:
        validations.of(scope).acknowledge(
            *(acknowledgment(id=finding, reason=reason) for finding, reason in findings)
        )
    resource = scope if CfnResource.is_cfn_resource(scope) else scope.node.default_child
    if not isinstance(resource, CfnResource):
        return
    existing = resource.get_metadata("cdk_nag") or {}
    rules: list[dict[str, Any]] = list(existing.get("rules_to_suppress", []))
    for finding, reason in findings:
        rule_id, _, rest = finding.partition("[")
        rule: dict[str, Any] = {"id": rule_id, "reason": reason}
        if rest:
            rule["applies_to"] = [rest.removesuffix("]")]
        rules.append(rule)
    resource.add_metadata("cdk_nag", {**existing, "rules_to_suppress": rules})


#: Construct id of the per-principal policy that holds ``sts:GetServiceBearerToken``.
_STS_POLICY_ID = "CodeArtifactBearerTokenPolicy"


def grant_codeartifact_bearer_token(principal: iam.IPrincipal) -> None:
    """``sts:GetServiceBearerToken`` for CodeArtifact, in a policy of its own where possible."""
    statement = iam.PolicyStatement(
        actions=["sts:GetServiceBearerToken"],
        resources=["*"],  # the action has no resource type; the condition scopes it
        conditions={"StringEquals": {"sts:AWSServiceName": "codeartifact.amazonaws.com"}},
    )
    attach = getattr(principal, "attach_inline_policy", None)  # roles, users and groups
    if not isinstance(principal, Construct) or not callable(attach):
        principal.add_to_principal_policy(statement)
        return
    if principal.node.try_find_child(_STS_POLICY_ID) is not None:
        return  # granted by another version already: the statement is the same
    policy = iam.Policy(principal, _STS_POLICY_ID, statements=[statement])
    attach(policy)
    acknowledge_nag_findings(
        policy,
        [
            (
                "AwsSolutions-IAM5[Resource::*]",
                "sts:GetServiceBearerToken has no resource type, so IAM accepts only "
                "Resource '*'; the statement is limited to CodeArtifact by the condition "
                "sts:AWSServiceName = codeartifact.amazonaws.com, and this policy holds "
                "nothing else.",
            )
        ],
    )


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
        # An explicit role: the function's default role would carry the
        # AWSLambdaBasicExecutionRole managed policy (logs actions on "*", AwsSolutions-IAM4).
        self.role = iam.Role(
            self,
            "ServiceRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Publishes this stack's CodeArtifact generic package versions",
        )
        self.log_group = logs.LogGroup(
            self, "Logs", retention=LOG_RETENTION, removal_policy=RemovalPolicy.RETAIN
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=list(LOGS_ACTIONS),
                # The log group's ARN attribute ends in ":*": its log streams.
                resources=[self.log_group.log_group_arn],
            )
        )
        runtime = HANDLER_RUNTIME
        self.function = lambda_.SingletonFunction(
            self,
            "Handler",
            uuid=_UUID,
            lambda_purpose=_PURPOSE,
            description="Publishes CodeArtifact generic package versions",
            runtime=runtime,
            architecture=lambda_.Architecture.ARM_64,
            handler=HANDLER,
            code=lambda_.Code.from_asset(
                str(handler_source_dir()),
                asset_hash=bundle_hash(),
                bundling={
                    # Never pulled: local bundling always succeeds.
                    "image": runtime.bundling_image,
                    "local": LocalHandlerBundling(),
                },
            ),
            role=self.role,
            log_group=self.log_group,
            timeout=HANDLER_TIMEOUT,
            memory_size=Token.as_number(Lazy.number(_Largest(self._memory_wishes))),
            ephemeral_storage_size=Size.mebibytes(Lazy.number(_Largest(self._ephemeral_wishes))),
            # CloudFormation invokes asynchronously: a retry after the handler already answered
            # FAILED (e.g. at its timeout) could still publish while the stack rolls back.
            retry_attempts=0,
        )
        # SingletonFunction creates the function itself at the stack's root.
        acknowledge_nag_findings(
            Stack.of(self).node.find_child(_PURPOSE + _UUID.replace("-", "")),
            [
                (
                    "AwsSolutions-L1",
                    "The handler is built, bundled and tested for python3.12 (with crhelper and "
                    "the runtime's own boto3); a newer runtime is adopted with a library release.",
                )
            ],
        )
        self._package_statement = iam.PolicyStatement(actions=list(PUBLISHER_ACTIONS))
        # An event does not say whether CloudFormation is rolling back, when it began creating
        # the resource or whether it cancelled a running Create; the stack does.
        self.function.add_to_role_policy(
            iam.PolicyStatement(actions=list(STACK_READ_ACTIONS), resources=[Aws.STACK_ID])
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
