"""A real fault on a real server: a message file Dovecot cannot read (``chmod 000``).

Dovecot lists the message (its index knows it) and then cannot deliver it. With the default
``imap_fetch_failure = disconnect-immediately`` it answers the FETCH with
``* BYE FETCH failed: Internal error occurred...`` and closes the connection (the **dropped** case); with
``imap_fetch_failure = no-after`` it answers ``NO [SERVERBUG] Internal error occurred...`` (the **refused**
case). The folder "Broken" (sorted before "INBOX") holds six messages, the third unreadable; INBOX holds four
healthy ones.

Under ``no-after`` Dovecot answers NO only for the first FETCH of the broken mail in a session; a second
FETCH of it in the same session gets ``* BYE`` (see ``test_no_after_gives_tagged_no_serverbug``).

The stock tests pin what offlineimap 8.0.3 really does (observed against Dovecot 2.3.19); they prove the
fault is real and are the baseline PhantomSafeIMAP is measured against.
"""

from __future__ import annotations

import hashlib
import imaplib
import time

import pytest

from offlineimap_phantomfix.store import PhantomStore
from offlineimap_phantomfix.testing.dovecot import DovecotServer
from offlineimap_phantomfix.testing.harness import (
    OfflineimapSetup,
    SyncResult,
    normalise_newlines,
    read_maildir,
    run_offlineimap,
)
from offlineimap_phantomfix.testing.messages import make_message

from .conftest import SetupFactory

pytestmark = pytest.mark.dovecot

BROKEN_UID = 3
EXCEPTIONS = "ERROR: Exceptions occurred during the run!"
STOCK_BYE_TYPEERROR = "TypeError: %d format: a real number is required, not str"
STOCK_NO_LINE = (
    f"ERROR: IMAP server 'TestRemote' failed to fetch messages UID '{BROKEN_UID}'. "
    "Server responded: NO [b'[SERVERBUG] Internal error occurred."
)
PERMISSION_DENIED = "failed: Permission denied"


def _digest(raw: bytes) -> str:
    return hashlib.sha256(normalise_newlines(raw)).hexdigest()


@pytest.fixture
def broken_mailbox(dovecot: DovecotServer) -> DovecotServer:
    dovecot.populate("Broken", [make_message(n) for n in range(1, 7)], flags=lambda i: "S" if i % 2 else "")
    dovecot.populate("INBOX", [make_message(n) for n in range(101, 105)])
    # Let Dovecot index the folders (assign UIDs) while every file is still readable, as on a real server
    # where a message was delivered fine and its file broke later.
    assert [m.uid for m in dovecot.fetch_all("Broken")] == [1, 2, 3, 4, 5, 6]
    dovecot.make_unreadable("Broken", BROKEN_UID - 1)
    return dovecot


def landed(setup: OfflineimapSetup) -> dict[str, list[int | None]]:
    return {folder: [m.uid for m in messages] for folder, messages in read_maildir(setup.maildir).items()}


def assert_landed_intact(setup: OfflineimapSetup, server: DovecotServer) -> None:
    """Every local message is byte-for-byte (modulo line ends) the server's message with that UID."""
    for folder, messages in read_maildir(setup.maildir).items():
        uids = [m.uid for m in messages if m.uid is not None]
        on_server = {m.uid: m for m in server.fetch_all(folder, uids)}
        for message in messages:
            assert message.uid in on_server, f"{folder} UID {message.uid} is not on the server"
            assert _digest(message.raw) == _digest(on_server[message.uid].raw)


def sync(setup: OfflineimapSetup, label: str) -> SyncResult:
    started = time.monotonic()
    result = run_offlineimap(setup, timeout=120)
    print(f"[timing] {label}: {time.monotonic() - started:.1f}s, exit {result.returncode}")
    return result


def verdicts(setup: OfflineimapSetup) -> list[tuple[str, int, str]]:
    store = PhantomStore(setup.metadata / "phantomfix")
    try:
        return [(r.key.folder, r.key.uid, r.verdict.value) for r in store.records()]
    finally:
        store.close()


# -- the fault is real ----------------------------------------------------------------------------------


def test_unreadable_file_gives_bye_by_default(broken_mailbox: DovecotServer) -> None:
    with broken_mailbox.imap() as conn:
        conn.select("Broken", readonly=True)
        with pytest.raises(imaplib.IMAP4.abort, match="FETCH failed: Internal error occurred"):
            conn.uid("FETCH", str(BROKEN_UID), "(BODY.PEEK[])")
    assert PERMISSION_DENIED in broken_mailbox.log_text(since_reset=True)


