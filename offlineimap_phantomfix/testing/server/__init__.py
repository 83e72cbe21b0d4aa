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

The package follows the protocol's layers: ``wire`` (tokens, literals, dates, flags, message sets),
``structure`` (FETCH items, sections, ENVELOPE, BODYSTRUCTURE), ``search``, ``faults`` (what Exchange does
wrong and the words it says), ``model`` (messages, folders, the log), ``state`` (what all connections share),
``connection`` (reading commands, the mailbox view, dispatch), ``commands`` and ``selected`` (the commands),
``handler`` (the table of commands) and ``emulator`` (the listening server).
"""

from __future__ import annotations

from .emulator import EmulatorServer
from .faults import (
    BYE_DROPPED,
    BYE_TOO_MANY_ERRORS,
    EXPUNGEISSUED_TEXT,
    GREETING,
    REFUSED_BAD_TEXT,
    REFUSED_NO_TEXT,
    Fault,
)
from .handler import _Connection as _Connection  # tests patch its command table
from .model import LogEntry, StoredMessage
from .model import canonical_folder as canonical_folder

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
