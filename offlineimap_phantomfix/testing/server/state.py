"""What every connection of the emulator shares: its settings, the mailboxes, the command log, open sockets."""

from __future__ import annotations

import dataclasses
import itertools
import socket
import ssl
import threading
from collections.abc import Iterable
from datetime import datetime, timezone

from ..mime import to_crlf
from .faults import PLACEHOLDER_FAULTS, Fault
from .model import LogEntry, StoredMessage, _Folder, build_substitute, canonical_folder, internaldate_of
from .wire import normalise_flag


class EmulatorState:
    """The emulator's state, all but its listening socket (which :class:`EmulatorServer` adds).

    Thread-safe: one lock guards all mailbox state.
    """

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
        self._connections: dict[int, socket.socket] = {}
        self._connection_ids = itertools.count(1)
        self.reset()

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
