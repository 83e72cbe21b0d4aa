"""What every command of ``offlineimap-phantomfix`` shares: its name and exit statuses, writing to the terminal,
and reaching the configuration and the stores without creating anything."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from offlineimap_phantomfix.errors import StoreError
from offlineimap_phantomfix.sanitize import clean_text

if TYPE_CHECKING:
    from offlineimap_phantomfix.config import PhantomConfig
    from offlineimap_phantomfix.store import PhantomStore

PROG = "offlineimap-phantomfix"
EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


# --- output ---------------------------------------------------------------------------------------------

def out(text: str = "", stream: TextIO | None = None) -> None:
    target = stream if stream is not None else sys.stdout
    target.write(text if text.endswith("\n") else text + "\n")


def write_all(text: str) -> None:
    """Write ``text`` to stdout completely, or raise. Unbuffered (``-u``, PYTHONUNBUFFERED) stdout writes straight
    to the file descriptor, where a pipe may take only part of a write and the text layer drops the rest."""
    sys.stdout.flush()
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:  # a replaced stdout (tests): no partial writes there
        out(text)
        sys.stdout.flush()
        return
    data = memoryview(text.encode(sys.stdout.encoding or "utf-8", errors="backslashreplace"))
    while data:
        written = buffer.write(data)
        data = data[written if written is not None else 0:]
    buffer.flush()


def warn(message: str) -> None:
    sys.stderr.write(f"{PROG}: warning: {clean_text(message)}\n")


def plural(count: int, word: str, many: str | None = None) -> str:
    return f"{count} {word if count == 1 else (many or word + 's')}"


# --- config and store access ----------------------------------------------------------------------------

def load_config(path: str | None) -> PhantomConfig:
    from offlineimap_phantomfix.config import PhantomConfig

    return PhantomConfig.load(Path(path) if path is not None else None)


def store_file(directory: Path) -> Path | None:
    """The store file in ``directory``, or None when there is none yet (nothing is created).

    Raises StoreError when the directory exists but cannot be used.
    """
    from offlineimap_phantomfix.store import STORE_FILENAME

    path = directory / STORE_FILENAME
    try:
        if not directory.exists():
            return None
        if not directory.is_dir():
            raise StoreError(f"the state directory {directory} is not a directory")
        os.listdir(directory)  # fails early, with a clear reason, on a directory we may not read
        if not path.exists():
            return None
        if not path.is_file():
            raise StoreError(f"the phantom store {path} is not a regular file")
    except OSError as error:
        raise StoreError(f"cannot read the state directory {directory}: {error.strerror or error}") from None
    return path


@contextmanager
def existing_store(directory: Path, *, readonly: bool = True) -> Iterator[PhantomStore | None]:
    """The store of ``directory`` opened for the duration, or None when it does not exist (not created).
    ``readonly`` (the default) changes nothing on disk, not even a damaged store."""
    if store_file(directory) is None:
        yield None
        return
    from offlineimap_phantomfix.store import PhantomStore
    from offlineimap_phantomfix.store_readonly import open_readonly

    store = open_readonly(directory) if readonly else PhantomStore(directory, warn=warn)
    try:
        yield store
    finally:
        store.close()


def state_dirs(config: PhantomConfig, account: str | None) -> dict[Path, list[str]]:
    if account is not None:
        config.check_account(account)
    return config.state_dirs(account)
