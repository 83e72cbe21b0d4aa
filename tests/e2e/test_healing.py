"""A phantom that the server repairs: the next delivery heals its record, and nothing advises deleting it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from offlineimap_phantomfix.testing import Fault
from offlineimap_phantomfix.testing.harness import read_maildir
from offlineimap_phantomfix.testing.messages import make_message
from offlineimap_phantomfix.verdicts import Verdict

from .lifecycle_helpers import helper, state
from .phantomsafe_helpers import assert_mailbox_synced, normalized, phantomsafe_setup, records, sync

pytestmark = pytest.mark.e2e


def _mailbox(emulator: Any, fault: Fault) -> int:
    emulator.append("INBOX", make_message(1))
    uid = emulator.append("INBOX", make_message(2, subject="Quarterly figures"), fault=fault)
    emulator.append("INBOX", make_message(3))
    return int(uid)


@pytest.mark.parametrize("fault", [Fault.PLACEHOLDER, Fault.EMPTY], ids=lambda f: f.value)
def test_repaired_phantom_is_fetched_after_retry_and_its_record_heals(emulator: Any, tmp_path: Path,
                                                                      fault: Fault) -> None:
    uid = _mailbox(emulator, fault)
    setup = phantomsafe_setup(tmp_path, emulator, remote_options={"phantom_retry_after": "1s"})
    assert sync(setup).returncode == 0
    (before,) = records(setup)
    assert before.verdict.is_phantom and before.skipped and before.quarantine
    assert helper(setup, "report", "--new")[0] == 0  # the phantom has been shown once

    emulator.set_fault("INBOX", uid, None)  # the server repairs the message
    time.sleep(1.2)
    healed_run = sync(setup)
    assert healed_run.returncode == 0, healed_run.output
    assert_mailbox_synced(emulator, setup, missing=set())
    original = next(m.raw for m in emulator.messages("INBOX") if m.uid == uid)
    assert normalized(original) in [normalized(m.raw) for m in read_maildir(setup.maildir)["INBOX"]]

    (after,) = records(setup)
    assert after.verdict is Verdict.RECOVERED
    assert after.recovered_by == "plain fetch after retry"
    assert not after.skipped and after.attempts == 2 and after.last_seen > before.last_seen
    assert after.quarantine == before.quarantine and Path(after.quarantine or "").is_file()
    summary = [line for line in healed_run.output.splitlines() if "phantomfix: " in line and "recovered" in line]
    assert any(line.rstrip().endswith("1 recovered") for line in summary), healed_run.output
    assert "still skipped" not in healed_run.output

    status, text, _ = helper(setup, "report")
    assert status == 0
    assert "since been synced" in text and "purge" not in text, text
    assert "since been synced" in (state(setup) / f"report-{setup.account}.txt").read_text()
    new_once = helper(setup, "report", "--new")[1]
    assert "recovered" in new_once and f"UID {uid}" in new_once
    assert helper(setup, "report", "--new")[1] == ""  # shown once

    again = sync(setup)  # nothing more to say about it
    assert again.returncode == 0 and "recovered" not in again.output
    (final,) = records(setup)
    assert final.attempts == 2


def test_retry_action_heals_on_the_next_plain_fetch(emulator: Any, tmp_path: Path) -> None:
    uid = _mailbox(emulator, Fault.REFUSED_NO)
    setup = phantomsafe_setup(tmp_path, emulator, remote_options={"phantom_action": "retry"})
    assert sync(setup).returncode == 1
    emulator.set_fault("INBOX", uid, None)
    result = sync(setup)
    assert result.returncode == 0, result.output
    (record,) = records(setup)
    assert (record.verdict, record.recovered_by, record.skipped, record.attempts) == \
        (Verdict.RECOVERED, "plain fetch", False, 2)
    assert_mailbox_synced(emulator, setup, missing=set())


def test_switching_to_retry_fetches_skipped_phantoms_again(emulator: Any, tmp_path: Path) -> None:
    uid = _mailbox(emulator, Fault.EMPTY)
    setup = phantomsafe_setup(tmp_path, emulator)
    assert sync(setup).returncode == 0
    retry = phantomsafe_setup(tmp_path, emulator, remote_options={"phantom_action": "retry"})
    before = emulator.content_fetches("INBOX", uid)
    result = sync(retry)
    assert result.returncode == 1, result.output  # the README's promise: an error every sync
    assert emulator.content_fetches("INBOX", uid) > before
    (record,) = records(retry)
    assert not record.skipped and record.attempts == 2


def test_the_ladder_heals_a_record_too(emulator: Any, tmp_path: Path) -> None:
    uid = _mailbox(emulator, Fault.EMPTY)
    setup = phantomsafe_setup(tmp_path, emulator, remote_options={"phantom_retry_after": "1s"})
    assert sync(setup).returncode == 0
    emulator.set_fault("INBOX", uid, Fault.SEQUENCE_ONLY)  # now only the fetch by sequence number works
    time.sleep(1.2)
    result = sync(setup)
    assert result.returncode == 0, result.output
    assert_mailbox_synced(emulator, setup, missing=set())
    (record,) = records(setup)
    assert (record.verdict, record.recovered_by, record.skipped, record.attempts) == \
        (Verdict.RECOVERED, "sequence-fetch", False, 2)
    assert "since been synced" in helper(setup, "report")[1]
