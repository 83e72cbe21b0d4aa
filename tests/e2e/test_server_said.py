"""What a record's "server said" holds after a real sync, and the lost subject the ENVELOPE names.

"server said" is the server's answer to the fetches of the message's content (offlineimap's BODY.PEEK[], then
the ladder's BODY[] by sequence number and by UID), in order and each once: never offlineimap's own error
line, never the answer to the ladder's metadata fetch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from offlineimap_phantomfix.testing import REFUSED_BAD_TEXT, REFUSED_NO_TEXT, Fault
from offlineimap_phantomfix.testing.scenarios import build_fault_scenario

from .lifecycle_helpers import helper
from .phantomsafe_helpers import item_evidence, phantomsafe_setup, quarantine_item, records, sync

pytestmark = pytest.mark.e2e

BYE_WORDS = "BYE FETCH failed: Internal error occurred. Refer to server log for more information."
SAID = {
    Fault.EMPTY: "no data",
    Fault.PLACEHOLDER: "no data | substitute notice",  # BODY.PEEK[] gets nothing, BODY[] the notice
    Fault.PLACEHOLDER_PEEK: "substitute notice",
    Fault.REFUSED_NO: f"NO {REFUSED_NO_TEXT}",
    Fault.REFUSED_BAD: f"BAD {REFUSED_BAD_TEXT}",  # Office 365
    Fault.DROPPED: f"connection dropped ({BYE_WORDS})",
    Fault.SEQUENCE_WRONG: "no data | sequence fetch answered with UID 7, not 6",
}


@pytest.mark.parametrize("fault", list(SAID), ids=[fault.value for fault in SAID])
def test_server_said_is_the_answer_to_the_content_fetches(emulator: Any, tmp_path: Path, fault: Fault) -> None:
    scenario = build_fault_scenario(emulator, fault, healthy=4, second_folder=None)
    assert scenario.phantom_uid == 3
    setup = phantomsafe_setup(tmp_path, emulator)
    assert sync(setup).returncode == 0
    (record,) = records(setup)
    assert record.server_said == SAID[fault].replace("UID 7, not 6", "UID 4, not 3")
    assert "does not have a message" not in item_evidence(record)


@pytest.mark.parametrize("fault", [Fault.EMPTY, Fault.REFUSED_BAD, Fault.DROPPED],
                         ids=["empty", "refused_bad", "dropped"])
def test_the_envelope_names_the_lost_mail_in_the_item_and_the_report(emulator: Any, tmp_path: Path,
                                                                     fault: Fault) -> None:
    scenario = build_fault_scenario(emulator, fault, healthy=4, second_folder=None)
    lost = next(m for m in emulator.messages(scenario.folder) if m.uid == scenario.phantom_uid)
    subject = "Phantom message 1003"
    assert f"Subject: {subject}\r\n".encode() in lost.raw
    setup = phantomsafe_setup(tmp_path, emulator)
    first = sync(setup)
    assert first.returncode == 0
    assert f"(lost mail: '{subject}')" in first.output

    (record,) = records(setup)
    verdict = record.verdict.value
    item = quarantine_item(record)
    assert item["Subject"] == f"[phantom] {subject} (INBOX UID {scenario.phantom_uid}, {verdict})"
    body = item.get_body(("plain",))
    assert body is not None and f"  Subject: {subject}" in body.get_content().splitlines()

    status, out, err = helper(setup, "report", "--json")
    assert status == 0, err
    (message,) = json.loads(out)["messages"]
    assert message["original"]["subject"] == subject
    assert message["original"]["from"] == "Alice Example <alice@example.org>"
    status, text, err = helper(setup, "report", "--long")
    assert status == 0, err
    lines = text.splitlines()
    assert f"      subject:     {subject}" in lines, text
    assert f"      server said: {SAID[fault]}" in lines, text
