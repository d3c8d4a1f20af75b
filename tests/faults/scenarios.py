"""Situations more than one matrix module starts from."""

from __future__ import annotations

from typing import Any

from handler.harness import dump

from .conftest import World


def create_failed_on_its_second_asset(world: World) -> tuple[dict[str, Any], str]:
    """A Create (``RemovalPolicy: Destroy``) that published its first asset, then failed on its
    second (ServiceQuotaExceeded): its properties and the physical id it answered with."""
    entries = [world.put("a.bin", b"a"), world.put("b.bin", b"b")]
    props = world.props(entries, RemovalPolicy="Destroy")
    world.emulator.faults.next("PublishPackageVersion", "quota", match={"assetName": "b.bin"})
    failed = world.send("Create", props)
    assert failed.response is not None and not failed.response.succeeded, dump(failed)
    return props, failed.response.physical_resource_id
