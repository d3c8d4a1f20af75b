"""One stack create/update, played the way CloudFormation plays it.

1. Validate: parameters, ``Rules``, ``Conditions``, references, resource type changes,
   literal ``Fn::ImportValue`` names. A failure here changes nothing.
2. Resources in dependency order: Create new ones; Update those whose resolved properties
   changed (a new physical id = replacement, the old one is deleted later); leave the rest.
3. Outputs: resolve them and enforce the export rules (unique names; an export another stack
   imports may be neither changed nor removed).
4. On success, cleanup: delete replaced physical resources, then resources removed from the
   template (reverse dependency order). Cleanup failures are warnings, as in CloudFormation.
5. On failure, rollback in reverse order, then raise :class:`DeploymentFailed`. A new stack
   deletes what was created and sends Delete for custom resources whose Create failed. An
   update first rolls updates back (custom resources get an Update with the previous
   properties), then, in a cleanup phase, deletes what the failed update created: new
   resources, custom resources whose Create failed, and physical resources that replaced
   others (or that a custom resource's rollback answer abandoned). Cleanup failures are
   warnings: CloudFormation skips such resources and completes the rollback.

The stack status is recorded before each phase starts, so a handler that asks
CloudFormation (``DescribeStacks``) during its run sees the phase it runs in:

============================================  ===============================================
phase                                         stack status
============================================  ===============================================
create resources                              ``CREATE_IN_PROGRESS`` → ``CREATE_COMPLETE``
update resources                              ``UPDATE_IN_PROGRESS``
delete replaced / removed resources           ``UPDATE_COMPLETE_CLEANUP_IN_PROGRESS`` →
                                              ``UPDATE_COMPLETE``
roll a new stack back                         ``ROLLBACK_IN_PROGRESS`` → ``ROLLBACK_COMPLETE``
                                              (or ``ROLLBACK_FAILED``)
roll updates back                             ``UPDATE_ROLLBACK_IN_PROGRESS`` (or
                                              ``UPDATE_ROLLBACK_FAILED``)
delete what the failed update created         ``UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS``
                                              → ``UPDATE_ROLLBACK_COMPLETE``
============================================  ===============================================
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal, Protocol

from .cloudformation_api import StackDirectory, format_timestamp
from .deletion import delete_resource, kept_when_deleted, kept_when_rolled_back
from .intrinsics import (
    PseudoParameters,
    ResolutionError,
    Resolver,
    UnsupportedFunction,
    is_intrinsic,
    references,
    resource_dependencies,
    to_cfn_string,
    topological_order,
)
from .progress import Reporter
from .providers import (
    ProviderContext,
    ProviderError,
    ProvisionResult,
    ResourceProvider,
    ResourceRequest,
    generate_name,
)
from .scheduling import Scheduler
from .state import OutputState, ResourceState, StackState

__all__ = ["DeploymentFailed", "LocalDeployError", "StackServices", "StackSummary", "StackUpdate"]

_STABLE = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE")
#: ``AWS::URLSuffix`` of each partition (CloudFormation user guide, "Pseudo parameters").
URL_SUFFIXES: Final = {
    "aws": "amazonaws.com",
    "aws-cn": "amazonaws.com.cn",
    "aws-us-gov": "amazonaws.com",
    "aws-iso": "c2s.ic.gov",
    "aws-iso-b": "sc2s.sgov.gov",
}
#: ``StackStatusReason`` of a stack operation a user started.
_USER_INITIATED: Final = "User Initiated"
#: How the progress report names the update that puts a resource back during a rollback.
_ROLLBACK_ACTION: Final = "UPDATE (rollback)"
#: ``ResourceStatusReason`` of a Create CloudFormation stopped waiting for (another resource
#: failed meanwhile): cloudformation-coverage-roadmap#1814, aws/aws-cdk#36951.
CANCELLED_REASON: Final = "Resource creation cancelled"
#: ... of an Update it stopped waiting for; the rollback then sends an Update with the old
#: properties to the physical id the resource had (the cancelled one's answer is ignored).
UPDATE_CANCELLED_REASON: Final = "Resource update cancelled"


class LocalDeployError(Exception):
    """Base class of the errors the local CloudFormation raises."""


class DeploymentFailed(LocalDeployError):
    """A stack deployment failed (and was rolled back unless rollback was disabled).

    Attributes:
        stack_name: the stack.
        logical_id: the resource that failed, or ``None`` for stack-level failures
            (validation, outputs, exports).
        reason: CloudFormation-style status reason.
        status: the stack status afterwards (``ROLLBACK_COMPLETE``, ``UPDATE_ROLLBACK_FAILED``…).
    """

    def __init__(
        self, stack_name: str, logical_id: str | None, reason: str, *, status: str = ""
    ) -> None:
        where = f"{logical_id} failed" if logical_id else "failed"
        suffix = f" [{status}]" if status else ""
        super().__init__(f"Stack {stack_name}: {where}: {reason}{suffix}")
        self.stack_name = stack_name
        self.logical_id = logical_id
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class StackSummary:
    """The result of deploying one stack."""

    stack_name: str
    status: str
    outputs: dict[str, str] = field(default_factory=dict)
    exports: dict[str, str] = field(default_factory=dict)
    changed: bool = True


class StackServices(Protocol):
    """What a stack update needs from the engine."""

    account_id: str
    region: str
    partition: str
    reporter: Reporter
    rollback: bool

    @property
    def context(self) -> ProviderContext:
        """Services for providers."""

    def provider_for(self, resource_type: str) -> ResourceProvider:
        """The provider of ``resource_type``."""

    def exports(self, *, excluding: str) -> dict[str, tuple[str, str]]:
        """Export name → (stack, value) of the other stacks."""

    def importers(self, export_name: str, *, excluding: str) -> list[str]:
        """Other stacks importing ``export_name``."""

    def ssm_value(self, name: str) -> str | None:
        """An SSM parameter's value, as deployed or configured."""

    def stack_output(self, stack_name: str, output_name: str) -> Any:
        """A deployed stack's output value (``Fn::GetStackOutput``); ResolutionError if absent."""

    def save(self, stack: StackState) -> None:
        """Persist ``stack``."""

    @property
    def stack_directory(self) -> StackDirectory:
        """What the local CloudFormation API answers; resource events are recorded there."""

    @property
    def scheduler(self) -> Scheduler:
        """Runs the resource operations in parallel, in dependency order."""

    def forget(self, stack_name: str) -> None:
        """Remove the stack from the state."""


