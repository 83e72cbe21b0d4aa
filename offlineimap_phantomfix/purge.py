"""``purge``: delete one message on the server, and only that one, and only while it is a phantom.

First, read-only: the fallback ladder a sync runs must still fail to deliver the message, and offlineimap must
not have synced it: no copy in the Maildir folder offlineimap pairs with the server folder, no row in its
status for that folder (the next sync would delete the copy, or has a deletion to propagate anyway); else, or
when that pairing cannot be read, ``purge`` refuses.

The manual way (``STORE +FLAGS (\\Deleted)`` then a bare ``EXPUNGE``) also expunges every other message that
happens to carry ``\\Deleted`` in that folder. Here:

- without ``yes``: a read-only connection (EXAMINE) checks the UID is there and says what would be done;
- with ``yes``, under offlineimap's account lock (no sync may fetch the message between the checks and the
  expunge): SELECT, check the UID is there and, when the store recorded this message, that UIDVALIDITY
  is still the recorded one (else refuse: the UID may now name another message); then
  ``UID STORE n +FLAGS.SILENT (\\Deleted)`` and ``UID EXPUNGE n`` (UIDPLUS). Without UIDPLUS, refuse when any
  other message is ``\\Deleted`` (a plain EXPUNGE would remove it too); otherwise STORE, check again, then a
  plain EXPUNGE. Afterwards ``UID SEARCH ALL`` before/after must differ by exactly UID n, and the record is
  marked purged.
"""

from __future__ import annotations

import os
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from offlineimap_phantomfix import localstatus
from offlineimap_phantomfix.accountlock import AccountLock, account_lock
from offlineimap_phantomfix.errors import NotFoundError, PhantomFixError, ServerError, UnsafeOperationError
from offlineimap_phantomfix.folders import MappedFolder, map_folders
from offlineimap_phantomfix.imapconn import PoolSource, accepts_like_offlineimap, imap_call
from offlineimap_phantomfix.localcopy import canonical_folder, find_synced_copy
from offlineimap_phantomfix.recovery import (
    STEP_SEQUENCE,
    STEP_UID,
    ConnectionDropped,
    run_ladder,
)
from offlineimap_phantomfix.responses import value_text
from offlineimap_phantomfix.sanitize import clean_text
from offlineimap_phantomfix.session import (
    FolderState,
    Session,
    locate,
    open_session,
    select_folder,
    uid_set,
)
from offlineimap_phantomfix.store import STORE_FILENAME
from offlineimap_phantomfix.verdicts import PhantomRecord, Verdict

if TYPE_CHECKING:
    from offlineimap_phantomfix.config import PhantomConfig

__all__ = ["PurgeResult", "run_purge"]

PURGE_YES = "purge --yes"


@dataclass
class PurgeResult:
    """What was (or would be) done, one line each; ``done`` when the message was deleted and verified."""

    lines: list[str]
    done: bool
    transcript: str = field(default="", repr=False)  # the redacted IMAP session, for the curious


def _records(config: PhantomConfig, account: str, folder: str, uid: int) -> list[PhantomRecord]:
    """What the store knows of this message (under the account's remote repository); [] when no store."""
    directory = config.state_dir(account)
    if not (directory / STORE_FILENAME).is_file():
        return []
    from offlineimap_phantomfix.store_readonly import open_readonly

    repository = config.remote_repository(account)
    with open_readonly(directory) as store:
        return [r for r in store.records(account=account, uid=uid)
                if r.key.repository == repository and canonical_folder(r.key.folder) == canonical_folder(folder)]


def _describe_record(record: PhantomRecord) -> str:
    text = (f"recorded by the sync as {record.verdict.value} under UIDVALIDITY {record.key.uidvalidity} "
            f"(last seen {record.last_seen:%Y-%m-%d %H:%M} UTC")
    original = record.original
    if original is not None and original.subject:
        text += f"; lost mail {clean_text(original.subject, limit=120)!r}"
    if record.purged:
        text += "; already marked purged"
    return text + ")"


