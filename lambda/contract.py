"""The custom resource contract: one source of truth for construct, handler and emulator.

Property and attribute names, service limits and name patterns live here so that the
synth-time construct (``codeartifact_generic``), the deploy-time handler (bundled from this
folder) and the offline CodeArtifact emulator can never disagree. This module imports only the
standard library: it is copied into the Lambda bundle as it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

#: CloudFormation resource type of the custom resource.
RESOURCE_TYPE: Final = "Custom::CodeArtifactGenericPackageVersion"

#: Package format; ``PublishPackageVersion`` accepts only generic packages.
PACKAGE_FORMAT: Final = "generic"


class Prop:
    """Names of the custom resource's ``ResourceProperties`` (all values arrive as strings)."""

    DOMAIN: Final = "Domain"
    DOMAIN_OWNER: Final = "DomainOwner"
    REPOSITORY: Final = "Repository"
    NAMESPACE: Final = "Namespace"
    PACKAGE: Final = "Package"
    VERSION: Final = "Version"
    STATUS: Final = "Status"
    ASSETS: Final = "Assets"
    #: ``Retain`` (default) or ``Destroy``: what a Delete outside a rollback does.
    REMOVAL_POLICY: Final = "RemovalPolicy"
    #: With ``Destroy``: ``Delete`` (default), ``Dispose``, ``Archive`` or ``Unlist``.
    ON_DELETE: Final = "OnDelete"
    #: ``"true"``: a version holding other bytes is deleted and republished.
    REPLACE_EXISTING: Final = "ReplaceExisting"
    #: ``"true"``: the removal policy also applies to a version that existed before.
    REMOVE_ADOPTED: Final = "RemoveAdopted"


class AssetProp:
    """Keys of each entry of the ``Assets`` property list."""

    NAME: Final = "Name"
    BUCKET: Final = "Bucket"
    KEY: Final = "Key"
    OBJECT_VERSION: Final = "ObjectVersion"
    SHA256: Final = "Sha256"
    #: Present exactly when synth staged the file and computed its ``Sha256`` itself; a
    #: ``Sha256`` without it was declared by the user for an existing S3 object.
    SIZE: Final = "Size"


class Attr:
    """Names of the response ``Data`` keys, readable with ``Fn::GetAtt``."""

    VERSION_REVISION: Final = "VersionRevision"
    STATUS: Final = "Status"
    FORMAT: Final = "Format"
    NAMESPACE: Final = "Namespace"
    PACKAGE: Final = "Package"
    VERSION: Final = "Version"
    ASSET_COUNT: Final = "AssetCount"
    #: ``"true"`` when some per-asset hashes were left out to keep the response small.
    ASSET_HASHES_TRUNCATED: Final = "AssetHashesTruncated"

    @staticmethod
    def asset_sha256(index: int) -> str:
        """Data key of the SHA256 of the asset at ``index`` in the ``Assets`` property."""
        return f"Asset{index}Sha256"


class Status:
    """Package version statuses as the CodeArtifact API spells them."""

    PUBLISHED: Final = "Published"
    UNFINISHED: Final = "Unfinished"
    UNLISTED: Final = "Unlisted"
    ARCHIVED: Final = "Archived"
    DISPOSED: Final = "Disposed"
    DELETED: Final = "Deleted"


#: Statuses a user may request for a version this resource publishes.
REQUESTABLE_STATUSES: Final = (
    Status.PUBLISHED,
    Status.UNFINISHED,
    Status.UNLISTED,
    Status.ARCHIVED,
)


class Removal:
    """Values of the RemovalPolicy and OnDelete properties."""

    RETAIN: Final = "Retain"
    DESTROY: Final = "Destroy"
    POLICIES: Final = (RETAIN, DESTROY)

    DELETE: Final = "Delete"
    DISPOSE: Final = "Dispose"
    ARCHIVE: Final = "Archive"
    UNLIST: Final = "Unlist"
    ACTIONS: Final = (DELETE, DISPOSE, ARCHIVE, UNLIST)


#: Joins a version's identity and the moment its resource was created in a physical id:
#: ``#`` cannot occur in any name, so the id still splits back unambiguously.
CREATED_MARKER: Final = "#since-"
#: Legacy (0.1.0) ids of a version that existed before its resource ended in this.
LEGACY_ADOPTED_SUFFIX: Final = "#adopted"

