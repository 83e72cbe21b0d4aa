"""The helper command after real PhantomSafeIMAP syncs against the emulator: report, clear, quarantine."""

from __future__ import annotations

import contextlib
import io
import json
import mailbox
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from offlineimap_phantomfix import cli
from offlineimap_phantomfix.testing import Fault
from offlineimap_phantomfix.testing.harness import (
    ACTIVATION_LINES,
    OfflineimapSetup,
    SyncResult,
    run_offlineimap,
    write_offlineimaprc,
)
from offlineimap_phantomfix.testing.messages import make_message
from offlineimap_phantomfix.testing.scenarios import healthy_mailbox

pytestmark = pytest.mark.e2e

ACCOUNT = "Work"
ACTIVATION = list(ACTIVATION_LINES)
LOST_SUBJECT = "Quarterly budget review final figures"
# (folder, fault, subject) of each phantom, placed between healthy messages
PHANTOMS = (
    ("INBOX", Fault.EMPTY, "Travel expenses for March"),
    ("INBOX", Fault.PLACEHOLDER, LOST_SUBJECT),
    ("INBOX", Fault.REFUSED_NO, "Invitation to the kick-off"),
    ("Archive", Fault.DROPPED, "Scanned contract"),
    ("Archive", Fault.VANISH, "Your parcel is on its way"),
)
VERDICTS = {Fault.EMPTY: "empty", Fault.PLACEHOLDER: "placeholder", Fault.REFUSED_NO: "refused",
            Fault.DROPPED: "dropped", Fault.VANISH: "vanished"}


