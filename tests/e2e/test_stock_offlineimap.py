"""What stock offlineimap 8.0.3 (``type = IMAP``) really does against the emulator.

These tests pin observed behaviour: the healthy baseline (sync from and to the server) and, per fault, the
exit status, the key output line and what landed in the Maildir. They prove the emulator reproduces the
failures that offlineimap-phantomfix exists to fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from offlineimap_phantomfix.testing import (
    EmulatorServer,
    Fault,
    OfflineimapSetup,
    SyncResult,
    build_fault_scenario,
    healthy_mailbox,
    make_message,
    normalise_newlines,
    read_maildir,
    run_offlineimap,
    write_offlineimaprc,
)

pytestmark = pytest.mark.e2e

IMAP_TO_MAILDIR = {"\\Seen": "S", "\\Flagged": "F", "\\Answered": "R", "\\Draft": "D", "\\Deleted": "T"}
NO_UID = "ERROR: IMAP server 'TestRemote' does not have a message with UID '{uid}'"
EXCEPTIONS = "ERROR: Exceptions occurred during the run!"


def maildir_flags(imap_flags: set[str]) -> str:
    return "".join(sorted(IMAP_TO_MAILDIR[f] for f in imap_flags if f in IMAP_TO_MAILDIR))


def setup_for(server: EmulatorServer, workdir: Path, **kwargs: object) -> OfflineimapSetup:
    return write_offlineimaprc(workdir, port=server.port, maxconnections=1, **kwargs)  # type: ignore[arg-type]


def sync(setup: OfflineimapSetup) -> SyncResult:
    return run_offlineimap(setup, timeout=60)


def local_by_uid(setup: OfflineimapSetup, folder: str) -> dict[int | None, bytes]:
    return {m.uid: normalise_newlines(m.raw) for m in read_maildir(setup.maildir).get(folder, [])}


def assert_folder_matches(
    server: EmulatorServer, setup: OfflineimapSetup, folder: str, *, only: set[int] | None = None
) -> None:
    """The Maildir folder holds exactly the server's messages (or the UIDs in ``only``): bytes and flags."""
    local = {m.uid: m for m in read_maildir(setup.maildir).get(folder, [])}
    expected = {m.uid: m for m in server.messages(folder) if only is None or m.uid in only}
    assert sorted(uid for uid in local if uid is not None and (only is None or uid in only)) == sorted(
        expected
    ), folder
    for uid, msg in expected.items():
        got = local[uid]
        assert normalise_newlines(got.raw) == normalise_newlines(msg.raw), f"{folder} UID {uid} differs"
        assert got.flags == maildir_flags(msg.flags), f"{folder} UID {uid} flags"


# --- healthy baseline --------------------------------------------------------------------------------------


