"""Fixtures for emulator fidelity tests: a fresh emulator per test, the AWS CLI and boto3."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from codeartifact_generic.testing._emulator import CodeArtifactEmulator

from .support import DOMAIN, REPOSITORY, Cli, aws_env, make_client


@pytest.fixture
def make_emulator(tmp_path: Path) -> Iterator[Callable[..., CodeArtifactEmulator]]:
    """Start emulators on 127.0.0.1, port 0 (``make_emulator(limits=...)``); stop them after."""
    started: list[CodeArtifactEmulator] = []

    def make(**kwargs: Any) -> CodeArtifactEmulator:
        kwargs.setdefault("data_dir", tmp_path / f"data-{len(started)}")
        emulator = CodeArtifactEmulator(host="127.0.0.1", port=0, **kwargs).start()
        started.append(emulator)
        return emulator

    yield make
    for emulator in started:
        emulator.stop()


@pytest.fixture
def emulator(make_emulator: Callable[..., CodeArtifactEmulator]) -> CodeArtifactEmulator:
    """A running emulator with the default limits."""
    return make_emulator()


@pytest.fixture
def cli(emulator: CodeArtifactEmulator, tmp_path: Path) -> Cli:
    """The AWS CLI pointed at ``emulator``."""
    return Cli(emulator.endpoint_url, aws_env(tmp_path), tmp_path)


@pytest.fixture
def client(emulator: CodeArtifactEmulator) -> Any:
    """A boto3 client pointed at ``emulator``."""
    return make_client(emulator.endpoint_url)


@pytest.fixture
def repo(client: Any) -> Any:
    """``client`` after creating DOMAIN and REPOSITORY."""
    client.create_domain(domain=DOMAIN)
    client.create_repository(domain=DOMAIN, repository=REPOSITORY)
    return client
