"""Shared pytest configuration."""

from __future__ import annotations

import os

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
# Never ask an instance-metadata service for credentials (no such network here).
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
