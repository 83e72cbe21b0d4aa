"""``offlineimap-phantomfix demo`` (``make demo``): the problem and the fix, side by side, in under a minute.

Everything happens on 127.0.0.1 in a temporary directory: the Exchange-behaviour emulator serves a mailbox
with a few kinds of phantom, stock offlineimap (``type = IMAP``) syncs it and fails, then the same mailbox is
synced again from scratch with ``type = PhantomSafeIMAP`` and succeeds; finally the report and the quarantine
are shown. Unlike the rest of :mod:`offlineimap_phantomfix.testing`, this module uses the package itself,
through the same public modules a user's own script would (config, store, report); it never calls the command
line back, so the command line can reach the demo without a circle.
"""

from __future__ import annotations

import mailbox
import re
import shlex
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from .harness import ACTIVATION_LINES, OfflineimapSetup, SyncResult, read_maildir, run_offlineimap, write_offlineimaprc
from .messages import make_message
from .scenarios import healthy_mailbox
from .server import EmulatorServer, Fault

__all__ = ["ACCOUNT", "HEADINGS", "DemoPhantom", "fill_mailbox", "run_demo"]

ACCOUNT = "Work"
ACTIVATION = list(ACTIVATION_LINES)
HEADINGS = (
    "1. The mailbox",
    "2. Stock offlineimap (type = IMAP)",
    "3. offlineimap with type = PhantomSafeIMAP",
    "4. The report",
    "5. The quarantine",
)
# Lines of a failing stock run worth showing (a traceback's inner lines are left out).
_FAILURE_MARKS = ("ERROR", "does not have a message", "Exceptions occurred", "terminated with exception",
                  "Error:", "failed to fetch")
_EXCERPT_LINES = 8


@dataclass(frozen=True)
class DemoPhantom:
    """One message the demo server lists but will not deliver properly."""

    folder: str
    uid: int
    fault: Fault
    subject: str


# (folder, fault, subject, how many healthy messages come before it in that folder)
_PHANTOMS = (
    ("INBOX", Fault.EMPTY, "Re: travel expenses for March", 6),
    ("INBOX", Fault.PLACEHOLDER, "Quarterly budget review - final figures", 11),
    ("INBOX", Fault.SEQUENCE_ONLY, "Minutes of the team meeting", 15),
    ("INBOX", Fault.DROPPED, "Scanned contract (signed)", 19),
    ("Archive", Fault.REFUSED_NO, "Invitation: project kick-off", 5),
    ("Archive", Fault.VANISH, "Your parcel is on its way", 9),
)
_HEALTHY = {"INBOX": 24, "Archive": 14, "Sent": 9}
# The verdict PhantomSafeIMAP reaches for each kind of phantom, in the words the report uses.
_VERDICT = {Fault.EMPTY: "empty", Fault.PLACEHOLDER: "placeholder", Fault.SEQUENCE_ONLY: "recovered",
            Fault.DROPPED: "dropped", Fault.REFUSED_NO: "refused", Fault.VANISH: "vanished"}
_HELPER_COMMAND = re.compile(r"\bofflineimap-phantomfix (probe|clear|purge) ")


def fill_mailbox(server: EmulatorServer) -> list[DemoPhantom]:
    """Put the demo mailbox on ``server`` (it should be freshly reset): 47 healthy messages in INBOX,
    Archive and Sent, and six phantoms among them. Deterministic."""
    phantoms: list[DemoPhantom] = []
    number = 1
    for folder, count in _HEALTHY.items():
        planned = sorted((before, fault, subject) for name, fault, subject, before in _PHANTOMS if name == folder)
        done = 0
        for before, fault, subject in [*planned, (count, None, "")]:
            if before > done:
                healthy_mailbox(server, {folder: before - done}, start=number)
                number += before - done
                done = before
            if fault is not None:
                uid = server.append(folder, make_message(number, subject=subject), fault=fault)
                phantoms.append(DemoPhantom(folder, uid, fault, subject))
                number += 1
    return phantoms


def _heading(out: TextIO, title: str) -> None:
    out.write(f"\n== {title} ==\n\n")


def _indent(out: TextIO, lines: list[str]) -> None:
    for line in lines:
        out.write(f"    {line}\n")


def _clean(line: str, limit: int = 170) -> str:
    from offlineimap_phantomfix.sanitize import clean_text

    return clean_text(line, limit=limit)


def _excerpt(result: SyncResult, marks: tuple[str, ...], limit: int = _EXCERPT_LINES) -> list[str]:
    lines = [_clean(line) for line in result.output.splitlines() if any(mark in line for mark in marks)]
    unique = list(dict.fromkeys(line for line in lines if line))
    if len(unique) > limit:
        return [*unique[:limit], f"... ({len(unique) - limit} more)"]
    return unique


def _local_count(setup: OfflineimapSetup) -> int:
    return sum(len(messages) for messages in read_maildir(setup.maildir).values())


def _reset_local_state(setup: OfflineimapSetup) -> None:
    shutil.rmtree(setup.maildir, ignore_errors=True)
    shutil.rmtree(setup.metadata, ignore_errors=True)


def _quarantine_dir(setup: OfflineimapSetup) -> Path:
    from offlineimap_phantomfix.quarantine import account_dir_name

    root = setup.metadata / "phantomfix" / "quarantine"
    preferred = root / account_dir_name(ACCOUNT)
    if preferred.is_dir() or not root.is_dir():
        return preferred
    candidates = sorted(path for path in root.iterdir() if (path / "cur").is_dir())
    return candidates[0] if candidates else preferred


def _quarantine_subjects(path: Path) -> list[str]:
    if not (path / "cur").is_dir():
        return []
    box = mailbox.Maildir(str(path), factory=None, create=False)
    return sorted(f"Subject: {_clean(str(message.get('Subject', '')))}" for message in box)


