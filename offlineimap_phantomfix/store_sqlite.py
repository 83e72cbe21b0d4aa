"""The phantom store's SQLite file: creating it privately, opening it in WAL mode, bringing its schema up to
date, transactions that wait out a busy file, and moving a damaged file aside.

Nothing here knows the tables: :func:`open_file` is given the migration steps. Step *n* (1-based) runs in one
transaction together with the bump of ``PRAGMA user_version`` to *n*; a file of a newer version is refused and
left untouched. A damaged file raises :class:`Corrupt`, and :func:`move_aside` renames it (and the files SQLite
keeps next to it) to ``<name>.corrupt-<UTC timestamp>``. Other failures raise StoreError with one line.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from offlineimap_phantomfix.errors import StoreError

__all__ = ["BUSY_PAUSE_SECONDS", "BUSY_RETRIES", "BUSY_TIMEOUT_SECONDS", "Corrupt", "is_busy", "is_corruption",
           "make_directory", "move_aside", "one_line", "open_file", "transaction"]

BUSY_TIMEOUT_SECONDS = 10.0
# Files SQLite keeps next to the database; they move with it when it is set aside.
_COMPANION_SUFFIXES = ("-wal", "-shm", "-journal")
# If SQLITE_BUSY still comes through (the busy handler is not consulted in a few WAL corner cases, e.g. while
# another process cleans up on close), the whole operation is rolled back and tried again, this many times.
BUSY_RETRIES = 20
BUSY_PAUSE_SECONDS = 0.05

# Primary result codes (the low byte of an extended code).
_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26


class Corrupt(Exception):
    """The file is not a usable database; carries the reason for the warning."""


# --- reading SQLite's errors ------------------------------------------------------------------------------

def _primary_code(error: sqlite3.Error) -> int | None:
    code = getattr(error, "sqlite_errorcode", None)  # Python 3.11+
    return code & 0xFF if isinstance(code, int) else None


def is_corruption(error: sqlite3.Error) -> bool:
    code = _primary_code(error)
    if code is not None:
        return code in (_SQLITE_CORRUPT, _SQLITE_NOTADB)
    text = str(error).lower()
    return "not a database" in text or "malformed" in text


def is_busy(error: sqlite3.Error) -> bool:
    code = _primary_code(error)
    if code is not None:
        return code in (_SQLITE_BUSY, _SQLITE_LOCKED)
    text = str(error).lower()
    return "locked" in text or "busy" in text


def one_line(text: str, limit: int = 300) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "\u2026"


def _describe_os_error(error: OSError) -> str:
    return error.strerror or str(error)


# --- transactions -----------------------------------------------------------------------------------------

@contextmanager
def transaction(connection: sqlite3.Connection, *, write: bool) -> Iterator[None]:
    # Read-only operations are single statements and need no explicit transaction (autocommit);
    # writes take the write lock up front (BEGIN IMMEDIATE) so a read never has to upgrade to a write,
    # which is the case where SQLite gives up with SQLITE_BUSY without waiting.
    if not write:
        yield
        return
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            try:
                connection.execute("ROLLBACK")
            except sqlite3.Error:
                pass
        raise


# --- opening ----------------------------------------------------------------------------------------------

def make_directory(directory: Path) -> None:
    """Create the directory and missing parents with mode 0700; existing ones are left as they are."""
    missing: list[Path] = []
    candidate = directory
    try:
        while not candidate.exists() and not candidate.is_symlink():
            missing.append(candidate)
            if candidate.parent == candidate:
                break
            candidate = candidate.parent
        for new in reversed(missing):
            try:
                os.mkdir(new, 0o700)
            except FileExistsError:
                continue  # created meanwhile by another thread or process
            os.chmod(new, 0o700)  # in case the umask took more than group and other bits
        if not directory.is_dir():
            raise StoreError(f"cannot use {directory} for the phantom store: not a directory")
    except OSError as error:
        raise StoreError(f"cannot create the phantom store directory {directory}: "
                         f"{_describe_os_error(error)}") from None


def _create_file(path: Path) -> None:
    """Create the database file with mode 0600 (SQLite gives its -wal and -shm files the same mode)."""
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as error:
        raise StoreError(f"cannot open the phantom store {path}: {_describe_os_error(error)}") from None
    try:
        if os.fstat(descriptor).st_mode & 0o077:
            os.fchmod(descriptor, 0o600)
    except OSError:
        pass  # not ours to change (another user's file); SQLite will say whether it can use it
    finally:
        os.close(descriptor)


def _tighten_companions(path: Path) -> None:
    for suffix in _COMPANION_SUFFIXES:
        companion = Path(f"{path}{suffix}")
        try:
            if companion.stat().st_mode & 0o077:
                os.chmod(companion, 0o600)
        except OSError:
            pass


def open_file(path: Path, migrations: Sequence[Callable[[sqlite3.Connection], None]]) -> sqlite3.Connection:
    """Open, check and migrate the file. Raises Corrupt for a damaged file, StoreError otherwise."""
    _create_file(path)
    try:
        connection = sqlite3.connect(
            str(path), timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False
        )
    except sqlite3.Error as error:
        raise StoreError(f"cannot open the phantom store {path}: {one_line(str(error))}") from None
    try:
        _prepare(connection, path, migrations)
    except BaseException as error:
        connection.close()
        if isinstance(error, sqlite3.DatabaseError) and is_corruption(error):
            raise Corrupt(one_line(str(error))) from None
        if isinstance(error, sqlite3.Error):
            raise StoreError(f"cannot open the phantom store {path}: {one_line(str(error))}") from None
        raise
    _tighten_companions(path)
    return connection


def _prepare(connection: sqlite3.Connection, path: Path,
             migrations: Sequence[Callable[[sqlite3.Connection], None]]) -> None:
    connection.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
    # Read the version first: a newer file must not be touched (switching to WAL writes its header).
    version = int(connection.execute("PRAGMA user_version").fetchone()[0])
    if version > len(migrations) or version < 0:
        raise StoreError(
            f"the phantom store {path} has schema version {version}, but this "
            f"offlineimap-phantomfix knows only up to version {len(migrations)}; upgrade "
            f"offlineimap-phantomfix or move the file away"
        )
    problems = [str(row[0]) for row in connection.execute("PRAGMA quick_check")]
    if problems != ["ok"]:
        raise Corrupt(one_line("; ".join(problems)) or "quick_check returned nothing")
    mode = str(connection.execute("PRAGMA journal_mode").fetchone()[0]).lower()
    if mode != "wal":
        mode = str(connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]).lower()
        if mode != "wal":
            raise StoreError(f"the phantom store {path} cannot use WAL mode (got {mode!r})")
    connection.execute("PRAGMA synchronous = NORMAL")
    connection.execute("PRAGMA foreign_keys = ON")
    _migrate(connection, migrations)


def _migrate(connection: sqlite3.Connection, migrations: Sequence[Callable[[sqlite3.Connection], None]]) -> None:
    """Apply every step past the file's version, each in its own transaction with its version bump."""
    for target, step in enumerate(migrations, start=1):
        attempt = 0
        while True:
            try:
                with transaction(connection, write=True):
                    # Re-read inside the write lock: another process may have migrated meanwhile.
                    current = int(connection.execute("PRAGMA user_version").fetchone()[0])
                    if current < target:
                        step(connection)
                        connection.execute(f"PRAGMA user_version = {int(target)}")
                break
            except sqlite3.OperationalError as error:
                if is_busy(error) and attempt < BUSY_RETRIES:
                    attempt += 1
                    time.sleep(BUSY_PAUSE_SECONDS)
                    continue
                raise


def move_aside(path: Path) -> Path:
    """Rename the damaged file (and its companions) to ``<name>.corrupt-<UTC timestamp>``."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    number = 1
    while target.exists():
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{number}")
        number += 1
    try:
        os.replace(path, target)
        for suffix in _COMPANION_SUFFIXES:
            companion = Path(f"{path}{suffix}")
            if companion.exists():
                os.replace(companion, Path(f"{target}{suffix}"))
    except OSError as error:
        raise StoreError(f"the phantom store {path} is damaged and cannot be moved aside: "
                         f"{_describe_os_error(error)}") from None
    return target
