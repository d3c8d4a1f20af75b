"""The stack's one handler function, shared by every GenericPackageVersion in the stack.

:class:`HandlerProvider` is a construct of this library at the stack's root with a stable id:
the first version of a stack creates it, the others find it there
(``Stack.of(scope).node.try_find_child``) and add what they need. It holds a plain
``lambda.Function`` (created with the construct id a ``SingletonFunction`` used to give it, so
that stacks deployed by earlier releases keep the same function: CloudFormation does not let a
custom resource change its ``ServiceToken``), its role, its log group and its merged policy
statements (one for CodeArtifact, one per kind of S3 read), so the role policy grows by ARNs,
not by statements, as versions are added.

Least privilege (each line is asserted by ``tests/static/test_least_privilege.py``):

- CodeArtifact version actions on the exact package ARNs of the stack's versions
  (``…:package/<domain>/<repo>/generic/<namespace>/<package>``, in the domain owner's account),
  ``codeartifact:DescribeRepository`` on the exact repository ARNs; nothing on ``*``.
- ``s3:GetObject`` (and ``s3:GetObjectVersion`` for pinned versions) on the asset objects only,
  ``kms:Decrypt`` on the key of a bucket that declares one (``IBucket.encryption_key``).
- ``cloudformation:DescribeStacks``, ``DescribeStackEvents`` and ``DescribeStackResource`` on
  the handler's own stack: rollback detection, when the resource was created (the ownership
  rule) and whether a running Create was cancelled.
- crhelper's polling, for a version that may outlast one invocation: ``events:PutRule``,
  ``PutTargets``, ``RemoveTargets`` and ``DeleteRule`` on the rules named after the stack's
  version resources (``…:rule/<logical id>*``), and ``ListTargetsByRule`` there (a poll
  delivered again after the answer sees its rule gone and does nothing);
  ``lambda:AddPermission`` and ``RemovePermission`` on the function itself (a policy of its
  own, which every version resource waits for).
- Logs: its own log group (explicit, with a retention) instead of the
  ``AWSLambdaBasicExecutionRole`` managed policy, whose ``logs:*`` actions apply to ``*``.
- No KMS permission for a domain encrypted with a customer managed key: CodeArtifact encrypts
  and decrypts assets itself, through the grant it created on the key when the domain was
  created (``CreateDomain`` is the call that needs ``kms:CreateGrant``/``kms:DescribeKey``; see
  the CodeArtifact user guide, "Create a domain" → "Example AWS KMS key policy"). Publishing
  principals are authorized by IAM on the package ARN only.
- In a VPC (``vpc=``), its own role also gets ``AWSLambdaVPCAccessExecutionRole``, the managed
  policy Lambda documents for the network interfaces (what CDK gives a function's default role).

cdk-nag: the handler acknowledges AwsSolutions-L1 (it pins python3.12, the runtime it is tested
on) and, in a VPC, AwsSolutions-IAM4 for that one managed policy.
"""

from __future__ import annotations

from typing import Final

