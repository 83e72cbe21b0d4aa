"""offlineimap's own per-folder status database: which UIDs it believes are on both sides.

offlineimap 8.0 (and Debian's offlineimap3 build) keeps one SQLite file per folder under
``<metadata>/Account-<name>/LocalStatus-sqlite/``: a ``metadata`` table whose ``db_version`` is 1 or 2 and a
``status`` table keyed by ``id`` (the UID). A UID in ``status`` that is missing from the Maildir is what
offlineimap turns into a deletion on the server, so this module only ever *reads* the UIDs, or *removes* one
UID from a file whose version it knows; it never adds a row and never touches any other table.

Every failure becomes a :class:`StoreError` with one line.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import quote

from offlineimap_phantomfix.errors import StoreError

__all__ = ["KNOWN_VERSIONS", "read_uids", "remove_uid"]

KNOWN_VERSIONS = ("1", "2")  # LocalStatusSQLiteFolder.cur_version is 2; version 1 has the same status.id
_BUSY_TIMEOUT_SECONDS = 30.0


def _connect(path: Path, *, write: bool) -> sqlite3.Connection:
    # mode=ro: a read never creates, journals or upgrades anything (the dry run leaves every byte as it was).
    uri = f"file:{quote(str(path))}?mode={'rw' if write else 'ro'}"
    try:
        connection = sqlite3.connect(uri, uri=True, timeout=_BUSY_TIMEOUT_SECONDS, isolation_level=None)
    except sqlite3.Error as error:
        raise StoreError(f"cannot open offlineimap's status file {path}: {error}") from None
    try:
        row = connection.execute("SELECT value FROM metadata WHERE key = 'db_version'").fetchone()
        columns = {str(info[1]) for info in connection.execute("PRAGMA table_info(status)")}
    except sqlite3.Error as error:
        connection.close()
        raise StoreError(f"offlineimap's status file {path} cannot be read: {error}") from None
    version = str(row[0]) if row is not None else "(none)"
    if version not in KNOWN_VERSIONS or "id" not in columns:
        connection.close()
        raise StoreError(f"offlineimap's status file {path} has db_version {version}; this "
                         f"offlineimap-phantomfix knows versions {', '.join(KNOWN_VERSIONS)} only")
    return connection


def read_uids(path: Path) -> frozenset[int] | None:
    """The UIDs offlineimap's status holds for one folder; None when the folder has no status file yet."""
    if not path.is_file():
        return None
    connection = _connect(path, write=False)
    try:
        return frozenset(int(uid) for (uid,) in connection.execute("SELECT id FROM status"))
    except sqlite3.Error as error:
        raise StoreError(f"offlineimap's status file {path} cannot be read: {error}") from None
    finally:
        connection.close()


def remove_uid(path: Path, uid: int) -> bool:
    """Remove one UID from the status file (durably committed); False when it was not there."""
    connection = _connect(path, write=True)
    try:
        connection.execute("BEGIN IMMEDIATE")
        removed = connection.execute("DELETE FROM status WHERE id = ?", (int(uid),)).rowcount
        connection.execute("COMMIT")
        return removed > 0
    except sqlite3.Error as error:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise StoreError(f"cannot update offlineimap's status file {path}: {error}") from None
    finally:
        connection.close()
