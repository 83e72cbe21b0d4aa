"""Kill trials: 20 seeded SIGKILLs of a threaded sync (maxconnections = 3), then a normal sync.

The moments: spread over the run by the clock, and exact ones chosen through the ``pythonfile`` (code the test
adds after the activation lines, so the package itself has no hook): at the n-th command of a ladder, when a
quarantine item is written but not yet delivered, and just before or during the commit of a store write.
After each kill the store opens and passes its integrity check, every message file outside a Maildir's tmp/ is
complete, and one normal sync reaches the end state of a sync that was never interrupted.
"""

from __future__ import annotations

import contextlib
import email
import random
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from offlineimap_phantomfix.store import PhantomStore
from offlineimap_phantomfix.testing import EmulatorServer, Fault
from offlineimap_phantomfix.testing.harness import (
    OfflineimapSetup,
    offlineimap_command,
    offlineimap_env,
    read_maildir,
    write_offlineimaprc,
)
from offlineimap_phantomfix.testing.messages import make_message
from offlineimap_phantomfix.testing.scenarios import healthy_mailbox

from .phantomsafe_helpers import ACTIVATION, normalized, records, sync

pytestmark = [pytest.mark.e2e, pytest.mark.kill]

PHANTOMS = {
    "INBOX": (Fault.PLACEHOLDER, Fault.EMPTY, Fault.REFUSED_NO, Fault.DROPPED, Fault.SEQUENCE_ONLY, Fault.PLACEHOLDER),
    "Archive": (Fault.PLACEHOLDER_PEEK, Fault.REFUSED_BAD, Fault.EMPTY),
}

# Run in the offlineimap process (after the activation lines): SIGKILL itself at the chosen moment.
HOOK = '''
import os, signal, threading
from offlineimap_phantomfix import quarantine, recovery, store

KIND, AT, DELAY = {kind!r}, {at!r}, {delay!r}
_count = [0]
_lock = threading.Lock()


def _due():
    with _lock:
        _count[0] += 1
        return _count[0] == AT


def _die():
    os.kill(os.getpid(), signal.SIGKILL)


if KIND == "ladder":
    _ladder_run = recovery._Ladder._run

    def _run(self, call, **options):
        if _due():
            _die()
        return _ladder_run(self, call, **options)

    recovery._Ladder._run = _run
elif KIND == "quarantine":
    class _OsDyingOnRename:
        def __getattr__(self, name):
            return getattr(os, name)

        def rename(self, source, target):
            if _due():  # the item is written to tmp/ but not yet delivered to new/
                _die()
            return os.rename(source, target)

    quarantine.os = _OsDyingOnRename()
elif KIND == "store":
    _store_run = store.PhantomStore._run

    def _srun(self, operation, *, write):
        if not write:
            return _store_run(self, operation, write=write)

        def dying(connection):
            result = operation(connection)
            if _due():  # the rows are written, the transaction is not committed yet
                if DELAY:
                    threading.Timer(DELAY, _die).start()  # lands in or just after the COMMIT
                else:
                    _die()
            return result

        return _store_run(self, dying, write=write)

    store.PhantomStore._run = _srun
'''


def _plan() -> list[tuple[str, float, float]]:
    """(kind, at, delay) for the 20 trials; for "clock", ``at`` is the fraction of an uninterrupted run."""
    rng = random.Random(20)
    plan: list[tuple[str, float, float]] = [("clock", round(0.15 + 0.12 * i + rng.uniform(0, 0.05), 3), 0.0)
                                            for i in range(6)]
    plan += [("ladder", rng.randint(1, 12), 0.0) for _ in range(5)]
    plan += [("quarantine", i, 0.0) for i in (1, 2, 3, 4)]
    plan += [("store", rng.randint(1, 8), rng.choice((0.0, 0.0005, 0.002))) for _ in range(5)]
    return plan


PLAN = _plan()


def fill(server: EmulatorServer) -> None:
    healthy_mailbox(server, {"INBOX": 18, "Archive": 10})
    n = 900
    for folder, faults in PHANTOMS.items():
        for fault in faults:
            n += 1
            server.append(folder, make_message(n, subject=f"Phantom {n}"), fault=fault)
        healthy_mailbox(server, {folder: 4}, start=n + 50)
        n += 10


def setup_for(workdir: Path, server: EmulatorServer, hook: str | None = None) -> OfflineimapSetup:
    lines = [*ACTIVATION, *(hook.splitlines() if hook else [])]
    return write_offlineimaprc(workdir, port=server.port, repo_type="PhantomSafeIMAP", maxconnections=3,
                               pythonfile_lines=lines)


@dataclass(frozen=True)
class EndState:
    maildir: tuple[tuple[str, bytes, str], ...]
    records: tuple[tuple[str, int, str, bool], ...]  # folder, uid, verdict, quarantined
    skipped: dict[tuple[str, int], tuple[bool, int]]  # (folder, uid) -> (skipped, attempts)
    items: int


def end_state(setup: OfflineimapSetup) -> EndState:
    local = read_maildir(setup.maildir)
    maildir = tuple(sorted((name, normalized(m.raw), m.flags) for name, msgs in local.items() for m in msgs))
    found = records(setup)
    recs = tuple(sorted((r.key.folder, r.key.uid, r.verdict.value, r.quarantine is not None) for r in found))
    skipped = {(r.key.folder, r.key.uid): (r.skipped, r.attempts) for r in found}
    return EndState(maildir, recs, skipped, len(quarantine_items(setup)))


