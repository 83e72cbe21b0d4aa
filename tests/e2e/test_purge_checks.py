"""purge checks first: never a message the server delivers now, never one the local Maildir holds a copy of.

Each scenario runs real PhantomSafeIMAP syncs (the offlineimap program) and the helper command in-process.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from offlineimap_phantomfix.store import PhantomStore
from offlineimap_phantomfix.testing import Fault
from offlineimap_phantomfix.testing.harness import OfflineimapSetup, read_maildir
from offlineimap_phantomfix.testing.messages import make_message
from offlineimap_phantomfix.verdicts import MessageKey, Verdict

from .lifecycle_helpers import helper, state
from .phantomsafe_helpers import assert_mailbox_synced, phantomsafe_setup, records, sync

pytestmark = pytest.mark.e2e

CHANGES = {"STORE", "UID STORE", "EXPUNGE", "UID EXPUNGE", "COPY", "UID COPY", "APPEND", "MOVE", "UID MOVE"}


def _mailbox(emulator: Any, fault: Fault | None) -> int:
    emulator.append("INBOX", make_message(1))
    uid = emulator.append("INBOX", make_message(2, subject="Quarterly figures"), fault=fault)
    emulator.append("INBOX", make_message(3))
    return int(uid)


def _purge(setup: OfflineimapSetup, uid: int, *extra: str, folder: str = "INBOX") -> tuple[int, str, str]:
    return helper(setup, "purge", "--account", setup.account, "--folder", folder, "--uid", str(uid), *extra)


def _changes(emulator: Any) -> list[str]:
    return [entry.line for entry in emulator.log if entry.command in CHANGES]


def _assert_refused(setup: OfflineimapSetup, emulator: Any, uid: int, needle: str, folder: str = "INBOX") -> None:
    before = [(m.uid, frozenset(m.flags)) for m in emulator.messages("INBOX")]
    for extra in ((), ("--yes",)):
        status, out, err = _purge(setup, uid, *extra, folder=folder)
        assert status == 1, (out, err)
        assert needle in err and len(err.strip().splitlines()) == 1, err
        assert "Traceback" not in out + err
    assert _changes(emulator) == []
    assert [(m.uid, frozenset(m.flags)) for m in emulator.messages("INBOX")] == before


def test_repaired_phantom_is_never_purged_and_heals(emulator: Any, tmp_path: Path) -> None:
    """The issue's scenario: the report advised purge, the server repaired the message, the user follows the
    advice. purge refuses; the next sync fetches it; nothing is lost on either side."""
    uid = _mailbox(emulator, Fault.EMPTY)
    setup = phantomsafe_setup(tmp_path, emulator, remote_options={"phantom_retry_after": "1s"})
    assert sync(setup).returncode == 0
    time.sleep(1.2)
    assert sync(setup).returncode == 0  # found again: a confirmed phantom, and the report says purge
    assert "purge --account Test --folder INBOX" in helper(setup, "report")[1]

    emulator.set_fault("INBOX", uid, None)
    _assert_refused(setup, emulator, uid, "the server delivers it now (a fetch by sequence number)")

    time.sleep(1.2)
    assert sync(setup).returncode == 0
    assert_mailbox_synced(emulator, setup, missing=set())
    (record,) = records(setup)
    assert record.verdict is Verdict.RECOVERED and "purge" not in helper(setup, "report")[1]


def test_synced_message_that_turned_phantom_is_not_purged(emulator: Any, tmp_path: Path) -> None:
    uid = _mailbox(emulator, None)
    setup = phantomsafe_setup(tmp_path, emulator)
    assert sync(setup).returncode == 0
    assert uid in [m.uid for m in read_maildir(setup.maildir)["INBOX"]]
    emulator.set_fault("INBOX", uid, Fault.EMPTY)  # the server cannot deliver it any more; we have it
    _assert_refused(setup, emulator, uid, "the local Maildir holds a synced copy")
    assert sync(setup).returncode == 0
    assert_mailbox_synced(emulator, setup, missing=set())


def test_a_copy_under_an_earlier_uidvalidity_does_not_block(emulator: Any, tmp_path: Path) -> None:
    uid = _mailbox(emulator, None)
    setup = phantomsafe_setup(tmp_path, emulator)
    assert sync(setup).returncode == 0
    emulator.set_uidvalidity("INBOX", 2)  # the same UID number is another message now
    emulator.set_fault("INBOX", uid, Fault.EMPTY)
    status, out, err = _purge(setup, uid, "--yes")
    assert status == 0, (out, err)
    assert uid not in [m.uid for m in emulator.messages("INBOX")]


def test_purge_of_a_current_phantom_still_works(emulator: Any, tmp_path: Path) -> None:
    uid = _mailbox(emulator, Fault.PLACEHOLDER)
    setup = phantomsafe_setup(tmp_path, emulator)
    assert sync(setup).returncode == 0
    status, out, err = _purge(setup, uid)
    assert status == 0 and "would run: UID EXPUNGE" in out, (out, err)
    status, out, err = _purge(setup, uid, "--yes")
    assert status == 0 and "verified" in out, (out, err)
    assert [m.uid for m in emulator.messages("INBOX")] == [1, 3]


def test_inbox_is_matched_whatever_its_case(emulator: Any, tmp_path: Path) -> None:
    uid = _mailbox(emulator, Fault.EMPTY)
    setup = phantomsafe_setup(tmp_path, emulator)
    with PhantomStore(state(setup)) as store:  # recorded under a UIDVALIDITY the folder no longer has
        store.record(MessageKey("Test", "TestRemote", "INBOX", 7, uid), Verdict.EMPTY, skipped=True)
    status, out, _ = _purge(setup, uid, folder="Inbox")
    assert status == 0 and "would refuse: Inbox has UIDVALIDITY 1 now, but UID 2 was recorded under UIDVALIDITY 7" \
        in out, out
    status, out, err = _purge(setup, uid, "--yes", folder="Inbox")
    assert status == 1 and "recorded under UIDVALIDITY 7" in err and len(err.strip().splitlines()) == 1, err
    assert _changes(emulator) == []