def test_healthy_mailbox_lands_complete_and_second_sync_is_a_no_op(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    uids = healthy_mailbox(emulator, {"INBOX": 14, "Archive": 10})
    setup = setup_for(emulator, tmp_path)

    first = sync(setup)
    assert first.returncode == 0, first.output
    assert "ERROR" not in first.output
    for folder in ("INBOX", "Archive"):
        assert_folder_matches(emulator, setup, folder)
    assert sum(len(v) for v in uids.values()) == 24
    for folder, folder_uids in uids.items():
        assert all(emulator.content_fetches(folder, uid) == 1 for uid in folder_uids)

    files_before = sorted(p.name for m in read_maildir(setup.maildir).values() for p in (x.path for x in m))
    fetches_before = len([e for e in emulator.log if e.content])
    second = sync(setup)
    assert second.returncode == 0, second.output
    assert "Copy message" not in second.output
    assert len([e for e in emulator.log if e.content]) == fetches_before
    assert emulator.commands("APPEND") == [] and emulator.commands("UID STORE") == []
    files_after = sorted(p.name for m in read_maildir(setup.maildir).values() for p in (x.path for x in m))
    assert files_after == files_before


def test_what_offlineimap_sends(emulator: EmulatorServer, tmp_path: Path) -> None:
    """The command shapes the emulator (and the phantom fix) must understand."""
    healthy_mailbox(emulator, {"INBOX": 3})
    result = sync(setup_for(emulator, tmp_path))
    assert result.returncode == 0, result.output
    lines = [e.line.split(" ", 1)[1] for e in emulator.log]
    assert "AUTHENTICATE PLAIN" in lines
    assert 'ID ("name" "OfflineIMAP" "version" "8.0.3")' in lines
    assert 'LIST "" ""' in lines and 'LIST "" "*"' in lines
    assert "EXAMINE INBOX" in lines
    assert "FETCH 1:* (FLAGS UID INTERNALDATE)" in lines
    assert [line for line in lines if line.startswith("UID FETCH")] == [
        f"UID FETCH {uid} (BODY.PEEK[])" for uid in (1, 2, 3)
    ]
    assert "NOOP" in lines  # a pooled connection is checked before every reuse


@pytest.mark.parametrize("uidplus", [True, False], ids=["uidplus", "no-uidplus"])
def test_local_messages_are_uploaded(emulator: EmulatorServer, tmp_path: Path, uidplus: bool) -> None:
    emulator.uidplus = uidplus
    healthy_mailbox(emulator, {"INBOX": 2})
    setup = setup_for(emulator, tmp_path)
    assert sync(setup).returncode == 0

    new_dir = setup.maildir / "INBOX" / "new"
    raw = make_message(77, subject="Written locally")
    (new_dir / "1700000000.local77.host").write_bytes(normalise_newlines(raw))
    result = sync(setup)
    assert result.returncode == 0, result.output
    assert len(emulator.commands("APPEND")) == 1
    stored = emulator.messages("INBOX")
    assert len(stored) == 3
    uploaded = stored[-1]
    body = normalise_newlines(uploaded.raw)
    if uidplus:
        assert body == normalise_newlines(raw)
        assert emulator.commands("UID SEARCH") == []
    else:
        # Without UIDPLUS offlineimap adds a random X-OfflineIMAP header and searches for it.
        assert b"X-OfflineIMAP: " in body
        (search,) = emulator.commands("UID SEARCH")
        assert "HEADER X-OfflineIMAP" in search.line
    local = {m.uid: m for m in read_maildir(setup.maildir)["INBOX"]}
    assert uploaded.uid in local, "the local file was renamed to the server's UID"
    # The local file keeps the bytes written locally (offlineimap adds X-OfflineIMAP to the upload only).
    assert normalise_newlines(local[uploaded.uid].raw) == normalise_newlines(raw)

    # A flag set locally goes up with UID STORE.
    path = local[uploaded.uid].path
    path.rename(path.with_name(path.name.split(":2,")[0] + ":2,F"))
    assert sync(setup).returncode == 0
    assert "\\Flagged" in emulator.messages("INBOX")[-1].flags
    assert any("+FLAGS" in e.line for e in emulator.commands("UID STORE"))


# --- faults ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    returncode: int
    line: str  # a line (substring) the output must contain; {uid} is the phantom's UID
    rest_of_folder_synced: bool  # False: the copy thread died at the phantom, later messages are missing
    phantom_stored: bool = False


STOCK = {
    Fault.EMPTY: Outcome(1, NO_UID, True),
    Fault.PLACEHOLDER: Outcome(1, NO_UID, True),
    Fault.SEQUENCE_ONLY: Outcome(1, NO_UID, True),
    Fault.SEQUENCE_WRONG: Outcome(1, NO_UID, True),
    # BODY[] NIL is dropped as an "unsolicited" bytes item; offlineimap never looks at the EXPUNGE.
    Fault.VANISH: Outcome(1, NO_UID, True),
    Fault.REFUSED_NO: Outcome(
        1,
        "ERROR: IMAP server 'TestRemote' failed to fetch messages UID '{uid}'. Server responded: NO "
        "[b'The requested message could not be converted to an RFC-822 compatible format.']",
        True,
    ),
    # A tagged BAD raises imaplib2's IMAP4.error, which nothing catches: the copy thread dies.
    Fault.REFUSED_BAD: Outcome(
        100, "UID command error: BAD [b'Command Argument Error. 11']. Data: b'", False
    ),
    # The BYE aborts the connection; the retry path's format string raises TypeError.
    Fault.DROPPED: Outcome(100, "TypeError: %d format: a real number is required, not str", False),
    # The substitute is taken for the mail: exit 0, nothing said.
    Fault.PLACEHOLDER_PEEK: Outcome(0, "*** Finished account 'Test'", True, phantom_stored=True),
}


@pytest.mark.parametrize("fault", list(STOCK), ids=[f.value for f in STOCK])
def test_stock_offlineimap_against_each_fault(emulator: EmulatorServer, tmp_path: Path, fault: Fault) -> None:
    expected = STOCK[fault]
    scenario = build_fault_scenario(emulator, fault)
    phantom = scenario.phantom_uid
    assert phantom is not None
    substitute = next(m.substitute for m in emulator.messages("INBOX") if m.uid == phantom)
    setup = setup_for(emulator, tmp_path)

    result = sync(setup)

    assert result.returncode == expected.returncode, result.output
    assert expected.line.format(uid=phantom) in result.output, result.output
    if expected.returncode != 0:
        assert EXCEPTIONS in result.output
    else:
        assert "ERROR" not in result.output and "WARNING" not in result.output
    if expected.returncode == 100:
        assert "Thread 'Copy message from TestRemote:INBOX' terminated with exception" in result.output

    # The other folder (synced first: folders go in name order) is always complete.
    assert scenario.second_folder is not None
    assert_folder_matches(emulator, setup, scenario.second_folder)

    before = {uid for uid in scenario.healthy_uids if uid < phantom}
    after = {uid for uid in scenario.healthy_uids if uid > phantom}
    assert before and after
    local = local_by_uid(setup, "INBOX")
    if expected.rest_of_folder_synced:
        assert_folder_matches(emulator, setup, "INBOX", only=before | after)
    else:
        assert_folder_matches(emulator, setup, "INBOX", only=before)
        assert not after & set(local), "messages after the phantom were not synced"

    assert set(local) <= before | after | {phantom}
    if expected.phantom_stored:
        # The bug we exist to fix: the Exchange notice sits in the Maildir as if it were the mail.
        assert substitute is not None
        assert local[phantom] == normalise_newlines(substitute)
        assert (
            b"Retrieval using the IMAP4 protocol failed for the following message:\n " + str(phantom).encode()
            in local[phantom]
        )
        assert b"From: Microsoft Exchange Server 2010" in local[phantom]
    else:
        assert phantom not in local
    assert emulator.content_fetches("INBOX", phantom) == 1


@pytest.mark.parametrize("fault", [Fault.EMPTY, Fault.REFUSED_NO], ids=["empty", "refused_no"])
def test_stock_offlineimap_retries_a_phantom_on_every_sync(
    emulator: EmulatorServer, tmp_path: Path, fault: Fault
) -> None:
    scenario = build_fault_scenario(emulator, fault, healthy=6)
    assert scenario.phantom_uid is not None
    setup = setup_for(emulator, tmp_path)
    assert sync(setup).returncode == 1
    again = sync(setup)
    assert again.returncode == 1, again.output
    assert "Copy message UID" in again.output and EXCEPTIONS in again.output
    assert emulator.content_fetches("INBOX", scenario.phantom_uid) == 2


def test_vanished_message_is_gone_on_the_next_sync(emulator: EmulatorServer, tmp_path: Path) -> None:
    scenario = build_fault_scenario(emulator, Fault.VANISH, healthy=6)
    assert scenario.phantom_uid is not None
    setup = setup_for(emulator, tmp_path)
    assert sync(setup).returncode == 1
    assert scenario.phantom_uid not in {m.uid for m in emulator.messages("INBOX")}
    again = sync(setup)
    assert again.returncode == 0, again.output
    assert emulator.content_fetches("INBOX", scenario.phantom_uid) == 1
    assert_folder_matches(emulator, setup, "INBOX")


@pytest.mark.parametrize("fault", [Fault.REFUSED_BAD, Fault.DROPPED], ids=["refused_bad", "dropped"])
def test_stock_offlineimap_never_gets_past_a_thread_killing_phantom(
    emulator: EmulatorServer, tmp_path: Path, fault: Fault
) -> None:
    scenario = build_fault_scenario(emulator, fault, healthy=6)
    phantom = scenario.phantom_uid
    assert phantom is not None
    setup = setup_for(emulator, tmp_path)
    assert sync(setup).returncode == 100
    again = sync(setup)
    assert again.returncode == 100, again.output
    local = local_by_uid(setup, "INBOX")
    assert not {uid for uid in scenario.healthy_uids if uid > phantom} & set(local)
