"""Fault injection: make the next calls of an operation fail the way CodeArtifact can fail.

Every :class:`~.server.CodeArtifactEmulator` has a :class:`Faults` plan at ``emulator.faults``.
A rule applies to the next ``times`` calls of one operation (``"*"``: any operation) and is
consumed per call, thread-safely::

    rule = emulator.faults.next("PublishPackageVersion", "throttling", times=2, retry_after=1)
    ...  # the handler under test runs
    assert rule.hits == 2

Kinds (status codes and headers are those of botocore's ``codeartifact`` model, so botocore
classifies them as it classifies the real service's answers):

``throttling``
    ``ThrottlingException``, HTTP 429, ``Retry-After: <retry_after>`` (seconds; the model's
    ``retryAfterSeconds`` header). botocore retries it as a throttling error.
``internal``
    ``InternalServerException``, HTTP 500 (a modelled fault). botocore retries it as transient.
``quota``
    ``ServiceQuotaExceededException``, HTTP 402, with ``resourceType``/``resourceId``. Not
    retried.
``reset_mid_body``
    Read ``fraction`` (default half) of the request body, then close the connection without
    answering (an abortive close: the client sees a connection reset). Nothing is stored.
``slow``
    Sleep ``seconds`` before the operation runs; with ``after_bytes``, first read that many
    bytes of the request body (a stalled upload), then sleep, then go on normally.
``accept_wrong_hash``
    PublishPackageVersion stores the asset even when the body's SHA256 differs from the
    ``x-amz-content-sha256`` header (it records the body's real hashes). A client that
    cross-checks the bytes it streams never lets such a body reach the server whole.
``hold`` (in process only)
    Hold the call until the test releases it: ``phase="before"`` (the operation has not run;
    with ``after_bytes``, that many bytes of the body were read first: an upload held in
    the middle) or ``phase="after"`` (the operation ran and committed; its answer waits).
    ``rule.reached`` is set when the call is held, ``rule.release()`` lets it go on;
    ``timeout`` (seconds, default 120) releases it anyway, so a failed test never hangs.
    This is how tests force an interleaving deterministically (e.g. a sibling resource fails
    while a Create is held just before its final asset).

Options every kind accepts: ``times`` (an int, or None for every matching call until
:meth:`Faults.clear`), ``after`` (let that many matching calls through first) and ``match``
(request parameters by model name that must be equal, e.g. ``{"assetName": "b.bin"}``).
``internal``, ``throttling`` and ``quota`` take a ``message``.

Every call that reaches an operation is recorded in :attr:`Faults.calls` (with the fault
applied, if any), so tests can assert what a client did and did not attempt.

Out of process the same control is served over HTTP on the emulator's own port:
``POST /__faults__`` with ``{"operation", "kind", "times", "after", "match", ...options}``
adds a rule (answers ``{"id": n}``), ``GET /__faults__`` lists rules and calls,
``DELETE /__faults__`` clears both. :class:`FaultControl` is a small client for it.
"""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
import threading
import time
import urllib.request
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from codeartifact_generic.testing._emulator import errors, model

#: Path of the HTTP control endpoint.
CONTROL_PATH: Final = "/__faults__"

THROTTLING: Final = "throttling"
INTERNAL: Final = "internal"
QUOTA: Final = "quota"
RESET_MID_BODY: Final = "reset_mid_body"
SLOW: Final = "slow"
ACCEPT_WRONG_HASH: Final = "accept_wrong_hash"
HOLD: Final = "hold"

#: Each kind → its options and their defaults.
KINDS: Final[Mapping[str, Mapping[str, Any]]] = {
    THROTTLING: {"retry_after": 1, "message": "Rate exceeded (injected fault)"},
    INTERNAL: {"message": "An internal error occurred (injected fault)"},
    QUOTA: {"message": "Service quota exceeded (injected fault)"},
    RESET_MID_BODY: {"fraction": 0.5},
    SLOW: {"seconds": 1.0, "after_bytes": None},
    ACCEPT_WRONG_HASH: {},
    HOLD: {"phase": "before", "after_bytes": None, "timeout": 120.0},
}

#: Calls remembered in :attr:`Faults.calls` (the oldest are dropped first).
MAX_RECORDED_CALLS: Final = 10_000

