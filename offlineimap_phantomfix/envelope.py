"""Pure: what a FETCH ENVELOPE (RFC 3501, 7.4.2) names of a message: its subject, first sender and date.

A server that will not deliver a message often still describes it in the ENVELOPE of the ladder's metadata
fetch; that is the lost mail's subject a quarantine item and the report can show.
"""

from __future__ import annotations

from email.errors import HeaderParseError
from email.header import decode_header, make_header

from offlineimap_phantomfix.placeholder import substitute_for
from offlineimap_phantomfix.responses import FetchValue
from offlineimap_phantomfix.sanitize import clean_text
from offlineimap_phantomfix.verdicts import Original

_LIMIT = 998  # characters kept of any one field, as for a substitute notice's


def envelope_original(value: FetchValue, uid: int) -> Original | None:
    """Subject, sender and date of a parsed ENVELOPE, or None when it names none of them. An envelope that
    describes the server's substitute notice for ``uid`` (its Subject) says nothing of the lost mail."""
    if not isinstance(value, list) or len(value) < 3:
        return None
    found = Original(subject=_text(value[1]), sender=_sender(value[2]), date=_text(value[0]))
    if found.is_empty():
        return None
    if found.subject is not None:
        header = f"From: {found.sender or ''}\r\nSubject: {found.subject}\r\n\r\n".encode("utf-8", "replace")
        if substitute_for(header, uid) is not None:
            return None
    return found


def _text(value: FetchValue) -> str | None:
    """An nstring of the envelope, RFC 2047 encoded words decoded, cleaned; None when NIL or empty."""
    if not isinstance(value, bytes):
        return None
    raw = value.decode("utf-8", "replace")
    try:
        text = str(make_header(decode_header(raw)))
    except (HeaderParseError, ValueError, LookupError, UnicodeError, AssertionError):
        text = raw  # a malformed encoded word: kept as sent
    return clean_text(" ".join(text.split()), limit=_LIMIT) or None


def _sender(value: FetchValue) -> str | None:
    """The first address of the envelope's From list: ``Name <mailbox@host>``, or whichever part is there."""
    if not isinstance(value, list):
        return None
    for address in value:
        if not isinstance(address, list) or len(address) < 4:
            continue
        name, mailbox, host = _text(address[0]), _text(address[2]), _text(address[3])
        if mailbox is None or host is None:  # a group's start or end marker (RFC 3501)
            continue
        where = f"{mailbox}@{host}"
        return f"{name} <{where}>" if name else where
    return None
