"""In-memory fakes of the handler's two ports (``codeartifact_generic.handler.ports``).

They follow the rules of the real services that the workflows depend on, as the CodeArtifact
emulator implements them (``codeartifact_generic.testing._emulator.store``): a version is
created by its first publish (Unfinished, or Published without ``unfinished``), only an
Unfinished version accepts assets, the same name with other bytes is a ``ConflictException``,
a body whose SHA256 is not the declared one is refused, every accepted write gives a new
revision, ``publishedTime`` is set on creation and again when the version first becomes
Published, and status changes and deletions honour their preconditions. Every call is
recorded, and a test can make the next call of an operation fail or run a hook first.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import IO, Any, TypeVar

from botocore.exceptions import ClientError
from codeartifact_generic.handler.codeartifact import StatusChangeRejected
from codeartifact_generic.handler.errors import PublishFailed
from codeartifact_generic.handler.ports import ObjectInfo, StoredAsset, VersionState
from codeartifact_generic.handler.properties import AssetSpec, VersionRequest
from codeartifact_generic.handler.streams import HashingBody, Readable

_revisions = itertools.count(1)
T = TypeVar("T")


def sha256(data: bytes) -> str:
    """Hex SHA256."""
    return hashlib.sha256(data).hexdigest()


def version_request(*assets: AssetSpec, **changes: Any) -> VersionRequest:
    """Version 1.0.0 of tools/mycli in repository ``r`` of domain ``d``, Published unless
    ``changes`` say otherwise."""
    fields: dict[str, Any] = {
        "domain": "d",
        "domain_owner": "123456789012",
        "repository": "r",
        "namespace": "tools",
        "package": "mycli",
        "version": "1.0.0",
        "status": "Published",
        **changes,
    }
    return VersionRequest(assets=assets, **fields)


def service_error(code: str, message: str = "", *, operation: str = "Call") -> ClientError:
    """A ``ClientError`` as botocore raises it for an AWS error ``code``."""
    return ClientError({"Error": {"Code": code, "Message": message or code}}, operation)


@dataclass
class Call:
    """One recorded call of a fake."""

    operation: str
    params: dict[str, Any] = field(default_factory=dict)


class _Recording:
    """Call log, planned failures and hooks shared by both fakes.

    A plan applies to the next call(s) of its operation whose parameters include ``match``
    (e.g. ``name="b.bin"`` for a publish); hooks run before failures.
    """

    def __init__(self) -> None:
        self.calls: list[Call] = []
        #: Calls may come from several threads (assets published in parallel).
        self._lock = threading.RLock()
        self._failures: list[tuple[str, dict[str, Any], BaseException]] = []
        self._hooks: list[tuple[str, dict[str, Any], Callable[[], None]]] = []

    def fail_next(self, operation: str, error: BaseException, times: int = 1, **match: Any) -> None:
        """The next ``times`` calls of ``operation`` that ``match`` raise ``error``."""
        self._failures.extend([(operation, match, error)] * times)

    def before_next(self, operation: str, hook: Callable[[], None], **match: Any) -> None:
        """Run ``hook`` before the next call of ``operation`` that ``match`` (e.g. another
        writer publishing first)."""
        self._hooks.append((operation, match, hook))

    def _enter(self, operation: str, **params: Any) -> None:
        with self._lock:
            self.calls.append(Call(operation, params))
            hook = _take(self._hooks, operation, params)
            error = _take(self._failures, operation, params)
        if hook is not None:
            hook()
        if error is not None:
            raise error

    def operations(self) -> list[str]:
        """The operations called, in order."""
        return [call.operation for call in self.calls]

    def of(self, operation: str) -> list[dict[str, Any]]:
        """The parameters of every call of ``operation``."""
        return [call.params for call in self.calls if call.operation == operation]


def _take(
    plans: list[tuple[str, dict[str, Any], T]], operation: str, params: dict[str, Any]
) -> T | None:
    for index, (planned, match, item) in enumerate(plans):
        if planned == operation and all(params.get(k) == v for k, v in match.items()):
            del plans[index]
            return item
    return None


class FakeObjects(_Recording):
    """An object source over in-memory objects (S3 as the handler sees it)."""

    def __init__(self) -> None:
        super().__init__()
        self._objects: dict[tuple[str, str], bytes] = {}
        self._checksums: dict[tuple[str, str], str] = {}

    def put(self, bucket: str, key: str, data: bytes, *, stored_sha256: bool = False) -> None:
        """Store an object; ``stored_sha256``: with S3's full-object SHA256 checksum."""
        self._objects[(bucket, key)] = data
        self._checksums.pop((bucket, key), None)
        if stored_sha256:
            self._checksums[(bucket, key)] = sha256(data)

    def head(self, asset: AssetSpec) -> ObjectInfo:
        self._enter("head", asset=asset.name)
        data = self._object(asset)
        return ObjectInfo(
            size=len(data),
            etag=hashlib.md5(data).hexdigest(),
            stored_sha256=self._checksums.get((asset.bucket, asset.key)),
        )

    def open(self, asset: AssetSpec, info: ObjectInfo) -> Readable:
        self._enter("open", asset=asset.name)
        data = self._object(asset)
        if hashlib.md5(data).hexdigest() != info.etag:
            raise PublishFailed(f"asset {asset.name!r}: {asset.location} changed while read")
        return io.BytesIO(data)

    def _object(self, asset: AssetSpec) -> bytes:
        found = self._objects.get((asset.bucket, asset.key))
        if found is None:
            raise PublishFailed(f"asset {asset.name!r}: {asset.location} does not exist")
        return found

    def opened(self, name: str) -> int:
        """How often the object of asset ``name`` was opened for reading."""
        return sum(1 for params in self.of("open") if params["asset"] == name)


