"""``LocalCloudFormation``: deploy and destroy a synthesized CDK app against local servers.

Example::

    with MotoS3Server() as s3, LocalCloudFormation(
        ".local-deploy", s3_endpoint=s3.endpoint_url, codeartifact_endpoint=emulator_url
    ) as cfn:
        summaries = cfn.deploy("cdk.out")
        print(summaries[-1].outputs)
        cfn.destroy("cdk.out")

Deploy publishes each stack's file assets to the local S3, then plays the stack update (see
:mod:`.stack_update`). State persists in ``state_dir`` so another process can update or
destroy. Custom resources run their Lambda function's real code in a subprocess and answer to
a local HTTPS ResponseURL.

Handlers can ask the local CloudFormation about their stack: a local API endpoint
(:mod:`.cloudformation_api`, given to handlers as ``AWS_ENDPOINT_URL_CLOUDFORMATION``) answers
``DescribeStacks`` with the live stack status, which changes before each phase runs its
handlers (``UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS`` while the resources a failed update
created are deleted, ``DELETE_IN_PROGRESS`` while a stack is destroyed, …).

Handlers that poll with crhelper (``@helper.poll_create``) get a local EventBridge and Lambda
policy endpoint (:mod:`.scheduled_rules`, ``AWS_ENDPOINT_URL_EVENTBRIDGE`` and
``AWS_ENDPOINT_URL_LAMBDA``): the rules they put run on schedule and invoke the function
through the same runner, and the custom resource waits for the answer of the last poll.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final, Self, TypedDict

import boto3
from botocore.config import Config
from rich.console import Console

from .assembly import CloudAssembly, StackArtifact
from .assets import publish_assets
from .cloudformation_api import CloudFormationEndpoint, StackDirectory
from .custom_resources import CustomResourceProvider, is_custom_resource
from .deletion import delete_resource, kept_when_deleted
from .events import make_stack_id
from .intrinsics import ResolutionError, topological_order
from .lambda_runner import Invocation, LambdaRunner
from .progress import Reporter
from .providers import (
    ProviderContext,
    ProviderError,
    RecordOnlyProvider,
    ResourceProvider,
    default_providers,
    lambda_function_from_state,
)
from .response_server import ResponseServer
from .scheduled_rules import (
    DEFAULT_MINUTE_SECONDS,
    Firing,
    RuleScheduler,
    RuleStore,
    ScheduledRulesEndpoint,
)
from .scheduling import DEFAULT_MAX_PARALLEL, Scheduler
from .stack_update import DeploymentFailed, LocalDeployError, StackSummary, StackUpdate
from .state import ResourceState, StackState, StateStore

if TYPE_CHECKING:
    from mypy_boto3_codeartifact import CodeArtifactClient
    from mypy_boto3_s3 import S3Client

__all__ = ["DEFAULT_SSM_PARAMETERS", "DestroyFailed", "LocalCloudFormation"]

#: SSM parameters that exist in a bootstrapped account; ``BootstrapVersion`` reads these.
DEFAULT_SSM_PARAMETERS: Final[Mapping[str, str]] = {"/cdk-bootstrap/hnb659fds/version": "30"}
_BOOTSTRAP_VERSION: Final = re.compile(r"^/cdk-bootstrap/[^/]+/version$")


class _Credentials(TypedDict):
    aws_access_key_id: str
    aws_secret_access_key: str
    aws_session_token: str


#: What the boto3 clients of the local endpoints sign with.
_DUMMY_CREDENTIALS: Final[_Credentials] = {
    "aws_access_key_id": "testing",
    "aws_secret_access_key": "testing",
    "aws_session_token": "testing",
}


class DestroyFailed(LocalDeployError):
    """A stack could not be deleted (its exports are imported, or a resource failed)."""

    def __init__(self, stack_name: str, logical_id: str | None, reason: str) -> None:
        where = f"{logical_id} failed to delete" if logical_id else "delete failed"
        super().__init__(f"Stack {stack_name}: {where}: {reason}")
        self.stack_name = stack_name
        self.logical_id = logical_id
        self.reason = reason


class LocalCloudFormation:
    """Plays CloudFormation for a cloud assembly against local S3 and CodeArtifact endpoints.

    Handlers also get ``AWS_ENDPOINT_URL_CLOUDFORMATION`` = :attr:`cloudformation_endpoint`, a
    local CloudFormation API that answers ``DescribeStacks`` from :attr:`stack_directory` (the
    live status of every stack, updated before each phase invokes its handlers).

    Args:
        state_dir: where state (``state.json``), unpacked function code, handler logs and the
            response server's CA are kept; reuse it across runs.
        s3_endpoint: the local S3 (moto) endpoint; assets go there, handlers get it as
            ``AWS_ENDPOINT_URL_S3``.
        codeartifact_endpoint: the CodeArtifact emulator; used for CodeArtifact resources and
            given to handlers as ``AWS_ENDPOINT_URL_CODEARTIFACT``.
        account_id: the account (``AWS::AccountId``, ARNs, bootstrap bucket name).
        region: the region (``AWS::Region``, ``AWS_REGION`` of handlers).
        partition: ``AWS::Partition``.
        codeartifact_ca_bundle: CA PEM of an HTTPS CodeArtifact endpoint.
        console: where progress goes (a rich console on stdout by default).
        echo_handler_logs: also print every output line of the handlers (they always go to
            ``state_dir/logs/STACK/LOGICAL_ID/*.log``).
        lambda_retries: how often a function that errored without responding is run again
            (Lambda retries asynchronous invocations twice).
        kill_margin_seconds: how long past its timeout a handler may run before it is killed.
        ssm_parameters: extra SSM parameters (name → value) that "exist in the account".
        rollback: roll back failed deployments (``False`` is like ``cdk deploy --no-rollback``).
        providers: override or add resource providers (type → provider).
        max_parallel: resource operations run at once (CloudFormation runs independent
            resources in parallel; see :mod:`.scheduling`).
        polling_minute_seconds: how long a minute of an EventBridge schedule lasts for the
            rules handlers put (crhelper's polling, see :mod:`.scheduled_rules`): 60.0 is real
            time; less compresses time (the one departure: the functions still run as long
            as they run).
    """

    def __init__(
        self,
        state_dir: str | Path,
        s3_endpoint: str,
        codeartifact_endpoint: str | None = None,
        account_id: str = "123456789012",
        region: str = "us-east-1",
        *,
        partition: str = "aws",
        codeartifact_ca_bundle: str | Path | None = None,
        console: Console | None = None,
        echo_handler_logs: bool = False,
        lambda_retries: int = 2,
        kill_margin_seconds: float = 5.0,
        ssm_parameters: Mapping[str, str] | None = None,
        rollback: bool = True,
        providers: Mapping[str, ResourceProvider] | None = None,
        max_parallel: int = DEFAULT_MAX_PARALLEL,
        polling_minute_seconds: float = DEFAULT_MINUTE_SECONDS,
    ) -> None:
        self.state_dir = Path(state_dir).resolve()
        self.s3_endpoint = s3_endpoint
        self.codeartifact_endpoint = codeartifact_endpoint
        self.account_id = account_id
        self.region = region
        self.partition = partition
        self.codeartifact_ca_bundle = (
            Path(codeartifact_ca_bundle) if codeartifact_ca_bundle else None
        )
        self.reporter = Reporter(console)
        self.echo_handler_logs = echo_handler_logs
        self.lambda_retries = lambda_retries
        self.kill_margin_seconds = kill_margin_seconds
        self.ssm_parameters = {**DEFAULT_SSM_PARAMETERS, **(ssm_parameters or {})}
        self.rollback = rollback
        #: Runs resource operations in parallel; keeps the Creates it cancelled.
        self.scheduler = Scheduler(max_parallel)
        self.state = StateStore(self.state_dir)
        #: What the local CloudFormation API endpoint answers (live statuses of the stacks).
        self.stack_directory = StackDirectory(self.state)
        self.state.subscribe(self._publish)
        self._cloudformation_api: CloudFormationEndpoint | None = None
        #: EventBridge rules and Lambda policies the handlers put (crhelper's polling).
        self.rules = RuleStore(
            account_id,
            region,
            partition,
            minute_seconds=polling_minute_seconds,
            function_exists=lambda name: self.find_function(name) is not None,
        )
        self._events_api: ScheduledRulesEndpoint | None = None
        self._rule_scheduler: RuleScheduler | None = None
        #: Numbers each scheduled delivery's log (a delivery again in the same second too).
        self._deliveries = itertools.count(1)
        self._providers: dict[str, ResourceProvider] = {**default_providers(), **(providers or {})}
        self._custom = CustomResourceProvider()
        self._record_only = RecordOnlyProvider()
        self._response_server: ResponseServer | None = None
        self._runner: LambdaRunner | None = None
        #: Services are started on first use, possibly by resource operations in parallel.
        self._starting = threading.RLock()
        #: Guards a stack's records while its resources are deleted in parallel.
        self._deleting = threading.Lock()
        self._s3: S3Client | None = None
        self._codeartifact: CodeArtifactClient | None = None
        self._context = ProviderContext(
            account_id=account_id,
            region=region,
            partition=partition,
            state_dir=self.state_dir,
            reporter=self.reporter,
            s3=self.s3_client,
            codeartifact=self.codeartifact_client,
            lambda_runner=self.lambda_runner,
            response_server=self.response_server,
            find_function=self.find_function,
            find_ssm_parameter=self.find_ssm_parameter,
            log_dir=self.state_dir / "logs",
            lambda_retries=lambda_retries,
            polling_for=self.polling_for,
        )

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Wait for the Lambda functions of cancelled Creates to end (their timeouts bound
        that), stop the rule scheduler (waiting for the invocations it started), then the
        response server and the local API endpoints."""
        self.wait_for_abandoned()
        if self._rule_scheduler is not None:
            self._rule_scheduler.stop()
            self._rule_scheduler = None
        if self._events_api is not None:
            self._events_api.stop()
            self._events_api = None
            self._runner = None
        if self._response_server is not None:
            self._response_server.stop()
            self._response_server = None
            self._runner = None
        if self._cloudformation_api is not None:
            self._cloudformation_api.stop()
            self._cloudformation_api = None
            self._runner = None

    def wait_for_abandoned(self, timeout: float | None = None) -> bool:
        """Wait until the handlers of Creates CloudFormation cancelled have finished (in AWS
        they run on after the rollback too); False if some still run at ``timeout``."""
        return self.scheduler.wait_for_abandoned(timeout)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------------ services

    @property
    def context(self) -> ProviderContext:
        """Services handed to resource providers."""
        return self._context

    def s3_client(self) -> S3Client:
        """boto3 S3 client for the local S3 endpoint."""
        with self._starting:
            if self._s3 is None:
                self._s3 = boto3.client(
                    "s3",
                    endpoint_url=self.s3_endpoint,
                    region_name=self.region,
                    **_DUMMY_CREDENTIALS,
                )
            return self._s3

    def codeartifact_client(self) -> CodeArtifactClient:
        """boto3 CodeArtifact client for the CodeArtifact endpoint."""
        with self._starting:
            if self.codeartifact_endpoint is None:
                raise ProviderError(
                    "no CodeArtifact endpoint configured (pass codeartifact_endpoint / "
                    "--codeartifact-endpoint) for CodeArtifact resources"
                )
            if self._codeartifact is None:
                self._codeartifact = boto3.client(
                    "codeartifact",
                    endpoint_url=self.codeartifact_endpoint,
                    region_name=self.region,
                    verify=str(self.codeartifact_ca_bundle)
                    if self.codeartifact_ca_bundle
                    else None,
                    config=Config(retries={"mode": "standard", "max_attempts": 3}),
                    **_DUMMY_CREDENTIALS,
                )
            return self._codeartifact

    def response_server(self) -> ResponseServer:
        """The HTTPS ResponseURL server (started on first use)."""
        with self._starting:
            if self._response_server is None:
                self._response_server = ResponseServer(ca_dir=self.state_dir / "tls").start()
            return self._response_server

    def cloudformation_api(self) -> CloudFormationEndpoint:
        """The local CloudFormation API endpoint (``DescribeStacks``; started on first use)."""
        with self._starting:
            if self._cloudformation_api is None:
                self._cloudformation_api = CloudFormationEndpoint(self.stack_directory).start()
            return self._cloudformation_api

    @property
    def cloudformation_endpoint(self) -> str:
        """URL of the local CloudFormation API endpoint (started if need be); handlers get it
        as ``AWS_ENDPOINT_URL_CLOUDFORMATION``."""
        return self.cloudformation_api().url

    def events_api(self) -> ScheduledRulesEndpoint:
        """The local EventBridge and Lambda policy endpoint, with its rule scheduler (both
        started on first use)."""
        with self._starting:
            if self._events_api is None:
                self._events_api = ScheduledRulesEndpoint(self.rules).start()
            if self._rule_scheduler is None:
                self._rule_scheduler = RuleScheduler(self.rules, self._invoke_scheduled).start()
            return self._events_api

    @property
    def rule_scheduler(self) -> RuleScheduler | None:
        """The scheduler of the rules handlers put (``None`` until the endpoint is started)."""
        return self._rule_scheduler

    def polling_for(self, request_id: str) -> bool:
        """Whether crhelper polls for the custom resource request ``request_id``: a rule's
        target carries it, or a scheduled invocation for it still runs."""
        scheduler = self._rule_scheduler
        return scheduler is not None and scheduler.awaits(request_id)

    def _invoke_scheduled(self, firing: Firing) -> Invocation | None:
        """Run the function a rule targets with the rule's event (EventBridge's invocation)."""
        name = firing.function_name or ""
        record = self.find_function(name)
        if record is None:
            self.reporter.warn(
                f"EventBridge rule {firing.rule_name}: function {name} not found, not invoked"
            )
            return None
        invocation = self.lambda_runner().invoke(
            lambda_function_from_state(record), firing.event, log_path=self._scheduled_log(firing)
        )
        if invocation.error:
            self.reporter.warn(
                f"EventBridge rule {firing.rule_name} invoked {name}: {invocation.error} "
                f"(log: {invocation.log_path})"
            )
        return invocation

    def _scheduled_log(self, firing: Firing) -> Path:
        """Next to the custom resource's other logs when the event is a custom resource
        request (crhelper's polling), else under ``logs/_events/<rule>``."""
        stamp = time.strftime("%Y%m%dT%H%M%S")
        event = firing.event
        if isinstance(event, dict):
            stack_id = str(event.get("StackId", ""))
            logical_id = str(event.get("LogicalResourceId", ""))
            parts = stack_id.split(":stack/", 1)
            if len(parts) == 2 and logical_id:
                stack_name = parts[1].split("/", 1)[0]
                request = f"{event.get('RequestType', 'Event')}-{str(event.get('RequestId'))[:8]}"
                return (
                    self.context.log_dir
                    / stack_name
                    / logical_id
                    / f"{stamp}-{request}-poll{firing.run}-{next(self._deliveries)}.log"
                )
        return (
            self.context.log_dir
            / "_events"
            / firing.rule_name
            / f"{stamp}-{firing.run}-{next(self._deliveries)}.log"
        )

    def _publish(self, stack_name: str, stack: StackState | None) -> None:
        if stack is None:
            self.stack_directory.remove(stack_name)
        else:
            self.stack_directory.publish(stack)

    def lambda_runner(self) -> LambdaRunner:
        """The runner for handler subprocesses (wired to the local endpoints and CAs)."""
        with self._starting:
            if self._runner is None:
                server = self.response_server()
                self._runner = LambdaRunner(
                    work_dir=self.state_dir / "runs",
                    region=self.region,
                    account_id=self.account_id,
                    partition=self.partition,
                    s3_endpoint=self.s3_endpoint,
                    codeartifact_endpoint=self.codeartifact_endpoint,
                    cloudformation_endpoint=self.cloudformation_endpoint,
                    events_endpoint=self.events_api().url,
                    lambda_endpoint=self.events_api().url,
                    ca_files=(server.ca_file,),
                    codeartifact_ca_bundle=self.codeartifact_ca_bundle,
                    echo=self.reporter.detail if self.echo_handler_logs else None,
                    kill_margin_seconds=self.kill_margin_seconds,
                )
            return self._runner

    def provider_for(self, resource_type: str) -> ResourceProvider:
        """The provider that handles ``resource_type``."""
        if resource_type in self._providers:
            return self._providers[resource_type]
        if is_custom_resource(resource_type):
            return self._custom
        return self._record_only

    def find_function(self, name_or_arn: str) -> ResourceState | None:
        """The deployed ``AWS::Lambda::Function`` with this name (or ARN)."""
        name = name_or_arn
        if ":function:" in name_or_arn:
            name = name_or_arn.split(":function:", 1)[1].split(":", 1)[0]
        for stack in self.state:
            for record in stack.resources.values():
                if record.type == "AWS::Lambda::Function" and record.physical_id == name:
                    return record
        return None

    def find_ssm_parameter(self, name: str) -> tuple[str, ResourceState] | None:
        """(stack id, record) of the ``AWS::SSM::Parameter`` resource named ``name``."""
        for stack in self.state:
            for record in stack.resources.values():
                if record.type == "AWS::SSM::Parameter" and record.physical_id == name:
                    return stack.stack_id, record
        return None

    def ssm_value(self, name: str) -> str | None:
        """An SSM parameter's value: deployed parameters first, then configured ones."""
        found = self.find_ssm_parameter(name)
        if found is not None:
            value = found[1].attributes.get("Value")
            return None if value is None else str(value)
        if name in self.ssm_parameters:
            return self.ssm_parameters[name]
        if _BOOTSTRAP_VERSION.match(name):
            return DEFAULT_SSM_PARAMETERS["/cdk-bootstrap/hnb659fds/version"]
        return None

    def exports(self, *, excluding: str) -> dict[str, tuple[str, str]]:
        """Export name → (stack, value) of every stack except ``excluding``."""
        return self.state.exports(excluding=excluding)

    def importers(self, export_name: str, *, excluding: str) -> list[str]:
        """Stacks other than ``excluding`` that import ``export_name``."""
        return self.state.importers(export_name, excluding=excluding)

    def stack_output(self, stack_name: str, output_name: str) -> str:
        """``Fn::GetStackOutput``: output ``output_name`` of the deployed stack ``stack_name``
        (its name or stack id), read now. A weak reference: nothing is recorded as imported, so
        the producer may change or remove the output later.

        Raises:
            ResolutionError: the stack is not deployed, or has no such output.
        """
        stack = self.state.get(stack_name) or next(
            (s for s in self.state if s.stack_id == stack_name), None
        )
        if stack is None:
            raise ResolutionError(f"Fn::GetStackOutput: Stack with id {stack_name} does not exist")
        output = stack.outputs.get(output_name)
        if output is None:
            raise ResolutionError(
                f"Fn::GetStackOutput: Output {output_name} does not exist in stack {stack_name}"
            )
        return output.value

    def save(self, stack: StackState) -> None:
        """Persist ``stack``."""
        self.state.put(stack)

    def forget(self, stack_name: str) -> None:
        """Drop ``stack_name`` from the state."""
        self.state.remove(stack_name)

    # ------------------------------------------------------------------ queries

    def stack(self, stack_name: str) -> StackState | None:
        """The deployed stack, if any."""
        return self.state.get(stack_name)

    def outputs(self, stack_name: str) -> dict[str, str]:
        """Output name → value of a deployed stack (empty if not deployed)."""
        stack = self.state.get(stack_name)
        return stack.output_values() if stack else {}

    # ------------------------------------------------------------------ deploy

    def deploy(
        self,
        assembly_dir: str | Path,
        stacks: Sequence[str] | None = None,
        *,
        exclusively: bool = False,
        parameters: Mapping[str, Mapping[str, str]] | None = None,
    ) -> list[StackSummary]:
        """Deploy the stacks of a cloud assembly, dependencies first.

        Args:
            assembly_dir: the ``cdk.out`` directory.
            stacks: stack names (or display names) to deploy; all when empty. Their
                dependencies are deployed too unless ``exclusively``.
            exclusively: only the named stacks.
            parameters: stack name → {parameter: value}; the key ``"*"`` applies to every
                stack that declares the parameter.

        Raises:
            DeploymentFailed: a stack failed (it was rolled back; later stacks not deployed).
        """
        assembly = CloudAssembly.load(assembly_dir)
        selected = assembly.select(stacks, exclusively=exclusively)
        names = {s.artifact_id: s.stack_name for s in assembly.stacks}
        summaries: list[StackSummary] = []
        for artifact in selected:
            summaries.append(self._deploy_artifact(artifact, names, parameters or {}))
        return summaries

    def _deploy_artifact(
        self,
        artifact: StackArtifact,
        names: Mapping[str, str],
        parameters: Mapping[str, Mapping[str, str]],
    ) -> StackSummary:
        stack_name = artifact.stack_name
        self._check_environment(artifact)
        if artifact.asset_manifests:
            started = time.monotonic()
            try:
                published = publish_assets(
                    artifact.asset_manifests,
                    self.s3_client(),
                    account_id=self.account_id,
                    region=self.region,
                    partition=self.partition,
                )
            except LocalDeployError:
                raise
            except Exception as exc:
                raise DeploymentFailed(
                    stack_name, None, f"publishing assets failed: {exc}"
                ) from exc
            uploaded = sum(1 for p in published if p.uploaded)
            self.reporter.stack(
                stack_name,
                f"assets: {uploaded} uploaded, {len(published) - uploaded} already present "
                f"({time.monotonic() - started:.1f}s)",
                "dim",
            )
        template = artifact.load_template()
        previous = self.state.get(stack_name)
        if not template.get("Resources"):
            if previous is None:
                self.reporter.warn(f"{stack_name}: stack has no resources, skipping deployment")
                return StackSummary(stack_name, "SKIPPED", changed=False)
            self.reporter.warn(f"{stack_name}: stack has no resources, deleting the existing stack")
            self._delete_stack(previous, set())
            return StackSummary(stack_name, "DELETE_COMPLETE")
        previous = self._usable_previous(stack_name, previous)
        overrides = {
            **{
                k: v
                for k, v in parameters.get("*", {}).items()
                if k in (template.get("Parameters") or {})
            },
            **parameters.get(stack_name, {}),
        }
        dependencies = [names[d] for d in artifact.dependencies if d in names]
        update = StackUpdate(
            self,
            stack_name=stack_name,
            stack_id=previous.stack_id
            if previous
            else make_stack_id(
                region=self.region,
                account_id=self.account_id,
                stack_name=stack_name,
                partition=self.partition,
            ),
            template=template,
            previous=previous,
            parameters=overrides,
            dependencies=dependencies,
        )
        return update.run()

    def _check_environment(self, artifact: StackArtifact) -> None:
        env = artifact.environment
        if not env.startswith("aws://"):
            return
        account, _, region = env[len("aws://") :].partition("/")
        mismatched = [
            f"{what} {value} (local: {local})"
            for what, value, local in (
                ("account", account, self.account_id),
                ("region", region, self.region),
            )
            if not value.startswith("unknown-") and value != local
        ]
        if mismatched:
            self.reporter.warn(
                f"{artifact.stack_name} was synthesized for {', '.join(mismatched)}; literal "
                "values "
                "in its template keep the synthesized ones"
            )

    def _usable_previous(self, stack_name: str, previous: StackState | None) -> StackState | None:
        if previous is None:
            return None
        if previous.status in ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED"):
            # Like the CDK CLI: a stack whose creation failed is deleted, then created anew.
            self.reporter.warn(f"{stack_name}: is in {previous.status}; deleting it first")
            self._delete_stack(previous, set())
            return None
        if previous.status in ("UPDATE_ROLLBACK_FAILED", "DELETE_FAILED"):
            raise DeploymentFailed(
                stack_name,
                None,
                f"Stack:{previous.stack_id} is in {previous.status} state and can not be updated "
                "(destroy it to start over)",
            )
        if previous.status.endswith("_IN_PROGRESS"):
            self.reporter.warn(
                f"{stack_name}: an earlier run stopped while {previous.status}; continuing from "
                "the recorded resources"
            )
        return previous

    # ------------------------------------------------------------------ destroy

    def destroy(
        self,
        assembly_dir: str | Path | None = None,
        stacks: Sequence[str] | None = None,
        *,
        exclusively: bool = False,
    ) -> list[str]:
        """Delete stacks, dependents first; returns the names deleted.

        With ``assembly_dir``: the assembly's stacks that are deployed; when ``stacks`` are
        named, those plus (unless ``exclusively``) the stacks that depend on them, as
        ``cdk destroy`` does. Without ``assembly_dir``: the named stacks, or every deployed
        stack.

        Raises:
            DestroyFailed: an export is still imported by a stack not being deleted, or a
                resource could not be deleted (the stack is left ``DELETE_FAILED``).
        """
        if assembly_dir is not None:
            assembly = CloudAssembly.load(assembly_dir)
            selected = assembly.select(stacks, exclusively=exclusively, extend="dependents")
            chosen = [s.stack_name for s in selected]
        else:
            chosen = list(stacks) if stacks else self.state.names()
        deployed = [name for name in chosen if name in self.state]
        for name in chosen:
            if name not in self.state:
                self.reporter.stack(name, "not deployed, nothing to destroy", "dim")
        order = self._deletion_order(deployed)
        going = set(order)
        destroyed: list[str] = []
        for name in order:
            stack = self.state.get(name)
            assert stack is not None
            self._delete_stack(stack, going - {name} - set(destroyed))
            destroyed.append(name)
        return destroyed

    def _deletion_order(self, names: list[str]) -> list[str]:
        deps: dict[str, set[str]] = {}
        exporters = {
            export: stack for export, (stack, _) in self.state.exports(excluding="").items()
        }
        for name in names:
            stack = self.state.get(name)
            assert stack is not None
            deps[name] = set(stack.dependencies) | {
                exporters[i] for i in stack.imports if i in exporters
            }
        deployed_order = [n for n in self.state.names() if n in names]
        return list(reversed(topological_order(deployed_order, deps)))

    def _delete_stack(self, stack: StackState, pending: set[str]) -> None:
        """Delete every resource of ``stack`` (reverse dependency order), then forget it."""
        started = time.monotonic()
        for export_name in stack.exports:
            users = [
                u
                for u in self.state.importers(export_name, excluding=stack.stack_name)
                if u not in pending
            ]
            if users:
                reason = (
                    f"Delete canceled. Cannot delete export {export_name} as it is in use by "
                    f"{users[0]}."
                )
                self.reporter.stack(stack.stack_name, reason, "bold red")
                raise DestroyFailed(stack.stack_name, None, reason)
        self.reporter.stack(stack.stack_name, "DELETE_IN_PROGRESS")
        stack.status = "DELETE_IN_PROGRESS"
        stack.status_reason = "User Initiated"
        self.state.put(stack)
        # A resource goes once everything that depends on it is gone; independent ones in
        # parallel, as CloudFormation deletes them.
        order = list(
            reversed(
                topological_order(
                    list(stack.resources),
                    {lid: set(r.depends_on) for lid, r in stack.resources.items()},
                )
            )
        )
        dependents: dict[str, set[str]] = {lid: set() for lid in order}
        for lid, record in stack.resources.items():
            for dependency in record.depends_on:
                dependents.setdefault(dependency, set()).add(lid)

        def delete(logical_id: str) -> None:
            self._delete_resource(stack, logical_id)
            with self._deleting:
                del stack.resources[logical_id]
                self.state.put(stack)

        self.scheduler.run(order, dependents, delete)
        self.state.remove(stack.stack_name)
        self.reporter.stack(
            stack.stack_name, f"DELETE_COMPLETE {time.monotonic() - started:.1f}s", "bold green"
        )

    def _delete_resource(self, stack: StackState, logical_id: str) -> None:
        """Delete one resource of ``stack`` (kept when its DeletionPolicy retains it); raises
        :class:`DestroyFailed` (the stack is then ``DELETE_FAILED``)."""
        record = stack.resources[logical_id]
        if kept_when_deleted(record.deletion_policy):
            self.reporter.resource(
                stack.stack_name,
                "DELETE",
                logical_id,
                record.type,
                "RETAINED",
                None,
                f"DeletionPolicy {record.deletion_policy}",
            )
            return
        reason = delete_resource(self, record, stack_id=stack.stack_id, stack_name=stack.stack_name)
        if reason is not None:
            with self._deleting:
                stack.status = "DELETE_FAILED"
                stack.status_reason = reason
                self.state.put(stack)
            raise DestroyFailed(stack.stack_name, logical_id, reason)
