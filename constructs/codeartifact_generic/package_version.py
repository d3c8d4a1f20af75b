"""``GenericPackageVersion``, and ``IPackageVersion`` for versions published elsewhere."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, cast, runtime_checkable

import jsii
from aws_cdk import (
    Aspects,
    CfnDeletionPolicy,
    CfnResource,
    CrossStackReferences,
    CustomResource,
    Duration,
    IAspect,
    IResolveContext,
    IStringProducer,
    Lazy,
    ReferenceStrength,
    RemovalPolicy,
    Stack,
    Token,
)
from aws_cdk import aws_codeartifact as codeartifact
from aws_cdk import aws_iam as iam
from constructs import Construct, IConstruct, Node

from .assets import BoundAsset, PackageAsset
from .grants import grant_package_read
from .handler import contract
from .handler.contract import AssetProp, Attr, Prop, Removal
from .handler_provider import HandlerProvider
from .options import (
    DeleteBehavior,
    GenericPackageVersionProps,
    PackageVersionAttributes,
    VersionStatus,
    class_signature,
    coerce_enum,
    keyword_attributes,
    keyword_props,
)
from .reference import (
    REVISION_PARAMETER,
    STATUS_PARAMETER,
    VERSION_PARAMETER,
    PackageVersionReference,
    prefix_problem,
    write_parameters,
)
from .validation import ValidationError

#: Default bound on how long CloudFormation waits for the handler's answer.
DEFAULT_SERVICE_TIMEOUT = Duration.minutes(20)


@runtime_checkable
class IPackageVersion(Protocol):
    """A CodeArtifact generic package version: declared here, or published elsewhere.

    :class:`GenericPackageVersion` declares one;
    :meth:`GenericPackageVersion.from_package_version_attributes` names one published by
    another app, stack or tool, to grant read access to it.
    """

    @property
    def node(self) -> Node:
        """The construct's node."""

    #: Domain name (may be a token).
    domain: str
    #: Repository name (may be a token).
    repository: str
    #: Package namespace.
    namespace: str
    #: Package name.
    package: str
    #: Version string.
    version: str
    #: Account that owns the domain.
    domain_owner: str
    #: ARN of the package (the IAM resource CodeArtifact version actions apply to).
    package_arn: str
    #: ``<package ARN>/<version>``: an identifier of the version (IAM uses the package ARN).
    package_version_arn: str

    def grant_read(
        self, grantee: iam.IGrantable, *, package_manager_access: bool = False
    ) -> iam.Grant:
        """Let ``grantee`` download the version's assets (see ``GenericPackageVersion``)."""