import jsii
from aws_cdk import (
    Aws,
    CfnResource,
    Duration,
    IListProducer,
    IResolveContext,
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
from constructs import Construct

from .assets import BoundAsset
from .bundling import HANDLER, LocalHandlerBundling, bundle_hash, handler_source_dir
from .grants import acknowledge_nag_findings
from .options import GenericPackageVersionProps
from .validation import ValidationError

#: Construct id of the provider, a child of the stack.
_PROVIDER_ID = "CodeArtifactGenericPackageVersionProvider"
#: Construct id of the function, a child of the stack: the id ``SingletonFunction(uuid=
#: "6c4d7785-6ac6-423c-b124-5976300312f1", lambda_purpose="CodeArtifactGenericPackageVersion")``
#: gave it in earlier releases. Its logical id (and so the function's name and ARN, the
#: ServiceToken of every version) must not change.
FUNCTION_ID: Final = "CodeArtifactGenericPackageVersion6c4d77856ac6423cb1245976300312f1"

#: Lambda timeout of the handler: the Lambda maximum, for large assets.
HANDLER_TIMEOUT = Duration.minutes(15)

#: The handler's runtime: the one it is built, bundled and tested for (crhelper, and the
#: runtime's boto3, which it uses instead of bundling its own). A newer Python is adopted with
#: a release of this library, not silently by a CDK upgrade.
HANDLER_RUNTIME: Final = lambda_.Runtime.PYTHON_3_12

#: How long the handler's log events are kept unless ``log_retention`` says otherwise.
LOG_RETENTION: Final = logs.RetentionDays.ONE_YEAR
#: What happens to the log group when the stack is deleted unless ``log_removal_policy`` says
#: otherwise: it is retained, as it holds the record of the stack's last Delete events.
LOG_REMOVAL_POLICY: Final = RemovalPolicy.RETAIN

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
#: What crhelper's polling does with EventBridge (a version that may outlast one invocation):
#: a rule named after the resource's logical id, its one target (the function), then both go.
POLLING_RULE_ACTIONS: Final = (
    "events:PutRule",
    "events:PutTargets",
    "events:RemoveTargets",
    "events:DeleteRule",
    # Not crhelper's: a poll reads whether its rule still has its target (lambda/polling.py).
    "events:ListTargetsByRule",
)
#: ... and with the function's own resource policy (EventBridge may invoke it for that rule).
POLLING_PERMISSION_ACTIONS: Final = ("lambda:AddPermission", "lambda:RemovePermission")

#: CodeArtifact actions the handler needs on a repository.
REPOSITORY_ACTIONS = ("codeartifact:DescribeRepository",)

#: The managed policy Lambda documents for a function in a VPC (network interfaces).
VPC_ACCESS_POLICY: Final = "service-role/AWSLambdaVPCAccessExecutionRole"

#: /tmp of the handler when nothing needs spooling (the Lambda default), and when an asset of
#: unknown SHA256 may be spooled there (the Lambda maximum: assets may be up to 5 GB).
DEFAULT_EPHEMERAL_MIB = 512
SPOOL_EPHEMERAL_MIB = 10240
#: Memory of the handler: the data path needs a few MiB whatever the asset size; more memory
#: buys CPU (hashing) and network bandwidth on Lambda.
DEFAULT_MEMORY_MIB = 1024


def _rendered(value: str, placeholder: str) -> str:
    return placeholder if Token.is_unresolved(value) else value


@jsii.implements(IStableNumberProducer)
class _Largest:
    """A setting decided at synth, once every version of the stack has said what it needs."""

    def __init__(self, wishes: list[int]) -> None:
        self._wishes = wishes

    def produce(self) -> int:
        return max(self._wishes)


@jsii.implements(IListProducer)
class _DependsOnWithout:
    """A resource's ``DependsOn`` as CDK renders it, without one redundant target.

    ``lambda.Function`` makes its CfnFunction depend on its role construct: on the role's
    policy, which CloudFormation cannot infer, and on the role itself, which the function's
    ``Role`` (``Fn::GetAtt``) already orders; cfn-lint reports that one as W3005. The list is
    produced at synth, after CDK turned construct dependencies into resource dependencies.
    """

    def __init__(self, resource: CfnResource, redundant: CfnResource) -> None:
        self._resource = resource
        self._redundant = redundant.node.path
        self._stack = Stack.of(resource).node.path

    def produce(self, context: IResolveContext) -> list[str] | None:
        kept = [
            target
            for target in self._resource.obtain_dependencies()
            if isinstance(target, CfnResource)
            and target.node.path != self._redundant
            and Stack.of(target).node.path == self._stack
        ]
        return [target.logical_id for target in sorted(kept, key=lambda t: t.node.path)] or None


class HandlerProvider(Construct):
    """Per-stack holder of the handler function, its role, log group and policy statements."""

    @classmethod
    def of(cls, version: Construct, props: GenericPackageVersionProps) -> HandlerProvider:
        """The provider of ``version``'s stack, created on first use with ``props``' settings.

        Every version of a stack shares the function, so a version whose handler settings
        (role, VPC, log group) differ from those the provider was created with is refused.
        """
        stack = Stack.of(version)
        existing = stack.node.try_find_child(_PROVIDER_ID)
        if existing is None:
            return cls(stack, _PROVIDER_ID, props=props, first=version.node.path)
        if not isinstance(existing, HandlerProvider):
            raise ValidationError(
                stack.node.path,
                [f"the construct id {_PROVIDER_ID!r} is reserved for the package version handler"],
            )
        existing.check_settings(version.node.path, props)
        return existing

    def __init__(
        self, scope: Construct, id: str, *, props: GenericPackageVersionProps, first: str
    ) -> None:
        super().__init__(scope, id)
        self._settings = props.handler_settings()
        self._first = first
        self._memory_wishes = [DEFAULT_MEMORY_MIB]
        self._ephemeral_wishes = [DEFAULT_EPHEMERAL_MIB]
        own_role = props.role is None
        # An explicit role: the function's default role would carry the
        # AWSLambdaBasicExecutionRole managed policy (logs actions on "*", AwsSolutions-IAM4).
        self.role: iam.IRole = props.role or iam.Role(
            self,
            "ServiceRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Publishes this stack's CodeArtifact generic package versions",
        )
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=props.log_retention or LOG_RETENTION,
            removal_policy=props.log_removal_policy or LOG_REMOVAL_POLICY,
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=list(LOGS_ACTIONS),
                # The log group's ARN attribute ends in ":*": its log streams.
                resources=[self.log_group.log_group_arn],
            )
        )
        if props.vpc is not None and own_role:
            self._allow_network_interfaces()
        runtime = HANDLER_RUNTIME
        self.function = lambda_.Function(
            Stack.of(self),
            FUNCTION_ID,
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
            vpc=props.vpc,
            vpc_subnets=props.vpc_subnets,
            security_groups=list(props.security_groups) if props.security_groups else None,
        )
        self._drop_redundant_role_dependency()
        acknowledge_nag_findings(
            self.function,
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
        self._polling_rules = iam.PolicyStatement(actions=list(POLLING_RULE_ACTIONS))
        # A policy of its own: in the role's default policy, the function's ARN would make the
        # function depend on itself (it waits for that policy).
        self._polling_permission = iam.Policy(
            self,
            "PollingPermission",
            roles=[self.role],
            statements=[
                iam.PolicyStatement(
                    actions=list(POLLING_PERMISSION_ACTIONS),
                    resources=[self.function.function_arn],
                ),
                self._polling_rules,
            ],
        )
        self._package_arns: set[str] = set()
        self._repository_arns: set[str] = set()

    def _allow_network_interfaces(self) -> None:
        assert isinstance(self.role, iam.Role)
        self.role.add_managed_policy(
            iam.ManagedPolicy.from_aws_managed_policy_name(VPC_ACCESS_POLICY)
        )
        acknowledge_nag_findings(
            self.role,
            [
                (
                    f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
                    f"{VPC_ACCESS_POLICY}]",
                    "A function in a VPC needs to create, describe and delete its network "
                    "interfaces, which IAM scopes to no resource; this is the managed policy "
                    "Lambda documents for it (CDK gives it to a function's default role).",
                )
            ],
        )

    def _drop_redundant_role_dependency(self) -> None:
        """Keep the function's dependency on its role's policy, drop the one on the role."""
        function = self.function.node.default_child
        role = self.role.node.default_child if isinstance(self.role, Construct) else None
        if isinstance(function, CfnResource) and isinstance(role, CfnResource):
            function.add_override(
                "DependsOn",
                Lazy.uncached_list(_DependsOnWithout(function, role), omit_empty=True),
            )

    def check_settings(self, path: str, props: GenericPackageVersionProps) -> None:
        """Refuse ``props`` if its handler settings differ from those the function has."""
        wanted = props.handler_settings()
        differ = [name for name, value in wanted.items() if self._settings[name] != value]
        if differ:
            raise ValidationError(
                path,
                [
                    f"{', '.join(differ)}: differs from what {self._first} gave the stack's "
                    "handler, and every GenericPackageVersion of a stack shares one handler "
                    f"function: give each version the same {', '.join(wanted)} (or leave them "
                    "all out), or declare the versions that need other settings in another stack"
                ],
            )

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

    def allow_polling(self, resource: CfnResource) -> None:
        """Let the handler schedule its own polls of ``resource`` (crhelper names the rule
        after the resource's logical id), and deploy ``resource`` only once it may."""
        stack = Stack.of(self)
        self._polling_rules.add_resources(
            stack.format_arn(
                service="events",
                resource="rule",
                resource_name=f"{stack.get_logical_id(resource)}*",
            )
        )
        resource.node.add_dependency(self._polling_permission)
        # cdk-nag names each wildcard resource as it renders it (pseudo parameters as <…>).
        rendered = stack.format_arn(
            service="events",
            partition="<AWS::Partition>",
            region=_rendered(stack.region, "<AWS::Region>"),
            account=_rendered(stack.account, "<AWS::AccountId>"),
            resource="rule",
            resource_name=f"{stack.resolve(stack.get_logical_id(resource))}*",
        )
        acknowledge_nag_findings(
            self._polling_permission,
            [
                (
                    f"AwsSolutions-IAM5[Resource::{rendered}]",
                    "crhelper names the rule that polls this resource after its logical id plus "
                    "8 random characters: the wildcard stands for those 8 characters only.",
                )
            ],
        )

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
