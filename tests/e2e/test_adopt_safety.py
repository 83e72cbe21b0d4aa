"""``adopt --yes`` against syncs that run beside it, and what it keeps of each notice (real offlineimap,
the emulator). Builds on the archive of :mod:`tests.e2e.test_adopt`."""

from __future__ import annotations

import fcntl
import mailbox
import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from offlineimap_phantomfix.accountlock import sync_started
from offlineimap_phantomfix.testing import Fault
from offlineimap_phantomfix.testing.harness import (
    ACTIVATION_LINES,
    offlineimap_env,
    read_maildir,
    run_offlineimap,
    write_offlineimaprc,
)
from offlineimap_phantomfix.testing.messages import make_message
from offlineimap_phantomfix.testing.scenarios import healthy_mailbox

from .phantomsafe_helpers import sync
from .test_adopt import (
    Archive,
    build_archive,
    check_after_adoption,
    helper_command,
    notice_files,
    paused_adopt,
    server_changes,
    status_uids,
    tree,
)

pytestmark = pytest.mark.e2e


def on_disk(archive: Archive) -> set[tuple[str, int]]:
    return {(name, m.uid) for name, msgs in read_maildir(archive.setup.maildir).items() for m in msgs}


@pytest.mark.parametrize("step", ["quarantined", "status-removed"])
def test_a_sync_that_slips_past_the_lock_stops_adopt_and_nothing_is_lost(emulator: Any, tmp_path: Path,
                                                                         step: str) -> None:
    """offlineimap refused the lock still removes the lock file on its way out; the next one creates a new
    file, locks it and syncs while adopt is half-way. adopt must notice and stop, never leave a UID in the
    status whose file it removed (the next sync would delete that message on the server)."""
    archive = build_archive(emulator, tmp_path)
    archive.switch()
    fetched = {key: emulator.content_fetches(*key) for key in archive.phantoms}
    adopt = paused_adopt(archive, step)
    try:
        refused = run_offlineimap(archive.setup)
        assert "Could not lock account" in refused.output, refused.output
        beside = run_offlineimap(archive.setup)
        assert beside.returncode == 0 and "Could not lock" not in beside.output, beside.output
    finally:
        os.kill(adopt.pid, signal.SIGCONT)
    _, err = adopt.communicate(timeout=120)
    assert adopt.returncode == 1 and err == f"offlineimap-phantomfix: error: {sync_started('adopt --yes')}\n", err
    assert status_uids(archive.setup) <= on_disk(archive)
    after = sync(archive.setup)
    assert after.returncode == 0, after.output
    assert server_changes(emulator) == []
    done = archive.adopt("--yes")
    assert done.returncode == 0, done.stderr
    check_after_adoption(emulator, archive, fetched)


