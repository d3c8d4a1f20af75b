"""The Lambda runtime stand-in that runs inside the handler subprocess.

:mod:`.lambda_runner` passes this file's *source* to ``python -c`` with the function's code
directory as working directory and ``PYTHONPATH``, so nothing of this package is importable
by accident. Arguments: the invocation JSON (event, context fields, timeout) and the path of
the result JSON to write. Like the Lambda Python runtime it installs a root log handler,
imports ``module.function`` from ``_HANDLER``, builds a context whose
``get_remaining_time_in_millis()`` counts down from the function's timeout, prints
``START``/``END``/``REPORT`` lines, and ends the process as soon as the handler returns (a
Lambda sandbox freezes; leftover threads do not keep it alive).

Only the standard library may be imported here.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any, NoReturn


class LambdaContext:
    """The ``context`` argument: the attributes the Lambda Python runtime provides."""

    def __init__(self, spec: dict[str, Any], deadline_ms: float) -> None:
        self.function_name: str = spec["function_name"]
        self.function_version: str = "$LATEST"
        self.invoked_function_arn: str = spec["invoked_function_arn"]
        # The real runtime reads AWS_LAMBDA_FUNCTION_MEMORY_SIZE: a string.
        self.memory_limit_in_mb: str = str(spec["memory_limit_in_mb"])
        self.aws_request_id: str = spec["aws_request_id"]
        self.log_group_name: str = spec["log_group_name"]
        self.log_stream_name: str = spec["log_stream_name"]
        self.identity: Any = None
        self.client_context: Any = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function's timeout."""
        return max(0, int(self._deadline_ms - time.time() * 1000))


class _RequestIdFilter(logging.Filter):
    def __init__(self, request_id: str) -> None:
        super().__init__()
        self.request_id = request_id

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = self.request_id
        return True


def _write(path: str, payload: dict[str, Any]) -> None:
    Path(path).write_text(json.dumps(payload, default=str), encoding="utf-8")


def _finish(code: int) -> NoReturn:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _error(result_path: str, error_type: str, message: str, trace: list[str]) -> None:
    print(f"[ERROR] {error_type}: {message}", file=sys.stderr)
    if trace:
        print("".join(trace), file=sys.stderr, end="")
    _write(
        result_path,
        {"ok": False, "errorType": error_type, "errorMessage": message, "stackTrace": trace},
    )


def main() -> None:
    """Invoke the handler once with the event in ``sys.argv[1]``."""
    invocation_path, result_path, started_path = sys.argv[1], sys.argv[2], sys.argv[3]
    spec = json.loads(Path(invocation_path).read_text(encoding="utf-8"))
    request_id = spec["aws_request_id"]

    log_handler = logging.StreamHandler(sys.stderr)
    log_handler.setFormatter(
        logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
            "%Y-%m-%dT%H:%M:%S",
        )
    )
    log_handler.formatter.converter = time.gmtime  # type: ignore[union-attr]
    log_handler.addFilter(_RequestIdFilter(request_id))
    logging.getLogger().addHandler(log_handler)

    handler_name = os.environ.get("_HANDLER", "")
    module_name, dot, function_name = handler_name.rpartition(".")
    if not dot or not module_name:
        _error(result_path, "Runtime.MalformedHandlerName", f"Bad handler {handler_name!r}", [])
        _finish(1)
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except Exception as exc:
        _error(
            result_path,
            "Runtime.ImportModuleError",
            f"Unable to import module '{module_name}': {exc}",
            traceback.format_exception(exc),
        )
        _finish(1)
    function = getattr(module, function_name, None)
    if not callable(function):
        _error(
            result_path,
            "Runtime.HandlerNotFound",
            f"Handler '{function_name}' missing on module '{module_name}'",
            [],
        )
        _finish(1)

    start = time.time()
    context = LambdaContext(spec, start * 1000 + float(spec["timeout_seconds"]) * 1000)
    Path(started_path).write_text(str(start), encoding="utf-8")
    print(f"START RequestId: {request_id} Version: $LATEST", file=sys.stderr, flush=True)
    code = 0
    try:
        result = function(spec["event"], context)
        _write(result_path, {"ok": True, "result": result})
    except Exception as exc:
        _error(result_path, type(exc).__name__, str(exc), traceback.format_exception(exc))
        code = 1
    duration = (time.time() - start) * 1000
    print(f"END RequestId: {request_id}", file=sys.stderr)
    print(f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms", file=sys.stderr)
    _finish(code)


if __name__ == "__main__":
    main()
