"""Structured, concise log lines: one JSON object per line, never secrets or presigned URLs."""

from __future__ import annotations

import json
import logging

LOGGER = logging.getLogger("codeartifact_generic")


def log_line(event: str, /, level: int = logging.INFO, **fields: object) -> None:
    """Log ``event`` with ``fields`` as one JSON line (values that are not JSON become strings)."""
    LOGGER.log(level, json.dumps({"event": event, **fields}, default=str, sort_keys=False))
