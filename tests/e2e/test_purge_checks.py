"""purge checks first: never a message the server delivers now, never one the local Maildir holds a copy of.

Each scenario runs real PhantomSafeIMAP syncs (the offlineimap program) and the helper command in-process.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from offlineimap_phantomfix import purge
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
    before = _server_state(emulator)
    for extra in ((), ("--yes",)):
        status, out, err = _purge(setup, uid, *extra, folder=folder)
        assert status == 1, (out, err)
        assert needle in err and len(err.strip().splitlines()) == 1, err
        assert "Traceback" not in out + err
    assert _changes(emulator) == []
    assert _server_state(emulator) == before


def _server_state(emulator: Any) -> list[tuple[str, int, frozenset[str]]]:
    return [(f, m.uid, frozenset(m.flags)) for f in emulator.folders() for m in emulator.messages(f)]


def test_repaired_phantom_is_never_purged_and_heals(emulator: Any, tmp_path: Path) -> None:
    """The issue's scenario: the report advised purge, the server repaired the message, the user follows the
    advice. purge refuses; the next sync fetches it; nothing is lost on either side."""
    uid = _mailbox(emulator, Fault.EMPTY)
    setup = phantomsafe_setup(tmp_path, emulator, remote_options={"phantom_retry_after": "1s"})
    assert sync(setup).returncode == 0
    time.sleep(1.2)
    assert sync(setup).returncode == 0  # found again: a confirmed phantom, and the report says purge
    assert "purge --account Test --folder INBOX" in helper(setup, "report", "--long")[1]

    emulator.set_fault("INBOX", uid, None)
    _assert_refused(setup, emulator, uid, "the server delivers it now (a fetch by sequence number)")

    time.sleep(1.2)
    assert sync(setup).returncode == 0
    assert_mailbox_synced(emulator, setup, missing=set())
    (record,) = records(setup)
    assert record.verdict is Verdict.RECOVERED and "purge" not in helper(setup, "report", "--long")[1]


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


@contextmanager
def _held_elsewhere(path: Path, kind: str) -> Iterator[None]:
    """The lock as another process holds it (lockf locks do not conflict within one process)."""
    code = (f"import fcntl, sys; f = open(sys.argv[1], 'w'); fcntl.{kind}(f, fcntl.LOCK_EX | fcntl.LOCK_NB); "
            "print('held', flush=True); sys.stdin.read()")
    holder = subprocess.Popen([sys.executable, "-c", code, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        yield
    finally:
        holder.communicate(timeout=30)


@pytest.mark.parametrize("kind", ["lockf", "flock"])
def test_purge_yes_runs_only_while_no_sync_does(emulator: Any, tmp_path: Path, kind: str) -> None:
    """A sync beside purge --yes could fetch the message between the checks and the expunge (a server that
    repaired it meanwhile), and the sync after would delete that copy. offlineimap locks its account with lockf,
    or with flock when portalocker is importable. A dry run changes nothing and needs no lock."""
    uid = _mailbox(emulator, Fault.PLACEHOLDER)
    setup = phantomsafe_setup(tmp_path, emulator)
    assert sync(setup).returncode == 0
    lock_file = setup.metadata / f"{setup.account}.lock"
    before = _server_state(emulator)
    with _held_elsewhere(lock_file, kind):
        status, out, err = _purge(setup, uid)
        assert status == 0 and "would run: UID EXPUNGE" in out, (out, err)
        status, out, err = _purge(setup, uid, "--yes")
        assert status == 1 and len(err.strip().splitlines()) == 1, (out, err)
        assert "is being synced right now" in err and "run purge --yes again" in err, err
    assert _changes(emulator) == [] and _server_state(emulator) == before
    assert lock_file.exists()
    status, out, err = _purge(setup, uid, "--yes")
    assert status == 0 and "verified" in out, (out, err)
    assert sync(setup).returncode == 0, "the lock was given back"


def test_a_sync_that_slips_past_purges_lock_stops_it_before_the_store(emulator: Any, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A refused offlineimap removes the lock file on its way out, so the next one locks a new file and syncs
    beside purge --yes. purge must notice before it flags anything."""
    uid = _mailbox(emulator, Fault.PLACEHOLDER)
    setup = phantomsafe_setup(tmp_path, emulator)
    assert sync(setup).returncode == 0
    lock_file = setup.metadata / f"{setup.account}.lock"
    listed = purge.uid_set

    def sync_slips_in_before_listing(imapobj: Any, *criteria: str) -> set[int]:
        if criteria == ("ALL",) and lock_file.exists():  # after every check, right before the STORE
            lock_file.unlink()
            lock_file.write_text("")  # the sync's own lock file
        return listed(imapobj, *criteria)

    monkeypatch.setattr(purge, "uid_set", sync_slips_in_before_listing)
    before = _server_state(emulator)
    status, out, err = _purge(setup, uid, "--yes")
    assert status == 1, (out, err)
    assert err == "offlineimap-phantomfix: error: a sync started; run purge --yes again when it ends\n", err
    assert _changes(emulator) == [] and _server_state(emulator) == before
    assert lock_file.exists(), "the sync's lock file is left alone"


