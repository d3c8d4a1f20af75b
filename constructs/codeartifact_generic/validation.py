"""Synth-time validation: every problem is collected, then all are raised together.

Values that are CDK tokens (resolved only at deploy time) are skipped; the handler checks them.
"""

from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import Token

from .handler.contract import NamePattern


class ValidationError(ValueError):
    """A construct's properties are invalid; ``problems`` lists every one found."""

    def __init__(self, path: str, problems: Iterable[str]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{path}: invalid properties:\n{lines}")


def name_problem(value: str | None, rule: NamePattern) -> str | None:
    """The problem with ``value`` under ``rule`` (None if valid, absent, or a token)."""
    if value is None or Token.is_unresolved(value):
        return None
    return rule.problem(value)
