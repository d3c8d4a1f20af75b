"""Pagination with opaque ``nextToken`` values.

A token encodes the sort key of the last item returned, so a page starts after it even when
items were added or removed in between (the obvious behaviour; AWS documents only that the
token is opaque). A token that does not decode is a ``ValidationException``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Final, TypeVar

from codeartifact_generic.testing._emulator import errors

#: Page size when the request has no ``maxResults`` (AWS leaves the default unspecified).
DEFAULT_PAGE_SIZE: Final = 100

T = TypeVar("T")
SortKey = tuple[str | int | float, ...]


def paginate(
    items: Sequence[T],
    key: Callable[[T], SortKey],
    *,
    max_results: int | None,
    next_token: str | None,
) -> tuple[list[T], str | None]:
    """Return one page of ``items`` (sorted by ``key``) and the token for the next page."""
    ordered = sorted(items, key=key)
    if next_token is not None:
        after = decode_token(next_token)
        try:
            ordered = [item for item in ordered if key(item) > after]
        except TypeError as error:
            raise errors.validation(f"Invalid pagination token: {next_token!r}") from error
    size = max_results or DEFAULT_PAGE_SIZE
    page = ordered[:size]
    token = encode_token(key(page[-1])) if len(ordered) > size else None
    return page, token


def encode_token(sort_key: SortKey) -> str:
    """Make an opaque token for ``sort_key``."""
    raw = json.dumps(list(sort_key), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii")


def decode_token(token: str) -> SortKey:
    """Recover the sort key of a token made by :func:`encode_token`."""
    try:
        value = json.loads(base64.urlsafe_b64decode(token.encode("ascii")))
    except (binascii.Error, UnicodeError, ValueError) as error:
        raise errors.validation(f"Invalid pagination token: {token!r}") from error
    if not isinstance(value, list) or not all(
        isinstance(part, str | int | float) for part in value
    ):
        raise errors.validation(f"Invalid pagination token: {token!r}")
    return tuple(value)
