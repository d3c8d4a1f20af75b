"""The construct's options: its props, spelled once, and the enumerations they use.

:class:`GenericPackageVersionProps` (and :class:`PackageVersionAttributes`, the identity of a
version, which it extends) is the one place where each prop is declared: its name, type,
default and meaning. ``GenericPackageVersion(scope, id, *, domain=..., ...)`` takes the same
names as keyword arguments (:func:`keyword_props` builds the signature, the type checker's view
of it and the help text from the dataclass), like aws-cdk-lib's ``XxxProps`` structs.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import inspect
import textwrap
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Concatenate, Final, ParamSpec, TypeVar

from aws_cdk import Duration, RemovalPolicy, Size, Stack
from aws_cdk import aws_codeartifact as codeartifact
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from .handler import contract
from .validation import name_problem

if TYPE_CHECKING:
    from .assets import PackageAsset


class VersionStatus(enum.Enum):
    """Status the package version should have once the deployment finishes.

    Changing it on a later deployment moves the version there with
    ``UpdatePackageVersionsStatus`` (expected status and revision checked); a version can never
    go back to ``UNFINISHED``. The props also take the status as CodeArtifact spells it
    (``"Published"``; any case).
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
    """What ``RemovalPolicy.DESTROY`` does to the version when the resource is deleted.

    The props also take the value as a string (``"Archive"``; any case).
    """

    #: ``DeletePackageVersions``: the version and its assets are gone.
    DELETE = contract.Removal.DELETE
    #: ``DisposePackageVersions``: the assets are deleted, the record stays as Disposed.
    DISPOSE = contract.Removal.DISPOSE
    #: Status Archived: the record and assets stay, downloads are refused.
    ARCHIVE = contract.Removal.ARCHIVE
    #: Status Unlisted: still downloadable, hidden from listings.
    UNLIST = contract.Removal.UNLIST


E = TypeVar("E", bound=enum.Enum)


def coerce_enum(kind: type[E], value: object, field: str) -> tuple[E | None, str | None]:
    """``value`` as a member of ``kind`` (a member, or its value or name in any case).

    Returns ``(member, None)``, or ``(None, problem)`` naming the field and the choices.
    """
    if isinstance(value, kind):
        return value, None
    if isinstance(value, str):
        for member in kind:
            if value.casefold() in (str(member.value).casefold(), member.name.casefold()):
                return member, None
    choices = ", ".join(f"{kind.__name__}.{m.name}" for m in kind)
    spelled = ", ".join(repr(m.value) for m in kind)
    return None, f"{field} must be one of {choices} (or {spelled}), got {value!r}"


#: Where the meaning of a prop is kept (``dataclasses.field(metadata=...)``).
DOC: Final = "doc"
#: Marks the props that configure the stack's one handler function: every version of a stack
#: must give the same values (see :class:`~codeartifact_generic.handler_provider.HandlerProvider`).
HANDLER: Final = "handler"


def _doc(text: str, *, handler: bool = False) -> dict[str, Any]:
    return {DOC: text, HANDLER: handler}


@dataclasses.dataclass(frozen=True, kw_only=True)
class PackageVersionAttributes:
    """Which package version: the identity shared by a declared and an imported version."""

    domain: str | codeartifact.CfnDomain = dataclasses.field(
        metadata=_doc(
            "CodeArtifact domain: its name (a literal or a token such as "
            "``CfnDomain.attr_name``) or the ``CfnDomain`` itself."
        )
    )
    repository: str | codeartifact.CfnRepository = dataclasses.field(
        metadata=_doc("Repository in the domain: its name or the ``CfnRepository`` itself.")
    )
    namespace: str = dataclasses.field(
        metadata=_doc("Package namespace (required for generic packages).")
    )
    package: str = dataclasses.field(metadata=_doc("Package name."))
    version: str = dataclasses.field(metadata=_doc("Version string, e.g. ``1.4.0``."))
    domain_owner: str | None = dataclasses.field(
        default=None,
        metadata=_doc(
            "12-digit account id that owns the domain. Default: the account of the stack "
            "that holds the ``CfnDomain``, else this stack's account."
        ),
    )

    def domain_name(self) -> str:
        """The domain's name (``attr_name`` of a ``CfnDomain``)."""
        domain = self.domain
        return domain.attr_name if isinstance(domain, codeartifact.CfnDomain) else domain

    def repository_name(self) -> str:
        """The repository's name (``attr_name`` of a ``CfnRepository``)."""
        repository = self.repository
        if isinstance(repository, codeartifact.CfnRepository):
            return repository.attr_name
        return repository

    def owner(self, default: str) -> str:
        """The domain owner: given, the ``CfnDomain``'s stack account, or ``default``."""
        if self.domain_owner is not None:
            return self.domain_owner
        if isinstance(self.domain, codeartifact.CfnDomain):
            return Stack.of(self.domain).account
        return default

    def problems(self) -> list[str]:
        """What is wrong with the names, checked without touching AWS (tokens skipped)."""
        return [
            problem
            for value, rule in (
                (self.domain_name(), contract.DOMAIN_NAME),
                (self.repository_name(), contract.REPOSITORY_NAME),
                (self.namespace, contract.NAMESPACE_NAME),
                (self.package, contract.PACKAGE_NAME),
                (self.version, contract.VERSION_NAME),
                (self.domain_owner, contract.ACCOUNT_ID),
            )
            if (problem := _name_problem(value, rule)) is not None
        ]


