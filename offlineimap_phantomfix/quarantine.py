"""The quarantine: one Maildir per account, its items found again by message, and their files found again
after a mail reader moved them.

``<phantom_dir>/quarantine/<account>/`` is a real Maildir (``tmp``, ``new``, ``cur``) that Mutt and notmuch read.
Items are written the Maildir way: to ``tmp/`` (mode 0600, fsync), then renamed into ``new/``. File names are
made only of our own text (time, pid, a counter, the message's UID and UIDVALIDITY, the host name and the account
name passed through :func:`~offlineimap_phantomfix.sanitize.safe_name`), never of anything a server chose;
``adopt`` keeps a file taken from the user's Maildir under the name offlineimap gave it there.

A mail reader moves a file from ``new/`` to ``cur/`` and appends flags (``:2,S``) but keeps its unique name
(the part before ``:``), so :func:`resolve` finds a recorded item again by that name. The item itself is built
by :func:`~offlineimap_phantomfix.notice.build_notice`.
"""

from __future__ import annotations

import dataclasses
import email.policy
import errno
import hashlib
import itertools
import os
import re
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.parser import BytesHeaderParser
from email.utils import parsedate_to_datetime
from pathlib import Path

from offlineimap_phantomfix.errors import QuarantineError
from offlineimap_phantomfix.notice import NOTICE_ADDRESS, build_notice, explain
from offlineimap_phantomfix.sanitize import clean_text, safe_name
from offlineimap_phantomfix.verdicts import MessageKey, PhantomRecord

__all__ = ["GONE_NOTE", "NOTICE_ADDRESS", "Kept", "Quarantine", "build_notice", "explain", "resolve", "resolve_records"]

_DIR_MODE = 0o700
_FILE_MODE = 0o600
#: What the report shows after the recorded path of an item that is no longer in ``new/`` or ``cur/``.
GONE_NOTE = " (gone: no longer in new/ or cur/)"
_HEAD_LIMIT = 16384  # bytes read of an item to learn which message it describes

# Deliveries in this process: the "Q" part of a Maildir name. Shared by every Quarantine object, because
# callers may build a new one per item; the lock keeps it exact under offlineimap's copy threads.
_deliveries = itertools.count(1)
_deliveries_lock = threading.Lock()


def _next_delivery() -> int:
    with _deliveries_lock:
        return next(_deliveries)


def _safe_hostname() -> str:
    return safe_name(socket.gethostname() or "localhost", limit=64)


def account_dir_name(account: str) -> str:
    """The Maildir's directory name for an account: the name itself when it is already safe, else a safe
    rendering plus a short hash (so that ``a/b`` and ``a_b`` never share a Maildir)."""
    name = safe_name(account)
    if name == account:
        return name
    digest = hashlib.sha256(account.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{safe_name(account, limit=55)}-{digest}"


@dataclass(frozen=True)
class Kept:
    """An item already in the quarantine: its file and the time its message was first seen."""

    path: Path
    first_seen: datetime


class Quarantine:
    """Writes quarantine items into ``root/<account>/`` Maildirs. Safe to use from several threads."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def maildir(self, account: str) -> Path:
        """The account's Maildir, created (with its parents) as ``tmp``, ``new``, ``cur``, directories 0700."""
        path = self.root / account_dir_name(account)
        try:
            _make_dir(self.root)
            _make_dir(path)
            for sub in ("tmp", "new", "cur"):
                _make_dir(path / sub)
        except OSError as error:
            raise QuarantineError(f"cannot create the quarantine Maildir {path}: {_reason(error)}") from None
        return path

    def deliver(self, account: str, content: bytes, key: MessageKey | None = None, *, keep_name: str | None = None,
                into: str = "new") -> Path:
        """Store ``content`` as one message; returns the path of the file (in ``new/`` unless kept). With ``key``
        the file name carries the message's UID and UIDVALIDITY, so that :meth:`find` reads few files.

        ``keep_name`` (a Maildir file name, info part and all) and ``into`` (``new`` or ``cur``) keep a file
        taken from another Maildir under its own name, flags and place; a name that is not a plain file name,
        or is taken already, gets a fresh name in ``new/`` instead."""
        maildir = self.maildir(account)
        kept = _keepable(maildir, keep_name, into)
        temporary: Path | None = None
        try:
            for _ in range(100):
                name = _unique_name(key)
                candidate = maildir / "tmp" / name
                try:
                    descriptor = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW, _FILE_MODE)
                except FileExistsError:
                    continue
                temporary = candidate
                break
            else:  # pragma: no cover - would need 100 name collisions in a row
                raise OSError(errno.EEXIST, "no unique file name found")
            with os.fdopen(descriptor, "wb") as handle:
                os.fchmod(handle.fileno(), _FILE_MODE)
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
            final = kept or maildir / "new" / temporary.name
            if final.exists() or (maildir / "cur" / temporary.name).exists():  # pragma: no cover - paranoia
                raise OSError(errno.EEXIST, "a message of that name already exists", str(final))
            os.rename(temporary, final)
            temporary = None
            _fsync_dir(final.parent)
            return final
        except OSError as error:
            raise QuarantineError(f"cannot write a quarantine item in {maildir}: {_reason(error)}") from None
        finally:
            if temporary is not None:
                try:
                    temporary.unlink()
                except OSError:
                    pass

    def find(self, key: MessageKey) -> Kept | None:
        """The item already kept for ``key`` (for example before a ``clear``), wherever a mail reader moved it
        within ``new/`` and ``cur/``, with the time it was first seen (its Date). None when there is none."""
        maildir = self.root / account_dir_name(key.account)
        which = re.compile(rf"Q\d+U{int(key.uid)}V{int(key.uidvalidity)}\.")
        for sub in ("new", "cur"):
            try:
                names = sorted(os.listdir(maildir / sub))
            except OSError:
                continue
            for name in names:
                if which.search(name.split(":", 1)[0]):
                    path = maildir / sub / name
                    first_seen = _describes(path, key)
                    if first_seen is not None:
                        return Kept(path, first_seen)
        return None


