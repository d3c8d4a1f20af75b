"""The local CloudFormation of the offline kit: internal, no public names.

Use it through :class:`codeartifact_generic.testing.LocalEnvironment` (``deploy`` /
``destroy``) or the command line (``python -m codeartifact_generic.testing up|deploy|destroy``).
The modules here (assembly, assets, intrinsics, engine, stack update, scheduling, providers,
custom resources, Lambda runner, response server, CloudFormation API) change as the kit needs;
the project's tests import them directly.
"""

__all__: list[str] = []