def _name_problem(value: object, rule: contract.NamePattern) -> str | None:
    if value is None or isinstance(value, str):
        return name_problem(value, rule)
    return f"{rule.field} must be a string, got {type(value).__name__} {value!r}"


@dataclasses.dataclass(frozen=True, kw_only=True)
class GenericPackageVersionProps(PackageVersionAttributes):
    """Props of :class:`~codeartifact_generic.GenericPackageVersion`.

    Pass them as keyword arguments; the dataclass is what the construct keeps (``props``) and
    what ``dataclasses.replace`` can derive variants from.
    """

    assets: Sequence[PackageAsset] = dataclasses.field(
        metadata=_doc("The version's files (``PackageAsset.from_*``), 1 to 150, unique names.")
    )
    status: VersionStatus | str = dataclasses.field(
        default=VersionStatus.PUBLISHED,
        metadata=_doc(
            "Status once deployed; changing it later moves the version there. "
            "Default: ``VersionStatus.PUBLISHED``."
        ),
    )
    removal_policy: RemovalPolicy | None = dataclasses.field(
        default=None,
        metadata=_doc(
            "``RETAIN`` keeps the version when the resource is deleted (stack deletion, or "
            "replacement after a version bump); ``DESTROY`` applies ``on_delete``. The same "
            "setting as ``apply_removal_policy()`` and ``RemovalPolicies.of(scope)`` (which win, "
            "as for any CDK resource). A deployment that rolls back always removes a version it "
            "created. Default: ``RETAIN``."
        ),
    )
    on_delete: DeleteBehavior | str | None = dataclasses.field(
        default=None,
        metadata=_doc(
            "With ``removal_policy=DESTROY``: delete, dispose, archive or unlist the version. "
            "Default: ``DeleteBehavior.DELETE``."
        ),
    )
    remove_adopted: bool = dataclasses.field(
        default=False,
        metadata=_doc(
            "Also apply the removal policy to a version that already existed, identical, "
            "before this resource (adopted). Default: False (never removed)."
        ),
    )
    replace_existing: bool = dataclasses.field(
        default=False,
        metadata=_doc(
            "When the version already exists with other bytes or assets, delete it and "
            "publish it anew instead of failing (consumers that cached the old bytes under the "
            "same version silently differ: prefer a bump). Default: False."
        ),
    )
    reference_parameter_prefix: str | None = dataclasses.field(
        default=None,
        metadata=_doc(
            "Write ``version``, ``revision`` and ``status`` as SSM String parameters under "
            "this path (e.g. ``/releases/mycli``) for readers that cannot use a stack output "
            "(``PackageVersionReference.from_parameters``, tools outside CloudFormation). "
            "Default: no parameters."
        ),
    )
    memory_size: int | None = dataclasses.field(
        default=None,
        metadata=_doc(
            "MiB of memory the stack's handler needs at least (shared: it gets the largest "
            "value of the stack's versions). Default: 1024, which streams any asset size."
        ),
    )
    ephemeral_storage_size: Size | None = dataclasses.field(
        default=None,
        metadata=_doc(
            "``/tmp`` the handler needs at least (shared likewise). Default: 512 MiB, or "
            "10 GiB when the stack declares an S3 object of unknown SHA256 (it may be spooled)."
        ),
    )
    service_timeout: Duration | None = dataclasses.field(
        default=None,
        metadata=_doc(
            "How long CloudFormation waits for the handler before failing the resource. "
            "Default: 20 minutes (the handler itself stops after 15)."
        ),
    )
    role: iam.IRole | None = dataclasses.field(
        default=None,
        metadata=_doc(
            "Execution role of the stack's handler; the construct adds what the handler needs "
            "to its policy (an imported role CDK cannot change must already allow it). "
            "Default: a role of its own, least privilege.",
            handler=True,
        ),
    )
    vpc: ec2.IVpc | None = dataclasses.field(
        default=None,
        metadata=_doc(
            "Run the handler in this VPC (for accounts that reach AWS only through VPC "
            "endpoints: CodeArtifact ``api``, S3, CloudFormation). Default: no VPC.",
            handler=True,
        ),
    )
    vpc_subnets: ec2.SubnetSelection | None = dataclasses.field(
        default=None,
        metadata=_doc(
            "Subnets of ``vpc`` for the handler. Default: the VPC's private subnets.",
            handler=True,
        ),
    )
    security_groups: Sequence[ec2.ISecurityGroup] | None = dataclasses.field(
        default=None,
        metadata=_doc(
            "Security groups of the handler in ``vpc``. Default: one allowing all outbound.",
            handler=True,
        ),
    )
    log_retention: logs.RetentionDays | None = dataclasses.field(
        default=None,
        metadata=_doc(
            "How long the handler's log group keeps events. Default: ``RetentionDays.ONE_YEAR``.",
            handler=True,
        ),
    )
    log_removal_policy: RemovalPolicy | None = dataclasses.field(
        default=None,
        metadata=_doc(
            "What happens to the handler's log group when the stack is deleted. Default: "
            "``RETAIN`` (it holds the record of the stack's last Delete events).",
            handler=True,
        ),
    )

    def handler_settings(self) -> dict[str, object]:
        """The props that configure the stack's handler function, by name."""
        return {
            f.name: _freeze(getattr(self, f.name))
            for f in dataclasses.fields(self)
            if f.metadata.get(HANDLER)
        }


