"""The emulator's face: :class:`EmulatorServer` listens on a port and serves each connection in a thread."""

from __future__ import annotations

import threading
from types import TracebackType

from .connection import _TCPServer
from .handler import _Connection
from .state import EmulatorState


class EmulatorServer(EmulatorState):
    """The IMAP emulator. Thread-safe: one lock guards all mailbox state."""

    _tcp: _TCPServer | None = None
    _thread: threading.Thread | None = None

    # lifecycle
    def start(self) -> EmulatorServer:
        if self._tcp is not None:
            return self
        tcp = _TCPServer((self.host, self.port), self, _Connection)
        self._tcp = tcp
        self.port = tcp.server_address[1]
        self._thread = threading.Thread(
            target=tcp.serve_forever, kwargs={"poll_interval": 0.05}, name=f"imap-emulator:{self.port}"
        )
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self) -> None:
        tcp, self._tcp = self._tcp, None
        if tcp is None:
            return
        tcp.shutdown()
        tcp.server_close()
        self._close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