# Service quotas (adjustable in AWS Service Quotas, hence overridable in the emulator).
#: Largest asset, in bytes, a generic package version accepts ("5 GB").
MAX_ASSET_SIZE_BYTES: Final = 5 * 1024**3
#: Most assets one generic package version may hold.
MAX_ASSETS_PER_VERSION: Final = 150

#: Assets of one version published at the same time (all but the final one, which goes last
#: with the final status). Each holds its own connection to S3 and to CodeArtifact.
MAX_PARALLEL_ASSETS: Final = 4
#: Memory one asset in flight may hold, in MiB: its prefetched chunks, botocore's send buffer
#: and two threads' stacks, with room to spare (``make bench`` reports the handler's peak RSS).
ASSET_IN_FLIGHT_MIB: Final = 32
#: Memory the handler holds apart from assets in flight, in MiB: the runtime, boto3 and its
#: clients.
HANDLER_BASE_MIB: Final = 192


def parallel_assets(memory_mib: int) -> int:
    """How many assets a handler with ``memory_mib`` of memory publishes at once (1 to
    :data:`MAX_PARALLEL_ASSETS`): as many as fit beside the handler itself."""
    fitting = (memory_mib - HANDLER_BASE_MIB) // ASSET_IN_FLIGHT_MIB
    return max(1, min(MAX_PARALLEL_ASSETS, fitting))


#: A rate, in bytes per second, every handler is assumed to reach from S3 to CodeArtifact: a
#: Create or Update of more bytes than this rate moves in one invocation (before its margin)
#: goes through crhelper's polling (it may need several invocations). On the safe side: a
#: version sent faster than this only waits one polling interval more.
ONE_INVOCATION_BYTES_PER_SECOND: Final = 25 * 10**6
#: crhelper's polling interval, in minutes (EventBridge's rate schedules count in minutes).
POLLING_INTERVAL_MINUTES: Final = 5
#: How long one poll works at most, so that it has ended before the next one comes (the rest
#: of the interval is for start-up and the answer): two polls never publish at once.
POLL_WORK_SECONDS: Final = 4 * 60
#: Largest event crhelper can schedule: it is the EventBridge target's ``Input``, at most 8192
#: characters (botocore's ``events`` model, TargetInput), with crhelper's own keys added.
MAX_POLLED_EVENT_BYTES: Final = 8192 - 1024
#: Longest logical id crhelper's polling can serve: it names the EventBridge rule after it
#: plus 8 characters, and a rule name has at most 64 (botocore's ``events`` model, RuleName).
MAX_POLLED_LOGICAL_ID: Final = 64 - 8

#: CloudFormation rejects a custom resource response body larger than this.
MAX_RESPONSE_BYTES: Final = 4096
#: Per-asset SHA256 attributes of assets without a synth-time hash that always fit in the
#: response, even with the longest names and ids (the handler returns those first).
GUARANTEED_HASH_ATTRIBUTES: Final = 16
#: Longest failure reason we send; crhelper cuts anything past 256 characters.
MAX_REASON_CHARS: Final = 250


class NamePattern:
    """A name rule: the regular expression (matched whole) and the length bounds.

    A rule of one fixed length (an account id, a SHA256) states that length itself in ``rule``
    ("12 digits"), and its messages say what the value must be, e.g.
    ``sha256 'ABC' must be 64 hex characters, got 3 characters``.
    """

    def __init__(self, field: str, pattern: str, min_len: int, max_len: int, rule: str) -> None:
        self.field = field
        self.pattern = pattern
        self.min_len = min_len
        self.max_len = max_len
        #: Human-readable statement of the rule, used in error messages.
        self.rule = rule
        self._regex = re.compile(pattern)

    def problem(self, value: str) -> str | None:
        """Return why ``value`` breaks the rule, or None when it is valid."""
        length_ok = self.min_len <= len(value) <= self.max_len
        if length_ok and self._regex.fullmatch(value):
            return None
        if self.min_len == self.max_len:
            got = "" if length_ok else f", got {len(value)} characters"
            return f"{self.field} {value!r} must be {self.rule}{got}"
        if not length_ok:
            return (
                f"{self.field} {value!r} must be {self.min_len} to {self.max_len} "
                f"characters long, got {len(value)}"
            )
        return f"{self.field} {value!r} is invalid: {self.rule}"


