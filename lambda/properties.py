"""Parse the event's ``ResourceProperties`` into a typed, validated request.

CloudFormation delivers every scalar as a string, so numbers are parsed here. Every problem is
collected and reported at once, each naming the property it is about.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from . import contract
from .contract import AssetProp, Prop


class InvalidProperties(ValueError):
    """The resource properties do not describe a valid package version."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("Invalid properties: " + "; ".join(self.problems))


@dataclass(frozen=True)
class AssetSpec:
    """One asset to publish: where its bytes are in S3 and what is known about them."""

    name: str
    bucket: str
    key: str
    object_version: str | None = None
    #: Lowercase hex SHA256 computed at synth or declared by the user, or None when only the
    #: deploy can know it.
    sha256: str | None = None
    #: Size in bytes known at synth (a staged file), or None.
    size: int | None = None

    @property
    def sha256_declared(self) -> bool:
        """Whether ``sha256`` was declared by the user for an existing object, rather than
        computed at synth from a staged file (which gives its size too)."""
        return self.sha256 is not None and self.size is None

    def sha256_mismatch(self, actual: str) -> str:
        """Why the object whose SHA256 is ``actual`` is not this asset, and what to do."""
        expected = (self.sha256 or "")[:12]
        if self.sha256_declared:
            return (
                f"asset {self.name!r}: {self.location} has SHA256 {actual[:12]}… but "
                f"{expected}… was declared for it: declare the object's real SHA256 (or none), "
                "or point the asset at the object you meant"
            )
        return (
            f"asset {self.name!r}: {self.location} has SHA256 {actual[:12]}… but synth "
            f"computed {expected}…: the object changed since synth; synthesize and deploy again"
        )

    @property
    def location(self) -> str:
        """``s3://bucket/key`` (plus ``?versionId=``), for messages."""
        suffix = f"?versionId={self.object_version}" if self.object_version else ""
        return f"s3://{self.bucket}/{self.key}{suffix}"


@dataclass(frozen=True)
class VersionRequest:
    """A generic package version as the stack declares it."""

    domain: str
    domain_owner: str
    repository: str
    namespace: str
    package: str
    version: str
    status: str
    assets: tuple[AssetSpec, ...]
    #: ``Retain`` or ``Destroy``.
    removal_policy: str = contract.Removal.RETAIN
    #: With ``Destroy``: ``Delete``, ``Dispose``, ``Archive`` or ``Unlist``.
    on_delete: str = contract.Removal.DELETE
    #: Delete and republish a version that holds other bytes instead of failing.
    replace_existing: bool = False
    #: Apply the removal policy also to a version that existed before (adopted).
    remove_adopted: bool = False

    @property
    def physical_id(self) -> str:
        """The custom resource's physical id: the version's identity."""
        return contract.physical_resource_id(
            domain_owner=self.domain_owner,
            domain=self.domain,
            repository=self.repository,
            namespace=self.namespace,
            package=self.package,
            version=self.version,
        )

    @property
    def label(self) -> str:
        """``namespace/package@version`` for messages."""
        return f"{self.namespace}/{self.package}@{self.version}"


_NAME_RULES: tuple[tuple[str, contract.NamePattern], ...] = (
    (Prop.DOMAIN, contract.DOMAIN_NAME),
    (Prop.REPOSITORY, contract.REPOSITORY_NAME),
    (Prop.NAMESPACE, contract.NAMESPACE_NAME),
    (Prop.PACKAGE, contract.PACKAGE_NAME),
    (Prop.VERSION, contract.VERSION_NAME),
)


def parse_request(properties: Mapping[str, object], *, default_owner: str) -> VersionRequest:
    """Build a :class:`VersionRequest`; ``default_owner`` is used when DomainOwner is absent.

    Raises :class:`InvalidProperties` listing every problem found.
    """
    problems: list[str] = []
    names: dict[str, str] = {}
    for prop, rule in _NAME_RULES:
        value = _string(properties, prop, problems)
        if value is not None:
            names[prop] = value
            if (problem := rule.problem(value)) is not None:
                problems.append(f"{prop}: {problem}")

    owner = properties.get(Prop.DOMAIN_OWNER) or default_owner
    if not isinstance(owner, str):
        problems.append(f"{Prop.DOMAIN_OWNER} must be a string, got {type(owner).__name__}")
        owner = default_owner
    elif (problem := contract.ACCOUNT_ID.problem(owner)) is not None:
        problems.append(f"{Prop.DOMAIN_OWNER}: {problem}")

    status = properties.get(Prop.STATUS, contract.Status.PUBLISHED)
    if status not in contract.REQUESTABLE_STATUSES:
        allowed = ", ".join(contract.REQUESTABLE_STATUSES)
        problems.append(f"{Prop.STATUS} must be one of {allowed}, got {status!r}")

    removal_policy = _choice(properties, Prop.REMOVAL_POLICY, contract.Removal.POLICIES, problems)
    on_delete = _choice(properties, Prop.ON_DELETE, contract.Removal.ACTIONS, problems)
    replace_existing = _flag(properties, Prop.REPLACE_EXISTING, problems)
    remove_adopted = _flag(properties, Prop.REMOVE_ADOPTED, problems)
    assets = _assets(properties.get(Prop.ASSETS), problems)
    if problems:
        raise InvalidProperties(problems)
    return VersionRequest(
        domain=names[Prop.DOMAIN],
        domain_owner=owner,
        repository=names[Prop.REPOSITORY],
        namespace=names[Prop.NAMESPACE],
        package=names[Prop.PACKAGE],
        version=names[Prop.VERSION],
        status=str(status),
        assets=assets,
        removal_policy=removal_policy,
        on_delete=on_delete,
        replace_existing=replace_existing,
        remove_adopted=remove_adopted,
    )


