"""probe and purge on a real Dovecot: a message file Dovecot cannot read (the BYE case), next to another
message that is already flagged \\Deleted and must survive the purge."""

from __future__ import annotations

from pathlib import Path

import pytest

from offlineimap_phantomfix.config import PhantomConfig
from offlineimap_phantomfix.probe import run_probe
from offlineimap_phantomfix.purge import run_purge
from offlineimap_phantomfix.testing.dovecot import DovecotServer
from offlineimap_phantomfix.testing.messages import make_message
from offlineimap_phantomfix.verdicts import Verdict

from .conftest import SetupFactory

pytestmark = pytest.mark.dovecot

BROKEN_UID = 3
DELETED_UID = 5


@pytest.fixture
def mailbox(dovecot: DovecotServer) -> DovecotServer:
    dovecot.populate("Broken", [make_message(n) for n in range(1, 7)],
                     flags=lambda i: "T" if i + 1 == DELETED_UID else "S")
    assert [m.uid for m in dovecot.fetch_all("Broken")] == [1, 2, 3, 4, 5, 6]  # indexed while readable
    dovecot.make_unreadable("Broken", BROKEN_UID - 1)
    return dovecot


def _state(server: DovecotServer) -> list[tuple[int, frozenset[str]]]:
    return [(m.uid, m.flags) for m in server.fetch_all("Broken", [1, 2, 4, 5, 6])]


def test_probe_sees_the_bye(mailbox: DovecotServer, offlineimap_for_dovecot: SetupFactory, tmp_path: Path) -> None:
    setup = offlineimap_for_dovecot("probe", phantomsafe=True)
    before = _state(mailbox)
    result = run_probe(PhantomConfig.load(setup.config), "Test", "Broken", BROKEN_UID)
    out = tmp_path / "transcript.txt"
    out.write_text(result.transcript + result.verdict + "\n", encoding="utf-8")
    text = out.read_text(encoding="utf-8")
    assert result.outcome is Verdict.DROPPED
    assert "S: * BYE FETCH failed: Internal error occurred." in text
    assert mailbox.password not in text
    assert _state(mailbox) == before


def test_purge_removes_the_target_and_nothing_else(mailbox: DovecotServer,
                                                   offlineimap_for_dovecot: SetupFactory) -> None:
    config = PhantomConfig.load(offlineimap_for_dovecot("purge", phantomsafe=True).config)
    before = _state(mailbox)
    dry = run_purge(config, "Test", "Broken", BROKEN_UID, yes=False)
    assert not dry.done and any("UID EXPUNGE 3" in line for line in dry.lines)
    assert _state(mailbox) == before
    assert len(mailbox.message_files("Broken")) == 6

    result = run_purge(config, "Test", "Broken", BROKEN_UID, yes=True)
    assert result.done, result.lines
    assert _state(mailbox) == before  # 1, 2, 4, 5 (still \Deleted), 6 untouched
    assert (DELETED_UID, frozenset({"\\Deleted"})) in _state(mailbox)
    assert len(mailbox.message_files("Broken")) == 5
    with mailbox.imap() as conn:
        conn.select("Broken", readonly=True)
        typ, data = conn.uid("SEARCH", "ALL")
    assert typ == "OK" and data[0].split() == [b"1", b"2", b"4", b"5", b"6"]
