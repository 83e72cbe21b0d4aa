"""One client connection: reading commands (literals included), the session's view of its mailbox, dispatch."""

from __future__ import annotations

import socket
import socketserver
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO, ClassVar

from .faults import BYE_TOO_MANY_ERRORS, GREETING, INVALID_STATE_TEXT
from .model import LogEntry, StoredMessage, _Folder, canonical_folder
from .state import EmulatorState
from .wire import _LITERAL_AT_END, Atom, ProtocolError, Token, in_ranges, parse_set, text_of, tokenize

_MAX_LINE = 1 << 20
_MAX_LITERAL = 64 << 20


class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(
        self,
        address: tuple[str, int],
        emulator: EmulatorState,
        handler: type[socketserver.BaseRequestHandler],
    ) -> None:
        self.emulator = emulator
        super().__init__(address, handler)


def _link_wait(seconds: float) -> None:
    if seconds > 0:
        time.sleep(seconds)


class _Closed(Exception):
    """The client went away."""


@dataclass
class _Context:
    tag: str
    command: str
    line: str
    folder: str | None
    uids: tuple[int, ...] = ()
    content: bool = False


Handler = Callable[[Any, _Context, list[Token]], None]
"""A command's method, called as (connection, context, arguments); each lives in a subclass, hence ``Any``."""


