"""Shared pytest configuration, and how the suite is split across pytest-xdist workers.

``make test`` runs ``pytest -n <workers> --dist loadgroup --no-loadscope-reorder`` (the
Makefile). Every worker is its own process with its own session: session-scoped servers bind
port 0 on 127.0.0.1 and every temporary path comes from ``tmp_path``/``tmp_path_factory``
(per-worker base directories under one run directory), so workers share nothing but the
read-only working tree. Two things are arranged here:

- **Expensive shared fixtures are set up once per run, not once per worker.** A test that uses
  one of :data:`EXPENSIVE_FIXTURES` gets an ``xdist_group`` named after the fixture's owner (the
  folder of a session fixture's conftest, the module of a module fixture), merged across tests
  that share any of them, so ``--dist loadgroup`` sends the whole group to one worker. Other
  tests are distributed one by one.
- **Long tests are handed out first** (``slow`` mark, then :data:`LONG_FIRST`), so the run
  does not end on one worker finishing a two-minute test while the others idle; xdist keeps
  this order with ``--no-loadscope-reorder`` (by default it hands out the largest groups
  first). The order is changed only inside xdist workers; a serial run keeps pytest's order.
"""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
# Never ask an instance-metadata service for credentials (no such network here).
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")

#: Session- or module-scoped fixtures that take seconds to set up (an app synthesized with
#: cdk-nag, a wheel built and installed into a venv, a CDK CLI synth). Cheap ones (local
#: servers) are left out on purpose: each worker starting its own costs less than serializing
#: every test that uses them.
EXPENSIVE_FIXTURES = frozenset(
    {
        # tests/static/conftest.py: both apps synthesized once, read by every static gate
        "example_app",
        "library_app",
        "all_templates",
        # tests/static/test_handler_settings.py, test_least_privilege.py: module synths
        "settings_app",
        "readers",
        # tests/packaging: `python -m build`, then pip into a fresh venv
        "wheel",
        "plain_venv",
        # tests/lifecycle/test_example_app.py: app.py through the CDK CLI
        "assembly",
        # tests/integ/test_integ_snapshot.py: the integ app through the CDK CLI
        "fresh_assembly",
    }
)

#: Node id prefixes of long tests without the ``slow`` mark, started early under xdist.
LONG_FIRST = (
    "tests/bench/",
    "tests/static/test_log_secrets.py",
)


def _owner(item: pytest.Item, name: str) -> str | None:
    """Where the expensive fixture ``name`` that ``item`` uses lives, if it is shared."""
    fixtureinfo = getattr(item, "_fixtureinfo", None)
    definitions = fixtureinfo.name2fixturedefs.get(name) if fixtureinfo else None
    if not definitions:
        return None
    definition = definitions[-1]  # the one that applies to this item (closest override)
    if definition.scope == "session":
        return f"{definition.baseid or '.'}::{name}"
    if definition.scope in ("package", "module"):
        return item.nodeid.split("::")[0]
    return None


def _groups(items: list[pytest.Item]) -> dict[pytest.Item, str]:
    """item -> xdist group: the owners of expensive fixtures, merged when a test shares two."""
    parent: dict[str, str] = {}

    def find(key: str) -> str:
        parent.setdefault(key, key)
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    owners: dict[pytest.Item, list[str]] = {}
    for item in items:
        found = [
            owner
            for name in sorted(EXPENSIVE_FIXTURES & set(getattr(item, "fixturenames", ())))
            if (owner := _owner(item, name)) is not None
        ]
        if found:
            owners[item] = found
            for other in found[1:]:
                parent[find(other)] = find(found[0])
    return {item: min(find(o) for o in found) for item, found in owners.items()}


def _long_first(item: pytest.Item) -> int:
    if item.get_closest_marker("slow") is not None:
        return 0
    return 1 if item.nodeid.startswith(LONG_FIRST) else 2


@pytest.hookimpl(tryfirst=True)  # before xdist reads the xdist_group marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Group tests that share an expensive fixture; under xdist, start long tests first."""
    for item, group in _groups(items).items():
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(group))
    if os.environ.get("PYTEST_XDIST_WORKER"):
        items.sort(key=_long_first)  # stable: pytest's order within each class
