"""``adopt``: find the substitute notices a stock sync stored in the Maildir as mail, and take them out safely.

The folders are walked the way offlineimap maps them, through offlineimap's own objects (see ``folders.py``;
one LIST on the server, then one STATUS for each folder with a notice, to compare its UIDVALIDITY; nothing
else is sent).

With ``yes`` each notice goes through these steps, in this order, under offlineimap's own account lock:

1. its bytes are delivered into the quarantine (unless an identical item is there already);
2. it is recorded in the skip list as ``placeholder``, keyed with the saved UIDVALIDITY;
3. its UID is removed from offlineimap's status for the folder;
4. its file is removed from the Maildir, unless its UID is back in the status.

Steps 3 and 4 run only while the lock file is still the one this process holds: a sync that slipped past
the lock (see :class:`AccountLock`) stops the run, and a rerun goes on from there.

Stopped anywhere, nothing is lost and a rerun finishes: before step 3 the UID is still in the status *and*
in the Maildir; between 3 and 4 the file is in the Maildir without a status entry, which offlineimap reads
as "on both sides already" (it puts the UID back into the status, it never uploads or deletes), and which a
rerun recognises by the record of step 2. A UID is never in the status while its file is gone, the state
offlineimap would turn into a deletion on the server.
"""

from __future__ import annotations

import os
import re
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from offlineimap_phantomfix import localstatus
from offlineimap_phantomfix.accountlock import AccountLock, account_lock, sync_started
from offlineimap_phantomfix.errors import ConfigError, PhantomFixError
from offlineimap_phantomfix.folders import MappedFolder, map_folders
from offlineimap_phantomfix.noticefile import read_notice, same_content_in
from offlineimap_phantomfix.placeholder import PlaceholderInfo
from offlineimap_phantomfix.quarantine import Quarantine
from offlineimap_phantomfix.sanitize import clean_text
from offlineimap_phantomfix.store import STORE_FILENAME, PhantomStore
from offlineimap_phantomfix.verdicts import MessageKey, PhantomAction, Verdict

if TYPE_CHECKING:
    from offlineimap_phantomfix.config import PhantomConfig
    from offlineimap_phantomfix.session import Session

__all__ = ["AdoptResult", "Found", "MappedFolder", "run_adopt"]

ADOPT_YES = "adopt --yes"
# Test-only: the name of a step after which ``adopt --yes`` stops and waits to be killed. Read here only.
PAUSE_ENV = "PHANTOMFIX_ADOPT_TEST_PAUSE"
STEPS = ("quarantined", "recorded", "status-removed", "file-removed")
SERVER_SAID = "found in the Maildir by adopt (a stock sync stored the server's notice as the mail)"


@dataclass
class Found:
    """One substitute notice in the Maildir."""

    folder: MappedFolder
    uid: int
    path: Path
    info: PlaceholderInfo
    content: bytes
    problem: str | None = None  # why it cannot be placed (then it is left alone)
    resumed: bool = False  # its UID is already out of the status: an earlier run stopped after step 3


@dataclass
class AdoptResult:
    account: str
    found: list[Found] = field(default_factory=list)
    moved: int = 0
    quarantine: Path | None = None

    @property
    def placeable(self) -> list[Found]:
        return [item for item in self.found if item.problem is None]


# --- walking the folders as offlineimap maps them ---------------------------------------------------------

def status_root(config: PhantomConfig, account: str) -> Path:
    return config.metadata_dir() / f"Account-{account}" / "LocalStatus-sqlite"


# --- finding the notices ----------------------------------------------------------------------------------

def find_notices(folders: list[MappedFolder], adopted: Callable[[MessageKey], bool],
                 key_for: Callable[[MappedFolder, int], MessageKey]) -> list[Found]:
    """Every substitute notice in these folders, with the reason it cannot be placed where there is one.

    ``adopted(key)`` says whether an earlier ``adopt --yes`` recorded that key already (a rerun then goes on
    with a notice whose UID it took out of the status before it stopped)."""
    found: list[Found] = []
    for folder in folders:
        status_uids: frozenset[int] | None = None
        status_read = False
        for uid, path in sorted(folder.messages.items()):
            try:
                hit = read_notice(path)
            except OSError:
                continue  # gone meanwhile, or unreadable: not ours to judge
            if hit is None:
                continue
            item = Found(folder, uid, Path(path), hit[0], hit[1])
            found.append(item)
            if uid < 0:
                item.problem = "the file name carries no UID of this folder (no U=, or another folder's FMD5)"
                continue
            if folder.uidvalidity is None:
                item.problem = "offlineimap has saved no UIDVALIDITY for this folder"
                continue
            if not status_read:
                status_uids, status_read = localstatus.read_uids(folder.status_file), True
            if status_uids is not None and uid in status_uids:
                continue
            if adopted(key_for(folder, uid)):
                item.resumed = True
            else:
                item.problem = "offlineimap's status for this folder does not know this UID"
    return found


