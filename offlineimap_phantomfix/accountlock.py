"""offlineimap's own lock for an account, taken by ``adopt --yes`` and ``purge --yes`` so that no sync runs
beside them."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from offlineimap_phantomfix.errors import PhantomFixError

__all__ = ["AccountLock", "account_lock", "sync_started"]


def sync_started(command: str) -> str:
    """The error when a sync got past the lock while ``command`` ran."""
    return f"a sync started; run {command} again when it ends"


class AccountLock:
    """offlineimap's own lock for the account, held by this process: ``<metadata>/<account>.lock``.

    offlineimap takes it with ``lockf``, or with ``flock`` when portalocker is importable; the two do not see
    each other, so both are taken on the same descriptor. A refused offlineimap removes the lock file on its
    way out, and the next one creates a new file and locks that: :meth:`check` notices the file is no longer
    the one held."""

    def __init__(self, path: Path, descriptor: int, command: str) -> None:
        self.path = path
        self.descriptor = descriptor
        self.command = command

    def still_held(self) -> bool:
        try:
            return os.stat(self.path).st_ino == os.fstat(self.descriptor).st_ino
        except FileNotFoundError:
            return False

    def check(self) -> None:
        if not self.still_held():
            raise PhantomFixError(sync_started(self.command))


@contextmanager
def account_lock(metadata: Path, account: str, command: str) -> Iterator[AccountLock]:
    """Take offlineimap's account lock (both kinds, without waiting) or refuse with one line naming
    ``command``, the one to run again. The metadata directory is made (0700) when missing, as a first sync
    would make it."""
    try:
        metadata.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as error:
        raise PhantomFixError(f"cannot create offlineimap's metadata directory {metadata}: "
                              f"{error.strerror or error}") from None
    path = metadata / f"{account}.lock"
    busy = (f"account {account} is being synced right now ({path} is locked); run {command} again when the "
            f"sync has finished")
    for _ in range(5):
        descriptor = _open(path)
        lock = AccountLock(path, descriptor, command)
        try:
            fcntl.lockf(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(descriptor)
            raise PhantomFixError(busy) from None
        if lock.still_held():
            break
        os.close(descriptor)  # removed or replaced between open and lock: lock the file that is there now
    else:
        raise PhantomFixError(busy)
    try:
        yield lock
    finally:
        # The file stays: an offlineimap waiting for the lock (portalocker's flock waits) holds it open, and
        # removing it would let the next one lock a new file and sync beside that one.
        os.close(descriptor)


def _open(path: Path) -> int:
    try:
        return os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    except OSError as error:
        raise PhantomFixError(f"cannot open offlineimap's lock file {path}: {error.strerror or error}") from None