def _report(setup: OfflineimapSetup, out: TextIO) -> int:
    """What ``offlineimap-phantomfix -c CONFIG report`` prints, made the way a user's own script would:
    the config names the state directories, each store gives its records, :mod:`report` renders them."""
    from offlineimap_phantomfix.config import PhantomConfig
    from offlineimap_phantomfix.errors import PhantomFixError
    from offlineimap_phantomfix.report import PROGRAM, render_text
    from offlineimap_phantomfix.store import STORE_FILENAME, PhantomStore

    out.write(f"$ {PROGRAM} -c {setup.config} report\n\n")
    records = []
    try:
        for directory in PhantomConfig.load(setup.config).state_dirs():
            if (directory / STORE_FILENAME).is_file():
                with PhantomStore(directory) as store:
                    records.extend(store.records())
    except PhantomFixError as error:
        out.write(f"{PROGRAM}: error: {_clean(str(error))}\n")
        return 1
    # The next steps name the demo's own config, so that pasting one never reaches the reader's own account.
    config = shlex.quote(str(setup.config))
    out.write(_HELPER_COMMAND.sub(lambda found: f"{PROGRAM} -c {config} {found.group(1)} ",
                                  render_text(records)))  # it orders the records itself
    return 0


def run_demo(out: TextIO | None = None, *, keep: bool = False) -> int:
    """Run the demo, writing to ``out`` (stdout by default). Returns 0 when stock offlineimap failed on the
    phantoms and PhantomSafeIMAP synced the same mailbox with exit status 0, else 1."""
    stream = out if out is not None else sys.stdout
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="phantomfix-demo-"))
    server = EmulatorServer().start()
    try:
        return _run(server, workdir, stream, started, keep)
    finally:
        server.stop()
        if keep:
            stream.write(f"\nThe demo's files are kept in {workdir}\n")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def _run(server: EmulatorServer, workdir: Path, out: TextIO, started: float, keep: bool) -> int:
    out.write("offlineimap-phantomfix demo: an emulated Exchange server on 127.0.0.1, nothing leaves this "
              "machine.\n")

    _heading(out, HEADINGS[0])
    phantoms = fill_mailbox(server)
    total = sum(len(server.messages(folder)) for folder in server.folders())
    out.write(f"{total} messages in {', '.join(server.folders())}; {len(phantoms)} of them are phantoms "
              f"(listed by the server, but not delivered as asked), with the verdict each will get:\n")
    _indent(out, [f"{p.folder:<8} UID {p.uid:<3} {_VERDICT.get(p.fault, p.fault.value):<12} \"{p.subject}\""
                  for p in phantoms])

    _heading(out, HEADINGS[1])
    setup = write_offlineimaprc(workdir, port=server.port, user=server.user, password=server.password,
                                account=ACCOUNT, repo_type="IMAP")
    stock = run_offlineimap(setup, timeout=60)
    out.write(f"$ offlineimap -c {setup.config}\n")
    _indent(out, _excerpt(stock, _FAILURE_MARKS) or ["(no error lines)"])
    healthy = total - len(phantoms)
    stock_landed = _local_count(setup)
    out.write(f"exit status {stock.returncode}; {stock_landed} of the {healthy} healthy messages reached the "
              f"Maildir. The next sync fails the same way, forever.\n")

    _heading(out, HEADINGS[2])
    _reset_local_state(setup)
    server.reset()
    phantoms = fill_mailbox(server)
    setup = write_offlineimaprc(workdir, port=server.port, user=server.user, password=server.password,
                                account=ACCOUNT, repo_type="PhantomSafeIMAP", pythonfile_lines=ACTIVATION)
    out.write("Same mailbox, local state reset; the offlineimaprc now says type = PhantomSafeIMAP and its "
              "[general] pythonfile holds:\n")
    _indent(out, ACTIVATION)
    safe = run_offlineimap(setup, timeout=60)
    out.write(f"$ offlineimap -c {setup.config}\n")
    _indent(out, _excerpt(safe, ("phantomfix", "ERROR", "Traceback"), limit=12) or ["(no phantomfix lines)"])
    landed = _local_count(setup)
    out.write(f"exit status {safe.returncode}; {landed} messages reached the Maildir (every healthy one, and "
              f"what could be recovered). The phantoms are skipped on later syncs.\n")

    _heading(out, HEADINGS[3])
    report_status = _report(setup, out)

    _heading(out, HEADINGS[4])
    quarantine = _quarantine_dir(setup)
    subjects = _quarantine_subjects(quarantine)
    out.write(f"{len(subjects)} item(s) in the quarantine Maildir {quarantine}\n")
    _indent(out, subjects)
    out.write(f"Read them with:  mutt -f {quarantine}\n")
    out.write("(each item is named after the lost mail when its subject is known, and holds what the server "
              "said; Exchange's substitute notice is attached byte for byte)\n")
    if not keep:
        out.write("This directory is removed when the demo ends; 'offlineimap-phantomfix demo --keep' keeps it.\n")

    elapsed = time.monotonic() - started
    # offlineimap exits 0 even when it gives up on a whole account, so what landed counts too.
    success = stock.returncode != 0 and safe.returncode == 0 and landed >= healthy and report_status == 0
    out.write(f"\nDemo {'finished' if success else 'FAILED'} in {elapsed:.1f} s: stock offlineimap exit "
              f"status {stock.returncode}, PhantomSafeIMAP exit status {safe.returncode}.\n")
    if not success and safe.returncode != 0:
        out.write("PhantomSafeIMAP output (last lines):\n")
        _indent(out, [_clean(line, 200) for line in safe.output.splitlines()[-20:]])
    return 0 if success else 1
