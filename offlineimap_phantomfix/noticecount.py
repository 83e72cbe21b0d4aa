"""``doctor``'s count of the substitute notices still stored as mail, in the folders ``adopt`` would walk.

No connection is made: the folders are the local repository's, kept only where offlineimap syncs them (the
local ``folderfilter``, and the remote one on the name the local ``nametrans`` gives the folder on the server)
and where offlineimap keeps a status for them. A folder offlineimap leaves out is not counted, as ``adopt``
does not touch it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from offlineimap_phantomfix.adopt import status_root
from offlineimap_phantomfix.errors import ConfigError
from offlineimap_phantomfix.noticefile import read_notice
from offlineimap_phantomfix.sanitize import clean_text

if TYPE_CHECKING:
    from offlineimap_phantomfix.config import PhantomConfig

__all__ = ["count_notices"]


def count_notices(config: PhantomConfig, account: str) -> tuple[int, int] | None:
    """(notices, messages) in the account's synced Maildir folders; None when offlineimap has not synced the
    account yet."""
    from offlineimap import OfflineImapError
    from offlineimap.repository import Repository
    from offlineimap.repository.Maildir import MaildirRepository

    from offlineimap_phantomfix.session import open_session

    root = status_root(config, account)
    if not root.is_dir():
        return None
    notices = messages = 0
    with open_session(config, account, description="for doctor", real_metadata=True) as session:
        remote = session.repository
        try:
            local = Repository(session.account, "local")
            status = Repository(session.account, "status")
            folders = local.getfolders() if isinstance(local, MaildirRepository) else []
        except OfflineImapError as error:
            raise ConfigError(f"account {account!r}: {clean_text(str(error))}") from None
        for local_folder in folders:
            # The server's folder separator is known only after a connection: a nested name is tried with
            # both usual ones (a plain name is the same either way).
            visible = local_folder.getvisiblename()
            status_name = local_folder.getname().replace(local.getsep(), status.getsep())
            if not (local_folder.sync_this
                    and any(remote.should_sync_folder(visible.replace(local.getsep(), sep)) for sep in "/.")
                    and Path(status.getfolder(status_name).getfullname()).is_file()):
                continue
            local_folder.cachemessagelist()
            folder_root = local_folder.getfullname()
            for item in local_folder.getmessagelist().values():
                messages += 1
                try:
                    notices += read_notice(os.path.join(folder_root, item["filename"])) is not None
                except OSError:
                    continue
    return notices, messages
