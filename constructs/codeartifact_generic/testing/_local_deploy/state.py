"""What the local CloudFormation remembers between runs, persisted as JSON.

One file, ``STATE_DIR/state.json``, holds every deployed stack: its template, parameters,
resources (resolved properties, physical id, attributes, provider-private data), outputs,
the exports it imports and the stacks it depends on. It is rewritten atomically after every
resource operation, so a separate process (the CLI) can update or destroy what an earlier one
deployed.

Listeners (:meth:`StateStore.subscribe`) hear of every change as it is recorded; the engine
uses that to publish live stack statuses to its local CloudFormation API endpoint.
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

__all__ = [
    "STATE_FILE",
    "OutputState",
    "ResourceState",
    "StackState",
    "StateListener",
    "StateStore",
]

STATE_FILE: Final = "state.json"
_FORMAT_VERSION: Final = 1


@dataclass
class ResourceState:
    """A resource as deployed.

    Attributes:
        logical_id: the template's name for it.
        type: its CloudFormation type.
        physical_id: the id CloudFormation would show (what ``Ref`` usually returns).
        properties: the resolved properties it was created or last updated with.
        attributes: values ``Fn::GetAtt`` reads (custom resources: the response ``Data``).
        internal: provider-private data (e.g. where a function's code was unpacked).
        depends_on: logical ids it depends on (for deletion order).
        deletion_policy: ``Delete``, ``Retain``, ``RetainExceptOnCreate`` or ``Snapshot``.
        update_replace_policy: what happens to the old resource on replacement.
    """

    logical_id: str
    type: str
    physical_id: str
    properties: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)
    internal: dict[str, Any] = field(default_factory=dict)
    depends_on: list[str] = field(default_factory=list)
    deletion_policy: str = "Delete"
    update_replace_policy: str = "Delete"

    def copy(self) -> ResourceState:
        """A deep copy."""
        return copy.deepcopy(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ResourceState:
        """Inverse of :func:`dataclasses.asdict`."""
        return cls(**data)


@dataclass
class OutputState:
    """A resolved stack output."""

    value: str
    export_name: str | None = None
    description: str | None = None


@dataclass
class StackState:
    """A deployed stack.

    ``status`` uses CloudFormation's names (``CREATE_COMPLETE``, ``UPDATE_COMPLETE``,
    ``UPDATE_ROLLBACK_COMPLETE``, ``UPDATE_ROLLBACK_FAILED``, ``ROLLBACK_FAILED``,
    ``DELETE_FAILED``, ``*_IN_PROGRESS`` while a run is under way).
    ``parameters`` holds the resolved values, ``parameter_inputs`` what was passed (or the
    default), which differ for ``AWS::SSM::Parameter::Value<…>`` parameters. Times are
    ISO 8601 UTC strings (``""``: unknown, e.g. state written by an older version).
    """

    stack_name: str
    stack_id: str
    status: str
    template: dict[str, Any] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    resources: dict[str, ResourceState] = field(default_factory=dict)
    outputs: dict[str, OutputState] = field(default_factory=dict)
    imports: list[str] = field(default_factory=list)
    dependencies: list[str] = field(default_factory=list)
    status_reason: str = ""
    parameter_inputs: dict[str, str] = field(default_factory=dict)
    creation_time: str = ""
    last_updated_time: str = ""

    @property
    def exports(self) -> dict[str, str]:
        """Export name → value."""
        return {o.export_name: o.value for o in self.outputs.values() if o.export_name}

    def output_values(self) -> dict[str, str]:
        """Output name → value."""
        return {name: o.value for name, o in self.outputs.items()}

    def copy(self) -> StackState:
        """A deep copy."""
        return copy.deepcopy(self)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StackState:
        """Inverse of :meth:`to_json`."""
        data = dict(data)
        data["resources"] = {
            k: ResourceState.from_json(v) for k, v in (data.get("resources") or {}).items()
        }
        data["outputs"] = {k: OutputState(**v) for k, v in (data.get("outputs") or {}).items()}
        return cls(**data)


#: Called with (stack name, the stack as recorded now or ``None`` once it is removed).
StateListener = Callable[[str, StackState | None], None]


class StateStore:
    """The stacks in ``state_dir/state.json``; :meth:`save` writes them atomically."""

    def __init__(self, state_dir: str | Path) -> None:
        self.state_dir = Path(state_dir)
        self.path = self.state_dir / STATE_FILE
        self._stacks: dict[str, StackState] = {}
        self._listeners: list[StateListener] = []
        self.reload()

    def subscribe(self, listener: StateListener) -> None:
        """Call ``listener`` on every :meth:`put` and :meth:`remove` (and for what
        :meth:`reload` changes), in the thread that records the change."""
        self._listeners.append(listener)

    def _notify(self, stack_name: str, stack: StackState | None) -> None:
        for listener in self._listeners:
            listener(stack_name, stack)

    def reload(self) -> None:
        """Read the file again (missing file: no stacks)."""
        before = set(self._stacks)
        if not self.path.exists():
            self._stacks = {}
        else:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data.get("version") != _FORMAT_VERSION:
                raise ValueError(f"{self.path}: unsupported state format {data.get('version')!r}")
            self._stacks = {k: StackState.from_json(v) for k, v in data.get("stacks", {}).items()}
        for name in before - set(self._stacks):
            self._notify(name, None)
        for name, stack in self._stacks.items():
            self._notify(name, stack)

    def save(self) -> None:
        """Write every stack to the state file (write to a temporary file, then rename)."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        payload = {
            "version": _FORMAT_VERSION,
            "stacks": {name: stack.to_json() for name, stack in self._stacks.items()},
        }
        fd, tmp = tempfile.mkstemp(prefix=".state-", suffix=".json", dir=self.state_dir)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(payload, out, indent=1, default=str)
            Path(tmp).replace(self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def __contains__(self, stack_name: object) -> bool:
        return stack_name in self._stacks

    def __iter__(self) -> Iterator[StackState]:
        return iter(list(self._stacks.values()))

    def names(self) -> list[str]:
        """Names of the stacks, in the order they were first deployed."""
        return list(self._stacks)

    def get(self, stack_name: str) -> StackState | None:
        """The stack named ``stack_name``, if deployed."""
        return self._stacks.get(stack_name)

    def put(self, stack: StackState, *, save: bool = True) -> None:
        """Record ``stack`` (replacing any stack of that name)."""
        self._stacks[stack.stack_name] = stack
        if save:
            self.save()
        self._notify(stack.stack_name, stack)

    def remove(self, stack_name: str, *, save: bool = True) -> None:
        """Forget the stack."""
        removed = self._stacks.pop(stack_name, None)
        if save:
            self.save()
        if removed is not None:
            self._notify(stack_name, None)

    def exports(self, *, excluding: str | None = None) -> dict[str, tuple[str, str]]:
        """Export name → (exporting stack, value), leaving out stack ``excluding``."""
        found: dict[str, tuple[str, str]] = {}
        for stack in self._stacks.values():
            if stack.stack_name == excluding:
                continue
            for name, value in stack.exports.items():
                found[name] = (stack.stack_name, value)
        return found

    def importers(self, export_name: str, *, excluding: str | None = None) -> list[str]:
        """Stacks (other than ``excluding``) that import ``export_name``."""
        return [
            s.stack_name
            for s in self._stacks.values()
            if s.stack_name != excluding and export_name in s.imports
        ]