@dataclass
class Synced:
    setup: OfflineimapSetup
    phantoms: dict[tuple[str, int], Fault]
    first: SyncResult

    @property
    def state(self) -> Path:
        return self.setup.metadata / "phantomfix"

    def helper(self, *argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = cli.main(["-c", str(self.setup.config), *argv])
        return status, out.getvalue(), err.getvalue()

    def report(self) -> list[dict[str, Any]]:
        status, out, err = self.helper("report", "--json")
        assert status == 0, err
        messages: list[dict[str, Any]] = json.loads(out)["messages"]
        return messages


def fill(server: Any) -> dict[tuple[str, int], Fault]:
    phantoms: dict[tuple[str, int], Fault] = {}
    number = 1
    for folder, fault, subject in PHANTOMS:
        healthy_mailbox(server, {folder: 3}, start=number)
        number += 3
        uid = server.append(folder, make_message(number, subject=subject), fault=fault)
        number += 1
        phantoms[(folder, uid)] = fault
    healthy_mailbox(server, {"INBOX": 3, "Archive": 3}, start=number)
    return phantoms


def sync(setup: OfflineimapSetup) -> SyncResult:
    result = run_offlineimap(setup, timeout=120)
    assert "Traceback" not in result.output, result.output
    assert result.returncode == 0, result.output
    return result


@pytest.fixture
def synced(emulator: Any, tmp_path: Path) -> Synced:
    phantoms = fill(emulator)
    setup = write_offlineimaprc(tmp_path / "sync", port=emulator.port, user=emulator.user,
                                password=emulator.password, account=ACCOUNT, repo_type="PhantomSafeIMAP",
                                pythonfile_lines=ACTIVATION)
    first = sync(setup)
    sync(setup)  # a refusal or a drop is retried once before it is skipped
    return Synced(setup, phantoms, first)


def test_report_lists_exactly_the_recorded_phantoms(synced: Synced) -> None:
    messages = synced.report()
    got = {(m["folder"], m["uid"]): m["verdict"] for m in messages}
    assert got == {key: VERDICTS[fault] for key, fault in synced.phantoms.items()}
    for message in messages:
        assert message["account"] == ACCOUNT
        assert message["skipped"] is (message["verdict"] != "vanished")
        assert message["attempts"] == (2 if message["verdict"] in ("refused", "dropped") else 1)
        if message["verdict"] == "vanished":
            assert message["quarantine"] is None
        else:
            assert message["quarantine"] and Path(message["quarantine"]).is_file()
    placeholder = next(m for m in messages if m["verdict"] == "placeholder")
    assert placeholder["original"] is not None
    assert placeholder["original"]["subject"] == LOST_SUBJECT
    # the others' from the ENVELOPE the server sent with their metadata
    subjects = {(folder, fault): subject for folder, fault, subject in PHANTOMS}
    for message in messages:
        if message["verdict"] != "vanished":
            fault = synced.phantoms[message["folder"], message["uid"]]
            assert message["original"]["subject"] == subjects[message["folder"], fault], message

    status, text, _ = synced.helper("report")
    assert status == 0
    for folder, uid in synced.phantoms:
        assert folder in text and str(uid) in text
    # the sync itself wrote the account's report file
    report_file = synced.state / f"report-{ACCOUNT}.txt"
    assert report_file.is_file()
    assert oct(report_file.stat().st_mode & 0o777) == oct(0o600)
    assert str(next(uid for (_, uid), fault in synced.phantoms.items() if fault is Fault.PLACEHOLDER)) \
        in report_file.read_text(encoding="utf-8")

    # --new: everything once, then nothing
    status, first, _ = synced.helper("report", "--new", "--json")
    assert status == 0 and len(json.loads(first)["messages"]) == len(synced.phantoms)
    assert synced.helper("report", "--new") == (0, "", "")


def test_clear_one_uid_fetches_that_uid_again_and_only_that_one(synced: Synced, emulator: Any) -> None:
    before = {key: emulator.content_fetches(*key) for key in synced.phantoms}
    target = next(key for key, fault in synced.phantoms.items() if fault is Fault.EMPTY)
    folder, uid = target

    # a second sync without clearing fetches none of the phantoms
    sync(synced.setup)
    assert {key: emulator.content_fetches(*key) for key in synced.phantoms} == before

    status, out, err = synced.helper("clear", "--account", ACCOUNT, "--folder", folder, "--uid", str(uid))
    assert status == 0, err
    assert out.splitlines()[-1].startswith("1 entry cleared")
    assert target not in {(m["folder"], m["uid"]) for m in synced.report()}

    sync(synced.setup)
    after = {key: emulator.content_fetches(*key) for key in synced.phantoms}
    assert after[target] > before[target]
    assert {k: v for k, v in after.items() if k != target} == {k: v for k, v in before.items() if k != target}
    # fetched again, still a phantom: recorded (and skipped) again
    again = {(m["folder"], m["uid"]): m for m in synced.report()}
    assert again[target]["verdict"] == "empty" and again[target]["skipped"] is True


def test_quarantine_is_a_maildir_that_notmuch_indexes(synced: Synced, tmp_path: Path) -> None:
    quarantine_root = synced.state / "quarantine"
    maildir_path = quarantine_root / ACCOUNT
    box = mailbox.Maildir(str(maildir_path), factory=None, create=False)
    items = list(box)
    quarantined = [key for key, fault in synced.phantoms.items() if fault is not Fault.VANISH]
    assert len(items) == len(quarantined)
    subjects = sorted(" ".join(str(item["Subject"]).split()) for item in items)
    assert all(subject.startswith("[phantom] ") for subject in subjects), subjects
    placeholder_uid = next(uid for (_, uid), fault in synced.phantoms.items() if fault is Fault.PLACEHOLDER)
    assert [subject for subject in subjects if LOST_SUBJECT in subject] == [
        f"[phantom] {LOST_SUBJECT} (INBOX UID {placeholder_uid}, placeholder)"]
    for item in items:
        assert item["Date"] and item["X-Phantomfix-UID"], item.as_string()[:500]
    recorded_files = {Path(m["quarantine"]).resolve() for m in synced.report() if m["quarantine"]}
    on_disk = {path.resolve() for sub in ("new", "cur") for path in (maildir_path / sub).iterdir()}
    assert recorded_files == on_disk
    assert all(b"\r" not in path.read_bytes() for path in on_disk)  # LF, as Mutt expects of a Maildir file

    notmuch = shutil.which("notmuch")
    if notmuch is None:
        pytest.fail("notmuch is not installed (make test installs Debian's notmuch)")
    home = tmp_path / "home"
    database = tmp_path / "notmuch-db"
    home.mkdir()
    database.mkdir()
    config = home / ".notmuch-config"
    config.write_text(f"[database]\npath={database}\nmail_root={quarantine_root}\n"
                      "[user]\nname=Test User\nprimary_email=user@example.org\n"
                      "[new]\ntags=new\n[maildir]\nsynchronize_flags=false\n", encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if not key.startswith("NOTMUCH_")}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_DATA_HOME=str(home / ".local/share"))

    def run(*args: str) -> str:
        done = subprocess.run([notmuch, f"--config={config}", *args], capture_output=True, text=True, env=env,
                              timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout

    run("new")
    found = run("search", "--output=files", f'"{LOST_SUBJECT}"').split()
    placeholder_record = next(m for m in synced.report() if m["verdict"] == "placeholder")
    assert [Path(path).resolve() for path in found] == [Path(placeholder_record["quarantine"]).resolve()]
    assert run("count", "*").strip() == str(len(quarantined))
    index = run("search", "--output=summary", "*")  # notmuch's index lines name the lost mail
    assert f"[phantom] {LOST_SUBJECT} (INBOX UID" in index, index
    assert not (maildir_path / ".notmuch").exists()  # the quarantine itself is left as it was