# Patterns from botocore's codeartifact service model (2018-09-22), matched in full.
DOMAIN_NAME: Final = NamePattern(
    "domain",
    r"[a-z][a-z0-9\-]{0,48}[a-z0-9]",
    2,
    50,
    "lowercase letters, digits and hyphens, starting with a letter and not ending in a hyphen",
)
REPOSITORY_NAME: Final = NamePattern(
    "repository",
    r"[A-Za-z0-9][A-Za-z0-9._\-]{1,99}",
    2,
    100,
    "letters, digits, '.', '_' and '-', starting with a letter or digit",
)
NAMESPACE_NAME: Final = NamePattern("namespace", r"[^#/\s]+", 1, 255, "no '#', '/' or whitespace")
PACKAGE_NAME: Final = NamePattern("package", r"[^#/\s]+", 1, 255, "no '#', '/' or whitespace")
VERSION_NAME: Final = NamePattern("version", r"[^#/\s]+", 1, 255, "no '#', '/' or whitespace")
ACCOUNT_ID: Final = NamePattern("domain_owner", r"[0-9]{12}", 12, 12, "12 digits")
#: Lowercase, as the handler compares and CodeArtifact reports it; the construct lowercases a
#: literal SHA256 before checking it.
SHA256_HEX: Final = NamePattern("sha256", r"[0-9a-f]{64}", 64, 64, "64 hex characters")

#: Asset names: the CLI reference's set (Unicode letters and numbers plus these specials),
#: stricter than the model's ``\P{C}+``. ``\w`` is Unicode letters and numbers plus ``_``,
#: which the specials include anyway.
ASSET_NAME_SPECIALS: Final = "~!@^&()-`_+[]{};,."
ASSET_NAME: Final = NamePattern(
    "asset name",
    r"(?:\w|[" + re.escape(ASSET_NAME_SPECIALS) + r"])+",
    1,
    255,
    "Unicode letters and numbers and the characters " + " ".join(ASSET_NAME_SPECIALS),
)


def physical_resource_id(
    *, domain_owner: str, domain: str, repository: str, namespace: str, package: str, version: str
) -> str:
    """Physical id of a package version: changes whenever the version's identity changes.

    Names cannot contain ``/`` (see the patterns above), so the id splits back unambiguously.
    """
    return "/".join((domain_owner, domain, repository, PACKAGE_FORMAT, namespace, package, version))


def version_resource_id(identity: str, resource_created: datetime) -> str:
    """Physical id of a resource whose version is ``identity``, created at ``resource_created``.

    The creation moment (CloudFormation's, to the millisecond) rides along unchanged through
    every Update, so the id is a pure function of the properties and the resource: a
    redelivered event, and a rollback back to older properties, answer exactly the same id.
    """
    moment = resource_created.astimezone(UTC)
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return f"{identity}{CREATED_MARKER}{stamp}"


@dataclass(frozen=True)
class ResourceId:
    """A physical id taken apart: which version, and since when the resource exists."""

    #: ``owner/domain/repo/generic/ns/package/version``; "" for an id CloudFormation (or
    #: crhelper) generated for a Create that failed or was cancelled.
    identity: str
    #: When CloudFormation began creating the resource; None for a legacy or generated id.
    resource_created: datetime | None
    #: A legacy id marked ``#adopted``.
    legacy_adopted: bool = False

    @classmethod
    def parse(cls, physical_id: str) -> ResourceId:
        """Take ``physical_id`` apart; anything that names no version is a generated id."""
        if "/" not in physical_id:
            return cls("", None)
        identity, marker, stamp = physical_id.partition(CREATED_MARKER)
        if marker:
            try:
                created = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
            except ValueError:
                return cls("", None)
            return cls(identity, created)
        legacy = physical_id.endswith(LEGACY_ADOPTED_SUFFIX)
        return cls(physical_id.removesuffix(LEGACY_ADOPTED_SUFFIX), None, legacy)

    @property
    def names_a_version(self) -> bool:
        """False for an id generated for a failed or cancelled Create."""
        return bool(self.identity)

    def with_identity(self, identity: str) -> str:
        """The id this resource answers once it holds ``identity`` (same creation moment)."""
        if self.resource_created is not None:
            return version_resource_id(identity, self.resource_created)
        return identity + (LEGACY_ADOPTED_SUFFIX if self.legacy_adopted else "")
