"""PhantomSafeIMAP is transparent on a healthy real server: it syncs exactly what stock ``IMAP`` syncs.

One Dovecot mailbox of a few thousand messages over nested and non-ASCII folders with a spread of flags is
synced twice, with stock offlineimap (``type = IMAP``) and with ``PhantomSafeIMAP``, into two Maildirs; then
the same changes are made on the server and in both Maildirs and both sync again. At each step both Maildirs
and the server hold the same set of (folder, body hash, flags).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections import Counter
from pathlib import Path

import pytest

from offlineimap_phantomfix.testing.dovecot import DovecotServer, imap_utf7_decode
from offlineimap_phantomfix.testing.harness import (
    LocalMessage,
    OfflineimapSetup,
    normalise_newlines,
    read_maildir,
    run_offlineimap,
)
from offlineimap_phantomfix.testing.messages import make_message, make_multipart_message

from .conftest import SetupFactory

pytestmark = pytest.mark.dovecot

#: folder -> message count; nested folders and a non-ASCII name (modified UTF-7 on the wire).
FOLDERS = {
    "INBOX": 700,
    "Archive": 250,
    "Archive/2023": 300,
    "Archive/2024": 350,
    "Entwürfe": 150,
    "Lists/dev/Ärger & Co": 150,
    "Sent": 200,
}
FLAG_CYCLE = ["", "S", "FS", "RS", "D", "F", "S", "R", "DS", ""]

Entry = tuple[str, str, str]  # (server folder name, sha256 of the LF-normalised message, Maildir flags)


def _digest(raw: bytes) -> str:
    return hashlib.sha256(normalise_newlines(raw)).hexdigest()


def _server_folder(local_name: str) -> str:
    """offlineimap's local folder name (Maildir separator ``.``, names kept in modified UTF-7) -> the
    server's folder name."""
    return imap_utf7_decode(local_name.replace(".", "/"))


def local_state(setup: OfflineimapSetup) -> Counter[Entry]:
    state: Counter[Entry] = Counter()
    for name, messages in read_maildir(setup.maildir).items():
        for message in messages:
            state[(_server_folder(name), _digest(message.raw), message.flags)] += 1
    return state


def server_state(server: DovecotServer) -> Counter[Entry]:
    state: Counter[Entry] = Counter()
    for folder in server.folders():
        for message in server.fetch_all(folder):
            state[(folder, _digest(message.raw), message.maildir_flags)] += 1
    return state


def raw_by_name(setup: OfflineimapSetup) -> dict[tuple[str, int | None], bytes]:
    return {(m.folder, m.uid): m.raw for ms in read_maildir(setup.maildir).values() for m in ms}


def populate(server: DovecotServer) -> int:
    n = 0
    for folder, count in FOLDERS.items():
        messages = []
        for i in range(count):
            n += 1
            if i % 17 == 0:
                messages.append(make_multipart_message(n))
            elif i % 11 == 0:
                messages.append(make_message(n, subject=f"Grüße Nr. {n}", body=f"Schöne Grüße, {n}.\n"))
            else:
                messages.append(make_message(n))
        server.populate(folder, messages, flags=lambda i: FLAG_CYCLE[i % len(FLAG_CYCLE)])
    return n


def _sync(setup: OfflineimapSetup, label: str) -> float:
    started = time.monotonic()
    result = run_offlineimap(setup, timeout=300)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, f"{label}: exit {result.returncode}\n{result.output[-4000:]}"
    assert "ERROR" not in result.output, f"{label}:\n{result.output[-4000:]}"
    print(f"[timing] {label}: {elapsed:.1f}s")
    return elapsed


def _find(setup: OfflineimapSetup, folder: str, uid: int) -> LocalMessage:
    for messages in read_maildir(setup.maildir).values():
        for message in messages:
            if _server_folder(message.folder) == folder and message.uid == uid:
                return message
    raise AssertionError(f"no local message {folder!r} UID {uid} in {setup.maildir}")