_CHUNK: Final = 1024 * 1024
#: Bytes read of a chunked body (unknown length) before a reset.
_UNKNOWN_LENGTH_RESET_BYTES: Final = 64 * 1024
#: Spooled bodies of ``accept_wrong_hash`` stay in memory up to this size.
_SPOOL_IN_MEMORY: Final = 8 * 1024 * 1024


class AbortConnection(Exception):
    """Raised by a fault: the server closes the connection abortively and sends nothing."""


class _Body(Protocol):
    @property
    def length(self) -> int | None: ...  # pragma: no cover - protocol

    def read(self, size: int, /) -> bytes: ...  # pragma: no cover - protocol


@dataclass
class FaultRule:
    """One planned fault; ``hits`` counts the calls it answered so far."""

    id: int
    operation: str
    kind: str
    #: How many calls it answers; None: every matching call until cleared.
    times: int | None
    #: Matching calls to let through before the first hit.
    after: int = 0
    #: Request parameters (by model name) that must be equal for the rule to match.
    match: Mapping[str, Any] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    hits: int = 0
    #: Matching calls let through because of ``after``.
    passed: int = 0
    #: ``hold``: set once a call is held.
    reached: threading.Event = field(default_factory=threading.Event)
    #: ``hold``: set by :meth:`release`.
    released: threading.Event = field(default_factory=threading.Event)

    def release(self) -> None:
        """``hold``: let the held call (and any later one) go on."""
        self.released.set()

    def hold(self) -> None:
        """``hold``: block the calling request thread until released (or the timeout)."""
        self.reached.set()
        self.released.wait(float(self.options["timeout"]))

    @property
    def exhausted(self) -> bool:
        """True once the rule has answered ``times`` calls."""
        return self.times is not None and self.hits >= self.times

    def matches(self, operation: str, params: Mapping[str, Any]) -> bool:
        """Whether a call of ``operation`` with ``params`` is one this rule is about."""
        if self.operation not in ("*", operation):
            return False
        return all(params.get(name) == value for name, value in self.match.items())

    def describe(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "id": self.id,
            "operation": self.operation,
            "kind": self.kind,
            "times": self.times,
            "after": self.after,
            "match": dict(self.match),
            "options": dict(self.options),
            "hits": self.hits,
            "passed": self.passed,
        }


@dataclass(frozen=True)
class Call:
    """A call that reached an operation: its scalar parameters and the fault applied."""

    operation: str
    params: Mapping[str, Any]
    fault: str | None
    at: float

    def describe(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "operation": self.operation,
            "params": dict(self.params),
            "fault": self.fault,
            "at": self.at,
        }