_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_KEEPABLE = re.compile(r"[A-Za-z0-9_.,=:!+-]{1,200}")


def _keepable(maildir: Path, name: str | None, into: str) -> Path | None:
    if name is None or into not in ("new", "cur") or not _KEEPABLE.fullmatch(name) or name.startswith("."):
        return None
    base = re.split(r"[:!]2,", name)[0]
    for sub in ("new", "cur"):
        if any(entry.name == name or re.split(r"[:!]2,", entry.name)[0] == base
               for entry in os.scandir(maildir / sub)):
            return None
    return maildir / into / name


def _make_dir(path: Path) -> None:
    """mkdir -p; directories this call creates get mode 0700 whatever the umask."""
    if path.is_dir():
        return
    missing: list[Path] = []
    current = path
    while not current.exists() and current != current.parent:
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=_DIR_MODE)
        except FileExistsError:
            if not directory.is_dir():
                raise
            continue
        os.chmod(directory, _DIR_MODE)
    if not path.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "not a directory", str(path))


def _unique_name(key: MessageKey | None = None) -> str:
    now = time.time()
    seconds = int(now)
    micro = int((now - seconds) * 1_000_000)
    which = f"U{int(key.uid)}V{int(key.uidvalidity)}" if key is not None else ""
    return f"{seconds}.M{micro}P{os.getpid()}Q{_next_delivery()}{which}.{_safe_hostname()}"


def _fsync_dir(path: Path) -> None:
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _reason(error: OSError) -> str:
    text = error.strerror or str(error)
    if error.filename:
        text = f"{error.filename}: {text}"
    return clean_text(text)




def _describes(path: Path, key: MessageKey) -> datetime | None:
    """The Date of the item at ``path`` when its ``X-Phantomfix-*`` headers name ``key``, else None."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(_HEAD_LIMIT)
        header = BytesHeaderParser(policy=email.policy.default).parsebytes(head)
        named = {name: str(header.get(f"X-Phantomfix-{name}", "")) for name in
                 ("Account", "Repository", "Folder", "UID", "UIDVALIDITY")}
        wanted = {"Account": clean_text(key.account), "Repository": clean_text(key.repository),
                  "Folder": clean_text(key.folder), "UID": str(key.uid), "UIDVALIDITY": str(key.uidvalidity)}
        if named != wanted:
            return None
        date = parsedate_to_datetime(str(header["Date"]))
    except (OSError, TypeError, ValueError, IndexError):
        return None
    return date if date.tzinfo is not None else None


def resolve(recorded: str | os.PathLike[str]) -> Path | None:
    """The file of a recorded quarantine item now: the recorded path when it is still there, else the file
    with the same Maildir unique name in the Maildir's ``new/`` or ``cur/`` (a reader moved it and added
    flags). None when the item is gone."""
    path = Path(recorded)
    if path.is_file():
        return path
    unique = path.name.split(":", 1)[0]
    if not unique:
        return None
    for sub in ("new", "cur"):
        folder = path.parent.parent / sub
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            if name == unique or name.startswith(unique + ":"):
                return folder / name
    return None


def resolve_records(records: Sequence[PhantomRecord], *, gone: str | None = None) -> list[PhantomRecord]:
    """The records with each quarantine path resolved to where the file is now (:func:`resolve`). An item
    that is gone keeps its recorded path followed by ``gone`` when that is given, else its path becomes None."""
    resolved: list[PhantomRecord] = []
    for record in records:
        if record.quarantine:
            found = resolve(record.quarantine)
            if found is not None:
                record = dataclasses.replace(record, quarantine=str(found))
            else:
                record = dataclasses.replace(record, quarantine=f"{record.quarantine}{gone}" if gone else None)
        resolved.append(record)
    return resolved
