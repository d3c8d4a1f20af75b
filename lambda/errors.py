"""Failures with a short reason fit for the CloudFormation console."""

from __future__ import annotations

from collections.abc import Sequence

from botocore.exceptions import BotoCoreError, ClientError

from . import contract


class PublishFailed(Exception):
    """A failure whose message is already a readable, actionable reason."""


def client_error_code(error: ClientError) -> str:
    """The AWS error code of ``error`` (e.g. ``ConflictException``)."""
    return str(error.response.get("Error", {}).get("Code", "Unknown"))


def reason_for(error: BaseException) -> str:
    """A one-line reason for ``error`` of at most MAX_REASON_CHARS characters, no traceback."""
    if isinstance(error, ClientError):
        message = error.response.get("Error", {}).get("Message", "")
        text = f"{client_error_code(error)}: {message}".strip()
    elif isinstance(error, PublishFailed | BotoCoreError):
        text = str(error)
    else:
        text = f"{type(error).__name__}: {error}"
    text = " ".join(text.split())
    limit = contract.MAX_REASON_CHARS
    return text if len(text) <= limit else text[: limit - 1] + "…"


def quote_names(names: Sequence[str]) -> str:
    """``'a', 'b', … and N more``: at most five names, for a reason."""
    shown = ", ".join(repr(n) for n in names[:5])
    return shown + (f" and {len(names) - 5} more" if len(names) > 5 else "")