def _freeze(value: object) -> object:
    return tuple(value) if isinstance(value, list | tuple) else value


def props_table(props_type: Callable[..., Any]) -> str:
    """The fields of ``props_type`` as help text: name, type, default, meaning."""
    title = "Props" if props_type is GenericPackageVersionProps else "Attributes"
    lines = [f"{title} (keyword-only):", ""]
    shared = []
    for f in dataclasses.fields(props_type):  # type: ignore[arg-type]
        if f.default is dataclasses.MISSING:
            lines.append(f"  {f.name}: {f.type} (required)")
        else:
            default = f.default
            shown = (
                f"{type(default).__name__}.{default.name}"
                if isinstance(default, enum.Enum)
                else repr(default)
            )
            lines.append(f"  {f.name}: {f.type} = {shown}")
        lines.append(
            textwrap.fill(
                f.metadata.get(DOC, ""), 88, initial_indent=" " * 6, subsequent_indent=" " * 6
            )
        )
        if f.metadata.get(HANDLER):
            shared.append(f.name)
    if shared:
        note = (
            f"{', '.join(shared)} configure the stack's one handler function: every "
            "GenericPackageVersion of a stack must give the same values (or none)."
        )
        lines += ["", textwrap.fill(note, 88)]
    return "\n".join(lines)


P = ParamSpec("P")
T = TypeVar("T")
S = TypeVar("S")
R = TypeVar("R")


def _keyword_signature(
    func: Callable[..., Any], props_type: Callable[..., Any]
) -> inspect.Signature:
    """``func``'s signature with its last parameter (the props) spread as keyword-only args."""
    leading = [
        parameter.replace(kind=inspect.Parameter.POSITIONAL_ONLY)
        for parameter in list(inspect.signature(func).parameters.values())[:-1]
    ]
    keywords = list(inspect.signature(props_type).parameters.values())
    return inspect.signature(func).replace(parameters=[*leading, *keywords])


def keyword_props(
    props_type: Callable[P, T],
) -> Callable[
    [Callable[[S, Construct, str, T], None]], Callable[Concatenate[S, Construct, str, P], None]
]:
    """Make ``__init__(self, scope, id, props)`` callable as ``(scope, id, **props)``.

    The keyword arguments are checked by the type checker against ``props_type``'s fields, and
    ``help()`` shows them with their defaults and meanings (:func:`props_table`).
    """

    def decorate(
        init: Callable[[S, Construct, str, T], None],
    ) -> Callable[Concatenate[S, Construct, str, P], None]:
        @functools.wraps(init)
        def __init__(  # noqa: N807
            self: S, scope: Construct, id: str, /, *args: P.args, **kwargs: P.kwargs
        ) -> None:
            init(self, scope, id, props_type(*args, **kwargs))

        _describe(__init__, init, props_type)
        return __init__

    return decorate


def keyword_attributes(
    props_type: Callable[P, T],
) -> Callable[[Callable[[Construct, str, T], R]], Callable[Concatenate[Construct, str, P], R]]:
    """Make a factory ``(scope, id, attributes)`` callable as ``(scope, id, **attributes)``."""

    def decorate(
        factory: Callable[[Construct, str, T], R],
    ) -> Callable[Concatenate[Construct, str, P], R]:
        @functools.wraps(factory)
        def wrapper(scope: Construct, id: str, /, *args: P.args, **kwargs: P.kwargs) -> R:
            return factory(scope, id, props_type(*args, **kwargs))

        _describe(wrapper, factory, props_type)
        return wrapper

    return decorate


def _describe(wrapper: Any, func: Callable[..., Any], props_type: Callable[..., Any]) -> None:
    """What ``help()`` and ``inspect.signature`` show: the keyword arguments and their table."""
    wrapper.__signature__ = _keyword_signature(func, props_type)
    wrapper.__doc__ = f"{inspect.getdoc(func) or ''}\n\n{props_table(props_type)}"


def class_signature(cls: type[Any]) -> None:
    """Give ``cls`` (a construct, whose jsii metaclass hides it) its ``__init__`` signature."""
    signature = inspect.signature(cls.__init__)
    parameters = list(signature.parameters.values())[1:]  # without self
    cls.__signature__ = signature.replace(parameters=parameters, return_annotation=cls.__name__)
