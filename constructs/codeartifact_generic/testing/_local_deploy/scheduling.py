"""Run resource operations the way CloudFormation schedules them: in parallel, in order.

CloudFormation starts every resource whose dependencies (``Ref``, ``Fn::GetAtt``,
``DependsOn``) are complete, all at once ("Resources that don't depend on each other are
created in parallel", CloudFormation user guide, "DependsOn attribute"). Here a bounded
number run at a time, each in its own thread.

On the first failure nothing new starts. Operations already running are waited for, except
those the caller marks *cancellable* (a custom resource's Create): CloudFormation stops
waiting for them, reports them ``CREATE_FAILED`` "Resource creation cancelled" and goes on
with the rollback while their Lambda keeps running (cloudformation-coverage-roadmap#1814).
Their threads run on; :meth:`Scheduler.abandoned` lists them so that callers can wait for
the late work to end (the Lambda would finish in AWS too).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Mapping
from typing import Final

#: Operations at once by default: CloudFormation documents no number; this keeps the local
#: handler subprocesses within a small machine.
DEFAULT_MAX_PARALLEL: Final = 8


class Scheduler:
    """Runs ``work(item)`` for every item once its dependencies succeeded.

    ``work`` raises to fail its item; the first exception is re-raised by :meth:`run` once
    every non-cancellable running item has ended. ``on_cancel(item)`` is called (under no
    lock) for each cancellable item still running at that moment.
    """

    def __init__(self, max_parallel: int = DEFAULT_MAX_PARALLEL) -> None:
        if max_parallel < 1:
            raise ValueError(f"max_parallel must be at least 1, got {max_parallel}")
        self.max_parallel = max_parallel
        self._abandoned: list[threading.Thread] = []

    def run(
        self,
        items: Collection[str],
        dependencies: Mapping[str, Collection[str]],
        work: Callable[[str], None],
        *,
        cancellable: Callable[[str], bool] = lambda _item: False,
        on_cancel: Callable[[str], None] = lambda _item: None,
    ) -> None:
        """Run every item (dependencies outside ``items`` count as done); see the class."""
        order = list(items)  # ready items start in this order (a topological order)
        members = set(order)
        pending = set(order)
        done: set[str] = set()
        running: dict[str, threading.Thread] = {}
        failure: list[BaseException] = []
        changed = threading.Condition()

        def body(item: str) -> None:
            try:
                work(item)
            except BaseException as error:
                with changed:
                    failure.append(error)
            else:
                with changed:
                    done.add(item)
            finally:
                with changed:
                    running.pop(item, None)
                    changed.notify_all()

        with changed:
            while True:
                if failure:
                    break
                ready = [
                    item
                    for item in order
                    if item in pending
                    and all(d in done for d in dependencies.get(item, ()) if d in members)
                ]
                for item in ready[: max(0, self.max_parallel - len(running))]:
                    pending.discard(item)
                    thread = threading.Thread(target=body, args=(item,), daemon=True)
                    running[item] = thread
                    thread.start()
                if not running and not pending:
                    return
                if not running:
                    raise RuntimeError(f"dependency cycle among {sorted(pending)}")
                changed.wait()
            # A failure: wait for what cannot be cancelled, abandon the rest.
            to_cancel = [item for item in running if cancellable(item)]
            for item in to_cancel:
                self._abandoned.append(running.pop(item))
        for item in to_cancel:
            on_cancel(item)
        with changed:
            while running:
                changed.wait()
        raise failure[0]

    def abandoned(self) -> list[threading.Thread]:
        """Threads of cancelled operations (alive while their late work goes on)."""
        return [thread for thread in self._abandoned if thread.is_alive()]

    def wait_for_abandoned(self, timeout: float | None = None) -> bool:
        """Wait until the cancelled operations ended; False if some still run at ``timeout``."""
        for thread in self._abandoned:
            thread.join(timeout)
        return not self.abandoned()
