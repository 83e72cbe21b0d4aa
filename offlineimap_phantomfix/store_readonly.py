"""Open a phantom store without writing anything: for report, doctor and every dry run.

No directory, file, schema or WAL switch is created and a damaged file stays where it is (only the sync, or a
command that writes, moves it aside). A file without our schema yet (empty, just created) reads as an empty
store, kept in memory. Works on a store in a read-only directory.
"""

from __future__ import annotations

import os
import sqlite3
import urllib.parse
from pathlib import Path

from offlineimap_phantomfix.errors import StoreError
from offlineimap_phantomfix.store import STORE_FILENAME, PhantomStore
from offlineimap_phantomfix.store_schema import MIGRATIONS, SCHEMA_VERSION
from offlineimap_phantomfix.store_sqlite import BUSY_TIMEOUT_SECONDS, is_corruption, one_line

__all__ = ["damaged_text", "open_readonly"]


def damaged_text(path: Path, reason: str) -> str:
    """Why the store cannot be read, and what repairs it."""
    return (f"the phantom store {path} is damaged ({reason}); the next sync, or "
            f"'offlineimap-phantomfix clear --all', moves it aside and starts a new one")


def open_readonly(directory: Path) -> PhantomStore:
    """The store of ``directory``, read-only. Raises StoreError (missing, damaged, newer schema)."""
    return PhantomStore(directory, readonly_connection=_open(Path(directory) / STORE_FILENAME))


def _open(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise StoreError(f"there is no phantom store {path}")
    location = urllib.parse.quote(str(path.resolve()))
    # Without a -wal file nobody is writing: open it as immutable, so SQLite makes no -wal/-shm files of its
    # own. With one (a sync is running), read through it; fall back to immutable where no -shm can be made.
    active = Path(f"{path}-wal").exists() and os.access(path.parent, os.W_OK)
    try:
        if active:
            try:
                return _connect(path, f"file:{location}?mode=ro")
            except sqlite3.OperationalError:
                pass
        return _connect(path, f"file:{location}?mode=ro&immutable=1")
    except sqlite3.Error as error:
        raise StoreError(f"cannot read the phantom store {path}: {one_line(str(error))}") from None


def _connect(path: Path, uri: str) -> sqlite3.Connection:
    connection = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None,
                                 check_same_thread=False)
    try:
        connection.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
        version = int(connection.execute("PRAGMA user_version").fetchone()[0])
        problems = [str(row[0]) for row in connection.execute("PRAGMA quick_check")]
    except sqlite3.DatabaseError as error:
        connection.close()
        if is_corruption(error):
            raise StoreError(damaged_text(path, one_line(str(error)))) from None
        raise
    if problems != ["ok"]:
        connection.close()
        raise StoreError(damaged_text(path, one_line("; ".join(problems)) or "quick_check returned nothing"))
    if version == SCHEMA_VERSION:
        return connection
    connection.close()
    if version > SCHEMA_VERSION or version < 0:
        raise StoreError(f"the phantom store {path} has schema version {version}, but this "
                         f"offlineimap-phantomfix knows only up to version {SCHEMA_VERSION}")
    if version != 0:
        raise StoreError(f"the phantom store {path} has the older schema version {version}; the next sync "
                         f"upgrades it")
    memory = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    for step in MIGRATIONS:  # no schema in the file yet: an empty store
        step(memory)
    return memory
