"""PhantomSafeIMAP with the real offlineimap against the emulator: every fault ends in a complete sync."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest

from offlineimap_phantomfix.testing import Fault
from offlineimap_phantomfix.testing.harness import (
    read_maildir,
    run_offlineimap,
    write_offlineimaprc,
)
from offlineimap_phantomfix.testing.messages import make_message
from offlineimap_phantomfix.testing.scenarios import build_fault_scenario, build_mixed_mailbox
from offlineimap_phantomfix.verdicts import Verdict

from .phantomsafe_helpers import (
    ACTIVATION,
    assert_mailbox_synced,
    normalized,
    phantomsafe_setup,
    records,
    sync,
    warning_lines,
)

pytestmark = pytest.mark.e2e

EXPECTED = {
    Fault.EMPTY: Verdict.EMPTY,
    Fault.PLACEHOLDER: Verdict.PLACEHOLDER,
    Fault.PLACEHOLDER_PEEK: Verdict.PLACEHOLDER,
    Fault.REFUSED_NO: Verdict.REFUSED,
    Fault.REFUSED_BAD: Verdict.REFUSED,
    Fault.DROPPED: Verdict.DROPPED,
    Fault.VANISH: Verdict.VANISHED,
    Fault.SEQUENCE_ONLY: Verdict.RECOVERED,
    Fault.SEQUENCE_WRONG: Verdict.EMPTY,
}


@pytest.mark.parametrize("maxconnections", [1, 3])
@pytest.mark.parametrize("fault", list(EXPECTED), ids=[f.value for f in EXPECTED])
def test_each_fault_completes_and_is_not_fetched_again(emulator: Any, tmp_path: Path, fault: Fault,
                                                        maxconnections: int) -> None:
    scenario = build_fault_scenario(emulator, fault)
    assert scenario.phantom_uid is not None
    phantom = (scenario.folder, scenario.phantom_uid)
    original = next(m.raw for m in emulator.messages(scenario.folder) if m.uid == scenario.phantom_uid)
    setup = phantomsafe_setup(tmp_path, emulator, maxconnections=maxconnections)

    first = sync(setup)
    assert first.returncode == 0, first.output
    (record,) = records(setup)
    assert (record.key.folder, record.key.uid) == phantom
    assert record.verdict is EXPECTED[fault]
    # A refusal or a drop may be passing: the first one is retried on the next sync, the second one skipped.
    assert record.skipped is (EXPECTED[fault].is_phantom and not EXPECTED[fault].may_pass)

    if fault is Fault.SEQUENCE_ONLY:
        assert record.recovered_by == "sequence-fetch"
        assert_mailbox_synced(emulator, setup, missing=set())
        local = [m.raw for m in read_maildir(setup.maildir)[scenario.folder]]
        assert normalized(original) in [normalized(raw) for raw in local]
    elif fault is Fault.VANISH:
        assert_mailbox_synced(emulator, setup, missing=set())  # the server no longer has it at all
    else:
        assert_mailbox_synced(emulator, setup, missing={phantom})
        assert len(warning_lines(first.output)) == 1, first.output
    local_raw = b"\n".join(m.raw for msgs in read_maildir(setup.maildir).values() for m in msgs)
    assert b"Retrieval using the IMAP4 protocol failed" not in local_raw

    attempts = 1
    if EXPECTED[fault].may_pass:
        before = emulator.content_fetches(*phantom)
        confirm = sync(setup)
        assert confirm.returncode == 0, confirm.output
        assert emulator.content_fetches(*phantom) > before
        (record,) = records(setup)
        assert (record.verdict, record.skipped, record.attempts) == (EXPECTED[fault], True, 2)
        attempts = 2
    before = emulator.content_fetches(*phantom)
    second = sync(setup)
    assert second.returncode == 0, second.output
    assert warning_lines(second.output) == []
    if EXPECTED[fault].is_phantom:
        assert emulator.content_fetches(*phantom) == before, "a skipped phantom was fetched again"
    (again,) = records(setup)
    assert again.attempts == attempts
    assert_mailbox_synced(emulator, setup, missing={phantom} if EXPECTED[fault].is_phantom else set())


def test_activation_through_the_wrapper_command(emulator: Any, tmp_path: Path) -> None:
    scenario = build_fault_scenario(emulator, Fault.EMPTY)
    setup = write_offlineimaprc(tmp_path, port=emulator.port, repo_type="PhantomSafeIMAP")
    wrapper = str(Path(sys.executable).with_name("offlineimap-phantomsafe"))  # always the installed package's
    result = run_offlineimap(setup, command=[wrapper])
    assert result.returncode == 0, result.output
    assert [r.verdict for r in records(setup)] == [Verdict.EMPTY]
    assert_mailbox_synced(emulator, setup, missing={(scenario.folder, scenario.phantom_uid or 0)})


def test_without_activation_the_type_is_unknown(emulator: Any, tmp_path: Path) -> None:
    build_fault_scenario(emulator, None)
    setup = write_offlineimaprc(tmp_path, port=emulator.port, repo_type="PhantomSafeIMAP")
    result = run_offlineimap(setup)
    assert result.returncode != 0
    assert "'PhantomSafeIMAP' repository not supported for 'remote' repositories." in result.output


@pytest.mark.parametrize(
    ("option", "value"),
    [("phantom_action", "delete"), ("phantom_retry_after", "7 days"), ("phantom_actoin", "skip")],
)
def test_bad_option_is_one_clear_line_and_nothing_synced(emulator: Any, tmp_path: Path, option: str,
                                                         value: str) -> None:
    build_fault_scenario(emulator, None)
    setup = phantomsafe_setup(tmp_path, emulator, remote_options={option: value})
    result = run_offlineimap(setup)
    assert result.returncode == 1
    # offlineimap dumps a traceback for every account error at the end of the run (upstream's own config
    # errors included); what we control is the error line itself: one line, naming the option.
    errors = [line for line in result.output.splitlines() if line.startswith("ERROR: [Repository ")]
    assert errors, result.output
    assert all(option in line for line in errors), errors
    assert sum(len(v) for v in read_maildir(setup.maildir).values()) == 0


def test_uidvalidity_change_makes_old_skips_inert(emulator: Any, tmp_path: Path) -> None:
    emulator.add_folder("Phantoms", uidvalidity=100)
    phantom_uid = emulator.append("Phantoms", make_message(1, subject="lost"), fault=Fault.EMPTY)
    build_fault_scenario(emulator, None)
    setup = phantomsafe_setup(tmp_path, emulator)
    assert sync(setup).returncode == 0
    assert [(r.key.uidvalidity, r.key.uid, r.skipped) for r in records(setup)] == [(100, phantom_uid, True)]

    # The server renumbers the folder; a new message reuses the skipped UID number.
    emulator.expunge_uid("Phantoms", phantom_uid)
    emulator.set_uidvalidity("Phantoms", 101)
    emulator.set_next_uid("Phantoms", phantom_uid)
    reused = emulator.append("Phantoms", make_message(2, subject="new mail, old number"))
    assert reused == phantom_uid
    result = sync(setup)
    assert result.returncode == 0, result.output
    local = read_maildir(setup.maildir).get("Phantoms", [])
    assert [b"new mail, old number" in m.raw for m in local] == [True]


def test_synced_message_that_turns_phantom_is_never_deleted(emulator: Any, tmp_path: Path) -> None:
    scenario = build_fault_scenario(emulator, None)
    setup = phantomsafe_setup(tmp_path, emulator)
    assert sync(setup).returncode == 0
    victim = scenario.healthy_uids[3]
    folder = next(f for f in emulator.folders() if any(m.uid == victim for m in emulator.messages(f)))
    emulator.set_fault(folder, victim, Fault.EMPTY)
    for _ in range(2):
        result = sync(setup)
        assert result.returncode == 0, result.output
        assert_mailbox_synced(emulator, setup, missing=set())
    changes = [e for e in emulator.log if e.command.split()[-1] in ("STORE", "EXPUNGE", "COPY", "APPEND")
               or e.command in ("UID STORE", "UID EXPUNGE")]
    assert changes == [], "the plugin must never change anything on the server"


def test_ten_phantoms_among_two_hundred_complete_in_one_sync(emulator: Any, tmp_path: Path) -> None:
    faults = build_mixed_mailbox(emulator, total=200, phantoms=10)
    setup = phantomsafe_setup(tmp_path, emulator, maxconnections=3)
    result = sync(setup)
    assert result.returncode == 0, result.output
    verdicts = {r.key.uid: r.verdict for r in records(setup)}
    assert set(verdicts) == set(faults)
    for uid, fault in faults.items():
        assert verdicts[uid] is EXPECTED[fault], (uid, fault)
    lost = {("INBOX", uid) for uid, fault in faults.items() if EXPECTED[fault].is_phantom}
    assert_mailbox_synced(emulator, setup, missing=lost)
    second = sync(setup)
    assert second.returncode == 0, second.output
    assert all(emulator.content_fetches("INBOX", uid) <= 9 + 1 for uid in faults)


def test_retry_after_expiry_fetches_again_and_zero_never(emulator: Any, tmp_path: Path) -> None:
    scenario = build_fault_scenario(emulator, Fault.EMPTY)
    phantom = (scenario.folder, scenario.phantom_uid or 0)
    soon = phantomsafe_setup(tmp_path / "soon", emulator, remote_options={"phantom_retry_after": "1s"})
    assert sync(soon).returncode == 0
    time.sleep(1.2)
    before = emulator.content_fetches(*phantom)
    result = sync(soon)
    assert result.returncode == 0, result.output
    assert emulator.content_fetches(*phantom) > before
    (record,) = records(soon)
    assert record.attempts == 2 and record.skipped

    never = phantomsafe_setup(tmp_path / "never", emulator, remote_options={"phantom_retry_after": "0"})
    assert sync(never).returncode == 0
    time.sleep(1.2)
    before = emulator.content_fetches(*phantom)
    assert sync(never).returncode == 0
    assert emulator.content_fetches(*phantom) == before


def test_action_retry_reports_an_error_every_sync_but_records(emulator: Any, tmp_path: Path) -> None:
    scenario = build_fault_scenario(emulator, Fault.EMPTY)
    setup = phantomsafe_setup(tmp_path, emulator, remote_options={"phantom_action": "retry"})
    for attempt in (1, 2):
        result = sync(setup)
        assert result.returncode == 1, result.output
        (record,) = records(setup)
        assert record.verdict is Verdict.EMPTY and not record.skipped and record.attempts == attempt
    assert_mailbox_synced(emulator, setup, missing={(scenario.folder, scenario.phantom_uid or 0)})
    assert not (setup.metadata / "phantomfix" / "quarantine").exists()


def test_action_skip_records_but_quarantines_nothing(emulator: Any, tmp_path: Path) -> None:
    build_fault_scenario(emulator, Fault.PLACEHOLDER)
    setup = phantomsafe_setup(tmp_path, emulator, remote_options={"phantom_action": "skip"})
    assert sync(setup).returncode == 0
    (record,) = records(setup)
    assert record.skipped and record.quarantine is None


def test_dry_run_changes_no_state(emulator: Any, tmp_path: Path) -> None:
    # offlineimap's --dry-run needs the local folders to exist already: sync once with stock IMAP first.
    scenario = build_fault_scenario(emulator, None)
    stock = write_offlineimaprc(tmp_path, port=emulator.port, repo_type="IMAP")
    assert run_offlineimap(stock).returncode == 0
    emulator.set_fault(scenario.folder, scenario.healthy_uids[0], Fault.EMPTY)
    emulator.append(scenario.folder, make_message(99, subject="arrived after"), fault=Fault.REFUSED_NO)
    setup = phantomsafe_setup(tmp_path, emulator)
    result = sync(setup, "--dry-run")
    assert result.returncode == 0, result.output
    assert not (setup.metadata / "phantomfix").exists()


@pytest.mark.parametrize("fault", [Fault.EMPTY, Fault.PLACEHOLDER, Fault.SEQUENCE_ONLY], ids=lambda f: f.value)
def test_phantomsafe_gmail_type(emulator: Any, tmp_path: Path, fault: Fault) -> None:
    """PhantomSafeGmail is offlineimap's Gmail repository with the same folder behaviour (host overridden)."""
    scenario = build_fault_scenario(emulator, fault)
    setup = write_offlineimaprc(tmp_path, port=emulator.port, repo_type="PhantomSafeGmail",
                                pythonfile_lines=ACTIVATION)
    result = sync(setup)
    assert result.returncode == 0, result.output
    assert "Syncing INBOX: PhantomSafeGmail -> Maildir" in result.output
    (record,) = records(setup)
    assert record.verdict is EXPECTED[fault]
    missing = {(scenario.folder, scenario.phantom_uid or 0)} if EXPECTED[fault].is_phantom else set()
    assert_mailbox_synced(emulator, setup, missing=missing)
    before = emulator.content_fetches(scenario.folder, scenario.phantom_uid or 0)
    assert sync(setup).returncode == 0
    if EXPECTED[fault].is_phantom:
        assert emulator.content_fetches(scenario.folder, scenario.phantom_uid or 0) == before
