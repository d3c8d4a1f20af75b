"""Version attributes in SSM parameters, for readers that cannot use the producer's outputs.

Stacks of the same app use ``GenericPackageVersion``'s attributes directly: the construct makes
those references weak (``Fn::GetStackOutput``), so a version bump is never blocked by an export
in use. SSM parameters under a prefix (``reference_parameter_prefix``) still serve tools outside
CloudFormation, other CDK apps (a stable parameter name instead of a generated output name) and
consumers that must read the current values on every deployment (SSM parameter types are
resolved again each time); :meth:`PackageVersionReference.from_parameters` reads them as
``AWS::SSM::Parameter::Value<String>`` parameters of a stack in the same account and region.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable

from aws_cdk import Token
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from .validation import ValidationError

_PREFIX = re.compile(r"/[A-Za-z0-9_.\-]+(?:/[A-Za-z0-9_.\-]+)*")

#: Parameter names under the prefix, one per attribute.
VERSION_PARAMETER = "version"
REVISION_PARAMETER = "revision"
STATUS_PARAMETER = "status"


def prefix_problem(prefix: str) -> str | None:
    """Why ``prefix`` cannot be an SSM parameter path prefix, or None (tokens are fine)."""
    if Token.is_unresolved(prefix) or _PREFIX.fullmatch(prefix):
        return None
    return (
        f"reference_parameter_prefix {prefix!r} is invalid: a path such as /releases/mycli "
        "(starts with '/', segments of letters, digits, '.', '_' and '-', no trailing '/')"
    )


class PackageVersionReference:
    """The attributes of a package version, as values another stack can use.

    Create with :meth:`from_parameters` in a consumer stack; the values are resolved by
    CloudFormation each time the consumer deploys, so the producer can bump its version freely.
    Only the attributes that are read become template parameters. (``GenericPackageVersion``'s
    ``reference`` holds the attributes themselves.)
    """

    def __init__(self, lookup: Callable[[str], str]) -> None:
        """Hold a function from attribute name (``version``, ``revision``, ``status``) to value."""
        self._lookup = lookup

    @property
    def version(self) -> str:
        """The version string."""
        return self._lookup(VERSION_PARAMETER)

    @property
    def version_revision(self) -> str:
        """The version's revision (changes whenever the version is republished)."""
        return self._lookup(REVISION_PARAMETER)

    @property
    def status(self) -> str:
        """The version's status."""
        return self._lookup(STATUS_PARAMETER)

    @staticmethod
    def from_parameters(
        scope: Construct, id: str | None = None, *, parameter_prefix: str
    ) -> PackageVersionReference:
        """Read a version published with ``reference_parameter_prefix=parameter_prefix``.

        Each attribute read becomes an ``AWS::SSM::Parameter::Value<String>`` parameter of the
        consumer stack, under a construct ``id`` in ``scope``.

        :param scope: a construct in the consumer stack.
        :param id: construct id of the reference, as for every CDK ``from_*``. (Leaving it out,
            the 0.1 call, still works but is deprecated: the parameters are then shared by
            every reader of the prefix in the stack.)
        :param parameter_prefix: the producer's ``reference_parameter_prefix``.
        :raises ValidationError: the prefix is not an SSM parameter path.
        """
        problem = prefix_problem(parameter_prefix)
        if problem is not None:
            where = scope.node.path if id is None else f"{scope.node.path}/{id}"
            raise ValidationError(where, [problem])
        if id is None:
            warnings.warn(
                "PackageVersionReference.from_parameters(scope, parameter_prefix=...) is "
                "deprecated: pass a construct id, from_parameters(scope, id, parameter_prefix=...)",
                DeprecationWarning,
                stacklevel=2,
            )
            return PackageVersionReference(
                lambda name: ssm.StringParameter.value_for_string_parameter(
                    scope, f"{parameter_prefix}/{name}"
                )
            )
        holder = Construct(scope, id)
        read: dict[str, str] = {}

        def lookup(name: str) -> str:
            # created on first read: only the attributes that are used become parameters
            if name not in read:
                read[name] = ssm.StringParameter.from_string_parameter_attributes(
                    holder, name.title(), parameter_name=f"{parameter_prefix}/{name}"
                ).string_value
            return read[name]

        return PackageVersionReference(lookup)


def write_parameters(
    scope: Construct, prefix: str, reference: PackageVersionReference
) -> list[ssm.StringParameter]:
    """Write ``reference``'s attributes as String parameters under ``prefix``."""
    names = (VERSION_PARAMETER, REVISION_PARAMETER, STATUS_PARAMETER)
    values = {name: reference._lookup(name) for name in names}
    return [
        ssm.StringParameter(
            scope,
            f"{name.title()}Parameter",
            parameter_name=f"{prefix}/{name}",
            string_value=value,
            description=f"CodeArtifact generic package version: {name}",
        )
        for name, value in values.items()
    ]
