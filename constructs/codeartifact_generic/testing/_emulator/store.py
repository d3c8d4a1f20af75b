"""The emulator's state: domains, repositories, packages, versions and assets on disk.

All state sits behind one re-entrant lock (:attr:`Store.lock`). Asset bodies are streamed to
files under the data directory (see :mod:`.blobs`) outside the lock, then committed under it,
so a long upload never blocks other requests and a failed upload leaves nothing behind. Only
the SHA-256 is computed as a body arrives; an asset's MD5, SHA-1 and SHA-512 are computed
from its file the first time a response lists them (:meth:`Store.open_digests`), outside the
lock, and kept.

Request-rate quotas (:attr:`Limits.publish_rate_per_second`, see :mod:`.ratelimit`) are
checked by :meth:`Store.admit` before an operation runs.

Behaviour follows the CodeArtifact documentation. Where it is silent, the emulator does the
obvious thing, listed here:

* A version is created by its first accepted publish (``Unfinished`` with ``unfinished=true``,
  else ``Published``); a publish that fails leaves no package, version or file behind.
* Any publish into a version that is not ``Unfinished`` is a ``ConflictException`` (the user
  guide: omitting ``--unfinished`` "prevents additional assets from being uploaded"), even
  when the asset already exists with the same bytes.
* Every accepted publish, including an identical re-upload into an ``Unfinished`` version,
  gives the version a new revision: 32 random bytes in standard base64 (44 characters, the
  form AWS returns; it may contain ``+``, ``/`` and ``=``).
* ``publishedTime`` is set when the version is created and reset when it first becomes
  ``Published``.
* PublishPackageVersion's answer lists only the asset's SHA-256 in ``hashes`` (AWS lists all
  four): the other digests are not computed on the upload path. ListPackageVersionAssets
  lists all four. ``eager_digests=True`` computes all four while the body arrives and
  answers them, as AWS does, at the cost of ingest speed.
* A package's origin configuration is ``publish=ALLOW, upstream=BLOCK`` (the documented default
  for a package whose first version was published directly). A package stays when all its
  versions are deleted; ``DeletePackage`` removes it.
* UpdatePackageVersionsStatus: ``Disposed`` versions cannot change status (``NOT_ALLOWED`` in
  ``failedVersions``); setting the status a version already has succeeds and keeps its
  revision; any real change gives a new revision. A missing package is a
  ``ResourceNotFoundException``; a missing version is ``NOT_FOUND`` in ``failedVersions``.
* DeletePackageVersions removes versions completely (a later describe is a
  ``ResourceNotFoundException``; the same version may be published again) and reports them
  with status ``Deleted``. DisposePackageVersions deletes the files and keeps the version as
  ``Disposed`` with no assets.
* GetPackageVersionAsset: a ``Disposed`` version's assets are gone
  (``ResourceNotFoundException``); an ``Archived`` version's assets "cannot be downloaded"
  (``ConflictException``); a ``revision`` that is not the current one is a
  ``ResourceNotFoundException``.
* DeleteDomain refuses a domain that still has repositories and DeleteRepository refuses a
  repository that is an upstream of another one (``ConflictException``).
* A ``domainOwner`` other than the emulator's account finds nothing
  (``ResourceNotFoundException``).
"""

from __future__ import annotations

import base64
import os
import re
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Final

from codeartifact_generic.handler import contract
from codeartifact_generic.handler.contract import Status
from codeartifact_generic.testing._emulator import blobs, errors, ratelimit

DEFAULT_ACCOUNT_ID: Final = "123456789012"
DEFAULT_REGION: Final = "us-east-1"

# PackageVersionErrorCode values.
NOT_FOUND: Final = "NOT_FOUND"
MISMATCHED_REVISION: Final = "MISMATCHED_REVISION"
MISMATCHED_STATUS: Final = "MISMATCHED_STATUS"
NOT_ALLOWED: Final = "NOT_ALLOWED"

