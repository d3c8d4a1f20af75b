"""One synth of a stack with N package versions: ``python -m bench.synth_child --count N``.

Each version has one ``PackageAsset.from_data`` asset. Bundling of the handler is real (the
``aws:cdk:bundling-stacks`` context is not set). Prints one JSON line: Lambda function count,
template bytes, asset count, and the seconds spent importing, constructing and synthesizing.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path


def synth(count: int, outdir: Path) -> dict[str, object]:
    """Synthesize the stack into ``outdir`` and describe the result."""
    began = time.perf_counter()
    import aws_cdk as cdk  # noqa: PLC0415 - import time is reported separately

    from codeartifact_generic import GenericPackageVersion, PackageAsset  # noqa: PLC0415

    imported = time.perf_counter()
    app = cdk.App(outdir=str(outdir))
    stack = cdk.Stack(
        app, "BenchPackages", env=cdk.Environment(account="123456789012", region="us-east-1")
    )
    for index in range(count):
        GenericPackageVersion(
            stack,
            f"Version{index}",
            domain="bench-domain",
            repository="bench-repo",
            namespace="bench",
            package=f"pkg{index}",
            version="1.0.0",
            assets=[PackageAsset.from_data(f"data{index}.txt", f"payload {index}\n")],
        )
    constructed = time.perf_counter()
    assembly = app.synth()
    synthesized = time.perf_counter()
    template_path = Path(assembly.get_stack_by_name("BenchPackages").template_full_path)
    template = json.loads(template_path.read_text())
    resources = template.get("Resources", {}).values()
    functions = sum(1 for r in resources if r.get("Type") == "AWS::Lambda::Function")
    custom = sum(1 for r in resources if str(r.get("Type", "")).startswith("Custom::"))
    return {
        "count": count,
        "lambda_functions": functions,
        "custom_resources": custom,
        "template_bytes": template_path.stat().st_size,
        "import_s": round(imported - began, 3),
        "construct_s": round(constructed - imported, 3),
        "synth_s": round(synthesized - constructed, 3),
        "construct_and_synth_s": round(synthesized - imported, 3),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Synthesize once and print the JSON line."""
    parser = argparse.ArgumentParser(prog="python -m bench.synth_child")
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--outdir", required=True)
    args = parser.parse_args(argv)
    print(json.dumps(synth(args.count, Path(args.outdir))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
