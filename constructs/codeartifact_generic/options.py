"""Enumerations of the construct's options: target status and what deletion does."""

from __future__ import annotations

import enum

from .handler import contract


class VersionStatus(enum.Enum):
    """Status the package version should have once the deployment finishes.

    Changing it on a later deployment moves the version there with
    ``UpdatePackageVersionsStatus`` (expected status and revision checked); a version can never
    go back to ``UNFINISHED``.
    """

    #: Visible and installable; can no longer take new assets.
    PUBLISHED = contract.Status.PUBLISHED
    #: Kept open: a later deployment can still add assets.
    UNFINISHED = contract.Status.UNFINISHED
    #: Published but not shown in listings as the latest version.
    UNLISTED = contract.Status.UNLISTED
    #: Kept for the record; its assets can no longer be downloaded.
    ARCHIVED = contract.Status.ARCHIVED


class DeleteBehavior(enum.Enum):
    """What ``RemovalPolicy.DESTROY`` does to the version when the resource is deleted."""

    #: ``DeletePackageVersions``: the version and its assets are gone.
    DELETE = contract.Removal.DELETE
    #: ``DisposePackageVersions``: the assets are deleted, the record stays as Disposed.
    DISPOSE = contract.Removal.DISPOSE
    #: Status Archived: the record and assets stay, downloads are refused.
    ARCHIVE = contract.Removal.ARCHIVE
    #: Status Unlisted: still downloadable, hidden from listings.
    UNLIST = contract.Removal.UNLIST
