"""Which Maildir folder and which status file offlineimap pairs with each server folder (for adopt and purge).

The folders are walked the way offlineimap maps them, through offlineimap's own objects: the remote
repository lists the folders (one LIST on the server, nothing else is sent), its ``folderfilter`` and
``nametrans`` and the local repository's decide which Maildir folder belongs to which remote folder (with
``sep``, ``utf8foldernames`` and ``localfolders`` as offlineimap reads them), the Maildir folder parses its own
file names (``U=<uid>``, ``FMD5=``, the ``:2,``/``!2,`` info part), and the remote folder reads the
UIDVALIDITY offlineimap saved for it.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from offlineimap_phantomfix.errors import ConfigError, NotFoundError, PhantomFixError
from offlineimap_phantomfix.localcopy import canonical_folder
from offlineimap_phantomfix.sanitize import clean_text

if TYPE_CHECKING:
    from offlineimap_phantomfix.session import Session

__all__ = ["MappedFolder", "map_folders"]


@dataclass(frozen=True)
class MappedFolder:
    """One server folder: its remote name (the skip list's), its Maildir folder and offlineimap's state."""

    remote: str
    imap_name: str  # the remote name as sent on the wire
    status_file: Path
    uidvalidity: int | None
    messages: dict[int, str]  # UID -> file; negative: no UID of this folder in the file name
    maildir: Path | None = None  # the Maildir folder's directory; None when offlineimap has not created it
    fmd5: str = ""  # what offlineimap writes after FMD5= in this folder's file names


def map_folders(session: Session, folder: str | None, *, unsynced: bool = False) -> list[MappedFolder]:
    """The account's synced folders (or the one named ``folder``, by remote or local name), each with its
    messages. Sends one LIST to the server.

    With ``unsynced``, also the server folders offlineimap leaves out (``folderfilter``, a separator clash) or
    has not created locally: their status file is where offlineimap would keep it, their Maildir folder is
    the one offlineimap would pair with them, when it exists."""
    from offlineimap import OfflineImapError
    from offlineimap.accounts import SyncableAccount
    from offlineimap.repository import Repository
    from offlineimap.repository.Maildir import MaildirRepository

    account = session.account
    remote = session.repository
    try:
        local = Repository(account, "local")
        status = Repository(account, "status")
    except OfflineImapError as error:
        raise ConfigError(f"account {account.getname()!r}: {clean_text(str(error))}") from None
    if not isinstance(local, MaildirRepository):
        raise ConfigError(f"account {account.getname()!r}: the local repository is not a Maildir (only Maildir "
                          f"folders can be read)")
    account.remoterepos, account.localrepos, account.statusrepos = remote, local, status
    session.release(session.acquire())  # connection errors as one line; the pool keeps it for the LIST
    try:
        remote_folders = remote.getfolders()
    except OfflineImapError as error:
        raise PhantomFixError(f"cannot list the folders of {session.where}: {clean_text(str(error))}") from None
    wanted = canonical_folder(folder) if folder is not None else None
    mapped: list[MappedFolder] = []
    names: list[str] = []
    for remote_folder in remote_folders:
        sep = local.getsep()
        # offlineimap does not sync a folder whose name holds the local separator either
        synced = bool(remote_folder.sync_this) and not (sep not in (os.path.sep, remote.getsep())
                                                        and sep in remote_folder.getname())
        if not (synced or unsynced):
            continue
        try:
            local_folder = SyncableAccount.get_local_folder(account, remote_folder)
        except OfflineImapError:
            local_folder = None  # not created locally yet: nothing stored
        synced = synced and local_folder is not None and bool(local_folder.sync_this)
        if not (synced or unsynced):
            continue
        if synced:
            names.append(remote_folder.getname())
        local_name = local_folder.getname() if local_folder is not None else None
        if wanted is not None and wanted not in (canonical_folder(remote_folder.getname()), local_name):
            continue
        status_folder = status.getfolder(remote_folder.getvisiblename().replace(remote.getsep(), status.getsep()))
        mapped.append(_mapped(remote_folder, local_folder, Path(status_folder.getfullname())))
    if folder is not None and not mapped:
        raise NotFoundError(f"no {'' if unsynced else 'synced '}folder {folder!r} in account "
                            f"{account.getname()!r} (folders: {', '.join(names) or 'none'})")
    return mapped


def _mapped(remote_folder: Any, local_folder: Any, status_file: Path) -> MappedFolder:
    if local_folder is None:
        return MappedFolder(remote=remote_folder.getname(), imap_name=remote_folder.getfullIMAPname(),
                            status_file=status_file,
                            uidvalidity=_saved_uidvalidity(remote_folder), messages={})
    local_folder.cachemessagelist()
    root = local_folder.getfullname()
    messages = {int(uid): os.path.join(root, item["filename"]) for uid, item in
                local_folder.getmessagelist().items()}
    # offlineimap's Maildir folder digests its visible name (the local nametrans applied) for FMD5=.
    fmd5 = hashlib.md5(local_folder.getvisiblename().encode("utf-8")).hexdigest()
    return MappedFolder(remote=remote_folder.getname(), imap_name=remote_folder.getfullIMAPname(),
                        status_file=status_file,
                        uidvalidity=_saved_uidvalidity(remote_folder), messages=messages,
                        maildir=Path(root), fmd5=fmd5)


def _saved_uidvalidity(remote_folder: Any) -> int | None:
    try:
        value = remote_folder.get_saveduidvalidity()
    except (OSError, ValueError):
        return None
    return int(value) if value is not None else None
