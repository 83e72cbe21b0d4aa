"""The mailbox model: stored messages, folders, the command log, and the substitute notice for one message."""

from __future__ import annotations

import email.header
import email.utils
from dataclasses import dataclass, field
from datetime import datetime, timezone

from ..messages import exchange_substitute, format_sent_date
from ..mime import header_value, split_message
from .faults import Fault


@dataclass
class StoredMessage:
    """One message as the server stores it (raw bytes with CRLF line endings)."""

    uid: int
    flags: set[str]
    raw: bytes
    internaldate: datetime
    fault: Fault | None = None
    substitute: bytes | None = None  # the Exchange notice served instead of ``raw`` for placeholder faults


@dataclass(frozen=True)
class LogEntry:
    """One command as the server received it.

    ``folder`` is the mailbox selected when the command arrived, or the mailbox the command names (SELECT,
    EXAMINE, APPEND, STATUS, CREATE, DELETE). ``uids`` are the messages it targeted, resolved at that moment
    (for APPEND: the new UID). ``content`` is true when a FETCH asked for message content.
    """

    connection: int
    tag: str
    command: str
    line: str
    folder: str | None
    uids: tuple[int, ...]
    content: bool


@dataclass
class _Folder:
    name: str
    uidvalidity: int
    next_uid: int = 1
    messages: list[StoredMessage] = field(default_factory=list)

    def get(self, uid: int) -> StoredMessage | None:
        for msg in self.messages:
            if msg.uid == uid:
                return msg
        return None


def canonical_folder(name: str) -> str:
    return "INBOX" if name.upper() == "INBOX" else name


def internaldate_of(raw: bytes) -> datetime:
    header, _ = split_message(raw)
    value = header_value(header, "date")
    if value:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            parsed = None
        if parsed is not None:
            return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=timezone.utc)
    return datetime.now(timezone.utc).replace(microsecond=0)


def _decoded(value: str) -> str:
    try:
        return str(email.header.make_header(email.header.decode_header(value)))
    except (ValueError, LookupError, UnicodeDecodeError):
        return value


def build_substitute(msg: StoredMessage) -> bytes:
    """The Exchange notice for ``msg``, built from its own Subject, From and Date."""
    header, _ = split_message(msg.raw)
    # Exchange quotes the decoded subject (RFC 2047 words resolved), as a reader would see it.
    subject = _decoded(header_value(header, "subject") or "")
    sender = _decoded(header_value(header, "from") or "unknown@example.org")
    sent_value = header_value(header, "date")
    when = msg.internaldate
    if sent_value:
        try:
            when = email.utils.parsedate_to_datetime(sent_value)
        except (TypeError, ValueError, IndexError):
            pass
    return exchange_substitute(msg.uid, subject=subject, sender=sender, sent=format_sent_date(when))
