"""Glue: the ladder's connection interface over offlineimap's own connection pool (imaplib2 objects)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from offlineimap import OfflineImapError

from offlineimap_phantomfix.recovery import ConnectionDropped
from offlineimap_phantomfix.responses import imaplib2_error_words


def _bye_words(imapobj: Any) -> str:
    """The server's own words in its ``* BYE`` (imaplib2's abort only says "connection terminated")."""
    try:
        _, data = imapobj.response("BYE")
    except Exception:
        return ""
    words = [item for item in data or [] if isinstance(item, bytes)]
    return ("BYE " + words[-1].decode("utf-8", "replace")) if words else ""


class PooledConnection:
    """One pooled imaplib2 connection, with the folder EXAMINEd (read-only) before each command."""

    def __init__(self, imapobj: Any, mailbox: str) -> None:
        self.imapobj = imapobj
        self.mailbox = mailbox

    def _call(self, command: Any, *args: str) -> tuple[str, Sequence[object]]:
        imapobj = self.imapobj
        try:
            imapobj.select(self.mailbox, readonly=True)
            typ, data = command(*args)
        except imapobj.abort as error:  # BYE, reset, timeout: imaplib2's "close and retry"
            raise ConnectionDropped(_bye_words(imapobj) or str(error)) from None
        except imapobj.error as error:  # imaplib2 raises on a tagged BAD
            status, words = imaplib2_error_words(str(error))
            return status or "BAD", [words.encode("utf-8", "replace")]
        except OfflineImapError as error:
            if error.severity == OfflineImapError.ERROR.FOLDER_RETRY:
                raise ConnectionDropped(str(error)) from None
            return "NO", [str(error).encode("utf-8", "replace")]
        except OSError as error:
            raise ConnectionDropped(str(error)) from None
        return str(typ), list(data) if data is not None else [None]

    def uid_fetch(self, uid: int, items: str) -> tuple[str, Sequence[object]]:
        return self._call(self.imapobj.uid, "FETCH", str(uid), items)

    def seq_fetch(self, msn: int, items: str) -> tuple[str, Sequence[object]]:
        return self._call(self.imapobj.fetch, str(msn), items)

    def uid_search(self, uid: int) -> tuple[str, Sequence[object]]:
        return self._call(self.imapobj.uid, "SEARCH", "UID", str(uid))


class PoolSource:
    """Takes connections from an ``IMAPServer`` pool and gives them back; broken ones are dropped."""

    def __init__(self, imapserver: Any, mailbox: str) -> None:
        self.imapserver = imapserver
        self.mailbox = mailbox

    def open(self) -> PooledConnection:
        try:
            imapobj = self.imapserver.acquireconnection()
        except OfflineImapError as error:
            raise ConnectionDropped(f"could not connect: {error}") from None
        return PooledConnection(imapobj, self.mailbox)

    def release(self, connection: Any, *, broken: bool) -> None:
        imapobj = connection.imapobj
        dead = broken or bool(getattr(imapobj, "Terminate", False))
        try:
            self.imapserver.releaseconnection(imapobj, dead)
        except Exception:  # logging out of a dead connection may fail; it is gone either way
            pass
