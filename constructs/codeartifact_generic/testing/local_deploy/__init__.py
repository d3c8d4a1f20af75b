"""Play CloudFormation locally for a synthesized CDK app (``cdk.out``).

:class:`LocalCloudFormation` deploys and destroys the stacks of a cloud assembly against a
local S3 (moto) and the CodeArtifact emulator: assets are uploaded, intrinsic functions
resolved, CodeArtifact domains and repositories created, and custom resources run their real
Lambda handler code in a subprocess that answers to a local HTTPS ResponseURL (and can ask a
local CloudFormation API endpoint, ``DescribeStacks``, for the live stack status). State persists
in a directory so separate runs (the ``deploy``/``destroy`` CLI commands from
:func:`add_local_deploy_commands`) can update and destroy.

Nothing here imports ``aws_cdk``.
"""

from .assembly import AssemblyError, AssetManifest, CloudAssembly, FileAsset, StackArtifact
from .assets import PublishedAsset, publish_assets, zip_directory
from .cli import add_local_deploy_commands
from .cloudformation_api import CloudFormationEndpoint, StackDescription, StackDirectory
from .custom_resources import CustomResourceProvider
from .engine import DEFAULT_SSM_PARAMETERS, DestroyFailed, LocalCloudFormation
from .events import CustomResourceEvent, make_event, make_stack_id, stringify_properties
from .intrinsics import NO_VALUE, PseudoParameters, ResolutionError, Resolver
from .lambda_runner import Invocation, LambdaFunction, LambdaRunner
from .progress import Reporter
from .providers import ProviderContext, ProviderError, ProvisionResult, ResourceProvider
from .response_server import (
    CustomResourceResponse,
    ResponseServer,
    ResponseViolation,
    check_response,
)
from .stack_update import DeploymentFailed, LocalDeployError, StackSummary
from .state import OutputState, ResourceState, StackState, StateStore

__all__ = [
    "DEFAULT_SSM_PARAMETERS",
    "NO_VALUE",
    "AssemblyError",
    "AssetManifest",
    "CloudAssembly",
    "CloudFormationEndpoint",
    "CustomResourceEvent",
    "CustomResourceProvider",
    "CustomResourceResponse",
    "DeploymentFailed",
    "DestroyFailed",
    "FileAsset",
    "Invocation",
    "LambdaFunction",
    "LambdaRunner",
    "LocalCloudFormation",
    "LocalDeployError",
    "OutputState",
    "ProviderContext",
    "ProviderError",
    "ProvisionResult",
    "PseudoParameters",
    "PublishedAsset",
    "Reporter",
    "ResolutionError",
    "Resolver",
    "ResourceProvider",
    "ResourceState",
    "ResponseServer",
    "ResponseViolation",
    "StackArtifact",
    "StackDescription",
    "StackDirectory",
    "StackState",
    "StackSummary",
    "StateStore",
    "add_local_deploy_commands",
    "check_response",
    "make_event",
    "make_stack_id",
    "publish_assets",
    "stringify_properties",
    "zip_directory",
]
