"""A synthetic archive as offlineimap leaves it after years of stock syncs, for tests and benchmarks.

Maildir files named the way offlineimap names them (``<time>_<seq>.<pid>.<host>,U=<uid>,FMD5=<md5 of the
folder name>:2,<flags>``), offlineimap's status database per folder and the UIDVALIDITY it saved per remote
folder, so that ``adopt`` sees what it would see after real syncs, at a size no real sync in a test could
produce. Substitute notices are spread evenly among ordinary messages.
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from .harness import ACTIVATION_LINES, OfflineimapSetup, write_offlineimaprc
from .messages import exchange_substitute, make_message

__all__ = ["STATUS_SCHEMA", "SyntheticArchive", "generate_archive", "write_status_file"]

# The tables offlineimap 8.0's LocalStatusSQLiteFolder creates (db_version 2); Debian's offlineimap3 alike.
STATUS_SCHEMA = (
    "CREATE TABLE metadata (key VARCHAR(50) PRIMARY KEY, value VARCHAR(128));"
    "CREATE TABLE status (id INTEGER PRIMARY KEY, flags VARCHAR(50), mtime INTEGER, labels VARCHAR(256));"
)
_RECEIVED = (
    "Received: from mail{n}.example.net (mail{n}.example.net [192.0.2.{m}]) by mx.example.org with ESMTPS "
    "id {n}abc{m}; Mon, 4 Mar 2024 10:{mm:02d}:00 +0000\r\n"
)


def write_status_file(path: Path, uids: list[int], *, version: str = "2", flags: str = "S") -> None:
    """offlineimap's status database for one folder, holding ``uids``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path)
    try:
        connection.executescript(STATUS_SCHEMA)
        connection.execute("INSERT INTO metadata VALUES ('db_version', ?)", (version,))
        connection.executemany("INSERT INTO status VALUES (?, ?, 0, '')", [(uid, flags) for uid in uids])
        connection.commit()
    finally:
        connection.close()


def _ordinary(n: int) -> bytes:
    """A message of a few KB with the Received trail real mail carries."""
    trail = "".join(_RECEIVED.format(n=n + hop, m=hop + 1, mm=hop) for hop in range(12)).encode("ascii")
    return trail + make_message(n) + b"Lorem ipsum dolor sit amet, consectetur adipiscing elit.\r\n" * 35


@dataclass
class SyntheticArchive:
    setup: OfflineimapSetup
    messages: int
    notices: dict[tuple[str, int], Path]  # (folder, uid) -> file


def generate_archive(workdir: Path, *, port: int, folders: list[str], messages: int, notices: int,
                     repo_type: str = "PhantomSafeIMAP") -> SyntheticArchive:
    """``messages`` files spread over ``folders`` (local and remote names equal, ``sep = .``), ``notices`` of
    them substitute notices, with offlineimap's metadata as a stock sync leaves it (UIDVALIDITY 1)."""
    setup = write_offlineimaprc(workdir, port=port, repo_type=repo_type, pythonfile_lines=list(ACTIVATION_LINES))
    status_dir = setup.metadata / f"Account-{setup.account}" / "LocalStatus-sqlite"
    validity = setup.metadata / f"Repository-{setup.account}Remote" / "FolderValidity"
    validity.mkdir(parents=True)
    every = max(messages // notices, 1) if notices else 0
    found: dict[tuple[str, int], Path] = {}
    per_folder = {name: messages // len(folders) + (1 if i < messages % len(folders) else 0)
                  for i, name in enumerate(folders)}
    number = 0
    for name, count in per_folder.items():
        md5 = hashlib.md5(name.encode("utf-8")).hexdigest()
        folder = setup.maildir / name
        for sub in ("cur", "new", "tmp"):
            (folder / sub).mkdir(parents=True)
        for uid in range(1, count + 1):
            number += 1
            if every and number % every == 0 and len(found) < notices:
                data = exchange_substitute(uid, subject=f"Lost mail {number}", sender="Alice <alice@example.org>",
                                           sent="3/4/2024 10:00:00 AM")
            else:
                data = _ordinary(number)
            path = folder / "cur" / f"1709546400_{number}.4242.host,U={uid},FMD5={md5}:2,S"
            path.write_bytes(data)
            if data.startswith(b"From: Microsoft"):
                found[(name, uid)] = path
        write_status_file(status_dir / name, list(range(1, count + 1)))
        (validity / name).write_text("1\n", encoding="ascii")
    return SyntheticArchive(setup, number, found)