@pytest.mark.parametrize("kind", ["lockf", "flock"])
def test_adopt_refuses_either_kind_of_account_lock(emulator: Any, tmp_path: Path, kind: str) -> None:
    """offlineimap locks with lockf, or with flock when portalocker is importable (Debian ships it)."""
    archive = build_archive(emulator, tmp_path)
    archive.switch()
    lock_file = archive.setup.metadata / f"{archive.setup.account}.lock"
    with open(lock_file, "w") as lock:
        (fcntl.lockf if kind == "lockf" else fcntl.flock)(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        busy = archive.adopt("--yes")
    assert busy.returncode == 1 and "is being synced right now" in busy.stderr, busy.stderr
    assert len(on_disk(archive)) == 20 and status_uids(archive.setup) <= on_disk(archive)


def test_adopt_yes_refuses_phantom_action_retry_and_says_what_to_change(emulator: Any, tmp_path: Path) -> None:
    """With retry every later sync would fetch an adopted notice again and fail on it."""
    archive = build_archive(emulator, tmp_path)
    archive.options["remote"]["phantom_action"] = "retry"
    archive.switch()
    before = tree(tmp_path)
    dry = archive.adopt()
    assert dry.returncode == 0 and "phantom_action = retry, so adopt --yes refuses" in dry.stdout, dry.stdout
    refused = archive.adopt("--yes")
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1, refused.stderr
    assert "phantom_action = retry" in refused.stderr and "set phantom_action = quarantine" in refused.stderr
    assert tree(tmp_path) == before
    del archive.options["remote"]["phantom_action"]
    archive.switch()
    fetched = {key: emulator.content_fetches(*key) for key in archive.phantoms}
    done = archive.adopt("--yes")
    assert done.returncode == 0 and "recorded as skipped placeholders" in done.stdout, done.stderr
    check_after_adoption(emulator, archive, fetched)


def test_the_quarantine_keeps_each_notice_under_its_name_and_flags_and_copying_it_back_uploads_nothing(
        emulator: Any, tmp_path: Path) -> None:
    archive = build_archive(emulator, tmp_path)
    inbox_uid = next(uid for folder, uid in archive.phantoms if folder == "INBOX")
    emulator.set_flags("INBOX", inbox_uid, ["\\Seen", "\\Flagged", "\\Answered"])
    assert sync(archive.setup).returncode == 0  # still stock: the user's flags reach the stored notice
    originals = {path.name: (path.parent.name, path.read_bytes()) for path in notice_files(archive)}
    flagged = next(name for name in originals if name.endswith(":2,FRS"))
    assert originals[flagged][0] == "cur"
    archive.switch()
    assert archive.adopt("--yes").returncode == 0
    box = archive.setup.metadata / "phantomfix" / "quarantine" / archive.setup.account
    kept = {path.name: (path.parent.name, path.read_bytes()) for path in box.glob("*/*") if path.is_file()}
    assert kept == originals
    assert sorted(m.get_flags() for m in mailbox.Maildir(str(box), create=False)) == ["", "FRS"]
    assert sync(archive.setup).returncode == 0

    # The README's undo: copy the file back into its folder under the same name.
    shutil.copy2(box / "cur" / flagged, archive.setup.maildir / "INBOX" / "cur" / flagged)
    for _ in range(2):
        result = sync(archive.setup)
        assert result.returncode == 0, result.output
    assert server_changes(emulator) == [], "copying a notice back must not upload it"
    assert ("INBOX", inbox_uid) in status_uids(archive.setup)
    assert [m.uid for m in read_maildir(archive.setup.maildir)["INBOX"] if m.path.name == flagged] == [inbox_uid]
    assert len(emulator.messages("INBOX")) == 9


def test_a_folder_whose_uidvalidity_changed_on_the_server_is_left_alone(emulator: Any, tmp_path: Path) -> None:
    """offlineimap's saved UIDs no longer name the same messages: nothing of that folder may be adopted."""
    archive = build_archive(emulator, tmp_path)
    archive.switch()
    emulator.set_uidvalidity("INBOX", 4242)
    inbox = next(path for path in notice_files(archive) if path.parent.parent.name == "INBOX")
    for args in ((), ("--yes",)):
        result = archive.adopt(*args)
        assert result.returncode == 0, result.stderr
        cannot = [line for line in result.stdout.splitlines() if line.startswith("cannot place: ")]
        assert len(cannot) == 1 and cannot[0].startswith("cannot place: INBOX UID "), result.stdout
        assert "(UIDVALIDITY changed on the server; left alone)" in cannot[0]
    assert result.stdout.count("moved to the quarantine: Archive UID") == 1, result.stdout
    assert [path for path in notice_files(archive)] == [inbox]
    assert ("INBOX", int(inbox.name.split(",U=")[1].split(",")[0])) in status_uids(archive.setup)
    assert server_changes(emulator) == []


def test_doctor_counts_only_the_folders_adopt_walks(emulator: Any, tmp_path: Path) -> None:
    """A folder the local or the remote folderfilter now leaves out is not offlineimap's any more: adopt does
    not touch its notice, so doctor must not count it either."""
    healthy_mailbox(emulator, {"INBOX": 3, "Old": 2, "Junk": 2})
    for number, folder in enumerate(("INBOX", "Old", "Junk")):
        emulator.append(folder, make_message(900 + number, subject=f"Lost {folder}"), fault=Fault.PLACEHOLDER_PEEK)
    assert sync(write_offlineimaprc(tmp_path, port=emulator.port, repo_type="IMAP")).returncode == 0
    setup = write_offlineimaprc(tmp_path, port=emulator.port, repo_type="PhantomSafeIMAP",
                                pythonfile_lines=list(ACTIVATION_LINES),
                                remote_options={"folderfilter": "lambda f: f != 'Junk'"},
                                local_options={"folderfilter": "lambda f: f != 'Old'"})
    env = offlineimap_env(setup)
    dry = subprocess.run(helper_command(setup, "adopt"), capture_output=True, text=True, env=env, timeout=300)
    assert [line.split(",")[0] for line in dry.stdout.splitlines() if line.startswith("notice: ")] == \
        ["notice: INBOX UID 4"], dry.stdout
    doctor = subprocess.run(helper_command(setup, "doctor"), capture_output=True, text=True, env=env, timeout=300)
    assert ("warning account Test: Maildir: 1 substitute notice stored as mail in the Maildir (of 4 messages); "
            "see: offlineimap-phantomfix adopt --account Test") in doctor.stdout, doctor.stdout