#: Statuses UpdatePackageVersionsStatus may set ("Archived, Published, or Unlisted").
SETTABLE_STATUSES: Final = (Status.PUBLISHED, Status.UNLISTED, Status.ARCHIVED)

#: PublishPackageVersion calls per second per account ("PublishPackageVersion requests per
#: second", 10 in each Region, adjustable: https://docs.aws.amazon.com/codeartifact/latest/ug/
#: service-limits.html).
PUBLISH_RATE_PER_SECOND: Final = 10.0
PUBLISH: Final = "PublishPackageVersion"


@dataclass(frozen=True)
class Limits:
    """Service quotas the emulator enforces (adjustable, like the real ones).

    ``publish_rate_per_second=None`` turns the publish rate limit off (so does 0 on the
    ``serve`` command line); ``publish_burst`` is the token bucket's size (default: the rate,
    one second's worth; AWS does not document a burst).
    """

    #: Largest asset accepted by PublishPackageVersion.
    max_asset_size_bytes: int = contract.MAX_ASSET_SIZE_BYTES
    #: Most assets one package version may hold.
    max_assets_per_version: int = contract.MAX_ASSETS_PER_VERSION
    #: PublishPackageVersion calls per second for the account (None: unlimited).
    publish_rate_per_second: float | None = PUBLISH_RATE_PER_SECOND
    #: Calls the publish bucket holds (None: the rate, at least 1).
    publish_burst: float | None = None

    def __post_init__(self) -> None:
        self.publish_limit()  # a bad rate or burst fails here, not at the first publish

    def publish_limit(self) -> ratelimit.RateLimit | None:
        """The publish rate limit as a token bucket's parameters (None: off)."""
        rate = self.publish_rate_per_second
        if rate is None:
            return None
        burst = self.publish_burst if self.publish_burst is not None else max(1.0, rate)
        return ratelimit.RateLimit(float(rate), float(burst))


@dataclass(frozen=True)
class Asset:
    """One stored asset: size, digests (SHA-256 known, the others computed lazily), file."""

    name: str
    size: int
    digests: blobs.Digests
    path: Path

    @property
    def sha256(self) -> str:
        """The SHA-256 hex digest."""
        return self.digests.sha256


@dataclass
class PackageVersion:
    """A package version and its assets (in publish order)."""

    version: str
    status: str
    revision: str
    created_time: datetime
    published_time: datetime
    assets: dict[str, Asset] = field(default_factory=dict)


@dataclass
class Package:
    """A package in a repository."""

    format: str
    namespace: str | None
    name: str
    publish: str = "ALLOW"
    upstream: str = "BLOCK"
    versions: dict[str, PackageVersion] = field(default_factory=dict)


PackageKey = tuple[str, str | None, str]


@dataclass
class Repository:
    """A repository in a domain."""

    name: str
    domain_name: str
    domain_owner: str
    administrator_account: str
    arn: str
    created_time: datetime
    description: str | None = None
    upstreams: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    packages: dict[PackageKey, Package] = field(default_factory=dict)

    def assets(self) -> Iterator[Asset]:
        """Every stored asset of every version."""
        for package in self.packages.values():
            for version in package.versions.values():
                yield from version.assets.values()


@dataclass
class Domain:
    """A domain."""

    name: str
    owner: str
    arn: str
    encryption_key: str
    s3_bucket_arn: str
    created_time: datetime
    status: str = "Active"
    tags: dict[str, str] = field(default_factory=dict)
    repositories: dict[str, Repository] = field(default_factory=dict)

    @property
    def repository_count(self) -> int:
        """Number of repositories."""
        return len(self.repositories)

    @property
    def asset_size_bytes(self) -> int:
        """Total size of the assets stored in the domain."""
        return sum(asset.size for repo in self.repositories.values() for asset in repo.assets())


