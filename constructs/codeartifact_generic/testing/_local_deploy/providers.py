"""Resource providers: what Create/Update/Delete means for each resource type locally.

Emulated against local servers: ``AWS::CodeArtifact::Domain`` and ``::Repository`` (the
CodeArtifact endpoint), ``AWS::S3::Bucket`` with its tags (the S3 endpoint), and
``Custom::S3AutoDeleteObjects`` (what the CDK's Node.js handler does for
``Bucket(auto_delete_objects=True)``, done here in Python). Recorded with their
configuration: ``AWS::Lambda::Function`` (code unpacked into the state directory so custom
resources can run it) and ``AWS::Lambda::LayerVersion`` (content unpacked too: a function's
layers are its ``/opt``, see :mod:`.lambda_runner`), ``AWS::SSM::Parameter`` (the value is
kept for ``{{resolve:ssm:…}}`` and ``AWS::SSM::Parameter::Value<String>`` parameters),
``AWS::IAM::*`` (nothing to enforce locally). Every other type gets
:class:`RecordOnlyProvider`: recorded, not emulated, with a visible warning. Custom resources
live in :mod:`.custom_resources`.

Providers raise :class:`ProviderError` with a CloudFormation-like reason on failure.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import string
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Final, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from .intrinsics import ResolutionError
from .lambda_runner import LambdaFunction, fetch_code
from .progress import Reporter
from .state import ResourceState

if TYPE_CHECKING:
    from mypy_boto3_codeartifact import CodeArtifactClient
    from mypy_boto3_s3 import S3Client

    from .lambda_runner import LambdaRunner
    from .response_server import ResponseServer

__all__ = [
    "CodeArtifactDomainProvider",
    "CodeArtifactRepositoryProvider",
    "IamProvider",
    "LambdaFunctionProvider",
    "LambdaLayerVersionProvider",
    "ProviderContext",
    "ProviderError",
    "ProvisionResult",
    "RecordOnlyProvider",
    "ResourceProvider",
    "ResourceRequest",
    "S3AutoDeleteObjectsProvider",
    "S3BucketProvider",
    "SsmParameterProvider",
    "default_providers",
    "generate_name",
    "lambda_function_from_state",
    "layer_content_dir",
]

_RANDOM_ALPHABET: Final = string.ascii_uppercase + string.digits
_Answer = TypeVar("_Answer")


class ProviderError(Exception):
    """A resource operation failed.

    Args:
        reason: the status reason CloudFormation would show.
        physical_id: for a failed create, the id the resource answered with (custom
            resources): CloudFormation sends the rollback Delete for it.
    """

    def __init__(self, reason: str, *, physical_id: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.physical_id = physical_id


@dataclass(frozen=True)
class ResourceRequest:
    """One Create or Update: the resolved properties and where the resource lives."""

    stack_name: str
    stack_id: str
    logical_id: str
    resource_type: str
    properties: dict[str, Any]


@dataclass
class ProvisionResult:
    """What a create or update produced; a new ``physical_id`` on update means replacement."""

    physical_id: str
    attributes: dict[str, Any] = field(default_factory=dict)
    internal: dict[str, Any] = field(default_factory=dict)


@dataclass
class ProviderContext:
    """Services providers may use; the engine builds it (clients are created lazily)."""

    account_id: str
    region: str
    partition: str
    state_dir: Path
    reporter: Reporter
    s3: Callable[[], S3Client]
    codeartifact: Callable[[], CodeArtifactClient]
    lambda_runner: Callable[[], LambdaRunner]
    response_server: Callable[[], ResponseServer]
    #: Function name (or ARN) → the resource record of that Lambda function, if deployed.
    find_function: Callable[[str], ResourceState | None]
    #: SSM parameter name → (owner description, record) of the resource that owns it.
    find_ssm_parameter: Callable[[str], tuple[str, ResourceState] | None]
    log_dir: Path
    lambda_retries: int = 2
    #: A custom resource request id → whether crhelper is polling for it (an EventBridge
    #: rule's target carries the request, or a scheduled invocation for it still runs).
    polling_for: Callable[[str], bool] = lambda _request_id: False


class ResourceProvider:
    """Base provider: record the properties, fabricate ids; subclasses do real work.

    ``replacement_properties`` lists the properties whose change means replacement
    (``Update requires: Replacement`` in the CloudFormation reference); ``name_property`` is
    the custom-name property, for the "cannot replace a custom-named resource" rule.
    """

    emulated: ClassVar[bool] = True
    replacement_properties: ClassVar[frozenset[str]] = frozenset()
    name_property: ClassVar[str | None] = None
    #: An update is undone by another Update with the old properties (custom resources);
    #: otherwise by deleting the replacement or updating back.
    rolls_back_by_update: ClassVar[bool] = False
    #: Its operations take a while (a Lambda function runs): progress says when one starts,
    #: and a Create still running when another resource fails is cancelled.
    long_running: ClassVar[bool] = False
    #: A failed Create may have left something behind: CloudFormation sends it a Delete.
    failed_create_leaves_resource: ClassVar[bool] = False

    def create(self, ctx: ProviderContext, request: ResourceRequest) -> ProvisionResult:
        """Create the resource."""
        return ProvisionResult(physical_id=generate_name(request.stack_name, request.logical_id))

    def update(
        self, ctx: ProviderContext, request: ResourceRequest, current: ResourceState
    ) -> ProvisionResult:
        """Replace (create anew and return the new physical id) when the change requires it and
        the custom name changes too; otherwise :meth:`update_in_place`."""
        if self.requires_replacement(current.properties, request.properties):
            self.check_custom_name(current.properties, request.properties, request.logical_id)
            return self.create(ctx, request)
        return self.update_in_place(ctx, request, current)

    def update_in_place(
        self, ctx: ProviderContext, request: ResourceRequest, current: ResourceState
    ) -> ProvisionResult:
        """An update that does not replace the resource: the same ids and attributes."""
        return ProvisionResult(
            current.physical_id, dict(current.attributes), dict(current.internal)
        )

    def delete(
        self, ctx: ProviderContext, resource: ResourceState, stack_name: str, stack_id: str
    ) -> None:
        """Delete the resource (a missing resource counts as deleted)."""

    def ref(self, resource: ResourceState) -> Any:
        """``Ref``: the physical id unless the type says otherwise."""
        return resource.physical_id

    def get_att(self, resource: ResourceState, attribute: str) -> Any:
        """``Fn::GetAtt``: the resource's attribute, or ResolutionError with CloudFormation's
        reason (:meth:`_no_attribute`)."""
        if attribute in resource.attributes:
            return resource.attributes[attribute]
        raise ResolutionError(self._no_attribute(resource, attribute))

    def _no_attribute(self, resource: ResourceState, attribute: str) -> str:
        """What CloudFormation says when a template reads an attribute the resource lacks."""
        return (
            f"Template error: resource {resource.logical_id} ({resource.type}) does not "
            f"support attribute {attribute}"
        )

    def requires_replacement(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
        """Whether changing ``old`` into ``new`` replaces the resource."""
        return any(old.get(p) != new.get(p) for p in self.replacement_properties)

    def check_custom_name(
        self, old: Mapping[str, Any], new: Mapping[str, Any], logical_id: str
    ) -> None:
        """Refuse to replace a resource whose custom name stays the same (CloudFormation rule)."""
        name = self.name_property
        if name and old.get(name) is not None and old.get(name) == new.get(name):
            raise ProviderError(
                "CloudFormation cannot update a stack when a custom-named resource requires "
                f"replacing. Rename {old.get(name)} and update the stack again."
            )


def generate_name(
    stack_name: str, logical_id: str, *, max_length: int = 64, lowercase: bool = False
) -> str:
    """A CloudFormation-style generated name: ``Stack-Logical-RANDOM``, cut to ``max_length``."""
    suffix = "".join(secrets.choice(_RANDOM_ALPHABET) for _ in range(12))
    room = max(2, max_length - len(suffix) - 2)
    stack_part = stack_name[: room // 2]
    logical_part = logical_id[: room - len(stack_part)]
    name = f"{stack_part}-{logical_part}-{suffix}"[:max_length]
    return name.lower() if lowercase else name


def _client_reason(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = error.get("Code", "Error")
        message = error.get("Message", str(exc))
        return f'Resource handler returned message: "{message}" (HandlerErrorCode: {code})'
    return f'Resource handler returned message: "{exc}"'


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


# ---------------------------------------------------------------------------- record only


class RecordOnlyProvider(ResourceProvider):
    """Not emulated: the properties are recorded, ids fabricated, and a warning shown."""

    emulated = False

    def get_att(self, resource: ResourceState, attribute: str) -> Any:
        """A fabricated value (``Arn`` looks like an ARN)."""
        if attribute in resource.attributes:
            return resource.attributes[attribute]
        if attribute == "Arn" or attribute.endswith("Arn"):
            service = resource.type.split("::")[1].lower() if "::" in resource.type else "unknown"
            return f"arn:aws:{service}:::{resource.physical_id}"
        return f"{resource.physical_id}.{attribute}"


class IamProvider(ResourceProvider):
    """``AWS::IAM::Role``, ``::Policy``, ``::ManagedPolicy``: recorded (IAM is not enforced)."""

    _NAMES: ClassVar[dict[str, str]] = {
        "AWS::IAM::Role": "RoleName",
        "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
        "AWS::IAM::Policy": "PolicyName",
        "AWS::IAM::InstanceProfile": "InstanceProfileName",
    }

    def create(self, ctx: ProviderContext, request: ResourceRequest) -> ProvisionResult:
        """Fabricate the name and ARN."""
        name_key = self._NAMES.get(request.resource_type, "")
        name = str(
            request.properties.get(name_key)
            or generate_name(request.stack_name, request.logical_id)
        )
        kind = {
            "AWS::IAM::Role": "role",
            "AWS::IAM::ManagedPolicy": "policy",
            "AWS::IAM::InstanceProfile": "instance-profile",
        }.get(request.resource_type)
        path = str(request.properties.get("Path") or "/")
        # Return values per type (CloudFormation template reference, each type's "Return
        # values"): a role has Arn and RoleId, a managed policy PolicyArn and PolicyId, an
        # instance profile Arn; Ref is the name, except a managed policy's (its ARN) and an
        # inline policy's (a generated id).
        attributes: dict[str, Any] = {}
        physical = name
        if kind:
            arn = f"arn:{ctx.partition}:iam::{ctx.account_id}:{kind}{path}{name}"
            unique_id = secrets.token_hex(8).upper()
            if request.resource_type == "AWS::IAM::Role":
                attributes = {"Arn": arn, "RoleId": "AROA" + unique_id}
            elif request.resource_type == "AWS::IAM::ManagedPolicy":
                attributes = {"PolicyArn": arn, "PolicyId": "ANPA" + unique_id}
                physical = arn
            else:
                attributes = {"Arn": arn}
        if request.resource_type == "AWS::IAM::Policy":
            physical = generate_name(request.stack_name, request.logical_id)[:64]
            attributes = {"Id": physical}
        return ProvisionResult(physical_id=physical, attributes=attributes)

    def update(
        self, ctx: ProviderContext, request: ResourceRequest, current: ResourceState
    ) -> ProvisionResult:
        """A name change replaces; anything else is recorded."""
        name_key = self._NAMES.get(request.resource_type, "")
        if (
            name_key
            and name_key != "PolicyName"
            and current.properties.get(name_key) != request.properties.get(name_key)
        ):
            return self.create(ctx, request)
        return ProvisionResult(current.physical_id, dict(current.attributes))


# ---------------------------------------------------------------------------- S3


class S3BucketProvider(ResourceProvider):
    """``AWS::S3::Bucket`` in the local S3 (the bucket itself; its configuration is recorded)."""

    replacement_properties = frozenset({"BucketName"})
    name_property = "BucketName"

    def create(self, ctx: ProviderContext, request: ResourceRequest) -> ProvisionResult:
        """Create the bucket (``BucketName`` or a generated lowercase name)."""
        name = str(
            request.properties.get("BucketName")
            or generate_name(request.stack_name, request.logical_id, max_length=63, lowercase=True)
        )
        s3 = ctx.s3()
        try:
            if ctx.region == "us-east-1":
                s3.create_bucket(Bucket=name)
            else:
                s3.create_bucket(
                    Bucket=name,
                    CreateBucketConfiguration={"LocationConstraint": ctx.region},  # type: ignore[typeddict-item]
                )
        except (ClientError, BotoCoreError) as exc:
            if isinstance(exc, ClientError) and _error_code(exc) == "BucketAlreadyOwnedByYou":
                raise ProviderError(f"{name} already exists") from None
            raise ProviderError(_client_reason(exc)) from None
        self._tag(ctx, name, [], request.properties.get("Tags") or [])
        suffix = "amazonaws.com"
        return ProvisionResult(
            physical_id=name,
            attributes={
                "Arn": f"arn:{ctx.partition}:s3:::{name}",
                "DomainName": f"{name}.s3.{suffix}",
                "RegionalDomainName": f"{name}.s3.{ctx.region}.{suffix}",
                "DualStackDomainName": f"{name}.s3.dualstack.{ctx.region}.{suffix}",
                "WebsiteURL": f"http://{name}.s3-website-{ctx.region}.{suffix}",
            },
        )

    def update_in_place(
        self, ctx: ProviderContext, request: ResourceRequest, current: ResourceState
    ) -> ProvisionResult:
        """New ``Tags`` are applied (a new ``BucketName`` replaces)."""
        self._tag(
            ctx,
            current.physical_id,
            current.properties.get("Tags") or [],
            request.properties.get("Tags") or [],
        )
        return super().update_in_place(ctx, request, current)

    @staticmethod
    def _tag(ctx: ProviderContext, bucket: str, old: list[Any], new: list[Any]) -> None:
        """The bucket's tags (CDK tags buckets for ``auto_delete_objects`` and for the
        ``BucketDeployment``s that own a prefix; both handlers read them)."""
        if old == new:
            return
        tags = [{"Key": str(t["Key"]), "Value": str(t["Value"])} for t in new]
        s3 = ctx.s3()
        try:
            if tags:
                s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tags})  # type: ignore[typeddict-item]
            else:
                s3.delete_bucket_tagging(Bucket=bucket)
        except (ClientError, BotoCoreError) as exc:
            raise ProviderError(_client_reason(exc)) from None

    def delete(
        self, ctx: ProviderContext, resource: ResourceState, stack_name: str, stack_id: str
    ) -> None:
        """Delete the bucket; fails, as in AWS, when it is not empty."""
        try:
            ctx.s3().delete_bucket(Bucket=resource.physical_id)
        except ClientError as exc:
            if _error_code(exc) in ("NoSuchBucket", "404"):
                return
            raise ProviderError(_client_reason(exc)) from None


#: The tag CDK puts on a bucket with ``auto_delete_objects=True``.
_AUTO_DELETE_TAG: Final = "aws-cdk:auto-delete-objects"


class S3AutoDeleteObjectsProvider(ResourceProvider):
    """``Custom::S3AutoDeleteObjects`` (``Bucket(auto_delete_objects=True)``), natively.

    CDK backs it with a Node.js function, which cannot run here; this does what that handler
    does (aws-cdk ``packages/@aws-cdk/custom-resource-handlers/lib/aws-s3/
    auto-delete-objects-handler/index.ts``): nothing on Create, the new bucket name as the
    physical id on Update, and on Delete every object version and delete marker of
    ``BucketName`` is removed when the bucket still carries the ``aws-cdk:auto-delete-objects``
    tag (a bucket that is gone counts as emptied). The deny-``PutObject`` policy the handler
    sets first (against writers racing the deletion) is not emulated.
    """

    def create(self, ctx: ProviderContext, request: ResourceRequest) -> ProvisionResult:
        """Nothing to do; the physical id is a request id, as the handler framework answers."""
        return ProvisionResult(physical_id=str(uuid.uuid4()))

    def update(
        self, ctx: ProviderContext, request: ResourceRequest, current: ResourceState
    ) -> ProvisionResult:
        """The bucket name becomes the physical id (the handler's ``onUpdate``)."""
        bucket = request.properties.get("BucketName") or current.properties.get("BucketName")
        return ProvisionResult(physical_id=str(bucket or current.physical_id))

    def delete(
        self, ctx: ProviderContext, resource: ResourceState, stack_name: str, stack_id: str
    ) -> None:
        """Empty the bucket if it is still tagged for automatic deletion."""
        bucket = resource.properties.get("BucketName")
        if not bucket:
            raise ProviderError("No BucketName was provided.")
        s3 = ctx.s3()
        try:
            tags = s3.get_bucket_tagging(Bucket=str(bucket)).get("TagSet", [])
            if not any(t["Key"] == _AUTO_DELETE_TAG and t["Value"] == "true" for t in tags):
                ctx.reporter.warn(
                    f"{stack_name}/{resource.logical_id}: bucket {bucket} does not have the "
                    f"'{_AUTO_DELETE_TAG}' tag, skipping cleaning"
                )
                return
            while True:
                listing = s3.list_object_versions(Bucket=str(bucket))
                objects = [
                    {"Key": item["Key"], "VersionId": item["VersionId"]}
                    for item in [*listing.get("Versions", []), *listing.get("DeleteMarkers", [])]
                ]
                if not objects:
                    return
                s3.delete_objects(Bucket=str(bucket), Delete={"Objects": objects})  # type: ignore[typeddict-item]
        except ClientError as exc:
            if _error_code(exc) in ("NoSuchBucket", "NoSuchTagSet"):
                return
            raise ProviderError(_client_reason(exc)) from None
        except BotoCoreError as exc:
            raise ProviderError(_client_reason(exc)) from None


# ---------------------------------------------------------------------------- SSM


class SsmParameterProvider(ResourceProvider):
    """``AWS::SSM::Parameter``: the value is kept in the state for dynamic references."""

    replacement_properties = frozenset({"Name"})
    name_property = "Name"

    def create(self, ctx: ProviderContext, request: ResourceRequest) -> ProvisionResult:
        """Record the parameter; a name owned by another resource fails, as in AWS."""
        props = request.properties
        if "Value" not in props:
            raise ProviderError("Properties validation failed: required key [Value] not found")
        name = str(props.get("Name") or generate_name("CFN", request.logical_id, max_length=128))
        owner = ctx.find_ssm_parameter(name)
        if owner is not None:
            raise ProviderError(
                f'Resource handler returned message: "{name} already exists in stack {owner[0]}"'
            )
        return ProvisionResult(
            physical_id=name,
            attributes={"Type": str(props.get("Type", "String")), "Value": props["Value"]},
        )

    def update_in_place(
        self, ctx: ProviderContext, request: ResourceRequest, current: ResourceState
    ) -> ProvisionResult:
        """The new value (a new ``Name`` replaces)."""
        props = request.properties
        return ProvisionResult(
            current.physical_id,
            {"Type": str(props.get("Type", "String")), "Value": props.get("Value")},
        )


# ---------------------------------------------------------------------------- Lambda


def _fetch_zip(ctx: ProviderContext, location: Mapping[str, Any], target: Path, what: str) -> Path:
    """Download the zip at ``location`` (``S3Bucket``, ``S3Key``, ``S3ObjectVersion``: a Lambda
    ``Code`` or a layer's ``Content``) from the local S3 and unpack it into ``target``.

    A missing object fails as in Lambda; another failure names ``what`` was being unpacked.
    """
    bucket, key = str(location["S3Bucket"]), str(location["S3Key"])
    try:
        return fetch_code(ctx.s3(), bucket, key, target, version=location.get("S3ObjectVersion"))
    except ClientError as exc:
        raise ProviderError(
            f'Resource handler returned message: "Error occurred while GetObject. S3 Error '
            f'Code: {_error_code(exc)}. S3 Error Message: s3://{bucket}/{key}"'
        ) from None
    except (BotoCoreError, ValueError, OSError) as exc:
        raise ProviderError(f"cannot unpack {what}: {exc}") from None


def lambda_function_from_state(resource: ResourceState) -> LambdaFunction:
    """The runnable function recorded by :class:`LambdaFunctionProvider`."""
    internal = resource.internal
    return LambdaFunction(
        function_name=resource.physical_id,
        handler=str(internal["handler"]),
        code_dir=Path(internal["code_dir"]),
        runtime=str(internal.get("runtime", "python3.12")),
        timeout_seconds=float(internal.get("timeout", 3)),
        memory_mb=int(internal.get("memory", 128)),
        environment=dict(internal.get("environment", {})),
        arn=str(resource.attributes.get("Arn", "")),
        layers=tuple(Path(layer) for layer in internal.get("layers", ())),
    )


class LambdaFunctionProvider(ResourceProvider):
    """``AWS::Lambda::Function``: the code is unpacked under the state directory.

    ``Code.S3Bucket``/``S3Key`` are downloaded from the local S3 (a missing object fails the
    create, as in AWS); ``Code.ZipFile`` becomes ``index.py``; container images are refused.
    """

    replacement_properties = frozenset({"FunctionName"})
    name_property = "FunctionName"

    def _unpack(self, ctx: ProviderContext, name: str, props: Mapping[str, Any]) -> Path:
        code = props.get("Code")
        if not isinstance(code, dict):
            raise ProviderError("Properties validation failed: required key [Code] not found")
        target = ctx.state_dir / "lambda" / name / secrets.token_hex(6)
        if "ImageUri" in code:
            raise ProviderError("container image functions (Code.ImageUri) cannot run locally")
        if "ZipFile" in code:
            target.mkdir(parents=True, exist_ok=True)
            (target / "index.py").write_text(str(code["ZipFile"]), encoding="utf-8")
            return target
        if not code.get("S3Bucket") or not code.get("S3Key"):
            raise ProviderError("Code needs S3Bucket and S3Key, or ZipFile")
        return _fetch_zip(ctx, code, target, f"the code of {name}")

    def _configure(
        self, ctx: ProviderContext, request: ResourceRequest, name: str
    ) -> ProvisionResult:
        props = request.properties
        runtime = str(props.get("Runtime", ""))
        if not props.get("Handler"):
            raise ProviderError("Properties validation failed: required key [Handler] not found")
        if not runtime.startswith("python"):
            ctx.reporter.warn(
                f"{request.stack_name}/{request.logical_id}: runtime {runtime or '(none)'} cannot "
                "run locally; custom resources backed by it will fail unless the kit emulates "
                "their type (Custom::S3AutoDeleteObjects)"
            )
        existing = ctx.find_function(name)
        if existing is not None and existing.logical_id != request.logical_id:
            raise ProviderError(
                f'Resource handler returned message: "Function already exist: {name}" '
                "(HandlerErrorCode: AlreadyExists)"
            )
        code_dir = self._unpack(ctx, name, props)
        layers = [self._layer(ctx, request, str(arn)) for arn in props.get("Layers") or []]
        env = (props.get("Environment") or {}).get("Variables") or {}
        return ProvisionResult(
            physical_id=name,
            attributes={
                "Arn": f"arn:{ctx.partition}:lambda:{ctx.region}:{ctx.account_id}:function:{name}",
            },
            internal={
                "code_dir": str(code_dir),
                "handler": str(props["Handler"]),
                "runtime": runtime,
                "timeout": float(props.get("Timeout", 3)),
                "memory": int(props.get("MemorySize", 128)),
                "environment": {str(k): str(v) for k, v in env.items()},
                "layers": [str(layer) for layer in layers if layer is not None],
            },
        )

    @staticmethod
    def _layer(ctx: ProviderContext, request: ResourceRequest, arn: str) -> Path | None:
        """The content of a layer deployed here; a layer from elsewhere only warns (the
        function may never run locally, and when it does its import fails plainly)."""
        content = layer_content_dir(ctx.state_dir, arn)
        if content is None or not content.is_dir():
            ctx.reporter.warn(
                f"{request.stack_name}/{request.logical_id}: layer {arn} is not deployed "
                "locally; the function runs without it"
            )
            return None
        return content

    def create(self, ctx: ProviderContext, request: ResourceRequest) -> ProvisionResult:
        """Record the function and unpack its code."""
        name = str(
            request.properties.get("FunctionName")
            or generate_name(request.stack_name, request.logical_id)
        )
        return self._configure(ctx, request, name)

    def update_in_place(
        self, ctx: ProviderContext, request: ResourceRequest, current: ResourceState
    ) -> ProvisionResult:
        """New code and configuration (a new ``FunctionName`` replaces)."""
        result = self._configure(ctx, request, current.physical_id)
        previous_code = current.internal.get("code_dir")
        if previous_code and previous_code != result.internal["code_dir"]:
            # A rollback unpacks the previous code again from S3, like Lambda would.
            shutil.rmtree(previous_code, ignore_errors=True)
        return result

    def delete(
        self, ctx: ProviderContext, resource: ResourceState, stack_name: str, stack_id: str
    ) -> None:
        """Forget the function and its unpacked code."""
        code_dir = resource.internal.get("code_dir")
        if code_dir:
            shutil.rmtree(code_dir, ignore_errors=True)
        shutil.rmtree(ctx.state_dir / "lambda" / resource.physical_id, ignore_errors=True)


_LAYER_ARN: Final = re.compile(r"^arn:[^:]+:lambda:[^:]*:[^:]*:layer:([^:]+):(\d+)$")
#: Layer version numbers are allocated one at a time (a name's versions are never reused).
_LAYER_VERSIONS: Final = threading.Lock()


def layer_content_dir(state_dir: Path, arn: str) -> Path | None:
    """Where :class:`LambdaLayerVersionProvider` unpacks the layer version ``arn`` (``None``
    for something that is not a layer version ARN)."""
    match = _LAYER_ARN.match(arn)
    if match is None:
        return None
    return state_dir / "layers" / match.group(1) / match.group(2)


class LambdaLayerVersionProvider(ResourceProvider):
    """``AWS::Lambda::LayerVersion``: its ``Content`` zip is unpacked under the state directory.

    Ref (and ``LayerVersionArn``): ``arn:…:layer:NAME:VERSION``, the version counting up per
    name (``LayerName``, or the logical id). A layer version is immutable: any change creates a
    new version (CloudFormation replaces the resource), and Delete removes the unpacked content.
    """

    def requires_replacement(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
        """Every property: a layer version never changes."""
        return dict(old) != dict(new)

    def create(self, ctx: ProviderContext, request: ResourceRequest) -> ProvisionResult:
        """Allocate the next version of the layer and unpack its content."""
        props = request.properties
        content = props.get("Content")
        if not isinstance(content, dict) or not content.get("S3Bucket") or not content.get("S3Key"):
            raise ProviderError("Properties validation failed: Content needs S3Bucket and S3Key")
        # Without LayerName, CloudFormation names the layer after its logical id: every new
        # content is then a new version of the same layer.
        name = str(props.get("LayerName") or request.logical_id)
        home = ctx.state_dir / "layers" / name
        with _LAYER_VERSIONS:
            home.mkdir(parents=True, exist_ok=True)
            counter = home / "last-version"
            version = int(counter.read_text(encoding="utf-8")) + 1 if counter.exists() else 1
            counter.write_text(str(version), encoding="utf-8")
        arn = f"arn:{ctx.partition}:lambda:{ctx.region}:{ctx.account_id}:layer:{name}:{version}"
        _fetch_zip(ctx, content, home / str(version), f"the content of layer {name}")
        return ProvisionResult(physical_id=arn, attributes={"LayerVersionArn": arn})

    def delete(
        self, ctx: ProviderContext, resource: ResourceState, stack_name: str, stack_id: str
    ) -> None:
        """Remove the unpacked content."""
        content = layer_content_dir(ctx.state_dir, resource.physical_id)
        if content is not None:
            shutil.rmtree(content, ignore_errors=True)


# ---------------------------------------------------------------------------- CodeArtifact


def _tags(props: Mapping[str, Any]) -> list[dict[str, str]]:
    return [
        {"key": str(t.get("Key")), "value": str(t.get("Value"))}
        for t in props.get("Tags") or []
        if isinstance(t, dict)
    ]


def _policy_text(document: Any) -> str:
    return document if isinstance(document, str) else json.dumps(document)


def _codeartifact_arn(ctx: ProviderContext, owner: str, resource: str) -> str:
    """The ARN of a CodeArtifact ``resource`` (``domain/NAME``, ...) of the ``owner`` account."""
    return f"arn:{ctx.partition}:codeartifact:{ctx.region}:{owner}:{resource}"


def _answer(call: Callable[[], _Answer]) -> _Answer:
    """Run an AWS call; a failure becomes a :class:`ProviderError` with CloudFormation's
    wording."""
    try:
        return call()
    except (ClientError, BotoCoreError) as exc:
        raise ProviderError(_client_reason(exc)) from None


def _secondary(ctx: ProviderContext, what: str, call: Callable[[], object]) -> None:
    """Run a configuration call; an endpoint that does not implement it only warns.

    The emulator implements the calls the construct needs, not every configuration API
    (policies, external connections, UpdateRepository): those settings are then recorded.
    """
    if not _call_tolerating(call, "UnknownOperationException"):
        ctx.reporter.warn(f"the CodeArtifact endpoint does not implement {what}: recorded only")


def _call_tolerating(call: Callable[[], object], tolerated: str) -> bool:
    """Run an AWS call; False when it failed with the ``tolerated`` error code, any other
    failure becomes a :class:`ProviderError` with CloudFormation's wording."""
    try:
        call()
    except ClientError as exc:
        if _error_code(exc) == tolerated:
            return False
        raise ProviderError(_client_reason(exc)) from None
    except BotoCoreError as exc:
        raise ProviderError(_client_reason(exc)) from None
    return True


class CodeArtifactDomainProvider(ResourceProvider):
    """``AWS::CodeArtifact::Domain`` in the CodeArtifact endpoint.

    Ref: the domain ARN. GetAtt: ``Name``, ``Owner``, ``Arn``, ``EncryptionKey``.
    """

    replacement_properties = frozenset({"DomainName", "EncryptionKey"})
    name_property = "DomainName"

    def create(self, ctx: ProviderContext, request: ResourceRequest) -> ProvisionResult:
        """``CreateDomain`` (+ ``PutDomainPermissionsPolicy``)."""
        props = request.properties
        name = props.get("DomainName")
        if not name:
            raise ProviderError("Properties validation failed: required key [DomainName] not found")
        client = ctx.codeartifact()
        kwargs: dict[str, Any] = {"domain": str(name)}
        if props.get("EncryptionKey"):
            kwargs["encryptionKey"] = str(props["EncryptionKey"])
        if _tags(props):
            kwargs["tags"] = _tags(props)
        result = self._result(ctx, _answer(lambda: client.create_domain(**kwargs))["domain"])
        if props.get("PermissionsPolicyDocument"):
            self._put_policy(ctx, str(name), props["PermissionsPolicyDocument"])
        return result

    def _result(self, ctx: ProviderContext, domain: Mapping[str, Any]) -> ProvisionResult:
        name = str(domain.get("name"))
        owner = str(domain.get("owner") or ctx.account_id)
        arn = str(domain.get("arn") or _codeartifact_arn(ctx, owner, f"domain/{name}"))
        return ProvisionResult(
            physical_id=arn,
            attributes={
                "Name": name,
                "Owner": owner,
                "Arn": arn,
                "EncryptionKey": str(domain.get("encryptionKey") or ""),
            },
        )

    def _put_policy(self, ctx: ProviderContext, name: str, document: Any) -> None:
        client = ctx.codeartifact()
        _secondary(
            ctx,
            "PutDomainPermissionsPolicy",
            lambda: client.put_domain_permissions_policy(
                domain=name, policyDocument=_policy_text(document)
            ),
        )

    def update_in_place(
        self, ctx: ProviderContext, request: ResourceRequest, current: ResourceState
    ) -> ProvisionResult:
        """The permissions policy (a new name or key replaces)."""
        new_policy = request.properties.get("PermissionsPolicyDocument")
        if new_policy and new_policy != current.properties.get("PermissionsPolicyDocument"):
            self._put_policy(ctx, str(current.attributes["Name"]), new_policy)
        return ProvisionResult(current.physical_id, dict(current.attributes))

    def delete(
        self, ctx: ProviderContext, resource: ResourceState, stack_name: str, stack_id: str
    ) -> None:
        """``DeleteDomain`` (fails while it has repositories, as in AWS)."""
        attrs = resource.attributes
        _call_tolerating(  # an already deleted domain is fine
            lambda: ctx.codeartifact().delete_domain(
                domain=str(attrs.get("Name")), domainOwner=str(attrs.get("Owner"))
            ),
            "ResourceNotFoundException",
        )


class CodeArtifactRepositoryProvider(ResourceProvider):
    """``AWS::CodeArtifact::Repository`` in the CodeArtifact endpoint.

    Ref: the repository ARN. GetAtt: ``Name``, ``DomainName``, ``DomainOwner``, ``Arn``.
    """

    replacement_properties = frozenset({"DomainName", "DomainOwner", "RepositoryName"})
    name_property = "RepositoryName"

    def create(self, ctx: ProviderContext, request: ResourceRequest) -> ProvisionResult:
        """``CreateRepository`` (+ external connections, permissions policy)."""
        props = request.properties
        for key in ("DomainName", "RepositoryName"):
            if not props.get(key):
                raise ProviderError(f"Properties validation failed: required key [{key}] not found")
        client = ctx.codeartifact()
        kwargs: dict[str, Any] = {
            "domain": str(props["DomainName"]),
            "repository": str(props["RepositoryName"]),
        }
        if props.get("DomainOwner"):
            kwargs["domainOwner"] = str(props["DomainOwner"])
        if props.get("Description"):
            kwargs["description"] = str(props["Description"])
        if props.get("Upstreams"):
            kwargs["upstreams"] = [{"repositoryName": str(u)} for u in props["Upstreams"]]
        if _tags(props):
            kwargs["tags"] = _tags(props)
        created = _answer(lambda: client.create_repository(**kwargs))["repository"]
        result = self._result(ctx, created)
        self._connections(ctx, result, [], props.get("ExternalConnections") or [])
        if props.get("PermissionsPolicyDocument"):
            self._put_policy(ctx, result, props["PermissionsPolicyDocument"])
        return result

    def _result(self, ctx: ProviderContext, repository: Mapping[str, Any]) -> ProvisionResult:
        name = str(repository.get("name"))
        domain = str(repository.get("domainName"))
        owner = str(repository.get("domainOwner") or ctx.account_id)
        arn = str(
            repository.get("arn") or _codeartifact_arn(ctx, owner, f"repository/{domain}/{name}")
        )
        return ProvisionResult(
            physical_id=arn,
            attributes={"Name": name, "DomainName": domain, "DomainOwner": owner, "Arn": arn},
        )

    def _where(self, result: ProvisionResult | ResourceState) -> dict[str, str]:
        attrs = result.attributes
        return {
            "domain": str(attrs["DomainName"]),
            "domainOwner": str(attrs["DomainOwner"]),
            "repository": str(attrs["Name"]),
        }

    def _connections(
        self,
        ctx: ProviderContext,
        where: ProvisionResult | ResourceState,
        old: Iterable[Any],
        new: Iterable[Any],
    ) -> None:
        old_set, new_set = {str(c) for c in old}, {str(c) for c in new}
        client = ctx.codeartifact()
        where_args = self._where(where)
        for connection in sorted(old_set - new_set):
            _secondary(
                ctx,
                "DisassociateExternalConnection",
                partial(
                    client.disassociate_external_connection,
                    **where_args,
                    externalConnection=connection,
                ),
            )
        for connection in sorted(new_set - old_set):
            _secondary(
                ctx,
                "AssociateExternalConnection",
                partial(
                    client.associate_external_connection,
                    **where_args,
                    externalConnection=connection,
                ),
            )

    def _put_policy(
        self, ctx: ProviderContext, where: ProvisionResult | ResourceState, document: Any
    ) -> None:
        client = ctx.codeartifact()
        where_args = self._where(where)
        _secondary(
            ctx,
            "PutRepositoryPermissionsPolicy",
            lambda: client.put_repository_permissions_policy(
                **where_args, policyDocument=_policy_text(document)
            ),
        )

    def update_in_place(
        self, ctx: ProviderContext, request: ResourceRequest, current: ResourceState
    ) -> ProvisionResult:
        """Description, upstreams, connections and policy (a new domain or name replaces)."""
        old, new = current.properties, request.properties
        if old.get("Description") != new.get("Description") or old.get("Upstreams") != new.get(
            "Upstreams"
        ):
            client = ctx.codeartifact()
            _secondary(
                ctx,
                "UpdateRepository",
                lambda: client.update_repository(
                    **self._where(current),
                    description=str(new.get("Description") or ""),
                    upstreams=[{"repositoryName": str(u)} for u in new.get("Upstreams") or []],
                ),
            )
        self._connections(
            ctx, current, old.get("ExternalConnections") or [], new.get("ExternalConnections") or []
        )
        new_policy = new.get("PermissionsPolicyDocument")
        if new_policy and new_policy != old.get("PermissionsPolicyDocument"):
            self._put_policy(ctx, current, new_policy)
        return ProvisionResult(current.physical_id, dict(current.attributes))

    def delete(
        self, ctx: ProviderContext, resource: ResourceState, stack_name: str, stack_id: str
    ) -> None:
        """``DeleteRepository``."""
        _call_tolerating(  # an already deleted repository is fine
            lambda: ctx.codeartifact().delete_repository(**self._where(resource)),
            "ResourceNotFoundException",
        )


def default_providers() -> dict[str, ResourceProvider]:
    """Resource type → provider for the emulated and recorded types."""
    iam = IamProvider()
    return {
        "AWS::CodeArtifact::Domain": CodeArtifactDomainProvider(),
        "AWS::CodeArtifact::Repository": CodeArtifactRepositoryProvider(),
        "AWS::Lambda::Function": LambdaFunctionProvider(),
        "AWS::Lambda::LayerVersion": LambdaLayerVersionProvider(),
        "AWS::SSM::Parameter": SsmParameterProvider(),
        "AWS::S3::Bucket": S3BucketProvider(),
        "Custom::S3AutoDeleteObjects": S3AutoDeleteObjectsProvider(),
        "AWS::IAM::Role": iam,
        "AWS::IAM::Policy": iam,
        "AWS::IAM::ManagedPolicy": iam,
        "AWS::IAM::InstanceProfile": iam,
    }
