"""Servers that stop talking, for interrupt and timeout tests, on 127.0.0.1.

- :class:`SilentServer` accepts connections and never says a word (not even a greeting).
- :class:`StallingProxy` sits in front of a real server and passes bytes both ways until the client sends
  ``trigger``; then it passes the command on or not (``forward``), lets ``reply_bytes`` of the answer through,
  and goes silent with both connections kept open.
"""

from __future__ import annotations

import socket
import threading
from types import TracebackType

__all__ = ["SilentServer", "StallingProxy"]


class _Listener:
    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.accepted = threading.Event()
        self._sockets: list[socket.socket] = []
        self._closed = False
        self._thread = threading.Thread(target=self._accept_loop, daemon=True, name=f"stall:{self.port}")

    def start(self) -> _Listener:
        self._thread.start()
        return self

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self._sockets.append(client)
            self.accepted.set()
            self.serve(client)

    def serve(self, client: socket.socket) -> None:
        """Silent: keep the socket, say nothing."""

    def stop(self) -> None:
        self._closed = True
        for sock in [self._listener, *self._sockets]:
            try:
                sock.close()
            except OSError:
                pass

    def __enter__(self) -> _Listener:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


class SilentServer(_Listener):
    """Accepts and stays silent."""


class StallingProxy(_Listener):
    """Passes traffic to ``127.0.0.1:target_port`` until ``trigger`` appears in what the client sends."""

    def __init__(self, target_port: int, trigger: bytes, *, forward: bool = True, reply_bytes: int = 0) -> None:
        super().__init__()
        self.target_port = target_port
        self.trigger = trigger
        self.forward = forward
        self.reply_bytes = reply_bytes
        self.stalled = threading.Event()

    def serve(self, client: socket.socket) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.target_port))
        self._sockets.append(upstream)
        allowance = [-1]  # bytes of server reply still passed on after the trigger; -1: no limit yet

        def client_to_server() -> None:
            while True:
                try:
                    data = client.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                if self.trigger in data and not self.stalled.is_set():
                    allowance[0] = self.reply_bytes
                    if self.forward:
                        upstream.sendall(data)
                    self.stalled.set()
                    return  # nothing more goes to the server
                upstream.sendall(data)

        def server_to_client() -> None:
            while True:
                try:
                    data = upstream.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                if allowance[0] >= 0:
                    data, allowance[0] = data[: allowance[0]], max(0, allowance[0] - len(data))
                if data:
                    client.sendall(data)

        for pump in (client_to_server, server_to_client):
            threading.Thread(target=pump, daemon=True).start()