class Faults:
    """The fault plan of one emulator (thread-safe); the server calls it before each operation."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._calls: deque[Call] = deque(maxlen=MAX_RECORDED_CALLS)
        self._next_id = 1
        #: Requests whose ``hold`` waits until after the operation ran.
        self._held_after: dict[int, FaultRule] = {}

    # ------------------------------------------------------------------------------ planning

    def next(
        self,
        operation: str,
        kind: str,
        times: int | None = 1,
        *,
        after: int = 0,
        match: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> FaultRule:
        """Make the next ``times`` calls of ``operation`` (``"*"``: any) fail with ``kind``.

        Raises ValueError for an unknown kind, an option the kind does not take, or a bad count.
        """
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {', '.join(KINDS)}")
        unknown = sorted(set(options) - set(KINDS[kind]))
        if unknown:
            allowed = ", ".join(KINDS[kind]) or "none"
            raise ValueError(f"fault {kind!r} takes no option {unknown} (options: {allowed})")
        if times is not None and (not isinstance(times, int) or times < 1):
            raise ValueError(f"times must be a positive integer or None, got {times!r}")
        if not isinstance(after, int) or after < 0:
            raise ValueError(f"after must be a non-negative integer, got {after!r}")
        with self._lock:
            rule = FaultRule(
                id=self._next_id,
                operation=operation,
                kind=kind,
                times=times,
                after=after,
                match=dict(match or {}),
                options={**KINDS[kind], **options},
            )
            self._next_id += 1
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        """Forget every rule and every recorded call."""
        with self._lock:
            self._rules.clear()
            self._calls.clear()

    @property
    def rules(self) -> list[FaultRule]:
        """Rules not used up yet, in the order they apply."""
        with self._lock:
            return [rule for rule in self._rules if not rule.exhausted]

    @property
    def calls(self) -> list[Call]:
        """Calls that reached an operation, oldest first."""
        with self._lock:
            return list(self._calls)

    def calls_to(self, operation: str, **params: Any) -> list[Call]:
        """Recorded calls of ``operation`` whose parameters include ``params``."""
        return [
            call
            for call in self.calls
            if call.operation == operation
            and all(call.params.get(k) == v for k, v in params.items())
        ]

    # ------------------------------------------------------------------------------ applying

    def __call__(self, operation: str, request: model.Request) -> None:
        """The server's hook: record the call and apply the first matching rule, if any."""
        rule = self._take(operation, request.params)
        self._record(operation, request.params, rule.kind if rule else None)
        if rule is not None and rule.kind == HOLD and rule.options["phase"] == "after":
            with self._lock:
                self._held_after[id(request)] = rule
        elif rule is not None:
            _apply(rule, request)

    def after(self, operation: str, request: model.Request) -> None:
        """The server's hook once ``operation`` ran: a ``hold`` of phase "after" waits here."""
        with self._lock:
            rule = self._held_after.pop(id(request), None)
        if rule is not None:
            rule.hold()

    def _take(self, operation: str, params: Mapping[str, Any]) -> FaultRule | None:
        with self._lock:
            for rule in self._rules:
                if rule.exhausted or not rule.matches(operation, params):
                    continue
                if rule.passed < rule.after:
                    rule.passed += 1
                    continue
                rule.hits += 1
                return rule
            self._rules = [rule for rule in self._rules if not rule.exhausted]
        return None

    def _record(self, operation: str, params: Mapping[str, Any], fault: str | None) -> None:
        scalars = {
            name: value
            for name, value in params.items()
            if isinstance(value, str | int | float | bool) or value is None
        }
        with self._lock:
            self._calls.append(Call(operation, scalars, fault, time.time()))

    # ------------------------------------------------------------------------- HTTP control

    def control(self, method: str, body: bytes) -> model.Response:
        """Answer a request to :data:`CONTROL_PATH` (see the module docstring)."""
        if method == "GET":
            with self._lock:
                document = {
                    "rules": [r.describe() for r in self._rules if not r.exhausted],
                    "calls": [c.describe() for c in self._calls],
                }
            return _json(200, document)
        if method == "DELETE":
            self.clear()
            return _json(200, {})
        if method != "POST":
            return _json(405, {"message": f"{method} is not supported on {CONTROL_PATH}"})
        try:
            spec = json.loads(body or b"{}")
            if not isinstance(spec, dict):
                raise ValueError("the body must be a JSON object")
            operation = spec.pop("operation")
            kind = spec.pop("kind")
            if kind == HOLD:
                raise ValueError("hold is in process only (nothing could release it)")
            rule = self.next(
                str(operation),
                str(kind),
                spec.pop("times", 1),
                after=spec.pop("after", 0),
                match=spec.pop("match", None),
                **spec.pop("options", {}),
                **spec,
            )
        except (KeyError, TypeError, ValueError) as error:
            return _json(400, {"message": f"bad fault: {error!s}"})
        return _json(200, {"id": rule.id})


def _json(status: int, document: Mapping[str, Any]) -> model.Response:
    return model.Response(
        status, {"Content-Type": "application/json"}, body=json.dumps(document).encode()
    )


# ---------------------------------------------------------------------------------- kinds


def _apply(rule: FaultRule, request: model.Request) -> None:
    options = rule.options
    kind = rule.kind
    if kind == THROTTLING:
        raise errors.EmulatorError(
            errors.THROTTLING,
            str(options["message"]),
            fields={"retryAfterSeconds": int(options["retry_after"])},
        )
    if kind == INTERNAL:
        raise errors.EmulatorError(errors.INTERNAL, str(options["message"]))
    if kind == QUOTA:
        resource_type, resource_id = _quota_resource(request.params)
        raise errors.quota_exceeded(str(options["message"]), resource_type, resource_id)
    if kind == RESET_MID_BODY:
        body = _body_of(request)
        if body is not None:
            length = body.length
            wanted = (
                int(length * float(options["fraction"]))
                if length is not None
                else _UNKNOWN_LENGTH_RESET_BYTES
            )
            _read_up_to(body, wanted)
        raise AbortConnection(f"{request.operation}: connection reset by an injected fault")
    if kind == SLOW:
        after_bytes = options["after_bytes"]
        if after_bytes is not None:
            body = _body_of(request)
            if body is not None:
                prefix = _read_up_to(body, int(after_bytes))
                _replace_body(request, _Replayed(prefix, body))
        time.sleep(float(options["seconds"]))
        return
    if kind == HOLD:
        after_bytes = options["after_bytes"]
        body = _body_of(request) if after_bytes is not None else None
        if body is not None:
            prefix = _read_up_to(body, int(after_bytes))
            _replace_body(request, _Replayed(prefix, body))
        rule.hold()
        return
    if kind == ACCEPT_WRONG_HASH:
        body = _body_of(request)
        if body is not None and "assetSHA256" in request.params:
            spooled, sha256 = _spool(body)
            _replace_body(request, spooled)
            request.params["assetSHA256"] = sha256
        return
    raise AssertionError(f"unhandled fault kind {kind!r}")  # pragma: no cover