def _set_local_flags(message: LocalMessage, flags: str) -> None:
    base = message.path.name.partition(":2,")[0]
    target = message.path.parent.parent / "cur" / f"{base}:2,{flags}"
    os.rename(message.path, target)


def test_phantomsafe_matches_stock_imap(dovecot: DovecotServer, offlineimap_for_dovecot: SetupFactory) -> None:
    total = populate(dovecot)
    assert total >= 2000
    # populate() creates parent folders as real (empty) mailboxes: "Lists", "Lists/dev".
    expected_folders = {"/".join(f.split("/")[:depth]) for f in FOLDERS for depth in range(1, f.count("/") + 2)}
    assert set(dovecot.folders()) == expected_folders
    server_before = server_state(dovecot)
    assert sum(server_before.values()) == total

    stock = offlineimap_for_dovecot("stock", maxconnections=2)
    safe = offlineimap_for_dovecot("phantomsafe", phantomsafe=True, maxconnections=2)
    _sync(stock, "first sync, stock IMAP")
    assert {_server_folder(name) for name in read_maildir(stock.maildir)} == expected_folders
    assert local_state(stock) == server_before

    _sync(safe, "first sync, PhantomSafeIMAP")
    assert local_state(safe) == local_state(stock)
    # Not only the same content: the very same bytes in the same folders under the same UIDs.
    assert raw_by_name(safe) == raw_by_name(stock)

    # The same changes for both: on the server (doveadm) ...
    dovecot.doveadm("flags", "add", "-u", dovecot.user, "\\Flagged \\Answered", "mailbox", "INBOX", "uid", "1:5")
    dovecot.doveadm("flags", "remove", "-u", dovecot.user, "\\Seen", "mailbox", "Archive/2024", "uid", "1:40")
    dovecot.doveadm("flags", "add", "-u", dovecot.user, "\\Seen", "mailbox", "Entwürfe", "uid", "1:10")
    dovecot.doveadm("expunge", "-u", dovecot.user, "mailbox", "Archive/2023", "uid", "7")
    dovecot.doveadm("expunge", "-u", dovecot.user, "mailbox", "INBOX", "uid", "100:102")
    # ... and in each Maildir: a flag change by renaming the info part, and a deleted file.
    for setup in (stock, safe):
        _set_local_flags(_find(setup, "Sent", 3), "FS")
        _set_local_flags(_find(setup, "Lists/dev/Ärger & Co", 1), "")
        _find(setup, "Archive", 9).path.unlink()

    _sync(stock, "second sync, stock IMAP")
    _sync(safe, "second sync, PhantomSafeIMAP")

    server_after = server_state(dovecot)
    assert sum(server_after.values()) == total - 5  # 4 expunged on the server, 1 deleted locally
    assert local_state(stock) == server_after
    assert local_state(safe) == server_after
    flags_of = {(folder, digest): flags for folder, digest, flags in server_after}
    sent3 = next(m for m in dovecot.fetch_all("Sent") if m.uid == 3)
    assert flags_of[("Sent", _digest(sent3.raw))] == "FS"
    inbox1 = next(m for m in dovecot.fetch_all("INBOX") if m.uid == 1)
    assert {"\\Flagged", "\\Answered"} <= inbox1.flags
    assert 9 not in {m.uid for m in dovecot.fetch_all("Archive")}


def test_populate_is_fast(dovecot: DovecotServer, tmp_path: Path) -> None:
    """The fixture promise: 10k messages written straight into a Maildir in about a second."""
    messages = [make_message(n) for n in range(10_000)]
    started = time.monotonic()
    dovecot.populate("Bulk", messages, flags=lambda i: "S" if i % 3 else "")
    elapsed = time.monotonic() - started
    print(f"[timing] populate 10k: {elapsed:.2f}s")
    assert elapsed < 5
    with dovecot.imap() as conn:
        typ, data = conn.select("Bulk", readonly=True)
    assert typ == "OK" and int(data[0] or b"0") == 10_000
