"""The ``GenericPackageVersion`` construct."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import (
    CrossStackReferences,
    CustomResource,
    Duration,
    ReferenceStrength,
    RemovalPolicy,
    Size,
    Stack,
    Token,
)
from aws_cdk import aws_iam as iam
from constructs import Construct

from .assets import BoundAsset, PackageAsset
from .handler import contract
from .handler.contract import AssetProp, Attr, Prop, Removal
from .handler_function import HandlerProvider, grant_codeartifact_bearer_token
from .options import DeleteBehavior, VersionStatus
from .reference import (
    REVISION_PARAMETER,
    STATUS_PARAMETER,
    VERSION_PARAMETER,
    PackageVersionReference,
    prefix_problem,
    write_parameters,
)
from .validation import ValidationError, name_problem

#: Default bound on how long CloudFormation waits for the handler's answer.
DEFAULT_SERVICE_TIMEOUT = Duration.minutes(20)


class GenericPackageVersion(Construct):
    """A CodeArtifact generic package version published during ``cdk deploy``.

    Example::

        GenericPackageVersion(self, "Cli",
            domain=domain.attr_name, repository=repo.attr_name,
            namespace="tools", package="mycli", version="1.4.0",
            assets=[PackageAsset.from_file("dist/mycli.tar.gz")])

    The version is created (or found already identical) on Create, moved to a new status on
    Update, and on Delete handled by the removal policy (retained by default). Every stack gets
    one handler function whatever the number of versions.

    Other stacks may use the ``attr_*`` attributes and :meth:`asset_sha256` directly: they are
    always *weak* cross-stack references (``Fn::GetStackOutput``), whatever the app's
    ``@aws-cdk/core:defaultCrossStackReferences``, so they never block a version bump.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        domain: str,
        repository: str,
        namespace: str,
        package: str,
        version: str,
        assets: Sequence[PackageAsset],
        domain_owner: str | None = None,
        status: VersionStatus = VersionStatus.PUBLISHED,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        on_delete: DeleteBehavior | None = None,
        remove_adopted: bool = False,
        replace_existing: bool = False,
        reference_parameter_prefix: str | None = None,
        memory_size: int | None = None,
        ephemeral_storage_size: Size | None = None,
        service_timeout: Duration | None = None,
    ) -> None:
        """Declare a package version.

        :param domain: CodeArtifact domain name (a token such as ``CfnDomain.attr_name`` is fine).
        :param repository: repository name in the domain.
        :param namespace: package namespace (required for generic packages).
        :param package: package name.
        :param version: version string, e.g. ``1.4.0``.
        :param assets: the version's files, 1 to 150, with unique names.
        :param domain_owner: 12-digit account id that owns the domain. Default: the stack's
            account.
        :param status: status once deployed; changing it later moves the version there.
            Default: ``VersionStatus.PUBLISHED``.
        :param removal_policy: ``RETAIN`` keeps the version when the resource is deleted (stack
            deletion, or replacement after a version bump); ``DESTROY`` applies ``on_delete``.
            A deployment that rolls back always removes a version it created. Default: ``RETAIN``.
        :param on_delete: with ``DESTROY``: delete, dispose, archive or unlist the version.
            Default: ``DeleteBehavior.DELETE``.
        :param remove_adopted: also apply the removal policy to a version that already existed,
            identical, before this resource (adopted). Default: False (never removed).
        :param replace_existing: when the version already exists with other bytes or assets,
            delete it and publish it anew instead of failing. Consumers that cached the old bytes
            under the same version will silently differ: prefer bumping the version.
            Default: False.
        :param reference_parameter_prefix: write ``version``, ``revision`` and ``status`` as
            SSM String parameters under this path (e.g. ``/releases/mycli``), for readers that
            cannot use a stack output: ``PackageVersionReference.from_parameters`` in a stack
            of another account or region whose deploy role cannot read this stack, or tools
            outside CloudFormation. Stacks of the same app can use the attributes directly.
            Default: no parameters.
        :param memory_size: MiB of memory the stack's handler function needs at least (the
            function is shared: it gets the largest value of the stack's versions).
            Default: 1024, which streams any asset size; more buys CPU and bandwidth.
        :param ephemeral_storage_size: ``/tmp`` the handler needs at least (shared likewise).
            Default: 512 MiB, or 10 GiB when the stack declares an S3 object of unknown SHA256
            (it may be spooled to ``/tmp``).
        :param service_timeout: how long CloudFormation waits for the handler before failing
            the resource. Default: 20 minutes (the handler itself stops after 15).
        """
        super().__init__(scope, id)
        _validate(
            self.node.path,
            domain=domain,
            repository=repository,
            namespace=namespace,
            package=package,
            version=version,
            domain_owner=domain_owner,
            assets=assets,
            removal_policy=removal_policy,
            on_delete=on_delete,
            reference_parameter_prefix=reference_parameter_prefix,
            memory_size=memory_size,
            ephemeral_storage_size=ephemeral_storage_size,
        )
        stack = Stack.of(self)
        self.domain = domain
        self.repository = repository
        self.namespace = namespace
        self.package = package
        self.version = version
        self.status = status
        self.domain_owner: str = domain_owner or stack.account

        self.package_arn: str = stack.format_arn(
            service="codeartifact",
            account=self.domain_owner,
            resource="package",
            resource_name=f"{domain}/{repository}/{contract.PACKAGE_FORMAT}/{namespace}/{package}",
        )
        """ARN of the package (the IAM resource CodeArtifact version actions apply to)."""
        self.package_version_arn = f"{self.package_arn}/{version}"
        """``<package ARN>/<version>``: an identifier of this version (IAM uses the package ARN)."""
        repository_arn = stack.format_arn(
            service="codeartifact",
            account=self.domain_owner,
            resource="repository",
            resource_name=f"{domain}/{repository}",
        )
        self._repository_arn = repository_arn
        self._domain_arn = stack.format_arn(
            service="codeartifact",
            account=self.domain_owner,
            resource="domain",
            resource_name=domain,
        )

        provider = HandlerProvider.of(self)
        provider.require(
            memory_mib=memory_size,
            ephemeral_mib=int(ephemeral_storage_size.to_mebibytes())
            if ephemeral_storage_size
            else None,
        )
        provider.allow_publishing(package_arn=self.package_arn, repository_arn=repository_arn)
        self.assets: tuple[BoundAsset, ...] = tuple(
            asset.bind(self, f"Asset{index}") for index, asset in enumerate(assets)
        )
        for bound in self.assets:
            provider.allow_reading(bound)

        self._resource = CustomResource(
            self,
            "Resource",
            service_token=provider.service_token,
            resource_type=contract.RESOURCE_TYPE,
            service_timeout=service_timeout or DEFAULT_SERVICE_TIMEOUT,
            # CloudFormation must send Delete (also for a replaced version) so that the handler
            # can apply the removal policy; the handler retains the version by default.
            removal_policy=RemovalPolicy.DESTROY,
            properties={
                Prop.DOMAIN: domain,
                Prop.DOMAIN_OWNER: self.domain_owner,
                Prop.REPOSITORY: repository,
                Prop.NAMESPACE: namespace,
                Prop.PACKAGE: package,
                Prop.VERSION: version,
                Prop.STATUS: status.value,
                Prop.ASSETS: [_asset_property(a) for a in self.assets],
                Prop.REMOVAL_POLICY: (
                    Removal.DESTROY if removal_policy == RemovalPolicy.DESTROY else Removal.RETAIN
                ),
                Prop.ON_DELETE: (on_delete or DeleteBehavior.DELETE).value,
                Prop.REMOVE_ADOPTED: remove_adopted,
                Prop.REPLACE_EXISTING: replace_existing,
            },
        )
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
            VERSION_PARAMETER: version,
            REVISION_PARAMETER: self.attr_version_revision,
            STATUS_PARAMETER: self.attr_status,
        }
        self.reference = PackageVersionReference(attributes.__getitem__)
        """This version's attributes; see ``reference_parameter_prefix`` for other stacks."""
        if reference_parameter_prefix is not None:
            write_parameters(self, reference_parameter_prefix, self.reference)

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
        # Resource types per action from the Service Authorization Reference, "Actions,
        # resources, and condition keys for AWS CodeArtifact"
        # (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscodeartifact.html):
        # DescribePackageVersion (Read), ListPackageVersionAssets (List) and
        # GetPackageVersionAsset (Read) each require the `package` resource,
        # arn:${Partition}:codeartifact:${Region}:${Account}:package/${DomainName}/
        # ${RepositoryName}/${PackageFormat}/${PackageNamespace}/${PackageName}.
        grant = iam.Grant.add_to_principal(
            grantee=grantee,
            actions=[
                "codeartifact:DescribePackageVersion",
                "codeartifact:ListPackageVersionAssets",
                "codeartifact:GetPackageVersionAsset",
            ],
            resource_arns=[self.package_arn],
        )
        if not package_manager_access:
            return grant
        # Same reference: ReadFromRepository and GetRepositoryEndpoint (Read) require the
        # `repository` resource (…:repository/${DomainName}/${RepositoryName}), and
        # GetAuthorizationToken (Read) the `domain` resource (…:domain/${DomainName}).
        grant.combine(
            iam.Grant.add_to_principal(
                grantee=grantee,
                actions=["codeartifact:ReadFromRepository", "codeartifact:GetRepositoryEndpoint"],
                resource_arns=[self._repository_arn],
            )
        )
        grant.combine(
            iam.Grant.add_to_principal(
                grantee=grantee,
                actions=["codeartifact:GetAuthorizationToken"],
                resource_arns=[self._domain_arn],
            )
        )
        grant_codeartifact_bearer_token(grantee.grant_principal)
        return grant


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