def _quota_resource(params: Mapping[str, Any]) -> tuple[str, str]:
    if params.get("assetName"):
        return errors.RESOURCE_ASSET, str(params["assetName"])
    if params.get("packageVersion"):
        return errors.RESOURCE_PACKAGE_VERSION, str(params["packageVersion"])
    if params.get("repository"):
        return errors.RESOURCE_REPOSITORY, str(params["repository"])
    return errors.RESOURCE_DOMAIN, str(params.get("domain", ""))


def _body_of(request: model.Request) -> _Body | None:
    """The streaming payload (``assetContent``) of the request, if it has one."""
    for value in request.params.values():
        if hasattr(value, "read") and hasattr(value, "length"):
            body: _Body = value
            return body
    return None


def _replace_body(request: model.Request, replacement: _Body) -> None:
    for name, value in request.params.items():
        if hasattr(value, "read") and hasattr(value, "length"):
            request.params[name] = replacement
            return


def _read_up_to(body: _Body, size: int) -> bytes:
    parts: list[bytes] = []
    remaining = size
    while remaining > 0:
        chunk = body.read(min(_CHUNK, remaining))
        if not chunk:
            break
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)


class _Replayed:
    """``prefix`` (already read from ``rest``) followed by the rest of the body."""

    def __init__(self, prefix: bytes, rest: _Body) -> None:
        self._prefix = io.BytesIO(prefix)
        self._rest = rest

    @property
    def length(self) -> int | None:
        return self._rest.length

    def read(self, size: int, /) -> bytes:
        chunk = self._prefix.read(size)
        return chunk if chunk else self._rest.read(size)


class _Spooled:
    """A body read to its end into a temporary file (closed once read to the end)."""

    def __init__(self, spool: tempfile.SpooledTemporaryFile[bytes], size: int) -> None:
        self._spool = spool
        self._size = size

    @property
    def length(self) -> int | None:
        return self._size

    def read(self, size: int, /) -> bytes:
        chunk = self._spool.read(size)
        if not chunk:
            self._spool.close()
        return chunk


def _spool(body: _Body) -> tuple[_Spooled, str]:
    digest = hashlib.sha256()
    # Handed on to the store, which reads it to the end (that closes it).
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)  # noqa: SIM115
    size = 0
    try:
        while chunk := body.read(_CHUNK):
            digest.update(chunk)
            spool.write(chunk)
            size += len(chunk)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return _Spooled(spool, size), digest.hexdigest()


# -------------------------------------------------------------------------------- client


class FaultControl:
    """Client of the HTTP control endpoint, for an emulator in another process."""

    def __init__(self, endpoint_url: str, *, timeout: float = 10.0) -> None:
        self._url = endpoint_url.rstrip("/") + CONTROL_PATH
        self._timeout = timeout

    def next(
        self,
        operation: str,
        kind: str,
        times: int | None = 1,
        *,
        after: int = 0,
        match: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> int:
        """Like :meth:`Faults.next`; returns the rule's id."""
        spec = {
            "operation": operation,
            "kind": kind,
            "times": times,
            "after": after,
            "match": dict(match or {}),
            "options": options,
        }
        return int(self._request("POST", spec)["id"])

    def state(self) -> dict[str, Any]:
        """``{"rules": [...], "calls": [...]}``."""
        return self._request("GET", None)

    def clear(self) -> None:
        """Forget every rule and recorded call."""
        self._request("DELETE", None)

    def _request(self, method: str, document: Mapping[str, Any] | None) -> dict[str, Any]:
        data = json.dumps(document).encode() if document is not None else None
        request = urllib.request.Request(  # noqa: S310 - the URL is the caller's endpoint
            self._url, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310
            answer: dict[str, Any] = json.loads(response.read() or b"{}")
        return answer
