"""Shared steps of the PhantomSafeIMAP end-to-end tests: set up, sync, and check what landed where."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from offlineimap_phantomfix.store import PhantomStore
from offlineimap_phantomfix.testing.harness import (
    ACTIVATION_LINES,
    OfflineimapSetup,
    SyncResult,
    read_maildir,
    run_offlineimap,
    write_offlineimaprc,
)
from offlineimap_phantomfix.verdicts import PhantomRecord

ACTIVATION = list(ACTIVATION_LINES)
IMAP_TO_MAILDIR = {"\\Seen": "S", "\\Flagged": "F", "\\Answered": "R", "\\Draft": "D", "\\Deleted": "T"}


def phantomsafe_setup(workdir: Path, server: Any, *, maxconnections: int = 1,
                      remote_options: dict[str, str] | None = None, local_options: dict[str, str] | None = None,
                      account_options: dict[str, str] | None = None) -> OfflineimapSetup:
    return write_offlineimaprc(workdir, port=server.port, repo_type="PhantomSafeIMAP",
                               maxconnections=maxconnections, remote_options=remote_options or {},
                               local_options=local_options, account_options=account_options,
                               pythonfile_lines=ACTIVATION)


def sync(setup: OfflineimapSetup, *extra: str) -> SyncResult:
    result = run_offlineimap(setup, *extra)
    assert "Traceback" not in result.output, result.output
    return result


def records(setup: OfflineimapSetup) -> list[PhantomRecord]:
    directory = setup.metadata / "phantomfix"
    if not (directory / "phantoms.sqlite3").exists():
        return []
    with PhantomStore(directory) as store:
        return store.records()


def quarantine_item(record: PhantomRecord) -> EmailMessage:
    """The quarantine item a record names, parsed."""
    assert record.quarantine, f"UID {record.key.uid} has no quarantine item"
    message = email.message_from_bytes(Path(record.quarantine).read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def item_evidence(record: PhantomRecord) -> str:
    """The text of the ``evidence.txt`` attached to a record's quarantine item."""
    item = quarantine_item(record)
    part = next(part for part in item.iter_attachments() if part.get_filename() == "evidence.txt")
    text: str = part.get_content()
    return text


def normalized(raw: bytes) -> bytes:
    return raw.replace(b"\r\n", b"\n").rstrip(b"\n")


def maildir_flags(imap_flags: set[str]) -> str:
    return "".join(sorted(IMAP_TO_MAILDIR[f] for f in imap_flags if f in IMAP_TO_MAILDIR and f != "\\Deleted"))


def assert_mailbox_synced(server: Any, setup: OfflineimapSetup, *, missing: set[tuple[str, int]]) -> None:
    """Every server message except ``missing`` (folder, uid) is in the Maildir exactly once, flags equal;
    nothing else is there."""
    local = read_maildir(setup.maildir)
    for folder in server.folders():
        expected = sorted((normalized(m.raw), maildir_flags(set(m.flags))) for m in server.messages(folder)
                          if (folder, m.uid) not in missing)
        got = sorted((normalized(m.raw), "".join(sorted(m.flags))) for m in local.get(folder, []))
        assert len(got) == len(expected), f"{folder}: {len(got)} local messages, expected {len(expected)}"
        assert got == expected, f"{folder}: local messages differ from the server's"


def warning_lines(output: str) -> list[str]:
    """The one-line warnings a handled phantom produces (they end by pointing at the report)."""
    return [line for line in output.splitlines() if "phantomfix:" in line and "offlineimap-phantomfix report'" in line]