@dataclass
class _Entry:
    kind: Literal["create", "create_failed", "update", "update_failed"]
    logical_id: str
    resource_type: str
    properties: dict[str, Any]
    before: ResourceState | None = None
    after: ResourceState | None = None
    failed_physical_id: str | None = None

    @property
    def replaced(self) -> bool:
        return (
            self.before is not None
            and self.after is not None
            and self.before.physical_id != self.after.physical_id
        )


class _Failure(Exception):
    def __init__(self, logical_id: str | None, reason: str) -> None:
        super().__init__(reason)
        self.logical_id = logical_id
        self.reason = reason


def _cfn_parameter_value(
    name: str, spec: Mapping[str, Any], raw: Any, services: StackServices
) -> Any:
    kind = str(spec.get("Type", "String"))
    text = raw if isinstance(raw, list) else to_cfn_string(raw)
    if kind.startswith("AWS::SSM::Parameter::Value<"):
        value = services.ssm_value(str(text))
        if value is None:
            raise ResolutionError(
                f"Unable to fetch parameters [{text}] from parameter store for this account."
            )
        return value.split(",") if "List<" in kind or "CommaDelimitedList" in kind else value
    if kind == "CommaDelimitedList" or kind.startswith("List<"):
        return text if isinstance(text, list) else str(text).split(",")
    allowed = spec.get("AllowedValues")
    if allowed and text not in [to_cfn_string(a) for a in allowed]:
        raise ResolutionError(f"Parameter '{name}' must be one of AllowedValues")
    return text


