"""Reading the server back over IMAP (``imaplib``), to compare what it holds with what a sync wrote.

A mix-in of :class:`~offlineimap_phantomfix.testing.dovecot.DovecotServer`; the attributes below are set by
its constructor.
"""

from __future__ import annotations

import contextlib
import imaplib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from .host import DovecotError
from .names import imap_flags_to_maildir, imap_utf7_decode, imap_utf7_encode

__all__ = ["ImapClient", "ServerMessage"]


@dataclass(frozen=True)
class ServerMessage:
    """One message as the server reports it over IMAP."""

    folder: str
    uid: int
    flags: frozenset[str]
    raw: bytes

    @property
    def maildir_flags(self) -> str:
        """The flags as Maildir info letters, sorted ("FS")."""
        return imap_flags_to_maildir(self.flags)


class ImapClient:
    """Logged-in connections and whole-folder reads as the server's one user."""

    host: str
    port: int
    user: str
    password: str

    @contextlib.contextmanager
    def imap(self, *, timeout: float = 30) -> Iterator[imaplib.IMAP4]:
        """A logged-in ``imaplib.IMAP4`` connection, logged out at the end."""
        conn = imaplib.IMAP4(self.host, self.port, timeout=timeout)
        try:
            conn.login(self.user, self.password)
            yield conn
        finally:
            with contextlib.suppress(Exception):
                conn.logout()

    def folders(self) -> list[str]:
        """Selectable folder names as the server LISTs them, decoded from modified UTF-7."""
        names: list[str] = []
        with self.imap() as conn:
            typ, data = conn.list()
            if typ != "OK":
                raise DovecotError(f"LIST failed: {data!r}")
            for item in data:
                if not isinstance(item, bytes):
                    continue
                match = re.match(rb'\(([^)]*)\) (?:"(?:\\.|[^"])*"|NIL) (.*)$', item)
                if match is None:
                    continue
                if b"\\noselect" in match.group(1).lower():
                    continue
                name = match.group(2).decode("ascii")
                if name.startswith('"') and name.endswith('"'):
                    name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\")
                names.append(imap_utf7_decode(name))
        return sorted(names)

    def fetch_all(self, folder: str, uids: Iterable[int] | None = None) -> list[ServerMessage]:
        """Every message of ``folder`` (or those with the given ``uids``) with UID, flags and full bytes,
        read over IMAP (EXAMINE). Leave a message made unreadable out through ``uids``: asking for it fails
        the whole command (or ends the connection)."""
        wanted = "1:*" if uids is None else ",".join(str(uid) for uid in sorted(set(uids)))
        quoted = '"' + imap_utf7_encode(folder).replace("\\", "\\\\").replace('"', '\\"') + '"'
        result: list[ServerMessage] = []
        with self.imap() as conn:
            typ, data = conn.select(quoted, readonly=True)
            if typ != "OK":
                raise DovecotError(f"EXAMINE {folder!r} failed: {data!r}")
            if int(data[0] or b"0") == 0 or not wanted:
                return result
            typ, data = conn.uid("FETCH", wanted, "(UID FLAGS BODY.PEEK[])")
            if typ != "OK":
                raise DovecotError(f"FETCH in {folder!r} failed: {data!r}")
            for item in data:
                if not isinstance(item, tuple):
                    continue
                head = item[0].decode("ascii", "replace")
                uid_match = re.search(r"UID (\d+)", head)
                flag_match = re.search(r"FLAGS \(([^)]*)\)", head)
                if uid_match is None:
                    continue
                flags = frozenset(flag_match.group(1).split()) if flag_match else frozenset()
                result.append(ServerMessage(folder, int(uid_match.group(1)), flags - {"\\Recent"}, item[1]))
        return sorted(result, key=lambda m: m.uid)
