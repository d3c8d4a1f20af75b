"""The benchmark of issues 5 and 13: ``python -m bench.run [--sizes 64,256,1024] …``.

Per run: moto (S3), a byte-counting proxy in front of it and the CodeArtifact emulator, each
its own process on 127.0.0.1, and a local ``DescribeStacks`` endpoint the handler asks about
its stack; one random object per size uploaded once without a checksum (and a twin with a
stored SHA256 checksum). Then, interleaved and repeated, each as a whole process timed
wall-clock with its rusage:

1. the baseline users have today with the AWS CLI v1: ``aws s3api get-object`` to a file,
   ``sha256sum``, ``aws codeartifact publish-package-version`` (three processes, summed);
2. the bundled handler handling one CloudFormation Create event: known SHA256 (Sha256 and Size
   in the properties, as the construct sends for local files), unknown SHA256, and unknown
   SHA256 with S3's stored checksum;
3. the floors: one streaming boto3 GET to /dev/null, and raw hashlib over a local copy;
4. the emulator's own ingest rate (``emulator_ingest_mb_per_s`` in results.json): raw HTTP
   PublishPackageVersion of a body held in memory (``--ingest-mib`` in all, 64 MiB bodies),
   once per repeat, so the reader sees the ceiling every publishing workload runs under;
5. issue 13: the CLI, the known-hash handler and both floors again at ``--load-size`` beside
   a competing CPU-bound process (:mod:`bench.competing`); one version of ``--set-assets``
   assets published by the handler in parallel (a 1024 MB function) and one at a time (128
   MB); the many-versions app of the lifecycle tests deployed with the local CloudFormation
   running 8 operations at once and one at a time under the publish quota
   (:mod:`bench.many_versions`).

Finally synth scaling (1, 10, 100 versions in one stack). Writes ``results.json``,
``summary.md`` and ``chart.png`` to ``--out`` and prints tables with PASS/MISS per target of
the issues. This is a measurement: a missed target does not fail the run (exit code 0 unless
a workload broke).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import boto3
from codeartifact_generic.handler import contract
from rich.console import Console

from bench import competing, long_report, many_versions, profiling, report
from bench.competing import CompetingCpu
from bench.handler_run import (
    ACCOUNT,
    REGION,
    HandlerInvoker,
    asset_entry,
    asset_properties,
    final_last,
    peak_in_flight,
    version_properties,
)
from bench.measure import ProcessStats, combine, run_process
from bench.objects import BUCKET, CREDENTIALS, MIB, BenchObject, prepare, prepare_set
from bench.servers import REPO_ROOT, LocalServices
from codeartifact_generic.bundling import BUNDLE_PACKAGE, bundle_hash, write_bundle
from codeartifact_generic.testing._local_deploy.cloudformation_api import (
    CloudFormationEndpoint,
    StackDirectory,
)
from codeartifact_generic.testing._local_deploy.response_server import ResponseServer

if TYPE_CHECKING:
    from mypy_boto3_codeartifact import CodeArtifactClient

DOMAIN: Final = "bench-domain"
REPOSITORY: Final = "bench-repo"
NAMESPACE: Final = "bench"
DEFAULT_SIZES: Final = "64,256,1024"
DEFAULT_SYNTH_COUNTS: Final = "1,10,100"
#: MiB the emulator ingest measurement publishes per repeat, and its largest body.
DEFAULT_INGEST_MIB: Final = 256
INGEST_BODY_MIB: Final = 64
_AWS_CLI: Final = str(Path(sys.executable).with_name("aws"))
_SYNTH: Final = (sys.executable, "-m", "bench.synth_child")
_MANY: Final = (sys.executable, "-m", "bench.many_versions")
_LONG: Final = (sys.executable, "-m", "bench.long_version")
#: Size and number of the assets of the one version published in parallel and one at a time.
DEFAULT_SET_ASSETS: Final = 8
DEFAULT_SET_ASSET_MIB: Final = 128
#: Function memory of the two modes: parallel_assets(1024) = 4 (the construct's default
#: memory), parallel_assets(128) = 1.
PARALLEL_MEMORY_MB: Final = 1024
SERIAL_MEMORY_MB: Final = 128
#: Object size of the workloads run beside a competing CPU-bound process.
DEFAULT_LOAD_MIB: Final = 1024
#: Versions in the stack deployed with the engine's parallelism and one at a time.
DEFAULT_VERSIONS: Final = 100
#: A version longer than one invocation: its assets, each this many MiB, and how it runs (a
#: 12 s function against the construct's timeout; every publish slowed by 4 s; a minute of
#: the local EventBridge lasting 3 s, so crhelper's 5-minute polls come every 15 s, after an
#: invocation has surely ended, as on AWS).
DEFAULT_LONG_ASSETS: Final = 8
DEFAULT_LONG_ASSET_MIB: Final = 32
LONG_TIMEOUT_S: Final = 12
LONG_PUBLISH_DELAY_S: Final = 4.0
LONG_MINUTE_S: Final = 3.0
VERSIONS_MAX_PARALLEL: Final = many_versions.DEFAULT_MAX_PARALLEL


class Bench:
    """One benchmark run against running local services."""

    def __init__(
        self,
        *,
        work_dir: Path,
        services: LocalServices,
        responses: ResponseServer,
        cloudformation: tuple[str, StackDirectory],
        console: Console,
    ) -> None:
        assert services.endpoints is not None
        assert services.proxy is not None
        self.work_dir = work_dir
        self.services = services
        self.endpoints = services.endpoints
        self.proxy = services.proxy
        self.console = console
        self.bundle_dir = work_dir / "bundle"
        write_bundle(self.bundle_dir)  # once per run: picks up the current lambda/ sources
        self.invoker = HandlerInvoker(
            work_dir=work_dir / "handler-runs",
            bundle_dir=self.bundle_dir,
            s3_endpoint=self.endpoints.s3,
            codeartifact_endpoint=self.endpoints.codeartifact,
            responses=responses,
            cloudformation=cloudformation,
        )
        self.codeartifact: CodeArtifactClient = boto3.client(
            "codeartifact",
            endpoint_url=self.endpoints.codeartifact,
            region_name=REGION,
            aws_access_key_id=CREDENTIALS["aws_access_key_id"],
            aws_secret_access_key=CREDENTIALS["aws_secret_access_key"],
        )
        self.codeartifact.create_domain(domain=DOMAIN)
        self.codeartifact.create_repository(domain=DOMAIN, repository=REPOSITORY)
        self.logs = work_dir / "logs" / "runs"
        self.samples: list[dict[str, Any]] = []
        #: One per repeat: the emulator's ingest rate (see :meth:`emulator_ingest`).
        self.ingest_samples: list[dict[str, Any]] = []
        #: Workloads run beside a competing CPU-bound process (see :meth:`run_loaded`).
        self.load_samples: list[dict[str, Any]] = []
        #: One version of many assets, in parallel and one at a time (:meth:`asset_set`).
        self.asset_set_samples: list[dict[str, Any]] = []
        #: Deployments of a stack of many versions (see :meth:`deploy_versions`).
        self.versions_samples: list[dict[str, Any]] = []
        self.long_samples: list[dict[str, Any]] = []
        self._competitor: dict[str, int] = {}

    # -- environment ---------------------------------------------------------------------------

    def _cli_env(self) -> dict[str, str]:
        home = self.work_dir / "cli-home"
        home.mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BOTO", "PYTHON"))}
        env.update(
            {
                "HOME": str(home),
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_SESSION_TOKEN": "testing",
                "AWS_DEFAULT_REGION": REGION,
                "AWS_CONFIG_FILE": str(home / "absent-config"),
                "AWS_SHARED_CREDENTIALS_FILE": str(home / "absent-credentials"),
                "AWS_EC2_METADATA_DISABLED": "true",
                "PYTHONDONTWRITEBYTECODE": "1",
            }
        )
        return env

    def _python_env(self) -> dict[str, str]:
        """The CLI's environment, with the repository first on ``PYTHONPATH`` and the
        driver's own ``PYTHONPATH`` after it (so a run from a checkout whose packages are laid
        out on ``PYTHONPATH`` imports that checkout's code in every child)."""
        env = self._cli_env()
        inherited = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), *inherited])
        return env

    # -- one measurement -----------------------------------------------------------------------

    def _pids(self) -> dict[str, int]:
        """Processes whose CPU each workload records: the services, and the competing
        process while one runs."""
        return {**self.services.pids(), **self._competitor}

    @contextlib.contextmanager
    def _under_load(self, name: str) -> Iterator[None]:
        """Run what the block measures beside a competing CPU-bound process; its samples go
        to :attr:`load_samples`, marked ``"load": "competing_cpu"``."""
        with CompetingCpu(self.logs / f"{name}-competitor.log") as competitor:
            self._competitor = {competing.NAME: competitor.pid}
            try:
                yield
            finally:
                self._competitor = {}

    def _measured(
        self,
        variant: str,
        obj: BenchObject | None,
        repeat: int,
        run: Callable[[str], tuple[ProcessStats, dict[str, Any]]],
        *,
        label: str | None = None,
        size_mib: int | None = None,
        into: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Run one workload and record its sample (in :attr:`samples` unless ``into``, or
        :attr:`load_samples` under load); ``label`` and ``size_mib`` default to ``obj``'s."""
        os.sync()  # start each workload without the previous one's dirty pages to write back
        load = os.getloadavg()[0]
        self.proxy.reset()
        loaded = bool(self._competitor)
        if label is None:
            label = f"{obj.size_mib}mib" if obj is not None else "none"
        if size_mib is None and obj is not None:
            size_mib = obj.size_mib
        prefix = "load-" if loaded else ""
        stats, extra = run(f"{prefix}{label}-r{repeat}-{variant}")
        s3 = self.proxy.stats()
        sample: dict[str, Any] = {
            "variant": variant,
            "size_mib": size_mib,
            "repeat": repeat,
            "ok": stats.exit_code == 0 and not stats.timed_out,
            "wall_s": round(stats.wall_s, 4),
            "cpu_s": round(stats.cpu_s, 4),
            "user_s": round(stats.user_s, 4),
            "sys_s": round(stats.sys_s, 4),
            "max_rss_mib": round(stats.max_rss_mib, 2),
            "tmp_peak_bytes": stats.tmp_peak_bytes,
            "s3_bytes_read": s3["to_client"] if variant in report.READS_S3 else None,
            "s3_connections": s3["connections"],
            "service_cpu_s": stats.service_cpu_s,
            "service_sys_s": stats.service_sys_s,
            "loadavg_1m": round(load, 2),
            **extra,
        }
        if loaded:
            sample["load"] = report.COMPETING_CPU
        if extra.get("problem"):
            sample["ok"] = False
        if into is None:
            into = self.load_samples if loaded else self.samples
        into.append(sample)
        state = "ok" if sample["ok"] else f"[red]FAILED[/red] {extra.get('problem', '')}"
        self.console.print(
            f"  {prefix + label:>8} r{repeat} {variant:<20} {stats.wall_s:8.2f} s  "
            f"cpu {stats.cpu_s:6.2f} s  rss {stats.max_rss_mib:7.1f} MiB  {state}"
        )
        return sample

    def _check_published(self, package: str, version: str, expected: str) -> str | None:
        """None when the emulator holds ``expected`` as the version's one asset; frees it."""
        return self._check_assets(package, version, None, [expected])

    def _check_assets(
        self, package: str, version: str, names: Sequence[str] | None, sha256s: Sequence[str]
    ) -> str | None:
        """None when the emulator holds exactly these assets: their SHA-256s in order, or with
        ``names``, these (name, SHA-256) pairs in any order. Deletes the version either way."""
        try:
            assets = self.codeartifact.list_package_version_assets(
                domain=DOMAIN,
                repository=REPOSITORY,
                format="generic",
                namespace=NAMESPACE,
                package=package,
                packageVersion=version,
                maxResults=1000,
            )["assets"]
        except Exception as error:
            return f"cannot list the published assets: {error}"
        finally:
            self._delete_version(package, version)
        if names is None:
            found = [a.get("hashes", {}).get("SHA-256") for a in assets]
            if found != list(sha256s):
                return f"emulator holds SHA-256 {found}, expected {list(sha256s)}"
            return None
        held = sorted((a["name"], a.get("hashes", {}).get("SHA-256")) for a in assets)
        wanted = sorted(zip(names, sha256s, strict=True))
        if held != wanted:
            return f"emulator holds {len(held)} assets, not the {len(wanted)} published"
        return None

    def _delete_version(self, package: str, version: str) -> None:
        try:
            self.codeartifact.delete_package_versions(
                domain=DOMAIN,
                repository=REPOSITORY,
                format="generic",
                namespace=NAMESPACE,
                package=package,
                versions=[version],
            )
        except Exception as error:
            self.console.print(f"[yellow]could not delete {package}@{version}: {error}")

    # -- workloads -----------------------------------------------------------------------------

    def baseline(self, obj: BenchObject, repeat: int) -> dict[str, Any]:
        """AWS CLI v1: s3api get-object → sha256sum → codeartifact publish-package-version."""
        package, version = f"object-{obj.size_mib}mib", f"cli-r{repeat}"

        def run(name: str) -> tuple[ProcessStats, dict[str, Any]]:
            env = self._cli_env()
            services = self._pids()
            download = self.work_dir / "baseline" / obj.path.name
            download.parent.mkdir(exist_ok=True)
            parts = [
                run_process(
                    [
                        *(_AWS_CLI, "s3api", "get-object", "--bucket", BUCKET, "--key", obj.key),
                        *("--endpoint-url", self.endpoints.s3, str(download)),
                    ],
                    log_path=self.logs / f"{name}-get.log",
                    env=env,
                    services=services,
                )
            ]
            digest_log = self.logs / f"{name}-sha256sum.log"
            parts.append(
                run_process(
                    ["sha256sum", str(download)],
                    log_path=digest_log,
                    env=env,
                    services=services,
                )
            )
            sha256 = digest_log.read_text().split()[0] if digest_log.exists() else ""
            parts.append(
                run_process(
                    [
                        *(_AWS_CLI, "codeartifact", "publish-package-version"),
                        *("--domain", DOMAIN, "--domain-owner", ACCOUNT),
                        *("--repository", REPOSITORY, "--format", "generic"),
                        *("--namespace", NAMESPACE, "--package", package),
                        *("--package-version", version, "--asset-name", obj.path.name),
                        *("--asset-content", str(download), "--asset-sha256", sha256),
                        *("--endpoint-url", self.endpoints.codeartifact),
                    ],
                    log_path=self.logs / f"{name}-publish.log",
                    env=env,
                    services=services,
                )
            )
            disk = download.stat().st_size if download.exists() else 0
            download.unlink(missing_ok=True)
            stats = combine(parts, "aws s3api get-object + sha256sum + aws codeartifact publish")
            problem = None if sha256 == obj.sha256 else f"sha256sum said {sha256!r}"
            if stats.exit_code == 0 and problem is None:
                problem = self._check_published(package, version, obj.sha256)
            return stats, {
                "problem": problem,
                "disk_bytes": disk,
                "parts": [
                    {
                        "command": p.command,
                        "wall_s": round(p.wall_s, 4),
                        "cpu_s": round(p.cpu_s, 4),
                        "max_rss_mib": round(p.max_rss_mib, 2),
                        "exit_code": p.exit_code,
                    }
                    for p in parts
                ],
            }

        return self._measured(report.BASELINE, obj, repeat, run)

    def handler(self, variant: str, obj: BenchObject, repeat: int) -> dict[str, Any]:
        """The bundled handler on one Create event (known / unknown / S3-checksum path)."""
        package = f"object-{obj.size_mib}mib"
        version = f"{variant.removeprefix('ours_').replace('_', '-')}-r{repeat}"
        key = obj.checksum_key if variant == report.S3_CHECKSUM else obj.key
        assert key is not None
        properties = _object_properties(obj, package, version, key, known=variant == report.KNOWN)

        def run(name: str) -> tuple[ProcessStats, dict[str, Any]]:
            outcome = self.invoker.create(properties, services=self._pids())
            log = self.logs / f"{name}.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            log.write_text(outcome.log)
            problem = outcome.problem
            if problem is None:
                problem = self._check_published(package, version, obj.sha256)
            else:
                self._delete_version(package, version)
            lines = outcome.asset_lines
            return outcome.stats, {
                "problem": problem,
                "path": lines[-1].get("path") if lines else None,
                "handler_seconds": lines[-1].get("seconds") if lines else None,
            }

        return self._measured(variant, obj, repeat, run)

    def _workload(self, name: str, kind: str, *args: str) -> tuple[ProcessStats, dict[str, Any]]:
        """Run ``python -m bench.workloads <kind> <args>`` measured; its stats and the last
        JSON line it printed."""
        log = self.logs / f"{name}.log"
        stats = run_process(
            [sys.executable, "-m", "bench.workloads", kind, *args],
            log_path=log,
            env=self._python_env(),
            cwd=REPO_ROOT,
            services=self._pids(),
        )
        return stats, _last_json(log)

    def floor_get(self, obj: BenchObject, repeat: int) -> dict[str, Any]:
        """One streaming boto3 GET of the object to /dev/null."""

        def run(name: str) -> tuple[ProcessStats, dict[str, Any]]:
            stats, said = self._workload(
                name,
                "get",
                *("--endpoint", self.endpoints.s3, "--bucket", BUCKET, "--key", obj.key),
            )
            seen = said.get("bytes")
            problem = None if seen == obj.size else f"read {seen} bytes"
            return stats, {"problem": problem}

        return self._measured(report.FLOOR_GET, obj, repeat, run)

    def floor_hash(self, obj: BenchObject, repeat: int) -> dict[str, Any]:
        """Raw hashlib.sha256 over the local copy of the object."""

        def run(name: str) -> tuple[ProcessStats, dict[str, Any]]:
            stats, said = self._workload(name, "hash", "--file", str(obj.path))
            seen = said.get("sha256")
            problem = None if seen == obj.sha256 else f"hashlib said {seen!r}"
            return stats, {"problem": problem}

        return self._measured(report.FLOOR_HASH, obj, repeat, run)

    def floor_publish(self, obj: BenchObject, repeat: int) -> dict[str, Any]:
        """The CodeArtifact side alone: boto3 publishes the local copy (SHA256 given)."""
        package, version = f"object-{obj.size_mib}mib", f"publish-r{repeat}"

        def run(name: str) -> tuple[ProcessStats, dict[str, Any]]:
            stats, _said = self._workload(
                name,
                "publish",
                *("--endpoint", self.endpoints.codeartifact, "--file", str(obj.path)),
                *("--sha256", obj.sha256, "--domain", DOMAIN, "--repository", REPOSITORY),
                *("--namespace", NAMESPACE, "--package", package, "--version", version),
                *("--asset-name", obj.path.name),
            )
            problem = None
            if stats.exit_code == 0:
                problem = self._check_published(package, version, obj.sha256)
            else:
                self._delete_version(package, version)
            return stats, {"problem": problem}

        return self._measured(report.FLOOR_PUBLISH, obj, repeat, run)

    def emulator_ingest(self, total_mib: int, repeat: int) -> dict[str, Any]:
        """The emulator's ingest rate: ``bench.workloads ingest`` publishes ``total_mib`` MiB
        from memory over raw HTTP (bodies of at most 64 MiB, one warm-up publish first)."""
        body_mib = max(1, min(INGEST_BODY_MIB, total_mib))
        count = max(1, total_mib // body_mib)
        stats, said = self._workload(
            f"ingest-r{repeat}",
            "ingest",
            *("--endpoint", self.endpoints.codeartifact, "--domain", DOMAIN),
            *("--repository", REPOSITORY, "--namespace", NAMESPACE, "--package", "ingest"),
            *("--mib", str(body_mib), "--count", str(count)),
        )
        sample: dict[str, Any] = {
            "repeat": repeat,
            "ok": stats.exit_code == 0 and said.get("mb_per_s") is not None,
            "mb_per_s": said.get("mb_per_s"),
            "bytes": said.get("bytes"),
            "publishes": said.get("publishes"),
            "body_mib": said.get("body_mib"),
            "seconds": said.get("seconds"),
            "throttled": said.get("throttled"),
            "emulator_cpu_s": (stats.service_cpu_s or {}).get("codeartifact-emulator"),
        }
        self.ingest_samples.append(sample)
        state = "ok" if sample["ok"] else "[red]FAILED[/red]"
        self.console.print(
            f"  {'ingest':>8} r{repeat} {'emulator_ingest':<20} "
            f"{sample['mb_per_s'] or 0:8.1f} MB/s ({count} x {body_mib} MiB)  {state}"
        )
        return sample

    def handler_startup(self, repeat: int) -> dict[str, Any]:
        """The fixed cost of a handler process: start the interpreter, import the handler."""

        def run(name: str) -> tuple[ProcessStats, dict[str, Any]]:
            self.invoker.work_dir.mkdir(parents=True, exist_ok=True)
            run_dir = Path(tempfile.mkdtemp(prefix="startup-", dir=self.invoker.work_dir))
            env = self.invoker.runner.environment(self.invoker.function, run_dir)
            stats = run_process(
                [sys.executable, "-c", f"import {BUNDLE_PACKAGE}.index"],
                log_path=self.logs / f"{name}.log",
                env=env,
                cwd=self.bundle_dir,
            )
            return stats, {}

        return self._measured(report.STARTUP, None, repeat, run)

    def measure(self, variant: str, obj: BenchObject, repeat: int) -> dict[str, Any]:
        """Run one workload on ``obj`` and record the sample."""
        if variant == report.BASELINE:
            return self.baseline(obj, repeat)
        if variant == report.FLOOR_GET:
            return self.floor_get(obj, repeat)
        if variant == report.FLOOR_HASH:
            return self.floor_hash(obj, repeat)
        if variant == report.FLOOR_PUBLISH:
            return self.floor_publish(obj, repeat)
        return self.handler(variant, obj, repeat)

    def asset_set(self, mode: str, assets: Sequence[BenchObject], repeat: int) -> dict[str, Any]:
        """One version of all ``assets`` (SHA256 and size known) on one Create event: with a
        function of :data:`PARALLEL_MEMORY_MB` (the handler publishes
        ``contract.parallel_assets`` of them at a time) or of :data:`SERIAL_MEMORY_MB` (one at
        a time). The same bundle, the same event; only the function's memory differs."""
        memory = PARALLEL_MEMORY_MB if mode == report.PARALLEL else SERIAL_MEMORY_MB
        package = f"assets-{len(assets)}x{assets[0].size_mib}mib"
        version = f"{mode.removeprefix('ours_').replace('_', '-')}-r{repeat}"
        names = [obj.path.name for obj in assets]
        properties = version_properties(
            domain=DOMAIN,
            repository=REPOSITORY,
            namespace=NAMESPACE,
            package=package,
            version=version,
            assets=[
                asset_entry(
                    name=obj.path.name, bucket=BUCKET, key=obj.key, sha256=obj.sha256, size=obj.size
                )
                for obj in assets
            ],
        )

        def run(name: str) -> tuple[ProcessStats, dict[str, Any]]:
            outcome = self.invoker.create(properties, services=self._pids(), memory_mb=memory)
            log = self.logs / f"{name}.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            log.write_text(outcome.log)
            problem = outcome.problem
            if problem is None:
                problem = self._check_assets(package, version, names, [o.sha256 for o in assets])
            else:
                self._delete_version(package, version)
            spans = outcome.asset_spans
            if problem is None and sorted(s.asset for s in spans) != sorted(names):
                problem = f"the handler logged {len(spans)} published assets, not {len(names)}"
            return outcome.stats, {
                "problem": problem,
                "assets": len(assets),
                "asset_mib": assets[0].size_mib,
                "memory_mb": memory,
                "parallel": contract.parallel_assets(memory),
                "peak_in_flight": peak_in_flight(spans),
                "final_last": final_last(spans, names[-1]),
                "asset_seconds": round(sum(s.ended - s.started for s in spans), 3),
                "paths": sorted({str(line.get("path")) for line in outcome.asset_lines}),
            }

        return self._measured(
            mode,
            None,
            repeat,
            run,
            label=f"{len(assets)}x{assets[0].size_mib}mib",
            size_mib=assets[0].size_mib * len(assets),
            into=self.asset_set_samples,
        )

    def run_loaded(self, obj: BenchObject, repeat: int) -> None:
        """The CLI baseline, the known-hash handler and the GET and hashlib floors on ``obj``,
        each beside a competing CPU-bound process started for it (order rotating)."""
        variants = list(report.LOAD_VARIANTS)
        shift = repeat % len(variants)
        for variant in variants[shift:] + variants[:shift]:
            with self._under_load(f"{obj.size_mib}mib-r{repeat}-{variant}"):
                self.measure(variant, obj, repeat)

    def synth_versions(self, count: int) -> Path:
        """Synthesize the many-versions app (``bench.many_versions synth``) once; its path."""
        outdir = self.work_dir / f"many-versions-{count}"
        log = self.logs / f"many-versions-synth-{count}.log"
        env = self._python_env()
        env.pop("CDK_CONTEXT_JSON", None)
        stats = run_process(
            [*_MANY, "synth", "--count", str(count), "--outdir", str(outdir)],
            log_path=log,
            env=env,
            cwd=REPO_ROOT,
        )
        if stats.exit_code != 0:
            raise RuntimeError(f"synth of {count} versions failed, see {log}")
        self.console.print(f"  synthesized {count} versions in {stats.wall_s:.1f} s")
        return outdir

    def deploy_versions(
        self,
        assembly: Path,
        count: int,
        max_parallel: int,
        repeat: int,
        *,
        rate: float,
        burst: float,
    ) -> dict[str, Any]:
        """Deploy the many-versions app into a fresh local environment (its own process) with
        ``max_parallel`` resource operations at once; record the deploy's wall time and the
        publishes the quota throttled."""
        stats, said, problem = self._reporting_process(
            [
                *(*_MANY, "deploy", "--assembly", str(assembly), "--count", str(count)),
                *("--max-parallel", str(max_parallel), "--rate", f"{rate:g}"),
                *("--burst", f"{burst:g}"),
            ],
            self.logs / f"many-versions-{count}-p{max_parallel}-r{repeat}.log",
        )
        sample: dict[str, Any] = {
            "count": count,
            "max_parallel": max_parallel,
            "repeat": repeat,
            "ok": stats.exit_code == 0 and not problem,
            "problem": problem,
            "deploy_s": said.get("deploy_s"),
            "process_wall_s": round(stats.wall_s, 3),
            "process_cpu_s": round(stats.cpu_s, 3),
            "throttled": said.get("throttled"),
            "publishes_admitted": said.get("publishes_admitted"),
            "versions_published": said.get("versions_published"),
            "stacks": said.get("stacks"),
            "rate_per_s": rate,
            "burst": burst,
            "loadavg_1m": round(os.getloadavg()[0], 2),
        }
        return self._keep(
            sample,
            self.versions_samples,
            f"  {count:>4} versions r{repeat} max_parallel={max_parallel:<2} "
            f"deploy {sample['deploy_s'] or 0:7.2f} s, {sample['throttled']} throttled",
        )

    def long_version(self, mode: str, assets: int, asset_mib: int, repeat: int) -> dict[str, Any]:
        """Deploy one version of ``assets`` × ``asset_mib`` MiB in its own process
        (``bench.long_version``), the function's timeout short (``polled``) or the construct's;
        record the invocations it took and the deploy's wall time."""
        timeout = LONG_TIMEOUT_S if mode == long_report.POLLED else 0
        stats, said, problem = self._reporting_process(
            [
                *(*_LONG, "--assets", str(assets), "--asset-mib", str(asset_mib)),
                *("--timeout", str(timeout), "--publish-seconds", f"{LONG_PUBLISH_DELAY_S:g}"),
                *("--minute-seconds", f"{LONG_MINUTE_S:g}"),
            ],
            self.logs / f"long-version-{mode}-r{repeat}.log",
        )
        sample: dict[str, Any] = {
            **said,
            "mode": mode,
            "repeat": repeat,
            "ok": stats.exit_code == 0 and not problem,
            "problem": problem,
            "process_wall_s": round(stats.wall_s, 3),
            "loadavg_1m": round(os.getloadavg()[0], 2),
        }
        return self._keep(
            sample,
            self.long_samples,
            f"  long version {assets} x {asset_mib} MiB r{repeat} {mode:<14} "
            f"{sample.get('invocations')} invocations, deploy {sample.get('deploy_s') or 0:6.1f} s",
        )

    def _reporting_process(
        self, command: Sequence[str], log: Path
    ) -> tuple[ProcessStats, dict[str, Any], str | None]:
        """Run a workload process that ends by printing one JSON line: its stats, that line
        (empty if none), and the problem it reported (or why there is no line)."""
        stats = run_process(command, log_path=log, env=self._python_env(), cwd=REPO_ROOT)
        said = _last_json(log) or {}
        problem = said.get("problem") if said else f"no result (exit code {stats.exit_code})"
        return stats, said, problem

    def _keep(
        self, sample: dict[str, Any], into: list[dict[str, Any]], line: str
    ) -> dict[str, Any]:
        """Keep ``sample`` in ``into`` and print ``line`` with its outcome."""
        into.append(sample)
        state = "ok" if sample["ok"] else f"[red]FAILED[/red] {sample['problem']}"
        self.console.print(f"{line}  {state}")
        return sample

    def run_sizes(
        self,
        objects: Sequence[BenchObject],
        repeats: int,
        *,
        ingest_mib: int = 0,
        loaded: BenchObject | None = None,
        asset_set: Sequence[BenchObject] = (),
        versions: tuple[Path, int] | None = None,
        rate: float = many_versions.DEFAULT_RATE,
        burst: float = many_versions.DEFAULT_BURST,
        long: tuple[int, int] | None = None,
    ) -> None:
        """Every workload for every size, interleaved; the order rotates with each repeat.
        With ``ingest_mib``, each repeat also measures the emulator's ingest rate; with
        ``loaded``, the workloads of :meth:`run_loaded` on that object; with ``asset_set``, one
        version of those assets in parallel and one at a time; with ``versions`` (assembly,
        count), that stack deployed with the engine's parallelism and one at a time; with
        ``long`` (assets, MiB each), that version with a short function timeout and with the
        construct's."""
        for repeat in range(repeats):
            self.handler_startup(repeat)
            if ingest_mib > 0:
                self.emulator_ingest(ingest_mib, repeat)
            for obj in objects:
                variants = [
                    v
                    for v in report.VARIANTS
                    if v != report.S3_CHECKSUM or obj.checksum_key is not None
                ]
                shift = repeat % len(variants)
                for variant in variants[shift:] + variants[:shift]:
                    self.measure(variant, obj, repeat)
            if loaded is not None:
                self.run_loaded(loaded, repeat)
            if asset_set:
                modes = [report.PARALLEL, report.SERIAL]
                for mode in modes[repeat % 2 :] + modes[: repeat % 2]:
                    self.asset_set(mode, asset_set, repeat)
            if versions is not None:
                assembly, count = versions
                widths = [VERSIONS_MAX_PARALLEL, 1]
                for width in widths[repeat % 2 :] + widths[: repeat % 2]:
                    self.deploy_versions(assembly, count, width, repeat, rate=rate, burst=burst)
            if long is not None:
                modes = list(long_report.MODES)
                for mode in modes[repeat % 2 :] + modes[: repeat % 2]:
                    self.long_version(mode, *long, repeat)

    def profile(self, obj: BenchObject, py_spy: str, out_dir: Path) -> dict[str, Any]:
        """One extra known-hash and unknown-hash invocation each, sampled by py-spy."""
        found: dict[str, Any] = {}
        for variant in (report.KNOWN, report.UNKNOWN):
            package, version = f"object-{obj.size_mib}mib", f"profile-{variant[5:12]}"
            properties = _object_properties(
                obj, package, version, obj.key, known=variant == report.KNOWN
            )
            pids = self.services.pids()
            recorders = [
                profiling.PySpy(py_spy, pids[name], out_dir / f"{variant}-{name}.txt")
                for name in ("codeartifact-emulator", "moto")
            ]
            handler: list[profiling.PySpy] = []

            def attach(pid: int, v: str = variant, into: list[profiling.PySpy] = handler) -> None:
                into.append(profiling.PySpy(py_spy, pid, out_dir / f"{v}-handler.txt", idle=True))

            try:
                outcome = self.invoker.create(properties, on_start=attach)
            finally:
                for recorder in handler:
                    recorder.stop(wait_only=True)
                profiling.stop_all(recorders)
                self._delete_version(package, version)
            found[variant] = {
                "size_mib": obj.size_mib,
                "wall_s": round(outcome.stats.wall_s, 3),
                "ok": outcome.succeeded,
                "processes": {
                    name: profiling.summarize(out_dir / f"{variant}-{name}.txt")
                    for name in ("handler", "codeartifact-emulator", "moto")
                },
            }
            self.console.print(
                f"  profiled {variant} at {obj.size_mib} MiB: {outcome.stats.wall_s:.2f} s"
            )
        return found

    def run_synth(self, counts: Sequence[int], repeats: int) -> list[dict[str, Any]]:
        """Synthesize stacks of each size in a fresh process, interleaved and repeated."""
        env = self._python_env()
        env.pop("CDK_CONTEXT_JSON", None)  # bundling must be real
        env.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
        env.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
        rows: list[dict[str, Any]] = []
        # Warm-up (not recorded): the first jsii/Node start after a while reads cold files.
        if counts:
            warm = Path(tempfile.mkdtemp(prefix="synth-warmup-", dir=self.work_dir))
            run_process(
                [*_SYNTH, "--count", str(counts[0]), "--outdir", str(warm)],
                log_path=self.logs / "synth-warmup.log",
                env=env,
                cwd=REPO_ROOT,
            )
            shutil.rmtree(warm, ignore_errors=True)
        for repeat in range(repeats):
            for count in counts:
                outdir = Path(tempfile.mkdtemp(prefix=f"synth-{count}-", dir=self.work_dir))
                log = self.logs / f"synth-{count}-r{repeat}.log"
                stats = run_process(
                    [*_SYNTH, "--count", str(count), "--outdir", str(outdir)],
                    log_path=log,
                    env=env,
                    cwd=REPO_ROOT,
                )
                found = _last_json(log)
                row = {
                    "count": count,
                    "repeat": repeat,
                    "ok": stats.exit_code == 0 and bool(found),
                    "wall_s": round(stats.wall_s, 3),
                    "cpu_s": round(stats.cpu_s, 3),
                    "max_rss_mib": round(stats.max_rss_mib, 1),
                    **found,
                }
                rows.append(row)
                shutil.rmtree(outdir, ignore_errors=True)
                self.console.print(
                    f"  synth {count:>4} versions r{repeat}: {stats.wall_s:6.2f} s, "
                    f"{found.get('lambda_functions')} function(s), "
                    f"{found.get('template_bytes')} template bytes"
                )
        return rows


def _object_properties(
    obj: BenchObject, package: str, version: str, key: str, *, known: bool
) -> dict[str, Any]:
    """ResourceProperties of ``package`` ``version`` in the bench repository, whose one asset is
    ``obj`` read from ``key`` of ``BUCKET``; its SHA256 and size declared only when ``known``."""
    return asset_properties(
        domain=DOMAIN,
        repository=REPOSITORY,
        namespace=NAMESPACE,
        package=package,
        version=version,
        asset_name=obj.path.name,
        bucket=BUCKET,
        key=key,
        sha256=obj.sha256 if known else None,
        size=obj.size if known else None,
    )


def _last_json(log: Path) -> dict[str, Any]:
    """The last line of ``log`` that is a JSON object ({} when there is none)."""
    if not log.exists():
        return {}
    for line in reversed(log.read_text(errors="replace").splitlines()):
        if line.startswith("{"):
            try:
                found: dict[str, Any] = json.loads(line)
            except ValueError:
                continue
            return found
    return {}


def _git_head() -> str | None:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def _uncommitted() -> list[str]:
    """Uncommitted changes to what the benchmark runs (the handler, the constructs, bench/):
    ``git status --porcelain`` lines. The bundle is built from the work tree, so a run with
    any of these measured code that no commit holds."""
    try:
        listed = subprocess.run(
            ["git", "status", "--porcelain", "--", "lambda", "constructs", "bench"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return ["(git status failed)"]
    return [line for line in listed.splitlines() if "bench/results/" not in line]


def summarize_ingest(samples: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The median ingest rate over the repeats that worked (None when none was measured)."""
    rates = sorted(s["mb_per_s"] for s in samples if s["ok"])
    if not rates:
        return None
    middle = len(rates) // 2
    median = rates[middle] if len(rates) % 2 else (rates[middle - 1] + rates[middle]) / 2
    return {
        "mb_per_s": round(median, 1),
        "runs": len(rates),
        "min_mb_per_s": rates[0],
        "max_mb_per_s": rates[-1],
        "method": (
            "raw HTTP PublishPackageVersion (one keep-alive connection, no SDK or signing, "
            "SHA-256 given) of a random body held in memory, to the emulator served as its own "
            "process on 127.0.0.1; body bytes over the summed request times; MB = 10^6 bytes; "
            "one untimed warm-up publish"
        ),
    }


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.run",
        description="Benchmark the handler's data path against the AWS CLI v1 flow (issue 5).",
    )
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help="object sizes in MiB (%(default)s)")
    parser.add_argument("--with-4g", action="store_true", help="also measure a 4 GiB object")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each workload (%(default)s)")
    parser.add_argument(
        "--synth-counts",
        default=DEFAULT_SYNTH_COUNTS,
        help="versions per stack for synth scaling; empty skips it (%(default)s)",
    )
    parser.add_argument(
        "--ingest-mib",
        type=int,
        default=DEFAULT_INGEST_MIB,
        help="MiB the emulator ingest measurement publishes per repeat; 0 skips it (%(default)s)",
    )
    parser.add_argument(
        "--set-assets",
        type=int,
        default=DEFAULT_SET_ASSETS,
        help="assets of the version published in parallel and one at a time; 0 skips it "
        "(%(default)s)",
    )
    parser.add_argument(
        "--set-asset-mib",
        type=int,
        default=DEFAULT_SET_ASSET_MIB,
        help="MiB of each of those assets (%(default)s)",
    )
    parser.add_argument(
        "--load-size",
        type=int,
        default=DEFAULT_LOAD_MIB,
        help="object size (MiB) measured beside a competing CPU-bound process, added to "
        "--sizes if missing; 0 skips it (%(default)s)",
    )
    parser.add_argument(
        "--versions",
        type=int,
        default=DEFAULT_VERSIONS,
        help="versions in the stack deployed with max_parallel="
        f"{VERSIONS_MAX_PARALLEL} and with 1; 0 skips it (%(default)s)",
    )
    parser.add_argument(
        "--versions-rate",
        type=float,
        default=many_versions.DEFAULT_RATE,
        help="the emulator's PublishPackageVersion quota per second there (%(default)s)",
    )
    parser.add_argument(
        "--versions-burst",
        type=float,
        default=many_versions.DEFAULT_BURST,
        help="its token bucket, in calls (%(default)s: no burst, as the lifecycle test)",
    )
    parser.add_argument(
        "--long-assets",
        type=int,
        default=DEFAULT_LONG_ASSETS,
        help="assets of the version deployed with a short function timeout (crhelper's polls) "
        "and with the construct's; 0 skips it (%(default)s)",
    )
    parser.add_argument(
        "--long-asset-mib",
        type=int,
        default=DEFAULT_LONG_ASSET_MIB,
        help="MiB of each of those assets (%(default)s)",
    )
    parser.add_argument(
        "--out", default=str(REPO_ROOT / "bench" / "results"), help="results directory"
    )
    parser.add_argument(
        "--work-dir", default=None, help="where objects and servers' files go (a temp dir)"
    )
    parser.add_argument(
        "--keep-work", action="store_true", help="keep the work directory (logs) afterwards"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also sample one known and one unknown invocation at the largest size with py-spy",
    )
    parser.add_argument("--py-spy", default=None, help="py-spy executable (default: on PATH)")
    parser.add_argument(
        "--no-s3-checksum-variant",
        action="store_true",
        help="skip the object twin with a stored SHA256 checksum",
    )
    return parser


def _upload(
    endpoint: str, work_dir: Path, sizes: Sequence[int], args: argparse.Namespace, console: Console
) -> tuple[list[BenchObject], list[BenchObject]]:
    """Upload one object per size (and twins), and the asset set of ``--set-assets``."""
    objects = []
    for size in sizes:
        began = time.perf_counter()
        objects.append(
            prepare(
                endpoint,
                work_dir / "objects",
                size,
                with_checksum_twin=not args.no_s3_checksum_variant,
            )
        )
        console.print(f"  uploaded {size} MiB object in {time.perf_counter() - began:.1f} s")
    asset_set: list[BenchObject] = []
    if args.set_assets > 0:
        began = time.perf_counter()
        asset_set = prepare_set(
            endpoint, work_dir / "objects", int(args.set_asset_mib), int(args.set_assets)
        )
        console.print(
            f"  uploaded {args.set_assets} x {args.set_asset_mib} MiB assets in "
            f"{time.perf_counter() - began:.1f} s"
        )
    return objects, asset_set


def _failures(bench: Bench, synth_rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every workload run that broke (no SUCCESS, wrong hashes, a deployment that failed)."""
    failures = [
        {k: s.get(k) for k in ("variant", "size_mib", "repeat", "load", "problem")}
        for s in [*bench.samples, *bench.load_samples, *bench.asset_set_samples]
        if not s["ok"]
    ]
    failures += [{"synth": r["count"], "repeat": r["repeat"]} for r in synth_rows if not r["ok"]]
    failures += [
        {"variant": "emulator_ingest", "repeat": s["repeat"]}
        for s in bench.ingest_samples
        if not s["ok"]
    ]
    failures += [
        {k: s.get(k) for k in ("count", "max_parallel", "repeat", "problem")}
        for s in bench.versions_samples
        if not s["ok"]
    ]
    failures += [
        {k: s.get(k) for k in ("mode", "repeat", "problem")}
        for s in bench.long_samples
        if not s["ok"]
    ]
    return failures


def _profile(bench: Bench, args: argparse.Namespace, obj: BenchObject) -> dict[str, Any] | None:
    """``--profile``: py-spy profiles at ``obj`` (None when py-spy is missing)."""
    py_spy = args.py_spy or shutil.which("py-spy")
    if py_spy is None:
        bench.console.print("[yellow]--profile: py-spy not found (pass --py-spy PATH)")
        return None
    return bench.profile(obj, py_spy, bench.work_dir / "profile")


def run(args: argparse.Namespace, console: Console) -> dict[str, Any]:
    """Run the whole benchmark; return the results written to results.json."""
    sizes = _ints(args.sizes)
    if args.with_4g and 4096 not in sizes:
        sizes.append(4096)
    load_size = max(0, int(args.load_size))
    if load_size and load_size not in sizes:
        sizes.append(load_size)  # its quiet figures are the size's own
    sizes.sort()
    synth_counts = sorted(_ints(args.synth_counts))
    repeats = max(1, int(args.repeat))
    if args.work_dir:
        Path(args.work_dir).mkdir(parents=True, exist_ok=True)
    work_dir = Path(tempfile.mkdtemp(prefix="bench-", dir=args.work_dir))
    started = time.time()
    load_before = os.getloadavg()
    console.print(f"[bold]bench[/bold]: sizes {sizes} MiB, repeat {repeats}, work dir {work_dir}")
    try:
        stacks = StackDirectory()
        with (
            LocalServices(work_dir) as services,
            ResponseServer(ca_dir=work_dir / "tls") as rs,
            CloudFormationEndpoint(stacks) as cloudformation,
        ):
            bench = Bench(
                work_dir=work_dir,
                services=services,
                responses=rs,
                cloudformation=(cloudformation.url, stacks),
                console=console,
            )
            assert services.endpoints is not None
            objects, asset_set = _upload(
                services.endpoints.s3_direct, work_dir, sizes, args, console
            )
            versions = None
            if args.versions > 0:
                versions = (bench.synth_versions(int(args.versions)), int(args.versions))
            bench.run_sizes(
                objects,
                repeats,
                ingest_mib=max(0, int(args.ingest_mib)),
                loaded=next((o for o in objects if o.size_mib == load_size), None),
                asset_set=asset_set,
                versions=versions,
                rate=float(args.versions_rate),
                burst=float(args.versions_burst),
                long=(args.long_assets, args.long_asset_mib) if args.long_assets > 0 else None,
            )
            profile = _profile(bench, args, objects[-1]) if args.profile else None
            synth_rows = bench.run_synth(synth_counts, repeats) if synth_counts else []
    finally:
        if args.keep_work:
            console.print(f"work directory kept: {work_dir}")
        else:
            shutil.rmtree(work_dir, ignore_errors=True)
    samples, ingest_samples = bench.samples, bench.ingest_samples
    size_summaries = [
        report.summarize_size([s for s in samples if s["size_mib"] == size], size * MIB)
        for size in sizes
    ]
    synth = report.summarize_synth(synth_rows)
    ingest = summarize_ingest(ingest_samples)
    loaded = (
        report.summarize_load(bench.load_samples, size_summaries, load_size) if load_size else None
    )
    parallel = (
        report.summarize_asset_set(bench.asset_set_samples) if bench.asset_set_samples else None
    )
    many = report.summarize_versions(bench.versions_samples) if bench.versions_samples else None
    long = long_report.summarize(bench.long_samples) if bench.long_samples else None
    results: dict[str, Any] = {
        "meta": {
            "started": datetime.datetime.fromtimestamp(started, datetime.UTC).isoformat(),
            "seconds": round(time.time() - started, 1),
            "sizes_mib": sizes,
            "repeat": repeats,
            "load_size_mib": load_size or None,
            "set_assets": int(args.set_assets),
            "set_asset_mib": int(args.set_asset_mib),
            "versions": int(args.versions),
            "long_assets": int(args.long_assets),
            "long_asset_mib": int(args.long_asset_mib),
            "synth_counts": synth_counts,
            "git_head": _git_head(),
            "uncommitted": _uncommitted(),
            "handler_bundle_hash": bundle_hash(),
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            # Other work on the machine skews wall times: the 1-minute load before and after.
            "loadavg_1m": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
            "note": (
                "Every number is a median over the repeats; each workload is one whole "
                "process (start-up included). Wall ratios: ours / baseline and ours / S3 GET "
                "floor. CPU per GiB: user+sys of the process / object GiB."
            ),
        },
        "required_metrics": list(report.REQUIRED_METRICS),
        "required_load_metrics": list(report.REQUIRED_LOAD_METRICS),
        "required_parallel_metrics": list(report.REQUIRED_PARALLEL_METRICS),
        "required_versions_metrics": list(report.REQUIRED_VERSIONS_METRICS),
        "required_long_metrics": list(long_report.REQUIRED_METRICS),
        "sizes": size_summaries,
        "handler_startup": report.summarize_startup(samples),
        # The ceiling every publishing workload runs under (None: not measured).
        "emulator_ingest_mb_per_s": ingest["mb_per_s"] if ingest else None,
        "emulator_ingest": {**(ingest or {}), "samples": ingest_samples},
        "synth": synth,
        "synth_samples": synth_rows,
        # Issue 13: a competing CPU-bound process, a version's assets in parallel, a stack of
        # many versions under the publish quota (None: not run).
        "competing_cpu": loaded,
        "parallel_assets": parallel,
        "many_versions": many,
        "long_version": long,
        "profile": profile,
        "samples": samples,
    }
    results["targets"] = [v.as_json() for v in report.evaluate(size_summaries, synth)]
    results["scale_targets"] = [
        v.as_json() for v in report.evaluate_scale(size_summaries, loaded, parallel, many, long)
    ]
    results["failures"] = _failures(bench, synth_rows)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Run, write results.json and chart.png, print the tables."""
    args = build_parser().parse_args(argv)
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)  # logs and pipes: do not squeeze the tables into 80 columns
    results = run(args, console)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    report.write_chart(results, out / "chart.png")
    (out / "summary.md").write_text(report.markdown(results))
    report.print_tables(console, results)
    ingest = results.get("emulator_ingest") or {}
    if ingest.get("mb_per_s") is not None:
        console.print(
            f"emulator ingest (the publishing workloads' ceiling): {ingest['mb_per_s']} MB/s, "
            f"median of {ingest['runs']} (raw HTTP publish from memory, 127.0.0.1)"
        )
    console.print(f"results: {out / 'results.json'}, {out / 'chart.png'}, {out / 'summary.md'}")
    console.print("README table: python -m bench.report --readme (from results.json)")
    if results["failures"]:
        console.print(f"[red]{len(results['failures'])} workload run(s) failed[/red]")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
