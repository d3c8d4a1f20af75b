"""Run a Lambda function's real Python code once, in a subprocess, like the Lambda service.

The subprocess is ``sys.executable -c <bootstrap>`` (see :mod:`._bootstrap`) with the code
directory as working directory and ``PYTHONPATH``, and an environment built from scratch: the
function's variables, the reserved Lambda variables (``AWS_REGION``, ``_HANDLER``,
``AWS_LAMBDA_FUNCTION_NAME``, …), dummy credentials, the local endpoints
(``AWS_ENDPOINT_URL_S3``, ``AWS_ENDPOINT_URL_CODEARTIFACT``, ``AWS_ENDPOINT_URL_CLOUDFORMATION``,
``AWS_ENDPOINT_URL_EVENTBRIDGE`` and ``AWS_ENDPOINT_URL_LAMBDA`` for crhelper's polling;
``AWS_ENDPOINT_URL`` points every other service at a closed local port so nothing reaches the
real AWS) and ``SSL_CERT_FILE``
(plus ``AWS_CA_BUNDLE``) naming the local CAs. Its output goes line by line to a log file and,
optionally, to an echo callback. It is killed (with its process group) when it overruns its
timeout plus a margin.

Layers: Lambda extracts a function's layers, in order, into ``/opt`` and puts ``/opt/bin`` on
``PATH`` and ``/opt/python`` (and ``/opt/python/lib/pythonX.Y/site-packages``) on ``sys.path``.
Locally the layers stay in their own directories (see :attr:`LambdaFunction.layers`): their
directory is put on those paths, and a ``sitecustomize`` written next to the runs makes
programs the handler starts by an absolute ``/opt/...`` path run from it; a script whose
shebang names a Python interpreter (the AWS CLI layer's ``#!/var/lang/bin/python``) runs with
the handler's interpreter. This is what ``aws_s3_deployment.BucketDeployment`` needs: its
handler runs ``/opt/awscli/aws`` from the ``AwsCliLayer`` (aws-cdk
``packages/aws-cdk-lib/aws-s3-deployment/lib/lambda/index.py``, ``aws_command``). A program
started through a shell, or a file the handler opens under ``/opt``, is not redirected.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = [
    "OPT_VARIABLE",
    "UNREACHABLE_ENDPOINT",
    "Invocation",
    "LambdaFunction",
    "LambdaRunner",
    "fetch_code",
    "unpack_code",
]

#: ``AWS_ENDPOINT_URL`` for handlers: every service without its own local endpoint variable
#: gets "connection refused" at once (port 9 is "discard", closed on any sane machine).
UNREACHABLE_ENDPOINT: Final = "http://127.0.0.1:9"

_BOOTSTRAP_SOURCE: Final = Path(__file__).with_name("_bootstrap.py").read_text(encoding="utf-8")

#: The variable that tells the handler process where its ``/opt`` (its layers) is.
OPT_VARIABLE: Final = "_LOCAL_LAMBDA_OPT"

#: ``sitecustomize`` of handler processes whose function has layers: programs started by an
#: absolute ``/opt/...`` path run from the layers' directory (only the standard library here).
_OPT_SHIM: Final = f'''"""Local Lambda: the function's layers are in ${OPT_VARIABLE}, not /opt."""
import os
import subprocess
import sys

_OPT = os.environ.get("{OPT_VARIABLE}")


def _python_script(path):
    try:
        with open(path, "rb") as script:
            first = script.readline(256)
    except OSError:
        return False
    return first.startswith(b"#!") and b"python" in first


def _local(args):
    if isinstance(args, str):
        args = [args]
    elif not (isinstance(args, (list, tuple)) and args and isinstance(args[0], str)):
        return args
    program = args[0]
    if not (program == "/opt" or program.startswith("/opt/")):
        return args
    program = _OPT + program[len("/opt"):]
    if _python_script(program):
        return [sys.executable, program, *args[1:]]
    return [program, *args[1:]]


