"""A small threaded IMAP4rev1 server that behaves like Microsoft Exchange towards "phantom" messages.

It keeps mailboxes in memory, speaks enough IMAP4rev1 (+ UIDPLUS, IDLE, NAMESPACE, ID, LITERAL+) for the real
offlineimap to sync from it and to it, and can be told per message to misbehave the way real servers do when
they list a message and then refuse to deliver it (see :class:`Fault`).

Typical use::

    with EmulatorServer() as server:
        uid = server.append("INBOX", make_message(1), fault=Fault.EMPTY)
        ...  # point a client at server.host / server.port (user "user", password "secret")
        assert server.content_fetches("INBOX", uid) == 1

Every command is logged (:attr:`EmulatorServer.log`); exceptions raised inside a connection handler are
emulator bugs and are collected in :attr:`EmulatorServer.errors` (a client's mistakes only earn a BAD).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import itertools
import re
import socket
import socketserver
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from types import TracebackType
from typing import BinaryIO

from ..mime import MimePart, parse_mime, to_crlf
from .faults import (
    BYE_DROPPED,
    BYE_LOGOUT,
    BYE_TOO_MANY_ERRORS,
    EXPUNGEISSUED_TEXT,
    GREETING,
    INVALID_STATE_TEXT,
    PLACEHOLDER_FAULTS,
    REFUSED_BAD_TEXT,
    REFUSED_NO_TEXT,
    Fault,
)
from .model import LogEntry, StoredMessage, _Folder, build_substitute, canonical_folder, internaldate_of
from .search import _SearchParser
from .structure import FetchItem, bodystructure, envelope, parse_fetch_items, section_data
from .wire import (
    _LITERAL_AT_END,
    SYSTEM_FLAGS,
    Atom,
    ProtocolError,
    String,
    Token,
    format_flags,
    format_internaldate,
    in_ranges,
    literal,
    normalise_flag,
    parse_internaldate,
    parse_set,
    quote,
    text_of,
    tokenize,
)

__all__ = [
    "BYE_DROPPED",
    "BYE_TOO_MANY_ERRORS",
    "EXPUNGEISSUED_TEXT",
    "GREETING",
    "REFUSED_BAD_TEXT",
    "REFUSED_NO_TEXT",
    "EmulatorServer",
    "Fault",
    "LogEntry",
    "StoredMessage",
]

_SELECT_FLAGS = ("\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft", "$MDNSent")
_MAX_LINE = 1 << 20
_MAX_LITERAL = 64 << 20


# --- the server -------------------------------------------------------------------------------------------


class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], emulator: EmulatorServer) -> None:
        self.emulator = emulator
        super().__init__(address, _Connection)


class EmulatorServer:
    """The IMAP emulator. Thread-safe: one lock guards all mailbox state."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        user: str = "user",
        password: str = "secret",
        uidplus: bool = True,
        max_errors_per_connection: int | None = 10,
        tls: ssl.SSLContext | None = None,
        starttls: bool = False,
    ) -> None:
        """``tls``: a server context; TLS from the first byte (an ``imaps`` port), or with ``starttls`` only
        after the STARTTLS command (which is then advertised)."""
        if starttls and tls is None:
            raise ValueError("starttls needs a tls context")
        self.tls = tls
        self.starttls = starttls
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.uidplus = uidplus
        self.max_errors_per_connection = max_errors_per_connection
        self._initial_settings = (uidplus, max_errors_per_connection)
        self.logins_refused_after_drop = 0  # after a Fault.DROPPED drop, refuse this many LOGINs (NO)
        self._logins_to_refuse = 0
        # An emulated slow link (seconds): added before each command's response and before each greeting.
        self.round_trip_delay = 0.0
        self.connect_delay = 0.0
        self.lock = threading.RLock()
        self.log: list[LogEntry] = []
        self.errors: list[BaseException] = []
        self._folders: dict[str, _Folder] = {}
        self._tcp: _TCPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: dict[int, socket.socket] = {}
        self._connection_ids = itertools.count(1)
        self.reset()

    # lifecycle
    def start(self) -> EmulatorServer:
        if self._tcp is not None:
            return self
        tcp = _TCPServer((self.host, self.port), self)
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

    @property
    def capabilities(self) -> list[str]:
        caps = ["IMAP4", "IMAP4rev1", "AUTH=PLAIN", "IDLE", "NAMESPACE", "ID", "LITERAL+", "CHILDREN"]
        if self.uidplus:
            caps.insert(3, "UIDPLUS")
        if self.starttls:
            caps.append("STARTTLS")
        return caps

    def _close_connections(self) -> None:
        with self.lock:
            sockets = list(self._connections.values())
            self._connections.clear()
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                sock.close()
            except OSError:
                pass

    def reset(self) -> None:
        """Drop all folders (recreate an empty INBOX), faults, log and errors; keep listening.

        Open connections are closed, since their selected mailbox no longer exists.
        """
        self._close_connections()
        with self.lock:
            self.uidplus, self.max_errors_per_connection = self._initial_settings
            self.logins_refused_after_drop = self._logins_to_refuse = 0
            self._folders = {"INBOX": _Folder("INBOX", uidvalidity=1)}
            self.log = []
            self.errors = []

    # mailbox administration
    def _folder(self, name: str) -> _Folder:
        folder = self._folders.get(canonical_folder(name))
        if folder is None:
            raise KeyError(f"no such folder: {name!r}")
        return folder

    def add_folder(self, name: str, *, uidvalidity: int = 1) -> None:
        with self.lock:
            key = canonical_folder(name)
            if key in self._folders:
                self._folders[key].uidvalidity = uidvalidity
            else:
                self._folders[key] = _Folder(key, uidvalidity=uidvalidity)

    def folders(self) -> list[str]:
        with self.lock:
            return list(self._folders)

    def append(
        self,
        folder: str,
        raw: bytes,
        *,
        flags: Iterable[str] = (),
        internaldate: datetime | None = None,
        fault: Fault | None = None,
    ) -> int:
        """Store ``raw`` (line endings normalised to CRLF) and return its UID."""
        data = to_crlf(raw)
        with self.lock:
            box = self._folder(folder)
            msg = self._store(box, data, {normalise_flag(f) for f in flags}, internaldate)
            self._apply_fault(msg, fault)
            return msg.uid

    def _store(
        self, box: _Folder, raw: bytes, flags: set[str], internaldate: datetime | None
    ) -> StoredMessage:
        uid = box.next_uid
        if box.get(uid) is not None:
            raise ValueError(f"UID {uid} already exists in {box.name!r}")
        when = internaldate if internaldate is not None else internaldate_of(raw)
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        msg = StoredMessage(uid=uid, flags=set(flags), raw=raw, internaldate=when)
        box.messages.append(msg)
        box.next_uid = uid + 1
        return msg

    @staticmethod
    def _apply_fault(msg: StoredMessage, fault: Fault | None) -> None:
        msg.fault = Fault(fault) if fault is not None else None
        if msg.fault in PLACEHOLDER_FAULTS and msg.substitute is None:
            msg.substitute = build_substitute(msg)

    def set_fault(self, folder: str, uid: int, fault: Fault | None) -> None:
        with self.lock:
            msg = self._folder(folder).get(uid)
            if msg is None:
                raise KeyError(f"no UID {uid} in {folder!r}")
            self._apply_fault(msg, fault)

    def set_substitute(self, folder: str, uid: int, substitute: bytes) -> None:
        """Serve ``substitute`` (e.g. a custom :func:`exchange_substitute`) for a placeholder fault."""
        with self.lock:
            msg = self._folder(folder).get(uid)
            if msg is None:
                raise KeyError(f"no UID {uid} in {folder!r}")
            msg.substitute = to_crlf(substitute)

    def set_uidvalidity(self, folder: str, value: int) -> None:
        with self.lock:
            self._folder(folder).uidvalidity = value

    def set_next_uid(self, folder: str, uid: int) -> None:
        with self.lock:
            self._folder(folder).next_uid = uid

    def expunge_uid(self, folder: str, uid: int) -> None:
        with self.lock:
            box = self._folder(folder)
            msg = box.get(uid)
            if msg is None:
                raise KeyError(f"no UID {uid} in {folder!r}")
            box.messages.remove(msg)

    def set_flags(self, folder: str, uid: int, flags: Iterable[str]) -> None:
        with self.lock:
            msg = self._folder(folder).get(uid)
            if msg is None:
                raise KeyError(f"no UID {uid} in {folder!r}")
            msg.flags = {normalise_flag(f) for f in flags}

    def messages(self, folder: str) -> list[StoredMessage]:
        """Copies of the stored messages, in sequence-number order."""
        with self.lock:
            return [dataclasses.replace(m, flags=set(m.flags)) for m in self._folder(folder).messages]

    def uidvalidity(self, folder: str) -> int:
        with self.lock:
            return self._folder(folder).uidvalidity

    # inspection
    def commands(self, name: str | None = None) -> list[LogEntry]:
        with self.lock:
            if name is None:
                return list(self.log)
            wanted = name.upper()
            return [entry for entry in self.log if entry.command == wanted]

    def content_fetches(self, folder: str, uid: int) -> int:
        key = canonical_folder(folder)
        with self.lock:
            return sum(
                1
                for e in self.log
                if e.command in ("FETCH", "UID FETCH") and e.content and e.folder == key and uid in e.uids
            )

    def raise_errors(self) -> None:
        """Re-raise the first exception a connection handler hit (an emulator bug), if any."""
        with self.lock:
            errors = list(self.errors)
        if errors:
            raise errors[0]

    # connection bookkeeping (used by the handler)
    def _register(self, sock: socket.socket) -> int:
        with self.lock:
            number = next(self._connection_ids)
            self._connections[number] = sock
            return number

    def _replace_socket(self, number: int, sock: socket.socket) -> None:
        with self.lock:
            if number in self._connections:
                self._connections[number] = sock

    def _unregister(self, number: int) -> None:
        with self.lock:
            self._connections.pop(number, None)