class PackageVersionBase(Construct):
    """The identity, ARNs and ``grant_read`` of a package version, declared or imported."""

    def __init__(self, scope: Construct, id: str, attributes: PackageVersionAttributes) -> None:
        super().__init__(scope, id)
        problems = self._problems(attributes)
        if problems:
            raise ValidationError(self.node.path, problems)
        stack = Stack.of(self)
        self.domain: str = attributes.domain_name()
        self.repository: str = attributes.repository_name()
        self.namespace: str = attributes.namespace
        self.package: str = attributes.package
        self.version: str = attributes.version
        self.domain_owner: str = attributes.owner(stack.account)
        self.package_arn: str = stack.format_arn(
            service="codeartifact",
            account=self.domain_owner,
            resource="package",
            resource_name=(
                f"{self.domain}/{self.repository}/{contract.PACKAGE_FORMAT}/"
                f"{self.namespace}/{self.package}"
            ),
        )
        """ARN of the package (the IAM resource CodeArtifact version actions apply to)."""
        self.package_version_arn: str = f"{self.package_arn}/{self.version}"
        """``<package ARN>/<version>``: an identifier of this version (IAM uses the package ARN)."""
        self._repository_arn = stack.format_arn(
            service="codeartifact",
            account=self.domain_owner,
            resource="repository",
            resource_name=f"{self.domain}/{self.repository}",
        )
        self._domain_arn = stack.format_arn(
            service="codeartifact",
            account=self.domain_owner,
            resource="domain",
            resource_name=self.domain,
        )

    def _problems(self, attributes: PackageVersionAttributes) -> list[str]:
        """Every problem with ``attributes``, found without touching AWS."""
        return attributes.problems()

    def grant_read(
        self, grantee: iam.IGrantable, *, package_manager_access: bool = False
    ) -> iam.Grant:
        """Let ``grantee`` download this version's assets through the CodeArtifact API.

        Grants exactly what a download needs, on this package's ARN in the domain owner's
        account: ``codeartifact:DescribePackageVersion`` (status and revision),
        ``codeartifact:ListPackageVersionAssets`` (asset names and hashes) and
        ``codeartifact:GetPackageVersionAsset`` (the bytes). IAM has no resource finer than the
        package (a version is not part of any ARN), so the grantee may read every version of
        this package, and nothing of other packages, the repository or the domain.

        :param package_manager_access: also let the grantee reach the repository through a
            package manager's endpoint (``aws codeartifact login``): ``ReadFromRepository`` and
            ``GetRepositoryEndpoint`` on the repository (``ReadFromRepository`` covers every
            package in it: IAM has no narrower resource for it), ``GetAuthorizationToken`` on the
            domain, and ``sts:GetServiceBearerToken``, which the token needs. That action has no
            resource type, so it is granted on ``*`` with the condition
            ``sts:AWSServiceName = codeartifact.amazonaws.com``; for a role, user or group it
            goes into a policy of its own (one per principal) on which the cdk-nag finding
            ``AwsSolutions-IAM5[Resource::*]`` is acknowledged. Default: False (SigV4 API calls
            such as ``GetPackageVersionAsset`` need none of these).
        """
        return grant_package_read(
            grantee,
            package_arn=self.package_arn,
            repository_arn=self._repository_arn,
            domain_arn=self._domain_arn,
            package_manager_access=package_manager_access,
        )


class _ImportedPackageVersion(PackageVersionBase):
    """A version published elsewhere; nothing is created for it."""


@jsii.implements(IStringProducer)
class _VersionFate:
    """The ``RemovalPolicy`` property the handler reads, from the resource's removal policy.

    One source of truth: the custom resource's removal policy, whoever set it (the
    ``removal_policy`` prop, ``apply_removal_policy()``, ``RemovalPolicies.of(scope)`` or
    ``MissingRemovalPolicies.of(scope)``), read at synth once aspects have run. ``DESTROY``
    destroys the version; anything else (``RETAIN``, ``RETAIN_ON_UPDATE_OR_DELETE``, a
    ``SNAPSHOT`` CDK warns it ignores, or nothing) retains it.
    """

    def __init__(self, version: GenericPackageVersion) -> None:
        self._version = version

    def produce(self, context: IResolveContext) -> str:
        policy = self._version._cfn_resource.cfn_options.deletion_policy
        return Removal.DESTROY if policy == CfnDeletionPolicy.DELETE else Removal.RETAIN


class _NamedRepositories(Construct):
    """Orders the stack's versions after the CfnDomain/CfnRepository their literal names designate.

    A version that names its domain and repository with literals, in the stack that declares
    them, has no Ref or GetAtt that would order it after them: CloudFormation would create it
    in parallel and race the repository's creation. One per stack (a child of the stack with a
    stable id), it looks at the stack once, as an aspect, so that a domain or repository
    declared after the versions is found too.
    """

    _ID = "CodeArtifactGenericPackageVersionOrdering"

    @classmethod
    def of(cls, version: GenericPackageVersion) -> _NamedRepositories:
        stack = Stack.of(version)
        existing = stack.node.try_find_child(cls._ID)
        return existing if isinstance(existing, cls) else cls(stack, cls._ID)

    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        self._versions: list[GenericPackageVersion] = []
        Aspects.of(self).add(_OrderVersions(self))

    def add(self, version: GenericPackageVersion) -> None:
        """Order ``version`` if its names designate a domain or repository of the stack."""
        if Token.is_unresolved(version.domain):
            return  # a reference, which CloudFormation orders by itself
        if version.props.domain_owner not in (None, Stack.of(self).account):
            return  # another account's domain: not the one declared here
        self._versions.append(version)

    def order(self) -> None:
        """Add the dependencies (before CDK turns them into DependsOn)."""
        if not self._versions:
            return
        declared = [
            construct
            for construct in Stack.of(self).node.find_all()
            if isinstance(construct, codeartifact.CfnDomain | codeartifact.CfnRepository)
        ]
        for version in self._versions:
            for construct in declared:
                if _designated(construct, version.domain, version.repository):
                    version.resource.node.add_dependency(construct)


