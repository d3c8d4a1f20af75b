"""Deleting one resource: the single path a destroy, a cleanup and a rollback all take.

CloudFormation records ``DELETE_IN_PROGRESS`` before the provider runs and
``DELETE_COMPLETE`` or ``DELETE_FAILED`` (with the reason) after it; the progress report
says the same. What happens next (a stack left ``DELETE_FAILED``, a rollback that skips the
resource, a cleanup that leaves it behind) is the caller's business: this module only
answers whether the deletion worked.

``DeletionPolicy`` / ``UpdateReplacePolicy`` values are interpreted here too (CloudFormation
user guide, "DeletionPolicy attribute": ``RetainExceptOnCreate`` keeps a resource unless it
was created by the operation being rolled back).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Final, Protocol

from .providers import ProviderError

if TYPE_CHECKING:
    from .cloudformation_api import StackDirectory
    from .progress import Reporter
    from .providers import ProviderContext, ResourceProvider
    from .state import ResourceState


class DeletionServices(Protocol):
    """What a deletion needs of the engine (or of a stack update, which forwards it)."""

    @property
    def reporter(self) -> Reporter:
        """Progress lines."""

    @property
    def context(self) -> ProviderContext:
        """Services for providers."""

    @property
    def stack_directory(self) -> StackDirectory:
        """Where resource events are recorded."""

    def provider_for(self, resource_type: str) -> ResourceProvider:
        """The provider of ``resource_type``."""


RETAIN: Final = "Retain"
RETAIN_EXCEPT_ON_CREATE: Final = "RetainExceptOnCreate"


def kept_when_deleted(policy: str) -> bool:
    """Whether a resource with this DeletionPolicy (or UpdateReplacePolicy) outlives its
    deletion from the stack."""
    return policy in (RETAIN, RETAIN_EXCEPT_ON_CREATE)


def kept_when_rolled_back(policy: str) -> bool:
    """Whether a resource the failed operation created outlives the rollback."""
    return policy == RETAIN


def delete_resource(
    services: DeletionServices,
    record: ResourceState,
    *,
    stack_id: str,
    stack_name: str,
    action: str = "DELETE",
) -> str | None:
    """Delete ``record`` through its provider; None when that worked, else the reason."""
    provider = services.provider_for(record.type)
    reporter, events = services.reporter, services.stack_directory
    started = time.monotonic()
    if provider.long_running:
        reporter.start(stack_name, action, record.logical_id, record.type)
    events.record(
        stack_id,
        stack_name,
        record.logical_id,
        record.type,
        "DELETE_IN_PROGRESS",
        physical_id=record.physical_id,
    )
    try:
        provider.delete(services.context, record, stack_name, stack_id)
    except Exception as exc:
        reason = (
            exc.reason
            if isinstance(exc, ProviderError)
            else f"Internal error: {type(exc).__name__}: {exc}"
        )
        events.record(
            stack_id,
            stack_name,
            record.logical_id,
            record.type,
            "DELETE_FAILED",
            physical_id=record.physical_id,
            reason=reason,
        )
        reporter.resource(
            stack_name,
            action,
            record.logical_id,
            record.type,
            "FAILED",
            time.monotonic() - started,
            reason,
        )
        return reason
    events.record(
        stack_id,
        stack_name,
        record.logical_id,
        record.type,
        "DELETE_COMPLETE",
        physical_id=record.physical_id,
    )
    emulated = provider.emulated
    reporter.resource(
        stack_name,
        action,
        record.logical_id,
        record.type,
        "OK" if emulated else "SKIPPED",
        time.monotonic() - started,
        (record.physical_id if action != "DELETE" else "")
        if emulated
        else "not emulated locally: forgotten",
    )
    return None