# --- one connection ---------------------------------------------------------------------------------------


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


class _Connection(socketserver.BaseRequestHandler):
    server: _TCPServer
    request: socket.socket

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

    # --- commands: any state
    def cmd_capability(self, ctx: _Context, args: list[Token]) -> None:
        self.send("* CAPABILITY " + " ".join(self.emu.capabilities))
        self.tagged(ctx.tag, "OK", "CAPABILITY completed.")

    def cmd_noop(self, ctx: _Context, args: list[Token]) -> None:
        self.tagged(ctx.tag, "OK", "NOOP completed.")

    def cmd_check(self, ctx: _Context, args: list[Token]) -> None:
        self.tagged(ctx.tag, "OK", "CHECK completed.")

    def cmd_logout(self, ctx: _Context, args: list[Token]) -> None:
        self.send(BYE_LOGOUT)
        self.tagged(ctx.tag, "OK", "LOGOUT completed.")
        self.close_connection()

    def cmd_id(self, ctx: _Context, args: list[Token]) -> None:
        self.send('* ID ("name" "offlineimap-phantomfix IMAP emulator")')
        self.tagged(ctx.tag, "OK", "ID completed.")

    def cmd_starttls(self, ctx: _Context, args: list[Token]) -> None:
        if not self.emu.starttls or isinstance(self.request, ssl.SSLSocket):
            self.tagged(ctx.tag, "BAD", "Command Error. 12")
            return
        self.tagged(ctx.tag, "OK", "Begin TLS negotiation now.")
        self.upgrade = True

    # --- not authenticated
    def cmd_login(self, ctx: _Context, args: list[Token]) -> None:
        if len(args) != 2:
            raise ProtocolError("LOGIN needs user and password")
        self.login(ctx, text_of(args[0]), text_of(args[1]))

    def login(self, ctx: _Context, user: str, password: str) -> None:
        if self.authenticated:
            self.tagged(ctx.tag, "BAD", INVALID_STATE_TEXT)
        elif self.emu._logins_to_refuse > 0:
            self.emu._logins_to_refuse -= 1
            self.tagged(ctx.tag, "NO", f"{ctx.command} failed: server busy.")
        elif user == self.emu.user and password == self.emu.password:
            self.authenticated = True
            self.tagged(ctx.tag, "OK", f"{ctx.command} completed.")
        else:
            self.tagged(ctx.tag, "NO", f"{ctx.command} failed.")

    def cmd_authenticate(self, ctx: _Context, args: list[Token]) -> None:
        if not args or text_of(args[0]).upper() != "PLAIN":
            self.tagged(ctx.tag, "NO", "The specified authentication mechanism is not supported.")
            self.flush()
            return
        if len(args) > 1:
            response = text_of(args[1]).encode("ascii", errors="replace")
        else:
            self.send("+ ")
            self.flush()
            response = self.read_line().strip()
        if response == b"*":
            self.tagged(ctx.tag, "BAD", "AUTHENTICATE cancelled.")
            self.flush()
            return
        try:
            decoded = base64.b64decode(response, validate=True)
            _authzid, user, password = decoded.split(b"\0", 2)
        except (binascii.Error, ValueError):
            self.tagged(ctx.tag, "NO", "AUTHENTICATE failed.")
            self.flush()
            return
        with self.emu.lock:
            self.login(ctx, user.decode("utf-8", "replace"), password.decode("utf-8", "replace"))
        self.flush()

    # --- authenticated
    def cmd_namespace(self, ctx: _Context, args: list[Token]) -> None:
        self.send('* NAMESPACE (("" "/")) NIL NIL')
        self.tagged(ctx.tag, "OK", "NAMESPACE completed.")

    def cmd_list(self, ctx: _Context, args: list[Token]) -> None:
        if len(args) != 2:
            raise ProtocolError("LIST needs reference and pattern")
        reference, pattern = text_of(args[0]), text_of(args[1])
        verb = ctx.command
        if pattern == "":
            self.send(f'* {verb} (\\Noselect) "/" ""')
            self.tagged(ctx.tag, "OK", f"{verb} completed.")
            return
        full = reference + pattern
        regex = "".join(
            ".*" if ch == "*" else "[^/]*" if ch == "%" else re.escape(ch) for ch in full
        )
        names = sorted(self.emu._folders, key=lambda n: (n != "INBOX", n.lower()))
        for name in names:
            target = name
            matched = re.fullmatch(regex, name) is not None
            if not matched and name == "INBOX":
                matched = re.fullmatch(regex, name, re.IGNORECASE) is not None
            if not matched:
                continue
            children = any(other.startswith(name + "/") for other in names)
            flag = "\\HasChildren" if children else "\\HasNoChildren"
            self.send(f'* {verb} ({flag}) "/" '.encode() + quote(target))
        self.tagged(ctx.tag, "OK", f"{verb} completed.")

    def cmd_create(self, ctx: _Context, args: list[Token]) -> None:
        if len(args) != 1:
            raise ProtocolError("CREATE needs a mailbox")
        name = self.resolve_mailbox(args[0]).rstrip("/")
        ctx.folder = name
        if not name or name in self.emu._folders:
            self.tagged(ctx.tag, "NO", "Mailbox already exists.")
            return
        self.emu._folders[name] = _Folder(name, uidvalidity=1)
        self.tagged(ctx.tag, "OK", "CREATE completed.")

    def cmd_delete(self, ctx: _Context, args: list[Token]) -> None:
        if len(args) != 1:
            raise ProtocolError("DELETE needs a mailbox")
        name = self.resolve_mailbox(args[0])
        ctx.folder = name
        if name == "INBOX" or name not in self.emu._folders:
            self.tagged(ctx.tag, "NO", "DELETE failed.")
            return
        del self.emu._folders[name]
        self.tagged(ctx.tag, "OK", "DELETE completed.")

    def cmd_subscribe(self, ctx: _Context, args: list[Token]) -> None:
        self.tagged(ctx.tag, "OK", f"{ctx.command} completed.")

    def cmd_select(self, ctx: _Context, args: list[Token]) -> None:
        if len(args) < 1:
            raise ProtocolError("SELECT needs a mailbox")
        name = self.resolve_mailbox(args[0])
        ctx.folder = name
        self.selected = None
        self.view = []
        folder = self.emu._folders.get(name)
        if folder is None:
            self.tagged(ctx.tag, "NO", f"{ctx.command} failed.")
            return
        self.selected = name
        self.readonly = ctx.command == "EXAMINE"
        self.view = [m.uid for m in folder.messages]
        keywords = sorted({f for m in folder.messages for f in m.flags if f not in SYSTEM_FLAGS})
        flag_list = " ".join([*_SELECT_FLAGS, *keywords])
        self.send(f"* {len(self.view)} EXISTS")
        self.send("* 0 RECENT")
        self.send(f"* FLAGS ({flag_list})")
        self.send(f"* OK [PERMANENTFLAGS ({flag_list} \\*)] Permanent flags")
        unseen = next((i + 1 for i, m in enumerate(folder.messages) if "\\Seen" not in m.flags), None)
        if unseen is not None:
            self.send(f"* OK [UNSEEN {unseen}] Is the first unseen message")
        self.send(f"* OK [UIDVALIDITY {folder.uidvalidity}] UIDVALIDITY value")
        self.send(f"* OK [UIDNEXT {folder.next_uid}] The next unique identifier value")
        mode = "READ-ONLY" if self.readonly else "READ-WRITE"
        self.tagged(ctx.tag, "OK", f"[{mode}] {ctx.command} completed.")

    def cmd_status(self, ctx: _Context, args: list[Token]) -> None:
        if len(args) != 2 or not isinstance(args[1], list):
            raise ProtocolError("STATUS needs a mailbox and a list")
        name = self.resolve_mailbox(args[0])
        ctx.folder = name
        folder = self.emu._folders.get(name)
        if folder is None:
            self.tagged(ctx.tag, "NO", "STATUS failed.")
            return
        values = {
            "MESSAGES": len(folder.messages),
            "RECENT": 0,
            "UIDNEXT": folder.next_uid,
            "UIDVALIDITY": folder.uidvalidity,
            "UNSEEN": sum(1 for m in folder.messages if "\\Seen" not in m.flags),
        }
        out = []
        for item in args[1]:
            key = text_of(item).upper()
            if key not in values:
                raise ProtocolError(f"unknown status item {key}")
            out.append(f"{key} {values[key]}")
        self.send(b"* STATUS " + quote(name) + (" (" + " ".join(out) + ")").encode())
        self.tagged(ctx.tag, "OK", "STATUS completed.")

    def cmd_append(self, ctx: _Context, args: list[Token]) -> None:
        if len(args) < 2:
            raise ProtocolError("APPEND needs a mailbox and a message")
        name = self.resolve_mailbox(args[0])
        ctx.folder = name
        rest = args[1:]
        flags: set[str] = set()
        when: datetime | None = None
        if rest and isinstance(rest[0], list):
            flags = {normalise_flag(text_of(t)) for t in rest[0]}
            rest = rest[1:]
        if len(rest) == 2:
            when = parse_internaldate(text_of(rest[0]))
            rest = rest[1:]
        if len(rest) != 1 or not isinstance(rest[0], String):
            raise ProtocolError("APPEND message literal expected")
        folder = self.emu._folders.get(name)
        if folder is None:
            self.tagged(ctx.tag, "NO", "[TRYCREATE] Mailbox does not exist.")
            return
        msg = self.emu._store(folder, to_crlf(rest[0].data), flags - {"\\Recent"}, when)
        ctx.uids = (msg.uid,)
        code = f"[APPENDUID {folder.uidvalidity} {msg.uid}] " if self.emu.uidplus else ""
        self.tagged(ctx.tag, "OK", f"{code}APPEND completed.")

    def cmd_idle(self, ctx: _Context, args: list[Token]) -> None:
        self.send("+ IDLE accepted, awaiting DONE command.")
        self.flush()
        while True:
            line = self.read_line().strip()
            if line.upper() == b"DONE":
                break
            with self.emu.lock:
                if self.selected is not None:
                    self.sync_view()
            self.flush()
        with self.emu.lock:
            self.may_sync = True
            self.tagged(ctx.tag, "OK", "IDLE completed.")

    # --- selected
    def cmd_close(self, ctx: _Context, args: list[Token]) -> None:
        if ctx.command == "CLOSE" and not self.readonly:
            box = self.box()
            box.messages = [m for m in box.messages if "\\Deleted" not in m.flags]
        self.selected = None
        self.view = []
        self.tagged(ctx.tag, "OK", f"{ctx.command} completed.")

    def cmd_expunge(self, ctx: _Context, args: list[Token]) -> None:
        if self.readonly:
            self.tagged(ctx.tag, "NO", "EXPUNGE failed: mailbox is read-only.")
            return
        box = self.box()
        ranges: list[tuple[int, int]] | None = None
        if ctx.command == "UID EXPUNGE":
            if len(args) != 1:
                raise ProtocolError("UID EXPUNGE needs a UID set")
            ranges = parse_set(text_of(args[0]), max((m.uid for m in box.messages), default=0))
        doomed = [
            m for m in box.messages if "\\Deleted" in m.flags and (ranges is None or in_ranges(m.uid, ranges))
        ]
        ctx.uids = tuple(m.uid for m in doomed)
        box.messages = [m for m in box.messages if m not in doomed]
        self.tagged(ctx.tag, "OK", "EXPUNGE completed.")

    def cmd_search(self, ctx: _Context, args: list[Token]) -> None:
        uid_mode = ctx.command.startswith("UID")
        box = self.box()
        by_uid = {m.uid: m for m in box.messages}
        parser = _SearchParser(args, max(by_uid, default=0), len(self.view))
        predicate = parser.parse_all()
        hits = []
        for index, uid in enumerate(self.view):
            msg = by_uid.get(uid)
            if msg is not None and predicate(index + 1, msg):
                hits.append(uid if uid_mode else index + 1)
        self.send("* SEARCH" + "".join(f" {h}" for h in hits))
        self.tagged(ctx.tag, "OK", "SEARCH completed.")

    def cmd_store(self, ctx: _Context, args: list[Token]) -> None:
        uid_mode = ctx.command.startswith("UID")
        if len(args) < 3:
            raise ProtocolError("STORE needs a set, an item and flags")
        action = text_of(args[1]).upper()
        match = re.fullmatch(r"([+-]?)FLAGS(\.SILENT)?", action)
        if not match:
            raise ProtocolError(f"unknown store item {action}")
        flag_tokens = args[2] if isinstance(args[2], list) else args[2:]
        flags = {normalise_flag(text_of(t)) for t in flag_tokens} - {"\\Recent"}
        targets = self.targets(text_of(args[0]), uid_mode)
        ctx.uids = tuple(m.uid for _, m in targets)
        if self.readonly:
            self.tagged(ctx.tag, "NO", "STORE failed: mailbox is read-only.")
            return
        for msn, msg in targets:
            if match.group(1) == "+":
                msg.flags |= flags
            elif match.group(1) == "-":
                msg.flags -= flags
            else:
                msg.flags = set(flags)
            if not match.group(2):
                uid_part = f"UID {msg.uid} " if uid_mode else ""
                self.send(f"* {msn} FETCH ({uid_part}FLAGS {format_flags(msg.flags)})")
        self.tagged(ctx.tag, "OK", "STORE completed.")

    def cmd_copy(self, ctx: _Context, args: list[Token]) -> None:
        uid_mode = ctx.command.startswith("UID")
        if len(args) != 2:
            raise ProtocolError("COPY needs a set and a mailbox")
        targets = self.targets(text_of(args[0]), uid_mode)
        ctx.uids = tuple(m.uid for _, m in targets)
        dest = self.emu._folders.get(self.resolve_mailbox(args[1]))
        if dest is None:
            self.tagged(ctx.tag, "NO", "[TRYCREATE] Mailbox does not exist.")
            return
        new_uids = []
        for _, msg in targets:
            copy = self.emu._store(dest, msg.raw, set(msg.flags), msg.internaldate)
            copy.fault, copy.substitute = msg.fault, msg.substitute
            new_uids.append(copy.uid)
        code = ""
        if self.emu.uidplus and targets:
            src = ",".join(str(m.uid) for _, m in targets)
            dst = ",".join(str(u) for u in new_uids)
            code = f"[COPYUID {dest.uidvalidity} {src} {dst}] "
        self.tagged(ctx.tag, "OK", f"{code}COPY completed.")

    def cmd_fetch(self, ctx: _Context, args: list[Token]) -> None:
        uid_mode = ctx.command.startswith("UID")
        if len(args) != 2:
            raise ProtocolError("FETCH needs a set and items")
        items = parse_fetch_items(args[1])
        if uid_mode and not any(i.attr == "UID" for i in items):
            items.insert(0, FetchItem(attr="UID"))
        targets = self.targets(text_of(args[0]), uid_mode)
        content = any(i.content for i in items)
        ctx.uids = tuple(m.uid for _, m in targets)
        ctx.content = content
        box = self.box()
        vanished: list[int] = []
        for msn, msg in targets:
            plan = self.fault_plan(msg, items, uid_mode) if content else "normal"
            if plan == "omit":
                continue
            if plan in ("no", "bad"):
                self.out = []
                if plan == "no":
                    self.tagged(ctx.tag, "NO", REFUSED_NO_TEXT)
                else:
                    self.tagged(ctx.tag, "BAD", REFUSED_BAD_TEXT)
                return
            if plan == "drop":
                self.emu._logins_to_refuse = self.emu.logins_refused_after_drop
                self.send(BYE_DROPPED)
                self.close_connection()
                return
            if plan == "vanish":
                name = next(i.response_name() for i in items if i.content)
                self.send(f"* {msn} FETCH (UID {msg.uid} {name} NIL)")
                if msg.fault is not Fault.VANISH_LISTED:
                    box.messages.remove(msg)
                vanished.append(msg.uid)
                continue
            source = msg
            if plan == "wrong":
                following = self.view[msn] if msn < len(self.view) else None
                nxt = box.get(following) if following is not None else None
                if nxt is None:
                    continue
                source = nxt
            raw = source.raw
            if source.fault in PLACEHOLDER_FAULTS and source.substitute is not None:
                raw = source.substitute
            self.send(self.fetch_response(msn, source, raw, items))
        for uid in vanished:
            index = self.view.index(uid)
            self.send(f"* {index + 1} EXPUNGE")
            del self.view[index]
        if vanished:
            self.tagged(ctx.tag, "OK", EXPUNGEISSUED_TEXT)
        else:
            self.tagged(ctx.tag, "OK", "FETCH completed.")

    @staticmethod
    def fault_plan(msg: StoredMessage, items: Sequence[FetchItem], uid_mode: bool) -> str:
        fault = msg.fault
        if fault is None:
            return "normal"
        if fault == Fault.EMPTY:
            return "omit"
        if fault == Fault.PLACEHOLDER:
            return "omit" if any(i.peek_body for i in items) else "substitute"
        if fault == Fault.PLACEHOLDER_PEEK:
            return "substitute"
        if fault == Fault.REFUSED_NO:
            return "no"
        if fault == Fault.REFUSED_BAD:
            return "bad"
        if fault == Fault.DROPPED:
            return "drop"
        if fault in (Fault.VANISH, Fault.VANISH_LISTED):
            return "vanish"
        if fault == Fault.SEQUENCE_ONLY:
            return "omit" if uid_mode else "normal"
        if fault == Fault.SEQUENCE_WRONG:
            return "omit" if uid_mode else "wrong"
        return "normal"

    def fetch_response(self, msn: int, msg: StoredMessage, raw: bytes, items: Sequence[FetchItem]) -> bytes:
        parts: list[bytes] = []
        flags_changed = False
        if not self.readonly and any(i.sets_seen for i in items) and "\\Seen" not in msg.flags:
            msg.flags.add("\\Seen")
            flags_changed = True
        parsed: MimePart | None = None
        for item in items:
            attr = item.attr
            if attr == "UID":
                value = str(msg.uid).encode()
            elif attr == "FLAGS":
                value = format_flags(msg.flags).encode()
            elif attr == "INTERNALDATE":
                value = b'"' + format_internaldate(msg.internaldate).encode() + b'"'
            elif attr == "RFC822.SIZE":
                value = str(len(raw)).encode()
            elif attr in ("ENVELOPE", "BODYSTRUCTURE", "BODY"):
                parsed = parsed or parse_mime(raw)
                if attr == "ENVELOPE":
                    value = envelope(parsed)
                else:
                    value = bodystructure(parsed, extended=attr == "BODYSTRUCTURE")
            else:
                data = section_data(raw, item)
                if item.partial is not None:
                    start, count = item.partial
                    data = data[start:] if count is None else data[start : start + count]
                value = literal(data)
            parts.append(item.response_name().encode() + b" " + value)
        if flags_changed and not any(i.attr == "FLAGS" for i in items):
            parts.append(b"FLAGS " + format_flags(msg.flags).encode())
        return b"* %d FETCH (" % msn + b" ".join(parts) + b")"

    HANDLERS: dict[str, tuple[Callable[[_Connection, _Context, list[Token]], None], str]] = {
        "CAPABILITY": (cmd_capability, "any"),
        "NOOP": (cmd_noop, "any"),
        "LOGOUT": (cmd_logout, "any"),
        "ID": (cmd_id, "any"),
        "STARTTLS": (cmd_starttls, "any"),
        "LOGIN": (cmd_login, "any"),
        "AUTHENTICATE": (cmd_authenticate, "any"),
        "NAMESPACE": (cmd_namespace, "auth"),
        "LIST": (cmd_list, "auth"),
        "LSUB": (cmd_list, "auth"),
        "CREATE": (cmd_create, "auth"),
        "DELETE": (cmd_delete, "auth"),
        "SUBSCRIBE": (cmd_subscribe, "auth"),
        "UNSUBSCRIBE": (cmd_subscribe, "auth"),
        "SELECT": (cmd_select, "auth"),
        "EXAMINE": (cmd_select, "auth"),
        "STATUS": (cmd_status, "auth"),
        "APPEND": (cmd_append, "auth"),
        "IDLE": (cmd_idle, "auth"),
        "CHECK": (cmd_check, "selected"),
        "CLOSE": (cmd_close, "selected"),
        "UNSELECT": (cmd_close, "selected"),
        "EXPUNGE": (cmd_expunge, "selected"),
        "UID EXPUNGE": (cmd_expunge, "selected"),
        "SEARCH": (cmd_search, "selected"),
        "UID SEARCH": (cmd_search, "selected"),
        "STORE": (cmd_store, "selected"),
        "UID STORE": (cmd_store, "selected"),
        "COPY": (cmd_copy, "selected"),
        "UID COPY": (cmd_copy, "selected"),
        "FETCH": (cmd_fetch, "selected"),
        "UID FETCH": (cmd_fetch, "selected"),
    }
