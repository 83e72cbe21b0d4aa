"""Does a Maildir folder hold offlineimap's synced copy of a server UID? (``purge`` must not delete one.)

offlineimap names every synced message file ``<unique>,U=<uid>,FMD5=<md5 of the folder's name>:2,<flags>``
(``!`` instead of ``:`` with ``maildir-windows-compatible``) and takes a file's UID as a UID of the folder only
when the file name carries that folder's FMD5. Which Maildir folder and which digest belong to a server
folder is offlineimap's mapping (``folders.py``); this module only reads file names.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["canonical_folder", "find_synced_copy"]

_UID = re.compile(r",U=(\d+)")  # the first ",U=" of the name, as offlineimap reads it


def canonical_folder(folder: str) -> str:
    """IMAP's INBOX is case-insensitive; every other name is taken as written."""
    return "INBOX" if folder.upper() == "INBOX" else folder


def find_synced_copy(maildir: Path, fmd5: str, uid: int) -> Path | None:
    """A file in ``maildir``'s ``cur`` or ``new`` that offlineimap reads as UID ``uid`` of the folder whose
    file names carry ``FMD5=<fmd5>``, or None."""
    marker = f",FMD5={fmd5}"
    for sub in ("cur", "new"):
        try:
            names = os.listdir(maildir / sub)
        except FileNotFoundError:
            continue
        for name in names:
            match = _UID.search(name)
            if match is not None and int(match.group(1)) == uid and marker in name:
                return maildir / sub / name
    return None