def _choice(
    props: Mapping[str, object], key: str, allowed: tuple[str, ...], problems: list[str]
) -> str:
    """An optional property restricted to ``allowed``; defaults to the first of them."""
    value = props.get(key) or allowed[0]
    if value not in allowed:
        problems.append(f"{key} must be one of {', '.join(allowed)}, got {value!r}")
        return allowed[0]
    return str(value)


def _flag(props: Mapping[str, object], key: str, problems: list[str]) -> bool:
    """An optional boolean; CloudFormation delivers ``"true"``/``"false"``."""
    value = props.get(key, "false")
    if isinstance(value, bool):
        return value
    if str(value).lower() not in ("true", "false"):
        problems.append(f"{key} must be true or false, got {value!r}")
        return False
    return str(value).lower() == "true"


def _string(props: Mapping[str, object], key: str, problems: list[str]) -> str | None:
    value = props.get(key)
    if value is None or value == "":
        problems.append(f"{key} is required")
        return None
    if not isinstance(value, str):
        problems.append(f"{key} must be a string, got {type(value).__name__}")
        return None
    return value


def _assets(raw: object, problems: list[str]) -> tuple[AssetSpec, ...]:
    if not isinstance(raw, list) or not raw:
        problems.append(f"{Prop.ASSETS} must be a non-empty list of assets")
        return ()
    specs: list[AssetSpec] = []
    seen: set[str] = set()
    for index, entry in enumerate(raw):
        where = f"{Prop.ASSETS}[{index}]"
        if not isinstance(entry, Mapping):
            problems.append(f"{where} must be a map, got {type(entry).__name__}")
            continue
        spec = _asset(entry, where, problems)
        if spec is None:
            continue
        if spec.name in seen:
            problems.append(f"{where}: asset name {spec.name!r} is used twice")
        seen.add(spec.name)
        specs.append(spec)
    return tuple(specs)


def _asset(entry: Mapping[str, object], where: str, problems: list[str]) -> AssetSpec | None:
    before = len(problems)
    name = _string(entry, AssetProp.NAME, problems)
    bucket = _string(entry, AssetProp.BUCKET, problems)
    key = _string(entry, AssetProp.KEY, problems)
    problems[before:] = [f"{where}.{p}" for p in problems[before:]]
    if name is not None and (problem := contract.ASSET_NAME.problem(name)) is not None:
        problems.append(f"{where}: {problem}")
    sha256 = entry.get(AssetProp.SHA256) or None
    if sha256 is not None and (
        not isinstance(sha256, str) or contract.SHA256_HEX.problem(sha256) is not None
    ):
        problems.append(f"{where}.{AssetProp.SHA256} must be 64 lowercase hex digits")
        sha256 = None
    size = _size(entry.get(AssetProp.SIZE), where, problems)
    object_version = entry.get(AssetProp.OBJECT_VERSION) or None
    if object_version is not None and not isinstance(object_version, str):
        problems.append(f"{where}.{AssetProp.OBJECT_VERSION} must be a string")
        object_version = None
    if name is None or bucket is None or key is None or len(problems) > before:
        return None
    return AssetSpec(
        name=name,
        bucket=bucket,
        key=key,
        object_version=object_version,
        sha256=sha256 if isinstance(sha256, str) else None,
        size=size,
    )


def _size(raw: object, where: str, problems: list[str]) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        size = int(str(raw))
    except ValueError:
        problems.append(f"{where}.{AssetProp.SIZE} must be a whole number, got {raw!r}")
        return None
    if size < 0:
        problems.append(f"{where}.{AssetProp.SIZE} must not be negative, got {size}")
        return None
    return size