if _OPT:
    _popen_init = subprocess.Popen.__init__

    def _init(self, args, *rest, **options):
        if not options.get("shell") and options.get("executable") is None:
            args = _local(args)
        _popen_init(self, args, *rest, **options)

    subprocess.Popen.__init__ = _init
'''

#: Environment variables a function may not set (Lambda rejects them), so ours win.
_RESERVED: Final = frozenset(
    {
        "_HANDLER",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    }
)


@dataclass(frozen=True)
class LambdaFunction:
    """What is needed to run a function: its code, handler and configuration."""

    function_name: str
    handler: str
    code_dir: Path
    runtime: str = "python3.12"
    timeout_seconds: float = 3
    memory_mb: int = 128
    environment: Mapping[str, str] = field(default_factory=dict)
    arn: str = ""
    #: Directories holding the contents of the function's layers, in the function's order
    #: (a later layer's files win, as when Lambda extracts them into ``/opt``).
    layers: tuple[Path, ...] = ()


@dataclass(frozen=True)
class Invocation:
    """The outcome of one run of the function.

    ``error_type``/``error_message`` are set when the handler raised (or could not be
    imported); ``timed_out`` when the process was killed for overrunning; ``stopped`` when
    the caller's ``done`` condition held and the process was ended after the grace period.
    """

    request_id: str
    exit_code: int | None
    duration_seconds: float
    log_path: Path
    timed_out: bool = False
    stopped: bool = False
    error_type: str | None = None
    error_message: str | None = None
    result: Any = None

    @property
    def error(self) -> str | None:
        """``"Type: message"`` when the handler failed, else ``None``."""
        if self.timed_out:
            return f"Task timed out after {self.duration_seconds:.2f} seconds"
        if self.error_type:
            return f"{self.error_type}: {self.error_message}"
        if self.exit_code not in (0, None) and not self.stopped:
            return f"Runtime.ExitError: the process exited with code {self.exit_code}"
        return None


def unpack_code(archive: Path, target: Path) -> Path:
    """Extract the zip ``archive`` into ``target`` (created); returns ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive) as bundle:
        bundle.extractall(target)  # zipfile strips absolute and '..' members
        for info in bundle.infolist():
            mode = (info.external_attr >> 16) & 0o777
            if mode & 0o111 and not info.is_dir():
                path = target / info.filename
                path.chmod(path.stat().st_mode | 0o111)
    return target


def fetch_code(
    s3: S3Client, bucket: str, key: str, target: Path, *, version: str | None = None
) -> Path:
    """Download the code zip ``s3://bucket/key`` and extract it into ``target``."""
    with tempfile.TemporaryDirectory(prefix="local-deploy-code-") as tmp:
        archive = Path(tmp, "code.zip")
        extra: dict[str, Any] = {"VersionId": version} if version else {}
        response = s3.get_object(Bucket=bucket, Key=key, **extra)
        with archive.open("wb") as out:
            for chunk in response["Body"].iter_chunks(1024 * 1024):
                out.write(chunk)
        if not zipfile.is_zipfile(archive):
            raise ValueError(f"s3://{bucket}/{key} is not a zip file")
        return unpack_code(archive, target)


def _stream(pipe: IO[bytes], log: IO[str], echo: Callable[[str], None] | None) -> None:
    for raw in iter(pipe.readline, b""):
        line = raw.decode("utf-8", errors="replace").rstrip("\n")
        log.write(line + "\n")
        log.flush()
        if echo is not None:
            echo(line)


@dataclass(kw_only=True, eq=False)
class LambdaRunner:
    """Invoke functions in subprocesses with the local endpoints wired in.

    Args:
        work_dir: where per-invocation files (event, result, logs, ``/tmp``) go.
        region: ``AWS_REGION``/``AWS_DEFAULT_REGION`` of the function.
        account_id: used for the function ARN and log group names.
        s3_endpoint: becomes ``AWS_ENDPOINT_URL_S3``.
        codeartifact_endpoint: becomes ``AWS_ENDPOINT_URL_CODEARTIFACT``.
        cloudformation_endpoint: becomes ``AWS_ENDPOINT_URL_CLOUDFORMATION`` (the local
            CloudFormation API that answers ``DescribeStacks``).
        events_endpoint: becomes ``AWS_ENDPOINT_URL_EVENTBRIDGE`` (botocore's variable for the
            ``events`` client, whose service id is ``eventbridge``).
        lambda_endpoint: becomes ``AWS_ENDPOINT_URL_LAMBDA``.
        ca_files: PEM files to trust (the response server's CA, a TLS CodeArtifact
            endpoint's CA); combined into one bundle for ``SSL_CERT_FILE`` and, when a
            CodeArtifact CA is given, ``AWS_CA_BUNDLE``.
        codeartifact_ca_bundle: the CA of an HTTPS CodeArtifact endpoint, if any.
        echo: called with every output line of the handler (e.g. to print it).
        kill_margin_seconds: how long past its timeout a process may run before it is killed.
        init_timeout_seconds: how long the import of the handler module may take.
        python: the interpreter to run (default: this one).
        extra_env: more variables for every invocation (they do not override reserved ones).
    """

    work_dir: Path
    region: str
    account_id: str
    partition: str = "aws"
    s3_endpoint: str | None = None
    codeartifact_endpoint: str | None = None
    cloudformation_endpoint: str | None = None
    events_endpoint: str | None = None
    lambda_endpoint: str | None = None
    ca_files: tuple[Path, ...] = ()
    codeartifact_ca_bundle: Path | None = None
    echo: Callable[[str], None] | None = None
    kill_margin_seconds: float = 5.0
    init_timeout_seconds: float = 10.0
    python: str = sys.executable
    extra_env: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Own copies of what the caller may change afterwards."""
        self.work_dir = Path(self.work_dir)
        self.ca_files = tuple(self.ca_files)
        self.extra_env = dict(self.extra_env)

    def function_arn(self, function_name: str) -> str:
        """``arn:aws:lambda:REGION:ACCOUNT:function:NAME``."""
        return (
            f"arn:{self.partition}:lambda:{self.region}:{self.account_id}:function:{function_name}"
        )

    def _ca_bundle(self, run_dir: Path) -> Path | None:
        files = [*self.ca_files]
        if self.codeartifact_ca_bundle is not None:
            files.append(self.codeartifact_ca_bundle)
        if not files:
            return None
        bundle = run_dir / "ca-bundle.pem"
        bundle.write_text(
            "".join(Path(f).read_text(encoding="utf-8").rstrip("\n") + "\n" for f in files),
            encoding="utf-8",
        )
        return bundle

    def environment(self, function: LambdaFunction, run_dir: Path) -> dict[str, str]:
        """The subprocess environment for ``function`` (built from scratch)."""
        tmp = run_dir / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        env: dict[str, str] = {
            "PATH": os.environ.get("PATH", os.defpath),
            "LANG": "C.UTF-8",
            "TZ": ":UTC",
            "TMPDIR": str(tmp),
            "HOME": str(tmp),
            "PYTHONDONTWRITEBYTECODE": "1",
            # Services without a local endpoint fail fast (connection refused) instead of
            # trying the real AWS with dummy credentials; extra_env or the function may override.
            "AWS_ENDPOINT_URL": UNREACHABLE_ENDPOINT,
        }
        env.update(self.extra_env)
        env.update({k: str(v) for k, v in function.environment.items() if k not in _RESERVED})
        runtime = function.runtime or "python3.12"
        env.update(
            {
                "_HANDLER": function.handler,
                "LAMBDA_TASK_ROOT": str(function.code_dir),
                "PYTHONPATH": str(function.code_dir),
                "AWS_REGION": self.region,
                "AWS_DEFAULT_REGION": self.region,
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{runtime}",
                "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.function_name}",
                "AWS_LAMBDA_LOG_STREAM_NAME": f"local/{run_dir.name}",
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_SESSION_TOKEN": "testing",
                # Never read the developer's ~/.aws files or the instance metadata service.
                "AWS_CONFIG_FILE": str(tmp / "aws-config-absent"),
                "AWS_SHARED_CREDENTIALS_FILE": str(tmp / "aws-credentials-absent"),
                "AWS_EC2_METADATA_DISABLED": "true",
            }
        )
        _drop_missing_ca_bundle(env)
        if function.layers:
            self._add_layers(env, function, run_dir)
        if self.s3_endpoint:
            env["AWS_ENDPOINT_URL_S3"] = self.s3_endpoint
        if self.codeartifact_endpoint:
            env["AWS_ENDPOINT_URL_CODEARTIFACT"] = self.codeartifact_endpoint
        if self.cloudformation_endpoint:
            env["AWS_ENDPOINT_URL_CLOUDFORMATION"] = self.cloudformation_endpoint
        if self.events_endpoint:
            env["AWS_ENDPOINT_URL_EVENTBRIDGE"] = self.events_endpoint
        if self.lambda_endpoint:
            env["AWS_ENDPOINT_URL_LAMBDA"] = self.lambda_endpoint
        bundle = self._ca_bundle(run_dir)
        if bundle is not None:
            env["SSL_CERT_FILE"] = str(bundle)
            if self.codeartifact_ca_bundle is not None:
                env["AWS_CA_BUNDLE"] = str(bundle)
        return env

    def _add_layers(self, env: dict[str, str], function: LambdaFunction, run_dir: Path) -> None:
        """What Lambda does with ``/opt``, with the layers' directory instead."""
        opt = function.layers[0] if len(function.layers) == 1 else _merge(function.layers, run_dir)
        version = function.runtime.removeprefix("python") or "3"
        env["PYTHONPATH"] = os.pathsep.join(
            [
                str(function.code_dir),
                str(opt / "python"),
                str(opt / "python" / "lib" / f"python{version}" / "site-packages"),
                str(self._shim_dir()),
            ]
        )
        env["PATH"] = f"{opt / 'bin'}{os.pathsep}{env['PATH']}"
        env[OPT_VARIABLE] = str(opt)

    def _shim_dir(self) -> Path:
        shim = self.work_dir / "opt-shim"
        source = shim / "sitecustomize.py"
        if not source.exists() or source.read_text(encoding="utf-8") != _OPT_SHIM:
            shim.mkdir(parents=True, exist_ok=True)
            partial = shim / f".sitecustomize-{uuid.uuid4().hex}"
            partial.write_text(_OPT_SHIM, encoding="utf-8")
            partial.replace(source)  # atomic: parallel invocations never read half a file
        return shim

    def invoke(
        self,
        function: LambdaFunction,
        event: Mapping[str, Any],
        *,
        request_id: str | None = None,
        log_path: Path | None = None,
        done: Callable[[], bool] | None = None,
        grace_seconds: float = 2.0,
    ) -> Invocation:
        """Run the handler once with ``event`` and wait for it (bounded).

        Args:
            function: the function to run.
            event: the event, JSON-serializable.
            request_id: ``context.aws_request_id`` (a new UUID by default).
            log_path: where to write the output (default: in the run directory).
            done: polled while the process runs; once true, the process gets
                ``grace_seconds`` to exit and is then killed (``stopped``).
            grace_seconds: see ``done``.
        """
        if not function.runtime.startswith("python"):
            raise ValueError(
                f"runtime {function.runtime!r} of {function.function_name} cannot run locally "
                "(only Python runtimes are supported)"
            )
        request_id = request_id or str(uuid.uuid4())
        self.work_dir.mkdir(parents=True, exist_ok=True)
        run_dir = Path(
            tempfile.mkdtemp(prefix=f"{function.function_name[:40]}-", dir=self.work_dir)
        )
        log_path = log_path or run_dir / "output.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        invocation_file = run_dir / "invocation.json"
        result_file = run_dir / "result.json"
        started_file = run_dir / "started"
        invocation_file.write_text(
            json.dumps(
                {
                    "event": event,
                    "function_name": function.function_name,
                    "invoked_function_arn": function.arn
                    or self.function_arn(function.function_name),
                    "memory_limit_in_mb": function.memory_mb,
                    "aws_request_id": request_id,
                    "log_group_name": f"/aws/lambda/{function.function_name}",
                    "log_stream_name": f"local/{run_dir.name}",
                    "timeout_seconds": function.timeout_seconds,
                }
            ),
            encoding="utf-8",
        )
        command = [
            self.python,
            "-c",
            _BOOTSTRAP_SOURCE,
            str(invocation_file),
            str(result_file),
            str(started_file),
        ]
        began = time.monotonic()
        timed_out = stopped = False
        with log_path.open("a", encoding="utf-8") as log:
            process = subprocess.Popen(
                command,
                cwd=function.code_dir,
                env=self.environment(function, run_dir),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            assert process.stdout is not None
            reader = threading.Thread(
                target=_stream, args=(process.stdout, log, self.echo), daemon=True
            )
            reader.start()
            init_deadline = began + self.init_timeout_seconds + function.timeout_seconds
            stop_at: float | None = None
            while process.poll() is None:
                now = time.monotonic()
                deadline = init_deadline
                if started_file.exists():
                    deadline = began + _elapsed_until_start(started_file, began)
                    deadline += function.timeout_seconds
                if now > deadline + self.kill_margin_seconds:
                    timed_out = True
                    _kill(process)
                    break
                if stop_at is None and done is not None and done():
                    stop_at = now + grace_seconds
                if stop_at is not None and now > stop_at:
                    stopped = True
                    _kill(process)
                    break
                time.sleep(0.02)
            process.wait()
            reader.join(timeout=5)
            process.stdout.close()
        duration = time.monotonic() - began
        outcome: dict[str, Any] = {}
        if result_file.exists():
            try:
                outcome = json.loads(result_file.read_text(encoding="utf-8"))
            except ValueError:
                outcome = {}
        return Invocation(
            request_id=request_id,
            exit_code=process.returncode,
            duration_seconds=duration,
            log_path=log_path,
            timed_out=timed_out,
            stopped=stopped,
            error_type=outcome.get("errorType"),
            error_message=outcome.get("errorMessage"),
            result=outcome.get("result"),
        )


def _drop_missing_ca_bundle(env: dict[str, str]) -> None:
    """Drop an ``AWS_CA_BUNDLE`` of the Lambda image that does not exist here.

    ``BucketDeployment`` sets ``/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem``, the
    Amazon Linux bundle; elsewhere botocore would refuse every HTTPS call with it.
    """
    bundle = env.get("AWS_CA_BUNDLE")
    if bundle and not Path(bundle).exists():
        del env["AWS_CA_BUNDLE"]


def _merge(layers: tuple[Path, ...], run_dir: Path) -> Path:
    """One ``/opt`` for several layers: symbolic links to their files, later layers winning."""
    opt = run_dir / "opt"
    for layer in layers:
        for path in sorted(layer.rglob("*")):
            if path.is_dir() and not path.is_symlink():
                continue
            link = opt / path.relative_to(layer)
            link.parent.mkdir(parents=True, exist_ok=True)
            link.unlink(missing_ok=True)
            link.symlink_to(path)
    return opt


def _elapsed_until_start(started_file: Path, began_monotonic: float) -> float:
    """Seconds from process launch to the handler call, from the bootstrap's marker file."""
    try:
        started_wall = float(started_file.read_text(encoding="utf-8") or "nan")
    except (OSError, ValueError):
        return 0.0
    launched_wall = time.time() - (time.monotonic() - began_monotonic)
    return max(0.0, started_wall - launched_wall)


def _kill(process: subprocess.Popen[bytes]) -> None:
    """Kill the process and its process group (it was started in a new session)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()