def _check_uidvalidity(records: list[PhantomRecord], state: FolderState, uid: int, folder: str) -> str | None:
    """None when safe; else why not (records exist, but none under the folder's current UIDVALIDITY)."""
    if not records or state.uidvalidity is None:
        return None
    if any(r.key.uidvalidity == state.uidvalidity for r in records):
        return None
    recorded = ", ".join(sorted({str(r.key.uidvalidity) for r in records}))
    return (f"{folder} has UIDVALIDITY {state.uidvalidity} now, but UID {uid} was recorded under UIDVALIDITY "
            f"{recorded}: UID {uid} may name a different message now; check it with 'probe', and "
            f"'clear' the old record if it is stale")


def _target_line(folder: str, uid: int, state: FolderState, found: Any) -> str:
    flags = value_text(found.attributes.get("FLAGS")) if "FLAGS" in found.attributes else "(unknown)"
    where = f"message {found.msn} of {state.exists}" if found.msn else "listed"
    return f"{folder} UID {uid}: {where}, flags {flags}, UIDVALIDITY {state.uidvalidity}"


def _locate_or_fail(session: Session, imapobj: Any, folder: str, uid: int, state: FolderState) -> Any:
    try:
        found = locate(imapobj, uid)
    except ConnectionDropped as error:
        raise ServerError(f"{session.where} closed the connection while looking for UID {uid}: {error}") from None
    if found is None:
        raise NotFoundError(f"no message with UID {uid} in folder {folder!r} on {session.where} "
                            f"(UIDVALIDITY {state.uidvalidity}, {state.exists} messages)")
    return found


def _checked(session: Session, imapobj: Any, what: str, method: str, *args: str) -> tuple[str, list[Any]]:
    """Run a command that must succeed; failures become ServerError naming the command and server words."""
    try:
        typ, data = imap_call(imapobj, method, *args)
    except ConnectionDropped as error:
        raise ServerError(f"{what}: {session.where} closed the connection ({error}); check the folder with "
                          f"'probe' before trying again") from None
    if typ != "OK":
        words = session.transcript.last_failure() or clean_text(
            " ".join(x.decode("utf-8", "replace") for x in data if isinstance(x, bytes)), limit=200)
        raise ServerError(f"{what} failed: {words}")
    return typ, data


def _check_still_a_phantom(session: Session, folder: str, uid: int) -> None:
    """Before anything is changed: the read-only ladder (as ``probe`` runs it) must still fail to deliver the
    message, and offlineimap must not have synced it (see :func:`_check_not_synced`)."""
    imapobj = session.acquire()
    try:
        state = select_folder(session, imapobj, folder, readonly=True)
        _locate_or_fail(session, imapobj, folder, uid, state)
    finally:
        session.release(imapobj)  # the ladder takes its own connections (maxconnections may be 1)
    _check_not_synced(session, folder, uid, state.uidvalidity)  # first: a nametrans that raises stops here
    accept = accepts_like_offlineimap(session.repository.getfolder(folder, decode=False))
    outcome = run_ladder(PoolSource(session.server, state.mailbox), uid, accept=accept)
    nothing = "nothing was changed"
    if outcome.verdict is Verdict.RECOVERED:
        how = _HOW.get(outcome.recovered_by or "", "a fallback fetch")
        raise UnsafeOperationError(f"refusing to purge {folder} UID {uid}: the server delivers it now ({how}), so "
                                   f"it is no phantom; the next sync fetches it ({nothing})")
    if outcome.verdict is Verdict.VANISHED:
        raise NotFoundError(f"UID {uid} is no longer in folder {folder!r} on {session.where} ({nothing})")


