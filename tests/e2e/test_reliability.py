"""PhantomSafeIMAP when things go wrong around it: a corrupt store, a killed sync, a concurrent CLI, hostile
server text. The real offlineimap against the emulator every time."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from offlineimap_phantomfix.cli import main as cli_main
from offlineimap_phantomfix.testing import Fault
from offlineimap_phantomfix.testing.harness import offlineimap_command, offlineimap_env, read_maildir
from offlineimap_phantomfix.testing.messages import make_message
from offlineimap_phantomfix.testing.scenarios import build_fault_scenario, build_mixed_mailbox, healthy_mailbox
from offlineimap_phantomfix.verdicts import Verdict

from .phantomsafe_helpers import assert_mailbox_synced, phantomsafe_setup, records, sync

pytestmark = pytest.mark.e2e


def test_corrupt_store_is_moved_aside_and_the_sync_goes_on(emulator: Any, tmp_path: Path) -> None:
    scenario = build_fault_scenario(emulator, Fault.EMPTY)
    setup = phantomsafe_setup(tmp_path, emulator)
    assert sync(setup).returncode == 0
    store_file = setup.metadata / "phantomfix" / "phantoms.sqlite3"
    store_file.write_bytes(b"this is not a database" * 100)

    result = sync(setup)
    assert result.returncode == 0, result.output
    moved = sorted(store_file.parent.glob("phantoms.sqlite3.corrupt-*"))
    assert len(moved) == 1 and moved[0].read_bytes().startswith(b"this is not a database")
    assert any("phantomfix:" in line and moved[0].name in line for line in result.output.splitlines())
    # The skip list was lost with the file: the phantom is found again, recorded anew, and the sync is whole.
    assert [(r.key.uid, r.verdict) for r in records(setup)] == [(scenario.phantom_uid, Verdict.EMPTY)]
    assert_mailbox_synced(emulator, setup, missing={(scenario.folder, scenario.phantom_uid or 0)})


def test_unusable_state_directory_costs_the_skip_list_not_the_sync(emulator: Any, tmp_path: Path) -> None:
    scenario = build_fault_scenario(emulator, Fault.REFUSED_NO)
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the state directory should be\n")
    setup = phantomsafe_setup(tmp_path / "sync", emulator, remote_options={"phantom_dir": str(blocker)})
    for _ in range(2):
        result = sync(setup)
        # The rest is synced, but a phantom that could not be recorded is an error, never a silent 0.
        assert result.returncode == 1, result.output
        assert "skip list unavailable" in result.output
        assert len(result.lines("[not recorded: the skip list is unavailable]")) == 2  # the line, then the recap
        assert_mailbox_synced(emulator, setup, missing={(scenario.folder, scenario.phantom_uid or 0)})
    assert blocker.read_text() == "a file where the state directory should be\n"


def test_kill_9_mid_sync_then_resync_is_whole(emulator: Any, tmp_path: Path) -> None:
    faults = build_mixed_mailbox(emulator, total=400, phantoms=4, kinds=[Fault.EMPTY, Fault.REFUSED_NO])
    setup = phantomsafe_setup(tmp_path, emulator, maxconnections=3)
    argv = [*offlineimap_command(), "-c", str(setup.config), "-o", "-u", "quiet"]
    env = offlineimap_env(setup)
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        landed = sum(len(v) for v in read_maildir(setup.maildir).values()) if setup.maildir.exists() else 0
        if landed >= 60:
            break
        time.sleep(0.05)
    assert process.poll() is None, "the sync finished before it could be killed; make the mailbox bigger"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()

    result = sync(setup)
    assert result.returncode == 0, result.output
    assert_mailbox_synced(emulator, setup, missing={("INBOX", uid) for uid in faults})
    assert sorted(r.key.uid for r in records(setup)) == sorted(faults)


def test_cli_clear_while_a_threaded_sync_runs(emulator: Any, tmp_path: Path) -> None:
    faults = build_mixed_mailbox(emulator, total=300, phantoms=12, kinds=[Fault.EMPTY, Fault.REFUSED_NO])
    setup = phantomsafe_setup(tmp_path, emulator, maxconnections=3)
    argv = [*offlineimap_command(), "-c", str(setup.config), "-o", "-u", "basic"]
    env = offlineimap_env(setup)
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    clears = 0
    clear = [sys.executable, "-m", "offlineimap_phantomfix", "-c", str(setup.config), "clear", "--all"]
    while process.poll() is None and clears < 200:
        done = subprocess.run(clear, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        clears += 1
    output = process.communicate(timeout=120)[0].decode("utf-8", "replace")
    assert process.returncode == 0, output
    assert "locked" not in output and "Traceback" not in output
    assert clears >= 1
    assert_mailbox_synced(emulator, setup, missing={("INBOX", uid) for uid in faults})


def test_hostile_server_text_never_reaches_the_terminal(emulator: Any, tmp_path: Path, capsys: Any) -> None:
    emulator.add_folder("INBOX")
    hostile = "Invoice \x1b[2J\x1b]0;pwned\x07 due \u202etxt.exe"
    uid = emulator.append("INBOX", make_message(1, subject=hostile), fault=Fault.PLACEHOLDER)
    healthy_mailbox(emulator, {"INBOX": 3}, start=10)
    setup = phantomsafe_setup(tmp_path, emulator)
    result = sync(setup)
    assert result.returncode == 0, result.output
    assert "\x1b" not in result.output and "\u202e" not in result.output
    (record,) = records(setup)
    assert record.key.uid == uid and record.verdict is Verdict.PLACEHOLDER
    report_file = setup.metadata / "phantomfix" / "report-Test.txt"
    for text in (report_file.read_text(encoding="utf-8"),):
        assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
        assert "Invoice" in text
    assert cli_main(["-c", str(setup.config), "report"]) == 0
    shown = capsys.readouterr().out
    assert "Invoice" in shown and "\x1b" not in shown and "\u202e" not in shown
    quarantine = setup.metadata / "phantomfix" / "quarantine" / "Test"
    items = list((quarantine / "new").iterdir())
    assert len(items) == 1 and all(ch.isalnum() or ch in "._-" for ch in items[0].name)