def check_uidvalidity(session: Session, found: list[Found]) -> None:
    """Mark the notices of a folder whose UIDVALIDITY on the server is not the one offlineimap saved: their
    UIDs may name other messages now. One STATUS per such folder, read-only."""
    asked: dict[str, int | None] = {}
    for item in found:
        folder = item.folder
        if item.problem is not None:
            continue
        if folder.remote not in asked:
            asked[folder.remote] = _server_uidvalidity(session, folder.imap_name)
        if asked[folder.remote] is None:
            item.problem = "the server did not tell this folder's UIDVALIDITY (STATUS)"
        elif asked[folder.remote] != folder.uidvalidity:
            item.problem = "UIDVALIDITY changed on the server"


def _server_uidvalidity(session: Session, imap_name: str) -> int | None:
    imapobj = session.acquire()
    try:
        status, data = imapobj.status(imap_name, "(UIDVALIDITY)")
    except Exception:  # imaplib2's error or abort: the connection is not to be reused
        session.release(imapobj, broken=True)
        return None
    session.release(imapobj)
    words = b" ".join(part if isinstance(part, bytes) else str(part).encode() for part in data or [] if part)
    match = re.search(rb"\bUIDVALIDITY (\d+)", words, re.IGNORECASE)
    return int(match.group(1)) if status == "OK" and match else None


def describe(item: Found) -> str:
    """One line: folder, UID, what is known of the lost mail, the file."""
    original = item.info.original
    uid = f"UID {item.uid}" if item.uid > 0 else "no UID"
    parts = [f"{clean_text(item.folder.remote)} {uid}"]
    parts.append(f"subject {clean_text(original.subject, limit=200)!r}" if original.subject else "subject unknown")
    if original.sender:
        parts.append(f"from {clean_text(original.sender, limit=200)}")
    if original.date:
        parts.append(f"sent {clean_text(original.date, limit=80)}")
    parts.append(f"file {clean_text(str(item.path))}")
    return ", ".join(parts)


# --- moving them out --------------------------------------------------------------------------------------

def _pause(step: str) -> None:
    """Test-only: stop this process (SIGSTOP) after ``step``; a test resumes (SIGCONT) or kills it."""
    if os.environ.get(PAUSE_ENV) == step:
        sys.stderr.write(f"adopt: paused after {step}\n")
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGSTOP)


def _fsync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def move_out(item: Found, key: MessageKey, store: PhantomStore, quarantine: Path, box: Quarantine,
             lock: AccountLock) -> None:
    """The four steps for one notice (see the module docstring); each is skipped when already done.

    offlineimap's status and the Maildir are touched only while the lock file is still the one held; and
    the file is not removed when its UID is back in the status (a sync ran meanwhile: removing it now
    would make the next sync delete the message on the server)."""
    # Under its own name and in its own place (new/ or cur/): the flags stay, and the README's undo (copy it
    # back under that name) gives offlineimap its U= and FMD5= again, so nothing is uploaded.
    kept = same_content_in(quarantine, item.content) or box.deliver(
        key.account, item.content, keep_name=item.path.name, into=item.path.parent.name)
    _pause(STEPS[0])
    record = store.get(key)
    if record is None or record.verdict is not Verdict.PLACEHOLDER or not record.quarantine:
        store.record(key, Verdict.PLACEHOLDER, skipped=True, server_said=SERVER_SAID, quarantine=str(kept),
                     original=item.info.original, size=len(item.content))
    _pause(STEPS[1])
    if not item.resumed:
        lock.check()
        localstatus.remove_uid(item.folder.status_file, item.uid)
    _pause(STEPS[2])
    status = localstatus.read_uids(item.folder.status_file)
    lock.check()
    if status is not None and item.uid in status:
        raise PhantomFixError(sync_started(ADOPT_YES))
    try:
        item.path.unlink()
    except FileNotFoundError:
        pass
    _fsync_dir(item.path.parent)
    _pause(STEPS[3])


