"""IAM grants for readers of a package version, and cdk-nag acknowledgments without cdk-nag.

``grant_read`` of every package version (declared or imported) is built from
:func:`grant_package_read`; :func:`acknowledge_nag_findings` records the few findings the library
accepts with a reason (the one inherent wildcard of ``sts:GetServiceBearerToken``, the handler's
pinned runtime, the AWS managed policy a handler in a VPC needs).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import aws_cdk
from aws_cdk import CfnResource
from aws_cdk import aws_iam as iam
from constructs import Construct, IConstruct

#: What downloading a version's assets through the CodeArtifact API needs, on the package ARN.
DOWNLOAD_ACTIONS = (
    "codeartifact:DescribePackageVersion",
    "codeartifact:ListPackageVersionAssets",
    "codeartifact:GetPackageVersionAsset",
)
#: What a package manager's repository endpoint needs besides, on the repository.
REPOSITORY_READ_ACTIONS = ("codeartifact:ReadFromRepository", "codeartifact:GetRepositoryEndpoint")


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


def grant_package_read(
    grantee: iam.IGrantable,
    *,
    package_arn: str,
    repository_arn: str,
    domain_arn: str,
    package_manager_access: bool,
) -> iam.Grant:
    """What ``grant_read`` of a package version grants (see its docstring)."""
    # Resource types per action from the Service Authorization Reference, "Actions,
    # resources, and condition keys for AWS CodeArtifact"
    # (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscodeartifact.html):
    # DescribePackageVersion (Read), ListPackageVersionAssets (List) and
    # GetPackageVersionAsset (Read) each require the `package` resource,
    # arn:${Partition}:codeartifact:${Region}:${Account}:package/${DomainName}/
    # ${RepositoryName}/${PackageFormat}/${PackageNamespace}/${PackageName}.
    grant = iam.Grant.add_to_principal(
        grantee=grantee, actions=list(DOWNLOAD_ACTIONS), resource_arns=[package_arn]
    )
    if not package_manager_access:
        return grant
    # Same reference: ReadFromRepository and GetRepositoryEndpoint (Read) require the
    # `repository` resource (…:repository/${DomainName}/${RepositoryName}), and
    # GetAuthorizationToken (Read) the `domain` resource (…:domain/${DomainName}).
    grant.combine(
        iam.Grant.add_to_principal(
            grantee=grantee, actions=list(REPOSITORY_READ_ACTIONS), resource_arns=[repository_arn]
        )
    )
    grant.combine(
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["codeartifact:GetAuthorizationToken"],
            resource_arns=[domain_arn],
        )
    )
    grant_codeartifact_bearer_token(grantee.grant_principal)
    return grant
