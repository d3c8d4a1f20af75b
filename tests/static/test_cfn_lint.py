"""cfn-lint gate: every synthesized template of the example app and of the library stacks.

No finding is tolerated. W3005 (a ``DependsOn`` that a ``Ref``/``Fn::GetAtt`` already enforces)
used to be, on the handler function: aws-cdk-lib's ``Function`` makes its resource depend on its
role construct, so the function named the role its ``Role`` GetAtt already references
(aws/aws-cdk#24578). The library now drops that one target and keeps the dependency on the
role's policy, which CloudFormation could not infer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cfnlint.api import ManualArgs, lint_file

from .conftest import Synthesized

REGIONS = ["us-east-1", "eu-west-1"]


def _lint(outdir: Path) -> tuple[list[str], int]:
    """(every finding, number of templates linted)."""
    failures: list[str] = []
    templates = sorted(outdir.glob("*.template.json"))
    for path in templates:
        for match in lint_file(path, ManualArgs(regions=REGIONS)):
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


def _handler(template: dict[str, Any]) -> dict[str, Any]:
    (function,) = [
        resource
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Lambda::Function"
    ]
    return function


def test_the_gate_reports_a_redundant_role_dependency(library_app: Synthesized) -> None:
    # GIVEN a library template whose handler function has no redundant DependsOn
    path = library_app.outdir / "CrossAccount.template.json"
    template = json.loads(path.read_text())
    function = _handler(template)
    role = function["Properties"]["Role"]["Fn::GetAtt"][0]
    assert role not in function["DependsOn"]
    # WHEN the role it references with GetAtt is named in DependsOn too (what CDK renders)
    function["DependsOn"] = [*function["DependsOn"], role]
    tampered = path.with_name("Tampered.template.json.lint")
    tampered.write_text(json.dumps(template))
    try:
        matches = lint_file(tampered, ManualArgs(regions=REGIONS))
    finally:
        tampered.unlink()
    # THEN the gate fails with exactly that W3005
    assert [(m.rule.id, list(m.path)[:3]) for m in matches] == [
        (
            "W3005",
            [
                "Resources",
                next(k for k, v in template["Resources"].items() if v is function),
                "DependsOn",
            ],
        )
    ]