@dataclass(frozen=True)
class PackageRef:
    """Which package a request is about."""

    domain: str
    domain_owner: str | None
    repository: str
    format: str
    namespace: str | None
    package: str

    @property
    def key(self) -> PackageKey:
        """The package's key inside its repository."""
        return (self.format, self.namespace, self.package)

    def describe(self) -> str:
        """Human-readable name for messages, e.g. ``generic package my-ns/tool``."""
        name = f"{self.namespace}/{self.package}" if self.namespace else self.package
        return f"{self.format} package {name}"


@dataclass(frozen=True)
class PublishOutcome:
    """What PublishPackageVersion reports (``hashes``: the asset's digests it answers)."""

    version: str
    revision: str
    status: str
    asset: Asset
    hashes: Mapping[str, str]


class PendingDigests:
    """Assets whose every digest a response needs; from :meth:`Store.open_digests`.

    The files of assets with missing digests were opened under the store's lock (so a
    concurrent delete cannot take them away); :meth:`hashes` computes outside it.
    """

    def __init__(self, assets: Sequence[Asset], opened: Mapping[int, BinaryIO]) -> None:
        self._assets = list(assets)
        self._opened = dict(opened)

    def hashes(self) -> list[dict[str, str]]:
        """Each asset's four digests, in order (closes the opened files)."""
        try:
            found = []
            for index, asset in enumerate(self._assets):
                stream = self._opened.get(index)
                found.append(
                    asset.digests.complete(stream) if stream is not None else asset.digests.known()
                )
            return found
        finally:
            self.close()

    def close(self) -> None:
        """Close the opened files."""
        for stream in self._opened.values():
            stream.close()
        self._opened.clear()


@dataclass(frozen=True)
class VersionFailure:
    """An entry of ``failedVersions``."""

    code: str
    message: str


@dataclass
class BatchOutcome:
    """Result of a multi-version operation: version → (revision, status) or failure."""

    successful: dict[str, tuple[str, str]] = field(default_factory=dict)
    failed: dict[str, VersionFailure] = field(default_factory=dict)


#: What a batch change gives for one version: its new (revision, status), or why not.
Changed = tuple[str, str] | VersionFailure


def now() -> datetime:
    """The current UTC time."""
    return datetime.now(UTC)


def new_revision() -> str:
    """A fresh, opaque version revision."""
    return base64.b64encode(os.urandom(32)).decode("ascii")


def natural_key(text: str) -> str:
    """Sort key that orders digit runs numerically (``1.9`` before ``1.10``)."""
    return re.sub(r"\d+", lambda m: m.group().zfill(20), text)