def test_inbox_is_matched_whatever_its_case(emulator: Any, tmp_path: Path) -> None:
    uid = _mailbox(emulator, Fault.EMPTY)
    setup = phantomsafe_setup(tmp_path, emulator)
    with PhantomStore(state(setup)) as store:  # recorded under a UIDVALIDITY the folder no longer has
        store.record(MessageKey("Test", "TestRemote", "INBOX", 7, uid), Verdict.EMPTY, skipped=True)
    status, out, err = _purge(setup, uid, folder="Inbox")
    assert status == 1 and "would refuse: Inbox has UIDVALIDITY 1 now, but UID 2 was recorded under UIDVALIDITY 7" \
        in out, (out, err)
    status, out, err = _purge(setup, uid, "--yes", folder="Inbox")
    assert status == 1 and "recorded under UIDVALIDITY 7" in err and len(err.strip().splitlines()) == 1, err
    assert _changes(emulator) == []


# --- the local copy is found where offlineimap keeps it -----------------------------------------------------

@dataclass(frozen=True)
class Mapping:
    """A server folder, how offlineimap is told to name it locally, and the names that follow."""

    server: str  # the folder on the wire
    named: str  # offlineimap's name of it: what the report and purge --folder say
    local: str  # its Maildir folder, relative to localfolders
    remote_options: dict[str, str] = field(default_factory=dict)
    local_options: dict[str, str] = field(default_factory=dict)
    account_options: dict[str, str] = field(default_factory=dict)


MAPPINGS = {
    # remote nametrans alone; the server must not get a "Posteingang" folder, so no folder creation there
    "remote-nametrans": Mapping("INBOX", "INBOX", "Posteingang",
                                remote_options={"nametrans": "lambda f: {'INBOX': 'Posteingang'}.get(f, f)",
                                                "createfolders": "False"}),
    # one Maildir tree for several accounts: a prefix on the way in, taken off again by the local nametrans
    "prefix-both-ways": Mapping("Archive", "Archive", "Work.Archive",
                                remote_options={"nametrans": "lambda f: 'Work.' + f"},
                                local_options={"nametrans": "lambda f: re.sub(r'^Work\\.', '', f)"}),
    "nested-sep-slash": Mapping("Lists/python", "Lists/python", "Lists/python", local_options={"sep": "/"}),
    "utf8foldernames": Mapping("Entw&APw-rfe", "Entwürfe", "Entwürfe", account_options={"utf8foldernames": "yes"}),
    "modified-utf7": Mapping("Entw&APw-rfe", "Entw&APw-rfe", "Entw&APw-rfe"),
}


def _mapped_mailbox(emulator: Any, tmp_path: Path, mapping: Mapping) -> tuple[OfflineimapSetup, int, Path]:
    """Three messages in the mapped folder, synced by PhantomSafeIMAP; the middle one then turns phantom.
    Returns the setup, its UID and its local file."""
    emulator.add_folder(mapping.server)
    for number in (1, 2, 3):
        emulator.append(mapping.server, make_message(number, subject=f"Mapped {number}"))
    setup = phantomsafe_setup(tmp_path, emulator, remote_options=mapping.remote_options,
                              local_options=mapping.local_options, account_options=mapping.account_options)
    result = sync(setup)
    assert result.returncode == 0, result.output
    local = {m.uid: m.path for m in read_maildir(setup.maildir).get(mapping.local, [])}
    assert set(local) == {1, 2, 3}, f"expected the Maildir folder {mapping.local!r}: {read_maildir(setup.maildir)}"
    emulator.set_fault(mapping.server, 2, Fault.EMPTY)  # the server cannot deliver it any more; we have it
    return setup, 2, local[2]