class FakeVersion(_Recording):
    """One package version, held in memory (CodeArtifact as the handler sees it)."""

    def __init__(self, now: Callable[[], datetime] | None = None) -> None:
        super().__init__()
        self.status: str | None = None
        self.revision = ""
        self.published_time: datetime | None = None
        self.held: dict[str, bytes] = {}
        self._now = now or (lambda: datetime.now(UTC))
        #: ``("start" | "end", asset name)`` of every publish call and ``("delete", "")`` of
        #: every delete call, in the order they happened.
        self.timeline: list[tuple[str, str]] = []

    # ------------------------------------------------------------------------- arranging

    def existing(
        self,
        assets: dict[str, bytes],
        status: str = "Published",
        *,
        age: timedelta = timedelta(days=1),
    ) -> FakeVersion:
        """Hold a version that someone published ``age`` ago."""
        self.status = status
        self.held = dict(assets)
        self.revision = _new_revision()
        self.published_time = self._now() - age
        return self

    @property
    def exists(self) -> bool:
        """Whether the version exists."""
        return self.status is not None

    def stored(self) -> dict[str, str]:
        """Asset name → SHA256 of what the version holds."""
        return {name: sha256(data) for name, data in self.held.items()}

    # ------------------------------------------------------------------------- the port

    def describe(self) -> VersionState | None:
        self._enter("describe")
        if self.status is None:
            return None
        return VersionState(self.status, self.revision, self.published_time)

    def assets(self) -> dict[str, StoredAsset]:
        self._enter("assets")
        return {name: StoredAsset(name, sha256(data)) for name, data in self.held.items()}

    def publish(
        self, name: str, body: HashingBody | IO[bytes], sha256: str, *, unfinished: bool
    ) -> VersionState:
        with self._lock:
            self.timeline.append(("start", name))
        try:
            self._enter("publish", name=name, sha256=sha256, unfinished=unfinished)
            data = b"".join(iter(lambda: body.read(65536), b""))
            with self._lock:  # the service orders the writes to one version
                return self._accept(name, data, sha256, unfinished)
        finally:
            with self._lock:
                self.timeline.append(("end", name))

    @property
    def most_in_flight(self) -> int:
        """Most publish calls that were running at the same time."""
        running = most = 0
        for event, _name in self.timeline:
            running += {"start": 1, "end": -1}.get(event, 0)
            most = max(most, running)
        return most

    def _accept(self, name: str, data: bytes, sha256: str, unfinished: bool) -> VersionState:
        if hashlib.sha256(data).hexdigest() != sha256:
            raise service_error("ValidationException", "the hashes do not match")
        if self.status is not None and self.status != "Unfinished":
            raise service_error("ConflictException", f"the version is {self.status}")
        if name in self.held and self.held[name] != data:
            raise service_error("ConflictException", f"asset {name} exists with other bytes")
        if self.status is None:
            self.status, self.published_time = "Unfinished", self._now()
        self.held[name] = data
        self.revision = _new_revision()
        if not unfinished:
            self.status, self.published_time = "Published", self._now()
        return VersionState(self.status, self.revision)

    def set_status(self, target: str, *, expected: VersionState) -> VersionState:
        self._enter(
            "set_status",
            target=target,
            expected_status=expected.status,
            expected_revision=expected.revision,
        )
        if (self.status, self.revision) != (expected.status, expected.revision):
            raise StatusChangeRejected(f"the version is {self.status} at {self.revision}")
        if self.status != target:
            if target == "Published" and self.status == "Unfinished":
                self.published_time = self._now()
            self.status = target
            self.revision = _new_revision()
        return VersionState(self.status, self.revision)

    def delete(self, *, expected_status: str | None = None) -> bool:
        self._enter("delete", expected_status=expected_status)
        with self._lock:
            self.timeline.append(("delete", ""))
        if self.status is None or (expected_status and self.status != expected_status):
            return False
        self.status, self.revision, self.published_time, self.held = None, "", None, {}
        return True

    def dispose(self) -> bool:
        self._enter("dispose")
        if self.status is None:
            return False
        self.status, self.revision, self.held = "Disposed", _new_revision(), {}
        return True


def _new_revision() -> str:
    return f"rev-{next(_revisions)}"
