"""Synth-time behaviour of GenericPackageVersion: template, handler, IAM, attributes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Match, Template
from codeartifact_generic.handler import contract

from codeartifact_generic import GenericPackageVersion, PackageAsset, VersionStatus

from .versions import declare_version

RESOURCE = contract.RESOURCE_TYPE


def _version(
    stack: cdk.Stack, id: str, assets: list[PackageAsset], **kwargs: Any
) -> GenericPackageVersion:
    return declare_version(stack, id, assets=assets, **kwargs)


def _policy_statements(template: Template) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for policy in template.find_resources("AWS::IAM::Policy").values():
        statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return statements


def test_file_asset_passes_synth_time_sha256_and_size(
    stack: cdk.Stack, make_file: Callable[[str, bytes], Path]
) -> None:
    # GIVEN a local file
    data = b"binary release" * 1000
    path = make_file("dist/mycli.tar.gz", data)
    # WHEN it is declared as the only asset of a version
    _version(stack, "Cli", [PackageAsset.from_file(str(path))])
    # THEN the custom resource carries its name, SHA256 and size, and the identity
    template = Template.from_stack(stack)
    template.has_resource_properties(
        RESOURCE,
        {
            "Domain": "my-domain",
            "Repository": "my-repo",
            "Namespace": "tools",
            "Package": "mycli",
            "Version": "1.0.0",
            "Status": "Published",
            "DomainOwner": {"Ref": "AWS::AccountId"},
            "ServiceTimeout": "1200",
            "Assets": [
                Match.object_like(
                    {
                        "Name": "mycli.tar.gz",
                        "Sha256": hashlib.sha256(data).hexdigest(),
                        "Size": str(len(data)),
                    }
                )
            ],
        },
    )


def test_many_versions_share_one_arm64_python312_handler(
    stack: cdk.Stack, make_file: Callable[[str, bytes], Path]
) -> None:
    # GIVEN one file
    path = make_file("a.bin", b"a")
    # WHEN 12 versions are declared in one stack
    for index in range(12):
        _version(stack, f"V{index}", [PackageAsset.from_file(str(path))], version=f"1.0.{index}")
    # THEN there are 12 custom resources and exactly one Lambda function
    template = Template.from_stack(stack)
    template.resource_count_is(RESOURCE, 12)
    template.resource_count_is("AWS::Lambda::Function", 1)
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Runtime": "python3.12",
            "Architectures": ["arm64"],
            "Handler": "codeartifact_generic_handler.index.handler",
            "Timeout": 900,
        },
    )


def test_handler_permissions_are_scoped_to_packages_and_objects(
    stack: cdk.Stack, make_file: Callable[[str, bytes], Path]
) -> None:
    # GIVEN a version with a local file and an object of an existing bucket
    bucket = s3.Bucket(stack, "Models")
    path = make_file("a.bin", b"a")
    _version(
        stack,
        "V",
        [
            PackageAsset.from_file(str(path)),
            PackageAsset.from_bucket(bucket, "models/m.bin", object_version="v1"),
        ],
    )
    # WHEN the template is rendered
    statements = _policy_statements(Template.from_stack(stack))
    # THEN no CodeArtifact or S3 action is granted on "*"
    for statement in statements:
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        resources = (
            statement["Resource"]
            if isinstance(statement["Resource"], list)
            else [statement["Resource"]]
        )
        if any(a.startswith(("codeartifact:", "s3:")) for a in actions):
            assert "*" not in resources, statement
    rendered = json.dumps(statements)
    # AND publishing is allowed on the package ARN, reading on the exact objects
    assert ":package/my-domain/my-repo/generic/tools/mycli" in rendered
    assert '"codeartifact:PublishPackageVersion"' in rendered
    assert "/models/m.bin" in rendered
    assert '"s3:GetObjectVersion"' in rendered


def test_tokens_are_accepted_for_domain_and_repository(
    stack: cdk.Stack, make_file: Callable[[str, bytes], Path]
) -> None:
    # GIVEN names that are only known at deploy time
    domain = cdk.CfnParameter(stack, "DomainName").value_as_string
    repository = cdk.CfnParameter(stack, "RepoName").value_as_string
    # WHEN they are used for a version
    _version(
        stack,
        "V",
        [PackageAsset.from_file(str(make_file("a.bin", b"a")))],
        domain=domain,
        repository=repository,
    )
    # THEN synth succeeds and passes them through as references
    Template.from_stack(stack).has_resource_properties(
        RESOURCE, {"Domain": {"Ref": "DomainName"}, "Repository": {"Ref": "RepoName"}}
    )


def test_attributes_are_getatts_and_known_hashes_are_literals(
    stack: cdk.Stack, make_file: Callable[[str, bytes], Path]
) -> None:
    # GIVEN a version with a local file and a bucket object of unknown hash
    bucket = s3.Bucket(stack, "B")
    version = _version(
        stack,
        "V",
        [
            PackageAsset.from_file(str(make_file("a.bin", b"abc"))),
            PackageAsset.from_bucket(bucket, "k/model.bin"),
        ],
        status=VersionStatus.UNFINISHED,
    )
    # WHEN attributes are read
    resolved = {
        name: stack.resolve(value)
        for name, value in {
            "revision": version.attr_version_revision,
            "status": version.attr_status,
            "model": version.asset_sha256("model.bin"),
        }.items()
    }
    # THEN they are GetAtts on the custom resource, and the local file's hash is a literal
    logical_id = stack.get_logical_id(version.resource.node.default_child)  # type: ignore[arg-type]
    assert resolved["revision"] == {"Fn::GetAtt": [logical_id, "VersionRevision"]}
    assert resolved["status"] == {"Fn::GetAtt": [logical_id, "Status"]}
    assert resolved["model"] == {"Fn::GetAtt": [logical_id, "Asset1Sha256"]}
    assert version.asset_sha256("a.bin") == hashlib.sha256(b"abc").hexdigest()
    Template.from_stack(stack).has_resource_properties(RESOURCE, {"Status": "Unfinished"})
    with pytest.raises(KeyError, match="no asset named 'nope'"):
        version.asset_sha256("nope")


def _stack_outputs_read(template: dict[str, Any]) -> list[dict[str, Any]]:
    """The arguments of every ``Fn::GetStackOutput`` in ``template``."""
    found: list[dict[str, Any]] = []

    def visit(value: Any) -> None:
        if isinstance(value, dict):
            if "Fn::GetStackOutput" in value:
                found.append(value["Fn::GetStackOutput"])
            for item in value.values():
                visit(item)
        elif isinstance(value, list):
            for item in value:
                visit(item)

    visit(template)
    return found


@pytest.mark.parametrize("strength", ["strong", "weak", None])
def test_changing_attributes_are_weak_references_whatever_the_default(
    tmp_path: Path, strength: str | None
) -> None:
    # GIVEN an app whose default cross-stack reference strength is `strength` (None: unset,
    # which CDK treats as strong), a repository stack, a producer and a consumer stack
    context = {} if strength is None else {"@aws-cdk/core:defaultCrossStackReferences": strength}
    app = cdk.App(outdir=str(tmp_path / "cdk.out"), context=context)
    repo = cdk.Stack(app, "Repo")
    domain = cdk.CfnResource(repo, "Domain", type="AWS::CodeArtifact::Domain")
    producer = cdk.Stack(app, "Producer")
    bucket = s3.Bucket.from_bucket_name(producer, "B", "my-bucket")
    version = _version(
        producer,
        "V",
        [PackageAsset.from_bucket(bucket, "k/model.bin")],
        domain=domain.get_att("Name").to_string(),
    )
    consumer = cdk.Stack(app, "Consumer")
    # WHEN the consumer uses every value that changes with a bump, and the domain name
    changing = [
        version.attr_version_revision,
        version.attr_status,
        version.attr_asset_count,
        version.asset_sha256("model.bin"),
        version.resource.ref,
    ]
    for index, value in enumerate(changing):
        cdk.CfnOutput(consumer, f"Changing{index}", value=value)
    cdk.CfnOutput(consumer, "Domain", value=version.domain)
    assembly = app.synth()
    produced = assembly.get_stack_by_name("Producer").template
    consumed = assembly.get_stack_by_name("Consumer").template

    # THEN each changing value is read with Fn::GetStackOutput from a plain output of Producer
    outputs = consumed["Outputs"]
    for index in range(len(changing)):
        read = outputs[f"Changing{index}"]["Value"]["Fn::GetStackOutput"]
        assert read["StackName"] == "Producer"
        assert "Export" not in produced["Outputs"][read["OutputName"]]
    # AND Producer exports nothing, so a bump can change those outputs freely
    assert not any("Export" in output for output in produced["Outputs"].values())
    # AND the domain name, which never changes, keeps the app's default strength
    if strength == "weak":
        assert outputs["Domain"]["Value"]["Fn::GetStackOutput"]["StackName"] == "Repo"
    else:
        assert "Fn::ImportValue" in outputs["Domain"]["Value"]
    assert len(_stack_outputs_read(consumed)) == len(changing) + (strength == "weak")


def test_a_consumer_may_still_ask_for_a_strong_reference_to_one_value(tmp_path: Path) -> None:
    # GIVEN a weak-by-default app and a version in a producer stack
    app = cdk.App(
        outdir=str(tmp_path / "cdk.out"),
        context={"@aws-cdk/core:defaultCrossStackReferences": "weak"},
    )
    producer = cdk.Stack(app, "Producer")
    version = _version(producer, "V", [PackageAsset.from_data("a.txt", "a")])
    consumer = cdk.Stack(app, "Consumer")
    # WHEN a consumer asks for a strong reference to the revision explicitly
    strong = cdk.Stack.consume_reference(
        version.attr_version_revision, cdk.ReferenceStrength.STRONG
    )
    cdk.CfnOutput(consumer, "Strong", value=strong)
    cdk.CfnOutput(consumer, "Weak", value=version.attr_status)
    assembly = app.synth()
    # THEN that one value is an export it imports (which will block the next bump), the other
    # stays weak
    outputs = assembly.get_stack_by_name("Consumer").template["Outputs"]
    export = outputs["Strong"]["Value"]["Fn::ImportValue"]
    assert export.startswith("Producer:")
    assert "Fn::GetStackOutput" in outputs["Weak"]["Value"]
    produced = assembly.get_stack_by_name("Producer").template["Outputs"]
    assert [o["Export"]["Name"] for o in produced.values() if "Export" in o] == [export]


def test_package_arn_uses_explicit_domain_owner(
    stack: cdk.Stack, make_file: Callable[[str, bytes], Path]
) -> None:
    # GIVEN a domain owned by another account
    version = _version(
        stack,
        "V",
        [PackageAsset.from_file(str(make_file("a.bin", b"a")))],
        domain_owner="111122223333",
    )
    # THEN the owner is passed to the handler and used in the package ARN
    Template.from_stack(stack).has_resource_properties(RESOURCE, {"DomainOwner": "111122223333"})
    arn = json.dumps(stack.resolve(version.package_arn))
    assert "111122223333" in arn
    assert "package/my-domain/my-repo/generic/tools/mycli" in arn
    assert json.dumps(stack.resolve(version.package_version_arn)).endswith('mycli/1.0.0"]]}')


def _grants(template: Template, role: iam.Role) -> dict[str, list[Any]]:
    """Action → the resources ``role``'s policies allow it on (resolved, as in the template)."""
    stack = cdk.Stack.of(role)
    role_ref = {"Ref": stack.get_logical_id(role.node.default_child)}  # type: ignore[arg-type]
    grants: dict[str, list[Any]] = {}
    for policy in template.find_resources("AWS::IAM::Policy").values():
        if role_ref not in policy["Properties"]["Roles"]:
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow"
            actions = statement["Action"]
            for action in actions if isinstance(actions, list) else [actions]:
                grants.setdefault(action, []).append(statement["Resource"])
    return grants


