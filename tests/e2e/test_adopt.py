"""``adopt`` on an archive a stock offlineimap filled with substitute notices, then PhantomSafeIMAP syncs.

Real offlineimap (the installed one, or ``$PHANTOMFIX_OFFLINEIMAP``), the emulator with ``placeholder_peek``
faults (the server hands its notice over on BODY.PEEK[], so stock offlineimap files it as the mail).
"""

from __future__ import annotations

import fcntl
import json
import mailbox
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from offlineimap_phantomfix.adopt import PAUSE_ENV, STEPS
from offlineimap_phantomfix.placeholder import detect_placeholder
from offlineimap_phantomfix.testing import Fault
from offlineimap_phantomfix.testing.harness import (
    ACTIVATION_LINES,
    OfflineimapSetup,
    offlineimap_env,
    read_maildir,
    write_offlineimaprc,
)
from offlineimap_phantomfix.testing.messages import make_message
from offlineimap_phantomfix.testing.scenarios import healthy_mailbox

from .phantomsafe_helpers import assert_mailbox_synced, records, sync

pytestmark = pytest.mark.e2e

CHANGES = ("STORE", "UID STORE", "EXPUNGE", "UID EXPUNGE", "COPY", "UID COPY", "MOVE", "UID MOVE", "APPEND")
# Remote "Archive" is the local "Attic" (nametrans both ways); "Entw&APw-rfe" is "Entwürfe" (utf8foldernames).
NAMETRANS_REMOTE = {"nametrans": "lambda f: {'Archive': 'Attic'}.get(f, f)"}
NAMETRANS_LOCAL = {"nametrans": "lambda f: {'Attic': 'Archive'}.get(f, f)"}
FORWARDED = (
    b"From: Colleague <colleague@example.org>\r\nTo: user@example.org\r\n"
    b"Subject: Fwd: Retrieval using the IMAP4 protocol failed for the following message: 7\r\n"
    b"Date: Mon, 04 Mar 2024 10:00:00 +0000\r\nMessage-ID: <fwd-1@example.org>\r\n\r\n"
    b"Can you look at this? I got it this morning.\r\n\r\n"
    b"The server couldn't retrieve the following message:\r\n\r\nSubject: \"Minutes\"\r\n"
    b"The message hasn't been deleted.\r\n"
)


