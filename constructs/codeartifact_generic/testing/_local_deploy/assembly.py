"""Read a synthesized CDK cloud assembly (``cdk.out``): stacks, templates and file assets.

Only what deploying needs is read from ``manifest.json``: ``aws:cloudformation:stack``
artifacts (template file, stack name, dependencies, display name), ``cdk:asset-manifest``
artifacts (the ``*.assets.json`` files) and nested assemblies (``cdk:cloud-assembly``, used by
CDK stages). Stacks come out ordered so that every stack follows the stacks it depends on.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "AssemblyError",
    "AssetManifest",
    "CloudAssembly",
    "FileAsset",
    "FileAssetDestination",
    "StackArtifact",
    "substitute_placeholders",
]

_log = logging.getLogger(__name__)

STACK_ARTIFACT = "aws:cloudformation:stack"
ASSET_MANIFEST_ARTIFACT = "cdk:asset-manifest"
NESTED_ASSEMBLY_ARTIFACT = "cdk:cloud-assembly"

Packaging = Literal["file", "zip"]


class AssemblyError(Exception):
    """The cloud assembly is missing, malformed, or asks for something not supported."""


def substitute_placeholders(text: str, *, account_id: str, region: str, partition: str) -> str:
    """Replace ``${AWS::AccountId}``, ``${AWS::Region}`` and ``${AWS::Partition}`` in ``text``."""
    return (
        text.replace("${AWS::AccountId}", account_id)
        .replace("${AWS::Region}", region)
        .replace("${AWS::Partition}", partition)
    )


@dataclass(frozen=True)
class FileAssetDestination:
    """Where a file asset goes, as written in the manifest (placeholders unresolved)."""

    destination_id: str
    bucket_name: str
    object_key: str

    def resolve(self, *, account_id: str, region: str, partition: str = "aws") -> tuple[str, str]:
        """``(bucket, key)`` with the ``${AWS::...}`` placeholders substituted."""
        values = {"account_id": account_id, "region": region, "partition": partition}
        return (
            substitute_placeholders(self.bucket_name, **values),
            substitute_placeholders(self.object_key, **values),
        )


@dataclass(frozen=True)
class FileAsset:
    """One ``files`` entry of an asset manifest.

    ``source_path`` is absolute; with ``packaging == "zip"`` and a directory source the
    directory must be zipped before upload.
    """

    asset_id: str
    source_path: Path
    packaging: Packaging
    destinations: tuple[FileAssetDestination, ...]
    display_name: str = ""


@dataclass(frozen=True)
class AssetManifest:
    """A ``*.assets.json`` file: file assets, and ids of docker image assets (unsupported)."""

    artifact_id: str
    path: Path
    files: tuple[FileAsset, ...]
    docker_image_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class StackArtifact:
    """A stack of the assembly.

    Attributes:
        artifact_id: the manifest's key for the artifact (unique within its assembly).
        stack_name: the CloudFormation stack name (``properties.stackName``, else the id).
        display_name: the construct path CDK shows (``Stage/Stack``), else the stack name.
        template_path: absolute path of the template JSON.
        dependencies: artifact ids of the stacks this one depends on (asset manifests removed).
        asset_manifests: the asset manifests this stack depends on.
        environment: ``aws://ACCOUNT/REGION`` as synthesized (may be ``unknown-...``).
    """

    artifact_id: str
    stack_name: str
    display_name: str
    template_path: Path
    dependencies: tuple[str, ...] = ()
    asset_manifests: tuple[AssetManifest, ...] = ()
    environment: str = ""
    parameters: Mapping[str, str] = field(default_factory=dict)

    def load_template(self) -> dict[str, Any]:
        """Parse and return the stack's template."""
        try:
            template = json.loads(self.template_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise AssemblyError(f"cannot read template of {self.stack_name}: {exc}") from exc
        if not isinstance(template, dict):
            raise AssemblyError(f"template of {self.stack_name} is not a JSON object")
        return template


@dataclass(frozen=True)
class CloudAssembly:
    """A loaded cloud assembly; ``stacks`` is in dependency order."""

    directory: Path
    stacks: tuple[StackArtifact, ...]

    @classmethod
    def load(cls, directory: str | Path) -> CloudAssembly:
        """Read ``directory/manifest.json`` (and nested assemblies) and order the stacks."""
        root = Path(directory).resolve()
        stacks = _load_stacks(root, prefix="")
        return cls(directory=root, stacks=tuple(_order_stacks(stacks)))

    def find(self, name: str) -> StackArtifact:
        """The stack whose stack name, display name or artifact id is ``name``."""
        for stack in self.stacks:
            if name in (stack.stack_name, stack.display_name, stack.artifact_id):
                return stack
        known = ", ".join(s.stack_name for s in self.stacks) or "none"
        raise AssemblyError(f"no stack named {name!r} in {self.directory} (stacks: {known})")

    def select(
        self,
        names: Sequence[str] | None = None,
        *,
        exclusively: bool = False,
        extend: Literal["dependencies", "dependents"] = "dependencies",
    ) -> list[StackArtifact]:
        """Stacks in dependency order.

        ``None`` or empty selects every stack. Otherwise the named stacks plus, unless
        ``exclusively``, every stack they depend on (``extend="dependencies"``, as
        ``cdk deploy`` does) or every stack that depends on them (``"dependents"``, as
        ``cdk destroy`` does).
        """
        if not names:
            return list(self.stacks)
        chosen = {self.find(name).artifact_id for name in names}
        if not exclusively:
            edges: dict[str, set[str]] = {s.artifact_id: set() for s in self.stacks}
            for stack in self.stacks:
                for dep in stack.dependencies:
                    if dep in edges:
                        if extend == "dependencies":
                            edges[stack.artifact_id].add(dep)
                        else:
                            edges[dep].add(stack.artifact_id)
            todo = list(chosen)
            while todo:
                for other in edges[todo.pop()]:
                    if other not in chosen:
                        chosen.add(other)
                        todo.append(other)
        return [s for s in self.stacks if s.artifact_id in chosen]

    def dependencies_of(self, stack: StackArtifact) -> list[StackArtifact]:
        """The stacks ``stack`` depends on directly."""
        by_id = {s.artifact_id: s for s in self.stacks}
        return [by_id[d] for d in stack.dependencies if d in by_id]


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise AssemblyError(f"{path} not found: is this a cloud assembly (cdk.out)?") from exc
    except (OSError, ValueError) as exc:
        raise AssemblyError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise AssemblyError(f"{path} is not a JSON object")
    return data


def _load_asset_manifest(directory: Path, artifact_id: str, file_name: str) -> AssetManifest:
    path = directory / file_name
    data = _read_json(path)
    files: list[FileAsset] = []
    for asset_id, entry in (data.get("files") or {}).items():
        source = entry.get("source") or {}
        if "executable" in source:
            raise AssemblyError(
                f"asset {asset_id} in {file_name} is built by an executable: not supported locally"
            )
        packaging = source.get("packaging", "file")
        if packaging not in ("file", "zip"):
            raise AssemblyError(f"asset {asset_id}: unknown packaging {packaging!r}")
        if "path" not in source:
            raise AssemblyError(f"asset {asset_id} in {file_name} has no source.path")
        destinations = tuple(
            FileAssetDestination(
                destination_id=dest_id,
                bucket_name=str(dest["bucketName"]),
                object_key=str(dest["objectKey"]),
            )
            for dest_id, dest in (entry.get("destinations") or {}).items()
        )
        files.append(
            FileAsset(
                asset_id=asset_id,
                source_path=(directory / str(source["path"])).resolve(),
                packaging=packaging,
                destinations=destinations,
                display_name=str(entry.get("displayName", "")),
            )
        )
    docker = tuple((data.get("dockerImages") or {}).keys())
    return AssetManifest(
        artifact_id=artifact_id, path=path, files=tuple(files), docker_image_ids=docker
    )


def _load_stacks(directory: Path, prefix: str) -> list[StackArtifact]:
    manifest = _read_json(directory / "manifest.json")
    artifacts: Mapping[str, Any] = manifest.get("artifacts") or {}
    manifests: dict[str, AssetManifest] = {}
    for artifact_id, artifact in artifacts.items():
        if artifact.get("type") == ASSET_MANIFEST_ARTIFACT:
            file_name = (artifact.get("properties") or {}).get("file")
            if not file_name:
                raise AssemblyError(f"asset manifest artifact {artifact_id} has no file")
            manifests[artifact_id] = _load_asset_manifest(directory, artifact_id, str(file_name))

    stacks: list[StackArtifact] = []
    for artifact_id, artifact in artifacts.items():
        kind = artifact.get("type")
        if kind == NESTED_ASSEMBLY_ARTIFACT:
            sub = (artifact.get("properties") or {}).get("directoryName")
            if sub:
                stacks.extend(_load_stacks(directory / str(sub), prefix=f"{prefix}{sub}/"))
            continue
        if kind != STACK_ARTIFACT:
            continue
        props = artifact.get("properties") or {}
        template_file = props.get("templateFile")
        if not template_file:
            raise AssemblyError(f"stack artifact {artifact_id} has no templateFile")
        deps = [str(d) for d in artifact.get("dependencies") or []]
        deps += [str(d) for d in props.get("additionalDependencies") or []]
        stack_deps = tuple(
            dict.fromkeys(
                prefix + d
                for d in deps
                if d in artifacts and artifacts[d].get("type") == STACK_ARTIFACT
            )
        )
        asset_deps = tuple(manifests[d] for d in dict.fromkeys(deps) if d in manifests)
        stack_name = str(props.get("stackName") or artifact_id)
        stacks.append(
            StackArtifact(
                artifact_id=prefix + artifact_id,
                stack_name=stack_name,
                display_name=str(artifact.get("displayName") or stack_name),
                template_path=(directory / str(template_file)).resolve(),
                dependencies=stack_deps,
                asset_manifests=asset_deps,
                environment=str(artifact.get("environment", "")),
                parameters={str(k): str(v) for k, v in (props.get("parameters") or {}).items()},
            )
        )
    return stacks


def _order_stacks(stacks: Iterable[StackArtifact]) -> list[StackArtifact]:
    """Topological order (dependencies first), stable with respect to manifest order."""
    pending = list(stacks)
    ids = {s.artifact_id for s in pending}
    done: set[str] = set()
    ordered: list[StackArtifact] = []
    while pending:
        ready = [s for s in pending if all(d in done or d not in ids for d in s.dependencies)]
        if not ready:
            cycle = ", ".join(s.stack_name for s in pending)
            raise AssemblyError(f"circular dependency between stacks: {cycle}")
        for stack in ready:
            ordered.append(stack)
            done.add(stack.artifact_id)
        pending = [s for s in pending if s.artifact_id not in done]
    return ordered
