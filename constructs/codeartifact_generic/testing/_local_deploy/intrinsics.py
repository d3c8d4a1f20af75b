"""CloudFormation intrinsic functions, conditions and dependency analysis.

:class:`Resolver` evaluates a template fragment the way CloudFormation does when it creates or
updates a resource: ``Ref`` (resources, parameters, pseudo parameters), ``Fn::GetAtt`` (list
and ``"A.B"`` forms), ``Fn::Sub`` (both forms, ``${Res.Attr}``, ``${!Literal}``), ``Fn::Join``,
``Fn::Select``, ``Fn::Split``, ``Fn::ImportValue``, ``Fn::GetStackOutput`` (same region),
``Fn::If`` with template ``Conditions`` (``Fn::Equals``/``Fn::Not``/``Fn::And``/``Fn::Or``/
``Condition``), ``Fn::FindInMap``, ``Fn::Base64``, a minimal ``Fn::GetAZs``, ``AWS::NoValue``
and ``{{resolve:...}}`` dynamic references. Anything else raises :class:`ResolutionError`,
naming the function.

What a resource reference means (a physical id, an attribute, an export, another stack's
output) is asked of a :class:`ReferenceSource` the engine supplies. :func:`references` and
:func:`topological_order` give the dependency order CloudFormation would use.

``Fn::GetStackOutput`` is a *weak* cross-stack reference: ``{"StackName": ..., "OutputName":
..., "Region": ..., "RoleArn": ...}`` (the last two optional) reads a plain output of another
stack when the resource is created or updated. No export is involved, so nothing stops the
producer from changing or removing that output later.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

__all__ = [
    "NO_VALUE",
    "PSEUDO_PARAMETER_NAMES",
    "PseudoParameters",
    "ReferenceSource",
    "ResolutionError",
    "Resolver",
    "UnsupportedFunction",
    "is_intrinsic",
    "references",
    "resource_dependencies",
    "to_cfn_string",
    "topological_order",
]


class ResolutionError(Exception):
    """A template expression cannot be evaluated; the message reads like CloudFormation's."""


class UnsupportedFunction(ResolutionError):
    """A function CloudFormation knows but the local engine does not evaluate."""


class _NoValue:
    """Type of :data:`NO_VALUE`."""

    _instance: _NoValue | None = None

    def __new__(cls) -> _NoValue:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "AWS::NoValue"


#: What ``{"Ref": "AWS::NoValue"}`` evaluates to; removed from the enclosing map or list.
NO_VALUE: Final = _NoValue()

#: Pseudo parameters ``Ref`` understands.
PSEUDO_PARAMETER_NAMES: Final = frozenset(
    {
        "AWS::AccountId",
        "AWS::Region",
        "AWS::Partition",
        "AWS::StackName",
        "AWS::StackId",
        "AWS::URLSuffix",
        "AWS::NoValue",
        "AWS::NotificationARNs",
    }
)

_SUB_PATTERN: Final = re.compile(r"\$\{([^}]*)\}")
_DYNAMIC_REFERENCE: Final = re.compile(r"\{\{resolve:([a-z0-9-]+):(.*?)\}\}")


@dataclass(frozen=True)
class PseudoParameters:
    """Values of the ``AWS::*`` pseudo parameters for one stack."""

    account_id: str
    region: str
    stack_name: str
    stack_id: str
    partition: str = "aws"
    url_suffix: str = "amazonaws.com"

    def value(self, name: str) -> Any:
        """The value of pseudo parameter ``name`` (``AWS::NoValue`` gives :data:`NO_VALUE`)."""
        values: dict[str, Any] = {
            "AWS::AccountId": self.account_id,
            "AWS::Region": self.region,
            "AWS::Partition": self.partition,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": self.stack_id,
            "AWS::URLSuffix": self.url_suffix,
            "AWS::NoValue": NO_VALUE,
            "AWS::NotificationARNs": [],
        }
        return values[name]


class ReferenceSource(Protocol):
    """What the engine knows about resources, exports and parameters stores."""

    def ref(self, logical_id: str) -> Any:
        """``Ref`` of a resource; raise :class:`ResolutionError` if there is none."""

    def get_att(self, logical_id: str, attribute: str) -> Any:
        """``Fn::GetAtt``; raise :class:`ResolutionError` for unknown resources/attributes."""

    def import_value(self, export_name: str) -> Any:
        """``Fn::ImportValue``; raise :class:`ResolutionError` if nothing exports the name."""

    def stack_output(self, stack_name: str, output_name: str) -> Any:
        """``Fn::GetStackOutput``: output ``output_name`` of the deployed stack ``stack_name``,
        read now; raise :class:`ResolutionError` if the stack or the output does not exist."""

    def dynamic_reference(self, service: str, key: str) -> str:
        """The value of ``{{resolve:SERVICE:KEY}}``."""


