"""report, report --json, doctor, every --dry-run and purge without --yes change no file.

The whole work directory (configuration, metadata, state directory) is snapshotted before and after each
command, on a healthy, an empty, a damaged and a read-only store. The read-only store is made immutable
(``chattr +i``, which binds root as well) or, for another user, read-only by mode.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from offlineimap_phantomfix.store import STORE_FILENAME, PhantomStore
from offlineimap_phantomfix.testing import ACTIVATION_LINES, EmulatorServer, Fault, make_message, write_offlineimaprc
from offlineimap_phantomfix.testing.harness import OfflineimapSetup, offlineimap_env
from offlineimap_phantomfix.verdicts import MessageKey, Verdict

pytestmark = pytest.mark.e2e

TARGET = ["--account", "Test", "--folder", "INBOX", "--uid", "1"]
COMMANDS = {
    "report": ["report"],
    "report --json": ["report", "--json"],
    "report --account": ["report", "--account", "Test"],
    "doctor": ["doctor"],
    "clear --all --dry-run": ["clear", "--all", "--dry-run"],
    "clear one --dry-run": ["clear", *TARGET, "--dry-run"],
    "purge without --yes": ["purge", *TARGET],
}
KINDS = ("healthy", "empty", "damaged", "read-only")


def _snapshot(root: Path) -> dict[str, tuple[str, bytes, int]]:
    state: dict[str, tuple[str, bytes, int]] = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        kind = "dir" if path.is_dir() else "file"
        state[str(path.relative_to(root))] = (kind, path.read_bytes() if kind == "file" else b"", info.st_mode)
    return state


def _freeze(paths: list[Path], *, on: bool) -> None:
    if not paths:
        return
    if os.geteuid() == 0:
        if shutil.which("chattr") is None:
            pytest.skip("root needs chattr to make a store read-only")
        subprocess.run(["chattr", "+i" if on else "-i", *map(str, paths)], check=True)
    else:
        for path in paths:
            path.chmod((0o555 if path.is_dir() else 0o444) if on else (0o700 if path.is_dir() else 0o600))


@pytest.fixture
def store_of_kind(request: pytest.FixtureRequest, emulator: EmulatorServer, tmp_path: Path
                  ) -> Iterator[tuple[str, OfflineimapSetup]]:
    kind: str = request.param
    emulator.append("INBOX", make_message(1))
    emulator.set_fault("INBOX", 1, Fault.EMPTY)  # a current phantom: purge's own checks pass it on to its plan
    setup = write_offlineimaprc(tmp_path / "work", port=emulator.port, repo_type="PhantomSafeIMAP",
                                user=emulator.user, password=emulator.password,
                                pythonfile_lines=list(ACTIVATION_LINES))
    state = setup.metadata / "phantomfix"
    if kind in ("healthy", "read-only"):
        with PhantomStore(state) as store:
            for uid, verdict in ((1, Verdict.EMPTY), (7, Verdict.PLACEHOLDER), (9, Verdict.RECOVERED)):
                store.record(MessageKey("Test", "TestRemote", "INBOX", 1, uid), verdict,
                             skipped=verdict.is_phantom, recovered_by="retry" if uid == 9 else None)
    else:
        state.mkdir(parents=True, mode=0o700)
        (state / STORE_FILENAME).write_bytes(b"" if kind == "empty" else b"this is not SQLite " * 300)
        (state / STORE_FILENAME).chmod(0o600)
    frozen = [state / STORE_FILENAME, state] if kind == "read-only" else []
    _freeze(frozen, on=True)
    try:
        yield kind, setup
    finally:
        _freeze(frozen, on=False)


def _run(setup: OfflineimapSetup, argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "offlineimap_phantomfix", "-c", str(setup.config), *argv],
                          capture_output=True, text=True, env=offlineimap_env(setup), cwd=str(setup.workdir),
                          timeout=120, check=False)


@pytest.mark.parametrize("store_of_kind", KINDS, indirect=True)
def test_read_only_commands_change_no_file(store_of_kind: tuple[str, OfflineimapSetup],
                                           emulator: EmulatorServer) -> None:
    kind, setup = store_of_kind
    for name, argv in COMMANDS.items():
        before = _snapshot(setup.workdir)
        done = _run(setup, argv)
        assert _snapshot(setup.workdir) == before, f"{name} changed files"
        output = done.stdout + done.stderr
        assert "Traceback" not in output, (name, output)
        assert emulator.password not in output
        if kind == "read-only" and name == "doctor":  # true: the sync could not write there
            assert done.returncode == 1 and "the sync cannot record phantoms there" in done.stdout, output
            continue
        if kind != "damaged":
            assert done.returncode == 0, (name, output)
            continue
        assert done.returncode == 1, (name, output)
        assert "is damaged (file is not a database)" in output, (name, output)
        assert "'offlineimap-phantomfix clear --all', moves it aside" in output, (name, output)
    assert not [entry for entry in emulator.commands() if entry.command in ("SELECT", "STORE", "UID STORE",
                                                                            "EXPUNGE", "UID EXPUNGE")]


@pytest.mark.parametrize("store_of_kind", ["healthy", "read-only", "empty"], indirect=True)
def test_report_reads_what_is_there(store_of_kind: tuple[str, OfflineimapSetup]) -> None:
    kind, setup = store_of_kind
    done = _run(setup, ["report", "--json"])
    uids = sorted(message["uid"] for message in json.loads(done.stdout)["messages"])
    assert uids == ([] if kind == "empty" else [1, 7, 9])


@pytest.mark.parametrize("store_of_kind", ["damaged"], indirect=True)
def test_doctor_names_the_repair_and_the_repair_works(store_of_kind: tuple[str, OfflineimapSetup]) -> None:
    _, setup = store_of_kind
    doctor = _run(setup, ["doctor"])
    line = [text for text in doctor.stdout.splitlines() if text.startswith("error   account Test: store:")]
    assert len(line) == 1 and "offlineimap-phantomfix clear --all" in line[0], doctor.stdout
    repaired = _run(setup, ["clear", "--all"])
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "moved it to" in repaired.stderr  # the damaged file is kept, beside the new store
    state = setup.metadata / "phantomfix"
    assert len(list(state.glob(f"{STORE_FILENAME}.corrupt-*"))) == 1
    assert _run(setup, ["doctor"]).returncode == 0
