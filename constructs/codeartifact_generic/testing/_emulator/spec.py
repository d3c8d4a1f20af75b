"""The ``codeartifact`` service model that ships with botocore, loaded once.

The emulator derives its routes, request parsing, validation, response shapes and error
status codes from this model so it cannot drift from what the AWS CLI and boto3 send and
expect. botocore has no type information, so the few parts of its model API the emulator uses
are described here as protocols.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, cast

#: botocore's name for the service.
SERVICE_NAME = "codeartifact"


class Shape(Protocol):
    """A botocore shape (``botocore.model.Shape`` and its subclasses)."""

    @property
    def name(self) -> str:
        """The shape's name in the model, e.g. ``DomainName``."""

    @property
    def type_name(self) -> str:
        """``structure``, ``list``, ``map``, ``string``, ``integer``, ``blob``, ..."""

    @property
    def serialization(self) -> Mapping[str, Any]:
        """Wire traits: ``location``, ``name``, ``payload``, ``streaming``, ..."""

    @property
    def metadata(self) -> Mapping[str, Any]:
        """Constraints and flags: ``min``, ``max``, ``pattern``, ``enum``, ``error``, ..."""


class StructureShape(Shape, Protocol):
    """A ``structure`` shape."""

    @property
    def members(self) -> Mapping[str, Shape]:
        """Member name to member shape (member traits already applied)."""

    @property
    def required_members(self) -> Sequence[str]:
        """Names of the required members."""


class ListShape(Shape, Protocol):
    """A ``list`` shape."""

    @property
    def member(self) -> Shape:
        """The shape of each element."""


class MapShape(Shape, Protocol):
    """A ``map`` shape."""

    @property
    def key(self) -> Shape:
        """The shape of the keys."""

    @property
    def value(self) -> Shape:
        """The shape of the values."""


class OperationModel(Protocol):
    """A botocore operation model."""

    @property
    def name(self) -> str:
        """The operation's name, e.g. ``PublishPackageVersion``."""

    @property
    def http(self) -> Mapping[str, Any]:
        """``method``, ``requestUri`` and optionally ``responseCode``."""

    @property
    def input_shape(self) -> StructureShape | None:
        """The request shape."""

    @property
    def output_shape(self) -> StructureShape | None:
        """The response shape."""


class ServiceModel(Protocol):
    """A botocore service model."""

    @property
    def operation_names(self) -> Sequence[str]:
        """All operation names of the service."""

    @property
    def error_shapes(self) -> Sequence[StructureShape]:
        """All modelled error shapes."""

    def operation_model(self, operation_name: str) -> OperationModel:
        """The model of one operation."""


@functools.cache
def service_model() -> ServiceModel:
    """Return botocore's ``codeartifact`` model (loaded on first use, then cached)."""
    # Imported by name: botocore ships no type information, the protocols above stand in.
    session_module = importlib.import_module("botocore.session")
    model = session_module.get_session().get_service_model(SERVICE_NAME)
    return cast(ServiceModel, model)


def as_structure(shape: Shape) -> StructureShape:
    """View ``shape`` as a structure (callers check ``type_name`` first)."""
    return cast(StructureShape, shape)


def as_list(shape: Shape) -> ListShape:
    """View ``shape`` as a list (callers check ``type_name`` first)."""
    return cast(ListShape, shape)


def as_map(shape: Shape) -> MapShape:
    """View ``shape`` as a map (callers check ``type_name`` first)."""
    return cast(MapShape, shape)