class Store:
    """Thread-safe CodeArtifact state with asset bodies on disk under ``data_dir``."""

    def __init__(
        self,
        data_dir: Path | None = None,
        *,
        limits: Limits | None = None,
        account_id: str = DEFAULT_ACCOUNT_ID,
        region: str = DEFAULT_REGION,
        eager_digests: bool = False,
    ) -> None:
        self._temp_dir: tempfile.TemporaryDirectory[str] | None = None
        if data_dir is None:
            self._temp_dir = tempfile.TemporaryDirectory(prefix="codeartifact-emulator-")
            data_dir = Path(self._temp_dir.name)
        self.data_dir = Path(data_dir)
        self.blob_dir = self.data_dir / "blobs"
        self.blob_dir.mkdir(parents=True, exist_ok=True)
        #: The quotas; tests may replace it while the emulator runs.
        self.limits = limits or Limits()
        self.account_id = account_id
        self.region = region
        #: Compute all four digests while a body arrives (and answer them from publish).
        self.eager_digests = eager_digests
        #: The account's PublishPackageVersion token bucket (its counters are for tests).
        self.publish_rate = ratelimit.TokenBucket()
        #: Guards every attribute below; re-entrant so callers can group several calls.
        self.lock = threading.RLock()
        self.domains: dict[str, Domain] = {}

    def close(self) -> None:
        """Remove the data directory if the store created it."""
        if self._temp_dir is not None:
            self._temp_dir.cleanup()
            self._temp_dir = None

    def blob_files(self) -> list[Path]:
        """Asset files currently on disk (for tests)."""
        return sorted(self.blob_dir.glob("*.blob"))

    # ------------------------------------------------------------------------------ quotas

    def admit(self, operation: str) -> None:
        """Apply the request-rate quotas to a call of ``operation`` before it runs:
        ``ThrottlingException`` (429, ``Retry-After``) when its bucket is empty."""
        if operation != PUBLISH:
            return
        limit = self.limits.publish_limit()
        wait = self.publish_rate.take(limit)
        if wait is None or limit is None:
            return
        raise errors.EmulatorError(
            errors.THROTTLING,
            f"Rate exceeded: at most {limit.rate:g} {PUBLISH} calls per second for account "
            f"{self.account_id} (service quota)",
            fields={"retryAfterSeconds": ratelimit.retry_after_seconds(wait)},
        )

    @property
    def throttled_publishes(self) -> int:
        """PublishPackageVersion calls refused by the rate limit so far."""
        return self.publish_rate.throttled

    # ----------------------------------------------------------------------------- domains

    def create_domain(
        self, name: str, *, encryption_key: str | None = None, tags: Mapping[str, str] = {}
    ) -> Domain:
        """Create a domain; ``ConflictException`` if it exists."""
        with self.lock:
            if name in self.domains:
                raise errors.conflict(f"Domain {name} already exists", errors.RESOURCE_DOMAIN, name)
            key = encryption_key or (
                f"arn:aws:kms:{self.region}:{self.account_id}:key/"
                f"{uuid.uuid5(uuid.NAMESPACE_URL, name)}"
            )
            domain = Domain(
                name=name,
                owner=self.account_id,
                arn=f"arn:aws:codeartifact:{self.region}:{self.account_id}:domain/{name}",
                encryption_key=key,
                s3_bucket_arn=f"arn:aws:s3:::assets-{self.account_id}-{self.region}",
                created_time=now(),
                tags=dict(tags),
            )
            self.domains[name] = domain
            return domain

    def get_domain(self, name: str, owner: str | None = None) -> Domain:
        """The domain, or ``ResourceNotFoundException``."""
        with self.lock:
            domain = self.domains.get(name)
            if domain is None or (owner is not None and owner != domain.owner):
                whose = f" owned by {owner}" if owner else ""
                raise errors.not_found(
                    f"Domain {name}{whose} not found", errors.RESOURCE_DOMAIN, name
                )
            return domain

    def list_domains(self) -> list[Domain]:
        """All domains."""
        with self.lock:
            return list(self.domains.values())

    def delete_domain(self, name: str, owner: str | None = None) -> Domain:
        """Delete an empty domain; returns it with status ``Deleted``."""
        with self.lock:
            domain = self.get_domain(name, owner)
            if domain.repositories:
                raise errors.conflict(
                    f"Domain {name} still contains {len(domain.repositories)} repositories; "
                    "delete them first",
                    errors.RESOURCE_DOMAIN,
                    name,
                )
            del self.domains[name]
            domain.status = "Deleted"
            return domain

    # ------------------------------------------------------------------------ repositories

    def create_repository(
        self,
        domain_name: str,
        owner: str | None,
        name: str,
        *,
        description: str | None = None,
        upstreams: Sequence[str] = (),
        tags: Mapping[str, str] = {},
    ) -> Repository:
        """Create a repository; upstreams must exist in the same domain."""
        with self.lock:
            domain = self.get_domain(domain_name, owner)
            if name in domain.repositories:
                raise errors.conflict(
                    f"Repository {name} already exists in domain {domain_name}",
                    errors.RESOURCE_REPOSITORY,
                    name,
                )
            for upstream in upstreams:
                if upstream not in domain.repositories:
                    raise errors.not_found(
                        f"Upstream repository {upstream} not found in domain {domain_name}",
                        errors.RESOURCE_REPOSITORY,
                        upstream,
                    )
            repository = Repository(
                name=name,
                domain_name=domain_name,
                domain_owner=domain.owner,
                administrator_account=self.account_id,
                arn=(
                    f"arn:aws:codeartifact:{self.region}:{self.account_id}:"
                    f"repository/{domain_name}/{name}"
                ),
                created_time=now(),
                description=description,
                upstreams=list(upstreams),
                tags=dict(tags),
            )
            domain.repositories[name] = repository
            return repository

    def get_repository(self, domain_name: str, owner: str | None, name: str) -> Repository:
        """The repository, or ``ResourceNotFoundException`` naming the domain or repository."""
        with self.lock:
            domain = self.get_domain(domain_name, owner)
            repository = domain.repositories.get(name)
            if repository is None:
                raise errors.not_found(
                    f"Repository {name} not found in domain {domain_name}",
                    errors.RESOURCE_REPOSITORY,
                    name,
                )
            return repository

    def list_repositories(
        self,
        *,
        domain_name: str | None = None,
        owner: str | None = None,
        administrator_account: str | None = None,
        prefix: str | None = None,
    ) -> list[Repository]:
        """Repositories of one domain (or all), filtered by administrator and name prefix."""
        with self.lock:
            if domain_name is not None:
                domains = [self.get_domain(domain_name, owner)]
            else:
                domains = list(self.domains.values())
            return [
                repository
                for domain in domains
                for repository in domain.repositories.values()
                if (prefix is None or repository.name.startswith(prefix))
                and (
                    administrator_account is None
                    or repository.administrator_account == administrator_account
                )
            ]

    def delete_repository(self, domain_name: str, owner: str | None, name: str) -> Repository:
        """Delete a repository with all its packages and files."""
        with self.lock:
            repository = self.get_repository(domain_name, owner, name)
            domain = self.get_domain(domain_name, owner)
            dependents = sorted(r.name for r in domain.repositories.values() if name in r.upstreams)
            if dependents:
                raise errors.conflict(
                    f"Repository {name} is an upstream of {', '.join(dependents)}",
                    errors.RESOURCE_REPOSITORY,
                    name,
                )
            for asset in list(repository.assets()):
                blobs.remove(asset.path)
            del domain.repositories[name]
            return repository

    # ---------------------------------------------------------------------------- packages

    def get_package(self, ref: PackageRef) -> Package:
        """The package, or ``ResourceNotFoundException``."""
        with self.lock:
            repository = self.get_repository(ref.domain, ref.domain_owner, ref.repository)
            package = repository.packages.get(ref.key)
            if package is None:
                raise errors.not_found(
                    f"{ref.describe().capitalize()} not found in repository {ref.repository}",
                    errors.RESOURCE_PACKAGE,
                    ref.package,
                )
            return package

    def list_packages(
        self,
        domain_name: str,
        owner: str | None,
        repository_name: str,
        *,
        format: str | None = None,
        namespace_prefix: str | None = None,
        package_prefix: str | None = None,
        publish: str | None = None,
        upstream: str | None = None,
    ) -> list[Package]:
        """Packages of a repository. ``namespace`` filters by prefix, as AWS documents."""
        with self.lock:
            repository = self.get_repository(domain_name, owner, repository_name)
            return [
                package
                for package in repository.packages.values()
                if (format is None or package.format == format)
                and (
                    namespace_prefix is None
                    or (package.namespace or "").startswith(namespace_prefix)
                )
                and (package_prefix is None or package.name.startswith(package_prefix))
                and (publish is None or package.publish == publish)
                and (upstream is None or package.upstream == upstream)
            ]

    def delete_package(self, ref: PackageRef) -> Package:
        """Delete a package, its versions and their files."""
        with self.lock:
            package = self.get_package(ref)
            for version in package.versions.values():
                _remove_files(version)
            repository = self.get_repository(ref.domain, ref.domain_owner, ref.repository)
            del repository.packages[ref.key]
            return package

    def get_version(self, ref: PackageRef, version: str) -> PackageVersion:
        """The package version, or ``ResourceNotFoundException``."""
        with self.lock:
            repository = self.get_repository(ref.domain, ref.domain_owner, ref.repository)
            package = repository.packages.get(ref.key)
            found = package.versions.get(version) if package else None
            if found is None:
                raise errors.not_found(
                    f"Version {version} of {ref.describe()} not found in repository "
                    f"{ref.repository}",
                    errors.RESOURCE_PACKAGE_VERSION,
                    version,
                )
            return found

    # ----------------------------------------------------------------------------- publish

    def publish(
        self,
        ref: PackageRef,
        version: str,
        asset_name: str,
        body: blobs.Readable,
        *,
        declared_size: int | None,
        sha256: str,
        unfinished: bool,
    ) -> PublishOutcome:
        """PublishPackageVersion: stream one asset to disk, then commit it atomically."""
        with self.lock:
            self._check_publishable(ref, version, asset_name)
        try:
            staged = blobs.stage(
                body,
                self.blob_dir,
                declared_size=declared_size,
                limit=self.limits.max_asset_size_bytes,
                eager=self.eager_digests,
            )
        except blobs.SizeLimitExceeded as error:
            raise errors.quota_exceeded(
                f"Asset {asset_name} is {error.size} bytes, larger than the maximum asset "
                f"size of {error.limit} bytes",
                errors.RESOURCE_ASSET,
                asset_name,
            ) from error
        kept = False
        try:
            if staged.sha256 != sha256:
                raise errors.validation(
                    f"The SHA256 hash of the uploaded content ({staged.sha256}) does not match "
                    f"the assetSHA256 (x-amz-content-sha256) value provided ({sha256}): "
                    "the hashes do not match",
                    reason=errors.REASON_OTHER,
                )
            with self.lock:
                outcome, kept = self._commit(ref, version, asset_name, staged, unfinished)
                return outcome
        finally:
            if not kept:
                staged.discard()

    def _check_publishable(self, ref: PackageRef, version: str, asset_name: str) -> None:
        """Checks that need no body: fail before reading it when the publish is doomed."""
        if ref.format != contract.PACKAGE_FORMAT:
            raise errors.validation(
                f"Only {contract.PACKAGE_FORMAT} packages can be published with "
                f"PublishPackageVersion, not {ref.format}"
            )
        if ref.namespace is None:
            raise errors.validation(
                "Value null at 'namespace' failed to satisfy constraint: a namespace is "
                "required for generic packages"
            )
        repository = self.get_repository(ref.domain, ref.domain_owner, ref.repository)
        package = repository.packages.get(ref.key)
        existing = package.versions.get(version) if package else None
        if existing is None:
            return
        _check_accepts_assets(ref, existing)
        if asset_name not in existing.assets:
            self._check_asset_count(ref, existing)

    def _check_asset_count(self, ref: PackageRef, version: PackageVersion) -> None:
        limit = self.limits.max_assets_per_version
        if len(version.assets) >= limit:
            raise errors.quota_exceeded(
                f"Version {version.version} of {ref.describe()} already has {limit} assets, "
                "the maximum number of assets per package version",
                errors.RESOURCE_PACKAGE_VERSION,
                version.version,
            )

    def _commit(
        self,
        ref: PackageRef,
        version_name: str,
        asset_name: str,
        staged: blobs.StagedBlob,
        unfinished: bool,
    ) -> tuple[PublishOutcome, bool]:
        self._check_publishable(ref, version_name, asset_name)
        repository = self.get_repository(ref.domain, ref.domain_owner, ref.repository)
        package = repository.packages.get(ref.key)
        version = package.versions.get(version_name) if package else None
        existing = version.assets.get(asset_name) if version else None
        kept = False
        if existing is not None:
            if existing.sha256 != staged.sha256 or existing.size != staged.size:
                raise errors.conflict(
                    f"Asset {asset_name} already exists in version {version_name} of "
                    f"{ref.describe()} with different content (SHA256 {existing.sha256}, "
                    f"not {staged.sha256})",
                    errors.RESOURCE_ASSET,
                    asset_name,
                )
            asset = existing
        else:
            asset = Asset(asset_name, staged.size, blobs.Digests(staged.hashes), staged.path)
            kept = True
        if package is None:
            package = Package(ref.format, ref.namespace, ref.package)
            repository.packages[ref.key] = package
        if version is None:
            created = now()
            version = PackageVersion(
                version=version_name,
                status=Status.UNFINISHED,
                revision=new_revision(),
                created_time=created,
                published_time=created,
            )
            package.versions[version_name] = version
        version.assets[asset_name] = asset
        version.revision = new_revision()
        if not unfinished:
            version.status = Status.PUBLISHED
            version.published_time = now()
        hashes = asset.digests.known() if self.eager_digests else {blobs.SHA256: asset.sha256}
        outcome = PublishOutcome(version_name, version.revision, version.status, asset, hashes)
        return outcome, kept

    # ------------------------------------------------------------------- version batches

    def update_status(
        self,
        ref: PackageRef,
        versions: Sequence[str],
        *,
        target: str,
        expected: str | None = None,
        revisions: Mapping[str, str] | None = None,
    ) -> BatchOutcome:
        """UpdatePackageVersionsStatus."""
        if target not in SETTABLE_STATUSES:
            hint = {
                Status.DISPOSED: "; use DisposePackageVersions",
                Status.DELETED: "; use DeletePackageVersions",
                Status.UNFINISHED: "; a published version cannot return to Unfinished",
            }.get(target, "")
            raise errors.validation(
                f"targetStatus {target} is not allowed: UpdatePackageVersionsStatus can set "
                f"only {', '.join(SETTABLE_STATUSES)}{hint}"
            )

        def change(name: str, version: PackageVersion, _: Package) -> Changed:
            if version.status == Status.DISPOSED:
                return VersionFailure(
                    NOT_ALLOWED,
                    f"Version {name} is Disposed; its assets are deleted and its status "
                    "cannot change",
                )
            if version.status != target:
                if target == Status.PUBLISHED and version.status == Status.UNFINISHED:
                    version.published_time = now()
                version.status = target
                version.revision = new_revision()
            return version.revision, version.status

        return self._each_version(ref, versions, expected, revisions, change)

    def delete_versions(
        self, ref: PackageRef, versions: Sequence[str], *, expected: str | None = None
    ) -> BatchOutcome:
        """DeletePackageVersions: remove versions and their files for good."""

        def change(name: str, version: PackageVersion, package: Package) -> Changed:
            _remove_files(version)
            del package.versions[name]
            return version.revision, Status.DELETED

        return self._each_version(ref, versions, expected, None, change)

    def dispose_versions(
        self,
        ref: PackageRef,
        versions: Sequence[str],
        *,
        expected: str | None = None,
        revisions: Mapping[str, str] | None = None,
    ) -> BatchOutcome:
        """DisposePackageVersions: delete the files, keep the versions as ``Disposed``."""

        def change(_: str, version: PackageVersion, __: Package) -> Changed:
            _remove_files(version)
            version.assets.clear()
            version.status = Status.DISPOSED
            version.revision = new_revision()
            return version.revision, version.status

        return self._each_version(ref, versions, expected, revisions, change)

    def _each_version(
        self,
        ref: PackageRef,
        versions: Sequence[str],
        expected: str | None,
        revisions: Mapping[str, str] | None,
        change: Callable[[str, PackageVersion, Package], Changed],
    ) -> BatchOutcome:
        """The batch operations' shared loop: check each version's preconditions, then change it.

        ``change`` answers ``(revision, status)`` or a :class:`VersionFailure`.
        """
        outcome = BatchOutcome()
        with self.lock:
            package = self.get_package(ref)
            for name in versions:
                version = package.versions.get(name)
                failure = _precondition_failure(name, version, expected, revisions)
                if failure is not None or version is None:
                    outcome.failed[name] = failure or VersionFailure(NOT_FOUND, name)
                    continue
                changed = change(name, version, package)
                if isinstance(changed, VersionFailure):
                    outcome.failed[name] = changed
                else:
                    outcome.successful[name] = changed
        return outcome

    # ------------------------------------------------------------------------------ assets

    def open_digests(self, assets: Sequence[Asset]) -> PendingDigests:
        """Call under :attr:`lock`: open the files of ``assets`` whose digests are not all
        known yet; then, after releasing the lock, ``.hashes()`` gives every digest."""
        with self.lock:
            opened: dict[int, BinaryIO] = {}
            try:
                for index, asset in enumerate(assets):
                    if not asset.digests.is_complete:
                        opened[index] = asset.path.open("rb")
            except BaseException:
                PendingDigests([], opened).close()
                raise
            return PendingDigests(assets, opened)

    def open_asset(
        self, ref: PackageRef, version_name: str, asset_name: str, revision: str | None = None
    ) -> tuple[PackageVersion, Asset, BinaryIO]:
        """Open an asset's file for reading (the caller closes it)."""
        with self.lock:
            version = self.get_version(ref, version_name)
            if revision is not None and revision != version.revision:
                raise errors.not_found(
                    f"Revision {revision} of version {version_name} of {ref.describe()} not "
                    f"found (current revision: {version.revision})",
                    errors.RESOURCE_PACKAGE_VERSION,
                    version_name,
                )
            if version.status == Status.DISPOSED:
                raise errors.not_found(
                    f"Version {version_name} of {ref.describe()} is Disposed: its assets "
                    "were deleted",
                    errors.RESOURCE_ASSET,
                    asset_name,
                )
            if version.status == Status.ARCHIVED:
                raise errors.conflict(
                    f"Version {version_name} of {ref.describe()} is Archived: its assets "
                    "cannot be downloaded",
                    errors.RESOURCE_PACKAGE_VERSION,
                    version_name,
                )
            asset = version.assets.get(asset_name)
            if asset is None:
                raise errors.not_found(
                    f"Asset {asset_name} not found in version {version_name} of {ref.describe()}",
                    errors.RESOURCE_ASSET,
                    asset_name,
                )
            return version, asset, asset.path.open("rb")


def _check_accepts_assets(ref: PackageRef, version: PackageVersion) -> None:
    if version.status != Status.UNFINISHED:
        raise errors.conflict(
            f"Version {version.version} of {ref.describe()} is {version.status} and accepts "
            "no more assets; only Unfinished versions do (publish a new version instead)",
            errors.RESOURCE_PACKAGE_VERSION,
            version.version,
        )


def _precondition_failure(
    name: str,
    version: PackageVersion | None,
    expected: str | None,
    revisions: Mapping[str, str] | None,
) -> VersionFailure | None:
    if version is None:
        return VersionFailure(NOT_FOUND, f"Version {name} not found")
    if revisions is not None and name in revisions and revisions[name] != version.revision:
        return VersionFailure(
            MISMATCHED_REVISION,
            f"Version {name} has revision {version.revision}, not {revisions[name]}",
        )
    if expected is not None and version.status != expected:
        return VersionFailure(
            MISMATCHED_STATUS, f"Version {name} is {version.status}, not {expected}"
        )
    return None


def _remove_files(version: PackageVersion) -> None:
    for asset in version.assets.values():
        blobs.remove(asset.path)
