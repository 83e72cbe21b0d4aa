"""Ways a sync could lose mail or mislead, each with the real offlineimap against the emulator."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from offlineimap_phantomfix.store import STORE_FILENAME
from offlineimap_phantomfix.testing import Fault
from offlineimap_phantomfix.testing.harness import read_maildir
from offlineimap_phantomfix.testing.messages import SUBSTITUTE_SUBJECT, exchange_substitute, make_message
from offlineimap_phantomfix.verdicts import Verdict

from .lifecycle_helpers import helper, state
from .phantomsafe_helpers import (
    assert_mailbox_synced,
    item_evidence,
    phantomsafe_setup,
    records,
    sync,
    warning_lines,
)

pytestmark = pytest.mark.e2e

QUESTION = ("Hi helpdesk,\r\n\r\nsince Monday I get mails with this subject instead of my invoices. The server "
            "couldn't retrieve the following message, it says. What can I do?\r\n\r\nCarol\r\n")


def _around(emulator: Any, raw: bytes, fault: Fault | None = None) -> int:
    emulator.append("INBOX", make_message(1))
    uid = emulator.append("INBOX", raw, fault=fault)
    emulator.append("INBOX", make_message(3))
    return int(uid)


# --- a real mail judged a substitute -------------------------------------------------------------------------

@pytest.mark.parametrize("action", ["quarantine", "skip"])
def test_a_colleague_asking_about_the_notice_is_synced(emulator: Any, tmp_path: Path, action: str) -> None:
    question = make_message(2, subject=f"{SUBSTITUTE_SUBJECT} 15541", body=QUESTION,
                            sender="Carol Jones <carol.jones@outlook.com>")
    _around(emulator, question)
    setup = phantomsafe_setup(tmp_path, emulator, remote_options={"phantom_action": action})
    result = sync(setup)
    assert result.returncode == 0 and warning_lines(result.output) == [], result.output
    assert_mailbox_synced(emulator, setup, missing=set())
    assert records(setup) == []


def test_a_notice_mailed_on_as_it_was_is_synced(emulator: Any, tmp_path: Path) -> None:
    # Someone sent Exchange's notice on unchanged: its Subject names the UID it was about in their mailbox (7),
    # not this message's UID, so it is not the server's substitute for this message.
    notice_as_mail = exchange_substitute(7, subject="Invoice 4711", sender="Billing <billing@example.com>",
                                         sent="3/1/2024 9:00:00 AM")
    assert _around(emulator, notice_as_mail) == 2
    setup = phantomsafe_setup(tmp_path, emulator)
    result = sync(setup)
    assert result.returncode == 0 and warning_lines(result.output) == [], result.output
    assert_mailbox_synced(emulator, setup, missing=set())
    assert records(setup) == []


def test_the_real_substitute_is_still_recognised(emulator: Any, tmp_path: Path) -> None:
    uid = _around(emulator, make_message(2, subject="Quarterly figures"), Fault.PLACEHOLDER_PEEK)
    setup = phantomsafe_setup(tmp_path, emulator)
    assert sync(setup).returncode == 0
    (record,) = records(setup)
    assert (record.key.uid, record.verdict, record.skipped) == (uid, Verdict.PLACEHOLDER, True)
    assert_mailbox_synced(emulator, setup, missing={("INBOX", uid)})


# --- "vanished" forever ----------------------------------------------------------------------------------------

def test_expunged_but_listed_again_is_a_phantom_not_vanished(emulator: Any, tmp_path: Path) -> None:
    uid = _around(emulator, make_message(2), Fault.VANISH_LISTED)
    setup = phantomsafe_setup(tmp_path, emulator)
    first = sync(setup)
    assert first.returncode == 0, first.output
    assert "expunged on the server" not in first.output
    (record,) = records(setup)
    assert record.verdict is Verdict.EMPTY and record.skipped
    assert len(warning_lines(first.output)) == 1
    before = emulator.content_fetches("INBOX", uid)
    assert sync(setup).returncode == 0
    assert emulator.content_fetches("INBOX", uid) == before  # skipped, not "vanished" again and again
    assert_mailbox_synced(emulator, setup, missing={("INBOX", uid)})


def test_vanished_again_on_a_later_sync_escalates(emulator: Any, tmp_path: Path) -> None:
    # A server that expunges the UID for whoever fetches it, and lists it again by the next sync.
    uid = _around(emulator, make_message(2), Fault.VANISH)
    setup = phantomsafe_setup(tmp_path, emulator)
    assert sync(setup).returncode == 0
    assert [(r.verdict, r.skipped) for r in records(setup)] == [(Verdict.VANISHED, False)]
    emulator.set_next_uid("INBOX", uid)
    assert emulator.append("INBOX", make_message(2), fault=Fault.VANISH) == uid
    second = sync(setup)
    assert second.returncode == 0, second.output
    (record,) = records(setup)
    assert (record.verdict, record.skipped, record.attempts) == (Verdict.EMPTY, True, 2)
    assert record.server_said == "no data", "what the server said to the fetches, not our conclusion"
    assert "  expunged on an earlier sync, yet listed again" in item_evidence(record).splitlines()
    assert len(warning_lines(second.output)) == 1


# --- silent success without a record ---------------------------------------------------------------------------

def _newer_store(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(directory / STORE_FILENAME) as connection:
        connection.execute("PRAGMA user_version = 99")


@pytest.mark.parametrize("action", ["quarantine", "retry"])
def test_a_store_from_a_newer_version_fails_the_sync_loudly(emulator: Any, tmp_path: Path, action: str) -> None:
    uid = _around(emulator, make_message(2), Fault.EMPTY)
    setup = phantomsafe_setup(tmp_path, emulator, remote_options={"phantom_action": action})
    _newer_store(state(setup))
    result = sync(setup)
    assert result.returncode == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("ERROR: phantomfix:")]
    assert errors and all("[not recorded" in line for line in errors), result.output
    assert_mailbox_synced(emulator, setup, missing={("INBOX", uid)})
    with sqlite3.connect(state(setup) / STORE_FILENAME) as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == 99  # left untouched


def test_retry_action_with_an_unusable_state_directory_exits_1(emulator: Any, tmp_path: Path) -> None:
    _around(emulator, make_message(2), Fault.REFUSED_NO)
    blocker = tmp_path / "blocker"
    blocker.write_text("a file\n")
    setup = phantomsafe_setup(tmp_path / "sync", emulator,
                              remote_options={"phantom_action": "retry", "phantom_dir": str(blocker)})
    result = sync(setup)
    assert result.returncode == 1, result.output


# --- a report that describes what is not there -----------------------------------------------------------------

def test_skip_action_report_claims_no_quarantine(emulator: Any, tmp_path: Path) -> None:
    uid = _around(emulator, make_message(2), Fault.PLACEHOLDER)
    setup = phantomsafe_setup(tmp_path, emulator, remote_options={"phantom_action": "skip"})
    assert sync(setup).returncode == 0
    status, text, _ = helper(setup, "report", "--long")
    assert status == 0 and f"UID {uid}" in text
    step = next(line for line in text.splitlines() if "next step:" in line)
    assert "quarantine" not in step and "purge" not in step, step


def test_failed_quarantine_write_is_not_claimed(emulator: Any, tmp_path: Path) -> None:
    uid = _around(emulator, make_message(2), Fault.PLACEHOLDER)
    setup = phantomsafe_setup(tmp_path, emulator)
    state(setup).mkdir(parents=True)
    (state(setup) / "quarantine").write_text("a file where the quarantine should be\n")
    result = sync(setup)
    assert "could not quarantine" in result.output, result.output
    (record,) = records(setup)
    assert record.key.uid == uid and record.quarantine is None
    step = next(line for line in helper(setup, "report", "--long")[1].splitlines() if "next step:" in line)
    assert "quarantine" not in step and "purge" not in step, step


# --- a ladder that cannot open a new connection ----------------------------------------------------------------

def test_ladder_without_a_new_connection_does_not_abort_the_folder(emulator: Any, tmp_path: Path) -> None:
    uid = _around(emulator, make_message(2), Fault.DROPPED)
    emulator.logins_refused_after_drop = 3
    setup = phantomsafe_setup(tmp_path, emulator)
    result = sync(setup)  # sync() fails on any traceback
    (record,) = records(setup)
    assert record.key.uid == uid and record.verdict is Verdict.DROPPED, result.output
    assert record.server_said == "connection dropped", "no content fetch was answered but the plain one"
    assert "could not open a connection" in item_evidence(record)
    assert_mailbox_synced(emulator, setup, missing={("INBOX", uid)})


# --- a transient failure -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("fault", [Fault.REFUSED_NO, Fault.DROPPED], ids=lambda f: f.value)
def test_a_passing_failure_is_retried_next_sync_without_purge_advice(emulator: Any, tmp_path: Path,
                                                                      fault: Fault) -> None:
    uid = _around(emulator, make_message(2), fault)
    setup = phantomsafe_setup(tmp_path, emulator)
    assert sync(setup).returncode == 0
    (record,) = records(setup)
    assert not record.skipped and record.attempts == 1
    assert "purge" not in helper(setup, "report", "--long")[1]
    emulator.set_fault("INBOX", uid, None)  # it was passing
    assert sync(setup).returncode == 0
    assert_mailbox_synced(emulator, setup, missing=set())
    (record,) = records(setup)
    assert record.verdict is Verdict.RECOVERED and record.recovered_by == "plain fetch"
    assert len(read_maildir(setup.maildir)["INBOX"]) == 3
