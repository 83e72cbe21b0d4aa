"""A message deleted on a real server while offlineimap syncs: another session (a phone, webmail) expunges it
between offlineimap's listing and its fetch. PhantomSafeIMAP must call it ``vanished`` (never a phantom that is
skipped or quarantined), sync every other message, and tell it from a message that is still listed by looking
at a fresh view of the folder (EXAMINE again) on the same connection."""

from __future__ import annotations

import re

import pytest

from offlineimap_phantomfix.store import PhantomStore
from offlineimap_phantomfix.testing.dovecot import DovecotServer
from offlineimap_phantomfix.testing.harness import read_maildir, run_offlineimap
from offlineimap_phantomfix.testing.messages import make_message

from .conftest import PHANTOMSAFE_HOOK, SetupFactory

pytestmark = pytest.mark.dovecot

GONE_UID = 3


def _expunge_before_fetch(dovecot: DovecotServer, uid: int) -> list[str]:
    """Lines for the test's pythonfile: right before offlineimap's own fetch of ``uid``, another session flags
    it deleted and expunges it (test code only: it wraps offlineimap's fetch to time the deletion)."""
    return [
        "import imaplib as _imaplib",
        "from offlineimap.folder.IMAP import IMAPFolder as _Folder",
        "_plain_fetch = _Folder._fetch_from_imap",
        "_done = []",
        "def _fetch_after_a_deletion_elsewhere(self, uids, retry_num=1):",
        f"    if str(uids) == '{uid}' and not _done:",
        "        _done.append(True)",
        f"        other = _imaplib.IMAP4('127.0.0.1', {dovecot.port})",
        f"        other.login({dovecot.user!r}, {dovecot.password!r})",
        "        other.select('INBOX')",
        f"        other.uid('STORE', '{uid}', '+FLAGS.SILENT', '(\\\\Deleted)')",
        "        other.expunge()",
        "        other.logout()",
        "    return _plain_fetch(self, uids, retry_num)",
        "_Folder._fetch_from_imap = _fetch_after_a_deletion_elsewhere",
    ]


@pytest.mark.parametrize("connections", [1, 2])
def test_a_message_expunged_elsewhere_during_the_sync_is_vanished(dovecot: DovecotServer,
                                                                  offlineimap_for_dovecot: SetupFactory,
                                                                  connections: int) -> None:
    dovecot.populate("INBOX", [make_message(n) for n in range(1, 6)])
    assert [m.uid for m in dovecot.fetch_all("INBOX")] == [1, 2, 3, 4, 5]
    setup = offlineimap_for_dovecot("vanish", phantomsafe=True,
                                    account_options={"maxconnections": str(connections)},
                                    pythonfile_lines=[*PHANTOMSAFE_HOOK, *_expunge_before_fetch(dovecot, GONE_UID)])
    first = run_offlineimap(setup, "-d", "imap", timeout=120)
    assert first.returncode == 0, first.output
    assert [m.uid for m in dovecot.fetch_all("INBOX")] == [1, 2, 4, 5]
    assert sorted(m.uid for m in read_maildir(setup.maildir)["INBOX"]) == [1, 2, 4, 5]
    with PhantomStore(setup.metadata / "phantomfix") as store:
        found = [(r.key.uid, r.verdict.value, r.skipped) for r in store.records()]
    assert found == [(GONE_UID, "vanished", False)], first.output
    if connections == 1:  # one connection: its commands in order, from offlineimap's IMAP debug log
        sent = [m.group(1) for m in re.finditer(r"writer > b'\S+ (.+?)\\r\\n'", first.output)]
        start = sent.index(f"UID FETCH {GONE_UID} (BODY.PEEK[])")
        window = sent[start:sent.index(f"UID FETCH {GONE_UID + 1} (BODY.PEEK[])")]
        # the fresh view of the folder, nothing else (offlineimap 8.0 also NOOPs whenever it takes a pooled
        # connection; Debian's offlineimap3 does not)
        assert [command for command in window if command != "NOOP"] == [
            f"UID FETCH {GONE_UID} (BODY.PEEK[])", "EXAMINE INBOX", f"UID SEARCH UID {GONE_UID}"]
    assert not (setup.metadata / "phantomfix" / "quarantine").exists() or \
        not any((setup.metadata / "phantomfix" / "quarantine").rglob("*.eml"))
    second = run_offlineimap(setup, timeout=120)
    assert second.returncode == 0 and "phantomfix" not in second.output.replace("phantomfix: active", ""), \
        second.output
