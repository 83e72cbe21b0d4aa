"""The checks an installed copy must pass: sync the emulator's phantom scenarios with the installed commands,
then ``report --json``, ``doctor`` and ``probe``. Used for pipx, the Debian package and its autopkgtest."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from offlineimap_phantomfix.testing import Fault
from offlineimap_phantomfix.testing.harness import (
    OfflineimapSetup,
    offlineimap_env,
    read_maildir,
    run_offlineimap,
    write_offlineimaprc,
)
from offlineimap_phantomfix.testing.scenarios import build_mixed_mailbox
from offlineimap_phantomfix.verdicts import Verdict

# One phantom of each kind that ends skipped, with the verdict it must get.
KINDS = {Fault.EMPTY: "empty", Fault.PLACEHOLDER: "placeholder", Fault.REFUSED_NO: "refused",
         Fault.DROPPED: "dropped"}
TOTAL = 24
# What a Debian user names in [general] pythonfile, and a PATH without any development environment.
ACTIVATE_FILE = "/usr/share/offlineimap-phantomfix/activate.py"
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
# The harness puts its own copy first on PYTHONPATH; an installed copy must work without it, and writes no
# byte code into system directories.
INSTALLED_ENV = {"PYTHONPATH": "", "PYTHONDONTWRITEBYTECODE": "1"}


@dataclass
class InstalledRun:
    setup: OfflineimapSetup
    phantoms: dict[int, Fault]


def phantomfix(setup: OfflineimapSetup, command: str, *args: str,
               env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """The installed helper command with ``-c <config> *args``, in the same environment as the sync."""
    return subprocess.run([command, "-c", str(setup.config), *args], capture_output=True, text=True,
                          env=offlineimap_env(setup, env), cwd=str(setup.workdir), timeout=300, check=False)


def check_sync_and_commands(emulator: Any, workdir: Path, *, offlineimap: Sequence[str], phantomfix_command: str,
                            pythonfile: str | None = None, env: Mapping[str, str] | None = None) -> InstalledRun:
    """Three syncs, then report --json, doctor and probe. The first records every phantom; the second fetches
    only those whose first verdict may be passing (a refusal, a dropped connection) and skips them from then
    on; the third fetches no phantom at all."""
    phantoms = build_mixed_mailbox(emulator, total=TOTAL, phantoms=len(KINDS), kinds=tuple(KINDS))
    general = {"pythonfile": pythonfile} if pythonfile else {}
    setup = write_offlineimaprc(workdir, port=emulator.port, user=emulator.user, password=emulator.password,
                                repo_type="PhantomSafeIMAP", general_options=general)
    run_env = {**INSTALLED_ENV, **(env or {})}

    first = run_offlineimap(setup, command=offlineimap, env=run_env)
    assert first.returncode == 0, first.output
    assert "Traceback" not in first.output, first.output
    local = read_maildir(setup.maildir)["INBOX"]
    assert len(local) == TOTAL - len(phantoms), first.output
    assert not any(b"Retrieval using the IMAP4 protocol failed" in message.raw for message in local)

    def fetches() -> dict[int, int]:
        return {uid: emulator.content_fetches("INBOX", uid) for uid in phantoms}

    first_fetches = fetches()
    second = run_offlineimap(setup, command=offlineimap, env=run_env)
    assert second.returncode == 0, second.output
    second_fetches = fetches()
    retried = {uid for uid in phantoms if second_fetches[uid] > first_fetches[uid]}
    assert retried == {uid for uid, fault in phantoms.items() if Verdict(KINDS[fault]).may_pass}, (
        f"tried again on the second sync: UIDs {sorted(retried)}")
    third = run_offlineimap(setup, command=offlineimap, env=run_env)
    assert third.returncode == 0, third.output
    assert fetches() == second_fetches, "a confirmed phantom was fetched again"

    report = phantomfix(setup, phantomfix_command, "report", "--json", env=run_env)
    assert report.returncode == 0, report.stderr
    messages = json.loads(report.stdout)["messages"]
    assert {m["uid"]: (m["verdict"], m["skipped"], m["attempts"]) for m in messages} == {
        uid: (KINDS[fault], True, 2 if Verdict(KINDS[fault]).may_pass else 1) for uid, fault in phantoms.items()}

    # With the pythonfile, doctor tries the first offlineimap on PATH; a wrapper user names the wrapper.
    named = [] if pythonfile else ["--offlineimap", offlineimap[0]]
    doctor = phantomfix(setup, phantomfix_command, "doctor", *named, env=run_env)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert f"ok      offlineimap program: {offlineimap[0]} (" in doctor.stdout, doctor.stdout
    assert "Traceback" not in doctor.stderr, doctor.stderr
    assert f"{setup.metadata / 'phantomfix' / 'phantoms.sqlite3'}: integrity ok, {len(phantoms)} records" \
        in doctor.stdout, doctor.stdout
    assert f"ok      account {setup.account}: type: [Repository {setup.account}Remote] type = PhantomSafeIMAP" \
        in doctor.stdout, doctor.stdout
    if pythonfile:
        assert f"ok      activation: [general] pythonfile {pythonfile} calls" in doctor.stdout, doctor.stdout

    refused = next(uid for uid, fault in phantoms.items() if fault is Fault.REFUSED_NO)
    probe = phantomfix(setup, phantomfix_command, "probe", "--account", setup.account, "--folder", "INBOX",
                       "--uid", str(refused), env=run_env)
    assert probe.returncode == 0, probe.stdout + probe.stderr
    assert probe.stdout.splitlines()[-1].startswith("verdict: refused: "), probe.stdout
    return InstalledRun(setup=setup, phantoms=phantoms)
