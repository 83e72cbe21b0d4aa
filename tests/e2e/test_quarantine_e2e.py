"""The quarantine as a mail reader leaves it, after real PhantomSafeIMAP syncs against the emulator: items moved
from new/ to cur/ with flags, items deleted, and a ``clear`` followed by a sync."""

from __future__ import annotations

import json
import mailbox
from pathlib import Path
from typing import Any

from offlineimap_phantomfix.quarantine import GONE_NOTE
from offlineimap_phantomfix.testing import Fault
from tests.e2e.test_cli_e2e import ACCOUNT, LOST_SUBJECT, Synced, pytestmark, sync, synced  # noqa: F401

__all__ = ["pytestmark", "synced"]


def items(synced: Synced) -> list[Path]:
    maildir = synced.state / "quarantine" / ACCOUNT
    return sorted(path for sub in ("new", "cur") for path in (maildir / sub).iterdir())


def recorded(synced: Synced) -> dict[tuple[str, int], dict[str, Any]]:
    return {(m["folder"], m["uid"]): m for m in synced.report()}


def test_report_and_doctor_follow_items_a_reader_moved_or_deleted(synced: Synced) -> None:
    before = recorded(synced)
    placeholder = next(key for key, fault in synced.phantoms.items() if fault is Fault.PLACEHOLDER)
    empty = next(key for key, fault in synced.phantoms.items() if fault is Fault.EMPTY)
    # what Mutt does on reading the item: new/<name> becomes cur/<name>:2,S
    read_from = Path(before[placeholder]["quarantine"])
    read_to = read_from.parent.parent / "cur" / f"{read_from.name}:2,S"
    read_from.rename(read_to)
    status, out, err = synced.helper("doctor")
    assert f"ok      account {ACCOUNT}: quarantine: 4 recorded items, all in place" in out, out + err

    after = recorded(synced)
    assert after[placeholder]["quarantine"] == str(read_to)
    status, text, _ = synced.helper("report")
    assert status == 0 and f"quarantine:  {read_to}\n" in text
    box = mailbox.Maildir(str(read_to.parent.parent), factory=None, create=False)
    assert any(LOST_SUBJECT in " ".join(str(message["Subject"]).split()) for message in box)

    # an item deleted in the reader: doctor says so, the report marks it, JSON has no file for it
    deleted = Path(before[empty]["quarantine"])
    deleted.unlink()
    status, out, _ = synced.helper("doctor")
    line = next(line for line in out.splitlines() if f"account {ACCOUNT}: quarantine" in line)
    assert line.startswith("warning") and "1 of 4 recorded quarantine items" in line and str(deleted) in line
    assert recorded(synced)[empty]["quarantine"] is None
    assert f"quarantine:  {deleted}{GONE_NOTE}\n" in synced.helper("report")[1]


def test_clear_then_sync_keeps_one_item_and_the_first_sighting(synced: Synced) -> None:
    before = recorded(synced)
    files_before = items(synced)
    placeholder = next(key for key, fault in synced.phantoms.items() if fault is Fault.PLACEHOLDER)
    item = Path(before[placeholder]["quarantine"])
    moved = item.parent.parent / "cur" / f"{item.name}:2,RS"  # read and replied to, in the reader
    item.rename(moved)
    status, _, err = synced.helper("clear", "--account", ACCOUNT)
    assert status == 0, err
    assert synced.report() == []

    sync(synced.setup)
    after = recorded(synced)
    assert set(after) == {key for key, fault in synced.phantoms.items() if fault is not Fault.VANISH}
    assert items(synced) == sorted([*(path for path in files_before if path != item), moved])
    for key, message in after.items():
        assert message["first_seen"] == before[key]["first_seen"], key
        assert message["attempts"] == 1  # a new row, dated by the item kept from before
        assert message["skipped"] is True
    assert after[placeholder]["quarantine"] == str(moved)
    assert json.loads(synced.helper("report", "--json")[1])["messages"][0]["quarantine"] is not None