def is_intrinsic(value: Any) -> bool:
    """Whether ``value`` is a one-key map naming an intrinsic function or ``Ref``."""
    if not isinstance(value, dict) or len(value) != 1:
        return False
    key = str(next(iter(value)))
    return key == "Ref" or key.startswith("Fn::")


def to_cfn_string(value: Any) -> str:
    """A scalar as CloudFormation prints it (``true``/``false`` for booleans)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    raise ResolutionError(f"expected a string, got {type(value).__name__}: {value!r}")


def _args(function: str, value: Any, count: int | tuple[int, ...]) -> list[Any]:
    counts = (count,) if isinstance(count, int) else count
    if not isinstance(value, list) or len(value) not in counts:
        wanted = " or ".join(str(c) for c in counts)
        raise ResolutionError(f"Template error: {function} takes a list of {wanted} arguments")
    return value


class Resolver:
    """Evaluate template values for one stack.

    Args:
        pseudo: pseudo parameter values.
        parameters: resolved template parameters (strings, or lists of strings).
        source: resources, exports and dynamic references.
        conditions: the template's ``Conditions`` section (unevaluated).
        mappings: the template's ``Mappings`` section.
    """

    def __init__(
        self,
        *,
        pseudo: PseudoParameters,
        parameters: Mapping[str, Any],
        source: ReferenceSource,
        conditions: Mapping[str, Any] | None = None,
        mappings: Mapping[str, Any] | None = None,
    ) -> None:
        self.pseudo = pseudo
        self.parameters = dict(parameters)
        self.source = source
        self._conditions = dict(conditions or {})
        self._mappings = dict(mappings or {})
        self._condition_values: dict[str, bool] = {}
        self._evaluating: set[str] = set()
        self._functions: dict[str, Callable[[Any], Any]] = {
            "Ref": self._ref,
            "Fn::GetAtt": self._get_att,
            "Fn::Sub": self._sub,
            "Fn::Join": self._join,
            "Fn::Select": self._select,
            "Fn::Split": self._split,
            "Fn::ImportValue": self._import_value,
            "Fn::GetStackOutput": self._get_stack_output,
            "Fn::If": self._if,
            "Fn::FindInMap": self._find_in_map,
            "Fn::Base64": self._base64,
            "Fn::GetAZs": self._get_azs,
        }

    # ------------------------------------------------------------------ public API

    def resolve(self, value: Any) -> Any:
        """Evaluate ``value``; may return :data:`NO_VALUE` (dynamic references untouched)."""
        if isinstance(value, dict):
            if len(value) == 1:
                ((key, arg),) = value.items()
                if key in self._functions:
                    return self._functions[key](arg)
                if key.startswith("Fn::"):
                    raise UnsupportedFunction(
                        f"Template error: unsupported intrinsic function {key}"
                    )
            resolved_map: dict[str, Any] = {}
            for key, item in value.items():
                resolved = self.resolve(item)
                if resolved is not NO_VALUE:
                    resolved_map[key] = resolved
            return resolved_map
        if isinstance(value, list):
            return [r for r in (self.resolve(item) for item in value) if r is not NO_VALUE]
        return value

    def resolve_properties(self, value: Any) -> Any:
        """Evaluate ``value`` and then its ``{{resolve:...}}`` dynamic references."""
        resolved = self.resolve(value)
        if resolved is NO_VALUE:
            return None
        return self.resolve_dynamic_references(resolved)

    def resolve_dynamic_references(self, value: Any) -> Any:
        """Replace every ``{{resolve:SERVICE:KEY}}`` inside the strings of ``value``."""
        if isinstance(value, str):
            return _DYNAMIC_REFERENCE.sub(
                lambda m: self.source.dynamic_reference(m.group(1), m.group(2)), value
            )
        if isinstance(value, dict):
            return {k: self.resolve_dynamic_references(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve_dynamic_references(v) for v in value]
        return value

    def condition(self, name: str) -> bool:
        """The value of the template condition ``name`` (evaluated once)."""
        if name in self._condition_values:
            return self._condition_values[name]
        if name not in self._conditions:
            raise ResolutionError(f"Template format error: Unresolved condition dependency {name}")
        if name in self._evaluating:
            raise ResolutionError(f"Template format error: circular condition dependency {name}")
        if _uses(self._conditions[name], "Fn::GetStackOutput"):
            raise ResolutionError(
                f"Template error: Cannot use Fn::GetStackOutput in Conditions (condition {name})"
            )
        self._evaluating.add(name)
        try:
            result = self.evaluate_condition(self._conditions[name])
        finally:
            self._evaluating.discard(name)
        self._condition_values[name] = result
        return result

    def evaluate_condition(self, expression: Any) -> bool:
        """Evaluate a condition expression (also the ``Assert`` of template ``Rules``)."""
        if isinstance(expression, bool):
            return expression
        if isinstance(expression, str) and expression.lower() in ("true", "false"):
            return expression.lower() == "true"
        if not isinstance(expression, dict) or len(expression) != 1:
            raise ResolutionError(f"Template error: invalid condition {expression!r}")
        ((function, arg),) = expression.items()
        evaluate = self._condition_functions.get(function)
        if evaluate is not None:
            return evaluate(function, arg)
        if function in self._functions:
            return self.evaluate_condition(self.resolve(expression))
        raise UnsupportedFunction(f"Template error: unsupported condition function {function}")

    @property
    def _condition_functions(self) -> dict[str, Callable[[str, Any], bool]]:
        return {
            "Condition": lambda _f, arg: self.condition(str(arg)),
            "Fn::Not": self._not,
            "Fn::And": self._and_or,
            "Fn::Or": self._and_or,
            "Fn::Equals": self._equals,
            "Fn::Contains": self._contains,
            "Fn::EachMemberEquals": self._each_member_equals,
            "Fn::EachMemberIn": self._each_member_in,
        }

    def _not(self, function: str, arg: Any) -> bool:
        (inner,) = _args(function, arg, 1)
        return not self.evaluate_condition(inner)

    def _and_or(self, function: str, arg: Any) -> bool:
        items = _args(function, arg, tuple(range(2, 11)))
        values = (self.evaluate_condition(item) for item in items)
        return all(values) if function == "Fn::And" else any(values)

    def _equals(self, function: str, arg: Any) -> bool:
        left, right = _args(function, arg, 2)
        return bool(self._comparable(left) == self._comparable(right))

    def _contains(self, function: str, arg: Any) -> bool:
        haystack, needle = _args(function, arg, 2)
        return self._comparable(needle) in self._comparable_list(haystack)

    def _each_member_equals(self, function: str, arg: Any) -> bool:
        items, expected = _args(function, arg, 2)
        target = self._comparable(expected)
        return all(item == target for item in self._comparable_list(items))

    def _each_member_in(self, function: str, arg: Any) -> bool:
        items, allowed = _args(function, arg, 2)
        allowed_values = self._comparable_list(allowed)
        return all(item in allowed_values for item in self._comparable_list(items))

    # ------------------------------------------------------------------ helpers

    def _comparable(self, value: Any) -> Any:
        resolved = self.resolve(value)
        if isinstance(resolved, list):
            return [to_cfn_string(v) for v in resolved]
        return to_cfn_string(resolved)

    def _comparable_list(self, value: Any) -> list[Any]:
        resolved = self.resolve(value)
        if not isinstance(resolved, list):
            raise ResolutionError(f"Template error: expected a list, got {resolved!r}")
        return [to_cfn_string(v) for v in resolved]

    def _string(self, function: str, value: Any) -> str:
        resolved = self.resolve(value)
        try:
            return to_cfn_string(resolved)
        except ResolutionError as exc:
            raise ResolutionError(f"Template error: {function}: {exc}") from None

    def _list(self, function: str, value: Any) -> list[Any]:
        resolved = self.resolve(value)
        if not isinstance(resolved, list):
            raise ResolutionError(f"Template error: {function} expects a list, got {resolved!r}")
        return resolved

    # ------------------------------------------------------------------ functions

    def _ref(self, arg: Any) -> Any:
        if not isinstance(arg, str):
            raise ResolutionError("Template error: Ref takes a string")
        if arg in PSEUDO_PARAMETER_NAMES:
            return self.pseudo.value(arg)
        if arg in self.parameters:
            return self.parameters[arg]
        return self.source.ref(arg)

    def _get_att(self, arg: Any) -> Any:
        if isinstance(arg, str):
            logical_id, dot, attribute = arg.partition(".")
            if not dot:
                raise ResolutionError(
                    f"Template error: Fn::GetAtt {arg!r} needs 'Resource.Attribute'"
                )
        else:
            logical_id, attribute_expr = _args("Fn::GetAtt", arg, 2)
            attribute = self._string("Fn::GetAtt", attribute_expr)
        return self.source.get_att(str(logical_id), attribute)

    def _sub(self, arg: Any) -> str:
        variables: dict[str, Any] = {}
        if isinstance(arg, list):
            template, raw_vars = _args("Fn::Sub", arg, 2)
            if not isinstance(raw_vars, dict):
                raise ResolutionError("Template error: Fn::Sub variables must be a map")
            variables = {k: self.resolve(v) for k, v in raw_vars.items()}
        else:
            template = arg
        if not isinstance(template, str):
            raise ResolutionError("Template error: Fn::Sub needs a string")

        def replace(match: re.Match[str]) -> str:
            name = match.group(1).strip()
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                value = variables[name]
            elif name in PSEUDO_PARAMETER_NAMES or name in self.parameters:
                value = self._ref(name)
            elif "." in name:
                logical_id, _, attribute = name.partition(".")
                value = self.source.get_att(logical_id, attribute)
            else:
                value = self.source.ref(name)
            try:
                return to_cfn_string(value)
            except ResolutionError as exc:
                raise ResolutionError(f"Template error: Fn::Sub ${{{name}}}: {exc}") from None

        return _SUB_PATTERN.sub(replace, template)

    def _join(self, arg: Any) -> str:
        delimiter, items = _args("Fn::Join", arg, 2)
        if not isinstance(delimiter, str):
            raise ResolutionError("Template error: Fn::Join delimiter must be a string")
        values = self._list("Fn::Join", items)
        return delimiter.join(self._string("Fn::Join", v) for v in values)

    def _select(self, arg: Any) -> Any:
        index_expr, items = _args("Fn::Select", arg, 2)
        index_text = self._string("Fn::Select", index_expr)
        try:
            index = int(index_text)
        except ValueError:
            raise ResolutionError(f"Template error: Fn::Select index {index_text!r}") from None
        values = self._list("Fn::Select", items)
        if not 0 <= index < len(values):
            raise ResolutionError(
                f"Template error: Fn::Select cannot select nonexistent value at index {index}"
            )
        return values[index]

    def _split(self, arg: Any) -> list[str]:
        delimiter, source = _args("Fn::Split", arg, 2)
        if not isinstance(delimiter, str) or not delimiter:
            raise ResolutionError("Template error: Fn::Split delimiter must be a non-empty string")
        return self._string("Fn::Split", source).split(delimiter)

    def _import_value(self, arg: Any) -> Any:
        return self.source.import_value(self._string("Fn::ImportValue", arg))

    def _get_stack_output(self, arg: Any) -> Any:
        function = "Fn::GetStackOutput"
        if not isinstance(arg, dict):
            raise ResolutionError(
                f"Template error: {function} takes a map of {', '.join(_STACK_OUTPUT_KEYS)}"
            )
        unknown = sorted(str(k) for k in arg if k not in _STACK_OUTPUT_KEYS)
        missing = [k for k in ("StackName", "OutputName") if k not in arg]
        if unknown or missing:
            problems = [f"unknown key(s) {', '.join(unknown)}"] if unknown else []
            problems += [f"{k} is required" for k in missing]
            raise ResolutionError(f"Template error: {function}: {'; '.join(problems)}")
        stack_name = self._string(function, arg["StackName"])
        output_name = self._string(function, arg["OutputName"])
        if "Region" in arg:
            region = self._string(function, arg["Region"])
            if region != self.pseudo.region:
                raise ResolutionError(
                    f"{function} of {stack_name}.{output_name} in region {region}: only stacks "
                    f"of the local region ({self.pseudo.region}) can be read locally"
                )
        if "RoleArn" in arg:
            # The role CloudFormation would assume to describe the producer (another account):
            # resolved, so a broken expression still fails, but there is no IAM locally.
            self._string(function, arg["RoleArn"])
        return self.source.stack_output(stack_name, output_name)

    def _if(self, arg: Any) -> Any:
        name, when_true, when_false = _args("Fn::If", arg, 3)
        return self.resolve(when_true if self.condition(str(name)) else when_false)

    def _find_in_map(self, arg: Any) -> Any:
        map_name, top_key, second_key = (
            self._string("Fn::FindInMap", a) for a in _args("Fn::FindInMap", arg, 3)
        )
        try:
            return self._mappings[map_name][top_key][second_key]
        except (KeyError, TypeError):
            raise ResolutionError(
                f"Template error: Unable to get mapping for {map_name}::{top_key}::{second_key}"
            ) from None

    def _base64(self, arg: Any) -> str:
        text = self._string("Fn::Base64", arg)
        return base64.b64encode(text.encode("utf-8")).decode("ascii")

    def _get_azs(self, arg: Any) -> list[str]:
        region = self._string("Fn::GetAZs", arg) or self.pseudo.region
        return [f"{region}{suffix}" for suffix in "abc"]


#: The arguments of ``Fn::GetStackOutput`` (``StackName`` and ``OutputName`` are required).
_STACK_OUTPUT_KEYS: Final = ("StackName", "OutputName", "Region", "RoleArn")


def _uses(value: Any, function: str) -> bool:
    """Whether ``function`` appears anywhere in ``value``."""
    if isinstance(value, dict):
        return function in value or any(_uses(v, function) for v in value.values())
    if isinstance(value, list):
        return any(_uses(v, function) for v in value)
    return False


# ---------------------------------------------------------------------- dependencies


def _sub_names(template: str) -> Iterator[str]:
    for match in _SUB_PATTERN.finditer(template):
        name = match.group(1).strip()
        if not name.startswith("!"):
            yield name


def _sub_references(arg: Any, parameters: Collection[str]) -> tuple[set[str], list[Any]]:
    """Names an ``Fn::Sub`` string refers to, and the variable values still to visit."""
    template, variables = (arg[0], arg[1]) if isinstance(arg, list) and len(arg) == 2 else (arg, {})
    if not isinstance(variables, dict):
        variables = {}
    names: set[str] = set()
    if isinstance(template, str):
        for name in _sub_names(template):
            if name in variables or name in PSEUDO_PARAMETER_NAMES or name in parameters:
                continue
            names.add(name.partition(".")[0])
    return names, list(variables.values())


def references(value: Any, *, parameters: Collection[str] = ()) -> set[str]:
    """Logical ids ``value`` refers to through ``Ref``, ``Fn::GetAtt`` and ``Fn::Sub``.

    Pseudo parameters, the names in ``parameters`` and ``Fn::Sub`` variables are left out;
    both branches of ``Fn::If`` count (CloudFormation orders statically). ``Fn::GetStackOutput``
    reads another stack, so it depends on no resource of this one (only what its own arguments
    refer to, if anything).
    """
    found: set[str] = set()
    pending: list[Any] = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, list):
            pending.extend(item)
            continue
        if not isinstance(item, dict):
            continue
        key, arg = next(iter(item.items())) if len(item) == 1 else ("", None)
        if key == "Ref" and isinstance(arg, str):
            if arg not in PSEUDO_PARAMETER_NAMES and arg not in parameters:
                found.add(arg)
        elif key == "Fn::GetAtt" and isinstance(arg, str):
            found.add(arg.partition(".")[0])
        elif key == "Fn::GetAtt" and isinstance(arg, list) and arg:
            found.add(str(arg[0]))
            pending.extend(arg[1:])
        elif key == "Fn::Sub":
            names, more = _sub_references(arg, parameters)
            found |= names
            pending.extend(more)
        elif key == "Fn::GetStackOutput":
            # Another stack's output: no resource of this stack (OutputName is the producer's
            # logical id of an output). Only expressions in the arguments could refer here.
            if isinstance(arg, dict):
                pending.extend(arg.values())
        else:
            pending.extend(item.values())
    return found


def resource_dependencies(
    resource: Mapping[str, Any], *, parameters: Collection[str] = ()
) -> set[str]:
    """What a resource definition depends on: references in ``Properties`` plus ``DependsOn``."""
    found = references(resource.get("Properties", {}), parameters=parameters)
    depends_on = resource.get("DependsOn", [])
    if isinstance(depends_on, str):
        depends_on = [depends_on]
    found.update(str(d) for d in depends_on)
    return found


def topological_order(
    names: Sequence[str], dependencies: Mapping[str, Collection[str]]
) -> list[str]:
    """``names`` ordered so every name follows its dependencies; ties keep input order.

    Dependencies outside ``names`` are ignored. A cycle raises :class:`ResolutionError`
    naming the resources involved, as CloudFormation's "Circular dependency" error does.
    """
    known = set(names)
    remaining = list(names)
    done: set[str] = set()
    ordered: list[str] = []
    while remaining:
        progressed = False
        for name in list(remaining):
            if all(d in done or d not in known for d in dependencies.get(name, ())):
                ordered.append(name)
                done.add(name)
                remaining.remove(name)
                progressed = True
                break
        if not progressed:
            cycle = ", ".join(remaining)
            raise ResolutionError(
                f"Template format error: Circular dependency between resources: [{cycle}]"
            )
    return ordered
