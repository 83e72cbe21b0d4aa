"""Does the account's local Maildir hold a synced copy of a server UID? (``purge`` must not delete one.)

offlineimap names every synced message file ``<unique>,U=<uid>,FMD5=<md5 of the local folder name>:2,<flags>``
(``!`` instead of ``:`` with ``maildir-windows-compatible``), and keeps the server folder's UIDVALIDITY of the
last sync in ``<metadata>/Repository-<remote>/FolderValidity/<folder, '/' as '.'>``. A copy counts when a file
of that folder carries the UID and the saved UIDVALIDITY is the server's current one (or none was saved, when
nothing can be told: doubt keeps the mail). Deleting such a message on the server makes the next sync delete
the local copy too.
"""

from __future__ import annotations

import configparser
import hashlib
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from offlineimap_phantomfix.config import PhantomConfig

__all__ = ["canonical_folder", "find_synced_copy", "local_root", "saved_uidvalidity"]


def canonical_folder(folder: str) -> str:
    """IMAP's INBOX is case-insensitive; every other name is taken as written."""
    return "INBOX" if folder.upper() == "INBOX" else folder


def _folder_names(folder: str) -> set[str]:
    """The local names offlineimap may have given the server folder (without nametrans): the separator
    becomes the Maildir repository's ``sep`` (``.`` by default, ``/`` for nested trees)."""
    name = canonical_folder(folder)
    return {name, name.replace("/", "."), name.replace(".", "/")}


def local_root(config: PhantomConfig, account: str) -> Path | None:
    """``localfolders`` of the account's local Maildir repository, or None (another type, not set)."""
    parser = config.parser
    try:
        local = parser.get(f"Account {account}", "localrepository").strip()
        section = f"Repository {local}"
        if parser.get(section, "type", fallback="").strip().lower() not in ("maildir", "gmailmaildir"):
            return None
        value = parser.get(section, "localfolders", fallback="").strip()
    except (configparser.Error, ValueError):
        return None
    return Path(os.path.expandvars(os.path.expanduser(value))) if value else None


def saved_uidvalidity(config: PhantomConfig, account: str, folder: str) -> int | None:
    """The server folder's UIDVALIDITY as offlineimap saved it at the last sync; None when unknown."""
    remote = config.remote_repository(account)
    path = config.metadata_dir() / f"Repository-{remote}" / "FolderValidity" / \
        canonical_folder(folder).replace("/", ".")
    try:
        return int(path.read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return None


def find_synced_copy(root: Path, folder: str, uid: int) -> Path | None:
    """A message file under ``root`` that offlineimap wrote for ``uid`` of ``folder``, or None."""
    digests = {hashlib.md5(name.encode("utf-8")).hexdigest() for name in _folder_names(folder)}
    pattern = re.compile(rf",U={int(uid)},FMD5=([0-9a-f]{{32}})(?:[:!]2,|$)")
    for directory, subdirectories, files in os.walk(root):
        if Path(directory).name not in ("cur", "new"):
            continue
        subdirectories.clear()
        for name in files:
            match = pattern.search(name)
            if match is not None and match.group(1) in digests:
                return Path(directory) / name
    return None
