"""Just enough CloudFormation intrinsic resolution to read IAM policies as plain strings.

References that only CloudFormation can resolve become readable placeholders:
``<Ref:LogicalId>``, ``<GetAtt:LogicalId.Attr>``, ``<Import:ExportName>``, ``<StackId>``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .apps import ACCOUNT, REGION

PSEUDO = {
    "AWS::AccountId": ACCOUNT,
    "AWS::Region": REGION,
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackId": "<StackId>",
    "AWS::StackName": "<StackName>",
}


def _ref(name: str) -> str:
    return PSEUDO.get(name, f"<Ref:{name}>")


def _get_att(argument: Any) -> str:
    logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
    return f"<GetAtt:{logical_id}.{attribute}>"


def _join(argument: Any) -> str:
    separator, items = argument
    return str(separator).join(str(resolve(item)) for item in items)


def _sub(argument: Any) -> str:
    text = argument if isinstance(argument, str) else argument[0]
    return re.sub(r"\$\{([^}]+)\}", lambda m: PSEUDO.get(m.group(1), f"<{m.group(1)}>"), text)


def _select(argument: Any) -> Any:
    index, items = argument
    return resolve(items)[int(index)]


def _split(argument: Any) -> list[str]:
    separator, text = argument
    return str(resolve(text)).split(separator)


_INTRINSICS: dict[str, Callable[[Any], Any]] = {
    "Ref": _ref,
    "Fn::GetAtt": _get_att,
    "Fn::Join": _join,
    "Fn::Sub": _sub,
    "Fn::ImportValue": lambda argument: f"<Import:{resolve(argument)}>",
    "Fn::Select": _select,
    "Fn::Split": _split,
}


def resolve(value: Any) -> Any:
    """``value`` with intrinsics replaced by strings (lists and other values kept)."""
    if isinstance(value, list):
        return [resolve(item) for item in value]
    if isinstance(value, dict) and len(value) == 1:
        ((name, argument),) = value.items()
        if name in _INTRINSICS:
            return _INTRINSICS[name](argument)
    return value


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