def test_grant_read_gives_exactly_the_download_actions_on_the_package(
    stack: cdk.Stack, make_file: Callable[[str, bytes], Path]
) -> None:
    # GIVEN a version and a role
    version = _version(stack, "V", [PackageAsset.from_file(str(make_file("a.bin", b"a")))])
    role = iam.Role(stack, "Reader", assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"))
    # WHEN read access is granted
    version.grant_read(role)
    # THEN the role may describe the version, list and download its assets, on this package's
    # ARN only: no repository-wide read, no authorization token, no bearer token
    grants = _grants(Template.from_stack(stack), role)
    package = stack.resolve(version.package_arn)
    assert grants == {
        "codeartifact:DescribePackageVersion": [package],
        "codeartifact:ListPackageVersionAssets": [package],
        "codeartifact:GetPackageVersionAsset": [package],
    }


def test_grant_read_with_package_manager_access_adds_the_endpoint_and_token_actions(
    stack: cdk.Stack, make_file: Callable[[str, bytes], Path]
) -> None:
    # GIVEN a version and a role
    version = _version(stack, "V", [PackageAsset.from_file(str(make_file("a.bin", b"a")))])
    role = iam.Role(stack, "Reader", assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"))
    # WHEN read access is granted for a package manager
    version.grant_read(role, package_manager_access=True)
    # THEN the repository endpoint, the domain's authorization token and the CodeArtifact
    # bearer token come on top of the download actions
    grants = _grants(Template.from_stack(stack), role)
    assert set(grants) == {
        "codeartifact:DescribePackageVersion",
        "codeartifact:ListPackageVersionAssets",
        "codeartifact:GetPackageVersionAsset",
        "codeartifact:ReadFromRepository",
        "codeartifact:GetRepositoryEndpoint",
        "codeartifact:GetAuthorizationToken",
        "sts:GetServiceBearerToken",
    }
    assert ":repository/my-domain/my-repo" in json.dumps(grants["codeartifact:ReadFromRepository"])
    assert ":domain/my-domain" in json.dumps(grants["codeartifact:GetAuthorizationToken"])
    assert grants["sts:GetServiceBearerToken"] == ["*"]
    assert '"sts:AWSServiceName": "codeartifact.amazonaws.com"' in json.dumps(
        _policy_statements(Template.from_stack(stack))
    )


def test_handler_bundle_holds_handler_and_crhelper_without_bytecode(
    stack: cdk.Stack, make_file: Callable[[str, bytes], Path]
) -> None:
    # GIVEN a version
    _version(stack, "V", [PackageAsset.from_file(str(make_file("a.bin", b"a")))])
    # WHEN the app is synthesized (local bundling, no docker)
    assembly = stack.node.root.synth()  # type: ignore[attr-defined]
    outdir = Path(assembly.directory)
    bundles = [p for p in outdir.glob("asset.*") if (p / "codeartifact_generic_handler").is_dir()]
    # THEN the Lambda asset holds the handler package and crhelper, and no bytecode
    assert len(bundles) == 1
    bundle = bundles[0]
    assert (bundle / "codeartifact_generic_handler" / "index.py").is_file()
    assert (bundle / "codeartifact_generic_handler" / "contract.py").is_file()
    assert (bundle / "crhelper" / "resource_helper.py").is_file()
    assert not list(bundle.rglob("__pycache__"))


def test_cloudformation_sends_delete_so_the_handler_applies_the_removal_policy(
    stack: cdk.Stack, make_file: Callable[[str, bytes], Path]
) -> None:
    # GIVEN a version
    _version(stack, "V", [PackageAsset.from_file(str(make_file("a.bin", b"a")))])
    # THEN CloudFormation itself deletes (never retains) the custom resource, so Delete events
    # (stack deletion, replacement cleanup, rollback) reach the handler
    resource = next(iter(Template.from_stack(stack).find_resources(RESOURCE).values()))
    assert resource.get("DeletionPolicy", "Delete") == "Delete"
    assert resource.get("UpdateReplacePolicy", "Delete") == "Delete"


def test_tmp_space_grows_only_when_an_asset_may_be_spooled(tmp_path: Path) -> None:
    # GIVEN a stack with only synth-time hashes, and one with an S3 object of unknown hash
    def storage(*assets: PackageAsset) -> object:
        stack = cdk.Stack(cdk.App(outdir=str(tmp_path / f"out{len(assets)}")), "S")
        _version(stack, "V", list(assets))
        (function,) = Template.from_stack(stack).find_resources("AWS::Lambda::Function").values()
        return function["Properties"]["EphemeralStorage"]["Size"]

    (tmp_path / "a.bin").write_bytes(b"a")
    local = PackageAsset.from_file(str(tmp_path / "a.bin"))
    # THEN /tmp stays at the Lambda default, or is the maximum when spooling may happen
    assert storage(local) == 512
    assert storage(local, PackageAsset.from_bucket("bucket", "k/m.bin")) == 10240


def test_handler_is_not_retried_after_answering(
    stack: cdk.Stack, make_file: Callable[[str, bytes], Path]
) -> None:
    _version(stack, "V", [PackageAsset.from_file(str(make_file("a.bin", b"a")))])
    Template.from_stack(stack).has_resource_properties(
        "AWS::Lambda::EventInvokeConfig", {"MaximumRetryAttempts": 0}
    )


def test_hash_attributes_beyond_the_guaranteed_count_are_refused(stack: cdk.Stack) -> None:
    # GIVEN 17 bucket assets without a known hash
    assets = [PackageAsset.from_bucket("bucket", f"k/{i}.bin") for i in range(17)]
    version = _version(stack, "V", assets)
    # THEN the first 16 hashes are GetAtts, the 17th is refused at synth with the fix
    assert "Fn::GetAtt" in json.dumps(stack.resolve(version.asset_sha256("15.bin")))
    with pytest.raises(ValueError, match="pass sha256= to from_bucket"):
        version.asset_sha256("16.bin")


def test_memory_and_tmp_are_the_largest_any_version_of_the_stack_asks_for(stack: cdk.Stack) -> None:
    # GIVEN two versions in one stack with different needs
    _version(stack, "A", [PackageAsset.from_data("a", "x")], memory_size=2048)
    _version(
        stack,
        "B",
        [PackageAsset.from_data("b", "y")],
        version="2",
        ephemeral_storage_size=cdk.Size.gibibytes(2),
    )
    # THEN the shared function gets the largest of each
    Template.from_stack(stack).has_resource_properties(
        "AWS::Lambda::Function", {"MemorySize": 2048, "EphemeralStorage": {"Size": 2048}}
    )


def test_out_of_range_memory_is_rejected(stack: cdk.Stack) -> None:
    from codeartifact_generic import ValidationError

    with pytest.raises(ValidationError, match="memory_size must be 128 to 10240 MiB, got 64"):
        _version(stack, "A", [PackageAsset.from_data("a", "x")], memory_size=64)
