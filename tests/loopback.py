"""What the fake servers share: an HTTP server on 127.0.0.1 in a daemon thread."""

from __future__ import annotations

import socket
import threading
from http.server import ThreadingHTTPServer
from types import TracebackType
from typing import Self

__all__ = ["LoopbackServer", "free_port"]


def free_port() -> int:
    """A port on 127.0.0.1 nothing listens on now (for a process that binds it itself)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LoopbackServer:
    """Base of the fakes: call `_serve(server)` in `__init__`, then use as a context
    manager (or `start()`/`stop()`)."""

    _server: ThreadingHTTPServer
    _thread: threading.Thread

    def _serve(self, server: ThreadingHTTPServer) -> None:
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
