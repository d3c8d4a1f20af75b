"""cfn-lint gate: every synthesized template of the example app and of the library stacks.

One finding is tolerated, and only in its exact form: W3005 on an ``AWS::Lambda::Function``
whose ``DependsOn`` names the role its ``Role`` property already references with
``Fn::GetAtt``. aws-cdk-lib's ``Function`` always adds that construct dependency on its role
(aws/aws-cdk#24578); the redundant ``DependsOn`` is harmless (CloudFormation orders the two the
same way either way) and the function also depends, rightly, on the role's policy, which the
same ``DependsOn`` list carries. Any other W3005, and every other finding, fails the gate.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cfnlint.api import ManualArgs, lint_file

from .conftest import Synthesized

REGIONS = ["us-east-1", "eu-west-1"]


def _is_cdk_function_role_dependency(match: Any, template: dict[str, Any]) -> bool:
    """W3005 for a Lambda function's DependsOn on the role its Role GetAtt names."""
    if match.rule.id != "W3005":
        return False
    path = list(match.path)
    if len(path) < 3 or path[0] != "Resources" or path[2] != "DependsOn":
        return False
    resource = template["Resources"][path[1]]
    if resource["Type"] != "AWS::Lambda::Function":
        return False
    role = resource["Properties"].get("Role")
    depends_on = resource.get("DependsOn", [])
    redundant = path[3] if len(path) > 3 and isinstance(path[3], int) else None
    target = depends_on[redundant] if redundant is not None else None
    return (
        isinstance(role, dict)
        and "Fn::GetAtt" in role
        and target == role["Fn::GetAtt"][0]
        and template["Resources"][target]["Type"] == "AWS::IAM::Role"
    )


def _lint(outdir: Path) -> tuple[list[str], int]:
    """(findings that fail the gate, number of templates linted)."""
    failures: list[str] = []
    templates = sorted(outdir.glob("*.template.json"))
    for path in templates:
        template = json.loads(path.read_text())
        for match in lint_file(path, ManualArgs(regions=REGIONS)):
            if not _is_cdk_function_role_dependency(match, template):
                failures.append(f"{path.name}: {match.rule.id} {match.message} at {match.path}")
    return failures, len(templates)


def test_example_app_templates_are_cfn_lint_clean(example_app: Synthesized) -> None:
    failures, linted = _lint(example_app.outdir)
    assert linted == 3  # CodeArtifactRepo, Packages, Consumer
    assert not failures, "\n".join(failures)


def test_library_templates_are_cfn_lint_clean(library_app: Synthesized) -> None:
    # many versions in one stack, S3 objects in KMS buckets, a KMS domain, another account
    failures, linted = _lint(library_app.outdir)
    assert linted == 3
    assert not failures, "\n".join(failures)


def test_the_tolerated_w3005_is_exactly_the_function_role_dependency(
    library_app: Synthesized,
) -> None:
    # GIVEN a template whose handler function also names another resource redundantly
    path = library_app.outdir / "CrossAccount.template.json"
    template = json.loads(path.read_text())
    function_id = next(
        logical_id
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Lambda::Function"
    )
    function = template["Resources"][function_id]
    log_group = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    function["DependsOn"] = [*function.get("DependsOn", []), log_group]
    tampered = path.with_name("Tampered.template.json.lint")
    tampered.write_text(json.dumps(template))
    try:
        # WHEN it is linted
        matches = lint_file(tampered, ManualArgs(regions=REGIONS))
    finally:
        tampered.unlink()
    # THEN that W3005 is not tolerated, while the role one still is
    kept = [m for m in matches if not _is_cdk_function_role_dependency(m, template)]
    assert [m.rule.id for m in kept] == ["W3005"], [(m.rule.id, m.message) for m in kept]
    assert len(matches) == 2