@jsii.implements(IAspect)
class _OrderVersions:
    def __init__(self, ordering: _NamedRepositories) -> None:
        self._ordering = ordering

    def visit(self, node: IConstruct) -> None:
        if node.node.path == self._ordering.node.path:
            self._ordering.order()


def _designated(
    construct: codeartifact.CfnDomain | codeartifact.CfnRepository, domain: str, repository: str
) -> bool:
    """Whether ``construct`` is the CfnDomain or CfnRepository the literal names designate."""
    if isinstance(construct, codeartifact.CfnDomain):
        return construct.domain_name == domain
    return construct.repository_name == repository and (
        construct.domain_name == domain or Token.is_unresolved(construct.domain_name)
    )


class GenericPackageVersion(PackageVersionBase):
    """A CodeArtifact generic package version published during ``cdk deploy``.

    Example::

        GenericPackageVersion(self, "Cli",
            domain=domain, repository=repo,  # CfnDomain, CfnRepository (or their names)
            namespace="tools", package="mycli", version="1.4.0",
            assets=[PackageAsset.from_file("dist/mycli.tar.gz")])

    The version is created (or found already identical) on Create, moved to a new status on
    Update, and on Delete handled by the removal policy (retained by default). Every stack gets
    one handler function whatever the number of versions.

    Other stacks may use the ``attr_*`` attributes and :meth:`asset_sha256` directly: they are
    always *weak* cross-stack references (``Fn::GetStackOutput``), whatever the app's
    ``@aws-cdk/core:defaultCrossStackReferences``, so they never block a version bump.
    """

    @keyword_props(GenericPackageVersionProps)
    def __init__(self, scope: Construct, id: str, props: GenericPackageVersionProps) -> None:
        """Declare a package version (the props are described below, and in the README)."""
        super().__init__(scope, id, props)
        self.props = props
        """The props as given."""
        self.status = cast(VersionStatus, coerce_enum(VersionStatus, props.status, "status")[0])
        on_delete = coerce_enum(DeleteBehavior, props.on_delete or DeleteBehavior.DELETE, "")[0]

        provider = HandlerProvider.of(self, props)
        provider.require(
            memory_mib=props.memory_size,
            ephemeral_mib=int(props.ephemeral_storage_size.to_mebibytes())
            if props.ephemeral_storage_size
            else None,
        )
        provider.allow_publishing(package_arn=self.package_arn, repository_arn=self._repository_arn)
        self.assets: tuple[BoundAsset, ...] = tuple(
            asset.bind(self, f"Asset{index}") for index, asset in enumerate(props.assets)
        )
        for bound in self.assets:
            provider.allow_reading(bound)

        self._resource = CustomResource(
            self,
            "Resource",
            service_token=provider.service_token,
            resource_type=contract.RESOURCE_TYPE,
            service_timeout=props.service_timeout or DEFAULT_SERVICE_TIMEOUT,
            properties={
                Prop.DOMAIN: self.domain,
                Prop.DOMAIN_OWNER: self.domain_owner,
                Prop.REPOSITORY: self.repository,
                Prop.NAMESPACE: self.namespace,
                Prop.PACKAGE: self.package,
                Prop.VERSION: self.version,
                Prop.STATUS: self.status.value,
                Prop.ASSETS: [_asset_property(a) for a in self.assets],
                Prop.REMOVAL_POLICY: Lazy.uncached_string(_VersionFate(self)),
                Prop.ON_DELETE: cast(DeleteBehavior, on_delete).value,
                Prop.REMOVE_ADOPTED: props.remove_adopted,
                Prop.REPLACE_EXISTING: props.replace_existing,
            },
        )
        provider.allow_polling(cast(CfnResource, self._resource.node.default_child))
        self._apply_removal_policy(props.removal_policy)
        _NamedRepositories.of(self).add(self)
        # Every value this resource yields (its Ref, VersionRevision, Status, AssetCount, the
        # asset hashes) may change with a version bump or a status change. A strong reference
        # would be an export, and CloudFormation refuses to update an export another stack
        # imports: the next bump would fail. So other stacks always read them weakly, as
        # Fn::GetStackOutput of a plain output, whatever the consumer's default strength
        # (@aws-cdk/core:defaultCrossStackReferences). The inputs (domain, repository, package
        # names) are the caller's values and keep the app's default. A consumer that wants a
        # strong reference anyway can ask per value: Stack.consume_reference(value, STRONG).
        CrossStackReferences.of(self._resource).produce(ReferenceStrength.WEAK)
        attributes = {
            VERSION_PARAMETER: self.version,
            REVISION_PARAMETER: self.attr_version_revision,
            STATUS_PARAMETER: self.attr_status,
        }
        self.reference = PackageVersionReference(attributes.__getitem__)
        """This version's attributes; see ``reference_parameter_prefix`` for other stacks."""
        if props.reference_parameter_prefix is not None:
            write_parameters(self, props.reference_parameter_prefix, self.reference)

    @staticmethod
    @keyword_attributes(PackageVersionAttributes)
    def from_package_version_attributes(
        scope: Construct, id: str, attributes: PackageVersionAttributes
    ) -> IPackageVersion:
        """A version published elsewhere (another app or stack, a pipeline), to grant access to.

        Nothing is created or checked in CodeArtifact; the names are validated like a declared
        version's. ``grant_read`` grants what reading it needs.
        """
        return _ImportedPackageVersion(scope, id, attributes)

    def _problems(self, attributes: PackageVersionAttributes) -> list[str]:
        return _props_problems(cast(GenericPackageVersionProps, attributes))

    @property
    def _cfn_resource(self) -> CfnResource:
        """The custom resource's CfnResource (looked up when the handler property is rendered)."""
        return cast(CfnResource, self.node.find_child("Resource").node.default_child)

    def _apply_removal_policy(self, policy: RemovalPolicy | None) -> None:
        resource = self._cfn_resource
        if policy is None:
            # Unset, so that MissingRemovalPolicies.of(scope) can still decide; means RETAIN.
            resource.cfn_options.deletion_policy = None
            resource.cfn_options.update_replace_policy = None
        else:
            resource.apply_removal_policy(policy)
        # Whatever the version's fate, CloudFormation itself must send Delete (stack deletion,
        # replacement after a bump, rollback) so that the handler applies it: the template
        # always says Delete, and the handler reads the policy from the RemovalPolicy property.
        resource.add_override("DeletionPolicy", "Delete")
        resource.add_override("UpdateReplacePolicy", "Delete")

    def apply_removal_policy(self, policy: RemovalPolicy) -> None:
        """Decide what deleting the resource does to the version, as for any CDK resource.

        ``DESTROY`` applies ``on_delete`` (delete, dispose, archive or unlist); any other policy
        retains the version. The same setting as the ``removal_policy`` prop, and what
        ``RemovalPolicies.of(scope)`` changes.
        """
        self._resource.apply_removal_policy(policy)

    @property
    def attr_version_revision(self) -> str:
        """The version's revision after the deployment (``Fn::GetAtt VersionRevision``).

        Changes with every bump; from another stack it is a weak reference (read when that stack
        deploys), so it never blocks the bump.
        """
        return self._resource.get_att_string(Attr.VERSION_REVISION)

    @property
    def attr_status(self) -> str:
        """The version's status after the deployment (``Fn::GetAtt Status``)."""
        return self._resource.get_att_string(Attr.STATUS)

    @property
    def attr_asset_count(self) -> str:
        """Number of assets in the version (``Fn::GetAtt AssetCount``)."""
        return self._resource.get_att_string(Attr.ASSET_COUNT)

    @property
    def resource(self) -> CustomResource:
        """The underlying custom resource."""
        return self._resource

    def asset_sha256(self, name: str) -> str:
        """SHA256 of the asset called ``name``: a literal when known at synth, else a GetAtt.

        The response that carries the GetAtt values is limited to 4096 bytes, so only the first
        ``GUARANTEED_HASH_ATTRIBUTES`` (16) assets without a known hash can be read this way.
        """
        unknown = 0
        for index, bound in enumerate(self.assets):
            if bound.name == name:
                if bound.sha256:
                    return bound.sha256
                if unknown >= contract.GUARANTEED_HASH_ATTRIBUTES:
                    raise ValueError(
                        f"{self.node.path}: the SHA256 of {name!r} may not fit in the custom "
                        f"resource response (only the first {contract.GUARANTEED_HASH_ATTRIBUTES} "
                        "assets without a known hash do); pass sha256= to from_bucket"
                    )
                return self._resource.get_att_string(Attr.asset_sha256(index))
            unknown += bound.sha256 is None
        raise KeyError(f"{self.node.path} has no asset named {name!r}")


