"""Operation handlers: parsed input members → store calls → output members.

Each handler takes the :class:`~.store.Store` and the request's parameters (input members by
model name, already validated against the model) and returns the output members by model
name; :mod:`.model` renders them. Handlers that read state do so under the store's lock so a
response is one consistent snapshot.

Where AWS is silent: ``GetAuthorizationToken`` accepts a duration of 0 or 900-43200 seconds
(as documented), default 43200; 0 ("as long as the caller's session") also gives 43200.
ListPackageVersions without ``sortBy`` orders versions by name with digit runs compared
numerically; ``sortBy=PUBLISHED_TIME`` puts the most recently published first.
``defaultDisplayVersion`` is the most recently published version whose status is
``Published``. For generic packages every operation that names a package requires a
namespace. PublishPackageVersion answers the asset's SHA-256 only (the other digests are
computed when ListPackageVersionAssets first lists the asset; see :mod:`.store`).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, Final

from codeartifact_generic.handler import contract
from codeartifact_generic.handler.contract import Status
from codeartifact_generic.testing._emulator import errors, paging
from codeartifact_generic.testing._emulator.model import Payload
from codeartifact_generic.testing._emulator.store import (
    Asset,
    BatchOutcome,
    Domain,
    Package,
    PackageRef,
    PackageVersion,
    Repository,
    Store,
    natural_key,
    now,
)

Params = Mapping[str, Any]
Result = dict[str, Any]
Handler = Callable[[Store, Params], Result]

#: Default and bounds of GetAuthorizationToken's duration, in seconds.
TOKEN_DEFAULT_SECONDS: Final = 43200
TOKEN_MIN_SECONDS: Final = 900


# ------------------------------------------------------------------------------ renderers


def domain_description(domain: Domain) -> Result:
    """DomainDescription."""
    return {
        **domain_summary(domain),
        "repositoryCount": domain.repository_count,
        "assetSizeBytes": domain.asset_size_bytes,
        "s3BucketArn": domain.s3_bucket_arn,
    }


def domain_summary(domain: Domain) -> Result:
    """DomainSummary."""
    return {
        "name": domain.name,
        "owner": domain.owner,
        "arn": domain.arn,
        "status": domain.status,
        "createdTime": domain.created_time,
        "encryptionKey": domain.encryption_key,
    }


def repository_description(repository: Repository) -> Result:
    """RepositoryDescription."""
    return {
        **repository_summary(repository),
        "upstreams": [{"repositoryName": name} for name in repository.upstreams],
        "externalConnections": [],
    }


def repository_summary(repository: Repository) -> Result:
    """RepositorySummary."""
    return {
        "name": repository.name,
        "administratorAccount": repository.administrator_account,
        "domainName": repository.domain_name,
        "domainOwner": repository.domain_owner,
        "arn": repository.arn,
        "description": repository.description,
        "createdTime": repository.created_time,
    }


def package_summary(package: Package, *, name_key: str = "package") -> Result:
    """PackageSummary (``name_key="name"`` gives PackageDescription)."""
    return {
        "format": package.format,
        "namespace": package.namespace,
        name_key: package.name,
        "originConfiguration": {
            "restrictions": {"publish": package.publish, "upstream": package.upstream}
        },
    }


def asset_summary(asset: Asset, hashes: Mapping[str, str]) -> Result:
    """AssetSummary with the digests ``hashes`` (by API algorithm name)."""
    return {"name": asset.name, "size": asset.size, "hashes": dict(hashes)}


def _origin(repository: str) -> Result:
    return {"domainEntryPoint": {"repositoryName": repository}, "originType": "INTERNAL"}


def _batch(outcome: BatchOutcome) -> Result:
    return {
        "successfulVersions": {
            name: {"revision": revision, "status": status}
            for name, (revision, status) in outcome.successful.items()
        },
        "failedVersions": {
            name: {"errorCode": failure.code, "errorMessage": failure.message}
            for name, failure in outcome.failed.items()
        },
    }


# ------------------------------------------------------------------------------- helpers


def package_ref(params: Params, *, publish: bool = False) -> PackageRef:
    """The package a request names; generic packages need a namespace."""
    ref = PackageRef(
        domain=params["domain"],
        domain_owner=params.get("domainOwner"),
        repository=params["repository"],
        format=params["format"],
        namespace=params.get("namespace"),
        package=params["package"],
    )
    if not publish and ref.format == contract.PACKAGE_FORMAT and ref.namespace is None:
        raise errors.validation(
            "Value null at 'namespace' failed to satisfy constraint: a namespace is required "
            "for generic packages"
        )
    return ref


def _repository_named(params: Params) -> tuple[str, str | None, str]:
    """The repository a request names: (domain, domain owner or None, repository)."""
    return params["domain"], params.get("domainOwner"), params["repository"]


def _tags(params: Params) -> dict[str, str]:
    return {tag["key"]: tag["value"] for tag in params.get("tags") or []}


def _page(params: Params) -> dict[str, Any]:
    return {"max_results": params.get("maxResults"), "next_token": params.get("nextToken")}


# -------------------------------------------------------------------------------- domains


def create_domain(store: Store, params: Params) -> Result:
    """CreateDomain."""
    with store.lock:
        domain = store.create_domain(
            params["domain"], encryption_key=params.get("encryptionKey"), tags=_tags(params)
        )
        return {"domain": domain_description(domain)}


def describe_domain(store: Store, params: Params) -> Result:
    """DescribeDomain."""
    with store.lock:
        domain = store.get_domain(params["domain"], params.get("domainOwner"))
        return {"domain": domain_description(domain)}


def list_domains(store: Store, params: Params) -> Result:
    """ListDomains."""
    with store.lock:
        page, token = paging.paginate(store.list_domains(), lambda d: (d.name,), **_page(params))
        return {"domains": [domain_summary(d) for d in page], "nextToken": token}


def delete_domain(store: Store, params: Params) -> Result:
    """DeleteDomain."""
    with store.lock:
        domain = store.delete_domain(params["domain"], params.get("domainOwner"))
        return {"domain": domain_description(domain)}


def get_authorization_token(store: Store, params: Params) -> Result:
    """GetAuthorizationToken."""
    duration = params.get("durationSeconds")
    if duration is not None and duration != 0 and duration < TOKEN_MIN_SECONDS:
        raise errors.validation(
            f"durationSeconds must be 0 or between {TOKEN_MIN_SECONDS} and "
            f"{TOKEN_DEFAULT_SECONDS}, got {duration}"
        )
    store.get_domain(params["domain"], params.get("domainOwner"))
    seconds = duration or TOKEN_DEFAULT_SECONDS
    token = base64.urlsafe_b64encode(os.urandom(48)).decode("ascii").rstrip("=")
    return {"authorizationToken": token, "expiration": now() + timedelta(seconds=seconds)}


# --------------------------------------------------------------------------- repositories


def create_repository(store: Store, params: Params) -> Result:
    """CreateRepository."""
    with store.lock:
        repository = store.create_repository(
            *_repository_named(params),
            description=params.get("description"),
            upstreams=[u["repositoryName"] for u in params.get("upstreams") or []],
            tags=_tags(params),
        )
        return {"repository": repository_description(repository)}


def describe_repository(store: Store, params: Params) -> Result:
    """DescribeRepository."""
    with store.lock:
        repository = store.get_repository(*_repository_named(params))
        return {"repository": repository_description(repository)}


def delete_repository(store: Store, params: Params) -> Result:
    """DeleteRepository."""
    with store.lock:
        repository = store.delete_repository(*_repository_named(params))
        return {"repository": repository_description(repository)}


def list_repositories(store: Store, params: Params) -> Result:
    """ListRepositories (every domain of the account)."""
    with store.lock:
        repositories = store.list_repositories(prefix=params.get("repositoryPrefix"))
        page, token = paging.paginate(
            repositories, lambda r: (r.name, r.domain_name), **_page(params)
        )
        return {"repositories": [repository_summary(r) for r in page], "nextToken": token}


def list_repositories_in_domain(store: Store, params: Params) -> Result:
    """ListRepositoriesInDomain."""
    with store.lock:
        repositories = store.list_repositories(
            domain_name=params["domain"],
            owner=params.get("domainOwner"),
            administrator_account=params.get("administratorAccount"),
            prefix=params.get("repositoryPrefix"),
        )
        page, token = paging.paginate(repositories, lambda r: (r.name,), **_page(params))
        return {"repositories": [repository_summary(r) for r in page], "nextToken": token}


# ------------------------------------------------------------------------------- packages


def list_packages(store: Store, params: Params) -> Result:
    """ListPackages (``namespace`` filters by prefix, as AWS documents)."""
    with store.lock:
        packages = store.list_packages(
            *_repository_named(params),
            format=params.get("format"),
            namespace_prefix=params.get("namespace"),
            package_prefix=params.get("packagePrefix"),
            publish=params.get("publish"),
            upstream=params.get("upstream"),
        )
        page, token = paging.paginate(
            packages, lambda p: (p.format, p.namespace or "", p.name), **_page(params)
        )
        return {"packages": [package_summary(p) for p in page], "nextToken": token}


def describe_package(store: Store, params: Params) -> Result:
    """DescribePackage."""
    with store.lock:
        package = store.get_package(package_ref(params))
        return {"package": package_summary(package, name_key="name")}


def delete_package(store: Store, params: Params) -> Result:
    """DeletePackage."""
    with store.lock:
        package = store.delete_package(package_ref(params))
        return {"deletedPackage": package_summary(package)}


# ------------------------------------------------------------------------------- versions


def publish_package_version(store: Store, params: Params) -> Result:
    """PublishPackageVersion: the body streams to disk; the store commits it atomically."""
    ref = package_ref(params, publish=True)
    body = params["assetContent"]
    outcome = store.publish(
        ref,
        params["packageVersion"],
        params["assetName"],
        body,
        declared_size=body.length,
        sha256=params["assetSHA256"],
        unfinished=bool(params.get("unfinished")),
    )
    return {
        "format": ref.format,
        "namespace": ref.namespace,
        "package": ref.package,
        "version": outcome.version,
        "versionRevision": outcome.revision,
        "status": outcome.status,
        "asset": asset_summary(outcome.asset, outcome.hashes),
    }


def describe_package_version(store: Store, params: Params) -> Result:
    """DescribePackageVersion."""
    ref = package_ref(params)
    with store.lock:
        version = store.get_version(ref, params["packageVersion"])
        return {
            "packageVersion": {
                "format": ref.format,
                "namespace": ref.namespace,
                "packageName": ref.package,
                "displayName": ref.package,
                "version": version.version,
                "publishedTime": version.published_time,
                "licenses": [],
                "revision": version.revision,
                "status": version.status,
                "origin": _origin(ref.repository),
            }
        }


def _version_sort_key(sort_by: str | None) -> Callable[[PackageVersion], paging.SortKey]:
    if sort_by == "PUBLISHED_TIME":
        return lambda v: (-v.published_time.timestamp(), natural_key(v.version))
    return lambda v: (natural_key(v.version), v.version)


def list_package_versions(store: Store, params: Params) -> Result:
    """ListPackageVersions."""
    ref = package_ref(params)
    with store.lock:
        package = store.get_package(ref)
        status = params.get("status")
        origin_type = params.get("originType")
        versions = [
            v
            for v in package.versions.values()
            if (status is None or v.status == status)
            and (origin_type is None or origin_type == "INTERNAL")
        ]
        page, token = paging.paginate(
            versions, _version_sort_key(params.get("sortBy")), **_page(params)
        )
        published = [v for v in package.versions.values() if v.status == Status.PUBLISHED]
        default = max(published, key=lambda v: v.published_time).version if published else None
        return {
            "defaultDisplayVersion": default,
            "format": ref.format,
            "namespace": ref.namespace,
            "package": ref.package,
            "versions": [
                {
                    "version": v.version,
                    "revision": v.revision,
                    "status": v.status,
                    "origin": _origin(ref.repository),
                }
                for v in page
            ],
            "nextToken": token,
        }


def list_package_version_assets(store: Store, params: Params) -> Result:
    """ListPackageVersionAssets (in publish order), with all four digests of each asset.

    The listing is taken under the store's lock; digests not computed yet are computed after
    it is released (from files opened under it), so hashing never blocks other requests.
    """
    ref = package_ref(params)
    with store.lock:
        version = store.get_version(ref, params["packageVersion"])
        order = {name: index for index, name in enumerate(version.assets)}
        page, token = paging.paginate(
            list(version.assets.values()), lambda a: (order[a.name],), **_page(params)
        )
        result: Result = {
            "format": ref.format,
            "namespace": ref.namespace,
            "package": ref.package,
            "version": version.version,
            "versionRevision": version.revision,
            "nextToken": token,
        }
        pending = store.open_digests(page)
    hashes = pending.hashes()
    result["assets"] = [asset_summary(a, h) for a, h in zip(page, hashes, strict=True)]
    return result


def get_package_version_asset(store: Store, params: Params) -> Result:
    """GetPackageVersionAsset: the file streams from disk as the response body."""
    ref = package_ref(params)
    version, asset, stream = store.open_asset(
        ref, params["packageVersion"], params["asset"], params.get("packageVersionRevision")
    )
    return {
        "asset": Payload(stream, asset.size),
        "assetName": asset.name,
        "packageVersion": version.version,
        "packageVersionRevision": version.revision,
    }


def update_package_versions_status(store: Store, params: Params) -> Result:
    """UpdatePackageVersionsStatus."""
    outcome = store.update_status(
        package_ref(params),
        params["versions"],
        target=params["targetStatus"],
        expected=params.get("expectedStatus"),
        revisions=params.get("versionRevisions"),
    )
    return _batch(outcome)


def delete_package_versions(store: Store, params: Params) -> Result:
    """DeletePackageVersions."""
    outcome = store.delete_versions(
        package_ref(params), params["versions"], expected=params.get("expectedStatus")
    )
    return _batch(outcome)


def dispose_package_versions(store: Store, params: Params) -> Result:
    """DisposePackageVersions."""
    outcome = store.dispose_versions(
        package_ref(params),
        params["versions"],
        expected=params.get("expectedStatus"),
        revisions=params.get("versionRevisions"),
    )
    return _batch(outcome)


#: Operation name → handler. Operations of the model that are missing here are answered
#: with ``UnknownOperationException``.
HANDLERS: Final[Mapping[str, Handler]] = {
    "CreateDomain": create_domain,
    "DescribeDomain": describe_domain,
    "ListDomains": list_domains,
    "DeleteDomain": delete_domain,
    "GetAuthorizationToken": get_authorization_token,
    "CreateRepository": create_repository,
    "DescribeRepository": describe_repository,
    "ListRepositories": list_repositories,
    "ListRepositoriesInDomain": list_repositories_in_domain,
    "DeleteRepository": delete_repository,
    "ListPackages": list_packages,
    "DescribePackage": describe_package,
    "DeletePackage": delete_package,
    "PublishPackageVersion": publish_package_version,
    "DescribePackageVersion": describe_package_version,
    "ListPackageVersions": list_package_versions,
    "ListPackageVersionAssets": list_package_version_assets,
    "GetPackageVersionAsset": get_package_version_asset,
    "UpdatePackageVersionsStatus": update_package_versions_status,
    "DeletePackageVersions": delete_package_versions,
    "DisposePackageVersions": dispose_package_versions,
}