class _ConnectionBase(socketserver.BaseRequestHandler):
    """The main loop, I/O and the mailbox view; the commands are in subclasses, named in :attr:`HANDLERS`."""

    server: _TCPServer
    request: socket.socket
    HANDLERS: ClassVar[dict[str, tuple[Handler, str]]] = {}

    def setup(self) -> None:
        self.emu = self.server.emulator
        self.number = self.emu._register(self.request)
        self.rfile: BinaryIO = self.request.makefile("rb")
        self.out: list[bytes] = []
        self.authenticated = False
        self.selected: str | None = None
        self.readonly = False
        self.view: list[int] = []
        self.errors = 0
        self.closing = False
        self.may_sync = False
        self.upgrade = False  # STARTTLS answered: the TLS handshake comes next

    def finish(self) -> None:
        self.emu._unregister(self.number)
        try:
            self.rfile.close()
        except OSError:
            pass

    # I/O
    def send(self, line: str | bytes) -> None:
        data = line.encode("utf-8", errors="surrogateescape") if isinstance(line, str) else line
        self.out.append(data + b"\r\n")

    def flush(self) -> None:
        if not self.out:
            return
        data = b"".join(self.out)
        self.out = []
        self.request.sendall(data)

    def read_line(self) -> bytes:
        line = self.rfile.readline(_MAX_LINE)
        if not line:
            raise _Closed()
        return line

    def read_command(self) -> tuple[bytes, str]:
        """One complete command (literals included) and its text without literal payloads."""
        parts: list[bytes] = []
        text: list[bytes] = []
        line = self.read_line()
        while True:
            parts.append(line)
            text.append(line.rstrip(b"\r\n"))
            match = _LITERAL_AT_END.search(line)
            if not match or not line.endswith(b"\r\n"):
                break
            size = int(match.group(1))
            if size > _MAX_LITERAL:
                raise ProtocolError("literal too large")
            if not match.group(2):
                self.send("+ Ready for additional command text.")
                self.flush()
            payload = self.rfile.read(size)
            if len(payload) < size:
                raise _Closed()
            parts.append(payload)
            line = self.read_line()
        return b"".join(parts), b"".join(text).decode("utf-8", errors="replace")

    def close_connection(self) -> None:
        self.closing = True

    # main loop
    def start_tls(self) -> bool:
        """Wrap the connection in TLS (server side); False when the client's handshake fails."""
        self.upgrade = False
        context = self.emu.tls
        assert context is not None
        try:
            wrapped = context.wrap_socket(self.request, server_side=True)
        except (ssl.SSLError, OSError):
            return False
        self.request = wrapped
        self.emu._replace_socket(self.number, wrapped)
        self.rfile = wrapped.makefile("rb")
        return True

    def handle(self) -> None:
        try:
            _link_wait(self.emu.connect_delay)
            if self.emu.tls is not None and not self.emu.starttls and not self.start_tls():
                return
            self.send(GREETING)
            self.flush()
            while not self.closing:
                if self.upgrade and not self.start_tls():
                    return
                try:
                    data, text = self.read_command()
                except ProtocolError as exc:
                    self.send(f"* BAD {exc}")
                    self.flush()
                    continue
                self.run_command(data, text)
                _link_wait(self.emu.round_trip_delay)
                self.flush()
        except (_Closed, ConnectionError, TimeoutError):
            pass
        except OSError:
            pass
        finally:
            try:
                self.flush()
            except OSError:
                pass
            try:
                self.request.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def run_command(self, data: bytes, text: str) -> None:
        try:
            tokens = tokenize(data)
        except ProtocolError as exc:
            tag = text.split(" ", 1)[0] if text.strip() else "*"
            self.tagged(tag, "BAD", f"Command Argument Error. {exc}")
            return
        if not tokens:
            return
        tag_token = tokens[0]
        if not isinstance(tag_token, Atom) or tag_token in ("*", "+"):
            self.send("* BAD Command Error. 10")
            return
        tag = str(tag_token)
        if len(tokens) < 2 or not isinstance(tokens[1], Atom):
            self.tagged(tag, "BAD", "Command Error. 12")
            return
        name = tokens[1].upper()
        args = tokens[2:]
        if name == "UID":
            if not args or not isinstance(args[0], Atom):
                self.tagged(tag, "BAD", "Command Error. 12")
                return
            name = "UID " + args[0].upper()
            args = args[1:]
        ctx = _Context(tag=tag, command=name, line=text, folder=self.selected)
        handler = self.HANDLERS.get(name)
        try:
            if handler is None or (name == "UID EXPUNGE" and not self.emu.uidplus):
                self.tagged(tag, "BAD", "Command Error. 12")
                return
            method, state = handler
            needs_login = state in ("auth", "selected") and not self.authenticated
            if needs_login or (state == "selected" and self.selected is None):
                self.tagged(tag, "BAD", INVALID_STATE_TEXT)
                return
            if name in ("IDLE", "AUTHENTICATE"):
                method(self, ctx, args)
                return
            # RFC 3501 7.4.1: no EXPUNGE while a sequence-number FETCH/STORE/SEARCH is in progress.
            self.may_sync = name not in ("FETCH", "STORE", "SEARCH", "LOGOUT")
            with self.emu.lock:
                method(self, ctx, args)
        except ProtocolError as exc:
            self.out = [o for o in self.out if o.startswith(b"* BYE")]  # drop partial answers
            self.tagged(tag, "BAD", f"Command Argument Error. {exc}")
        except _Closed:
            raise
        except (ConnectionError, TimeoutError):
            raise
        except Exception as exc:
            with self.emu.lock:
                self.emu.errors.append(exc)
            self.out = []
            self.tagged(tag, "BAD", f"Internal emulator error: {type(exc).__name__}")
        finally:
            with self.emu.lock:
                self.emu.log.append(
                    LogEntry(
                        connection=self.number,
                        tag=ctx.tag,
                        command=ctx.command,
                        line=ctx.line,
                        folder=ctx.folder,
                        uids=ctx.uids,
                        content=ctx.content,
                    )
                )

    def tagged(self, tag: str, status: str, text: str) -> None:
        """Send the tagged reply, preceded by pending EXPUNGE/EXISTS news when the command allows."""
        if self.may_sync and self.selected is not None and not self.closing:
            self.sync_view()
        self.send(f"{tag} {status} {text}")
        if status in ("NO", "BAD"):
            self.errors += 1
            limit = self.emu.max_errors_per_connection
            if limit is not None and limit > 0 and self.errors >= limit:
                self.send(BYE_TOO_MANY_ERRORS)
                self.close_connection()

    # mailbox view of this session
    def box(self) -> _Folder:
        assert self.selected is not None
        folder = self.emu._folders.get(self.selected)
        if folder is None:
            raise ProtocolError("selected mailbox no longer exists")
        return folder

    def sync_view(self) -> None:
        folder = self.emu._folders.get(self.selected or "")
        current = [m.uid for m in folder.messages] if folder is not None else []
        present = set(current)
        index = 0
        while index < len(self.view):
            if self.view[index] not in present:
                self.send(f"* {index + 1} EXPUNGE")
                del self.view[index]
            else:
                index += 1
        known = set(self.view)
        new = [uid for uid in current if uid not in known]
        if new:
            self.view.extend(new)
            self.send(f"* {len(self.view)} EXISTS")

    def targets(self, set_text: str, uid_mode: bool) -> list[tuple[int, StoredMessage]]:
        box = self.box()
        by_uid = {m.uid: m for m in box.messages}
        if uid_mode:
            ranges = parse_set(set_text, max(by_uid) if by_uid else 0)
            found = []
            for index, uid in enumerate(self.view):
                msg = by_uid.get(uid)
                if msg is not None and in_ranges(uid, ranges):
                    found.append((index + 1, msg))
            return found
        if not self.view and "*" in set_text:
            return []
        ranges = parse_set(set_text, len(self.view))
        for low, high in ranges:
            if low < 1 or high > len(self.view):
                raise ProtocolError("Invalid message sequence number")
        out = []
        for index, uid in enumerate(self.view):
            msg = by_uid.get(uid)
            if msg is not None and in_ranges(index + 1, ranges):
                out.append((index + 1, msg))
        return out

    def resolve_mailbox(self, token: Token) -> str:
        return canonical_folder(text_of(token))
