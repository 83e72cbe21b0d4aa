"""Glue: one imaplib2 command with its failures mapped to ours, and the ladder's connection interface over
offlineimap's own connection pool.

offlineimap is imported only inside the functions, so that modules which merely use :func:`imap_call` (the
probe's transcript code) stay importable without it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from offlineimap_phantomfix.recovery import ConnectionDropped
from offlineimap_phantomfix.responses import imaplib2_error_words
from offlineimap_phantomfix.sanitize import clean_text

_SAID_LIMIT = 300


def _bye_words(imapobj: Any) -> str:
    """The server's own words in its ``* BYE`` (imaplib2's abort only says "connection terminated")."""
    try:
        _, data = imapobj.response("BYE")
    except Exception:
        return ""
    words = [item for item in data or [] if isinstance(item, bytes)]
    return ("BYE " + words[-1].decode("utf-8", "replace")) if words else ""


_TIMEOUT = re.compile(r"no response after ([\d.]+) ?secs?|timed? ?out", re.IGNORECASE)


def timeout_words(text: str) -> str | None:
    """"no answer within N s" when an imaplib2/socket error text means a timeout (not a closed connection)."""
    match = _TIMEOUT.search(text)
    if match is None:
        return None
    seconds = match.group(1)
    return f"no answer within {float(seconds):g} s" if seconds else "no answer in time"


def _dropped(text: str) -> ConnectionDropped:
    return ConnectionDropped(clean_text(text, limit=_SAID_LIMIT))


def imap_call(imapobj: Any, method: str, *args: Any) -> tuple[str, list[Any]]:
    """Run one imaplib2 command and return ``(typ, data)``.

    A tagged BAD (which imaplib2 raises) comes back as ``("BAD", [server words])``; a refused SELECT as
    ``("NO", [...])``; a closed connection (BYE, reset, timeout) raises :class:`ConnectionDropped`, with the
    BYE text when the server sent one. A SELECT of the folder already selected the same way counts as OK.
    """
    from offlineimap import OfflineImapError

    try:
        result = getattr(imapobj, method)(*args)
    except imapobj.abort as error:  # imaplib2's "close and retry"
        raise _dropped(_bye_words(imapobj) or str(error)) from None
    except imapobj.error as error:
        status, words = imaplib2_error_words(str(error))
        return status or "BAD", [clean_text(words, limit=_SAID_LIMIT).encode()]
    except OfflineImapError as error:  # offlineimap's select wrapper
        if error.severity == OfflineImapError.ERROR.FOLDER_RETRY:
            raise _dropped(str(error)) from None
        return "NO", [clean_text(str(error), limit=_SAID_LIMIT).encode()]
    except OSError as error:
        raise _dropped(str(error)) from None
    if result is None:
        return "OK", [None]
    typ, data = result
    return str(typ), list(data) if data is not None else [None]


def parse_like_offlineimap(folder: Any, raw: bytes) -> Any:
    """Parse ``raw`` with the folder's own parser and check it encodes again under the folder's policy: what
    offlineimap needs to store it. Raises whatever the email package raises when it cannot."""
    message = folder.parser["8bit-RFC"].parsebytes(raw)
    message.as_bytes(policy=folder.policy["8bit-RFC"])
    return message


def accepts_like_offlineimap(folder: Any) -> Callable[[bytes], bool]:
    """The ladder's test for usable bytes: would this folder's offlineimap store them?"""

    def accept(raw: bytes) -> bool:
        try:
            parse_like_offlineimap(folder, raw)
        except Exception:
            return False
        return True

    return accept


class PooledConnection:
    """One pooled imaplib2 connection, with the folder EXAMINEd (read-only) before each command."""

    def __init__(self, imapobj: Any, mailbox: str) -> None:
        self.imapobj = imapobj
        self.mailbox = mailbox

    def _call(self, method: str, *args: str) -> tuple[str, Sequence[object]]:
        typ, data = imap_call(self.imapobj, "select", self.mailbox, True)
        if typ != "OK":
            return typ, data
        return imap_call(self.imapobj, method, *args)

    def uid_fetch(self, uid: int, items: str) -> tuple[str, Sequence[object]]:
        return self._call("uid", "FETCH", str(uid), items)

    def seq_fetch(self, msn: int, items: str) -> tuple[str, Sequence[object]]:
        return self._call("fetch", str(msn), items)

    def uid_fetch_set(self, uids: str, items: str) -> tuple[str, Sequence[object]]:
        return self._call("uid", "FETCH", uids, items)

    def seq_fetch_set(self, msns: str, items: str) -> tuple[str, Sequence[object]]:
        return self._call("fetch", msns, items)

    def saw_expunge(self) -> bool:
        # imaplib2 keeps untagged EXPUNGE responses until the next SELECT/EXAMINE; reading them clears them.
        try:
            _, data = self.imapobj.response("EXPUNGE")
        except Exception:  # a closed connection: the next command finds out
            return False
        return any(item is not None for item in data or [])

    def fresh_uid_search(self, uid: int) -> tuple[str, Sequence[object]]:
        typ, data = imap_call(self.imapobj, "select", self.mailbox, True, True)  # forced: EXAMINE again
        if typ != "OK":
            return typ, data
        return imap_call(self.imapobj, "uid", "SEARCH", "UID", str(uid))


class PoolSource:
    """Takes connections from an ``IMAPServer`` pool and gives them back; broken ones are dropped."""

    def __init__(self, imapserver: Any, mailbox: str) -> None:
        self.imapserver = imapserver
        self.mailbox = mailbox

    def open(self) -> PooledConnection:
        import imaplib2
        from offlineimap import OfflineImapError

        try:
            imapobj = self.imapserver.acquireconnection()
        except (OfflineImapError, OSError, imaplib2.IMAP4.error) as error:
            raise ConnectionDropped(f"could not connect: {clean_text(str(error), limit=_SAID_LIMIT)}") from None
        return PooledConnection(imapobj, self.mailbox)

    def release(self, connection: Any, *, broken: bool) -> None:
        imapobj = connection.imapobj
        dead = broken or bool(getattr(imapobj, "Terminate", False))
        try:
            self.imapserver.releaseconnection(imapobj, dead)
        except Exception:  # logging out of a dead connection may fail; it is gone either way
            pass
