"""The offline kit: deploy a CDK app that uses ``GenericPackageVersion`` without AWS.

Needs the ``[testing]`` extra (``pip install "cdk-codeartifact-generic[testing]"``). The public
names, and the only ones:

- :class:`LocalEnvironment`: moto S3 and the CodeArtifact emulator on 127.0.0.1, the variables
  that point boto3 and the AWS CLI at them, and ``deploy(app)`` / ``destroy()`` of a CDK app
  (a cloud assembly directory or the app command) with a local CloudFormation that runs the
  real custom resource handlers.
- :class:`CodeArtifactEmulator`: the CodeArtifact emulator alone (an HTTP server that boto3
  and the AWS CLI use unmodified), with fault injection (``emulator.faults``).
- :class:`LocalDeployError`: what ``deploy`` and ``destroy`` raise when a stack fails.

The command line, ``python -m codeartifact_generic.testing up --app "python3 app.py"``, does
the same for a whole app and keeps the servers running (``--help`` lists the commands).
Everything else in this package is internal: its modules start with an underscore or are
subpackages whose names are not part of the interface.

Example (pytest)::

    from codeartifact_generic.testing import LocalEnvironment

    def test_my_app_deploys(tmp_path):
        with LocalEnvironment() as env:
            outputs = env.deploy("python3 app.py")
            codeartifact = env.client("codeartifact")
            ...
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._emulator import CodeArtifactEmulator
    from ._local_deploy.stack_update import LocalDeployError
    from ._local_env import LocalEnvironment

__all__ = ["CodeArtifactEmulator", "LocalDeployError", "LocalEnvironment"]

_WHERE = {
    "CodeArtifactEmulator": "._emulator",
    "LocalDeployError": "._local_deploy.stack_update",
    "LocalEnvironment": "._local_env",
}

#: Top-level modules the kit imports that only the ``[testing]`` extra installs.
_EXTRA_MODULES = frozenset({"boto3", "botocore", "moto", "flask", "flask_cors", "trustme", "rich"})


class _MissingExtraError(ModuleNotFoundError):
    """The ``[testing]`` extra is not installed (the message says how to install it)."""


def _missing_extra(exc: ModuleNotFoundError) -> _MissingExtraError | None:
    """A :class:`_MissingExtraError` when ``exc`` is about a module of the extra, else None."""
    name = (exc.name or "").split(".")[0]
    if name not in _EXTRA_MODULES:
        return None
    return _MissingExtraError(
        "the offline kit needs the [testing] extra: "
        f"pip install 'cdk-codeartifact-generic[testing]' (missing module: {name})",
        name=exc.name,
    )


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        module = importlib.import_module(_WHERE[name], __name__)
    except ModuleNotFoundError as exc:
        friendly = _missing_extra(exc)
        if friendly is None:
            raise
        raise friendly from exc
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*__all__, *globals()])
