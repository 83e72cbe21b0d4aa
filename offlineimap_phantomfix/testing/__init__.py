"""The Exchange-behaviour IMAP emulator, its scenarios, an offlineimap harness and a pytest plugin.

Self-contained: imports nothing of offlineimap and nothing else of offlineimap_phantomfix.
"""

from __future__ import annotations

from .harness import (
    ACTIVATION_LINES,
    LocalMessage,
    OfflineimapSetup,
    SyncResult,
    normalise_newlines,
    offlineimap_command,
    read_maildir,
    run_offlineimap,
    write_offlineimaprc,
)
from .messages import exchange_substitute, make_message, make_multipart_message
from .scenarios import Scenario, build_fault_scenario, build_mixed_mailbox, healthy_mailbox
from .server import (
    BYE_DROPPED,
    BYE_TOO_MANY_ERRORS,
    EXPUNGEISSUED_TEXT,
    REFUSED_BAD_TEXT,
    REFUSED_NO_TEXT,
    EmulatorServer,
    Fault,
    LogEntry,
    StoredMessage,
)

__all__ = [
    "ACTIVATION_LINES",
    "BYE_DROPPED",
    "BYE_TOO_MANY_ERRORS",
    "EXPUNGEISSUED_TEXT",
    "REFUSED_BAD_TEXT",
    "REFUSED_NO_TEXT",
    "EmulatorServer",
    "Fault",
    "LocalMessage",
    "LogEntry",
    "OfflineimapSetup",
    "Scenario",
    "StoredMessage",
    "SyncResult",
    "build_fault_scenario",
    "build_mixed_mailbox",
    "exchange_substitute",
    "healthy_mailbox",
    "make_message",
    "make_multipart_message",
    "normalise_newlines",
    "offlineimap_command",
    "read_maildir",
    "run_offlineimap",
    "write_offlineimaprc",
]