def _validate(
    path: str,
    *,
    domain: str,
    repository: str,
    namespace: str,
    package: str,
    version: str,
    domain_owner: str | None,
    assets: Sequence[PackageAsset],
    removal_policy: RemovalPolicy,
    on_delete: DeleteBehavior | None,
    reference_parameter_prefix: str | None,
    memory_size: int | None,
    ephemeral_storage_size: Size | None,
) -> None:
    problems = [
        problem
        for value, rule in (
            (domain, contract.DOMAIN_NAME),
            (repository, contract.REPOSITORY_NAME),
            (namespace, contract.NAMESPACE_NAME),
            (package, contract.PACKAGE_NAME),
            (version, contract.VERSION_NAME),
            (domain_owner, contract.ACCOUNT_ID),
        )
        if (problem := name_problem(value, rule)) is not None
    ]
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
    if memory_size is not None and not 128 <= memory_size <= 10240:
        problems.append(f"memory_size must be 128 to 10240 MiB, got {memory_size}")
    if ephemeral_storage_size is not None and not (
        512 <= ephemeral_storage_size.to_mebibytes() <= 10240
    ):
        problems.append("ephemeral_storage_size must be 512 MiB to 10 GiB")
    if removal_policy not in (RemovalPolicy.RETAIN, RemovalPolicy.DESTROY):
        problems.append(f"removal_policy must be RETAIN or DESTROY, got {removal_policy.name}")
    if on_delete is not None and removal_policy != RemovalPolicy.DESTROY:
        problems.append("on_delete applies only with removal_policy=RemovalPolicy.DESTROY")
    if reference_parameter_prefix is not None and (
        problem := prefix_problem(reference_parameter_prefix)
    ):
        problems.append(problem)
    if problems:
        raise ValidationError(path, problems)