def _check_not_synced(session: Session, folder: str, uid: int, uidvalidity: int | None) -> None:
    """offlineimap must not have synced this UID under the folder's current UIDVALIDITY: no file of it in the
    Maildir folder offlineimap pairs with ``folder``, and no row for it in offlineimap's status of that folder
    (deleting it on the server would make the next sync delete the local copy). When the pairing cannot be
    read, refuse: doubt keeps the mail. Without offlineimap's account directory (never synced with this
    ``metadata``) there is no status, and a sync deletes no local file without its status row."""
    if not os.path.isdir(session.account.getaccountmeta()):
        return  # offlineimap has never synced this account here: no status, so no deletion to propagate
    refuse, nothing = f"refusing to purge {folder} UID {uid}", "nothing was changed"
    found: list[tuple[MappedFolder, Path | None, frozenset[int] | None]] = []
    try:
        for mapped in map_folders(session, folder, unsynced=True):
            if canonical_folder(mapped.remote) != canonical_folder(folder):
                continue  # matched by its local name only: another server folder's
            copy = find_synced_copy(mapped.maildir, mapped.fmd5, uid) if mapped.maildir is not None else None
            found.append((mapped, copy, localstatus.read_uids(mapped.status_file)))
        if not found:
            raise NotFoundError(f"the server does not list {folder!r}")
    except Exception as error:  # the user's nametrans or folderfilter code may raise anything
        words = str(error) if isinstance(error, PhantomFixError) else f"{type(error).__name__}: {error}"
        raise UnsafeOperationError(f"{refuse}: cannot tell which local folder offlineimap syncs it to "
                                   f"({clean_text(words, limit=300)}); {nothing}") from None
    for mapped, copy, status in found:
        if mapped.uidvalidity is not None and uidvalidity is not None and mapped.uidvalidity != uidvalidity:
            continue  # offlineimap's copy and status are of an earlier UIDVALIDITY: another message
        if copy is not None:
            raise UnsafeOperationError(
                f"{refuse}: the local Maildir holds a synced copy ({copy}); deleting it on the server would make "
                f"the next sync delete that copy too ({nothing})")
        if status is not None and uid in status:
            raise UnsafeOperationError(
                f"{refuse}: offlineimap's status ({mapped.status_file}) says it synced this message, whose local "
                f"copy is gone; offlineimap propagates a deletion either way: the next sync deletes it on the "
                f"server itself ({nothing})")


_HOW = {STEP_UID: "a BODY[] fetch", STEP_SEQUENCE: "a fetch by sequence number"}


def _plan(uidplus: bool, uid: int, others_deleted: set[int]) -> list[str]:
    if uidplus:
        return [f"would run: UID STORE {uid} +FLAGS.SILENT (\\Deleted)",
                f"would run: UID EXPUNGE {uid} (the server has UIDPLUS: only UID {uid} is expunged)"]
    if others_deleted:
        return [f"would refuse: the server has no UIDPLUS, and {_others(others_deleted)} also flagged \\Deleted; "
                f"a plain EXPUNGE would remove {'it' if len(others_deleted) == 1 else 'them'} too"]
    return [f"would run: UID STORE {uid} +FLAGS.SILENT (\\Deleted)",
            f"would run: EXPUNGE (no UIDPLUS; UID {uid} would be the only \\Deleted message, checked again first)"]


def _others(uids: set[int]) -> str:
    listed = ", ".join(str(u) for u in sorted(uids)[:10]) + (", ..." if len(uids) > 10 else "")
    one = len(uids) == 1
    return f"{len(uids)} other message{'' if one else 's'} (UID {listed}) {'is' if one else 'are'}"


def run_purge(config: PhantomConfig, account: str, folder: str, uid: int, *, yes: bool) -> PurgeResult:
    """Delete UID ``uid`` of ``folder`` on the server (with ``yes``), or say what would be done.

    Raises NotFoundError (account, folder, UID), ServerError (connection, login, a command refused) and
    UnsafeOperationError (UIDVALIDITY changed since the message was recorded; no UIDPLUS and other messages
    flagged \\Deleted). Nothing is changed when an error is raised before the STORE.
    """
    config.check_account(account)
    records = _records(config, account, folder, uid)
    # offlineimap's own state (its status, the saved UIDVALIDITY) is what tells whether it synced the message:
    # once it has synced the account, the session reads that, not a temporary stand-in.
    metadata = config.metadata_dir()
    synced = (metadata / f"Account-{account}").is_dir()
    # With yes, no sync may run beside: one that fetched the message between the checks and the expunge would
    # delete its local copy on the sync after.
    with account_lock(metadata, account, PURGE_YES) if yes else nullcontext() as lock, \
            open_session(config, account, real_metadata=synced) as session:
        _check_still_a_phantom(session, folder, uid)
        imapobj = session.acquire()
        uidplus = "UIDPLUS" in {str(c).upper() for c in getattr(imapobj, "capabilities", ())}
        lines: list[str] = []
        if not yes:
            state = select_folder(session, imapobj, folder, readonly=True)
            found = _locate_or_fail(session, imapobj, folder, uid, state)
            lines.append(f"{account}: {_target_line(folder, uid, state, found)}")
            lines.extend(_describe_record(r) for r in records)
            unsafe = _check_uidvalidity(records, state, uid, folder)
            if unsafe is not None:
                lines.append(f"would refuse: {unsafe}")
            else:
                others = set() if uidplus else uid_set(imapobj, "DELETED") - {uid}
                lines.extend(_plan(uidplus, uid, others))
            session.release(imapobj)
            return PurgeResult([session.transcript.scrub(line) for line in lines], False,
                               session.transcript.render())
        assert lock is not None
        lines, uidvalidity = _purge(session, imapobj, account, folder, uid, records, uidplus, lock)
        session.release(imapobj)
        transcript = session.transcript.render()
        lines = [session.transcript.scrub(line) for line in lines]
    _mark_purged(config, account, [r for r in records if r.key.uidvalidity == uidvalidity], lines)
    return PurgeResult(lines, True, transcript)


