"""Progress lines while the local CloudFormation runs (rich console).

One line per stack event and per resource operation, e.g.::

    Stack Foo: CREATE Cli (Custom::CodeArtifactGenericPackageVersion) ... OK 1.2s
    Stack Foo: SKIP Bucket (AWS::S3::BucketPolicy) ... not emulated locally, recorded only

Messages are rendered as plain text (no rich markup is interpreted in them).
"""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

__all__ = ["Reporter"]

_OUTCOME_STYLES = {
    "OK": "green",
    "FAILED": "bold red",
    "SKIPPED": "yellow",
    "RETAINED": "yellow",
    "WARNING": "yellow",
}


class Reporter:
    """Writes progress to a rich :class:`~rich.console.Console` (stdout by default)."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(highlight=False)

    def _print(self, text: Text) -> None:
        self.console.print(text, soft_wrap=True)

    def stack(self, stack_name: str, message: str, style: str = "bold") -> None:
        """A stack-level line: ``Stack NAME: message``."""
        self._print(
            Text.assemble(("Stack ", "bold"), (stack_name, "bold cyan"), ": ", (message, style))
        )

    def resource(
        self,
        stack_name: str,
        action: str,
        logical_id: str,
        resource_type: str,
        outcome: str,
        seconds: float | None = None,
        detail: str = "",
    ) -> None:
        """``Stack NAME: ACTION Logical (Type) ... OUTCOME 1.2s detail``."""
        parts: list[str | tuple[str, str]] = [
            ("Stack ", "bold"),
            (stack_name, "bold cyan"),
            ": ",
            (action, "bold"),
            " ",
            logical_id,
            " ",
            (f"({resource_type})", "dim"),
            " ... ",
            (outcome, _OUTCOME_STYLES.get(outcome, "bold")),
        ]
        if seconds is not None:
            parts.append(f" {seconds:.1f}s")
        if detail:
            parts.append((f" {detail}", "red" if outcome == "FAILED" else "dim"))
        self._print(Text.assemble(*parts))

    def start(self, stack_name: str, action: str, logical_id: str, resource_type: str) -> None:
        """A dim line announcing a slow operation (a custom resource invocation)."""
        self._print(
            Text.assemble(
                ("Stack ", "dim"),
                (stack_name, "dim"),
                (f": {action} {logical_id} ({resource_type}) ...", "dim"),
            )
        )

    def warn(self, message: str) -> None:
        """A yellow warning line."""
        self._print(Text.assemble(("WARNING ", "bold yellow"), (message, "yellow")))

    def error(self, message: str) -> None:
        """A red error line."""
        self._print(Text.assemble(("ERROR ", "bold red"), (message, "red")))

    def info(self, message: str) -> None:
        """A plain line."""
        self._print(Text(message))

    def detail(self, line: str) -> None:
        """An indented dim line (handler output, log tails)."""
        self._print(Text.assemble(("    │ ", "dim"), (line, "dim")))
