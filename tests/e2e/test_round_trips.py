"""Round trips per phantom, counted in the emulator's log (counts, never times): what a new phantom of each
kind costs beyond a healthy message, and what re-checking a folder's due phantoms costs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from offlineimap_phantomfix.testing import Fault, build_fault_scenario, build_mixed_mailbox
from offlineimap_phantomfix.testing.harness import read_maildir
from offlineimap_phantomfix.testing.roundtrips import make_records_due, phantom_costs
from offlineimap_phantomfix.verdicts import Verdict

from .phantomsafe_helpers import phantomsafe_setup, records, sync

pytestmark = pytest.mark.e2e

HEALTHY = 2  # offlineimap's NOOP on taking the pooled connection, then the plain fetch
# Extra commands a new phantom may cost beyond a healthy message, and the new connections it may open.
TARGETS = {
    Fault.EMPTY: (3, 0), Fault.PLACEHOLDER: (3, 0), Fault.PLACEHOLDER_PEEK: (3, 0), Fault.REFUSED_NO: (3, 0),
    Fault.REFUSED_BAD: (3, 0), Fault.SEQUENCE_ONLY: (4, 0), Fault.SEQUENCE_WRONG: (4, 0),
    # "Is it gone?" is asked of a new EXAMINE on the same connection: metadata fetch, EXAMINE, UID SEARCH.
    Fault.VANISH: (3, 0),
    # Listed again in the new view: the metadata in that view, then the content fetch that expunges it again
    # and one more look (EXAMINE, UID SEARCH) before it is judged a phantom.
    Fault.VANISH_LISTED: (7, 0),
    # The server closes the connection: one connection replaces it, one more confirms the drop.
    Fault.DROPPED: (11, 2),
}


@pytest.mark.parametrize("fault", list(TARGETS), ids=lambda f: f.value)
def test_a_new_phantom_costs_few_round_trips(emulator: Any, tmp_path: Path, fault: Fault) -> None:
    scenario = build_fault_scenario(emulator, fault, healthy=6, second_folder=None)
    assert scenario.phantom_uid is not None
    assert sync(phantomsafe_setup(tmp_path, emulator)).returncode == 0
    log = emulator.commands()
    healthy = phantom_costs(log, dict.fromkeys(scenario.healthy_uids))
    assert {cost.commands for uid, cost in healthy.items() if uid != max(scenario.healthy_uids)} == {HEALTHY}
    cost = phantom_costs(log, {scenario.phantom_uid: fault})[scenario.phantom_uid]
    extra, connections = TARGETS[fault]
    assert cost.commands - HEALTHY <= extra, cost.names
    assert cost.new_connections <= connections, cost.names


def _resync_commands(emulator: Any, setup: Any) -> int:
    start = len(emulator.commands())
    assert sync(setup).returncode == 0
    return len(emulator.commands()) - start


def test_forty_due_phantoms_are_rechecked_with_one_set_fetch(emulator: Any, tmp_path: Path) -> None:
    faults = build_mixed_mailbox(emulator, total=60, phantoms=40, kinds=(Fault.EMPTY, Fault.PLACEHOLDER,
                                                                         Fault.PLACEHOLDER_PEEK))
    setup = phantomsafe_setup(tmp_path, emulator)
    assert sync(setup).returncode == 0
    first = {r.key.uid: r for r in records(setup)}
    assert len(first) == 40 and all(r.skipped for r in first.values())
    healed = min(faults)
    emulator.set_fault("INBOX", healed, None)  # the server repairs one of them
    assert make_records_due(setup.metadata) == 40
    recheck = _resync_commands(emulator, setup)
    nothing_due = _resync_commands(emulator, setup)
    # NOOP on taking the connection, the set fetch, and the one healed message synced from its answer.
    assert recheck - nothing_due <= 3
    after = {r.key.uid: r for r in records(setup)}
    assert after[healed].verdict is Verdict.RECOVERED
    assert any(m.uid == healed for m in read_maildir(setup.maildir)["INBOX"])
    for uid, record in after.items():
        if uid != healed:
            assert record.verdict is first[uid].verdict and record.skipped and record.attempts == 2


@pytest.mark.parametrize("fault", [Fault.REFUSED_NO, Fault.REFUSED_BAD, Fault.DROPPED], ids=lambda f: f.value)
def test_a_refusal_or_drop_seen_again_runs_no_ladder(emulator: Any, tmp_path: Path, fault: Fault) -> None:
    scenario = build_fault_scenario(emulator, fault, healthy=6, second_folder=None)
    assert scenario.phantom_uid is not None
    setup = phantomsafe_setup(tmp_path, emulator)
    assert sync(setup).returncode == 0
    start = len(emulator.commands())
    assert sync(setup).returncode == 0  # the confirming sync
    (record,) = records(setup)
    assert record.verdict.value.startswith(("refused", "dropped")) and record.skipped and record.attempts == 2
    cost = phantom_costs(emulator.commands()[start:], {scenario.phantom_uid: fault})[scenario.phantom_uid]
    assert cost.new_connections <= 1, cost.names  # only the one replacing a dropped connection
    assert cost.commands <= (7 if fault is Fault.DROPPED else HEALTHY), cost.names