class StackUpdate:
    """Create or update one stack from ``template``; see the module docstring.

    Also the :class:`~.intrinsics.ReferenceSource` its resolver reads from.
    """

    def __init__(
        self,
        services: StackServices,
        *,
        stack_name: str,
        stack_id: str,
        template: dict[str, Any],
        previous: StackState | None,
        parameters: Mapping[str, str] | None = None,
        dependencies: list[str] | None = None,
    ) -> None:
        self.services = services
        self.stack_name = stack_name
        self.stack_id = stack_id
        self.template = template
        self.previous = previous
        self.overrides = dict(parameters or {})
        self.dependencies = list(dependencies or [])
        self.records: dict[str, ResourceState] = (
            {k: v.copy() for k, v in previous.resources.items()} if previous else {}
        )
        self.journal: list[_Entry] = []
        self.replaced: list[ResourceState] = []
        self.imports: set[str] = set()
        self.parameters: dict[str, Any] = {}
        #: What was passed for each parameter (or its default), before SSM resolution.
        self.parameter_inputs: dict[str, str] = {}
        now = format_timestamp(datetime.now(UTC))
        self.creation_time = (previous.creation_time if previous else "") or now
        self.last_updated_time = now if previous else ""
        self.resolver: Resolver | None = None
        self._action = "UPDATE" if previous else "CREATE"
        self._deps: dict[str, list[str]] = {}
        #: Resources a rollback must not delete: something depending on them failed to delete.
        self._blocked: set[str] = set()
        #: Guards records, journal and saves: resources are applied in parallel threads.
        self._lock = threading.RLock()
        #: Custom resource operations running now, which a failure elsewhere cancels.
        self._running: dict[str, _Entry] = {}
        #: Records a resource event: (logical id, type, status, physical_id=, reason=).
        self._event = functools.partial(
            services.stack_directory.record, self.stack_id, self.stack_name
        )
        #: Operations cancelled while they ran; their late answers are ignored.
        self._cancelled: dict[str, _Entry] = {}

    # ------------------------------------------------------------ ReferenceSource

    def ref(self, logical_id: str) -> Any:
        """``Ref`` of a resource deployed (or created earlier in this run)."""
        record = self.records.get(logical_id)
        if record is None:
            raise ResolutionError(
                f"Template format error: Unresolved resource dependencies [{logical_id}] in the "
                "Resources block of the template"
            )
        return self.services.provider_for(record.type).ref(record)

    def get_att(self, logical_id: str, attribute: str) -> Any:
        """``Fn::GetAtt`` of a resource deployed (or created earlier in this run)."""
        record = self.records.get(logical_id)
        if record is None:
            raise ResolutionError(
                f"Template format error: Unresolved resource dependencies [{logical_id}] in the "
                "Resources block of the template"
            )
        return self.services.provider_for(record.type).get_att(record, attribute)

    def import_value(self, export_name: str) -> Any:
        """``Fn::ImportValue`` from another stack's exports; remembered as an import."""
        exports = self.services.exports(excluding=self.stack_name)
        if export_name not in exports:
            raise ResolutionError(f"No export named {export_name} found.")
        self.imports.add(export_name)
        return exports[export_name][1]

    def stack_output(self, stack_name: str, output_name: str) -> Any:
        """``Fn::GetStackOutput``: another stack's output, read now (a weak reference)."""
        return self.services.stack_output(stack_name, output_name)

    def dynamic_reference(self, service: str, key: str) -> str:
        """``{{resolve:ssm:NAME}}`` (``NAME:VERSION`` accepted; the version is not checked)."""
        if service != "ssm":
            raise ResolutionError(
                f"dynamic references to {service} ({{{{resolve:{service}:...}}}}) are not "
                "supported locally"
            )
        name, _, version = key.rpartition(":")
        if not name or not version.isdigit():
            name = key
        value = self.services.ssm_value(name)
        if value is None:
            raise ResolutionError(
                f"Unable to fetch parameters [{name}] from parameter store for this account."
            )
        return value

    # ------------------------------------------------------------ the run

    @property
    def _resolver(self) -> Resolver:
        assert self.resolver is not None, "validate() first"
        return self.resolver

    def run(self) -> StackSummary:
        """Validate, deploy, clean up or roll back; returns the summary or raises."""
        started = time.monotonic()
        resources: dict[str, Any] = self.template.get("Resources") or {}
        order, deps = self._validate(resources)
        self._deps = {lid: sorted(d for d in ds if d in resources) for lid, ds in deps.items()}
        if self._unchanged():
            return self._no_changes()
        in_progress = f"{self._action}_IN_PROGRESS"
        self.services.reporter.stack(self.stack_name, in_progress)
        self._save(in_progress, reason=_USER_INITIATED)
        try:
            self._apply_all(order, deps, resources, in_progress)
            outputs = self._outputs()
            self._check_exports(outputs)
        except _Failure as failure:
            self._rollback(failure)
            raise AssertionError("unreachable") from None  # _rollback always raises
        removed = [lid for lid in self.records if lid not in set(order)]
        changed = bool(self.journal or removed or self.previous is None)
        if self.previous is not None and not changed:
            changed = (
                self.template != self.previous.template
                or self.parameters != self.previous.parameters
                or {k: (o.value, o.export_name) for k, o in outputs.items()}
                != {k: (o.value, o.export_name) for k, o in self.previous.outputs.items()}
            )
        status = f"{self._action}_COMPLETE"
        if self.previous is not None and not changed:
            status = self.previous.status
            self.last_updated_time = self.previous.last_updated_time
        elif self.previous is not None:
            # The update is complete (new template, outputs); old resources go now.
            cleanup = "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"
            if self.replaced or removed:
                self.services.reporter.stack(self.stack_name, cleanup)
            self.services.save(self._updated_stack(cleanup, outputs))
        self._cleanup(removed)
        final = self._updated_stack(status, outputs)
        self.services.save(final)
        elapsed = time.monotonic() - started
        if changed:
            self.services.reporter.stack(self.stack_name, f"{status} {elapsed:.1f}s", "bold green")
        else:
            self.services.reporter.stack(self.stack_name, "no changes", "dim")
        for name, output in outputs.items():
            export = f" (export {output.export_name})" if output.export_name else ""
            self.services.reporter.info(f"  Output {name} = {output.value}{export}")
        return StackSummary(
            stack_name=self.stack_name,
            status=status,
            outputs=final.output_values(),
            exports=final.exports,
            changed=changed,
        )

    def _updated_stack(self, status: str, outputs: dict[str, OutputState]) -> StackState:
        """The stack as this run leaves it (new template, parameters and outputs)."""
        return StackState(
            stack_name=self.stack_name,
            stack_id=self.stack_id,
            status=status,
            template=self.template,
            parameters=self.parameters,
            resources=self.records,
            outputs=outputs,
            imports=sorted(self.imports),
            dependencies=self.dependencies,
            parameter_inputs=self.parameter_inputs,
            creation_time=self.creation_time,
            last_updated_time=self.last_updated_time,
        )

    def _unchanged(self) -> bool:
        """Same template and parameter values: CloudFormation says "No updates are to be
        performed" (dynamic references are not looked at again)."""
        previous = self.previous
        return (
            previous is not None
            and previous.status in _STABLE
            and previous.template == self.template
            and previous.parameters == self.parameters
        )

    def _no_changes(self) -> StackSummary:
        previous = self.previous
        assert previous is not None
        self.services.reporter.stack(self.stack_name, "no changes", "dim")
        for name, output in previous.outputs.items():
            export = f" (export {output.export_name})" if output.export_name else ""
            self.services.reporter.info(f"  Output {name} = {output.value}{export}")
        return StackSummary(
            stack_name=self.stack_name,
            status=previous.status,
            outputs=previous.output_values(),
            exports=previous.exports,
            changed=False,
        )

    # ------------------------------------------------------------ validation

    def _validate(self, resources: dict[str, Any]) -> tuple[list[str], dict[str, set[str]]]:
        try:
            parameters = self._parameters()
            self.parameters = parameters
            self.resolver = Resolver(
                pseudo=PseudoParameters(
                    account_id=self.services.account_id,
                    region=self.services.region,
                    stack_name=self.stack_name,
                    stack_id=self.stack_id,
                    partition=self.services.partition,
                    url_suffix=URL_SUFFIXES.get(self.services.partition, "amazonaws.com"),
                ),
                parameters=parameters,
                source=self,
                conditions=self.template.get("Conditions"),
                mappings=self.template.get("Mappings"),
            )
            self._check_rules()
            active = [
                lid
                for lid, definition in resources.items()
                if "Condition" not in definition
                or self._resolver.condition(str(definition["Condition"]))
            ]
            deps = {
                lid: resource_dependencies(resources[lid], parameters=parameters) for lid in active
            }
            self._check_references(resources, deps)
            order = topological_order(active, deps)
            changed_types = [
                lid
                for lid in active
                if lid in self.records and self.records[lid].type != resources[lid].get("Type")
            ]
            if changed_types:
                raise ResolutionError(
                    "Update of resource type is not permitted. The new template modifies "
                    f"resource type of the following resources: [{', '.join(changed_types)}]"
                )
            self._check_literal_imports()
        except ResolutionError as exc:
            self.services.reporter.stack(self.stack_name, f"validation failed: {exc}", "bold red")
            raise DeploymentFailed(self.stack_name, None, str(exc)) from None
        return order, deps

    def _parameters(self) -> dict[str, Any]:
        declared: dict[str, Any] = self.template.get("Parameters") or {}
        unknown = sorted(set(self.overrides) - set(declared))
        if unknown:
            raise ResolutionError(
                f"Parameters: [{', '.join(unknown)}] do not exist in the template"
            )
        values: dict[str, Any] = {}
        for name, spec in declared.items():
            if name in self.overrides:
                raw: Any = self.overrides[name]
            elif "Default" in spec:
                raw = spec["Default"]
            else:
                raise ResolutionError(f"Parameters: [{name}] must have values")
            values[name] = _cfn_parameter_value(name, spec, raw, self.services)
            self.parameter_inputs[name] = (
                ",".join(to_cfn_string(v) for v in raw)
                if isinstance(raw, list)
                else to_cfn_string(raw)
            )
        return values

    def _check_rules(self) -> None:
        for rule_name, rule in (self.template.get("Rules") or {}).items():
            try:
                applies = "RuleCondition" not in rule or self._resolver.evaluate_condition(
                    rule["RuleCondition"]
                )
                if not applies:
                    continue
                for assertion in rule.get("Assertions") or []:
                    if not self._resolver.evaluate_condition(assertion.get("Assert")):
                        raise ResolutionError(
                            assertion.get("AssertDescription") or f"Rule {rule_name} failed"
                        )
            except UnsupportedFunction as exc:
                self.services.reporter.warn(
                    f"{self.stack_name}: rule {rule_name} not checked: {exc}"
                )

    def _check_references(self, resources: dict[str, Any], deps: dict[str, set[str]]) -> None:
        unresolved = sorted({d for ds in deps.values() for d in ds if d not in resources})
        if unresolved:
            raise ResolutionError(
                "Template format error: Unresolved resource dependencies "
                f"[{', '.join(unresolved)}] "
                "in the Resources block of the template"
            )
        output_refs: set[str] = set()
        for output in (self.template.get("Outputs") or {}).values():
            output_refs |= references(output.get("Value"), parameters=self.parameters)
        missing = sorted(r for r in output_refs if r not in resources)
        if missing:
            raise ResolutionError(
                f"Template format error: Unresolved resource dependencies [{', '.join(missing)}] "
                "in the Outputs block of the template"
            )

    def _check_literal_imports(self) -> None:
        exports = self.services.exports(excluding=self.stack_name)
        literal: set[str] = set()

        def visit(value: Any) -> None:
            if isinstance(value, dict):
                if len(value) == 1 and "Fn::ImportValue" in value:
                    name = value["Fn::ImportValue"]
                    if isinstance(name, str):
                        literal.add(name)
                    return
                for item in value.values():
                    visit(item)
            elif isinstance(value, list):
                for item in value:
                    visit(item)

        visit(self.template.get("Resources"))
        visit(self.template.get("Outputs"))
        for name in sorted(literal):
            if name not in exports:
                raise ResolutionError(f"No export named {name} found.")

    # ------------------------------------------------------------ resources

    def _request(
        self, logical_id: str, resource_type: str, properties: dict[str, Any]
    ) -> ResourceRequest:
        return ResourceRequest(
            stack_name=self.stack_name,
            stack_id=self.stack_id,
            logical_id=logical_id,
            resource_type=resource_type,
            properties=properties,
        )

    def _report(
        self,
        action: str,
        logical_id: str,
        resource_type: str,
        provider: ResourceProvider,
        started: float,
        outcome: str = "OK",
        detail: str = "",
    ) -> None:
        reporter = self.services.reporter
        seconds = time.monotonic() - started
        if outcome == "OK" and not provider.emulated:
            reporter.resource(
                self.stack_name,
                action,
                logical_id,
                resource_type,
                "SKIPPED",
                seconds,
                "not emulated locally: recorded only" + (f"; {detail}" if detail else ""),
            )
            return
        reporter.resource(
            self.stack_name, action, logical_id, resource_type, outcome, seconds, detail
        )

    def _apply_all(
        self,
        order: list[str],
        deps: dict[str, set[str]],
        resources: dict[str, Any],
        in_progress: str,
    ) -> None:
        """Every resource, independent ones in parallel; see :mod:`.scheduling`."""

        def work(logical_id: str) -> None:
            self._apply(logical_id, resources[logical_id], deps[logical_id], resources)
            self._save(in_progress, reason=_USER_INITIATED)

        self.services.scheduler.run(
            order,
            {lid: [d for d in ds if d in resources] for lid, ds in deps.items()},
            work,
            cancellable=self._claim_cancel,
            on_cancel=self._cancel,
        )

    def _claim_cancel(self, logical_id: str) -> bool:
        """Cancel ``logical_id`` if it is a custom resource operation still waiting for its
        answer (atomically: an answer that arrived first wins)."""
        with self._lock:
            running = self._running.pop(logical_id, None)
            if running is None:
                return False
            self._cancelled[logical_id] = running
            return True

    def _cancel(self, logical_id: str) -> None:
        """Stop waiting for a running custom resource operation, as CloudFormation does when
        another resource fails: ``CREATE_FAILED`` "Resource creation cancelled" (the rollback
        sends Delete for a physical id CloudFormation generates) or ``UPDATE_FAILED``
        "Resource update cancelled" (the rollback sends Update with the old properties)."""
        with self._lock:
            entry = self._cancelled[logical_id]
            creating = entry.kind == "create_failed"
            action = "CREATE" if creating else "UPDATE"
            reason = CANCELLED_REASON if creating else UPDATE_CANCELLED_REASON
            self._event(logical_id, entry.resource_type, f"{action}_FAILED", reason=reason)
            self.journal.append(entry)
        self.services.reporter.resource(
            self.stack_name, action, logical_id, entry.resource_type, "FAILED", None, reason
        )

    def _late(self, logical_id: str, what: str) -> bool:
        """True (and reported) when ``logical_id``'s operation was cancelled: its answer is
        ignored, like CloudFormation ignores a response to a request it gave up on."""
        with self._lock:
            self._running.pop(logical_id, None)
            cancelled = self._cancelled.get(logical_id)
        if cancelled is None:
            return False
        operation = "Create" if cancelled.kind == "create_failed" else "Update"
        self.services.reporter.warn(
            f"{self.stack_name}/{logical_id}: the cancelled {operation} answered {what} after "
            "CloudFormation stopped waiting; ignored"
        )
        return True

    def _apply(
        self,
        logical_id: str,
        definition: dict[str, Any],
        deps: set[str],
        resources: dict[str, Any],
    ) -> None:
        resource_type = str(definition.get("Type"))
        provider = self.services.provider_for(resource_type)
        with self._lock:
            current = self.records.get(logical_id)
        action = "CREATE" if current is None else "UPDATE"
        started = time.monotonic()
        try:
            with self._lock:
                properties = (
                    self._resolver.resolve_properties(definition.get("Properties") or {}) or {}
                )
        except ResolutionError as exc:
            self._report(action, logical_id, resource_type, provider, started, "FAILED", str(exc))
            raise _Failure(logical_id, str(exc)) from None
        depends_on = sorted(d for d in deps if d in resources)
        deletion_policy = _policy(definition.get("DeletionPolicy"), self._resolver)
        replace_policy = _policy(definition.get("UpdateReplacePolicy"), self._resolver)
        if current is not None and current.properties == properties:
            current.depends_on = depends_on
            current.deletion_policy = deletion_policy
            current.update_replace_policy = replace_policy
            return
        result = self._provision(action, logical_id, resource_type, properties, current, started)
        if result is None:
            return
        record = self._record(logical_id, resource_type, properties, result, depends_on)
        record.deletion_policy = deletion_policy
        record.update_replace_policy = replace_policy
        entry = _Entry(
            "create" if current is None else "update",
            logical_id,
            resource_type,
            properties,
            before=current,
            after=record,
        )
        with self._lock:
            self.records[logical_id] = record
            self.journal.append(entry)
            if entry.replaced and current is not None:
                current.update_replace_policy = replace_policy
                self.replaced.append(current)
            self._event(
                logical_id, resource_type, f"{action}_COMPLETE", physical_id=result.physical_id
            )
        detail = f"replaced {current.physical_id}" if entry.replaced and current else ""
        self._report(action, logical_id, resource_type, provider, started, "OK", detail)

    def _provision(
        self,
        action: str,
        logical_id: str,
        resource_type: str,
        properties: dict[str, Any],
        current: ResourceState | None,
        started: float,
    ) -> ProvisionResult | None:
        """Create or update through the provider; None when a cancelled Create answered late.
        Raises :class:`_Failure` when the provider failed."""
        provider = self.services.provider_for(resource_type)
        ctx = self.services.context
        if provider.long_running:
            self.services.reporter.start(self.stack_name, action, logical_id, resource_type)
        request = self._request(logical_id, resource_type, properties)
        # what the journal records if the operation fails (or is cancelled while it runs)
        kind: Literal["create_failed", "update_failed"] = (
            "create_failed" if current is None else "update_failed"
        )
        with self._lock:
            if provider.long_running:
                self._running[logical_id] = _Entry(
                    kind, logical_id, resource_type, properties, before=current
                )
            self._event(
                logical_id,
                resource_type,
                f"{action}_IN_PROGRESS",
                physical_id=current.physical_id if current else "",
            )

        def failed(physical_id: str | None, reason: str) -> _Failure:
            with self._lock:
                self.journal.append(
                    _Entry(
                        kind,
                        logical_id,
                        resource_type,
                        properties,
                        before=current,
                        failed_physical_id=physical_id,
                    )
                )
                self._event(logical_id, resource_type, f"{action}_FAILED", reason=reason)
            self._report(action, logical_id, resource_type, provider, started, "FAILED", reason)
            return _Failure(logical_id, reason)

        try:
            if current is None:
                result = provider.create(ctx, request)
            else:
                result = provider.update(ctx, request, current)
        except ProviderError as exc:
            if self._late(logical_id, "FAILED"):
                return None
            raise failed(exc.physical_id, exc.reason) from None
        except Exception as exc:
            if self._late(logical_id, "an error"):
                return None
            raise failed(None, f"Internal error: {type(exc).__name__}: {exc}") from exc
        if self._late(logical_id, "SUCCESS"):
            return None
        return result

    @staticmethod
    def _record(
        logical_id: str,
        resource_type: str,
        properties: dict[str, Any],
        result: ProvisionResult,
        depends_on: list[str],
    ) -> ResourceState:
        return ResourceState(
            logical_id=logical_id,
            type=resource_type,
            physical_id=result.physical_id,
            properties=properties,
            attributes=dict(result.attributes),
            internal=dict(result.internal),
            depends_on=depends_on,
        )

    # ------------------------------------------------------------ outputs and exports

    def _outputs(self) -> dict[str, OutputState]:
        outputs: dict[str, OutputState] = {}
        for name, output in (self.template.get("Outputs") or {}).items():
            try:
                if "Condition" in output and not self._resolver.condition(str(output["Condition"])):
                    continue
                value = self._resolver.resolve_properties(output.get("Value"))
                if isinstance(value, list | dict) or value is None:
                    raise ResolutionError(
                        "Template format error: The Value field of every Outputs member must "
                        "evaluate to a String"
                    )
                export_name: str | None = None
                export = output.get("Export")
                if isinstance(export, dict) and "Name" in export:
                    export_name = to_cfn_string(self._resolver.resolve_properties(export["Name"]))
                description = output.get("Description")
                outputs[name] = OutputState(
                    value=to_cfn_string(value),
                    export_name=export_name,
                    description=str(description) if description is not None else None,
                )
            except ResolutionError as exc:
                reason = f"Output {name}: {exc}"
                self.services.reporter.stack(self.stack_name, reason, "bold red")
                raise _Failure(None, reason) from None
        return outputs

    def _check_exports(self, outputs: dict[str, OutputState]) -> None:
        others = self.services.exports(excluding=self.stack_name)
        new_exports = {o.export_name: o.value for o in outputs.values() if o.export_name}
        reason = ""
        for name in new_exports:
            if name in others:
                reason = f"Export with name {name} is already exported by stack {others[name][0]}"
                break
        if not reason and self.previous is not None:
            for name, value in self.previous.exports.items():
                users = self.services.importers(name, excluding=self.stack_name)
                if not users:
                    continue
                if name not in new_exports:
                    reason = f"Export {name} cannot be deleted as it is in use by {users[0]}"
                    break
                if new_exports[name] != value:
                    reason = f"Cannot update export {name} as it is in use by {users[0]}"
                    break
        if reason:
            self.services.reporter.stack(self.stack_name, reason, "bold red")
            raise _Failure(None, reason)

    # ------------------------------------------------------------ cleanup

    def _delete(self, record: ResourceState, action: str = "DELETE") -> bool:
        """Delete ``record``; True when it worked (failures are reported, not raised)."""
        return (
            delete_resource(
                self.services,
                record,
                stack_id=self.stack_id,
                stack_name=self.stack_name,
                action=action,
            )
            is None
        )

    def _retained(self, record: ResourceState, why: str) -> None:
        self.services.reporter.resource(
            self.stack_name, "DELETE", record.logical_id, record.type, "RETAINED", None, why
        )

    def _cleanup(self, removed: list[str]) -> None:
        for old in self.replaced:
            if kept_when_deleted(old.update_replace_policy):
                self._retained(
                    old, f"{old.physical_id} (UpdateReplacePolicy {old.update_replace_policy})"
                )
                continue
            if not self._delete(old, "DELETE (cleanup, replaced)"):
                self.services.reporter.warn(
                    f"{self.stack_name}/{old.logical_id}: the replaced resource {old.physical_id} "
                    "could not be deleted; CloudFormation leaves it behind and completes the update"
                )
        if not removed:
            return
        deps = {lid: set(self.records[lid].depends_on) for lid in removed}
        for logical_id in reversed(topological_order(removed, deps)):
            record = self.records.pop(logical_id)
            if kept_when_deleted(record.deletion_policy):
                self._retained(record, f"DeletionPolicy {record.deletion_policy}")
                continue
            if not self._delete(record, "DELETE (cleanup, removed)"):
                self.services.reporter.warn(
                    f"{self.stack_name}/{logical_id}: could not be deleted; CloudFormation leaves "
                    "it behind and completes the update"
                )

    # ------------------------------------------------------------ rollback

    def _rollback(self, failure: _Failure) -> None:
        services = self.services
        reporter = services.reporter
        first_create = self.previous is None
        if not services.rollback:
            status = f"{self._action}_FAILED"
            reporter.stack(self.stack_name, f"{status} (rollback disabled)", "bold red")
            self._save(status, reason=failure.reason)
            raise DeploymentFailed(
                self.stack_name, failure.logical_id, failure.reason, status=status
            )
        if first_create:
            ok = self._rollback_new_stack(failure)
            status = "ROLLBACK_COMPLETE" if ok else "ROLLBACK_FAILED"
            self._save(status, reason=failure.reason)
            if ok:
                # Like the CDK CLI (which deletes a ROLLBACK_COMPLETE stack before the next
                # deployment): forget it now.
                services.forget(self.stack_name)
        else:
            ok = self._rollback_update(failure)
            status = "UPDATE_ROLLBACK_COMPLETE" if ok else "UPDATE_ROLLBACK_FAILED"
            assert self.previous is not None
            restored = self.previous.copy()
            restored.resources = self.records
            restored.status = status
            restored.status_reason = failure.reason
            restored.last_updated_time = self.last_updated_time
            services.save(restored)
        reporter.stack(self.stack_name, status, "bold red" if not ok else "bold yellow")
        raise DeploymentFailed(self.stack_name, failure.logical_id, failure.reason, status=status)

    def _rollback_new_stack(self, failure: _Failure) -> bool:
        """``ROLLBACK_IN_PROGRESS``: delete everything, newest first; False when that failed."""
        status = "ROLLBACK_IN_PROGRESS"
        self._save(status, reason=failure.reason)
        self.services.reporter.stack(self.stack_name, f"{status}: {failure.reason}", "bold yellow")
        ok = True
        for entry in reversed(self.journal):
            try:
                if entry.kind == "create":
                    ok = self._undo_create(entry) and ok
                elif entry.kind == "create_failed":
                    ok = self._undo_failed_create(entry) and ok
            except Exception as exc:
                ok = False
                self.services.reporter.error(
                    f"{self.stack_name}/{entry.logical_id}: rollback step failed: {exc}"
                )
            self._save(status, reason=failure.reason)
        return ok

    def _rollback_update(self, failure: _Failure) -> bool:
        """``UPDATE_ROLLBACK_IN_PROGRESS``: roll updates back, newest first; then
        ``UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS``: delete what the update created.
        False when an update could not be rolled back (no cleanup then, as in AWS)."""
        reporter = self.services.reporter
        status = "UPDATE_ROLLBACK_IN_PROGRESS"
        self._save(status, reason=failure.reason)
        reporter.stack(self.stack_name, f"{status}: {failure.reason}", "bold yellow")
        steps = list(enumerate(self.journal))[::-1]
        ok = True
        #: journal index → a physical resource the update created that the cleanup deletes
        leftovers: dict[int, ResourceState] = {}
        for index, entry in steps:
            if entry.kind not in ("update", "update_failed"):
                continue
            try:
                rolled_back, leftover = self._undo_update(entry)
            except Exception as exc:
                rolled_back, leftover = False, None
                reporter.error(f"{self.stack_name}/{entry.logical_id}: rollback step failed: {exc}")
            ok = rolled_back and ok
            if leftover is not None:
                leftovers[index] = leftover
            self._save(status, reason=failure.reason)
        if not ok:
            self._keep_for_destroy(leftovers)
            return False
        cleanup = "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"
        self._save(cleanup, reason=failure.reason)
        reporter.stack(self.stack_name, cleanup, "bold yellow")
        for index, entry in steps:
            try:
                self._clean_up_after_rollback(entry, leftovers.get(index))
            except Exception as exc:
                reporter.error(f"{self.stack_name}/{entry.logical_id}: cleanup step failed: {exc}")
            self._save(cleanup, reason=failure.reason)
        return True

    def _keep_for_destroy(self, leftovers: dict[int, ResourceState]) -> None:
        """``UPDATE_ROLLBACK_FAILED``: what the update created stays in the stack, so that
        destroying the stack deletes it (a failed custom resource Create gets its Delete)."""
        for entry in self.journal:
            provider = self.services.provider_for(entry.resource_type)
            if entry.kind == "create_failed" and provider.failed_create_leaves_resource:
                self.records.setdefault(entry.logical_id, self._ghost(entry))
        for leftover in leftovers.values():
            self.services.reporter.warn(
                f"{self.stack_name}/{leftover.logical_id}: {leftover.physical_id} (created by the "
                "failed update) is left behind: the rollback failed before its cleanup phase"
            )

    def _clean_up_after_rollback(self, entry: _Entry, leftover: ResourceState | None) -> None:
        """Delete what ``entry`` created; failures are warnings (the resource is left behind)."""
        warn = self.services.reporter.warn
        if entry.kind == "create":
            record = self.records.pop(entry.logical_id, None)
            if record is None:
                return
            if kept_when_rolled_back(record.deletion_policy):
                self._retained(record, f"DeletionPolicy {record.deletion_policy}")
            elif not self._delete(record, "DELETE (rollback cleanup)"):
                warn(
                    f"{self.stack_name}/{record.logical_id}: {record.physical_id} could not be "
                    "deleted during the rollback cleanup; CloudFormation skips it and leaves it "
                    "behind"
                )
        elif entry.kind == "create_failed":
            if not self.services.provider_for(entry.resource_type).failed_create_leaves_resource:
                return
            ghost = self._ghost(entry)
            if not self._delete(ghost, "DELETE (rollback cleanup)"):
                warn(
                    f"{self.stack_name}/{ghost.logical_id}: {ghost.physical_id} (its Create "
                    "failed) could not be deleted during the rollback cleanup; left behind"
                )
        elif leftover is not None and not self._delete(leftover, "DELETE (rollback cleanup)"):
            warn(
                f"{self.stack_name}/{leftover.logical_id}: {leftover.physical_id} could not be "
                "deleted during the rollback cleanup; left behind"
            )

    def _ghost(self, entry: _Entry) -> ResourceState:
        """The resource CloudFormation believes a failed custom resource Create left: the
        physical id the handler answered with, or one CloudFormation made up."""
        physical = entry.failed_physical_id or generate_name(self.stack_name, entry.logical_id)
        return ResourceState(
            entry.logical_id,
            entry.resource_type,
            physical,
            entry.properties,
            depends_on=self._deps.get(entry.logical_id, []),
        )

    def _undo_failed_create(self, entry: _Entry) -> bool:
        """Send Delete for a custom resource whose Create failed; False when that failed."""
        if not self.services.provider_for(entry.resource_type).failed_create_leaves_resource:
            return True
        ghost = self._ghost(entry)
        if self._delete(ghost):
            return True
        self.records[entry.logical_id] = ghost  # DELETE_FAILED: a later destroy retries
        self._block(ghost)
        return False

    def _undo_update(self, entry: _Entry) -> tuple[bool, ResourceState | None]:
        """Roll one update back: (whether that worked, a physical resource to delete in the
        cleanup phase)."""
        provider = self.services.provider_for(entry.resource_type)
        if provider.rolls_back_by_update:
            return self._rollback_custom(entry, provider)
        return self._rollback_native(entry, provider)

    def _block(self, record: ResourceState) -> None:
        """Keep what ``record`` depends on: CloudFormation does not delete it either."""
        todo = list(record.depends_on)
        while todo:
            logical_id = todo.pop()
            if logical_id not in self._blocked:
                self._blocked.add(logical_id)
                dependency = self.records.get(logical_id)
                todo.extend(dependency.depends_on if dependency else [])

    def _undo_create(self, entry: _Entry) -> bool:
        """Delete what this run created (``DeletionPolicy: Retain`` keeps it, as in AWS)."""
        record = self.records[entry.logical_id]
        if entry.logical_id in self._blocked:
            self.services.reporter.resource(
                self.stack_name,
                "DELETE",
                record.logical_id,
                record.type,
                "SKIPPED",
                None,
                "a resource that depends on it could not be deleted",
            )
            self._block(record)
            return False
        del self.records[entry.logical_id]
        if kept_when_rolled_back(record.deletion_policy):
            self._retained(record, f"DeletionPolicy {record.deletion_policy}")
            return True
        if self._delete(record):
            return True
        self.records[entry.logical_id] = record
        self._block(record)
        return False

    def _rollback_custom(
        self, entry: _Entry, provider: ResourceProvider
    ) -> tuple[bool, ResourceState | None]:
        """Roll a custom resource back the CloudFormation way: Update with the old properties."""
        before = entry.before
        assert before is not None
        current = self.records.get(entry.logical_id, before)
        believed = current.copy()
        believed.properties = entry.properties
        self.services.reporter.start(
            self.stack_name, _ROLLBACK_ACTION, entry.logical_id, entry.resource_type
        )
        result = self._update_back(entry, provider, believed)
        if result is None:
            return False, None
        restored = before.copy()
        restored.physical_id = result.physical_id
        restored.attributes = dict(result.attributes)
        restored.internal = dict(result.internal)
        self.records[entry.logical_id] = restored
        # A physical id other than the one CloudFormation holds: that one is deleted in the
        # cleanup phase.
        return True, believed if result.physical_id != current.physical_id else None

    def _rollback_native(
        self, entry: _Entry, provider: ResourceProvider
    ) -> tuple[bool, ResourceState | None]:
        """Undo an update of an emulated/recorded resource (a replacement is deleted in the
        cleanup phase, unless its DeletionPolicy is Retain)."""
        before = entry.before
        assert before is not None
        if entry.kind == "update_failed":
            return True, None  # providers fail before changing anything
        current = self.records[entry.logical_id]
        if entry.replaced:
            self.records[entry.logical_id] = before
            kept = kept_when_rolled_back(current.deletion_policy)
            return True, None if kept else current
        result = self._update_back(entry, provider, current)
        if result is None:
            return False, None
        restored = before.copy()
        restored.attributes = dict(result.attributes)
        restored.internal = dict(result.internal)
        self.records[entry.logical_id] = restored
        return True, None

    def _update_back(
        self, entry: _Entry, provider: ResourceProvider, current: ResourceState
    ) -> ProvisionResult | None:
        """Update ``current`` with the properties it had before ``entry``; reported either way,
        None when the provider failed."""
        before = entry.before
        assert before is not None
        started = time.monotonic()
        request = self._request(entry.logical_id, entry.resource_type, before.properties)
        self._event(
            entry.logical_id,
            entry.resource_type,
            "UPDATE_IN_PROGRESS",
            physical_id=current.physical_id,
        )
        try:
            result = provider.update(self.services.context, request, current)
            self._event(
                entry.logical_id,
                entry.resource_type,
                "UPDATE_COMPLETE",
                physical_id=result.physical_id,
            )
        except ProviderError as exc:
            self._event(
                entry.logical_id,
                entry.resource_type,
                "UPDATE_FAILED",
                physical_id=current.physical_id,
                reason=exc.reason,
            )
            self._report(
                _ROLLBACK_ACTION,
                entry.logical_id,
                entry.resource_type,
                provider,
                started,
                "FAILED",
                exc.reason,
            )
            return None
        self._report(_ROLLBACK_ACTION, entry.logical_id, entry.resource_type, provider, started)
        return result

    # ------------------------------------------------------------ persistence

    def _save(self, status: str, reason: str = "") -> None:
        with self._lock:
            self._save_unlocked(status, reason)

    def _save_unlocked(self, status: str, reason: str) -> None:
        base = self.previous
        stack = StackState(
            stack_name=self.stack_name,
            stack_id=self.stack_id,
            status=status,
            template=base.template if base else self.template,
            parameters=base.parameters if base else self.parameters,
            resources=self.records,
            outputs=base.outputs if base else {},
            imports=base.imports if base else sorted(self.imports),
            dependencies=self.dependencies,
            status_reason=reason,
            parameter_inputs=base.parameter_inputs if base else self.parameter_inputs,
            creation_time=self.creation_time,
            last_updated_time=self.last_updated_time,
        )
        self.services.save(stack)


def _policy(value: Any, resolver: Resolver) -> str:
    if value is None:
        return "Delete"
    if is_intrinsic(value):
        value = resolver.resolve(value)
    return str(value)