def test_no_after_gives_tagged_no_serverbug(broken_mailbox: DovecotServer) -> None:
    broken_mailbox.set_option("imap_fetch_failure", "no-after")
    with broken_mailbox.imap() as conn:
        conn.select("Broken", readonly=True)
        typ, data = conn.uid("FETCH", str(BROKEN_UID), "(BODY.PEEK[])")
        assert typ == "NO"
        assert data[0] is not None and data[0].startswith(b"[SERVERBUG] Internal error occurred.")
        # The connection survives, and the neighbours are still delivered.
        typ, data = conn.uid("FETCH", "4", "(BODY.PEEK[])")
        assert typ == "OK" and any(isinstance(item, tuple) and b"UID 4 " in item[0] for item in data)
        # But only once per session: fetching the same broken mail again (any body section) ends the
        # connection with BYE, by design (Dovecot's guard against clients looping on a broken mail).
        with pytest.raises(imaplib.IMAP4.abort, match="FETCH failed: Internal error occurred"):
            conn.uid("FETCH", str(BROKEN_UID), "(BODY.PEEK[HEADER])")
    # A new session gets the NO again.
    with broken_mailbox.imap() as conn:
        conn.select("Broken", readonly=True)
        typ, _ = conn.uid("FETCH", str(BROKEN_UID), "(BODY.PEEK[])")
        assert typ == "NO"


# -- stock offlineimap 8.0.3: pinned behaviour -------------------------------------------------------------


def test_stock_imap_on_bye(broken_mailbox: DovecotServer, offlineimap_for_dovecot: SetupFactory) -> None:
    """Stock: the retry path's format-string bug kills the copy thread, the whole run stops with exit 100,
    the rest of "Broken" and every later folder (INBOX) are not synced; the next run does it again."""
    setup = offlineimap_for_dovecot("stock-bye")
    result = sync(setup, "stock IMAP, BYE")
    assert result.returncode == 100, result.output
    assert STOCK_BYE_TYPEERROR in result.output
    assert "ERROR: Copying message 3 [acc: Test]" in result.output
    assert landed(setup) == {"Broken": [1, 2], "INBOX": []}
    assert_landed_intact(setup, broken_mailbox)

    again = sync(setup, "stock IMAP, BYE, second run")
    assert again.returncode == 100
    assert STOCK_BYE_TYPEERROR in again.output
    assert landed(setup) == {"Broken": [1, 2], "INBOX": []}


def test_stock_imap_on_no_serverbug(broken_mailbox: DovecotServer, offlineimap_for_dovecot: SetupFactory) -> None:
    """Stock: one ERROR for UID 3, everything else syncs, exit 1; the next run fetches UID 3 again and
    fails again (forever)."""
    broken_mailbox.set_option("imap_fetch_failure", "no-after")
    setup = offlineimap_for_dovecot("stock-no")
    result = sync(setup, "stock IMAP, NO [SERVERBUG]")
    assert result.returncode == 1, result.output
    assert STOCK_NO_LINE in result.output
    assert EXCEPTIONS in result.output
    assert landed(setup) == {"Broken": [1, 2, 4, 5, 6], "INBOX": [1, 2, 3, 4]}
    assert_landed_intact(setup, broken_mailbox)

    again = sync(setup, "stock IMAP, NO [SERVERBUG], second run")
    assert again.returncode == 1
    assert "Copy message UID 3 (1/1) TestRemote:Broken -> TestLocal:Broken" in again.output
    assert STOCK_NO_LINE in again.output
    assert landed(setup) == {"Broken": [1, 2, 4, 5, 6], "INBOX": [1, 2, 3, 4]}


# -- PhantomSafeIMAP --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fetch_failure", "verdict"),
    [pytest.param(None, "dropped", id="bye-dropped"), pytest.param("no-after", "refused", id="no-refused")],
)
def test_phantomsafe(
    broken_mailbox: DovecotServer, offlineimap_for_dovecot: SetupFactory, fetch_failure: str | None, verdict: str
) -> None:
    if fetch_failure is not None:
        broken_mailbox.set_option("imap_fetch_failure", fetch_failure)
    setup = offlineimap_for_dovecot(f"phantomsafe-{verdict}", phantomsafe=True)
    result = sync(setup, f"PhantomSafeIMAP, {verdict}")
    assert result.returncode == 0, result.output
    assert EXCEPTIONS not in result.output, result.output
    assert landed(setup) == {"Broken": [1, 2, 4, 5, 6], "INBOX": [1, 2, 3, 4]}, result.output
    assert_landed_intact(setup, broken_mailbox)
    assert verdicts(setup) == [("Broken", BROKEN_UID, verdict)], result.output

    # A first refusal or drop may be passing: the next sync tries once more, and then it is skipped.
    confirm = sync(setup, f"PhantomSafeIMAP, {verdict}, confirmed")
    assert confirm.returncode == 0, confirm.output
    assert verdicts(setup) == [("Broken", BROKEN_UID, verdict)], confirm.output

    # The next sync leaves the skipped message alone: exit 0, nothing new lands, Dovecot is not asked for it.
    log_before = broken_mailbox.log_text().count(PERMISSION_DENIED)
    again = sync(setup, f"PhantomSafeIMAP, {verdict}, second run")
    assert again.returncode == 0, again.output
    assert landed(setup) == {"Broken": [1, 2, 4, 5, 6], "INBOX": [1, 2, 3, 4]}
    assert broken_mailbox.log_text().count(PERMISSION_DENIED) == log_before, again.output
    assert verdicts(setup) == [("Broken", BROKEN_UID, verdict)]
