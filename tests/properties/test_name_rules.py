"""Synth-time validation, the service model and the emulator agree on every name field.

For each name (domain, repository, namespace, package, version, domain_owner, asset name),
hypothesis generates values from the model's pattern, arbitrary text and boundary lengths.
The oracle is computed here, independently of the library: ``re.fullmatch`` of the pattern
in botocore's codeartifact service model plus the model's length bounds; for asset names the
stricter set of the CLI reference (Unicode letters and numbers and ``~ ! @ ^ & ( ) - ` _ + [ ]
{ } ; , .``), which the model's ``\\P{C}+`` contains. Then:

- ``GenericPackageVersion`` accepts exactly what the oracle accepts, and a rejection is one
  problem naming the field, the value and the rule;
- the emulator, called with boto3, rejects (ValidationException) exactly the same values.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from typing import Any

import aws_cdk as cdk
import botocore.session
import pytest
from botocore.exceptions import ClientError
from codeartifact_generic.handler import contract
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codeartifact_generic import GenericPackageVersion, PackageAsset
from codeartifact_generic.testing._emulator.model import CONTRACT_PATTERNS
from codeartifact_generic.validation import ValidationError

#: The asset name characters besides Unicode letters and numbers, as the CLI reference of
#: publish-package-version lists them.
CLI_ASSET_NAME_SPECIALS = frozenset("~!@^&()-`_+[]{};,.")

SETTINGS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@dataclass(frozen=True)
class Field:
    """A name field: its construct parameter, its model shape, and the contract rule."""

    param: str
    shape: str
    rule: contract.NamePattern


FIELDS = [
    Field("domain", "DomainName", contract.DOMAIN_NAME),
    Field("repository", "RepositoryName", contract.REPOSITORY_NAME),
    Field("namespace", "PackageNamespace", contract.NAMESPACE_NAME),
    Field("package", "PackageName", contract.PACKAGE_NAME),
    Field("version", "PackageVersion", contract.VERSION_NAME),
    Field("domain_owner", "AccountId", contract.ACCOUNT_ID),
    Field("asset name", "AssetName", contract.ASSET_NAME),
]
IDS = [f.param for f in FIELDS]


@cache
def model_constraints(shape: str) -> tuple[str, int, int]:
    """(pattern, min length, max length) of ``shape`` in botocore's codeartifact model."""
    model = botocore.session.get_session().get_service_model("codeartifact")
    meta = model.shape_for(shape).metadata
    return str(meta["pattern"]), int(meta["min"]), int(meta["max"])


def oracle_accepts(field: Field, value: str) -> bool:
    pattern, low, high = model_constraints(field.shape)
    if not low <= len(value) <= high:
        return False
    if field.shape == "AssetName":
        # the CLI's set; each such character is also in the model's \P{C}
        return all(
            (c.isalnum() or c in CLI_ASSET_NAME_SPECIALS)
            and not unicodedata.category(c).startswith("C")
            for c in value
        )
    return re.fullmatch(pattern, value) is not None


def values(field: Field) -> st.SearchStrategy[str]:
    """Valid-looking, arbitrary and boundary-length values for ``field``."""
    pattern, _, high = model_constraints(field.shape)
    if field.shape == "AssetName":  # Python's re has no \P{C}: generate the CLI's set
        pattern = r"[\w~!@^&()\-`+\[\]{};,.]+"
    near_valid = st.from_regex(pattern, fullmatch=True)
    boundary = st.integers(0, high + 2).map(
        lambda n: ("7" if field.shape == "AccountId" else "a") * n
    )
    return st.one_of(
        near_valid,
        near_valid.map(lambda v: v[: high + 1]),
        st.text(max_size=high + 2),
        st.text(alphabet="aZ09-._#/ \t~!@^&()`+[]{};,é€\u00a0\u200b\x00", max_size=8),
        boundary,
    )


# -------------------------------------------------------------------------- the construct

VALID = {
    "domain": "my-domain",
    "repository": "my-repo",
    "namespace": "tools",
    "package": "mycli",
    "version": "1.0.0",
    "domain_owner": "123456789012",
}
_ids = itertools.count()


@pytest.fixture(scope="module")
def stack() -> cdk.Stack:
    return cdk.Stack(cdk.App(context={"aws:cdk:bundling-stacks": []}), "Names")


def construct_problems(stack: cdk.Stack, field: Field, value: str) -> tuple[str, ...]:
    """The problems ``GenericPackageVersion`` reports when ``field`` is ``value``."""
    kwargs: dict[str, Any] = dict(VALID)
    name = "a.bin"
    if field.param == "asset name":
        name = value
    else:
        kwargs[field.param] = value
    try:
        GenericPackageVersion(
            stack, f"V{next(_ids)}", assets=[PackageAsset.from_data(name, b"x")], **kwargs
        )
    except ValidationError as error:
        return error.problems
    return ()


@pytest.mark.parametrize("field", FIELDS, ids=IDS)
@SETTINGS
@given(data=st.data())
def test_construct_accepts_exactly_what_the_model_accepts(
    stack: cdk.Stack, field: Field, data: st.DataObject
) -> None:
    value = data.draw(values(field), label=field.param)
    problems = construct_problems(stack, field, value)
    assert (not problems) == oracle_accepts(field, value), problems
    if problems:
        # one problem, naming the field, the value and the rule it breaks
        assert len(problems) == 1, problems
        (problem,) = problems
        assert field.param in problem
        assert repr(value) in problem
        _, low, high = model_constraints(field.shape)
        assert f"{low} to {high} characters" in problem or field.rule.rule in problem


# --------------------------------------------------------------------------- the emulator


def emulator_rejects(client: Any, field: Field, value: str) -> bool:
    """Whether the emulator answers ValidationException; a valid name reaches the lookup."""
    names = {
        "domain": "no-such-domain",
        "domainOwner": "123456789012",
        "repository": "my-repo",
        "namespace": "tools",
        "package": "mycli",
        "packageVersion": "1.0.0",
    }
    member = {
        "domain": "domain",
        "domain_owner": "domainOwner",
        "repository": "repository",
        "namespace": "namespace",
        "package": "package",
        "version": "packageVersion",
    }
    try:
        if field.param == "asset name":
            client.publish_package_version(
                **names,
                format="generic",
                assetContent=b"x",
                assetName=value,
                assetSHA256="2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881",
            )
        else:
            client.describe_package_version(
                **{**names, member[field.param]: value}, format="generic"
            )
    except ClientError as error:
        code = error.response["Error"]["Code"]
    else:
        raise AssertionError("the domain does not exist: the call cannot succeed")
    assert code in ("ValidationException", "ResourceNotFoundException"), code
    return code == "ValidationException"


@pytest.mark.parametrize("field", FIELDS, ids=IDS)
@SETTINGS
@given(data=st.data())
def test_emulator_rejects_exactly_what_the_model_rejects(
    emulator_client: Any, field: Field, data: st.DataObject
) -> None:
    value = data.draw(values(field), label=field.param)
    assert emulator_rejects(emulator_client, field, value) == (not oracle_accepts(field, value))


# ------------------------------------------------------------------- one source of truth


@pytest.mark.parametrize("field", FIELDS, ids=IDS)
def test_contract_rules_are_the_model_constraints(field: Field) -> None:
    pattern, low, high = model_constraints(field.shape)
    assert (field.rule.min_len, field.rule.max_len) == (low, high)
    if field.shape != "AssetName":  # the CLI's stricter set, documented in the contract
        assert field.rule.pattern == pattern
    # and the emulator checks the shape with that very rule object
    assert CONTRACT_PATTERNS[field.shape] is field.rule
