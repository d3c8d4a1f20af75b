"""Local servers run from background threads: one way to start, stop and ``with`` them."""

from __future__ import annotations

import socketserver
import threading
from types import TracebackType
from typing import Self


class ServerThread:
    """Serves ``server`` (a TCP ``socketserver``) from a daemon thread until :meth:`stop`."""

    def __init__(self, server: socketserver.TCPServer, name: str, poll_interval: float = 0.05):
        """Start serving at once; ``poll_interval`` bounds how long :meth:`stop` waits."""
        self.server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": poll_interval},
            name=name,
            daemon=True,
        )
        self._thread.start()

    @property
    def port(self) -> int:
        """The port the server is bound to."""
        return int(self.server.server_address[1])

    def stop(self) -> None:
        """Stop serving, close the listening socket and wait (briefly) for the thread."""
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)


class Managed:
    """Mixin for things with ``start() -> self`` and ``stop()``: ``with thing:`` runs both."""

    def start(self) -> Self:
        """Start; returns self."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stop (safe to call twice)."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