@dataclass
class Archive:
    setup: OfflineimapSetup
    phantoms: dict[tuple[str, int], str]  # (folder on the wire, uid) -> the lost mail's subject
    options: dict[str, dict[str, str]]
    local_of: dict[str, str]  # folder on the wire -> its Maildir folder
    named: dict[str, str]  # folder on the wire -> offlineimap's name for it (the skip list's)

    def switch(self, repo_type: str = "PhantomSafeIMAP") -> None:
        write_config(self.setup.workdir, self.setup.config, repo_type, self.options)

    def adopt(self, *args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(helper_command(self.setup, "adopt", *args), capture_output=True, text=True,
                              env=offlineimap_env(self.setup, env), timeout=300, check=False)


def helper_command(setup: OfflineimapSetup, *args: str) -> list[str]:
    return [sys.executable, "-m", "offlineimap_phantomfix", "-c", str(setup.config), *args]


def write_config(workdir: Path, _config: Path | None, repo_type: str,
                 options: dict[str, dict[str, str]]) -> OfflineimapSetup:
    return write_offlineimaprc(workdir, port=int(options["port"]["port"]), repo_type=repo_type,
                               remote_options=options["remote"], local_options=options["local"],
                               account_options=options["account"], pythonfile_lines=list(ACTIVATION_LINES))


def build_archive(emulator: Any, workdir: Path, *, utf8: bool = False, forwarded: bool = False,
                  account_options: dict[str, str] | None = None) -> Archive:
    """Healthy mail in three folders, a notice-on-PEEK phantom in two of them; one stock sync."""
    second = "Entw&APw-rfe" if utf8 else "Archive"
    healthy_mailbox(emulator, {"INBOX": 6, second: 5, "Sent": 3})
    phantoms: dict[tuple[str, int], str] = {}
    for number, folder in ((1, "INBOX"), (2, second)):
        subject = f"Lost mail number {number}"
        uid = emulator.append(folder, make_message(900 + number, subject=subject), fault=Fault.PLACEHOLDER_PEEK)
        phantoms[(folder, uid)] = subject
    healthy_mailbox(emulator, {"INBOX": 2, second: 2}, start=500)
    if forwarded:
        emulator.append("INBOX", FORWARDED)
    options: dict[str, dict[str, str]] = {
        "port": {"port": str(emulator.port)},
        "remote": {} if utf8 else dict(NAMETRANS_REMOTE),
        "local": {} if utf8 else dict(NAMETRANS_LOCAL),
        "account": dict({"utf8foldernames": "yes"} if utf8 else {}, **(account_options or {})),
    }
    setup = write_config(workdir, None, "IMAP", options)
    first = sync(setup)
    assert first.returncode == 0, first.output
    archive = Archive(setup, phantoms, options, {second: "Entwürfe" if utf8 else "Attic"},
                      {second: "Entwürfe"} if utf8 else {})
    assert len(notice_files(archive)) == 2, "the stock sync should have stored both notices as mail"
    return archive


def notice_files(archive: Archive) -> list[Path]:
    return [m.path for msgs in read_maildir(archive.setup.maildir).values() for m in msgs
            if detect_placeholder(m.raw) is not None]


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def status_db(setup: OfflineimapSetup) -> dict[str, list[tuple[Any, ...]]]:
    result = {}
    for path in sorted((setup.metadata / f"Account-{setup.account}" / "LocalStatus-sqlite").iterdir()):
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
            result[path.name] = sorted(connection.execute("SELECT id, flags FROM status"))
    return result


def status_uids(setup: OfflineimapSetup) -> set[tuple[str, int]]:
    return {(name, uid) for name, rows in status_db(setup).items() for uid, _ in rows}


def server_changes(emulator: Any) -> list[str]:
    return [entry.line for entry in emulator.log if entry.command in CHANGES]


class LocalView:
    """The emulator's folders under their Maildir names, for :func:`assert_mailbox_synced`."""

    def __init__(self, emulator: Any, local_of: dict[str, str]) -> None:
        self.emulator = emulator
        self.wire_of = {local: wire for wire, local in local_of.items()}
        self.local_of = local_of

    def folders(self) -> list[str]:
        return [self.local_of.get(wire, wire) for wire in self.emulator.folders()]

    def messages(self, folder: str) -> Any:
        return self.emulator.messages(self.wire_of.get(folder, folder))


def check_after_adoption(emulator: Any, archive: Archive, fetched_before: dict[tuple[str, int], int]) -> None:
    """Two PhantomSafeIMAP syncs; then the end state the issue asks for."""
    setup = archive.setup
    for _ in range(2):
        result = sync(setup)
        assert result.returncode == 0, result.output
    assert notice_files(archive) == []
    missing = {(archive.local_of.get(wire, wire), uid) for wire, uid in archive.phantoms}
    assert_mailbox_synced(LocalView(emulator, archive.local_of), setup, missing=missing)
    quarantine = mailbox.Maildir(str(setup.metadata / "phantomfix" / "quarantine" / setup.account), create=False)
    subjects = sorted(str(message["Subject"]) for message in quarantine)
    assert len(subjects) == 2 and all(s.startswith("Retrieval using the IMAP4 protocol failed") for s in subjects)
    report = subprocess.run(helper_command(setup, "report", "--json"), capture_output=True, text=True,
                            env=offlineimap_env(setup), timeout=120, check=True)
    listed = {(m["folder"], m["uid"]): m for m in json.loads(report.stdout)["messages"]}
    assert set(listed) == {(archive.named.get(wire, wire), uid) for wire, uid in archive.phantoms}
    for (wire, uid), subject in archive.phantoms.items():
        entry = listed[(archive.named.get(wire, wire), uid)]
        assert entry["verdict"] == "placeholder" and entry["skipped"] is True
        assert entry["original"]["subject"] == subject
        assert entry["uidvalidity"] == emulator.uidvalidity(wire)
        assert emulator.content_fetches(wire, uid) == fetched_before[(wire, uid)], f"{wire} {uid} fetched again"
    assert server_changes(emulator) == []


def test_adopt_moves_the_stock_notices_out_and_syncs_clean(emulator: Any, tmp_path: Path) -> None:
    archive = build_archive(emulator, tmp_path)
    archive.switch()
    before_tree, before_status = tree(tmp_path), status_db(archive.setup)
    doctor = subprocess.run(helper_command(archive.setup, "doctor"), capture_output=True, text=True,
                            env=offlineimap_env(archive.setup), timeout=120, check=False)
    assert doctor.returncode == 0, doctor.stdout
    assert ("warning account Test: Maildir: 2 substitute notices stored as mail in the Maildir (of 20 messages); "
            "see: offlineimap-phantomfix adopt --account Test") in doctor.stdout, doctor.stdout
    assert tree(tmp_path) == before_tree

    dry = archive.adopt()
    assert dry.returncode == 0, dry.stderr
    notices = [line for line in dry.stdout.splitlines() if line.startswith("notice: ")]
    assert len(notices) == 2, dry.stdout
    assert any("Archive UID" in line and "'Lost mail number 2'" in line and "/Attic/" in line for line in notices)
    assert "dry run: nothing was changed" in dry.stdout
    assert tree(tmp_path) == before_tree and status_db(archive.setup) == before_status

    fetched = {key: emulator.content_fetches(*key) for key in archive.phantoms}
    done = archive.adopt("--yes")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("moved to the quarantine: ") == 2, done.stdout
    assert not {(archive.local_of.get(wire, wire), uid) for wire, uid in archive.phantoms} & status_uids(archive.setup)
    assert [r.key.folder for r in records(archive.setup)] == sorted(folder for folder, _ in archive.phantoms)
    check_after_adoption(emulator, archive, fetched)

    before_tree = tree(tmp_path)
    again = archive.adopt()
    assert again.returncode == 0 and "0 substitute notices" in again.stdout, again.stdout
    assert tree(tmp_path) == before_tree, "a dry run with a skip list in place changed something"
    doctor = subprocess.run(helper_command(archive.setup, "doctor"), capture_output=True, text=True,
                            env=offlineimap_env(archive.setup), timeout=120, check=False)
    assert "ok      account Test: Maildir: no substitute notice" in doctor.stdout, doctor.stdout


@pytest.mark.skipif(not Path("/usr/bin/offlineimap").exists(), reason="Debian's offlineimap3 is not installed")
def test_adopt_non_ascii_folder_debian_offlineimap_forwarded_notice_stays(emulator: Any, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PHANTOMFIX_OFFLINEIMAP", "/usr/bin/offlineimap")
    archive = build_archive(emulator, tmp_path, utf8=True, forwarded=True)
    assert "Entwürfe" in read_maildir(archive.setup.maildir)
    archive.switch()
    before = tree(tmp_path)
    dry = archive.adopt("--account", archive.setup.account)
    assert dry.returncode == 0, dry.stderr
    assert tree(tmp_path) == before
    assert any(line.startswith("notice: Entwürfe UID") for line in dry.stdout.splitlines()), dry.stdout
    fetched = {key: emulator.content_fetches(*key) for key in archive.phantoms}
    assert archive.adopt("--yes").returncode == 0
    check_after_adoption(emulator, archive, fetched)
    forwarded = [m for m in read_maildir(archive.setup.maildir)["INBOX"] if b"Subject: Fwd: Retrieval" in m.raw]
    assert len(forwarded) == 1


def test_adopt_killed_at_every_step_then_rerun_ends_the_same(emulator: Any, tmp_path: Path) -> None:
    archive = build_archive(emulator, tmp_path)
    archive.switch()
    fetched = {key: emulator.content_fetches(*key) for key in archive.phantoms}
    files = {path.name for path in notice_files(archive)}
    for step in STEPS:
        killed_at(archive, step)
        # The state offlineimap turns into a server-side delete must never appear.
        on_disk = {(name, m.uid) for name, msgs in read_maildir(archive.setup.maildir).items() for m in msgs}
        status = status_uids(archive.setup)
        assert status <= on_disk, step
        if step == "status-removed":
            # A sync in between finds the file without a status entry: it must only put the UID back.
            result = sync(archive.setup)
            assert result.returncode == 0, result.output
            assert server_changes(emulator) == []
            assert status_uids(archive.setup) <= on_disk
    assert archive.adopt("--yes").returncode == 0
    assert {path.name for path in notice_files(archive)} & files == set()
    check_after_adoption(emulator, archive, fetched)


def paused_adopt(archive: Archive, step: str) -> subprocess.Popen[str]:
    """``adopt --yes`` stopped right after ``step`` of its first notice (it waits there to be killed or let go)."""
    process = subprocess.Popen(helper_command(archive.setup, "adopt", "--yes"), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True,
                               env=offlineimap_env(archive.setup, {PAUSE_ENV: step}))
    assert process.stderr is not None
    deadline = time.monotonic() + 120
    line = ""
    while time.monotonic() < deadline and process.poll() is None:
        line = process.stderr.readline()
        if f"paused after {step}" in line:
            break
    assert f"paused after {step}" in line, (process.poll(), line)
    return process


def killed_at(archive: Archive, step: str) -> None:
    process = paused_adopt(archive, step)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    process.communicate(timeout=30)


def test_adopt_yes_refuses_a_stock_repository_and_a_running_sync(emulator: Any, tmp_path: Path) -> None:
    archive = build_archive(emulator, tmp_path)
    before = tree(tmp_path)
    refused = archive.adopt("--yes")
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1 and "set type = PhantomSafeIMAP" in refused.stderr, refused.stderr
    assert tree(tmp_path) == before
    archive.switch()
    before = tree(tmp_path)
    lock_file = archive.setup.metadata / f"{archive.setup.account}.lock"
    with open(lock_file, "w") as lock:
        fcntl.lockf(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        busy = archive.adopt("--yes")
    assert busy.returncode == 1 and "is being synced right now" in busy.stderr, busy.stderr
    assert busy.stderr.count("\n") == 1
    lock_file.unlink()
    assert tree(tmp_path) == before


def test_adopt_lists_what_it_cannot_place_and_leaves_it(emulator: Any, tmp_path: Path) -> None:
    archive = build_archive(emulator, tmp_path)
    archive.switch()
    inbox, attic = (next(p for p in notice_files(archive) if f"/{name}/" in str(p)) for name in ("INBOX", "Attic"))
    # A copy without offlineimap's U= (a file a user put there), a UID the status does not know, and a
    # folder whose saved UIDVALIDITY is gone.
    (inbox.parent.parent / "cur" / "1700000000.copied.host:2,S").write_bytes(inbox.read_bytes())
    uid = int(str(inbox.name).split(",U=")[1].split(",")[0])
    with sqlite3.connect(archive.setup.metadata / "Account-Test" / "LocalStatus-sqlite" / "INBOX") as connection:
        connection.execute("DELETE FROM status WHERE id = ?", (uid,))
    (archive.setup.metadata / "Repository-TestRemote" / "FolderValidity" / "Archive").unlink()
    before = tree(tmp_path)
    for args in ((), ("--yes",)):
        result = archive.adopt(*args)
        assert result.returncode == 0, result.stderr
        cannot = [line for line in result.stdout.splitlines() if line.startswith("cannot place: ")]
        assert len(cannot) == 3, result.stdout
        assert any("INBOX no UID" in line and "no U=" in line for line in cannot)
        assert any(f"INBOX UID {uid}" in line and "does not know this UID" in line for line in cannot)
        assert any("Archive UID" in line and "no UIDVALIDITY" in line and str(attic) in line for line in cannot)
        assert "3 of them cannot be placed (left alone)" in result.stdout
    after = tree(tmp_path)
    after.pop("metadata/Test.lock")
    assert after == before


def test_adopt_with_maildir_windows_compatible_names(emulator: Any, tmp_path: Path) -> None:
    archive = build_archive(emulator, tmp_path, account_options={"maildir-windows-compatible": "yes"})
    names = [path.name for path in notice_files(archive)]
    assert all("!2," in name and ":" not in name for name in names), names
    archive.switch()
    fetched = {key: emulator.content_fetches(*key) for key in archive.phantoms}
    done = archive.adopt("--yes")
    assert done.returncode == 0 and done.stdout.count("moved to the quarantine: ") == 2, done.stdout + done.stderr
    for _ in range(2):
        assert sync(archive.setup).returncode == 0
    assert notice_files(archive) == []
    local = read_maildir(archive.setup.maildir)
    for wire in emulator.folders():
        expected = len(emulator.messages(wire)) - sum(1 for folder, _ in archive.phantoms if folder == wire)
        assert len(local[archive.local_of.get(wire, wire)]) == expected, wire
    assert {key: emulator.content_fetches(*key) for key in archive.phantoms} == fetched
    assert server_changes(emulator) == []


def test_a_skipped_phantom_is_logged_as_ignored_and_copy_ignore_eval_still_works(emulator: Any,
                                                                                  tmp_path: Path) -> None:
    healthy_mailbox(emulator, {"INBOX": 4})
    phantom = emulator.append("INBOX", make_message(77, subject="Lost"), fault=Fault.PLACEHOLDER)
    healthy_mailbox(emulator, {"INBOX": 2}, start=100)
    user_ignores = {"copy_ignore_eval": "lambda folder: [2] if folder == 'INBOX' else None"}
    setup = write_offlineimaprc(tmp_path, port=emulator.port, repo_type="PhantomSafeIMAP",
                                pythonfile_lines=list(ACTIVATION_LINES), remote_options=user_ignores)
    first = sync(setup)
    assert first.returncode == 0, first.output
    second = sync(setup)
    assert second.returncode == 0, second.output
    for result in (first, second):
        assert "IGNORED: Copy message UID 2 " in result.output, result.output
    assert f"IGNORED: Copy message UID {phantom} " in second.output, second.output
    assert not [line for line in second.output.splitlines() if line.startswith("Copy message UID ")], second.output
    local = {m.uid for m in read_maildir(setup.maildir)["INBOX"]}
    assert local == {1, 3, 4, 6, 7}


def test_adopt_follows_sep_and_a_local_folderfilter(emulator: Any, tmp_path: Path) -> None:
    """A nested folder ("Projects/2024" on the server, "Projects.2024" in the Maildir with the default
    sep) is adopted; a folder the local folderfilter now leaves out is not offlineimap's any more, and stays."""
    healthy_mailbox(emulator, {"INBOX": 3, "Projects/2024": 3, "Old": 2})
    nested = emulator.append("Projects/2024", make_message(901, subject="Nested lost"), fault=Fault.PLACEHOLDER_PEEK)
    emulator.append("Old", make_message(902, subject="Filtered lost"), fault=Fault.PLACEHOLDER_PEEK)
    setup = write_offlineimaprc(tmp_path, port=emulator.port, repo_type="IMAP")
    assert sync(setup).returncode == 0
    assert "Projects.2024" in read_maildir(setup.maildir)
    setup = write_offlineimaprc(tmp_path, port=emulator.port, repo_type="PhantomSafeIMAP",
                                pythonfile_lines=list(ACTIVATION_LINES),
                                local_options={"folderfilter": "lambda f: f != 'Old'"})
    done = subprocess.run(helper_command(setup, "adopt", "--yes"), capture_output=True, text=True,
                          env=offlineimap_env(setup), timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert [line.split(",")[0] for line in done.stdout.splitlines() if line.startswith("notice: ")] == \
        [f"notice: Projects/2024 UID {nested}"], done.stdout
    assert "/Projects.2024/cur/" in done.stdout or "/Projects.2024/new/" in done.stdout
    assert sync(setup).returncode == 0
    local = read_maildir(setup.maildir)
    assert [detect_placeholder(m.raw) is not None for m in local["Projects.2024"]] == [False] * 3
    assert sum(detect_placeholder(m.raw) is not None for m in local["Old"]) == 1
    assert server_changes(emulator) == []