def _purge(session: Session, imapobj: Any, account: str, folder: str, uid: int, records: list[PhantomRecord],
           uidplus: bool, lock: AccountLock) -> tuple[list[str], int | None]:
    state = select_folder(session, imapobj, folder, readonly=False)
    unsafe = _check_uidvalidity(records, state, uid, folder)
    if unsafe is not None:
        raise UnsafeOperationError(f"refusing to purge: {unsafe}")
    found = _locate_or_fail(session, imapobj, folder, uid, state)
    lines = [f"{account}: {_target_line(folder, uid, state, found)}"]
    before = uid_set(imapobj, "ALL")
    if not uidplus:
        others = uid_set(imapobj, "DELETED") - {uid}
        if others:
            raise UnsafeOperationError(
                f"refusing to purge UID {uid}: the server has no UIDPLUS, and {_others(others)} also flagged "
                f"\\Deleted in {folder}; a plain EXPUNGE would remove {'it' if len(others) == 1 else 'them'} too "
                f"(nothing was changed)")
    lock.check()  # a sync that slipped past the lock (see AccountLock) may have fetched it: stop here
    _checked(session, imapobj, f"UID STORE {uid} +FLAGS.SILENT (\\Deleted)",
             "uid", "STORE", str(uid), "+FLAGS.SILENT", "(\\Deleted)")
    lines.append(f"flagged UID {uid} \\Deleted")
    if uidplus:
        _checked(session, imapobj, f"UID EXPUNGE {uid}", "uid", "EXPUNGE", str(uid))
        lines.append(f"expunged UID {uid} (UID EXPUNGE: no other message touched)")
    else:
        others = uid_set(imapobj, "DELETED") - {uid}
        if others:  # someone flagged another message meanwhile: take our flag back and stop
            _checked(session, imapobj, f"UID STORE {uid} -FLAGS.SILENT (\\Deleted)",
                     "uid", "STORE", str(uid), "-FLAGS.SILENT", "(\\Deleted)")
            raise UnsafeOperationError(
                f"refusing to expunge: {_others(others)} flagged \\Deleted meanwhile in {folder}; "
                f"the \\Deleted flag on UID {uid} was taken back")
        _checked(session, imapobj, "EXPUNGE", "expunge")
        lines.append(f"expunged (plain EXPUNGE; UID {uid} was the only \\Deleted message)")
    after = uid_set(imapobj, "ALL")
    gone = before - after
    if uid in after:
        raise ServerError(f"UID {uid} is still in {folder} after the expunge; the server did not delete it")
    if gone - {uid}:
        lines.append(f"warning: {_others(gone - {uid}).rsplit(' ', 1)[0]} also disappeared meanwhile "
                     f"(not by this command)")
    else:
        lines.append(f"verified: UID {uid} is gone, the other {len(after)} messages are still there")
    return lines, state.uidvalidity


def _mark_purged(config: PhantomConfig, account: str, records: list[PhantomRecord], lines: list[str]) -> None:
    if not records:
        return
    from offlineimap_phantomfix.store import PhantomStore

    with PhantomStore(config.state_dir(account)) as store:
        for record in records:
            store.mark_purged(record.key)
    lines.append(f"marked {len(records)} record{'s' if len(records) != 1 else ''} purged in the phantom store")