# --- the command ------------------------------------------------------------------------------------------

def run_adopt(config: PhantomConfig, account: str, *, folder: str | None, yes: bool,
              say: Callable[[str], None]) -> AdoptResult:
    """List (and with ``yes`` move out) the notices of one account; ``say`` gets each output line."""
    from offlineimap_phantomfix.config import PHANTOMSAFE_TYPES
    from offlineimap_phantomfix.session import open_session

    result = AdoptResult(account)
    if yes and config.remote_type(account) not in PHANTOMSAFE_TYPES:
        name, kind = config.remote_repository(account), config.remote_type(account)
        raise ConfigError(f"[Repository {name}] type = {kind or '(none)'}: the next sync would fetch the notices "
                          f"again; set type = PhantomSafe{kind if kind in ('IMAP', 'Gmail') else 'IMAP'} "
                          f"(and activate it, see 'offlineimap-phantomfix doctor') before adopt --yes")
    options = config.phantom_options(account)
    if options.action is PhantomAction.RETRY:
        if yes:
            raise ConfigError(f"[Repository {config.remote_repository(account)}] phantom_action = retry: every sync "
                              f"would fetch the adopted notices again and fail on them; set phantom_action = "
                              f"quarantine (the default) before adopt --yes")
        say(f"account {account}: phantom_action = retry, so adopt --yes refuses; set phantom_action = quarantine "
            f"first")
    if not status_root(config, account).is_dir():
        say(f"account {account}: offlineimap has not synced it yet ({status_root(config, account)} is missing); "
            f"nothing to adopt")
        return result
    state_dir = config.state_dir(account)
    with open_session(config, account, description="for adopt", real_metadata=True) as session:
        repository = session.repository.getname()

        def key_for(mapped: MappedFolder, uid: int) -> MessageKey:
            return MessageKey(account, repository, mapped.remote, int(mapped.uidvalidity or 0), uid)

        metadata = Path(session.account.getconfig().getmetadatadir())
        with account_lock(metadata, account, ADOPT_YES) if yes else nullcontext() as lock:
            with _store(state_dir, create=False) as existing:
                def adopted(key: MessageKey) -> bool:
                    record = existing.get(key) if existing is not None else None
                    return record is not None and record.verdict is Verdict.PLACEHOLDER and bool(record.quarantine)

                result.found = find_notices(map_folders(session, folder), adopted, key_for)
            check_uidvalidity(session, result.found)
            for item in result.found:
                say(("cannot place: " if item.problem else "notice: ") + describe(item)
                    + (f" ({item.problem}; left alone)" if item.problem else ""))
            if yes and result.placeable:
                box = Quarantine(state_dir / "quarantine")
                result.quarantine = box.maildir(account)
                with _store(state_dir, create=True) as store:
                    assert store is not None
                    assert lock is not None
                    for item in result.placeable:
                        move_out(item, key_for(item.folder, item.uid), store, result.quarantine,
                                 box, lock)
                        result.moved += 1
                        say(f"moved to the quarantine: {clean_text(item.folder.remote)} UID {item.uid}")
    say(_totals(result, yes=yes))
    return result


def _totals(result: AdoptResult, *, yes: bool) -> str:
    count = len(result.found)
    left = count - len(result.placeable)
    text = f"account {result.account}: {count} substitute notice{'s' if count != 1 else ''} in the Maildir"
    if left:
        text += f", {left} of them cannot be placed (left alone)"
    if yes:
        if result.moved:
            text += (f"; {result.moved} moved to the quarantine {result.quarantine} and recorded as skipped "
                     f"placeholders (see 'offlineimap-phantomfix report')")
        return text + "."
    if result.placeable:
        text += f"; run again with --yes to move {len(result.placeable)} to the quarantine"
    return text + " (dry run: nothing was changed)."


@contextmanager
def _store(directory: Path, *, create: bool) -> Iterator[PhantomStore | None]:
    """The skip list; without ``create`` only when it exists already (a dry run creates nothing)."""
    if not create and not (directory / STORE_FILENAME).is_file():
        yield None
        return
    store = PhantomStore(directory)
    try:
        yield store
    finally:
        store.close()