class_signature(GenericPackageVersion)


def _asset_property(asset: BoundAsset) -> dict[str, str]:
    entry = {
        AssetProp.NAME: asset.name,
        AssetProp.BUCKET: asset.bucket.bucket_name,
        AssetProp.KEY: asset.key,
    }
    if asset.object_version:
        entry[AssetProp.OBJECT_VERSION] = asset.object_version
    if asset.sha256:
        entry[AssetProp.SHA256] = asset.sha256
    if asset.size is not None:
        entry[AssetProp.SIZE] = str(asset.size)
    return entry


def _props_problems(props: GenericPackageVersionProps) -> list[str]:
    """Every problem with ``props``, found without touching AWS (tokens are skipped)."""
    problems = [*props.problems(), *_assets_problems(props.assets)]
    if problem := coerce_enum(VersionStatus, props.status, "status")[1]:
        problems.append(problem)
    if props.on_delete is not None and (
        problem := coerce_enum(DeleteBehavior, props.on_delete, "on_delete")[1]
    ):
        problems.append(problem)
    memory_size = props.memory_size
    if memory_size is not None and not 128 <= memory_size <= 10240:
        problems.append(f"memory_size must be 128 to 10240 MiB, got {memory_size}")
    storage = props.ephemeral_storage_size
    if storage is not None and not 512 <= storage.to_mebibytes() <= 10240:
        problems.append("ephemeral_storage_size must be 512 MiB to 10 GiB")
    removal_policy = props.removal_policy
    if removal_policy not in (None, RemovalPolicy.RETAIN, RemovalPolicy.DESTROY):
        got = getattr(removal_policy, "name", repr(removal_policy))
        problems.append(f"removal_policy must be RETAIN or DESTROY, got {got}")
    if props.on_delete is not None and removal_policy != RemovalPolicy.DESTROY:
        problems.append("on_delete applies only with removal_policy=RemovalPolicy.DESTROY")
    prefix = props.reference_parameter_prefix
    if prefix is not None and (problem := prefix_problem(prefix)):
        problems.append(problem)
    if props.vpc is None and (props.vpc_subnets is not None or props.security_groups):
        problems.append("vpc_subnets and security_groups apply only with vpc=")
    return problems


def _assets_problems(assets: Sequence[PackageAsset]) -> list[str]:
    problems: list[str] = []
    if not assets:
        problems.append("assets: at least one asset is required")
    if len(assets) > contract.MAX_ASSETS_PER_VERSION:
        problems.append(
            f"assets: {len(assets)} assets; a generic package version holds at most "
            f"{contract.MAX_ASSETS_PER_VERSION}"
        )
    seen: set[str] = set()
    for index, asset in enumerate(assets):
        problems.extend(f"assets[{index}]: {p}" for p in asset.problems())
        name = asset.name
        if name is not None and not Token.is_unresolved(name):
            if name in seen:
                problems.append(f"assets[{index}]: asset name {name!r} is used more than once")
            seen.add(name)
    return problems
