"""Removing a package version: the removal policy, the ownership rule, and discarding what a
failed, cancelled or rolled-back operation created. Free of CloudFormation details."""

from __future__ import annotations

from datetime import datetime

from .contract import Removal, ResourceId, Status
from .errors import quote_names
from .ports import PackageVersionStore, VersionState
from .properties import VersionRequest


def owned_by(state: VersionState, resource: ResourceId) -> bool:
    """The ownership rule: a resource owns the version when CodeArtifact dates the version
    (``publishedTime``) at or after the moment CloudFormation began creating the resource.

    Both moments are durable facts, so every delivery of an event, every rollback and every
    later Delete reach the same answer. A version that cannot be dated is not owned; a legacy
    id (no creation moment) owns its version unless it was marked adopted.
    """
    if resource.resource_created is None:
        return not resource.legacy_adopted
    return state.published_time is not None and state.published_time >= resource.resource_created


def remove(request: VersionRequest, store: PackageVersionStore, *, owned: bool) -> str:
    """Apply the removal policy to the version (outside a rollback); returns what was done.

    A version this resource does not own (it existed before) is kept unless
    ``remove_adopted`` is set.
    """
    if request.removal_policy == Removal.RETAIN:
        return "retained (removal policy Retain)"
    if not owned and not request.remove_adopted:
        return "retained: it existed before this resource (set remove_adopted to change that)"
    action = request.on_delete
    state = store.describe()
    if state is None:
        return "already gone"
    if action == Removal.DELETE:
        store.delete()
    elif action == Removal.DISPOSE:
        store.dispose()
    else:
        target = Status.ARCHIVED if action == Removal.ARCHIVE else Status.UNLISTED
        if state.status != target:
            store.set_status(target, expected=state)
    return {
        Removal.DELETE: "deleted",
        Removal.DISPOSE: "disposed",
        Removal.ARCHIVE: "archived",
        Removal.UNLIST: "unlisted",
    }[action]


def discard_created_since(
    request: VersionRequest, store: PackageVersionStore, since: datetime
) -> str:
    """Delete the version if CodeArtifact dates it at or after ``since`` (whatever its
    status): what a failed, cancelled or rolled-back operation of this resource created. A
    version that existed before is kept. Returns what was done, for the log."""
    state = store.describe()
    if state is None:
        return "nothing to discard"
    if state.published_time is None or state.published_time < since:
        when = state.published_time.isoformat() if state.published_time else "undated"
        return f"kept: the {state.status} version existed before ({when})"
    return discard(store, {a.name for a in request.assets}, sealed_too=True, state=state)


def discard(
    store: PackageVersionStore,
    declared: set[str],
    *,
    sealed_too: bool,
    state: VersionState | None = None,
) -> str:
    """Delete the version unless it is sealed (and ``sealed_too`` is off) or holds assets
    beyond ``declared`` (someone else's). Returns what was done, for the log."""
    state = state or store.describe()
    if state is None:
        return "nothing to discard"
    if state.status != Status.UNFINISHED and not sealed_too:
        return f"kept: it is {state.status}"
    foreign = sorted(set(store.assets()) - declared)
    if foreign:
        return f"kept: it holds assets this resource does not declare: {quote_names(foreign)}"
    if store.delete(expected_status=state.status):
        return f"deleted the {state.status} version"
    return "kept: it changed meanwhile"
