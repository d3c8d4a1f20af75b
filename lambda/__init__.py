"""Deploy-time handler of ``Custom::CodeArtifactGenericPackageVersion``.

Bundled as the Lambda asset (with ``crhelper``); installed with the library as
``codeartifact_generic.handler`` so that the construct can share :mod:`.contract`.
Modules use relative imports only, so the bundle works under any package name.
"""
