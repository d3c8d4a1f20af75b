"""Offline CodeArtifact: an HTTP server the AWS CLI and boto3 talk to unmodified.

>>> from codeartifact_generic.testing._emulator import CodeArtifactEmulator, Limits
>>> with CodeArtifactEmulator(limits=Limits(max_asset_size_bytes=1024)) as emulator:
...     url = emulator.endpoint_url  # for --endpoint-url / AWS_ENDPOINT_URL_CODEARTIFACT

Module map: :mod:`.spec` (botocore's model), :mod:`.model` (routing, parsing, validation,
serialization), :mod:`.operations` (one handler per operation), :mod:`.store` (state and
rules), :mod:`.blobs` (asset files and their digests: SHA-256 as a body arrives, the others
when first listed), :mod:`.ratelimit` (request-rate quotas: PublishPackageVersion 10 per
second per account by default, ``Limits(publish_rate_per_second=None)`` turns it off),
:mod:`.body` (request bodies), :mod:`.paging`, :mod:`.errors`, :mod:`.server` (HTTP),
:mod:`.faults` (fault injection), :mod:`.cli` (``serve`` subcommand).
"""

from codeartifact_generic.testing._emulator.errors import EmulatorError
from codeartifact_generic.testing._emulator.faults import FaultControl, FaultRule, Faults
from codeartifact_generic.testing._emulator.model import Request
from codeartifact_generic.testing._emulator.server import BeforeDispatch, CodeArtifactEmulator
from codeartifact_generic.testing._emulator.store import Limits, Store

__all__ = [
    "BeforeDispatch",
    "CodeArtifactEmulator",
    "EmulatorError",
    "FaultControl",
    "FaultRule",
    "Faults",
    "Limits",
    "Request",
    "Store",
]