def _files(root: Path) -> dict[str, bytes]:
    """Every file's content, but offlineimap's empty account lock file (``purge --yes`` and ``adopt --yes`` lock
    the account the way offlineimap does, and leave the file as offlineimap leaves it to a waiting sync)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not (p.suffix == ".lock" and p.stat().st_size == 0)}


@pytest.mark.parametrize("case", sorted(MAPPINGS))
def test_a_copy_under_offlineimaps_folder_mapping_is_found(emulator: Any, tmp_path: Path, case: str) -> None:
    mapping = MAPPINGS[case]
    setup, uid, path = _mapped_mailbox(emulator, tmp_path, mapping)
    content, before = path.read_bytes(), _files(tmp_path)
    _assert_refused(setup, emulator, uid, f"{mapping.named} UID {uid}: the local Maildir holds a synced copy",
                    folder=mapping.named)
    assert _files(tmp_path) == before, "a refused purge changed a file"
    assert sync(setup).returncode == 0
    assert path.read_bytes() == content and _changes(emulator) == []


def test_a_uid_in_offlineimaps_status_is_refused_though_its_file_is_gone(emulator: Any, tmp_path: Path) -> None:
    """The user deleted the local copy; offlineimap's status still holds the UID. purge refuses, and says the
    next sync propagates that deletion itself, which it then does."""
    mapping = MAPPINGS["remote-nametrans"]
    setup, uid, path = _mapped_mailbox(emulator, tmp_path, mapping)
    path.unlink()
    _assert_refused(setup, emulator, uid, "says it synced this message, whose local copy is gone; offlineimap "
                    "propagates a deletion either way: the next sync deletes it on the server itself",
                    folder=mapping.named)
    assert sync(setup).returncode == 0
    assert [m.uid for m in emulator.messages("INBOX")] == [1, 3]
    assert sum(entry.command in {"UID EXPUNGE", "EXPUNGE"} for entry in emulator.log) == 1


@pytest.mark.parametrize("side", ["remote", "local"])
def test_a_mapping_that_cannot_be_read_refuses(emulator: Any, tmp_path: Path, side: str) -> None:
    """The user's nametrans breaks after the sync (a typo): purge cannot tell where the copy is, so it refuses."""
    mapping = MAPPINGS["prefix-both-ways"]
    setup, uid, path = _mapped_mailbox(emulator, tmp_path, mapping)
    working, typo = {"remote": ("'Work.' + f", "'Work.' + undefined_name"),
                     "local": ("'', f)", "'', undefined_name)")}[side]
    text = setup.config.read_text(encoding="utf-8")
    assert text.count(working) == 1
    setup.config.write_text(text.replace(working, typo), encoding="utf-8")
    _assert_refused(setup, emulator, uid, "cannot tell which local folder offlineimap syncs it to (NameError: "
                    "name 'undefined_name' is not defined); nothing was changed", folder=mapping.named)
    assert path.is_file()


def test_a_local_repository_that_is_not_a_maildir_refuses(emulator: Any, tmp_path: Path) -> None:
    """offlineimap would propagate the deletion to an IMAP local repository too, and purge cannot read it."""
    uid = _mailbox(emulator, Fault.EMPTY)
    local = {"type": "IMAP", "remotehost": "127.0.0.1", "remoteport": str(emulator.port), "remoteuser": "user",
             "remotepass": "secret", "ssl": "no", "starttls": "no"}
    setup = phantomsafe_setup(tmp_path, emulator, local_options=local)
    (setup.metadata / f"Account-{setup.account}").mkdir(parents=True)  # as after a sync
    _assert_refused(setup, emulator, uid, "cannot tell which local folder offlineimap syncs it to (account 'Test': "
                    "the local repository is not a Maildir")


def test_a_folder_filtered_out_after_the_sync_still_counts(emulator: Any, tmp_path: Path) -> None:
    """offlineimap leaves the folder alone now, but its copy and status stay: once the filter is lifted again,
    a message deleted on the server meanwhile would be deleted locally."""
    mapping = MAPPINGS["prefix-both-ways"]
    setup, uid, path = _mapped_mailbox(emulator, tmp_path, mapping)
    phantomsafe_setup(tmp_path, emulator, remote_options={**mapping.remote_options,
                                                          "folderfilter": "lambda f: f != 'Archive'"},
                      local_options=mapping.local_options)
    assert "folderfilter" in setup.config.read_text(encoding="utf-8")
    _assert_refused(setup, emulator, uid, "the local Maildir holds a synced copy", folder=mapping.named)
    path.unlink()
    _assert_refused(setup, emulator, uid, "offlineimap propagates a deletion either way", folder=mapping.named)