def quarantine_items(setup: OfflineimapSetup) -> list[Path]:
    root = setup.metadata / "phantomfix" / "quarantine"
    return [p for p in root.rglob("*") if p.is_file() and p.parent.name in ("cur", "new")]


def assert_nothing_partial(setup: OfflineimapSetup, server: EmulatorServer) -> None:
    """Every message file outside tmp/ is complete: a server message, a substitute, or a whole notice."""
    complete = {normalized(m.raw) for f in server.folders() for m in server.messages(f)}
    complete |= {normalized(m.substitute) for f in server.folders() for m in server.messages(f) if m.substitute}
    for name, msgs in read_maildir(setup.maildir).items():
        for m in msgs:
            assert normalized(m.raw) in complete, f"partial or foreign file in {name}: {m.path}"
    for path in quarantine_items(setup):
        raw = path.read_bytes()
        if normalized(raw) in complete:
            continue
        notice = email.message_from_bytes(raw)
        boundary = notice.get_boundary()
        assert boundary and raw.rstrip().endswith(f"--{boundary}--".encode()), f"partial quarantine item {path}"
    store_dir = setup.metadata / "phantomfix"
    if (store_dir / "phantoms.sqlite3").exists():
        with PhantomStore(store_dir) as store:
            assert store.check() == "ok"
            store.records()


@pytest.fixture(scope="module")
def reference(emulator_session: EmulatorServer, tmp_path_factory: Any) -> tuple[EndState, float]:
    emulator_session.reset()
    fill(emulator_session)
    setup = setup_for(tmp_path_factory.mktemp("reference"), emulator_session)
    started = time.monotonic()
    result = sync(setup)
    duration = time.monotonic() - started
    assert result.returncode == 0, result.output
    state = end_state(setup)
    assert state.items >= 4 and len(state.records) == 9, state.records
    return state, duration


def set_aside_empty_status_databases(setup: OfflineimapSetup) -> None:
    """offlineimap's own weak spot, not ours: killed between creating a folder's status database and creating
    its table, it leaves a file without a ``status`` table, and every later sync of that folder fails with "no
    such table: status" until the file is removed. Such a file holds nothing, so the trial does what its user
    would do: moves it aside (and checks that it really held no table)."""
    root = setup.metadata / f"Account-{setup.account}" / "LocalStatus-sqlite"
    for path in root.glob("*") if root.is_dir() else []:
        if not path.is_file() or path.name.endswith(("-journal", "-wal", "-shm")):
            continue
        with contextlib.closing(sqlite3.connect(path)) as connection:
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "status" not in tables:
            assert tables <= {"metadata"}, (path, tables)
            aside = setup.workdir / "empty-status-set-aside"
            aside.mkdir(exist_ok=True)
            path.rename(aside / path.name)


@pytest.mark.parametrize(("kind", "at", "delay"), PLAN, ids=[f"{k}-{a}-{d}" for k, a, d in PLAN])
def test_sigkill_then_a_normal_sync_reaches_the_uninterrupted_end_state(
        reference: tuple[EndState, float], emulator: EmulatorServer, tmp_path: Path, kind: str, at: float,
        delay: float) -> None:
    expected, duration = reference
    fill(emulator)
    flags_before = {(f, m.uid): m.flags for f in emulator.folders() for m in emulator.messages(f)}
    hook = None if kind == "clock" else HOOK.format(kind=kind, at=int(at), delay=delay)
    setup = setup_for(tmp_path, emulator, hook)
    args = [*offlineimap_command(), "-c", str(setup.config), "-o", "-u", "basic"]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               env=offlineimap_env(setup), cwd=str(setup.workdir))
    if kind == "clock":
        time.sleep(at * duration)
        process.send_signal(signal.SIGKILL)
    output = process.communicate(timeout=180)[0].decode("utf-8", "replace")
    if kind != "clock":
        assert process.returncode == -signal.SIGKILL, f"the kill point was never reached:\n{output}"
    assert "Traceback" not in output, output
    assert_nothing_partial(setup, emulator)
    set_aside_empty_status_databases(setup)

    resumed = sync(setup_for(tmp_path, emulator))
    assert resumed.returncode == 0, resumed.output
    assert_nothing_partial(setup, emulator)
    state = end_state(setup)
    assert state.maildir == expected.maildir
    assert state.records == expected.records
    for key, (skipped, attempts) in state.skipped.items():
        # A killed run that got as far as a refusal or drop counted as the first sync that saw it, so the
        # resumed sync may already be the confirming second one that skips it.
        assert skipped == expected.skipped[key][0] or attempts > expected.skipped[key][1], key
    assert Counter(p.parent.name for p in quarantine_items(setup)) == Counter({"new": expected.items})
    leftovers = [p for p in setup.workdir.rglob("*") if p.is_file() and p.parent.name != "tmp"
                 and (p.name.endswith(".tmp") or ".tmp." in p.name)]
    assert leftovers == []
    assert {(f, m.uid): m.flags for f in emulator.folders() for m in emulator.messages(f)} == flags_before
